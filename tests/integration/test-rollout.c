/* test-rollout.c - rolling a validation policy out safely, end to end over
 * SMTP against the real `spoolgate serve`: [validation] mode = monitor
 * accepts what enforce refuses and records it in the metadata, the log and
 * /metrics (but still refuses SMTP-level bare LF); keep_rejected keeps
 * refused messages in rejected/ within its byte budget, oldest dropped
 * first, across a restart; `spoolgate rejected`, `show` and `release` read
 * and queue them, and the queue runner delivers a released message to
 * Postfix's smtp-sink; start-up recovery cleans rejected/ without touching
 * queued mail. JSON files are checked against schemas/ by jsonschema. */
#include "harness.h"
#include "admin_util.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#define WAIT_MS 10000

/* no_date - refused under every policy (header.date.missing is structural);
 * n makes each one distinct but the same size (transfer full). */
static char *
no_date (guint n)
{
  return g_strdup_printf ("From: Alice <alice@example.com>\r\n"
                          "To: bob@example.org\r\n"
                          "Subject: rollout %04u\r\n"
                          "Message-ID: <rollout-%04u@example.com>\r\n"
                          "\r\n"
                          "Hello.\r\n", n, n);
}

/* transact - one transaction of body from alice to bob; the final reply
 * (transfer full), NULL if the connection closed. */
static char *
transact (guint16 port, const char *body)
{
  return sg_test_transact (port, "alice@example.com",
                           (const char *const[]) { "bob@example.org", NULL }, body, -1);
}

/* json_file - parse a file into an object node, asserting it parses (transfer full). */
static JsonNode *
json_file (const char *path)
{
  g_autoptr(JsonParser) p = json_parser_new ();
  g_autoptr(GError) error = NULL;
  if (!json_parser_load_from_file (p, path, &error))
    g_error ("%s: %s", path, error->message);
  JsonNode *root = json_parser_steal_root (p);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
  return root;
}

/* member - a string member at a "a.b" path of an object node, NULL if absent. */
static const char *
member (JsonNode *node, const char *outer, const char *name)
{
  JsonObject *o = json_node_get_object (node);
  if (outer != NULL)
    {
      JsonNode *inner = json_object_get_member (o, outer);
      if (inner == NULL || !JSON_NODE_HOLDS_OBJECT (inner))
        return NULL;
      o = json_node_get_object (inner);
    }
  JsonNode *m = json_object_get_member (o, name);
  return m && JSON_NODE_HOLDS_VALUE (m) && json_node_get_value_type (m) == G_TYPE_STRING
         ? json_node_get_string (m) : NULL;
}

/* validation_bool - validation.<name> of queue metadata, -1 if absent. */
static int
validation_bool (JsonNode *node, const char *name)
{
  JsonObject *v = json_object_get_object_member (json_node_get_object (node), "validation");
  JsonNode *m = v ? json_object_get_member (v, name) : NULL;
  return m && json_node_get_value_type (m) == G_TYPE_BOOLEAN ? json_node_get_boolean (m) : -1;
}

/* rejected_path - spool/rejected/<ID><suffix> (transfer full). */
static char *
rejected_path (SgTestServer *s, const char *id, const char *suffix)
{
  return g_strdup_printf ("%s/rejected/%s%s", s->spool, id, suffix);
}

/* scrape - GET /metrics over a raw socket; the body (transfer full). */
static char *
scrape (guint16 port)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnection) conn = g_socket_client_connect_to_host (client, "127.0.0.1", port,
                                                                      NULL, &error);
  g_assert_no_error (error);
  static const char req[] = "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n";
  g_assert_true (g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)),
                                            req, strlen (req), NULL, NULL, &error));
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (conn));
  GString *text = g_string_new (NULL);
  char buf[4096];
  gssize n;
  while ((n = g_input_stream_read (in, buf, sizeof buf, NULL, &error)) > 0)
    g_string_append_len (text, buf, n);
  g_assert_no_error (error);
  const char *body = strstr (text->str, "\r\n\r\n");
  g_assert_nonnull (body);
  char *out = g_strdup (body + 4);
  g_string_free (text, TRUE);
  return out;
}

/* sample - a sample's value in a scrape, 0 when absent. */
static gint64
sample (const char *body, const char *name)
{
  g_autofree char *needle = g_strdup_printf ("\n%s ", name);
  const char *p = strstr (body, needle);
  return p ? g_ascii_strtoll (p + strlen (needle), NULL, 10) : 0;
}

/* Monitor mode: the refused message is queued, and what enforce would have
 * said is in the metadata, the log and the metrics; SMTP-level refusals
 * stay; nothing is kept (keep_rejected defaults to 0). */
static void
test_monitor (void)
{
  SgTestServer s;
  guint16 mport = sg_test_free_port ();
  g_autofree char *conf = g_strdup_printf ("[validation]\nmode = monitor\n"
                                           "[metrics]\nlisten = 127.0.0.1:%u\n", mport);
  sg_test_server_start (&s, conf);

  g_autofree char *bad = no_date (1);
  g_autofree char *reply = transact (s.port, bad);
  g_assert_nonnull (reply);
  g_assert_true (g_str_has_prefix (reply, "250 2.0.0 Ok: queued as "));
  g_autofree char *id = g_strndup (reply + strlen ("250 2.0.0 Ok: queued as "), 20);

  g_autofree char *jpath = json_path (&s, id);
  g_autoptr(JsonNode) meta = json_file (jpath);
  g_assert_cmpstr (member (meta, "validation", "mode"), ==, "monitor");
  g_assert_cmpint (validation_bool (meta, "would_reject"), ==, 1);
  g_assert_cmpstr (member (meta, "validation", "rule"), ==, "header.date.missing");
  const char *would = member (meta, "validation", "reply");
  g_assert_nonnull (would);
  g_assert_true (g_str_has_prefix (would, "550 5.6.0 Message rejected: "));
  g_assert_nonnull (strstr (would, "[header.date.missing]"));

  /* a clean message is recorded as such */
  g_autofree char *good = message ("monitor, clean");
  g_autofree char *good_id = sg_test_send (s.port, "alice@example.com",
                                           (const char *const[]) { "bob@example.org", NULL }, good, -1);
  g_assert_nonnull (good_id);
  g_autofree char *gpath = json_path (&s, good_id);
  g_autoptr(JsonNode) gmeta = json_file (gpath);
  g_assert_cmpstr (member (gmeta, "validation", "mode"), ==, "monitor");
  g_assert_cmpint (validation_bool (gmeta, "would_reject"), ==, 0);
  g_assert_null (member (gmeta, "validation", "rule"));
  sg_test_assert_schema ("spool-metadata.schema.json", (const char *const[]) { jpath, gpath, NULL });

  /* the log: the arrival lines in Postfix's order (client=, message-id=,
   * from=), and only then the reject_warning found while it was checked */
  g_autofree char *warn = g_strdup_printf ("%s: reject_warning: END-OF-MESSAGE from unknown[127.0.0.1]: "
                                           "550 5.6.0 Message rejected: ", id);
  g_assert_true (sg_test_wait_log (&s, warn, 1, WAIT_MS));
  g_autofree char *log = sg_test_server_log (&s);
  g_assert_nonnull (strstr (log, "; from=<alice@example.com> to=<bob@example.org> proto=ESMTP "
                                 "helo=<client.example> rule=header.date.missing; accepted"));
  g_autofree char *client = g_strdup_printf ("]: %s: client=unknown[127.0.0.1]\n", id);
  g_autofree char *from = g_strdup_printf ("]: %s: from=<alice@example.com>, size=", id);
  const char *at_client = strstr (log, client), *at_from = strstr (log, from), *at_warn = strstr (log, warn);
  g_assert_nonnull (at_client);
  g_assert_nonnull (at_from);
  g_assert_true (at_client < at_from && at_from < at_warn);
  g_autofree char *refused = g_strdup_printf ("%s: reject: ", id);
  g_assert_null (strstr (log, refused));

  /* the metrics: counted as monitored and accepted, not as rejected */
  g_autofree char *body = scrape (mport);
  g_assert_cmpint (sample (body, "spoolgate_messages_monitored_total{rule=\"header.date.missing\"}"), ==, 1);
  g_assert_cmpint (sample (body, "spoolgate_messages_accepted_total"), ==, 2);
  g_assert_cmpint (sample (body, "spoolgate_messages_rejected_total{rule=\"header.date.missing\",code=\"550\"}"), ==, 0);

  /* bare LF is SMTP smuggling, refused by the SMTP layer in every mode */
  g_autoptr(GString) lf = g_string_new (bad);
  g_assert_cmpuint (g_string_replace (lf, "\r\nHello", "\nHello", 1), ==, 1);
  g_autofree char *lf_reply = transact (s.port, lf->str);
  g_assert_nonnull (lf_reply);
  g_assert_true (g_str_has_prefix (lf_reply, "550 5.5.2 "));
  g_autoptr(GPtrArray) ids = sg_test_spool_ids (&s);
  g_assert_cmpuint (ids->len, ==, 2);

  /* keep_rejected is 0 by default: no rejected/ at all */
  g_autofree char *rdir = g_build_filename (s.spool, "rejected", NULL);
  g_assert_false (g_file_test (rdir, G_FILE_TEST_EXISTS));
  sg_test_server_free (&s);
}

/* file_size - bytes of a file, asserting it exists. */
static guint64
file_size (const char *path)
{
  GStatBuf st;
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return (guint64) st.st_size;
}

/* Enforce with keep_rejected: the refused message is kept with its
 * metadata; the budget drops the oldest, also across a restart; the
 * commands list and show what is kept. */
static void
test_keep_rejected (void)
{
  SgTestServer s;
  sg_test_server_start (&s, "[validation]\nkeep_rejected = 1M\n");

  g_autofree char *bad1 = no_date (1);
  g_autofree char *reply = transact (s.port, bad1);
  g_assert_nonnull (reply);
  g_assert_true (g_str_has_prefix (reply, "550 5.6.0 Message rejected: "));
  g_autoptr(GPtrArray) kept = kept_ids (&s);
  g_assert_cmpuint (kept->len, ==, 1);
  g_autofree char *id1 = g_strdup (g_ptr_array_index (kept, 0));
  g_autoptr(GPtrArray) queued = sg_test_spool_ids (&s);
  g_assert_cmpuint (queued->len, ==, 0);

  g_autofree char *eml1 = rejected_path (&s, id1, ".eml");
  g_autofree char *json1 = rejected_path (&s, id1, ".json");
  sg_test_assert_schema ("rejected-metadata.schema.json", (const char *const[]) { json1, NULL });
  g_autoptr(JsonNode) rec = json_file (json1);
  g_assert_cmpstr (member (rec, NULL, "rule"), ==, "header.date.missing");
  g_assert_cmpstr (member (rec, NULL, "reply"), ==, reply);
  g_assert_cmpstr (member (rec, "envelope", "client_address"), ==, "127.0.0.1");
  g_assert_cmpstr (member (rec, "envelope", "helo_name"), ==, "client.example");
  g_assert_cmpstr (member (rec, "envelope", "sender"), ==, "alice@example.com");
  /* the .eml is our Received header and the bytes received */
  g_autofree char *eml_text = sg_test_read_file (eml1, NULL);
  g_assert_true (g_str_has_prefix (eml_text, "Received: from client.example"));
  g_assert_true (g_str_has_suffix (eml_text, bad1));
  g_autofree char *keep_line = g_strdup_printf ("%s: rejected: kept a copy in rejected/", id1);
  g_assert_true (sg_test_wait_log (&s, keep_line, 1, WAIT_MS));

  /* room for two copies but not three, applied after a restart, which
   * must index the copy already there */
  guint64 one = file_size (eml1) + file_size (json1);
  g_autofree char *conf = g_strdup_printf ("[validation]\nkeep_rejected = %" G_GUINT64_FORMAT "\n",
                                           one * 5 / 2);
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  g_assert_true (g_file_set_contents (s.config, conf, -1, NULL));
  sg_test_server_restart (&s);
  g_assert_true (sg_test_wait_log (&s, "rejected recovery: ", 1, WAIT_MS));
  g_autofree char *recovered = sg_test_server_log (&s);
  g_assert_nonnull (strstr (recovered, "1 messages kept"));

  g_autofree char *bad2 = no_date (2), *bad3 = no_date (3);
  g_autofree char *r2 = transact (s.port, bad2);
  g_autofree char *r3 = transact (s.port, bad3);
  g_assert_true (g_str_has_prefix (r2, "550 ") && g_str_has_prefix (r3, "550 "));
  g_autoptr(GPtrArray) now = kept_ids (&s);
  g_assert_cmpuint (now->len, ==, 2);
  g_assert_false (g_ptr_array_find_with_equal_func (now, id1, g_str_equal, NULL));
  g_assert_false (g_file_test (eml1, G_FILE_TEST_EXISTS));
  g_autofree char *dropped = g_strdup_printf ("%s: rejected: dropped the kept copy", id1);
  g_assert_true (sg_test_wait_log (&s, dropped, 1, WAIT_MS));
  const char *id2 = g_ptr_array_index (now, 0), *id3 = g_ptr_array_index (now, 1);

  /* spoolgate rejected --json: one schema-valid object per line, oldest first */
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (sg (&s, &out, &err, "rejected", "--json", NULL), ==, 0);
  g_auto(GStrv) lines = g_strsplit (g_strchomp (out), "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 2);
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(JsonNode) line = json_from_string (lines[i], NULL);
      g_assert_nonnull (line);
      g_assert_cmpstr (member (line, NULL, "queue_id"), ==, (i == 0 ? id2 : id3));
      g_assert_cmpstr (member (line, NULL, "rule"), ==, "header.date.missing");
      g_autofree char *p = g_build_filename (s.dir, i == 0 ? "l0.json" : "l1.json", NULL);
      g_assert_true (g_file_set_contents (p, lines[i], -1, NULL));
      sg_test_assert_schema ("rejected-metadata.schema.json", (const char *const[]) { p, NULL });
    }
  /* the text listing */
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (sg (&s, &out, NULL, "rejected", NULL), ==, 0);
  g_assert_nonnull (strstr (out, id2));
  g_assert_nonnull (strstr (out, "header.date.missing"));
  g_assert_nonnull (strstr (out, "from <alice@example.com> client client.example[127.0.0.1]"));
  g_assert_nonnull (strstr (out, "2 refused messages"));

  /* show reads a refused message: the view, --json, --body */
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (sg (&s, &out, NULL, "show", id3, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "rule:      header.date.missing"));
  g_assert_nonnull (strstr (out, "reply:     550 5.6.0 Message rejected: "));
  g_assert_nonnull (strstr (out, "Subject: rollout 0003"));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (sg (&s, &out, NULL, "show", "--json", id3, NULL), ==, 0);
  g_autofree char *json3 = rejected_path (&s, id3, ".json");
  g_autofree char *stored = sg_test_read_file (json3, NULL);
  g_assert_cmpstr (out, ==, stored);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (sg (&s, &out, NULL, "show", "--body", id3, NULL), ==, 0);
  g_autofree char *eml3 = rejected_path (&s, id3, ".eml");
  g_autofree char *eml3_text = sg_test_read_file (eml3, NULL);
  g_assert_cmpstr (out, ==, eml3_text);
  /* an ID in neither place */
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (sg (&s, NULL, &err, "show", id1, NULL), ==, 1);
  g_assert_nonnull (strstr (err, "neither queue/ nor rejected/"));
  sg_test_server_free (&s);
}

/* release: a false reject becomes queued mail, durable in queue/ with its
 * envelope, listed by `spoolgate queue`, and delivered by the runner. */
static void
test_release (void)
{
  if (!g_file_test (SMTP_SINK, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("smtp-sink (postfix) is not installed");
      return;
    }
  SgTestServer s;
  guint16 sink_port = sg_test_free_port ();
  g_autofree char *conf = g_strdup_printf (
    "[validation]\nkeep_rejected = 1M\n"
    "[smarthost]\nhost = 127.0.0.1\nport = %u\ntls = none\nconnect_timeout = 5\n"
    "[queue]\nmin_backoff = 1\nmax_backoff = 1\nscan_interval = 2\n", sink_port);
  sg_test_server_start (&s, conf);

  g_autofree char *bad = no_date (7);
  g_autofree char *reply = transact (s.port, bad);
  g_assert_true (g_str_has_prefix (reply, "550 5.6.0 "));
  g_autoptr(GPtrArray) kept = kept_ids (&s);
  g_assert_cmpuint (kept->len, ==, 1);
  const char *id = g_ptr_array_index (kept, 0);

  /* mixing a refused ID with one that is not is refused as a whole */
  g_autofree char *good = message ("release, clean");
  g_autofree char *good_id = sg_test_send (s.port, "alice@example.com",
                                           (const char *const[]) { "bob@example.org", NULL }, good, -1);
  g_assert_nonnull (good_id);
  g_autofree char *err = NULL, *out = NULL;
  g_assert_cmpint (sg (&s, NULL, &err, "release", id, good_id, NULL), ==, 2);
  g_assert_nonnull (strstr (err, "release them separately"));
  g_autofree char *eml = rejected_path (&s, id, ".eml");
  g_assert_true (g_file_test (eml, G_FILE_TEST_EXISTS));

  /* no smarthost listens yet: the released message stays in the queue */
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (sg (&s, &out, &err, "release", id, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "released 1 message from rejected/ to the queue"));
  g_autofree char *logged = g_strdup_printf ("%s: released from rejected/ to the queue", id);
  g_assert_nonnull (strstr (err, logged));
  g_assert_nonnull (strstr (err, "was refused with 550 5.6.0"));
  g_assert_false (g_file_test (eml, G_FILE_TEST_EXISTS));
  g_autofree char *rjson = rejected_path (&s, id, ".json");
  g_assert_false (g_file_test (rjson, G_FILE_TEST_EXISTS));

  g_autofree char *qjson = json_path (&s, id);
  g_autoptr(JsonNode) meta = json_file (qjson);
  sg_test_assert_schema ("spool-metadata.schema.json", (const char *const[]) { qjson, NULL });
  g_assert_cmpstr (member (meta, NULL, "sender"), ==, "alice@example.com");
  g_assert_cmpstr (member (meta, NULL, "helo_name"), ==, "client.example");
  g_assert_cmpstr (member (meta, "validation", "rule"), ==, "header.date.missing");
  g_assert_cmpint (validation_bool (meta, "would_reject"), ==, 1);
  JsonObject *v = json_object_get_object_member (json_node_get_object (meta), "validation");
  g_assert_true (json_object_has_member (v, "released"));
  g_autofree char *qeml = eml_path (&s, id);
  g_autofree char *qeml_text = sg_test_read_file (qeml, NULL);
  g_assert_true (g_str_has_prefix (qeml_text, "Received: from client.example"));
  g_assert_true (g_str_has_suffix (qeml_text, bad));

  /* `spoolgate queue --json` sees it */
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (sg (&s, &out, NULL, "queue", "--json", NULL), ==, 0);
  g_autofree char *listed = g_strdup_printf ("\"queue_id\":\"%s\"", id);
  g_assert_nonnull (strstr (out, listed));

  /* releasing again is the ordinary release: it is queued mail now, not held */
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (sg (&s, &out, NULL, "release", id, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "1 message not held"));
  g_assert_false (g_file_test (eml, G_FILE_TEST_EXISTS));

  /* the runner delivers it once a smarthost listens */
  g_autofree char *dump = g_build_filename (s.dir, "sink", NULL);
  g_assert_cmpint (g_mkdir (dump, 0700), ==, 0);
  GSubprocess *sink = sg_test_smtp_sink (sink_port, dump, "root", NULL);
  g_autofree char *sent = g_strdup_printf ("%s: to=<bob@example.org>, relay=127.0.0.1", id);
  g_assert_true (sg_test_wait_log (&s, sent, 1, DELIVERY_WAIT_MS));
  g_assert_true (wait_deliveries (dump, "Subject: rollout 0007", 1, DELIVERY_WAIT_MS));
  g_assert_cmpuint (deliveries (dump, "Subject: rollout 0007"), ==, 1);
  sg_test_stop_process (sink);
  sg_test_server_free (&s);
}

/* Monitor mode with keep_rejected: a message enforce would have refused is
 * queued and delivered, and a copy in rejected/ outlives the delivery:
 * `rejected --monitored` lists it with its rule and "delivered", `show ID`
 * finds it once queue/ has forgotten it, `release` refuses it, and the plain
 * `rejected` listing (refused mail) does not show it. */
static void
test_monitor_kept (void)
{
  if (!g_file_test (SMTP_SINK, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("smtp-sink (postfix) is not installed");
      return;
    }
  SgTestServer s;
  guint16 sink_port = sg_test_free_port ();
  g_autofree char *conf = g_strdup_printf (
    "[validation]\nmode = monitor\nkeep_rejected = 1M\n"
    "[smarthost]\nhost = 127.0.0.1\nport = %u\ntls = none\nconnect_timeout = 5\n"
    "[queue]\nmin_backoff = 1\nmax_backoff = 1\nscan_interval = 2\n", sink_port);
  sg_test_server_start (&s, conf);

  g_autofree char *bad = no_date (11);
  g_autofree char *reply = transact (s.port, bad);
  g_assert_true (g_str_has_prefix (reply, "250 2.0.0 Ok: queued as "));
  g_autofree char *id = g_strndup (reply + strlen ("250 2.0.0 Ok: queued as "), 20);
  g_autofree char *good = message ("monitor kept, clean");
  g_autofree char *good_id = sg_test_send (s.port, "alice@example.com",
                                           (const char *const[]) { "bob@example.org", NULL }, good, -1);
  g_assert_nonnull (good_id);
  g_autoptr(GPtrArray) kept = kept_ids (&s);
  g_assert_cmpuint (kept->len, ==, 1);   /* the clean one is not kept */
  g_assert_cmpstr (g_ptr_array_index (kept, 0), ==, id);
  g_autofree char *kept_msg = g_strdup_printf ("%s: monitored: kept a copy in rejected/", id);
  g_assert_true (sg_test_wait_log (&s, kept_msg, 1, WAIT_MS));

  /* queued, not yet delivered (no smarthost yet) */
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (sg (&s, &out, &err, "rejected", "--monitored", NULL), ==, 0);
  g_assert_nonnull (strstr (out, id));
  g_assert_nonnull (strstr (out, "header.date.missing"));
  g_assert_nonnull (strstr (out, "in the queue, "));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (sg (&s, &out, NULL, "rejected", NULL), ==, 0);
  g_assert_null (strstr (out, id));
  g_assert_nonnull (strstr (out, "No rejected messages kept."));
  g_clear_pointer (&out, g_free);

  /* delivered: gone from queue/, still listed, and shown */
  g_autofree char *dump = g_build_filename (s.dir, "sink", NULL);
  g_assert_cmpint (g_mkdir (dump, 0700), ==, 0);
  GSubprocess *sink = sg_test_smtp_sink (sink_port, dump, "root", NULL);
  g_autofree char *sent = g_strdup_printf ("%s: to=<bob@example.org>, relay=127.0.0.1", id);
  g_assert_true (sg_test_wait_log (&s, sent, 1, DELIVERY_WAIT_MS));
  g_autofree char *qjson = json_path (&s, id);
  g_assert_true (sg_test_wait_gone (qjson, DELIVERY_WAIT_MS));
  g_autofree char *rjson = rejected_path (&s, id, ".json");
  g_assert_true (sg_test_wait_text (rjson, "\"delivered_time_us\"", 1, DELIVERY_WAIT_MS));
  g_autoptr(JsonNode) rec = json_file (rjson);
  g_assert_true (json_object_has_member (json_node_get_object (rec), "delivered_time_us"));
  sg_test_assert_schema ("rejected-metadata.schema.json", (const char *const[]) { rjson, NULL });

  g_assert_cmpint (sg (&s, &out, NULL, "rejected", "--monitored", NULL), ==, 0);
  g_assert_nonnull (strstr (out, id));
  g_assert_nonnull (strstr (out, "    enforce would have replied: 550 5.6.0 "));
  g_assert_nonnull (strstr (out, "    delivered "));
  g_assert_nonnull (strstr (out, "1 monitored message"));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (sg (&s, &out, NULL, "rejected", "--monitored", "--json", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "\"delivered\":true"));
  g_assert_nonnull (strstr (out, "\"monitored\":true"));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (sg (&s, &out, NULL, "show", id, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "monitored (accepted under [validation] mode = monitor"));
  g_assert_nonnull (strstr (out, "header.date.missing"));
  g_assert_nonnull (strstr (out, "delivery:"));
  g_assert_nonnull (strstr (out, "delivered "));
  g_assert_null (strstr (out, "spoolgate release"));
  g_clear_pointer (&out, g_free);

  /* a record, not mail: release refuses it and nothing is queued again */
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (sg (&s, NULL, &err, "release", id, NULL), ==, 1);
  g_assert_nonnull (strstr (err, "accepted under [validation] mode = monitor"));
  g_assert_false (g_file_test (qjson, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (deliveries (dump, "Subject: rollout 0011"), ==, 1);
  sg_test_stop_process (sink);
  sg_test_server_free (&s);
}

/* Start-up recovery of rejected/: leftovers of interrupted writes go,
 * copies already released go (the queued message stays), a copy cut short
 * goes, unknown files stay, whole copies stay. */
static void
test_recovery (void)
{
  SgTestServer s;
  sg_test_server_start (&s, "[validation]\nkeep_rejected = 1M\n");
  g_autofree char *bad = no_date (9);
  g_autofree char *reply = transact (s.port, bad);
  g_assert_true (g_str_has_prefix (reply, "550 "));
  g_autofree char *good = message ("recovery, clean");
  g_autofree char *queued = sg_test_send (s.port, "alice@example.com",
                                          (const char *const[]) { "bob@example.org", NULL }, good, -1);
  g_assert_nonnull (queued);
  g_autoptr(GPtrArray) kept = kept_ids (&s);
  g_assert_cmpuint (kept->len, ==, 1);
  const char *id = g_ptr_array_index (kept, 0);
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);

  /* craft what a crash could leave, with IDs that sort after id */
  g_autofree char *json = rejected_path (&s, id, ".json");
  g_autofree char *eml = rejected_path (&s, id, ".eml");
  g_autofree char *json_text = sg_test_read_file (json, NULL);
  const char *tmp_id = "ZZZZZZZZZZZ0000A0001", *lone_id = "ZZZZZZZZZZZ0000A0002",
             *short_id = "ZZZZZZZZZZZ0000A0003";
  g_autofree char *tmp = rejected_path (&s, tmp_id, ".eml.tmp");
  g_autofree char *lone = rejected_path (&s, lone_id, ".eml");
  g_autofree char *unknown = g_build_filename (s.spool, "rejected", "notes.txt", NULL);
  g_autofree char *released = rejected_path (&s, queued, ".json");
  g_autofree char *released_eml = rejected_path (&s, queued, ".eml");
  g_autofree char *short_json = rejected_path (&s, short_id, ".json");
  g_autofree char *short_eml = rejected_path (&s, short_id, ".eml");
  g_assert_true (g_file_set_contents (tmp, "partial", -1, NULL));
  g_assert_true (g_file_set_contents (lone, "no metadata", -1, NULL));
  g_assert_true (g_file_set_contents (unknown, "an operator's note", -1, NULL));
  g_assert_true (g_file_set_contents (released, json_text, -1, NULL));
  g_assert_true (g_file_set_contents (released_eml, bad, -1, NULL));
  g_auto(GStrv) parts = g_strsplit (json_text, id, -1);
  g_autofree char *short_text = g_strjoinv (short_id, parts);
  g_assert_true (g_file_set_contents (short_json, short_text, -1, NULL));
  g_assert_true (g_file_set_contents (short_eml, "cut", -1, NULL));

  sg_test_server_restart (&s);
  g_assert_true (sg_test_wait_log (&s, "rejected recovery: ", 1, WAIT_MS));
  g_autofree char *log = sg_test_server_log (&s);
  g_assert_nonnull (strstr (log, "1 messages kept"));
  g_assert_nonnull (strstr (log, "4 leftovers removed, 1 unknown files left alone"));
  g_assert_false (g_file_test (tmp, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (lone, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (released, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (released_eml, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (short_json, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (short_eml, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (unknown, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (json, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (eml, G_FILE_TEST_EXISTS));
  /* the acknowledged message is untouched */
  g_autofree char *qjson = json_path (&s, queued);
  g_autofree char *qeml = eml_path (&s, queued);
  g_assert_true (g_file_test (qjson, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (qeml, G_FILE_TEST_EXISTS));
  sg_test_server_free (&s);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/rollout/monitor", test_monitor);
  g_test_add_func ("/rollout/keep-rejected", test_keep_rejected);
  g_test_add_func ("/rollout/release", test_release);
  g_test_add_func ("/rollout/monitor-kept", test_monitor_kept);
  g_test_add_func ("/rollout/recovery", test_recovery);
  return g_test_run ();
}
