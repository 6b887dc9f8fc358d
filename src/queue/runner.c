/* runner.c - scheduling on the main loop: an in-memory index of the
 * messages the runner is responsible for (queued, deferred, and delivered
 * ones kept for keep_delivered), each with the time to look at it next.
 * Due messages go to the workers in round-robin order: the least recently
 * tried first, so a message that keeps failing never starves the rest.
 * Changes by others (new mail, admin commands) arrive through the intake's
 * hook, inotify on queue/ and a full rescan every scan_interval; every
 * state read on the way is passed on to the census (queue gauges). */
#include "queue/runner.h"
#include "queue/queue_private.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>
#include <glib-unix.h>

#define INOTIFY_BUFFER  (16 * 1024)

typedef struct {
  char    *id;
  gint64   due;        /* epoch seconds */
  guint64  turn;       /* dispatch order: 0 = never tried, else when last handed out */
  gboolean in_flight;
  gboolean recheck;    /* changed on disk while in flight: re-read afterwards */
} Entry;

struct _SgQueueRunner {
  const SgConfig *config;
  SgSpool        *spool;
  GMainContext   *context;
  GHashTable     *index;       /* id -> Entry* */
  guint           in_flight;
  guint           max_in_flight;
  guint64         turns;
  GSource        *timer;       /* (nullable) fires at the earliest due time */
  GSource        *idle;        /* (nullable) a pending dispatch */
  GSource        *scan;
  GSource        *inotify_src; /* (nullable) when inotify is unavailable */
  int             inotify_fd;
  GSource        *result_src;
  int             result_fd;   /* eventfd: workers have posted results */
  GAsyncQueue    *results;     /* SgJobResult* */
  SgQueueWorkers *workers;
  SgQueueCensus  *census;      /* (nullable) told what every metadata read found */
};

static void
entry_free (gpointer data)
{
  Entry *e = data;
  g_free (e->id);
  g_free (e);
}

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

/* index_set - look at id at due (epoch seconds), or forget it (due < 0). */
static void
index_set (SgQueueRunner *r, const char *id, gint64 due)
{
  Entry *e = g_hash_table_lookup (r->index, id);
  if (due < 0)
    {
      if (e && !e->in_flight)
        g_hash_table_remove (r->index, id);
      return;
    }
  if (!e)
    {
      e = g_new0 (Entry, 1);
      e->id = g_strdup (id);
      g_hash_table_insert (r->index, e->id, e);
    }
  e->due = due;
  kick (r);
}

/* refresh - re-read id's metadata (no lock: files change by rename only). */
static void
refresh (SgQueueRunner *r, const char *id)
{
  Entry *e = g_hash_table_lookup (r->index, id);
  if (e && e->in_flight)
    {
      e->recheck = TRUE;
      return;
    }
  g_autoptr(GError) error = NULL;
  g_autoptr(SgMeta) meta = sg_spool_load_meta (r->spool, id, &error);
  if (!meta)
    {
      if (!g_error_matches (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND)
          && !g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_debug ("queue: %s: %s", id, error->message);
      index_set (r, id, -1);
      if (r->census)
        sg_queue_census_forget (r->census, id);
      return;
    }
  if (r->census)
    sg_queue_census_set (r->census, id, meta->state, meta->message_size);
  index_set (r, id, sg_queue_next_look (meta, r->config));
}

/* full_scan - every message in queue/; forget what is gone. */
static void
full_scan (SgQueueRunner *r)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) ids = sg_spool_list (r->spool, &error);
  if (!ids)
    {
      g_warning ("queue: scan failed: %s", error->message);
      return;
    }
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < ids->len; i++)
    {
      g_hash_table_add (seen, g_ptr_array_index (ids, i));
      refresh (r, g_ptr_array_index (ids, i));
    }
  GHashTableIter it;
  Entry *e;
  g_hash_table_iter_init (&it, r->index);
  while (g_hash_table_iter_next (&it, NULL, (gpointer *) &e))
    if (!e->in_flight && !g_hash_table_contains (seen, e->id))
      g_hash_table_iter_remove (&it);
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

/* by_turn - round robin: least recently tried first, then arrival order. */
static gint
by_turn (gconstpointer a, gconstpointer b)
{
  const Entry *x = *(Entry *const *) a, *y = *(Entry *const *) b;
  if (x->turn != y->turn)
    return x->turn < y->turn ? -1 : 1;
  return strcmp (x->id, y->id);
}

/* dispatch - hand due messages to the workers; arm the timer for the next. */
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
  gint64 next = G_MAXINT64;
  g_autoptr(GPtrArray) due = g_ptr_array_new ();
  GHashTableIter it;
  Entry *e;
  g_hash_table_iter_init (&it, r->index);
  while (g_hash_table_iter_next (&it, NULL, (gpointer *) &e))
    {
      if (e->in_flight)
        continue;
      if (e->due <= now)
        g_ptr_array_add (due, e);
      else
        next = MIN (next, e->due);
    }
  g_ptr_array_sort (due, by_turn);
  for (guint i = 0; i < due->len && r->in_flight < r->max_in_flight; i++)
    {
      e = g_ptr_array_index (due, i);
      e->in_flight = TRUE;
      e->recheck = FALSE;
      e->turn = ++r->turns;
      r->in_flight++;
      sg_queue_workers_push (r->workers, e->id);
    }
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
      g_source_set_callback (r->timer, on_timer, r, NULL);
      g_source_attach (r->timer, r->context);
    }
  return G_SOURCE_REMOVE;
}

/* take_result - main loop: a worker is done with one message. */
static void
take_result (SgQueueRunner *r, SgJobResult *res)
{
  Entry *e = g_hash_table_lookup (r->index, res->queue_id);
  gboolean recheck = FALSE;
  if (e && e->in_flight)
    {
      e->in_flight = FALSE;
      recheck = e->recheck;
      r->in_flight--;
    }
  if (res->outcome == SG_JOB_GONE)
    index_set (r, res->queue_id, -1);
  else if (res->outcome == SG_JOB_BUSY)
    index_set (r, res->queue_id, now_s () + SG_QUEUE_BUSY_RETRY);
  else
    index_set (r, res->queue_id, res->next_look);
  if (recheck)
    refresh (r, res->queue_id);
  if (res->dsn_id)
    refresh (r, res->dsn_id);
  kick (r);
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
  return G_SOURCE_CONTINUE;
}

/* report - worker thread: queue the result and wake the main loop. */
static void
report (SgJobResult *res, gpointer data)
{
  SgQueueRunner *r = data;
  guint64 one = 1;
  g_async_queue_push (r->results, res);
  if (write (r->result_fd, &one, sizeof one) < 0 && errno != EAGAIN)
    g_warning ("queue: cannot wake the main loop: %s", g_strerror (errno));
}

/* on_inotify - queue/<ID>.json appeared, was replaced or went away. */
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
      if (ev->len == 0 || !g_str_has_suffix (ev->name, ".json"))
        continue;
      g_autofree char *id = g_strndup (ev->name, strlen (ev->name) - strlen (".json"));
      refresh (r, id);
    }
  if (overflow)
    full_scan (r);
  return G_SOURCE_CONTINUE;
}

/* watch_queue - inotify on queue/ (optional: the periodic scan still works). */
static void
watch_queue (SgQueueRunner *r)
{
  g_autofree char *dir = g_build_filename (sg_spool_dir (r->spool), "queue", NULL);
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
                     SgQueueCensus *census, GError **error)
{
  SgQueueRunner *r = g_new0 (SgQueueRunner, 1);
  r->config = config;
  r->spool = spool;
  r->census = census;
  r->context = context ? g_main_context_ref (context) : g_main_context_ref_thread_default ();
  r->index = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, entry_free);
  r->max_in_flight = config->queue_concurrency * SG_QUEUE_JOBS_PER_WORKER;
  r->results = g_async_queue_new ();
  r->inotify_fd = -1;
  r->result_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (r->result_fd < 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "eventfd: %s",
                   g_strerror (errno));
      sg_queue_runner_free (r);
      return NULL;
    }
  r->workers = sg_queue_workers_new (config, spool, report, r, error);
  if (!r->workers)
    {
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
  full_scan (r);
  g_message ("queue runner: smarthost %s (default port %u, balance=%s), tls=%s, concurrency=%u, "
             "%u message(s) to look at", config->smarthost_host, config->smarthost_port,
             config->smarthost_balance, config->smarthost_tls,
             config->queue_concurrency, g_hash_table_size (r->index));
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
  drop_source (&r->idle);
  drop_source (&r->timer);
  drop_source (&r->scan);
  drop_source (&r->inotify_src);
  drop_source (&r->result_src);
  for (SgJobResult *res; (res = g_async_queue_try_pop (r->results)); )
    sg_job_result_free (res);
  g_async_queue_unref (r->results);
  if (r->inotify_fd >= 0)
    close (r->inotify_fd);
  if (r->result_fd >= 0)
    close (r->result_fd);
  g_hash_table_unref (r->index);
  g_main_context_unref (r->context);
  g_free (r);
}

void
sg_queue_runner_notify (SgQueueRunner *r, const char *queue_id)
{
  refresh (r, queue_id);
}
