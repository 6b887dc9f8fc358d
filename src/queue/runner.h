/* runner.h - the queue runner inside `spoolgate serve`: finds due messages
 * in the spool, hands them to delivery workers that forward them through a
 * courier (courier.h: the smarthost's, or a test's), and retires finished
 * ones. Only created when [smarthost] host is set. */
#pragma once
#include <glib.h>
#include "config/config.h"
#include "spool/spool.h"
#include "queue/census.h"
#include "queue/courier.h"

G_BEGIN_DECLS

typedef struct _SgQueueRunner SgQueueRunner;

/* sg_queue_runner_new - start workers and index the spool; config, spool
 * and census (nullable: told every state and size the runner reads) are
 * borrowed and must outlive the runner. With backlog (nullable, transfer
 * full: from sg_spool_recover_begin) the rest of recovery runs on a thread
 * of its own and hands each checked message to the index as it goes, so
 * the caller serves at once; without it the queue is read before
 * returning. courier (transfer full, also on failure) is how the workers
 * deliver; the runner frees it after its workers (transfer full). */
SgQueueRunner *sg_queue_runner_new (const SgConfig *config, SgSpool *spool,
                                    GMainContext *context, SgQueueCensus *census,
                                    SgSpoolBacklog *backlog, SgCourier *courier, GError **error);
/* sg_queue_runner_free - interrupt deliveries in flight (they stay queued:
 * at-least-once), join the workers. */
void           sg_queue_runner_free (SgQueueRunner *runner);
/* sg_queue_runner_notify - queue_id was just committed: look at it now. */
void           sg_queue_runner_notify (SgQueueRunner *runner, const char *queue_id);

G_END_DECLS
