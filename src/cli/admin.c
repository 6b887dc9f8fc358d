/* admin.c - `spoolgate hold|release|retry|delete|requeue ID... | --all`: change
 * messages beside a running daemon, like postsuper(1). Each change follows
 * the spool's protocol: take the message's lock without waiting (refuse if
 * the queue runner is delivering it), re-read the metadata under the lock,
 * replace it atomically (or remove the message), unlock. The runner notices
 * through its watch on queue/. Named IDs are all-or-nothing; --all is
 * per message. Listing is queue.c's, inspection show.c's; the lock and
 * the atomic replace are src/spool/'s. */
#include "cli/cli.h"
#include "cli/cli_spool.h"
#include "cli/rejected.h"
#include "common/log.h"

#include <string.h>

#define N_STATES SG_CLI_N_STATES

/* Whether an operation applies to a message in its current state. */
typedef enum {
  FIT_CHANGE,    /* apply it */
  FIT_ALREADY,   /* already as asked: success, nothing written */
  FIT_NO,        /* not for this state: an error for a named ID, skipped by --all */
} Fit;

typedef struct {
  const char *name;                 /* subcommand */
  const char *done;                 /* summary: "<done> N messages<done_tail>" */
  const char *done_tail;
  const char *already;              /* summary note for FIT_ALREADY */
  const char *logged;               /* syslog: "ID: <logged>", postsuper's words */
  const char *summary;              /* --help text */
  Fit  (*fit) (const SgMeta *meta, char **why);
  void (*apply) (SgMeta *meta, gint64 now);   /* NULL: remove the message */
} AdminOp;

/* in_queue - whether the runner may deliver a message in this state. */
static gboolean
in_queue (SgMsgState s)
{
  return s == SG_MSG_QUEUED || s == SG_MSG_DEFERRED;
}

/* fit_hold - queued or deferred mail can be held; held mail already is. */
static Fit
fit_hold (const SgMeta *meta, char **why)
{
  if (meta->state == SG_MSG_HELD)
    return FIT_ALREADY;
  if (in_queue (meta->state))
    return FIT_CHANGE;
  *why = g_strdup_printf ("is not in the queue (state %s)", sg_meta_state_name (meta->state));
  return FIT_NO;
}

/* apply_hold - the runner skips held messages. */
static void
apply_hold (SgMeta *meta, gint64 now)
{
  meta->state = SG_MSG_HELD;
}

/* fit_release - held mail is released; queued or deferred mail is not held. */
static Fit
fit_release (const SgMeta *meta, char **why)
{
  if (meta->state == SG_MSG_HELD)
    return FIT_CHANGE;
  if (in_queue (meta->state))
    return FIT_ALREADY;
  *why = g_strdup_printf ("is not in the queue (state %s)", sg_meta_state_name (meta->state));
  return FIT_NO;
}

/* apply_release - back to queued (never tried) or deferred, keeping a future
 * retry time and making a past one due now. The administrator decided to
 * send it: its lifetime ([queue] max_lifetime) starts again, so that mail
 * held for long is not expired at its first attempt (issue 23). */
static void
apply_release (SgMeta *meta, gint64 now)
{
  meta->state = meta->attempts > 0 ? SG_MSG_DEFERRED : SG_MSG_QUEUED;
  if (meta->next_attempt <= now)
    meta->next_attempt = 0;
  meta->lifetime_start = now;
}

/* fit_retry - only mail the runner may deliver can be made due. */
static Fit
fit_retry (const SgMeta *meta, char **why)
{
  if (in_queue (meta->state))
    return FIT_CHANGE;
  if (meta->state == SG_MSG_HELD)
    *why = g_strdup ("is held and stays held; release it first (spoolgate release)");
  else if (meta->state == SG_MSG_FAILED)
    *why = g_strdup ("has failed; use spoolgate requeue to try it again");
  else
    *why = g_strdup_printf ("is not in the queue (state %s)", sg_meta_state_name (meta->state));
  return FIT_NO;
}

/* apply_retry - due now. */
static void
apply_retry (SgMeta *meta, gint64 now)
{
  meta->next_attempt = 0;
}

/* fit_delete - any message can be deleted. */
static Fit
fit_delete (const SgMeta *meta, char **why)
{
  return FIT_CHANGE;
}

/* fit_requeue - only failed mail is requeued. */
static Fit
fit_requeue (const SgMeta *meta, char **why)
{
  if (meta->state == SG_MSG_FAILED)
    return FIT_CHANGE;
  *why = g_strdup_printf ("has not failed (state %s); requeue is for failed messages",
                          sg_meta_state_name (meta->state));
  return FIT_NO;
}

/* apply_requeue - undelivered recipients pending again, due now; delivered
 * recipients stay delivered, and the attempt count and history stay. Its
 * lifetime starts again (max_lifetime, and one more delay notice after
 * delay_warning): an expired message is tried, not bounced at once. Who
 * was sent a non-delivery report keeps that record (bounced), so a
 * recipient that fails again is not reported twice (issue 23). */
static void
apply_requeue (SgMeta *meta, gint64 now)
{
  meta->lifetime_start = now;
  meta->delay_warned = FALSE;
  for (guint i = 0; i < meta->recipients->len; i++)
    {
      SgMetaRecipient *r = g_ptr_array_index (meta->recipients, i);
      if (r->status == SG_RCPT_FAILED || r->status == SG_RCPT_DEFERRED)
        {
          r->status = SG_RCPT_PENDING;
          g_clear_pointer (&r->delay_reason, g_free);
          r->updated = now;
        }
    }
  meta->state = SG_MSG_QUEUED;
  meta->next_attempt = 0;
}

static const AdminOp admin_ops[] = {
  { "hold", "held", "", "already held", "placed on hold",
    "Puts queued or deferred messages on hold: the queue runner does not\n"
    "deliver them until they are released.", fit_hold, apply_hold },
  { "release", "released", "", "not held", "released from hold",
    "Releases held messages: back to queued (never tried) or deferred; their\n"
    "lifetime ([queue] max_lifetime) starts again.",
    fit_release, apply_release },
  { "retry", "made", " due now", NULL, "made due now",
    "Makes queued or deferred messages due now. Held messages stay held.",
    fit_retry, apply_retry },
  { "delete", "deleted", "", NULL, "removed",
    "Deletes messages from the spool, whatever their state.", fit_delete, NULL },
  { "requeue", "requeued", "", NULL, "requeued",
    "Puts failed messages back in the queue: their undelivered recipients\n"
    "become pending, the message is due now and its lifetime ([queue]\n"
    "max_lifetime) starts again. A recipient that fails again gets no second\n"
    "non-delivery report.", fit_requeue, apply_requeue },
};

/* One message named on the command line, locked during the whole command. */
typedef struct {
  char   *id;
  int     lock_fd;
  SgMeta *meta;
  Fit     fit;
} Target;

typedef struct {
  guint changed, already, failed;
  guint skipped[N_STATES];
} Tally;

/* target_clear - unlock and free one Target. */
static void
target_clear (gpointer data)
{
  Target *t = data;
  sg_spool_unlock_message (t->lock_fd);
  g_free (t->id);
  g_clear_pointer (&t->meta, sg_meta_free);
}

/* lock_and_load - lock id and read its metadata under the lock; -1 on error. */
static int
lock_and_load (SgSpool *spool, const char *id, SgMeta **meta, GError **error)
{
  g_autoptr(GError) local = NULL;
  int fd = sg_spool_lock_message (spool, id, FALSE, &local);
  if (fd < 0)
    {
      if (g_error_matches (local, SG_SPOOL_ERROR, SG_SPOOL_ERROR_BUSY))
        g_set_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_BUSY,
                     "message %s is being delivered right now (its lock is taken)", id);
      else
        g_propagate_error (error, g_steal_pointer (&local));
      return -1;
    }
  *meta = sg_spool_load_meta (spool, id, &local);
  if (*meta == NULL)
    {
      sg_spool_unlock_message (fd);
      sg_cli_meta_error (spool, id, local, error);
      return -1;
    }
  return fd;
}

/* change - apply op to a locked message, make it durable, and log it to
 * the system logger where the daemon's log goes. */
static gboolean
change (SgSpool *spool, const AdminOp *op, SgMeta *meta, GError **error)
{
  if (op->apply == NULL)
    {
      if (!sg_spool_remove (spool, meta->queue_id, error))
        return FALSE;
    }
  else
    {
      op->apply (meta, g_get_real_time () / G_USEC_PER_SEC);
      if (!sg_spool_update_meta (spool, meta, error))
        return FALSE;
    }
  sg_log_admin (meta->queue_id, op->logged);
  return TRUE;
}

/* run_named - lock every named message, check that op applies to each, and
 * only then change them; any refusal changes nothing. */
static void
run_named (SgSpool *spool, const AdminOp *op, GPtrArray *ids, Tally *tally)
{
  g_autoptr(GArray) targets = g_array_new (FALSE, TRUE, sizeof (Target));
  g_array_set_clear_func (targets, target_clear);
  guint refused = 0;

  for (guint i = 0; i < ids->len; i++)
    {
      Target t = { .id = g_strdup (g_ptr_array_index (ids, i)), .lock_fd = -1 };
      g_autoptr(GError) error = NULL;
      g_autofree char *why = NULL;
      t.lock_fd = lock_and_load (spool, t.id, &t.meta, &error);
      if (t.lock_fd >= 0 && (t.fit = op->fit (t.meta, &why)) == FIT_NO)
        g_set_error (&error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_IO, "message %s %s", t.id, why);
      g_array_append_val (targets, t);
      if (error != NULL)
        {
          g_printerr ("spoolgate %s: %s; nothing changed\n", op->name, error->message);
          refused++;
        }
    }
  if (refused > 0)
    {
      tally->failed = refused;
      return;
    }
  for (guint i = 0; i < targets->len; i++)
    {
      Target *t = &g_array_index (targets, Target, i);
      g_autoptr(GError) error = NULL;
      if (t->fit == FIT_ALREADY)
        tally->already++;
      else if (change (spool, op, t->meta, &error))
        tally->changed++;
      else
        {
          g_printerr ("spoolgate %s: message %s: %s\n", op->name, t->id, error->message);
          tally->failed++;
        }
    }
}

/* run_all - op on every message it applies to, one at a time; busy or
 * unreadable messages are reported and skipped. */
static gboolean
run_all (SgSpool *spool, const AdminOp *op, guint mask, Tally *tally, GError **error)
{
  g_autoptr(GPtrArray) ids = sg_spool_list (spool, error);
  if (ids == NULL)
    return FALSE;
  for (guint i = 0; i < ids->len; i++)
    {
      const char *id = g_ptr_array_index (ids, i);
      g_autoptr(GError) local = NULL;
      g_autofree char *why = NULL;
      /* A first look without the lock (a whole earlier version, since the
       * .json is replaced by rename) leaves alone what op does not apply
       * to, so that, say, release --all does not report queued messages the
       * runner is delivering. What op does apply to is re-read under the lock. */
      g_autoptr(SgMeta) meta = sg_spool_load_meta (spool, id, NULL);
      if (meta != NULL && (mask & (1u << meta->state)) == 0)
        continue;
      if (meta != NULL)
        {
          Fit first = op->fit (meta, &why);
          g_clear_pointer (&why, g_free);
          if (first != FIT_CHANGE)
            {
              if (first == FIT_NO)
                tally->skipped[meta->state]++;
              else
                tally->already++;
              continue;
            }
          g_clear_pointer (&meta, sg_meta_free);
        }
      int fd = lock_and_load (spool, id, &meta, &local);
      if (fd < 0)
        {
          /* Gone since the listing: delivered or deleted meanwhile. */
          if (g_error_matches (local, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND))
            continue;
          g_printerr ("spoolgate %s: %s; skipped\n", op->name, local->message);
          tally->failed++;
          continue;
        }
      if ((mask & (1u << meta->state)) == 0)
        {
          sg_spool_unlock_message (fd);
          continue;
        }
      switch (op->fit (meta, &why))
        {
        case FIT_NO:
          tally->skipped[meta->state]++;
          break;
        case FIT_ALREADY:
          tally->already++;
          break;
        case FIT_CHANGE:
          if (change (spool, op, meta, &local))
            tally->changed++;
          else
            {
              g_printerr ("spoolgate %s: message %s: %s\n", op->name, id, local->message);
              tally->failed++;
            }
          break;
        }
      sg_spool_unlock_message (fd);
    }
  return TRUE;
}

/* count - "1 message" or "N messages" (transfer full). */
static char *
count (guint n)
{
  return g_strdup_printf ("%u message%s", n, n == 1 ? "" : "s");
}

/* print_summary - "spoolgate: held 3 messages, 1 already held, skipped: failed 2". */
static void
print_summary (const AdminOp *op, const Tally *tally)
{
  g_autoptr(GString) out = g_string_new ("spoolgate:");
  const char *sep = ", skipped: ";

  if (tally->changed > 0 || tally->already == 0)
    {
      g_autofree char *n = count (tally->changed);
      g_string_append_printf (out, " %s %s%s", op->done, n, op->done_tail);
    }
  if (tally->already > 0)
    {
      const char *what = op->already ? op->already : "unchanged";
      g_autofree char *n = count (tally->already);
      if (tally->changed > 0)
        g_string_append_printf (out, ", %u %s", tally->already, what);
      else
        g_string_append_printf (out, " %s %s", n, what);
    }
  for (guint s = 0; s < N_STATES; s++)
    if (tally->skipped[s] > 0)
      {
        g_string_append_printf (out, "%s%s %u", sep, sg_meta_state_name ((SgMsgState) s),
                                tally->skipped[s]);
        sep = ", ";
      }
  if (tally->failed > 0)
    g_string_append_printf (out, ", %u failed", tally->failed);
  g_print ("%s\n", out->str);
}

/* add_id - one validated, upper-cased ID, unless already there. */
static gboolean
add_id (GPtrArray *ids, const char *arg, GError **error)
{
  char *id = sg_cli_parse_id (arg, error);
  if (id == NULL)
    return FALSE;
  if (g_ptr_array_find_with_equal_func (ids, id, g_str_equal, NULL))
    g_free (id);
  else
    g_ptr_array_add (ids, id);
  return TRUE;
}

/* add_stdin_ids - the IDs on standard input, separated by white space, as
 * postsuper reads them for "-" (so `spoolgate queue --json | jq -r
 * .queue_id | spoolgate delete -` works). */
static gboolean
add_stdin_ids (GPtrArray *ids, GError **error)
{
  g_autoptr(GIOChannel) in = g_io_channel_unix_new (0);
  g_autofree char *text = NULL;
  gsize len = 0;
  g_io_channel_set_encoding (in, NULL, NULL);
  if (g_io_channel_read_to_end (in, &text, &len, error) != G_IO_STATUS_NORMAL)
    {
      if (error != NULL && *error != NULL)
        g_prefix_error (error, "reading queue IDs from standard input: ");
      return FALSE;
    }
  g_auto(GStrv) words = g_strsplit_set (text != NULL ? text : "", " \t\r\n", -1);
  for (guint i = 0; words[i] != NULL; i++)
    if (words[i][0] != '\0' && !add_id (ids, words[i], error))
      return FALSE;
  return TRUE;
}

/* parse_ids - validated, upper-cased, duplicate-free IDs; "-" stands for
 * those read from standard input (transfer full). */
static GPtrArray *
parse_ids (char **args, GError **error)
{
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  gboolean read_stdin = FALSE;
  for (guint i = 0; args != NULL && args[i] != NULL; i++)
    {
      if (strcmp (args[i], "-") == 0)
        {
          if (!read_stdin && !add_stdin_ids (ids, error))
            return NULL;
          read_stdin = TRUE;
        }
      else if (!add_id (ids, args[i], error))
        return NULL;
    }
  return g_steal_pointer (&ids);
}

/* run_op - the shared body of every administration subcommand. */
static int
run_op (const AdminOp *op, int argc, char **argv)
{
  g_auto(SgCliSpoolArgs) spool_args = { NULL };
  gboolean all = FALSE;
  g_autofree char *state = NULL;
  g_auto(GStrv) rest = NULL;
  const GOptionEntry entries[] = {
    { "all", 'a', 0, G_OPTION_ARG_NONE, &all, "Every message in the spool", NULL },
    { "state", 0, 0, G_OPTION_ARG_STRING, &state,
      "With --all: only messages in these states (queued, deferred, held or hold, "
      "delivered, failed)", "STATE[,STATE...]" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &rest, NULL, NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = sg_cli_spool_context_new (op->name,
    "ID... | - | --all [--state STATE]", op->summary, entries, &spool_args);
  g_option_context_set_description (context,
    "\"-\" reads queue IDs from standard input, separated by white space, as\n"
    "postsuper does: spoolgate queue --json | jq -r .queue_id | spoolgate delete -\n"
    "Named IDs are all-or-nothing: if one cannot be changed, none is.\n"
    "Each change is logged to syslog (facility mail) as spoolgate/admin.\n"
    "Exit status: 0 success, 1 something failed (see stderr), 2 usage error.");
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) ids = NULL;
  guint mask = (1u << N_STATES) - 1;

  if (!sg_cli_parse_options (context, entries, &argc, &argv, &error) ||
      (state != NULL && !sg_cli_parse_states (state, &mask, &error)))
    {
      g_printerr ("spoolgate %s: %s\n", op->name, error->message);
      return SG_CLI_EXIT_USAGE;
    }
  if (all == (rest != NULL && rest[0] != NULL))
    {
      g_printerr ("spoolgate %s: give queue IDs, - or --all (not both)\n", op->name);
      return SG_CLI_EXIT_USAGE;
    }
  if (state != NULL && !all)
    {
      g_printerr ("spoolgate %s: --state goes with --all\n", op->name);
      return SG_CLI_EXIT_USAGE;
    }
  if (!all && (ids = parse_ids (rest, &error)) == NULL)
    {
      g_printerr ("spoolgate %s: %s\n", op->name, error->message);
      return SG_CLI_EXIT_USAGE;
    }

  g_autoptr(SgSpool) spool = sg_cli_spool_open_for_change (&spool_args, &error);
  Tally tally = { 0 };
  if (spool == NULL || (all && !run_all (spool, op, mask, &tally, &error)))
    {
      g_printerr ("spoolgate %s: %s\n", op->name, error->message);
      return SG_CLI_EXIT_FAILED;
    }
  if (!all)
    run_named (spool, op, ids, &tally);
  if (!all && tally.failed > 0 && tally.changed == 0)
    return SG_CLI_EXIT_FAILED;   /* refused: the error lines say it all */
  print_summary (op, &tally);
  return tally.failed > 0 ? SG_CLI_EXIT_FAILED : SG_CLI_EXIT_OK;
}

/* find_op - the AdminOp of a subcommand name. */
static const AdminOp *
find_op (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (admin_ops); i++)
    if (strcmp (admin_ops[i].name, name) == 0)
      return &admin_ops[i];
  g_return_val_if_reached (NULL);
}

/* sg_cli_hold - put messages on hold. */
int
sg_cli_hold (int argc, char **argv)
{
  return run_op (find_op ("hold"), argc, argv);
}

/* sg_cli_release - release held messages, or refused ones from rejected/. */
int
sg_cli_release (int argc, char **argv)
{
  int status;
  if (sg_cli_rejected_release (argc, argv, &status))
    return status;
  return run_op (find_op ("release"), argc, argv);
}

/* sg_cli_retry - make messages due now. */
int
sg_cli_retry (int argc, char **argv)
{
  return run_op (find_op ("retry"), argc, argv);
}

/* sg_cli_delete - delete messages. */
int
sg_cli_delete (int argc, char **argv)
{
  return run_op (find_op ("delete"), argc, argv);
}

/* sg_cli_requeue - put failed messages back in the queue. */
int
sg_cli_requeue (int argc, char **argv)
{
  return run_op (find_op ("requeue"), argc, argv);
}
