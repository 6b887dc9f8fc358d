/* param_charset.c - whether the octets of an encoded parameter value (an
 * RFC 2231 value or the RFC 2047 words of a plain one) are text in the
 * charset they name: mime.param.charset-mismatch. Where they are not, GMime,
 * Python's email and MIME-tools each substitute their own way, and read
 * another file name (tests/tools/decoder-diff found it). Parsing the
 * parameters is mime_params.c's business.
 */
#include "validate/validate-private.h"

#include <string.h>

/* sg_octets_fit_charset - whether octets are text in charset (RFC 2231 4,
 * RFC 2047 2): US-ASCII
 * and UTF-8 by validation, any other by a conversion that must succeed, so
 * an unknown charset fails too. Readers substitute differently where it
 * does not hold: GMime tries its fallback charsets, Python's email shows
 * U+FFFD, MIME-tools keeps escapes or drops the name (decoder-diff). */
gboolean
sg_octets_fit_charset (const char *charset, gsize cslen, const char *bytes, gsize len)
{
  gboolean ascii = TRUE;
  for (gsize i = 0; i < len && ascii; i++)
    ascii = (guchar) bytes[i] < 0x80;
  g_autofree char *cs = g_strndup (charset, cslen);
  char *star = strchr (cs, '*');            /* RFC 2231 5: charset*language */
  if (star != NULL)
    *star = '\0';
  if (*cs == '\0' || g_ascii_strcasecmp (cs, "us-ascii") == 0 || g_ascii_strcasecmp (cs, "ascii") == 0)
    return ascii;
  if (g_ascii_strcasecmp (cs, "utf-8") == 0 || g_ascii_strcasecmp (cs, "utf8") == 0)
    return g_utf8_validate (bytes, (gssize) len, NULL);
  /* UTF-16 and UTF-32 without a byte order in the label: RFC 2781 4.3 says
   * big-endian, Python's email and GMime read little-endian */
  static const char *const unordered[] = { "utf-16", "utf16", "utf-32", "utf32", "ucs-2", "ucs2",
                                           "ucs-4", "ucs4" };
  for (gsize i = 0; i < G_N_ELEMENTS (unordered); i++)
    if (g_ascii_strcasecmp (cs, unordered[i]) == 0)
      return FALSE;
  gsize out_len = 0;
  g_autofree char *conv = g_convert (bytes, (gssize) len, "UTF-8", cs, NULL, &out_len, NULL);
  /* glibc passes an ISO 2022 escape it does not know through as ESC */
  return conv != NULL && memchr (conv, '\x1b', out_len) == NULL &&
         strstr (conv, "\xef\xbf\xbd") == NULL;
}

/* The octets of the encoded-word at w (=?charset?E?text?=, up to end), or
 * NULL when it is malformed (header.rfc2047.invalid's business). */
static GString *
word_octets (const char *w, const char *end, const char **cs, gsize *cslen)
{
  const char *q1 = memchr (w + 2, '?', (gsize) (end - w - 2));
  if (q1 == NULL || end - q1 < 4 || q1[2] != '?')
    return NULL;
  *cs = w + 2;
  *cslen = (gsize) (q1 - *cs);
  const char *t = q1 + 3, *te = end - 2;
  if (te < t)
    return NULL;
  GString *out = g_string_new (NULL);
  if (q1[1] == 'B' || q1[1] == 'b')
    {
      static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
      g_autofree char *b64 = g_strndup (t, (gsize) (te - t));
      gsize n = 0;
      if (strlen (b64) % 4 != 0 || strspn (b64, alphabet) != strlen (b64))
        {
          g_string_free (out, TRUE);
          return NULL;
        }
      g_autofree guchar *dec = g_base64_decode (b64, &n);
      g_string_append_len (out, (const char *) dec, (gssize) n);
      return out;
    }
  for (const char *p = t; p < te; p++)
    {
      if (*p == '_')
        g_string_append_c (out, ' ');
      else if (*p == '=' && te - p >= 3 && g_ascii_isxdigit (p[1]) && g_ascii_isxdigit (p[2]))
        {
          g_string_append_c (out, (char) (g_ascii_xdigit_value (p[1]) * 16 + g_ascii_xdigit_value (p[2])));
          p += 2;
        }
      else
        g_string_append_c (out, *p);
    }
  return out;
}

/* sg_check_word_charsets - report a parameter value whose encoded-words
 * are not text in their charset (mime.param.charset-mismatch). When all words name one charset, the octets of the whole value
 * (words and the text between them) are checked together: MIME::Words
 * splits a Big5 name inside a character whose second octet is "|", and
 * GMime and MIME-tools join it back (Python shows U+FFFD for the half,
 * a documented harmless difference: the extension reads the same). */
void
sg_check_word_charsets (SgVctx *c, const SgEntity *e, const char *header, const char *qname,
                        const char *value)
{
  g_autoptr(GString) all = g_string_new (NULL);
  const char *first_cs = NULL, *bad_cs = NULL;
  gsize first_len = 0, bad_len = 0;
  gboolean one_charset = TRUE, bad_word = FALSE;
  const char *p = value;
  for (const char *w = strstr (p, "=?"); w != NULL; w = strstr (p, "=?"))
    {
      const char *q1 = strchr (w + 2, '?');
      const char *end = q1 && q1[1] && q1[2] == '?' ? strstr (q1 + 3, "?=") : NULL;
      if (end == NULL)
        break;
      end += 2;
      const char *cs = NULL;
      gsize cslen = 0;
      g_autoptr(GString) oct = word_octets (w, end, &cs, &cslen);
      if (oct == NULL)
        return;
      gboolean gap_is_space = all->len > 0 && strspn (p, " \t\r\n") >= (gsize) (w - p);
      if (!gap_is_space)
        g_string_append_len (all, p, w - p);
      g_string_append_len (all, oct->str, (gssize) oct->len);
      if (first_cs == NULL)
        {
          first_cs = cs;
          first_len = cslen;
        }
      else if (cslen != first_len || g_ascii_strncasecmp (cs, first_cs, cslen) != 0)
        one_charset = FALSE;
      if (!bad_word && !sg_octets_fit_charset (cs, cslen, oct->str, oct->len))
        {
          bad_word = TRUE;
          bad_cs = cs;
          bad_len = cslen;
        }
      p = end;
    }
  g_string_append (all, p);
  if (first_cs == NULL || !bad_word)
    return;
  if (one_charset && sg_octets_fit_charset (first_cs, first_len, all->str, all->len))
    return;
  g_autofree char *q = sg_quote ((const guint8 *) bad_cs, bad_len, SG_VALIDATE_MAX_QUOTE);
  sg_vctx_report (c, SG_RULE_MIME_PARAM_CHARSET_MISMATCH, e, header, -1,
                  "encoded-word in the %s parameter is not text in its charset %s", qname, q);
}
