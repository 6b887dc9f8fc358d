/* spool_file.c - the spool's file-system primitives: errno to GError, full
 * writes, no-replace renames, directory fsync, bounded reads and the durable
 * replace used for metadata rewrites. Everything works relative to the
 * spool's directory fds, so a renamed spool directory cannot split a commit.
 * Knows nothing about messages or metadata. */
#include "spool/spool_private.h"

#include <errno.h>
#include <sys/file.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#define REPLACE_TMP_ATTEMPTS 16

/* sg_spool_set_errno - set a spool GError for errsv (ENOSPC/EDQUOT → NOSPACE,
 * EEXIST → EXISTS, anything else → IO); the message is "<format>: strerror".
 * Always returns FALSE. */
gboolean
sg_spool_set_errno (GError **error, int errsv, const char *format, ...)
{
  g_autofree char *what = NULL;
  SgSpoolError code = SG_SPOOL_ERROR_IO;
  va_list args;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  if (errsv == ENOSPC || errsv == EDQUOT)
    code = SG_SPOOL_ERROR_NOSPACE;
  else if (errsv == EEXIST)
    code = SG_SPOOL_ERROR_EXISTS;
  g_set_error (error, SG_SPOOL_ERROR, code, "%s: %s", what, g_strerror (errsv));
  return FALSE;
}

/* sg_spool_write_all - write all of data, retrying on EINTR and short
 * writes; on failure *errsv holds the errno. */
gboolean
sg_spool_write_all (int fd, const guint8 *data, gsize len, int *errsv)
{
  while (len > 0)
    {
      ssize_t n = write (fd, data, len);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          *errsv = errno;
          return FALSE;
        }
      if (n == 0)
        {
          /* A regular file never does this; do not spin on it. */
          *errsv = EIO;
          return FALSE;
        }
      data += n;
      len -= (gsize) n;
    }
  return TRUE;
}

/* sg_spool_write_direct - write a then b to the start of fd, an empty file
 * opened with O_DIRECT, through an aligned bounce buffer: the bytes go from
 * that buffer to the device without a copy into the page cache, which for
 * a 10 MB message costs more than the device itself (bench/README.md). The
 * last block is padded and the file then cut to its real size; fdatasync()
 * afterwards still makes size and device cache durable. FALSE with *errsv
 * set on failure; EINVAL means the file system refused direct I/O and the
 * caller may start over with buffered writes. */
gboolean
sg_spool_write_direct (int fd, const guint8 *a, gsize a_len, const guint8 *b, gsize b_len,
                       int *errsv)
{
  const guint8 *src[] = { a, b };
  gsize left[] = { a_len, b_len };
  guint8 *buf = NULL;
  off_t offset = 0;
  gboolean ok = TRUE;

  if (posix_memalign ((void **) &buf, SG_SPOOL_DIRECT_ALIGN, SG_SPOOL_DIRECT_CHUNK) != 0)
    {
      *errsv = ENOMEM;
      return FALSE;
    }
  for (guint part = 0; ok && part < G_N_ELEMENTS (src); )
    {
      gsize fill = 0;
      while (part < G_N_ELEMENTS (src) && fill < SG_SPOOL_DIRECT_CHUNK)
        {
          gsize n = MIN (left[part], SG_SPOOL_DIRECT_CHUNK - fill);
          memcpy (buf + fill, src[part], n);
          fill += n;
          src[part] += n;
          left[part] -= n;
          if (left[part] == 0)
            part++;
        }
      gsize padded = (fill + SG_SPOOL_DIRECT_ALIGN - 1) & ~(gsize) (SG_SPOOL_DIRECT_ALIGN - 1);
      memset (buf + fill, 0, padded - fill);
      for (gsize done = 0; ok && done < padded; )
        {
          ssize_t n = pwrite (fd, buf + done, padded - done, offset + (off_t) done);
          if (n < 0 && errno == EINTR)
            continue;
          if (n <= 0 || ((gsize) n % SG_SPOOL_DIRECT_ALIGN) != 0)
            {
              *errsv = n < 0 ? errno : EIO;
              ok = FALSE;
              break;
            }
          done += (gsize) n;
        }
      offset += (off_t) fill;
      if (fill < padded)
        break;              /* the padded tail was the last block */
    }
  free (buf);
  if (ok && ftruncate (fd, offset) != 0)
    {
      *errsv = errno;
      ok = FALSE;
    }
  return ok;
}

/* sg_spool_sha256_hex - SHA-256 of a then b as lower-case hex, or NULL
 * (transfer full). OpenSSL's digest uses the CPU's SHA extensions: about
 * 1.8 GB/s here against GChecksum's 160 MB/s, which made hashing the
 * largest single cost of committing a 10 MB message. */
char *
sg_spool_sha256_hex (const guint8 *a, gsize a_len, const guint8 *b, gsize b_len)
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
  gboolean ok = ctx != NULL
    && EVP_DigestInit_ex (ctx, EVP_sha256 (), NULL) == 1
    && EVP_DigestUpdate (ctx, a, a_len) == 1
    && EVP_DigestUpdate (ctx, b, b_len) == 1
    && EVP_DigestFinal_ex (ctx, md, &md_len) == 1;
  EVP_MD_CTX_free (ctx);
  if (!ok)
    return NULL;
  return sg_spool_digest_hex (md, md_len);
}

/* sg_spool_digest_hex - a digest as lower-case hex (transfer full). */
char *
sg_spool_digest_hex (const unsigned char *md, unsigned int md_len)
{
  char *hex = g_malloc (md_len * 2 + 1);
  hex[0] = '\0';
  for (unsigned int i = 0; i < md_len; i++)
    g_snprintf (hex + 2 * i, 3, "%02x", md[i]);
  return hex;
}

/* sg_spool_rename_noreplace - rename that fails with EEXIST rather than
 * replace; returns 0 or an errno value. Falls back to link()+unlink() on
 * file systems without RENAME_NOREPLACE. */
int
sg_spool_rename_noreplace (int from_dir, const char *from, int to_dir, const char *to)
{
  if (renameat2 (from_dir, from, to_dir, to, RENAME_NOREPLACE) == 0)
    return 0;
  if (errno != EINVAL && errno != ENOSYS)
    return errno;
  if (linkat (from_dir, from, to_dir, to, 0) != 0)
    return errno;
  /* The new name exists; a stale old name is only a tmp/ leftover. */
  if (unlinkat (from_dir, from, 0) != 0)
    g_debug ("spool: unlink %s after link: %s", from, g_strerror (errno));
  return 0;
}

/* sg_spool_flock - see spool_private.h. */
int
sg_spool_flock (int fd, int op, gboolean wait)
{
  while (flock (fd, op | (wait ? 0 : LOCK_NB)) != 0)
    if (errno != EINTR)
      return errno;
  return 0;
}

/* sg_spool_fsync_dir - make the entries of a directory durable. */
gboolean
sg_spool_fsync_dir (int dir_fd, const char *what, GError **error)
{
  if (fsync (dir_fd) != 0)
    return sg_spool_set_errno (error, errno, "fsync %s/", what);
  return TRUE;
}

/* sg_spool_read_at - read a whole regular file of at most max bytes,
 * NUL-terminated (transfer full). ENOENT becomes SG_SPOOL_ERROR_NOT_FOUND. */
char *
sg_spool_read_at (int dir_fd, const char *name, gsize max, gsize *length, GError **error)
{
  g_autofree char *buf = NULL;
  struct stat st;
  gsize got = 0;
  int fd;

  fd = openat (dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0)
    {
      if (errno == ENOENT)
        {
          g_set_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND, "%s: no such file", name);
          return NULL;
        }
      sg_spool_set_errno (error, errno, "open %s", name);
      return NULL;
    }
  if (fstat (fd, &st) != 0)
    {
      int errsv = errno;

      close (fd);
      sg_spool_set_errno (error, errsv, "stat %s", name);
      return NULL;
    }
  if (!S_ISREG (st.st_mode) || (guint64) st.st_size > max)
    {
      close (fd);
      g_set_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_IO,
                   "%s: not a regular file of at most %" G_GSIZE_FORMAT " bytes", name, max);
      return NULL;
    }
  buf = g_malloc ((gsize) st.st_size + 1);
  while (got < (gsize) st.st_size)
    {
      ssize_t n = read (fd, buf + got, (gsize) st.st_size - got);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int errsv = errno;

          close (fd);
          sg_spool_set_errno (error, errsv, "read %s", name);
          return NULL;
        }
      if (n == 0)
        break;              /* shrank under us: take what is there */
      got += (gsize) n;
    }
  /* Retired files are recycled (spool_pool.c): if the name no longer leads
   * to the inode we read, the message was retired meanwhile and what we read
   * may belong to another one. A name never comes back to the same inode. */
  struct stat now;
  if (fstatat (dir_fd, name, &now, AT_SYMLINK_NOFOLLOW) != 0
      || now.st_ino != st.st_ino || now.st_dev != st.st_dev)
    {
      close (fd);
      g_set_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND, "%s: no such file", name);
      return NULL;
    }
  close (fd);
  buf[got] = '\0';
  if (length != NULL)
    *length = got;
  return g_steal_pointer (&buf);
}

/* sg_spool_replace_at - atomically and durably replace queue/<name> with
 * data: write a uniquely named file in tmp/, fdatasync, rename over the old
 * one, fsync queue/. A crash leaves either the old or the new file, plus at
 * most a tmp/ leftover that recovery purges. */
gboolean
sg_spool_replace_at (SgSpool *spool, const char *name, const char *data, gsize len,
                     GError **error)
{
  g_autofree char *tmp_name = NULL;
  int fd = -1, errsv = 0;

  for (guint i = 0; i < REPLACE_TMP_ATTEMPTS && fd < 0; i++)
    {
      g_free (tmp_name);
      tmp_name = g_strdup_printf ("%s.%08x.upd", name, g_random_int ());
      fd = openat (spool->tmp_fd, tmp_name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                   SG_SPOOL_FILE_MODE);
      if (fd < 0 && errno != EEXIST)
        break;
    }
  if (fd < 0)
    return sg_spool_set_errno (error, errno, "create tmp/%s", tmp_name);

  if (!sg_spool_write_all (fd, (const guint8 *) data, len, &errsv))
    {
      sg_spool_set_errno (error, errsv, "write tmp/%s", tmp_name);
      goto fail_open;
    }
  if (fdatasync (fd) != 0)
    {
      sg_spool_set_errno (error, errno, "fdatasync tmp/%s", tmp_name);
      goto fail_open;
    }
  if (close (fd) != 0 && errno != EINTR)
    {
      fd = -1;
      sg_spool_set_errno (error, errno, "close tmp/%s", tmp_name);
      goto fail_open;
    }
  fd = -1;
  if (renameat (spool->tmp_fd, tmp_name, spool->queue_fd, name) != 0)
    {
      sg_spool_set_errno (error, errno, "rename tmp/%s to queue/%s", tmp_name, name);
      goto fail_open;
    }
  return sg_spool_fsync_dir (spool->queue_fd, SG_SPOOL_QUEUE_DIR, error);

fail_open:
  if (fd >= 0)
    close (fd);
  unlinkat (spool->tmp_fd, tmp_name, 0);
  return FALSE;
}

/* sg_spool_file_name - "<id><suffix>" (transfer full). */
char *
sg_spool_file_name (const char *id, const char *suffix)
{
  return g_strconcat (id, suffix, NULL);
}
