/* test-metrics.c - the /metrics endpoint of the real `spoolgate serve`,
 * scraped over raw HTTP: counters move with accepted and rejected mail,
 * the session gauge follows open sessions, the histograms count, refused
 * connections are counted by reason, the queue gauges follow a message
 * through deferred, held (by the admin command) and delivered (to Postfix's
 * smtp-sink), and bad requests (404, 405, 400, 431) get their answer, too
 * many at once wait and silent ones are cut off, without stopping the
 * endpoint or the SMTP server. */
#include "harness.h"
#include "admin_util.h"

#include <glib/gstdio.h>
#include <string.h>

#define HTTP_TIMEOUT_S 10
#define WAIT_MS        SG_TEST_WAIT_MS
#define MAX_SCRAPES    8      /* SG_METRICS_HTTP_MAX_CLIENTS in metrics_http.c */

static const char *const GOOD =
  "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\n"
  "From: Alice <alice@example.com>\r\n"
  "To: bob@example.org\r\n"
  "Subject: metrics\r\n"
  "Message-ID: <m1@example.com>\r\n"
  "\r\n"
  "Hello.\r\n";

/* Rejected under every policy: header.date.missing is structural. */
static const char *const NO_DATE =
  "From: Alice <alice@example.com>\r\n"
  "To: bob@example.org\r\n"
  "Subject: no date\r\n"
  "Message-ID: <m2@example.com>\r\n"
  "\r\n"
  "Hello.\r\n";

typedef struct {
  SgTestServer s;
  guint16      port;   /* [metrics] listen */
} Fixture;

static void
start (Fixture *f, const char *extra_config)
{
  f->port = sg_test_free_port ();
  g_autofree char *config = g_strdup_printf ("[metrics]\nlisten = 127.0.0.1:%u\n%s", f->port,
                                             extra_config ? extra_config : "");
  sg_test_server_start (&f->s, config);
}

static GSocketConnection *
http_connect (guint16 port)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_socket_client_set_timeout (client, HTTP_TIMEOUT_S);
  g_autoptr(GError) error = NULL;
  GSocketConnection *conn = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, &error);
  g_assert_no_error (error);
  return conn;
}

static void
http_send (GSocketConnection *conn, const char *data, gsize len)
{
  g_autoptr(GError) error = NULL;
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
  g_assert_true (g_output_stream_write_all (out, data, len, NULL, NULL, &error));
  g_assert_no_error (error);
}

/* http_read_all - everything until the server closes (transfer full). */
static char *
http_read_all (GSocketConnection *conn)
{
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (conn));
  GString *text = g_string_new (NULL);
  char buf[4096];
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      gssize n = g_input_stream_read (in, buf, sizeof buf, NULL, &error);
      g_assert_no_error (error);
      if (n == 0)
        break;
      g_string_append_len (text, buf, n);
    }
  return g_string_free (text, FALSE);
}

/* http_raw - send request bytes, return the whole response (transfer full). */
static char *
http_raw (guint16 port, const char *request, gsize len)
{
  g_autoptr(GSocketConnection) conn = http_connect (port);
  http_send (conn, request, len);
  return http_read_all (conn);
}

/* scrape - GET /metrics; asserts a 200 with our headers and returns the body (transfer full). */
static char *
scrape (guint16 port)
{
  static const char req[] = "GET /metrics HTTP/1.1\r\nHost: localhost\r\nAccept: text/plain\r\n\r\n";
  g_autofree char *resp = http_raw (port, req, strlen (req));
  const char *body = strstr (resp, "\r\n\r\n");
  g_assert_nonnull (body);
  g_autofree char *head = g_strndup (resp, body - resp);
  body += 4;
  if (!g_str_has_prefix (head, "HTTP/1.1 200 OK\r\n"))
    g_error ("scrape: %s", head);
  g_assert_nonnull (strstr (head, "\r\nContent-Type: text/plain; version=0.0.4\r\n"));
  g_assert_nonnull (strstr (head, "\r\nConnection: close"));
  g_autofree char *length = g_strdup_printf ("\r\nContent-Length: %" G_GSIZE_FORMAT "\r\n", strlen (body));
  g_assert_nonnull (strstr (head, length));
  return g_strdup (body);
}

/* value - the sample's value in a scrape; 0 when the series is absent. */
static gint64
value (const char *body, const char *sample)
{
  g_autofree char *needle = g_strdup_printf ("\n%s ", sample);
  const char *p = strstr (body, needle);
  return p ? g_ascii_strtoll (p + strlen (needle), NULL, 10) : 0;
}

typedef struct {
  guint16     port;
  const char *sample;
  gint64      want;
  gboolean    at_least;   /* want or more, else exactly want */
} Sample;

static gboolean
sample_reads (gpointer data)
{
  Sample *w = data;
  g_autofree char *body = scrape (w->port);
  gint64 v = value (body, w->sample);
  return w->at_least ? v >= w->want : v == w->want;
}

/* wait_value - scrape until sample reads want; FALSE after WAIT_MS. */
static gboolean
wait_value (guint16 port, const char *sample, gint64 want)
{
  Sample w = { port, sample, want, FALSE };
  return sg_test_wait_until (sample_reads, &w, WAIT_MS, "%s = %" G_GINT64_FORMAT, sample, want);
}

/* wait_at_least - scrape until sample reads min or more; FALSE after WAIT_MS. */
static gboolean
wait_at_least (guint16 port, const char *sample, gint64 min)
{
  Sample w = { port, sample, min, TRUE };
  return sg_test_wait_until (sample_reads, &w, WAIT_MS, "%s >= %" G_GINT64_FORMAT, sample, min);
}

/* an_hour_old - craft: the message arrived an hour ago. */
static void
an_hour_old (SgMeta *meta)
{
  meta->arrival_time_us = g_get_real_time () - (gint64) 3600 * G_USEC_PER_SEC;
}

/* send_message - one transaction of body; the final reply (transfer full). */
static char *
send_message (guint16 port, const char *body)
{
  return sg_test_transact (port, "alice@example.com",
                           (const char *const[]) { "bob@example.org", NULL }, body, -1);
}

static void
test_counts (void)
{
  Fixture f;
  start (&f, NULL);
  g_autofree char *log = sg_test_server_log (&f.s);
  g_autofree char *started = g_strdup_printf ("metrics on 127.0.0.1:%u", f.port);
  g_assert_nonnull (strstr (log, started));

  g_autofree char *before = scrape (f.port);
  g_assert_nonnull (strstr (before, "\nspoolgate_build_info{version=\""));
  g_assert_cmpint (value (before, "process_start_time_seconds"), >, 1600000000);
  g_assert_true (wait_value (f.port, "spoolgate_sessions_open", 0));
  const char *rejected = "spoolgate_messages_rejected_total{rule=\"header.date.missing\",code=\"550\"}";

  /* a session that stays open while we look */
  SgTestClient *idle = sg_test_client_connect (f.s.port, NULL);
  g_autofree char *ehlo = sg_test_client_command (idle, "EHLO idle.example");
  g_autofree char *ok = send_message (f.s.port, GOOD);
  g_assert_true (g_str_has_prefix (ok, "250 2.0.0 Ok: queued as "));
  g_autofree char *no = send_message (f.s.port, NO_DATE);
  g_assert_true (g_str_has_prefix (no, "550 5.6.0 "));
  g_assert_true (wait_value (f.port, "spoolgate_sessions_open", 1));

  g_autofree char *after = scrape (f.port);
  g_assert_cmpint (value (after, "spoolgate_messages_accepted_total"), ==,
                   value (before, "spoolgate_messages_accepted_total") + 1);
  g_assert_cmpint (value (after, "spoolgate_messages_accepted_bytes_total"), >,
                   value (before, "spoolgate_messages_accepted_bytes_total") + (gint64) strlen (GOOD));
  g_assert_cmpint (value (after, rejected), ==, value (before, rejected) + 1);
  g_assert_cmpint (value (after, "spoolgate_connections_total"), ==,
                   value (before, "spoolgate_connections_total") + 3);
  g_assert_cmpint (value (after, "spoolgate_tls_sessions_open"), ==, 0);
  g_assert_cmpint (value (after, "spoolgate_spool_commit_seconds_count"), ==,
                   value (before, "spoolgate_spool_commit_seconds_count") + 1);
  g_assert_cmpint (value (after, "spoolgate_spool_commit_seconds_bucket{le=\"+Inf\"}"), ==,
                   value (after, "spoolgate_spool_commit_seconds_count"));
  g_assert_cmpint (value (after, "spoolgate_data_reply_seconds_count"), ==,
                   value (before, "spoolgate_data_reply_seconds_count") + 2);
  /* no smarthost: the message waits in the queue, and the census knows */
  g_assert_cmpint (value (after, "spoolgate_queue_messages{state=\"queued\"}"), ==, 1);
  g_assert_cmpint (value (after, "spoolgate_queue_bytes{state=\"queued\"}"), >, (gint64) strlen (GOOD));

  /* the log says the same, one greppable line per rejection */
  g_free (log);
  log = sg_test_server_log (&f.s);
  g_assert_nonnull (strstr (log, ": reject: END-OF-MESSAGE from unknown[127.0.0.1]: 550 5.6.0 "));
  g_assert_nonnull (strstr (log, "; from=<alice@example.com> to=<bob@example.org> proto=ESMTP "
                                 "helo=<client.example> rule=header.date.missing\n"));

  sg_test_client_free (idle);
  g_assert_true (wait_value (f.port, "spoolgate_sessions_open", 0));
  sg_test_server_free (&f.s);
}

static void
test_refused (void)
{
  Fixture f;
  start (&f, "[access]\nallowed_networks = 192.0.2.0/24\n");
  const char *sample = "spoolgate_connections_refused_total{reason=\"access.denied\"}";
  g_autofree char *before = scrape (f.port);
  char *greeting = NULL;
  SgTestClient *c = sg_test_client_connect (f.s.port, &greeting);
  g_assert_true (g_str_has_prefix (greeting, "554 5.7.1 "));
  g_free (greeting);
  sg_test_client_free (c);
  g_assert_true (wait_value (f.port, sample, value (before, sample) + 1));
  g_autofree char *log = sg_test_server_log (&f.s);
  g_assert_true (strstr (log, "spoolgate/smtpd[" ) && strstr (log, "]: NOQUEUE: reject: CONNECT from unknown[127.0.0.1]: 554 5.7.1 "
                                 "not in [access] allowed_networks; proto=SMTP rule=access.denied\n"));
  sg_test_server_free (&f.s);
}

/* The queue gauges and delivery counts follow one message: deferred while
 * the smarthost is down, held by `spoolgate hold` (seen through the runner's
 * inotify, or its 2 s rescan without inotify), then released and delivered
 * to smtp-sink and removed. */
static void
test_queue (void)
{
  if (!g_file_test (SMTP_SINK, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("smtp-sink (postfix) is not installed");
      return;
    }
  Fixture f;
  guint16 sink_port = sg_test_free_port ();
  g_autofree char *extra = g_strdup_printf (
    "[smarthost]\nhost = 127.0.0.1\nport = %u\ntls = none\nconnect_timeout = 5\n"
    "[queue]\nmin_backoff = 1\nmax_backoff = 1\nscan_interval = 2\n", sink_port);
  start (&f, extra);
  const char *deferred = "spoolgate_queue_messages{state=\"deferred\"}";
  const char *held = "spoolgate_queue_messages{state=\"held\"}";

  g_autofree char *id = send_one (&f.s, NULL);
  g_assert_true (wait_value (f.port, deferred, 1));
  g_autofree char *body = scrape (f.port);
  g_assert_cmpint (value (body, "spoolgate_deliveries_total{result=\"deferred\"}"), >=, 1);
  g_assert_cmpint (value (body, "spoolgate_queue_bytes{state=\"deferred\"}"), >, 0);

  /* the oldest waiting message's age, read from its metadata */
  const char *oldest = "spoolgate_queue_oldest_seconds";
  craft (&f.s, id, an_hour_old);
  g_assert_true (wait_at_least (f.port, oldest, 3600));

  /* the runner retries every second and holds the message's lock meanwhile */
  hold_retrying (&f.s, id);
  g_assert_true (wait_value (f.port, held, 1));
  g_assert_true (wait_value (f.port, deferred, 0));
  g_assert_true (wait_value (f.port, oldest, 0));   /* held mail waits for no delivery */

  g_autofree char *dump = g_build_filename (f.s.dir, "sink", NULL);
  GSubprocess *sink = sg_test_smtp_sink (sink_port, dump, "root", NULL);
  g_assert_cmpint (sg (&f.s, NULL, NULL, "release", id, NULL), ==, 0);
  g_assert_true (wait_value (f.port, "spoolgate_deliveries_total{result=\"delivered\"}", 1));
  for (guint i = 0; i < 5; i++)
    {
      static const char *const states[] = { "queued", "deferred", "held", "delivered", "failed" };
      g_autofree char *sample = g_strdup_printf ("spoolgate_queue_messages{state=\"%s\"}", states[i]);
      g_assert_true (wait_value (f.port, sample, 0));
    }
  g_assert_true (wait_value (f.port, oldest, 0));
  g_autofree char *log = sg_test_server_log (&f.s);
  g_autofree char *sent = g_strdup_printf ("%s: to=<bob@example.org>, relay=127.0.0.1", id);
  g_assert_nonnull (strstr (log, sent));
  g_assert_nonnull (strstr (log, "status=sent (250 "));
  sg_test_stop_process (sink);
  sg_test_server_free (&f.s);
}

/* status_of - the status line of a response (transfer full). */
static char *
status_of (const char *resp)
{
  const char *eol = strstr (resp, "\r\n");
  return eol ? g_strndup (resp, eol - resp) : g_strdup (resp);
}

static void
test_bad_requests (void)
{
  static const struct { const char *request; const char *status; } cases[] = {
    { "GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found" },
    { "GET /metrics/../etc HTTP/1.0\r\n\r\n", "HTTP/1.1 404 Not Found" },
    { "POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", "HTTP/1.1 405 Method Not Allowed" },
    { "PUT /metrics HTTP/1.0\r\n\r\n", "HTTP/1.1 405 Method Not Allowed" },
    { "hello\r\n\r\n", "HTTP/1.1 400 Bad Request" },
    { "GET /metrics HTTP/9.9\r\n\r\n", "HTTP/1.1 400 Bad Request" },
    { "EHLO client.example\r\nMAIL FROM:<a@b>\r\n\r\n", "HTTP/1.1 400 Bad Request" },
    { "\x16\x03\x01\x02\xa5\x01\x02\x03\xa1\x03\x03\n\n", "HTTP/1.1 400 Bad Request" },
  };
  Fixture f;
  start (&f, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *resp = http_raw (f.port, cases[i].request, strlen (cases[i].request));
      g_autofree char *status = status_of (resp);
      if (strcmp (status, cases[i].status) != 0)
        g_error ("request %u: got \"%s\", want \"%s\"", i, status, cases[i].status);
      g_assert_nonnull (strstr (resp, "\r\nConnection: close\r\n"));
      if (strstr (status, " 405 "))
        g_assert_nonnull (strstr (resp, "\r\nAllow: GET, HEAD\r\n"));
    }

  /* HEAD: the headers of the scrape, no body */
  static const char head[] = "HEAD /metrics HTTP/1.0\r\n\r\n";
  g_autofree char *hresp = http_raw (f.port, head, strlen (head));
  g_assert_true (g_str_has_prefix (hresp, "HTTP/1.1 200 OK\r\n"));
  g_assert_true (g_str_has_suffix (hresp, "\r\n\r\n"));

  /* a request head over 8 KiB, with and without an end */
  GString *big = g_string_new ("GET /metrics HTTP/1.1\r\n");
  while (big->len < 9000)
    g_string_append (big, "X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
  g_autofree char *big_resp = http_raw (f.port, big->str, big->len);
  g_autofree char *big_status = status_of (big_resp);
  g_assert_cmpstr (big_status, ==, "HTTP/1.1 431 Request Header Fields Too Large");
  g_string_append (big, "\r\n");
  g_free (g_steal_pointer (&big_resp));
  big_resp = http_raw (f.port, big->str, big->len);
  g_free (g_steal_pointer (&big_status));
  big_status = status_of (big_resp);
  g_assert_cmpstr (big_status, ==, "HTTP/1.1 431 Request Header Fields Too Large");
  g_string_free (big, TRUE);

  /* NUL bytes in the head */
  static const char nul[] = "GET /metrics HTTP/1.1\r\nX: \0\0\r\n\r\n";
  g_autofree char *nresp = http_raw (f.port, nul, sizeof nul - 1);
  g_assert_true (g_str_has_prefix (nresp, "HTTP/1.1 400 "));

  /* one byte at a time still makes a request */
  static const char slow[] = "GET /metrics HTTP/1.1\r\n\r\n";
  g_autoptr(GSocketConnection) one = http_connect (f.port);
  for (gsize i = 0; i < strlen (slow); i++)
    {
      http_send (one, slow + i, 1);
      g_usleep (2000);   /* a sleep: the point is bytes arriving apart */
    }
  g_autofree char *oresp = http_read_all (one);
  g_assert_true (g_str_has_prefix (oresp, "HTTP/1.1 200 OK\r\n"));

  /* a client that sends half a request and waits does not block others */
  g_autoptr(GSocketConnection) stuck = http_connect (f.port);
  http_send (stuck, "GET /metr", 9);
  g_autofree char *body = scrape (f.port);
  g_assert_nonnull (strstr (body, "spoolgate_messages_accepted_total"));

  /* and the SMTP side still serves */
  g_autofree char *ok = send_message (f.s.port, GOOD);
  g_assert_true (g_str_has_prefix (ok, "250 "));
  g_assert_true (wait_value (f.port, "spoolgate_messages_accepted_total", 1));
  sg_test_server_free (&f.s);
}

/* wait_readable - whether conn has input (or EOF) within ms. */
static gboolean
wait_readable (GSocketConnection *conn, guint ms)
{
  GSocket *sock = g_socket_connection_get_socket (conn);
  g_autoptr(GError) error = NULL;
  g_socket_set_timeout (sock, 0);
  gboolean ready = g_socket_condition_timed_wait (sock, G_IO_IN, (gint64) ms * 1000, NULL, &error);
  g_socket_set_timeout (sock, HTTP_TIMEOUT_S);
  return ready;
}

static void
test_too_many (void)
{
  Fixture f;
  start (&f, NULL);
  /* fill every slot with a silent client: one more waits, unanswered */
  GSocketConnection *idle[MAX_SCRAPES];
  for (guint i = 0; i < MAX_SCRAPES; i++)
    idle[i] = http_connect (f.port);
  g_assert_true (sg_test_wait_accepted (f.port, WAIT_MS));   /* the endpoint took them all */
  static const char req[] = "GET /metrics HTTP/1.1\r\n\r\n";
  g_autoptr(GSocketConnection) extra = http_connect (f.port);
  http_send (extra, req, strlen (req));
  g_assert_false (wait_readable (extra, 500));
  /* the SMTP side does not care */
  g_autofree char *ok = send_message (f.s.port, GOOD);
  g_assert_true (g_str_has_prefix (ok, "250 "));
  /* one silent client leaves: the waiting one is served */
  g_object_unref (idle[0]);
  g_autofree char *resp = http_read_all (extra);
  g_assert_true (g_str_has_prefix (resp, "HTTP/1.1 200 OK\r\n"));
  for (guint i = 1; i < MAX_SCRAPES; i++)
    g_object_unref (idle[i]);
  g_autofree char *body = scrape (f.port);
  g_assert_cmpint (value (body, "spoolgate_messages_accepted_total"), ==, 1);
  sg_test_server_free (&f.s);
}

/* A client that connects and says nothing, or stops halfway, is closed
 * after the endpoint's deadline (10 s) without an answer. */
static void
test_timeout (void)
{
  Fixture f;
  start (&f, NULL);
  g_autoptr(GSocketConnection) silent = http_connect (f.port);
  g_autoptr(GSocketConnection) half = http_connect (f.port);
  http_send (half, "GET /metrics HTTP/1.1\r\nHost:", 29);
  gint64 t0 = g_get_monotonic_time ();
  g_assert_true (wait_readable (silent, 15000));
  g_assert_true (wait_readable (half, 2000));
  gint64 waited_ms = (g_get_monotonic_time () - t0) / 1000;
  g_assert_cmpint (waited_ms, >=, 9000);
  g_autofree char *a = http_read_all (silent);
  g_autofree char *b = http_read_all (half);
  g_assert_cmpstr (a, ==, "");
  g_assert_cmpstr (b, ==, "");
  g_autofree char *body = scrape (f.port);
  g_assert_nonnull (strstr (body, "spoolgate_sessions_open"));
  sg_test_server_free (&f.s);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/metrics/counts", test_counts);
  g_test_add_func ("/metrics/refused", test_refused);
  g_test_add_func ("/metrics/queue", test_queue);
  g_test_add_func ("/metrics/http/bad-requests", test_bad_requests);
  g_test_add_func ("/metrics/http/too-many", test_too_many);
  g_test_add_func ("/metrics/http/timeout", test_timeout);
  return g_test_run ();
}
