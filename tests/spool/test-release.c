/* test-release.c - src/spool/spool_release.c: releasing a refused message
 * is exactly once wherever it dies (issue 21). A child process runs the
 * release, or the start-up resolution, and _exit()s at one numbered step
 * of the protocol (spool_private.h: SgReleaseStep), leaving the files as a
 * crash there would; the parent then plays the queue runner (a message in
 * queue/ is "delivered" and removed), the daemon's recovery, a second
 * release, or the daemon dropping the copy for room, and counts deliveries. */
#include "spool/spool_rejected.h"
#include "spool/spool_private.h"
#include "spool_test_util.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char BODY[] = "Received: from x\r\nFrom: a@example.com\r\nSubject: x\r\n\r\nhello\r\n";

typedef struct {
  char  *dir;
  char   id[SG_QUEUE_ID_LEN + 1];
  guint  delivered;
} Fixture;

static SgReleaseStep crash_at;

/* crash - the step hook of a child: die at crash_at, as a crash would. */
static void
crash (SgReleaseStep step)
{
  if (step == crash_at)
    _exit (0);
}

/* keep_one - a refused copy in rejected/ (store opened as the daemon does). */
static void
keep_one (Fixture *f, guint64 budget, char *id_out)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SgRejected) store = sg_rejected_open (f->dir, budget, &error);
  g_assert_no_error (error);
  g_autoptr(SgRejectedMeta) m = g_new0 (SgRejectedMeta, 1);
  m->envelope = sg_test_sample_meta ();
  m->rejected_time_us = g_get_real_time ();
  m->rule = g_strdup ("header.date.missing");
  m->reply = g_strdup ("550 5.6.0 no Date");
  g_autoptr(GBytes) body = g_bytes_new_static (BODY, sizeof BODY - 1);
  g_usleep (2);   /* a sleep: distinct arrival order, as IDs encode microseconds */
  g_assert_true (sg_rejected_keep (store, m, NULL, body, &error));
  g_assert_no_error (error);
  g_strlcpy (id_out, m->envelope->queue_id, SG_QUEUE_ID_LEN + 1);
}

static void
setup (Fixture *f, gconstpointer data)
{
  f->dir = sg_test_tmpdir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(SgSpool) spool = sg_spool_open (f->dir, &error);   /* the layout */
  g_assert_no_error (error);
  keep_one (f, 1 << 20, f->id);
  f->delivered = 0;
}

static void
teardown (Fixture *f, gconstpointer data)
{
  sg_test_rmtree (f->dir);
  g_free (f->dir);
}

/* release - `spoolgate release ID`; TRUE if it queued the message. */
static gboolean
release (Fixture *f, GError **error)
{
  g_autoptr(SgSpool) spool = sg_spool_open_admin (f->dir, error);
  g_autoptr(SgRejected) store = spool ? sg_rejected_open_admin (f->dir, error) : NULL;
  g_autoptr(SgMeta) meta = store ? sg_rejected_release (store, spool, f->id, error) : NULL;
  if (meta != NULL)
    {
      g_assert_cmpint (meta->state, ==, SG_MSG_QUEUED);
      g_assert_cmpint (meta->lifetime_start, >, 0);
    }
  return meta != NULL;
}

/* recover - the daemon's start-up resolution of releases cut short. */
static void
recover (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SgSpool) spool = sg_spool_open_admin (f->dir, &error);
  g_assert_no_error (error);
  sg_spool_recover_releases (spool);
}

/* in_child - run release (or, with resolve, the recovery) in a child that
 * dies at step; TRUE if it did reach that step. */
static gboolean
in_child (Fixture *f, SgReleaseStep step, gboolean resolve)
{
  pid_t pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      crash_at = step;
      sg_release_set_step_hook (crash);
      if (resolve)
        recover (f);
      else
        release (f, NULL);
      _exit (1);
    }
  int status = 0;
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  return WEXITSTATUS (status) == 0;
}

/* deliver - the queue runner: a queued message is delivered and removed. */
static void
deliver (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SgSpool) spool = sg_spool_open_admin (f->dir, &error);
  g_autoptr(SgMeta) meta = sg_spool_load_meta (spool, f->id, NULL);
  if (meta == NULL)
    return;
  g_assert_cmpuint (meta->message_size, ==, sizeof BODY - 1);
  f->delivered++;
  g_assert_true (sg_spool_remove (spool, f->id, &error));
  g_assert_no_error (error);
}

/* finish - deliver, release again, deliver; then nothing is left to
 * release and nothing of the message is left in rejected/ or queue/. */
static void
finish (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  deliver (f);
  release (f, NULL);
  deliver (f);
  g_assert_false (release (f, &error));
  g_assert_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND);
  g_autofree char *rejected = g_build_filename (f->dir, SG_REJECTED_DIR, NULL);
  g_autofree char *queue = g_build_filename (f->dir, "queue", NULL);
  g_autoptr(GPtrArray) left = sg_test_list (rejected, NULL);
  for (guint i = 0; i < left->len; i++)
    g_assert_false (g_str_has_prefix (g_ptr_array_index (left, i), f->id));
  g_assert_cmpuint (sg_test_count (queue, NULL), ==, 0);
}

/* Each step a release can die at, then the runner and a second release. */
static void
test_crash_then_release (Fixture *f, gconstpointer data)
{
  for (SgReleaseStep s = SG_RELEASE_LOCKED; s <= SG_RELEASE_DONE; s++)
    {
      if (s > SG_RELEASE_LOCKED)
        keep_one (f, 1 << 20, f->id);
      f->delivered = 0;
      g_assert_true (in_child (f, s, FALSE));
      finish (f);
      if (f->delivered != 1)
        g_error ("died at step %d: delivered %u times", s, f->delivered);
    }
}

/* The same with the daemon's recovery between the crash and the rest. */
static void
test_crash_then_recover (Fixture *f, gconstpointer data)
{
  for (SgReleaseStep s = SG_RELEASE_LOCKED; s <= SG_RELEASE_DONE; s++)
    {
      if (s > SG_RELEASE_LOCKED)
        keep_one (f, 1 << 20, f->id);
      f->delivered = 0;
      g_assert_true (in_child (f, s, FALSE));
      deliver (f);
      recover (f);
      /* decided before the crash: recovery queued it; else still refused */
      g_autoptr(GError) error = NULL;
      g_autoptr(SgSpool) spool = sg_spool_open_admin (f->dir, &error);
      g_autoptr(SgMeta) found = sg_spool_load_meta (spool, f->id, NULL);
      gboolean queued = found != NULL;
      if (s >= SG_RELEASE_DECIDED && s < SG_RELEASE_PUBLISHED)
        g_assert_true (queued);
      finish (f);
      if (f->delivered != 1)
        g_error ("died at step %d, then recovery: delivered %u times", s, f->delivered);
    }
}

/* A release dies at each step; the recovery dies at each of its own steps;
 * a second recovery and a release follow. */
static void
test_crash_in_recovery (Fixture *f, gconstpointer data)
{
  guint points = 0;
  for (SgReleaseStep s = SG_RELEASE_LOCKED; s <= SG_RELEASE_DONE; s++)
    for (SgReleaseStep t = SG_RELEASE_LOCKED; t < SG_RELEASE_STEPS; t++)
      {
        keep_one (f, 1 << 20, f->id);
        f->delivered = 0;
        g_assert_true (in_child (f, s, FALSE));
        points += in_child (f, t, TRUE);
        recover (f);
        finish (f);
        if (f->delivered != 1)
          g_error ("release died at step %d, recovery at %d: delivered %u times", s, t,
                   f->delivered);
      }
  g_test_message ("%u crash points inside recovery", points);
  g_assert_cmpuint (points, >, 10);
}

/* A release dies at each step, and the daemon then drops the copy for room
 * (keep_rejected full; it takes no lock): never queued twice, and queued
 * once if the release had written its intent. */
static void
test_crash_then_drop (Fixture *f, gconstpointer data)
{
  g_autofree char *rejected = g_build_filename (f->dir, SG_REJECTED_DIR, NULL);
  guint64 copy_size = 0;
  g_autoptr(GPtrArray) names = sg_test_list (rejected, NULL);
  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *p = g_build_filename (rejected, g_ptr_array_index (names, i), NULL);
      GStatBuf st;
      g_assert_cmpint (g_stat (p, &st), ==, 0);
      copy_size += st.st_size;
    }
  for (SgReleaseStep s = SG_RELEASE_LOCKED; s <= SG_RELEASE_DONE; s++)
    {
      if (s > SG_RELEASE_LOCKED)
        keep_one (f, 1 << 20, f->id);
      f->delivered = 0;
      g_assert_true (in_child (f, s, FALSE));
      /* a budget of one copy and a half: keeping another drops the oldest, ours */
      char other[SG_QUEUE_ID_LEN + 1];
      keep_one (f, copy_size * 3 / 2, other);
      deliver (f);
      release (f, NULL);
      recover (f);
      deliver (f);
      g_assert_cmpuint (f->delivered, <=, 1);
      if (s >= SG_RELEASE_INTENT_WRITTEN)
        g_assert_cmpuint (f->delivered, ==, 1);
      /* clean slate for the next round */
      g_autoptr(GError) error = NULL;
      g_autoptr(SgSpool) spool = sg_spool_open_admin (f->dir, &error);
      g_autoptr(SgRejected) store = sg_rejected_open_admin (f->dir, &error);
      g_autoptr(GPtrArray) ids = sg_rejected_list (store, NULL);
      for (guint i = 0; i < ids->len; i++)
        sg_rejected_remove (store, g_ptr_array_index (ids, i), NULL);
    }
}

/* Two processes release one ID at once while the runner delivers at
 * once: delivered once, every round. */
static void
test_concurrent (Fixture *f, gconstpointer data)
{
  for (guint round = 0; round < 50; round++)
    {
      if (round > 0)
        keep_one (f, 1 << 20, f->id);
      f->delivered = 0;
      pid_t pids[2];
      for (guint i = 0; i < 2; i++)
        if ((pids[i] = fork ()) == 0)
          _exit (release (f, NULL) ? 0 : 1);
      guint ok = 0;
      for (guint i = 0; i < 2; i++)
        {
          int status = 0;
          while (waitpid (pids[i], &status, WNOHANG) == 0)
            deliver (f);
          ok += WIFEXITED (status) && WEXITSTATUS (status) == 0;
        }
      deliver (f);
      g_assert_cmpuint (ok, ==, 1);
      g_assert_cmpuint (f->delivered, ==, 1);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/spool/release/crash-then-release", Fixture, NULL, setup, test_crash_then_release,
              teardown);
  g_test_add ("/spool/release/crash-then-recover", Fixture, NULL, setup, test_crash_then_recover,
              teardown);
  g_test_add ("/spool/release/crash-in-recovery", Fixture, NULL, setup, test_crash_in_recovery,
              teardown);
  g_test_add ("/spool/release/crash-then-drop", Fixture, NULL, setup, test_crash_then_drop,
              teardown);
  g_test_add ("/spool/release/concurrent", Fixture, NULL, setup, test_concurrent, teardown);
  return g_test_run ();
}
