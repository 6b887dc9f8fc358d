/* test-release.c - issue 21: `spoolgate release` of a refused message and
 * `spoolgate requeue` of a failed one deliver it exactly once, whatever
 * runs at the same time and wherever the command or the daemon dies. The
 * real daemon relays to tests/tools/smarthost.py (aiosmtpd), which stores
 * every message it accepts; deliveries are counted there, not in our logs.
 * Crash points come from strace(1) fault injection: the command is killed
 * (SIGKILL) at the n-th call of each system call that changes a file, for
 * every n until it runs to its end without meeting one. */
#include "admin_util.h"

#include <signal.h>
#include <string.h>

#define STRACE      "/usr/bin/strace"
#define WAIT_MS     30000
#define PAIRS       40
#define REQUEUE_PAIRS 20

/* The system calls that change files or locks: a crash can only fall
 * between two of them as far as the disk is concerned. */
static const char *const MUTATING[] = {
  "write", "fsync", "fdatasync", "rename", "renameat", "renameat2", "unlink", "unlinkat",
  "link", "linkat", "flock", NULL
};

typedef RelayFixture Fixture;

/* fixture_start - retries one second apart. */
static void
fixture_start (Fixture *f, const char *const *replies)
{
  relay_start (f, "min_backoff = 1\nmax_backoff = 1\nscan_interval = 2\n", replies);
}

/* start_cmd - `spoolgate CMD --spool SPOOL ID` in the background, quiet. */
static GSubprocess *
start_cmd (Fixture *f, const char *cmd, const char *id)
{
  g_autoptr(GError) error = NULL;
  GSubprocess *p = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE
                                     | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error,
                                     sg_test_spoolgate (), cmd, "--spool", f->s.spool, id, NULL);
  g_assert_no_error (error);
  return p;
}

/* run_pair - two `spoolgate CMD ID` at once; wait for both. */
static void
run_pair (Fixture *f, const char *cmd, const char *id)
{
  GSubprocess *a = start_cmd (f, cmd, id);
  GSubprocess *b = start_cmd (f, cmd, id);
  g_subprocess_wait (a, NULL, NULL);
  g_subprocess_wait (b, NULL, NULL);
  g_object_unref (a);
  g_object_unref (b);
}

/* run_killed - `spoolgate CMD --spool SPOOL ID` under strace, killed by
 * SIGKILL at the n-th call of syscall; its exit status, KILLED if that
 * happened, KILLED + 1 + the signal for any other signal. LeakSanitizer
 * cannot run under ptrace, so an ASan build's leak check is off here. */
#define KILLED 128
static int
run_killed (Fixture *f, const char *syscall, guint n, const char *cmd, const char *id)
{
  g_autofree char *trace = g_strdup_printf ("trace=%s", syscall);
  g_autofree char *inject = g_strdup_printf ("inject=%s:signal=SIGKILL:when=%u", syscall, n);
  const char *argv[] = { STRACE, "-f", "-qq", "-o", "/dev/null", "-e", trace, "-e", inject,
                         sg_test_spoolgate (), cmd, "--spool", f->s.spool, id, NULL };
  g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE
                                                                | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  const char *asan = g_getenv ("ASAN_OPTIONS");
  g_autofree char *no_leaks = g_strdup_printf ("%s%sdetect_leaks=0", asan ? asan : "",
                                               asan && *asan ? ":" : "");
  g_subprocess_launcher_setenv (l, "ASAN_OPTIONS", no_leaks, TRUE);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) p = g_subprocess_launcher_spawnv (l, argv, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_wait (p, NULL, &error));
  if (g_subprocess_get_if_exited (p))
    return g_subprocess_get_exit_status (p);
  int sig = g_subprocess_get_term_sig (p);
  return sig == SIGKILL ? KILLED : KILLED + 1 + sig;
}

/* needle_of - what identifies message n of tag at the smarthost (transfer full). */
static char *
needle_of (const char *tag, guint n)
{
  return g_strdup_printf ("Message-ID: <%s-%04u@example.com>", tag, n);
}

/* leftovers - names in rejected/ that start with id. */
static guint
leftovers (Fixture *f, const char *id)
{
  g_autofree char *dir = g_build_filename (f->s.spool, "rejected", NULL);
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  guint n = 0;
  for (const char *name; d && (name = g_dir_read_name (d)); )
    n += g_str_has_prefix (name, id);
  return n;
}

/* ---- release ---- */

/* Two releases of each of 40 refused messages at once: each is delivered
 * once (5 of 40 were delivered twice on 5973853). */
static void
test_release_concurrent (void)
{
  Fixture f;
  fixture_start (&f, NULL);
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  for (guint n = 0; n < PAIRS; n++)
    {
      g_autofree char *body = refusable ("pair", n);
      g_ptr_array_add (ids, refuse (&f.s, body));
    }
  for (guint n = 0; n < PAIRS; n++)
    run_pair (&f, "release", g_ptr_array_index (ids, n));
  g_assert_true (wait_queue_empty (&f.s, WAIT_MS));
  guint twice = 0, missing = 0;
  for (guint n = 0; n < PAIRS; n++)
    {
      g_autofree char *needle = needle_of ("pair", n);
      guint c = originals (f.out, needle);
      twice += c > 1;
      missing += c == 0;
    }
  g_test_message ("two concurrent releases of each of %u refused messages: %u delivered "
                  "more than once, %u not delivered", PAIRS, twice, missing);
  g_assert_cmpuint (twice, ==, 0);
  g_assert_cmpuint (missing, ==, 0);
  g_autoptr(GPtrArray) kept = kept_ids (&f.s);
  g_assert_cmpuint (kept->len, ==, 0);
  relay_stop (&f);
}

/* check_once - after a crash of the first release: whatever it left, what
 * follows must deliver the message exactly once: the queue drains, a
 * second release finishes the job if needed, a third finds nothing to
 * release, and rejected/ keeps nothing of it. Anything else is noted in
 * wrong (as " where:what"); returns the deliveries seen. */
static guint
check_once (Fixture *f, const char *id, const char *needle, const char *where, GString *wrong)
{
  g_assert_true (wait_queue_empty (&f->s, WAIT_MS));
  sg (&f->s, NULL, NULL, "release", id, NULL);
  g_assert_true (wait_queue_empty (&f->s, WAIT_MS));
  if (sg (&f->s, NULL, NULL, "release", id, NULL) == 0)
    g_string_append_printf (wrong, " %s:released-a-third-time", where);
  g_assert_true (wait_queue_empty (&f->s, WAIT_MS));
  if (leftovers (f, id) != 0)
    g_string_append_printf (wrong, " %s:%u-files-left-in-rejected", where, leftovers (f, id));
  guint got = originals (f->out, needle);
  if (got != 1)
    g_string_append_printf (wrong, " %s:delivered-%u-times", where, got);
  return got;
}

/* release_crashes - for each MUTATING system call and every n, a fresh
 * refused message whose release is killed at that call's n-th invocation;
 * with restart, the daemon is killed and restarted after it (its recovery
 * sees what the crash left). Each must end delivered exactly once. */
static void
release_crashes (gboolean restart)
{
  if (!g_file_test (STRACE, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("strace is not installed");
      return;
    }
  Fixture f;
  fixture_start (&f, NULL);
  g_autoptr(GString) wrong = g_string_new (NULL);
  guint k = 0, points = 0, twice = 0;
  for (guint i = 0; MUTATING[i]; i++)
    for (guint n = 1;; n++)
      {
        const char *tag = restart ? "crash-restart" : "crash";
        g_autofree char *body = refusable (tag, ++k);
        g_autofree char *needle = needle_of (tag, k);
        g_autofree char *id = refuse (&f.s, body);
        int status = run_killed (&f, MUTATING[i], n, "release", id);
        if (status != 0 && status != KILLED)
          g_error ("release killed at %s#%u: status %d", MUTATING[i], n, status);
        g_assert_cmpuint (n, <, 1000);
        if (restart)
          {
            /* Not while a delivery is in flight: a daemon killed between the
             * smarthost's 250 and its own record delivers again after the
             * restart (the runner's at-least-once window, worker.c), which
             * is not what this tests. */
            g_assert_true (wait_queue_empty (&f.s, WAIT_MS));
            sg_test_server_kill (&f.s);
            sg_test_server_restart (&f.s);
          }
        g_autofree char *where = g_strdup_printf ("%s#%u", MUTATING[i], n);
        twice += check_once (&f, id, needle, where, wrong) > 1;
        if (status == 0)
          break;
        points++;
      }
  g_test_message ("release killed at %u crash points%s: delivered twice after %u; "
                  "wrong:%s", points, restart ? " with a daemon restart after each" : "", twice,
                  wrong->len ? wrong->str : " none");
  g_assert_cmpuint (points, >, 5);
  g_assert_cmpstr (wrong->str, ==, "");
  relay_stop (&f);
}

static void
test_release_crash (void)
{
  release_crashes (FALSE);
}

static void
test_release_crash_restart (void)
{
  release_crashes (TRUE);
}

/* The reproduction in issue 21: a release killed at its first unlinkat
 * (after its commit, on 5973853), then released again. */
static void
test_release_strace_repro (void)
{
  if (!g_file_test (STRACE, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("strace is not installed");
      return;
    }
  Fixture f;
  fixture_start (&f, NULL);
  g_autofree char *body = refusable ("repro", 1);
  g_autofree char *needle = needle_of ("repro", 1);
  g_autofree char *id = refuse (&f.s, body);
  g_autoptr(GString) wrong = g_string_new (NULL);
  g_assert_cmpint (run_killed (&f, "unlinkat", 1, "release", id), ==, KILLED);
  guint got = check_once (&f, id, needle, "unlinkat#1", wrong);
  g_test_message ("release killed at its first unlinkat, then released again: delivered %u "
                  "time(s)%s", got, wrong->str);
  g_assert_cmpuint (got, ==, 1);
  g_assert_cmpstr (wrong->str, ==, "");
  relay_stop (&f);
}

/* ---- requeue ---- */

/* failed_message - a message to rcpt that the smarthost refuses once (550,
 * then 250): it fails and its bounce goes to alice. Its ID (transfer full). */
static char *
failed_message (Fixture *f, const char *tag, guint n, const char *rcpt)
{
  g_autofree char *body = g_strdup_printf ("Date: Sat, 21 Nov 2026 10:00:00 +0000\r\n"
                                           "From: Alice <alice@example.com>\r\n"
                                           "To: %s\r\n"
                                           "Subject: %s %04u\r\n"
                                           "Message-ID: <%s-%04u@example.com>\r\n"
                                           "\r\n"
                                           "Hello.\r\n", rcpt, tag, n, tag, n);
  char *id = sg_test_send (f->s.port, "alice@example.com", (const char *const[]) { rcpt, NULL },
                           body, -1);
  g_assert_nonnull (id);
  g_assert_true (wait_state (&f->s, id, SG_MSG_FAILED, WAIT_MS));
  return id;
}

/* requeue_fixture - the smarthost refuses the first attempt for each of
 * count addresses rcpt-<tag>-<n>@example.org, then takes them. */
static void
requeue_fixture (Fixture *f, const char *tag, guint count)
{
  g_autoptr(GPtrArray) replies = g_ptr_array_new_with_free_func (g_free);
  for (guint n = 0; n < count; n++)
    g_ptr_array_add (replies, g_strdup_printf ("rcpt-%s-%u@example.org=550,250", tag, n));
  g_ptr_array_add (replies, NULL);
  fixture_start (f, (const char *const *) replies->pdata);
}

/* Two requeues of each failed message at once: delivered once, and the
 * sender had one non-delivery report for it, not more. */
static void
test_requeue_concurrent (void)
{
  Fixture f;
  requeue_fixture (&f, "pair", REQUEUE_PAIRS);
  guint twice = 0, missing = 0, bounces = 0;
  for (guint n = 0; n < REQUEUE_PAIRS; n++)
    {
      g_autofree char *rcpt = g_strdup_printf ("rcpt-pair-%u@example.org", n);
      g_autofree char *id = failed_message (&f, "rq-pair", n, rcpt);
      run_pair (&f, "requeue", id);
    }
  g_assert_true (wait_queue_empty (&f.s, WAIT_MS));
  for (guint n = 0; n < REQUEUE_PAIRS; n++)
    {
      g_autofree char *needle = needle_of ("rq-pair", n);
      guint c = originals (f.out, needle);
      twice += c > 1;
      missing += c == 0;
      bounces += reports (f.out, needle, "failed");
    }
  g_test_message ("two concurrent requeues of each of %u failed messages: %u delivered more "
                  "than once, %u not delivered, %u non-delivery reports", REQUEUE_PAIRS, twice,
                  missing, bounces);
  g_assert_cmpuint (twice, ==, 0);
  g_assert_cmpuint (missing, ==, 0);
  g_assert_cmpuint (bounces, ==, REQUEUE_PAIRS);
  relay_stop (&f);
}

/* requeue killed at every crash point: the message stays failed (requeue
 * it again) or is queued, never both, and is delivered once. */
static void
test_requeue_crash (void)
{
  if (!g_file_test (STRACE, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("strace is not installed");
      return;
    }
  Fixture f;
  requeue_fixture (&f, "crash", 64);
  g_autoptr(GString) wrong = g_string_new (NULL);
  guint k = 0, points = 0;
  for (guint i = 0; MUTATING[i]; i++)
    for (guint n = 1;; n++)
      {
        g_assert_cmpuint (k, <, 64);
        g_autofree char *rcpt = g_strdup_printf ("rcpt-crash-%u@example.org", k);
        g_autofree char *id = failed_message (&f, "rq-crash", k, rcpt);
        g_autofree char *needle = needle_of ("rq-crash", k++);
        int status = run_killed (&f, MUTATING[i], n, "requeue", id);
        if (status != 0 && status != KILLED)
          g_error ("requeue killed at %s#%u: status %d", MUTATING[i], n, status);
        g_autoptr(SgMeta) meta = meta_of (&f.s, id);
        if (meta != NULL && meta->state == SG_MSG_FAILED)
          g_assert_cmpint (sg (&f.s, NULL, NULL, "requeue", id, NULL), ==, 0);
        g_assert_true (wait_queue_empty (&f.s, WAIT_MS));
        guint got = originals (f.out, needle);
        if (got != 1)
          g_string_append_printf (wrong, " %s#%u:%u", MUTATING[i], n, got);
        if (status == 0)
          break;
        points++;
      }
  g_test_message ("requeue killed at %u crash points: delivered other than once at%s", points,
                  wrong->len ? wrong->str : " none");
  g_assert_cmpstr (wrong->str, ==, "");
  relay_stop (&f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/release/concurrent", test_release_concurrent);
  g_test_add_func ("/release/strace-repro", test_release_strace_repro);
  g_test_add_func ("/release/crash-each-step", test_release_crash);
  g_test_add_func ("/release/crash-each-step-restart", test_release_crash_restart);
  g_test_add_func ("/requeue/concurrent", test_requeue_concurrent);
  g_test_add_func ("/requeue/crash-each-step", test_requeue_crash);
  return g_test_run ();
}
