/* queue.c - `spoolgate queue [--json] [--state STATE[,STATE...]]`: the spool's
 * messages in arrival order, read from their metadata without locks (every
 * .json is replaced by an atomic rename, so each read sees one whole
 * version), as text like mailq(1) or as JSON lines with postqueue -j's field
 * names. Changing messages is admin.c's; one message in depth is show.c's. */
#include "cli/cli.h"
#include "cli/cli_spool.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#define N_STATES SG_CLI_N_STATES

/* Column widths of the text listing. */
#define ID_WIDTH    20
#define STATE_WIDTH 9
#define SIZE_WIDTH  10

typedef struct {
  guint   messages[N_STATES];
  guint64 bytes[N_STATES];
} QueueTotals;

/* Locks is the set of "MAJ:MIN:INODE" of files someone holds an exclusive
 * flock() on, from /proc/locks: the messages being delivered (or changed)
 * right now, found without taking their locks (which would make the
 * runner put a message off). Empty where /proc/locks cannot be read. */
static GHashTable *
exclusive_locks (void)
{
  GHashTable *set = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *text = NULL;
  if (!g_file_get_contents ("/proc/locks", &text, NULL, NULL))
    return set;
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      /* "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF", maj:min in hex */
      g_auto(GStrv) f = g_strsplit_set (lines[i], " ", -1);
      g_autoptr(GPtrArray) words = g_ptr_array_new ();
      for (guint j = 0; f[j] != NULL; j++)
        if (f[j][0] != '\0')
          g_ptr_array_add (words, f[j]);
      if (words->len < 6 || strcmp (g_ptr_array_index (words, 1), "FLOCK") != 0
          || strcmp (g_ptr_array_index (words, 3), "WRITE") != 0)
        continue;
      unsigned maj, min;
      unsigned long long ino;
      if (sscanf (g_ptr_array_index (words, 5), "%x:%x:%llu", &maj, &min, &ino) == 3)
        g_hash_table_add (set, g_strdup_printf ("%u:%u:%llu", maj, min, ino));
    }
  return set;
}

/* is_active - whether the message's .eml is locked exclusively right now. */
static gboolean
is_active (SgSpool *spool, GHashTable *locks, const char *id)
{
  if (g_hash_table_size (locks) == 0)
    return FALSE;
  struct stat st;
  if (!sg_spool_message_stat (spool, id, &st))
    return FALSE;
  g_autofree char *key = g_strdup_printf ("%u:%u:%llu", major (st.st_dev), minor (st.st_dev),
                                          (unsigned long long) st.st_ino);
  return g_hash_table_contains (locks, key);
}

/* postfix_queue_name - postqueue -j's queue_name for a message: "active"
 * while the runner delivers it, "incoming" before its first attempt,
 * "deferred" after a failed one, "hold" for held mail and for failed or
 * delivered mail, which the runner leaves alone as Postfix's qmgr does
 * the hold queue (the "state" member tells them apart). */
static const char *
postfix_queue_name (SgMsgState state, gboolean active)
{
  if (active && (state == SG_MSG_QUEUED || state == SG_MSG_DEFERRED))
    return "active";
  switch (state)
    {
    case SG_MSG_QUEUED:
      return "incoming";
    case SG_MSG_DEFERRED:
      return "deferred";
    default:
      return "hold";
    }
}

/* print_json - one message as a postqueue -j line: its members, in its
 * order, then ours. */
static void
print_json (const SgMeta *meta, gboolean active)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "queue_name");
  json_builder_add_string_value (b, postfix_queue_name (meta->state, active));
  json_builder_set_member_name (b, "queue_id");
  json_builder_add_string_value (b, meta->queue_id);
  json_builder_set_member_name (b, "arrival_time");
  json_builder_add_int_value (b, meta->arrival_time_us / G_USEC_PER_SEC);
  json_builder_set_member_name (b, "message_size");
  json_builder_add_int_value (b, (gint64) meta->message_size);
  /* postqueue: whether `postsuper -e` forced expiry; spoolgate has none */
  json_builder_set_member_name (b, "forced_expire");
  json_builder_add_boolean_value (b, FALSE);
  json_builder_set_member_name (b, "sender");
  json_builder_add_string_value (b, meta->sender);
  json_builder_set_member_name (b, "recipients");
  json_builder_begin_array (b);
  for (guint i = 0; i < meta->recipients->len; i++)
    {
      const SgMetaRecipient *r = g_ptr_array_index (meta->recipients, i);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "address");
      json_builder_add_string_value (b, r->address);
      /* as postqueue: present only for a recipient whose delivery was put off */
      if (r->delay_reason != NULL)
        {
          json_builder_set_member_name (b, "delay_reason");
          json_builder_add_string_value (b, r->delay_reason);
        }
      json_builder_set_member_name (b, "status");
      json_builder_add_string_value (b, sg_meta_rcpt_status_name (r->status));
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  /* Ours, after postqueue's. */
  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, sg_meta_state_name (meta->state));
  json_builder_set_member_name (b, "arrival_time_us");
  json_builder_add_int_value (b, meta->arrival_time_us);
  json_builder_set_member_name (b, "attempts");
  json_builder_add_int_value (b, meta->attempts);
  json_builder_set_member_name (b, "next_attempt");
  json_builder_add_int_value (b, meta->next_attempt);
  json_builder_set_member_name (b, "last_error");
  if (meta->last_error != NULL)
    json_builder_add_string_value (b, meta->last_error);
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);

  g_autoptr(JsonNode) root = json_builder_get_root (b);
  g_autofree char *line = json_to_string (root, FALSE);
  g_print ("%s\n", line);
}

/* append_address - <address> made terminal-safe; "<>" for the null sender. */
static void
append_address (GString *out, const char *address)
{
  g_string_append_c (out, '<');
  sg_cli_append_safe (out, address, -1, FALSE);
  g_string_append_c (out, '>');
}

/* print_text - one message as a mailq style entry. */
static void
print_text (const SgMeta *meta, gboolean active, gint64 now)
{
  g_autoptr(GString) out = g_string_new (NULL);
  g_autofree char *arrival = sg_cli_format_time (meta->arrival_time_us / G_USEC_PER_SEC);

  g_string_append_printf (out, "%-*s %-*s %*" G_GUINT64_FORMAT "  %s  ", ID_WIDTH, meta->queue_id,
                          STATE_WIDTH, sg_meta_state_name (meta->state), SIZE_WIDTH,
                          meta->message_size, arrival);
  append_address (out, meta->sender);
  g_string_append_c (out, '\n');

  g_string_append_printf (out, "    attempts %u", meta->attempts);
  if (active && (meta->state == SG_MSG_QUEUED || meta->state == SG_MSG_DEFERRED))
    g_string_append (out, ", being delivered now");
  else if (meta->state == SG_MSG_QUEUED || meta->state == SG_MSG_DEFERRED)
    {
      if (meta->next_attempt <= now)
        g_string_append (out, ", next attempt now");
      else
        {
          g_autofree char *next = sg_cli_format_time (meta->next_attempt);
          g_string_append_printf (out, ", next attempt %s", next);
        }
    }
  else if (meta->state == SG_MSG_HELD)
    g_string_append (out, ", on hold until released");
  g_string_append_c (out, '\n');
  if (meta->last_error != NULL)
    {
      g_string_append (out, "    last error: ");
      sg_cli_append_safe (out, meta->last_error, -1, FALSE);
      g_string_append_c (out, '\n');
    }
  for (guint i = 0; i < meta->recipients->len; i++)
    {
      const SgMetaRecipient *r = g_ptr_array_index (meta->recipients, i);
      g_string_append (out, "    -> ");
      append_address (out, r->address);
      g_string_append_printf (out, " %s", sg_meta_rcpt_status_name (r->status));
      if (r->delay_reason != NULL)
        {
          g_string_append (out, ": ");
          sg_cli_append_safe (out, r->delay_reason, -1, FALSE);
        }
      g_string_append_c (out, '\n');
    }
  g_string_append_c (out, '\n');
  g_print ("%s", out->str);
}

/* print_summary - "-- N messages, B bytes: queued N (B bytes), ...". */
static void
print_summary (const QueueTotals *t, const char *filter, guint hidden_delivered)
{
  guint messages = 0;
  guint64 bytes = 0;

  for (guint s = 0; s < N_STATES; s++)
    {
      messages += t->messages[s];
      bytes += t->bytes[s];
    }
  if (messages == 0 && filter != NULL)
    g_print ("-- no messages in state %s\n", filter);
  else if (messages == 0)
    g_print ("-- queue is empty\n");
  else
    {
      g_autoptr(GString) out = g_string_new (NULL);
      g_string_append_printf (out, "-- %u message%s, %" G_GUINT64_FORMAT " bytes:", messages,
                              messages == 1 ? "" : "s", bytes);
      const char *sep = " ";
      for (guint s = 0; s < N_STATES; s++)
        if (t->messages[s] > 0)
          {
            g_string_append_printf (out, "%s%s %u (%" G_GUINT64_FORMAT " bytes)", sep,
                                    sg_meta_state_name ((SgMsgState) s), t->messages[s],
                                    t->bytes[s]);
            sep = ", ";
          }
      g_print ("%s\n", out->str);
    }
  if (hidden_delivered > 0)
    g_print ("-- %u delivered message%s not shown (--state delivered)\n", hidden_delivered,
             hidden_delivered == 1 ? "" : "s");
}

/* sg_cli_queue - list the spool's messages. */
int
sg_cli_queue (int argc, char **argv)
{
  g_auto(SgCliSpoolArgs) spool_args = { NULL };
  gboolean json = FALSE;
  g_autofree char *state = NULL;
  g_auto(GStrv) rest = NULL;
  const GOptionEntry entries[] = {
    { "json", 'j', 0, G_OPTION_ARG_NONE, &json,
      "One JSON object per message and line (postqueue -j field names)", NULL },
    { "state", 0, 0, G_OPTION_ARG_STRING, &state,
      "Only messages in these states: queued, deferred, held (or hold), delivered, failed; "
      "default: all but delivered", "STATE[,STATE...]" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &rest, NULL, NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = sg_cli_spool_context_new ("queue", "",
    "Lists the messages in the spool, like mailq: ID, state, size, arrival time,\n"
    "sender, attempts, next attempt, last error and each recipient with its\n"
    "status, then a summary of messages and bytes per state. Delivered messages\n"
    "(kept until their files are recycled) are left out unless --state names them.\n"
    "--json prints postqueue -j's objects: queue_name is incoming, active,\n"
    "deferred or hold; spoolgate's own state is the member \"state\".", entries, &spool_args);
  g_autoptr(GError) error = NULL;
  guint mask = ((1u << N_STATES) - 1) & ~(1u << SG_MSG_DELIVERED);

  if (!sg_cli_parse_options (context, entries, &argc, &argv, &error) ||
      (state != NULL && !sg_cli_parse_states (state, &mask, &error)))
    {
      g_printerr ("spoolgate queue: %s\n", error->message);
      return SG_CLI_EXIT_USAGE;
    }
  if (rest != NULL && rest[0] != NULL)
    {
      g_autofree char *shown = sg_cli_safe (rest[0]);
      g_printerr ("spoolgate queue: unexpected argument \"%s\"\n", shown);
      return SG_CLI_EXIT_USAGE;
    }

  g_autoptr(SgSpool) spool = sg_cli_spool_open (&spool_args, &error);
  g_autoptr(GPtrArray) ids = spool ? sg_spool_list (spool, &error) : NULL;
  if (ids == NULL)
    {
      g_printerr ("spoolgate queue: %s\n", error->message);
      return SG_CLI_EXIT_FAILED;
    }

  QueueTotals totals = { { 0 } };
  guint hidden_delivered = 0;
  g_autoptr(GHashTable) locks = exclusive_locks ();
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  int status = SG_CLI_EXIT_OK;
  for (guint i = 0; i < ids->len; i++)
    {
      const char *id = g_ptr_array_index (ids, i);
      g_autoptr(GError) load_error = NULL;
      g_autoptr(SgMeta) meta = sg_spool_load_meta (spool, id, &load_error);
      if (meta == NULL)
        {
          /* Removed since the listing (delivered, deleted): not an error. */
          if (g_error_matches (load_error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND))
            continue;
          g_autoptr(GError) shown = NULL;
          sg_cli_meta_error (spool, id, load_error, &shown);
          g_printerr ("spoolgate queue: %s\n", shown->message);
          status = SG_CLI_EXIT_FAILED;
          continue;
        }
      if ((mask & (1u << meta->state)) == 0)
        {
          if (state == NULL && meta->state == SG_MSG_DELIVERED)
            hidden_delivered++;
          continue;
        }
      totals.messages[meta->state]++;
      totals.bytes[meta->state] += meta->message_size;
      gboolean active = is_active (spool, locks, id);
      if (json)
        print_json (meta, active);
      else
        print_text (meta, active, now);
    }
  if (!json)
    print_summary (&totals, state, hidden_delivered);
  return status;
}
