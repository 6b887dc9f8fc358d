/* spool_sync.c - how a commit group's files reach stable storage ([spool]
 * sync_method): per-file fdatasync spread over a few helper threads, so
 * that a group's files are flushed at once instead of one after another
 * (a lone message's two files on the committer itself), or one syncfs of
 * the spool's file system followed by one more cache flush;
 * and the start-up check of whether the spool is a file system of its own,
 * which syncfs needs to be cheap. What is durable when, and why that is
 * enough before 250, is explained beside sg_spool_commit_batch. */
#include "spool/spool_private.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#define MOUNTINFO_PATH "/proc/self/mountinfo"

/* One round of fdatasyncs: shared by the caller and the helpers it woke.
 * Reference-counted, so the caller may return as soon as every descriptor
 * is done, without waiting for a helper that woke too late to find work. */
typedef struct {
  gint        refs;        /* atomic */
  const int  *fds;         /* the caller's; valid until completed == n */
  int        *errs;        /* likewise: 0 or the errno of each fdatasync */
  guint       n;
  gint        next;        /* atomic: next index to take */
  GMutex      lock;
  GCond       done;
  guint       completed;   /* under lock */
} SyncRound;

/* round_unref - drop one reference to a round. */
static void
round_unref (SyncRound *r)
{
  if (!g_atomic_int_dec_and_test (&r->refs))
    return;
  g_mutex_clear (&r->lock);
  g_cond_clear (&r->done);
  g_free (r);
}

/* sync_one - fdatasync fd, retrying on EINTR; 0 or the errno. */
static int
sync_one (int fd)
{
  int rc;
  do
    rc = fdatasync (fd);
  while (rc != 0 && errno == EINTR);
  return rc == 0 ? 0 : errno;
}

/* round_work - take descriptors off the round until none is left. */
static void
round_work (SyncRound *r)
{
  for (;;)
    {
      guint i = (guint) g_atomic_int_add (&r->next, 1);

      if (i >= r->n)
        return;
      r->errs[i] = sync_one (r->fds[i]);
      g_mutex_lock (&r->lock);
      if (++r->completed == r->n)
        g_cond_broadcast (&r->done);
      g_mutex_unlock (&r->lock);
    }
}

/* sync_helper - a helper thread's GThreadPool function. */
static void
sync_helper (gpointer data, gpointer user_data G_GNUC_UNUSED)
{
  round_work (data);
  round_unref (data);
}

/* sg_spool_syncers_start - the helper threads (an exclusive pool: all of
 * them exist from now on, so a push never has to create one). */
gboolean
sg_spool_syncers_start (SgSpool *spool, GError **error)
{
  spool->syncers = g_thread_pool_new (sync_helper, NULL, SG_SPOOL_SYNC_THREADS, TRUE, error);
  return spool->syncers != NULL;
}

/* sg_spool_syncers_stop - join the helper threads (no round is running). */
void
sg_spool_syncers_stop (SgSpool *spool)
{
  if (spool->syncers != NULL)
    g_thread_pool_free (g_steal_pointer (&spool->syncers), FALSE, TRUE);
}

/* sg_spool_fdatasync_all - fdatasync fds[0..n) at once, on up to
 * SG_SPOOL_SYNC_THREADS helpers and the calling thread (at most
 * SG_SPOOL_SYNC_SERIAL_MAX on the calling thread alone); errs[i] gets 0 or
 * the errno of fds[i]. Each fdatasync waits for its file's data and size
 * and for a cache flush; issued together, the device sees them together
 * and the block layer can merge their flushes. Thread-safe. */
void
sg_spool_fdatasync_all (SgSpool *spool, const int *fds, int *errs, guint n)
{
  /* One message's two files: waking a helper and waiting for it costs more
   * than it saves (bench/disk-sync, one message at a time: "serial" 713
   * msgs/s against "group-threads" 657 on 2026-12-07), and a flush does not
   * wait for another flush's writes either way. Nothing to share then. */
  if (spool->syncers == NULL || n <= SG_SPOOL_SYNC_SERIAL_MAX)
    {
      for (guint i = 0; i < n; i++)
        errs[i] = sync_one (fds[i]);
      return;
    }
  SyncRound *r = g_new0 (SyncRound, 1);
  guint helpers = MIN (n - 1, SG_SPOOL_SYNC_THREADS);

  r->refs = 1;
  r->fds = fds;
  r->errs = errs;
  r->n = n;
  g_mutex_init (&r->lock);
  g_cond_init (&r->done);
  for (guint i = 0; i < helpers; i++)
    {
      g_atomic_int_inc (&r->refs);
      if (!g_thread_pool_push (spool->syncers, r, NULL))
        round_unref (r);            /* not queued after all; we do its share */
    }
  round_work (r);
  g_mutex_lock (&r->lock);
  while (r->completed < r->n)
    g_cond_wait (&r->done, &r->lock);
  g_mutex_unlock (&r->lock);
  round_unref (r);
}

/* sg_spool_syncfs - one syncfs of the spool's file system, then one more
 * cache flush: every dirty page and inode on it, the directory blocks, all
 * on stable storage. Since Linux 5.8 syncfs reports a write-back error of
 * any file on the file system (once per descriptor), so a failed write of
 * one of ours is not missed. 0 or errno.
 *
 * Why the extra flush: syncfs (fs/sync.c, sync_filesystem) flushes the
 * device cache in the file system's sync_fs and only THEN writes the block
 * device's dirty buffers and waits for them. Where the file system has a
 * journal, those buffers are already in the committed journal. Where it has
 * none (ext2, ext4 without a journal: the benchmark machine's disk), they
 * are the inode table and directory blocks themselves: our files' sizes and
 * block maps after the writes, queue/'s entries after the renames. Traced at
 * the block layer, they complete after syncfs's flush (tests/spool/
 * test-spool-flush.c), so without a second flush they may sit in a volatile
 * device cache when SMTP says 250. fdatasync of the spool directory, which
 * nothing dirties, is that flush: on ext2 and ext4 it ends in a cache flush
 * even when it has nothing to write (the test sees it). File systems with a
 * journal or log order their own writes, and for them it costs at most one
 * flush more. */
int
sg_spool_syncfs (SgSpool *spool)
{
  int rc;

  do
    rc = syncfs (spool->tmp_fd);
  while (rc != 0 && errno == EINTR);
  if (rc != 0)
    return errno;
  return sync_one (spool->dir_fd);
}

/* sg_spool_sync_method_parse - "fdatasync" or "syncfs"; FALSE otherwise. */
gboolean
sg_spool_sync_method_parse (const char *name, SgSpoolSyncMethod *method)
{
  if (g_strcmp0 (name, "fdatasync") == 0)
    *method = SG_SPOOL_SYNC_FDATASYNC;
  else if (g_strcmp0 (name, "syncfs") == 0)
    *method = SG_SPOOL_SYNC_SYNCFS;
  else
    return FALSE;
  return TRUE;
}

/* sg_spool_sync_method_name - the configuration word for method. */
const char *
sg_spool_sync_method_name (SgSpoolSyncMethod method)
{
  return method == SG_SPOOL_SYNC_SYNCFS ? "syncfs" : "fdatasync";
}

/* mount_of - the /proc/self/mountinfo entry of device dev whose mount point
 * is the longest prefix of path: its mount point, root within the file
 * system, type and source (each transfer full). FALSE if none is found. */
static gboolean
mount_of (dev_t dev, const char *path, char **point, char **root, char **fstype, char **source)
{
  g_autofree char *text = NULL;
  gsize best = 0;
  gboolean found = FALSE;

  if (!g_file_get_contents (MOUNTINFO_PATH, &text, NULL, NULL))
    return FALSE;
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      /* ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPER */
      g_auto(GStrv) f = g_strsplit (lines[i], " ", -1);
      guint nf = g_strv_length (f), dash = 0, maj, min;

      for (guint j = 6; j < nf; j++)
        if (strcmp (f[j], "-") == 0)
          {
            dash = j;
            break;
          }
      if (dash == 0 || dash + 2 >= nf || sscanf (f[2], "%u:%u", &maj, &min) != 2
          || makedev (maj, min) != dev)
        continue;
      /* mountinfo escapes blanks as \040: compare unescaped */
      g_autofree char *mp = g_strcompress (f[4]);
      gsize len = strlen (mp);
      gboolean prefix = strcmp (mp, "/") == 0
                        || (g_str_has_prefix (path, mp) && (path[len] == '/' || path[len] == '\0'));
      if (!prefix || (found && len <= best))
        continue;
      best = len;
      found = TRUE;
      g_free (*point); *point = g_steal_pointer (&mp);
      g_free (*root); *root = g_strcompress (f[3]);
      g_free (*fstype); *fstype = g_strdup (f[dash + 1]);
      g_free (*source); *source = g_strcompress (f[dash + 2]);
    }
  return found;
}

/* sg_spool_own_fs - is the spool directory the root of a file system that
 * holds nothing else (a mount point of its own, and no bind mount of a
 * sub-directory)? *where (transfer full) names the file system:
 * "MOUNTPOINT (SOURCE TYPE)", or the device number if /proc is missing. */
gboolean
sg_spool_own_fs (SgSpool *spool, char **where)
{
  struct stat st, parent;
  g_autofree char *path = NULL, *point = NULL, *root = NULL, *fstype = NULL, *source = NULL;
  gboolean mount_root;

  if (fstat (spool->dir_fd, &st) != 0 || fstatat (spool->dir_fd, "..", &parent, 0) != 0)
    {
      *where = g_strdup_printf ("%s (%s)", spool->dir, g_strerror (errno));
      return FALSE;
    }
  /* a mount point: another device than its parent, or "/" itself */
  mount_root = st.st_dev != parent.st_dev || st.st_ino == parent.st_ino;
  path = realpath (spool->dir, NULL);
  if (path != NULL && mount_of (st.st_dev, path, &point, &root, &fstype, &source))
    {
      *where = g_strdup_printf ("%s (%s %s)", point, source, fstype);
      /* a bind mount of part of a larger file system is not "its own" */
      return mount_root && strcmp (root, "/") == 0 && strcmp (point, path) == 0;
    }
  *where = g_strdup_printf ("device %u:%u", major (st.st_dev), minor (st.st_dev));
  return mount_root;
}

/* sg_spool_set_sync_method - choose how commits reach stable storage, and
 * log whether the spool's file system suits the choice. */
void
sg_spool_set_sync_method (SgSpool *spool, SgSpoolSyncMethod method)
{
  g_autofree char *where = NULL;
  gboolean own = sg_spool_own_fs (spool, &where);
  g_autofree char *dir = sg_log_sanitize (spool->dir, -1, PATH_MAX);

  g_atomic_int_set (&spool->sync_method, (gint) method);
  if (method == SG_SPOOL_SYNC_SYNCFS && own)
    g_message ("spool: sync_method=syncfs: %s is a file system of its own, %s; "
               "a commit group is made durable by two syncfs calls, each followed by a cache flush",
               dir, where);
  else if (method == SG_SPOOL_SYNC_SYNCFS)
    g_warning ("spool: sync_method=syncfs: %s is not a file system of its own but part of %s; "
               "every commit group also flushes whatever else is written there. "
               "Give the spool its own file system, or set [spool] sync_method = fdatasync",
               dir, where);
  else
    g_message ("spool: sync_method=fdatasync: %s %s %s; each file is fdatasync'd, "
               "then queue/ fsync'd once per commit group", dir,
               own ? "is a file system of its own," : "is part of", where);
}

/* sg_spool_get_sync_method - the method in use. */
SgSpoolSyncMethod
sg_spool_get_sync_method (SgSpool *spool)
{
  return (SgSpoolSyncMethod) g_atomic_int_get (&spool->sync_method);
}
