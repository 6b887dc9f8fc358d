/* spool.c - the spool as a whole: creating and locking its layout, the
 * synchronous commit, and reading, rewriting and removing one message.
 * The group-commit machinery lives in spool_commit.c, crash recovery in
 * spool_recover.c, raw file helpers in spool_file.c. */
#include "spool/spool_private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>

#define LOCK_PID_MAX 32

/* Locking: "<spool>/.lock" is the DAEMON lock. sg_spool_open takes an
 * exclusive, non-blocking flock() on it for the SgSpool's lifetime, so a
 * second daemon on the same spool fails at once. Readers (admin commands) do
 * not need it and must not take it: every file appears in queue/ by an atomic
 * rename, so a reader sees whole files only. */

G_DEFINE_QUARK (sg-spool-error-quark, sg_spool_error)

/* open_subdir - mkdir (if needed) and open one of the spool's directories. */
static int
open_subdir (int dir_fd, const char *dir, const char *name, gboolean *created, GError **error)
{
  int fd;
  mode_t mode = strcmp (name, SG_SPOOL_TMP_DIR) == 0 ? SG_SPOOL_TMP_DIR_MODE : SG_SPOOL_DIR_MODE;

  if (mkdirat (dir_fd, name, mode) == 0)
    *created = TRUE;
  else if (errno != EEXIST)
    return sg_spool_set_errno (error, errno, "mkdir %s/%s", dir, name), -1;
  fd = openat (dir_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return sg_spool_set_errno (error, errno, "open %s/%s", dir, name), -1;
  return fd;
}

/* take_lock - flock <spool>/.lock, failing clearly if another daemon has it. */
static gboolean
take_lock (SgSpool *spool, GError **error)
{
  char pid[LOCK_PID_MAX];
  int len;

  spool->lock_fd = openat (spool->dir_fd, SG_SPOOL_LOCK_FILE,
                           O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, SG_SPOOL_FILE_MODE);
  if (spool->lock_fd < 0)
    return sg_spool_set_errno (error, errno, "open %s/%s", spool->dir, SG_SPOOL_LOCK_FILE);
  if (flock (spool->lock_fd, LOCK_EX | LOCK_NB) != 0)
    {
      int errsv = errno;
      ssize_t n;

      if (errsv != EWOULDBLOCK)
        return sg_spool_set_errno (error, errsv, "lock %s/%s", spool->dir, SG_SPOOL_LOCK_FILE);
      n = pread (spool->lock_fd, pid, sizeof pid - 1, 0);
      pid[n > 0 ? n : 0] = '\0';
      g_strchomp (pid);
      g_set_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_LOCKED,
                   "spool %s is in use by another spoolgate daemon (pid %s); "
                   "only one daemon may serve a spool", spool->dir, *pid ? pid : "unknown");
      return FALSE;
    }
  /* Advisory only, for the message above; the flock is what counts. */
  len = g_snprintf (pid, sizeof pid, "%ld\n", (long) getpid ());
  if (ftruncate (spool->lock_fd, 0) != 0 || pwrite (spool->lock_fd, pid, (size_t) len, 0) != len)
    g_debug ("spool: cannot record pid in %s/%s: %s", spool->dir, SG_SPOOL_LOCK_FILE,
             g_strerror (errno));
  return TRUE;
}

/* spool_open - the daemon's open (create, lock, start the committer) or an
 * administrator's (the spool must exist; no lock, no committer: admin
 * commands serialise with the daemon per message, see spool_admin.c). */
static SgSpool *
spool_open (const char *dir, gboolean daemon, GError **error)
{
  g_autoptr(SgSpool) spool = NULL;
  gboolean created = FALSE;

  g_return_val_if_fail (dir != NULL, NULL);
  spool = g_new0 (SgSpool, 1);
  spool->dir = g_strdup (dir);
  spool->dir_fd = spool->tmp_fd = spool->queue_fd = spool->quarantine_fd = spool->lock_fd = -1;
  g_mutex_init (&spool->lock);
  sg_spool_pool_init (spool);
  g_cond_init (&spool->cond);
  g_cond_init (&spool->room);
  spool->room_wait_us = (gint64) SG_DEF_COMMIT_QUEUE_WAIT * G_USEC_PER_SEC;
  g_queue_init (&spool->pending);
  g_mutex_init (&spool->draft_lock);
  spool->draft_buffers = g_ptr_array_new_with_free_func (g_free);
  g_cond_init (&spool->draft_cond);
  spool->max_pending = SG_SPOOL_MAX_PENDING;
  spool->max_pending_bytes = SG_SPOOL_MAX_PENDING_BYTES;

  if (daemon && g_mkdir_with_parents (dir, SG_SPOOL_DIR_MODE) != 0)
    return sg_spool_set_errno (error, errno, "create spool directory %s", dir), NULL;
  spool->dir_fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (spool->dir_fd < 0)
    {
      if (!daemon && errno == ENOENT)
        {
          g_set_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND,
                       "no spool at %s", dir);
          return NULL;
        }
      return sg_spool_set_errno (error, errno, "open spool directory %s", dir), NULL;
    }
  if (daemon && !take_lock (spool, error))
    return NULL;
  /* tmp/ is the owner's alone: a reader in the spool's group (spoolgate
   * queue, show) opens the spool without it and never writes. */
  gboolean reader = !daemon && faccessat (spool->dir_fd, SG_SPOOL_TMP_DIR, X_OK, AT_EACCESS) != 0
                    && errno == EACCES;
  if ((!reader && (spool->tmp_fd = open_subdir (spool->dir_fd, dir, SG_SPOOL_TMP_DIR, &created,
                                                error)) < 0) ||
      (spool->queue_fd = open_subdir (spool->dir_fd, dir, SG_SPOOL_QUEUE_DIR, &created, error)) < 0 ||
      (spool->quarantine_fd = open_subdir (spool->dir_fd, dir, SG_SPOOL_QUARANTINE_DIR,
                                           &created, error)) < 0)
    return NULL;
  if (created && !sg_spool_fsync_dir (spool->dir_fd, dir, error))
    return NULL;
  if (daemon && !sg_spool_syncers_start (spool, error))
    return NULL;
  if (daemon && !sg_spool_worker_start (spool, error))
    return NULL;
  if (daemon && !(spool->draft_writer = g_thread_pool_new (sg_spool_draft_writer, spool, 1, FALSE, error)))
    return NULL;
  g_debug ("spool: opened %s%s", dir, daemon ? "" : " for administration");
  return g_steal_pointer (&spool);
}

/* sg_spool_open - create the layout if needed and lock it; no recovery. */
SgSpool *
sg_spool_open (const char *dir, GError **error)
{
  return spool_open (dir, TRUE, error);
}

/* sg_spool_open_admin - open an existing spool beside a running daemon. */
SgSpool *
sg_spool_open_admin (const char *dir, GError **error)
{
  return spool_open (dir, FALSE, error);
}

/* close_fd - close a directory or lock fd if open. */
static void
close_fd (int *fd)
{
  if (*fd >= 0)
    close (*fd);
  *fd = -1;
}

/* sg_spool_free - finish every queued async commit (each gets its callback,
 * dispatched in its context), stop the committer, release the lock. */
void
sg_spool_free (SgSpool *spool)
{
  if (spool == NULL)
    return;
  sg_spool_worker_stop (spool);
  sg_spool_syncers_stop (spool);
  /* Queued draft writes hold their drafts, which unlink in tmp/ at the end. */
  if (spool->draft_writer)
    g_thread_pool_free (spool->draft_writer, FALSE, TRUE);
  sg_spool_draft_buffers_clear (spool);
  g_mutex_clear (&spool->draft_lock);
  g_cond_clear (&spool->draft_cond);
  close_fd (&spool->tmp_fd);
  close_fd (&spool->queue_fd);
  close_fd (&spool->quarantine_fd);
  close_fd (&spool->dir_fd);
  close_fd (&spool->lock_fd);   /* releases the daemon lock */
  g_mutex_clear (&spool->lock);
  sg_spool_pool_clear (spool);
  g_cond_clear (&spool->cond);
  g_cond_clear (&spool->room);
  g_free (spool->dir);
  g_free (spool);
}

/* sg_spool_dir - the spool directory given to sg_spool_open. */
const char *
sg_spool_dir (const SgSpool *spool)
{
  g_return_val_if_fail (spool != NULL, NULL);
  return spool->dir;
}

/* sg_spool_commit - make header+body and meta durable as <ID>.eml and
 * <ID>.json in queue/ (write, fsync, rename, fsync dir). Thread-safe. */
gboolean
sg_spool_commit (SgSpool *spool, SgMeta *meta, GBytes *header, GBytes *body, GError **error)
{
  SgCommitJob *job;
  gboolean ok;

  g_return_val_if_fail (spool != NULL && meta != NULL, FALSE);
  job = sg_commit_job_new (meta, FALSE, header, body);
  sg_spool_commit_batch (spool, &job, 1);
  ok = job->error == NULL;
  if (!ok)
    g_propagate_error (error, g_steal_pointer (&job->error));
  sg_commit_job_free (job);
  return ok;
}

/* sg_spool_commit_draft - see spool.h. */
gboolean
sg_spool_commit_draft (SgSpool *spool, SgMeta *meta, SgSpoolDraft *draft, GError **error)
{
  SgCommitJob *job;
  gboolean ok;

  g_return_val_if_fail (spool != NULL && meta != NULL && draft != NULL, FALSE);
  job = sg_commit_job_new_draft (meta, FALSE, draft);
  sg_spool_commit_batch (spool, &job, 1);
  ok = job->error == NULL;
  if (!ok)
    g_propagate_error (error, g_steal_pointer (&job->error));
  sg_commit_job_free (job);
  return ok;
}

/* check_id - SG_SPOOL_ERROR_NOT_FOUND unless id is a valid queue ID; an ID
 * never contains '/', so it cannot name anything outside queue/. */
static gboolean
check_id (const char *id, GError **error)
{
  if (sg_queue_id_valid (id))
    return TRUE;
  g_set_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND,
               "\"%s\" is not a queue ID", id ? id : "(null)");
  return FALSE;
}

/* sg_spool_load_meta - read queue/<ID>.json (transfer full). */
SgMeta *
sg_spool_load_meta (SgSpool *spool, const char *queue_id, GError **error)
{
  g_autofree char *name = NULL;
  g_autofree char *data = NULL;
  g_autoptr(SgMeta) meta = NULL;
  gsize len = 0;

  g_return_val_if_fail (spool != NULL, NULL);
  if (!check_id (queue_id, error))
    return NULL;
  name = sg_spool_file_name (queue_id, SG_SPOOL_JSON_SUFFIX);
  data = sg_spool_read_at (spool->queue_fd, name, SG_SPOOL_MAX_META_SIZE, &len, error);
  if (data == NULL)
    return NULL;
  meta = sg_meta_from_json (data, (gssize) len, error);
  if (meta == NULL)
    {
      g_prefix_error (error, "queue/%s: ", name);
      return NULL;
    }
  if (strcmp (meta->queue_id, queue_id) != 0)
    {
      g_set_error (error, SG_META_ERROR, SG_META_ERROR_INVALID,
                   "queue/%s: holds queue_id %s", name, meta->queue_id);
      return NULL;
    }
  return g_steal_pointer (&meta);
}

/* sg_spool_update_meta - atomically replace queue/<ID>.json (tmp, fsync, rename, fsync dir). */
gboolean
sg_spool_update_meta (SgSpool *spool, const SgMeta *meta, GError **error)
{
  g_autofree char *eml = NULL;
  g_autofree char *name = NULL;
  g_autofree char *json = NULL;
  struct stat st;
  gsize len = 0;

  g_return_val_if_fail (spool != NULL && meta != NULL, FALSE);
  if (!check_id (meta->queue_id, error))
    return FALSE;
  /* Never resurrect a removed message as a lone .json. */
  eml = sg_spool_file_name (meta->queue_id, SG_SPOOL_EML_SUFFIX);
  if (fstatat (spool->queue_fd, eml, &st, AT_SYMLINK_NOFOLLOW) != 0)
    {
      if (errno == ENOENT)
        {
          g_set_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND,
                       "%s: no such message in the queue", meta->queue_id);
          return FALSE;
        }
      return sg_spool_set_errno (error, errno, "stat queue/%s", eml);
    }
  name = sg_spool_file_name (meta->queue_id, SG_SPOOL_JSON_SUFFIX);
  json = sg_meta_to_json (meta, &len);
  return sg_spool_replace_at (spool, name, json, len, error);
}

/* sg_spool_remove - delete a finished message: .json first (it is what makes
 * the message exist), then .eml, then fsync queue/. A crash in between leaves
 * a lone .eml, which recovery removes. */
gboolean
sg_spool_remove (SgSpool *spool, const char *queue_id, GError **error)
{
  g_autofree char *eml = NULL;
  g_autofree char *json = NULL;

  g_return_val_if_fail (spool != NULL, FALSE);
  if (!check_id (queue_id, error))
    return FALSE;
  json = sg_spool_file_name (queue_id, SG_SPOOL_JSON_SUFFIX);
  eml = sg_spool_file_name (queue_id, SG_SPOOL_EML_SUFFIX);
  if (unlinkat (spool->queue_fd, json, 0) != 0)
    {
      if (errno == ENOENT)
        {
          g_set_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND,
                       "%s: no such message in the queue", queue_id);
          return FALSE;
        }
      return sg_spool_set_errno (error, errno, "remove queue/%s", json);
    }
  if (unlinkat (spool->queue_fd, eml, 0) != 0 && errno != ENOENT)
    return sg_spool_set_errno (error, errno, "remove queue/%s", eml);
  return sg_spool_fsync_dir (spool->queue_fd, SG_SPOOL_QUEUE_DIR, error);
}

/* sg_spool_message_stat - see spool.h. */
gboolean
sg_spool_message_stat (SgSpool *spool, const char *queue_id, struct stat *st)
{
  g_autofree char *name = sg_spool_file_name (queue_id, SG_SPOOL_EML_SUFFIX);

  return fstatat (spool->queue_fd, name, st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* sg_spool_message_path - path of queue/<ID>.eml (transfer full). */
char *
sg_spool_message_path (SgSpool *spool, const char *queue_id)
{
  g_autofree char *name = NULL;

  g_return_val_if_fail (spool != NULL && queue_id != NULL, NULL);
  name = sg_spool_file_name (queue_id, SG_SPOOL_EML_SUFFIX);
  return g_build_filename (spool->dir, SG_SPOOL_QUEUE_DIR, name, NULL);
}
