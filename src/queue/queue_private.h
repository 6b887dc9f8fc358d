/* queue_private.h - what runner.c (scheduling), worker.c (delivery threads)
 * and attempt.c (applying an attempt to the metadata) share inside src/queue/.
 * Nothing outside src/queue/ and its tests includes it. */
#pragma once
#include <glib.h>
#include "config/config.h"
#include "queue/courier.h"
#include "spool/spool.h"

/* Seconds before a message an admin had locked is looked at again. */
#define SG_QUEUE_BUSY_RETRY      2
/* Jobs handed to the workers at once, per connection. */
#define SG_QUEUE_JOBS_PER_WORKER 2

/* What a worker learned about one message (passed to the runner). */
typedef enum {
  SG_JOB_DONE,   /* looked at; next_look says when to look again */
  SG_JOB_BUSY,   /* someone else holds its lock */
  SG_JOB_GONE,   /* no longer in the queue */
  SG_JOB_DAMAGED, /* its metadata is unusable: the runner quarantines it */
} SgJobOutcome;

typedef struct {
  char        *queue_id;
  SgJobOutcome outcome;
  gint64       next_look;  /* epoch seconds; -1: not ours to schedule (held, failed) */
  char        *dsn_id;     /* (nullable) a non-delivery report just queued */
} SgJobResult;

void sg_job_result_free (SgJobResult *r);

/* --- attempt.c: the queue's rules applied to one message's metadata --- */

/* One delivery attempt as seen by the worker. */
typedef struct {
  gint64      time;          /* epoch seconds at the start */
  const char *relay;         /* (nullable) "host[ip]:port" */
  const char *tls_protocol;  /* (nullable) */
  const char *tls_cipher;    /* (nullable) */
  gboolean    tls_verified;  /* the smarthost's certificate was verified (tls = verify) */
  gint64      taken_us;      /* epoch µs: the worker took the message (= time) */
  gint64      setup_us;      /* epoch µs: session set-up (or reuse) began */
  gint64      ready_us;      /* epoch µs: the session was ready, or failed */
  gint64      end_us;        /* epoch µs: the transaction ended */
  const char *error;         /* (nullable) session failure: every recipient deferred */
  gboolean    interrupted;   /* shutdown: defer without backoff */
  GPtrArray  *outcomes;      /* SgRcptOutcome*, parallel to recipients */
  GPtrArray  *recipients;    /* SgMetaRecipient* (borrowed from the meta) */
} SgAttempt;

/* sg_queue_dsn_code - the dsn= "X.Y.Z" logged for a recipient with status
 * and last reply (nullable), its class agreeing with status (attempt.c). */
void     sg_queue_dsn_code (SgRcptStatus status, const char *reply, char out[16]);
/* sg_queue_backoff - seconds to wait after the n-th failed attempt:
 * min_backoff doubled per attempt, capped at max_backoff. */
guint    sg_queue_backoff (const SgConfig *config, guint attempts);
/* sg_queue_pending - recipients still to deliver (transfer container). */
GPtrArray *sg_queue_pending (const SgMeta *meta);
/* sg_queue_all_delivered - every recipient has status delivered. */
gboolean   sg_queue_all_delivered (const SgMeta *meta);
/* sg_queue_apply - record attempt a in meta: recipient statuses, history,
 * attempts, state, next_attempt, last_error; logs one line per recipient. */
void     sg_queue_apply (SgMeta *meta, const SgAttempt *a, const SgConfig *config, gint64 now);
/* sg_queue_expired - whether meta has outlived max_lifetime. */
gboolean sg_queue_expired (const SgMeta *meta, const SgConfig *config, gint64 now);
/* sg_queue_expire - fail every pending recipient of an expired message. */
void     sg_queue_expire (SgMeta *meta, const SgConfig *config, gint64 now);
/* sg_queue_finished_at - when meta's recipients last changed (epoch s). */
gint64   sg_queue_finished_at (const SgMeta *meta);
/* sg_queue_next_look - when the runner should look at meta again (-1:
 * never): due mail at next_attempt; delivered and failed mail when
 * keep_delivered or failed_lifetime is over. */
gint64   sg_queue_next_look (const SgMeta *meta, const SgConfig *config);
/* sg_queue_finish - a message without pending recipients: queue the DSN if
 * due, then mark it delivered/failed or remove it; logs. *dsn_id gets the
 * report's ID (transfer full). FALSE: try again later (nothing lost). */
gboolean sg_queue_finish (SgSpool *spool, SgMeta *meta, const SgConfig *config, gint64 now,
                          char **dsn_id, gboolean *removed, GError **error);

/* sg_queue_delay_notice - once meta has waited [queue] delay_warning with
 * recipients deferred that want it, queue the one delay notice (RFC 3464
 * Action: delayed) and mark meta; *dsn_id gets its ID (transfer full).
 * FALSE: not queued now (tried again at the next attempt). */
gboolean sg_queue_delay_notice (SgSpool *spool, SgMeta *meta, const SgConfig *config, gint64 now,
                                char **dsn_id, GError **error);

/* sg_queue_relay_notice - queue the "relayed" notice (RFC 3461 5.2.2) for
 * recipients marked due by sg_queue_apply and mark them sent; as above. */
gboolean sg_queue_relay_notice (SgSpool *spool, SgMeta *meta, const SgConfig *config, gint64 now,
                                char **dsn_id, GError **error);

/* --- worker.c: delivery threads, each with at most one courier session --- */

typedef struct _SgQueueWorkers SgQueueWorkers;
/* Called on a worker thread for each job; takes the result (transfer full). */
typedef void (*SgJobReportFunc) (SgJobResult *result, gpointer user_data);

/* sg_queue_workers_new - start config's concurrency workers, each with its
 * own session of courier (taken, transfer full, also on failure). */
SgQueueWorkers *sg_queue_workers_new (const SgConfig *config, SgSpool *spool, SgCourier *courier,
                                      SgJobReportFunc report, gpointer user_data, GError **error);
/* sg_queue_workers_push - look at queue_id on the next free worker. */
void sg_queue_workers_push (SgQueueWorkers *w, const char *queue_id);
/* sg_queue_workers_free - interrupt and join every worker. */
void sg_queue_workers_free (SgQueueWorkers *w);
