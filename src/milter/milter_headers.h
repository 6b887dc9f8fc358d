/* milter_headers.h - a message's header section as milters see and edit it:
 * our Received first, then the message's own fields, each kept as its exact
 * bytes so that fields nobody touched are written back unchanged. The body
 * is never copied; milter_client.c decides which edits are allowed. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

typedef struct _SgMilterHeaders SgMilterHeaders;

/* sg_milter_headers_new - split received (one or more CRLF-ended fields) and
 * the header section of content; *body_offset is where content's body
 * starts (after the blank line, or at its end when there is none). */
SgMilterHeaders *sg_milter_headers_new (GBytes *received, GBytes *content, gsize *body_offset);
void             sg_milter_headers_free (SgMilterHeaders *h);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgMilterHeaders, sg_milter_headers_free)

guint        sg_milter_headers_count (const SgMilterHeaders *h);
/* sg_milter_headers_name - the field name of header i (borrowed). */
const char  *sg_milter_headers_name (const SgMilterHeaders *h, guint i);
/* sg_milter_headers_value - what a milter is sent as the value of header i:
 * the bytes after the colon with folding as LF, the line end removed, and,
 * unless leading_space (SMFIP_HDR_LEADSPC), one leading space removed. (transfer full) */
char        *sg_milter_headers_value (const SgMilterHeaders *h, guint i, gboolean leading_space);

/* sg_milter_header_valid - a field name of printable ASCII without ':' and a
 * value whose every line after the first is folded (starts with SP or HT),
 * without NUL or a bare CR: nothing a milter adds can end the header
 * section or start a field of its own. */
gboolean sg_milter_header_valid (const char *name, const char *value);

/* Edits as libmilter defines them; value is as the milter sent it (folded
 * with LF or CRLF), written as "name: value" or, when leading_space,
 * "name:value". */
/* sg_milter_headers_add - append a field (smfi_addheader). */
void sg_milter_headers_add (SgMilterHeaders *h, const char *name, const char *value,
                            gboolean leading_space);
/* sg_milter_headers_insert - insert before position index, 0 = first; past
 * the end appends (smfi_insheader). */
void sg_milter_headers_insert (SgMilterHeaders *h, guint index, const char *name,
                               const char *value, gboolean leading_space);
/* sg_milter_headers_change - replace the index-th (1-based) field called
 * name, or delete it when value is empty; past the last one, add it as
 * Sendmail does (smfi_chgheader). */
void sg_milter_headers_change (SgMilterHeaders *h, guint index, const char *name,
                               const char *value, gboolean leading_space);
/* sg_milter_headers_changed - whether any edit was made. */
gboolean sg_milter_headers_changed (const SgMilterHeaders *h);
/* sg_milter_headers_bytes - every field in order, then the blank line if the
 * message had one: what goes before the body in the spool. (transfer full) */
GBytes  *sg_milter_headers_bytes (const SgMilterHeaders *h);

G_END_DECLS
