/* meta.c - SgMeta and its JSON form (<ID>.json). Owns the field names, the
 * version check and the required-field checks; the same format is published
 * as schemas/spool-metadata.schema.json and the two must change together.
 * Leaves the contents of "validation", "milter" and "attempt_history" to their producers
 * (validate/, milter/ and the queue runner): here they only have to be an object/array. */
#include "spool/meta.h"
#include "spool/queue_id.h"

#include <stdarg.h>
#include <string.h>

G_DEFINE_QUARK (sg-meta-error-quark, sg_meta_error)

static const char *const state_names[] = {
  [SG_MSG_QUEUED] = "queued", [SG_MSG_DEFERRED] = "deferred", [SG_MSG_HELD] = "held",
  [SG_MSG_DELIVERED] = "delivered", [SG_MSG_FAILED] = "failed",
};

static const char *const rcpt_status_names[] = {
  [SG_RCPT_PENDING] = "pending", [SG_RCPT_DEFERRED] = "deferred",
  [SG_RCPT_DELIVERED] = "delivered", [SG_RCPT_FAILED] = "failed",
};

/* RFC 3848 and RFC 6531 section 3.7.4 "WITH" protocol types. */
static const char *const protocol_names[] = {
  "SMTP", "ESMTP", "ESMTPA", "ESMTPS", "ESMTPSA",
  "UTF8SMTP", "UTF8SMTPA", "UTF8SMTPS", "UTF8SMTPSA",
};

static const char *const body_names[] = { "7BIT", "8BITMIME", "BINARYMIME" };

#define SHA256_HEX_LEN 64
/* Deepest nesting of arrays and objects the schema allows is 5 (root ->
 * attempt_history -> attempt -> recipients -> recipient); refuse anything
 * deeper before json-glib, whose parser recurses once per level. */
#define SG_META_MAX_DEPTH 8
#define MAX_PORT       65535

/* rcpt_free - free one SgMetaRecipient. */
static void
rcpt_free (gpointer data)
{
  SgMetaRecipient *r = data;

  g_free (r->address);
  g_free (r->delay_reason);
  g_free (r->dsn_notify);
  g_free (r->dsn_orcpt);
  g_free (r);
}

/* sg_meta_new - an empty metadata record: state queued, no SIZE= given. */
SgMeta *
sg_meta_new (void)
{
  SgMeta *meta = g_new0 (SgMeta, 1);

  meta->recipients = g_ptr_array_new_with_free_func (rcpt_free);
  meta->esmtp_size = -1;
  meta->state = SG_MSG_QUEUED;
  return meta;
}

/* sg_meta_free - free meta and everything it owns; NULL is allowed. */
void
sg_meta_free (SgMeta *meta)
{
  if (meta == NULL)
    return;
  g_free (meta->queue_id);
  g_free (meta->sender);
  g_ptr_array_unref (meta->recipients);
  g_free (meta->esmtp_body);
  g_free (meta->dsn_ret);
  g_free (meta->dsn_envid);
  g_free (meta->client_address);
  g_free (meta->helo_name);
  g_free (meta->protocol);
  g_free (meta->tls_protocol);
  g_free (meta->tls_cipher);
  g_free (meta->sha256);
  g_free (meta->last_error);
  g_free (meta->message_id);
  g_free (meta->log_client);
  g_clear_pointer (&meta->validation, json_node_unref);
  g_clear_pointer (&meta->milter, json_node_unref);
  g_clear_pointer (&meta->attempt_history, json_node_unref);
  g_free (meta);
}

/* sg_meta_add_recipient - append a pending recipient. */
void
sg_meta_add_recipient (SgMeta *meta, const char *address)
{
  SgMetaRecipient *r;

  g_return_if_fail (meta != NULL && address != NULL);
  r = g_new0 (SgMetaRecipient, 1);
  r->address = g_strdup (address);
  r->status = SG_RCPT_PENDING;
  g_ptr_array_add (meta->recipients, r);
}

/* sg_meta_state_name - the JSON name of a message state. */
const char *
sg_meta_state_name (SgMsgState state)
{
  g_return_val_if_fail ((guint) state < G_N_ELEMENTS (state_names), "unknown");
  return state_names[state];
}

/* sg_meta_rcpt_status_name - the JSON name of a recipient status. */
const char *
sg_meta_rcpt_status_name (SgRcptStatus status)
{
  g_return_val_if_fail ((guint) status < G_N_ELEMENTS (rcpt_status_names), "unknown");
  return rcpt_status_names[status];
}

/* ---- serialising ---- */

/* add_nullable - set a string member, JSON null when s is NULL. */
static void
add_nullable (JsonObject *obj, const char *name, const char *s)
{
  if (s != NULL)
    json_object_set_string_member (obj, name, s);
  else
    json_object_set_null_member (obj, name);
}

/* sg_meta_to_json - serialise, pretty-printed, ending in "\n" (transfer full). */
char *
sg_meta_to_json (const SgMeta *meta, gsize *length)
{
  g_autoptr(JsonObject) obj = json_object_new ();
  g_autoptr(JsonArray) rcpts = json_array_new ();
  g_autoptr(JsonNode) root = json_node_new (JSON_NODE_OBJECT);
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autofree char *text = NULL;
  char *out;

  g_return_val_if_fail (meta != NULL, NULL);

  json_object_set_int_member (obj, "version", SG_META_VERSION);
  add_nullable (obj, "queue_id", meta->queue_id);
  json_object_set_int_member (obj, "arrival_time", meta->arrival_time_us / G_USEC_PER_SEC);
  json_object_set_int_member (obj, "arrival_time_us", meta->arrival_time_us);
  if (meta->lifetime_start > 0)
    json_object_set_int_member (obj, "lifetime_start", meta->lifetime_start);
  json_object_set_string_member (obj, "sender", meta->sender ? meta->sender : "");
  for (guint i = 0; i < meta->recipients->len; i++)
    {
      const SgMetaRecipient *r = g_ptr_array_index (meta->recipients, i);
      JsonObject *ro = json_object_new ();

      json_object_set_string_member (ro, "address", r->address);
      json_object_set_string_member (ro, "status", sg_meta_rcpt_status_name (r->status));
      add_nullable (ro, "delay_reason", r->delay_reason);
      json_object_set_int_member (ro, "updated", r->updated);
      if (r->dsn_notify)
        json_object_set_string_member (ro, "dsn_notify", r->dsn_notify);
      if (r->dsn_orcpt)
        json_object_set_string_member (ro, "dsn_orcpt", r->dsn_orcpt);
      if (r->relay_notice != SG_RELAY_NOTICE_NONE)
        json_object_set_string_member (ro, "dsn_relayed",
                                       r->relay_notice == SG_RELAY_NOTICE_DUE ? "due" : "sent");
      if (r->bounced > 0)
        json_object_set_int_member (ro, "bounced", r->bounced);
      json_array_add_object_element (rcpts, ro);
    }
  json_object_set_array_member (obj, "recipients", json_array_ref (rcpts));
  if (meta->esmtp_size >= 0)
    json_object_set_int_member (obj, "esmtp_size", meta->esmtp_size);
  else
    json_object_set_null_member (obj, "esmtp_size");
  add_nullable (obj, "esmtp_body", meta->esmtp_body);
  json_object_set_boolean_member (obj, "smtputf8", meta->smtputf8);
  if (meta->eightbit != SG_EIGHTBIT_UNKNOWN)
    json_object_set_boolean_member (obj, "eightbit", meta->eightbit == SG_EIGHTBIT_YES);
  if (meta->dsn_ret)
    json_object_set_string_member (obj, "dsn_ret", meta->dsn_ret);
  if (meta->dsn_envid)
    json_object_set_string_member (obj, "dsn_envid", meta->dsn_envid);
  if (meta->delay_warned)
    json_object_set_boolean_member (obj, "delay_warned", TRUE);
  add_nullable (obj, "client_address", meta->client_address);
  json_object_set_int_member (obj, "client_port", meta->client_port);
  add_nullable (obj, "helo_name", meta->helo_name);
  add_nullable (obj, "protocol", meta->protocol);
  add_nullable (obj, "tls_protocol", meta->tls_protocol);
  add_nullable (obj, "tls_cipher", meta->tls_cipher);
  json_object_set_int_member (obj, "message_size", (gint64) meta->message_size);
  add_nullable (obj, "sha256", meta->sha256);
  json_object_set_string_member (obj, "state", sg_meta_state_name (meta->state));
  json_object_set_int_member (obj, "attempts", meta->attempts);
  json_object_set_int_member (obj, "next_attempt", meta->next_attempt);
  add_nullable (obj, "last_error", meta->last_error);
  if (meta->attempt_history != NULL)
    json_object_set_member (obj, "attempt_history", json_node_copy (meta->attempt_history));
  else
    json_object_set_array_member (obj, "attempt_history", json_array_new ());
  if (meta->validation != NULL)
    json_object_set_member (obj, "validation", json_node_copy (meta->validation));
  else
    json_object_set_null_member (obj, "validation");
  if (meta->milter != NULL)
    json_object_set_member (obj, "milter", json_node_copy (meta->milter));

  json_node_set_object (root, obj);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  json_generator_set_indent (gen, 2);
  text = json_generator_to_data (gen, NULL);
  out = g_strconcat (text, "\n", NULL);
  if (length != NULL)
    *length = strlen (out);
  return out;
}

/* ---- parsing ---- */

/* fail_invalid - set SG_META_ERROR_INVALID and return FALSE. */
static gboolean G_GNUC_PRINTF (2, 3)
fail_invalid (GError **error, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  g_propagate_error (error, g_error_new_valist (SG_META_ERROR, SG_META_ERROR_INVALID,
                                                format, args));
  va_end (args);
  return FALSE;
}

/* get_member - the named member, failing with SG_META_ERROR_INVALID if absent. */
static JsonNode *
get_member (JsonObject *obj, const char *name, GError **error)
{
  JsonNode *node = json_object_get_member (obj, name);

  if (node == NULL)
    g_set_error (error, SG_META_ERROR, SG_META_ERROR_INVALID, "missing field \"%s\"", name);
  return node;
}

/* get_int - an integer member within [min, max]. */
static gboolean
get_int (JsonObject *obj, const char *name, gint64 min, gint64 max, gint64 *out, GError **error)
{
  JsonNode *node = get_member (obj, name, error);

  if (node == NULL)
    return FALSE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64 ||
      json_node_get_int (node) < min || json_node_get_int (node) > max)
    {
      g_set_error (error, SG_META_ERROR, SG_META_ERROR_INVALID,
                   "field \"%s\" must be an integer in [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "]",
                   name, min, max);
      return FALSE;
    }
  *out = json_node_get_int (node);
  return TRUE;
}

/* get_optional_int - an integer member within [min, max] that may be missing (0 then). */
static gboolean
get_optional_int (JsonObject *obj, const char *name, gint64 min, gint64 max, gint64 *out,
                  GError **error)
{
  *out = 0;
  if (!json_object_has_member (obj, name))
    return TRUE;
  return get_int (obj, name, min, max, out, error);
}

/* get_string - a string member (transfer full); NULL is allowed only if nullable. */
static gboolean
get_string (JsonObject *obj, const char *name, gboolean nullable, char **out, GError **error)
{
  JsonNode *node = get_member (obj, name, error);

  if (node == NULL)
    return FALSE;
  if (nullable && JSON_NODE_HOLDS_NULL (node))
    {
      *out = NULL;
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, SG_META_ERROR, SG_META_ERROR_INVALID,
                   "field \"%s\" must be a string%s", name, nullable ? " or null" : "");
      return FALSE;
    }
  *out = g_strdup (json_node_get_string (node));
  return TRUE;
}

/* get_optional_string - a string member that may be missing (NULL then). */
static gboolean
get_optional_string (JsonObject *obj, const char *name, char **out, GError **error)
{
  *out = NULL;
  if (!json_object_has_member (obj, name))
    return TRUE;
  return get_string (obj, name, FALSE, out, error);
}

/* get_enum - a string member that must be one of names[]; returns its index. */
static gboolean
get_enum (JsonObject *obj, const char *name, const char *const *names, guint n_names,
          gboolean nullable, int *out, GError **error)
{
  g_autofree char *s = NULL;

  if (!get_string (obj, name, nullable, &s, error))
    return FALSE;
  *out = -1;
  if (s == NULL)
    return TRUE;
  for (guint i = 0; i < n_names; i++)
    if (names[i] != NULL && strcmp (names[i], s) == 0)
      {
        *out = (int) i;
        return TRUE;
      }
  g_set_error (error, SG_META_ERROR, SG_META_ERROR_INVALID,
               "field \"%s\" has unknown value \"%s\"", name, s);
  return FALSE;
}

/* check_version - SG_META_ERROR_VERSION unless "version" is one we read
 * (SG_META_VERSION_MIN to SG_META_VERSION); *version gets it. */
static gboolean
check_version (JsonObject *obj, gint64 *version, GError **error)
{
  JsonNode *node = json_object_get_member (obj, "version");

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    {
      g_set_error (error, SG_META_ERROR, SG_META_ERROR_VERSION,
                   "missing or non-integer \"version\" (expected %d)", SG_META_VERSION);
      return FALSE;
    }
  *version = json_node_get_int (node);
  if (*version < SG_META_VERSION_MIN || *version > SG_META_VERSION)
    {
      g_set_error (error, SG_META_ERROR, SG_META_ERROR_VERSION,
                   "unsupported version %" G_GINT64_FORMAT " (expected %d to %d)",
                   *version, SG_META_VERSION_MIN, SG_META_VERSION);
      return FALSE;
    }
  return TRUE;
}

/* parse_recipient - one element of "recipients" (transfer full). */
static SgMetaRecipient *
parse_recipient (JsonNode *node, guint index, GError **error)
{
  SgMetaRecipient *r;
  JsonObject *ro;
  int status;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, SG_META_ERROR, SG_META_ERROR_INVALID,
                   "recipients[%u] is not an object", index);
      return NULL;
    }
  ro = json_node_get_object (node);
  r = g_new0 (SgMetaRecipient, 1);
  if (!get_string (ro, "address", FALSE, &r->address, error) ||
      !get_enum (ro, "status", rcpt_status_names, G_N_ELEMENTS (rcpt_status_names),
                 FALSE, &status, error) ||
      !get_string (ro, "delay_reason", TRUE, &r->delay_reason, error) ||
      !get_int (ro, "updated", 0, G_MAXINT64, &r->updated, error) ||
      !get_optional_string (ro, "dsn_notify", &r->dsn_notify, error) ||
      !get_optional_string (ro, "dsn_orcpt", &r->dsn_orcpt, error) ||
      !get_optional_int (ro, "bounced", 0, G_MAXINT64, &r->bounced, error))
    {
      g_prefix_error (error, "recipients[%u]: ", index);
      rcpt_free (r);
      return NULL;
    }
  r->status = (SgRcptStatus) status;
  g_autofree char *relayed = NULL;
  if (!get_optional_string (ro, "dsn_relayed", &relayed, error))
    {
      g_prefix_error (error, "recipients[%u]: ", index);
      rcpt_free (r);
      return NULL;
    }
  r->relay_notice = g_strcmp0 (relayed, "due") == 0 ? SG_RELAY_NOTICE_DUE
                  : g_strcmp0 (relayed, "sent") == 0 ? SG_RELAY_NOTICE_SENT : SG_RELAY_NOTICE_NONE;
  return r;
}

/* parse_fields - fill meta from a version-checked object. */
static gboolean
parse_fields (JsonObject *obj, SgMeta *meta, GError **error)
{
  JsonNode *node;
  JsonArray *rcpts;
  gint64 arrival, port, size, attempts;
  int idx;

  if (!get_string (obj, "queue_id", FALSE, &meta->queue_id, error) ||
      !get_int (obj, "arrival_time_us", 0, G_MAXINT64, &meta->arrival_time_us, error) ||
      !get_int (obj, "arrival_time", 0, G_MAXINT64, &arrival, error) ||
      !get_optional_int (obj, "lifetime_start", 0, G_MAXINT64, &meta->lifetime_start, error) ||
      !get_string (obj, "sender", FALSE, &meta->sender, error))
    return FALSE;
  if (!sg_queue_id_valid (meta->queue_id))
    return fail_invalid (error, "\"queue_id\" is not a valid queue ID");
  if (arrival != meta->arrival_time_us / G_USEC_PER_SEC)
    return fail_invalid (error, "\"arrival_time\" disagrees with \"arrival_time_us\"");

  if ((node = get_member (obj, "recipients", error)) == NULL)
    return FALSE;
  if (!JSON_NODE_HOLDS_ARRAY (node) || json_array_get_length (json_node_get_array (node)) == 0)
    return fail_invalid (error, "\"recipients\" must be a non-empty array");
  rcpts = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (rcpts); i++)
    {
      SgMetaRecipient *r = parse_recipient (json_array_get_element (rcpts, i), i, error);

      if (r == NULL)
        return FALSE;
      g_ptr_array_add (meta->recipients, r);
    }

  node = get_member (obj, "esmtp_size", error);
  if (node == NULL)
    return FALSE;
  if (JSON_NODE_HOLDS_NULL (node))
    meta->esmtp_size = -1;
  else if (!get_int (obj, "esmtp_size", 0, G_MAXINT64, &meta->esmtp_size, error))
    return FALSE;
  if (!get_enum (obj, "esmtp_body", body_names, G_N_ELEMENTS (body_names), TRUE, &idx, error))
    return FALSE;
  meta->esmtp_body = idx >= 0 ? g_strdup (body_names[idx]) : NULL;
  if ((node = get_member (obj, "smtputf8", error)) == NULL)
    return FALSE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return fail_invalid (error, "field \"smtputf8\" must be a boolean");
  meta->smtputf8 = json_node_get_boolean (node);
  /* optional: absent before version 3, read as unknown (meta.h: SgEightBit) */
  if ((node = json_object_get_member (obj, "eightbit")) != NULL)
    {
      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
        return fail_invalid (error, "field \"eightbit\" must be a boolean");
      meta->eightbit = json_node_get_boolean (node) ? SG_EIGHTBIT_YES : SG_EIGHTBIT_NO;
    }
  if (!get_optional_string (obj, "dsn_ret", &meta->dsn_ret, error) ||
      !get_optional_string (obj, "dsn_envid", &meta->dsn_envid, error))
    return FALSE;
  if ((node = json_object_get_member (obj, "delay_warned")) != NULL)
    {
      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
        return fail_invalid (error, "field \"delay_warned\" must be a boolean");
      meta->delay_warned = json_node_get_boolean (node);
    }

  if (!get_string (obj, "client_address", FALSE, &meta->client_address, error) ||
      !get_int (obj, "client_port", 0, MAX_PORT, &port, error) ||
      !get_string (obj, "helo_name", TRUE, &meta->helo_name, error) ||
      !get_enum (obj, "protocol", protocol_names, G_N_ELEMENTS (protocol_names), FALSE,
                 &idx, error))
    return FALSE;
  meta->client_port = (guint16) port;
  meta->protocol = g_strdup (protocol_names[idx]);
  if (!get_string (obj, "tls_protocol", TRUE, &meta->tls_protocol, error) ||
      !get_string (obj, "tls_cipher", TRUE, &meta->tls_cipher, error) ||
      !get_int (obj, "message_size", 0, G_MAXINT64, &size, error) ||
      !get_string (obj, "sha256", FALSE, &meta->sha256, error))
    return FALSE;
  meta->message_size = (guint64) size;
  if (strlen (meta->sha256) != SHA256_HEX_LEN ||
      strspn (meta->sha256, "0123456789abcdef") != SHA256_HEX_LEN)
    return fail_invalid (error, "\"sha256\" must be 64 lower-case hex digits");

  if (!get_enum (obj, "state", state_names, G_N_ELEMENTS (state_names), FALSE, &idx, error) ||
      !get_int (obj, "attempts", 0, G_MAXUINT, &attempts, error) ||
      !get_int (obj, "next_attempt", 0, G_MAXINT64, &meta->next_attempt, error) ||
      !get_string (obj, "last_error", TRUE, &meta->last_error, error))
    return FALSE;
  meta->state = (SgMsgState) idx;
  meta->attempts = (guint) attempts;

  if ((node = get_member (obj, "attempt_history", error)) == NULL)
    return FALSE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return fail_invalid (error, "\"attempt_history\" must be an array");
  meta->attempt_history = json_node_copy (node);
  if ((node = get_member (obj, "validation", error)) == NULL)
    return FALSE;
  if (!JSON_NODE_HOLDS_NULL (node) && !JSON_NODE_HOLDS_OBJECT (node))
    return fail_invalid (error, "\"validation\" must be an object or null");
  meta->validation = JSON_NODE_HOLDS_NULL (node) ? NULL : json_node_copy (node);
  /* optional: only messages that went through milters have it */
  node = json_object_get_member (obj, "milter");
  if (node && !JSON_NODE_HOLDS_OBJECT (node))
    return fail_invalid (error, "\"milter\" must be an object");
  meta->milter = node ? json_node_copy (node) : NULL;
  return TRUE;
}

/* check_depth - SG_META_ERROR_PARSE if arrays and objects nest deeper than
 * max anywhere in data (strings skipped; no recursion, one pass). */
static gboolean
check_depth (const char *data, gsize length, guint max, GError **error)
{
  guint depth = 0;
  gboolean in_string = FALSE;

  for (gsize i = 0; i < length; i++)
    {
      char c = data[i];

      if (in_string)
        {
          if (c == '\\')
            i++;
          else if (c == '"')
            in_string = FALSE;
        }
      else if (c == '"')
        in_string = TRUE;
      else if (c == '[' || c == '{')
        {
          if (++depth > max)
            {
              g_set_error (error, SG_META_ERROR, SG_META_ERROR_PARSE,
                           "nested deeper than %u levels at byte %" G_GSIZE_FORMAT, max, i);
              return FALSE;
            }
        }
      else if ((c == ']' || c == '}') && depth > 0)
        depth--;
    }
  return TRUE;
}

gboolean
sg_meta_check_depth (const char *data, gsize length, GError **error)
{
  return check_depth (data, length, SG_META_MAX_DEPTH, error);
}

/* sg_meta_from_json - parse and check version and required fields (transfer full). */
SgMeta *
sg_meta_from_json (const char *data, gssize length, GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(SgMeta) meta = NULL;
  g_autoptr(GError) local = NULL;
  JsonNode *root;
  JsonObject *obj;
  gint64 version = 0;

  g_return_val_if_fail (data != NULL, NULL);
  if (!check_depth (data, length < 0 ? strlen (data) : (gsize) length, SG_META_MAX_DEPTH, error))
    return NULL;
  if (!json_parser_load_from_data (parser, data, length, &local))
    {
      g_set_error (error, SG_META_ERROR, SG_META_ERROR_PARSE, "not JSON: %s", local->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, SG_META_ERROR, SG_META_ERROR_PARSE,
                           "metadata is not a JSON object");
      return NULL;
    }
  obj = json_node_get_object (root);
  if (!check_version (obj, &version, error))
    return NULL;
  meta = sg_meta_new ();
  if (!parse_fields (obj, meta, error))
    return NULL;
  if (version == 1 && meta->state == SG_MSG_FAILED)
    {
      /* Version 1 kept no record of reports, but it queued the one due
       * before it marked a message failed: its failed recipients were
       * reported (or wanted no report), so a requeue must not report them again. */
      for (guint i = 0; i < meta->recipients->len; i++)
        {
          SgMetaRecipient *r = g_ptr_array_index (meta->recipients, i);
          if (r->status == SG_RCPT_FAILED && r->bounced == 0)
            r->bounced = MAX (r->updated, 1);
        }
    }
  return g_steal_pointer (&meta);
}
