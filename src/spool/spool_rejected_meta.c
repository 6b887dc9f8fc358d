/* spool_rejected_meta.c - rejected/<ID>.json: SgRejectedMeta to and from
 * JSON (schemas/rejected-metadata.schema.json), the envelope inside being
 * meta.c's format. Reading checks nesting before json-glib parses, as
 * meta.c does for queue/. Where the files live is spool_rejected.c's. */
#include "spool/spool_rejected.h"

#include <string.h>

SgRejectedMeta *
sg_rejected_meta_new (void)
{
  SgRejectedMeta *meta = g_new0 (SgRejectedMeta, 1);
  meta->envelope = sg_meta_new ();
  return meta;
}

void
sg_rejected_meta_free (SgRejectedMeta *meta)
{
  if (meta == NULL)
    return;
  sg_meta_free (meta->envelope);
  g_free (meta->rule);
  g_free (meta->reply);
  g_free (meta);
}

/* sg_rejected_meta_to_json - serialise (transfer full). */
char *
sg_rejected_meta_to_json (const SgRejectedMeta *meta, gsize *length)
{
  g_autofree char *envelope = sg_meta_to_json (meta->envelope, NULL);
  g_autoptr(JsonNode) env_node = json_from_string (envelope, NULL);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  GString *out;
  char *text;

  g_return_val_if_fail (env_node != NULL, NULL);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "version");
  json_builder_add_int_value (b, SG_REJECTED_VERSION);
  json_builder_set_member_name (b, "queue_id");
  json_builder_add_string_value (b, meta->envelope->queue_id);
  json_builder_set_member_name (b, "rejected_time");
  json_builder_add_int_value (b, meta->rejected_time_us / G_USEC_PER_SEC);
  json_builder_set_member_name (b, "rejected_time_us");
  json_builder_add_int_value (b, meta->rejected_time_us);
  json_builder_set_member_name (b, "rule");
  json_builder_add_string_value (b, meta->rule);
  json_builder_set_member_name (b, "reply");
  json_builder_add_string_value (b, meta->reply);
  if (meta->monitored)
    {
      json_builder_set_member_name (b, "monitored");
      json_builder_add_boolean_value (b, TRUE);
    }
  if (meta->delivered_time_us > 0)
    {
      json_builder_set_member_name (b, "delivered_time_us");
      json_builder_add_int_value (b, meta->delivered_time_us);
    }
  json_builder_set_member_name (b, "envelope");
  json_builder_add_value (b, g_steal_pointer (&env_node));
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  out = g_string_new (NULL);
  json_generator_to_gstring (gen, out);
  g_string_append_c (out, '\n');
  if (length)
    *length = out->len;
  text = g_string_free (out, FALSE);
  return text;
}

/* invalid - an SG_META_ERROR_INVALID about rejected metadata; NULL. */
static gpointer G_GNUC_PRINTF (2, 3)
invalid (GError **error, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_set_error (error, SG_META_ERROR, SG_META_ERROR_INVALID, "%s", msg);
  return NULL;
}

/* sg_rejected_meta_from_json - parse rejected/<ID>.json (transfer full). */
SgRejectedMeta *
sg_rejected_meta_from_json (const char *data, gssize length, GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(SgRejectedMeta) meta = NULL;
  g_autofree char *envelope = NULL;
  JsonObject *obj;
  JsonNode *node;

  if (!sg_meta_check_depth (data, length < 0 ? strlen (data) : (gsize) length, error))
    return NULL;
  if (!json_parser_load_from_data (parser, data, length, error))
    return NULL;
  node = json_parser_get_root (parser);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return invalid (error, "rejected metadata is not a JSON object");
  obj = json_node_get_object (node);
  node = json_object_get_member (obj, "version");
  if (node == NULL || json_node_get_value_type (node) != G_TYPE_INT64 ||
      json_node_get_int (node) != SG_REJECTED_VERSION)
    {
      g_set_error (error, SG_META_ERROR, SG_META_ERROR_VERSION,
                   "rejected metadata: version is not %d", SG_REJECTED_VERSION);
      return NULL;
    }
  const char *rule = json_object_get_string_member_with_default (obj, "rule", NULL);
  const char *reply = json_object_get_string_member_with_default (obj, "reply", NULL);
  gint64 when = json_object_get_int_member_with_default (obj, "rejected_time_us", -1);
  node = json_object_get_member (obj, "envelope");
  if (rule == NULL || reply == NULL || when < 0 || node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return invalid (error, "rejected metadata lacks rule, reply, rejected_time_us or envelope");
  envelope = json_to_string (node, FALSE);
  meta = g_new0 (SgRejectedMeta, 1);
  meta->envelope = sg_meta_from_json (envelope, -1, error);
  if (meta->envelope == NULL)
    {
      g_prefix_error (error, "rejected metadata envelope: ");
      return NULL;
    }
  const char *id = json_object_get_string_member_with_default (obj, "queue_id", "");
  if (strcmp (id, meta->envelope->queue_id) != 0)
    return invalid (error, "rejected metadata names queue_id %s, its envelope %s", id,
                    meta->envelope->queue_id);
  meta->rejected_time_us = when;
  meta->rule = g_strdup (rule);
  meta->reply = g_strdup (reply);
  meta->monitored = json_object_get_boolean_member_with_default (obj, "monitored", FALSE);
  meta->delivered_time_us = MAX (json_object_get_int_member_with_default (obj, "delivered_time_us", 0), 0);
  return g_steal_pointer (&meta);
}

