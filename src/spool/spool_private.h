/* spool_private.h - what the spool's own files share: the SgSpool structure,
 * one commit job, file-system helpers (spool_file.c), the batch commit
 * (spool_commit.c) and test hooks. Not for use outside src/spool/ and
 * tests/spool/. */
#pragma once
#include <gio/gio.h>
#include "spool/spool.h"
#include "spool/spool_rejected.h"
#include "spool/queue_id.h"
#include "config/limits.h"

G_BEGIN_DECLS

#define SG_SPOOL_TMP_DIR        "tmp"
#define SG_SPOOL_QUEUE_DIR      "queue"
#define SG_SPOOL_QUARANTINE_DIR "quarantine"
/* Group spoolgate may read the queue (spoolgate queue and show, as mailq);
 * only the owner writes. tmp/ holds messages not yet accepted: owner only. */
#define SG_SPOOL_DIR_MODE       0750
#define SG_SPOOL_TMP_DIR_MODE   0700
#define SG_SPOOL_FILE_MODE      0640
#define SG_SPOOL_EML_SUFFIX     ".eml"
#define SG_SPOOL_JSON_SUFFIX    ".json"
#define SG_SPOOL_MAX_META_SIZE  (16u * 1024u * 1024u)  /* refuse bigger <ID>.json */
#define SG_SPOOL_TMP_NAME_MAX   40                     /* "<ID>.json" or "free-<16 hex>" + NUL */
#define SG_SPOOL_POOL_PREFIX    "free-"
#define SG_SPOOL_DRAFT_PREFIX   "draft-"                /* tmp/draft-<16 hex>: a message arriving */
#define SG_SPOOL_DRAFT_WRITEBACK (1024u * 1024u)        /* a draft starts write-back every this many bytes */
#define SG_SPOOL_DRAFT_QUEUE_MAX (16u * 1024u * 1024u)  /* bytes of draft appends waiting for the writer */
#define SG_SPOOL_DIRECT_MIN     (1024u * 1024u)        /* .eml files this big bypass the page cache */
#define SG_SPOOL_DIRECT_ALIGN   4096u                  /* buffer, offset and length alignment of O_DIRECT */
#define SG_SPOOL_DIRECT_CHUNK   (1024u * 1024u)        /* bytes per direct write */
#define SG_SPOOL_RECYCLE_MAX_FILE (1024u * 1024u)       /* bigger files are unlinked, not kept */
#define SG_SPOOL_SCAN_CHUNK     (64u * 1024u)          /* bytes read at once looking for 8-bit */

/* Group-commit bounds: see spool_commit.c for the design. */
#define SG_SPOOL_MAX_BATCH         64u    /* messages per flush round (2 fds each) */
#define SG_SPOOL_SYNC_THREADS      4u     /* helpers fdatasyncing a round's files at once (spool_sync.c) */
#define SG_SPOOL_SYNC_SERIAL_MAX   2u     /* rounds of this many files (one message) are synced on the caller, one after the other */
#define SG_SPOOL_COMMITTERS        2u     /* committer threads: one batch syncs its names while the next syncs its files */
#define SG_SPOOL_MAX_PENDING       SG_DEF_COMMIT_QUEUE_MESSAGES  /* [spool] commit_queue_messages */
#define SG_SPOOL_MAX_PENDING_BYTES SG_DEF_COMMIT_QUEUE_BYTES     /* [spool] commit_queue_bytes */

struct _SgSpool {
  char *dir;
  int   dir_fd, tmp_fd, queue_fd, quarantine_fd, lock_fd;

  /* The committer threads and their queue; all guarded by lock. */
  GMutex   lock;
  GCond    cond;
  GCond    room;             /* signalled when the committer takes a batch */
  gint64   room_wait_us;     /* how long a commit waits for room; 0 = fail at once */
  GQueue   pending;          /* SgCommitJob* */
  gsize    pending_bytes;
  guint    max_pending;
  gsize    max_pending_bytes;
  gboolean stopping;
  gboolean held;             /* test hook: worker takes no batch while set */
  GThread *workers[SG_SPOOL_COMMITTERS];  /* the committer threads */
  guint    n_workers;        /* started; 0 = none (an administrator's open) */

  gint flush_rounds;         /* atomic: directory fsyncs done by commits */
  gint sync_method;          /* atomic: SgSpoolSyncMethod ([spool] sync_method) */
  GThreadPool *syncers;      /* SG_SPOOL_SYNC_THREADS helpers of sg_spool_fdatasync_all */

  /* Recycled files in tmp/ (spool_pool.c); guarded by pool_lock. */
  GMutex   pool_lock;
  GArray  *pool;             /* guint64 numbers of tmp/free-<n> files */
  guint    pool_max;         /* [spool] recycle_files; 0 = never recycle */
  guint64  pool_next;        /* next free-<n> number */

  gsize    draft_next;       /* atomic: next tmp/draft-<n> number */
  GThreadPool *draft_writer; /* one thread: writes drafts' appends in order (spool_draft.c) */
  GMutex   draft_lock;       /* guards draft_queued and every draft's pending/errsv */
  GCond    draft_cond;       /* a queued append finished */
  gsize    draft_queued;     /* bytes appended, not yet written */
  GPtrArray *draft_buffers;  /* written SG_SPOOL_DRAFT_BUFFER buffers kept for reuse */
};

/* One message being committed, synchronously or by the committer thread. */
typedef struct {
  SgMeta  *meta;
  gboolean owns_meta;
  GBytes  *header, *body;
  SgSpoolDraft *draft;                   /* (nullable) instead of header+body: the .eml is written */
  char     id[SG_QUEUE_ID_LEN + 1];
  char    *json;
  gsize    json_len;
  int      eml_fd, json_fd;              /* open tmp/ files, -1 when closed */
  char     eml_tmp[SG_SPOOL_TMP_NAME_MAX], json_tmp[SG_SPOOL_TMP_NAME_MAX]; /* their tmp/ names */
  gboolean eml_in_tmp, json_in_tmp;      /* what we created and must clean up */
  gboolean eml_in_queue, json_in_queue;
  GError  *error;                        /* set once the job has failed */
  gint64   queued_us;                    /* monotonic: handed to the spool */
  /* async only */
  GMainContext     *context;
  SgSpoolCommitFunc callback;
  gpointer          user_data;
} SgCommitJob;

/* spool_pool.c */
gboolean sg_spool_pool_take (SgSpool *spool, char name[SG_SPOOL_TMP_NAME_MAX]);
void     sg_spool_pool_init (SgSpool *spool);
void     sg_spool_pool_clear (SgSpool *spool);

/* spool_file.c */
gboolean sg_spool_set_errno (GError **error, int errsv, const char *format, ...) G_GNUC_PRINTF (3, 4);
gboolean sg_spool_write_all (int fd, const guint8 *data, gsize len, int *errsv);
char    *sg_spool_sha256_hex (const guint8 *a, gsize a_len, const guint8 *b, gsize b_len);
char    *sg_spool_digest_hex (const unsigned char *md, unsigned int md_len);
gboolean sg_spool_write_direct (int fd, const guint8 *a, gsize a_len, const guint8 *b, gsize b_len,
                                int *errsv);
int      sg_spool_rename_noreplace (int from_dir, const char *from, int to_dir, const char *to);
/* sg_spool_flock - flock(fd, op), without waiting unless wait, retrying on
 * EINTR; 0 or the errno (EWOULDBLOCK: someone else holds it). */
int      sg_spool_flock (int fd, int op, gboolean wait);
gboolean sg_spool_fsync_dir (int dir_fd, const char *what, GError **error);
char    *sg_spool_read_at (int dir_fd, const char *name, gsize max, gsize *length, GError **error);
gboolean sg_spool_replace_at (SgSpool *spool, const char *name, const char *data, gsize len,
                              GError **error);
char    *sg_spool_file_name (const char *id, const char *suffix);

/* spool_sync.c */
gboolean sg_spool_syncers_start (SgSpool *spool, GError **error);
void     sg_spool_syncers_stop (SgSpool *spool);
void     sg_spool_fdatasync_all (SgSpool *spool, const int *fds, int *errs, guint n);
int      sg_spool_syncfs (SgSpool *spool);

/* spool_draft.c */
void  sg_spool_draft_writer (gpointer write, gpointer spool);
void  sg_spool_draft_buffers_clear (SgSpool *spool);
char *sg_spool_draft_sha256_hex (SgSpoolDraft *draft, GError **error);
void  sg_spool_draft_hand_over (SgSpoolDraft *draft, int *fd, char tmp_name[SG_SPOOL_TMP_NAME_MAX]);

/* spool_commit.c */
SgCommitJob *sg_commit_job_new (SgMeta *meta, gboolean owns_meta, GBytes *header, GBytes *body);
SgCommitJob *sg_commit_job_new_draft (SgMeta *meta, gboolean owns_meta, SgSpoolDraft *draft);
void         sg_commit_job_free (SgCommitJob *job);
void         sg_spool_commit_batch (SgSpool *spool, SgCommitJob **jobs, guint n_jobs);
gboolean     sg_spool_worker_start (SgSpool *spool, GError **error);
void         sg_spool_worker_stop (SgSpool *spool);

/* spool_release.c (protocol: spool_rejected.h) */
#define SG_RELEASE_INTENT_SUFFIX ".queued"
/* sg_spool_recover_releases - start-up: resolve every release cut short
 * (rejected/<ID>.queued) if no release holds rejected/ now. */
void sg_spool_recover_releases (SgSpool *spool);
/* spool_rejected.c: the store's directory, for spool_release.c. */
int         sg_rejected_dir_fd (SgRejected *store);
const char *sg_rejected_dir (SgRejected *store);

/* Test hooks. */
void sg_spool_commit_hold (SgSpool *spool, gboolean hold);
/* sg_release_set_step_hook - call hook (NULL: none) at each numbered step
 * of a release or of its resolution (SgReleaseStep), so that a test can
 * _exit() there: a crash at that point. Not thread-safe; tests only. */
typedef enum {
  SG_RELEASE_LOCKED = 1,      /* 1: rejected/ locked, leftovers resolved */
  SG_RELEASE_INTENT_WRITTEN,  /* 3: <ID>.queued written, not yet durable */
  SG_RELEASE_INTENT_DURABLE,  /* 3: and fsynced */
  SG_RELEASE_COPY_WRITTEN,    /* 4: the message in tmp/, fsynced */
  SG_RELEASE_COPY_QUEUED,     /* 4: renamed to queue/<ID>.eml */
  SG_RELEASE_DECIDED,         /* 5: rejected/<ID>.json unlinked, not yet durable */
  SG_RELEASE_DECISION_DURABLE,/* 5: and rejected/ fsynced */
  SG_RELEASE_PUBLISHED,       /* 6: queue/<ID>.json in place, not yet durable */
  SG_RELEASE_PUBLISH_DURABLE, /* 6: and both directories fsynced */
  SG_RELEASE_DONE,            /* 7: rejected/<ID>.eml removed */
  SG_RELEASE_UNDO_COPY,       /* undo: the lone queue/<ID>.eml removed */
  SG_RELEASE_UNDONE,          /* undo: <ID>.queued removed */
  SG_RELEASE_STEPS
} SgReleaseStep;
typedef void (*SgReleaseStepHook) (SgReleaseStep step);
void sg_release_set_step_hook (SgReleaseStepHook hook);

G_END_DECLS
