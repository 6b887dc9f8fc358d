/* gmime_check.c - a second reading of the message by GMime's parser: its
 * warning callback reports what GMime found odd, mapped onto our rule ids.
 * Our own scanners (rules_*.c) are precise about location and run first; a
 * GMime finding is added only when no violation of that rule exists yet.
 * Owns g_mime_init(), done once for the process.
 */
#include "validate/validate-private.h"

#include <gmime/gmime.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

/* Above this size, memory GMime freed is handed back to the system after a
 * parse (glibc keeps freed heap otherwise, and a daemon's RSS would stay at
 * its peak). */
#define SG_GMIME_TRIM_BYTES (1024u * 1024u)

/* count_delimiter_lines - lines that start with "--", stopping once more
 * than limit: every body part GMime could build starts at such a line, so
 * this bounds its work before it allocates anything (issue 13, defect 2). */
static guint
count_delimiter_lines (const guint8 *data, gsize len, guint limit)
{
  guint n = 0;
  const guint8 *p = data, *end = data + len;
  while (p < end && n <= limit)
    {
      if (end - p >= 2 && p[0] == '-' && p[1] == '-')
        n++;
      const guint8 *nl = memchr (p, '\n', (gsize) (end - p));
      if (nl == NULL)
        break;
      p = nl + 1;
    }
  return n;
}

/* sg_validate_gmime_init - g_mime_init() exactly once, thread-safe. */
void
sg_validate_gmime_init (void)
{
  static gsize done = 0;
  if (g_once_init_enter (&done))
    {
      g_mime_init ();
      g_once_init_leave (&done, 1);
    }
}

typedef struct {
  SgVctx *ctx;
  guint32 seen;          /* bit per GMimeParserWarning already mapped */
  gboolean structural;   /* our own scan already found a fault */
} GmimeRun;

/* GMime's warning codes that mean a real malformation, and our rule for each.
 * The WARN_* codes not listed overlap our own, more precise checks; so does
 * CRIT_CONFLICTING_PARAMETER, which GMime also raises for an RFC 2231 value
 * beside its plain fallback (mime_params.c decides those), and
 * WARN_TRUNCATED_MESSAGE, which it also raises for a header-only message
 * without the empty line (RFC 5322 3.5 allows that; rules_mime.c finds an
 * unterminated multipart itself). */
static gboolean
map_warning (GMimeParserWarning code, SgRule *rule)
{
  switch (code)
    {
    case GMIME_CRIT_INVALID_HEADER_NAME:            *rule = SG_RULE_HEADER_NAME_INVALID; return TRUE;
    case GMIME_CRIT_CONFLICTING_HEADER:             *rule = SG_RULE_MIME_HEADER_DUPLICATE; return TRUE;
    case GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY:     *rule = SG_RULE_MIME_BOUNDARY_MISSING; return TRUE;
    case GMIME_CRIT_NESTING_OVERFLOW:               *rule = SG_RULE_MIME_LIMIT_DEPTH; return TRUE;
    case GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT: *rule = SG_RULE_MIME_PART_EMPTY; return TRUE;
    default:
      return FALSE;
    }
}

static void
on_warning (gint64 offset, GMimeParserWarning code, const gchar *item, gpointer user_data)
{
  GmimeRun *run = user_data;
  SgRule rule;

  if (!map_warning (code, &rule) || (code < 32 && (run->seen & (1u << code))))
    return;
  if (code < 32)
    run->seen |= 1u << code;
  /* Duplicate Date, From, Subject... are rules_header.c's, not MIME's. */
  if (code == GMIME_CRIT_CONFLICTING_HEADER &&
      (item == NULL || g_ascii_strncasecmp (item, "Content-", 8) != 0))
    return;
  if (sg_vctx_has (run->ctx, rule) || run->structural)
    return;
  gssize where = offset >= 0 && (guint64) offset <= run->ctx->len ? (gssize) offset : -1;
  g_autofree char *q = item ? sg_quote ((const guint8 *) item, strlen (item),
                                        SG_VALIDATE_MAX_QUOTE) : NULL;
  sg_vctx_report (run->ctx, rule, NULL, NULL, where, "MIME parser: %s%s%s",
                  code == GMIME_WARN_TRUNCATED_MESSAGE ? "message truncated" : "critical warning",
                  q ? " at " : "", q ? q : "");
}

/* sg_check_gmime - parse with GMime, straight from the caller's buffer. */
void
sg_check_gmime (SgVctx *c)
{
  if (c->len > G_MAXUINT)
    return;

  /* A GByteArray that borrows the message: the stream does not own it and
   * only reads, so nothing is copied and the caller's bytes stay untouched. */
  GByteArray *borrowed = g_byte_array_new_take ((guint8 *) c->data, c->len);
  GMimeStream *stream = g_mime_stream_mem_new_with_byte_array (borrowed);
  g_mime_stream_mem_set_owner (GMIME_STREAM_MEM (stream), FALSE);

  GmimeRun run = { c, 0, FALSE };
  /* A fault found by our scan usually makes GMime complain
   * about its consequences (a body line taken for a header, and so on);
   * those would only repeat the same problem at a vaguer location. */
  for (guint i = 0; i < c->violations->len && !run.structural; i++)
    {
      const SgViolation *v = g_ptr_array_index (c->violations, i);
      int rule = sg_rule_lookup (v->rule);
      run.structural = rule >= 0 && sg_rule_info ((SgRule) rule)->klass != SG_CLASS_ADVISORY;
    }
  /* GMime's findings are only added when our scan found nothing; when it
   * did, or when the message could hold more parts than max_mime_parts
   * (each a GObject in a full parse), the second reading is skipped. */
  if (run.structural || c->parts_exceeded ||
      count_delimiter_lines (c->data, c->len, 2 * c->max_parts) > 2 * c->max_parts)
    {
      g_object_unref (stream);
      g_byte_array_free (borrowed, FALSE);
      return;
    }
  GMimeParserOptions *options = g_mime_parser_options_new ();
  g_mime_parser_options_set_warning_callback (options, on_warning, &run);
  GMimeParser *parser = g_mime_parser_new_with_stream (stream);
  /* As a bare entity: the MIME structure is what we want GMime to read;
   * a GMimeMessage would also build address objects we never look at. */
  GMimeObject *message = g_mime_parser_construct_part (parser, options);

  g_clear_object (&message);
  g_object_unref (parser);
  g_mime_parser_options_free (options);
  g_object_unref (stream);
  g_byte_array_free (borrowed, FALSE);
#ifdef __GLIBC__
  if (c->len > SG_GMIME_TRIM_BYTES)
    malloc_trim (0);
#endif
}
