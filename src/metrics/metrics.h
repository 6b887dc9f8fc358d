/* metrics.h - the process-wide metrics registry: a fixed set of counters,
 * gauges, labelled counters and histograms (doc/metrics.md is the contract),
 * updated from any thread without locks on the per-message path, and
 * rendered in the Prometheus text exposition format 0.0.4. Serving the text
 * over HTTP is metrics_http.c's business; what to count is the caller's. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

/* Bounds: label values longer than this are truncated; a labelled counter
 * holds at most this many label combinations, further ones are counted in a
 * single series whose labels all read SG_METRICS_OVERFLOW_LABEL. */
#define SG_METRICS_LABEL_MAX      64
#define SG_METRICS_MAX_SERIES     128
#define SG_METRICS_OVERFLOW_LABEL "other"

typedef enum {
  SG_COUNTER_CONNECTIONS,          /* spoolgate_connections_total */
  SG_COUNTER_MESSAGES_ACCEPTED,    /* spoolgate_messages_accepted_total */
  SG_COUNTER_ACCEPTED_BYTES,       /* spoolgate_messages_accepted_bytes_total */
  SG_N_COUNTERS
} SgCounterId;

typedef enum {
  SG_GAUGE_SESSIONS_OPEN,          /* spoolgate_sessions_open */
  SG_GAUGE_TLS_SESSIONS_OPEN,      /* spoolgate_tls_sessions_open */
  SG_N_GAUGES
} SgGaugeId;

typedef enum {
  SG_HISTOGRAM_SPOOL_COMMIT,       /* spoolgate_spool_commit_seconds */
  SG_HISTOGRAM_DATA_REPLY,         /* spoolgate_data_reply_seconds */
  SG_N_HISTOGRAMS
} SgHistogramId;

/* The result label of spoolgate_deliveries_total, one per recipient attempt. */
typedef enum {
  SG_DELIVERY_DELIVERED,
  SG_DELIVERY_DEFERRED,
  SG_DELIVERY_FAILED,
  SG_N_DELIVERY_RESULTS
} SgDeliveryResult;

/* sg_metrics_init - record the process start time (epoch µs) for
 * process_start_time_seconds; the server calls it once at start-up. */
void sg_metrics_init (gint64 start_time_us);

/* sg_metrics_add - add n to a counter. */
void sg_metrics_add (SgCounterId id, guint64 n);
/* sg_metrics_inc - add 1 to a counter. */
void sg_metrics_inc (SgCounterId id);
/* sg_metrics_gauge_add - move a gauge by delta (may be negative). */
void sg_metrics_gauge_add (SgGaugeId id, gint64 delta);
/* sg_metrics_observe_us - one observation of a histogram, in microseconds. */
void sg_metrics_observe_us (SgHistogramId id, gint64 microseconds);

/* sg_metrics_rejected - one refused message, recipient or transaction:
 * spoolgate_messages_rejected_total{rule,code} (code: the three-digit reply). */
void sg_metrics_rejected (const char *rule, guint code);
/* sg_metrics_monitored - one message accepted in monitor mode that enforce
 * would have refused: spoolgate_messages_monitored_total{rule}. */
void sg_metrics_monitored (const char *rule);
/* sg_metrics_refused - one connection refused before its session:
 * spoolgate_connections_refused_total{reason}. */
void sg_metrics_refused (const char *reason);
/* sg_metrics_recipient_rejected - one recipient refused at RCPT by the
 * recipient policy: spoolgate_recipients_rejected_total{reason}. */
void sg_metrics_recipient_rejected (const char *reason);
/* sg_metrics_milter - one milter conversation about one message:
 * spoolgate_milter_actions_total{milter,action}; action is accept, reject,
 * tempfail, discard, quarantine or error (down, timed out, broke the protocol). */
void sg_metrics_milter (const char *milter, const char *action);
/* sg_metrics_delivery - one recipient's delivery attempt: spoolgate_deliveries_total{result}. */
void sg_metrics_delivery (SgDeliveryResult result);
/* sg_metrics_queue_set - spoolgate_queue_messages and spoolgate_queue_bytes
 * for one state ("queued", "deferred", "held", "delivered", "failed"); other
 * state names are ignored. */
void sg_metrics_queue_set (const char *state, guint64 messages, guint64 bytes);
/* sg_metrics_queue_oldest_set - the arrival time (µs since the epoch) of the
 * oldest message waiting for delivery, 0 for none; a scrape reports its age
 * as spoolgate_queue_oldest_seconds. */
void sg_metrics_queue_oldest_set (gint64 arrival_us);

/* sg_metrics_render - every metric in text format 0.0.4 (transfer full). */
char *sg_metrics_render (gsize *length);

/* sg_metrics_reset - zero everything (tests only: not safe against
 * concurrent updates). */
void sg_metrics_reset (void);

G_END_DECLS
