/* test-edge.c - issue 22, an edge MX that refuses at RCPT what cannot be
 * delivered: [access] recipient_maps, sender_access and recipient_access;
 * address verification against independent next hops (python3-aiosmtpd
 * through tests/tools/smarthost.py, a real Postfix with its own relay
 * recipient table, a port nobody listens on, a listener that never
 * greets); the hard error limit against a client guessing addresses; the
 * NOQUEUE log line; tables that are bad at start and at reload. */
#include "harness.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define WAIT_MS  30000   /* generous bound for anything to happen */

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgTestClient, sg_test_client_free)

static const char *const BODY =
  "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\n"
  "From: Sender <s@client.example>\r\n"
  "To: alice@example.org\r\n"
  "Subject: edge test\r\n"
  "Message-ID: <edge1@client.example>\r\n"
  "\r\n"
  "Hello.\r\n";

/* One test's world: spoolgate, maybe a next hop, and files. */
typedef struct {
  SgTestServer s;
  char        *dir;     /* tables, next-hop records */
  char        *out;     /* what the next hop recorded */
  guint16      hop;     /* next hop port */
  GSubprocess *nh;      /* (nullable) the next hop */
  gboolean     started;
} Edge;

static void
edge_init (Edge *e)
{
  memset (e, 0, sizeof *e);
  e->dir = g_dir_make_tmp ("sg-edge-XXXXXX", NULL);
  g_assert_nonnull (e->dir);
  e->out = g_build_filename (e->dir, "out", NULL);
  e->hop = sg_test_free_port ();
}

static void
edge_free (Edge *e)
{
  if (e->started)
    {
      if (g_test_failed ())
        {
          g_autofree char *log = sg_test_server_log (&e->s);
          g_test_message ("server log:\n%s", log);
        }
      sg_test_server_free (&e->s);
    }
  sg_test_stop_process (e->nh);
  if (!g_test_failed ())
    {
      const char *argv[] = { "rm", "-rf", e->dir, NULL };
      sg_test_run (argv, NULL, NULL);
    }
  g_free (e->dir);
  g_free (e->out);
}

/* file - write text to dir/name; the path (transfer full). */
static char *
file (Edge *e, const char *name, const char *text)
{
  char *path = g_build_filename (e->dir, name, NULL);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  return path;
}

static void next_hop_delayed (Edge *e, const char *const *known, const char *delay);

/* next_hop - smarthost.py on e->hop knowing exactly the users in known. */
static void
next_hop (Edge *e, const char *const *known)
{
  next_hop_delayed (e, known, NULL);
}

/* next_hop_delayed - the same, answering each RCPT delay seconds late (nullable). */
static void
next_hop_delayed (Edge *e, const char *const *known, const char *delay)
{
  g_autofree char *log = g_build_filename (e->dir, "nexthop.log", NULL);
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  for (guint i = 0; known && known[i]; i++)
    {
      g_ptr_array_add (args, "--known");
      g_ptr_array_add (args, (gpointer) known[i]);
    }
  if (delay)
    {
      g_ptr_array_add (args, "--rcpt-delay");
      g_ptr_array_add (args, (gpointer) delay);
    }
  g_ptr_array_add (args, NULL);
  e->nh = sg_test_smarthost (e->hop, e->out, log, (const char *const *) args->pdata);
}

/* probes - RCPT commands the next hop has seen: each is one probe or one
 * delivery's recipient. */
static guint
rcpts_seen (Edge *e)
{
  g_autofree char *path = g_build_filename (e->out, "events.jsonl", NULL);
  g_autofree char *text = sg_test_read_file (path, NULL);
  guint n = 0;
  for (const char *p = text; (p = strstr (p, "\"cmd\": \"RCPT\"")); p++)
    n++;
  return n;
}

/* send_body - DATA with BODY on c, whose RCPTs are accepted: the queue ID
 * of the 250 (transfer full). */
static char *
send_body (SgTestClient *c)
{
  g_autofree char *data = sg_test_client_command (c, "DATA");
  g_assert_true (g_str_has_prefix (data, "354"));
  g_autofree char *msg = g_strconcat (BODY, ".\r\n", NULL);
  sg_test_client_send (c, msg, -1);
  g_autofree char *queued = sg_test_client_reply (c);
  g_assert_true (g_str_has_prefix (queued, "250 2.0.0 Ok: queued as "));
  return g_strdup (queued + strlen ("250 2.0.0 Ok: queued as "));
}

/* hop_never_greets - a next hop that listens and never accepts: the
 * kernel completes each handshake, and no greeting ever comes. */
static GSocketListener *
hop_never_greets (Edge *e)
{
  GSocketListener *l = g_socket_listener_new ();
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) sa = g_inet_socket_address_new (lo, e->hop);
  g_autoptr(GError) error = NULL;
  g_socket_listener_add_address (l, sa, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL, NULL, &error);
  g_assert_no_error (error);
  return l;
}

/* start - spoolgate with extra config (an [access] group first). */
static void
start (Edge *e, const char *conf)
{
  sg_test_server_start (&e->s, conf);
  e->started = TRUE;
}

/* session - a client greeted with EHLO and with MAIL FROM:<sender> accepted. */
static SgTestClient *
session (Edge *e, const char *sender)
{
  g_autofree char *greeting = NULL;
  SgTestClient *c = sg_test_client_connect (e->s.port, &greeting);
  g_autofree char *ehlo = sg_test_client_command (c, "EHLO client.example");
  g_assert_true (g_str_has_prefix (ehlo, "250"));
  g_autofree char *line = g_strdup_printf ("MAIL FROM:<%s>", sender);
  g_autofree char *mail = sg_test_client_command (c, line);
  g_assert_cmpstr (mail, ==, "250 2.1.0 Sender OK");
  return c;
}

/* rcpt - the reply to RCPT TO:<address> (transfer full). */
static char *
rcpt (SgTestClient *c, const char *address)
{
  g_autofree char *line = g_strdup_printf ("RCPT TO:<%s>", address);
  return sg_test_client_command (c, line);
}

/* expect - reply equals want, or fail with both. */
static void
expect (SgTestClient *c, const char *address, const char *want)
{
  g_autofree char *got = rcpt (c, address);
  if (g_strcmp0 (got, want) != 0)
    g_error ("RCPT TO:<%s>: got \"%s\", want \"%s\"", address, got ? got : "(closed)", want);
}

/* expect_prefix - reply starts with want. */
static void
expect_prefix (SgTestClient *c, const char *address, const char *want)
{
  g_autofree char *got = rcpt (c, address);
  if (!got || !g_str_has_prefix (got, want))
    g_error ("RCPT TO:<%s>: got \"%s\", want \"%s...\"", address, got ? got : "(closed)", want);
}

/* metrics - GET /metrics from the server's metrics port (transfer full). */
static char *
metrics (guint16 port)
{
  g_autoptr(GSocketClient) sc = g_socket_client_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnection) conn = g_socket_client_connect_to_host (sc, "127.0.0.1", port, NULL, &error);
  g_assert_no_error (error);
  const char *req = "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n";
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)), req, strlen (req),
                             NULL, NULL, &error);
  g_assert_no_error (error);
  GString *body = g_string_new (NULL);
  char buf[4096];
  gssize n;
  while ((n = g_input_stream_read (g_io_stream_get_input_stream (G_IO_STREAM (conn)), buf, sizeof buf,
                                   NULL, NULL)) > 0)
    g_string_append_len (body, buf, n);
  return g_string_free (body, FALSE);
}

/* test_tables - recipient_maps, recipient_access, sender_access: each
 * reply, the NOQUEUE line, the counter, and a HOLD that spools held. */
static void
test_tables (void)
{
  Edge e;
  edge_init (&e);
  g_autofree char *maps = file (&e, "recipients", "# who exists\nalice@example.org\nheld@example.org\n"
                                "blocked@example.org\n@example.net\n");
  g_autofree char *raccess = file (&e, "recipient_access",
                                   "blocked@example.org REJECT this mailbox is closed\n"
                                   "held@example.org HOLD look first\n"
                                   "busy.example.net DEFER\n"
                                   "vip@example.com OK\n");
  g_autofree char *saccess = file (&e, "sender_access", "spammer@bad.example REJECT go away\n");
  guint16 mport = sg_test_free_port ();
  g_autofree char *conf = g_strdup_printf (
    "[server]\nhostname = mx.example\n[metrics]\nlisten = 127.0.0.1:%u\n"
    "[access]\nallowed_networks = 10.0.0.0/8\naccepted_domains = example.org, example.net, busy.example.net\n"
    "recipient_maps = %s\nrecipient_access = %s\nsender_access = %s\n", mport, maps, raccess, saccess);
  start (&e, conf);

  g_autoptr(SgTestClient) c = session (&e, "s@client.example");
  expect (c, "alice@example.org", "250 2.1.5 Recipient OK");
  expect (c, "ALICE@Example.Org", "250 2.1.5 Recipient OK (duplicate)");
  expect (c, "nosuchuser@example.org", "550 5.1.1 <nosuchuser@example.org>: Recipient address rejected: "
          "User unknown in relay recipient table");
  expect (c, "anyone@example.net", "250 2.1.5 Recipient OK");
  expect (c, "blocked@example.org", "554 5.7.1 <blocked@example.org>: Recipient address rejected: "
          "this mailbox is closed");
  expect (c, "x@busy.example.net", "450 4.7.1 <x@busy.example.net>: Recipient address rejected: Access denied");
  expect (c, "held@example.org", "250 2.1.5 Recipient OK");
  /* outside accepted_domains from outside allowed_networks: still relay denied */
  expect (c, "vip@example.com", "550 5.7.1 Relay access denied");
  g_autofree char *id = send_body (c);
  /* held: the HOLD of one recipient holds the message */
  g_autofree char *meta_path = sg_test_queue_file (&e.s, id, ".json");
  g_autofree char *meta = sg_test_read_file (meta_path, NULL);
  g_assert_nonnull (strstr (meta, "\"state\" : \"held\""));
  /* and stays so until an administrator releases it */
  const char *release[] = { sg_test_spoolgate (), "release", "--spool", e.s.spool,
                            id, NULL };
  g_autofree char *rel_out = NULL, *rel_err = NULL;
  g_assert_cmpint (sg_test_run (release, &rel_out, &rel_err), ==, 0);
  g_autofree char *released = sg_test_read_file (meta_path, NULL);
  g_assert_nonnull (strstr (released, "\"state\" : \"queued\""));

  g_autofree char *rset = sg_test_client_command (c, "RSET");
  g_autofree char *mail = sg_test_client_command (c, "MAIL FROM:<Spammer@bad.example>");
  g_assert_cmpstr (mail, ==, "250 2.1.0 Sender OK");
  expect (c, "alice@example.org", "554 5.7.1 <Spammer@bad.example>: Sender address rejected: go away");
  g_autofree char *quit = sg_test_client_command (c, "QUIT");

  sg_test_expect_log (&e.s, "NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 550 5.1.1 <nosuchuser@example.org>: "
            "Recipient address rejected: User unknown in relay recipient table; "
            "from=<s@client.example> to=<nosuchuser@example.org> proto=ESMTP helo=<client.example>", 1);
  sg_test_expect_log (&e.s, ": hold: RCPT from unknown[127.0.0.1]: <held@example.org>: Recipient address triggers "
            "HOLD action: look first; from=<s@client.example> to=<held@example.org>", 1);
  g_autofree char *m = metrics (mport);
  static const char *const counts[] = {
    "spoolgate_recipients_rejected_total{reason=\"unknown_user\"} 1\n",
    "spoolgate_recipients_rejected_total{reason=\"recipient_access\"} 2\n",
    "spoolgate_recipients_rejected_total{reason=\"sender_access\"} 1\n",
  };
  for (guint i = 0; i < G_N_ELEMENTS (counts); i++)
    if (!strstr (m, counts[i]))
      g_error ("no \"%s\" in:\n%s", counts[i], m);
  edge_free (&e);
}

/* test_guessing - a client guessing 60 addresses: every 550 counts, and
 * the 20th error ([limits] max_errors, Postfix's smtpd_hard_error_limit)
 * ends the session with 421 4.7.0. */
static void
test_guessing (void)
{
  Edge e;
  edge_init (&e);
  g_autofree char *maps = file (&e, "recipients", "alice@example.org\n");
  g_autofree char *conf = g_strdup_printf ("[server]\nhostname = mx.example\n"
                                           "[access]\naccepted_domains = example.org\nrecipient_maps = %s\n",
                                           maps);
  start (&e, conf);
  g_autoptr(SgTestClient) c = session (&e, "s@client.example");
  guint refused = 0;
  for (guint i = 0; i < 60 && refused < 20; i++)
    {
      g_autofree char *addr = g_strdup_printf ("guess%u@example.org", i);
      g_autofree char *r = rcpt (c, addr);
      g_assert_nonnull (r);
      g_assert_true (g_str_has_prefix (r, "550 5.1.1 "));
      refused++;
    }
  /* right after the 20th 550, unasked: 421, then the connection closes */
  g_autofree char *last = sg_test_client_reply (c);
  g_assert_nonnull (last);
  g_assert_true (g_str_has_prefix (last, "421 4.7.0 mx.example Error: too many errors"));
  g_autofree char *eof = sg_test_client_reply (c);
  g_assert_null (eof);
  edge_free (&e);
}

/* test_bad_table_at_start - the server does not start, naming file and line. */
static void
test_bad_table_at_start (void)
{
  Edge e;
  edge_init (&e);
  g_autofree char *maps = file (&e, "recipients", "alice@example.org\n# fine so far\nbob\n");
  g_autofree char *conf = g_strdup_printf ("[access]\naccepted_domains = example.org\nrecipient_maps = %s\n", maps);
  g_autofree char *conf_path = file (&e, "spoolgate.conf", conf);
  g_autofree char *spool = g_build_filename (e.dir, "spool", NULL);
  g_autofree char *listen = g_strdup_printf ("127.0.0.1:%u", sg_test_free_port ());
  const char *argv[] = { sg_test_spoolgate (), "serve", "--config", conf_path, "--spool", spool,
                         "--listen", listen, NULL };
  g_autofree char *out = NULL, *err = NULL;
  int status = sg_test_run (argv, &out, &err);
  g_assert_cmpint (status, !=, 0);
  g_autofree char *want = g_strdup_printf ("[access] recipient_maps: %s:3: \"bob\" is not an address or @domain", maps);
  if (!strstr (err, want))
    g_error ("want \"%s\" in:\n%s", want, err);
  edge_free (&e);
}

/* test_reload - SIGHUP rereads the tables; a bad one keeps the old one and says why. */
static void
test_reload (void)
{
  Edge e;
  edge_init (&e);
  g_autofree char *maps = file (&e, "recipients", "alice@example.org\n");
  g_autofree char *conf = g_strdup_printf ("[server]\nhostname = mx.example\n"
                                           "[access]\naccepted_domains = example.org\nrecipient_maps = %s\n",
                                           maps);
  start (&e, conf);
  g_free (file (&e, "recipients", "alice@example.org\nbob@example.org\nnot an address\n"));
  kill (atoi (g_subprocess_get_identifier (e.s.proc)), SIGHUP);
  g_autofree char *why = g_strdup_printf ("reload: [access] recipient_maps: %s:3: \"not\" is not an "
                                          "address or @domain; keeping the table read before", maps);
  sg_test_expect_log (&e.s, why, 1);
  {
    g_autoptr(SgTestClient) c = session (&e, "s@client.example");
    expect (c, "alice@example.org", "250 2.1.5 Recipient OK");
    expect_prefix (c, "bob@example.org", "550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown");
  }
  g_free (file (&e, "recipients", "alice@example.org\nbob@example.org\n"));
  kill (atoi (g_subprocess_get_identifier (e.s.proc)), SIGHUP);
  sg_test_expect_log (&e.s, "[access] recipient_maps: 2 entries from", 1);
  sg_test_expect_log (&e.s, "reloaded configuration", 2);
  g_autoptr(SgTestClient) c = session (&e, "s@client.example");
  expect (c, "bob@example.org", "250 2.1.5 Recipient OK");
  edge_free (&e);
}

/* verify_conf - spoolgate verifying with the next hop on port hop. */
static char *
verify_conf (guint16 hop, const char *extra)
{
  return g_strdup_printf ("[server]\nhostname = mx.example\n"
                          "[access]\nallowed_networks = 10.0.0.0/8\naccepted_domains = example.org\n"
                          "verify_recipients = yes\nverify_timeout = 3\n%s"
                          "[smarthost]\nhost = [127.0.0.1]:%u\ntls = none\n"
                          "[queue]\nmin_backoff = 1\nmax_backoff = 2\n", extra ? extra : "", hop);
}

/* test_verify - the aiosmtpd next hop knows alice and bob: each answer,
 * one probe per address however many RCPTs ask, the cache across a
 * restart, and a message to one known and one unknown recipient delivered
 * to the known one with no bounce. */
static void
test_verify (void)
{
  if (!sg_test_have_aiosmtpd ())
    return;
  Edge e;
  edge_init (&e);
  const char *known[] = { "alice@example.org", "bob@example.org", NULL };
  next_hop (&e, known);
  g_autofree char *conf = verify_conf (e.hop, NULL);
  start (&e, conf);
  {
    g_autoptr(SgTestClient) c = session (&e, "s@client.example");
    expect (c, "alice@example.org", "250 2.1.5 Recipient OK");
    expect (c, "nosuchuser@example.org", "550 5.1.1 <nosuchuser@example.org>: Recipient address rejected: "
            "undeliverable address: 550 5.1.1 No such user here");
    expect (c, "nosuchuser@example.org", "550 5.1.1 <nosuchuser@example.org>: Recipient address rejected: "
            "undeliverable address: 550 5.1.1 No such user here");
    /* one probe each, the cache answered the third */
    g_assert_cmpuint (rcpts_seen (&e), ==, 2);
    g_free (send_body (c));
  }
  /* delivered to alice only; nothing left to bounce */
  g_autofree char *rec = g_build_filename (e.out, "msg-001.json", NULL);
  g_assert_true (sg_test_wait_file (rec, WAIT_MS));
  g_autofree char *record = sg_test_read_file (rec, NULL);
  g_assert_nonnull (strstr (record, "\"rcpt_tos\": [\"alice@example.org\"]"));
  sg_test_expect_log (&e.s, "status=sent", 1);
  g_autoptr(GPtrArray) left = sg_test_spool_ids (&e.s);
  g_assert_cmpuint (left->len, ==, 0);
  g_autofree char *log = sg_test_server_log (&e.s);
  g_assert_null (strstr (log, "status=bounced"));
  g_autofree char *second = g_build_filename (e.out, "msg-002.json", NULL);
  g_assert_false (g_file_test (second, G_FILE_TEST_EXISTS));   /* no bounce went out */

  /* restart: the answers are still there, no new probe */
  guint before = rcpts_seen (&e);
  g_assert_cmpint (sg_test_server_stop (&e.s), ==, 0);
  sg_test_server_restart (&e.s);
  {
    g_autoptr(SgTestClient) c = session (&e, "s@client.example");
    expect_prefix (c, "nosuchuser@example.org", "550 5.1.1 <nosuchuser@example.org>: Recipient address "
                   "rejected: undeliverable address: 550 5.1.1 No such user here");
    expect (c, "alice@example.org", "250 2.1.5 Recipient OK");
  }
  g_assert_cmpuint (rcpts_seen (&e), ==, before);
  /* the CLI reads the same cache beside the running daemon */
  const char *argv[] = { sg_test_spoolgate (), "verify", "--json", "--spool", e.s.spool,
                         "nosuchuser@example.org", "alice@example.org", "carol@example.org", NULL };
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (sg_test_run (argv, &out, &err), ==, 0);
  g_assert_nonnull (strstr (out, "\"status\" : \"undeliverable\""));
  g_assert_nonnull (strstr (out, "\"status\" : \"deliverable\""));
  g_assert_nonnull (strstr (out, "\"status\" : \"unknown\""));
  g_assert_nonnull (strstr (out, "550 5.1.1 No such user here"));
  edge_free (&e);
}

/* test_probe_count - 1,000 RCPTs to 100 distinct unknown addresses make at
 * most 100 probes, under verify_probe_rate. */
static void
test_probe_count (void)
{
  if (!sg_test_have_aiosmtpd ())
    return;
  Edge e;
  edge_init (&e);
  const char *known[] = { "alice@example.org", NULL };
  next_hop (&e, known);
  g_autofree char *conf = verify_conf (e.hop, "verify_probe_rate = 20\n[limits]\nmax_errors = 100000\n");
  start (&e, conf);
  g_autoptr(SgTestClient) c = session (&e, "s@client.example");
  guint refused = 0, unverified = 0;
  for (guint i = 0; i < 1000; i++)
    {
      g_autofree char *addr = g_strdup_printf ("unknown%02u@example.org", i % 100);
      g_autofree char *r = rcpt (c, addr);
      g_assert_nonnull (r);
      refused += g_str_has_prefix (r, "550 5.1.1 ");
      unverified += g_str_has_prefix (r, "450 4.1.1 ");
    }
  guint probes = rcpts_seen (&e);
  g_test_message ("1000 RCPTs to 100 addresses: %u probes, %u x 550, %u x 450 (rate limit)",
                  probes, refused, unverified);
  g_assert_cmpuint (probes, <=, 100);
  g_assert_cmpuint (refused + unverified, ==, 1000);
  edge_free (&e);
}

/* test_probe_shared - RCPTs from three sessions for the same address while
 * its probe is in flight (the next hop takes 1 s to answer) wait for that
 * one probe and all get its answer. */
static void
test_probe_shared (void)
{
  if (!sg_test_have_aiosmtpd ())
    return;
  Edge e;
  edge_init (&e);
  const char *known[] = { "alice@example.org", NULL };
  next_hop_delayed (&e, known, "1");
  g_autofree char *conf = verify_conf (e.hop, NULL);
  start (&e, conf);
  SgTestClient *c[3];
  for (guint i = 0; i < 3; i++)
    c[i] = session (&e, "s@client.example");
  for (guint i = 0; i < 3; i++)   /* all three asked before the first answer can come */
    sg_test_client_send (c[i], "RCPT TO:<nosuchuser@example.org>\r\n", -1);
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *r = sg_test_client_reply (c[i]);
      g_assert_nonnull (r);
      g_assert_true (g_str_has_prefix (r, "550 5.1.1 <nosuchuser@example.org>: Recipient address "
                                          "rejected: undeliverable address: "));
      sg_test_client_free (c[i]);
    }
  g_assert_cmpuint (rcpts_seen (&e), ==, 1);
  edge_free (&e);
}

/* test_probe_rate - verify_probe_rate = 1 with verify_timeout = 1: a
 * probe may wait for its turn at most half a second, so of five new
 * addresses asked at once, some are answered 450 4.1.1 at once and never
 * probed. */
static void
test_probe_rate (void)
{
  if (!sg_test_have_aiosmtpd ())
    return;
  Edge e;
  edge_init (&e);
  const char *known[] = { "alice@example.org", NULL };
  next_hop (&e, known);
  g_autofree char *conf = g_strdup_printf ("[server]\nhostname = mx.example\n"
                                           "[access]\naccepted_domains = example.org\n"
                                           "verify_recipients = yes\nverify_timeout = 1\nverify_probe_rate = 1\n"
                                           "[smarthost]\nhost = [127.0.0.1]:%u\ntls = none\n", e.hop);
  start (&e, conf);
  g_autoptr(SgTestClient) c = session (&e, "s@client.example");
  sg_test_client_send (c, "RCPT TO:<new1@example.org>\r\nRCPT TO:<new2@example.org>\r\n"
                          "RCPT TO:<new3@example.org>\r\nRCPT TO:<new4@example.org>\r\n"
                          "RCPT TO:<new5@example.org>\r\n", -1);
  guint limited = 0, refused = 0;
  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *r = sg_test_client_reply (c);
      g_assert_nonnull (r);
      limited += strstr (r, "450 4.1.1 ") == r && strstr (r, "probe rate limit") != NULL;
      refused += g_str_has_prefix (r, "550 5.1.1 ");
    }
  g_assert_cmpuint (limited, >=, 1);
  g_assert_cmpuint (limited + refused, ==, 5);
  g_assert_cmpuint (rcpts_seen (&e), ==, refused);   /* a limited address was never probed */
  edge_free (&e);
}

/* test_next_hop_down - nobody listens: 450 4.1.1, nothing cached. */
static void
test_next_hop_down (void)
{
  Edge e;
  edge_init (&e);
  g_autofree char *conf = verify_conf (e.hop, NULL);
  start (&e, conf);
  g_autoptr(SgTestClient) c = session (&e, "s@client.example");
  expect_prefix (c, "alice@example.org", "450 4.1.1 <alice@example.org>: Recipient address rejected: "
                 "unverified address: ");
  edge_free (&e);
}

/* test_max_probes - verify_max_probes = 1 with a next hop that never
 * greets: of two new addresses asked at once from two sessions, one is
 * probed (450 after verify_timeout) and the other refused at once, never
 * probed. With the default bound both would be probed. */
static void
test_max_probes (void)
{
  Edge e;
  edge_init (&e);
  g_autoptr(GSocketListener) l = hop_never_greets (&e);
  g_autofree char *conf = g_strdup_printf ("[server]\nhostname = mx.example\n"
                                           "[access]\naccepted_domains = example.org\n"
                                           "verify_recipients = yes\nverify_timeout = 5\nverify_max_probes = 1\n"
                                           "[smarthost]\nhost = [127.0.0.1]:%u\ntls = none\n", e.hop);
  start (&e, conf);
  g_autoptr(SgTestClient) a = session (&e, "s@client.example");
  g_autoptr(SgTestClient) b = session (&e, "s@client.example");
  sg_test_client_send (a, "RCPT TO:<new1@example.org>\r\n", -1);
  sg_test_client_send (b, "RCPT TO:<new2@example.org>\r\n", -1);
  g_autofree char *ra = sg_test_client_reply (a);
  g_autofree char *rb = sg_test_client_reply (b);
  g_assert_nonnull (ra);
  g_assert_nonnull (rb);
  g_assert_true (g_str_has_prefix (ra, "450 4.1.1 "));
  g_assert_true (g_str_has_prefix (rb, "450 4.1.1 "));
  guint bounded = (strstr (ra, "too many address probes") != NULL) + (strstr (rb, "too many address probes") != NULL);
  g_assert_cmpuint (bounded, ==, 1);
  edge_free (&e);
}

/* test_next_hop_hangs - it accepts the connection and never greets: the
 * RCPT gets 450 4.1.1 after verify_timeout, and the session goes on. */
static void
test_next_hop_hangs (void)
{
  Edge e;
  edge_init (&e);
  g_autoptr(GSocketListener) l = hop_never_greets (&e);
  g_autofree char *conf = verify_conf (e.hop, NULL);
  start (&e, conf);
  g_autoptr(SgTestClient) c = session (&e, "s@client.example");
  expect_prefix (c, "alice@example.org", "450 4.1.1 <alice@example.org>: Recipient address rejected: "
                 "unverified address: ");
  g_autofree char *noop = sg_test_client_command (c, "NOOP");
  g_assert_cmpstr (noop, ==, "250 2.0.0 OK");
  edge_free (&e);
}

/* say - send cmd, return the reply and add both to the transcript t. */
static char *
say (SgTestClient *c, GString *t, const char *cmd)
{
  char *r = sg_test_client_command (c, cmd);
  g_string_append_printf (t, "C: %s\nS: %s\n", cmd, r ? r : "(closed)");
  return r;
}

/* milter_world - rcpt_milter.py with extra options, spoolgate in front. */
static void
milter_world (Edge *e, const char *const *options)
{
  const char *py = sg_test_python_bin ();
  g_autofree char *script = g_test_build_filename (G_TEST_DIST, "tools", "rcpt_milter.py", NULL);
  g_autofree char *port = g_strdup_printf ("%u", e->hop);
  g_autofree char *asked = g_build_filename (e->dir, "milter-asked", NULL);
  g_autofree char *log = g_build_filename (e->dir, "milter.log", NULL);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  for (const char *a[] = { py, script, port, "nobody@example.org", asked }, **p = a;
       p < a + G_N_ELEMENTS (a); p++)
    g_ptr_array_add (argv, (gpointer) *p);
  for (guint i = 0; options[i]; i++)
    g_ptr_array_add (argv, (gpointer) options[i]);
  g_ptr_array_add (argv, NULL);
  e->nh = sg_test_spawn ((const char *const *) argv->pdata, log);
  g_assert_true (sg_test_wait_port (e->hop, WAIT_MS));
  g_autofree char *conf = g_strdup_printf ("[server]\nhostname = mx.example\n"
                                           "[access]\naccepted_domains = example.org\n"
                                           "[milter]\nservers = inet:127.0.0.1:%u\n", e->hop);
  start (e, conf);
}

/* test_milter_rcpt - pymilter refuses one recipient at RCPT: that one gets
 * the milter's 550 before DATA, the other is accepted and spooled alone. */
static void
test_milter_rcpt (void)
{
  if (!sg_test_have_pymilter ())
    return;
  Edge e;
  edge_init (&e);
  const char *options[] = { NULL };
  milter_world (&e, options);
  g_autoptr(SgTestClient) c = session (&e, "s@client.example");
  expect (c, "alice@example.org", "250 2.1.5 Recipient OK");
  expect (c, "nobody@example.org", "550 5.7.1 nobody@example.org is not welcome here");
  g_autofree char *id = send_body (c);
  g_autofree char *meta_path = sg_test_queue_file (&e.s, id, ".json");
  g_autofree char *meta = sg_test_read_file (meta_path, NULL);
  g_assert_nonnull (strstr (meta, "alice@example.org"));
  g_assert_null (strstr (meta, "nobody@example.org"));
  sg_test_expect_log (&e.s, "milter-reject: RCPT from unknown[127.0.0.1]: 5.7.1 nobody@example.org is not welcome "
            "here; from=<s@client.example> to=<nobody@example.org>", 1);
  edge_free (&e);
}

/* check - got equals want, or fail with the transcript. */
static void
check (const char *got, const char *want, GString *t)
{
  if (g_strcmp0 (got, want) != 0)
    g_error ("got \"%s\", want \"%s\"; transcript:\n%s", got ? got : "(closed)", want, t->str);
}

/* test_milter_connect - pymilter refuses at CONNECT: as Postfix, the
 * greeting is 554, EHLO still gets 250 and MAIL gets the milter's reply,
 * again at each MAIL; no later conversation is held for that session. */
static void
test_milter_connect (void)
{
  if (!sg_test_have_pymilter ())
    return;
  Edge e;
  edge_init (&e);
  const char *options[] = { "--connect", NULL };
  milter_world (&e, options);
  g_autoptr(GString) t = g_string_new (NULL);
  g_autofree char *greeting = NULL;
  g_autoptr(SgTestClient) c = sg_test_client_connect (e.s.port, &greeting);
  g_string_append_printf (t, "S: %s\n", greeting);
  check (greeting, "554 mx.example ESMTP not accepting connections", t);
  g_autofree char *ehlo = say (c, t, "EHLO client.example");
  g_assert_true (g_str_has_prefix (ehlo, "250-mx.example"));
  g_autofree char *mail = say (c, t, "MAIL FROM:<s@client.example>");
  check (mail, "550 5.7.1 CONNECT refused by rcpt_milter", t);
  g_autofree char *rcpt_ = say (c, t, "RCPT TO:<alice@example.org>");
  check (rcpt_, "503 5.5.1 Bad sequence of commands: need MAIL before RCPT and DATA", t);
  g_autofree char *quit = say (c, t, "QUIT");
  g_assert_true (g_str_has_prefix (quit, "221"));
  g_test_message ("CONNECT transcript:\n%s", t->str);
  sg_test_expect_log (&e.s, "milter-reject: CONNECT from unknown[127.0.0.1]: 5.7.1 CONNECT refused by rcpt_milter", 1);
  sg_test_expect_log (&e.s, "NOQUEUE: reject: MAIL from unknown[127.0.0.1]: 550 5.7.1 CONNECT refused by rcpt_milter "
            "(milter verdict at CONNECT); from=<s@client.example>", 1);
  g_autofree char *asked_path = g_build_filename (e.dir, "milter-asked", NULL);
  g_autofree char *asked = sg_test_read_file (asked_path, NULL);
  /* only greetings' conversations (the harness's readiness probe has one
   * too): nothing is asked at EHLO or MAIL once CONNECT refused */
  g_assert_null (strstr (asked, "helo"));
  g_assert_null (strstr (asked, "mail"));
  edge_free (&e);
}

/* test_milter_helo - a refusal at HELO: HELO gets 250 (Postfix, Sendmail),
 * the milter's reply is every MAIL's; a 421 at HELO closes at once. */
static void
test_milter_helo (void)
{
  if (!sg_test_have_pymilter ())
    return;
  Edge e;
  edge_init (&e);
  const char *options[] = { "--helo", "bad.example", NULL };
  milter_world (&e, options);
  g_autoptr(GString) t = g_string_new (NULL);
  g_autofree char *greeting = NULL;
  g_autoptr(SgTestClient) c = sg_test_client_connect (e.s.port, &greeting);
  g_string_append_printf (t, "S: %s\n", greeting);
  check (greeting, "220 mx.example ESMTP spoolgate", t);
  g_autofree char *ehlo = say (c, t, "EHLO bad.example");
  g_assert_true (g_str_has_prefix (ehlo, "250-mx.example"));
  g_autofree char *mail = say (c, t, "MAIL FROM:<s@client.example>");
  check (mail, "550 5.7.1 HELO refused by rcpt_milter", t);
  g_autofree char *ehlo2 = say (c, t, "EHLO good.example");   /* kept for the session */
  g_autofree char *mail2 = say (c, t, "MAIL FROM:<s@client.example>");
  check (mail2, "550 5.7.1 HELO refused by rcpt_milter", t);
  g_test_message ("HELO transcript:\n%s", t->str);
  sg_test_expect_log (&e.s, "milter-reject: HELO from unknown[127.0.0.1]: 5.7.1 HELO refused by rcpt_milter", 1);
  edge_free (&e);

  /* 421 at HELO: the reply, then the connection closes */
  Edge f;
  edge_init (&f);
  const char *options421[] = { "--helo", "bad.example", "--code", "421", NULL };
  milter_world (&f, options421);
  g_autoptr(GString) t2 = g_string_new (NULL);
  g_autoptr(SgTestClient) c2 = sg_test_client_connect (f.s.port, NULL);
  g_autofree char *helo = say (c2, t2, "HELO bad.example");
  check (helo, "421 4.7.1 HELO refused by rcpt_milter", t2);
  g_autofree char *after = sg_test_client_reply (c2);
  g_assert_null (after);
  edge_free (&f);
}

/* test_milter_mail - a refusal at MAIL is that MAIL's reply, with the
 * milter's code and text; another sender in the same session goes on. */
static void
test_milter_mail (void)
{
  if (!sg_test_have_pymilter ())
    return;
  Edge e;
  edge_init (&e);
  const char *options[] = { "--mail", "spammer@bad.example", NULL };
  milter_world (&e, options);
  g_autoptr(GString) t = g_string_new (NULL);
  g_autofree char *greeting = NULL;
  g_autoptr(SgTestClient) c = sg_test_client_connect (e.s.port, &greeting);
  g_string_append_printf (t, "S: %s\n", greeting);
  g_autofree char *ehlo = say (c, t, "EHLO client.example");
  g_assert_true (g_str_has_prefix (ehlo, "250-mx.example"));
  g_autofree char *mail = say (c, t, "MAIL FROM:<spammer@bad.example>");
  check (mail, "550 5.7.1 MAIL refused by rcpt_milter", t);
  g_autofree char *r1 = say (c, t, "RCPT TO:<alice@example.org>");
  check (r1, "503 5.5.1 Bad sequence of commands: need MAIL before RCPT and DATA", t);
  g_autofree char *mail2 = say (c, t, "MAIL FROM:<s@client.example>");
  check (mail2, "250 2.1.0 Sender OK", t);
  g_autofree char *r2 = say (c, t, "RCPT TO:<alice@example.org>");
  check (r2, "250 2.1.5 Recipient OK", t);
  g_autofree char *quit = say (c, t, "QUIT");
  g_test_message ("MAIL transcript:\n%s", t->str);
  sg_test_expect_log (&e.s, "milter-reject: MAIL from unknown[127.0.0.1]: 5.7.1 MAIL refused by rcpt_milter; "
            "from=<spammer@bad.example>", 1);
  edge_free (&e);
}

/* test_postfix_backend - a real Postfix behind spoolgate with its own relay
 * recipient table (the case): the unknown recipient is refused at
 * RCPT with Postfix's own words, the known one is delivered through
 * Postfix to the final sink, and Postfix never has a bounce to send. */
static void
test_postfix_backend (void)
{
  if (getuid () != 0 || !g_file_test ("/usr/sbin/postfix", G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("needs root and postfix (apt-get install postfix)");
      return;
    }
  if (!sg_test_have_aiosmtpd ())
    return;
  Edge e;
  edge_init (&e);
  next_hop (&e, NULL);   /* the final sink, behind Postfix */
  guint16 pf_port = sg_test_free_port ();
  /* its own directory, open to the postfix user (e.dir is 0700) */
  g_autofree char *pf_dir = g_dir_make_tmp ("sg-postfix-XXXXXX", NULL);
  g_assert_nonnull (pf_dir);
  g_chmod (pf_dir, 0755);
  g_autofree char *script = g_test_build_filename (G_TEST_DIST, "tools", "postfix_backend.sh", NULL);
  g_autofree char *pf = g_strdup_printf ("%u", pf_port);
  g_autofree char *sink = g_strdup_printf ("%u", e.hop);
  const char *up[] = { script, "start", pf_dir, pf, sink, "alice@example.org", "bob@example.org", NULL };
  g_autofree char *err = NULL;
  if (sg_test_run (up, NULL, &err) != 0)
    g_error ("postfix_backend.sh start: %s", err);
  g_autofree char *conf = verify_conf (pf_port, NULL);
  start (&e, conf);
  {
    g_autoptr(SgTestClient) c = session (&e, "s@client.example");
    expect (c, "alice@example.org", "250 2.1.5 Recipient OK");
    expect (c, "nosuchuser@example.org", "550 5.1.1 <nosuchuser@example.org>: Recipient address rejected: "
            "undeliverable address: 550 5.1.1 <nosuchuser@example.org>: Recipient address rejected: "
            "User unknown in relay recipient table");
    g_free (send_body (c));
  }
  g_autofree char *rec = g_build_filename (e.out, "msg-001.json", NULL);
  gboolean arrived = sg_test_wait_file (rec, WAIT_MS);
  g_autofree char *pf_log_path = g_build_filename (pf_dir, "log", NULL);
  g_autofree char *pf_log = sg_test_read_file (pf_log_path, NULL);
  const char *down[] = { script, "stop", pf_dir, NULL };
  sg_test_run (down, NULL, NULL);
  if (!arrived)
    g_error ("nothing reached the sink behind Postfix; its log:\n%s", pf_log);
  g_autofree char *record = sg_test_read_file (rec, NULL);
  g_assert_nonnull (strstr (record, "\"rcpt_tos\": [\"alice@example.org\"]"));
  g_assert_null (strstr (pf_log, "sender non-delivery notification"));
  g_assert_null (strstr (pf_log, "status=bounced"));
  g_autofree char *log = sg_test_server_log (&e.s);
  g_assert_null (strstr (log, "status=bounced"));
  const char *rm[] = { "rm", "-rf", pf_dir, NULL };
  sg_test_run (rm, NULL, NULL);
  edge_free (&e);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/edge/tables/replies", test_tables);
  g_test_add_func ("/edge/tables/bad-at-start", test_bad_table_at_start);
  g_test_add_func ("/edge/tables/reload", test_reload);
  g_test_add_func ("/edge/guessing", test_guessing);
  g_test_add_func ("/edge/verify/aiosmtpd", test_verify);
  g_test_add_func ("/edge/verify/probe-count", test_probe_count);
  g_test_add_func ("/edge/verify/shared-probe", test_probe_shared);
  g_test_add_func ("/edge/verify/rate-limit", test_probe_rate);
  g_test_add_func ("/edge/verify/down", test_next_hop_down);
  g_test_add_func ("/edge/verify/hangs", test_next_hop_hangs);
  g_test_add_func ("/edge/verify/max-probes", test_max_probes);
  g_test_add_func ("/edge/milter/rcpt", test_milter_rcpt);
  g_test_add_func ("/edge/milter/connect", test_milter_connect);
  g_test_add_func ("/edge/milter/helo", test_milter_helo);
  g_test_add_func ("/edge/milter/mail", test_milter_mail);
  g_test_add_func ("/edge/verify/postfix", test_postfix_backend);
  return g_test_run ();
}
