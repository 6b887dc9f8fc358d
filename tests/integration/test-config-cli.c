/* test-config-cli.c - the configuration as the administrator meets it:
 * `spoolgate config check` names every problem of a file and creates
 * nothing; `check --config FILE` alone does the same; `config show [-n]`
 * prints what serve would use; [server] listen with two addresses accepts
 * on both; and a SIGHUP that changes every key logs "takes effect at
 * restart" for exactly the keys the key table does not reload, while a
 * reloaded [milter] servers is used by the next message. */
#include "harness.h"
#include "config/config.h"

#include <signal.h>
#include <unistd.h>
#include <string.h>
#include <glib/gstdio.h>

#define RESTART_NOTE "changed; it takes effect at restart"
#define WAIT_MS 10000

static const char *const MESSAGE =
  "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\n"
  "From: a@example.com\r\n"
  "To: b@example.org\r\n"
  "Message-ID: <config-cli@example.com>\r\n"
  "Subject: config\r\n"
  "\r\n"
  "body\r\n";

/* make_cert - a self-signed certificate and its key in dir, named NAME.crt/.key. */
static void
make_cert (const char *dir, const char *name)
{
  g_autofree char *crt = g_strdup_printf ("%s/%s.crt", dir, name);
  g_autofree char *key = g_strdup_printf ("%s/%s.key", dir, name);
  g_autofree char *cn = g_strdup_printf ("%s.example", name);
  sg_test_make_cert (crt, key, cn, FALSE);
}

/* run - spoolgate with args; exit status, stdout and stderr. */
static int
run (const char *const *args, char **out, char **err)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) sg_test_spoolgate ());
  for (guint i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  return sg_test_run ((const char *const *) argv->pdata, out, err);
}

/* a unix: milter socket path too long for sockaddr_un (108 bytes) */
#define LONG_SOCKET "/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.sock"

static void
test_check_names_each_problem (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sg-cfg-XXXXXX", NULL);
  make_cert (dir, "a");
  make_cert (dir, "b");
  g_autofree char *spool = g_build_filename (dir, "spool", NULL);
  g_autofree char *conf = g_build_filename (dir, "bad.conf", NULL);
  g_autofree char *text = g_strdup_printf (
    "[spool]\ndir = %s\n"
    "[tls]\ncert_file = %s/a.crt\nkey_file = %s/b.key\n"
    "[smarthost]\nhost = 127.0.0.1\nca_file = %s/missing-ca.pem\nusername = u\n"
    "password_file = %s/missing-password\n"
    "[milter]\nservers = unix:relative.sock, unix:%s, inet:127.0.0.1:11332\n",
    spool, dir, dir, dir, dir, LONG_SOCKET);
  g_assert_true (g_file_set_contents (conf, text, -1, NULL));

  static const char *const want[] = {
    "[tls] key_file", "does not match the certificate of [tls] cert_file",
    "[smarthost] ca_file", "missing-ca.pem: cannot read: No such file or directory",
    "[smarthost] password_file", "missing-password: cannot read",
    "unix:relative.sock: unix: needs an absolute path",
    "the socket path is longer than",
    "5 problems",
  };
  const char *check[] = { "config", "check", "--config", conf, NULL };
  const char *alias[] = { "check", "--config", conf, NULL };
  const char *const *variants[] = { check, alias };
  for (guint v = 0; v < G_N_ELEMENTS (variants); v++)
    {
      g_autofree char *out = NULL, *err = NULL;
      g_assert_cmpint (run (variants[v], &out, &err), ==, 1);
      for (guint i = 0; i < G_N_ELEMENTS (want); i++)
        if (!strstr (err, want[i]))
          g_test_fail_printf ("%s %s: stderr lacks \"%s\":\n%s", variants[v][0], variants[v][1],
                              want[i], err);
      g_assert_null (strstr (err, "inet:127.0.0.1:11332"));   /* a good one is not named */
    }
  /* nothing created: no spool, no directories below it */
  g_assert_false (g_file_test (spool, G_FILE_TEST_EXISTS));

  /* the same file, fixed, passes */
  g_autofree char *fixed = g_strdup_printf ("[tls]\ncert_file = %s/a.crt\nkey_file = %s/a.key\n"
                                            "[milter]\nservers = inet:127.0.0.1:11332\n", dir, dir);
  g_assert_true (g_file_set_contents (conf, fixed, -1, NULL));
  g_autofree char *out = NULL, *err = NULL;
  if (run (check, &out, &err) != 0 || !strstr (out, ": OK"))
    g_test_fail_printf ("a good file: %s%s", out, err);

  /* show: every key; -n only those off their default, as a file */
  g_clear_pointer (&out, g_free);
  const char *show[] = { "config", "show", "--config", conf, NULL };
  g_assert_cmpint (run (show, &out, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "[limits]\nmax_message_size = "));
  g_assert_nonnull (strstr (out, "servers = inet:127.0.0.1:11332\n"));
  g_clear_pointer (&out, g_free);
  const char *show_n[] = { "config", "show", "-n", "--config", conf, NULL };
  g_assert_cmpint (run (show_n, &out, NULL), ==, 0);
  g_autofree char *want_n = g_strdup_printf ("[tls]\ncert_file = %s/a.crt\nkey_file = %s/a.key\n\n"
                                             "[milter]\nservers = inet:127.0.0.1:11332\n", dir, dir);
  g_assert_cmpstr (out, ==, want_n);

  /* run by root for a daemon that drops to [server] user: the files are
   * checked as that user, who cannot read root's 0700 directory */
  if (geteuid () == 0)
    {
      g_autofree char *as_nobody = g_strdup_printf ("[server]\nuser = nobody\n%s", fixed);
      g_assert_true (g_file_set_contents (conf, as_nobody, -1, NULL));
      g_assert_cmpint (g_chmod (dir, 0700), ==, 0);
      g_clear_pointer (&out, g_free);
      g_clear_pointer (&err, g_free);
      g_assert_cmpint (run (check, &out, &err), ==, 1);
      if (!strstr (err, "[tls] cert_file") || !strstr (err, "cannot read: Permission denied")
          || !strstr (err, "(files checked as user nobody)"))
        g_test_fail_printf ("as nobody: %s", err);
      /* readable by it: OK, and says as whom */
      g_assert_cmpint (g_chmod (dir, 0755), ==, 0);
      g_autofree char *crt = g_strdup_printf ("%s/a.crt", dir), *key = g_strdup_printf ("%s/a.key", dir);
      g_assert_cmpint (g_chmod (crt, 0644), ==, 0);
      g_assert_cmpint (g_chmod (key, 0644), ==, 0);
      g_clear_pointer (&out, g_free);
      g_clear_pointer (&err, g_free);
      if (run (check, &out, &err) != 0 || !strstr (out, "OK (files checked as user nobody)"))
        g_test_fail_printf ("as nobody, readable: %s%s", out, err);
    }

  const char *rm[] = { "rm", "-rf", dir, NULL };
  sg_test_run (rm, NULL, NULL);
}

/* banner - connect to host:port and read the greeting (transfer full). */
static char *
banner (const char *host, guint16 port)
{
  g_autoptr(GSocketClient) c = g_socket_client_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnection) conn = g_socket_client_connect_to_host (c, host, port, NULL, &error);
  if (!conn)
    return g_strdup (error->message);
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (conn));
  char buf[256] = "";
  gssize n = g_input_stream_read (in, buf, sizeof buf - 1, NULL, NULL);
  return g_strndup (buf, n > 0 ? (gsize) n : 0);
}

static void
test_listen_list (void)
{
  g_autoptr(GInetAddress) v6 = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV6);
  g_autoptr(GSocket) probe = g_socket_new (G_SOCKET_FAMILY_IPV6, G_SOCKET_TYPE_STREAM,
                                           G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GSocketAddress) any6 = g_inet_socket_address_new (v6, 0);
  if (!probe || !g_socket_bind (probe, any6, TRUE, NULL))
    {
      g_test_skip ("no IPv6 loopback");
      return;
    }
  SgTestServer s;
  sg_test_server_init (&s, NULL);
  g_autofree char *listen = g_strdup_printf ("127.0.0.1:%u, [::1]:%u", s.port, s.port);
  const char *argv[] = { sg_test_spoolgate (), "serve", "--listen", listen, "--spool", s.spool, NULL };
  g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE
                                                               | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_autoptr(GError) error = NULL;
  s.proc = g_subprocess_launcher_spawnv (l, argv, &error);
  g_assert_no_error (error);
  g_assert_true (sg_test_wait_port (s.port, WAIT_MS));
  g_autofree char *four = banner ("127.0.0.1", s.port);
  g_autofree char *six = banner ("::1", s.port);
  g_assert_true (g_str_has_prefix (four, "220 "));
  if (!g_str_has_prefix (six, "220 "))
    g_test_fail_printf ("[::1]:%u: %s", s.port, six);
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  sg_test_server_free (&s);
}

/* key_value - a value for key k, different from its default d, that a
 * reload accepts together with all the others (transfer full). */
static char *
key_value (const SgConfigKeyInfo *k, const char *d, const char *dir)
{
  static const struct { const char *id, *value; } fixed[] = {
    { "server.user", "nobody" },
    { "server.proxy_trusted", "10.0.0.1" },
    { "metrics.listen", "127.0.0.1:1" },
    { "access.allowed_networks", "10.0.0.0/8" },
    { "access.accepted_domains", "example.net" },
    { "validation.reject", "header.date.missing" },
    { "validation.accept", "line.bare-lf" },
    { "smarthost.tls", "required" },   /* credentials need TLS */
    { "milter.servers", "inet:127.0.0.1:1" },
  };
  g_autofree char *id = g_strdup_printf ("%s.%s", k->group, k->key);
  for (guint i = 0; i < G_N_ELEMENTS (fixed); i++)
    if (strcmp (id, fixed[i].id) == 0)
      return g_strdup (fixed[i].value);
  if (strcmp (id, "tls.cert_file") == 0)
    return g_strdup_printf ("%s/a.crt", dir);
  if (strcmp (id, "tls.key_file") == 0)
    return g_strdup_printf ("%s/a.key", dir);
  if (strcmp (k->type, "bool") == 0)
    return g_strdup (strcmp (d, "true") == 0 ? "false" : "true");
  if (strcmp (k->type, "enum") == 0)
    return g_strdup (strcmp (k->choices[0], d) == 0 ? k->choices[1] : k->choices[0]);
  if (strcmp (k->type, "uint") == 0 || strcmp (k->type, "size") == 0
      || strcmp (k->type, "duration") == 0)
    return g_strdup_printf ("%" G_GUINT64_FORMAT,
                            g_ascii_strtoull (d, NULL, 10) == k->min ? k->max : k->min);
  if (strcmp (k->type, "list") == 0)
    return g_strdup ("10.0.0.1");
  return g_strdup_printf ("%s/elsewhere", dir);
}

/* wait_reloads - until the log shows n reloads (or a failed one). */
static void
wait_reloads (SgTestServer *s, guint n)
{
  if (!sg_test_wait_log (s, "reloaded configuration", n, WAIT_MS))
    {
      g_autofree char *log = sg_test_server_log (s);
      g_error ("no reload:\n%s", log);
    }
}

/* Every key changed at once: the reload names exactly the table's
 * restart-only keys (those the --listen and --spool flags pin aside). */
static void
test_reload_follows_table (void)
{
  SgTestServer s;
  sg_test_server_start (&s, "");
  make_cert (s.dir, "a");
  g_autoptr(SgConfig) defaults = sg_config_new ();
  g_autoptr(GString) conf = g_string_new (NULL);
  g_autoptr(GPtrArray) restart = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) live = g_ptr_array_new_with_free_func (g_free);
  const char *group = NULL;
  for (guint i = 0; i < sg_config_n_keys (); i++)
    {
      SgConfigKeyInfo k;
      sg_config_key_info (i, &k);
      g_autofree char *id = g_strdup_printf ("[%s] %s", k.group, k.key);
      if (strcmp (id, "[server] listen") == 0 || strcmp (id, "[spool] dir") == 0)
        continue;   /* serve's --listen and --spool win over the file */
      g_autofree char *d = sg_config_key_value (defaults, i);
      g_autofree char *v = key_value (&k, d ? d : "", s.dir);
      if (g_strcmp0 (group, k.group) != 0)
        g_string_append_printf (conf, "[%s]\n", k.group);
      group = k.group;
      g_string_append_printf (conf, "%s = %s\n", k.key, v);
      g_ptr_array_add (k.reloadable ? live : restart, g_steal_pointer (&id));
    }
  g_assert_cmpuint (restart->len, >, 10);
  g_assert_cmpuint (live->len, >, 10);
  g_assert_true (g_file_set_contents (s.config, conf->str, -1, NULL));
  g_subprocess_send_signal (s.proc, SIGHUP);
  wait_reloads (&s, 1);
  g_autofree char *log = sg_test_server_log (&s);
  for (guint i = 0; i < restart->len; i++)
    {
      g_autofree char *line = g_strdup_printf ("reload: %s " RESTART_NOTE, (char *) restart->pdata[i]);
      if (sg_test_count (log, line) != 1)
        g_test_fail_printf ("restart-only %s: \"%s\" logged %u times", (char *) restart->pdata[i],
                            line, sg_test_count (log, line));
    }
  for (guint i = 0; i < live->len; i++)
    {
      g_autofree char *line = g_strdup_printf ("reload: %s " RESTART_NOTE, (char *) live->pdata[i]);
      if (strstr (log, line))
        g_test_fail_printf ("reloadable %s, but the log says \"%s\"", (char *) live->pdata[i], line);
    }
  g_assert_cmpuint (sg_test_count (log, RESTART_NOTE), ==, restart->len);
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  sg_test_server_free (&s);
}

/* The milter keys are reloadable, and they are: after SIGHUP the next
 * message goes to the new (unreachable) milter and gets default_action. */
static void
test_reload_milter_applies (void)
{
  SgTestServer s;
  sg_test_server_start (&s, "");
  const char *rcpts[] = { "b@example.org", NULL };
  g_autofree char *id = sg_test_send (s.port, "a@example.com", rcpts, MESSAGE, -1);
  g_assert_nonnull (id);
  guint16 closed = sg_test_free_port ();
  g_autofree char *conf = g_strdup_printf ("[milter]\nservers = inet:127.0.0.1:%u\n"
                                           "default_action = reject\nconnect_timeout = 2\n", closed);
  g_assert_true (g_file_set_contents (s.config, conf, -1, NULL));
  g_subprocess_send_signal (s.proc, SIGHUP);
  wait_reloads (&s, 1);
  g_autofree char *refused = sg_test_send (s.port, "a@example.com", rcpts, MESSAGE, -1);
  g_assert_null (refused);
  g_autofree char *log = sg_test_server_log (&s);
  g_assert_null (strstr (log, RESTART_NOTE));
  g_autofree char *milter = g_strdup_printf ("inet:127.0.0.1:%u", closed);
  if (!strstr (log, milter))
    g_test_fail_printf ("the log does not name the reloaded milter %s:\n%s", milter, log);
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  sg_test_server_free (&s);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/config/cli/check-names-each-problem", test_check_names_each_problem);
  g_test_add_func ("/config/listen/list", test_listen_list);
  g_test_add_func ("/config/reload/follows-table", test_reload_follows_table);
  g_test_add_func ("/config/reload/milter-applies", test_reload_milter_applies);
  return g_test_run ();
}
