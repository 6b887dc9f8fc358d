/* test-access.c - who may do what to the spool, as mailq and postsuper
 * divide it: the real `spoolgate serve` started as root drops to an owner
 * user and creates its spool; a member of the owner's group lists it
 * (`queue`, `show`, `rejected`) without root, but `hold` and `delete` are
 * refused naming root; a user outside the group reads nothing; root changes
 * it. The users are made here with useradd (the package's group spoolgate
 * plays the owner's group); everything skips without root. */
#include "admin_util.h"

#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

#define OWNER    "sgtest-owner"
#define READER   "sgtest-reader"   /* in group OWNER */
#define OUTSIDER "sgtest-other"    /* in no group of ours */
#define TRAVERSE_ONLY 0711         /* the test root: users may pass, not list */
#define SERVICE_UMASK 0027         /* the unit's UMask= */

/* ensure_user - create name (with its own group, and in group extra when
 * given) unless it exists; TRUE if it was created here. */
static gboolean
ensure_user (const char *name, const char *extra)
{
  if (getpwnam (name) != NULL)
    return FALSE;
  const char *argv[] = { "useradd", "--system", "--user-group", "--no-create-home",
                         "--shell", "/usr/sbin/nologin", extra ? "--groups" : name,
                         extra ? extra : NULL, extra ? name : NULL, NULL };
  g_autofree char *err = NULL;
  if (sg_test_run (argv, NULL, &err) != 0)
    g_error ("useradd %s: %s", name, err);
  return TRUE;
}

/* remove_user - userdel name (and its group), leaving the machine as found. */
static void
remove_user (const char *name)
{
  const char *argv[] = { "userdel", name, NULL };
  g_autofree char *err = NULL;
  if (sg_test_run (argv, NULL, &err) != 0)
    g_test_message ("userdel %s: %s", name, err);
}

/* become - child setup: the user with all its groups, as login would. */
static void
become (gpointer data)
{
  const char *name = data;
  const struct passwd *pw = getpwnam (name);
  if (pw == NULL || initgroups (name, pw->pw_gid) != 0 || setgid (pw->pw_gid) != 0
      || setuid (pw->pw_uid) != 0)
    _exit (126);
}

/* run_as - `spoolgate ARGS...` as user; exit status, stdout and stderr. */
static int
run_as (const char *user, const char *const *args, char **out, char **err)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) sg_test_spoolgate ());
  for (guint i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                                               | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_set_child_setup (l, become, (gpointer) user, NULL);
  g_autoptr(GSubprocess) p = g_subprocess_launcher_spawnv (l, (const char *const *) argv->pdata,
                                                          &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (p, NULL, NULL, out, err, &error);
  g_assert_no_error (error);
  return g_subprocess_get_if_exited (p) ? g_subprocess_get_exit_status (p) : -1;
}

/* clear - drop the last command's output. */
static void
clear (char **out, char **err)
{
  g_clear_pointer (out, g_free);
  g_clear_pointer (err, g_free);
}

static void
test_group_reads_root_changes (void)
{
  if (geteuid () != 0)
    {
      g_test_skip ("needs root: creates users and starts the server as root");
      return;
    }
  /* the reader first leaves the owner's group, then the owner goes */
  gboolean made_owner = ensure_user (OWNER, NULL);
  gboolean made_reader = ensure_user (READER, OWNER);
  gboolean made_outsider = ensure_user (OUTSIDER, NULL);

  SgTestServer s;
  sg_test_server_init (&s, "[server]\nuser = " OWNER "\n");
  g_assert_cmpint (g_chmod (s.dir, TRAVERSE_ONLY), ==, 0);
  g_assert_cmpint (g_chmod (s.config, 0644), ==, 0);
  sg_test_server_restart (&s);
  g_assert_true (sg_test_wait_log (&s, "running as user " OWNER, 1, 5000));
  g_autofree char *id = send_one (&s, NULL);

  /* the spool as the daemon made it: owner writes, group reads, others nothing */
  struct stat st;
  g_autofree char *queue = g_build_filename (s.spool, "queue", NULL);
  g_autofree char *eml = eml_path (&s, id);
  g_assert_cmpint (stat (s.spool, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 0777, ==, 0750);
  g_assert_cmpint (stat (queue, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 0777, ==, 0750);
  g_assert_cmpint (stat (eml, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 0777, ==, 0640);

  /* a member of the group lists and shows, without root */
  const char *list[] = { "queue", "--spool", s.spool, NULL };
  const char *show[] = { "show", "--spool", s.spool, id, NULL };
  const char *rejected[] = { "rejected", "--spool", s.spool, NULL };
  g_autofree char *out = NULL, *err = NULL;
  if (run_as (READER, list, &out, &err) != 0 || !strstr (out, id))
    g_test_fail_printf ("queue as " READER ": %s%s", out, err);
  clear (&out, &err);
  if (run_as (READER, show, &out, &err) != 0 || !strstr (out, "Subject: admin test"))
    g_test_fail_printf ("show as " READER ": %s%s", out, err);
  clear (&out, &err);
  if (run_as (READER, rejected, &out, &err) != 0)
    g_test_fail_printf ("rejected as " READER ": %s%s", out, err);
  clear (&out, &err);

  /* ...but changes nothing: refused naming root, the message untouched */
  g_autofree char *before = json_of (&s, id);
  const char *hold[] = { "hold", "--spool", s.spool, id, NULL };
  const char *del[] = { "delete", "--spool", s.spool, id, NULL };
  g_assert_cmpint (run_as (READER, hold, &out, &err), ==, 1);
  if (!strstr (err, "needs root"))
    g_test_fail_printf ("hold as " READER " does not say it needs root: %s", err);
  clear (&out, &err);
  g_assert_cmpint (run_as (READER, del, &out, &err), ==, 1);
  clear (&out, &err);
  g_autofree char *after = json_of (&s, id);
  g_assert_cmpstr (before, ==, after);

  /* outside the group: nothing to read */
  g_assert_cmpint (run_as (OUTSIDER, list, &out, &err), ==, 1);
  if (!strstr (err, "Permission denied"))
    g_test_fail_printf ("queue as " OUTSIDER ": %s", err);
  clear (&out, &err);

  /* root changes it (as the owner), and the group can still read the result */
  g_assert_cmpint (sg (&s, &out, &err, "hold", id, NULL), ==, 0);
  clear (&out, &err);
  if (run_as (READER, show, &out, &err) != 0 || !strstr (out, "held"))
    g_test_fail_printf ("show as " READER " after hold: %s%s", out, err);

  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  sg_test_server_free (&s);
  if (made_reader)
    remove_user (READER);
  if (made_outsider)
    remove_user (OUTSIDER);
  if (made_owner)
    remove_user (OWNER);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  umask (SERVICE_UMASK);   /* the server inherits it, as under the unit */
  g_test_add_func ("/access/group/reads-root-changes", test_group_reads_root_changes);
  return g_test_run ();
}
