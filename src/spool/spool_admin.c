/* spool_admin.c - what the queue runner and the admin commands share:
 * listing the messages, the per-message lock (flock on queue/<ID>.eml) and
 * the locked message handed to delivery.
 * flock locks belong to the open file, so two threads of the daemon and an
 * admin process all exclude each other; the lock dies with its holder. */
#include "spool/spool_private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

static gint
compare_ids (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

GPtrArray *
sg_spool_list (SgSpool *spool, GError **error)
{
  int fd = dup (spool->queue_fd);
  DIR *d = fd >= 0 ? fdopendir (fd) : NULL;
  if (!d)
    {
      int e = errno;
      if (fd >= 0)
        close (fd);
      sg_spool_set_errno (error, e, "read %s/%s", spool->dir, SG_SPOOL_QUEUE_DIR);
      return NULL;
    }
  rewinddir (d);
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  struct dirent *de;
  while ((de = readdir (d)) != NULL)
    {
      gsize len = strlen (de->d_name);
      gsize slen = strlen (SG_SPOOL_JSON_SUFFIX);
      if (len != SG_QUEUE_ID_LEN + slen || !g_str_has_suffix (de->d_name, SG_SPOOL_JSON_SUFFIX))
        continue;
      g_autofree char *id = g_strndup (de->d_name, SG_QUEUE_ID_LEN);
      if (sg_queue_id_valid (id))
        g_ptr_array_add (ids, g_steal_pointer (&id));
    }
  closedir (d);
  g_ptr_array_sort (ids, compare_ids);
  return ids;
}

/* lock_message - open queue/<ID>.eml and flock it with op (LOCK_EX or
 * LOCK_SH); -1 with error as for sg_spool_lock_message. */
static int
lock_message (SgSpool *spool, const char *queue_id, int op, gboolean wait, GError **error)
{
  if (!sg_queue_id_valid (queue_id))
    {
      g_set_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND, "%s is not a queue ID", queue_id);
      return -1;
    }
  g_autofree char *name = sg_spool_file_name (queue_id, SG_SPOOL_EML_SUFFIX);
  int fd = openat (spool->queue_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    {
      if (errno == ENOENT)
        g_set_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND, "no message %s in %s",
                     queue_id, spool->dir);
      else
        sg_spool_set_errno (error, errno, "open %s/%s/%s", spool->dir, SG_SPOOL_QUEUE_DIR, name);
      return -1;
    }
  int e = sg_spool_flock (fd, op, wait);
  if (e != 0)
    {
      close (fd);
      if (e == EWOULDBLOCK)
        g_set_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_BUSY,
                     "message %s is locked (being delivered or changed right now)", queue_id);
      else
        sg_spool_set_errno (error, e, "lock %s", name);
      return -1;
    }
  /* Retired between open and lock? Its file may since have been recycled
   * for another message (spool_pool.c), so the name must still lead to the
   * inode we locked; a queue ID never returns. */
  struct stat st, now;
  if (fstat (fd, &st) != 0 || fstatat (spool->queue_fd, name, &now, AT_SYMLINK_NOFOLLOW) != 0
      || st.st_ino != now.st_ino || st.st_dev != now.st_dev)
    {
      close (fd);
      g_set_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND, "no message %s in %s",
                   queue_id, spool->dir);
      return -1;
    }
  return fd;
}

int
sg_spool_lock_message (SgSpool *spool, const char *queue_id, gboolean wait, GError **error)
{
  return lock_message (spool, queue_id, LOCK_EX, wait, error);
}

/* sg_spool_open_message - see spool.h. */
int
sg_spool_open_message (SgSpool *spool, const char *queue_id, GError **error)
{
  return lock_message (spool, queue_id, LOCK_SH, TRUE, error);
}

void
sg_spool_unlock_message (int lock_fd)
{
  if (lock_fd >= 0)
    close (lock_fd);
}

/* scan_8bit - whether the file at fd holds an octet with the high bit set
 * (metadata before version 3 did not record it). */
static gboolean
scan_8bit (int fd, gboolean *eightbit, int *errsv)
{
  g_autofree guint8 *buf = g_malloc (SG_SPOOL_SCAN_CHUNK);
  *eightbit = FALSE;
  for (off_t at = 0; !*eightbit; )
    {
      ssize_t n = pread (fd, buf, SG_SPOOL_SCAN_CHUNK, at);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          *errsv = errno;
          return FALSE;
        }
      if (n == 0)
        break;
      for (ssize_t i = 0; i < n && !*eightbit; i++)
        *eightbit = buf[i] >= 0x80;
      at += n;
    }
  return TRUE;
}

gboolean
sg_spool_locked_message (SgSpool *spool, int lock_fd, SgMeta *meta, SgSpoolMessage *msg,
                         GError **error)
{
  struct stat st;
  int errsv = 0;
  if (fstat (lock_fd, &st) != 0)
    return sg_spool_set_errno (error, errno, "stat %s/%s/%s%s", spool->dir, SG_SPOOL_QUEUE_DIR,
                               meta->queue_id, SG_SPOOL_EML_SUFFIX);
  msg->fd = lock_fd;
  msg->size = (guint64) st.st_size;
  if (meta->eightbit == SG_EIGHTBIT_UNKNOWN)
    {
      gboolean eightbit = FALSE;
      if (!scan_8bit (lock_fd, &eightbit, &errsv))
        return sg_spool_set_errno (error, errsv, "read %s/%s/%s%s", spool->dir, SG_SPOOL_QUEUE_DIR,
                                   meta->queue_id, SG_SPOOL_EML_SUFFIX);
      meta->eightbit = eightbit ? SG_EIGHTBIT_YES : SG_EIGHTBIT_NO;
    }
  msg->eightbit = meta->eightbit == SG_EIGHTBIT_YES;
  return TRUE;
}
