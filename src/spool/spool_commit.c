/* spool_commit.c - making messages durable: one commit job per message, the
 * batch that writes, syncs and publishes several jobs under a single fsync of
 * queue/, and the committer threads behind sg_spool_commit_async (group
 * commit). sg_spool_commit (spool.c) runs a batch of one on the caller's
 * thread; recovery of half-done commits is spool_recover.c's business. Each
 * durable commit is timed for spoolgate_spool_commit_seconds. */
#include "spool/spool_private.h"
#include "metrics/metrics.h"
#include "common/log.h"


#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* Group commit, and why it is crash-safe. [spool] sync_method chooses how
 * steps 2 and 4 reach stable storage; the order is the same for both:
 *  1. every job writes its .eml and .json into tmp/ - as tmp/<ID>.eml and
 *     tmp/<ID>.json (O_EXCL, 0640), or into recycled tmp/free-<n> files
 *     opened O_TRUNC (spool_pool.c) - and, with fdatasync, starts their
 *     write-back at once (sync_file_range), so the device sees the whole
 *     batch before we wait for any of it;
 *  2. the files' bytes and sizes are made durable, and only then is anything
 *     renamed, so nothing reaches queue/ before its bytes are on stable
 *     storage:
 *     - fdatasync: every file is fdatasync()ed, a group's files at once on
 *       the helper threads of spool_sync.c (a lone message's two on the
 *       committer: their write-back began together in step 1, and a helper
 *       would cost more than it saves). For a freshly written or truncated file
 *       fdatasync covers the data and the size, which is all the file itself
 *       needs; its name is the directory's business;
 *     - syncfs: one syncfs() of the spool's file system writes back every
 *       dirty page and inode on it, ours included, and flushes the device
 *       cache; one more flush follows it, because without a journal the
 *       inode blocks are written after syncfs's own flush (see
 *       sg_spool_syncfs). Since Linux 5.8 syncfs also reports any
 *       write-back error on the file system since the last call, so a
 *       failed write of ours fails the whole group (never a false 250; at
 *       worst a needless 451);
 *  3. each job renames .eml then .json into queue/ with RENAME_NOREPLACE
 *     (an ID collision fails instead of overwriting);
 *  4. the names are made durable: fdatasync does ONE fsync() of queue/;
 *     syncfs does a second syncfs() and flush, which write the directory's
 *     blocks (and, on a journalled file system, commit the journal) and
 *     flush the device cache after them; nothing else is needed for the
 *     directory. tests/spool/test-spool-flush.c traces both methods at the
 *     block layer: every write completes before a flush that completes
 *     before the commit returns.
 *     Only after this succeeds does any job report success, and only then
 *     may SMTP say 250.
 * So before 250, with either method: the .eml's bytes, the .json's bytes,
 * both sizes and both queue/ names are on stable storage. What differs is
 * the cost: fdatasync flushes exactly our files (two flush rounds per
 * group: the files, then queue/); syncfs flushes the whole file system, in
 * two rounds whatever the group size, which is cheapest when the spool is a
 * file system of its own (sg_spool_set_sync_method logs whether it is) and
 * slow on a disk shared with busy writers. Write-back errors are per file
 * with fdatasync, per file system with syncfs.
 * A crash before step 4 may leave any subset of the batch's names; none of
 * those messages was acknowledged, and recovery removes a lone .eml and
 * quarantines a lone .json, so nothing acknowledged is lost.
 * tmp/ itself is never fsynced: a crash may leave a file's old tmp/ name as
 * well as its queue/ name, and recovery's purge of tmp/ only drops that link.
 *
 * A draft (spool_draft.c) is a job whose .eml was written to tmp/ while the
 * message arrived, its write-back started every MiB: step 1 only starts the
 * rest of its write-back, and steps 2-4 are the same, so it gets the same
 * guarantees without its bytes being copied again.
 *
 * The queue in front of the committer is bounded ([spool] commit_queue_messages
 * jobs, commit_queue_bytes of message data): beyond that a commit waits up to
 * commit_queue_wait on its intake worker thread (never the main loop that
 * every session shares), then fails with SG_SPOOL_ERROR_IO, which the session
 * turns into a 451. */

/* sg_commit_job_new - a job for one message; owns meta only if owns_meta. */
SgCommitJob *
sg_commit_job_new (SgMeta *meta, gboolean owns_meta, GBytes *header, GBytes *body)
{
  SgCommitJob *job = g_new0 (SgCommitJob, 1);

  job->meta = meta;
  job->owns_meta = owns_meta;
  job->header = header ? g_bytes_ref (header) : g_bytes_new_static ("", 0);
  job->body = body ? g_bytes_ref (body) : g_bytes_new_static ("", 0);
  job->eml_fd = job->json_fd = -1;
  job->queued_us = g_get_monotonic_time ();
  return job;
}

/* sg_commit_job_new_draft - a job whose .eml is draft's file (transfer full). */
SgCommitJob *
sg_commit_job_new_draft (SgMeta *meta, gboolean owns_meta, SgSpoolDraft *draft)
{
  SgCommitJob *job = sg_commit_job_new (meta, owns_meta, NULL, NULL);

  job->draft = draft;
  return job;
}

/* sg_commit_job_free - free a finished job (its files are already dealt with). */
void
sg_commit_job_free (SgCommitJob *job)
{
  if (job == NULL)
    return;
  if (job->eml_fd >= 0)
    close (job->eml_fd);
  if (job->json_fd >= 0)
    close (job->json_fd);
  if (job->owns_meta)
    sg_meta_free (job->meta);
  g_bytes_unref (job->header);
  g_bytes_unref (job->body);
  sg_spool_draft_free (job->draft);
  g_free (job->json);
  g_clear_error (&job->error);
  g_clear_pointer (&job->context, g_main_context_unref);
  g_free (job);
}

/* job_prepare - fill in ID, arrival time, size and SHA-256, and serialise. */
static gboolean
job_prepare (SgCommitJob *job)
{
  SgMeta *meta = job->meta;
  gsize hlen, blen;
  const guint8 *h = g_bytes_get_data (job->header, &hlen);
  const guint8 *b = g_bytes_get_data (job->body, &blen);

  if (meta->queue_id == NULL)
    {
      sg_queue_id_generate (job->id);
      meta->queue_id = g_strdup (job->id);
    }
  else if (!sg_queue_id_valid (meta->queue_id))
    {
      g_set_error (&job->error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_IO,
                   "invalid queue ID \"%s\"", meta->queue_id);
      return FALSE;
    }
  g_strlcpy (job->id, meta->queue_id, sizeof job->id);
  if (meta->arrival_time_us == 0)
    meta->arrival_time_us = sg_queue_id_time (job->id);

  char *sha256;
  if (job->draft != NULL)
    {
      sha256 = sg_spool_draft_sha256_hex (job->draft, &job->error);
      if (sha256 == NULL)
        return FALSE;
      meta->message_size = sg_spool_draft_size (job->draft);
    }
  else
    {
      sha256 = sg_spool_sha256_hex (h, hlen, b, blen);
      if (sha256 == NULL)
        {
          g_set_error (&job->error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_IO, "SHA-256 failed");
          return FALSE;
        }
      meta->message_size = (guint64) hlen + (guint64) blen;
    }
  g_free (meta->sha256);
  meta->sha256 = sha256;
  job->json = sg_meta_to_json (meta, &job->json_len);
  return TRUE;
}

/* job_create - open a file in tmp/ and write a then b: a recycled file
 * (spool_pool.c) truncated, or else a new tmp/<ID><suffix> made exclusively.
 * Its tmp/ name goes into tmp_name. */
static int
job_create (SgSpool *spool, SgCommitJob *job, const char *suffix, char *tmp_name,
            gboolean *created, const guint8 *a, gsize a_len, const guint8 *b, gsize b_len)
{
  int fd = -1, errsv = 0;

  if (sg_spool_pool_take (spool, tmp_name))
    {
      fd = openat (spool->tmp_fd, tmp_name, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
      if (fd < 0)
        g_debug ("spool: recycled tmp/%s: %s; creating a new file", tmp_name, g_strerror (errno));
    }
  gboolean direct = fd < 0 && a_len + b_len >= SG_SPOOL_DIRECT_MIN;
  if (fd < 0)
    {
      g_snprintf (tmp_name, SG_SPOOL_TMP_NAME_MAX, "%s%s", job->id, suffix);
      fd = openat (spool->tmp_fd, tmp_name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC
                   | (direct ? O_DIRECT : 0), SG_SPOOL_FILE_MODE);
      if (fd < 0 && direct && errno == EINVAL)
        {
          direct = FALSE;    /* a file system without O_DIRECT (tmpfs) */
          fd = openat (spool->tmp_fd, tmp_name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                       SG_SPOOL_FILE_MODE);
        }
    }
  if (fd < 0)
    {
      sg_spool_set_errno (&job->error, errno, "create tmp/%s", tmp_name);
      return -1;
    }
  *created = TRUE;
  if (direct && !sg_spool_write_direct (fd, a, a_len, b, b_len, &errsv))
    {
      /* Refused alignment: start over through the page cache. */
      direct = FALSE;
      if (errsv != EINVAL || fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) & ~O_DIRECT) != 0
          || ftruncate (fd, 0) != 0 || lseek (fd, 0, SEEK_SET) != 0)
        {
          close (fd);
          sg_spool_set_errno (&job->error, errsv, "write tmp/%s", tmp_name);
          return -1;
        }
      errsv = 0;
    }
  else if (direct)
    return fd;               /* on the device already; fdatasync() does the rest */
  if (!sg_spool_write_all (fd, a, a_len, &errsv) || !sg_spool_write_all (fd, b, b_len, &errsv))
    {
      close (fd);
      sg_spool_set_errno (&job->error, errsv, "write tmp/%s", tmp_name);
      return -1;
    }
  /* Start write-back now so the batch's files go to the device together;
   * fdatasync() below waits for it and reports any error. (syncfs starts
   * all of it in one call.) */
  if (sg_spool_get_sync_method (spool) == SG_SPOOL_SYNC_FDATASYNC)
    (void) sync_file_range (fd, 0, 0, SYNC_FILE_RANGE_WRITE);
  return fd;
}

/* job_write - write the .eml (header then body) and the .json in tmp/. */
static gboolean
job_write (SgSpool *spool, SgCommitJob *job)
{
  gsize hlen, blen;
  const guint8 *h = g_bytes_get_data (job->header, &hlen);
  const guint8 *b = g_bytes_get_data (job->body, &blen);

  if (job->draft != NULL)
    {
      /* Written while it arrived: take the file over and start write-back. */
      sg_spool_draft_hand_over (job->draft, &job->eml_fd, job->eml_tmp);
      job->eml_in_tmp = TRUE;
      (void) sync_file_range (job->eml_fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    }
  else
    job->eml_fd = job_create (spool, job, SG_SPOOL_EML_SUFFIX, job->eml_tmp, &job->eml_in_tmp,
                              h, hlen, b, blen);
  if (job->eml_fd < 0)
    return FALSE;
  job->json_fd = job_create (spool, job, SG_SPOOL_JSON_SUFFIX, job->json_tmp, &job->json_in_tmp,
                             NULL, 0, (const guint8 *) job->json, job->json_len);
  return job->json_fd >= 0;
}

/* job_close_fd - close one of the job's synced files; errsv is the sync's
 * outcome (0 or an errno value). FALSE with job->error set on failure. */
static gboolean
job_close_fd (SgCommitJob *job, int *fd, const char *suffix, int errsv)
{
  int rc = close (*fd);

  *fd = -1;
  if (rc != 0 && errno != EINTR && errsv == 0)
    errsv = errno;      /* (EINTR: Linux has closed it anyway, and the data is synced) */
  if (errsv != 0)
    return sg_spool_set_errno (&job->error, errsv, "sync tmp/%s%s", job->id, suffix);
  return TRUE;
}

/* job_publish - rename both files into queue/, .eml first. */
static gboolean
job_publish (SgSpool *spool, SgCommitJob *job)
{
  static const char *const suffixes[] = { SG_SPOOL_EML_SUFFIX, SG_SPOOL_JSON_SUFFIX };
  const char *tmp[] = { job->eml_tmp, job->json_tmp };
  gboolean *in_tmp[] = { &job->eml_in_tmp, &job->json_in_tmp };
  gboolean *in_queue[] = { &job->eml_in_queue, &job->json_in_queue };

  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *name = sg_spool_file_name (job->id, suffixes[i]);
      int errsv = sg_spool_rename_noreplace (spool->tmp_fd, tmp[i], spool->queue_fd, name);

      if (errsv != 0)
        return sg_spool_set_errno (&job->error, errsv, "rename tmp/%s to queue/%s", tmp[i], name);
      *in_tmp[i] = FALSE;
      *in_queue[i] = TRUE;
    }
  return TRUE;
}

/* job_abort - remove whatever this job created, .json before .eml. */
static void
job_abort (SgSpool *spool, SgCommitJob *job)
{
  g_autofree char *eml = sg_spool_file_name (job->id, SG_SPOOL_EML_SUFFIX);
  g_autofree char *json = sg_spool_file_name (job->id, SG_SPOOL_JSON_SUFFIX);

  if (job->eml_fd >= 0)
    close (job->eml_fd);
  if (job->json_fd >= 0)
    close (job->json_fd);
  job->eml_fd = job->json_fd = -1;
  if (job->json_in_queue && unlinkat (spool->queue_fd, json, 0) != 0)
    g_warning ("spool: cannot remove queue/%s of a failed commit: %s", json, g_strerror (errno));
  if (job->eml_in_queue && unlinkat (spool->queue_fd, eml, 0) != 0)
    g_warning ("spool: cannot remove queue/%s of a failed commit: %s", eml, g_strerror (errno));
  if (job->json_in_tmp)
    unlinkat (spool->tmp_fd, job->json_tmp, 0);
  if (job->eml_in_tmp)
    unlinkat (spool->tmp_fd, job->eml_tmp, 0);
  job->eml_in_tmp = job->json_in_tmp = job->eml_in_queue = job->json_in_queue = FALSE;
  g_debug ("%s: commit failed: %s", job->id, job->error ? job->error->message : "?");
}

/* batch_sync_files - step 2: make every written file's bytes durable, by
 * the spool's method; a job whose file failed is aborted. */
static void
batch_sync_files (SgSpool *spool, SgCommitJob **jobs, guint n_jobs)
{
  int fds[2 * SG_SPOOL_MAX_BATCH], errs[2 * SG_SPOOL_MAX_BATCH];
  guint n = 0;

  g_assert (n_jobs <= SG_SPOOL_MAX_BATCH);
  for (guint i = 0; i < n_jobs; i++)
    if (jobs[i]->error == NULL)
      {
        fds[n++] = jobs[i]->eml_fd;
        fds[n++] = jobs[i]->json_fd;
      }
  if (n == 0)
    return;
  if (sg_spool_get_sync_method (spool) == SG_SPOOL_SYNC_SYNCFS)
    {
      int errsv = sg_spool_syncfs (spool);
      for (guint i = 0; i < n; i++)
        errs[i] = errsv;
    }
  else
    sg_spool_fdatasync_all (spool, fds, errs, n);
  n = 0;
  for (guint i = 0; i < n_jobs; i++)
    if (jobs[i]->error == NULL)
      {
        gboolean ok = job_close_fd (jobs[i], &jobs[i]->eml_fd, SG_SPOOL_EML_SUFFIX, errs[n]);
        ok = job_close_fd (jobs[i], &jobs[i]->json_fd, SG_SPOOL_JSON_SUFFIX,
                           ok ? errs[n + 1] : 0) && ok;
        n += 2;
        if (!ok)
          job_abort (spool, jobs[i]);
      }
}

/* batch_sync_names - step 4: make the renames into queue/ durable. */
static gboolean
batch_sync_names (SgSpool *spool, GError **error)
{
  if (sg_spool_get_sync_method (spool) == SG_SPOOL_SYNC_SYNCFS)
    {
      int errsv = sg_spool_syncfs (spool);
      return errsv == 0 || sg_spool_set_errno (error, errsv, "syncfs %s", spool->dir);
    }
  return sg_spool_fsync_dir (spool->queue_fd, SG_SPOOL_QUEUE_DIR, error);
}

/* log_arrival - the message's first log lines, in Postfix's order:
 *   smtpd    ID: client=NAME[ADDR]           (SMTP arrivals only)
 *   cleanup  ID: message-id=<...>
 *   qmgr     ID: from=<S>, size=N, nrcpt=N (queue active)
 * then the lines held back while it was checked (warnings, milters), all
 * written just before its .json is renamed into queue/: the queue runner
 * cannot see the message earlier, so no delivery line can come before
 * them. (A commit that fails after them is followed by "spool commit
 * failed" and the client's 4xx.) */
static void
log_arrival (const SgMeta *meta)
{
  SgLogHeld *held = sg_log_unhold (meta->queue_id);
  g_autofree char *sender = sg_log_sanitize (meta->sender, -1, SG_LOG_FIELD_MAX);
  if (meta->log_client)
    sg_log_info (SG_LOG_SMTPD, "%s: client=%s", meta->queue_id, meta->log_client);
  if (meta->message_id || meta->log_client)
    {
      g_autofree char *id = meta->message_id
                          ? sg_log_sanitize (meta->message_id, -1, SG_LOG_FIELD_MAX)
                          : g_strdup ("<>");
      sg_log_info (SG_LOG_CLEANUP, "%s: message-id=%s", meta->queue_id, id);
    }
  sg_log_info (SG_LOG_QMGR, "%s: from=<%s>, size=%" G_GUINT64_FORMAT ", nrcpt=%u (queue active)",
               meta->queue_id, sender, meta->message_size, meta->recipients->len);
  sg_log_held_write (held);
}

/* sg_spool_commit_batch - commit jobs together: write all, sync all, publish
 * all, then make the names durable (see "Group commit" above). Afterwards each job has error set or is
 * durable in queue/. */
void
sg_spool_commit_batch (SgSpool *spool, SgCommitJob **jobs, guint n_jobs)
{
  g_autoptr(GError) dir_error = NULL;
  gboolean any_published = FALSE;

  for (guint i = 0; i < n_jobs; i++)
    if (!job_prepare (jobs[i]) || !job_write (spool, jobs[i]))
      job_abort (spool, jobs[i]);
  batch_sync_files (spool, jobs, n_jobs);
  for (guint i = 0; i < n_jobs; i++)
    {
      if (jobs[i]->error != NULL)
        continue;
      log_arrival (jobs[i]->meta);
      if (job_publish (spool, jobs[i]))
        any_published = TRUE;
      else
        job_abort (spool, jobs[i]);
    }
  if (!any_published)
    return;

  g_atomic_int_inc (&spool->flush_rounds);
  if (batch_sync_names (spool, &dir_error))
    {
      gint64 now = g_get_monotonic_time ();
      for (guint i = 0; i < n_jobs; i++)
        if (jobs[i]->error == NULL)
          sg_metrics_observe_us (SG_HISTOGRAM_SPOOL_COMMIT, now - jobs[i]->queued_us);
      return;
    }
  /* The names' durability is unknown: none of these was acknowledged, so
   * take them all back rather than risk a half-visible message. */
  for (guint i = 0; i < n_jobs; i++)
    if (jobs[i]->error == NULL)
      {
        jobs[i]->error = g_error_copy (dir_error);
        job_abort (spool, jobs[i]);
      }
  (void) fsync (spool->queue_fd);
}

/* ---- the committer threads ---- */

/* job_dispatch - run one job's callback in its main context. */
static gboolean
job_dispatch (gpointer data)
{
  SgCommitJob *job = data;

  if (job->callback != NULL)
    job->callback (job->meta, job->error, job->user_data);
  return G_SOURCE_REMOVE;
}

/* job_finish - hand a finished job to its context; the source owns it now. */
static void
job_finish (SgCommitJob *job)
{
  g_autoptr(GSource) source = g_idle_source_new ();

  /* An explicit source, not g_main_context_invoke(): that would run the
   * callback on this thread whenever the context happens to be free. */
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, job_dispatch, job, (GDestroyNotify) sg_commit_job_free);
  g_source_set_static_name (source, "sg-spool-commit");
  g_source_attach (source, job->context);
}

/* commit_worker - take everything queued (up to a batch), commit it, repeat;
 * drains the queue before it stops. One of SG_SPOOL_COMMITTERS. */
static gpointer
commit_worker (gpointer data)
{
  SgSpool *spool = data;
  SgCommitJob *batch[SG_SPOOL_MAX_BATCH];

  g_mutex_lock (&spool->lock);
  for (;;)
    {
      guint n = 0;

      while (!spool->stopping && (spool->held || g_queue_is_empty (&spool->pending)))
        g_cond_wait (&spool->cond, &spool->lock);
      if (g_queue_is_empty (&spool->pending))
        break;          /* stopping, and nothing left */
      while (n < SG_SPOOL_MAX_BATCH && !g_queue_is_empty (&spool->pending))
        {
          SgCommitJob *job = g_queue_pop_head (&spool->pending);

          spool->pending_bytes -= g_bytes_get_size (job->header) + g_bytes_get_size (job->body);
          batch[n++] = job;
        }
      g_cond_broadcast (&spool->room);
      g_mutex_unlock (&spool->lock);

      sg_spool_commit_batch (spool, batch, n);
      for (guint i = 0; i < n; i++)
        job_finish (batch[i]);

      g_mutex_lock (&spool->lock);
    }
  g_mutex_unlock (&spool->lock);
  return NULL;
}

/* sg_spool_worker_start - start the committer threads. Two, so that the
 * disk is kept busy: while one batch waits for its names (step 4), the
 * next is written and synced (steps 1-2). Each batch keeps its own order,
 * so the argument above holds for each; batches never wait for each other. */
gboolean
sg_spool_worker_start (SgSpool *spool, GError **error)
{
  for (guint i = 0; i < SG_SPOOL_COMMITTERS; i++)
    {
      GThread *t = g_thread_try_new ("sg-spool-commit", commit_worker, spool, error);

      if (t == NULL)
        return FALSE;   /* sg_spool_free stops the ones already started */
      g_mutex_lock (&spool->lock);
      spool->workers[spool->n_workers++] = t;
      g_mutex_unlock (&spool->lock);
    }
  return TRUE;
}

/* sg_spool_worker_stop - let the committers finish every queued job, then join them. */
void
sg_spool_worker_stop (SgSpool *spool)
{
  if (spool->n_workers == 0)
    return;
  g_mutex_lock (&spool->lock);
  spool->stopping = TRUE;
  g_cond_broadcast (&spool->cond);
  g_cond_broadcast (&spool->room);
  g_mutex_unlock (&spool->lock);
  for (guint i = 0; i < spool->n_workers; i++)
    g_thread_join (g_steal_pointer (&spool->workers[i]));
  spool->n_workers = 0;
}

/* commit_queue - hand job (transfer full) to the committer, or fail it
 * through its context when the queue stays full. */
static void
commit_queue (SgSpool *spool, SgCommitJob *job, GMainContext *context,
              SgSpoolCommitFunc callback, gpointer user_data)
{
  gsize bytes;

  job->context = context ? g_main_context_ref (context) : g_main_context_ref_thread_default ();
  job->callback = callback;
  job->user_data = user_data;
  bytes = g_bytes_get_size (job->header) + g_bytes_get_size (job->body);

  g_mutex_lock (&spool->lock);
  /* Full: wait up to [spool] commit_queue_wait for the committer to take a
   * batch (the caller is an intake worker, never the main loop, and the
   * message is in memory already, so waiting costs nothing that failing
   * would save), then give up with a 451. */
  gint64 deadline = g_get_monotonic_time () + spool->room_wait_us;
  while (spool->n_workers > 0 && !spool->stopping
         && (spool->pending.length >= spool->max_pending
             || (spool->pending.length > 0 && spool->pending_bytes + bytes > spool->max_pending_bytes))
         && g_cond_wait_until (&spool->room, &spool->lock, deadline))
    ;
  if (spool->n_workers == 0 || spool->stopping)
    g_set_error_literal (&job->error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_IO,
                         "spool is shutting down");
  else if (spool->pending.length >= spool->max_pending ||
           (spool->pending.length > 0 && spool->pending_bytes + bytes > spool->max_pending_bytes))
    g_set_error (&job->error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_IO,
                 "spool commit queue full (%u messages, %" G_GSIZE_FORMAT " bytes pending)",
                 spool->pending.length, spool->pending_bytes);
  /* Decide under the lock: once queued, the committer may finish and the
   * context free the job before we get past the unlock. */
  gboolean queued = job->error == NULL;
  if (queued)
    {
      g_queue_push_tail (&spool->pending, job);
      spool->pending_bytes += bytes;
      g_cond_signal (&spool->cond);
    }
  g_mutex_unlock (&spool->lock);
  if (!queued)
    job_finish (job);   /* fail fast, but still through the context, never re-entrantly */
}

/* sg_spool_commit_async - the same, off the caller's thread; commits that
 * arrive together share their flushes (group commit). Takes ownership of meta. */
void
sg_spool_commit_async (SgSpool *spool, SgMeta *meta, GBytes *header, GBytes *body,
                       GMainContext *context, SgSpoolCommitFunc callback,
                       gpointer user_data)
{
  g_return_if_fail (spool != NULL && meta != NULL);
  commit_queue (spool, sg_commit_job_new (meta, TRUE, header, body), context, callback, user_data);
}

/* sg_spool_commit_draft_async - see spool.h. */
void
sg_spool_commit_draft_async (SgSpool *spool, SgMeta *meta, SgSpoolDraft *draft,
                             GMainContext *context, SgSpoolCommitFunc callback,
                             gpointer user_data)
{
  g_return_if_fail (spool != NULL && meta != NULL && draft != NULL);
  commit_queue (spool, sg_commit_job_new_draft (meta, TRUE, draft), context, callback, user_data);
}

/* sg_spool_flush_rounds - how many queue/ fsyncs commits have done so far. */
guint
sg_spool_flush_rounds (SgSpool *spool)
{
  return (guint) g_atomic_int_get (&spool->flush_rounds);
}

/* sg_spool_commit_hold - test hook: while held the committer takes no batch,
 * so a test can queue several commits and see them share one flush. */
void
sg_spool_commit_hold (SgSpool *spool, gboolean hold)
{
  g_mutex_lock (&spool->lock);
  spool->held = hold;
  g_cond_broadcast (&spool->cond);
  g_mutex_unlock (&spool->lock);
}

/* sg_spool_set_commit_limits - see spool.h. */
void
sg_spool_set_commit_limits (SgSpool *spool, guint max_pending, gsize max_pending_bytes,
                            guint wait_seconds)
{
  g_mutex_lock (&spool->lock);
  spool->room_wait_us = (gint64) wait_seconds * G_USEC_PER_SEC;
  spool->max_pending = MAX (max_pending, 1u);
  spool->max_pending_bytes = MAX (max_pending_bytes, 1u);
  g_mutex_unlock (&spool->lock);
}
