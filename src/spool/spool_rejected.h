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

/* --- Release: rejected/ to queue/, exactly once (spool_release.c) ---
 *
 * A release must queue a refused message once, whoever else releases it at
 * the same time and wherever a release, or the daemon, dies. Deleting the
 * copy after committing it to queue/ is not enough: if the process dies in
 * between and the runner delivers and removes the queued message, nothing
 * tells the copy left in rejected/ from one never released. So the file
 * that becomes queue/<ID>.json is written in rejected/ first and *moved*:
 *
 *   rejected/<ID>.json    the refused copy's metadata. While it exists the
 *                         message is refused and may be released.
 *   rejected/<ID>.queued  the intent: the exact queue/<ID>.json to publish
 *                         (SgMeta, state queued). Published by rename, so
 *                         once it has moved it cannot be published again.
 *
 * Every step runs under an exclusive flock(2) on the rejected/ directory:
 *   1. lock rejected/ (release waits; recovery does not, see below);
 *      finish or undo an earlier release of this ID that was cut short;
 *   2. read <ID>.json and <ID>.eml (size and SHA-256 checked);
 *   3. write <ID>.queued (O_EXCL), fsync it and rejected/;
 *   4. write the message to tmp/, fsync, flock it, rename it to
 *      queue/<ID>.eml, fsync queue/ (a lone .eml: not a message yet);
 *   5. THE DECISION: unlink rejected/<ID>.json, fsync rejected/;
 *   6. rename <ID>.queued to queue/<ID>.json (RENAME_NOREPLACE), unlock
 *      the .eml (the runner may take it now), fsync queue/ and rejected/:
 *      the message is queued;
 *   7. unlink rejected/<ID>.eml, unlock rejected/.
 *
 * What decides is whether rejected/<ID>.json exists beside <ID>.queued:
 *   .json and .queued   step 5 not reached: undo (unlink .queued and a
 *                       lone queue/<ID>.eml); the message stays refused;
 *   .queued alone       decided: finish (queue/<ID>.eml again from
 *                       rejected/<ID>.eml if it is missing, then step 6);
 *   .json alone         refused; .eml alone: finished, the copy goes.
 * Whoever holds the lock resolves a leftover: the next `spoolgate release`
 * of that ID, and the daemon's start-up recovery (sg_spool_recover_begin,
 * before queue/ is read; it skips the resolution if a live release holds
 * the lock, and that release resolves it). The queue recovery never
 * deletes a lone .eml someone holds locked. The daemon's own drop of old
 * copies (keep_rejected full) takes no lock, so that an administrator can
 * never stall the intake: it unlinks the .json, and the .eml only when no
 * .queued is beside it; a release that then finds its .json gone at step 5
 * is decided all the same, and the message is queued once. */

/* sg_rejected_release - queue a refused message as above, under its own ID
 * with its envelope (state queued, a "released" note in its validation,
 * its lifetime clock started now). An earlier release of it that was cut
 * short after its decision is finished instead. SG_SPOOL_ERROR_NOT_FOUND
 * if there is nothing (left) to release. Returns the queued metadata
 * (transfer full). */
SgMeta         *sg_rejected_release (SgRejected *store, SgSpool *spool, const char *queue_id,
                                     GError **error);
/* sg_rejected_holds - whether rejected/ holds anything of queue_id: a
 * refused copy, a release cut short or what one left; sg_rejected_release
 * finishes or cleans up the last two. */
gboolean        sg_rejected_holds (SgRejected *store, const char *queue_id);

G_END_DECLS
