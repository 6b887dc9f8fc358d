/* rejected.c - `spoolgate rejected [--json]`: the refused messages kept in
 * rejected/ ([validation] keep_rejected), oldest first; and the rejected/
 * side of `show ID` and `release ID`. Files are read without locks: each
 * appears by rename and the .json last. The store itself is
 * src/spool/spool_rejected.c's; queued mail is queue.c's, show.c's, admin.c's. */
#include "cli/rejected.h"
#include "cli/cli.h"
#include "cli/cli_spool.h"
#include "common/log.h"
#include "spool/spool_rejected.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define LABEL_WIDTH 10   /* "  label:    value" in show */
#define SIZE_WIDTH  10   /* the listing's size column */

/* open_store - rejected/ of spool; NULL (no error) when there is none. */
static SgRejected *
open_store (SgSpool *spool, GError **error)
{
  g_autoptr(GError) local = NULL;
  SgRejected *store = sg_rejected_open_admin (sg_spool_dir (spool), &local);
  if (store == NULL && !g_error_matches (local, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND))
    g_propagate_error (error, g_steal_pointer (&local));
  return store;
}

/* monitored_status - what became of a monitored message: delivered (when),
 * its state in queue/, or gone from it (transfer full). */
static char *
monitored_status (SgSpool *spool, const SgRejectedMeta *meta)
{
  if (meta->delivered_time_us > 0)
    {
      g_autofree char *when = sg_cli_format_time (meta->delivered_time_us / G_USEC_PER_SEC);
      return g_strdup_printf ("delivered %s", when);
    }
  g_autoptr(SgMeta) queued = sg_spool_load_meta (spool, meta->envelope->queue_id, NULL);
  if (queued != NULL)
    return g_strdup_printf ("in the queue, %s", sg_meta_state_name (queued->state));
  return g_strdup ("not delivered: no longer in the queue (deleted, or its commit failed)");
}

/* append_listing - one message in the text listing. */
static void
append_listing (GString *out, const SgRejectedMeta *meta)
{
  const SgMeta *env = meta->envelope;
  g_autofree char *when = sg_cli_format_time (meta->rejected_time_us / G_USEC_PER_SEC);
  g_autofree char *from = g_strdup_printf ("<%s>", env->sender);
  g_autofree char *client = g_strdup_printf ("%s[%s]", env->helo_name ? env->helo_name : "unknown",
                                             env->client_address);
  g_string_append_printf (out, "%s %*" G_GUINT64_FORMAT " %s  ", env->queue_id, SIZE_WIDTH,
                          env->message_size, when);
  sg_cli_append_safe (out, meta->rule, -1, FALSE);
  g_string_append (out, "\n    from ");
  sg_cli_append_safe (out, from, -1, FALSE);
  g_string_append (out, " client ");
  sg_cli_append_safe (out, client, -1, FALSE);
  g_string_append_c (out, '\n');
  for (guint i = 0; i < env->recipients->len; i++)
    {
      const SgMetaRecipient *r = g_ptr_array_index (env->recipients, i);
      g_autofree char *to = g_strdup_printf ("<%s>", r->address);
      g_string_append (out, "    to ");
      sg_cli_append_safe (out, to, -1, FALSE);
      g_string_append_c (out, '\n');
    }
  g_string_append (out, meta->monitored ? "    enforce would have replied: " : "    ");
  sg_cli_append_safe (out, meta->reply, -1, FALSE);
  g_string_append (out, "\n\n");
}

/* list - print every kept message (refused ones, or with monitored those
 * monitor mode accepted); FALSE if one could not be read. */
static gboolean
list (SgSpool *spool, gboolean json, gboolean monitored, GError **error)
{
  const char *what = monitored ? "monitored" : "rejected";
  g_autoptr(SgRejected) store = open_store (spool, error);
  g_autoptr(GPtrArray) ids = NULL;
  g_autoptr(GString) out = g_string_new (NULL);
  guint n = 0, unreadable = 0;
  guint64 bytes = 0;

  if (store == NULL)
    {
      if (error && *error)
        return FALSE;
      if (!json)
        g_print ("No %s messages kept (no %s/%s/).\n", what, sg_spool_dir (spool), SG_REJECTED_DIR);
      return TRUE;
    }
  if ((ids = sg_rejected_list (store, error)) == NULL)
    return FALSE;
  if (!json && ids->len > 0)
    g_string_append_printf (out, "%-20s %*s %-25s  %s\n", "ID", SIZE_WIDTH, "Size",
                            monitored ? "Accepted" : "Rejected", "Rule");
  for (guint i = 0; i < ids->len; i++)
    {
      const char *id = g_ptr_array_index (ids, i);
      g_autoptr(GError) local = NULL;
      g_autoptr(SgRejectedMeta) meta = sg_rejected_load (store, id, &local);
      if (meta == NULL)
        {
          /* Dropped or released since the listing: not an error. */
          if (!g_error_matches (local, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND))
            {
              g_printerr ("spoolgate rejected: %s\n", local->message);
              unreadable++;
            }
          continue;
        }
      if (meta->monitored != monitored)
        continue;
      n++;
      bytes += meta->envelope->message_size;
      g_autofree char *status = monitored ? monitored_status (spool, meta) : NULL;
      if (json)
        {
          g_autofree char *text = sg_rejected_meta_to_json (meta, NULL);
          g_autoptr(JsonNode) node = json_from_string (text, NULL);
          if (node != NULL && status != NULL)
            {
              JsonObject *obj = json_node_get_object (node);
              json_object_set_boolean_member (obj, "delivered", meta->delivered_time_us > 0);
              json_object_set_string_member (obj, "status", status);
            }
          g_autofree char *line = node ? json_to_string (node, FALSE) : NULL;
          if (line != NULL)
            g_string_append_printf (out, "%s\n", line);
        }
      else
        {
          append_listing (out, meta);
          if (status != NULL)
            {
              /* before the blank line that ends the entry */
              g_string_truncate (out, out->len - 1);
              g_string_append (out, "    ");
              sg_cli_append_safe (out, status, -1, FALSE);
              g_string_append (out, "\n\n");
            }
        }
    }
  if (!json)
    {
      if (n == 0)
        g_string_append_printf (out, "No %s messages kept.\n", what);
      else
        g_string_append_printf (out, "-- %" G_GUINT64_FORMAT " bytes in %u %s message%s\n",
                                bytes, n, monitored ? "monitored" : "refused", n == 1 ? "" : "s");
    }
  fwrite (out->str, 1, out->len, stdout);
  if (fflush (stdout) != 0)
    {
      int e = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "write: %s", g_strerror (e));
      return FALSE;
    }
  if (unreadable > 0)
    {
      g_set_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_IO, "%u unreadable message%s in %s/",
                   unreadable, unreadable == 1 ? "" : "s", SG_REJECTED_DIR);
      return FALSE;
    }
  return TRUE;
}

/* sg_cli_rejected - `spoolgate rejected [--json]`. */
int
sg_cli_rejected (int argc, char **argv)
{
  g_auto(SgCliSpoolArgs) spool_args = { NULL };
  gboolean json = FALSE, monitored = FALSE;
  g_auto(GStrv) rest = NULL;
  const GOptionEntry entries[] = {
    { "json", 'j', 0, G_OPTION_ARG_NONE, &json,
      "One JSON object per line: each rejected/<ID>.json (schemas/rejected-metadata.schema.json)", NULL },
    { "monitored", 'm', 0, G_OPTION_ARG_NONE, &monitored,
      "Instead, the messages [validation] mode = monitor accepted though enforce would have "
      "refused them, with the rule and whether they were delivered", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &rest, NULL, NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = sg_cli_spool_context_new ("rejected", "",
    "Lists the messages refused by a validation rule and kept in rejected/\n"
    "([validation] keep_rejected), oldest first: size, time, rule, client,\n"
    "envelope and the reply sent. `spoolgate release ID` queues one.",
    entries, &spool_args);
  g_autoptr(GError) error = NULL;

  if (!sg_cli_parse_options (context, entries, &argc, &argv, &error))
    {
      g_printerr ("spoolgate rejected: %s\n", error->message);
      return SG_CLI_EXIT_USAGE;
    }
  if (rest != NULL && rest[0] != NULL)
    {
      g_autofree char *shown = sg_cli_safe (rest[0]);
      g_printerr ("spoolgate rejected: unexpected argument \"%s\" (see spoolgate show ID)\n", shown);
      return SG_CLI_EXIT_USAGE;
    }
  g_autoptr(SgSpool) spool = sg_cli_spool_open (&spool_args, &error);
  if (spool != NULL && list (spool, json, monitored, &error))
    return SG_CLI_EXIT_OK;
  g_printerr ("spoolgate rejected: %s\n", error->message);
  return SG_CLI_EXIT_FAILED;
}

/* field - "  label:    value\n", value terminal-safe. */
static void
field (GString *out, const char *label, const char *value)
{
  sg_cli_append_field (out, LABEL_WIDTH, label, value);
}

/* append_view - the readable view of one refused message. */
static void
append_view (GString *out, const SgRejectedMeta *meta, GBytes *eml, const char *status)
{
  const SgMeta *env = meta->envelope;
  g_autofree char *when = sg_cli_format_time (meta->rejected_time_us / G_USEC_PER_SEC);
  g_autofree char *arrival = sg_cli_format_time (env->arrival_time_us / G_USEC_PER_SEC);
  g_autofree char *size = g_strdup_printf ("%" G_GUINT64_FORMAT " bytes", env->message_size);
  g_autofree char *from = g_strdup_printf ("<%s>", env->sender);
  g_autofree char *addr = g_strdup_printf ("%s port %u", env->client_address, env->client_port);
  g_autofree char *release = g_strdup_printf ("spoolgate release %s", env->queue_id);

  g_string_append_printf (out, "Message %s\n", env->queue_id);
  if (meta->monitored)
    {
      field (out, "state", "monitored (accepted under [validation] mode = monitor; "
             "enforce would have refused it; a copy kept in rejected/)");
      field (out, "accepted", when);
      field (out, "rule", meta->rule);
      field (out, "enforce", meta->reply);
      field (out, "delivery", status);
    }
  else
    {
      field (out, "state", "rejected (refused by validation, kept in rejected/)");
      field (out, "rejected", when);
      field (out, "rule", meta->rule);
      field (out, "reply", meta->reply);
    }
  field (out, "arrival", arrival);
  field (out, "size", size);
  field (out, "sha256", env->sha256);
  if (!meta->monitored)
    field (out, "release", release);
  g_string_append (out, "Envelope\n");
  field (out, "from", from);
  for (guint i = 0; i < env->recipients->len; i++)
    {
      const SgMetaRecipient *r = g_ptr_array_index (env->recipients, i);
      g_autofree char *to = g_strdup_printf ("<%s>", r->address);
      field (out, i == 0 ? "to" : "", to);
    }
  g_string_append (out, "Client\n");
  field (out, "address", addr);
  field (out, "helo", env->helo_name ? env->helo_name : "(none given)");
  field (out, "protocol", env->protocol);
  field (out, "tls", env->tls_protocol ? env->tls_protocol : "none");
  g_string_append (out, "Header\n");
  gsize len = 0;
  const char *data = g_bytes_get_data (eml, &len);
  data = data ? data : "";
  sg_cli_append_safe (out, data, (gssize) sg_cli_header_length (data, len), TRUE);
}

/* sg_cli_rejected_show - show for an ID in rejected/. */
gboolean
sg_cli_rejected_show (SgSpool *spool, const char *id, gboolean json, gboolean body, GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autoptr(SgRejected) store = open_store (spool, &local);
  g_autoptr(SgRejectedMeta) meta = store ? sg_rejected_load (store, id, &local) : NULL;
  g_autoptr(GBytes) eml = NULL;
  g_autoptr(GString) out = g_string_new (NULL);

  if (meta == NULL)
    {
      if (local == NULL || g_error_matches (local, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND))
        g_set_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND,
                     "no message %s in %s (neither queue/ nor rejected/)", id, sg_spool_dir (spool));
      else
        g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  if (json)
    {
      g_autofree char *text = sg_rejected_meta_to_json (meta, NULL);
      g_string_append (out, text);
    }
  else
    {
      if ((eml = sg_rejected_read_message (store, id, NULL, error)) == NULL)
        return FALSE;
      if (body)
        {
          gsize len = 0;
          const char *data = g_bytes_get_data (eml, &len);
          g_string_append_len (out, data ? data : "", (gssize) len);
        }
      else
        {
          g_autofree char *status = meta->monitored ? monitored_status (spool, meta) : NULL;
          append_view (out, meta, eml, status);
        }
    }
  if (fwrite (out->str, 1, out->len, stdout) != out->len || fflush (stdout) != 0)
    {
      int e = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "write: %s", g_strerror (e));
      return FALSE;
    }
  return TRUE;
}

/* queue_has - whether queue/<ID>.json exists. */
static gboolean
queue_has (SgSpool *spool, const char *id)
{
  return sg_spool_has_message (spool, id);
}

/* release_one - queue one refused message and log it. */
static gboolean
release_one (SgRejected *store, SgSpool *spool, const char *id)
{
  g_autoptr(GError) error = NULL;
  /* nullable: a release cut short after its decision has no copy left */
  g_autoptr(SgRejectedMeta) was = sg_rejected_load (store, id, NULL);
  g_autoptr(SgMeta) meta = sg_rejected_release (store, spool, id, &error);
  if (meta == NULL)
    {
      g_printerr ("spoolgate release: message %s: %s\n", id, error->message);
      return FALSE;
    }
  g_autofree char *sender = sg_log_sanitize (meta->sender, -1, SG_LOG_FIELD_MAX);
  g_autofree char *reply = sg_log_sanitize (was ? was->reply : "(the copy was gone already)",
                                            -1, 512);
  g_autofree char *client = sg_log_client (NULL, meta->client_address);
  g_autofree char *what = g_strdup_printf ("released from rejected/ to the queue: from=<%s>, "
                                           "size=%" G_GUINT64_FORMAT ", nrcpt=%u, client=%s; "
                                           "was refused with %s", sender, meta->message_size,
                                           meta->recipients->len, client, reply);
  /* the audit trail (syslog, the caller's uid) and the command's own output */
  sg_log_admin (id, what);
  sg_log_info (SG_LOG_ADMIN, "%s: %s", id, what);
  return TRUE;
}

/* sg_cli_rejected_release - release for IDs that are in rejected/. */
gboolean
sg_cli_rejected_release (int argc, char **argv, int *status)
{
  g_auto(SgCliSpoolArgs) spool_args = { NULL };
  gboolean all = FALSE;
  g_auto(GStrv) rest = NULL;
  const GOptionEntry entries[] = {
    { "all", 'a', 0, G_OPTION_ARG_NONE, &all, NULL, NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &rest, NULL, NULL },
    { NULL }
  };
  /* Parse a copy: on FALSE the caller parses argv itself. */
  g_auto(GStrv) copy = g_new0 (char *, argc + 1);
  for (int i = 0; i < argc; i++)
    copy[i] = g_strdup (argv[i]);
  char **args = g_memdup2 (copy, sizeof (char *) * (argc + 1));
  int n_args = argc;
  g_autoptr(GOptionContext) context = sg_cli_spool_context_new ("release", "", "", entries,
                                                                &spool_args);
  g_option_context_set_help_enabled (context, FALSE);
  gboolean parsed = g_option_context_parse (context, &n_args, &args, NULL);
  g_free (args);   /* the strings belong to copy */
  if (!parsed || all || rest == NULL || rest[0] == NULL)
    return FALSE;

  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; rest[i] != NULL; i++)
    {
      char *id = sg_cli_parse_id (rest[i], NULL);
      if (id == NULL)
        return FALSE;
      g_ptr_array_add (ids, id);
    }
  g_autoptr(SgSpool) spool = sg_cli_spool_open_for_change (&spool_args, NULL);
  if (spool == NULL)
    return FALSE;
  g_autoptr(SgRejected) store = open_store (spool, NULL);
  if (store == NULL)
    return FALSE;
  guint in_rejected = 0;
  const char *queued = NULL, *refused = NULL;
  for (guint i = 0; i < ids->len; i++)
    {
      const char *id = g_ptr_array_index (ids, i);
      g_autoptr(SgRejectedMeta) meta = queue_has (spool, id) ? NULL : sg_rejected_load (store, id, NULL);
      if (meta != NULL && meta->monitored)
        {
          g_printerr ("spoolgate release: %s was accepted under [validation] mode = monitor "
                      "and queued then; its copy in rejected/ is a record, not mail to "
                      "release; nothing changed\n", id);
          *status = SG_CLI_EXIT_FAILED;
          return TRUE;
        }
      if (!queue_has (spool, id) && sg_rejected_holds (store, id))
        in_rejected++, refused = id;
      else
        queued = id;
    }
  if (in_rejected == 0)
    return FALSE;
  if (queued != NULL)
    {
      g_printerr ("spoolgate release: %s is a refused message in rejected/ and %s is not; "
                  "release them separately; nothing changed\n", refused, queued);
      *status = SG_CLI_EXIT_USAGE;
      return TRUE;
    }
  sg_log_init (SG_LOG_INFO);
  guint done = 0;
  for (guint i = 0; i < ids->len; i++)
    done += release_one (store, spool, g_ptr_array_index (ids, i));
  g_print ("spoolgate: released %u message%s from rejected/ to the queue%s\n", done,
           done == 1 ? "" : "s", done < ids->len ? ", some failed" : "");
  *status = done == ids->len ? SG_CLI_EXIT_OK : SG_CLI_EXIT_FAILED;
  return TRUE;
}
