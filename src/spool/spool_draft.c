/* spool_draft.c - a message written to its tmp/ file while it arrives: the
 * file a large DATA streams into (our Received header first, then the body),
 * the writer thread that copies appended buffers into it off the main loop,
 * the read-only mapping the validator reads, and the hand-over of that same
 * file to a commit (spool_commit.c), which renames it into queue/ without a
 * second copy. A draft that is never committed is unlinked when freed. */
#include "spool/spool_private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

/* Why a writer thread: on this kind of VM, copying a large message into
 * the page cache costs more CPU than anything else the main loop does with
 * it (bench/README.md), and the main loop serves every session. Appends are
 * queued to one thread per spool (FIFO, so in order) that pwrite()s them;
 * at most SG_SPOOL_DRAFT_QUEUE_MAX bytes wait, beyond that an append waits
 * for room. A write error is kept and reported by the next append or wait.
 *
 * Lifetime: made by sg_spool_draft_new on the main loop for one DATA, owned
 * by that session's reader, then by its SgEnvelope, then by a commit job;
 * each queued write holds a reference too, so sg_spool_draft_free never
 * waits: the file goes when the last write is done. The spool is borrowed:
 * sg_spool_free finishes queued writes before it closes anything, and the
 * server closes every session and the intake before it frees the spool. */
struct _SgSpoolDraft {
  gint     refs;                            /* atomic: the owner's + one per queued write */
  SgSpool *spool;
  int      fd;                              /* O_RDWR; -1 once handed to a commit */
  char     tmp_name[SG_SPOOL_TMP_NAME_MAX]; /* its name in tmp/; "" once handed over */
  guint64  size;                            /* bytes appended or written (owner's thread) */
  guint8  *map;                             /* (nullable) sg_spool_draft_map */
  gsize    map_len;
  /* under spool->draft_lock */
  guint    pending;                         /* queued writes not yet done */
  int      errsv;                           /* errno of the first failed write; 0 = none */
  guint64  written_back;                    /* bytes whose write-back has been started */
};

/* One queued append. */
typedef struct {
  SgSpoolDraft *draft;    /* a reference */
  guint8       *buf;      /* owned */
  gsize         len;
  guint64       offset;
  gboolean      recycle;  /* buf came from sg_spool_draft_buffer */
} DraftWrite;

/* sg_spool_draft_buffer - see spool.h. Fresh pages cost a fault and a
 * clear each on this kind of VM (a tenth of the main loop under 100 x
 * 10 MB), so written buffers are kept for reuse, up to the number the
 * writer's queue can hold. */
guint8 *
sg_spool_draft_buffer (SgSpoolDraft *d)
{
  SgSpool *spool = d->spool;
  guint8 *buf = NULL;

  g_mutex_lock (&spool->draft_lock);
  if (spool->draft_buffers->len > 0)
    buf = g_ptr_array_steal_index_fast (spool->draft_buffers, spool->draft_buffers->len - 1);
  g_mutex_unlock (&spool->draft_lock);
  return buf ? buf : g_malloc (SG_SPOOL_DRAFT_BUFFER);
}

/* sg_spool_draft_buffers_clear - free the kept buffers (sg_spool_free). */
void
sg_spool_draft_buffers_clear (SgSpool *spool)
{
  g_clear_pointer (&spool->draft_buffers, g_ptr_array_unref);
}

/* sg_spool_draft_new - see spool.h. */
SgSpoolDraft *
sg_spool_draft_new (SgSpool *spool, GError **error)
{
  g_autofree SgSpoolDraft *d = g_new0 (SgSpoolDraft, 1);

  g_return_val_if_fail (spool != NULL, NULL);
  d->refs = 1;
  d->spool = spool;
  d->fd = -1;
  /* A recycled file saves an inode allocation (spool_pool.c); a draft is
   * written through the page cache, so no O_DIRECT here: the validator
   * reads the same pages right after the final dot. */
  if (sg_spool_pool_take (spool, d->tmp_name))
    {
      d->fd = openat (spool->tmp_fd, d->tmp_name, O_RDWR | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
      if (d->fd < 0)
        g_debug ("spool: recycled tmp/%s: %s; creating a new file", d->tmp_name, g_strerror (errno));
    }
  if (d->fd < 0)
    {
      guint64 n = (guint64) g_atomic_pointer_add (&spool->draft_next, 1);

      g_snprintf (d->tmp_name, sizeof d->tmp_name, SG_SPOOL_DRAFT_PREFIX "%016" G_GINT64_MODIFIER "x", n);
      d->fd = openat (spool->tmp_fd, d->tmp_name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                      SG_SPOOL_FILE_MODE);
    }
  if (d->fd < 0)
    {
      sg_spool_set_errno (error, errno, "create tmp/%s", d->tmp_name);
      return NULL;
    }
  return g_steal_pointer (&d);
}

static void
draft_unref (SgSpoolDraft *d)
{
  if (!g_atomic_int_dec_and_test (&d->refs))
    return;
  sg_spool_draft_unmap (d);
  if (d->fd >= 0)
    close (d->fd);
  if (d->tmp_name[0] != '\0' && unlinkat (d->spool->tmp_fd, d->tmp_name, 0) != 0)
    g_warning ("spool: cannot remove tmp/%s: %s", d->tmp_name, g_strerror (errno));
  g_free (d);
}

/* pwrite_all - write all of buf at offset; 0 or an errno value. */
static int
pwrite_all (int fd, const guint8 *buf, gsize len, guint64 offset)
{
  while (len > 0)
    {
      ssize_t n = pwrite (fd, buf, len, (off_t) offset);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return errno;
      if (n == 0)
        return EIO;        /* a regular file never does this; do not spin */
      buf += n;
      len -= (gsize) n;
      offset += (guint64) n;
    }
  return 0;
}

/* write_back - start write-back of what was written since the last call,
 * every SG_SPOOL_DRAFT_WRITEBACK bytes, as the kernel does for Postfix's
 * streamed queue files, only sooner: at the final dot little is left for
 * the commit's fdatasync. Called under draft_lock or by the only writer. */
static void
write_back (SgSpoolDraft *d, guint64 end)
{
  if (end - d->written_back < SG_SPOOL_DRAFT_WRITEBACK)
    return;
  (void) sync_file_range (d->fd, (off_t) d->written_back, (off_t) (end - d->written_back),
                          SYNC_FILE_RANGE_WRITE);
  d->written_back = end;
}

/* sg_spool_draft_writer - the writer thread's GThreadPool function. */
void
sg_spool_draft_writer (gpointer data, gpointer user_data)
{
  DraftWrite *w = data;
  SgSpoolDraft *d = w->draft;
  SgSpool *spool = user_data;
  int errsv = 0;

  g_mutex_lock (&spool->draft_lock);
  gboolean failed = d->errsv != 0;
  g_mutex_unlock (&spool->draft_lock);
  if (!failed)
    errsv = pwrite_all (d->fd, w->buf, w->len, w->offset);
  g_mutex_lock (&spool->draft_lock);
  if (w->recycle && spool->draft_buffers->len < SG_SPOOL_DRAFT_QUEUE_MAX / SG_SPOOL_DRAFT_BUFFER)
    g_ptr_array_add (spool->draft_buffers, g_steal_pointer (&w->buf));
  g_free (w->buf);
  if (errsv != 0 && d->errsv == 0)
    d->errsv = errsv;
  if (errsv == 0 && !failed)
    write_back (d, w->offset + w->len);
  d->pending--;
  spool->draft_queued -= w->len;
  g_cond_broadcast (&spool->draft_cond);
  g_mutex_unlock (&spool->draft_lock);
  draft_unref (d);
  g_free (w);
}

/* draft_error - the first write error as a GError; FALSE if there was one.
 * Called under draft_lock. */
static gboolean
draft_error (SgSpoolDraft *d, GError **error)
{
  if (d->errsv == 0)
    return TRUE;
  return sg_spool_set_errno (error, d->errsv, "write tmp/%s", d->tmp_name);
}

/* draft_append - queue buf for the writer; recycle: buf is one of
 * sg_spool_draft_buffer's. */
static gboolean
draft_append (SgSpoolDraft *d, guint8 *buf, gsize len, gboolean recycle, GError **error)
{
  SgSpool *spool = d->spool;
  gboolean ok;

  g_return_val_if_fail (d->fd >= 0 && d->map == NULL, FALSE);
  if (len == 0)
    {
      g_free (buf);
      return TRUE;
    }
  g_mutex_lock (&spool->draft_lock);
  while (spool->draft_queued > 0 && spool->draft_queued + len > SG_SPOOL_DRAFT_QUEUE_MAX
         && d->errsv == 0)
    g_cond_wait (&spool->draft_cond, &spool->draft_lock);
  ok = draft_error (d, error);
  if (ok)
    {
      spool->draft_queued += len;
      d->pending++;
    }
  g_mutex_unlock (&spool->draft_lock);
  if (!ok)
    {
      g_free (buf);
      return FALSE;
    }
  DraftWrite *w = g_new (DraftWrite, 1);
  g_atomic_int_inc (&d->refs);
  *w = (DraftWrite) { .draft = d, .buf = buf, .len = len, .offset = d->size, .recycle = recycle };
  d->size += len;
  g_thread_pool_push (spool->draft_writer, w, NULL);
  return TRUE;
}

/* sg_spool_draft_append - see spool.h. */
gboolean
sg_spool_draft_append (SgSpoolDraft *d, guint8 *buf, gsize len, GError **error)
{
  return draft_append (d, buf, len, FALSE, error);
}

/* sg_spool_draft_append_buffer - see spool.h. */
gboolean
sg_spool_draft_append_buffer (SgSpoolDraft *d, guint8 *buf, gsize len, GError **error)
{
  g_return_val_if_fail (len <= SG_SPOOL_DRAFT_BUFFER, FALSE);
  return draft_append (d, buf, len, TRUE, error);
}

/* sg_spool_draft_wait - see spool.h. */
gboolean
sg_spool_draft_wait (SgSpoolDraft *d, GError **error)
{
  SgSpool *spool = d->spool;

  g_mutex_lock (&spool->draft_lock);
  while (d->pending > 0)
    g_cond_wait (&spool->draft_cond, &spool->draft_lock);
  gboolean ok = draft_error (d, error);
  g_mutex_unlock (&spool->draft_lock);
  return ok;
}

/* sg_spool_draft_write - see spool.h. */
gboolean
sg_spool_draft_write (SgSpoolDraft *d, const guint8 *data, gsize len, GError **error)
{
  g_return_val_if_fail (d->fd >= 0 && d->map == NULL, FALSE);
  if (!sg_spool_draft_wait (d, error))
    return FALSE;
  int errsv = pwrite_all (d->fd, data, len, d->size);
  g_mutex_lock (&d->spool->draft_lock);
  if (errsv != 0)
    d->errsv = errsv;
  else
    write_back (d, d->size + len);
  g_mutex_unlock (&d->spool->draft_lock);
  if (errsv != 0)
    return sg_spool_set_errno (error, errsv, "write tmp/%s", d->tmp_name);
  d->size += len;
  return TRUE;
}

/* sg_spool_draft_size - see spool.h. */
guint64
sg_spool_draft_size (const SgSpoolDraft *d)
{
  return d->size;
}

/* sg_spool_draft_map - see spool.h. */
const guint8 *
sg_spool_draft_map (SgSpoolDraft *d, gsize *len, GError **error)
{
  g_return_val_if_fail (d->fd >= 0, NULL);
  if (d->map == NULL)
    {
      if (!sg_spool_draft_wait (d, error))
        return NULL;
      if (d->size == 0 || d->size > G_MAXSIZE)
        {
          g_set_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_IO, "map tmp/%s: %" G_GUINT64_FORMAT
                       " bytes", d->tmp_name, d->size);
          return NULL;
        }
      void *p = mmap (NULL, (gsize) d->size, PROT_READ, MAP_SHARED, d->fd, 0);
      if (p == MAP_FAILED)
        {
          sg_spool_set_errno (error, errno, "map tmp/%s", d->tmp_name);
          return NULL;
        }
      (void) madvise (p, (gsize) d->size, MADV_SEQUENTIAL);
      d->map = p;
      d->map_len = (gsize) d->size;
    }
  *len = d->map_len;
  return d->map;
}

/* sg_spool_draft_unmap - see spool.h. */
void
sg_spool_draft_unmap (SgSpoolDraft *d)
{
  if (d->map != NULL)
    munmap (d->map, d->map_len);
  d->map = NULL;
  d->map_len = 0;
}

/* sg_spool_draft_sha256_hex - SHA-256 of the whole file, read through a
 * mapping that is dropped again at once (transfer full; NULL on failure). */
char *
sg_spool_draft_sha256_hex (SgSpoolDraft *d, GError **error)
{
  gboolean mapped = d->map != NULL;
  gsize len = 0;
  const guint8 *p = sg_spool_draft_map (d, &len, error);

  if (p == NULL)
    return NULL;
  char *hex = sg_spool_sha256_hex (p, len, NULL, 0);
  if (!mapped)
    sg_spool_draft_unmap (d);
  if (hex == NULL)
    g_set_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_IO, "SHA-256 failed");
  return hex;
}

/* sg_spool_draft_hand_over - give the file to a commit job: its fd and tmp/
 * name move into *fd and tmp_name; the draft no longer unlinks anything. */
void
sg_spool_draft_hand_over (SgSpoolDraft *d, int *fd, char tmp_name[SG_SPOOL_TMP_NAME_MAX])
{
  (void) sg_spool_draft_wait (d, NULL);   /* none left: mapped for the SHA-256 just before */
  sg_spool_draft_unmap (d);
  *fd = d->fd;
  g_strlcpy (tmp_name, d->tmp_name, SG_SPOOL_TMP_NAME_MAX);
  d->fd = -1;
  d->tmp_name[0] = '\0';
}

/* sg_spool_draft_free - see spool.h. */
void
sg_spool_draft_free (SgSpoolDraft *d)
{
  if (d == NULL)
    return;
  draft_unref (d);
}
