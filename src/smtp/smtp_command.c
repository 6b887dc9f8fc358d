/* smtp_command.c - SMTP command-line syntax: verbs, paths (RFC 5321 4.1.2),
 * address literals (4.1.3) and the ESMTP parameters we support on MAIL:
 * SIZE (RFC 1870), BODY (RFC 6152), SMTPUTF8 (RFC 6531), RET and ENVID (RFC 3461);
 * on RCPT: NOTIFY and ORCPT (RFC 3461). */
#include "smtp/smtp_command.h"

#include <arpa/inet.h>
#include <string.h>

G_DEFINE_QUARK (sg-smtp-error-quark, sg_smtp_error)

#define ESMTP_SIZE_DIGITS_MAX 20

gboolean
sg_smtp_xtext_valid (const char *text)
{
  for (const char *p = text; *p; p++)
    {
      if (*p == '+')
        {
          for (int i = 1; i <= 2; i++)
            if (!g_ascii_isxdigit (p[i]) || g_ascii_islower (p[i]))
              return FALSE;
          p += 2;
        }
      else if ((guchar) *p < 33 || (guchar) *p > 126 || *p == '=')
        return FALSE;
    }
  return TRUE;
}

char *
sg_smtp_xtext_decode (const char *xtext)
{
  GString *out = g_string_new (NULL);
  for (const char *p = xtext; *p; p++)
    if (p[0] == '+' && g_ascii_isxdigit (p[1]) && g_ascii_isxdigit (p[2]))
      {
        g_string_append_c (out, (char) (g_ascii_xdigit_value (p[1]) * 16 + g_ascii_xdigit_value (p[2])));
        p += 2;
      }
    else
      g_string_append_c (out, *p);
  return g_string_free (out, FALSE);
}

/* xtext_printable - xtext (RFC 3461 4) whose decoded text is printable
 * US-ASCII, which RFC 3461 4.2 and 4.4 require of ORCPT and ENVID: a
 * "+00" or "+C3+A9" would otherwise reach the delivery report. */
static gboolean
xtext_printable (const char *xtext)
{
  if (!sg_smtp_xtext_valid (xtext))
    return FALSE;
  g_autofree char *text = sg_smtp_xtext_decode (xtext);
  for (const char *p = text; *p; p++)
    if ((guchar) *p < 0x20 || (guchar) *p > 0x7e)
      return FALSE;
  /* a decoded NUL ends text early: the lengths tell */
  gsize plus = 0;
  for (const char *p = xtext; *p; p++)
    plus += *p == '+';
  return strlen (text) == strlen (xtext) - 2 * plus;
}

/* notify_valid - RFC 3461 4.1: "NEVER", or SUCCESS, FAILURE, DELAY each at
 * most once, comma-separated; upper-cased in place. */
static gboolean
notify_valid (char *value)
{
  static const char *const words[] = { "SUCCESS", "FAILURE", "DELAY" };
  for (char *p = value; *p; p++)
    *p = g_ascii_toupper (*p);
  if (strcmp (value, "NEVER") == 0)
    return TRUE;
  g_auto(GStrv) list = g_strsplit (value, ",", -1);
  guint seen = 0;
  for (guint i = 0; list[i]; i++)
    {
      guint bit = 0;
      for (guint w = 0; w < G_N_ELEMENTS (words); w++)
        if (strcmp (list[i], words[w]) == 0)
          bit = 1u << w;
      if (!bit || (seen & bit))
        return FALSE;
      seen |= bit;
    }
  return seen != 0;
}

/* orcpt_valid - RFC 3461 4.2: addr-type ";" xtext, addr-type an atom. */
static gboolean
orcpt_valid (const char *value)
{
  const char *semi = strchr (value, ';');
  if (!semi || semi == value || strlen (value) > SG_SMTP_ORCPT_MAX || !semi[1])
    return FALSE;
  for (const char *p = value; p < semi; p++)
    if (!g_ascii_isalnum (*p) && *p != '-')
      return FALSE;
  return xtext_printable (semi + 1);
}

gboolean
sg_smtp_split_verb (const char *line, gsize len, char verb_out[SG_SMTP_VERB_MAX + 1],
                    const char **arg)
{
  gsize i = 0;
  while (i < len && g_ascii_isalpha (line[i]))
    {
      if (i == SG_SMTP_VERB_MAX)
        return FALSE;
      verb_out[i] = g_ascii_toupper (line[i]);
      i++;
    }
  verb_out[i] = '\0';
  if (i == 0 || (i < len && line[i] != ' '))
    return FALSE;
  *arg = i < len ? line + i + 1 : line + i;
  return TRUE;
}

/* RFC 5322 3.2.3 atext, as used by RFC 5321 Atom. */
static gboolean
is_atext (guchar c)
{
  return g_ascii_isalnum (c) || (c && strchr ("!#$%&'*+-/=?^_`{|}~", c));
}

/* utf8_len - length of a valid UTF-8 sequence starting at p (non-ASCII), or 0. */
static gsize
utf8_len (const char *p, const char *end)
{
  gunichar c = g_utf8_get_char_validated (p, end - p);
  if (c == (gunichar) -1 || c == (gunichar) -2)
    return 0;
  return (gsize) (g_utf8_next_char (p) - p);
}

static gboolean
ipv4_literal_valid (const char *s)
{
  struct in_addr a;
  return inet_pton (AF_INET, s, &a) == 1;
}

gboolean
sg_smtp_domain_valid (const char *domain, gboolean utf8)
{
  gsize len = strlen (domain);
  if (len == 0 || len > SG_SMTP_DOMAIN_MAX)
    return FALSE;
  if (domain[0] == '[')
    {
      /* address-literal, RFC 5321 4.1.3 */
      if (domain[len - 1] != ']')
        return FALSE;
      g_autofree char *inner = g_strndup (domain + 1, len - 2);
      if (g_ascii_strncasecmp (inner, "IPv6:", 5) == 0)
        {
          struct in6_addr a6;
          return inet_pton (AF_INET6, inner + 5, &a6) == 1;
        }
      if (ipv4_literal_valid (inner))
        return TRUE;
      /* General-address-literal: Standardized-tag ":" 1*dcontent */
      const char *colon = strchr (inner, ':');
      if (!colon || colon == inner || colon[1] == '\0')
        return FALSE;
      for (const char *p = inner; p < colon; p++)
        if (!g_ascii_isalnum (*p) && *p != '-')
          return FALSE;
      for (const char *p = colon + 1; *p; p++)
        if ((guchar) *p < 33 || (guchar) *p > 126 || *p == '[' || *p == ']' || *p == '\\')
          return FALSE;
      return TRUE;
    }
  /* sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str] */
  const char *end = domain + len;
  const char *label = domain;
  for (const char *p = domain; p <= end; )
    {
      if (p == end || *p == '.')
        {
          gsize llen = p - label;
          if (llen == 0 || llen > 63 || label[0] == '-' || p[-1] == '-')
            return FALSE;
          label = p + 1;
          p++;
          continue;
        }
      guchar c = (guchar) *p;
      if (c >= 0x80)
        {
          gsize n = utf8 ? utf8_len (p, end) : 0;
          if (n == 0)
            return FALSE;
          p += n;
          continue;
        }
      if (!g_ascii_isalnum (c) && c != '-')
        return FALSE;
      p++;
    }
  return TRUE;
}

gboolean
sg_smtp_mailbox_valid (const char *mailbox, gboolean utf8)
{
  const char *end = mailbox + strlen (mailbox);
  const char *p = mailbox;
  if (*p == '"')
    {
      /* Quoted-string = DQUOTE *QcontentSMTP DQUOTE */
      for (p++; p < end && *p != '"'; p++)
        {
          guchar c = (guchar) *p;
          if (c == '\\')
            {
              p++;
              if (p >= end || (guchar) *p < 32 || (guchar) *p > 126)
                return FALSE;
            }
          else if (c >= 0x80)
            {
              gsize n = utf8 ? utf8_len (p, end) : 0;
              if (n == 0)
                return FALSE;
              p += n - 1;
            }
          else if (c < 32 || c > 126)
            return FALSE;
        }
      if (p >= end)
        return FALSE;
      p++;
    }
  else
    {
      /* Dot-string = Atom *("." Atom) */
      gboolean need_atext = TRUE;
      for (; p < end && *p != '@'; p++)
        {
          guchar c = (guchar) *p;
          if (c == '.')
            {
              if (need_atext)
                return FALSE;
              need_atext = TRUE;
            }
          else if (c >= 0x80)
            {
              gsize n = utf8 ? utf8_len (p, end) : 0;
              if (n == 0)
                return FALSE;
              p += n - 1;
              need_atext = FALSE;
            }
          else if (is_atext (c))
            need_atext = FALSE;
          else
            return FALSE;
        }
      if (need_atext)
        return FALSE;
    }
  if ((gsize) (p - mailbox) > SG_SMTP_LOCAL_PART_MAX || *p != '@')
    return FALSE;
  return sg_smtp_domain_valid (p + 1, utf8);
}

/* parse_path - "<[A-d-l:]mailbox>" or "<>" at *cursor; advances past '>'. */
static gboolean
parse_path (const char **cursor, gboolean allow_null, gboolean allow_postmaster,
            gboolean utf8, char **address)
{
  const char *p = *cursor;
  if (*p != '<')
    return FALSE;
  const char *close;
  /* a '>' inside a quoted local part is legal; find the closing one outside quotes */
  gboolean quoted = FALSE;
  for (close = p + 1; *close; close++)
    {
      if (*close == '\\' && quoted && close[1])
        close++;
      else if (*close == '"')
        quoted = !quoted;
      else if (*close == '>' && !quoted)
        break;
    }
  if (*close != '>' || (gsize) (close - p + 1) > SG_SMTP_PATH_MAX)
    return FALSE;
  g_autofree char *inner = g_strndup (p + 1, close - p - 1);
  const char *mailbox = inner;
  if (inner[0] == '@')
    {
      /* A-d-l: accepted and ignored (RFC 5321 4.1.2, C.) */
      const char *colon = strchr (inner, ':');
      if (!colon)
        return FALSE;
      g_autofree char *adl = g_strndup (inner, colon - inner);
      g_auto(GStrv) parts = g_strsplit (adl, ",", -1);
      for (guint i = 0; parts[i]; i++)
        if (parts[i][0] != '@' || !sg_smtp_domain_valid (parts[i] + 1, utf8))
          return FALSE;
      mailbox = colon + 1;
    }
  if (*mailbox == '\0' && allow_null && mailbox == inner)
    *address = g_strdup ("");
  else if (allow_postmaster && g_ascii_strcasecmp (mailbox, "postmaster") == 0)
    *address = g_strdup (mailbox);
  else if (sg_smtp_mailbox_valid (mailbox, utf8))
    *address = g_strdup (mailbox);
  else
    return FALSE;
  *cursor = close + 1;
  return TRUE;
}

/* dsn_error - a DSN parameter with a bad value: 501 5.5.4. */
static gboolean
dsn_error (GError **error, const char *text)
{
  g_set_error_literal (error, SG_SMTP_ERROR, SG_SMTP_ERROR_SYNTAX, text);
  return FALSE;
}

/* parse_params - " KEY[=VALUE]..." after a path, RFC 5321 4.1.2 Mail-parameters. */
static gboolean
parse_params (const char *p, gboolean is_mail, SgSmtpPath *out, GError **error)
{
  g_auto(GStrv) params = g_strsplit (p, " ", -1);
  for (guint i = 0; params[i]; i++)
    {
      char *param = params[i];
      if (*param == '\0')
        continue;
      char *eq = strchr (param, '=');
      const char *value = NULL;
      if (eq)
        {
          *eq = '\0';
          value = eq + 1;
        }
      for (const char *k = param; *k; k++)
        if (!g_ascii_isalnum (*k) && !(k > param && *k == '-'))
          goto syntax;
      if (*param == '\0')
        goto syntax;
      if (value)
        {
          if (*value == '\0')
            goto syntax;
          for (const char *v = value; *v; v++)
            if ((guchar) *v < 33 || (guchar) *v > 126 || *v == '=')
              goto syntax;
        }
      if (is_mail && g_ascii_strcasecmp (param, "SIZE") == 0)
        {
          guint64 n;
          if (!value || out->size >= 0 || strlen (value) > ESMTP_SIZE_DIGITS_MAX
              || !g_ascii_string_to_unsigned (value, 10, 0, G_MAXINT64, &n, NULL))
            goto syntax;
          out->size = (gint64) n;
        }
      else if (is_mail && g_ascii_strcasecmp (param, "BODY") == 0)
        {
          if (!value || out->body != SG_BODY_NONE)
            goto syntax;
          if (g_ascii_strcasecmp (value, "7BIT") == 0)
            out->body = SG_BODY_7BIT;
          else if (g_ascii_strcasecmp (value, "8BITMIME") == 0)
            out->body = SG_BODY_8BITMIME;
          else
            {
              g_set_error (error, SG_SMTP_ERROR, SG_SMTP_ERROR_UNKNOWN_PARAM,
                           "BODY must be 7BIT or 8BITMIME (RFC 6152)");
              return FALSE;
            }
        }
      else if (is_mail && g_ascii_strcasecmp (param, "SMTPUTF8") == 0)
        {
          if (value || out->smtputf8)
            goto syntax;
          out->smtputf8 = TRUE;
        }
      else if (is_mail && g_ascii_strcasecmp (param, "RET") == 0)
        {
          if (!value || out->dsn_ret
              || (g_ascii_strcasecmp (value, "FULL") != 0 && g_ascii_strcasecmp (value, "HDRS") != 0))
            return dsn_error (error, "RET must be FULL or HDRS (RFC 3461 4.3)");
          out->dsn_ret = g_ascii_strup (value, -1);
        }
      else if (is_mail && g_ascii_strcasecmp (param, "ENVID") == 0)
        {
          if (!value || out->dsn_envid || strlen (value) > SG_SMTP_ENVID_MAX
              || !xtext_printable (value))
            return dsn_error (error, "ENVID must be xtext of at most 100 characters, "
                              "printable US-ASCII once decoded (RFC 3461 4.4)");
          out->dsn_envid = g_strdup (value);
        }
      else if (!is_mail && g_ascii_strcasecmp (param, "NOTIFY") == 0)
        {
          g_autofree char *v = g_strdup (value);
          if (!v || out->dsn_notify || !notify_valid (v))
            return dsn_error (error, "NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY "
                              "(RFC 3461 4.1)");
          out->dsn_notify = g_steal_pointer (&v);
        }
      else if (!is_mail && g_ascii_strcasecmp (param, "ORCPT") == 0)
        {
          if (!value || out->dsn_orcpt || !orcpt_valid (value))
            return dsn_error (error, "ORCPT must be addr-type;xtext, printable US-ASCII "
                              "once decoded (RFC 3461 4.2)");
          out->dsn_orcpt = g_strdup (value);
        }
      else
        {
          g_autofree char *safe = g_strescape (param, NULL);
          g_set_error (error, SG_SMTP_ERROR, SG_SMTP_ERROR_UNKNOWN_PARAM,
                       "Unsupported %s parameter %.40s", is_mail ? "MAIL" : "RCPT", safe);
          return FALSE;
        }
    }
  return TRUE;
syntax:
  g_set_error (error, SG_SMTP_ERROR, SG_SMTP_ERROR_SYNTAX,
               "Syntax error in %s parameters (RFC 5321 4.1.2)", is_mail ? "MAIL" : "RCPT");
  return FALSE;
}

/* parse_path_command - shared by MAIL and RCPT: "KEYWORD:" [SP] path [SP params] */
static gboolean
parse_path_command (const char *arg, const char *keyword, gboolean is_mail, gboolean utf8,
                    SgSmtpPath *out, GError **error)
{
  gsize klen = strlen (keyword);
  sg_smtp_path_clear (out);
  if (g_ascii_strncasecmp (arg, keyword, klen) != 0 || arg[klen] != ':')
    {
      g_set_error (error, SG_SMTP_ERROR, SG_SMTP_ERROR_SYNTAX,
                   "Syntax: %s %s:<address> (RFC 5321 4.1.1)", is_mail ? "MAIL" : "RCPT", keyword);
      return FALSE;
    }
  const char *p = arg + klen + 1;
  if (*p == ' ') /* tolerated, as by most servers */
    p++;
  for (const char *c = p; *c; c++)
    if ((guchar) *c < 32 || *c == 127)
      {
        g_set_error (error, SG_SMTP_ERROR, SG_SMTP_ERROR_SYNTAX, "Control character in command");
        return FALSE;
      }
  g_autofree char *address = NULL;
  if (!parse_path (&p, is_mail, !is_mail, utf8, &address) || (*p != '\0' && *p != ' '))
    {
      g_set_error (error, SG_SMTP_ERROR, is_mail ? SG_SMTP_ERROR_BAD_SENDER : SG_SMTP_ERROR_BAD_RECIPIENT,
                   "Bad %s address syntax (RFC 5321 4.1.2)", is_mail ? "sender" : "recipient");
      return FALSE;
    }
  if (!parse_params (p, is_mail, out, error))
    return FALSE;
  if (is_mail && !out->smtputf8)
    for (const char *c = address; *c; c++)
      if ((guchar) *c >= 0x80)
        {
          g_set_error (error, SG_SMTP_ERROR, SG_SMTP_ERROR_BAD_SENDER,
                       "Non-ASCII sender address without SMTPUTF8 (RFC 6531 3.4)");
          return FALSE;
        }
  out->address = g_steal_pointer (&address);
  return TRUE;
}

gboolean
sg_smtp_parse_mail (const char *arg, SgSmtpPath *out, GError **error)
{
  /* UTF-8 is only allowed once SMTPUTF8 is seen; checked after the params. */
  return parse_path_command (arg, "FROM", TRUE, TRUE, out, error);
}

gboolean
sg_smtp_parse_rcpt (const char *arg, gboolean smtputf8, SgSmtpPath *out, GError **error)
{
  return parse_path_command (arg, "TO", FALSE, smtputf8, out, error);
}
