/* mime_params.c - the values of Content-Type and Content-Disposition:
 * type/subtype and parameters (RFC 2045 5.1, RFC 2183 2), duplicate and
 * conflicting parameters, and RFC 2231 extended values and continuations.
 * Produces decoded parameter values for rules_mime.c (boundary, name and
 * filename); what a type means for the tree walk is rules_mime.c's business.
 */
#include "validate/validate-private.h"

#include <gmime/gmime.h>
#include <stdlib.h>
#include <string.h>

enum { MT_TOKEN = 256, MT_QSTR, MT_END, MT_BAD };

typedef struct {
  const char *p, *end;
  int type;
  const char *s;
  gsize len;
  gboolean ws;       /* whitespace or folding before this token */
  gboolean comment;  /* a comment before this token */
} MLex;

/* RFC 2045 5.1: token := 1*<any (US-ASCII) CHAR except SPACE, CTLs, or tspecials> */
static gboolean
is_token_char (guchar ch)
{
  return ch > 0x20 && ch < 0x7f && strchr ("()<>@,;:\\\"/[]?=", ch) == NULL;
}

static void
mnext (MLex *l)
{
  /* comments and folding whitespace, as RFC 822 lexical tokens allow; what
   * was skipped is noted, because MIME readers disagree about it */
  const char *from = l->p;
  gboolean ok = sg_rfc5322_skip_cfws (&l->p, l->end);
  l->comment = memchr (from, '(', (gsize) (l->p - from)) != NULL;
  l->ws = FALSE;
  for (const char *q = from; q < l->p && !l->ws; q++)
    l->ws = *q == ' ' || *q == '\t' || *q == '\r' || *q == '\n';
  if (!ok)
    {
      l->type = MT_BAD;
      return;
    }
  l->s = l->p;
  if (l->p >= l->end)
    l->type = MT_END;
  else if (*l->p == '"')
    {
      l->type = MT_BAD;
      for (l->p++; l->p < l->end; l->p++)
        {
          if (*l->p == '\\' && l->p + 1 < l->end)
            l->p++;
          else if (*l->p == '"')
            {
              l->p++;
              l->type = MT_QSTR;
              break;
            }
        }
    }
  else if (is_token_char ((guchar) *l->p))
    {
      while (l->p < l->end && is_token_char ((guchar) *l->p))
        l->p++;
      l->type = MT_TOKEN;
    }
  else if (*l->p == '/' || *l->p == ';' || *l->p == '=')
    l->type = (guchar) *l->p++;
  else
    l->type = MT_BAD;
  l->len = (gsize) (l->p - l->s);
}

/* Unquoted copy of a quoted-string token, without folding CRLF. */
static char *
unquote (const char *s, gsize len)
{
  GString *out = g_string_sized_new (len);
  for (gsize i = 1; i + 1 < len; i++)
    {
      if (s[i] == '\\' && i + 2 < len)
        i++;
      else if (s[i] == '\r' || s[i] == '\n')
        continue;
      g_string_append_c (out, s[i]);
    }
  return g_string_free (out, FALSE);
}

typedef struct {
  char *attr;      /* as written, lower case */
  char *base;      /* without the RFC 2231 suffixes */
  int section;     /* -1 when not a continuation */
  gboolean ext;    /* trailing "*": charset'language'%XX value */
  gboolean quoted;
  gboolean escaped;/* a quoted-pair in the quoted-string */
  guint order;     /* position among the field's parameters */
  char *value;
  char *spelled;   /* the name as written, case kept */
} Param;

static void
param_clear (gpointer p)
{
  Param *x = p;
  g_free (x->attr);
  g_free (x->base);
  g_free (x->value);
  g_free (x->spelled);
}

static int
param_cmp (gconstpointer a, gconstpointer b)
{
  const Param *x = a, *y = b;
  int r = strcmp (x->base, y->base);
  if (r != 0)
    return r;
  if (x->section != y->section)
    return (x->section > y->section) - (x->section < y->section);
  return (x->order > y->order) - (x->order < y->order);
}

/* Split name*N* into its RFC 2231 3/4 parts; FALSE when malformed. */
static gboolean
split_attr (Param *x)
{
  gsize n = strlen (x->attr);
  x->section = -1;
  if (n > 0 && x->attr[n - 1] == '*')
    {
      x->ext = TRUE;
      n--;
    }
  const char *star = memchr (x->attr, '*', n);
  if (star != NULL)
    {
      gsize digits = n - (gsize) (star - x->attr) - 1;
      if (digits == 0 || digits > 4)
        return FALSE;
      for (gsize i = 1; i <= digits; i++)
        if (!g_ascii_isdigit (star[i]))
          return FALSE;
      if (star[1] == '0' && digits > 1)
        return FALSE;                    /* no leading zeros (RFC 2231 3) */
      x->section = atoi (star + 1);
      n = (gsize) (star - x->attr);
    }
  x->base = g_strndup (x->attr, n);
  return n > 0;
}

/* Percent-decode an RFC 2231 value; FALSE on a bad escape or character. */
static gboolean
pct_decode (const char *s, GString *out)
{
  for (; *s; s++)
    {
      if (*s == '%')
        {
          if (!g_ascii_isxdigit (s[1]) || !g_ascii_isxdigit (s[2]))
            return FALSE;
          g_string_append_c (out, (char) (g_ascii_xdigit_value (s[1]) * 16 +
                                          g_ascii_xdigit_value (s[2])));
          s += 2;
        }
      else if (*s == '\'' || *s == '*' || !is_token_char ((guchar) *s))
        return FALSE;
      else
        g_string_append_c (out, *s);
    }
  return TRUE;
}

/* RFC 2231 7: charset and language are tokens ("utf-8'en'"); a space, a
 * quote or a backslash there (a quoted extended value, `" utf-8''..."`)
 * makes Python's email drop the value while GMime and MIME-tools strip it. */
static gboolean
is_charset_lang (const char *from, const char *to)
{
  for (const char *p = from; p < to; p++)
    if (*p != '\'' && !is_token_char ((guchar) *p))
      return FALSE;
  return TRUE;
}

/* Whether s holds something shaped like an encoded-word. */
static gboolean
has_encoded_word (const char *s)
{
  const char *w = s ? strstr (s, "=?") : NULL;
  return w != NULL && strstr (w + 2, "?=") != NULL;
}

/* Bytes in charset to UTF-8; unknown charsets keep the raw bytes. */
static char *
to_utf8 (const char *charset, GString *bytes)
{
  if (*charset != '\0' && g_ascii_strcasecmp (charset, "utf-8") != 0 &&
      g_ascii_strcasecmp (charset, "us-ascii") != 0)
    {
      char *conv = g_convert (bytes->str, (gssize) bytes->len, "UTF-8", charset,
                              NULL, NULL, NULL);
      if (conv != NULL)
        return conv;
    }
  return g_strndup (bytes->str, bytes->len);
}

/* Charsets no composer uses for a file name, and that hide the name from a
 * scanner that does not decode them. */
static gboolean
is_evasive_charset (const char *cs, gsize len)
{
  static const char *const names[] = { "utf-16", "utf-32", "utf-7", "ucs-2", "ucs-4",
                                       "utf16", "utf32", "utf7", "ucs2", "ucs4" };
  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    if (len >= strlen (names[i]) && g_ascii_strncasecmp (cs, names[i], strlen (names[i])) == 0)
      return TRUE;
  return FALSE;
}

/* Plain ASCII: no octet over 0x7f and no ESC. An ESC means ISO 2022 text
 * (ISO-2022-JP, RFC 1468), which is 7-bit yet not ASCII: PHPMailer labels
 * such a name us-ascii, and the encoding then does carry text. */
static gboolean
is_plain_ascii (const char *s)
{
  for (; *s; s++)
    if ((guchar) *s >= 0x80 || *s == '\x1b')
      return FALSE;
  return TRUE;
}

/* The value with each encoded-word decoded on its own and the white space
 * between adjacent words dropped (RFC 2047 6.2), as Python's email and
 * MIME-tools read it; GMime joins adjacent B words of one charset before
 * decoding, so a padded word ("=?UTF-8?B?aW52b2ljZQ==?=") followed by
 * another loses the second. Transfer full. */
static char *
decode_word_by_word (const char *value)
{
  GString *out = g_string_new (NULL);
  const char *p = value;
  gboolean after_word = FALSE;
  while (*p)
    {
      const char *w = strstr (p, "=?");
      const char *q1 = w ? strchr (w + 2, '?') : NULL;
      const char *q2 = q1 && q1[1] && q1[2] == '?' ? q1 + 2 : NULL;
      const char *end = q2 ? strstr (q2 + 1, "?=") : NULL;
      if (end == NULL)
        {
          g_string_append (out, p);
          break;
        }
      gboolean space_only = TRUE;
      for (const char *x = p; x < w; x++)
        if (*x != ' ' && *x != '\t' && *x != '\r' && *x != '\n')
          space_only = FALSE;
      if (!(after_word && space_only))
        g_string_append_len (out, p, w - p);
      g_autofree char *word = g_strndup (w, (gsize) (end + 2 - w));
      g_autofree char *dec = g_mime_utils_header_decode_text (NULL, word);
      g_string_append (out, dec ? dec : word);
      after_word = TRUE;
      p = end + 2;
    }
  return g_string_free (out, FALSE);
}

/* Plain values may carry RFC 2047 words, though RFC 2047 5 forbids them in
 * parameters. Composers write them for non-ASCII file names and GMime,
 * Python's email and MIME-tools decode them alike (mime.param.rfc2047, a
 * strict-level rule); a word that decodes to plain ASCII, or uses a charset
 * such as UTF-16 or UTF-7, serves only to hide the name from whoever does
 * not decode (mime.param.rfc2047-evasive). Returns the value as readers
 * that decode see it (transfer full). */
static char *
decode_plain (SgVctx *c, const SgEntity *e, const char *header, const char *base,
              const char *value)
{
  const char *w = strstr (value, "=?");
  if (w == NULL || strstr (w + 2, "?=") == NULL)
    return g_strdup (value);

  g_autofree char *qname = sg_quote ((const guint8 *) base, strlen (base), SG_VALIDATE_MAX_QUOTE);
  for (const char *p = w; p != NULL; p = strstr (p + 2, "=?"))
    {
      const char *cs = p + 2;
      gsize n = strcspn (cs, "?*");
      if (is_evasive_charset (cs, n))
        {
          g_autofree char *q = sg_quote ((const guint8 *) cs, n, SG_VALIDATE_MAX_QUOTE);
          sg_vctx_report (c, SG_RULE_MIME_PARAM_RFC2047_EVASIVE, e, header, -1,
                          "encoded-word in the %s parameter in charset %s", qname, q);
          return g_strdup (value);
        }
    }
  sg_check_word_charsets (c, e, header, qname, value);
  char *dec = g_utf8_validate (value, -1, NULL)
                ? g_mime_utils_header_decode_text (NULL, value) : NULL;
  if (dec == NULL)
    return g_strdup (value);
  g_autofree char *by_word = decode_word_by_word (value);
  if (strcmp (by_word, dec) != 0)
    {
      g_autofree char *q1 = sg_quote ((const guint8 *) by_word, strlen (by_word), SG_VALIDATE_MAX_QUOTE);
      g_autofree char *q2 = sg_quote ((const guint8 *) dec, strlen (dec), SG_VALIDATE_MAX_QUOTE);
      sg_vctx_report (c, SG_RULE_MIME_PARAM_RFC2047_EVASIVE, e, header, -1,
                      "encoded-words in the %s parameter read as \"%s\" word by word and as \"%s\" joined",
                      qname, q1, q2);
    }
  else if (is_plain_ascii (dec) && strcmp (dec, value) != 0)
    {
      g_autofree char *q = sg_quote ((const guint8 *) dec, strlen (dec), SG_VALIDATE_MAX_QUOTE);
      sg_vctx_report (c, SG_RULE_MIME_PARAM_RFC2047_EVASIVE, e, header, -1,
                      "encoded-word in the %s parameter decodes to plain ASCII \"%s\"", qname, q);
    }
  else if (strcmp (dec, value) != 0)
    sg_vctx_report (c, SG_RULE_MIME_PARAM_RFC2047, e, header, -1,
                    "encoded-word in the %s parameter, where RFC 2047 5 does not allow one", qname);
  return dec;
}

/* One base name's parameters, sorted by section: RFC 2231 3 and 4 checks,
 * then the decoded value (transfer full, NULL when undecodable). An RFC 2231
 * value beside a plain one is what RFC 2231 4.1 intends (a fallback for old
 * readers): the extended value wins, and both are recorded. */
static char *
decode_group (SgVctx *c, const SgEntity *e, const char *header, Param *ps, guint n)
{
  const Param *plain = NULL, *single = NULL;
  guint nsections = 0;
  gboolean bad = FALSE, first_ext = FALSE;
  g_autofree char *charset = NULL;
  GString *bytes = g_string_new (NULL);
  guint last_order = 0;
  const char *first_spelled = NULL;

  for (guint i = 0; i < n; i++)
    {
      Param *x = &ps[i];
      if (x->section < 0)
        {
          if (x->ext)
            single = x;
          else
            plain = x;
          continue;
        }
      if ((guint) x->section != nsections)
        {
          sg_vctx_report (c, SG_RULE_MIME_RFC2231_INVALID, e, header, -1,
                          "%s continuation %s section %d", x->base,
                          (guint) x->section < nsections ? "repeats" : "skips to", x->section);
          bad = TRUE;
          break;
        }
      /* RFC 2231 3 numbers the sections; readers that concatenate in the
       * order written see another value when they are out of order. */
      if (nsections > 0 && x->order < last_order)
        {
          sg_vctx_report (c, SG_RULE_MIME_RFC2231_INVALID, e, header, -1,
                          "%s*%d comes before %s*%d", x->base, x->section, x->base,
                          x->section - 1);
          bad = TRUE;
          break;
        }
      last_order = x->order;
      if (nsections == 0)
        first_spelled = x->spelled;
      /* RFC 2045 5.1: names are case-insensitive, but Python's email joins
       * only sections spelled alike (FileName*0, filename*1; decoder-diff) */
      if (nsections > 0 && strncmp (x->spelled, first_spelled, strlen (x->base)) != 0)
        {
          sg_vctx_report (c, SG_RULE_MIME_RFC2231_INVALID, e, header, -1,
                          "sections of %s spelled in different case, which some readers do not join",
                          x->base);
          bad = TRUE;
          break;
        }
      nsections++;
      const char *v = x->value;
      if (x->section == 0)
        first_ext = x->ext;
      else if (x->ext && !first_ext)
        {
          /* RFC 2231 4.1: the charset is in the first section; an encoded
           * later section after a plain first one has none. */
          sg_vctx_report (c, SG_RULE_MIME_RFC2231_INVALID, e, header, -1,
                          "%s*%d* is encoded but %s*0 has no charset", x->base, x->section,
                          x->base);
          bad = TRUE;
          break;
        }
      if (x->ext && x->quoted)
        sg_vctx_report (c, SG_RULE_MIME_RFC2231_QUOTED, e, header, -1,
                        "extended value of %s*%d in quotes, which RFC 2231 7 does not allow",
                        x->base, x->section);
      if (x->ext && x->section == 0)
        {
          /* extended-initial-value := [charset] "'" [language] "'" extended-other-values */
          const char *q1 = strchr (v, '\'');
          const char *q2 = q1 ? strchr (q1 + 1, '\'') : NULL;
          if (q2 == NULL || !is_charset_lang (v, q2))
            bad = TRUE;
          else
            {
              charset = g_strndup (v, (gsize) (q1 - v));
              v = q2 + 1;
            }
        }
      if (!bad && x->ext && !pct_decode (v, bytes))
        bad = TRUE;
      else if (!bad && !x->ext)
        g_string_append (bytes, v);
      if (bad)
        {
          sg_vctx_report (c, SG_RULE_MIME_RFC2231_INVALID, e, header, -1,
                          "malformed extended value in %s*%d", x->base, x->section);
          break;
        }
    }

  char *decoded = NULL, *other = NULL;
  if (nsections > 0 && !bad)
    {
      if (!sg_octets_fit_charset (charset ? charset : "", charset ? strlen (charset) : 0,
                                  bytes->str, bytes->len))
        sg_vctx_report (c, SG_RULE_MIME_PARAM_CHARSET_MISMATCH, e, header, -1,
                        "RFC 2231 value of %s is not text in its charset", ps[0].base);
      decoded = to_utf8 (charset ? charset : "", bytes);
    }
  if (single != NULL)
    {
      const char *q1 = strchr (single->value, '\'');
      const char *q2 = q1 ? strchr (q1 + 1, '\'') : NULL;
      g_string_truncate (bytes, 0);
      if (single->quoted)
        sg_vctx_report (c, SG_RULE_MIME_RFC2231_QUOTED, e, header, -1,
                        "extended value of %s* in quotes, which RFC 2231 7 does not allow",
                        single->base);
      if (q2 == NULL || !is_charset_lang (single->value, q2) || !pct_decode (q2 + 1, bytes))
        sg_vctx_report (c, SG_RULE_MIME_RFC2231_INVALID, e, header, -1,
                        "malformed extended value in %s*", single->base);
      else
        {
          g_autofree char *cs = g_strndup (single->value, (gsize) (q1 - single->value));
          if (!sg_octets_fit_charset (cs, strlen (cs), bytes->str, bytes->len))
            sg_vctx_report (c, SG_RULE_MIME_PARAM_CHARSET_MISMATCH, e, header, -1,
                            "RFC 2231 value of %s* is not text in its charset", single->base);
          other = to_utf8 (cs, bytes);
        }
    }
  g_string_free (bytes, TRUE);

  const char *base = ps[0].base;
  gboolean boundary = strcmp (base, "boundary") == 0;
  /* an encoded-word inside an RFC 2231 value, or split across its
   * sections: Python's email and GMime show it as written, a reader that
   * decodes RFC 2047 in names after RFC 2231 (MIME-tools users) decodes
   * it (decoder-diff) */
  if (has_encoded_word (decoded) || has_encoded_word (other))
    sg_vctx_report (c, SG_RULE_MIME_PARAM_RFC2047_EVASIVE, e, header, -1,
                    "encoded-word inside the RFC 2231 value of %s", base);
  /* a quoted-pair among encoded-words: readers unescape before or after
   * decoding, and read different words */
  if (plain != NULL && plain->escaped && has_encoded_word (plain->value))
    sg_vctx_report (c, SG_RULE_MIME_PARAM_RFC2047_EVASIVE, e, header, -1,
                    "quoted-pair in the %s parameter beside encoded-words", base);
  char *plain_dec = plain ? decode_plain (c, e, header, base, plain->value) : NULL;
  /* name* and name*0...: two RFC 2231 spellings, nothing says which wins */
  if (other != NULL && decoded != NULL && strcmp (other, decoded) != 0)
    sg_vctx_report (c, SG_RULE_MIME_PARAM_DUPLICATE, e, header, -1,
                    "conflicting spellings of the %s parameter", base);
  const char *extended = decoded != NULL ? decoded : other;
  if (boundary && plain == NULL && (single != NULL || nsections > 0))
    sg_vctx_report (c, SG_RULE_MIME_BOUNDARY_FORM, e, header, -1,
                    "boundary given only in RFC 2231 form, which readers without RFC 2231 miss");
  if (extended != NULL && plain_dec != NULL && strcmp (extended, plain_dec) != 0)
    {
      g_autofree char *qe = sg_quote ((const guint8 *) extended, strlen (extended), SG_VALIDATE_MAX_QUOTE);
      g_autofree char *qp = sg_quote ((const guint8 *) plain_dec, strlen (plain_dec), SG_VALIDATE_MAX_QUOTE);
      if (boundary)
        sg_vctx_report (c, SG_RULE_MIME_PARAM_DUPLICATE, e, header, -1,
                        "conflicting spellings of the boundary parameter");
      else
        sg_vctx_report (c, SG_RULE_MIME_PARAM_FALLBACK, e, header, -1,
                        "%s: RFC 2231 value \"%s\" wins over the plain fallback \"%s\"",
                        base, qe, qp);
    }
  char *result = g_strdup (extended != NULL ? extended : plain_dec);
  g_free (plain_dec);
  g_free (other);
  g_free (decoded);
  return result;
}

/* sg_mime_value_clear - release what sg_mime_value_parse filled in. */
void
sg_mime_value_clear (SgMimeValue *v)
{
  g_clear_pointer (&v->type, g_free);
  g_clear_pointer (&v->subtype, g_free);
  g_clear_pointer (&v->params, g_hash_table_unref);
}

/* sg_mime_value_parse - type[/subtype] *(";" attribute "=" value).
 * RFC 2045 5.1 inherits RFC 822's lexical rules, so comments and folding
 * may sit between any two tokens; real readers do not agree on them
 * (a comment after a value is kept in it by some, a space around "=" ends
 * the parameter for others), so only whitespace before an attribute or
 * ";" is taken as harmless: the rest is mime.content-type.ambiguous
 * (inside the type) or mime.param.cfws. */
gboolean
sg_mime_value_parse (SgVctx *c, const SgEntity *e, const char *header, gsize offset,
                     const char *s, gsize len, gboolean is_content_type, SgMimeValue *out)
{
  MLex l = { s, s + len, 0, NULL, 0, FALSE, FALSE };
  SgRule type_rule = is_content_type ? SG_RULE_MIME_CONTENT_TYPE_INVALID
                                     : SG_RULE_MIME_PARAM_INVALID;

  out->params = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  mnext (&l);
  if (l.type != MT_TOKEN)
    {
      sg_vctx_report (c, type_rule, e, header, (gssize) offset, "no %s",
                      is_content_type ? "type/subtype" : "disposition type");
      return FALSE;
    }
  if (l.comment)
    sg_vctx_report (c, is_content_type ? SG_RULE_MIME_CONTENT_TYPE_AMBIGUOUS : SG_RULE_MIME_PARAM_CFWS,
                    e, header, (gssize) offset, "comment before the %s",
                    is_content_type ? "media type" : "disposition type");
  out->type = g_ascii_strdown (l.s, (gssize) l.len);
  mnext (&l);
  if (is_content_type)
    {
      /* RFC 2045 5.1: content := "Content-Type" ":" type "/" subtype *(";" parameter) */
      if (l.type != '/')
        {
          sg_vctx_report (c, type_rule, e, header, (gssize) offset, "no subtype");
          return FALSE;
        }
      gboolean gap = l.ws || l.comment;
      mnext (&l);
      if (l.type != MT_TOKEN)
        {
          sg_vctx_report (c, type_rule, e, header, (gssize) offset, "no subtype");
          return FALSE;
        }
      if (gap || l.ws || l.comment)
        sg_vctx_report (c, SG_RULE_MIME_CONTENT_TYPE_AMBIGUOUS, e, header, (gssize) offset,
                        "whitespace or a comment around the \"/\" of the media type");
      out->subtype = g_ascii_strdown (l.s, (gssize) l.len);
      /* "x-multipart/mixed" is a leaf to RFC 2045 and a multipart to
       * readers that look for the word */
      if (strcmp (out->type, "multipart") != 0 && strstr (out->type, "multipart") != NULL)
        {
          g_autofree char *q = sg_quote ((const guint8 *) out->type, strlen (out->type),
                                         SG_VALIDATE_MAX_QUOTE);
          sg_vctx_report (c, SG_RULE_MIME_CONTENT_TYPE_AMBIGUOUS, e, header, (gssize) offset,
                          "media type \"%s\" is not multipart, though some readers take it for one", q);
        }
      mnext (&l);
      /* RFC 2045 5.1 allows a comment after the subtype, but Python's email
       * keeps it in the type ("text/plain (x)"), and MIME-tools keeps one
       * glued to it ("text/plain(x)"), while GMime drops it: each reader
       * then treats the part as another type (found by decoder-diff) */
      if (l.comment)
        sg_vctx_report (c, SG_RULE_MIME_CONTENT_TYPE_AMBIGUOUS, e, header, (gssize) offset,
                        "comment after the media type, which some readers keep in the type");
    }

  g_autoptr(GArray) params = g_array_new (FALSE, TRUE, sizeof (Param));
  g_array_set_clear_func (params, param_clear);
  guint order = 0;
  while (l.type != MT_END)
    {
      /* a comment after the media type is reported above */
      if (l.comment && order > 0)
        sg_vctx_report (c, SG_RULE_MIME_PARAM_CFWS, e, header, (gssize) offset,
                        "comment after a parameter value");
      if (l.type != ';')
        goto invalid;
      mnext (&l);
      if (l.type == MT_END)
        break;                           /* a trailing ";" is harmless */
      if (l.type != MT_TOKEN)
        goto invalid;
      if (l.comment)
        sg_vctx_report (c, SG_RULE_MIME_PARAM_CFWS, e, header, (gssize) offset,
                        "comment before a parameter name");
      Param x = { 0 };
      x.attr = g_ascii_strdown (l.s, (gssize) l.len);
      x.spelled = g_strndup (l.s, l.len);
      x.order = order++;
      g_autofree char *qa = sg_quote ((const guint8 *) x.attr, strlen (x.attr), SG_VALIDATE_MAX_QUOTE);
      mnext (&l);
      if (l.type != '=')
        {
          g_free (x.attr);
          g_free (x.spelled);
          goto invalid;
        }
      if (l.ws || l.comment)
        sg_vctx_report (c, SG_RULE_MIME_PARAM_CFWS, e, header, (gssize) offset,
                        "%s between %s and \"=\"", l.comment ? "comment" : "whitespace", qa);
      mnext (&l);
      if (l.type != MT_TOKEN && l.type != MT_QSTR)
        {
          g_free (x.attr);
          g_free (x.spelled);
          goto invalid;
        }
      if (l.ws || l.comment)
        sg_vctx_report (c, SG_RULE_MIME_PARAM_CFWS, e, header, (gssize) offset,
                        "%s between \"=\" and the value of %s", l.comment ? "comment" : "whitespace", qa);
      if (l.type == MT_TOKEN)
        {
          x.value = g_strndup (l.s, l.len);
          /* 'x' is a token to RFC 2045, a quoted "x" to some readers */
          if (x.attr[strlen (x.attr) - 1] != '*' && (l.s[0] == '\'' || l.s[l.len - 1] == '\''))
            sg_vctx_report (c, SG_RULE_MIME_PARAM_SINGLE_QUOTED, e, header, (gssize) offset,
                            "value of %s in single quotes, which RFC 2045 does not use for quoting", qa);
        }
      else
        {
          x.value = unquote (l.s, l.len);
          x.quoted = TRUE;
          x.escaped = memchr (l.s, '\\', l.len) != NULL;
          if (strcmp (x.attr, "boundary") == 0 && memchr (l.s, '\n', l.len) != NULL)
            sg_vctx_report (c, SG_RULE_MIME_BOUNDARY_FORM, e, header, (gssize) offset,
                            "boundary folded across lines: readers unfold it differently");
        }
      mnext (&l);
      gboolean split_ok = split_attr (&x);
      g_array_append_val (params, x);
      if (!split_ok)
        {
          sg_vctx_report (c, SG_RULE_MIME_RFC2231_INVALID, e, header, (gssize) offset,
                          "malformed parameter name \"%s\"", qa);
          g_array_set_size (params, params->len - 1);
        }
    }
  if (l.comment && order > 0)
    sg_vctx_report (c, SG_RULE_MIME_PARAM_CFWS, e, header, (gssize) offset,
                    "comment after a parameter value");
  goto params_done;

invalid:
  sg_vctx_report (c, SG_RULE_MIME_PARAM_INVALID, e, header, (gssize) offset,
                  "parameter syntax error");
params_done:
  if (params->len == 0)
    return TRUE;
  g_array_sort (params, param_cmp);

  /* RFC 2045 5.1 / RFC 2231: each attribute once */
  for (guint i = 0; i + 1 < params->len; i++)
    {
      Param *a = &g_array_index (params, Param, i), *b = &g_array_index (params, Param, i + 1);
      if (strcmp (a->attr, b->attr) == 0)
        {
          g_autofree char *q = sg_quote ((const guint8 *) a->attr, strlen (a->attr),
                                         SG_VALIDATE_MAX_QUOTE);
          sg_vctx_report (c, SG_RULE_MIME_PARAM_DUPLICATE, e, header, (gssize) offset,
                          "duplicate %s parameter", q);
        }
    }
  for (guint i = 0; i < params->len;)
    {
      Param *first = &g_array_index (params, Param, i);
      guint j = i + 1;
      while (j < params->len && strcmp (g_array_index (params, Param, j).base, first->base) == 0)
        j++;
      char *value = decode_group (c, e, header, first, j - i);
      if (value != NULL && !g_hash_table_contains (out->params, first->base))
        g_hash_table_insert (out->params, g_strdup (first->base), value);
      else
        g_free (value);
      i = j;
    }
  return TRUE;
}
