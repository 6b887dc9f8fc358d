/* test-privilege.c - the privilege drop and spool ownership rules. The
 * switches themselves run in a g_test_trap_subprocess child (they cannot be
 * undone); tests that need root say so and skip without it. The test user
 * is "nobody", which every Debian system has. */
#include "common/privilege.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <gio/gio.h>

#define TEST_USER "nobody"
#define MAX_GROUPS 256

static gboolean
need_root (void)
{
  if (geteuid () == 0)
    return TRUE;
  g_test_skip ("needs root: switching users and chown");
  return FALSE;
}

static const struct passwd *
test_user (void)
{
  const struct passwd *pw = getpwnam (TEST_USER);
  g_assert_nonnull (pw);
  return pw;
}

static void
rm_rf (const char *path)
{
  g_autofree char *quoted = g_shell_quote (path);
  g_autofree char *cmd = g_strdup_printf ("rm -rf %s", quoted);
  g_assert_true (g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL));
}

static void
test_no_user (void)
{
  g_autoptr(GError) error = NULL;
  if (geteuid () == 0)
    g_test_expect_message ("spoolgate", G_LOG_LEVEL_WARNING, "running as root*");
  g_assert_true (sg_privilege_drop (NULL, &error));
  g_assert_no_error (error);
  g_test_assert_expected_messages ();
}

/* Table: values of [server] user refused whoever we are. */
static void
test_refused_users (void)
{
  const struct { const char *user; gint code; const char *says; } cases[] = {
    { "sg-no-such-user", G_IO_ERROR_NOT_FOUND, "no user \"sg-no-such-user\"" },
    { "root", G_IO_ERROR_INVALID_ARGUMENT, "remove the key" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      gboolean ok = sg_privilege_drop (cases[i].user, &error);
      if (ok || !g_error_matches (error, G_IO_ERROR, cases[i].code)
          || !strstr (error->message, cases[i].says))
        g_test_fail_printf ("user = %s: got %s, want error %d saying \"%s\"", cases[i].user,
                            ok ? "success" : error->message, cases[i].code, cases[i].says);
    }
}

/* As root: the drop leaves no way back, and no root group. */
static void
test_drop (void)
{
  if (!need_root ())
    return;
  if (g_test_subprocess ())
    {
      const struct passwd *pw = test_user ();
      uid_t uid = pw->pw_uid;
      gid_t gid = pw->pw_gid;
      g_autoptr(GError) error = NULL;
      g_assert_true (sg_privilege_drop (TEST_USER, &error));
      g_assert_no_error (error);
      uid_t ru, eu, su;
      gid_t rg, eg, sg;
      g_assert_cmpint (getresuid (&ru, &eu, &su), ==, 0);
      g_assert_cmpint (getresgid (&rg, &eg, &sg), ==, 0);
      g_assert_cmpuint (ru, ==, uid);
      g_assert_cmpuint (eu, ==, uid);
      g_assert_cmpuint (su, ==, uid);
      g_assert_cmpuint (rg, ==, gid);
      g_assert_cmpuint (eg, ==, gid);
      g_assert_cmpuint (sg, ==, gid);
      g_assert_cmpint (setuid (0), ==, -1);
      g_assert_cmpint (seteuid (0), ==, -1);
      g_assert_cmpint (setgid (0), ==, -1);
      g_assert_cmpint (setgroups (0, NULL), ==, -1);
      gid_t groups[MAX_GROUPS];
      int n = getgroups (MAX_GROUPS, groups);
      g_assert_cmpint (n, >=, 0);
      for (int i = 0; i < n; i++)
        g_assert_cmpuint (groups[i], !=, 0);
      /* once dropped, asking again for the same user is fine */
      g_assert_true (sg_privilege_drop (TEST_USER, &error));
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*running as user " TEST_USER "*");
}

/* Not root and another user asked for: refused, naming both. */
static void
test_not_root_other_user (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;
      if (geteuid () == 0)
        g_assert_true (sg_privilege_drop (TEST_USER, &error));
      g_assert_false (sg_privilege_drop ("daemon", &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
      g_assert_nonnull (strstr (error->message, "[server] user = daemon"));
      g_assert_nonnull (strstr (error->message, "cannot switch"));
      return;
    }
  if (getpwnam ("daemon") == NULL || getuid () == getpwnam ("daemon")->pw_uid)
    {
      g_test_skip ("needs a user \"daemon\" we are not");
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

static void
test_check_owner (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("sg-priv-XXXXXX", NULL);
  g_autofree char *queue = g_build_filename (dir, "queue", NULL);
  g_autofree char *file = g_build_filename (queue, "MSG.json", NULL);
  g_autofree char *missing = g_build_filename (dir, "missing", NULL);
  g_assert_cmpint (g_mkdir (queue, 0700), ==, 0);
  g_assert_true (g_file_set_contents (file, "{}", -1, NULL));
  g_assert_true (sg_privilege_check_owner (dir, "me", &error));
  g_assert_true (sg_privilege_check_owner (missing, "me", &error));
  g_assert_no_error (error);
  if (geteuid () == 0)
    {
      /* one file two levels down that is not ours is found and named */
      g_assert_cmpint (chown (file, test_user ()->pw_uid, (gid_t) -1), ==, 0);
      g_assert_false (sg_privilege_check_owner (dir, "me", &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
      g_assert_nonnull (strstr (error->message, file));
      g_autofree char *fix = g_strdup_printf ("chown -R me: %s", dir);
      g_assert_nonnull (strstr (error->message, fix));
    }
  rm_rf (dir);
}

static void
test_prepare_dir (void)
{
  if (!need_root ())
    return;
  g_autoptr(GError) error = NULL;
  g_autofree char *top = g_dir_make_tmp ("sg-priv-XXXXXX", NULL);
  g_autofree char *spool = g_build_filename (top, "var", "lib", "spool", NULL);
  g_autofree char *parent = g_path_get_dirname (spool);
  g_test_expect_message ("spoolgate", G_LOG_LEVEL_MESSAGE, "created *");
  g_assert_true (sg_privilege_prepare_dir (spool, TEST_USER, &error));
  g_assert_no_error (error);
  g_test_assert_expected_messages ();
  struct stat st;
  g_assert_cmpint (g_stat (spool, &st), ==, 0);
  g_assert_cmpuint (st.st_uid, ==, test_user ()->pw_uid);
  g_assert_cmpuint (st.st_gid, ==, test_user ()->pw_gid);
  g_assert_cmpuint (st.st_mode & 0777, ==, 0750);
  g_assert_cmpint (g_stat (parent, &st), ==, 0);
  g_assert_cmpuint (st.st_uid, ==, 0);
  g_assert_cmpuint (st.st_mode & 0777, ==, 0755);
  /* an existing directory is left as it is */
  g_assert_cmpint (chown (spool, 0, 0), ==, 0);
  g_assert_true (sg_privilege_prepare_dir (spool, TEST_USER, &error));
  g_assert_cmpint (g_stat (spool, &st), ==, 0);
  g_assert_cmpuint (st.st_uid, ==, 0);
  rm_rf (top);
}

/* An admin command as root on the daemon's spool acts as its owner. */
static void
test_become_owner (void)
{
  if (!need_root ())
    return;
  g_autofree char *dir = g_dir_make_tmp ("sg-priv-XXXXXX", NULL);
  g_assert_cmpint (chown (dir, test_user ()->pw_uid, test_user ()->pw_gid), ==, 0);
  if (g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;
      g_assert_true (sg_privilege_become_owner (dir, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (geteuid (), ==, test_user ()->pw_uid);
      g_assert_cmpuint (getegid (), ==, test_user ()->pw_gid);
      g_assert_cmpint (setuid (0), ==, -1);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
  rm_rf (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/common/privilege/no-user", test_no_user);
  g_test_add_func ("/common/privilege/refused-users", test_refused_users);
  g_test_add_func ("/common/privilege/drop", test_drop);
  g_test_add_func ("/common/privilege/not-root-other-user", test_not_root_other_user);
  g_test_add_func ("/common/privilege/check-owner", test_check_owner);
  g_test_add_func ("/common/privilege/prepare-dir", test_prepare_dir);
  g_test_add_func ("/common/privilege/become-owner", test_become_owner);
  return g_test_run ();
}
