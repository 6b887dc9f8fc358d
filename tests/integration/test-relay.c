/* test-relay.c - the queue runner and smarthost client end to end: the real
 * `spoolgate serve` forwarding to independent servers on loopback started
 * here (tests/tools/smarthost.py on python3-aiosmtpd, with a test CA and
 * certificates made now by openssl; Postfix's smtp-sink), checked on what
 * those servers recorded and on the spool. */
#include "harness.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#define WAIT_MS  30000   /* generous bound for anything to happen */

static const char *const BODY =
  "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\n"
  "From: Alice <alice@example.com>\r\n"
  "To: bob@example.org\r\n"
  "Subject: relay test\r\n"
  "Message-ID: <relay1@example.com>\r\n"
  "\r\n"
  "Hello.\r\n"
  ".a line that starts with a dot\r\n"
  "..and one with two\r\n"
  ".\tdot tab\r\n"
  "Bye.\r\n";

/* One test's world: spoolgate plus one smarthost. */
typedef struct {
  SgTestServer s;
  char        *dir;      /* smarthost side: certs, out/, logs */
  char        *out;      /* what the smarthost recorded */
  guint16      port;     /* smarthost port */
  GSubprocess *sh;       /* (nullable) the smarthost process */
  gboolean     started;
} Relay;

static void
relay_init (Relay *r)
{
  memset (r, 0, sizeof *r);
  r->dir = g_dir_make_tmp ("sg-relay-XXXXXX", NULL);
  g_assert_nonnull (r->dir);
  r->out = g_build_filename (r->dir, "out", NULL);
  r->port = sg_test_free_port ();
}

/* mkcert - a CA and a certificate for name, as dir/PREFIX-{ca,cert,key}.pem. */
static void
mkcert (Relay *r, const char *prefix, const char *name)
{
  const char *args[] = { "mkcert", r->dir, prefix, name, NULL };
  g_autofree char *err = NULL;
  if (sg_test_python ("smarthost.py", args, NULL, &err) != 0)
    g_error ("mkcert failed: %s", err);
}

/* smarthost - start smarthost.py serve; cert_prefix NULL: no STARTTLS. */
static void
smarthost (Relay *r, const char *cert_prefix, const char *auth, const char *const *replies)
{
  g_autofree char *cert = cert_prefix ? g_strdup_printf ("%s/%s-cert.pem", r->dir, cert_prefix) : NULL;
  g_autofree char *key = cert_prefix ? g_strdup_printf ("%s/%s-key.pem", r->dir, cert_prefix) : NULL;
  g_autofree char *log = g_build_filename (r->dir, "smarthost.log", NULL);
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  if (cert)
    {
      g_ptr_array_add (args, "--cert");
      g_ptr_array_add (args, cert);
      g_ptr_array_add (args, "--key");
      g_ptr_array_add (args, key);
    }
  if (auth)
    {
      g_ptr_array_add (args, "--auth");
      g_ptr_array_add (args, (gpointer) auth);
    }
  for (guint i = 0; replies && replies[i]; i++)
    {
      g_ptr_array_add (args, "--reply");
      g_ptr_array_add (args, (gpointer) replies[i]);
    }
  g_ptr_array_add (args, NULL);
  r->sh = sg_test_smarthost (r->port, r->out, log, (const char *const *) args->pdata);
}

/* start - spoolgate with [smarthost] pointing at r plus extra config lines. */
static void
start (Relay *r, const char *tls, const char *extra)
{
  g_autofree char *conf = g_strdup_printf (
    "[server]\nhostname = gate.example\n"
    "[smarthost]\nhost = 127.0.0.1\nport = %u\ntls = %s\nconnect_timeout = 5\n"
    "greeting_timeout = 10\n%s%s"
    "[queue]\nmin_backoff = 1\nmax_backoff = 2\nscan_interval = 30\n",
    r->port, tls, extra ? extra : "", extra && strstr (extra, "[queue]") ? "" : "");
  sg_test_server_start (&r->s, conf);
  r->started = TRUE;
}

static void
relay_free (Relay *r)
{
  if (r->started)
    {
      if (g_test_failed ())
        {
          g_autofree char *log = sg_test_server_log (&r->s);
          g_test_message ("server log:\n%s", log);
        }
      sg_test_server_free (&r->s);
    }
  sg_test_stop_process (r->sh);
  if (!g_test_failed ())
    {
      const char *argv[] = { "rm", "-rf", r->dir, NULL };
      sg_test_run (argv, NULL, NULL);
    }
  else
    g_test_message ("keeping %s", r->dir);
  g_free (r->dir);
  g_free (r->out);
}

/* send - queue BODY (or body) from sender to rcpts; the queue ID (transfer full). */
static char *
send_mail (Relay *r, const char *sender, const char *const *rcpts, const char *body)
{
  char *id = sg_test_send (r->s.port, sender, rcpts, body ? body : BODY, -1);
  g_assert_nonnull (id);
  return id;
}

/* record - the smarthost's JSON record msg-NNN.json, waiting for it (transfer full). */
static JsonObject *
record (Relay *r, guint n)
{
  g_autofree char *path = g_strdup_printf ("%s/msg-%03u.json", r->out, n);
  if (!sg_test_wait_file (path, WAIT_MS))
    {
      g_autofree char *log = sg_test_server_log (&r->s);
      g_error ("the smarthost never got message %u; log:\n%s", n, log);
    }
  g_autoptr(JsonParser) p = json_parser_new ();
  g_autoptr(GError) error = NULL;
  json_parser_load_from_file (p, path, &error);
  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (json_parser_get_root (p)));
}

/* meta - the spooled metadata of id, as a JSON object (transfer full). */
static JsonObject *
meta (Relay *r, const char *id)
{
  g_autofree char *path = g_strdup_printf ("%s/queue/%s.json", r->s.spool, id);
  g_autoptr(JsonParser) p = json_parser_new ();
  g_autoptr(GError) error = NULL;
  json_parser_load_from_file (p, path, &error);
  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (json_parser_get_root (p)));
}

typedef struct {
  Relay      *r;
  const char *id;
  const char *state;
} StateWait;

static gboolean
in_state (gpointer data)
{
  StateWait *w = data;
  g_autoptr(JsonObject) m = meta (w->r, w->id);
  return g_strcmp0 (json_object_get_string_member (m, "state"), w->state) == 0;
}

/* meta_in_state - the metadata once it shows state: log lines and DSNs come
 * before the metadata rename that records an attempt, so wait for it. */
static JsonObject *
meta_in_state (Relay *r, const char *id, const char *state)
{
  StateWait w = { r, id, state };
  if (!sg_test_wait_until (in_state, &w, WAIT_MS, "%s in state %s", id, state))
    {
      g_autoptr(JsonObject) m = meta (r, id);
      g_assert_cmpstr (json_object_get_string_member (m, "state"), ==, state);
    }
  return meta (r, id);
}

/* events - the smarthost's command log (transfer full). */
static char *
events (Relay *r)
{
  g_autofree char *path = g_build_filename (r->out, "events.jsonl", NULL);
  return sg_test_read_file (path, NULL);
}

static guint
count_msgs (Relay *r)
{
  guint n = 0;
  g_autoptr(GDir) d = g_dir_open (r->out, 0, NULL);
  for (const char *name; d && (name = g_dir_read_name (d)); )
    n += g_str_has_prefix (name, "msg-") && g_str_has_suffix (name, ".eml");
  return n;
}

static const char *const BOB[] = { "bob@example.org", NULL };

static void
test_verified_byte_exact (void)
{
  if (!sg_test_have_aiosmtpd ())
    return;
  Relay r;
  relay_init (&r);
  mkcert (&r, "good", "smarthost.test");
  smarthost (&r, "good", NULL, NULL);
  g_autofree char *extra = g_strdup_printf ("ca_file = %s/good-ca.pem\nserver_name = smarthost.test\n"
                                            "[queue]\nkeep_delivered = 1h\n", r.dir);
  start (&r, "verify", extra);
  g_autofree char *id = send_mail (&r, "alice@example.com", BOB, NULL);
  g_autoptr(JsonObject) rec = record (&r, 1);
  g_assert_cmpstr (json_object_get_string_member (rec, "mail_from"), ==, "alice@example.com");
  g_assert_cmpstr (json_object_get_string_member (rec, "sni"), ==, "smarthost.test");
  const char *version = json_object_get_string_member (rec, "tls_version");
  g_assert_true (g_strcmp0 (version, "TLSv1.2") == 0 || g_strcmp0 (version, "TLSv1.3") == 0);
  /* byte for byte: the smarthost got exactly the spooled .eml */
  g_autofree char *got_path = g_build_filename (r.out, "msg-001.eml", NULL);
  g_autofree char *eml_path = g_strdup_printf ("%s/queue/%s.eml", r.s.spool, id);
  gsize got_len = 0, eml_len = 0;
  g_autofree char *got = sg_test_read_file (got_path, &got_len);
  g_autofree char *eml = sg_test_read_file (eml_path, &eml_len);
  g_assert_cmpuint (eml_len, >, strlen (BODY));
  g_assert_cmpmem (got, got_len, eml, eml_len);
  g_autofree char *sent = g_strdup_printf ("%s: to=<bob@example.org>, relay=127.0.0.1[127.0.0.1]:%u, delay=",
                                           id, r.port);
  sg_test_expect_log (&r.s, sent, 1);
  sg_test_expect_log (&r.s, ", dsn=2.0.0, status=sent (250 2.0.0 Ok: stored as msg-001)", 1);
  /* the protocol is on Postfix's TLS line before it */
  g_autofree char *tls = g_strdup_printf ("TLS connection established to 127.0.0.1[127.0.0.1]:%u: %s with cipher ",
                                          r.port, version);
  sg_test_expect_log (&r.s, tls, 1);
  /* kept as delivered for keep_delivered, with the attempt recorded */
  g_autoptr(JsonObject) m = meta_in_state (&r, id, "delivered");
  JsonArray *hist = json_object_get_array_member (m, "attempt_history");
  g_assert_cmpuint (json_array_get_length (hist), ==, 1);
  JsonObject *a = json_array_get_object_element (hist, 0);
  g_assert_cmpstr (json_object_get_string_member (a, "tls_protocol"), ==, version);
  g_assert_nonnull (json_object_get_string_member (a, "tls_cipher"));
  g_assert_cmpstr (json_object_get_string_member (a, "result"), ==, "sent");
  sg_test_assert_queue_schema (&r.s, id);
  relay_free (&r);
}

/* nothing_sent - the smarthost saw no MAIL, RCPT, AUTH or DATA. */
static void
assert_nothing_sent (Relay *r)
{
  g_autofree char *ev = events (r);
  g_assert_null (strstr (ev, "\"MAIL\""));
  g_assert_null (strstr (ev, "\"RCPT\""));
  g_assert_null (strstr (ev, "\"AUTH\""));
  g_assert_cmpuint (count_msgs (r), ==, 0);
}

static void
test_required_without_starttls (void)
{
  if (!sg_test_have_aiosmtpd ())
    return;
  Relay r;
  relay_init (&r);
  smarthost (&r, NULL, NULL, NULL);
  start (&r, "required", NULL);
  g_autofree char *id = send_mail (&r, "alice@example.com", BOB, NULL);
  sg_test_expect_log (&r.s, "does not offer STARTTLS; nothing sent", 2);   /* two attempts */
  sg_test_expect_log (&r.s, "status=deferred", 2);
  assert_nothing_sent (&r);
  /* issue 15: the session is ended with QUIT, not just closed */
  g_autofree char *ev = events (&r);
  g_assert_nonnull (strstr (ev, "\"cmd\": \"QUIT\""));
  g_autoptr(JsonObject) m = meta_in_state (&r, id, "deferred");
  g_assert_nonnull (strstr (json_object_get_string_member (m, "last_error"), "STARTTLS"));
  sg_test_assert_queue_schema (&r.s, id);
  relay_free (&r);
}

static void
test_verify_wrong_ca (void)
{
  if (!sg_test_have_aiosmtpd ())
    return;
  Relay r;
  relay_init (&r);
  mkcert (&r, "good", "smarthost.test");
  mkcert (&r, "evil", "smarthost.test");
  smarthost (&r, "evil", NULL, NULL);
  g_autofree char *extra = g_strdup_printf ("ca_file = %s/good-ca.pem\nserver_name = smarthost.test\n", r.dir);
  start (&r, "verify", extra);
  g_autofree char *id = send_mail (&r, "alice@example.com", BOB, NULL);
  sg_test_expect_log (&r.s, "certificate verification failed", 1);
  sg_test_expect_log (&r.s, "status=deferred", 1);
  assert_nothing_sent (&r);
  g_autofree char *ev = events (&r);
  g_assert_null (strstr (ev, "\"tls\": true"));   /* no command ever arrived inside TLS */
  g_autoptr(JsonObject) m = meta_in_state (&r, id, "deferred");
  g_assert_nonnull (strstr (json_object_get_string_member (m, "last_error"), "nothing sent"));
  relay_free (&r);
}

static void
test_down_then_up (void)
{
  if (!sg_test_have_aiosmtpd ())
    return;
  Relay r;
  relay_init (&r);
  start (&r, "none", NULL);
  g_autofree char *id = send_mail (&r, "alice@example.com", BOB, NULL);
  g_autofree char *deferred = g_strdup_printf ("%s: to=<bob@example.org>, relay=none, delay=", id);
  sg_test_expect_log (&r.s, deferred, 2);   /* tried twice while down */
  sg_test_expect_log (&r.s, "Connection refused", 2);
  /* Postfix's code for a host that does not answer (RFC 3463 4.4.1), not 4.0.0 */
  sg_test_expect_log (&r.s, ", dsn=4.4.1, status=deferred (", 2);
  smarthost (&r, NULL, NULL, NULL);
  g_autoptr(JsonObject) rec = record (&r, 1);
  g_assert_cmpstr (json_object_get_string_member (rec, "mail_from"), ==, "alice@example.com");
  g_autofree char *removed = g_strdup_printf ("%s: removed", id);
  sg_test_expect_log (&r.s, removed, 1);
  g_autoptr(GPtrArray) ids = sg_test_spool_ids (&r.s);
  g_assert_cmpuint (ids->len, ==, 0);
  relay_free (&r);
}

/* find_rcpt - the status of address in a metadata object. */
static const char *
rcpt_status (JsonObject *m, const char *address)
{
  JsonArray *a = json_object_get_array_member (m, "recipients");
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      JsonObject *o = json_array_get_object_element (a, i);
      if (g_strcmp0 (json_object_get_string_member (o, "address"), address) == 0)
        return json_object_get_string_member (o, "status");
    }
  return NULL;
}

static void
test_mixed_replies_and_dsn (void)
{
  if (!sg_test_have_aiosmtpd ())
    return;
  Relay r;
  relay_init (&r);
  const char *replies[] = { "ok@example.org=250", "later@example.org=451,250",
                            "bad@example.org=550", NULL };
  smarthost (&r, NULL, NULL, replies);
  start (&r, "none", NULL);
  const char *rcpts[] = { "ok@example.org", "later@example.org", "bad@example.org", NULL };
  g_autofree char *id = send_mail (&r, "alice@example.com", rcpts, NULL);
  /* first attempt: ok delivered, later deferred, bad failed */
  g_autoptr(JsonObject) first = record (&r, 1);
  JsonArray *to = json_object_get_array_member (first, "rcpt_tos");
  g_assert_cmpuint (json_array_get_length (to), ==, 1);
  g_assert_cmpstr (json_array_get_string_element (to, 0), ==, "ok@example.org");
  sg_test_expect_log (&r.s, "to=<later@example.org>, relay=127.0.0.1", 1);
  sg_test_expect_log (&r.s, "status=deferred (451 4.3.0 Temporary failure", 1);
  sg_test_expect_log (&r.s, "to=<bad@example.org>, relay=127.0.0.1", 1);
  sg_test_expect_log (&r.s, "status=bounced (550 5.1.1 No such user here)", 1);
  /* after the backoff: later delivered, alone */
  g_autoptr(JsonObject) second = record (&r, 2);
  to = json_object_get_array_member (second, "rcpt_tos");
  g_assert_cmpuint (json_array_get_length (to), ==, 1);
  g_assert_cmpstr (json_array_get_string_element (to, 0), ==, "later@example.org");
  /* finished with a failure: the DSN goes to alice from <> */
  g_autofree char *notify = g_strdup_printf ("%s: sender non-delivery notification: ", id);
  sg_test_expect_log (&r.s, notify, 1);
  g_autoptr(JsonObject) dsn = record (&r, 3);
  g_assert_cmpstr (json_object_get_string_member (dsn, "mail_from"), ==, "<>");
  to = json_object_get_array_member (dsn, "rcpt_tos");
  g_assert_cmpstr (json_array_get_string_element (to, 0), ==, "alice@example.com");
  g_autofree char *dsn_path = g_build_filename (r.out, "msg-003.eml", NULL);
  g_autofree char *text = sg_test_read_file (dsn_path, NULL);
  g_assert_nonnull (strstr (text, "Content-Type: multipart/report; report-type=delivery-status;"));
  g_assert_nonnull (strstr (text, "Content-Type: message/delivery-status"));
  g_assert_nonnull (strstr (text, "Final-Recipient: rfc822; bad@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n"));
  g_assert_nonnull (strstr (text, "Diagnostic-Code: smtp; 550 5.1.1 No such user here"));
  g_assert_null (strstr (text, "Final-Recipient: rfc822; later@example.org"));
  g_assert_nonnull (strstr (text, "Content-Type: text/rfc822-headers"));
  g_assert_nonnull (strstr (text, "Subject: relay test\r\n"));
  g_assert_null (strstr (text, "Hello."));   /* headers only, not the body */
  /* the original stays as failed, for the administrator */
  g_autoptr(JsonObject) m = meta_in_state (&r, id, "failed");
  g_assert_cmpstr (rcpt_status (m, "ok@example.org"), ==, "delivered");
  g_assert_cmpstr (rcpt_status (m, "later@example.org"), ==, "delivered");
  g_assert_cmpstr (rcpt_status (m, "bad@example.org"), ==, "failed");
  g_assert_cmpuint (json_object_get_int_member (m, "attempts"), ==, 2);
  sg_test_assert_queue_schema (&r.s, id);
  /* the DSN itself was delivered and removed; a bounce never bounces */
  sg_test_expect_log (&r.s, ": removed", 1);
  g_autofree char *log = sg_test_server_log (&r.s);
  g_assert_null (strstr (strstr (log, notify) + strlen (notify), "sender non-delivery notification"));
  relay_free (&r);
}

static void
test_null_sender_no_dsn (void)
{
  if (!sg_test_have_aiosmtpd ())
    return;
  Relay r;
  relay_init (&r);
  const char *replies[] = { "bad@example.org=550", NULL };
  smarthost (&r, NULL, NULL, replies);
  start (&r, "none", NULL);
  const char *rcpts[] = { "bad@example.org", NULL };
  g_autofree char *id = send_mail (&r, "", rcpts, NULL);
  g_autofree char *none = g_strdup_printf ("%s: no non-delivery notification: the sender is <>", id);
  sg_test_expect_log (&r.s, none, 1);
  g_autofree char *log = sg_test_server_log (&r.s);
  g_assert_null (strstr (log, "sender non-delivery notification"));
  g_autoptr(GPtrArray) ids = sg_test_spool_ids (&r.s);
  g_assert_cmpuint (ids->len, ==, 1);   /* only the failed original */
  relay_free (&r);
}

static void
test_auth_inside_tls (void)
{
  if (!sg_test_have_aiosmtpd ())
    return;
  Relay r;
  relay_init (&r);
  mkcert (&r, "good", "smarthost.test");
  smarthost (&r, "good", "relayuser:s3cret-Pw", NULL);
  g_autofree char *pwfile = g_build_filename (r.dir, "password", NULL);
  g_assert_true (g_file_set_contents (pwfile, "s3cret-Pw\n", -1, NULL));
  g_autofree char *extra = g_strdup_printf ("ca_file = %s/good-ca.pem\nserver_name = smarthost.test\n"
                                            "username = relayuser\npassword_file = %s\n", r.dir, pwfile);
  start (&r, "verify", extra);
  g_autofree char *id = send_mail (&r, "alice@example.com", BOB, NULL);
  g_autoptr(JsonObject) rec = record (&r, 1);
  g_assert_true (json_object_get_boolean_member (rec, "authenticated"));
  g_assert_cmpstr (json_object_get_string_member (rec, "auth_user"), ==, "relayuser");
  g_autofree char *ev = events (&r);
  const char *auth = strstr (ev, "\"cmd\": \"AUTH\"");
  g_assert_nonnull (auth);
  g_assert_nonnull (strstr (auth, "\"tls\": true"));
  g_autofree char *removed = g_strdup_printf ("%s: removed", id);
  sg_test_expect_log (&r.s, removed, 1);
  g_autofree char *log = sg_test_server_log (&r.s);
  g_assert_null (strstr (log, "s3cret-Pw"));
  relay_free (&r);
}

static void
test_expiry (void)
{
  Relay r;
  relay_init (&r);
  g_autofree char *conf = g_strdup_printf (
    "[server]\nhostname = gate.example\n"
    "[smarthost]\nhost = 127.0.0.1\nport = %u\ntls = none\nconnect_timeout = 2\n"
    "[queue]\nmin_backoff = 1\nmax_backoff = 1\nmax_lifetime = 3\n", r.port);
  sg_test_server_start (&r.s, conf);
  r.started = TRUE;
  g_autofree char *id = send_mail (&r, "alice@example.com", BOB, NULL);
  g_autofree char *expired = g_strdup_printf ("%s: to=<bob@example.org>, relay=none, delay=", id);
  sg_test_expect_log (&r.s, "status=bounced (expired after ", 1);
  g_autofree char *notify = g_strdup_printf ("%s: sender non-delivery notification: ", id);
  sg_test_expect_log (&r.s, notify, 1);
  g_autoptr(JsonObject) m = meta_in_state (&r, id, "failed");
  g_assert_cmpstr (rcpt_status (m, "bob@example.org"), ==, "failed");
  g_assert_cmpuint (json_object_get_int_member (m, "attempts"), >=, 2);
  sg_test_assert_queue_schema (&r.s, id);
  /* the DSN is queued (the smarthost is still down) from <> to alice */
  g_autoptr(GPtrArray) ids = sg_test_spool_ids (&r.s);
  g_assert_cmpuint (ids->len, ==, 2);
  const char *dsn_id = g_strcmp0 (g_ptr_array_index (ids, 0), id) == 0
                     ? g_ptr_array_index (ids, 1) : g_ptr_array_index (ids, 0);
  g_autoptr(JsonObject) d = meta (&r, dsn_id);
  g_assert_cmpstr (json_object_get_string_member (d, "sender"), ==, "");
  g_assert_cmpstr (rcpt_status (d, "alice@example.com"), !=, NULL);
  sg_test_assert_queue_schema (&r.s, dsn_id);
  g_autofree char *dsn_eml = g_strdup_printf ("%s/queue/%s.eml", r.s.spool, dsn_id);
  g_autofree char *text = sg_test_read_file (dsn_eml, NULL);
  g_assert_nonnull (strstr (text, "Status: 4.4.7\r\n"));
  relay_free (&r);
}

static void
test_connection_reuse (void)
{
  if (!sg_test_have_aiosmtpd ())
    return;
  Relay r;
  relay_init (&r);
  mkcert (&r, "good", "smarthost.test");
  smarthost (&r, "good", NULL, NULL);
  g_autofree char *extra = g_strdup_printf ("ca_file = %s/good-ca.pem\nserver_name = smarthost.test\n"
                                            "[queue]\nconcurrency = 1\n", r.dir);
  start (&r, "verify", extra);
  for (guint i = 0; i < 4; i++)
    {
      g_autofree char *id = send_mail (&r, "alice@example.com", BOB, NULL);
    }
  gint64 port = -1;
  for (guint i = 1; i <= 4; i++)
    {
      g_autoptr(JsonObject) rec = record (&r, i);
      gint64 p = json_object_get_int_member (rec, "peer_port");
      if (port < 0)
        port = p;
      g_assert_cmpint (p, ==, port);   /* one connection for all four */
    }
  g_autofree char *ev = events (&r);
  guint ehlos = 0;
  for (const char *p = ev; (p = strstr (p, "\"cmd\": \"EHLO\"")); p++)
    ehlos++;
  g_assert_cmpuint (ehlos, ==, 2);   /* before and after STARTTLS, once */
  relay_free (&r);
}

static void
test_plain_smtp_sink (void)
{
  if (!g_file_test (SG_TEST_SMTP_SINK, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("smtp-sink is not installed (apt-get install postfix)");
      return;
    }
  Relay r;
  relay_init (&r);
  g_assert_cmpint (g_mkdir (r.out, 0777), ==, 0);
  g_assert_cmpint (g_chmod (r.out, 0777), ==, 0);
  g_assert_cmpint (g_chmod (r.dir, 0755), ==, 0);
  r.sh = sg_test_smtp_sink (r.port, r.out, "nobody", NULL);
  start (&r, "none", "[queue]\nconcurrency = 2\n");
  for (guint i = 0; i < 4; i++)
    {
      g_autofree char *id = send_mail (&r, "alice@example.com", BOB, NULL);
    }
  sg_test_expect_log (&r.s, ", dsn=2.0.0, status=sent (250 ", 4);
  sg_test_expect_log (&r.s, ": removed", 4);
  guint dumps = 0;
  g_autoptr(GDir) d = g_dir_open (r.out, 0, NULL);
  for (const char *name; d && (name = g_dir_read_name (d)); )
    {
      g_autofree char *path = g_build_filename (r.out, name, NULL);
      g_autofree char *text = sg_test_read_file (path, NULL);
      g_assert_nonnull (strstr (text, "X-Mail-Args: <alice@example.com>"));
      g_assert_nonnull (strstr (text, "X-Rcpt-Args: <bob@example.org>"));
      g_assert_nonnull (strstr (text, "Subject: relay test"));
      g_assert_nonnull (strstr (text, "\nHello.\n"));   /* smtp-sink drops leading dots when dumping */
      dumps++;
    }
  g_assert_cmpuint (dumps, ==, 4);
  relay_free (&r);
}

static void
test_no_smarthost (void)
{
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  g_autofree char *id = sg_test_send (s.port, "alice@example.com", BOB, BODY, -1);
  g_assert_nonnull (id);
  g_assert_true (sg_test_wait_log (&s, "no [smarthost] host configured: mail stays queued", 1, WAIT_MS));
  /* the whole life of the daemon, up to its orderly exit, left it queued */
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  g_autoptr(GPtrArray) ids = sg_test_spool_ids (&s);
  g_assert_cmpuint (ids->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (ids, 0), ==, id);
  g_autofree char *log = sg_test_server_log (&s);
  g_autofree char *tried = g_strdup_printf ("%s: to=<", id);
  g_assert_null (strstr (log, tried));
  sg_test_server_free (&s);
}

/* ---- issue 15: Postfix's log fields, TLS trust, what a failed attempt reached ---- */

/* log_line - the log line holding needle (transfer full). */
static char *
log_line (Relay *r, const char *needle)
{
  g_autofree char *log = sg_test_server_log (&r->s);
  const char *p = strstr (log, needle);
  if (p == NULL)
    g_error ("no \"%s\" in the log:\n%s", needle, log);
  while (p > log && p[-1] != '\n')
    p--;
  const char *e = strchr (p, '\n');
  return e ? g_strndup (p, e - p) : g_strdup (p);
}

/* A verified delivery: the arrival line first, delay= and delays=a/b/c/d
 * and dsn= as Postfix logs them, "Verified TLS connection established". */
static void
test_log_fields_verified (void)
{
  if (!sg_test_have_aiosmtpd ())
    return;
  Relay r;
  relay_init (&r);
  mkcert (&r, "good", "smarthost.test");
  smarthost (&r, "good", NULL, NULL);
  g_autofree char *extra = g_strdup_printf ("ca_file = %s/good-ca.pem\nserver_name = smarthost.test\n"
                                            "[queue]\nkeep_delivered = 1h\n", r.dir);
  start (&r, "verify", extra);
  g_autofree char *id = send_mail (&r, "alice@example.com", BOB, NULL);
  g_autofree char *to = g_strdup_printf ("%s: to=<bob@example.org>, relay=", id);
  sg_test_expect_log (&r.s, to, 1);
  g_autofree char *log = sg_test_server_log (&r.s);
  g_autofree char *from = g_strdup_printf ("%s: from=<alice@example.com>, ", id);
  const char *arrival = strstr (log, from), *delivery = strstr (log, to);
  g_assert_nonnull (arrival);
  g_assert_true (arrival < delivery);
  g_autofree char *verified = g_strdup_printf ("Verified TLS connection established to 127.0.0.1[127.0.0.1]:%u: TLSv1.",
                                               r.port);
  g_assert_nonnull (strstr (log, verified));
  g_assert_true (strstr (log, verified) < delivery);

  g_autofree char *line = log_line (&r, to);
  double delay = -1, a = -1, b = -1, c = -1, d = -1;
  const char *f = strstr (line, ", delay=");
  g_assert_nonnull (f);
  g_assert_cmpint (sscanf (f, ", delay=%lf, delays=%lf/%lf/%lf/%lf, dsn=2.0.0, status=sent (",
                           &delay, &a, &b, &c, &d), ==, 5);
  /* delay covers the attempt: the parts add up to it (rounding aside) */
  g_assert_cmpfloat (delay, >=, 0);
  g_assert_cmpfloat (c, >=, 0);   /* the TLS handshake: on loopback it may round to 0 */
  g_assert_cmpfloat (a + b + c + d, <=, delay + 0.05);
  g_assert_cmpfloat (a + b + c + d, >=, delay - 0.05);
  g_assert_cmpfloat (delay, >=, c + d - 0.02);

  g_autoptr(JsonObject) m = meta_in_state (&r, id, "delivered");
  JsonObject *h = json_array_get_object_element (json_object_get_array_member (m, "attempt_history"), 0);
  g_assert_true (json_object_get_boolean_member (h, "tls_verified"));
  sg_test_assert_queue_schema (&r.s, id);
  relay_free (&r);
}

/* AUTH failing over a good TLS session (aiosmtpd leaves the wrong
 * password unanswered until the timeout): the attempt names the relay
 * and the TLS reached (log and attempt_history), the certificate was not
 * checked (tls = required: "Untrusted"), dsn= is a deferral's. */
static void
test_failed_attempt_reached (void)
{
  if (!sg_test_have_aiosmtpd ())
    return;
  Relay r;
  relay_init (&r);
  mkcert (&r, "good", "smarthost.test");
  smarthost (&r, "good", "relayuser:right", NULL);
  g_autofree char *pwfile = g_build_filename (r.dir, "password", NULL);
  g_assert_true (g_file_set_contents (pwfile, "wrong\n", -1, NULL));
  g_autofree char *extra = g_strdup_printf ("username = relayuser\npassword_file = %s\n", pwfile);
  start (&r, "required", extra);
  g_autofree char *id = send_mail (&r, "alice@example.com", BOB, NULL);
  g_autofree char *to = g_strdup_printf ("%s: to=<bob@example.org>, relay=127.0.0.1[127.0.0.1]:%u, delay=",
                                         id, r.port);
  sg_test_expect_log (&r.s, to, 1);
  g_autofree char *line = log_line (&r, to);
  if (strstr (line, ", dsn=4.") == NULL || strstr (line, "status=deferred (") == NULL)
    g_error ("unexpected delivery line: %s", line);
  g_autofree char *untrusted = g_strdup_printf ("Untrusted TLS connection established to 127.0.0.1[127.0.0.1]:%u: ",
                                                r.port);
  sg_test_expect_log (&r.s, untrusted, 1);
  g_autoptr(JsonObject) m = meta_in_state (&r, id, "deferred");
  JsonObject *h = json_array_get_object_element (json_object_get_array_member (m, "attempt_history"), 0);
  g_autofree char *relay = g_strdup_printf ("127.0.0.1[127.0.0.1]:%u", r.port);
  g_assert_cmpstr (json_object_get_string_member (h, "relay"), ==, relay);
  g_assert_true (g_str_has_prefix (json_object_get_string_member (h, "tls_protocol"), "TLSv1."));
  g_assert_false (json_object_get_boolean_member (h, "tls_verified"));
  sg_test_assert_queue_schema (&r.s, id);
  relay_free (&r);
}

/* issue 24: a message with 8-bit octets, as an 8BITMIME client sends it. */
static const char *const BODY_8BIT =
  "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\n"
  "From: Alice <alice@example.com>\r\n"
  "To: bob@example.org\r\n"
  "Subject: relay test, 8-bit\r\n"
  "Message-ID: <relay8@example.com>\r\n"
  "MIME-Version: 1.0\r\n"
  "Content-Type: text/plain; charset=utf-8\r\n"
  "Content-Transfer-Encoding: 8bit\r\n"
  "\r\n"
  "Caf\xc3\xa9 cr\xc3\xa8me.\r\n";

/* send_8bit - BODY_8BIT from alice to bob, declared BODY=8BITMIME; its ID (transfer full). */
static char *
send_8bit (Relay *r)
{
  SgTestClient *c = sg_test_client_connect (r->s.port, NULL);
  g_autofree char *e = sg_test_client_command (c, "EHLO client.example");
  g_autofree char *m = sg_test_client_command (c, "MAIL FROM:<alice@example.com> BODY=8BITMIME");
  g_autofree char *t = sg_test_client_command (c, "RCPT TO:<bob@example.org>");
  g_autofree char *d = sg_test_client_command (c, "DATA");
  g_assert_true (g_str_has_prefix (d, "354 "));
  sg_test_client_send (c, BODY_8BIT, -1);
  sg_test_client_send (c, ".\r\n", -1);
  g_autofree char *reply = sg_test_client_reply (c);
  g_autofree char *q = sg_test_client_command (c, "QUIT");
  sg_test_client_free (c);
  const char *at = reply ? strstr (reply, "queued as ") : NULL;
  if (!at)
    g_error ("not queued: %s", reply);
  return g_strdup (at + strlen ("queued as "));
}

/* has_option - the smarthost's record shows MAIL FROM parameter opt. */
static gboolean
has_option (JsonObject *rec, const char *opt)
{
  JsonArray *a = json_object_get_array_member (rec, "mail_options");
  for (guint i = 0; a && i < json_array_get_length (a); i++)
    if (g_ascii_strcasecmp (json_array_get_string_element (a, i), opt) == 0)
      return TRUE;
  return FALSE;
}

/* /relay/8bitmime/declared - issue 24: the 8-bit flag recorded at intake
 * decides BODY=8BITMIME (RFC 6152) without the file being read for it: a
 * 7-bit message goes without, an 8-bit one with; SIZE= is the spooled
 * size (RFC 1870) and the bytes arrive as spooled. */
static void
test_8bitmime_declared (void)
{
  if (!sg_test_have_aiosmtpd ())
    return;
  Relay r;
  relay_init (&r);
  smarthost (&r, NULL, NULL, NULL);
  start (&r, "none", "[queue]\nkeep_delivered = 1h\n");
  g_autofree char *id7 = send_mail (&r, "alice@example.com", BOB, NULL);
  g_autoptr(JsonObject) rec7 = record (&r, 1);
  g_autofree char *id8 = send_8bit (&r);
  g_autoptr(JsonObject) rec8 = record (&r, 2);
  const char *ids[2] = { id7, id8 };
  JsonObject *recs[2] = { rec7, rec8 };
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(JsonObject) m = meta_in_state (&r, ids[i], "delivered");
      g_assert_true (json_object_get_boolean_member (m, "eightbit") == (i == 1));
      sg_test_assert_queue_schema (&r.s, ids[i]);
      g_autofree char *eml_path = g_strdup_printf ("%s/queue/%s.eml", r.s.spool, ids[i]);
      g_autofree char *got_path = g_strdup_printf ("%s/msg-%03u.eml", r.out, i + 1);
      gsize eml_len = 0, got_len = 0;
      g_autofree char *eml = sg_test_read_file (eml_path, &eml_len);
      g_autofree char *got = sg_test_read_file (got_path, &got_len);
      g_assert_cmpmem (got, got_len, eml, eml_len);
      g_autofree char *size = g_strdup_printf ("SIZE=%" G_GSIZE_FORMAT, eml_len);
      g_assert_true (has_option (recs[i], size));
      g_assert_true (has_option (recs[i], "BODY=8BITMIME") == (i == 1));
    }
  relay_free (&r);
}

/* /relay/8bitmime/not-offered - issue 24: a smarthost without 8BITMIME
 * (Postfix's smtp-sink -8) gets the 7-bit message; the 8-bit one is never
 * downgraded: it fails with 554 5.6.3 and stays in the queue, failed. */
static void
test_8bitmime_not_offered (void)
{
  if (!g_file_test ("/usr/sbin/smtp-sink", G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("smtp-sink is not installed (apt-get install postfix)");
      return;
    }
  Relay r;
  relay_init (&r);
  g_assert_cmpint (g_mkdir (r.out, 0777), ==, 0);
  g_assert_cmpint (g_chmod (r.out, 0777), ==, 0);
  g_assert_cmpint (g_chmod (r.dir, 0755), ==, 0);
  r.sh = sg_test_smtp_sink (r.port, r.out, "nobody", "-8");
  start (&r, "none", NULL);
  g_autofree char *id7 = send_mail (&r, "alice@example.com", BOB, NULL);
  g_autofree char *sent = g_strdup_printf ("%s: to=<bob@example.org>, relay=127.0.0.1[127.0.0.1]:%u, ",
                                           id7, r.port);
  sg_test_expect_log (&r.s, sent, 1);
  sg_test_expect_log (&r.s, ", dsn=2.0.0, status=sent (250 ", 1);
  g_autofree char *id8 = send_8bit (&r);
  sg_test_expect_log (&r.s, ", dsn=5.6.3, status=bounced (554 5.6.3 the smarthost does not offer 8BITMIME, "
                "which this message needs (RFC 6152))", 1);
  g_autoptr(JsonObject) m = meta_in_state (&r, id8, "failed");
  g_assert_true (json_object_get_boolean_member (m, "eightbit"));
  JsonObject *rcpt = json_array_get_object_element (json_object_get_array_member (m, "recipients"), 0);
  g_assert_cmpstr (json_object_get_string_member (rcpt, "status"), ==, "failed");
  g_assert_true (g_str_has_prefix (json_object_get_string_member (rcpt, "delay_reason"), "554 5.6.3 "));
  sg_test_assert_queue_schema (&r.s, id8);
  relay_free (&r);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/relay/tls/verified-byte-exact", test_verified_byte_exact);
  g_test_add_func ("/relay/tls/required-without-starttls", test_required_without_starttls);
  g_test_add_func ("/relay/tls/verify-other-ca", test_verify_wrong_ca);
  g_test_add_func ("/relay/queue/down-then-up", test_down_then_up);
  g_test_add_func ("/relay/queue/mixed-replies-dsn", test_mixed_replies_and_dsn);
  g_test_add_func ("/relay/queue/null-sender-no-dsn", test_null_sender_no_dsn);
  g_test_add_func ("/relay/auth/inside-tls", test_auth_inside_tls);
  g_test_add_func ("/relay/queue/expiry", test_expiry);
  g_test_add_func ("/relay/session/reuse", test_connection_reuse);
  g_test_add_func ("/relay/plain/smtp-sink", test_plain_smtp_sink);
  g_test_add_func ("/relay/startup/no-smarthost", test_no_smarthost);
  g_test_add_func ("/relay/issue15/log-fields-verified", test_log_fields_verified);
  g_test_add_func ("/relay/issue15/failed-attempt-reached", test_failed_attempt_reached);
  g_test_add_func ("/relay/8bitmime/declared", test_8bitmime_declared);
  g_test_add_func ("/relay/8bitmime/not-offered", test_8bitmime_not_offered);
  return g_test_run ();
}
