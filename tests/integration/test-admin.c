/* test-admin.c - the spool administration commands (queue, show, hold,
 * release, retry, delete, requeue) run as separate processes against a
 * running `spoolgate serve` that is receiving mail: listing, inspection,
 * each state change, finding the spool, and errors. Concurrency with the
 * queue runner is test-admin-race.c's. */
#include "admin_util.h"

#include <json-glib/json-glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>
#include <gio/gunixsocketaddress.h>

/* ---- queue ---- */

static void
test_queue_text (void)
{
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  static const char *const two[] = { "bob@example.org", "carol@example.net", NULL };
  g_autofree char *a = send_one (&s, NULL);
  g_autofree char *b = send_one (&s, two);
  g_autofree char *c = send_one (&s, NULL);
  g_autoptr(SgMeta) ma = meta_of (&s, a), mb = meta_of (&s, b), mc = meta_of (&s, c);

  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (sg (&s, &out, &err, "queue", NULL), ==, 0);
  g_assert_cmpstr (err, ==, "");
  const char *ids[] = { a, b, c };
  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      g_autofree char *entry = g_strdup_printf ("%s queued ", ids[i]);
      g_assert_nonnull (strstr (out, entry));
    }
  g_assert_nonnull (strstr (out, "<alice@example.com>"));
  g_assert_nonnull (strstr (out, "-> <carol@example.net> pending"));
  g_assert_nonnull (strstr (out, "next attempt now"));
  guint64 bytes = ma->message_size + mb->message_size + mc->message_size;
  g_autofree char *summary = g_strdup_printf ("-- 3 messages, %" G_GUINT64_FORMAT
                                              " bytes: queued 3 (%" G_GUINT64_FORMAT " bytes)\n",
                                              bytes, bytes);
  g_assert_true (g_str_has_suffix (out, summary));
  sg_test_server_free (&s);
}

static void
test_queue_json (void)
{
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  static const char *const two[] = { "bob@example.org", "carol@example.net", NULL };
  g_autofree char *a = send_one (&s, two);
  g_autofree char *b = send_one (&s, NULL);
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (sg (&s, &out, &err, "queue", "--json", NULL), ==, 0);

  g_auto(GStrv) lines = g_strsplit (out, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 3);   /* two objects, then "" */
  g_assert_cmpstr (lines[2], ==, "");
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(JsonParser) parser = json_parser_new ();
      g_autoptr(GError) error = NULL;
      g_assert_true (json_parser_load_from_data (parser, lines[i], -1, &error));
      JsonObject *o = json_node_get_object (json_parser_get_root (parser));
      const char *id = json_object_get_string_member (o, "queue_id");
      g_assert_cmpstr (id, ==, i == 0 ? a : b);
      g_autoptr(SgMeta) m = meta_of (&s, id);
      /* postqueue -j's names: never tried yet is "incoming"; ours in "state" */
      g_assert_cmpstr (json_object_get_string_member (o, "queue_name"), ==, "incoming");
      g_assert_cmpstr (json_object_get_string_member (o, "state"), ==, "queued");
      g_assert_false (json_object_get_boolean_member (o, "forced_expire"));
      g_assert_cmpint (json_object_get_int_member (o, "arrival_time"), ==,
                       m->arrival_time_us / G_USEC_PER_SEC);
      g_assert_cmpint (json_object_get_int_member (o, "message_size"), ==, m->message_size);
      g_autofree char *eml = eml_path (&s, id);
      GStatBuf st;
      g_assert_cmpint (g_stat (eml, &st), ==, 0);
      g_assert_cmpint (json_object_get_int_member (o, "message_size"), ==, st.st_size);
      g_assert_cmpstr (json_object_get_string_member (o, "sender"), ==, "alice@example.com");
      JsonArray *r = json_object_get_array_member (o, "recipients");
      g_assert_cmpuint (json_array_get_length (r), ==, i == 0 ? 2 : 1);
      JsonObject *r0 = json_array_get_object_element (r, 0);
      g_assert_cmpstr (json_object_get_string_member (r0, "address"), ==, "bob@example.org");
      g_assert_cmpstr (json_object_get_string_member (r0, "status"), ==, "pending");
      /* as postqueue -j: delay_reason only once delivery was put off */
      g_assert_false (json_object_has_member (r0, "delay_reason"));
    }
  sg_test_server_free (&s);
}

static void
test_queue_state (void)
{
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  g_autofree char *a = send_one (&s, NULL);
  g_autofree char *b = send_one (&s, NULL);
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (sg (&s, NULL, NULL, "hold", b, NULL), ==, 0);
  g_assert_cmpint (sg (&s, &out, &err, "queue", "--state", "held", NULL), ==, 0);
  g_assert_nonnull (strstr (out, b));
  g_assert_null (strstr (out, a));
  g_assert_nonnull (strstr (out, "-- 1 message, "));
  g_assert_nonnull (strstr (out, "held 1 ("));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (sg (&s, &out, NULL, "queue", "--json", "--state=queued", NULL), ==, 0);
  g_assert_nonnull (strstr (out, a));
  g_assert_null (strstr (out, b));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (sg (&s, &out, NULL, "queue", "--state", "failed", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "-- no messages in state failed\n");
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (sg (&s, NULL, &err, "queue", "--state", "bogus", NULL), ==, 2);
  assert_one_line (err);
  sg_test_server_free (&s);
}

/* ---- show ---- */

/* send_multipart - tests/data/admin/multipart.eml with CRLF line ends. */
static char *
send_multipart (SgTestServer *s, char **sent)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "admin", "multipart.eml", NULL);
  g_autofree char *lf = sg_test_read_file (path, NULL);
  g_auto(GStrv) lines = g_strsplit (lf, "\n", -1);
  *sent = g_strjoinv ("\r\n", lines);
  static const char *const bob[] = { "bob@example.org", NULL };
  char *id = sg_test_send (s->port, "alice@example.com", bob, *sent, -1);
  g_assert_nonnull (id);
  return id;
}

/* line_matching - whether some line of text starts with prefix and contains all of rest. */
static gboolean
has_line (const char *text, const char *prefix, const char *contains)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    if (g_str_has_prefix (lines[i], prefix) && strstr (lines[i], contains))
      return TRUE;
  return FALSE;
}

static void
test_show_text (void)
{
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  g_autofree char *sent = NULL;
  g_autofree char *id = send_multipart (&s, &sent);
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (sg (&s, &out, &err, "show", id, NULL), ==, 0);
  g_assert_cmpstr (err, ==, "");
  g_test_message ("%s", out);

  g_autofree char *title = g_strdup_printf ("Message %s\n", id);
  g_assert_true (g_str_has_prefix (out, title));
  g_assert_true (has_line (out, "  state:", "queued"));
  g_assert_true (has_line (out, "  from:", "<alice@example.com>"));
  g_assert_true (has_line (out, "  to:", "<bob@example.org> pending"));
  g_assert_true (has_line (out, "  address:", "127.0.0.1 port "));
  g_assert_true (has_line (out, "  helo:", "client.example"));
  g_assert_true (has_line (out, "  tls:", "none"));
  g_assert_true (has_line (out, "  result:", "accepted (policy standard)"));
  g_assert_true (has_line (out, "  history:", "none"));
  /* RFC 3501 part specifiers */
  g_assert_true (has_line (out, "  TEXT ", "multipart/mixed  -  3 parts"));
  g_assert_true (has_line (out, "  1 ", "multipart/alternative"));
  g_assert_true (has_line (out, "  1.1 ", "text/plain; charset=utf-8  quoted-printable"));
  g_assert_true (has_line (out, "  1.2 ", "text/html; charset=utf-8  7bit"));
  g_assert_true (has_line (out, "  2 ", "application/pdf  base64  108 bytes  \"report.pdf\""));
  g_assert_true (has_line (out, "  3 ", "message/rfc822"));
  g_assert_true (has_line (out, "  3.1 ", "text/plain; charset=us-ascii"));
  /* the header section, ending at the empty line */
  const char *header = strstr (out, "\nHeader\nReceived: from client.example");
  g_assert_nonnull (header);
  g_assert_nonnull (strstr (header, "\nSubject: Report with attachment\n"));
  g_assert_true (g_str_has_suffix (out, "boundary=\"outer-boundary\"\n\n"));
  g_assert_null (strstr (header, "This is a multi-part message"));
  g_assert_null (strchr (out, '\r'));
  sg_test_server_free (&s);
}

static void
test_show_body_and_json (void)
{
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  g_autofree char *sent = NULL;
  g_autofree char *id = send_multipart (&s, &sent);
  g_autofree char *eml = eml_path (&s, id);
  gsize eml_len = 0;
  g_autofree char *eml_text = sg_test_read_file (eml, &eml_len);

  g_autofree char *out = NULL;
  g_assert_cmpint (sg (&s, &out, NULL, "show", "--body", id, NULL), ==, 0);
  g_assert_cmpmem (out, strlen (out), eml_text, eml_len);
  g_assert_true (g_str_has_suffix (out, sent));

  g_clear_pointer (&out, g_free);
  g_autofree char *json = json_of (&s, id);
  g_assert_cmpint (sg (&s, &out, NULL, "show", id, "--json", NULL), ==, 0);
  g_assert_cmpstr (out, ==, json);

  g_autofree char *err = NULL;
  g_assert_cmpint (sg (&s, NULL, &err, "show", "--json", "--body", id, NULL), ==, 2);
  assert_one_line (err);
  sg_test_server_free (&s);
}

static void
test_show_terminal_safe (void)
{
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  g_autofree char *id = send_one (&s, NULL);
  /* Tamper with the stored header (the daemon does not re-read it unless it
   * delivers, and this test has no smarthost): an escape sequence and a CR. */
  g_autofree char *eml = eml_path (&s, id);
  g_autofree char *text = sg_test_read_file (eml, NULL);
  g_autofree char *evil = g_strconcat ("X-Evil: \x1b]0;pwned\x07 \x1b[2J\rgone\r\n", text, NULL);
  g_assert_true (g_file_set_contents (eml, evil, -1, NULL));
  g_autofree char *out = NULL;
  g_assert_cmpint (sg (&s, &out, NULL, "show", id, NULL), ==, 0);
  g_assert_null (strchr (out, '\x1b'));
  g_assert_null (strchr (out, '\x07'));
  g_assert_null (strchr (out, '\r'));
  g_assert_nonnull (strstr (out, "X-Evil: \\x1B]0;pwned\\x07 \\x1B[2J\\x0Dgone\n"));
  sg_test_server_free (&s);
}

/* ---- changing messages ---- */

static void
test_hold_release (void)
{
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  g_autofree char *a = send_one (&s, NULL);
  g_autofree char *b = send_one (&s, NULL);
  g_autofree char *out = NULL;

  g_assert_cmpint (sg (&s, &out, NULL, "hold", a, b, NULL), ==, 0);
  g_assert_cmpstr (out, ==, "spoolgate: held 2 messages\n");
  g_autoptr(SgMeta) ma = meta_of (&s, a);
  g_assert_cmpint (ma->state, ==, SG_MSG_HELD);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (sg (&s, &out, NULL, "hold", a, NULL), ==, 0);   /* idempotent */
  g_assert_cmpstr (out, ==, "spoolgate: 1 message already held\n");

  g_clear_pointer (&out, g_free);
  g_assert_cmpint (sg (&s, &out, NULL, "release", a, NULL), ==, 0);
  g_assert_cmpstr (out, ==, "spoolgate: released 1 message\n");
  g_autoptr(SgMeta) ma2 = meta_of (&s, a);
  g_assert_cmpint (ma2->state, ==, SG_MSG_QUEUED);
  g_assert_cmpint (ma2->next_attempt, ==, 0);

  /* a deferred message comes back deferred, its retry time kept */
  craft (&s, b, make_deferred);
  g_autoptr(SgMeta) before = meta_of (&s, b);
  g_assert_cmpint (sg (&s, NULL, NULL, "hold", b, NULL), ==, 0);
  g_assert_cmpint (sg (&s, NULL, NULL, "release", b, NULL), ==, 0);
  g_autoptr(SgMeta) after = meta_of (&s, b);
  g_assert_cmpint (after->state, ==, SG_MSG_DEFERRED);
  g_assert_cmpint (after->next_attempt, ==, before->next_attempt);
  g_assert_cmpuint (after->attempts, ==, 2);
  sg_test_server_free (&s);
}

static void
test_retry (void)
{
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  g_autofree char *a = send_one (&s, NULL);
  g_autofree char *b = send_one (&s, NULL);
  craft (&s, a, make_deferred);
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (sg (&s, &out, NULL, "retry", a, NULL), ==, 0);
  g_assert_cmpstr (out, ==, "spoolgate: made 1 message due now\n");
  g_autoptr(SgMeta) ma = meta_of (&s, a);
  g_assert_cmpint (ma->next_attempt, ==, 0);
  g_assert_cmpint (ma->state, ==, SG_MSG_DEFERRED);

  /* held stays held, and says so */
  g_assert_cmpint (sg (&s, NULL, NULL, "hold", b, NULL), ==, 0);
  g_autofree char *held = json_of (&s, b);
  g_assert_cmpint (sg (&s, NULL, &err, "retry", b, NULL), ==, 1);
  assert_one_line (err);
  g_assert_nonnull (strstr (err, "held"));
  g_autofree char *held2 = json_of (&s, b);
  g_assert_cmpstr (held, ==, held2);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (sg (&s, &out, NULL, "retry", "--all", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "spoolgate: made 1 message due now, skipped: held 1\n");
  sg_test_server_free (&s);
}

static void
test_delete (void)
{
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  g_autofree char *a = send_one (&s, NULL);
  g_autofree char *b = send_one (&s, NULL);
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (sg (&s, &out, NULL, "delete", a, NULL), ==, 0);
  g_assert_cmpstr (out, ==, "spoolgate: deleted 1 message\n");
  g_autofree char *ea = eml_path (&s, a), *ja = json_path (&s, a);
  g_assert_false (g_file_test (ea, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (ja, G_FILE_TEST_EXISTS));
  g_autoptr(GPtrArray) ids = sg_test_spool_ids (&s);
  g_assert_cmpuint (ids->len, ==, 1);
  g_assert_cmpint (sg (&s, NULL, &err, "delete", a, NULL), ==, 1);
  assert_one_line (err);
  g_assert_nonnull (strstr (err, "no message"));
  g_assert_cmpint (sg (&s, NULL, NULL, "show", a, NULL), ==, 1);
  sg_test_server_free (&s);
}

static void
test_requeue (void)
{
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  static const char *const two[] = { "bob@example.org", "carol@example.net", NULL };
  g_autofree char *a = send_one (&s, two);
  g_autofree char *b = send_one (&s, NULL);
  g_autofree char *out = NULL, *err = NULL;

  /* only failed mail: a queued message is refused and left alone */
  g_autofree char *jb = json_of (&s, b);
  g_assert_cmpint (sg (&s, NULL, &err, "requeue", b, NULL), ==, 1);
  assert_one_line (err);
  g_autofree char *jb2 = json_of (&s, b);
  g_assert_cmpstr (jb, ==, jb2);

  craft (&s, a, make_failed);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (sg (&s, &out, NULL, "queue", "--state", "failed", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "-> <carol@example.net> failed: 550 5.1.1 no such user"));
  /* failed mail is not in the queue: hold and retry refuse it */
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (sg (&s, NULL, &err, "hold", a, NULL), ==, 1);
  g_assert_nonnull (strstr (err, "not in the queue"));

  g_clear_pointer (&out, g_free);
  g_assert_cmpint (sg (&s, &out, NULL, "requeue", a, NULL), ==, 0);
  g_assert_cmpstr (out, ==, "spoolgate: requeued 1 message\n");
  g_autoptr(SgMeta) m = meta_of (&s, a);
  g_assert_cmpint (m->state, ==, SG_MSG_QUEUED);
  g_assert_cmpint (m->next_attempt, ==, 0);
  g_assert_cmpuint (m->attempts, ==, 3);
  SgMetaRecipient *r0 = g_ptr_array_index (m->recipients, 0);
  SgMetaRecipient *r1 = g_ptr_array_index (m->recipients, 1);
  g_assert_cmpint (r0->status, ==, SG_RCPT_DELIVERED);   /* not sent twice */
  g_assert_cmpint (r1->status, ==, SG_RCPT_PENDING);
  g_assert_null (r1->delay_reason);
  sg_test_server_free (&s);
}

/* ---- finding the spool ---- */

static void
test_spool_option (void)
{
  SgTestServer s;
  g_autofree char *dir = g_dir_make_tmp ("sg-admin-cfg-XXXXXX", NULL);
  sg_test_server_start (&s, NULL);
  g_autofree char *a = send_one (&s, NULL);
  g_autofree char *b = send_one (&s, NULL);

  /* --spool after, before and between IDs; -s; --spool=DIR */
  const char *after[] = { "hold", a, "--spool", s.spool, NULL };
  g_assert_cmpint (sgv (after, NULL, NULL), ==, 0);
  const char *before[] = { "release", "--spool", s.spool, a, NULL };
  g_assert_cmpint (sgv (before, NULL, NULL), ==, 0);
  const char *between[] = { "hold", a, "-s", s.spool, b, NULL };
  g_assert_cmpint (sgv (between, NULL, NULL), ==, 0);
  g_autoptr(SgMeta) mb = meta_of (&s, b);
  g_assert_cmpint (mb->state, ==, SG_MSG_HELD);
  g_autofree char *eq = g_strconcat ("--spool=", s.spool, NULL);
  const char *queue_eq[] = { "queue", "--state", "held", eq, NULL };
  g_autofree char *out = NULL;
  g_assert_cmpint (sgv (queue_eq, &out, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "held 2 ("));

  /* --config FILE names the spool */
  g_autofree char *conf = g_build_filename (dir, "admin.conf", NULL);
  g_autofree char *text = g_strdup_printf ("[spool]\ndir = %s\n", s.spool);
  g_assert_true (g_file_set_contents (conf, text, -1, NULL));
  const char *by_config[] = { "release", "--all", "--config", conf, NULL };
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (sgv (by_config, &out, NULL), ==, 0);
  g_assert_cmpstr (out, ==, "spoolgate: released 2 messages\n");
  const char *show_config[] = { "show", "--config", conf, "--json", a, NULL };
  g_assert_cmpint (sgv (show_config, NULL, NULL), ==, 0);

  /* no option: the built-in ./spool of the working directory */
  const char *plain[] = { sg_test_spoolgate (), "queue", "--json", NULL };
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (sg_test_run_in (s.dir, plain, &out, NULL), ==, 0);
  g_assert_nonnull (strstr (out, a));
  g_assert_nonnull (strstr (out, b));
  g_autofree char *empty_spool_err = NULL;
  g_assert_cmpint (sg_test_run_in (dir, plain, NULL, &empty_spool_err), ==, 1);
  g_assert_nonnull (strstr (empty_spool_err, "no spool at spool"));

  g_remove (conf);
  g_rmdir (dir);
  sg_test_server_free (&s);
}

/* ---- errors: one line, non-zero exit, nothing changed ---- */

static void
test_errors (void)
{
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  g_autofree char *a = send_one (&s, NULL);
  g_autofree char *before = snapshot (&s);
  const char *unknown = "1K0000000000000ZZZZZ";
  static const char *const ops[] = { "hold", "release", "retry", "delete", "requeue" };

  for (guint i = 0; i < G_N_ELEMENTS (ops); i++)
    {
      g_autofree char *out = NULL, *err = NULL;
      /* a known and an unknown ID: all or nothing */
      g_assert_cmpint (sg (&s, &out, &err, ops[i], a, unknown, NULL), ==, 1);
      g_assert_cmpstr (out, ==, "");
      g_assert_nonnull (strstr (err, unknown));
      g_auto(GStrv) lines = g_strsplit (err, "\n", -1);
      /* requeue refuses the queued one too: one line per refused ID */
      g_assert_cmpuint (g_strv_length (lines), ==, strcmp (ops[i], "requeue") == 0 ? 3 : 2);
      g_clear_pointer (&err, g_free);
      g_assert_cmpint (sg (&s, NULL, &err, ops[i], "not-an-id", NULL), ==, 2);
      assert_one_line (err);
      g_assert_nonnull (strstr (err, "not a queue ID"));
      g_clear_pointer (&err, g_free);
      g_assert_cmpint (sg (&s, NULL, &err, ops[i], NULL), ==, 2);   /* neither IDs nor --all */
      assert_one_line (err);
      g_clear_pointer (&err, g_free);
      g_assert_cmpint (sg (&s, NULL, &err, ops[i], "--all", a, NULL), ==, 2);
      assert_one_line (err);
    }
  g_autofree char *err = NULL;
  g_assert_cmpint (sg (&s, NULL, &err, "show", unknown, NULL), ==, 1);
  assert_one_line (err);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (sg (&s, NULL, &err, "show", "--body", unknown, NULL), ==, 1);
  assert_one_line (err);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (sg (&s, NULL, &err, "show", "--json", unknown, NULL), ==, 1);
  assert_one_line (err);

  /* a missing spool is reported, not created */
  g_autofree char *missing = g_build_filename (s.dir, "no-such-spool", NULL);
  const char *queue_missing[] = { "queue", "--spool", missing, NULL };
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (sgv (queue_missing, NULL, &err), ==, 1);
  assert_one_line (err);
  g_assert_nonnull (strstr (err, "no spool at"));
  const char *hold_missing[] = { "hold", "--all", "--spool", missing, NULL };
  g_assert_cmpint (sgv (hold_missing, NULL, NULL), ==, 1);
  g_assert_false (g_file_test (missing, G_FILE_TEST_EXISTS));
  const char *bad_config[] = { "queue", "--config", missing, NULL };
  g_assert_cmpint (sgv (bad_config, NULL, NULL), ==, 1);

  g_autofree char *after = snapshot (&s);
  g_assert_cmpstr (before, ==, after);
  sg_test_server_free (&s);
}

static void
test_corrupt_metadata (void)
{
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  g_autofree char *a = send_one (&s, NULL);
  g_autofree char *b = send_one (&s, NULL);
  g_autofree char *jb = json_path (&s, b);
  g_assert_true (g_file_set_contents (jb, "{\"version\": 1, \"queue_id\": ", -1, NULL));
  g_autofree char *before = snapshot (&s);

  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (sg (&s, &out, &err, "hold", b, NULL), ==, 1);
  assert_one_line (err);
  g_assert_nonnull (strstr (err, "unreadable metadata"));
  g_assert_nonnull (strstr (err, b));
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (sg (&s, NULL, &err, "show", b, NULL), ==, 1);
  assert_one_line (err);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (sg (&s, NULL, &err, "show", "--json", b, NULL), ==, 1);
  assert_one_line (err);
  g_autofree char *mid = snapshot (&s);
  g_assert_cmpstr (before, ==, mid);

  /* listing shows the good ones and names the bad one */
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (sg (&s, &out, &err, "queue", NULL), ==, 1);
  assert_one_line (err);
  g_assert_nonnull (strstr (err, b));
  g_assert_nonnull (strstr (out, a));
  /* --all changes the good and reports the bad */
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (sg (&s, &out, &err, "hold", "--all", NULL), ==, 1);
  assert_one_line (err);
  g_assert_cmpstr (out, ==, "spoolgate: held 1 message, 1 failed\n");
  g_autoptr(SgMeta) ma = meta_of (&s, a);
  g_assert_cmpint (ma->state, ==, SG_MSG_HELD);
  sg_test_server_free (&s);
}


/* ---- issue 15: operator parity with Postfix habits ---- */

/* json_line - the queue --json object of id in out (transfer full: the parser). */
static JsonParser *
json_line (const char *out, const char *id)
{
  g_auto(GStrv) lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (strstr (lines[i], id) == NULL)
        continue;
      JsonParser *parser = json_parser_new ();
      g_autoptr(GError) error = NULL;
      g_assert_true (json_parser_load_from_data (parser, lines[i], -1, &error));
      g_assert_no_error (error);
      return parser;
    }
  g_error ("no line for %s in:\n%s", id, out);
}

static void
make_utf8 (SgMeta *meta)
{
  g_free (meta->sender);
  meta->sender = g_strdup ("j\xc3\xb6rg@b\xc3\xbc" "cher.example");
  SgMetaRecipient *r = g_ptr_array_index (meta->recipients, 0);
  g_free (r->address);
  r->address = g_strdup ("zo\xc3\xab@example.org");
  meta->smtputf8 = TRUE;
}

/* Non-ASCII is printed as UTF-8 whatever the locale, never as '?'. */
static void
test_utf8_output (void)
{
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  g_autofree char *a = send_one (&s, NULL);
  craft (&s, a, make_utf8);
  g_setenv ("LC_ALL", "C", TRUE);
  g_setenv ("LANG", "C", TRUE);

  g_autofree char *out = NULL, *text = NULL, *shown = NULL;
  g_assert_cmpint (sg (&s, &out, NULL, "queue", "--json", NULL), ==, 0);
  g_assert_true (g_utf8_validate (out, -1, NULL));
  g_autoptr(JsonParser) p = json_line (out, a);
  JsonObject *o = json_node_get_object (json_parser_get_root (p));
  g_assert_cmpstr (json_object_get_string_member (o, "sender"), ==, "j\xc3\xb6rg@b\xc3\xbc" "cher.example");
  g_assert_nonnull (strstr (out, "zo\xc3\xab@example.org"));
  g_assert_cmpint (sg (&s, &text, NULL, "queue", NULL), ==, 0);
  g_assert_nonnull (strstr (text, "<j\xc3\xb6rg@b\xc3\xbc" "cher.example>"));
  g_assert_null (strchr (text, '?'));
  g_assert_cmpint (sg (&s, &shown, NULL, "show", a, NULL), ==, 0);
  g_assert_nonnull (strstr (shown, "<zo\xc3\xab@example.org>"));
  g_unsetenv ("LC_ALL");
  g_unsetenv ("LANG");
  sg_test_server_free (&s);
}

static void
make_delivered (SgMeta *meta)
{
  SgMetaRecipient *r = g_ptr_array_index (meta->recipients, 0);
  r->status = SG_RCPT_DELIVERED;
  meta->state = SG_MSG_DELIVERED;
  meta->attempts = 1;
}

/* queue_name takes Postfix's values; delivered mail is hidden like mailq. */
static void
test_queue_postfix_names (void)
{
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  static const char *const two[] = { "bob@example.org", "carol@example.net", NULL };
  g_autofree char *held = send_one (&s, NULL);
  g_autofree char *deferred = send_one (&s, NULL);
  g_autofree char *failed = send_one (&s, two);
  g_autofree char *delivered = send_one (&s, NULL);
  g_assert_cmpint (sg (&s, NULL, NULL, "hold", held, NULL), ==, 0);
  craft (&s, deferred, make_deferred);
  craft (&s, failed, make_failed);
  craft (&s, delivered, make_delivered);

  g_autofree char *out = NULL;
  g_assert_cmpint (sg (&s, &out, NULL, "queue", "--json", NULL), ==, 0);
  const struct { const char *id, *queue_name, *state; } want[] = {
    { held, "hold", "held" }, { deferred, "deferred", "deferred" }, { failed, "hold", "failed" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (want); i++)
    {
      g_autoptr(JsonParser) p = json_line (out, want[i].id);
      JsonObject *o = json_node_get_object (json_parser_get_root (p));
      g_assert_cmpstr (json_object_get_string_member (o, "queue_name"), ==, want[i].queue_name);
      g_assert_cmpstr (json_object_get_string_member (o, "state"), ==, want[i].state);
    }
  g_assert_null (strstr (out, delivered));
  /* a deferred recipient carries its delay_reason, as postqueue -j */
  g_autoptr(JsonParser) pf = json_line (out, failed);
  JsonArray *r = json_object_get_array_member (json_node_get_object (json_parser_get_root (pf)),
                                               "recipients");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (r, 1), "delay_reason"),
                   ==, "550 5.1.1 no such user");

  g_autofree char *text = NULL, *with = NULL;
  g_assert_cmpint (sg (&s, &text, NULL, "queue", NULL), ==, 0);
  g_assert_null (strstr (text, delivered));
  g_assert_nonnull (strstr (text, "-- 1 delivered message not shown (--state delivered)\n"));
  g_assert_cmpint (sg (&s, &with, NULL, "queue", "--state", "delivered", NULL), ==, 0);
  g_assert_nonnull (strstr (with, delivered));
  sg_test_server_free (&s);
}

/* Flags take no value (issue 13): --all=1 is a usage error, nothing changes. */
static void
test_flag_values (void)
{
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  g_autofree char *a = send_one (&s, NULL);
  g_autofree char *before = snapshot (&s);
  const char *const ops[] = { "hold", "delete", "retry", "release", "requeue" };
  for (guint i = 0; i < G_N_ELEMENTS (ops); i++)
    {
      g_autofree char *err = NULL;
      g_assert_cmpint (sg (&s, NULL, &err, ops[i], "--all=1", NULL), ==, 2);
      assert_one_line (err);
      g_assert_nonnull (strstr (err, "--all takes no value"));
    }
  const char *const lists[] = { "queue", "rejected" };
  for (guint i = 0; i < G_N_ELEMENTS (lists); i++)
    {
      g_autofree char *err = NULL;
      g_assert_cmpint (sg (&s, NULL, &err, lists[i], "--json=0", NULL), ==, 2);
      assert_one_line (err);
      g_assert_nonnull (strstr (err, "--json takes no value"));
      /* an argument is named, made terminal-safe, as every command does */
      g_autofree char *arg = NULL;
      g_assert_cmpint (sg (&s, NULL, &arg, lists[i], "x\033y", NULL), ==, 2);
      assert_one_line (arg);
      g_assert_nonnull (strstr (arg, ": unexpected argument \"x\\x1By\""));
    }
  g_autofree char *after = snapshot (&s);
  g_assert_cmpstr (before, ==, after);
  sg_test_server_free (&s);
}

/* --help names the command and its real synopsis. */
static void
test_help_usage (void)
{
  const char *const ops[] = { "hold", "release", "retry", "delete", "requeue" };
  for (guint i = 0; i < G_N_ELEMENTS (ops); i++)
    {
      const char *args[] = { ops[i], "--help", NULL };
      g_autofree char *out = NULL;
      g_assert_cmpint (sgv (args, &out, NULL), ==, 0);
      g_autofree char *usage = g_strdup_printf ("\n  spoolgate %s [OPTION\xe2\x80\xa6] ID... | - | --all [--state STATE]\n",
                                                ops[i]);
      if (strstr (out, usage) == NULL)
        g_error ("want %s in:\n%s", usage, out);
      g_assert_nonnull (strstr (out, "--state"));
    }
  const char *q[] = { "queue", "--help", NULL };
  g_autofree char *out = NULL;
  g_assert_cmpint (sgv (q, &out, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "\n  spoolgate queue [OPTION\xe2\x80\xa6]\n"));
}

/* --all --state STATE acts on that state only, like postsuper -d ALL deferred. */
static void
test_all_state (void)
{
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  g_autofree char *queued = send_one (&s, NULL);
  g_autofree char *deferred = send_one (&s, NULL);
  g_autofree char *held = send_one (&s, NULL);
  g_assert_cmpint (sg (&s, NULL, NULL, "hold", held, NULL), ==, 0);
  craft (&s, deferred, make_deferred);

  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (sg (&s, &out, &err, "delete", "--all", "--state", "deferred", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "spoolgate: deleted 1 message\n");
  g_assert_null (meta_of (&s, deferred));
  g_autoptr(SgMeta) mq = meta_of (&s, queued);
  g_autoptr(SgMeta) mh = meta_of (&s, held);
  g_assert_nonnull (mq);
  g_assert_nonnull (mh);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (sg (&s, &out, NULL, "release", "--all", "--state", "hold", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "spoolgate: released 1 message\n");
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (sg (&s, NULL, &err, "hold", "--state", "queued", queued, NULL), ==, 2);
  assert_one_line (err);
  sg_test_server_free (&s);
}

/* run_stdin - spoolgate ARGS with input on standard input; exit status. */
static int
run_stdin (const char *const *args, const char *input, char **out, char **err)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) sg_test_spoolgate ());
  for (guint i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) p = g_subprocess_newv ((const char *const *) argv->pdata,
    G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
    &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (p, input, NULL, out, err, &error));
  g_assert_no_error (error);
  return g_subprocess_get_exit_status (p);
}

/* "-" reads IDs from standard input: queue --json | jq | delete -. */
static void
test_ids_from_stdin (void)
{
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  g_autofree char *a = send_one (&s, NULL);
  g_autofree char *b = send_one (&s, NULL);
  g_autofree char *c = send_one (&s, NULL);
  g_autofree char *lower = g_ascii_strdown (b, -1);
  g_autofree char *input = g_strdup_printf ("%s\n  %s\n", a, lower);
  const char *hold[] = { "hold", "--spool", s.spool, "-", NULL };
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (run_stdin (hold, input, &out, &err), ==, 0);
  g_assert_cmpstr (out, ==, "spoolgate: held 2 messages\n");
  g_autoptr(SgMeta) mc = meta_of (&s, c);
  g_assert_cmpint (mc->state, ==, SG_MSG_QUEUED);

  /* the pipeline of the issue, with jq */
  g_autofree char *pipeline = g_strdup_printf (
    "'%s' queue --json --spool '%s' --state hold | jq -r .queue_id | '%s' delete --spool '%s' -",
    sg_test_spoolgate (), s.spool, sg_test_spoolgate (), s.spool);
  const char *sh[] = { "/bin/sh", "-c", pipeline, NULL };
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (sg_test_run (sh, &out, NULL), ==, 0);
  g_assert_cmpstr (out, ==, "spoolgate: deleted 2 messages\n");
  g_assert_null (meta_of (&s, a));
  g_assert_null (meta_of (&s, b));

  /* a bad ID on stdin is a usage error and changes nothing */
  g_clear_pointer (&err, g_free);
  const char *del[] = { "delete", "--spool", s.spool, "-", NULL };
  g_assert_cmpint (run_stdin (del, "not-an-id\n", NULL, &err), ==, 2);
  assert_one_line (err);
  g_autoptr(SgMeta) still = meta_of (&s, c);
  g_assert_nonnull (still);
  sg_test_server_free (&s);
}

/* Each change goes to the system logger as spoolgate/admin, with who did it. */
static void
test_admin_syslog (void)
{
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  g_autofree char *a = send_one (&s, NULL);
  g_autofree char *dir = g_dir_make_tmp ("sg-syslog-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "log", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) sock = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_DATAGRAM,
                                          G_SOCKET_PROTOCOL_DEFAULT, &error);
  g_assert_no_error (error);
  g_autoptr(GSocketAddress) addr = g_unix_socket_address_new (path);
  g_assert_true (g_socket_bind (sock, addr, TRUE, &error));
  g_setenv ("SPOOLGATE_SYSLOG_SOCKET", path, TRUE);

  const char *ops[][2] = { { "hold", "placed on hold" }, { "release", "released from hold" },
                           { "retry", "made due now" }, { "delete", "removed" } };
  for (guint i = 0; i < G_N_ELEMENTS (ops); i++)
    {
      g_assert_cmpint (sg (&s, NULL, NULL, ops[i][0], a, NULL), ==, 0);
      char buf[1024];
      g_socket_set_timeout (sock, 10);
      gssize n = g_socket_receive (sock, buf, sizeof buf - 1, NULL, &error);
      g_assert_no_error (error);
      buf[n] = '\0';
      /* <22>: facility mail, priority info */
      g_assert_true (g_str_has_prefix (buf, "<22>"));
      g_autofree char *want = g_strdup_printf ("]: %s: %s, by uid %u (", a, ops[i][1],
                                               (unsigned) getuid ());
      if (strstr (buf, " spoolgate/admin[") == NULL || strstr (buf, want) == NULL)
        g_error ("want \"%s\" in syslog line: %s", want, buf);
    }
  g_unsetenv ("SPOOLGATE_SYSLOG_SOCKET");
  g_unlink (path);
  g_rmdir (dir);
  sg_test_server_free (&s);
}

/* after_prefix - err without its "spoolgate CMD: " prefix and any "; ..." tail (transfer full). */
static char *
after_prefix (const char *err)
{
  const char *p = strstr (err, ": ");
  g_assert_nonnull (p);
  char *rest = g_strdup (p + 2);
  char *semi = strstr (rest, "; ");
  if (semi)
    *semi = '\0';
  g_strchomp (rest);
  return rest;
}

/* The same situation reads the same in every command. */
static void
test_error_wording (void)
{
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  g_autofree char *a = send_one (&s, NULL);
  g_autofree char *b = send_one (&s, NULL);
  g_assert_cmpint (sg (&s, NULL, NULL, "delete", a, NULL), ==, 0);
  g_autofree char *jb = json_path (&s, b);
  g_assert_true (g_file_set_contents (jb, "{\"version\": 1", -1, NULL));

  g_autofree char *missing = g_strdup_printf ("no message %s in %s", a, s.spool);
  const char *const missing_cmds[][3] = { { "show", NULL }, { "show", "--json" }, { "show", "--body" },
                                          { "hold", NULL }, { "delete", NULL }, { "retry", NULL } };
  for (guint i = 0; i < G_N_ELEMENTS (missing_cmds); i++)
    {
      g_autofree char *err = NULL;
      if (missing_cmds[i][1])
        g_assert_cmpint (sg (&s, NULL, &err, missing_cmds[i][0], missing_cmds[i][1], a, NULL), ==, 1);
      else
        g_assert_cmpint (sg (&s, NULL, &err, missing_cmds[i][0], a, NULL), ==, 1);
      g_autofree char *what = after_prefix (err);
      /* show adds where else it looked: " (neither queue/ nor rejected/)" */
      if (!g_str_has_prefix (what, missing))
        g_error ("want \"%s\", got \"%s\"", missing, what);
    }
  g_autofree char *unreadable = g_strdup_printf ("message %s: unreadable metadata: queue/%s.json: ", b, b);
  const char *const bad_cmds[][2] = { { "show", NULL }, { "show", "--json" }, { "hold", NULL },
                                      { "queue", NULL } };
  for (guint i = 0; i < G_N_ELEMENTS (bad_cmds); i++)
    {
      g_autofree char *err = NULL;
      if (strcmp (bad_cmds[i][0], "queue") == 0)
        g_assert_cmpint (sg (&s, NULL, &err, "queue", NULL), ==, 1);
      else if (bad_cmds[i][1])
        g_assert_cmpint (sg (&s, NULL, &err, bad_cmds[i][0], bad_cmds[i][1], b, NULL), ==, 1);
      else
        g_assert_cmpint (sg (&s, NULL, &err, bad_cmds[i][0], b, NULL), ==, 1);
      g_autofree char *what = after_prefix (err);
      if (!g_str_has_prefix (what, unreadable))
        g_error ("want \"%s...\", got \"%s\"", unreadable, what);
    }
  sg_test_server_free (&s);
}

/* sg_cli_format_time_for_test - what the commands print for an epoch time
 * (local "YYYY-MM-DD HH:MM:SS +ZZZZ", cli_spool.c) (transfer full). */
static char *
sg_cli_format_time_for_test (gint64 epoch)
{
  g_autoptr(GDateTime) t = g_date_time_new_from_unix_local (epoch);
  return g_date_time_format (t, "%Y-%m-%d %H:%M:%S %z");
}

static void
make_history (SgMeta *meta)
{
  static const char *const json =
    "[{\"time\": 1796137684, \"relay\": null, \"tls_protocol\": null, \"tls_cipher\": null,"
    "  \"result\": \"deferred\", \"reply\": \"connect to smarthost: Connection refused\","
    "  \"recipients\": [{\"address\": \"bob@example.org\", \"status\": \"deferred\","
    "                    \"reply\": \"connect to smarthost: Connection refused\"}]},"
    " {\"time\": 1796137700, \"relay\": \"mx[192.0.2.1]:25\", \"tls_protocol\": \"TLSv1.3\","
    "  \"tls_cipher\": \"TLS_AES_256_GCM_SHA384\", \"tls_verified\": true, \"result\": \"deferred\","
    "  \"reply\": null, \"recipients\": [{\"address\": \"bob@example.org\", \"status\": \"deferred\","
    "                    \"reply\": \"451 4.3.0 try later\"}]}]";
  g_autoptr(GError) error = NULL;
  g_clear_pointer (&meta->attempt_history, json_node_unref);
  meta->attempt_history = json_from_string (json, &error);
  g_assert_no_error (error);
  make_deferred (meta);
}

/* show prints the attempt history like the rest of show, not raw JSON. */
static void
test_show_history (void)
{
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  g_autofree char *a = send_one (&s, NULL);
  craft (&s, a, make_history);
  g_autofree char *out = NULL;
  g_assert_cmpint (sg (&s, &out, NULL, "show", a, NULL), ==, 0);
  g_autofree char *t1 = sg_cli_format_time_for_test (1796137684);
  g_assert_nonnull (strstr (out, "\nAttempts\n  #1:"));
  g_assert_nonnull (strstr (out, " deferred, relay none (no connection)\n"));
  g_assert_nonnull (strstr (out, "error: connect to smarthost: Connection refused\n"));
  g_assert_nonnull (strstr (out, "  #2:"));
  g_assert_nonnull (strstr (out, " deferred, relay mx[192.0.2.1]:25\n"));
  g_assert_nonnull (strstr (out, "TLS TLSv1.3 TLS_AES_256_GCM_SHA384 (verified)\n"));
  g_assert_nonnull (strstr (out, "<bob@example.org> deferred: 451 4.3.0 try later\n"));
  g_assert_null (strstr (out, "recipients="));
  g_assert_null (strstr (out, "[{"));
  g_assert_nonnull (strstr (out, t1));
  sg_test_server_free (&s);
}

/* A message whose lock is held (being delivered) is "active", like Postfix. */
static void
test_queue_active (void)
{
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  g_autofree char *a = send_one (&s, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(SgSpool) spool = sg_spool_open_admin (s.spool, &error);
  g_assert_no_error (error);
  int fd = sg_spool_lock_message (spool, a, TRUE, &error);
  g_assert_no_error (error);
  g_autofree char *out = NULL, *text = NULL;
  g_assert_cmpint (sg (&s, &out, NULL, "queue", "--json", NULL), ==, 0);
  g_autoptr(JsonParser) p = json_line (out, a);
  JsonObject *o = json_node_get_object (json_parser_get_root (p));
  g_assert_cmpstr (json_object_get_string_member (o, "queue_name"), ==, "active");
  g_assert_cmpstr (json_object_get_string_member (o, "state"), ==, "queued");
  g_assert_cmpint (sg (&s, &text, NULL, "queue", NULL), ==, 0);
  g_assert_nonnull (strstr (text, ", being delivered now\n"));
  sg_spool_unlock_message (fd);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (sg (&s, &out, NULL, "queue", "--json", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "\"queue_name\":\"incoming\""));
  sg_test_server_free (&s);
}

/* Start-up: one summary, messages counted by state, recycled files in tmp/
 * not reported as unfinished writes. */
static void
test_recovery_summary (void)
{
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  static const char *const two[] = { "bob@example.org", "carol@example.net", NULL };
  g_autofree char *queued = send_one (&s, NULL);
  g_autofree char *held = send_one (&s, NULL);
  g_autofree char *failed = send_one (&s, two);
  g_assert_cmpint (sg (&s, NULL, NULL, "hold", held, NULL), ==, 0);
  craft (&s, failed, make_failed);
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  /* a retired message's file kept for reuse (spool_pool.c), and a real leftover */
  g_autofree char *pool = g_build_filename (s.spool, "tmp", "free-0000000000000001", NULL);
  g_autofree char *partial = g_build_filename (s.spool, "tmp", "partial.eml", NULL);
  g_assert_true (g_file_set_contents (pool, "an old message", -1, NULL));
  g_assert_true (g_file_set_contents (partial, "half a message", -1, NULL));
  sg_test_server_restart (&s);

  g_autofree char *log = sg_test_server_log (&s);
  g_autofree char *want = g_strdup_printf ("spool recovery: %s: 3 messages (queued 1, held 1, failed 1); "
                                           "1 unfinished write removed, 0 files quarantined, "
                                           "1 recycled file dropped\n", s.spool);
  if (strstr (log, want) == NULL)
    g_error ("want \"%s\" in:\n%s", want, log);
  g_assert_nonnull (strstr (log, "removed unfinished write tmp/partial.eml"));
  g_assert_null (strstr (log, "unfinished write tmp/free-"));
  /* one summary per start: two starts, two lines */
  g_assert_cmpuint (sg_test_count (log, "spool recovery: "), ==, 3);   /* 2 summaries + partial.eml */
  g_assert_null (strstr (log, "message(s) queued"));
  sg_test_server_free (&s);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/admin/queue/text", test_queue_text);
  g_test_add_func ("/admin/queue/json", test_queue_json);
  g_test_add_func ("/admin/queue/state", test_queue_state);
  g_test_add_func ("/admin/show/text", test_show_text);
  g_test_add_func ("/admin/show/body-and-json", test_show_body_and_json);
  g_test_add_func ("/admin/show/terminal-safe", test_show_terminal_safe);
  g_test_add_func ("/admin/hold-release", test_hold_release);
  g_test_add_func ("/admin/retry", test_retry);
  g_test_add_func ("/admin/delete", test_delete);
  g_test_add_func ("/admin/requeue", test_requeue);
  g_test_add_func ("/admin/spool-option", test_spool_option);
  g_test_add_func ("/admin/errors/ids-and-spool", test_errors);
  g_test_add_func ("/admin/errors/corrupt-metadata", test_corrupt_metadata);
  g_test_add_func ("/admin/issue15/utf8-output", test_utf8_output);
  g_test_add_func ("/admin/issue15/postfix-queue-names", test_queue_postfix_names);
  g_test_add_func ("/admin/issue15/flag-values", test_flag_values);
  g_test_add_func ("/admin/issue15/help-usage", test_help_usage);
  g_test_add_func ("/admin/issue15/all-state", test_all_state);
  g_test_add_func ("/admin/issue15/ids-from-stdin", test_ids_from_stdin);
  g_test_add_func ("/admin/issue15/syslog", test_admin_syslog);
  g_test_add_func ("/admin/issue15/recovery-summary", test_recovery_summary);
  g_test_add_func ("/admin/issue15/error-wording", test_error_wording);
  g_test_add_func ("/admin/issue15/show-history", test_show_history);
  g_test_add_func ("/admin/issue15/queue-active", test_queue_active);
  return g_test_run ();
}
