/* test-logs.c - the log as Postfix's tools read it: Debian's pflogsumm
 * (--syslog-name=spoolgate) over the log of a real session set must count
 * exactly what was sent; the smtpd lines (connect, client=, disconnect with
 * command counts), cleanup's message-id=, qmgr's from= in Postfix's order;
 * the syslog target; and the administration commands' audit lines, which
 * name the caller even after the command took on the spool owner's uid. */
#include "harness.h"

#include <glib/gstdio.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WAIT_MS  30000   /* generous bound for anything to happen */
#define PFLOGSUMM "/usr/sbin/pflogsumm"

/* The session set: how many of each the test sends. */
#define N_SENT     5   /* accepted, delivered by the smarthost (250) */
#define N_DEFERRED 2   /* accepted, the smarthost says 451 to the recipient */
#define N_BOUNCED  2   /* accepted, the smarthost says 550: a notice goes to the sender */
#define N_INVALID  2   /* refused at the end of DATA: no Date header (550 5.6.0) */
#define N_DENIED   2   /* refused at RCPT: relay access denied (550 5.7.1) */

static char *
body_with_id (const char *id, gboolean with_date)
{
  return g_strdup_printf ("%sFrom: Alice <alice@example.com>\r\n"
                          "To: someone@example.org\r\n"
                          "Subject: log test\r\n"
                          "Message-ID: <%s@example.com>\r\n"
                          "\r\n"
                          "Hello.\r\n",
                          with_date ? "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\n" : "", id);
}

/* have_tools - python3-aiosmtpd and pflogsumm present, else skip. */
static gboolean
have_tools (void)
{
  if (!sg_test_have_aiosmtpd ())
    return FALSE;
  if (!g_file_test (PFLOGSUMM, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("pflogsumm is not installed (apt-get install pflogsumm)");
      return FALSE;
    }
  return TRUE;
}

/* smarthost - tests/tools/smarthost.py on port with per-recipient replies. */
static GSubprocess *
smarthost (const char *dir, guint16 port, const char *const *replies)
{
  g_autofree char *out = g_build_filename (dir, "out", NULL);
  g_autofree char *log = g_build_filename (dir, "smarthost.log", NULL);
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  for (guint i = 0; replies[i]; i++)
    {
      g_ptr_array_add (args, "--reply");
      g_ptr_array_add (args, (gpointer) replies[i]);
    }
  g_ptr_array_add (args, NULL);
  return sg_test_smarthost (port, out, log, (const char *const *) args->pdata);
}

/* send_denied - a transaction whose only RCPT is refused (relay access denied). */
static void
send_denied (guint16 port, guint n)
{
  SgTestClient *c = sg_test_client_connect (port, NULL);
  g_autofree char *ehlo = sg_test_client_command (c, "EHLO client.example");
  g_autofree char *mail = sg_test_client_command (c, "MAIL FROM:<alice@example.com>");
  g_assert_true (g_str_has_prefix (mail, "250 "));
  g_autofree char *cmd = g_strdup_printf ("RCPT TO:<denied%u@elsewhere.test>", n);
  g_autofree char *rcpt = sg_test_client_command (c, cmd);
  g_assert_true (g_str_has_prefix (rcpt, "550 5.7.1 "));
  g_autofree char *quit = sg_test_client_command (c, "QUIT");
  sg_test_client_free (c);
}

/* send_invalid - a message the validator refuses at the end of DATA. */
static void
send_invalid (guint16 port, guint n)
{
  SgTestClient *c = sg_test_client_connect (port, NULL);
  g_autofree char *ehlo = sg_test_client_command (c, "EHLO client.example");
  g_autofree char *mail = sg_test_client_command (c, "MAIL FROM:<alice@example.com>");
  g_autofree char *cmd = g_strdup_printf ("RCPT TO:<ok-invalid%u@example.org>", n);
  g_autofree char *rcpt = sg_test_client_command (c, cmd);
  g_assert_true (g_str_has_prefix (rcpt, "250 "));
  g_autofree char *data = sg_test_client_command (c, "DATA");
  g_assert_true (g_str_has_prefix (data, "354 "));
  g_autofree char *id = g_strdup_printf ("invalid%u", n);
  g_autofree char *body = body_with_id (id, FALSE);
  sg_test_client_send (c, body, -1);
  sg_test_client_send (c, ".\r\n", 3);
  g_autofree char *reply = sg_test_client_reply (c);
  g_assert_true (g_str_has_prefix (reply, "550 5.6.0 "));
  g_autofree char *quit = sg_test_client_command (c, "QUIT");
  sg_test_client_free (c);
}

/* pflogsumm_count - the number before "  WHAT" in pflogsumm's Grand Totals. */
static int
pflogsumm_count (const char *report, const char *what)
{
  g_autofree char *pattern = g_strdup_printf ("^\\s+(\\d+)[ km]\\s+%s( |$)", what);
  g_autoptr(GRegex) re = g_regex_new (pattern, G_REGEX_MULTILINE, 0, NULL);
  g_autoptr(GMatchInfo) m = NULL;
  if (!g_regex_match (re, report, 0, &m))
    g_error ("no \"%s\" in pflogsumm's report:\n%s", what, report);
  g_autofree char *n = g_match_info_fetch (m, 1);
  return atoi (n);
}

/* /logs/pflogsumm - received, delivered, deferred, bounced and rejected as
 * sent, counted by Debian's pflogsumm from the foreground log (stderr). */
static void
test_pflogsumm (void)
{
  if (!have_tools ())
    return;
  g_autofree char *dir = g_dir_make_tmp ("sg-logs-XXXXXX", NULL);
  guint16 port = sg_test_free_port ();
  g_autoptr(GPtrArray) replies = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < N_DEFERRED; i++)
    g_ptr_array_add (replies, g_strdup_printf ("defer%u@example.org=451", i));
  for (guint i = 0; i < N_BOUNCED; i++)
    g_ptr_array_add (replies, g_strdup_printf ("bounce%u@example.org=550", i));
  g_ptr_array_add (replies, NULL);
  GSubprocess *sh = smarthost (dir, port, (const char *const *) replies->pdata);

  /* Loopback may relay only to example.org; anything else is relay access denied. */
  g_autofree char *conf = g_strdup_printf (
    "[server]\nhostname = gate.example\n"
    "[access]\nallowed_networks = 192.0.2.0/24\naccepted_domains = example.org\n"
    "[smarthost]\nhost = 127.0.0.1\nport = %u\ntls = none\nconnect_timeout = 5\n"
    "[queue]\nmin_backoff = 3600\nmax_backoff = 3600\n", port);
  SgTestServer s;
  sg_test_server_start (&s, conf);

  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  struct { const char *prefix; guint n; } accepted[] = {
    { "ok", N_SENT }, { "defer", N_DEFERRED }, { "bounce", N_BOUNCED },
  };
  for (guint k = 0; k < G_N_ELEMENTS (accepted); k++)
    for (guint i = 0; i < accepted[k].n; i++)
      {
        g_autofree char *rcpt = g_strdup_printf ("%s%u@example.org", accepted[k].prefix, i);
        g_autofree char *mid = g_strdup_printf ("%s%u", accepted[k].prefix, i);
        g_autofree char *body = body_with_id (mid, TRUE);
        const char *rcpts[] = { rcpt, NULL };
        char *id = sg_test_send (s.port, "alice@example.com", rcpts, body, -1);
        g_assert_nonnull (id);
        g_ptr_array_add (ids, id);
      }
  for (guint i = 0; i < N_INVALID; i++)
    send_invalid (s.port, i);
  for (guint i = 0; i < N_DENIED; i++)
    send_denied (s.port, i);

  /* every outcome logged; each bounce's notice to alice delivered too */
  g_assert_true (sg_test_wait_log (&s, "status=sent (250 ", N_SENT + N_BOUNCED, WAIT_MS));
  g_assert_true (sg_test_wait_log (&s, "status=deferred (451 ", N_DEFERRED, WAIT_MS));
  g_assert_true (sg_test_wait_log (&s, "status=bounced (550 ", N_BOUNCED, WAIT_MS));
  g_assert_true (sg_test_wait_log (&s, ": sender non-delivery notification: ", N_BOUNCED, WAIT_MS));
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  sg_test_stop_process (sh);
  g_autofree char *log = sg_test_server_log (&s);

  const char *argv[] = { PFLOGSUMM, "--syslog-name=spoolgate", s.log, NULL };
  g_autofree char *report = NULL, *err = NULL;
  g_assert_cmpint (sg_test_run (argv, &report, &err), ==, 0);
  g_test_message ("pflogsumm:\n%s", report);
  int received = pflogsumm_count (report, "received");
  int delivered = pflogsumm_count (report, "delivered");
  int deferred = pflogsumm_count (report, "deferred");
  int bounced = pflogsumm_count (report, "bounced");
  int rejected = pflogsumm_count (report, "rejected");
  g_test_message ("sent: received %d, delivered %d (+%d notices), deferred %d, bounced %d, "
                  "rejected %d; pflogsumm: %d, %d, %d, %d, %d",
                  N_SENT + N_DEFERRED + N_BOUNCED, N_SENT, N_BOUNCED, N_DEFERRED, N_BOUNCED,
                  N_INVALID + N_DENIED, received, delivered, deferred, bounced, rejected);
  g_assert_cmpint (received, ==, N_SENT + N_DEFERRED + N_BOUNCED);
  /* pflogsumm counts deliveries, and, as with Postfix, the non-delivery
   * notice each bounce sends to alice is one */
  g_assert_cmpint (delivered, ==, N_SENT + N_BOUNCED);
  g_assert_cmpint (deferred, ==, N_DEFERRED);
  g_assert_cmpint (bounced, ==, N_BOUNCED);
  g_assert_cmpint (rejected, ==, N_INVALID + N_DENIED);

  /* each accepted message: smtpd's client=, cleanup's message-id=, qmgr's
   * from=, in that order, before its delivery line */
  for (guint i = 0; i < ids->len; i++)
    {
      const char *id = g_ptr_array_index (ids, i);
      g_autofree char *c_line = g_strdup_printf ("]: %s: client=unknown[127.0.0.1]\n", id);
      g_autofree char *m_line = g_strdup_printf ("]: %s: message-id=<", id);
      g_autofree char *f_line = g_strdup_printf ("]: %s: from=<alice@example.com>, size=", id);
      g_autofree char *t_line = g_strdup_printf ("]: %s: to=<", id);
      const char *c = strstr (log, c_line), *m = strstr (log, m_line), *f = strstr (log, f_line);
      const char *t = strstr (log, t_line);
      if (!c || !m || !f || !t || !(c < m && m < f && f < t))
        g_error ("%s: want client=, message-id=, from=, to= in that order in:\n%s", id, log);
      g_autofree char *from = g_strndup (f, strchr (f, '\n') - f);
      g_assert_true (g_str_has_suffix (from, ", nrcpt=1 (queue active)"));
    }
  g_assert_nonnull (strstr (log, "/cleanup["));
  g_assert_nonnull (strstr (log, ": message-id=<ok0@example.com>\n"));
  /* the session lines: connect, and disconnect with Postfix's command counts */
  g_assert_cmpuint (sg_test_count (log, "/smtpd["), >, 0);
  g_assert_cmpuint (sg_test_count (log, "]: connect from unknown[127.0.0.1]\n"), >=,
                    N_SENT + N_DEFERRED + N_BOUNCED + N_INVALID + N_DENIED);
  g_assert_cmpuint (sg_test_count (log, "]: disconnect from unknown[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=1 "
                                     "quit=1 commands=5\n"), ==, N_SENT + N_DEFERRED + N_BOUNCED);
  g_assert_cmpuint (sg_test_count (log, "]: disconnect from unknown[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=0/1 "
                                     "quit=1 commands=4/5\n"), ==, N_INVALID);
  g_assert_cmpuint (sg_test_count (log, "]: disconnect from unknown[127.0.0.1] ehlo=1 mail=1 rcpt=0/1 "
                                     "quit=1 commands=3/4\n"), ==, N_DENIED);
  /* the refusals, as Postfix writes them */
  g_assert_cmpuint (sg_test_count (log, "]: NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 550 5.7.1 <denied"), ==,
                    N_DENIED);
  g_assert_nonnull (strstr (log, "@elsewhere.test>: Relay access denied; from=<alice@example.com> "
                                 "to=<denied0@elsewhere.test> proto=ESMTP helo=<client.example> rule=relay.denied\n"));
  g_assert_cmpuint (sg_test_count (log, ": reject: END-OF-MESSAGE from unknown[127.0.0.1]: 550 5.6.0 "), ==,
                    N_INVALID);
  /* the HELO name is never the client's name */
  g_assert_null (strstr (log, "client.example["));
  /* a delivery is smtp's line, a notice bounce's, the end qmgr's */
  g_assert_nonnull (strstr (log, "/smtp["));
  g_assert_nonnull (strstr (log, "/bounce["));
  g_assert_nonnull (strstr (log, "/qmgr["));
  sg_test_server_free (&s);
  g_autofree char *rm = g_strdup_printf ("rm -rf '%s'", dir);
  g_assert_cmpint (system (rm), ==, 0);
}

/* /logs/pflogsumm/monitor - in monitor mode what enforce would refuse is
 * received and, for pflogsumm, a reject warning, not a rejection. */
static void
test_pflogsumm_monitor (void)
{
  if (!have_tools ())
    return;
  SgTestServer s;
  sg_test_server_start (&s, "[validation]\nmode = monitor\n");
  for (guint i = 0; i < N_INVALID; i++)
    {
      g_autofree char *mid = g_strdup_printf ("monitored%u", i);
      g_autofree char *body = body_with_id (mid, FALSE);
      const char *rcpts[] = { "bob@example.org", NULL };
      g_autofree char *id = sg_test_send (s.port, "alice@example.com", rcpts, body, -1);
      g_assert_nonnull (id);
    }
  g_assert_true (sg_test_wait_log (&s, ": reject_warning: END-OF-MESSAGE from unknown[127.0.0.1]: 550 5.6.0 ",
                                   N_INVALID, WAIT_MS));
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  const char *argv[] = { PFLOGSUMM, "--syslog-name=spoolgate", s.log, NULL };
  g_autofree char *report = NULL;
  g_assert_cmpint (sg_test_run (argv, &report, NULL), ==, 0);
  g_assert_cmpint (pflogsumm_count (report, "received"), ==, N_INVALID);
  g_assert_cmpint (pflogsumm_count (report, "rejected"), ==, 0);
  g_assert_cmpint (pflogsumm_count (report, "reject warnings"), ==, N_INVALID);
  sg_test_server_free (&s);
}

/* /logs/refused-smarthost - a smarthost that refuses the connection: dsn=4.4.1. */
static void
test_refused_smarthost (void)
{
  guint16 down = sg_test_free_port ();
  g_autofree char *conf = g_strdup_printf (
    "[smarthost]\nhost = 127.0.0.1\nport = %u\ntls = none\nconnect_timeout = 5\n"
    "[queue]\nmin_backoff = 3600\nmax_backoff = 3600\n", down);
  SgTestServer s;
  sg_test_server_start (&s, conf);
  g_autofree char *body = body_with_id ("refused", TRUE);
  const char *rcpts[] = { "bob@example.org", NULL };
  g_autofree char *id = sg_test_send (s.port, "alice@example.com", rcpts, body, -1);
  g_assert_nonnull (id);
  g_autofree char *line = g_strdup_printf ("]: %s: to=<bob@example.org>, relay=none, delay=", id);
  g_assert_true (sg_test_wait_log (&s, line, 1, WAIT_MS));
  g_autofree char *log = sg_test_server_log (&s);
  const char *at = strstr (log, line);
  g_autofree char *whole = g_strndup (at, strchr (at, '\n') - at);
  if (!strstr (whole, ", dsn=4.4.1, status=deferred (") || !strstr (whole, "Connection refused"))
    g_error ("want dsn=4.4.1 and the refusal: %s", whole);
  sg_test_server_free (&s);
}

/* syslog_run - the daemon's lines arrive at the system logger's socket as
 * RFC 3164 datagrams, facility mail, tag spoolgate/SERVICE: asked for with
 * --log-to=syslog, or by default when stderr is the journal (systemd says
 * so in JOURNAL_STREAM, DEV:INODE of the stream). */
static void
syslog_run (gboolean journal)
{
  g_autofree char *dir = g_dir_make_tmp ("sg-syslog-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "log", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) sock = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_DATAGRAM,
                                          G_SOCKET_PROTOCOL_DEFAULT, &error);
  g_assert_no_error (error);
  g_autoptr(GSocketAddress) addr = g_unix_socket_address_new (path);
  g_assert_true (g_socket_bind (sock, addr, TRUE, &error));
  g_socket_set_timeout (sock, 10);

  guint16 port = sg_test_free_port ();
  g_autofree char *listen = g_strdup_printf ("127.0.0.1:%u", port);
  g_autofree char *spool = g_build_filename (dir, "spool", NULL);
  g_autofree char *err_log = g_build_filename (dir, "stderr", NULL);
  g_setenv ("SPOOLGATE_SYSLOG_SOCKET", path, TRUE);
  const char *argv[] = { sg_test_spoolgate (), "serve", "--listen", listen, "--spool", spool,
                         journal ? NULL : "--log-to=syslog", NULL };
  if (journal)
    {
      /* the file the daemon's stderr will be, standing in for the journal's stream */
      g_assert_true (g_file_set_contents (err_log, "", 0, NULL));
      struct stat st;
      g_assert_cmpint (g_stat (err_log, &st), ==, 0);
      g_autofree char *stream = g_strdup_printf ("%llu:%llu", (unsigned long long) st.st_dev,
                                                 (unsigned long long) st.st_ino);
      g_setenv ("JOURNAL_STREAM", stream, TRUE);
    }
  GSubprocess *p = sg_test_spawn (argv, err_log);
  g_unsetenv ("SPOOLGATE_SYSLOG_SOCKET");
  g_unsetenv ("JOURNAL_STREAM");
  /* the first lines come at start-up, master's, then a session's */
  g_assert_true (sg_test_wait_port (port, SG_TEST_WAIT_MS));
  SgTestClient *c = sg_test_client_open (NULL, port);
  g_assert_nonnull (c);
  g_autofree char *greeting = sg_test_client_reply (c);
  g_autofree char *quit = sg_test_client_command (c, "QUIT");
  sg_test_client_free (c);
  gboolean master = FALSE, connect = FALSE, disconnect = FALSE;
  while (!(master && connect && disconnect))
    {
      char buf[2048];
      gssize n = g_socket_receive (sock, buf, sizeof buf - 1, NULL, &error);
      g_assert_no_error (error);
      buf[n] = '\0';
      /* <22> mail.info; RFC 3164: "Mmm dd hh:mm:ss TAG[PID]: " */
      g_assert_true (g_str_has_prefix (buf, "<22>") || g_str_has_prefix (buf, "<20>"));
      g_assert_cmpint (buf[7], ==, ' ');
      g_assert_cmpint (buf[13], ==, ':');
      if (strstr (buf, " spoolgate/master[") && strstr (buf, "]: listening on "))
        master = TRUE;
      if (strstr (buf, " spoolgate/smtpd[") && strstr (buf, "]: connect from unknown[127.0.0.1]"))
        connect = TRUE;
      if (strstr (buf, " spoolgate/smtpd[") && strstr (buf, "]: disconnect from unknown[127.0.0.1] quit=1 commands=1"))
        disconnect = TRUE;
    }
  sg_test_stop_process (p);
  /* and nothing of it on stderr */
  g_autofree char *text = sg_test_read_file (err_log, NULL);
  g_assert_null (strstr (text, "connect from"));
  g_autofree char *rm = g_strdup_printf ("rm -rf '%s'", dir);
  g_assert_cmpint (system (rm), ==, 0);
}

static void
test_syslog_target (void)
{
  syslog_run (FALSE);
}

static void
test_syslog_journal (void)
{
  syslog_run (TRUE);
}

/* audit_socket - a datagram socket in a directory anyone may reach, as the
 * administration command writes to it after taking on the spool owner's uid. */
static GSocket *
audit_socket (const char *dir, char **path)
{
  g_autoptr(GError) error = NULL;
  *path = g_build_filename (dir, "log", NULL);
  GSocket *sock = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_DATAGRAM,
                                G_SOCKET_PROTOCOL_DEFAULT, &error);
  g_assert_no_error (error);
  g_autoptr(GSocketAddress) addr = g_unix_socket_address_new (*path);
  g_assert_true (g_socket_bind (sock, addr, TRUE, &error));
  g_assert_cmpint (g_chmod (dir, 0755), ==, 0);
  g_assert_cmpint (g_chmod (*path, 0777), ==, 0);
  g_socket_set_timeout (sock, 10);
  return sock;
}

static char *
receive_line (GSocket *sock)
{
  g_autoptr(GError) error = NULL;
  char buf[2048];
  gssize n = g_socket_receive (sock, buf, sizeof buf - 1, NULL, &error);
  g_assert_no_error (error);
  return g_strndup (buf, n);
}

/* /logs/audit/caller - root acting on a spool owned by another user: the
 * command takes on the owner's uid, the audit line still names root; and
 * releasing a refused message from rejected/ is in the audit trail too. */
static void
test_audit_caller (void)
{
  if (geteuid () != 0)
    {
      g_test_skip ("needs root: the caller must differ from the spool's owner");
      return;
    }
  struct passwd *nobody = getpwnam ("nobody");
  if (nobody == NULL)
    {
      g_test_skip ("no user nobody");
      return;
    }
  SgTestServer s;
  sg_test_server_start (&s, "[validation]\nkeep_rejected = 10M\n");
  g_autofree char *body = body_with_id ("audit", TRUE);
  const char *rcpts[] = { "bob@example.org", NULL };
  g_autofree char *id = sg_test_send (s.port, "alice@example.com", rcpts, body, -1);
  g_assert_nonnull (id);
  send_invalid (s.port, 0);
  g_assert_true (sg_test_wait_log (&s, ": rejected: kept a copy in rejected/", 1, WAIT_MS));
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  g_autofree char *log = sg_test_server_log (&s);
  const char *kept = strstr (log, ": rejected: kept a copy in rejected/");
  const char *start = kept;
  while (start > log && start[-1] != ' ')
    start--;
  g_autofree char *refused = g_strndup (start, kept - start);

  /* the spool belongs to nobody now, as the service's spool to spoolgate */
  g_autofree char *chown = g_strdup_printf ("chown -R nobody '%s'", s.spool);
  g_assert_cmpint (system (chown), ==, 0);
  g_assert_cmpint (g_chmod (s.dir, 0755), ==, 0);   /* nobody must reach its spool */
  g_autofree char *dir = g_dir_make_tmp ("sg-audit-XXXXXX", NULL);
  g_autofree char *path = NULL;
  g_autoptr(GSocket) sock = audit_socket (dir, &path);
  g_setenv ("SPOOLGATE_SYSLOG_SOCKET", path, TRUE);

  const char *hold[] = { sg_test_spoolgate (), "hold", "--spool", s.spool, id, NULL };
  g_assert_cmpint (sg_test_run (hold, NULL, NULL), ==, 0);
  g_autofree char *line = receive_line (sock);
  const char *want = " spoolgate/admin[";
  g_autofree char *held = g_strdup_printf ("]: %s: placed on hold, by uid 0 (root)", id);
  if (!g_str_has_prefix (line, "<22>") || !strstr (line, want) || !strstr (line, held))
    g_error ("want \"%s\" in: %s", held, line);

  const char *release[] = { sg_test_spoolgate (), "release", "--spool", s.spool, refused, NULL };
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (sg_test_run (release, &out, &err), ==, 0);
  g_autofree char *released = receive_line (sock);
  g_autofree char *rwant = g_strdup_printf ("]: %s: released from rejected/ to the queue: "
                                            "from=<alice@example.com>, size=", refused);
  if (!strstr (released, rwant) || !strstr (released, ", by uid 0 (root)")
      || !strstr (released, "was refused with 550 5.6.0 "))
    g_error ("want \"%s ... by uid 0 (root)\" in: %s", rwant, released);
  g_unsetenv ("SPOOLGATE_SYSLOG_SOCKET");
  g_autofree char *rm = g_strdup_printf ("rm -rf '%s'", dir);
  g_assert_cmpint (system (rm), ==, 0);
  sg_test_server_free (&s);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/logs/pflogsumm", test_pflogsumm);
  g_test_add_func ("/logs/pflogsumm/monitor", test_pflogsumm_monitor);
  g_test_add_func ("/logs/refused-smarthost", test_refused_smarthost);
  g_test_add_func ("/logs/syslog/log-to", test_syslog_target);
  g_test_add_func ("/logs/syslog/journal-stream", test_syslog_journal);
  g_test_add_func ("/logs/audit/caller", test_audit_caller);
  return g_test_run ();
}
