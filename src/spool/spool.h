/* spool.h - the durable spool: <ID>.eml beside <ID>.json, group commit, and
 * start-up recovery.
 *
 * Layout under the spool directory:
 *   tmp/         files being written (draft-<n>: a message still arriving,
 *                free-<n>: recycled files); everything here is purged at start-up
 *   queue/       <ID>.eml + <ID>.json: accepted, not finished
 *   quarantine/  anything unreadable found by recovery; never deleted by us
 *   rejected/    refused messages kept for review ([validation] keep_rejected):
 *                spool_rejected.h, not queued mail; <ID>.queued there is a
 *                release in progress, exactly once by the protocol written
 *                down in spool_rejected.h (sg_spool_recover_begin resolves
 *                one cut short before it reads queue/)
 *   .lock        the daemon lock (flock, held by sg_spool_open for the
 *                SgSpool's lifetime); readers such as admin commands need no
 *                lock, since files only ever appear in queue/ by rename
 * A message exists once its .json is in queue/; the .eml is always renamed
 * into place first, and sg_spool_remove deletes the .json first.
 */
#pragma once
#include <glib.h>
#include <sys/stat.h>
#include "spool/meta.h"

G_BEGIN_DECLS

#define SG_SPOOL_ERROR (sg_spool_error_quark ())
GQuark sg_spool_error_quark (void);
typedef enum {
  SG_SPOOL_ERROR_IO,       /* reply 451 4.3.0 */
  SG_SPOOL_ERROR_NOSPACE,  /* ENOSPC/EDQUOT: reply 452 4.3.1 */
  SG_SPOOL_ERROR_EXISTS,
  SG_SPOOL_ERROR_NOT_FOUND,
  SG_SPOOL_ERROR_LOCKED,   /* sg_spool_open: another daemon holds the spool */
  SG_SPOOL_ERROR_BUSY,     /* sg_spool_lock_message: someone else holds the message */
} SgSpoolError;

#define SG_SPOOL_LOCK_FILE ".lock"

typedef struct _SgSpool SgSpool;

typedef struct {
  guint messages;        /* complete messages found in queue/ */
  guint states[SG_MSG_FAILED + 1];  /* of those, how many in each SgMsgState */
  guint removed_partial; /* unacknowledged leftovers removed (tmp/ files, .eml without .json) */
  guint recycled;        /* tmp/free-* files of the recycling pool dropped (not in removed_partial) */
  guint quarantined;     /* files moved to quarantine/ */
} SgSpoolRecovery;

/* sg_spool_open - create the layout if needed and lock it; no recovery.
 * Fails with SG_SPOOL_ERROR_LOCKED if another daemon has the spool. */
SgSpool *sg_spool_open (const char *dir, GError **error);
/* sg_spool_free - wait until every queued async commit is durable or failed
 * (its callback is then dispatched in its context as usual, the next time
 * that context is iterated), stop the committer threads, release the lock. */
void     sg_spool_free (SgSpool *spool);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgSpool, sg_spool_free)
/* sg_spool_dir - the directory given to sg_spool_open. */
const char *sg_spool_dir (const SgSpool *spool);

/* sg_spool_recover - clean up after a crash; logs each action (g_message/g_warning).
 * Call once after sg_spool_open, before any commit. Checks each .eml's size
 * against its metadata (not its SHA-256, to keep start-up fast). */
gboolean sg_spool_recover (SgSpool *spool, SgSpoolRecovery *report, GError **error);

/* Start-up recovery in two steps, for a daemon that must serve before it
 * has read a large queue: sg_spool_recover_begin purges tmp/ (the pool of
 * recycled files with it); then commits may start. sg_spool_recover_finish,
 * on any thread, lists queue/ and checks each message as sg_spool_recover
 * does, handing every complete one to found. With concurrent set, _finish
 * leaves alone every ID generated after _begin (new mail) and any lone
 * .eml written since _begin (a commit in progress): those are never
 * deleted, only left for the runner or the next start. */
typedef struct _SgSpoolBacklog SgSpoolBacklog;
/* Called on the thread running sg_spool_recover_finish; takes meta
 * (transfer full). Returning FALSE stops the check there (shutdown): the
 * messages not yet checked stay as they are, for the next start. */
typedef gboolean (*SgSpoolFoundFunc) (SgMeta *meta, gpointer user_data);
/* sg_spool_recover_begin - purge tmp/ (transfer full). */
SgSpoolBacklog *sg_spool_recover_begin (SgSpool *spool, gboolean concurrent, GError **error);
/* sg_spool_recover_finish - check the queue; takes backlog (transfer
 * full); found may be NULL; report as for sg_spool_recover. */
gboolean sg_spool_recover_finish (SgSpool *spool, SgSpoolBacklog *backlog, SgSpoolRecovery *report,
                                  SgSpoolFoundFunc found, gpointer user_data, GError **error);
void     sg_spool_backlog_free (SgSpoolBacklog *backlog);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgSpoolBacklog, sg_spool_backlog_free)

/* sg_spool_commit - make header+body and meta durable as <ID>.eml and
 * <ID>.json in queue/ (write, fsync, rename, fsync dir). Fills
 * meta->message_size and meta->sha256; a NULL meta->queue_id is filled with
 * a fresh ID and a zero arrival_time_us with the ID's time. Fails with
 * SG_SPOOL_ERROR_EXISTS if the ID is taken (retry with a fresh ID),
 * SG_SPOOL_ERROR_NOSPACE on ENOSPC/EDQUOT, else SG_SPOOL_ERROR_IO; on failure
 * nothing of this message is left behind. Thread-safe. */
gboolean sg_spool_commit (SgSpool *spool, SgMeta *meta, GBytes *header,
                          GBytes *body, GError **error);

/* Called in the GMainContext given to sg_spool_commit_async; error is NULL on
 * success. meta is the committed metadata (borrowed for the call). */
typedef void (*SgSpoolCommitFunc) (SgMeta *meta, const GError *error, gpointer user_data);

/* sg_spool_commit_async - the same, off the caller's thread; commits that
 * arrive together share their flushes (group commit). Takes ownership of meta.
 * context NULL means the caller's thread-default context. The callback always
 * runs later, from context, never from within this call. If too many commits
 * are already waiting it fails fast (SG_SPOOL_ERROR_IO, "queue full") rather
 * than block the caller. */
void sg_spool_commit_async (SgSpool *spool, SgMeta *meta, GBytes *header, GBytes *body,
                            GMainContext *context, SgSpoolCommitFunc callback,
                            gpointer user_data);

/* --- Drafts: a message streamed to disk while it arrives (spool_draft.c) ---
 *
 * A large DATA (past [limits] data_spill_size, or once all sessions together
 * hold [limits] max_memory_in_flight) is written to a file in tmp/ as it
 * arrives: our Received header first, then the body. The validator reads a
 * mapping of that file, and sg_spool_commit_draft[_async] makes that same
 * file durable and renames it into queue/<ID>.eml: no second copy.
 * Lifetime: one owner at a time (the DATA reader, the envelope, the commit);
 * freeing a draft that was not committed unlinks its file, so a rejected or
 * abandoned message leaves nothing; a crash leaves it in tmp/, which
 * recovery purges. The spool must outlive its drafts. Not thread-safe: one
 * thread at a time. */
typedef struct _SgSpoolDraft SgSpoolDraft;

/* sg_spool_draft_new - an empty file in tmp/ (a recycled one if the pool has one). */
SgSpoolDraft *sg_spool_draft_new (SgSpool *spool, GError **error);
/* sg_spool_draft_write - append on this thread, after every queued append;
 * errors as sg_spool_commit's (NOSPACE on ENOSPC). */
gboolean      sg_spool_draft_write (SgSpoolDraft *draft, const guint8 *data, gsize len,
                                    GError **error);
/* sg_spool_draft_append - append buf (transfer full) through the spool's
 * writer thread, without waiting for it unless SG_SPOOL_DRAFT_QUEUE_MAX
 * bytes are queued already. FALSE once an earlier write failed. */
gboolean      sg_spool_draft_append (SgSpoolDraft *draft, guint8 *buf, gsize len, GError **error);
/* sg_spool_draft_buffer - a buffer of SG_SPOOL_DRAFT_BUFFER bytes, reused
 * (transfer full: hand it to sg_spool_draft_append_buffer, or g_free). */
#define SG_SPOOL_DRAFT_BUFFER (64u * 1024u)
guint8       *sg_spool_draft_buffer (SgSpoolDraft *draft);
/* sg_spool_draft_append_buffer - sg_spool_draft_append for a buffer from
 * sg_spool_draft_buffer (len at most SG_SPOOL_DRAFT_BUFFER); it is reused. */
gboolean      sg_spool_draft_append_buffer (SgSpoolDraft *draft, guint8 *buf, gsize len,
                                            GError **error);
/* sg_spool_draft_wait - until every append is in the file; FALSE with the
 * first write error (NOSPACE on ENOSPC) if one failed. */
gboolean      sg_spool_draft_wait (SgSpoolDraft *draft, GError **error);
/* sg_spool_draft_size - bytes written or appended so far. */
guint64       sg_spool_draft_size (const SgSpoolDraft *draft);
/* sg_spool_draft_map - the whole file, read-only, valid until
 * sg_spool_draft_unmap or free; no writes while mapped. Waits for appends
 * first, and fails with their error. */
const guint8 *sg_spool_draft_map (SgSpoolDraft *draft, gsize *len, GError **error);
void          sg_spool_draft_unmap (SgSpoolDraft *draft);
void          sg_spool_draft_free (SgSpoolDraft *draft);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgSpoolDraft, sg_spool_draft_free)

/* sg_spool_commit_draft - sg_spool_commit for a draft (draft: transfer full;
 * meta borrowed and filled in): the draft's file, already holding header and
 * body, becomes <ID>.eml. */
gboolean sg_spool_commit_draft (SgSpool *spool, SgMeta *meta, SgSpoolDraft *draft,
                                GError **error);
/* sg_spool_commit_draft_async - sg_spool_commit_async for a draft (transfer
 * full, meta too). A draft costs the commit queue no bytes: it is on disk. */
void sg_spool_commit_draft_async (SgSpool *spool, SgMeta *meta, SgSpoolDraft *draft,
                                  GMainContext *context, SgSpoolCommitFunc callback,
                                  gpointer user_data);

/* sg_spool_set_commit_limits - bound the commits waiting for the committer
 * ([spool] commit_queue_messages and commit_queue_bytes); past them a commit
 * waits up to wait_seconds ([spool] commit_queue_wait) for room, then fails
 * (451) instead of queueing without bound. */
void sg_spool_set_commit_limits (SgSpool *spool, guint max_pending, gsize max_pending_bytes,
                                 guint wait_seconds);

/* sg_spool_load_meta - read queue/<ID>.json (transfer full). */
SgMeta *sg_spool_load_meta (SgSpool *spool, const char *queue_id, GError **error);
/* sg_spool_update_meta - atomically replace queue/<ID>.json (tmp, fsync, rename, fsync dir). */
gboolean sg_spool_update_meta (SgSpool *spool, const SgMeta *meta, GError **error);
/* sg_spool_remove - delete a finished message (.json, then .eml, fsync queue/). */
gboolean sg_spool_remove (SgSpool *spool, const char *queue_id, GError **error);
/* sg_spool_retire - remove a delivered message like sg_spool_remove, but keep
 * its files in tmp/ for reuse by later commits (spool_pool.c). */
gboolean sg_spool_retire (SgSpool *spool, const char *queue_id, GError **error);
/* sg_spool_set_recycling - keep at most max_files retired files (0: unlink all). */
void     sg_spool_set_recycling (SgSpool *spool, guint max_files);
/* sg_spool_pool_size - retired files waiting for reuse. */
guint    sg_spool_pool_size (SgSpool *spool);
/* sg_spool_message_path - path of queue/<ID>.eml (transfer full). */
char *sg_spool_message_path (SgSpool *spool, const char *queue_id);
/* sg_spool_message_stat - fstat of queue/<ID>.eml, not following a
 * symbolic link; FALSE (errno set) if it is not there. */
gboolean sg_spool_message_stat (SgSpool *spool, const char *queue_id, struct stat *st);

/* --- The layout for those outside src/spool/ (spool_layout.c) --- */

/* sg_spool_exists - whether dir holds a spool (its queue/ is there);
 * SG_SPOOL_ERROR_NOT_FOUND naming what is missing if not. Creates nothing. */
gboolean sg_spool_exists (const char *dir, GError **error);
/* sg_spool_queue_dir - the directory where messages appear, change (their
 * metadata replaced) and go: queue/, to watch (transfer full). */
char    *sg_spool_queue_dir (SgSpool *spool);
/* sg_spool_meta_file_id - the queue ID of name, an entry of that
 * directory, if it is a message's metadata; else NULL (transfer full). */
char    *sg_spool_meta_file_id (const char *name);
/* sg_spool_meta_path - path of queue/<ID>.json (transfer full). */
char    *sg_spool_meta_path (SgSpool *spool, const char *queue_id);
/* sg_spool_has_message - whether queue/<ID>.json exists. */
gboolean sg_spool_has_message (SgSpool *spool, const char *queue_id);
/* sg_spool_read_meta_text - queue/<ID>.json exactly as stored, once it
 * parses; *len gets its length; a parse error is prefixed with its name
 * (transfer full). */
char    *sg_spool_read_meta_text (SgSpool *spool, const char *queue_id, gsize *len,
                                  GError **error);
/* sg_spool_read_message - queue/<ID>.eml, NUL-terminated (transfer full):
 * all of it when it has at most whole_max bytes, else its first part_max;
 * *len gets the bytes read, *size (nullable) the file's size. */
char    *sg_spool_read_message (SgSpool *spool, const char *queue_id, guint64 whole_max,
                                gsize part_max, gsize *len, guint64 *size, GError **error);
/* How a commit group reaches stable storage ([spool] sync_method; see
 * spool_commit.c for what is durable before 250 with each). */
typedef enum {
  SG_SPOOL_SYNC_FDATASYNC,  /* fdatasync each file (at once), fsync queue/ */
  SG_SPOOL_SYNC_SYNCFS,     /* one syncfs after the writes, one after the renames */
} SgSpoolSyncMethod;
/* sg_spool_sync_method_parse - "fdatasync" or "syncfs"; FALSE otherwise. */
gboolean sg_spool_sync_method_parse (const char *name, SgSpoolSyncMethod *method);
/* sg_spool_sync_method_name - the configuration word for method. */
const char *sg_spool_sync_method_name (SgSpoolSyncMethod method);
/* sg_spool_set_sync_method - choose the method for commits from now on, and
 * log whether the spool is a file system of its own (syncfs flushes all of it). */
void sg_spool_set_sync_method (SgSpool *spool, SgSpoolSyncMethod method);
/* sg_spool_get_sync_method - the method in use (default fdatasync). */
SgSpoolSyncMethod sg_spool_get_sync_method (SgSpool *spool);
/* sg_spool_own_fs - is the spool directory a whole file system of its own;
 * *where (transfer full) names its mount: "POINT (SOURCE TYPE)". */
gboolean sg_spool_own_fs (SgSpool *spool, char **where);

/* sg_spool_flush_rounds - queue/ fsyncs done by commits so far (statistics, tests). */
guint sg_spool_flush_rounds (SgSpool *spool);

/* --- Administration and the queue runner (spool_admin.c) ---
 *
 * Message states (queued, deferred, held, delivered, failed) live in the
 * metadata, not in directories: a state change is one atomic rename of the
 * .json, so there is no moment where a message is in two places or none.
 *
 * Whoever changes a message takes its lock first: an exclusive flock() on
 * queue/<ID>.eml. The queue runner holds it for a whole delivery attempt;
 * admin commands take it without waiting and refuse when it is busy. */

/* sg_spool_open_admin - open an existing spool without the daemon lock and
 * without a committer (no commits); SG_SPOOL_ERROR_NOT_FOUND if absent. */
SgSpool *sg_spool_open_admin (const char *dir, GError **error);

/* sg_spool_list - IDs of complete messages in queue/, sorted (arrival order). (transfer full) */
GPtrArray *sg_spool_list (SgSpool *spool, GError **error);

/* sg_spool_lock_message - lock one message; returns the lock fd (>= 0) or -1
 * with SG_SPOOL_ERROR_NOT_FOUND (no such message) or, when !wait,
 * SG_SPOOL_ERROR_BUSY (someone else holds it). */
int  sg_spool_lock_message (SgSpool *spool, const char *queue_id, gboolean wait, GError **error);
/* sg_spool_open_message - queue/<ID>.eml open for reading under a shared
 * lock (waits for a delivery in progress), so it cannot be retired and
 * recycled while read; close it with sg_spool_unlock_message. */
int  sg_spool_open_message (SgSpool *spool, const char *queue_id, GError **error);
/* sg_spool_unlock_message - release a lock from sg_spool_lock_message. */
void sg_spool_unlock_message (int lock_fd);

/* A message handed to delivery: its .eml open for reading and what the
 * next hop must be told about it, so that nobody opens it by path or reads
 * it to classify it. Borrowed from the lock: valid while the lock is held;
 * read it with pread() (the offset is not ours to move). */
typedef struct {
  int      fd;        /* queue/<ID>.eml, read-only */
  guint64  size;      /* its bytes now (SIZE=, RFC 1870) */
  gboolean eightbit;  /* an octet with the high bit set: BODY=8BITMIME (RFC 6152) */
} SgSpoolMessage;

/* sg_spool_locked_message - fill msg for the message whose lock
 * (sg_spool_lock_message) is lock_fd and whose metadata is meta. 8-bit
 * comes from meta, recorded at intake; metadata older than version 3 does
 * not know (SG_EIGHTBIT_UNKNOWN): the file is read once now and the answer
 * is set in meta, for the caller's next sg_spool_update_meta. */
gboolean sg_spool_locked_message (SgSpool *spool, int lock_fd, SgMeta *meta, SgSpoolMessage *msg,
                                  GError **error);

/* sg_spool_quarantine_damaged - queue_id's metadata could not be used:
 * under its lock (never waiting), read it again and, if it is still
 * unusable (unparsable, not a regular file, another ID), move the .eml and
 * then the .json to quarantine/ (never deleted). TRUE if moved; FALSE with
 * error unset if it turned out readable or gone, with error if busy or the
 * failure may be transient. */
gboolean sg_spool_quarantine_damaged (SgSpool *spool, const char *queue_id, GError **error);

/* sg_spool_space_available - bytes still free for us on the spool's file
 * system (spool_space.c); FALSE with error if it cannot be asked. */
gboolean sg_spool_space_available (const SgSpool *spool, guint64 *bytes, GError **error);

G_END_DECLS
