/* rules_mime.c - the MIME tree walk over the raw message (RFC 2045, 2046):
 * each entity's MIME header fields, multipart boundaries and delimiters,
 * preamble and epilogue, message/rfc822 recursion, and the depth and part
 * limits. Parameter syntax is mime_params.c's and leaf bodies rules_body.c's.
 * The walk is our own so that its reading of the structure is the strict
 * one; gmime_check.c adds what GMime's parser notices.
 */
#include "validate/validate-private.h"

#include <string.h>

/* RFC 2046 5.1.1: boundary := 0*69<bchars> bcharsnospace */
#define SG_MAX_BOUNDARY_LEN 70u

static gboolean
is_bchar (guchar ch)
{
  return g_ascii_isalnum (ch) || strchr ("'()+_,-./:=? ", ch) != NULL;
}

static gboolean
boundary_syntax_ok (const char *b, gsize len)
{
  if (len < 1 || len > SG_MAX_BOUNDARY_LEN || b[len - 1] == ' ')
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (b[i] == '\0' || !is_bchar ((guchar) b[i]))
      return FALSE;
  return TRUE;
}

/* The Content-Transfer-Encoding mechanism (RFC 2045 6.1), case-insensitive,
 * comments allowed around it. An empty field (only white space, no comment)
 * sets *empty and reads as 7bit, as GMime, Python's email and MIME-tools all
 * read it (Ruby's mail gem writes one on message/rfc822 attachments). */
static SgCte
parse_cte (const char *s, gsize len, gboolean *comment, gboolean *empty, gboolean *loose)
{
  static const struct { const char *name; SgCte cte; } names[] = {
    { "7bit", SG_CTE_7BIT }, { "8bit", SG_CTE_8BIT }, { "binary", SG_CTE_BINARY },
    { "quoted-printable", SG_CTE_QP }, { "base64", SG_CTE_BASE64 },
  };
  const char *p = s, *end = s + len;
  const char *tok = NULL, *tok_end = NULL;

  *comment = FALSE;
  *empty = FALSE;
  *loose = FALSE;
  while (p < end)
    {
      if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
      else if (*p == '(')
        {
          guint depth = 0;
          *comment = TRUE;
          while (p < end)
            {
              char ch = *p++;
              if (ch == '\\' && p < end)
                p++;
              else if (ch == '(')
                depth++;
              else if (ch == ')' && --depth == 0)
                break;
            }
        }
      else if (tok != NULL)
        return SG_CTE_UNKNOWN;           /* a second token */
      else
        {
          tok = p;
          while (p < end && !strchr (" \t\r\n(", *p))
            p++;
          tok_end = p;
        }
    }
  if (tok == NULL && !*comment)
    {
      *empty = TRUE;
      return SG_CTE_7BIT;
    }
  if (tok == NULL)
    return SG_CTE_UNKNOWN;
  /* white space after the mechanism, or a fold before it: legal CFWS, but
   * Python's email compares the field as written ("base64 ") and leaves
   * the content undecoded */
  *loose = tok_end < end || memchr (s, '\n', (gsize) (tok - s)) != NULL;
  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    if (strlen (names[i].name) == (gsize) (tok_end - tok) &&
        g_ascii_strncasecmp (tok, names[i].name, (gsize) (tok_end - tok)) == 0)
      return names[i].cte;
  return SG_CTE_UNKNOWN;
}

/* Is the line [p, p+n) "--" boundary ["--"] *LWSP? Sets *close. */
static gboolean
is_delimiter (const guint8 *p, gsize n, const char *b, gsize blen, gboolean *close)
{
  if (n < blen + 2 || p[0] != '-' || p[1] != '-' || memcmp (p + 2, b, blen) != 0)
    return FALSE;
  gsize i = blen + 2;
  *close = FALSE;
  if (n >= i + 2 && p[i] == '-' && p[i + 1] == '-')
    {
      *close = TRUE;
      i += 2;
    }
  for (; i < n; i++)
    if (p[i] != ' ' && p[i] != '\t')
      return FALSE;                      /* transport-padding only (5.1.1) */
  return TRUE;
}

static gboolean
looks_like_field (const guint8 *p, gsize n)
{
  gsize i = 0;
  while (i < n && p[i] > 32 && p[i] < 127 && p[i] != ':')
    i++;
  return i > 0 && i < n && p[i] == ':';
}

/* RFC 2046 5.1.1: the epilogue is to be ignored, so anything in it that
 * another parser could take for a body part hides content from scanners. */
static void
check_epilogue (SgVctx *c, const SgEntity *e, gsize start, gsize end,
                const SgBoundary *stack, guint nstack)
{
  gsize pos = start;
  while (pos < end)
    {
      const guint8 *line = c->data + pos;
      const guint8 *nl = memchr (line, '\n', end - pos);
      gsize next = nl ? (gsize) (nl - c->data) + 1 : end;
      gsize n = (nl ? (gsize) (nl - c->data) : end) - pos;
      if (n >= 2 && line[0] == '-' && line[1] == '-')
        {
          gboolean bad = FALSE;
          for (guint k = 0; k < nstack && !bad; k++)
            bad = n >= stack[k].len + 2 && memcmp (line + 2, stack[k].value, stack[k].len) == 0;
          if (!bad && next < end)
            {
              const guint8 *nl2 = memchr (c->data + next, '\n', end - next);
              gsize n2 = (nl2 ? (gsize) (nl2 - c->data) : end) - next;
              bad = looks_like_field (c->data + next, n2);
            }
          if (bad)
            {
              sg_vctx_report (c, SG_RULE_MIME_EPILOGUE_PART, e, NULL, (gssize) pos,
                              "epilogue holds what looks like another body part");
              return;
            }
        }
      pos = next;
    }
}

/* check_8bit_outside - 8-bit octets in the preamble or epilogue of a
 * multipart labelled 7bit (or not at all): nothing declares them, and
 * readers that show these areas show them differently. */
static void
check_8bit_outside (SgVctx *c, const SgEntity *e, gsize start, gsize end, const char *what)
{
  gsize at = 0;
  if (end > start && sg_has_8bit (c->data + start, end - start, &at))
    sg_vctx_report (c, SG_RULE_MIME_8BIT_PREAMBLE, e, NULL, (gssize) (start + at),
                    "8-bit octet in the multipart %s", what);
}

static char *
child_path (const SgEntity *e, guint n)
{
  return e->path[0] ? g_strdup_printf ("%s.%u", e->path, n) : g_strdup_printf ("%u", n);
}

/* Split a multipart body at its delimiters (RFC 2046 5.1.1) and walk the parts. */
static void
walk_multipart (SgVctx *c, const SgEntity *e, gsize start, gsize end, guint depth,
                const SgBoundary *stack, guint nstack, const char *b, gboolean digest,
                gboolean eightbit)
{
  gsize blen = strlen (b);
  g_autofree SgBoundary *inner = g_new (SgBoundary, nstack + 1);
  if (nstack > 0)
    memcpy (inner, stack, nstack * sizeof (SgBoundary));
  inner[nstack].value = b;
  inner[nstack].len = blen;

  gsize pos = start, part_start = 0;
  guint nparts = 0;
  gboolean opened = FALSE, closed = FALSE;

  while (pos < end && !closed && !c->parts_exceeded)
    {
      const guint8 *line = c->data + pos;
      const guint8 *nl = memchr (line, '\n', end - pos);
      gsize next = nl ? (gsize) (nl - c->data) + 1 : end;
      gsize n = (nl ? (gsize) (nl - c->data) : end) - pos;
      if (n > 0 && line[n - 1] == '\r')
        n--;
      gboolean close;
      if (line[0] != '-' || !is_delimiter (line, n, b, blen, &close))
        {
          pos = next;
          continue;
        }
      /* The CRLF before a delimiter belongs to it, not to the part. */
      gsize before = pos;
      if (before > start && c->data[before - 1] == '\n')
        before--;
      if (before > start && c->data[before - 1] == '\r')
        before--;
      if (!opened)
        {
          sg_check_near_delimiters (c, e, start, before, inner, nstack + 1,
                                    SG_RULE_MIME_BOUNDARY_AMBIGUOUS);
          if (!eightbit)
            check_8bit_outside (c, e, start, before, "preamble");
          opened = TRUE;
        }
      else
        {
          g_autofree char *path = child_path (e, ++nparts);
          SgEntity child = { path, SG_ENTITY_PART };
          if (pos == part_start)
            {
              /* An empty part is still a part: it counts toward the limit,
               * or a flood of bare delimiters would go uncounted. */
              if (sg_vctx_count_part (c, &child))
                sg_vctx_report (c, SG_RULE_MIME_PART_EMPTY, &child, NULL, (gssize) pos,
                                "body part without header or content");
            }
          else
            sg_check_entity (c, &child, part_start, MAX (before, part_start), depth + 1,
                             inner, nstack + 1, digest);
        }
      closed = close;
      part_start = next;
      pos = next;
    }

  if (c->parts_exceeded)
    return;
  if (!opened)
    {
      sg_vctx_report (c, SG_RULE_MIME_BOUNDARY_UNOPENED, e, NULL, -1,
                      "multipart body has no delimiter line for its boundary");
      return;
    }
  if (!closed)
    {
      g_autofree char *path = child_path (e, ++nparts);
      SgEntity child = { path, SG_ENTITY_PART };
      sg_check_entity (c, &child, part_start, end, depth + 1, inner, nstack + 1, digest);
      sg_vctx_report (c, SG_RULE_MIME_BOUNDARY_UNTERMINATED, e, NULL, -1,
                      "multipart body has no closing delimiter");
      return;
    }
  /* RFC 2046 5.1.1: multipart-body := [preamble CRLF] dash-boundary
   * transport-padding CRLF body-part *encapsulation close-delimiter ... */
  if (nparts == 0)
    sg_vctx_report (c, SG_RULE_MIME_MULTIPART_EMPTY, e, NULL, -1,
                    "multipart with no body part; RFC 2046 5.1.1 requires at least one");
  if (!eightbit)
    check_8bit_outside (c, e, part_start, end, "epilogue");
  check_epilogue (c, e, part_start, end, inner, nstack + 1);
}

typedef struct {
  const SgField *ct, *cte, *cd;
} MimeFields;

/* RFC 2045 3 / RFC 2183: each MIME field at most once per entity. */
static void
find_mime_fields (SgVctx *c, const SgEntity *e, GArray *fields, MimeFields *m)
{
  static const char *const names[] = {
    "Content-Type", "Content-Transfer-Encoding", "Content-Disposition",
  };
  const SgField **slots[] = { &m->ct, &m->cte, &m->cd };

  for (guint i = 0; i < fields->len; i++)
    {
      const SgField *f = &g_array_index (fields, SgField, i);
      for (guint k = 0; k < G_N_ELEMENTS (names); k++)
        {
          if (!sg_field_is (c, f, names[k]))
            continue;
          if (*slots[k] != NULL)
            sg_vctx_report (c, SG_RULE_MIME_HEADER_DUPLICATE, e, names[k], (gssize) f->name,
                            "second %s header", names[k]);
          else
            *slots[k] = f;
        }
    }
}

/* sg_vctx_count_part - count one more entity against max_mime_parts; FALSE
 * (and mime.limit.parts, once) when the limit is passed: the walk stops there. */
gboolean
sg_vctx_count_part (SgVctx *c, const SgEntity *e)
{
  if (c->parts_exceeded)
    return FALSE;
  if (++c->nparts > c->max_parts)
    {
      sg_vctx_report (c, SG_RULE_MIME_LIMIT_PARTS, e, NULL, -1,
                      "more than %u MIME parts", c->max_parts);
      c->parts_exceeded = TRUE;
      return FALSE;
    }
  return TRUE;
}

/* sg_check_entity - one entity at [start,end): header, MIME fields, body. */
void
sg_check_entity (SgVctx *c, const SgEntity *e, gsize start, gsize end, guint depth,
                 const SgBoundary *stack, guint nstack, gboolean digest_child)
{
  if (!sg_vctx_count_part (c, e))
    return;

  /* An attached message saved from an mbox keeps its postmark line
   * ("From sender date", RFC 4155 2), which is no header field (RFC 5322
   * 2.2). GMime skips it, Python's email takes it as the Unix From,
   * MIME-tools as a "From " tag: all three read the message alike, so
   * it is a strict-level rule, and the header scan starts after it. */
  if (e->kind == SG_ENTITY_EMBEDDED && end - start > 6 &&
      memcmp (c->data + start, "From ", 5) == 0 && c->data[start + 5] != ' ' &&
      c->data[start + 5] != '\t' && c->data[start + 5] != '\r')
    {
      const guint8 *nl = memchr (c->data + start, '\n', end - start);
      if (nl != NULL)
        {
          sg_vctx_report (c, SG_RULE_HEADER_MBOX_FROM, e, NULL, (gssize) start,
                          "mbox \"From \" line at the top of an attached message");
          start = (gsize) (nl + 1 - c->data);
        }
    }

  g_autoptr(GArray) fields = g_array_new (FALSE, FALSE, sizeof (SgField));
  gsize body = sg_scan_headers (c, e, start, end, fields);
  if (e->kind == SG_ENTITY_ROOT)
    sg_check_message_headers (c, e, fields);

  MimeFields m = { 0 };
  find_mime_fields (c, e, fields, &m);

  SgMimeValue ct = { 0 }, cd = { 0 };
  gboolean ct_ok = FALSE;
  if (m.ct != NULL)
    ct_ok = sg_mime_value_parse (c, e, "Content-Type", m.ct->name,
                                 (const char *) c->data + m.ct->value,
                                 m.ct->value_end - m.ct->value, TRUE, &ct);
  if (m.cd != NULL)
    sg_mime_value_parse (c, e, "Content-Disposition", m.cd->name,
                         (const char *) c->data + m.cd->value,
                         m.cd->value_end - m.cd->value, FALSE, &cd);
  /* RFC 2045 5.2 default, RFC 2046 5.1.5 in multipart/digest */
  const char *type = ct_ok ? ct.type : (digest_child ? "message" : "text");
  const char *subtype = ct_ok ? ct.subtype : (digest_child ? "rfc822" : "plain");

  SgCte cte = SG_CTE_7BIT;
  if (m.cte != NULL)
    {
      gboolean comment = FALSE, empty = FALSE;
      gboolean loose = FALSE;
      cte = parse_cte ((const char *) c->data + m.cte->value, m.cte->value_end - m.cte->value,
                       &comment, &empty, &loose);
      /* identity encodings read the same whatever a reader makes of them */
      if (loose && !comment && (cte == SG_CTE_BASE64 || cte == SG_CTE_QP))
        sg_vctx_report (c, SG_RULE_MIME_CTE_WHITESPACE, e, "Content-Transfer-Encoding",
                        (gssize) m.cte->name, "white space after, or a fold before, the %s "
                        "encoding, which some readers then do not decode",
                        cte == SG_CTE_BASE64 ? "base64" : "quoted-printable");
      if (empty)
        sg_vctx_report (c, SG_RULE_MIME_CTE_EMPTY, e, "Content-Transfer-Encoding",
                        (gssize) m.cte->name, "empty Content-Transfer-Encoding, read as 7bit");
      /* RFC 2045 6.1 allows comments here, but a reader that does not strip
       * them sees an unknown encoding and leaves the content undecoded */
      if (comment)
        sg_vctx_report (c, SG_RULE_MIME_CTE_COMMENT, e, "Content-Transfer-Encoding",
                        (gssize) m.cte->name, "comment in Content-Transfer-Encoding");
      if (cte == SG_CTE_UNKNOWN)
        {
          g_autofree char *q = sg_quote (c->data + m.cte->value, m.cte->value_end - m.cte->value,
                                         SG_VALIDATE_MAX_QUOTE);
          sg_vctx_report (c, SG_RULE_MIME_CTE_UNKNOWN, e, "Content-Transfer-Encoding",
                          (gssize) m.cte->name, "unknown encoding \"%s\"", g_strstrip (q));
        }
    }

  /* Ambiguity: readers take the file name from either place. RFC 2183
   * does not make them equal, and some mailers add to one (RISC OS writes
   * name="clock.bmp,69c" beside filename="clock.bmp"), so only names of
   * which neither extends the other conflict. */
  const char *name = ct.params ? g_hash_table_lookup (ct.params, "name") : NULL;
  const char *filename = cd.params ? g_hash_table_lookup (cd.params, "filename") : NULL;
  if (name != NULL && filename != NULL && !g_str_has_prefix (name, filename) &&
      !g_str_has_prefix (filename, name))
    {
      g_autofree char *qn = sg_quote ((const guint8 *) name, strlen (name), SG_VALIDATE_MAX_QUOTE);
      g_autofree char *qf = sg_quote ((const guint8 *) filename, strlen (filename),
                                      SG_VALIDATE_MAX_QUOTE);
      sg_vctx_report (c, SG_RULE_MIME_FILENAME_CONFLICT, e, NULL, -1,
                      "Content-Disposition filename \"%s\" differs from Content-Type name \"%s\"",
                      qf, qn);
    }

  gboolean multipart = strcmp (type, "multipart") == 0;
  gboolean message = strcmp (type, "message") == 0 &&
                     (strcmp (subtype, "rfc822") == 0 || strcmp (subtype, "global") == 0);
  if ((multipart || message) && cte != SG_CTE_7BIT && cte != SG_CTE_8BIT &&
      cte != SG_CTE_BINARY && cte != SG_CTE_UNKNOWN)
    /* RFC 2045 6.4, RFC 2046 5.1.1 and 5.2.1: no encoding on composite types */
    sg_vctx_report (c, SG_RULE_MIME_CTE_COMPOSITE, e, "Content-Transfer-Encoding",
                    (gssize) m.cte->name, "%s/%s part with an encoding other than 7bit, 8bit or binary",
                    type, subtype);

  if ((multipart || message) && depth + 1 > c->max_depth)
    {
      sg_vctx_report (c, SG_RULE_MIME_LIMIT_DEPTH, e, NULL, -1,
                      "MIME nesting deeper than %u", c->max_depth);
    }
  else if (multipart)
    {
      const char *b = g_hash_table_lookup (ct.params, "boundary");
      gsize blen = b ? strlen (b) : 0;
      if (b == NULL || blen == 0)
        sg_vctx_report (c, SG_RULE_MIME_BOUNDARY_MISSING, e, "Content-Type", -1,
                        "multipart without a boundary parameter");
      else
        {
          if (!boundary_syntax_ok (b, blen))
            sg_vctx_report (c, SG_RULE_MIME_BOUNDARY_INVALID, e, "Content-Type", -1,
                            "boundary is not 1-70 boundary characters");
          for (guint k = 0; k < nstack; k++)
            {
              gsize l = MIN (blen, stack[k].len);
              if (memcmp (b, stack[k].value, l) == 0)
                sg_vctx_report (c, SG_RULE_MIME_BOUNDARY_NESTED, e, "Content-Type", -1,
                                "boundary and an enclosing boundary are prefixes of each other");
            }
          /* RFC 2045 6.4: a composite's 7bit/8bit/binary label covers its
           * whole body, preamble and epilogue included */
          walk_multipart (c, e, body, end, depth, stack, nstack, b,
                          strcmp (subtype, "digest") == 0,
                          cte == SG_CTE_8BIT || cte == SG_CTE_BINARY);
        }
    }
  else if (message)
    {
      SgEntity inner = { e->path, SG_ENTITY_EMBEDDED };
      sg_check_entity (c, &inner, body, end, depth + 1, stack, nstack, FALSE);
    }
  else
    sg_check_leaf (c, e, body, end, cte, stack, nstack);

  sg_mime_value_clear (&ct);
  sg_mime_value_clear (&cd);
}
