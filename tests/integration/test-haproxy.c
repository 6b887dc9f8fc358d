/* test-haproxy.c - spoolgate behind HAProxy with the PROXY protocol: two
 * real instances, each with its own spool, behind a real haproxy (mode tcp,
 * round robin, one backend with send-proxy-v2 and one with send-proxy, SMTP
 * banner health checks), clients bound to 127.0.0.2; then what a PROXY
 * listener does with a silent, garbled, untrusted or refused peer, and that
 * access and rate limits apply to the client the header names. The haproxy
 * tests skip when haproxy is not installed. */
#include "harness.h"

#include <json-glib/json-glib.h>
#include <string.h>

#define CLIENT      "127.0.0.2"   /* the client address haproxy must pass on */
#define UP_WAIT_MS  20000
#define MESSAGES    6

/* One haproxy in the foreground (-db), dying with the test. */
typedef struct {
  char        *dir;
  char        *cfg;
  char        *sock;   /* stats socket: readiness and server states */
  char        *log;    /* its stdout and stderr */
  guint16      port;   /* the frontend */
  GSubprocess *proc;
} Haproxy;

/* A backend: an instance and how haproxy sends it the PROXY header. */
typedef struct {
  SgTestServer *server;
  const char   *send_proxy;   /* "send-proxy-v2" or "send-proxy" */
} Backend;

static const char *
haproxy_path (void)
{
  static char *path;
  if (!path)
    path = g_find_program_in_path ("haproxy");
  if (!path && g_file_test ("/usr/sbin/haproxy", G_FILE_TEST_IS_EXECUTABLE))
    path = g_strdup ("/usr/sbin/haproxy");
  return path;
}

/* have_haproxy - else skip the test. */
static gboolean
have_haproxy (void)
{
  if (haproxy_path ())
    return TRUE;
  g_test_skip ("haproxy is not installed (apt-get install haproxy): PROXY protocol "
               "through a real load balancer not tested");
  return FALSE;
}

/* stats - the CSV of "show stat" from the stats socket; NULL if not up yet. */
static char *
stats (Haproxy *h)
{
  g_autoptr(GSocketClient) sc = g_socket_client_new ();
  g_autoptr(GSocketAddress) addr = g_unix_socket_address_new (h->sock);
  g_autoptr(GSocketConnection) conn = g_socket_client_connect (sc, G_SOCKET_CONNECTABLE (addr), NULL, NULL);
  if (!conn)
    return NULL;
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
  if (!g_output_stream_write_all (out, "show stat\n", 10, NULL, NULL, NULL))
    return NULL;
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (conn));
  g_autoptr(GString) text = g_string_new (NULL);
  char buf[4096];
  gssize n;
  while ((n = g_input_stream_read (in, buf, sizeof buf, NULL, NULL)) > 0)
    g_string_append_len (text, buf, n);
  return g_string_free (g_steal_pointer (&text), FALSE);
}

/* all_up - every server of backend "spoolgate" UP after a passed SMTP check. */
static gboolean
all_up (const char *csv, guint want)
{
  g_auto(GStrv) lines = g_strsplit (csv, "\n", -1);
  if (!lines[0] || !g_str_has_prefix (lines[0], "# "))
    return FALSE;
  g_auto(GStrv) head = g_strsplit (lines[0] + 2, ",", -1);
  int status = -1, check = -1;
  for (int i = 0; head[i]; i++)
    if (strcmp (head[i], "status") == 0)
      status = i;
    else if (strcmp (head[i], "check_status") == 0)
      check = i;
  g_assert_cmpint (status, >=, 0);
  g_assert_cmpint (check, >=, 0);
  guint up = 0;
  for (int l = 1; lines[l]; l++)
    {
      g_auto(GStrv) f = g_strsplit (lines[l], ",", -1);
      if (g_strv_length (f) <= (guint) MAX (status, check) || strcmp (f[0], "spoolgate") != 0
          || strcmp (f[1], "BACKEND") == 0)
        continue;
      if (strcmp (f[status], "UP") != 0 || strcmp (f[check], "L7OK") != 0)
        return FALSE;
      up++;
    }
  return up == want;
}

typedef struct {
  Haproxy *h;
  guint    n;
} Up;

static gboolean
backends_up (gpointer data)
{
  Up *up = data;
  g_autofree char *csv = stats (up->h);
  return csv && all_up (csv, up->n);
}

/* haproxy_start - haproxy in front of the backends, once every one of them
 * has passed a health check. */
static void
haproxy_start (Haproxy *h, const Backend *backends, guint n)
{
  memset (h, 0, sizeof *h);
  h->dir = g_dir_make_tmp ("sg-haproxy-XXXXXX", NULL);
  g_assert_nonnull (h->dir);
  h->cfg = g_build_filename (h->dir, "haproxy.cfg", NULL);
  h->sock = g_build_filename (h->dir, "stats.sock", NULL);
  h->log = g_build_filename (h->dir, "haproxy.log", NULL);
  h->port = sg_test_free_port ();

  /* The deployment of doc/deployment-haproxy.md, on loopback. */
  g_autoptr(GString) cfg = g_string_new (NULL);
  g_string_append_printf (cfg,
    "global\n"
    "    nbthread 1\n"
    "    log stderr format short local0 info\n"
    "    stats socket %s mode 600 level user\n"
    "defaults\n"
    "    mode tcp\n"
    "    log global\n"
    "    option tcplog\n"
    "    timeout connect 5s\n"
    "    timeout check 5s\n"
    "    timeout client 15m\n"
    "    timeout server 15m\n"
    "frontend smtp\n"
    "    bind 127.0.0.1:%u\n"
    "    default_backend spoolgate\n"
    "backend spoolgate\n"
    "    balance roundrobin\n"
    "    option tcp-check\n"
    "    tcp-check expect rstring ^220\n"
    "    tcp-check send QUIT\\r\\n\n"
    "    tcp-check expect rstring ^221\n", h->sock, h->port);
  for (guint i = 0; i < n; i++)
    g_string_append_printf (cfg, "    server sg%u 127.0.0.1:%u %s check inter 500ms rise 1 fall 2\n",
                            i + 1, backends[i].server->port, backends[i].send_proxy);
  g_assert_true (g_file_set_contents (h->cfg, cfg->str, -1, NULL));

  const char *argv[] = { haproxy_path (), "-db", "-f", h->cfg, NULL };
  h->proc = sg_test_spawn (argv, h->log);
  Up up = { h, n };
  if (sg_test_wait_until (backends_up, &up, UP_WAIT_MS, "haproxy's %u backends up", n))
    return;
  g_autofree char *log = sg_test_read_file (h->log, NULL);
  g_autofree char *csv = stats (h);
  g_error ("haproxy backends not all up; haproxy log:\n%s\nstats:\n%s", log, csv ? csv : "(none)");
}

static void
haproxy_free (Haproxy *h)
{
  sg_test_stop_process (h->proc);   /* SIGTERM: haproxy's immediate stop */
  const char *argv[] = { "rm", "-rf", h->dir, NULL };
  if (!g_test_failed ())
    sg_test_run (argv, NULL, NULL);
  else
    g_test_message ("keeping %s for inspection", h->dir);
  g_free (h->dir);
  g_free (h->cfg);
  g_free (h->sock);
  g_free (h->log);
}

/* proxy_server - an instance with proxy_protocol on and extra config lines. */
static void
proxy_server (SgTestServer *s, const char *server_extra, const char *more_groups)
{
  g_autofree char *cfg = g_strdup_printf ("[server]\nproxy_protocol = true\n%s%s",
                                          server_extra ? server_extra : "",
                                          more_groups ? more_groups : "");
  sg_test_server_start (s, cfg);
  /* The harness's readiness probe connected and sent no header: that line
   * is expected once and not counted against what follows. */
  g_assert_true (sg_test_wait_log (s, "before the PROXY header", 1, 10000));
}

/* log_since - the log after the first mark bytes (transfer full). */
static char *
log_since (SgTestServer *s, gsize mark)
{
  g_autofree char *log = sg_test_server_log (s);
  return g_strdup (strlen (log) > mark ? log + mark : "");
}

static gsize
log_mark (SgTestServer *s)
{
  g_autofree char *log = sg_test_server_log (s);
  return strlen (log);
}

/* greeting_from - connect from source and return the first reply, NULL at EOF. */
static char *
greeting_from (const char *source, guint16 port)
{
  SgTestClient *c = sg_test_client_open (source, port);
  g_assert_nonnull (c);
  char *g = sg_test_client_reply (c);
  sg_test_client_free (c);
  return g;
}

/* send_from - one message from source through port; the queue ID (transfer full). */
static char *
send_from (const char *source, guint16 port, guint i)
{
  SgTestClient *c = sg_test_client_open (source, port);
  g_assert_nonnull (c);
  g_autofree char *g = sg_test_client_reply (c);
  g_assert_nonnull (g);
  g_assert_true (g_str_has_prefix (g, "220 "));
  g_autofree char *e = sg_test_client_command (c, "EHLO client.example");
  g_autofree char *m = sg_test_client_command (c, "MAIL FROM:<alice@example.com>");
  g_autofree char *r = sg_test_client_command (c, "RCPT TO:<bob@example.org>");
  g_autofree char *d = sg_test_client_command (c, "DATA");
  g_assert_true (g_str_has_prefix (d, "354 "));
  g_autofree char *body = g_strdup_printf (
    "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\n"
    "From: Alice <alice@example.com>\r\n"
    "To: bob@example.org\r\n"
    "Subject: through haproxy %u\r\n"
    "Message-ID: <haproxy%u@example.com>\r\n"
    "\r\n"
    "Hello %u.\r\n.\r\n", i, i, i);
  sg_test_client_send (c, body, -1);
  g_autofree char *reply = sg_test_client_reply (c);
  g_autofree char *q = sg_test_client_command (c, "QUIT");
  sg_test_client_free (c);
  g_assert_nonnull (reply);
  const char *id = strstr (reply, "queued as ");
  if (!g_str_has_prefix (reply, "250 ") || !id)
    g_error ("message %u not queued: %s", i, reply);
  return g_strdup (id + strlen ("queued as "));
}

/* check_spool - every message of s names CLIENT in its metadata and its
 * Received header; returns how many there are. */
static guint
check_spool (SgTestServer *s)
{
  g_autoptr(GPtrArray) ids = sg_test_spool_ids (s);
  for (guint i = 0; i < ids->len; i++)
    {
      const char *id = g_ptr_array_index (ids, i);
      g_autofree char *json_name = g_strdup_printf ("%s.json", id);
      g_autofree char *eml_name = g_strdup_printf ("%s.eml", id);
      g_autofree char *json_path = g_build_filename (s->spool, "queue", json_name, NULL);
      g_autofree char *eml_path = g_build_filename (s->spool, "queue", eml_name, NULL);
      g_autoptr(JsonParser) parser = json_parser_new ();
      g_autoptr(GError) error = NULL;
      g_assert_true (json_parser_load_from_file (parser, json_path, &error));
      g_assert_no_error (error);
      JsonObject *meta = json_node_get_object (json_parser_get_root (parser));
      g_assert_cmpstr (json_object_get_string_member (meta, "client_address"), ==, CLIENT);
      g_assert_cmpint (json_object_get_int_member (meta, "client_port"), >, 0);
      g_autofree char *eml = sg_test_read_file (eml_path, NULL);
      g_assert_true (g_str_has_prefix (eml, "Received: from client.example ([" CLIENT "])\r\n"));
    }
  return ids->len;
}

/* assert_quiet - no trouble with PROXY headers or anything else in text. */
static void
assert_quiet (const char *text)
{
  static const char *const bad[] = {
    "bad PROXY header", "before the PROXY header", "timeout", "proxy_trusted",
    ": warning: ", ": error: ",
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    if (strstr (text, bad[i]))
      g_error ("unexpected \"%s\" in the log:\n%s", bad[i], text);
}

/* /haproxy/round-robin - mail through haproxy reaches both instances, with
 * the client's address everywhere; health checks cause no errors and no mail. */
static void
test_round_robin (void)
{
  if (!have_haproxy ())
    return;
  SgTestServer a, b;
  proxy_server (&a, NULL, NULL);
  proxy_server (&b, NULL, NULL);
  gsize mark_a = log_mark (&a), mark_b = log_mark (&b);
  Backend backends[] = { { &a, "send-proxy-v2" }, { &b, "send-proxy" } };
  Haproxy h;
  haproxy_start (&h, backends, G_N_ELEMENTS (backends));

  for (guint i = 0; i < MESSAGES; i++)
    {
      g_autofree char *id = send_from (CLIENT, h.port, i);
      g_assert_nonnull (id);
    }
  guint na = check_spool (&a), nb = check_spool (&b);
  g_test_message ("instance a took %u, instance b %u", na, nb);
  g_assert_cmpuint (na, >=, 1);
  g_assert_cmpuint (nb, >=, 1);
  g_assert_cmpuint (na + nb, ==, MESSAGES);   /* nothing from the health checks */

  /* two more health checks on each (nothing else connects now), then look
   * at the logs */
  g_autofree char *now_a = sg_test_server_log (&a), *now_b = sg_test_server_log (&b);
  g_assert_true (sg_test_wait_log (&a, "disconnect from", sg_test_count (now_a, "disconnect from") + 2,
                                   UP_WAIT_MS));
  g_assert_true (sg_test_wait_log (&b, "disconnect from", sg_test_count (now_b, "disconnect from") + 2,
                                   UP_WAIT_MS));
  g_autofree char *csv = stats (&h);
  g_assert_nonnull (csv);
  g_assert_true (all_up (csv, 2));
  g_autofree char *log_a = log_since (&a, mark_a);
  g_autofree char *log_b = log_since (&b, mark_b);
  g_autofree char *hlog = sg_test_read_file (h.log, NULL);
  assert_quiet (log_a);
  assert_quiet (log_b);
  g_assert_null (strstr (hlog, " is DOWN"));
  g_assert_cmpuint (sg_test_count (log_a, ": connect from unknown[" CLIENT "] via proxy") + sg_test_count (log_b, ": connect from unknown[" CLIENT "] via proxy"),
                    ==, MESSAGES);
  g_assert_cmpuint (sg_test_count (log_a, "via proxy [127.0.0.1]") + sg_test_count (log_b, "via proxy [127.0.0.1]"),
                    >=, MESSAGES);
  g_assert_nonnull (strstr (log_a, "client=unknown[" CLIENT "]\n"));
  g_assert_nonnull (strstr (log_b, "client=unknown[" CLIENT "]\n"));
  /* v2 health checks are LOCAL: the proxy speaks for itself */
  g_assert_nonnull (strstr (log_a, "connect from unknown[127.0.0.1] (the proxy"));
  g_assert_nonnull (strstr (log_a, "(the proxy's own connection"));
  /* v1 health checks name the check's own addresses */
  g_assert_nonnull (strstr (log_b, "connect from unknown[127.0.0.1]"));
  /* and haproxy's own log saw the real client */
  g_assert_nonnull (strstr (hlog, CLIENT ":"));

  haproxy_free (&h);
  sg_test_server_free (&a);
  sg_test_server_free (&b);
}

/* /haproxy/access - [access] allowed_networks applies to the client named
 * in the header, not to haproxy's address. */
static void
test_access (void)
{
  if (!have_haproxy ())
    return;
  SgTestServer s;
  proxy_server (&s, NULL, "[access]\nallowed_networks = 127.0.0.1/32\n");
  Backend backends[] = { { &s, "send-proxy-v2" } };
  Haproxy h;
  haproxy_start (&h, backends, 1);
  g_autofree char *refused = greeting_from (CLIENT, h.port);
  g_assert_nonnull (refused);
  g_assert_true (g_str_has_prefix (refused, "554 5.7.1 "));
  g_autofree char *welcome = greeting_from ("127.0.0.1", h.port);
  g_assert_nonnull (welcome);
  g_assert_true (g_str_has_prefix (welcome, "220 "));
  g_assert_true (sg_test_wait_log (&s, "NOQUEUE: reject: CONNECT from unknown[" CLIENT "]: 554 5.7.1", 1, 5000));
  haproxy_free (&h);
  sg_test_server_free (&s);
}

/* /haproxy/rate-per-client - connection_rate_per_ip counts each client the
 * header names, not the proxy they all come through, and the proxy's own
 * health checks (LOCAL) are not counted at all. */
static void
test_rate_per_client (void)
{
  if (!have_haproxy ())
    return;
  SgTestServer s;
  proxy_server (&s, NULL, "[limits]\nconnection_rate_per_ip = 2\n");
  Backend backends[] = { { &s, "send-proxy-v2" } };
  Haproxy h;
  haproxy_start (&h, backends, 1);
  for (int i = 0; i < 2; i++)
    {
      g_autofree char *g = greeting_from (CLIENT, h.port);
      g_assert_nonnull (g);
      g_assert_true (g_str_has_prefix (g, "220 "));
    }
  g_autofree char *third = greeting_from (CLIENT, h.port);
  g_assert_nonnull (third);
  g_assert_true (g_str_has_prefix (third, "421 4.7.0 "));
  g_autofree char *other = greeting_from ("127.0.0.3", h.port);
  g_assert_nonnull (other);
  g_assert_true (g_str_has_prefix (other, "220 "));
  /* more than 2 health checks a minute (its own connections, admitted),
   * and the backend stays up */
  g_assert_true (sg_test_wait_log (&s, "(the proxy's own connection", 4, UP_WAIT_MS));
  g_autofree char *csv = stats (&h);
  g_assert_true (all_up (csv, 1));
  g_autofree char *log = sg_test_server_log (&s);
  g_assert_nonnull (strstr (log, "NOQUEUE: reject: CONNECT from unknown[" CLIENT "]: 421 4.7.0 more than 2 connections"));
  haproxy_free (&h);
  sg_test_server_free (&s);
}

/* /proxy/no-header - a trusted peer that sends nothing gets nothing, and is
 * closed after proxy_timeout; one that sends SMTP instead is closed at once. */
static void
test_no_header (void)
{
  SgTestServer s;
  proxy_server (&s, "proxy_timeout = 1\n", NULL);
  gsize mark = log_mark (&s);

  gint64 start = g_get_monotonic_time ();
  g_autofree char *silent = greeting_from (NULL, s.port);
  gint64 waited_ms = (g_get_monotonic_time () - start) / 1000;
  g_assert_null (silent);
  g_assert_cmpint (waited_ms, >=, 900);
  g_assert_cmpint (waited_ms, <, 10000);
  g_assert_true (sg_test_wait_log (&s, "timeout waiting for the PROXY header from unknown[127.0.0.1]:", 1, 5000));

  SgTestClient *c = sg_test_client_open (NULL, s.port);
  g_assert_nonnull (c);
  sg_test_client_send (c, "EHLO client.example\r\n", -1);
  g_autofree char *garbled = sg_test_client_reply (c);
  g_assert_null (garbled);
  sg_test_client_free (c);
  g_assert_true (sg_test_wait_log (&s, "bad PROXY header from unknown[127.0.0.1]:", 1, 5000));

  /* half a header, then silence */
  c = sg_test_client_open (NULL, s.port);
  g_assert_nonnull (c);
  sg_test_client_send (c, "PROXY TCP4 192.0.2.", -1);
  g_autofree char *half = sg_test_client_reply (c);
  g_assert_null (half);
  sg_test_client_free (c);
  g_assert_true (sg_test_wait_log (&s, "timeout waiting for the PROXY header", 2, 5000));

  /* a good header straight from a trusted peer, with SMTP in the same
   * segment: the named client is checked (192.0.2.9 is not allowed) ... */
  c = sg_test_client_open (NULL, s.port);
  g_assert_nonnull (c);
  sg_test_client_send (c, "PROXY TCP4 192.0.2.9 127.0.0.1 5555 25\r\nEHLO x\r\n", -1);
  g_autofree char *denied = sg_test_client_reply (c);
  g_assert_nonnull (denied);
  g_assert_true (g_str_has_prefix (denied, "554 5.7.1 "));
  sg_test_client_free (c);
  /* ... and a welcome one gets the greeting, then its pipelined EHLO answered */
  c = sg_test_client_open (NULL, s.port);
  g_assert_nonnull (c);
  sg_test_client_send (c, "PROXY TCP4 127.0.0.9 127.0.0.1 5555 25\r\nEHLO x\r\n", -1);
  g_autofree char *hello = sg_test_client_reply (c);
  g_autofree char *ehlo = sg_test_client_reply (c);
  g_assert_true (g_str_has_prefix (hello, "220 "));
  g_assert_true (g_str_has_prefix (ehlo, "250-"));
  sg_test_client_free (c);
  g_assert_true (sg_test_wait_log (&s, "connect from unknown[127.0.0.9] via proxy [127.0.0.1]", 1, 5000));

  g_autoptr(GPtrArray) files = sg_test_spool_files (&s);
  g_assert_cmpuint (files->len, ==, 0);
  g_autofree char *log = log_since (&s, mark);
  g_assert_null (strstr (log, "connect from unknown[127.0.0.1]"));   /* no session for the bad ones */
  sg_test_server_free (&s);
}

/* /proxy/untrusted - with proxy_protocol on, a peer outside proxy_trusted
 * is closed at once, before a greeting, whatever header it sends. */
static void
test_untrusted (void)
{
  SgTestServer s;
  sg_test_server_start (&s, "[server]\nproxy_protocol = true\nproxy_trusted = 10.0.0.0/8\n");
  for (int spoof = 0; spoof < 2; spoof++)
    {
      SgTestClient *c = sg_test_client_open (NULL, s.port);
      g_assert_nonnull (c);
      if (spoof)   /* may race the close; what matters is what comes back */
        g_output_stream_write_all (c->out, "PROXY TCP4 127.0.0.9 127.0.0.1 5555 25\r\n", 40,
                                   NULL, NULL, NULL);
      g_autofree char *g = sg_test_client_reply (c);
      g_assert_null (g);
      sg_test_client_free (c);
    }
  /* the harness's readiness probe was the first */
  g_assert_true (sg_test_wait_log (&s, "not in [server] proxy_trusted", 3, 5000));
  g_autofree char *log = sg_test_server_log (&s);
  g_assert_cmpuint (sg_test_count (log, "connect from unknown[127.0.0.1]: refused: not in [server] proxy_trusted"), ==, 3);
  g_assert_null (strstr (log, "127.0.0.9"));
  g_assert_null (strstr (log, "disconnect"));   /* no session was ever started */
  sg_test_server_free (&s);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/haproxy/round-robin", test_round_robin);
  g_test_add_func ("/haproxy/access", test_access);
  g_test_add_func ("/haproxy/rate-per-client", test_rate_per_client);
  g_test_add_func ("/proxy/no-header", test_no_header);
  g_test_add_func ("/proxy/untrusted", test_untrusted);
  return g_test_run ();
}
