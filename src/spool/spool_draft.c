/* spool_draft.c - a message written to its tmp/ file while it arrives: the
 * file a large DATA streams into (our Received header first, then the body),
 * the read-only mapping the validator reads, and the hand-over of that same
 * file to a commit (spool_commit.c), which renames it into queue/ without a
 * second copy. A draft that is never committed is unlinked when freed. */
#include "spool/spool_private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

/* Lifetime: made by sg_spool_draft_new on the main loop for one DATA, owned
 * by that session's reader, then by its SgEnvelope, then by a commit job;
 * whoever holds it last frees it. The spool is borrowed: the server closes
 * every session and the intake before it frees the spool. */
struct _SgSpoolDraft {
  SgSpool *spool;
  int      fd;                              /* O_RDWR; -1 once handed to a commit */
  char     tmp_name[SG_SPOOL_TMP_NAME_MAX]; /* its name in tmp/; "" once handed over */
  guint64  size;                            /* bytes written */
  guint8  *map;                             /* (nullable) sg_spool_draft_map */
  gsize    map_len;
};

/* sg_spool_draft_new - see spool.h. */
SgSpoolDraft *
sg_spool_draft_new (SgSpool *spool, GError **error)
{
  g_autofree SgSpoolDraft *d = g_new0 (SgSpoolDraft, 1);

  g_return_val_if_fail (spool != NULL, NULL);
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

/* sg_spool_draft_write - see spool.h. */
gboolean
sg_spool_draft_write (SgSpoolDraft *d, const guint8 *data, gsize len, GError **error)
{
  int errsv = 0;

  g_return_val_if_fail (d->fd >= 0 && d->map == NULL, FALSE);
  if (!sg_spool_write_all (d->fd, data, len, &errsv))
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
  sg_spool_draft_unmap (d);
  if (d->fd >= 0)
    close (d->fd);
  if (d->tmp_name[0] != '\0' && unlinkat (d->spool->tmp_fd, d->tmp_name, 0) != 0)
    g_warning ("spool: cannot remove tmp/%s: %s", d->tmp_name, g_strerror (errno));
  g_free (d);
}
