/* test-spool-admin.c - listing, the admin open and the per-message lock,
 * on a real spool directory. */
#include "spool_test_util.h"

#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

static char *
commit_one (SgSpool *spool)
{
  g_autoptr(SgMeta) meta = sg_test_sample_meta ();
  g_autoptr(GBytes) h = g_bytes_new_static ("Received: x\r\n", 13);
  g_autoptr(GBytes) b = g_bytes_new_static ("Date: x\r\n\r\nbody\r\n", 18);
  g_autoptr(GError) error = NULL;
  g_assert_true (sg_spool_commit (spool, meta, h, b, &error));
  g_assert_no_error (error);
  return g_strdup (meta->queue_id);
}

static void
test_list_and_admin_open (void)
{
  g_autofree char *dir = sg_test_tmpdir ();
  g_autoptr(GError) error = NULL;
  g_autofree char *missing = g_build_filename (dir, "nope", NULL);
  g_assert_null (sg_spool_open_admin (missing, &error));
  g_assert_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND);
  g_clear_error (&error);

  SgSpool *daemon = sg_spool_open (dir, &error);
  g_assert_no_error (error);
  g_autofree char *a = commit_one (daemon);
  g_autofree char *b = commit_one (daemon);
  /* an admin open works beside the daemon, which holds the daemon lock */
  SgSpool *admin = sg_spool_open_admin (dir, &error);
  g_assert_no_error (error);
  g_autoptr(GPtrArray) ids = sg_spool_list (admin, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ids->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (ids, 0), ==, a);  /* arrival order */
  g_assert_cmpstr (g_ptr_array_index (ids, 1), ==, b);
  /* a lone .eml (unfinished write) is not listed */
  g_autofree char *lone = g_build_filename (dir, "queue", "1K0000000000000AAAAA.eml", NULL);
  g_assert_true (g_file_set_contents (lone, "x", 1, NULL));
  g_autoptr(GPtrArray) ids2 = sg_spool_list (admin, &error);
  g_assert_cmpuint (ids2->len, ==, 2);
  sg_spool_free (admin);
  sg_spool_free (daemon);
  sg_test_rmtree (dir);
}

static void
test_message_lock (void)
{
  g_autofree char *dir = sg_test_tmpdir ();
  g_autoptr(GError) error = NULL;
  SgSpool *spool = sg_spool_open (dir, &error);
  g_autofree char *id = commit_one (spool);

  int fd = sg_spool_lock_message (spool, id, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpint (fd, >=, 0);
  /* a second holder in this process (another open file) is refused */
  g_assert_cmpint (sg_spool_lock_message (spool, id, FALSE, &error), ==, -1);
  g_assert_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_BUSY);
  g_clear_error (&error);
  /* and so is another process */
  pid_t pid = fork ();
  if (pid == 0)
    {
      SgSpool *other = sg_spool_open_admin (dir, NULL);
      GError *e = NULL;
      int r = sg_spool_lock_message (other, id, FALSE, &e);
      _exit (r == -1 && g_error_matches (e, SG_SPOOL_ERROR, SG_SPOOL_ERROR_BUSY) ? 0 : 1);
    }
  int status;
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  sg_spool_unlock_message (fd);
  fd = sg_spool_lock_message (spool, id, FALSE, &error);
  g_assert_no_error (error);
  /* removing a message while holding its lock; the next locker sees it gone */
  g_assert_true (sg_spool_remove (spool, id, &error));
  sg_spool_unlock_message (fd);
  g_assert_cmpint (sg_spool_lock_message (spool, id, TRUE, &error), ==, -1);
  g_assert_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_cmpint (sg_spool_lock_message (spool, "../../etc/passwd", TRUE, &error), ==, -1);
  g_assert_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND);
  sg_spool_free (spool);
  sg_test_rmtree (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/spool/admin/list", test_list_and_admin_open);
  g_test_add_func ("/spool/admin/message-lock", test_message_lock);
  return g_test_run ();
}
