/* field-positions.h - one header field (a "probe") placed first, in the
 * middle and last in each kind of header section: the message's own, a MIME
 * part's, an attached message/rfc822's (inside a multipart, and as the whole
 * body up to the end of input), with and without a body after it, and
 * without the CRLF at the end of input. The validator must give the same
 * rule ids and verdict in every position (issue 20). Header-only, shared by
 * tests/validate/test-positions.c and fuzz/fuzz-positions.c.
 */
#pragma once

#include "validate/validate.h"

#include <string.h>

/* A boundary no probe may contain (sg_pos_probe_ok checks). */
#define SG_POS_BOUNDARY "=_sg-pos-7f3a"

typedef enum {
  SG_POS_ROOT,          /* the message's own header */
  SG_POS_PART,          /* the second part of a multipart/mixed */
  SG_POS_ATTACHED,      /* a message/rfc822 attached as that second part */
  SG_POS_ENCLOSED,      /* a message/rfc822 that is the whole body, to EOF */
  SG_POS_N_SECTIONS
} SgPosSection;

static const char *const sg_pos_section_names[SG_POS_N_SECTIONS] = {
  "message header", "MIME part header", "attached message header",
  "enclosed message header (to end of input)",
};

/* Where the probe goes and how the section ends. Variants of one group must
 * agree; the groups differ in the body, which may change the rule ids. */
typedef enum {
  SG_POS_FIRST,          /* group 0: a body follows */
  SG_POS_MIDDLE,
  SG_POS_LAST,
  SG_POS_FIRST_NO_BODY,  /* group 1: the empty line, then nothing */
  SG_POS_LAST_NO_BODY,
  SG_POS_LAST_AT_END,    /* the section ends with the probe's CRLF (no empty line) */
  SG_POS_LAST_NO_CRLF,   /* ... and without that CRLF (the end of input, or the
                          * delimiter's own CRLF inside a multipart) */
  SG_POS_N_VARIANTS
} SgPosVariant;

static const char *const sg_pos_variant_names[SG_POS_N_VARIANTS] = {
  "first", "middle", "last", "first, no body", "last, no body",
  "last, no empty line", "last, no CRLF",
};

static inline guint
sg_pos_group (SgPosVariant v)
{
  return v <= SG_POS_LAST ? 0 : 1;
}

static const char *const sg_pos_message_fields[] = {
  "From: Alice Example <alice@example.com>",
  "To: bob@example.net",
  "Date: Mon, 7 Dec 2026 10:00:00 +0000",
  "Subject: where the field stands",
  "Message-ID: <positions@example.com>",
  "MIME-Version: 1.0",
};

static const char *const sg_pos_part_fields[] = {
  "Content-Type: text/plain; charset=us-ascii",
  "Content-Transfer-Encoding: 7bit",
  "Content-ID: <part@example.com>",
  "Content-Description: the probed part",
};

/* sg_pos_probe_name - the probe's field name, without white space before
 * the colon (transfer full). */
static inline char *
sg_pos_probe_name (const guint8 *probe, gsize len)
{
  const guint8 *colon = memchr (probe, ':', len);
  gsize n = colon != NULL ? (gsize) (colon - probe) : 0;
  while (n > 0 && (probe[n - 1] == ' ' || probe[n - 1] == '\t'))
    n--;
  return g_strndup ((const char *) probe, n);
}

/* sg_pos_probe_ok - whether probe is one header field wherever it goes: a
 * first line that does not start with white space and has a colon, then
 * only continuation lines (starting with SP or HT, not empty), each line
 * ended by LF (CRLF or bare) except perhaps the last; no boundary inside.
 * Anything else ends the header section at a place that moves with the
 * probe, and then a different verdict is right. */
static inline gboolean
sg_pos_probe_ok (const guint8 *probe, gsize len)
{
  if (len == 0 || probe[0] == ' ' || probe[0] == '\t' || probe[0] == '\r' ||
      probe[0] == '\n' || memchr (probe, ':', len) == NULL)
    return FALSE;
  const guint8 *first_nl = memchr (probe, '\n', len);
  if (memchr (probe, ':', first_nl ? (gsize) (first_nl - probe) : len) == NULL)
    return FALSE;
  if (memmem (probe, len, SG_POS_BOUNDARY, strlen (SG_POS_BOUNDARY)) != NULL)
    return FALSE;
  /* "--" at the start of the field's line would be a delimiter candidate */
  if (len >= 2 && probe[0] == '-' && probe[1] == '-')
    return FALSE;
  for (const guint8 *nl = first_nl; nl != NULL && (gsize) (nl + 1 - probe) < len;
       nl = memchr (nl + 1, '\n', len - (gsize) (nl + 1 - probe)))
    if (nl[1] != ' ' && nl[1] != '\t')
      return FALSE;
  /* a continuation line holding only white space (and CR) is not the empty
   * line, so it stays inside the field: nothing to exclude there */
  return TRUE;
}

/* Append the fields of a section with the probe at variant v. Fillers named
 * like the probe are left out unless keep_dup. */
static inline void
sg_pos_append_section (GByteArray *out, const char *const *fillers, guint nfillers,
                       const guint8 *probe, gsize len, SgPosVariant v, gboolean keep_dup,
                       const char *body)
{
  g_autofree char *name = sg_pos_probe_name (probe, len);
  GPtrArray *kept = g_ptr_array_new ();
  for (guint i = 0; i < nfillers; i++)
    {
      gsize n = strlen (name);
      gboolean same = g_ascii_strncasecmp (fillers[i], name, n) == 0 && fillers[i][n] == ':';
      if (keep_dup || !same)
        g_ptr_array_add (kept, (gpointer) fillers[i]);
    }
  guint at = v == SG_POS_FIRST || v == SG_POS_FIRST_NO_BODY ? 0
           : v == SG_POS_MIDDLE ? kept->len / 2 : kept->len;
  gboolean probe_crlf = len >= 1 && probe[len - 1] == '\n';

  for (guint i = 0; i <= kept->len; i++)
    {
      if (i == at)
        {
          g_byte_array_append (out, probe, (guint) len);
          if (!probe_crlf && v != SG_POS_LAST_NO_CRLF)
            g_byte_array_append (out, (const guint8 *) "\r\n", 2);
        }
      if (i < kept->len)
        {
          g_byte_array_append (out, (const guint8 *) kept->pdata[i], (guint) strlen (kept->pdata[i]));
          g_byte_array_append (out, (const guint8 *) "\r\n", 2);
        }
    }
  g_ptr_array_unref (kept);
  if (v == SG_POS_LAST_AT_END || v == SG_POS_LAST_NO_CRLF)
    return;
  g_byte_array_append (out, (const guint8 *) "\r\n", 2);
  if (sg_pos_group (v) == 0)
    g_byte_array_append (out, (const guint8 *) body, (guint) strlen (body));
}

static inline void
sg_pos_append_str (GByteArray *out, const char *s)
{
  g_byte_array_append (out, (const guint8 *) s, (guint) strlen (s));
}

/* sg_pos_build - the whole message with the probe in section s at variant
 * v (transfer full). A probe without its own line end gets CRLF, except
 * at LAST_NO_CRLF. */
static inline GBytes *
sg_pos_build (const guint8 *probe, gsize len, SgPosSection s, SgPosVariant v, gboolean keep_dup)
{
  GByteArray *out = g_byte_array_new ();
  const char *body = "Hello, the body.\r\n";

  if (s == SG_POS_ROOT)
    {
      sg_pos_append_section (out, sg_pos_message_fields, G_N_ELEMENTS (sg_pos_message_fields),
                             probe, len, v, keep_dup, body);
      return g_byte_array_free_to_bytes (out);
    }
  for (guint i = 0; i < G_N_ELEMENTS (sg_pos_message_fields); i++)
    {
      sg_pos_append_str (out, sg_pos_message_fields[i]);
      sg_pos_append_str (out, "\r\n");
    }
  if (s == SG_POS_ENCLOSED)
    {
      sg_pos_append_str (out, "Content-Type: message/rfc822\r\n\r\n");
      sg_pos_append_section (out, sg_pos_message_fields, G_N_ELEMENTS (sg_pos_message_fields),
                             probe, len, v, keep_dup, body);
      return g_byte_array_free_to_bytes (out);
    }
  sg_pos_append_str (out, "Content-Type: multipart/mixed; boundary=\"" SG_POS_BOUNDARY "\"\r\n\r\n"
                          "--" SG_POS_BOUNDARY "\r\n"
                          "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
                          "The first part.\r\n"
                          "--" SG_POS_BOUNDARY "\r\n");
  if (s == SG_POS_PART)
    sg_pos_append_section (out, sg_pos_part_fields, G_N_ELEMENTS (sg_pos_part_fields),
                           probe, len, v, keep_dup, body);
  else
    {
      sg_pos_append_str (out, "Content-Type: message/rfc822\r\n\r\n");
      sg_pos_append_section (out, sg_pos_message_fields, G_N_ELEMENTS (sg_pos_message_fields),
                             probe, len, v, keep_dup, body);
    }
  /* RFC 2046 5.1.1: the CRLF before the delimiter is the delimiter's */
  sg_pos_append_str (out, "\r\n--" SG_POS_BOUNDARY "--\r\n");
  return g_byte_array_free_to_bytes (out);
}

static inline int
sg_pos_cmp_ids (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* sg_pos_outcome - "rejected: rule rule ..." with each rule id once, sorted,
 * or only the verdict when verdict_only (transfer full). */
static inline char *
sg_pos_outcome (const SgValidation *v, gboolean verdict_only)
{
  GString *s = g_string_new (v->first_reject != NULL ? "rejected" : "accepted");
  if (verdict_only)
    return g_string_free (s, FALSE);
  g_autoptr(GPtrArray) ids = g_ptr_array_new ();
  for (guint i = 0; i < v->violations->len; i++)
    {
      const SgViolation *viol = g_ptr_array_index (v->violations, i);
      gboolean seen = FALSE;
      for (guint k = 0; k < ids->len && !seen; k++)
        seen = strcmp (ids->pdata[k], viol->rule) == 0;
      if (!seen)
        g_ptr_array_add (ids, (gpointer) viol->rule);
    }
  g_ptr_array_sort (ids, sg_pos_cmp_ids);
  g_string_append_c (s, ':');
  for (guint k = 0; k < ids->len; k++)
    g_string_append_printf (s, " %s", (const char *) ids->pdata[k]);
  return g_string_free (s, FALSE);
}

/* sg_pos_check - validate the probe in every variant of every section;
 * NULL when each group of variants agrees (rule ids and verdict, or only
 * the verdict when keep_dup puts a second field of the probe's name
 * beside it), else what differs (transfer full). */
static inline char *
sg_pos_check (const guint8 *probe, gsize len, const SgValidateOptions *opts, gboolean keep_dup)
{
  for (guint s = 0; s < SG_POS_N_SECTIONS; s++)
    {
      char *want[2] = { NULL, NULL };
      SgPosVariant want_from[2] = { 0, 0 };
      char *diff = NULL;
      for (guint v = 0; v < SG_POS_N_VARIANTS && diff == NULL; v++)
        {
          g_autoptr(GBytes) msg = sg_pos_build (probe, len, s, v, keep_dup);
          gsize n = 0;
          const guint8 *data = g_bytes_get_data (msg, &n);
          g_autoptr(SgValidation) r = sg_validate (data, n, opts);
          char *got = sg_pos_outcome (r, keep_dup);
          guint g = sg_pos_group (v);
          if (want[g] == NULL)
            {
              want[g] = got;
              want_from[g] = v;
              continue;
            }
          if (strcmp (got, want[g]) != 0)
            diff = g_strdup_printf ("%s%s, %s: %s\n  but %s: %s",
                                    sg_pos_section_names[s], keep_dup ? " (duplicate kept)" : "",
                                    sg_pos_variant_names[v], got,
                                    sg_pos_variant_names[want_from[g]], want[g]);
          g_free (got);
        }
      g_free (want[0]);
      g_free (want[1]);
      if (diff != NULL)
        return diff;
    }
  return NULL;
}
