/* test-privilege.c - the real `spoolgate serve` started as root with
 * [server] user: it binds, then runs as that user for good (read back from
 * /proc/PID/status), accepts mail into a spool the user owns, and reloads;
 * a spool owned by someone else stops start-up with the chown that fixes
 * it; an admin command run as root leaves the daemon's files the daemon's.
 * The user is "nobody". Everything that needs root skips without it. */
#include "harness.h"

#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

#define TEST_USER   "nobody"
#define CONFIG_USER "[server]\nuser = " TEST_USER "\n"
#define TRAVERSE_ONLY 0711   /* the test root: the user may pass, not list */
#define READABLE      0644

static const char *const BODY =
  "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\n"
  "From: a@example.com\r\n"
  "To: b@example.org\r\n"
  "Message-ID: <privilege@example.com>\r\n"
  "Subject: dropped\r\n"
  "\r\n"
  "body\r\n";

static gboolean
need_root (void)
{
  if (geteuid () == 0)
    return TRUE;
  g_test_skip ("needs root: starts the server as root to watch it drop to " TEST_USER);
  return FALSE;
}

static const struct passwd *
test_user (void)
{
  const struct passwd *pw = getpwnam (TEST_USER);
  g_assert_nonnull (pw);
  return pw;
}

/* open_to_user - let the user reach the spool below the test root and read
 * the configuration again on SIGHUP. */
static void
open_to_user (SgTestServer *s)
{
  g_assert_cmpint (g_chmod (s->dir, TRAVERSE_ONLY), ==, 0);
  if (s->config)
    g_assert_cmpint (g_chmod (s->config, READABLE), ==, 0);
}

/* status_ids - the four ids (real, effective, saved, filesystem) of a
 * "Uid:" or "Gid:" line of /proc/PID/status. */
static void
status_ids (const char *status, const char *key, guint ids[4])
{
  g_autofree char *needle = g_strdup_printf ("\n%s\t", key);
  const char *p = strstr (status, needle);
  g_assert_nonnull (p);
  p += strlen (needle);
  for (int i = 0; i < 4; i++)
    {
      char *end = NULL;
      ids[i] = (guint) g_ascii_strtoull (p, &end, 10);
      g_assert_true (end != p);
      p = end;
    }
}

/* status_line - the value of one line of /proc/PID/status (transfer full). */
static char *
status_line (const char *status, const char *key)
{
  g_autofree char *needle = g_strdup_printf ("\n%s\t", key);
  const char *p = strstr (status, needle);
  g_assert_nonnull (p);
  p += strlen (needle);
  return g_strndup (p, strcspn (p, "\n"));
}

static void
assert_owned_by_user (const char *path)
{
  struct stat st;
  g_assert_cmpint (lstat (path, &st), ==, 0);
  if (st.st_uid != test_user ()->pw_uid)
    g_test_fail_printf ("%s: owner uid %u, want %u (" TEST_USER ")", path,
                        (guint) st.st_uid, (guint) test_user ()->pw_uid);
}

static void
test_drop_and_serve (void)
{
  if (!need_root ())
    return;
  SgTestServer s;
  sg_test_server_init (&s, CONFIG_USER);
  open_to_user (&s);
  sg_test_server_restart (&s);
  g_assert_true (sg_test_wait_log (&s, "running as user " TEST_USER, 1, 5000));

  /* the process: every uid and gid the user's, no capabilities, no root group */
  g_autofree char *path = g_strdup_printf ("/proc/%s/status", g_subprocess_get_identifier (s.proc));
  g_autofree char *status = NULL;
  g_assert_true (g_file_get_contents (path, &status, NULL, NULL));
  guint uids[4], gids[4];
  status_ids (status, "Uid:", uids);
  status_ids (status, "Gid:", gids);
  for (int i = 0; i < 4; i++)
    {
      g_assert_cmpuint (uids[i], ==, test_user ()->pw_uid);
      g_assert_cmpuint (gids[i], ==, test_user ()->pw_gid);
    }
  g_autofree char *groups = status_line (status, "Groups:");
  g_auto(GStrv) group_ids = g_strsplit (g_strstrip (groups), " ", -1);
  for (guint i = 0; group_ids[i]; i++)
    g_assert_cmpstr (group_ids[i], !=, "0");
  g_autofree char *cap_eff = status_line (status, "CapEff:");
  g_autofree char *cap_prm = status_line (status, "CapPrm:");
  g_assert_cmpstr (cap_eff, ==, "0000000000000000");
  g_assert_cmpstr (cap_prm, ==, "0000000000000000");

  /* mail is accepted, and everything in the spool is the user's */
  const char *rcpts[] = { "b@example.org", NULL };
  g_autofree char *id = sg_test_send (s.port, "a@example.com", rcpts, BODY, -1);
  g_assert_nonnull (id);
  assert_owned_by_user (s.spool);
  g_autoptr(GPtrArray) files = sg_test_spool_files (&s);
  g_assert_cmpuint (files->len, ==, 2);
  for (guint i = 0; i < files->len; i++)
    {
      g_autofree char *f = g_build_filename (s.spool, "queue", g_ptr_array_index (files, i), NULL);
      assert_owned_by_user (f);
    }

  /* SIGHUP reads the file again, now as the user */
  g_subprocess_send_signal (s.proc, SIGHUP);
  g_assert_true (sg_test_wait_log (&s, "reloaded configuration", 1, 5000));

  /* an admin command run as root rewrites metadata as the spool's owner */
  const char *hold[] = { sg_test_spoolgate (), "hold", "--spool", s.spool, id, NULL };
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (sg_test_run (hold, &out, &err), ==, 0);
  g_autofree char *name = g_strconcat (id, ".json", NULL);
  g_autofree char *json = g_build_filename (s.spool, "queue", name, NULL);
  assert_owned_by_user (json);

  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  sg_test_server_free (&s);
}

/* A spool left by a root daemon: start-up stops and says how to fix it. */
static void
test_spool_owned_by_root (void)
{
  if (!need_root ())
    return;
  SgTestServer s;
  sg_test_server_init (&s, CONFIG_USER);
  open_to_user (&s);
  g_autofree char *queue = g_build_filename (s.spool, "queue", NULL);
  g_assert_cmpint (g_mkdir_with_parents (queue, 0700), ==, 0);
  g_autofree char *listen = g_strdup_printf ("127.0.0.1:%u", s.port);
  const char *argv[] = { sg_test_spoolgate (), "serve", "--listen", listen, "--spool", s.spool,
                         "--config", s.config, NULL };
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (sg_test_run (argv, &out, &err), ==, 1);
  g_autofree char *fix = g_strdup_printf ("chown -R " TEST_USER ": %s", s.spool);
  if (!strstr (err, fix) || !strstr (err, "belongs to root"))
    g_test_fail_printf ("stderr does not name the owner and \"%s\":\n%s", fix, err);
  sg_test_server_free (&s);
}

/* Root without [server] user still serves (the README quick start), with a warning. */
static void
test_root_without_user (void)
{
  if (!need_root ())
    return;
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  g_assert_true (sg_test_wait_log (&s, "warning: running as root", 1, 5000));
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  sg_test_server_free (&s);
}

/* become_user - child setup: run as the test user, as if started by it. */
static void
become_user (gpointer data)
{
  const struct passwd *pw = data;
  if (setgroups (0, NULL) != 0 || setgid (pw->pw_gid) != 0 || setuid (pw->pw_uid) != 0)
    _exit (126);
}

/* run_as_user - argv as the test user; exit status, stderr into *err. */
static int
run_as_user (const char *const *argv, char **err)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_PIPE
                                                               | G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_subprocess_launcher_set_child_setup (l, become_user, (gpointer) test_user (), NULL);
  g_autoptr(GSubprocess) p = g_subprocess_launcher_spawnv (l, argv, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (p, NULL, NULL, NULL, err, &error);
  g_assert_no_error (error);
  return g_subprocess_get_if_exited (p) ? g_subprocess_get_exit_status (p) : -1;
}

/* Not root: [server] user must be who we already are. */
static void
test_not_root_other_user (void)
{
  if (!need_root ())
    return;
  SgTestServer s;
  sg_test_server_init (&s, "[server]\nuser = daemon\n");
  open_to_user (&s);
  g_autofree char *listen = g_strdup_printf ("127.0.0.1:%u", s.port);
  const char *argv[] = { sg_test_spoolgate (), "serve", "--listen", listen, "--spool", s.spool,
                         "--config", s.config, NULL };
  g_autofree char *err = NULL;
  g_assert_cmpint (run_as_user (argv, &err), ==, 1);
  if (!strstr (err, "[server] user = daemon, but spoolgate runs as " TEST_USER))
    g_test_fail_printf ("stderr does not explain the refusal:\n%s", err);
  sg_test_server_free (&s);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/privilege/serve/drop-and-serve", test_drop_and_serve);
  g_test_add_func ("/privilege/serve/spool-owned-by-root", test_spool_owned_by_root);
  g_test_add_func ("/privilege/serve/root-without-user", test_root_without_user);
  g_test_add_func ("/privilege/serve/not-root-other-user", test_not_root_other_user);
  return g_test_run ();
}
