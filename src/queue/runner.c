/* runner.c - scheduling on the main loop: the index (schedule.c) of the
 * messages the runner is responsible for (queued, deferred, and delivered
 * ones kept for keep_delivered), each with the time to look at it next.
 * Due messages go to the workers in round-robin order: the least recently
 * tried first, so a message that keeps failing never starves the rest.
 * At start the rest of recovery runs on an indexer thread that feeds the
 * index in batches while the server serves. Changes by others (new mail,
 * admin commands) arrive through the intake's hook, inotify on queue/ and
 * a rescan every scan_interval; every state read on the way is passed on
 * to the census (queue gauges). Unusable metadata is quarantined. */
#include "queue/runner.h"
#include "queue/queue_private.h"
#include "queue/schedule.h"
#include "spool/queue_id.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>
#include <glib-unix.h>
#include "common/log.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN SG_LOG_QMGR

#define INOTIFY_BUFFER  (16 * 1024)

struct _SgQueueRunner {
  const SgConfig *config;
  SgSpool        *spool;
  GMainContext   *context;
  SgSchedule     *index;       /* every message we know, by due time and turn */
  guint           max_in_flight;
  GSource        *timer;       /* (nullable) fires at the earliest due time */
  gint64          timer_due;   /* what timer is armed for (epoch seconds) */
  GSource        *idle;        /* (nullable) a pending dispatch */
  GSource        *scan;
  GSource        *inotify_src; /* (nullable) when inotify is unavailable */
  int             inotify_fd;
  GSource        *result_src;
  int             result_fd;   /* eventfd: workers have posted results */
  GAsyncQueue    *results;     /* SgJobResult* */
  SgQueueWorkers *workers;
  SgQueueCensus  *census;      /* (nullable) told what every metadata read found */
  GThread        *indexer;     /* (nullable) recovery's second step, feeding found */
  GAsyncQueue    *found;       /* Found* from the indexer; NULL item = indexer done */
  gint64          index_start; /* monotonic µs: when the indexer started */
  gboolean        indexing;    /* the indexer has not finished: no rescans yet */
  gint            stopping;    /* atomic: tells the indexer to stop */
};

/* One message checked by recovery, on its way to the main loop. */
typedef struct {
  char       id[SG_QUEUE_ID_LEN + 1];
  SgMsgState state;
  guint64    size;
  gint64     arrival_us;
  gint64     next_look;
} Found;

/* Most found messages taken per main-loop wake-up: indexing a big queue
 * must leave the loop free to serve SMTP in between. */
#define FOUND_BATCH 512

static gint64
now_s (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

static gboolean dispatch (gpointer data);

/* kick - dispatch soon, from the main loop. */
static void
kick (SgQueueRunner *r)
{
  if (r->idle)
    return;
  r->idle = g_idle_source_new ();
  g_source_set_callback (r->idle, dispatch, r, NULL);
  g_source_attach (r->idle, r->context);
}

/* index_set - look at id at due (epoch seconds; -1: never), or forget it. */
static void
index_set (SgQueueRunner *r, const char *id, gint64 due, gboolean forget)
{
  if (forget)
    sg_schedule_forget (r->index, id);
  else
    sg_schedule_set (r->index, id, due);
  kick (r);
}

/* damaged - id's metadata cannot be used: say so and move the message to
 * quarantine/ so that it neither stalls unseen nor is retried forever. */
static void
damaged (SgQueueRunner *r, const char *id, const GError *why)
{
  g_autoptr(GError) error = NULL;
  g_warning ("queue: %s: unusable metadata: %s", id, why->message);
  if (sg_spool_quarantine_damaged (r->spool, id, &error))
    g_warning ("queue: %s: moved to quarantine/", id);
  else if (error)
    g_warning ("queue: %s: not quarantined: %s", id, error->message);
}

/* refresh - re-read id's metadata (no lock: files change by rename only). */
static void
refresh (SgQueueRunner *r, const char *id)
{
  if (sg_schedule_recheck (r->index, id))
    return;   /* in flight: re-read when the worker is done */
  g_autoptr(GError) error = NULL;
  g_autoptr(SgMeta) meta = sg_spool_load_meta (r->spool, id, &error);
  if (!meta)
    {
      if (!g_error_matches (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND)
          && !g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        damaged (r, id, error);
      index_set (r, id, -1, TRUE);
      if (r->census)
        sg_queue_census_forget (r->census, id);
      return;
    }
  if (r->census)
    sg_queue_census_set (r->census, id, meta->state, meta->message_size, meta->arrival_time_us);
  index_set (r, id, sg_queue_next_look (meta, r->config), FALSE);
}

/* full_scan - list queue/: read the metadata of IDs not yet known (all of
 * them when inotify is unavailable and the scan is the only news), forget
 * what is gone. One readdir, not one metadata read per message. */
static void
full_scan (SgQueueRunner *r)
{
  if (r->indexing)
    return;   /* the indexer lists everything once; new mail comes by notify/inotify */
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) ids = sg_spool_list (r->spool, &error);
  if (!ids)
    {
      g_warning ("queue: scan failed: %s", error->message);
      return;
    }
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  gboolean all = r->inotify_fd < 0;
  for (guint i = 0; i < ids->len; i++)
    {
      const char *id = g_ptr_array_index (ids, i);
      g_hash_table_add (seen, (gpointer) id);
      if (all || !sg_schedule_contains (r->index, id))
        refresh (r, id);
    }
  sg_schedule_retain (r->index, seen);
  if (r->census)
    sg_queue_census_retain (r->census, seen);
}

static gboolean
on_scan (gpointer data)
{
  full_scan (data);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_timer (gpointer data)
{
  SgQueueRunner *r = data;
  g_clear_pointer (&r->timer, g_source_unref);
  dispatch (r);
  return G_SOURCE_REMOVE;
}

/* dispatch - hand due messages to the workers, least recently tried
 * first; arm the timer for the next due time. O(log n) per message. */
static gboolean
dispatch (gpointer data)
{
  SgQueueRunner *r = data;
  if (r->idle)
    {
      g_source_destroy (r->idle);
      g_clear_pointer (&r->idle, g_source_unref);
    }
  gint64 now = now_s ();
  while (sg_schedule_in_flight_count (r->index) < r->max_in_flight)
    {
      const char *id = sg_schedule_take (r->index, now);
      if (!id)
        break;
      sg_queue_workers_push (r->workers, id);
    }
  gint64 next = sg_schedule_next_due (r->index);
  if (r->timer && r->timer_due == next)
    return G_SOURCE_REMOVE;
  if (r->timer)
    {
      g_source_destroy (r->timer);
      g_clear_pointer (&r->timer, g_source_unref);
    }
  if (next != G_MAXINT64)
    {
      /* wall-clock seconds; wake just after the second turns */
      gint64 ms = MAX (0, next * 1000 - g_get_real_time () / 1000) + 10;
      r->timer = g_timeout_source_new ((guint) MIN (ms, (gint64) G_MAXUINT));
      r->timer_due = next;
      g_source_set_callback (r->timer, on_timer, r, NULL);
      g_source_attach (r->timer, r->context);
    }
  return G_SOURCE_REMOVE;
}

/* take_result - main loop: a worker is done with one message. */
static void
take_result (SgQueueRunner *r, SgJobResult *res)
{
  gboolean recheck = sg_schedule_done (r->index, res->queue_id);
  if (res->outcome == SG_JOB_GONE)
    index_set (r, res->queue_id, -1, TRUE);
  else if (res->outcome == SG_JOB_DAMAGED)
    refresh (r, res->queue_id);   /* re-read: warns and quarantines */
  else if (res->outcome == SG_JOB_BUSY)
    index_set (r, res->queue_id, now_s () + SG_QUEUE_BUSY_RETRY, FALSE);
  else
    index_set (r, res->queue_id, res->next_look, FALSE);
  if (recheck)
    refresh (r, res->queue_id);
  if (res->dsn_id)
    refresh (r, res->dsn_id);
  kick (r);
}

static void wake (SgQueueRunner *r);

/* take_found - main loop: index up to FOUND_BATCH messages recovery checked.
 * A message already known (new mail, inotify) keeps what was read since. */
static void
take_found (SgQueueRunner *r)
{
  for (guint i = 0; i < FOUND_BATCH; i++)
    {
      gpointer item = g_async_queue_try_pop (r->found);
      if (!item)
        return;
      if (item == r)   /* the end mark */
        {
          r->indexing = FALSE;
          g_thread_join (g_steal_pointer (&r->indexer));
          g_message ("queue: indexed %u message(s) in %.2f s", sg_schedule_size (r->index),
                     (g_get_monotonic_time () - r->index_start) / 1e6);
          return;
        }
      Found *f = item;
      if (!sg_schedule_contains (r->index, f->id))
        {
          if (r->census)
            sg_queue_census_set (r->census, f->id, f->state, f->size, f->arrival_us);
          index_set (r, f->id, f->next_look, FALSE);
        }
      g_free (f);
    }
  wake (r);   /* more to come: let the loop breathe, then go on */
}

static gboolean
on_results (gint fd, GIOCondition cond, gpointer data)
{
  SgQueueRunner *r = data;
  guint64 n;
  if (read (fd, &n, sizeof n) < 0 && errno != EAGAIN)
    g_debug ("queue: eventfd read: %s", g_strerror (errno));
  for (SgJobResult *res; (res = g_async_queue_try_pop (r->results)); )
    {
      take_result (r, res);
      sg_job_result_free (res);
    }
  if (r->indexing)
    take_found (r);
  return G_SOURCE_CONTINUE;
}

/* wake - any thread: make on_results run on the main loop. */
static void
wake (SgQueueRunner *r)
{
  guint64 one = 1;
  if (write (r->result_fd, &one, sizeof one) < 0 && errno != EAGAIN)
    g_warning ("queue: cannot wake the main loop: %s", g_strerror (errno));
}

/* report - worker thread: queue the result and wake the main loop. */
static void
report (SgJobResult *res, gpointer data)
{
  SgQueueRunner *r = data;
  g_async_queue_push (r->results, res);
  wake (r);
}

/* on_found - indexer thread: one complete message; what the index needs of it. */
static gboolean
on_found (SgMeta *meta, gpointer data)
{
  SgQueueRunner *r = data;
  if (g_atomic_int_get (&r->stopping))
    {
      sg_meta_free (meta);
      return FALSE;
    }
  Found *f = g_new (Found, 1);
  g_strlcpy (f->id, meta->queue_id, sizeof f->id);
  f->state = meta->state;
  f->size = meta->message_size;
  f->arrival_us = meta->arrival_time_us;
  f->next_look = sg_queue_next_look (meta, r->config);
  sg_meta_free (meta);
  /* Wake only when the loop may have emptied the queue, not once per
   * message; under the queue's lock, so a push never lands unseen. */
  g_async_queue_lock (r->found);
  gboolean was_empty = g_async_queue_length_unlocked (r->found) <= 0;
  g_async_queue_push_unlocked (r->found, f);
  g_async_queue_unlock (r->found);
  if (was_empty)
    wake (r);
  return TRUE;
}

typedef struct {
  SgQueueRunner  *runner;
  SgSpoolBacklog *backlog;
} IndexJob;

/* index_main - the indexer thread: recovery's second step. */
static gpointer
index_main (gpointer data)
{
  IndexJob *job = data;
  SgQueueRunner *r = job->runner;
  g_autoptr(GError) error = NULL;
  if (!sg_spool_recover_finish (r->spool, job->backlog, NULL, on_found, r, &error))
    g_warning ("queue: recovery failed: %s; the next scans index what is there",
               error->message);
  g_free (job);
  g_async_queue_push (r->found, r);   /* the end mark */
  wake (r);
  return NULL;
}

/* on_inotify - a message's metadata appeared, was replaced or went away. */
static gboolean
on_inotify (gint fd, GIOCondition cond, gpointer data)
{
  SgQueueRunner *r = data;
  char buf[INOTIFY_BUFFER] __attribute__ ((aligned (__alignof__ (struct inotify_event))));
  ssize_t n = read (fd, buf, sizeof buf);
  if (n <= 0)
    return G_SOURCE_CONTINUE;
  gboolean overflow = FALSE;
  for (char *p = buf; p < buf + n; )
    {
      const struct inotify_event *ev = (const struct inotify_event *) p;
      p += sizeof *ev + ev->len;
      if (ev->mask & IN_Q_OVERFLOW)
        overflow = TRUE;
      g_autofree char *id = ev->len > 0 ? sg_spool_meta_file_id (ev->name) : NULL;
      if (id != NULL)
        refresh (r, id);
    }
  if (overflow)
    full_scan (r);
  return G_SOURCE_CONTINUE;
}

/* watch_queue - inotify on the spool's queue (optional: the periodic scan
 * still works). */
static void
watch_queue (SgQueueRunner *r)
{
  g_autofree char *dir = sg_spool_queue_dir (r->spool);
  r->inotify_fd = inotify_init1 (IN_NONBLOCK | IN_CLOEXEC);
  if (r->inotify_fd < 0
      || inotify_add_watch (r->inotify_fd, dir, IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE
                                                | IN_MOVED_FROM) < 0)
    {
      g_warning ("queue: cannot watch %s (%s); changes are seen at the next scan",
                 dir, g_strerror (errno));
      if (r->inotify_fd >= 0)
        close (r->inotify_fd);
      r->inotify_fd = -1;
      return;
    }
  r->inotify_src = g_unix_fd_source_new (r->inotify_fd, G_IO_IN);
  g_source_set_callback (r->inotify_src, G_SOURCE_FUNC (on_inotify), r, NULL);
  g_source_attach (r->inotify_src, r->context);
}

SgQueueRunner *
sg_queue_runner_new (const SgConfig *config, SgSpool *spool, GMainContext *context,
                     SgQueueCensus *census, SgSpoolBacklog *backlog, SgCourier *courier,
                     GError **error)
{
  SgQueueRunner *r = g_new0 (SgQueueRunner, 1);
  r->config = config;
  r->spool = spool;
  r->census = census;
  r->context = context ? g_main_context_ref (context) : g_main_context_ref_thread_default ();
  r->index = sg_schedule_new ();
  r->max_in_flight = config->queue_concurrency * SG_QUEUE_JOBS_PER_WORKER;
  r->results = g_async_queue_new ();
  r->found = g_async_queue_new ();
  r->inotify_fd = -1;
  r->result_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (r->result_fd < 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "eventfd: %s",
                   g_strerror (errno));
      sg_spool_backlog_free (backlog);
      sg_courier_free (courier);
      sg_queue_runner_free (r);
      return NULL;
    }
  r->workers = sg_queue_workers_new (config, spool, courier, report, r, error);
  if (!r->workers)
    {
      sg_spool_backlog_free (backlog);
      sg_queue_runner_free (r);
      return NULL;
    }
  r->result_src = g_unix_fd_source_new (r->result_fd, G_IO_IN);
  g_source_set_callback (r->result_src, G_SOURCE_FUNC (on_results), r, NULL);
  g_source_attach (r->result_src, r->context);
  watch_queue (r);
  r->scan = g_timeout_source_new_seconds (config->queue_scan_interval);
  g_source_set_callback (r->scan, on_scan, r, NULL);
  g_source_attach (r->scan, r->context);
  if (backlog)
    {
      IndexJob *job = g_new (IndexJob, 1);
      job->runner = r;
      job->backlog = backlog;
      r->indexing = TRUE;
      r->index_start = g_get_monotonic_time ();
      r->indexer = g_thread_new ("sg-index", index_main, job);
      g_message ("queue runner: smarthost %s (default port %u, balance=%s), tls=%s, "
                 "concurrency=%u; recovering and indexing the queue in the background",
                 config->smarthost_host, config->smarthost_port, config->smarthost_balance,
                 config->smarthost_tls, config->queue_concurrency);
    }
  else
    {
      full_scan (r);
      g_message ("queue runner: smarthost %s (default port %u, balance=%s), tls=%s, "
                 "concurrency=%u, %u message(s) to look at", config->smarthost_host,
                 config->smarthost_port, config->smarthost_balance, config->smarthost_tls,
                 config->queue_concurrency, sg_schedule_size (r->index));
    }
  kick (r);
  return r;
}

/* drop_source - destroy and release one of our sources. */
static void
drop_source (GSource **src)
{
  if (*src)
    {
      g_source_destroy (*src);
      g_clear_pointer (src, g_source_unref);
    }
}

void
sg_queue_runner_free (SgQueueRunner *r)
{
  if (!r)
    return;
  /* Workers first: an interrupted delivery is recorded as deferred (due
   * again at once) or not at all; either way it stays in the queue. */
  g_clear_pointer (&r->workers, sg_queue_workers_free);
  /* The indexer stops at the next complete message it finds; the rest
   * is checked at the next start. */
  g_atomic_int_set (&r->stopping, 1);
  if (r->indexer)
    g_thread_join (g_steal_pointer (&r->indexer));
  drop_source (&r->idle);
  drop_source (&r->timer);
  drop_source (&r->scan);
  drop_source (&r->inotify_src);
  drop_source (&r->result_src);
  for (SgJobResult *res; (res = g_async_queue_try_pop (r->results)); )
    sg_job_result_free (res);
  g_async_queue_unref (r->results);
  for (gpointer f; (f = g_async_queue_try_pop (r->found)); )
    if (f != r)
      g_free (f);
  g_async_queue_unref (r->found);
  if (r->inotify_fd >= 0)
    close (r->inotify_fd);
  if (r->result_fd >= 0)
    close (r->result_fd);
  sg_schedule_free (r->index);
  g_main_context_unref (r->context);
  g_free (r);
}

void
sg_queue_runner_notify (SgQueueRunner *r, const char *queue_id)
{
  refresh (r, queue_id);
}
