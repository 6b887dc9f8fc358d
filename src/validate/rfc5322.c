/* rfc5322.c - grammar checks for header values: date-time (RFC 5322 3.3 and
 * the obsolete forms of 4.3), address and mailbox lists (3.4, 4.4, with
 * groups), msg-id (3.6.4, 4.5.4) and RFC 2047 encoded-words. Values are
 * checked in place; folding CRLF counts as whitespace. The lexer accepts
 * UTF-8 in atoms (RFC 6532 3.2); whether 8-bit octets may appear at all is
 * rules_header.c's decision.
 */
#include "validate/validate-private.h"

#include <string.h>

enum { TOK_ATOM = 256, TOK_QSTR, TOK_DLIT, TOK_END, TOK_BAD };

typedef struct {
  const char *p, *end;
  int type;           /* a TOK_* or a special character */
  const char *s;      /* token text */
  gsize len;
} Lex;

/* RFC 5322 3.2.3 atext, plus UTF8-non-ascii (RFC 6532 3.2). */
static gboolean
is_atext (guchar ch)
{
  if (ch >= 0x80 || g_ascii_isalnum (ch))
    return TRUE;
  return strchr ("!#$%&'*+-/=?^_`{|}~", ch) != NULL && ch != '\0';
}

gboolean
sg_rfc5322_skip_cfws (const char **pp, const char *end)
{
  const char *p = *pp;
  gboolean ok = TRUE;
  while (p < end)
    {
      char ch = *p;
      if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
        p++;
      else if (ch == '(')
        {
          guint depth = 0;
          while (p < end)
            {
              ch = *p++;
              if (ch == '\\' && p < end)
                p++;
              else if (ch == '(')
                depth++;
              else if (ch == ')' && --depth == 0)
                break;
            }
          if (depth != 0)
            {
              ok = FALSE;
              break;
            }
        }
      else
        break;
    }
  *pp = p;
  return ok;
}

/* CFWS (3.2.2) at the lexer's position. */
static gboolean
skip_cfws (Lex *l)
{
  return sg_rfc5322_skip_cfws (&l->p, l->end);
}

/* Read a run up to the closing delimiter with quoted-pairs (3.2.4, 3.4.1). */
static gboolean
read_quoted (Lex *l, char close)
{
  l->p++;
  while (l->p < l->end)
    {
      char ch = *l->p++;
      if (ch == '\\' && l->p < l->end)
        l->p++;
      else if (ch == close)
        return TRUE;
      else if (close == ']' && ch == '[')
        return FALSE;
    }
  return FALSE;
}

static void
next (Lex *l)
{
  if (!skip_cfws (l))
    {
      l->type = TOK_BAD;
      return;
    }
  l->s = l->p;
  if (l->p >= l->end)
    l->type = TOK_END;
  else if (*l->p == '"')
    l->type = read_quoted (l, '"') ? TOK_QSTR : TOK_BAD;
  else if (*l->p == '[')
    l->type = read_quoted (l, ']') ? TOK_DLIT : TOK_BAD;
  else if (is_atext ((guchar) *l->p))
    {
      while (l->p < l->end && is_atext ((guchar) *l->p))
        l->p++;
      l->type = TOK_ATOM;
    }
  else if (strchr ("<>:;@,.", *l->p) != NULL && *l->p != '\0')
    l->type = (guchar) *l->p++;
  else
    l->type = TOK_BAD;
  l->len = (gsize) (l->p - l->s);
}

static void
lex_init (Lex *l, const char *s, gsize len)
{
  l->p = s;
  l->end = s + len;
  next (l);
}

static gboolean
is_word (const Lex *l)
{
  return l->type == TOK_ATOM || l->type == TOK_QSTR;
}

/* domain = dot-atom / domain-literal / obs-domain (3.4.1, 4.4) */
static gboolean
parse_domain (Lex *l)
{
  if (l->type == TOK_DLIT)
    {
      next (l);
      return TRUE;
    }
  if (l->type != TOK_ATOM)
    return FALSE;
  next (l);
  while (l->type == '.')
    {
      next (l);
      if (l->type != TOK_ATOM)
        return FALSE;
      next (l);
    }
  return TRUE;
}

/* local-part = word *("." word) (obs-local-part, 4.4) */
static gboolean
parse_local_part (Lex *l)
{
  if (!is_word (l))
    return FALSE;
  next (l);
  while (l->type == '.')
    {
      next (l);
      if (!is_word (l))
        return FALSE;
      next (l);
    }
  return TRUE;
}

/* angle-addr = "<" [obs-route] addr-spec ">" (3.4, 4.4) */
static gboolean
parse_angle_addr (Lex *l)
{
  next (l);                              /* "<" */
  if (l->type == '@' || l->type == ',')
    {
      /* obs-route = obs-domain-list ":" */
      while (l->type == '@' || l->type == ',')
        {
          if (l->type == ',')
            next (l);
          else
            {
              next (l);
              if (!parse_domain (l))
                return FALSE;
            }
        }
      if (l->type != ':')
        return FALSE;
      next (l);
    }
  if (!parse_local_part (l) || l->type != '@')
    return FALSE;
  next (l);
  if (!parse_domain (l) || l->type != '>')
    return FALSE;
  next (l);
  return TRUE;
}

static gboolean parse_list (Lex *l, gboolean groups, int close, guint *mailboxes, guint *addresses);

/* mailbox / group (3.4): a run of words and dots decides which it is. */
static gboolean
parse_address (Lex *l, gboolean groups, guint *mailboxes)
{
  Lex start = *l;
  guint words = 0;
  gboolean local_ok = TRUE, last_dot = TRUE, phrase_ok = TRUE;

  while (is_word (l) || l->type == '.')
    {
      gboolean dot = l->type == '.';
      if (words == 0 && dot)
        phrase_ok = FALSE;
      if (dot == last_dot)
        local_ok = FALSE;
      last_dot = dot;
      words++;
      next (l);
    }
  if (last_dot)
    local_ok = FALSE;

  if (l->type == '<')
    {
      if (words > 0 && !phrase_ok)
        return FALSE;
      if (!parse_angle_addr (l))
        return FALSE;
      (*mailboxes)++;
      return TRUE;
    }
  if (l->type == ':' && groups && words > 0 && phrase_ok)
    {
      /* group = display-name ":" [group-list] ";" */
      guint inner = 0;
      next (l);
      if (!parse_list (l, FALSE, ';', mailboxes, &inner) || l->type != ';')
        return FALSE;
      next (l);
      return TRUE;
    }
  if (l->type == '@' && words > 0 && local_ok)
    {
      /* addr-spec: re-read the local part strictly from the start */
      *l = start;
      if (!parse_local_part (l) || l->type != '@')
        return FALSE;
      next (l);
      if (!parse_domain (l))
        return FALSE;
      (*mailboxes)++;
      return TRUE;
    }
  return FALSE;
}

/* address-list / mailbox-list, with the empty elements of 4.4 */
static gboolean
parse_list (Lex *l, gboolean groups, int close, guint *mailboxes, guint *addresses)
{
  for (;;)
    {
      if (l->type == TOK_END || l->type == close)
        return TRUE;
      if (l->type == ',')
        {
          next (l);
          continue;
        }
      if (!parse_address (l, groups, mailboxes))
        return FALSE;
      (*addresses)++;
      if (l->type == ',')
        next (l);
      else if (l->type != TOK_END && l->type != close)
        return FALSE;
    }
}

/* sg_rfc5322_addresses - kind 0 address-list, 1 mailbox-list, 2 one mailbox,
 * 3 address-list or nothing (Bcc, 3.6.3). */
gboolean
sg_rfc5322_addresses (const char *s, gsize len, int kind, guint *mailboxes)
{
  Lex l;
  guint addresses = 0, mb = 0;

  lex_init (&l, s, len);
  gboolean ok = parse_list (&l, kind == 0 || kind == 3, TOK_END, &mb, &addresses) &&
                l.type == TOK_END;
  if (mailboxes != NULL)
    *mailboxes = mb;
  if (!ok)
    return FALSE;
  switch (kind)
    {
    case 1: return mb >= 1 && mb == addresses;
    case 2: return mb == 1 && addresses == 1;
    case 3: return TRUE;
    default: return addresses >= 1;
    }
}

/* sg_rfc5322_msg_id - msg-id = "<" id-left "@" id-right ">" (3.6.4, 4.5.4) */
gboolean
sg_rfc5322_msg_id (const char *s, gsize len)
{
  Lex l;
  lex_init (&l, s, len);
  if (l.type != '<')
    return FALSE;
  next (&l);
  if (!parse_local_part (&l) || l.type != '@')
    return FALSE;
  next (&l);
  if (!parse_domain (&l) || l.type != '>')
    return FALSE;
  next (&l);
  return l.type == TOK_END;
}

static int
atom_number (const Lex *l, gsize min_digits, gsize max_digits)
{
  if (l->type != TOK_ATOM || l->len < min_digits || l->len > max_digits)
    return -1;
  int n = 0;
  for (gsize i = 0; i < l->len; i++)
    {
      if (!g_ascii_isdigit (l->s[i]))
        return -1;
      n = n * 10 + (l->s[i] - '0');
    }
  return n;
}

static int
atom_index (const Lex *l, const char *const *names, int count)
{
  if (l->type != TOK_ATOM)
    return -1;
  for (int i = 0; i < count; i++)
    if (strlen (names[i]) == l->len && g_ascii_strncasecmp (l->s, names[i], l->len) == 0)
      return i;
  return -1;
}

/* zone = (FWS ("+" / "-") 4DIGIT) / obs-zone (3.3, 4.3) */
static gboolean
valid_zone (const Lex *l)
{
  static const char *const obs_zones[] = {
    "UT", "GMT", "EST", "EDT", "CST", "CDT", "MST", "MDT", "PST", "PDT",
  };
  if (l->type != TOK_ATOM)
    return FALSE;
  if (l->len == 5 && (l->s[0] == '+' || l->s[0] == '-'))
    {
      for (int i = 1; i < 5; i++)
        if (!g_ascii_isdigit (l->s[i]))
          return FALSE;
      return (l->s[3] - '0') * 10 + (l->s[4] - '0') < 60;
    }
  if (atom_index (l, obs_zones, G_N_ELEMENTS (obs_zones)) >= 0)
    return TRUE;
  /* military zones: any single letter but J */
  return l->len == 1 && g_ascii_isalpha (l->s[0]) && g_ascii_tolower (l->s[0]) != 'j';
}

/* sg_rfc5322_date - date-time = [day-of-week ","] date time [CFWS] (3.3, 4.3) */
gboolean
sg_rfc5322_date (const char *s, gsize len)
{
  static const char *const days[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
  static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
  Lex l;
  int dow = -1;

  lex_init (&l, s, len);
  if (l.type == TOK_ATOM && g_ascii_isalpha (l.s[0]))
    {
      dow = atom_index (&l, days, G_N_ELEMENTS (days));
      next (&l);
      if (dow < 0 || l.type != ',')
        return FALSE;
      next (&l);
    }
  int day = atom_number (&l, 1, 2);
  next (&l);
  int month = atom_index (&l, months, G_N_ELEMENTS (months));
  next (&l);
  int year = atom_number (&l, 2, 4);
  gsize year_digits = l.len;
  next (&l);
  if (day < 1 || month < 0 || year < 0)
    return FALSE;
  if (year_digits == 2)           /* obs-year, 4.3 */
    year += year < 50 ? 2000 : 1900;
  else if (year_digits == 3)
    year += 1900;
  else if (year < 1900)
    return FALSE;

  int hour = atom_number (&l, 2, 2);
  next (&l);
  if (hour < 0 || hour > 23 || l.type != ':')
    return FALSE;
  next (&l);
  int minute = atom_number (&l, 2, 2);
  next (&l);
  if (minute < 0 || minute > 59)
    return FALSE;
  if (l.type == ':')
    {
      next (&l);
      int second = atom_number (&l, 2, 2);
      next (&l);
      if (second < 0 || second > 60)
        return FALSE;
    }
  if (!valid_zone (&l))
    return FALSE;
  next (&l);
  if (l.type != TOK_END)
    return FALSE;

  if (!g_date_valid_dmy ((GDateDay) day, (GDateMonth) (month + 1), (GDateYear) year))
    return FALSE;
  if (dow >= 0)
    {
      /* 3.3: the day-of-week MUST be the one implied by the date */
      GDate date;
      g_date_clear (&date, 1);
      g_date_set_dmy (&date, (GDateDay) day, (GDateMonth) (month + 1), (GDateYear) year);
      if ((int) g_date_get_weekday (&date) != dow + 1)
        return FALSE;
    }
  return TRUE;
}

static gboolean
is_b64_char (guchar ch)
{
  return g_ascii_isalnum (ch) || ch == '+' || ch == '/';
}

/* One encoded-word at s (RFC 2047 2, 4, 5); returns its end, or NULL with
 * *why saying what is wrong (static, or via the reason buffer). */
static const char *
parse_encoded_word (const char *s, const char *end, const char **why, char *reason, gsize rlen)
{
  const char *p = s + 2, *start = s;

  /* charset ["*" language] (RFC 2231 5): token characters */
  const char *cs = p;
  while (p < end && *p != '?' && (guchar) *p > 0x20 && (guchar) *p < 0x7f &&
         strchr ("()<>@,;:\"/[].=", *p) == NULL)
    p++;
  *why = "bad charset token";
  if (p == cs || p >= end || *p != '?')
    return NULL;
  p++;
  *why = "encoding other than B or Q";
  if (p + 1 >= end || p[1] != '?')
    return NULL;
  char enc = g_ascii_toupper (*p);
  if (enc != 'B' && enc != 'Q')
    return NULL;
  p += 2;
  const char *text = p;
  while (p + 1 < end && !(p[0] == '?' && p[1] == '='))
    {
      guchar ch = (guchar) *p;
      *why = "space, control or 8-bit octet inside";
      if (ch <= 0x20 || ch >= 0x7f)
        return NULL;
      if (enc == 'Q' && ch == '=')
        {
          *why = "\"=\" not followed by two hex digits";
          if (p + 2 >= end || !g_ascii_isxdigit (p[1]) || !g_ascii_isxdigit (p[2]))
            return NULL;
          p += 2;
        }
      else if (enc == 'B' && !is_b64_char (ch) && ch != '=')
        {
          *why = "character outside the base64 alphabet";
          return NULL;
        }
      p++;
    }
  *why = "no closing \"?=\"";
  if (p + 1 >= end)
    return NULL;
  if (enc == 'B')
    {
      gsize n = (gsize) (p - text), pad = 0;
      while (pad < n && text[n - 1 - pad] == '=')
        pad++;
      *why = "base64 length or padding wrong";
      if (n % 4 != 0 || pad > 2 || memchr (text, '=', n - pad) != NULL)
        return NULL;
    }
  p += 2;
  /* RFC 2047 2: an encoded-word is at most 75 characters */
  if (p - start > 75)
    {
      g_snprintf (reason, rlen, "encoded-word of %d characters, more than 75", (int) (p - start));
      *why = reason;
      return NULL;
    }
  return p;
}

/* sg_rfc2047_check - the first malformed encoded-word in a header value. A
 * word is taken to be one when it starts with "=?" and ends with "?=". */
const char *
sg_rfc2047_check (const char *s, gsize len, gsize *bad_len, char **why)
{
  const char *p = s, *end = s + len;
  const char *reason = NULL;
  char buf[64];

  while (p < end)
    {
      while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
      const char *w = p;
      while (p < end && !(*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
      const char *we = p;
      while (w < we && (*w == '(' || *w == '"'))
        w++;
      while (we > w && strchr ("),\";", we[-1]) != NULL)
        we--;
      if (we - w < 4 || w[0] != '=' || w[1] != '?' || we[-2] != '?' || we[-1] != '=')
        continue;
      /* adjacent encoded-words without whitespace are tolerated */
      const char *q = w;
      while (q < we)
        {
          const char *e = parse_encoded_word (q, we, &reason, buf, sizeof buf);
          if (e == NULL)
            {
              *bad_len = (gsize) (we - w);
              if (why != NULL)
                *why = g_strdup (reason);
              return w;
            }
          q = e;
          if (q < we && !(we - q >= 2 && q[0] == '=' && q[1] == '?'))
            {
              *bad_len = (gsize) (we - w);
              if (why != NULL)
                *why = g_strdup ("text directly after an encoded-word");
              return w;
            }
        }
    }
  return NULL;
}
