/* metrics.c - the registry behind metrics.h: every value is a C11 atomic,
 * so an update from an intake, committer or delivery thread is one relaxed
 * atomic add with no lock and no allocation. A labelled counter finds its
 * series in a fixed array without locking; only the first use of a new label
 * combination takes a mutex to publish it. Rendering reads the atomics one by
 * one: a scrape is a consistent-enough snapshot, never a blocked writer. */
#include "metrics/metrics.h"

#include <stdatomic.h>
#include <string.h>
#include "sg-build.h"

#define MAX_LABELS  2    /* labels per labelled counter */
#define MAX_BUCKETS 16   /* finite histogram buckets */

/* ---- plain counters and gauges ---- */

typedef struct {
  const char *name;
  const char *help;
} Info;

static const Info counter_info[SG_N_COUNTERS] = {
  [SG_COUNTER_CONNECTIONS] = { "spoolgate_connections_total",
    "TCP connections accepted on [server] listen, refused ones included." },
  [SG_COUNTER_MESSAGES_ACCEPTED] = { "spoolgate_messages_accepted_total",
    "Messages answered 250 after they were durable in the spool." },
  [SG_COUNTER_ACCEPTED_BYTES] = { "spoolgate_messages_accepted_bytes_total",
    "Bytes of accepted messages as spooled, our Received header included." },
};

static const Info gauge_info[SG_N_GAUGES] = {
  [SG_GAUGE_SESSIONS_OPEN] = { "spoolgate_sessions_open",
    "SMTP sessions currently open." },
  [SG_GAUGE_TLS_SESSIONS_OPEN] = { "spoolgate_tls_sessions_open",
    "SMTP sessions currently open with STARTTLS completed." },
};

static _Atomic guint64 counters[SG_N_COUNTERS];
static _Atomic gint64  gauges[SG_N_GAUGES];
static _Atomic gint64  start_time_us;

/* ---- labelled counters ---- */

typedef struct {
  char            values[MAX_LABELS][SG_METRICS_LABEL_MAX];
  _Atomic guint64 count;
} Series;

typedef struct {
  const char     *name;
  const char     *help;
  guint           n_labels;
  const char     *labels[MAX_LABELS];
  Series          series[SG_METRICS_MAX_SERIES];
  _Atomic guint   used;      /* series published; readers scan [0, used) */
  _Atomic guint64 overflow;  /* increments past SG_METRICS_MAX_SERIES */
  GMutex          lock;      /* serialises publishing a new series */
} CounterVec;

static CounterVec rejected = {
  .name = "spoolgate_messages_rejected_total",
  .help = "Messages, recipients and transactions refused, by rule id and reply code.",
  .n_labels = 2, .labels = { "rule", "code" },
};

static CounterVec monitored = {
  .name = "spoolgate_messages_monitored_total",
  .help = "Messages accepted in [validation] mode = monitor that enforce would have refused, by rule id.",
  .n_labels = 1, .labels = { "rule" },
};

static CounterVec refused = {
  .name = "spoolgate_connections_refused_total",
  .help = "Connections refused before an SMTP session, by reason.",
  .n_labels = 1, .labels = { "reason" },
};

static CounterVec recipients_rejected = {
  .name = "spoolgate_recipients_rejected_total",
  .help = "Recipients refused at RCPT by the recipient policy ([access] tables, verification, milters), by reason.",
  .n_labels = 1, .labels = { "reason" },
};

static CounterVec milter_actions = {
  .name = "spoolgate_milter_actions_total",
  .help = "Milter conversations, by milter ([milter] servers entry) and what it decided.",
  .n_labels = 2, .labels = { "milter", "action" },
};

/* ---- fixed-label families ---- */

static const char *const delivery_results[SG_N_DELIVERY_RESULTS] = {
  [SG_DELIVERY_DELIVERED] = "delivered",
  [SG_DELIVERY_DEFERRED] = "deferred",
  [SG_DELIVERY_FAILED] = "failed",
};
static _Atomic guint64 deliveries[SG_N_DELIVERY_RESULTS];

/* The message states of spool/meta.h, in their order there. */
static const char *const queue_states[] = { "queued", "deferred", "held", "delivered", "failed" };
#define N_QUEUE_STATES G_N_ELEMENTS (queue_states)
static _Atomic guint64 queue_messages[N_QUEUE_STATES];
static _Atomic guint64 queue_bytes[N_QUEUE_STATES];
/* arrival (µs since the epoch) of the oldest message waiting for delivery; 0: none */
static _Atomic gint64 queue_oldest_arrival_us;

/* ---- histograms ---- */

typedef struct {
  const char      *name;
  const char      *help;
  guint            n_bounds;
  gint64           bounds_us[MAX_BUCKETS];   /* upper bounds, ascending */
  const char      *bounds_text[MAX_BUCKETS]; /* the same, as `le` values */
  _Atomic guint64  buckets[MAX_BUCKETS + 1]; /* per bucket, not cumulative; last is +Inf */
  _Atomic guint64  sum_us;
} Histogram;

static Histogram histograms[SG_N_HISTOGRAMS] = {
  [SG_HISTOGRAM_SPOOL_COMMIT] = {
    .name = "spoolgate_spool_commit_seconds",
    .help = "Time from handing a message to the spool committer until it is durable.",
    .n_bounds = 14,
    .bounds_us = { 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
                   1000000, 2500000, 5000000, 10000000 },
    .bounds_text = { "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
                     "0.25", "0.5", "1", "2.5", "5", "10" },
  },
  [SG_HISTOGRAM_DATA_REPLY] = {
    .name = "spoolgate_data_reply_seconds",
    .help = "Time from the end of DATA until the final reply is queued to the client.",
    .n_bounds = 14,
    .bounds_us = { 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
                   2500000, 5000000, 10000000, 30000000 },
    .bounds_text = { "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
                     "0.5", "1", "2.5", "5", "10", "30" },
  },
};

/* ---- updates ---- */

void
sg_metrics_init (gint64 start_us)
{
  atomic_store (&start_time_us, start_us);
}

void
sg_metrics_add (SgCounterId id, guint64 n)
{
  g_return_if_fail (id < SG_N_COUNTERS);
  atomic_fetch_add_explicit (&counters[id], n, memory_order_relaxed);
}

void
sg_metrics_inc (SgCounterId id)
{
  sg_metrics_add (id, 1);
}

void
sg_metrics_gauge_add (SgGaugeId id, gint64 delta)
{
  g_return_if_fail (id < SG_N_GAUGES);
  atomic_fetch_add_explicit (&gauges[id], delta, memory_order_relaxed);
}

void
sg_metrics_observe_us (SgHistogramId id, gint64 us)
{
  g_return_if_fail (id < SG_N_HISTOGRAMS);
  Histogram *h = &histograms[id];
  us = MAX (us, 0);
  guint i = 0;
  while (i < h->n_bounds && us > h->bounds_us[i])
    i++;
  atomic_fetch_add_explicit (&h->buckets[i], 1, memory_order_relaxed);
  atomic_fetch_add_explicit (&h->sum_us, (guint64) us, memory_order_relaxed);
}

/* vec_find - the series in [from, to) whose values equal key, or NULL. */
static Series *
vec_find (CounterVec *v, char key[][SG_METRICS_LABEL_MAX], guint from, guint to)
{
  for (guint i = from; i < to; i++)
    {
      guint l = 0;
      while (l < v->n_labels && strcmp (v->series[i].values[l], key[l]) == 0)
        l++;
      if (l == v->n_labels)
        return &v->series[i];
    }
  return NULL;
}

/* vec_counter - the counter of one label combination: found without a lock,
 * published under v->lock the first time, the overflow series when full. */
static _Atomic guint64 *
vec_counter (CounterVec *v, const char *const *values)
{
  char key[MAX_LABELS][SG_METRICS_LABEL_MAX] = { { 0 } };
  for (guint l = 0; l < v->n_labels; l++)
    g_strlcpy (key[l], values[l] ? values[l] : "", SG_METRICS_LABEL_MAX);

  guint seen = atomic_load_explicit (&v->used, memory_order_acquire);
  Series *s = vec_find (v, key, 0, seen);
  if (s)
    return &s->count;
  g_mutex_lock (&v->lock);
  guint used = atomic_load_explicit (&v->used, memory_order_relaxed);
  s = vec_find (v, key, seen, used);
  if (!s && used < SG_METRICS_MAX_SERIES)
    {
      s = &v->series[used];
      memcpy (s->values, key, sizeof key);
      atomic_store_explicit (&s->count, 0, memory_order_relaxed);
      atomic_store_explicit (&v->used, used + 1, memory_order_release);
    }
  g_mutex_unlock (&v->lock);
  return s ? &s->count : &v->overflow;
}

void
sg_metrics_rejected (const char *rule, guint code)
{
  char text[8];
  g_snprintf (text, sizeof text, "%03u", MIN (code, 999u));
  const char *values[] = { rule, text };
  atomic_fetch_add_explicit (vec_counter (&rejected, values), 1, memory_order_relaxed);
}

void
sg_metrics_monitored (const char *rule)
{
  const char *values[] = { rule };
  atomic_fetch_add_explicit (vec_counter (&monitored, values), 1, memory_order_relaxed);
}

void
sg_metrics_refused (const char *reason)
{
  const char *values[] = { reason };
  atomic_fetch_add_explicit (vec_counter (&refused, values), 1, memory_order_relaxed);
}

void
sg_metrics_recipient_rejected (const char *reason)
{
  const char *values[] = { reason };
  atomic_fetch_add_explicit (vec_counter (&recipients_rejected, values), 1, memory_order_relaxed);
}

void
sg_metrics_milter (const char *milter, const char *action)
{
  const char *values[] = { milter, action };
  atomic_fetch_add_explicit (vec_counter (&milter_actions, values), 1, memory_order_relaxed);
}

void
sg_metrics_delivery (SgDeliveryResult result)
{
  g_return_if_fail (result < SG_N_DELIVERY_RESULTS);
  atomic_fetch_add_explicit (&deliveries[result], 1, memory_order_relaxed);
}

void
sg_metrics_queue_set (const char *state, guint64 messages, guint64 bytes)
{
  for (guint i = 0; i < N_QUEUE_STATES; i++)
    if (g_strcmp0 (state, queue_states[i]) == 0)
      {
        atomic_store_explicit (&queue_messages[i], messages, memory_order_relaxed);
        atomic_store_explicit (&queue_bytes[i], bytes, memory_order_relaxed);
        return;
      }
}

void
sg_metrics_queue_oldest_set (gint64 arrival_us)
{
  atomic_store_explicit (&queue_oldest_arrival_us, MAX (arrival_us, 0), memory_order_relaxed);
}

/* ---- rendering (text format 0.0.4) ---- */

static void
family (GString *out, const char *name, const char *help, const char *type)
{
  g_string_append_printf (out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* label_value - a label value with \, " and newline escaped. */
static void
label_value (GString *out, const char *value)
{
  for (const char *p = value; *p; p++)
    switch (*p)
      {
      case '\\': g_string_append (out, "\\\\"); break;
      case '"':  g_string_append (out, "\\\""); break;
      case '\n': g_string_append (out, "\\n"); break;
      default:   g_string_append_c (out, *p); break;
      }
}

static void
render_vec (GString *out, CounterVec *v)
{
  family (out, v->name, v->help, "counter");
  guint used = atomic_load_explicit (&v->used, memory_order_acquire);
  guint64 overflow = atomic_load_explicit (&v->overflow, memory_order_relaxed);
  for (guint i = 0; i <= used; i++)
    {
      if (i == used && overflow == 0)
        break;
      g_string_append_printf (out, "%s{", v->name);
      for (guint l = 0; l < v->n_labels; l++)
        {
          g_string_append_printf (out, "%s%s=\"", l ? "," : "", v->labels[l]);
          label_value (out, i < used ? v->series[i].values[l] : SG_METRICS_OVERFLOW_LABEL);
          g_string_append_c (out, '"');
        }
      guint64 n = i < used ? atomic_load_explicit (&v->series[i].count, memory_order_relaxed)
                           : overflow;
      g_string_append_printf (out, "} %" G_GUINT64_FORMAT "\n", n);
    }
}

/* render_fixed - a family with one label and a fixed set of values. */
static void
render_fixed (GString *out, const char *name, const char *help, const char *type,
              const char *label, const char *const *values, _Atomic guint64 *counts, guint n)
{
  family (out, name, help, type);
  for (guint i = 0; i < n; i++)
    g_string_append_printf (out, "%s{%s=\"%s\"} %" G_GUINT64_FORMAT "\n", name, label, values[i],
                            atomic_load_explicit (&counts[i], memory_order_relaxed));
}

static void
render_histogram (GString *out, Histogram *h)
{
  family (out, h->name, h->help, "histogram");
  guint64 cumulative = 0;
  for (guint i = 0; i <= h->n_bounds; i++)
    {
      cumulative += atomic_load_explicit (&h->buckets[i], memory_order_relaxed);
      g_string_append_printf (out, "%s_bucket{le=\"%s\"} %" G_GUINT64_FORMAT "\n", h->name,
                              i < h->n_bounds ? h->bounds_text[i] : "+Inf", cumulative);
    }
  guint64 sum = atomic_load_explicit (&h->sum_us, memory_order_relaxed);
  g_string_append_printf (out, "%s_sum %" G_GUINT64_FORMAT ".%06" G_GUINT64_FORMAT "\n",
                          h->name, sum / G_USEC_PER_SEC, sum % G_USEC_PER_SEC);
  /* _count is the +Inf bucket, so the two always agree within one scrape */
  g_string_append_printf (out, "%s_count %" G_GUINT64_FORMAT "\n", h->name, cumulative);
}

static void
render_counter (GString *out, SgCounterId id)
{
  family (out, counter_info[id].name, counter_info[id].help, "counter");
  g_string_append_printf (out, "%s %" G_GUINT64_FORMAT "\n", counter_info[id].name,
                          atomic_load_explicit (&counters[id], memory_order_relaxed));
}

static void
render_gauge (GString *out, SgGaugeId id)
{
  family (out, gauge_info[id].name, gauge_info[id].help, "gauge");
  g_string_append_printf (out, "%s %" G_GINT64_FORMAT "\n", gauge_info[id].name,
                          atomic_load_explicit (&gauges[id], memory_order_relaxed));
}

char *
sg_metrics_render (gsize *length)
{
  GString *out = g_string_sized_new (8192);

  family (out, "spoolgate_build_info", "Always 1; the version label says which build runs.", "gauge");
  g_string_append (out, "spoolgate_build_info{version=\"");
  label_value (out, SG_VERSION_STRING);
  g_string_append (out, "\"} 1\n");
  family (out, "process_start_time_seconds", "Start time of the process since the epoch in seconds.",
          "gauge");
  g_string_append_printf (out, "process_start_time_seconds %" G_GINT64_FORMAT "\n",
                          atomic_load (&start_time_us) / G_USEC_PER_SEC);

  render_counter (out, SG_COUNTER_CONNECTIONS);
  render_vec (out, &refused);
  render_gauge (out, SG_GAUGE_SESSIONS_OPEN);
  render_gauge (out, SG_GAUGE_TLS_SESSIONS_OPEN);
  render_counter (out, SG_COUNTER_MESSAGES_ACCEPTED);
  render_counter (out, SG_COUNTER_ACCEPTED_BYTES);
  render_vec (out, &rejected);
  render_vec (out, &monitored);
  render_vec (out, &milter_actions);
  render_vec (out, &recipients_rejected);
  render_fixed (out, "spoolgate_deliveries_total",
                "Delivery attempts to the smarthost, one per recipient, by result.", "counter",
                "result", delivery_results, deliveries, SG_N_DELIVERY_RESULTS);
  render_fixed (out, "spoolgate_queue_messages", "Messages in the spool queue, by state.", "gauge",
                "state", queue_states, queue_messages, N_QUEUE_STATES);
  render_fixed (out, "spoolgate_queue_bytes", "Bytes of the messages in the spool queue, by state.",
                "gauge", "state", queue_states, queue_bytes, N_QUEUE_STATES);
  family (out, "spoolgate_queue_oldest_seconds",
          "Age of the oldest message waiting for delivery (queued or deferred); 0 when none.",
          "gauge");
  gint64 oldest = atomic_load_explicit (&queue_oldest_arrival_us, memory_order_relaxed);
  gint64 age = oldest > 0 ? MAX (g_get_real_time () - oldest, 0) / G_USEC_PER_SEC : 0;
  g_string_append_printf (out, "spoolgate_queue_oldest_seconds %" G_GINT64_FORMAT "\n", age);
  for (guint i = 0; i < SG_N_HISTOGRAMS; i++)
    render_histogram (out, &histograms[i]);

  if (length)
    *length = out->len;
  return g_string_free (out, FALSE);
}

static void
vec_reset (CounterVec *v)
{
  g_mutex_lock (&v->lock);
  atomic_store (&v->used, 0);
  atomic_store (&v->overflow, 0);
  g_mutex_unlock (&v->lock);
}

void
sg_metrics_reset (void)
{
  for (guint i = 0; i < SG_N_COUNTERS; i++)
    atomic_store (&counters[i], 0);
  for (guint i = 0; i < SG_N_GAUGES; i++)
    atomic_store (&gauges[i], 0);
  for (guint i = 0; i < SG_N_DELIVERY_RESULTS; i++)
    atomic_store (&deliveries[i], 0);
  for (guint i = 0; i < N_QUEUE_STATES; i++)
    {
      atomic_store (&queue_messages[i], 0);
      atomic_store (&queue_bytes[i], 0);
    }
  atomic_store (&queue_oldest_arrival_us, 0);
  for (guint i = 0; i < SG_N_HISTOGRAMS; i++)
    {
      for (guint b = 0; b <= MAX_BUCKETS; b++)
        atomic_store (&histograms[i].buckets[b], 0);
      atomic_store (&histograms[i].sum_us, 0);
    }
  vec_reset (&rejected);
  vec_reset (&monitored);
  vec_reset (&refused);
  vec_reset (&milter_actions);
  vec_reset (&recipients_rejected);
  atomic_store (&start_time_us, 0);
}
