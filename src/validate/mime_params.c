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
  /* comments and folding whitespace, as RFC 822 lexical tokens allow */
  if (!sg_rfc5322_skip_cfws (&l->p, l->end))
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
  char *value;
} Param;

static void
param_clear (gpointer p)
{
  Param *x = p;
  g_free (x->attr);
  g_free (x->base);
  g_free (x->value);
}

static int
param_cmp (gconstpointer a, gconstpointer b)
{
  const Param *x = a, *y = b;
  int r = strcmp (x->base, y->base);
  if (r != 0)
    return r;
  return (x->section > y->section) - (x->section < y->section);
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

/* Plain values may carry RFC 2047 words (common for name=, though RFC 2047 5
 * forbids it); decode them so that name and filename compare as readers see them. */
static char *
decode_plain (const char *value)
{
  if (strstr (value, "=?") != NULL && g_utf8_validate (value, -1, NULL))
    {
      char *dec = g_mime_utils_header_decode_text (NULL, value);
      if (dec != NULL)
        return dec;
    }
  return g_strdup (value);
}

/* One base name's parameters, sorted by section: RFC 2231 3 and 4 checks,
 * then the decoded value (transfer full, NULL when undecodable). */
static char *
decode_group (SgVctx *c, const SgEntity *e, const char *header, Param *ps, guint n)
{
  const Param *plain = NULL, *single = NULL;
  guint nsections = 0;
  gboolean bad = FALSE;
  g_autofree char *charset = NULL;
  GString *bytes = g_string_new (NULL);

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
      nsections++;
      const char *v = x->value;
      if (x->ext && x->quoted)
        bad = TRUE;
      if (x->ext && x->section == 0)
        {
          /* extended-initial-value := [charset] "'" [language] "'" extended-other-values */
          const char *q1 = strchr (v, '\'');
          const char *q2 = q1 ? strchr (q1 + 1, '\'') : NULL;
          if (q2 == NULL)
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
    decoded = to_utf8 (charset ? charset : "", bytes);
  if (single != NULL)
    {
      const char *q1 = strchr (single->value, '\'');
      const char *q2 = q1 ? strchr (q1 + 1, '\'') : NULL;
      g_string_truncate (bytes, 0);
      if (single->quoted || q2 == NULL || !pct_decode (q2 + 1, bytes))
        sg_vctx_report (c, SG_RULE_MIME_RFC2231_INVALID, e, header, -1,
                        "malformed extended value in %s*", single->base);
      else
        {
          g_autofree char *cs = g_strndup (single->value, (gsize) (q1 - single->value));
          other = to_utf8 (cs, bytes);
        }
    }
  g_string_free (bytes, TRUE);

  /* Several spellings of one parameter: readers pick different ones, so
   * they must agree (RFC 2231 leaves the choice open). */
  char *plain_dec = plain ? decode_plain (plain->value) : NULL;
  const char *candidates[3] = { plain_dec, other, decoded };
  const char *first = NULL;
  for (guint i = 0; i < 3; i++)
    {
      if (candidates[i] == NULL)
        continue;
      if (first == NULL)
        first = candidates[i];
      else if (strcmp (first, candidates[i]) != 0)
        {
          sg_vctx_report (c, SG_RULE_MIME_PARAM_DUPLICATE, e, header, -1,
                          "conflicting spellings of the %s parameter", ps[0].base);
          break;
        }
    }
  char *result = g_strdup (first);
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

/* sg_mime_value_parse - type[/subtype] *(";" attribute "=" value). */
gboolean
sg_mime_value_parse (SgVctx *c, const SgEntity *e, const char *header, gsize offset,
                     const char *s, gsize len, gboolean is_content_type, SgMimeValue *out)
{
  MLex l = { s, s + len, 0, NULL, 0 };
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
      mnext (&l);
      if (l.type != MT_TOKEN)
        {
          sg_vctx_report (c, type_rule, e, header, (gssize) offset, "no subtype");
          return FALSE;
        }
      out->subtype = g_ascii_strdown (l.s, (gssize) l.len);
      mnext (&l);
    }

  g_autoptr(GArray) params = g_array_new (FALSE, TRUE, sizeof (Param));
  g_array_set_clear_func (params, param_clear);
  while (l.type != MT_END)
    {
      if (l.type != ';')
        goto invalid;
      mnext (&l);
      if (l.type == MT_END)
        break;                           /* a trailing ";" is harmless */
      if (l.type != MT_TOKEN)
        goto invalid;
      Param x = { 0 };
      x.attr = g_ascii_strdown (l.s, (gssize) l.len);
      mnext (&l);
      if (l.type != '=')
        {
          g_free (x.attr);
          goto invalid;
        }
      mnext (&l);
      if (l.type == MT_TOKEN)
        x.value = g_strndup (l.s, l.len);
      else if (l.type == MT_QSTR)
        {
          x.value = unquote (l.s, l.len);
          x.quoted = TRUE;
        }
      else
        {
          g_free (x.attr);
          goto invalid;
        }
      mnext (&l);
      gboolean split_ok = split_attr (&x);
      g_array_append_val (params, x);
      if (!split_ok)
        {
          g_autofree char *q = sg_quote ((const guint8 *) x.attr, strlen (x.attr),
                                         SG_VALIDATE_MAX_QUOTE);
          sg_vctx_report (c, SG_RULE_MIME_RFC2231_INVALID, e, header, (gssize) offset,
                          "malformed parameter name \"%s\"", q);
          g_array_set_size (params, params->len - 1);
        }
    }
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
