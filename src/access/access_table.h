/* access_table.h - a lookup table read from a text file, as Postfix's
 * hash: tables are: [access] recipient_maps (one address or @domain a line)
 * and sender_access / recipient_access (access(5): "pattern action [text]").
 * The whole file is read once and indexed in place (keys and values stay in
 * the file's own buffer); a bad line is an error naming file and line. What
 * a lookup means for a session is rcpt_policy.c's business. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

#define SG_ACCESS_ERROR (sg_access_error_quark ())
GQuark sg_access_error_quark (void);
typedef enum { SG_ACCESS_ERROR_FILE, SG_ACCESS_ERROR_SYNTAX } SgAccessError;

typedef enum {
  SG_TABLE_RECIPIENTS,  /* "user@domain" or "@domain", an optional second field ignored */
  SG_TABLE_ACCESS,      /* access(5): "pattern ACTION [text]" */
} SgTableKind;

/* An access(5) action. */
typedef enum {
  SG_ACCESS_NONE,    /* no key matched */
  SG_ACCESS_OK,
  SG_ACCESS_REJECT,  /* 554 5.7.1 */
  SG_ACCESS_DEFER,   /* 450 4.7.1 */
  SG_ACCESS_HOLD,    /* accept; the message is queued held */
} SgAccessAction;

typedef struct _SgAccessTable SgAccessTable;

/* sg_access_table_load - read and index path (transfer full); NULL with
 * "PATH:LINE: why" on a malformed line, or "PATH: why" if unreadable. */
SgAccessTable *sg_access_table_load (const char *path, SgTableKind kind, GError **error);
void           sg_access_table_free (SgAccessTable *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgAccessTable, sg_access_table_free)

/* sg_access_table_size - how many keys it holds. */
guint          sg_access_table_size (const SgAccessTable *t);
/* sg_access_table_path - the file it was read from. */
const char    *sg_access_table_path (const SgAccessTable *t);

/* sg_access_table_has_recipient - a recipients table lists address itself
 * or its "@domain" (case-insensitive). */
gboolean       sg_access_table_has_recipient (const SgAccessTable *t, const char *address);

/* sg_access_table_check - an access table's action for address, looked up
 * as access(5) does: "user@domain", then "domain" and each parent domain,
 * then "user@"; *text (nullable out) gets the action's text, borrowed from
 * the table, or NULL. The null sender <> is looked up as "<>". */
SgAccessAction sg_access_table_check (const SgAccessTable *t, const char *address,
                                      const char **text);

G_END_DECLS
