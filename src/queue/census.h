/* census.h - how many messages, and how many bytes, the spool queue holds
 * in each state, kept in memory from metadata others read anyway (the
 * runner's scans and inotify, the intake's commits) and published as the
 * spoolgate_queue_messages and spoolgate_queue_bytes gauges, with the age
 * of the oldest message waiting for delivery (queued or deferred) as
 * spoolgate_queue_oldest_seconds, so a scrape never reads the disk. Main
 * context only. */
#pragma once
#include <glib.h>
#include "spool/spool.h"

G_BEGIN_DECLS

typedef struct _SgQueueCensus SgQueueCensus;

SgQueueCensus *sg_queue_census_new (void);
void           sg_queue_census_free (SgQueueCensus *census);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgQueueCensus, sg_queue_census_free)

/* sg_queue_census_set - queue_id is in the queue, in state, with size
 * bytes, since arrival_us (µs since the epoch). */
void sg_queue_census_set (SgQueueCensus *census, const char *queue_id, SgMsgState state,
                          guint64 size, gint64 arrival_us);
/* sg_queue_census_forget - queue_id is no longer in the queue. */
void sg_queue_census_forget (SgQueueCensus *census, const char *queue_id);
/* sg_queue_census_retain - after a full listing: forget every ID not in
 * present (a set of char* IDs). */
void sg_queue_census_retain (SgQueueCensus *census, GHashTable *present);
/* sg_queue_census_scan - read every message's metadata in spool afresh
 * (for a server without a queue runner, which does this otherwise). */
gboolean sg_queue_census_scan (SgQueueCensus *census, SgSpool *spool, GError **error);
/* sg_queue_census_count - messages in state (for tests). */
guint sg_queue_census_count (const SgQueueCensus *census, SgMsgState state);

G_END_DECLS
