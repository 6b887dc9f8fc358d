/* test-spool-pool.c - retiring delivered messages and recycling their files
 * (spool_pool.c), on a real spool directory: the files really are reused
 * (same inodes), nothing of an older message survives in a reused file,
 * the pool's bound holds, and readers never take a recycled file for the
 * message that was retired. */
#include "spool_test_util.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *
commit_body (SgSpool *spool, const char *body)
{
  g_autoptr(SgMeta) meta = sg_test_sample_meta ();
  g_autoptr(GBytes) h = g_bytes_new_static ("Received: x\r\n", 13);
  g_autoptr(GBytes) b = g_bytes_new (body, strlen (body));
  g_autoptr(GError) error = NULL;
  g_assert_true (sg_spool_commit (spool, meta, h, b, &error));
  g_assert_no_error (error);
  return g_strdup (meta->queue_id);
}

static ino_t
inode_of (const char *dir, const char *id, const char *suffix)
{
  g_autofree char *name = g_strconcat (id, suffix, NULL);
  g_autofree char *path = g_build_filename (dir, "queue", name, NULL);
  struct stat st;
  g_assert_cmpint (stat (path, &st), ==, 0);
  return st.st_ino;
}

static void
test_retire_and_reuse (void)
{
  g_autofree char *dir = sg_test_tmpdir ();
  g_autoptr(GError) error = NULL;
  SgSpool *spool = sg_spool_open (dir, &error);
  g_assert_no_error (error);
  g_autofree char *tmp = g_build_filename (dir, "tmp", NULL);
  g_autofree char *queue = g_build_filename (dir, "queue", NULL);

  /* a long message, so a shorter one in its file would show a stale tail */
  GString *longer = g_string_new ("Date: x\r\n\r\n");
  for (int i = 0; i < 2000; i++)
    g_string_append (longer, "stale line of the retired message\r\n");
  g_autofree char *old = commit_body (spool, longer->str);
  g_string_free (longer, TRUE);
  ino_t old_eml = inode_of (dir, old, ".eml"), old_json = inode_of (dir, old, ".json");

  g_assert_true (sg_spool_retire (spool, old, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (sg_test_count (queue, NULL), ==, 0);
  g_assert_cmpuint (sg_test_count (tmp, NULL), ==, 2);
  g_assert_cmpuint (sg_spool_pool_size (spool), ==, 2);
  /* retired means gone, for every kind of reader */
  g_assert_null (sg_spool_load_meta (spool, old, &error));
  g_assert_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_cmpint (sg_spool_lock_message (spool, old, FALSE, &error), ==, -1);
  g_assert_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (sg_spool_retire (spool, old, &error));
  g_assert_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* the next message takes both files back, truncated */
  g_autofree char *next = commit_body (spool, "Date: y\r\n\r\nshort\r\n");
  g_assert_cmpuint (sg_spool_pool_size (spool), ==, 0);
  g_assert_cmpuint (sg_test_count (tmp, NULL), ==, 0);
  ino_t reused[] = { inode_of (dir, next, ".eml"), inode_of (dir, next, ".json") };
  for (guint i = 0; i < G_N_ELEMENTS (reused); i++)
    g_assert_true (reused[i] == old_eml || reused[i] == old_json);
  g_assert_true (reused[0] != reused[1]);
  g_autofree char *eml_name = g_strconcat (next, ".eml", NULL);
  g_autofree char *eml_path = g_build_filename (queue, eml_name, NULL);
  g_autofree char *content = NULL;
  g_assert_true (g_file_get_contents (eml_path, &content, NULL, NULL));
  g_assert_cmpstr (content, ==, "Received: x\r\nDate: y\r\n\r\nshort\r\n");
  g_autoptr(SgMeta) meta = sg_spool_load_meta (spool, next, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (meta->queue_id, ==, next);
  g_assert_cmpuint (meta->message_size, ==, strlen (content));

  /* after a restart the pool is empty and tmp/ purged */
  g_assert_true (sg_spool_retire (spool, next, &error));
  sg_spool_free (spool);
  spool = sg_spool_open (dir, &error);
  g_assert_no_error (error);
  SgSpoolRecovery report = { 0 };
  g_assert_true (sg_spool_recover (spool, &report, &error));
  g_assert_cmpuint (sg_test_count (tmp, NULL), ==, 0);
  g_assert_cmpuint (sg_spool_pool_size (spool), ==, 0);
  sg_spool_free (spool);
  sg_test_rmtree (dir);
}

static void
test_pool_bounds (void)
{
  g_autofree char *dir = sg_test_tmpdir ();
  g_autoptr(GError) error = NULL;
  SgSpool *spool = sg_spool_open (dir, &error);
  g_autofree char *tmp = g_build_filename (dir, "tmp", NULL);

  /* at most recycle_files files are kept; the rest are unlinked */
  sg_spool_set_recycling (spool, 3);
  g_autofree char *a = commit_body (spool, "Date: a\r\n\r\na\r\n");
  g_autofree char *b = commit_body (spool, "Date: b\r\n\r\nb\r\n");
  g_assert_true (sg_spool_retire (spool, a, &error));
  g_assert_true (sg_spool_retire (spool, b, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (sg_spool_pool_size (spool), ==, 3);
  g_assert_cmpuint (sg_test_count (tmp, NULL), ==, 3);

  /* lowering the bound shrinks the pool; 0 turns recycling off */
  sg_spool_set_recycling (spool, 0);
  g_assert_cmpuint (sg_spool_pool_size (spool), ==, 0);
  g_assert_cmpuint (sg_test_count (tmp, NULL), ==, 0);
  g_autofree char *c = commit_body (spool, "Date: c\r\n\r\nc\r\n");
  g_assert_true (sg_spool_retire (spool, c, &error));
  g_assert_cmpuint (sg_test_count (tmp, NULL), ==, 0);

  /* files above the size cap are never kept */
  sg_spool_set_recycling (spool, 100);
  char *big = g_malloc (2 * 1024 * 1024 + 1);
  memset (big, 'x', 2 * 1024 * 1024);
  big[2 * 1024 * 1024] = '\0';
  memcpy (big, "Date: d\r\n\r\n", 11);
  g_autofree char *d = commit_body (spool, big);
  g_free (big);
  g_assert_true (sg_spool_retire (spool, d, &error));
  g_assert_cmpuint (sg_spool_pool_size (spool), ==, 1);   /* the .json only */
  sg_spool_free (spool);
  sg_test_rmtree (dir);
}

static void
test_reader_holds_retire_off (void)
{
  g_autofree char *dir = sg_test_tmpdir ();
  g_autoptr(GError) error = NULL;
  SgSpool *spool = sg_spool_open (dir, &error);
  g_autofree char *id = commit_body (spool, "Date: a\r\n\r\na\r\n");

  /* a reader's shared lock keeps the deliverer's exclusive lock out, and so
   * the retire that would recycle the file under the reader */
  int reader = sg_spool_open_message (spool, id, &error);
  g_assert_no_error (error);
  g_assert_cmpint (reader, >=, 0);
  g_assert_cmpint (sg_spool_lock_message (spool, id, FALSE, &error), ==, -1);
  g_assert_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_BUSY);
  g_clear_error (&error);
  int second = sg_spool_open_message (spool, id, &error);   /* readers share */
  g_assert_no_error (error);
  sg_spool_unlock_message (second);
  sg_spool_unlock_message (reader);

  int lock = sg_spool_lock_message (spool, id, FALSE, &error);
  g_assert_no_error (error);
  g_assert_true (sg_spool_retire (spool, id, &error));
  sg_spool_unlock_message (lock);
  g_assert_cmpint (sg_spool_open_message (spool, id, &error), ==, -1);
  g_assert_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND);
  sg_spool_free (spool);
  sg_test_rmtree (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/spool/pool/retire-and-reuse", test_retire_and_reuse);
  g_test_add_func ("/spool/pool/bounds", test_pool_bounds);
  g_test_add_func ("/spool/pool/reader-holds-retire-off", test_reader_holds_retire_off);
  return g_test_run ();
}
