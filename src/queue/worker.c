/* worker.c - the delivery threads. Each worker owns at most one courier
 * session (courier.h), reused for the next job while more are waiting
 * (reset between) and closed after [smarthost] idle_timeout idle seconds. A
 * job is one message: take its lock (never waiting), re-read its metadata,
 * deliver or expire or retire it (delivered past keep_delivered, failed
 * past failed_lifetime), write the result atomically, unlock, report. The
 * message goes to the courier as the spool hands it out: an open file, its
 * size and whether it is 8-bit. */
#include "queue/queue_private.h"
#include "spool/spool_rejected.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "common/log.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN SG_LOG_QMGR

struct _SgQueueWorkers {
  const SgConfig *config;
  SgSpool        *spool;
  SgCourier      *courier;    /* the way to the next hop, shared by the workers (owned) */
  GAsyncQueue    *jobs;       /* char* queue IDs, or STOP */
  GPtrArray      *threads;
  SgJobReportFunc report;
  gpointer        report_data;
  gint            stopping;   /* atomic */
};

/* The job that tells a worker to end; compared by address. */
static char STOP[] = "stop";

typedef struct {
  SgQueueWorkers   *w;
  SgCourierSession *session;   /* (nullable) the session kept for reuse */
} Worker;

/* ready_session - the worker's session, reset for reuse or freshly opened. */
static SgCourierSession *
ready_session (Worker *wk, SgCourierReached *reached, GError **error)
{
  if (wk->session)
    {
      g_autoptr(GError) stale = NULL;
      if (!sg_courier_session_reset (wk->session, &stale))
        {
          /* The next hop dropped the idle session; nothing of this message
           * was sent yet, so a new session is safe. */
          g_debug ("smarthost session not reusable: %s", stale->message);
          g_clear_pointer (&wk->session, sg_courier_session_close);
        }
    }
  if (!wk->session)
    wk->session = sg_courier_open (wk->w->courier, reached, error);
  else
    sg_courier_session_reached (wk->session, reached);
  return wk->session;
}

/* deliver - one attempt for meta's pending recipients, recorded in meta;
 * lock is the message's lock (sg_spool_lock_message). */
static void
deliver (Worker *wk, SgMeta *meta, int lock, gint64 now)
{
  SgQueueWorkers *w = wk->w;
  g_autoptr(GPtrArray) pending = sg_queue_pending (meta);
  g_autoptr(GPtrArray) outcomes = g_ptr_array_new_with_free_func ((GDestroyNotify) sg_rcpt_outcome_free);
  for (guint i = 0; i < pending->len; i++)
    {
      const SgMetaRecipient *r = g_ptr_array_index (pending, i);
      SgRcptOutcome *o = sg_rcpt_outcome_new (r->address);
      o->dsn_notify = g_strdup (r->dsn_notify);
      o->dsn_orcpt = g_strdup (r->dsn_orcpt);
      g_ptr_array_add (outcomes, o);
    }
  g_autoptr(GError) error = NULL;
  SgCourierReached reached = { NULL };
  /* delays=a/b/c/d as Postfix: a until the job was taken (now), b until
   * the session set-up began, c the set-up (connect, EHLO, TLS, AUTH; RSET
   * on a reused session), d the transaction */
  SgAttempt a = { .time = now, .outcomes = outcomes, .recipients = pending,
                  .taken_us = g_get_real_time () };
  a.setup_us = g_get_real_time ();
  SgCourierSession *s = ready_session (wk, &reached, &error);
  a.ready_us = g_get_real_time ();
  SgSpoolMessage file;
  if (s && sg_spool_locked_message (w->spool, lock, meta, &file, &error))
    {
      SgCourierMessage msg = { .queue_id = meta->queue_id, .sender = meta->sender,
                               .smtputf8 = meta->smtputf8, .dsn_ret = meta->dsn_ret,
                               .dsn_envid = meta->dsn_envid, .fd = file.fd, .size = file.size,
                               .eightbit = file.eightbit };
      sg_courier_session_send (s, &msg, outcomes, &error);
      if (!sg_courier_session_usable (s))
        g_clear_pointer (&wk->session, sg_courier_session_close);
    }
  a.end_us = g_get_real_time ();
  /* the relay and TLS actually reached, also when the attempt failed later */
  a.relay = reached.relay;
  a.tls_protocol = g_intern_string (reached.tls_protocol);
  a.tls_cipher = g_intern_string (reached.tls_cipher);
  a.tls_verified = reached.tls_verified;
  a.error = error ? error->message : NULL;
  a.interrupted = error && g_atomic_int_get (&w->stopping);
  sg_queue_apply (meta, &a, w->config, now);
  sg_courier_reached_clear (&reached);
}

/* process - one job: everything happens under the message lock. The order
 * of writes is what makes a crash safe (see doc/forwarding.md, "Crash safety"): the
 * delivery result is written right after the smarthost's reply, before the
 * report or the removal, so the window for a duplicate is only the time
 * between the final 250 and one metadata rename. */
/* note_monitored - a message monitor mode accepted though enforce would have
 * refused it (intake/rollout.c), now delivered to everyone: its copy in
 * rejected/, if kept, says so for `spoolgate rejected --monitored`. */
static void
note_monitored (SgSpool *spool, const SgMeta *meta)
{
  if (!sg_queue_all_delivered (meta) || meta->validation == NULL
      || !JSON_NODE_HOLDS_OBJECT (meta->validation)
      || !json_object_get_boolean_member_with_default (json_node_get_object (meta->validation),
                                                       "would_reject", FALSE))
    return;
  g_autoptr(GError) error = NULL;
  if (!sg_rejected_note_delivered (sg_spool_dir (spool), meta->queue_id, g_get_real_time (), &error))
    g_warning ("%s: cannot note the delivery in rejected/: %s", meta->queue_id, error->message);
}

static SgJobResult *
process (Worker *wk, const char *id)
{
  SgQueueWorkers *w = wk->w;
  SgJobResult *res = g_new0 (SgJobResult, 1);
  res->queue_id = g_strdup (id);
  res->outcome = SG_JOB_DONE;
  res->next_look = -1;
  g_autoptr(GError) error = NULL;
  int lock = sg_spool_lock_message (w->spool, id, FALSE, &error);
  if (lock < 0)
    {
      res->outcome = g_error_matches (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_BUSY)
                   ? SG_JOB_BUSY : SG_JOB_GONE;
      if (res->outcome == SG_JOB_GONE && !g_error_matches (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND))
        g_warning ("%s: cannot lock: %s", id, error->message);
      return res;
    }
  /* Re-read under the lock: an admin may have changed it since we looked. */
  g_autoptr(SgMeta) meta = sg_spool_load_meta (w->spool, id, &error);
  if (!meta)
    {
      res->outcome = g_error_matches (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND)
                   ? SG_JOB_GONE : SG_JOB_DAMAGED;
      sg_spool_unlock_message (lock);
      return res;
    }
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  gboolean active = meta->state == SG_MSG_QUEUED || meta->state == SG_MSG_DEFERRED;
  if (active && meta->next_attempt <= now && !g_atomic_int_get (&w->stopping))
    {
      g_autoptr(GPtrArray) pending = sg_queue_pending (meta);
      gboolean write = TRUE;
      if (pending->len > 0 && sg_queue_expired (meta, w->config, now))
        sg_queue_expire (meta, w->config, now);
      else if (pending->len > 0)
        deliver (wk, meta, lock, now);
      else
        write = FALSE;   /* finished earlier, crashed before retiring it */
      g_autoptr(GPtrArray) left = sg_queue_pending (meta);
      if (!sg_queue_relay_notice (w->spool, meta, w->config, now, &res->dsn_id, &error))
        {
          g_warning ("%s: cannot queue the relayed notification: %s", id, error->message);
          g_clear_error (&error);
        }
      if (left->len > 0 && !sg_queue_delay_notice (w->spool, meta, w->config, now, &res->dsn_id, &error))
        {
          g_warning ("%s: cannot queue the delay notification: %s", id, error->message);
          g_clear_error (&error);
        }
      /* Delivered to everyone and nothing to keep: removing the files is the
       * record. One unlink and one fsync of queue/ instead of a metadata
       * rewrite followed by that same removal; a crash before it is durable
       * redelivers, exactly as a crash before the rewrite would have. */
      if (left->len == 0 && sg_queue_all_delivered (meta) && w->config->queue_keep_delivered == 0)
        write = FALSE;
      if (write && !sg_spool_update_meta (w->spool, meta, &error))
        {
          /* Not recorded: it stays due and is tried again (at-least-once). */
          g_warning ("%s: cannot record the delivery attempt: %s", id, error->message);
          g_clear_error (&error);
          res->next_look = now + w->config->queue_min_backoff;
        }
      else if (left->len == 0)
        {
          gboolean removed = FALSE;
          now = g_get_real_time () / G_USEC_PER_SEC;
          if (!sg_queue_finish (w->spool, meta, w->config, now, &res->dsn_id, &removed, &error))
            {
              g_warning ("%s: cannot finish: %s; trying again later", id, error->message);
              res->next_look = now + w->config->queue_min_backoff;
            }
          else
            {
              note_monitored (w->spool, meta);
              res->outcome = removed ? SG_JOB_GONE : SG_JOB_DONE;
              res->next_look = removed ? -1 : sg_queue_next_look (meta, w->config);
            }
        }
      else
        res->next_look = sg_queue_next_look (meta, w->config);
    }
  else if (meta->state == SG_MSG_DELIVERED
           && sg_queue_next_look (meta, w->config) <= now)
    {
      /* keep_delivered is over */
      if (sg_spool_retire (w->spool, id, &error))
        {
          g_message ("%s: removed", id);
          res->outcome = SG_JOB_GONE;
        }
      else
        {
          g_warning ("%s: cannot remove: %s", id, error->message);
          res->next_look = now + w->config->queue_min_backoff;
        }
    }
  else if (meta->state == SG_MSG_FAILED && w->config->queue_failed_lifetime > 0
           && sg_queue_next_look (meta, w->config) <= now)
    {
      /* [queue] failed_lifetime is over: the administrator did not requeue it */
      gint64 age = now - sg_queue_finished_at (meta);
      if (sg_spool_retire (w->spool, id, &error))
        {
          g_message ("%s: removed (failed %" G_GINT64_FORMAT " s ago, [queue] failed_lifetime = %u)",
                     id, age, w->config->queue_failed_lifetime);
          res->outcome = SG_JOB_GONE;
        }
      else
        {
          g_warning ("%s: cannot remove: %s", id, error->message);
          res->next_look = now + w->config->queue_min_backoff;
        }
    }
  else
    res->next_look = sg_queue_next_look (meta, w->config);
  sg_spool_unlock_message (lock);
  return res;
}

/* worker_main - take jobs until STOP; keep the session while work comes in. */
static gpointer
worker_main (gpointer data)
{
  Worker *wk = data;
  SgQueueWorkers *w = wk->w;
  for (;;)
    {
      char *id = wk->session
        ? g_async_queue_timeout_pop (w->jobs, (guint64) w->config->smarthost_idle_timeout * G_USEC_PER_SEC)
        : g_async_queue_pop (w->jobs);
      if (!id)
        {
          g_clear_pointer (&wk->session, sg_courier_session_close);   /* idle: QUIT */
          continue;
        }
      if (id == STOP)
        break;
      SgJobResult *res = process (wk, id);
      g_free (id);
      w->report (res, w->report_data);
    }
  g_clear_pointer (&wk->session, sg_courier_session_close);
  g_free (wk);
  return NULL;
}

SgQueueWorkers *
sg_queue_workers_new (const SgConfig *config, SgSpool *spool, SgCourier *courier,
                      SgJobReportFunc report, gpointer user_data, GError **error)
{
  SgQueueWorkers *w = g_new0 (SgQueueWorkers, 1);
  w->config = config;
  w->spool = spool;
  w->courier = courier;
  w->jobs = g_async_queue_new ();
  w->threads = g_ptr_array_new ();
  w->report = report;
  w->report_data = user_data;
  for (guint i = 0; i < config->queue_concurrency; i++)
    {
      Worker *wk = g_new0 (Worker, 1);
      wk->w = w;
      g_autofree char *name = g_strdup_printf ("sg-deliver-%u", i);
      GThread *t = g_thread_try_new (name, worker_main, wk, error);
      if (!t)
        {
          g_free (wk);
          sg_queue_workers_free (w);
          return NULL;
        }
      g_ptr_array_add (w->threads, t);
    }
  return w;
}

void
sg_queue_workers_push (SgQueueWorkers *w, const char *queue_id)
{
  g_async_queue_push (w->jobs, g_strdup (queue_id));
}

void
sg_queue_workers_free (SgQueueWorkers *w)
{
  if (!w)
    return;
  g_atomic_int_set (&w->stopping, 1);
  sg_courier_cancel (w->courier);
  for (guint i = 0; i < w->threads->len; i++)
    g_async_queue_push_front (w->jobs, STOP);
  for (guint i = 0; i < w->threads->len; i++)
    g_thread_join (g_ptr_array_index (w->threads, i));
  for (char *id; (id = g_async_queue_try_pop (w->jobs)); )
    if (id != STOP)
      g_free (id);
  g_async_queue_unref (w->jobs);
  g_ptr_array_unref (w->threads);
  sg_courier_free (w->courier);
  g_free (w);
}
