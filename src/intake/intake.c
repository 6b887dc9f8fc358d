/* intake.c - validation workers and the hand-off to the spool. A job lives
 * from sg_intake_submit() until its done callback has run in the main
 * context; rejections never touch the queue (a copy may go to rejected/,
 * rollout.c, which also owns monitor mode). Logs the Postfix-style
 * "ID: from=<...>, size=N, nrcpt=N" line once the message is durable and
 * counts it accepted; refusals go through reply/reject.h. A message that
 * arrived as a spool draft is validated from a mapping of its file and
 * committed as that file; a refused one's file goes with its envelope.
 * Between validation and the commit, [milter] servers get their say
 * (milter/milter_client.h) on a pool of their own, at most [milter]
 * max_conversations messages at once: validation workers never wait for a
 * milter, so a message refused by validation (or with no milter to see)
 * is never queued behind a slow one. A message waiting for a milter is
 * answered within sg_milter_budget() of its validation, queue wait
 * included, whatever the milters do. */
#include "intake/intake.h"
#include "intake/rollout.h"
#include "common/log.h"
#include "metrics/metrics.h"
#include "milter/milter_client.h"
#include "reply/reject.h"

#include <string.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN SG_LOG_CLEANUP

/* What a message is validated under: fixed for a job from its submission. */
typedef struct {
  SgConfig *config;
  SgPolicy *policy;
  gboolean  monitor;   /* [validation] mode = monitor */
} Settings;

struct _SgIntake {
  Settings       *settings;   /* current, g_atomic_rc_box; main thread only */
  SgSpool        *spool;
  GMainContext   *context;
  GThreadPool    *pool;      /* validation: one per CPU */
  GThreadPool    *milters;   /* milter conversations: [milter] max_conversations */
  gint            pending;   /* atomic */
  gint            stopping;  /* atomic: sg_intake_free cuts milter conversations short */
  SgIntakeCommittedFunc committed;    /* (nullable) */
  gpointer        committed_data;
  SgRejected     *rejected;  /* (nullable) [validation] keep_rejected; atomic, set once */
};

typedef struct {
  SgIntake        *intake;
  Settings        *settings;
  SgEnvelope      *env;
  SgIntakeDoneFunc done;
  gpointer         user_data;
  SgReply          reply;          /* owned: the milter's result is freed first */
  /* between validation and the milters' pool */
  SgValidation    *validation;     /* (nullable) once accepted by validation */
  const guint8    *bytes;          /* the message: env->content's or the draft's mapping */
  gsize            len;
  gint64           milter_deadline;/* monotonic µs: the milters are done by then */
} Job;

static void
settings_clear (gpointer data)
{
  Settings *st = data;
  sg_policy_free (st->policy);
  sg_config_free (st->config);
}

/* settings_new - config plus the policy built from it (g_atomic_rc_box). */
static Settings *
settings_new (SgConfig *config, GError **error)
{
  SgPolicy *policy = sg_policy_new (config->validation_policy,
                                    (const char *const *) config->validation_reject,
                                    (const char *const *) config->validation_accept, error);
  if (!policy)
    return NULL;
  Settings *st = g_atomic_rc_box_new0 (Settings);
  st->config = sg_config_ref (config);
  st->policy = policy;
  st->monitor = g_strcmp0 (config->validation_mode, SG_ROLLOUT_MODE_MONITOR) == 0;
  return st;
}

static void
job_free (Job *job)
{
  /* a message refused or discarded: what was held back about it, now */
  sg_log_release (job->env->queue_id);
  g_atomic_rc_box_release_full (job->settings, settings_clear);
  sg_envelope_free (job->env);
  g_clear_pointer (&job->validation, sg_validation_free);
  sg_reply_clear (&job->reply);
  g_free (job);
}

/* job_reply_idle - main context: deliver the reply and end the job. */
static gboolean
job_reply_idle (gpointer data)
{
  Job *job = data;
  job->done (&job->reply, job->user_data);
  g_atomic_int_dec_and_test (&job->intake->pending);
  job_free (job);
  return G_SOURCE_REMOVE;
}

/* job_reply - the reply (contents taken), delivered in the main context. */
static void
job_reply (Job *job, SgReply *reply)
{
  sg_reply_move (&job->reply, reply);
  g_main_context_invoke (job->intake->context, job_reply_idle, job);
}

/* commit_done - main context: the spool has answered for this message. */
static void
commit_done (SgMeta *meta, const GError *error, gpointer user_data)
{
  Job *job = user_data;
  if (error)
    {
      SgRejectClient who = sg_envelope_reject_client (job->env);
      g_warning ("%s: spool commit failed: %s", job->env->queue_id, error->message);
      sg_reply_spool_error (&job->reply, error);
      sg_reject (&who, "DATA", &job->reply);
    }
  else
    {
      /* the arrival line "ID: from=<...>" is the spool's (spool_commit.c),
       * logged before the message becomes visible to the queue runner */
      sg_metrics_inc (SG_COUNTER_MESSAGES_ACCEPTED);
      sg_metrics_add (SG_COUNTER_ACCEPTED_BYTES, meta->message_size);
      sg_reply_set (&job->reply, 250, "2.0.0", NULL, "Ok: queued as %s", meta->queue_id);
      if (job->intake->committed)
        job->intake->committed (meta, job->intake->committed_data);
    }
  job_reply_idle (job);
}

/* meta_from_envelope - the metadata of an accepted message: the envelope's,
 * and what validation found (transfer full). */
static SgMeta *
meta_from_envelope (const SgEnvelope *env, const SgValidation *validation)
{
  SgMeta *meta = sg_envelope_to_meta (env);
  meta->eightbit = validation->has_8bit || sg_bytes_have_8bit (env->received)
                   ? SG_EIGHTBIT_YES : SG_EIGHTBIT_NO;   /* the .eml: Received, then the content */
  if (env->hold_reason)
    g_message ("%s: held: %s", env->queue_id, env->hold_reason);
  meta->validation = sg_validation_to_json (validation);
  meta->message_id = g_strdup (validation->message_id);
  return meta;
}

/* run_milters - [milter] servers on a validated message (milter/); NULL
 * when none are configured. Envelope-stage verdicts take effect here, at
 * the end of DATA. (transfer full) */
static SgMilterResult *
run_milters (SgIntake *intake, const SgConfig *config, const SgEnvelope *env, GBytes *content,
             gint64 deadline)
{
  if (!config->milter_servers || !config->milter_servers[0])
    return NULL;
  SgMilterInput in = sg_envelope_milter_input (env, config->hostname);
  in.content = content;
  in.cancel = &intake->stopping;
  in.deadline = deadline;
  return sg_milter_run (config, &in);
}

static void accept_job (Job *job, SgMilterResult *mr);

/* milter_worker - milters' pool thread: the milters' verdict on a message
 * validation accepted, then as accept_job(). */
static void
milter_worker (gpointer data, gpointer pool_data)
{
  Job *job = data;
  SgEnvelope *env = job->env;
  /* A draft's bytes are borrowed from its mapping, valid until accept_job unmaps it. */
  g_autoptr(GBytes) whole = env->draft ? g_bytes_new_static (job->bytes, job->len) : g_bytes_ref (env->content);
  g_autoptr(SgMilterResult) mr = run_milters (job->intake, job->settings->config, env, whole,
                                              job->milter_deadline);
  accept_job (job, mr);
}

/* worker - pool thread: validate, then reject, or hand over to the
 * milters' pool or the spool. */
static void
worker (gpointer data, gpointer pool_data)
{
  Job *job = data;
  SgIntake *in = job->intake;
  const Settings *st = job->settings;
  SgEnvelope *env = job->env;
  gsize len = 0;
  const guint8 *bytes = NULL;
  if (env->draft)
    {
      /* The file holds our Received header, then the message as sent. */
      g_autoptr(GError) error = NULL;
      gsize hlen = g_bytes_get_size (env->received);
      bytes = sg_spool_draft_map (env->draft, &len, &error);
      if (bytes == NULL || len < hlen)
        {
          /* Writing it failed after the final dot (the writer thread), or it
           * cannot be read back: the same replies as a failed commit. */
          SgRejectClient who = sg_envelope_reject_client (env);
          g_auto(SgReply) r = { 0 };
          g_warning ("%s: spooling the message failed: %s", env->queue_id,
                     error ? error->message : "short file");
          sg_reply_spool_error (&r, error);
          sg_reject (&who, "DATA", &r);
          job_reply (job, &r);
          return;
        }
      bytes += hlen;
      len -= hlen;
    }
  else
    bytes = g_bytes_get_data (env->content, &len);
  /* Its warnings wait for its arrival lines (spool_commit.c: log_arrival). */
  sg_log_hold (env->queue_id);
  SgValidateOptions opts = {
    .smtputf8 = env->mail.smtputf8,
    .eightbitmime = env->mail.body == SG_BODY_8BITMIME,
    .max_mime_depth = st->config->max_mime_depth,
    .max_mime_parts = st->config->max_mime_parts,
    .policy = st->policy,
  };
  g_autoptr(SgValidation) v = sg_validate (bytes ? bytes : (const guint8 *) "", len, &opts);

  for (guint i = 0; i < v->violations->len; i++)
    {
      const SgViolation *viol = g_ptr_array_index (v->violations, i);
      if (viol != v->first_reject && !viol->reject)
        {
          g_autofree char *why = sg_violation_describe (viol);
          g_message ("%s: warning: accepted by policy %s: %s", env->queue_id, v->policy, why);
        }
    }
  if (v->first_reject && st->monitor)
    {
      sg_rollout_monitor (env, v->first_reject);
      /* A record that outlives the delivery, within keep_rejected's budget. */
      SgRejected *kept = st->config->keep_rejected ? g_atomic_pointer_get (&in->rejected) : NULL;
      if (kept != NULL)
        {
          g_autoptr(GBytes) body = env->draft ? g_bytes_new_static (bytes, len) : g_bytes_ref (env->content);
          sg_rollout_keep (kept, meta_from_envelope (env, v), env->received, body, v->first_reject,
                           TRUE);
        }
    }
  else if (v->first_reject)
    {
      SgRejectClient who = sg_envelope_reject_client (env);
      SgRejected *kept = st->config->keep_rejected ? g_atomic_pointer_get (&in->rejected) : NULL;
      g_auto(SgReply) r = { 0 };
      sg_rollout_refusal (v->first_reject, &r);
      sg_reject (&who, "END-OF-MESSAGE", &r);
      if (kept != NULL)
        {
          /* A draft's body is borrowed from its mapping: the copy is made
           * before this returns, and the draft goes with the envelope. */
          g_autoptr(GBytes) body = env->draft ? g_bytes_new_static (bytes, len) : g_bytes_ref (env->content);
          sg_rollout_keep (kept, meta_from_envelope (env, v), env->received, body, v->first_reject,
                           FALSE);
        }
      job_reply (job, &r);
      return;
    }
  job->validation = g_steal_pointer (&v);
  job->bytes = bytes;
  job->len = len;
  if (st->config->milter_servers && st->config->milter_servers[0])
    {
      job->milter_deadline = g_get_monotonic_time () + sg_milter_budget (st->config);
      g_thread_pool_push (in->milters, job, NULL);
      return;
    }
  accept_job (job, NULL);
}

/* accept_job - a message validation accepted: the milters' verdict (mr,
 * nullable: none configured), then the commit or the milters' refusal. */
static void
accept_job (Job *job, SgMilterResult *mr)
{
  SgIntake *in = job->intake;
  const Settings *st = job->settings;
  SgEnvelope *env = job->env;
  const SgValidation *v = job->validation;
  g_auto(SgReply) r = { 0 };
  if (mr && mr->verdict == SG_MILTER_DISCARD)
    {
      sg_reply_set (&r, 250, "2.0.0", NULL, "Ok: queued as %s", env->queue_id);
      job_reply (job, &r);
      return;
    }
  if (mr && (mr->verdict == SG_MILTER_REJECT || mr->verdict == SG_MILTER_TEMPFAIL))
    {
      sg_reply_set (&r, mr->code, mr->enhanced, SG_RULE_MILTER, "%s", mr->text);
      sg_metrics_rejected (r.rule, r.code);  /* logged as milter-reject */
      job_reply (job, &r);
      return;
    }
  SgMeta *meta = meta_from_envelope (env, v);
  sg_rollout_note (meta, st->monitor, v->first_reject);
  gboolean edited = FALSE;
  if (mr)
    {
      meta->milter = g_steal_pointer (&mr->json);
      if (mr->verdict == SG_MILTER_QUARANTINE)
        meta->state = SG_MSG_HELD;
      if (mr->header)
        {
          /* Edited headers: the message is written anew from memory. A
           * draft's body is copied out of its mapping first; the draft
           * itself goes with the envelope, uncommitted. */
          g_autoptr(GBytes) body = g_steal_pointer (&mr->body);
          g_bytes_unref (env->received);
          env->received = g_steal_pointer (&mr->header);
          g_clear_pointer (&env->content, g_bytes_unref);
          env->content = env->draft ? g_bytes_new (g_bytes_get_data (body, NULL), g_bytes_get_size (body))
                                    : g_bytes_ref (body);
          meta->eightbit = sg_bytes_have_8bit (env->received) || sg_bytes_have_8bit (env->content)
                           ? SG_EIGHTBIT_YES : SG_EIGHTBIT_NO;
          edited = TRUE;
        }
    }
  if (env->draft)
    sg_spool_draft_unmap (env->draft);   /* its pages leave our RSS again */
  if (env->draft && !edited)
    sg_spool_commit_draft_async (in->spool, meta, g_steal_pointer (&env->draft), in->context,
                                 commit_done, job);
  else
    sg_spool_commit_async (in->spool, meta, env->received, env->content, in->context,
                           commit_done, job);
}

/* intake_keep_rejected - open rejected/ once keep_rejected is first set
 * (start-up or SIGHUP), and give it the current budget; main thread. */
static void
intake_keep_rejected (SgIntake *in, const SgConfig *config)
{
  g_autoptr(GError) error = NULL;
  if (in->rejected != NULL)
    sg_rejected_set_limit (in->rejected, config->keep_rejected);
  else if (config->keep_rejected > 0)
    {
      SgRejected *store = sg_rejected_open (sg_spool_dir (in->spool), config->keep_rejected, &error);
      if (store == NULL)
        g_warning ("[validation] keep_rejected: refused messages will not be kept: %s",
                   error->message);
      g_atomic_pointer_set (&in->rejected, store);
    }
}

SgIntake *
sg_intake_new (SgConfig *config, SgSpool *spool, GMainContext *context,
               guint workers, GError **error)
{
  Settings *st = settings_new (config, error);
  if (!st)
    return NULL;
  SgIntake *in = g_new0 (SgIntake, 1);
  in->settings = st;
  in->spool = spool;
  in->context = context ? g_main_context_ref (context) : g_main_context_ref_thread_default ();
  intake_keep_rejected (in, config);
  in->pool = g_thread_pool_new (worker, in, workers ? (gint) workers : (gint) g_get_num_processors (),
                                FALSE, error);
  if (in->pool)
    in->milters = g_thread_pool_new (milter_worker, in, (gint) config->milter_max_conversations,
                                     FALSE, error);
  if (!in->pool || !in->milters)
    {
      sg_intake_free (in);
      return NULL;
    }
  return in;
}

gboolean
sg_intake_reconfigure (SgIntake *in, SgConfig *config, GError **error)
{
  Settings *st = settings_new (config, error);
  if (!st)
    return FALSE;
  g_atomic_rc_box_release_full (in->settings, settings_clear);
  in->settings = st;
  intake_keep_rejected (in, config);
  return TRUE;
}

void
sg_intake_free (SgIntake *in)
{
  if (!in)
    return;
  g_atomic_int_set (&in->stopping, 1);
  if (in->pool)
    g_thread_pool_free (in->pool, FALSE, TRUE);
  /* after the validation workers, the last of whom may still hand over */
  if (in->milters)
    g_thread_pool_free (in->milters, FALSE, TRUE);
  /* Commits and replies still on their way arrive through the context. */
  while (g_atomic_int_get (&in->pending) > 0)
    g_main_context_iteration (in->context, TRUE);
  g_atomic_rc_box_release_full (in->settings, settings_clear);
  g_clear_pointer (&in->rejected, sg_rejected_free);
  g_main_context_unref (in->context);
  g_free (in);
}

void
sg_intake_submit (SgIntake *in, SgEnvelope *env, SgIntakeDoneFunc done, gpointer user_data)
{
  Job *job = g_new0 (Job, 1);
  job->intake = in;
  job->settings = g_atomic_rc_box_acquire (in->settings);
  job->env = env;
  job->done = done;
  job->user_data = user_data;
  g_atomic_int_inc (&in->pending);
  g_thread_pool_push (in->pool, job, NULL);
}

guint
sg_intake_pending (const SgIntake *in)
{
  return (guint) g_atomic_int_get (&in->pending);
}

void
sg_intake_set_committed_hook (SgIntake *in, SgIntakeCommittedFunc func, gpointer user_data)
{
  in->committed = func;
  in->committed_data = user_data;
}

SgSpoolDraft *
sg_intake_open_draft (SgIntake *in, GError **error)
{
  return sg_spool_draft_new (in->spool, error);
}
