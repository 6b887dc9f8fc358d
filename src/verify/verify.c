/* verify.c - the probe scheduler. One Probe per address in flight, keyed by
 * the lower-cased address, with the RCPTs waiting for it; a token bucket of
 * [access] verify_probe_rate per second (one second of burst) for the next
 * hop, which is the [smarthost] host list; a GThreadPool runs the blocking
 * probes, writes each answer to the cache (LMDB: one writer at a time,
 * readers never blocked) and hands the result back to the main context,
 * where the waiters are answered.
 *
 * Lifetimes: SgVerify is reference-counted: its owner holds one reference
 * and every probe handed to a thread another, so a result that comes back
 * after sg_verify_free finds it (shut down: the result is dropped). A Probe
 * belongs to the in-flight table from its start until its result is
 * applied; a Waiter belongs to its Probe until answered (by the result or
 * by its own timer, whichever is first). */
#include "verify/verify.h"
#include "verify/probe.h"
#include "smarthost/dial.h"

#include <string.h>

typedef struct _Probe Probe;

typedef struct {
  Probe       *probe;
  SgVerifyDone done;
  gpointer     user_data;
  GSource     *timer;
} Waiter;

struct _Probe {
  SgVerify     *v;
  char         *address;
  gboolean      smtputf8;
  GPtrArray    *waiters;    /* Waiter*, main thread only */
  GSource      *start;      /* (nullable) waiting for its turn under the rate limit */
  /* written by the probe thread, read on the main thread after the hand-back */
  gboolean      answered;
  SgVerifyEntry entry;
  char         *error;
};

struct _SgVerify {
  gint             refs;          /* atomic */
  GMainContext    *context;
  SgConfig        *probe_config;  /* [smarthost] with waits capped at verify_timeout */
  SgSmarthostDial *dial;
  SgVerifyCache   *cache;
  GThreadPool     *pool;
  GHashTable      *inflight;      /* lower-cased address -> Probe* */
  guint            timeout;       /* [access] verify_timeout */
  guint            rate;          /* [access] verify_probe_rate */
  guint            max_probes;    /* [access] verify_max_probes */
  double           tokens;
  gint64           tokens_at;     /* monotonic µs of the last refill */
  guint64          started;
  gboolean         shut_down;
  SgVerifyEntry    last;          /* the cached answer sg_verify_check's *now points into */
};

static SgVerify *
verify_ref (SgVerify *v)
{
  g_atomic_int_inc (&v->refs);
  return v;
}

static void
verify_unref (SgVerify *v)
{
  if (!g_atomic_int_dec_and_test (&v->refs))
    return;
  g_warn_if_fail (v->pool == NULL);
  sg_verify_entry_clear (&v->last);
  g_hash_table_unref (v->inflight);
  sg_smarthost_dial_free (v->dial);
  sg_config_free (v->probe_config);
  sg_verify_cache_free (v->cache);
  g_main_context_unref (v->context);
  g_free (v);
}

static void
probe_free (Probe *p)
{
  g_ptr_array_unref (p->waiters);
  sg_verify_entry_clear (&p->entry);
  g_free (p->error);
  g_free (p->address);
  g_free (p);
}

/* waiter_answer - tell one waiter and forget it. */
static void
waiter_answer (Waiter *w, const SgVerifyAnswer *a)
{
  if (w->timer)
    {
      g_source_destroy (w->timer);
      g_source_unref (w->timer);
    }
  g_ptr_array_remove_fast (w->probe->waiters, w);
  SgVerifyDone done = w->done;
  gpointer user_data = w->user_data;
  g_free (w);
  done (a, user_data);
}

/* on_waiter_timeout - verify_timeout passed: "unverified", the probe goes on. */
static gboolean
on_waiter_timeout (gpointer data)
{
  Waiter *w = data;
  g_autofree char *why = g_strdup_printf ("no answer from the next hop within %u s",
                                          w->probe->v->timeout);
  SgVerifyAnswer a = { SG_VERIFY_UNKNOWN, 0, why };
  waiter_answer (w, &a);
  return G_SOURCE_REMOVE;
}

/* probe_release - the hand-back is over (or its source destroyed unrun). */
static void
probe_release (gpointer data)
{
  Probe *p = data;
  SgVerify *v = p->v;
  probe_free (p);
  verify_unref (v);
}

/* probe_done - main thread: the probe's result is in; cache it, answer all. */
static gboolean
probe_done (gpointer data)
{
  Probe *p = data;
  SgVerify *v = p->v;
  if (!v->shut_down)
    {
      g_hash_table_remove (v->inflight, p->address);
      SgVerifyAnswer a = { SG_VERIFY_UNKNOWN, 0, p->error };
      if (p->answered)
        {
          a.status = p->entry.status;
          a.code = p->entry.code;
          a.reply = p->entry.reply;
        }
      while (p->waiters->len > 0)
        waiter_answer (g_ptr_array_index (p->waiters, 0), &a);
    }
  return G_SOURCE_REMOVE;
}

/* probe_run - a probe thread: the blocking probe, then hand back. */
static void
probe_run (gpointer data, gpointer pool_data)
{
  Probe *p = data;
  SgVerify *v = p->v;
  g_autoptr(GError) error = NULL;
  if (!sg_smarthost_dial_cancelled (v->dial))
    p->answered = sg_verify_probe (v->dial, p->address, p->smtputf8, &p->entry, &error);
  if (!p->answered)
    p->error = g_strdup (error ? error->message : "shutting down");
  /* Stored here, off the main loop: the commit syncs the file. LMDB lets
   * this writer run beside the main thread's readers. */
  else if (p->entry.status != SG_VERIFY_UNKNOWN
           && !sg_verify_cache_put (v->cache, p->address, &p->entry, &error))
    g_warning ("verify: cannot cache the answer for <%s>: %s", p->address, error->message);
  g_main_context_invoke_full (v->context, G_PRIORITY_DEFAULT, probe_done, p, probe_release);
}

/* take_token - the next hop's rate limit, a token bucket of one second's
 * worth that may be drawn ahead: *delay_ms gets how long this probe waits
 * for its token; FALSE when that would be past half of verify_timeout (the
 * RCPT could not have its answer in time). */
static gboolean
take_token (SgVerify *v, guint *delay_ms)
{
  gint64 now = g_get_monotonic_time ();
  v->tokens = MIN ((double) v->rate, v->tokens + (double) (now - v->tokens_at) * v->rate / G_USEC_PER_SEC);
  v->tokens_at = now;
  double wait_s = v->tokens >= 1.0 ? 0.0 : (1.0 - v->tokens) / v->rate;
  if (wait_s * 2 > v->timeout)
    return FALSE;
  v->tokens -= 1.0;
  *delay_ms = (guint) (wait_s * 1000.0 + 0.5);
  return TRUE;
}

/* on_start - the probe's token is due: hand it to a probe thread. */
static gboolean
on_start (gpointer data)
{
  Probe *p = data;
  g_clear_pointer (&p->start, g_source_unref);
  g_thread_pool_push (p->v->pool, p, NULL);
  return G_SOURCE_REMOVE;
}

/* waiter_add - one more RCPT waiting for p. */
static void
waiter_add (SgVerify *v, Probe *p, SgVerifyDone done, gpointer user_data)
{
  Waiter *w = g_new0 (Waiter, 1);
  w->probe = p;
  w->done = done;
  w->user_data = user_data;
  w->timer = g_timeout_source_new ((guint) v->timeout * 1000u);
  g_source_set_callback (w->timer, on_waiter_timeout, w, NULL);
  g_source_attach (w->timer, v->context);
  g_ptr_array_add (p->waiters, w);
}

gboolean
sg_verify_check (SgVerify *v, const char *address, gboolean smtputf8, SgVerifyAnswer *now,
                 SgVerifyDone done, gpointer user_data)
{
  SgVerifyEntry *last = &v->last;
  gint64 t = g_get_real_time () / G_USEC_PER_SEC;
  g_autofree char *key = g_ascii_strdown (address, -1);

  sg_verify_entry_clear (last);
  if (sg_verify_cache_get (v->cache, key, last) && !sg_verify_cache_expired (v->cache, last, t))
    {
      *now = (SgVerifyAnswer) { last->status, last->code, last->reply };
      return TRUE;
    }
  if (v->shut_down)
    {
      *now = (SgVerifyAnswer) { SG_VERIFY_UNKNOWN, 0, "shutting down" };
      return TRUE;
    }
  Probe *p = g_hash_table_lookup (v->inflight, key);
  if (p)
    {
      waiter_add (v, p, done, user_data);   /* the probe in flight answers this one too */
      return FALSE;
    }
  if (g_hash_table_size (v->inflight) >= v->max_probes)
    {
      *now = (SgVerifyAnswer) { SG_VERIFY_UNKNOWN, 0, "too many address probes in progress" };
      return TRUE;
    }
  guint delay_ms = 0;
  if (!take_token (v, &delay_ms))
    {
      *now = (SgVerifyAnswer) { SG_VERIFY_UNKNOWN, 0,
                                "address probe rate limit to the next hop reached" };
      return TRUE;
    }
  p = g_new0 (Probe, 1);
  p->v = verify_ref (v);
  p->address = g_steal_pointer (&key);
  p->smtputf8 = smtputf8;
  p->waiters = g_ptr_array_new ();
  g_hash_table_insert (v->inflight, p->address, p);
  waiter_add (v, p, done, user_data);
  v->started++;
  if (delay_ms == 0)
    g_thread_pool_push (v->pool, p, NULL);
  else
    {
      p->start = g_timeout_source_new (delay_ms);
      g_source_set_callback (p->start, on_start, p, NULL);
      g_source_attach (p->start, v->context);
    }
  return FALSE;
}

guint64
sg_verify_probes_started (const SgVerify *v)
{
  return v->started;
}

void
sg_verify_reconfigure (SgVerify *v, const SgConfig *config)
{
  v->timeout = config->verify_timeout;
  v->rate = config->verify_probe_rate;
  v->max_probes = config->verify_max_probes;
  sg_verify_cache_set_limits (v->cache, config->verify_cache_size, config->verify_positive_ttl,
                              config->verify_negative_ttl);
}

SgVerify *
sg_verify_new (const SgConfig *config, GMainContext *context, GError **error)
{
  g_autoptr(SgVerifyCache) cache = sg_verify_cache_open (config->spool_dir, FALSE, error);
  if (!cache)
    return NULL;
  g_autoptr(SgConfig) probe_config = sg_verify_probe_config (config, config->verify_timeout);
  g_autoptr(SgSmarthostDial) dial = sg_smarthost_dial_new (probe_config, error);
  if (!dial)
    return NULL;
  SgVerify *v = g_new0 (SgVerify, 1);
  v->refs = 1;
  v->context = g_main_context_ref (context);
  v->cache = g_steal_pointer (&cache);
  v->probe_config = g_steal_pointer (&probe_config);
  v->dial = g_steal_pointer (&dial);
  v->inflight = g_hash_table_new (g_str_hash, g_str_equal);
  v->pool = g_thread_pool_new (probe_run, v, config->verify_probe_threads, FALSE, NULL);
  sg_verify_reconfigure (v, config);
  v->tokens = v->rate;
  v->tokens_at = g_get_monotonic_time ();
  g_message ("verify: recipients are verified with the next hop; %u cached answer(s)",
             sg_verify_cache_count (v->cache));
  return v;
}

void
sg_verify_free (SgVerify *v)
{
  if (!v)
    return;
  v->shut_down = TRUE;
  sg_smarthost_dial_cancel (v->dial);
  /* Probes not started yet are answered by probe_run at once (cancelled);
   * waiters hear "shutting down" now. */
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init (&it, v->inflight);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      Probe *p = value;
      SgVerifyAnswer a = { SG_VERIFY_UNKNOWN, 0, "shutting down" };
      while (p->waiters->len > 0)
        waiter_answer (g_ptr_array_index (p->waiters, 0), &a);
      g_hash_table_iter_remove (&it);
      if (p->start)
        {
          /* never handed to a thread: nothing else will release it */
          g_source_destroy (p->start);
          g_clear_pointer (&p->start, g_source_unref);
          probe_release (p);
        }
    }
  /* Every probe still queued runs now, cancelled at once; each hands back
   * through the context, which releases it whether or not it runs again. */
  g_thread_pool_free (g_steal_pointer (&v->pool), FALSE, TRUE);
  verify_unref (v);
}
