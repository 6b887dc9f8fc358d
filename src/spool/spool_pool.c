/* spool_pool.c - recycling the files of retired messages: sg_spool_retire
 * and the pool of tmp/free-<n> files that commits reuse.
 *
 * Why: ext4 without a journal (the spool's file system on the benchmark
 * machine, and a common choice for VM disks) avoids reusing an inode freed
 * in the last minute, so every new file makes it walk the block group's
 * inode bitmap past each recently deleted inode (fs/ext4/ialloc.c,
 * find_inode_bit and recently_deleted). A relay that creates two files per
 * message and deletes them after delivery spent most of its commit thread
 * in that walk (bench/profile). So the files of a delivered message are not
 * unlinked: they are renamed into tmp/ and a later commit truncates and
 * rewrites them instead of creating new inodes.
 *
 * Why it is safe:
 *  - retire renames the .json out first, then the .eml, then fsyncs queue/:
 *    the order and durability of an unlink-based removal. A file joins the
 *    pool only after that fsync, so the removal is durable before the inode
 *    can carry another message;
 *  - a reused file is opened O_TRUNC, written, fdatasync'ed and renamed into
 *    queue/ exactly like a new one (spool_commit.c);
 *  - readers never take a recycled inode for a live message: sg_spool_read_at
 *    checks after reading that the name still leads to the inode it read (a
 *    queue ID is never reused), and .eml readers hold the message's lock,
 *    which a retire needs too (spool_admin.c);
 *  - recovery purges tmp/ at start-up, so the pool starts empty;
 *  - at most [spool] recycle_files files of at most SG_SPOOL_RECYCLE_MAX_FILE
 *    bytes are kept, so the pool's disk use is bounded. Administrative
 *    deletes (sg_spool_remove) still unlink. */
#include "spool/spool_private.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <unistd.h>

/* pool_name - "free-<n>" */
static void
pool_name (char name[SG_SPOOL_TMP_NAME_MAX], guint64 n)
{
  g_snprintf (name, SG_SPOOL_TMP_NAME_MAX, SG_SPOOL_POOL_PREFIX "%016" G_GINT64_MODIFIER "x", n);
}

void
sg_spool_pool_init (SgSpool *spool)
{
  g_mutex_init (&spool->pool_lock);
  spool->pool = g_array_new (FALSE, FALSE, sizeof (guint64));
  spool->pool_max = SG_DEF_RECYCLE_FILES;
}

void
sg_spool_pool_clear (SgSpool *spool)
{
  g_clear_pointer (&spool->pool, g_array_unref);
  g_mutex_clear (&spool->pool_lock);
}

/* sg_spool_set_recycling - see spool.h. */
void
sg_spool_set_recycling (SgSpool *spool, guint max_files)
{
  g_mutex_lock (&spool->pool_lock);
  spool->pool_max = max_files;
  while (spool->pool->len > max_files)
    {
      char name[SG_SPOOL_TMP_NAME_MAX];
      pool_name (name, g_array_index (spool->pool, guint64, spool->pool->len - 1));
      g_array_set_size (spool->pool, spool->pool->len - 1);
      (void) unlinkat (spool->tmp_fd, name, 0);
    }
  g_mutex_unlock (&spool->pool_lock);
}

/* sg_spool_pool_take - a recycled file's tmp/ name, or FALSE if none. */
gboolean
sg_spool_pool_take (SgSpool *spool, char name[SG_SPOOL_TMP_NAME_MAX])
{
  gboolean got = FALSE;
  guint64 n = 0;

  g_mutex_lock (&spool->pool_lock);
  if (spool->pool->len > 0)
    {
      n = g_array_index (spool->pool, guint64, spool->pool->len - 1);
      g_array_set_size (spool->pool, spool->pool->len - 1);
      got = TRUE;
    }
  g_mutex_unlock (&spool->pool_lock);
  if (got)
    pool_name (name, n);
  return got;
}

/* pool_put - files whose removal from queue/ is durable; beyond the pool's
 * bound they are unlinked. */
static void
pool_put (SgSpool *spool, const guint64 *numbers, guint n)
{
  for (guint i = 0; i < n; i++)
    {
      gboolean kept = FALSE;
      g_mutex_lock (&spool->pool_lock);
      if (spool->pool->len < spool->pool_max)
        {
          g_array_append_val (spool->pool, numbers[i]);
          kept = TRUE;
        }
      g_mutex_unlock (&spool->pool_lock);
      if (!kept)
        {
          char name[SG_SPOOL_TMP_NAME_MAX];
          pool_name (name, numbers[i]);
          (void) unlinkat (spool->tmp_fd, name, 0);
        }
    }
}

/* retire_file - move queue/<name> into tmp/ for reuse, or unlink it. Sets
 * *kept when moved; ENOENT is returned as such for the caller to judge. */
static int
retire_file (SgSpool *spool, const char *name, guint64 *number, gboolean *kept)
{
  struct stat st;

  *kept = FALSE;
  if (fstatat (spool->queue_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
    return errno;
  gboolean recycle = FALSE;
  if (S_ISREG (st.st_mode) && (guint64) st.st_size <= SG_SPOOL_RECYCLE_MAX_FILE)
    {
      g_mutex_lock (&spool->pool_lock);
      recycle = spool->pool_max > 0;
      *number = spool->pool_next++;
      g_mutex_unlock (&spool->pool_lock);
    }
  if (recycle)
    {
      char free_name[SG_SPOOL_TMP_NAME_MAX];
      pool_name (free_name, *number);
      if (renameat (spool->queue_fd, name, spool->tmp_fd, free_name) == 0)
        {
          *kept = TRUE;
          return 0;
        }
      if (errno == ENOENT)
        return ENOENT;
    }
  return unlinkat (spool->queue_fd, name, 0) == 0 ? 0 : errno;
}

/* sg_spool_retire - see spool.h. */
gboolean
sg_spool_retire (SgSpool *spool, const char *queue_id, GError **error)
{
  static const char *const suffixes[] = { SG_SPOOL_JSON_SUFFIX, SG_SPOOL_EML_SUFFIX };
  guint64 numbers[G_N_ELEMENTS (suffixes)];
  guint n_kept = 0;

  g_return_val_if_fail (spool != NULL, FALSE);
  if (!sg_queue_id_valid (queue_id))
    {
      g_set_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND, "invalid queue ID \"%s\"", queue_id);
      return FALSE;
    }
  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *name = sg_spool_file_name (queue_id, suffixes[i]);
      gboolean kept;
      int errsv = retire_file (spool, name, &numbers[n_kept], &kept);

      if (errsv == ENOENT && i == 0)
        {
          g_set_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND,
                       "%s: no such message in the queue", queue_id);
          return FALSE;
        }
      if (errsv != 0 && errsv != ENOENT)
        {
          /* Whatever was moved stays in tmp/ until the start-up purge. */
          return sg_spool_set_errno (error, errsv, "remove queue/%s", name);
        }
      if (kept)
        n_kept++;
    }
  if (!sg_spool_fsync_dir (spool->queue_fd, SG_SPOOL_QUEUE_DIR, error))
    return FALSE;
  pool_put (spool, numbers, n_kept);
  return TRUE;
}

/* sg_spool_pool_size - files waiting in the pool (for tests and metrics). */
guint
sg_spool_pool_size (SgSpool *spool)
{
  g_mutex_lock (&spool->pool_lock);
  guint n = spool->pool->len;
  g_mutex_unlock (&spool->pool_lock);
  return n;
}
