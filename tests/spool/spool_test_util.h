/* spool_test_util.h - helpers shared by the spool tests: scratch directories
 * (real ones, never a mocked file system), sample metadata, directory
 * listings and the JSON Schema check through tests/tools/validate_schema.py. */
#pragma once
#include <glib.h>
#include "spool/spool.h"
#include "spool/queue_id.h"

G_BEGIN_DECLS

/* sg_test_tmpdir - a fresh empty directory under $TMPDIR (transfer full). */
char      *sg_test_tmpdir (void);
/* sg_test_spool_new - a spool opened in a fresh directory, which *dir
 * receives (transfer full both). */
SgSpool   *sg_test_spool_new (char **dir);
/* sg_test_spool_use_syncfs - set method on a spool in a temporary
 * directory, expecting the warning that it is not a file system of its own. */
void       sg_test_spool_use_syncfs (SgSpool *spool, SgSpoolSyncMethod method);
/* sg_test_mount_tmpfs - a fresh directory with a tmpfs mounted on it with
 * options (transfer full); NULL, with the test skipped, where mounting
 * needs a root and CAP_SYS_ADMIN we do not have. */
char      *sg_test_mount_tmpfs (const char *options);
/* sg_test_unmount_tmpfs - detach the tmpfs at mnt and remove mnt. */
void       sg_test_unmount_tmpfs (const char *mnt);
/* sg_test_rmtree - remove path and everything below it. */
void       sg_test_rmtree (const char *path);
/* sg_test_sample_meta - a fully filled metadata record with a fresh ID. */
SgMeta    *sg_test_sample_meta (void);
/* sg_test_list - sorted names in dir (ending in suffix if non-NULL) (transfer full). */
GPtrArray *sg_test_list (const char *dir, const char *suffix);
/* sg_test_count - how many names in dir end in suffix (NULL = all). */
guint      sg_test_count (const char *dir, const char *suffix);
/* sg_test_validate - run the schema validator on files; its exit status. */
int        sg_test_validate (const char *const *files, char **errors);

G_END_DECLS
