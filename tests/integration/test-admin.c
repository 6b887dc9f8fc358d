/* test-admin.c - the spool administration commands (queue, show, hold,
 * release, retry, delete, requeue) run as separate processes against a
 * running `spoolgate serve` that is receiving mail: listing, inspection,
 * each state change, finding the spool, and errors. Concurrency with the
 * queue runner is test-admin-race.c's. */
#include "admin_util.h"

#include <json-glib/json-glib.h>
#include <glib/gstdio.h>
#include <string.h>

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
      g_assert_cmpstr (json_object_get_string_member (o, "queue_name"), ==, "queued");
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
      g_assert_true (json_object_has_member (r0, "delay_reason"));
      g_assert_true (json_object_get_null_member (r0, "delay_reason"));
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
  return g_test_run ();
}
