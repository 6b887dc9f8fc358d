/* harness.c - see harness.h. Everything real: processes, sockets, files. */
#include "harness.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <sys/prctl.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <unistd.h>

const char *
sg_test_spoolgate (void)
{
  const char *p = g_getenv ("SPOOLGATE");
  g_assert_nonnull (p);
  return p;
}

static guint16
free_port (void)
{
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t len = sizeof a;
  g_assert_cmpint (bind (fd, (struct sockaddr *) &a, sizeof a), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &a, &len), ==, 0);
  close (fd);
  return ntohs (a.sin_port);
}

/* dies_with_parent - child setup: a test that aborts leaves no process
 * behind. data is the signal (SIGKILL for our server, SIGTERM for helpers
 * that clean up after themselves). */
static void
dies_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, GPOINTER_TO_INT (data));
}

/* process_exited - whether the child is gone (a zombie) without reaping it. */
static gboolean
process_exited (GSubprocess *p)
{
  const char *pid = g_subprocess_get_identifier (p);
  if (!pid)
    return TRUE;
  g_autofree char *path = g_strdup_printf ("/proc/%s/stat", pid);
  g_autofree char *stat = NULL;
  if (!g_file_get_contents (path, &stat, NULL, NULL))
    return TRUE;
  const char *close = strrchr (stat, ')');
  return close && close[1] == ' ' && close[2] == 'Z';
}

/* up_or_gone - the server accepts connections, or has exited. */
static gboolean
up_or_gone (gpointer data)
{
  SgTestServer *s = data;
  g_autoptr(GSocketClient) c = g_socket_client_new ();
  g_autoptr(GSocketConnection) conn = g_socket_client_connect_to_host (c, "127.0.0.1", s->port, NULL, NULL);
  return conn != NULL || process_exited (s->proc);
}

static void
launch (SgTestServer *s)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *listen = g_strdup_printf ("127.0.0.1:%u", s->port);
  /* stdout silenced: a server outliving a crashed test must not hold the
   * test runner's pipe open; and it dies with the test (PDEATHSIG). */
  g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_subprocess_launcher_set_child_setup (l, dies_with_parent, GINT_TO_POINTER (SIGKILL), NULL);
  g_subprocess_launcher_set_stderr_file_path (l, NULL);
  /* append, so a restart keeps the earlier log */
  int fd = open (s->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
  g_assert_cmpint (fd, >=, 0);
  g_subprocess_launcher_take_stderr_fd (l, fd);
  const char *argv[10] = { sg_test_spoolgate (), "serve", "--listen", listen, "--spool", s->spool };
  int n = 6;
  if (s->config)
    {
      argv[n++] = "--config";
      argv[n++] = s->config;
    }
  argv[n] = NULL;
  s->proc = g_subprocess_launcher_spawnv (l, argv, &error);
  g_assert_no_error (error);

  if (sg_test_wait_until (up_or_gone, s, SG_TEST_WAIT_MS, "spoolgate on port %u", s->port)
      && !process_exited (s->proc))
    return;
  g_autofree char *log = sg_test_server_log (s);
  g_error ("spoolgate did not start on port %u; log:\n%s", s->port, log);
}

void
sg_test_server_start (SgTestServer *s, const char *config_text)
{
  sg_test_server_init (s, config_text);
  launch (s);
}

void
sg_test_server_init (SgTestServer *s, const char *config_text)
{
  memset (s, 0, sizeof *s);
  s->dir = g_dir_make_tmp ("sg-it-XXXXXX", NULL);
  g_assert_nonnull (s->dir);
  s->spool = g_build_filename (s->dir, "spool", NULL);
  s->log = g_build_filename (s->dir, "server.log", NULL);
  if (config_text)
    {
      s->config = g_build_filename (s->dir, "spoolgate.conf", NULL);
      g_assert_true (g_file_set_contents (s->config, config_text, -1, NULL));
    }
  s->port = free_port ();
}

void
sg_test_server_restart (SgTestServer *s)
{
  g_assert_null (s->proc);
  launch (s);
}

/* exited - the child has been reaped (GLib's worker thread reaps it and
 * clears the identifier). */
static gboolean
exited (gpointer p)
{
  return g_subprocess_get_identifier (p) == NULL;
}

/* wait_exit - wait up to SG_TEST_EXIT_MS for p to exit; FALSE (then
 * killed and reaped) if it did not. */
static gboolean
wait_exit (GSubprocess *p, const char *what)
{
  if (sg_test_wait_until (exited, p, SG_TEST_EXIT_MS, "%s to exit after SIGTERM", what))
    {
      g_subprocess_wait (p, NULL, NULL);
      return TRUE;
    }
  g_subprocess_force_exit (p);
  g_subprocess_wait (p, NULL, NULL);
  return FALSE;
}

int
sg_test_server_stop (SgTestServer *s)
{
  if (!s->proc)
    return -1;
  g_subprocess_send_signal (s->proc, SIGTERM);
  if (!wait_exit (s->proc, "spoolgate"))
    {
      g_test_fail_printf ("spoolgate did not exit within %u ms of SIGTERM (killed); its log is %s",
                          SG_TEST_EXIT_MS, s->log);
      g_clear_object (&s->proc);
      return -1;
    }
  int status = g_subprocess_get_if_exited (s->proc) ? g_subprocess_get_exit_status (s->proc) : -1;
  g_clear_object (&s->proc);
  return status;
}

void
sg_test_server_kill (SgTestServer *s)
{
  if (!s->proc)
    return;
  g_subprocess_force_exit (s->proc);
  g_subprocess_wait (s->proc, NULL, NULL);
  g_clear_object (&s->proc);
}

static void
rm_rf (const char *path)
{
  const char *argv[] = { "rm", "-rf", path, NULL };
  sg_test_run (argv, NULL, NULL);
}

void
sg_test_server_free (SgTestServer *s)
{
  if (s->proc)
    sg_test_server_kill (s);
  if (s->tmpfs)
    {
      const char *umount[] = { "umount", s->spool, NULL };
      sg_test_run (umount, NULL, NULL);
    }
  const char *path = g_test_get_path ();
  if (g_test_failed () && path && *path)
    g_test_message ("keeping %s for inspection", s->dir);
  else
    rm_rf (s->dir);
  g_free (s->dir);
  g_free (s->spool);
  g_free (s->log);
  g_free (s->config);
}

char *
sg_test_server_log (SgTestServer *s)
{
  char *text = NULL;
  if (!g_file_get_contents (s->log, &text, NULL, NULL))
    text = g_strdup ("");
  return text;
}

static gint
cmp_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

GPtrArray *
sg_test_spool_files (SgTestServer *s)
{
  g_autofree char *q = g_build_filename (s->spool, "queue", NULL);
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GDir) d = g_dir_open (q, 0, NULL);
  if (d)
    for (const char *n; (n = g_dir_read_name (d)); )
      g_ptr_array_add (names, g_strdup (n));
  g_ptr_array_sort (names, cmp_str);
  return names;
}

GPtrArray *
sg_test_spool_ids (SgTestServer *s)
{
  g_autoptr(GPtrArray) files = sg_test_spool_files (s);
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < files->len; i++)
    {
      const char *n = g_ptr_array_index (files, i);
      if (g_str_has_suffix (n, ".json"))
        g_ptr_array_add (ids, g_strndup (n, strlen (n) - 5));
    }
  return ids;
}

char *
sg_test_queue_file (SgTestServer *s, const char *id, const char *suffix)
{
  g_autofree char *name = g_strconcat (id, suffix, NULL);
  return g_build_filename (s->spool, "queue", name, NULL);
}

void
sg_test_assert_schema (const char *schema, const char *const *files)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "..", "schemas", schema, NULL);
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_ptr_array_add (args, path);
  for (guint i = 0; files[i]; i++)
    g_ptr_array_add (args, (gpointer) files[i]);
  g_ptr_array_add (args, NULL);
  g_autofree char *out = NULL, *err = NULL;
  if (sg_test_python ("validate_schema.py", (const char *const *) args->pdata, &out, &err) != 0)
    g_error ("%s: does not validate against %s:\n%s%s", files[0], schema, out, err);
}

void
sg_test_assert_queue_schema (SgTestServer *s, const char *id)
{
  g_autofree char *json = sg_test_queue_file (s, id, ".json");
  sg_test_assert_schema ("spool-metadata.schema.json", (const char *const[]) { json, NULL });
}

gboolean
sg_test_server_small_spool (SgTestServer *s, const char *size)
{
  g_assert_cmpint (sg_test_server_stop (s), ==, 0);
  g_autofree char *options = g_strdup_printf ("size=%s", size);
  const char *mount[] = { "mount", "-t", "tmpfs", "-o", options, "tmpfs", s->spool, NULL };
  g_autofree char *err = NULL;
  if (sg_test_run (mount, NULL, &err) != 0)
    {
      g_test_skip_printf ("cannot mount a tmpfs here (%s); needs root", g_strstrip (err));
      return FALSE;
    }
  s->tmpfs = TRUE;
  sg_test_server_restart (s);
  return TRUE;
}

SgTestClient *
sg_test_client_open (const char *source, guint16 port)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketClient) sc = g_socket_client_new ();
  g_socket_client_set_timeout (sc, 60);
  if (source)
    {
      g_autoptr(GSocketAddress) local = g_inet_socket_address_new_from_string (source, 0);
      g_assert_nonnull (local);
      g_socket_client_set_local_address (sc, local);
    }
  GSocketConnection *conn = g_socket_client_connect_to_host (sc, "127.0.0.1", port, NULL, &error);
  if (!conn)
    {
      g_test_message ("connect to port %u from %s: %s", port, source ? source : "any", error->message);
      return NULL;
    }
  SgTestClient *c = g_new0 (SgTestClient, 1);
  c->conn = conn;
  c->in = g_io_stream_get_input_stream (G_IO_STREAM (c->conn));
  c->out = g_io_stream_get_output_stream (G_IO_STREAM (c->conn));
  c->buf = g_string_new (NULL);
  return c;
}

SgTestClient *
sg_test_client_connect (guint16 port, char **greeting)
{
  SgTestClient *c = sg_test_client_open (NULL, port);
  g_assert_nonnull (c);
  char *g = sg_test_client_reply (c);
  if (greeting)
    *greeting = g;
  else
    g_free (g);
  return c;
}

void
sg_test_client_send (SgTestClient *c, const char *data, gssize len)
{
  g_autoptr(GError) error = NULL;
  gsize n = len < 0 ? strlen (data) : (gsize) len;
  g_output_stream_write_all (c->out, data, n, NULL, NULL, &error);
  g_assert_no_error (error);
}

char *
sg_test_client_reply (SgTestClient *c)
{
  g_autoptr(GString) reply = g_string_new (NULL);
  for (;;)
    {
      char *eol = strstr (c->buf->str, "\r\n");
      if (eol)
        {
          gsize len = eol - c->buf->str;
          if (reply->len)
            g_string_append_c (reply, '\n');
          g_string_append_len (reply, c->buf->str, len);
          gboolean last = len < 4 || c->buf->str[3] != '-';
          g_string_erase (c->buf, 0, len + 2);
          if (last)
            return g_string_free (g_steal_pointer (&reply), FALSE);
          continue;
        }
      char tmp[4096];
      gssize n = g_input_stream_read (c->in, tmp, sizeof tmp, NULL, NULL);
      if (n <= 0)
        return reply->len ? g_string_free (g_steal_pointer (&reply), FALSE) : NULL;
      g_string_append_len (c->buf, tmp, n);
    }
}

char *
sg_test_client_command (SgTestClient *c, const char *line)
{
  sg_test_client_send (c, line, -1);
  sg_test_client_send (c, "\r\n", 2);
  return sg_test_client_reply (c);
}

void
sg_test_client_free (SgTestClient *c)
{
  if (!c)
    return;
  g_io_stream_close (G_IO_STREAM (c->conn), NULL, NULL);
  g_object_unref (c->conn);
  g_string_free (c->buf, TRUE);
  g_free (c);
}

int
sg_test_run (const char *const *argv, char **out, char **err)
{
  return sg_test_run_in (NULL, argv, out, err);
}

int
sg_test_python (const char *script, const char *const *args, char **out, char **err)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "tools", script, NULL);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) sg_test_python_bin ());
  g_ptr_array_add (argv, path);
  for (guint i = 0; args && args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  return sg_test_run ((const char *const *) argv->pdata, out, err);
}

/* admin tests */

int
sg_test_run_in (const char *cwd, const char *const *argv, char **out, char **err)
{
  g_autoptr(GError) error = NULL;
  /* stdout is always captured: a child's output must never reach the TAP
   * stream on our stdout (meson: "Unknown TAP output lines"); what the
   * caller does not want goes to our stderr, which the test log keeps. */
  g_autofree char *unwanted = NULL;
  if (out == NULL)
    out = &unwanted;
  GSubprocessFlags flags = G_SUBPROCESS_FLAGS_STDOUT_PIPE
                         | (err ? G_SUBPROCESS_FLAGS_STDERR_PIPE : 0);
  g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new (flags);
  if (cwd)
    g_subprocess_launcher_set_cwd (l, cwd);
  g_autoptr(GSubprocess) p = g_subprocess_launcher_spawnv (l, argv, &error);
  if (!p)
    {
      if (out)
        *out = g_strdup ("");
      if (err)
        *err = g_strdup (error->message);
      return 127;
    }
  g_subprocess_communicate_utf8 (p, NULL, NULL, out, err, &error);
  g_assert_no_error (error);
  if (unwanted != NULL && *unwanted != '\0')
    g_printerr ("%s", unwanted);
  g_subprocess_wait (p, NULL, NULL);
  return g_subprocess_get_if_exited (p) ? g_subprocess_get_exit_status (p) : 128;
}

char *
sg_test_transact (guint16 port, const char *sender, const char *const *rcpts,
                  const char *body, gssize len)
{
  SgTestClient *c = sg_test_client_connect (port, NULL);
  g_autofree char *ehlo = sg_test_client_command (c, "EHLO client.example");
  g_autofree char *mail_cmd = g_strdup_printf ("MAIL FROM:<%s>", sender);
  g_autofree char *mail = sg_test_client_command (c, mail_cmd);
  g_assert_true (g_str_has_prefix (mail, "250 "));
  for (guint i = 0; rcpts[i]; i++)
    {
      g_autofree char *cmd = g_strdup_printf ("RCPT TO:<%s>", rcpts[i]);
      g_autofree char *r = sg_test_client_command (c, cmd);
      g_assert_true (g_str_has_prefix (r, "250 "));
    }
  g_autofree char *data = sg_test_client_command (c, "DATA");
  g_assert_true (g_str_has_prefix (data, "354 "));
  sg_test_client_send (c, body, len);
  sg_test_client_send (c, ".\r\n", 3);
  char *reply = sg_test_client_reply (c);
  g_autofree char *quit = sg_test_client_command (c, "QUIT");
  sg_test_client_free (c);
  return reply;
}

char *
sg_test_send (guint16 port, const char *sender, const char *const *rcpts,
              const char *body, gssize len)
{
  g_autofree char *reply = sg_test_transact (port, sender, rcpts, body, len);
  const char *p = reply ? strstr (reply, "queued as ") : NULL;
  if (!reply || !g_str_has_prefix (reply, "250 ") || !p)
    {
      g_test_message ("not queued: %s", reply ? reply : "(connection closed)");
      return NULL;
    }
  p += strlen ("queued as ");
  gsize n = 0;
  while (g_ascii_isalnum (p[n]))
    n++;
  return g_strndup (p, n);
}

char *
sg_test_read_file (const char *path, gsize *len)
{
  char *text = NULL;
  gsize n = 0;
  if (!g_file_get_contents (path, &text, &n, NULL))
    text = g_strdup ("");
  if (len)
    *len = n;
  return text;
}

/* relay tests */

guint16
sg_test_free_port (void)
{
  return free_port ();
}


GSubprocess *
sg_test_spawn (const char *const *argv, const char *log_path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_set_child_setup (l, dies_with_parent, GINT_TO_POINTER (SIGTERM), NULL);
  g_subprocess_launcher_set_stdout_file_path (l, log_path);
  GSubprocess *p = g_subprocess_launcher_spawnv (l, argv, &error);
  g_assert_no_error (error);
  return p;
}

void
sg_test_stop_process (GSubprocess *p)
{
  if (!p)
    return;
  g_subprocess_send_signal (p, SIGTERM);
  /* a peer (aiosmtpd's Controller.stop, a milter) that does not stop is
   * killed: it is a tool here, not what is tested */
  if (!wait_exit (p, "a test peer"))
    g_test_message ("a test peer did not exit within %u ms of SIGTERM: killed", SG_TEST_EXIT_MS);
  g_object_unref (p);
}

gboolean
sg_test_spoolgate_sanitized (void)
{
  g_autofree char *bin = NULL;
  gsize len = 0;
  if (!g_file_get_contents (sg_test_spoolgate (), &bin, &len, NULL))
    return FALSE;
  return memmem (bin, len, "__asan_init", strlen ("__asan_init")) != NULL;
}
