/* test-interop.c - SMTP interoperability end to end (issue 16): the real
 * `spoolgate serve` against independent aiosmtpd smarthosts
 * (tests/tools/smarthost.py) on loopback: several smarthosts with failover
 * and cool-down, the DSN parameters (RFC 3461) passed on, and BDAT (RFC
 * 3030) from a raw socket to the spool, checked on
 * what each smarthost recorded, on the log and on the spooled metadata. */
#include "harness.h"

#include <json-glib/json-glib.h>
#include <string.h>

#define WAIT_MS  30000   /* generous bound for anything to happen */

static const char *const BODY =
  "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\n"
  "From: Alice <alice@example.com>\r\n"
  "To: bob@example.org\r\n"
  "Subject: interop test\r\n"
  "Message-ID: <interop1@example.com>\r\n"
  "\r\n"
  "Hello.\r\n";

static const char *const BOB[] = { "bob@example.org", NULL };

/* One aiosmtpd smarthost: its port, its record directory and process. */
typedef struct {
  char        *dir;
  guint16      port;
  GSubprocess *proc;
} Sink;

/* sink_start - smarthost.py serve on a free port, with extra arguments. */
static void
sink_start (Sink *k, const char *root, const char *name, const char *const *extra)
{
  k->dir = g_build_filename (root, name, NULL);
  k->port = sg_test_free_port ();
  g_autofree char *log = g_strconcat (k->dir, ".log", NULL);
  k->proc = sg_test_smarthost (k->port, k->dir, log, extra);
}

static void
sink_free (Sink *k)
{
  sg_test_stop_process (k->proc);
  g_free (k->dir);
}

/* wait_text - file path holds needle count times, or fail. */
static void
wait_text (const char *path, const char *needle, guint count)
{
  g_assert_true (sg_test_wait_text (path, needle, count, WAIT_MS));
}

/* record - the sink's msg-NNN.json, waiting for it (transfer full). */
static JsonObject *
record (Sink *k, SgTestServer *s, guint n)
{
  g_autofree char *path = g_strdup_printf ("%s/msg-%03u.json", k->dir, n);
  if (!sg_test_wait_file (path, WAIT_MS))
    {
      g_autofree char *log = sg_test_server_log (s);
      g_error ("the smarthost never got message %u; log:\n%s", n, log);
    }
  g_autoptr(JsonParser) p = json_parser_new ();
  g_autoptr(GError) error = NULL;
  json_parser_load_from_file (p, path, &error);
  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (json_parser_get_root (p)));
}

typedef struct {
  const char *path;
  const char *state;
  JsonObject *meta;   /* once in state */
} StateWait;

static gboolean
in_state (gpointer data)
{
  StateWait *w = data;
  g_autoptr(JsonParser) p = json_parser_new ();
  if (!json_parser_load_from_file (p, w->path, NULL))
    return FALSE;
  JsonObject *m = json_node_get_object (json_parser_get_root (p));
  if (g_strcmp0 (json_object_get_string_member (m, "state"), w->state) != 0)
    return FALSE;
  w->meta = json_object_ref (m);
  return TRUE;
}

/* meta_state - queue/<id>.json once its state is state (transfer full). */
static JsonObject *
meta_state (SgTestServer *s, const char *id, const char *state)
{
  g_autofree char *path = g_strdup_printf ("%s/queue/%s.json", s->spool, id);
  StateWait w = { path, state, NULL };
  if (!sg_test_wait_until (in_state, &w, WAIT_MS, "%s in state %s", id, state))
    g_error ("%s never reached state %s", id, state);
  return w.meta;
}

#define meta_delivered(s, id) meta_state ((s), (id), "delivered")

/* Two smarthosts, the first one down: the message goes to the second, the
 * log says why the first was passed over, attempt_history names the host
 * used, and the next session skips the first host during its cool-down. */
static void
test_failover (void)
{
  if (!sg_test_have_aiosmtpd ())
    return;
  g_autofree char *root = g_dir_make_tmp ("sg-interop-XXXXXX", NULL);
  Sink up = { 0 };
  sink_start (&up, root, "up", NULL);
  guint16 down = sg_test_free_port ();   /* nothing listens there */
  g_autofree char *conf = g_strdup_printf (
    "[server]\nhostname = gate.example\n"
    "[smarthost]\nhost = [127.0.0.1]:%u, [127.0.0.1]:%u\ntls = none\nconnect_timeout = 5\n"
    "idle_timeout = 1\nhost_cooldown = 600\n"
    "[queue]\nconcurrency = 1\nmin_backoff = 1\nmax_backoff = 2\nkeep_delivered = 3600\n",
    down, up.port);
  SgTestServer s;
  sg_test_server_start (&s, conf);

  g_autofree char *id1 = sg_test_send (s.port, "alice@example.com", BOB, BODY, -1);
  g_assert_nonnull (id1);
  g_autoptr(JsonObject) rec1 = record (&up, &s, 1);
  g_autoptr(JsonObject) m1 = meta_delivered (&s, id1);
  JsonArray *hist = json_object_get_array_member (m1, "attempt_history");
  g_assert_cmpuint (json_array_get_length (hist), ==, 1);
  g_autofree char *used = g_strdup_printf ("127.0.0.1[127.0.0.1]:%u", up.port);
  JsonObject *h = json_array_get_object_element (hist, 0);
  g_assert_cmpstr (json_object_get_string_member (h, "relay"), ==, used);
  g_autofree char *sent = g_strdup_printf ("%s: to=<bob@example.org>, relay=%s,", id1, used);
  g_assert_true (sg_test_wait_log (&s, sent, 1, WAIT_MS));
  g_autofree char *refused = g_strdup_printf ("connect to 127.0.0.1[127.0.0.1]:%u", down);
  g_autofree char *log = sg_test_server_log (&s);
  g_assert_cmpuint (sg_test_count (log, refused), ==, 1);
  g_assert_nonnull (strstr (log, "trying the next host"));
  g_autofree char *cooling = g_strdup_printf ("smarthost 127.0.0.1:%u: skipped for 600 s", down);
  g_assert_nonnull (strstr (log, cooling));

  /* The idle session ends (QUIT); the next message needs a new session,
   * which goes straight to the second host. */
  g_autofree char *events = g_build_filename (up.dir, "events.jsonl", NULL);
  wait_text (events, "\"cmd\": \"QUIT\"", 1);
  g_autofree char *id2 = sg_test_send (s.port, "alice@example.com", BOB, BODY, -1);
  g_assert_nonnull (id2);
  g_autoptr(JsonObject) rec2 = record (&up, &s, 2);
  g_autoptr(JsonObject) m2 = meta_delivered (&s, id2);
  g_free (log);
  log = sg_test_server_log (&s);
  g_autofree char *ev = sg_test_read_file (events, NULL);
  g_assert_cmpuint (sg_test_count (ev, "\"cmd\": \"EHLO\""), ==, 2);   /* two sessions */
  g_assert_cmpuint (sg_test_count (log, refused), ==, 1);              /* down host skipped */

  if (g_test_failed ())
    g_test_message ("server log:\n%s", log);
  sg_test_server_free (&s);
  sink_free (&up);
  const char *rm[] = { "rm", "-rf", root, NULL };
  sg_test_run (rm, NULL, NULL);
}

/* transact - one message over a raw socket: every command's reply must start
 * with the code given next to it; the queue ID from the final 250 (transfer full). */
static char *
transact (guint16 port, const char *const *script)
{
  g_autofree char *greeting = NULL;
  SgTestClient *c = sg_test_client_connect (port, &greeting);
  g_assert_nonnull (c);
  g_assert_true (g_str_has_prefix (greeting, "220 gate.example ESMTP"));
  char *id = NULL;
  for (guint i = 0; script[i]; i += 2)
    {
      g_autofree char *reply = sg_test_client_command (c, script[i]);
      if (!g_str_has_prefix (reply, script[i + 1]))
        g_error ("%s: got \"%s\", want \"%s...\"", script[i], reply, script[i + 1]);
      const char *queued = strstr (reply, "queued as ");
      if (queued)
        id = g_strndup (queued + 10, strcspn (queued + 10, " \r\n"));
    }
  sg_test_client_free (c);
  g_assert_nonnull (id);
  return id;
}

/* check_strict - a notice that spoolgate wrote passes `spoolgate check`
 * under the strict policy (issue 20: our own output passes our policy). */
static void
check_strict (const char *text, const char *what)
{
  g_autofree char *dir = g_dir_make_tmp ("sg-interop-strict-XXXXXX", NULL);
  g_autofree char *conf = g_build_filename (dir, "strict.conf", NULL);
  g_autofree char *eml = g_build_filename (dir, "notice.eml", NULL);
  g_assert_true (g_file_set_contents (conf, "[validation]\npolicy = strict\n", -1, NULL));
  g_assert_true (g_file_set_contents (eml, text, -1, NULL));
  const char *argv[] = { sg_test_spoolgate (), "check", "--config", conf, eml, NULL };
  g_autofree char *out = NULL, *err = NULL;
  if (sg_test_run (argv, &out, &err) != 0)
    g_error ("our %s fails spoolgate check under the strict policy:\n%s%s", what, out, err);
  const char *rm[] = { "rm", "-rf", dir, NULL };
  sg_test_run (rm, NULL, NULL);
}

/* RFC 3461 4.2 and 4.4: ORCPT and ENVID are printable US-ASCII once their
 * xtext is decoded; anything else is refused with 501 5.5.4. */
static void
test_dsn_xtext_printable (void)
{
  SgTestServer s;
  sg_test_server_start (&s, "[server]\nhostname = gate.example\n");
  g_autofree char *greeting = NULL;
  SgTestClient *c = sg_test_client_connect (s.port, &greeting);
  g_assert_nonnull (c);
  static const char *const script[] = {
    "EHLO client.example", "250",
    "MAIL FROM:<alice@example.com> ENVID=QQ+00x", "501 5.5.4",
    "MAIL FROM:<alice@example.com> ENVID=caf+C3+A9", "501 5.5.4",
    "MAIL FROM:<alice@example.com> ENVID=QQ+2B1", "250 2.1.0",
    "RCPT TO:<bob@example.org> ORCPT=rfc822;bob+0D+0Ax@example.org", "501 5.5.4",
    "RCPT TO:<bob@example.org> ORCPT=rfc822;zo+C3+AB@example.org", "501 5.5.4",
    "RCPT TO:<bob@example.org> ORCPT=rfc822;bob+2Bx@example.org", "250 2.1.5",
    "QUIT", "221",
    NULL,
  };
  for (guint i = 0; script[i]; i += 2)
    {
      g_autofree char *reply = sg_test_client_command (c, script[i]);
      if (!g_str_has_prefix (reply, script[i + 1]))
        g_error ("%s: got \"%s\", want \"%s...\"", script[i], reply, script[i + 1]);
    }
  sg_test_client_free (c);
  sg_test_server_free (&s);
}

static const char *const DSN_SCRIPT[] = {
  "EHLO client.example", "250",
  "MAIL FROM:<alice@example.com> RET=HDRS ENVID=QQ+2B1", "250 2.1.0",
  "RCPT TO:<bob@example.org> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;bob+2Bx@example.org", "250 2.1.5",
  "RCPT TO:<carol@example.org>", "250 2.1.5",
  "DATA", "354",
  "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\nFrom: Alice <alice@example.com>\r\n"
  "To: bob@example.org\r\nSubject: dsn\r\nMessage-ID: <dsn1@example.com>\r\n\r\n"
  "Hello.\r\n.", "250 2.0.0",
  "QUIT", "221",
  NULL,
};

/* relay_dsn - send DSN_SCRIPT through spoolgate to a sink started with
 * extra; the sink's record of it (transfer full). notice (nullable) gets
 * the second message the sink received (our notice to the sender) when
 * one is expected, and *log_out the server log (both transfer full). */
static JsonObject *
relay_dsn (const char *const *extra, JsonObject **meta_out, char **notice, char **log_out)
{
  g_autofree char *root = g_dir_make_tmp ("sg-interop-XXXXXX", NULL);
  Sink k = { 0 };
  sink_start (&k, root, "sink", extra);
  g_autofree char *conf = g_strdup_printf (
    "[server]\nhostname = gate.example\n"
    "[smarthost]\nhost = [127.0.0.1]:%u\ntls = none\nconnect_timeout = 5\n"
    "[queue]\nmin_backoff = 1\nmax_backoff = 2\nkeep_delivered = 3600\n", k.port);
  SgTestServer s;
  sg_test_server_start (&s, conf);
  g_autofree char *id = transact (s.port, DSN_SCRIPT);
  JsonObject *rec = record (&k, &s, 1);
  *meta_out = meta_delivered (&s, id);
  sg_test_assert_queue_schema (&s, id);
  if (notice)
    {
      g_autoptr(JsonObject) second = record (&k, &s, 2);
      g_assert_cmpstr (json_object_get_string_member (second, "mail_from"), ==, "<>");
      g_autofree char *eml = g_build_filename (k.dir, "msg-002.eml", NULL);
      *notice = sg_test_read_file (eml, NULL);
    }
  *log_out = sg_test_server_log (&s);
  if (g_test_failed ())
    {
      g_autofree char *log = sg_test_server_log (&s);
      g_test_message ("server log:\n%s", log);
    }
  sg_test_server_free (&s);
  sink_free (&k);
  const char *rm[] = { "rm", "-rf", root, NULL };
  sg_test_run (rm, NULL, NULL);
  return rec;
}

/* RET, ENVID, NOTIFY and ORCPT are kept in the metadata and reach a
 * smarthost that offers DSN unchanged (RFC 3461 5.2.1: ORCPT as given). */
static void
test_dsn_relayed (void)
{
  if (!sg_test_have_aiosmtpd ())
    return;
  const char *extra[] = { "--dsn", NULL };
  g_autoptr(JsonObject) m = NULL;
  g_autofree char *log = NULL;
  g_autoptr(JsonObject) rec = relay_dsn (extra, &m, NULL, &log);
  /* the smarthost took the DSN request: no notice of ours (RFC 3461 5.2.1) */
  g_assert_null (strstr (log, "notification (relayed)"));
  JsonObject *mail = json_object_get_object_member (rec, "dsn_mail");
  g_assert_cmpstr (json_object_get_string_member (mail, "RET"), ==, "HDRS");
  g_assert_cmpstr (json_object_get_string_member (mail, "ENVID"), ==, "QQ+2B1");
  JsonObject *rcpt = json_object_get_object_member (rec, "dsn_rcpt");
  JsonObject *bob = json_object_get_object_member (rcpt, "bob@example.org");
  g_assert_nonnull (bob);
  g_assert_cmpstr (json_object_get_string_member (bob, "NOTIFY"), ==, "SUCCESS,DELAY");
  g_assert_cmpstr (json_object_get_string_member (bob, "ORCPT"), ==, "rfc822;bob+2Bx@example.org");
  g_assert_false (json_object_has_member (rcpt, "carol@example.org"));
  g_assert_cmpstr (json_object_get_string_member (m, "dsn_ret"), ==, "HDRS");
  g_assert_cmpstr (json_object_get_string_member (m, "dsn_envid"), ==, "QQ+2B1");
  JsonArray *rs = json_object_get_array_member (m, "recipients");
  JsonObject *r0 = json_array_get_object_element (rs, 0);
  g_assert_cmpstr (json_object_get_string_member (r0, "dsn_notify"), ==, "SUCCESS,DELAY");
  g_assert_cmpstr (json_object_get_string_member (r0, "dsn_orcpt"), ==, "rfc822;bob+2Bx@example.org");
  g_assert_false (json_object_has_member (json_array_get_object_element (rs, 1), "dsn_notify"));
}

/* A smarthost without DSN gets none of the parameters (RFC 3461 5.2.2),
 * and still the message; NOTIFY=SUCCESS then earns the sender our
 * "relayed" notice (RFC 3464 Action: relayed), with ENVID and ORCPT. */
static void
test_dsn_not_offered (void)
{
  if (!sg_test_have_aiosmtpd ())
    return;
  g_autoptr(JsonObject) m = NULL;
  g_autofree char *notice = NULL, *log = NULL;
  g_autoptr(JsonObject) rec = relay_dsn (NULL, &m, &notice, &log);
  g_assert_nonnull (strstr (notice, "Subject: Successful Mail Delivery Report\r\n"));
  g_assert_nonnull (strstr (notice, "Original-Envelope-Id: QQ+1\r\n"));
  g_assert_nonnull (strstr (notice, "Original-Recipient: rfc822; bob+x@example.org\r\n"
                                    "Final-Recipient: rfc822; bob@example.org\r\n"
                                    "Action: relayed\r\nStatus: 2.0.0\r\n"));
  g_assert_null (strstr (notice, "carol@example.org\r\nAction"));
  check_strict (notice, "relayed notice");
  JsonObject *r0 = json_array_get_object_element (json_object_get_array_member (m, "recipients"), 0);
  g_assert_cmpstr (json_object_get_string_member (r0, "dsn_relayed"), ==, "sent");
  g_assert_cmpuint (json_object_get_size (json_object_get_object_member (rec, "dsn_mail")), ==, 0);
  JsonArray *opts = json_object_get_array_member (rec, "mail_options");
  for (guint i = 0; i < json_array_get_length (opts); i++)
    g_assert_false (g_str_has_prefix (json_array_get_string_element (opts, i), "RET="));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (rec, "rcpt_tos")), ==, 2);
}

/* BDAT over a raw socket, pipelined in one write and split mid-line and
 * mid-CRLF: one 250 per chunk, the final 250 with the queue ID, and the
 * spooled .eml is our Received header followed by exactly the chunks'
 * bytes (lines of "." and ".." stay as they are: no dot framing). */
/* bdat_check - send content in BDAT chunks of the sizes given (cycled),
 * pipelined in one write, to a server with conf; check every reply and
 * that the spooled .eml is our Received header and then exactly content. */
static void
bdat_check (const char *conf, const char *content, gsize len)
{
  SgTestServer s;
  sg_test_server_start (&s, conf);
  g_autofree char *greeting = NULL;
  SgTestClient *c = sg_test_client_connect (s.port, &greeting);
  g_assert_nonnull (c);
  g_assert_true (g_str_has_prefix (greeting, "220 gate.example ESMTP spoolgate"));
  g_autofree char *ehlo = sg_test_client_command (c, "EHLO client.example");
  g_assert_nonnull (strstr (ehlo, "250-CHUNKING"));
  g_assert_null (strstr (ehlo, "BINARYMIME"));

  gsize sizes[] = { 40, 1, 60, 33, 9000 };
  g_autoptr(GString) w = g_string_new ("MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.org>\r\n");
  gsize off = 0;
  guint chunks = 0;
  for (guint i = 0; off < len; i++, chunks++)
    {
      gsize n = MIN (sizes[i % G_N_ELEMENTS (sizes)], len - off);
      g_string_append_printf (w, "BDAT %" G_GSIZE_FORMAT "\r\n", n);
      g_string_append_len (w, content + off, (gssize) n);
      off += n;
    }
  g_string_append (w, "BDAT 0 LAST\r\n");
  sg_test_client_send (c, w->str, (gssize) w->len);
  g_autofree char *r1 = sg_test_client_reply (c);
  g_assert_true (g_str_has_prefix (r1, "250 2.1.0"));
  g_autofree char *r2 = sg_test_client_reply (c);
  g_assert_true (g_str_has_prefix (r2, "250 2.1.5"));
  for (guint i = 0; i < chunks; i++)
    {
      g_autofree char *r = sg_test_client_reply (c);
      g_assert_true (g_str_has_prefix (r, "250 2.0.0 "));
      g_assert_nonnull (strstr (r, " octets received"));
    }
  g_autofree char *last = sg_test_client_reply (c);
  if (!g_str_has_prefix (last, "250 2.0.0 Ok: queued as "))
    g_error ("final reply \"%s\"", last);
  g_autofree char *id = g_strndup (last + strlen ("250 2.0.0 Ok: queued as "), 20);
  g_autofree char *quit = sg_test_client_command (c, "QUIT");
  g_assert_true (g_str_has_prefix (quit, "221 "));
  sg_test_client_free (c);

  g_autofree char *eml = g_strdup_printf ("%s/queue/%s.eml", s.spool, id);
  gsize elen = 0;
  g_autofree char *bytes = sg_test_read_file (eml, &elen);
  g_assert_nonnull (bytes);
  g_assert_true (g_str_has_prefix (bytes, "Received: from client.example"));
  g_assert_cmpuint (elen, >, len);
  g_assert_cmpmem (bytes + elen - len, len, content, len);
  sg_test_assert_queue_schema (&s, id);
  sg_test_server_free (&s);
}

static const char BDAT_CONTENT[] =
  "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\n"
  "From: Alice <alice@example.com>\r\n"
  "To: bob@example.org\r\n"
  "Subject: chunked\r\n"
  "Message-ID: <bdat1@example.com>\r\n"
  "\r\n"
  "first line\r\n"
  ".\r\n"
  "..two dots\r\n"
  ".\r\n"
  "last line\r\n";

/* BDAT over a raw socket, pipelined in one write and split mid-line and
 * mid-CRLF: one 250 per chunk, the final 250 with the queue ID, and the
 * spooled .eml is our Received header followed by exactly the chunks'
 * bytes (lines of "." and ".." stay as they are: no dot framing). */
static void
test_bdat_spooled (void)
{
  bdat_check ("[server]\nhostname = gate.example\n", BDAT_CONTENT, sizeof BDAT_CONTENT - 1);
}

/* The same past [limits] data_spill_size: the chunks stream into the
 * spool draft exactly as DATA does, and the bytes are the same. */
static void
test_bdat_spilled (void)
{
  g_autoptr(GString) big = g_string_new_len (BDAT_CONTENT, sizeof BDAT_CONTENT - 1);
  for (guint i = 0; i < 3000; i++)
    g_string_append_printf (big, "%s%05u a line of body text to make the message large\r\n",
                            i % 7 == 0 ? "." : "", i);
  bdat_check ("[server]\nhostname = gate.example\n[limits]\ndata_spill_size = 4096\n",
              big->str, big->len);
}

static const char *const UTF8_SCRIPT[] = {
  "EHLO client.example", "250",
  "MAIL FROM:<j\xc3\xb6rg@example.com> SMTPUTF8", "250 2.1.0",
  "RCPT TO:<bob@example.org>", "250 2.1.5",
  "DATA", "354",
  "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\nFrom: Alice <alice@example.com>\r\n"
  "To: bob@example.org\r\nSubject: utf8\r\nMessage-ID: <utf8@example.com>\r\n\r\n"
  "Hello.\r\n.", "250 2.0.0",
  "QUIT", "221",
  NULL,
};

/* relay_utf8 - UTF8_SCRIPT through spoolgate to a sink k started with
 * extra; the message's metadata once in state (transfer full). *root_out,
 * k and s are for utf8_done(). */
static JsonObject *
relay_utf8 (const char *const *extra, const char *state, char **root_out, Sink *k, SgTestServer *s)
{
  *root_out = g_dir_make_tmp ("sg-interop-XXXXXX", NULL);
  sink_start (k, *root_out, "sink", extra);
  g_autofree char *conf = g_strdup_printf (
    "[server]\nhostname = gate.example\n"
    "[smarthost]\nhost = [127.0.0.1]:%u\ntls = none\nconnect_timeout = 5\n"
    "[queue]\nmin_backoff = 1\nmax_backoff = 2\nkeep_delivered = 3600\n", k->port);
  sg_test_server_start (s, conf);
  g_autofree char *id = transact (s->port, UTF8_SCRIPT);
  JsonObject *m = meta_state (s, id, state);
  sg_test_assert_queue_schema (s, id);
  return m;
}

static void
utf8_done (char *root, Sink *k, SgTestServer *s)
{
  if (g_test_failed ())
    {
      g_autofree char *log = sg_test_server_log (s);
      g_test_message ("server log:\n%s", log);
    }
  sg_test_server_free (s);
  sink_free (k);
  const char *rm[] = { "rm", "-rf", root, NULL };
  sg_test_run (rm, NULL, NULL);
  g_free (root);
}

/* RFC 6531 3.4: mail received with SMTPUTF8 goes to a smarthost that offers
 * it, with SMTPUTF8 on MAIL... */
static void
test_smtputf8_offered (void)
{
  if (!sg_test_have_aiosmtpd ())
    return;
  char *root;
  Sink k = { 0 };
  SgTestServer s;
  g_autoptr(JsonObject) m = relay_utf8 (NULL, "delivered", &root, &k, &s);
  g_autoptr(JsonObject) rec = record (&k, &s, 1);
  g_assert_cmpstr (json_object_get_string_member (rec, "mail_from"), ==, "j\xc3\xb6rg@example.com");
  JsonArray *opts = json_object_get_array_member (rec, "mail_options");
  gboolean utf8 = FALSE;
  for (guint i = 0; i < json_array_get_length (opts); i++)
    utf8 |= g_strcmp0 (json_array_get_string_element (opts, i), "SMTPUTF8") == 0;
  g_assert_true (utf8);
  utf8_done (root, &k, &s);
}

/* ... and never to one that does not: no downgrade, the recipient fails
 * with 553 5.6.7 and nothing is sent. */
static void
test_smtputf8_not_offered (void)
{
  if (!sg_test_have_aiosmtpd ())
    return;
  const char *extra[] = { "--no-smtputf8", NULL };
  char *root;
  Sink k = { 0 };
  SgTestServer s;
  g_autoptr(JsonObject) m = relay_utf8 (extra, "failed", &root, &k, &s);
  JsonObject *r0 = json_array_get_object_element (json_object_get_array_member (m, "recipients"), 0);
  g_assert_cmpstr (json_object_get_string_member (r0, "status"), ==, "failed");
  g_assert_true (g_str_has_prefix (json_object_get_string_member (r0, "delay_reason"), "553 5.6.7 "));
  g_autofree char *none = g_build_filename (k.dir, "msg-001.json", NULL);
  g_assert_false (g_file_test (none, G_FILE_TEST_EXISTS));
  utf8_done (root, &k, &s);
}

/* [queue] delay_warning: a recipient the smarthost keeps deferring (451)
 * gets its sender one delay notice (RFC 3464 Action: delayed), relayed
 * through the same smarthost, and only one however many attempts follow. */
static void
test_delay_warning (void)
{
  if (!sg_test_have_aiosmtpd ())
    return;
  g_autofree char *root = g_dir_make_tmp ("sg-interop-XXXXXX", NULL);
  Sink k = { 0 };
  const char *extra[] = { "--reply", "bob@example.org=451", NULL };
  sink_start (&k, root, "sink", extra);
  g_autofree char *conf = g_strdup_printf (
    "[server]\nhostname = gate.example\n"
    "[smarthost]\nhost = [127.0.0.1]:%u\ntls = none\nconnect_timeout = 5\n"
    "[queue]\nmin_backoff = 1\nmax_backoff = 1\ndelay_warning = 1\n", k.port);
  SgTestServer s;
  sg_test_server_start (&s, conf);
  g_autofree char *id = sg_test_send (s.port, "alice@example.com", BOB, BODY, -1);
  g_assert_nonnull (id);
  g_autofree char *notice = g_strdup_printf ("%s: sender delay notification: ", id);
  g_assert_true (sg_test_wait_log (&s, notice, 1, WAIT_MS));
  g_autoptr(JsonObject) rec = record (&k, &s, 1);
  g_assert_cmpstr (json_object_get_string_member (rec, "mail_from"), ==, "<>");
  g_autofree char *eml = g_build_filename (k.dir, "msg-001.eml", NULL);
  g_autofree char *text = sg_test_read_file (eml, NULL);
  g_assert_nonnull (strstr (text, "Subject: Delayed Mail (still being retried)\r\n"));
  g_assert_nonnull (strstr (text, "Final-Recipient: rfc822; bob@example.org\r\nAction: delayed\r\n"
                                  "Status: 4.3.0\r\n"));
  check_strict (text, "delay notice");
  /* Two more deferrals after the notice: still one notice. */
  g_autofree char *deferred = g_strdup_printf ("%s: to=<bob@example.org>", id);
  g_autofree char *log = sg_test_server_log (&s);
  guint seen = sg_test_count (log, deferred);
  g_assert_true (sg_test_wait_log (&s, deferred, seen + 2, WAIT_MS));
  g_free (log);
  log = sg_test_server_log (&s);
  g_assert_cmpuint (sg_test_count (log, notice), ==, 1);
  sg_test_assert_queue_schema (&s, id);
  if (g_test_failed ())
    g_test_message ("server log:\n%s", log);
  sg_test_server_free (&s);
  sink_free (&k);
  const char *rm[] = { "rm", "-rf", root, NULL };
  sg_test_run (rm, NULL, NULL);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/interop/smarthost/failover", test_failover);
  g_test_add_func ("/interop/dsn/relayed", test_dsn_relayed);
  g_test_add_func ("/interop/dsn/not-offered", test_dsn_not_offered);
  g_test_add_func ("/interop/bdat/spooled", test_bdat_spooled);
  g_test_add_func ("/interop/bdat/spilled", test_bdat_spilled);
  g_test_add_func ("/interop/smtputf8/offered", test_smtputf8_offered);
  g_test_add_func ("/interop/smtputf8/not-offered", test_smtputf8_not_offered);
  g_test_add_func ("/interop/dsn/delay-warning", test_delay_warning);
  g_test_add_func ("/interop/dsn/xtext-printable", test_dsn_xtext_printable);
  return g_test_run ();
}
