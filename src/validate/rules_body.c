/* rules_body.c - checks on the content of leaf parts, straight on the raw
 * octets without decoding: 8-bit data against the declared encoding (RFC
 * 2045 2.7, 2.8; RFC 6152), the base64 alphabet and padding (RFC 2045 6.8),
 * quoted-printable escapes (6.7), and lines that resemble a boundary
 * delimiter (RFC 2046 5.1.1). Where a part starts and ends is rules_mime.c's.
 */
#include "validate/validate-private.h"

#include <string.h>

/* Escaped letters and digits in one quoted-printable part from which it
 * counts as wholly encoded (when they also outnumber the plain ones). */
#define SG_QP_NEEDLESS_MIN 16u

/* sg_has_8bit - whether any octet of [p,p+len) has the high bit; *where
 * gets the index of the first such octet. */
gboolean
sg_has_8bit (const guint8 *p, gsize len, gsize *where)
{
  gsize i = 0;
  for (; i + 8 <= len; i += 8)
    {
      guint64 w;
      memcpy (&w, p + i, sizeof w);
      if (w & G_GUINT64_CONSTANT (0x8080808080808080))
        break;
    }
  for (; i < len; i++)
    if (p[i] & 0x80)
      {
        *where = i;
        return TRUE;
      }
  return FALSE;
}

/* sg_bytes_have_8bit - see validate.h. */
gboolean
sg_bytes_have_8bit (GBytes *bytes)
{
  gsize len = 0, at;
  const guint8 *p = bytes != NULL ? g_bytes_get_data (bytes, &len) : NULL;
  return p != NULL && sg_has_8bit (p, len, &at);
}

/* Does line [p,p+n) begin with "--" and one of the enclosing boundaries? */
static gboolean
resembles_delimiter (const guint8 *p, gsize n, const SgBoundary *stack, guint nstack)
{
  if (n < 2 || p[0] != '-' || p[1] != '-')
    return FALSE;
  for (guint k = 0; k < nstack; k++)
    if (n >= stack[k].len + 2 && memcmp (p + 2, stack[k].value, stack[k].len) == 0)
      return TRUE;
  return FALSE;
}

/* sg_check_near_delimiters - lines starting with "--" and an enclosing
 * boundary inside [start,end): parsers that match boundaries loosely (or
 * decode first) would split the part there. */
void
sg_check_near_delimiters (SgVctx *c, const SgEntity *e, gsize start, gsize end,
                          const SgBoundary *stack, guint nstack, SgRule rule)
{
  if (nstack == 0 || start >= end)
    return;
  const guint8 *p = c->data + start, *stop = c->data + end;
  while (p < stop)
    {
      const guint8 *nl = memchr (p, '\n', (gsize) (stop - p));
      const guint8 *le = nl ? nl : stop;
      if (p[0] == '-' && resembles_delimiter (p, (gsize) (le - p), stack, nstack))
        {
          sg_vctx_report (c, rule, e, NULL, p - c->data,
                          "line resembling a boundary delimiter inside the %s",
                          rule == SG_RULE_MIME_BOUNDARY_IN_ENCODED ? "encoded content" : "part");
          return;
        }
      if (nl == NULL)
        break;
      p = nl + 1;
    }
}

/* Octet classes for base64 (RFC 2045 6.8, Table 1). */
enum { B64_ALPHA = 0, B64_PAD = 1, B64_OTHER = 2 };

static const guint8 *
b64_table (void)
{
  static guint8 table[256];
  static gsize done = 0;
  if (g_once_init_enter (&done))
    {
      for (int i = 0; i < 256; i++)
        table[i] = (g_ascii_isalnum (i) || i == '+' || i == '/') ? B64_ALPHA :
                   i == '=' ? B64_PAD : B64_OTHER;
      g_once_init_leave (&done, 1);
    }
  return table;
}

/* Base64: only the alphabet, line breaks, and correct final padding. */
static void
check_base64 (SgVctx *c, const SgEntity *e, gsize start, gsize end,
              const SgBoundary *stack, guint nstack)
{
  const guint8 *tbl = b64_table ();
  const guint8 *p = c->data + start, *stop = c->data + end;
  gsize count = 0, pads = 0;
  const char *problem = NULL;

  while (p < stop)
    {
      const guint8 *nl = memchr (p, '\n', (gsize) (stop - p));
      const guint8 *le = nl ? nl : stop;
      gsize n = (gsize) (le - p);
      if (n > 0 && p[n - 1] == '\r')
        n--;
      guint acc = 0;
      for (gsize i = 0; i < n; i++)
        acc |= tbl[p[i]];
      if (acc != B64_ALPHA || pads > 0)
        {
          if (n == 0)
            ;
          else if (resembles_delimiter (p, n, stack, nstack))
            {
              sg_vctx_report (c, SG_RULE_MIME_BOUNDARY_IN_ENCODED, e, NULL, p - c->data,
                              "line resembling a boundary delimiter inside base64 content");
              return;
            }
          else if (acc & B64_OTHER)
            problem = "character outside the base64 alphabet";
          else if (pads > 0)
            problem = "data after base64 padding";
          else
            {
              const guint8 *eq = memchr (p, '=', n);
              gsize before = (gsize) (eq - p);
              count += before;
              for (gsize i = before; i < n; i++)
                if (p[i] != '=')
                  problem = "data after base64 padding";
              pads = n - before;
            }
          if (problem != NULL)
            {
              sg_vctx_report (c, SG_RULE_MIME_BASE64_INVALID, e, NULL, p - c->data, "%s", problem);
              return;
            }
        }
      else
        count += n;
      if (nl == NULL)
        break;
      p = nl + 1;
    }
  gsize r = count % 4;
  if (!((r == 0 && pads == 0) || (r == 2 && pads == 2) || (r == 3 && pads == 1)))
    sg_vctx_report (c, SG_RULE_MIME_BASE64_INVALID, e, NULL, -1,
                    "base64 data of %" G_GSIZE_FORMAT " characters with %" G_GSIZE_FORMAT
                    " padding characters", count, pads);
}

/* Quoted-printable: "=" only before two hex digits or a soft line break;
 * whitespace after a soft-break "=" is transport padding (RFC 2045 6.7 (3)). */
static void
check_qp (SgVctx *c, const SgEntity *e, gsize start, gsize end)
{
  const guint8 *p = c->data + start, *stop = c->data + end;
  gsize encoded_alnum = 0, plain_alnum = 0;
  while (p < stop)
    {
      const guint8 *nl = memchr (p, '\n', (gsize) (stop - p));
      const guint8 *le = nl ? nl : stop;
      gsize n = (gsize) (le - p);
      if (n > 0 && p[n - 1] == '\r')
        n--;
      const guint8 *q = p, *qe = p + n;
      while (q < qe && (q = memchr (q, '=', (gsize) (qe - q))) != NULL)
        {
          if (q + 2 < qe && g_ascii_isxdigit (q[1]) && g_ascii_isxdigit (q[2]))
            {
              if (g_ascii_isalnum (g_ascii_xdigit_value (q[1]) * 16 + g_ascii_xdigit_value (q[2])))
                encoded_alnum++;
              q += 3;
              continue;
            }
          const guint8 *w = q + 1;
          while (w < qe && (*w == ' ' || *w == '\t'))
            w++;
          if (w != qe)
            {
              sg_vctx_report (c, SG_RULE_MIME_QP_INVALID, e, NULL, p - c->data,
                              "\"=\" not followed by two hex digits or a line break");
              return;
            }
          /* the last line of a body part: its line break belongs to the
           * next delimiter (RFC 2046 5.1.1), so this "=" has none; GMime
           * and Python drop it, MIME-tools keeps it (decoder-diff) */
          if (nl == NULL && le == stop && w == qe && n == (gsize) (le - p))
            {
              sg_vctx_report (c, SG_RULE_MIME_QP_INVALID, e, NULL, p - c->data,
                              "\"=\" at the end of a body part, where the line break belongs "
                              "to the boundary delimiter");
              return;
            }
          break;
        }
      /* RFC 2045 6.7 (3): white space at the end of an encoded line is
       * written =20 or =09; a decoder must delete it when it is not, and
       * MIME-tools does, while GMime and Python's email keep it (a
       * signature's "-- " line decodes two ways; decoder-diff) */
      const guint8 *last = qe;
      while (last > p && (last[-1] == ' ' || last[-1] == '\t'))
        last--;
      if (last < qe && !(last > p && last[-1] == '='))     /* not soft-break padding */
        {
          sg_vctx_report (c, SG_RULE_MIME_QP_INVALID, e, NULL, p - c->data,
                          "white space at the end of a quoted-printable line");
          return;
        }
      for (const guint8 *a = p; a < qe; a++)
        if (g_ascii_isalnum (*a) && !(a >= p + 1 && a[-1] == '=') && !(a >= p + 2 && a[-2] == '='))
          plain_alnum++;
      if (nl == NULL)
        break;
      p = nl + 1;
    }
  /* RFC 2045 6.7 (2) lets letters and digits stand for themselves; encoders
   * escape one now and then ("=46rom" at a line start), never most of
   * them. Text written wholly as =XY hides its words from scanners that
   * do not decode. */
  if (encoded_alnum >= SG_QP_NEEDLESS_MIN && encoded_alnum > plain_alnum)
    sg_vctx_report (c, SG_RULE_MIME_QP_NEEDLESS, e, NULL, (gssize) start,
                    "quoted-printable escapes %" G_GSIZE_FORMAT " letters and digits and leaves %"
                    G_GSIZE_FORMAT " as they are", encoded_alnum, plain_alnum);
}

/* sg_check_leaf - the content of a leaf part against its encoding. */
void
sg_check_leaf (SgVctx *c, const SgEntity *e, gsize start, gsize end, SgCte cte,
               const SgBoundary *stack, guint nstack)
{
  const guint8 *p = c->data + start;
  gsize len = end > start ? end - start : 0, at = 0;

  switch (cte)
    {
    case SG_CTE_BASE64:
      check_base64 (c, e, start, end, stack, nstack);
      return;
    case SG_CTE_QP:
      if (sg_has_8bit (p, len, &at))
        sg_vctx_report (c, SG_RULE_MIME_8BIT_IN_7BIT, e, NULL, (gssize) (start + at),
                        "8-bit octet in quoted-printable content");
      check_qp (c, e, start, end);
      sg_check_near_delimiters (c, e, start, end, stack, nstack, SG_RULE_MIME_BOUNDARY_IN_ENCODED);
      return;
    case SG_CTE_7BIT:
      /* RFC 2045 2.7: 7bit data has no octet above 127 */
      if (sg_has_8bit (p, len, &at))
        sg_vctx_report (c, SG_RULE_MIME_8BIT_IN_7BIT, e, NULL, (gssize) (start + at),
                        "8-bit octet in 7bit content");
      break;
    case SG_CTE_8BIT:
    case SG_CTE_BINARY:
    case SG_CTE_UNKNOWN:
      /* RFC 6152 3: 8-bit content only after BODY=8BITMIME */
      if (!c->eightbitmime && sg_has_8bit (p, len, &at))
        sg_vctx_report (c, SG_RULE_MIME_8BIT_UNDECLARED, e, NULL, (gssize) (start + at),
                        "8-bit content without BODY=8BITMIME");
      break;
    }
  sg_check_near_delimiters (c, e, start, end, stack, nstack, SG_RULE_MIME_BOUNDARY_AMBIGUOUS);
}
