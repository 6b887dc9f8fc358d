/* test-lifecycle.c - stopping the real server: SIGTERM stops accepting,
 * says 421 to idle sessions, lets a transaction in flight finish and be
 * stored, and cuts off one that stalls past [limits] shutdown_timeout.
 * SIGHUP reloads the configuration for new sessions and messages. */
#include "harness.h"

#include <signal.h>
#include <string.h>

static const char *const BODY =
  "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\n"
  "From: a@example.com\r\n"
  "Subject: in flight\r\n"
  "\r\n";

/* open_data - a session that is inside DATA (transfer full). */
static SgTestClient *
open_data (guint16 port)
{
  SgTestClient *c = sg_test_client_connect (port, NULL);
  g_autofree char *e = sg_test_client_command (c, "EHLO client.example");
  g_autofree char *m = sg_test_client_command (c, "MAIL FROM:<a@example.com>");
  g_autofree char *r = sg_test_client_command (c, "RCPT TO:<b@example.org>");
  g_autofree char *d = sg_test_client_command (c, "DATA");
  g_assert_true (g_str_has_prefix (d, "354 "));
  sg_test_client_send (c, BODY, -1);
  return c;
}

static gboolean
can_connect (guint16 port)
{
  g_autoptr(GSocketClient) sc = g_socket_client_new ();
  g_autoptr(GSocketConnection) conn = g_socket_client_connect_to_host (sc, "127.0.0.1", port, NULL, NULL);
  return conn != NULL;
}

static void
test_sigterm_drains (void)
{
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  SgTestClient *busy = open_data (s.port);
  SgTestClient *idle = sg_test_client_connect (s.port, NULL);
  g_autofree char *e = sg_test_client_command (idle, "EHLO client.example");
  g_subprocess_send_signal (s.proc, SIGTERM);
  /* the idle session is told at once */
  g_autofree char *bye = sg_test_client_reply (idle);
  g_assert_nonnull (bye);
  g_assert_true (g_str_has_prefix (bye, "421 4.3.2 "));
  /* no new connections */
  g_assert_true (sg_test_wait_log (&s, "stopping: no new connections", 1, 5000));
  g_assert_false (can_connect (s.port));
  /* the transaction in flight finishes and is stored */
  sg_test_client_send (busy, "body\r\n.\r\n", -1);
  g_autofree char *ok = sg_test_client_reply (busy);
  g_assert_true (g_str_has_prefix (ok, "250 2.0.0 Ok: queued as "));
  sg_test_client_free (busy);
  sg_test_client_free (idle);
  g_subprocess_wait (s.proc, NULL, NULL);
  g_assert_true (g_subprocess_get_if_exited (s.proc));
  g_assert_cmpint (g_subprocess_get_exit_status (s.proc), ==, 0);
  g_clear_object (&s.proc);
  g_autoptr(GPtrArray) ids = sg_test_spool_ids (&s);
  g_assert_cmpuint (ids->len, ==, 1);
  sg_test_server_free (&s);
}

static void
test_sigterm_timeout (void)
{
  SgTestServer s;
  sg_test_server_start (&s, "[limits]\nshutdown_timeout = 1\n");
  SgTestClient *stalled = open_data (s.port);
  gint64 t0 = g_get_monotonic_time ();
  g_subprocess_send_signal (s.proc, SIGTERM);
  /* the client never finishes: after the bound it gets 421 and the server exits */
  g_autofree char *r = sg_test_client_reply (stalled);
  g_assert_nonnull (r);
  g_assert_true (g_str_has_prefix (r, "421 4.3.2 "));
  g_subprocess_wait (s.proc, NULL, NULL);
  g_assert_cmpint (g_subprocess_get_exit_status (s.proc), ==, 0);
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 20 * G_USEC_PER_SEC);
  g_clear_object (&s.proc);
  sg_test_client_free (stalled);
  g_autoptr(GPtrArray) files = sg_test_spool_files (&s);
  g_assert_cmpuint (files->len, ==, 0);
  g_autofree char *log = sg_test_server_log (&s);
  g_assert_nonnull (strstr (log, "shutdown_timeout of 1 s over"));
  sg_test_server_free (&s);
}

/* rcpt_count_ok - how many of three RCPTs one transaction accepts. */
static guint
rcpt_count_ok (SgTestClient *c)
{
  g_autofree char *m = sg_test_client_command (c, "MAIL FROM:<a@example.com>");
  g_assert_true (g_str_has_prefix (m, "250 "));
  guint ok = 0;
  for (int i = 0; i < 3; i++)
    {
      g_autofree char *line = g_strdup_printf ("RCPT TO:<r%d@example.org>", i);
      g_autofree char *r = sg_test_client_command (c, line);
      ok += g_str_has_prefix (r, "250 ");
    }
  g_autofree char *rs = sg_test_client_command (c, "RSET");
  return ok;
}

static void
test_sighup_reload (void)
{
  SgTestServer s;
  sg_test_server_start (&s, "[limits]\nmax_recipients = 2\n");
  SgTestClient *before = sg_test_client_connect (s.port, NULL);
  g_autofree char *e1 = sg_test_client_command (before, "EHLO client.example");
  g_assert_cmpuint (rcpt_count_ok (before), ==, 2);

  /* a new file: one recipient, and a message without Date accepted */
  g_assert_true (g_file_set_contents (s.config, "[limits]\nmax_recipients = 1\n"
                                      "[validation]\naccept = header.date.missing\n", -1, NULL));
  g_subprocess_send_signal (s.proc, SIGHUP);
  g_assert_true (sg_test_wait_log (&s, "reloaded configuration from ", 1, 5000));
  /* the old session carries on under the old configuration */
  g_assert_cmpuint (rcpt_count_ok (before), ==, 2);
  SgTestClient *after = sg_test_client_connect (s.port, NULL);
  g_autofree char *e2 = sg_test_client_command (after, "EHLO client.example");
  g_assert_cmpuint (rcpt_count_ok (after), ==, 1);
  /* the new policy applies to new messages */
  g_autofree char *m = sg_test_client_command (after, "MAIL FROM:<a@example.com>");
  g_autofree char *r = sg_test_client_command (after, "RCPT TO:<b@example.org>");
  g_autofree char *d = sg_test_client_command (after, "DATA");
  sg_test_client_send (after, "From: a@example.com\r\nSubject: no date\r\n\r\nx\r\n.\r\n", -1);
  g_autofree char *ok = sg_test_client_reply (after);
  g_assert_true (g_str_has_prefix (ok, "250 2.0.0 "));

  /* a broken file is refused and the running configuration kept */
  g_assert_true (g_file_set_contents (s.config, "[limits]\nmax_recipients = lots\n", -1, NULL));
  g_subprocess_send_signal (s.proc, SIGHUP);
  g_assert_true (sg_test_wait_log (&s, "reload failed, keeping the running configuration: ", 1, 5000));
  g_autofree char *log = sg_test_server_log (&s);
  g_assert_nonnull (strstr (log, "[limits] max_recipients"));
  SgTestClient *later = sg_test_client_connect (s.port, NULL);
  g_autofree char *e3 = sg_test_client_command (later, "EHLO client.example");
  g_assert_cmpuint (rcpt_count_ok (later), ==, 1);
  sg_test_client_free (before);
  sg_test_client_free (after);
  sg_test_client_free (later);
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  sg_test_server_free (&s);
}

/* The key table's reloadable column drives SIGHUP (issue 13, 11): a
 * restart-only key that changed is named in a warning; a reloadable one,
 * such as the [spool] commit queue, is applied without one. */
static void
test_sighup_restart_keys (void)
{
  SgTestServer s;
  sg_test_server_start (&s, "[spool]\ncommit_queue_wait = 30\nrecycle_files = 10\n[queue]\nscan_interval = 60\n");
  g_assert_true (g_file_set_contents (s.config, "[spool]\ncommit_queue_wait = 5\nrecycle_files = 0\n"
                                      "[queue]\nscan_interval = 120\n", -1, NULL));
  g_subprocess_send_signal (s.proc, SIGHUP);
  g_assert_true (sg_test_wait_log (&s, "reloaded configuration from ", 1, 5000));
  g_autofree char *log = sg_test_server_log (&s);
  g_assert_nonnull (strstr (log, "reload: [queue] scan_interval changed; it takes effect at restart"));
  g_assert_null (strstr (log, "[spool] commit_queue_wait changed"));
  g_assert_null (strstr (log, "[spool] recycle_files changed"));
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  sg_test_server_free (&s);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/lifecycle/sigterm/drains", test_sigterm_drains);
  g_test_add_func ("/lifecycle/sigterm/timeout", test_sigterm_timeout);
  g_test_add_func ("/lifecycle/sighup/reload", test_sighup_reload);
  g_test_add_func ("/lifecycle/sighup/restart-keys", test_sighup_restart_keys);
  return g_test_run ();
}
