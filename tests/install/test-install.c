/* test-install.c - `meson install --destdir` of this build puts every file
 * where the documentation says: the executable, the manual pages, the
 * example and live configuration, the systemd unit (hardened, and accepted
 * by systemd-analyze) and the sysusers.d snippet; and a reinstall keeps an
 * edited configuration. Paths come from meson in SG_INSTALL_* variables. */
#include <string.h>
#include <sys/wait.h>
#include <glib.h>
#include <glib/gstdio.h>

/* Worst acceptable `systemd-analyze security` exposure (0 best, 10 worst). */
#define MAX_EXPOSURE 2.0

/* What the installed unit must say, line for line. */
static const char *const unit_lines[] = {
  "Type=notify",
  "ExecReload=/bin/kill -HUP $MAINPID",
  "User=spoolgate",
  "Group=spoolgate",
  "StateDirectory=spoolgate",
  "NoNewPrivileges=yes",
  "ProtectSystem=strict",
  "PrivateTmp=yes",
  "ProtectHome=yes",
  "AmbientCapabilities=CAP_NET_BIND_SERVICE",
  "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
  "ProtectKernelTunables=yes",
  "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
  "SystemCallFilter=@system-service",
  "LimitNOFILE=65536",
};

static const char *
env (const char *name)
{
  const char *v = g_getenv (name);
  if (!v)
    g_error ("%s is not set; run this test through `meson test`", name);
  return v;
}

static void
rm_rf (const char *path)
{
  const char *argv[] = { "rm", "-rf", path, NULL };
  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL, NULL);
}

/* run - argv to completion; exit status, output in *out and *err (nullable). */
static int
run (const char *const *argv, const char *const *envp, char **out, char **err)
{
  g_autoptr(GError) error = NULL;
  int status = 0;
  g_spawn_sync (NULL, (char **) argv, (char **) envp, G_SPAWN_SEARCH_PATH, NULL, NULL,
                out, err, &status, &error);
  g_assert_no_error (error);
  return g_spawn_check_wait_status (status, NULL) ? 0 : (WIFEXITED (status) ? WEXITSTATUS (status) : 128);
}

/* install_into - `meson install` of the build tree into a new destdir (transfer full). */
static char *
install_into (void)
{
  char *dest = g_dir_make_tmp ("sg-install-XXXXXX", NULL);
  g_assert_nonnull (dest);
  const char *argv[] = { env ("SG_MESON"), "install", "-C", env ("SG_BUILD_ROOT"), "--destdir", dest,
                         "--no-rebuild", "--quiet", NULL };
  g_autofree char *out = NULL, *err = NULL;
  if (run (argv, NULL, &out, &err) != 0)
    g_error ("meson install failed:\n%s%s", out, err);
  return dest;
}

/* staged - where an installed absolute path lands under dest (transfer full). */
static char *
staged (const char *dest, const char *path, const char *name)
{
  return g_build_filename (dest, path, name, NULL);
}

static char *
read_text (const char *path)
{
  g_autoptr(GError) error = NULL;
  char *text = NULL;
  g_file_get_contents (path, &text, NULL, &error);
  g_assert_no_error (error);
  return text;
}

static char *
source_conf (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "..", "conf", "spoolgate.conf", NULL);
  return read_text (path);
}

static gboolean
has_line (const char *text, const char *line)
{
  g_autofree char *needle = g_strconcat ("\n", line, "\n", NULL);
  return strstr (text, needle) != NULL;
}

static void
test_layout (void)
{
  g_autofree char *dest = install_into ();
  const char *mandir = env ("SG_INSTALL_MANDIR");

  g_autofree char *exe = staged (dest, env ("SG_INSTALL_SBINDIR"), "spoolgate");
  g_assert_true (g_file_test (exe, G_FILE_TEST_IS_REGULAR));
  g_assert_true (g_file_test (exe, G_FILE_TEST_IS_EXECUTABLE));
  const char *version[] = { exe, "version", NULL };
  g_autofree char *out = NULL;
  g_assert_cmpint (run (version, NULL, &out, NULL), ==, 0);
  g_assert_true (g_str_has_prefix (out, "spoolgate "));

  const char *pages[] = { "man8/spoolgate.8", "man8/spoolgate-serve.8", "man8/spoolgate-queue.8",
                          "man5/spoolgate.conf.5" };
  for (guint i = 0; i < G_N_ELEMENTS (pages); i++)
    {
      g_autofree char *page = staged (dest, mandir, pages[i]);
      if (!g_file_test (page, G_FILE_TEST_IS_REGULAR))
        g_test_fail_printf ("%s is not installed", pages[i]);
    }

  /* the annotated example, as documentation and as the live file */
  g_autofree char *want = source_conf ();
  g_autofree char *example = staged (dest, env ("SG_INSTALL_DOCDIR"), "spoolgate.conf.example");
  g_autofree char *live = staged (dest, env ("SG_INSTALL_CONF"), NULL);
  g_autofree char *example_text = read_text (example);
  g_autofree char *live_text = read_text (live);
  g_assert_cmpstr (example_text, ==, want);
  g_assert_cmpstr (live_text, ==, want);

  const char *unitdir = env ("SG_INSTALL_UNITDIR");
  if (strcmp (unitdir, "no") != 0)
    {
      g_autofree char *unit = staged (dest, unitdir, "spoolgate.service");
      g_autofree char *text = read_text (unit);
      for (guint i = 0; i < G_N_ELEMENTS (unit_lines); i++)
        if (!has_line (text, unit_lines[i]))
          g_test_fail_printf ("spoolgate.service lacks the line %s", unit_lines[i]);
      g_autofree char *exec = g_strdup_printf ("ExecStart=%s/spoolgate serve --config %s ",
                                               env ("SG_INSTALL_SBINDIR"), env ("SG_INSTALL_CONF"));
      if (!strstr (text, exec))
        g_test_fail_printf ("spoolgate.service does not start \"%s...\"", exec);
    }
  const char *sysusersdir = env ("SG_INSTALL_SYSUSERSDIR");
  if (strcmp (sysusersdir, "no") != 0)
    {
      g_autofree char *snippet = staged (dest, sysusersdir, "spoolgate.conf");
      g_autofree char *text = read_text (snippet);
      g_assert_nonnull (strstr (text, "\nu spoolgate - "));
    }
  rm_rf (dest);
}

/* An administrator's edits survive a reinstall; the example is refreshed. */
static void
test_reinstall_keeps_conf (void)
{
  g_autofree char *dest = install_into ();
  g_autofree char *live = staged (dest, env ("SG_INSTALL_CONF"), NULL);
  const char *edited = "[server]\nlisten = 0.0.0.0:25\n";
  g_assert_true (g_file_set_contents (live, edited, -1, NULL));
  const char *argv[] = { env ("SG_MESON"), "install", "-C", env ("SG_BUILD_ROOT"), "--destdir", dest,
                         "--no-rebuild", "--quiet", NULL };
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (run (argv, NULL, &out, &err), ==, 0);
  g_autofree char *after = read_text (live);
  g_assert_cmpstr (after, ==, edited);
  rm_rf (dest);
}

/* systemd-analyze accepts the unit, and its sandbox stays tight. The unit
 * names the final path of the executable, which is not installed on this
 * machine: a copy pointing at the staged one is checked instead. */
static void
test_unit_verifies (void)
{
  const char *unitdir = env ("SG_INSTALL_UNITDIR");
  g_autofree char *analyze = g_find_program_in_path ("systemd-analyze");
  if (strcmp (unitdir, "no") == 0 || !analyze)
    {
      g_test_skip (analyze ? "the unit is not installed (-Dsystemdsystemunitdir=no)"
                           : "systemd-analyze is not installed");
      return;
    }
  g_autofree char *dest = install_into ();
  g_autofree char *unit = staged (dest, unitdir, "spoolgate.service");
  g_autofree char *text = read_text (unit);
  g_autofree char *final_exe = g_build_filename (env ("SG_INSTALL_SBINDIR"), "spoolgate", NULL);
  g_autofree char *staged_exe = staged (dest, env ("SG_INSTALL_SBINDIR"), "spoolgate");
  g_auto(GStrv) parts = g_strsplit (text, final_exe, -1);
  g_autofree char *copy_text = g_strjoinv (staged_exe, parts);
  g_autofree char *check_dir = g_build_filename (dest, "verify", NULL);
  g_autofree char *copy = g_build_filename (check_dir, "spoolgate.service", NULL);
  g_assert_cmpint (g_mkdir (check_dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (copy, copy_text, -1, NULL));

  /* Documentation=man:... is looked up with man(1): point it at the staged pages. */
  g_autofree char *manpath = g_build_filename (dest, env ("SG_INSTALL_MANDIR"), NULL);
  g_auto(GStrv) envp = g_environ_setenv (g_get_environ (), "MANPATH", manpath, TRUE);
  const char *verify[] = { analyze, "verify", copy, NULL };
  g_autofree char *out = NULL, *err = NULL;
  int rc = run (verify, (const char *const *) envp, &out, &err);
  if (rc != 0 || *err)
    g_test_fail_printf ("systemd-analyze verify (exit %d):\n%s%s", rc, out, err);

  const char *security[] = { analyze, "security", "--offline=true", copy, NULL };
  g_autofree char *sout = NULL, *serr = NULL;
  rc = run (security, (const char *const *) envp, &sout, &serr);
  const char *overall = strstr (sout, "Overall exposure level for spoolgate.service: ");
  if (!overall)
    g_test_message ("systemd-analyze security --offline gave no score (exit %d): %s", rc, serr);
  else
    {
      double exposure = g_ascii_strtod (overall + strlen ("Overall exposure level for spoolgate.service: "), NULL);
      g_test_message ("systemd-analyze security: exposure %.1f", exposure);
      g_assert_cmpfloat (exposure, <=, MAX_EXPOSURE);
    }
  rm_rf (dest);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/install/layout", test_layout);
  g_test_add_func ("/install/reinstall-keeps-conf", test_reinstall_keeps_conf);
  g_test_add_func ("/install/unit-verifies", test_unit_verifies);
  return g_test_run ();
}
