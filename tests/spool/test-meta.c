/* test-meta.c - metadata JSON tests: round trip, the version check, missing
 * and malformed fields, and that the C reader and the published schema
 * require the same fields. */
#include "spool_test_util.h"

#include <string.h>

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* committed_meta - sample metadata as it looks after a commit. */
static SgMeta *
committed_meta (void)
{
  SgMeta *meta = sg_test_sample_meta ();

  meta->sha256 = g_strdup (EMPTY_SHA256);
  meta->message_size = 0;
  return meta;
}

/* meta_object - the JSON object form of meta (transfer full). */
static JsonNode *
meta_object (const SgMeta *meta)
{
  g_autofree char *text = sg_meta_to_json (meta, NULL);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  return json_node_copy (json_parser_get_root (parser));
}

/* node_text - serialise a node (transfer full). */
static char *
node_text (JsonNode *node)
{
  return json_to_string (node, FALSE);
}

/* /spool/meta/round-trip - every field survives to_json then from_json. */
static void
test_round_trip (void)
{
  g_autoptr(SgMeta) meta = committed_meta ();
  g_autoptr(SgMeta) back = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *text2 = NULL;
  SgMetaRecipient *r;
  gsize len = 0;

  r = g_ptr_array_index (meta->recipients, 1);
  r->status = SG_RCPT_DEFERRED;
  r->delay_reason = g_strdup ("451 4.7.1 try later");
  r->updated = 1700000000;
  ((SgMetaRecipient *) g_ptr_array_index (meta->recipients, 0))->bounced = 1700000300;
  meta->lifetime_start = 1700000100;
  meta->eightbit = SG_EIGHTBIT_YES;
  meta->state = SG_MSG_DEFERRED;
  meta->attempts = 3;
  meta->next_attempt = 1700000600;
  meta->last_error = g_strdup ("connection refused");
  meta->attempt_history = json_from_string ("[{\"time\": 1700000000, \"result\": \"deferred\"}]",
                                            &error);
  g_assert_no_error (error);

  text = sg_meta_to_json (meta, &len);
  g_assert_cmpuint (len, ==, strlen (text));
  g_assert_true (g_str_has_suffix (text, "}\n"));
  back = sg_meta_from_json (text, (gssize) len, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back->queue_id, ==, meta->queue_id);
  g_assert_cmpint (back->arrival_time_us, ==, meta->arrival_time_us);
  g_assert_cmpstr (back->sender, ==, "alice@example.org");
  g_assert_cmpuint (back->recipients->len, ==, 2);
  r = g_ptr_array_index (back->recipients, 1);
  g_assert_cmpstr (r->address, ==, "carol@example.com");
  g_assert_cmpint (r->status, ==, SG_RCPT_DEFERRED);
  g_assert_cmpstr (r->delay_reason, ==, "451 4.7.1 try later");
  g_assert_cmpint (r->updated, ==, 1700000000);
  g_assert_cmpint (r->bounced, ==, 0);
  g_assert_cmpint (((SgMetaRecipient *) g_ptr_array_index (back->recipients, 0))->bounced, ==,
                   1700000300);
  g_assert_cmpint (back->lifetime_start, ==, 1700000100);
  g_assert_cmpint (back->esmtp_size, ==, 1234);
  g_assert_cmpstr (back->esmtp_body, ==, "8BITMIME");
  g_assert_true (back->smtputf8);
  g_assert_cmpint (back->eightbit, ==, SG_EIGHTBIT_YES);
  g_assert_cmpstr (back->client_address, ==, "192.0.2.7");
  g_assert_cmpuint (back->client_port, ==, 50123);
  g_assert_cmpstr (back->helo_name, ==, "client.example.org");
  g_assert_cmpstr (back->protocol, ==, "UTF8SMTPS");
  g_assert_cmpstr (back->tls_protocol, ==, "TLSv1.3");
  g_assert_cmpstr (back->tls_cipher, ==, "TLS_AES_256_GCM_SHA384");
  g_assert_cmpstr (back->sha256, ==, EMPTY_SHA256);
  g_assert_cmpint (back->state, ==, SG_MSG_DEFERRED);
  g_assert_cmpuint (back->attempts, ==, 3);
  g_assert_cmpint (back->next_attempt, ==, 1700000600);
  g_assert_cmpstr (back->last_error, ==, "connection refused");
  g_assert_true (json_node_equal (back->validation, meta->validation));
  g_assert_true (json_node_equal (back->attempt_history, meta->attempt_history));
  /* And serialising again gives the same bytes. */
  text2 = sg_meta_to_json (back, NULL);
  g_assert_cmpstr (text, ==, text2);
}

/* /spool/meta/version-1 - version 1 files (before lifetime_start and
 * bounced) are still read; one in state failed reads as reported, so that a
 * requeue cannot send its recipients a second non-delivery report. */
static void
test_version_1 (void)
{
  g_autoptr(SgMeta) meta = committed_meta ();
  SgMetaRecipient *failed = g_ptr_array_index (meta->recipients, 1);
  failed->status = SG_RCPT_FAILED;
  failed->updated = 1700000500;
  for (guint state = SG_MSG_QUEUED; state <= SG_MSG_FAILED; state++)
    {
      meta->state = (SgMsgState) state;
      g_autoptr(JsonNode) root = meta_object (meta);
      json_object_set_int_member (json_node_get_object (root), "version", 1);
      g_autofree char *text = node_text (root);
      g_autoptr(GError) error = NULL;
      g_autoptr(SgMeta) back = sg_meta_from_json (text, -1, &error);
      g_assert_no_error (error);
      SgMetaRecipient *r0 = g_ptr_array_index (back->recipients, 0);
      SgMetaRecipient *r1 = g_ptr_array_index (back->recipients, 1);
      g_assert_cmpint (r0->bounced, ==, 0);
      g_assert_cmpint (r1->bounced, ==, state == SG_MSG_FAILED ? 1700000500 : 0);
      g_assert_cmpint (back->lifetime_start, ==, 0);
      /* written back as the current version */
      g_autofree char *again = sg_meta_to_json (back, NULL);
      g_assert_nonnull (strstr (again, "\"version\" : 3"));
    }
}

/* /spool/meta/eightbit - version 3's eightbit: true and false round-trip;
 * absent (any version 2 file) reads as unknown and is written back absent,
 * so the spool reads the message once to find out (meta.h: SgEightBit);
 * anything but a boolean is refused. */
static void
test_eightbit (void)
{
  g_autoptr(SgMeta) meta = committed_meta ();
  static const SgEightBit values[] = { SG_EIGHTBIT_NO, SG_EIGHTBIT_YES, SG_EIGHTBIT_UNKNOWN };
  for (guint i = 0; i < G_N_ELEMENTS (values); i++)
    {
      meta->eightbit = values[i];
      g_autofree char *text = sg_meta_to_json (meta, NULL);
      g_assert_true ((strstr (text, "\"eightbit\"") != NULL) == (values[i] != SG_EIGHTBIT_UNKNOWN));
      g_autoptr(GError) error = NULL;
      g_autoptr(SgMeta) back = sg_meta_from_json (text, -1, &error);
      g_assert_no_error (error);
      g_assert_cmpint (back->eightbit, ==, values[i]);
    }
  meta->eightbit = SG_EIGHTBIT_UNKNOWN;
  g_autoptr(JsonNode) root = meta_object (meta);
  JsonObject *obj = json_node_get_object (root);
  json_object_set_int_member (obj, "version", 2);
  g_autofree char *v2 = node_text (root);
  g_autoptr(GError) error = NULL;
  g_autoptr(SgMeta) back = sg_meta_from_json (v2, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (back->eightbit, ==, SG_EIGHTBIT_UNKNOWN);
  json_object_set_string_member (obj, "eightbit", "yes");
  g_autofree char *bad = node_text (root);
  g_assert_null (sg_meta_from_json (bad, -1, &error));
  g_assert_error (error, SG_META_ERROR, SG_META_ERROR_INVALID);
}

/* /spool/meta/nulls - nullable fields round-trip as NULL/-1. */
static void
test_nulls (void)
{
  g_autoptr(SgMeta) meta = committed_meta ();
  g_autoptr(SgMeta) back = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  g_clear_pointer (&meta->tls_protocol, g_free);
  g_clear_pointer (&meta->tls_cipher, g_free);
  g_clear_pointer (&meta->helo_name, g_free);
  g_clear_pointer (&meta->esmtp_body, g_free);
  g_clear_pointer (&meta->validation, json_node_unref);
  g_free (meta->sender);
  meta->sender = g_strdup ("");
  meta->esmtp_size = -1;
  text = sg_meta_to_json (meta, NULL);
  back = sg_meta_from_json (text, -1, &error);
  g_assert_no_error (error);
  g_assert_null (back->tls_protocol);
  g_assert_null (back->tls_cipher);
  g_assert_null (back->helo_name);
  g_assert_null (back->esmtp_body);
  g_assert_null (back->validation);
  g_assert_cmpstr (back->sender, ==, "");
  g_assert_cmpint (back->esmtp_size, ==, -1);
}

/* /spool/meta/version - a wrong or missing version is SG_META_ERROR_VERSION. */
static void
test_version (void)
{
  static const char *const versions[] = { "4", "0", "\"1\"", "1.0", NULL /* removed */ };
  g_autoptr(SgMeta) meta = committed_meta ();

  for (guint i = 0; i < G_N_ELEMENTS (versions); i++)
    {
      g_autoptr(JsonNode) root = meta_object (meta);
      JsonObject *obj = json_node_get_object (root);
      g_autoptr(GError) error = NULL;
      g_autoptr(SgMeta) back = NULL;
      g_autofree char *text = NULL;

      if (versions[i] != NULL)
        json_object_set_member (obj, "version", json_from_string (versions[i], NULL));
      else
        json_object_remove_member (obj, "version");
      text = node_text (root);
      back = sg_meta_from_json (text, -1, &error);
      g_assert_null (back);
      g_assert_error (error, SG_META_ERROR, SG_META_ERROR_VERSION);
    }
}

/* /spool/meta/required - removing any field the schema requires makes the
 * reader fail too, so the two agree. */
static void
test_required (void)
{
  g_autofree char *schema_path = g_test_build_filename (G_TEST_DIST, "..", "schemas",
                                                        "spool-metadata.schema.json", NULL);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(SgMeta) meta = committed_meta ();
  JsonArray *required;
  JsonObject *rcpt_def;

  json_parser_load_from_file (parser, schema_path, &error);
  g_assert_no_error (error);
  required = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)),
                                           "required");
  g_assert_cmpuint (json_array_get_length (required), >=, 20);
  for (guint i = 0; i < json_array_get_length (required); i++)
    {
      const char *field = json_array_get_string_element (required, i);
      g_autoptr(JsonNode) root = meta_object (meta);
      g_autoptr(SgMeta) back = NULL;
      g_autoptr(GError) err = NULL;
      g_autofree char *text = NULL;

      json_object_remove_member (json_node_get_object (root), field);
      text = node_text (root);
      back = sg_meta_from_json (text, -1, &err);
      if (back != NULL)
        g_test_message ("reader accepted metadata without \"%s\"", field);
      g_assert_null (back);
      g_assert_true (g_error_matches (err, SG_META_ERROR, SG_META_ERROR_INVALID) ||
                     g_error_matches (err, SG_META_ERROR, SG_META_ERROR_VERSION));
    }

  /* The same for each recipient's required fields. */
  rcpt_def = json_object_get_object_member (
    json_object_get_object_member (json_node_get_object (json_parser_get_root (parser)), "$defs"),
    "recipient");
  required = json_object_get_array_member (rcpt_def, "required");
  for (guint i = 0; i < json_array_get_length (required); i++)
    {
      const char *field = json_array_get_string_element (required, i);
      g_autoptr(JsonNode) root = meta_object (meta);
      JsonArray *rcpts = json_object_get_array_member (json_node_get_object (root), "recipients");
      g_autoptr(GError) err = NULL;
      g_autoptr(SgMeta) back = NULL;
      g_autofree char *text = NULL;

      json_object_remove_member (json_array_get_object_element (rcpts, 0), field);
      text = node_text (root);
      back = sg_meta_from_json (text, -1, &err);
      g_assert_null (back);
      g_assert_error (err, SG_META_ERROR, SG_META_ERROR_INVALID);
    }
}

/* /spool/meta/malformed - table of bad values and non-JSON input. */
static void
test_malformed (void)
{
  static const struct { const char *field, *value; } cases[] = {
    { "queue_id", "\"not-an-id\"" },
    { "state", "\"lost\"" },
    { "protocol", "\"LMTP\"" },
    { "esmtp_body", "\"9BIT\"" },
    { "client_port", "70000" },
    { "message_size", "-1" },
    { "sha256", "\"ABC\"" },
    { "arrival_time", "1" },
    { "recipients", "[]" },
    { "recipients", "[{\"address\": \"x@y\", \"status\": \"gone\", \"delay_reason\": null, \"updated\": 0}]" },
    { "smtputf8", "1" },
    { "attempts", "\"3\"" },
    { "validation", "[]" },
    { "attempt_history", "{}" },
    { "sender", "null" },
  };
  g_autoptr(SgMeta) meta = committed_meta ();
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(JsonNode) root = meta_object (meta);
      g_autoptr(GError) err = NULL;
      g_autoptr(SgMeta) back = NULL;
      g_autofree char *text = NULL;

      json_object_set_member (json_node_get_object (root), cases[i].field,
                              json_from_string (cases[i].value, NULL));
      text = node_text (root);
      back = sg_meta_from_json (text, -1, &err);
      if (back != NULL)
        g_test_message ("case %u: %s = %s: got accepted, want SG_META_ERROR_INVALID",
                        i, cases[i].field, cases[i].value);
      g_assert_null (back);
      g_assert_error (err, SG_META_ERROR, SG_META_ERROR_INVALID);
    }

  g_assert_null (sg_meta_from_json ("{\"version\": 1,", -1, &error));
  g_assert_error (error, SG_META_ERROR, SG_META_ERROR_PARSE);
  g_clear_error (&error);
  g_assert_null (sg_meta_from_json ("[1]", -1, &error));
  g_assert_error (error, SG_META_ERROR, SG_META_ERROR_PARSE);
}

/* /spool/meta/names - state and status names match the schema's enums. */
static void
test_names (void)
{
  g_assert_cmpstr (sg_meta_state_name (SG_MSG_QUEUED), ==, "queued");
  g_assert_cmpstr (sg_meta_state_name (SG_MSG_HELD), ==, "held");
  g_assert_cmpstr (sg_meta_state_name (SG_MSG_FAILED), ==, "failed");
  g_assert_cmpstr (sg_meta_rcpt_status_name (SG_RCPT_PENDING), ==, "pending");
  g_assert_cmpstr (sg_meta_rcpt_status_name (SG_RCPT_DELIVERED), ==, "delivered");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/spool/meta/round-trip", test_round_trip);
  g_test_add_func ("/spool/meta/nulls", test_nulls);
  g_test_add_func ("/spool/meta/version", test_version);
  g_test_add_func ("/spool/meta/version-1", test_version_1);
  g_test_add_func ("/spool/meta/eightbit", test_eightbit);
  g_test_add_func ("/spool/meta/required", test_required);
  g_test_add_func ("/spool/meta/malformed", test_malformed);
  g_test_add_func ("/spool/meta/names", test_names);
  return g_test_run ();
}
