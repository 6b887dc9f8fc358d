/* spool_rejected.h - the store of refused messages ([validation] keep_rejected):
 * rejected/<ID>.eml beside rejected/<ID>.json (schemas/rejected-metadata.schema.json),
 * bounded in bytes, oldest dropped first, and the release of one into queue/.
 * Deciding what to keep is the intake's business; listing and printing the CLI's. */
#pragma once
#include <glib.h>
#include "spool/meta.h"
#include "spool/spool.h"

G_BEGIN_DECLS

#define SG_REJECTED_DIR     "rejected"
#define SG_REJECTED_VERSION 1

/* What rejected/<ID>.json holds. Owns everything. */
typedef struct {
  SgMeta *envelope;         /* the metadata the message would have been queued with
                             * (state "queued"); its message_size and sha256 describe the .eml */
  gint64  rejected_time_us; /* when it was refused, microseconds since the epoch */
  char   *rule;             /* the rule that refused it, e.g. "header.date.missing" */
  char   *reply;            /* the whole reply sent, e.g. "550 5.6.0 Message rejected: ..." */
  gboolean monitored;       /* [validation] mode = monitor: not refused but accepted and
                             * queued; reply is what enforce would have sent */
  gint64  delivered_time_us;/* monitored: when the queued copy was delivered to every
                             * recipient; 0 until then */
} SgRejectedMeta;

SgRejectedMeta *sg_rejected_meta_new (void);
void            sg_rejected_meta_free (SgRejectedMeta *meta);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgRejectedMeta, sg_rejected_meta_free)
/* sg_rejected_meta_to_json - pretty-printed, ending in "\n" (transfer full). */
char           *sg_rejected_meta_to_json (const SgRejectedMeta *meta, gsize *length);
/* sg_rejected_meta_from_json - parse and check version and fields (transfer full). */
SgRejectedMeta *sg_rejected_meta_from_json (const char *data, gssize length, GError **error);

typedef struct _SgRejected SgRejected;

/* sg_rejected_open - the daemon's store: create rejected/ under spool_dir if
 * needed, clean up after a crash (see spool_rejected.c) and index what is
 * there. Keeps at most max_bytes (.eml and .json together). */
SgRejected *sg_rejected_open (const char *spool_dir, guint64 max_bytes, GError **error);
/* sg_rejected_open_admin - an existing store beside a running daemon, for
 * listing and release; no recovery. SG_SPOOL_ERROR_NOT_FOUND without rejected/. */
SgRejected *sg_rejected_open_admin (const char *spool_dir, GError **error);
void        sg_rejected_free (SgRejected *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgRejected, sg_rejected_free)

/* sg_rejected_set_limit - a new byte budget; applied at the next keep. */
void     sg_rejected_set_limit (SgRejected *store, guint64 max_bytes);
/* sg_rejected_keep - store header+body (either nullable) and meta as
 * rejected/<ID>.eml and .json (tmp name, rename; no fsync), after dropping
 * the oldest until it fits. Fills meta->envelope's message_size and sha256.
 * FALSE with an error if it is bigger than the whole budget or on I/O errors.
 * Thread-safe. */
gboolean sg_rejected_keep (SgRejected *store, SgRejectedMeta *meta, GBytes *header,
                           GBytes *body, GError **error);
/* sg_rejected_note_delivered - the queue runner delivered queue_id: its
 * monitored copy in rejected/ of spool_dir, if there is one, records when.
 * TRUE when there is nothing to record. */
gboolean sg_rejected_note_delivered (const char *spool_dir, const char *queue_id,
                                     gint64 when_us, GError **error);
/* sg_rejected_bytes - bytes the store counts as used (tests, logs). */
guint64  sg_rejected_bytes (SgRejected *store);

/* sg_rejected_list - IDs with a .json in rejected/, sorted (arrival order) (transfer full). */
GPtrArray      *sg_rejected_list (SgRejected *store, GError **error);
/* sg_rejected_load - read rejected/<ID>.json; SG_SPOOL_ERROR_NOT_FOUND if absent (transfer full). */
SgRejectedMeta *sg_rejected_load (SgRejected *store, const char *queue_id, GError **error);
/* sg_rejected_read_message - rejected/<ID>.eml, checked against the
 * metadata's size and SHA-256 when meta is given (transfer full). */
GBytes         *sg_rejected_read_message (SgRejected *store, const char *queue_id,
                                          const SgRejectedMeta *meta, GError **error);
/* sg_rejected_remove - delete rejected/<ID>.json, then .eml. */
gboolean        sg_rejected_remove (SgRejected *store, const char *queue_id, GError **error);
/* sg_rejected_release - queue a refused message: commit it durably into
 * queue/ of spool under its own ID with its envelope (state queued, a
 * "released" note in its validation), then remove it from rejected/.
 * Returns the queued metadata (transfer full). */
SgMeta         *sg_rejected_release (SgRejected *store, SgSpool *spool, const char *queue_id,
                                     GError **error);

G_END_DECLS
