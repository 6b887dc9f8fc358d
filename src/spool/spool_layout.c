/* spool_layout.c - the spool's layout for those outside src/spool/: where a
 * message's files are, which names in queue/ are metadata, whether a
 * directory holds a spool at all, and reading a message's files by queue
 * ID. Nobody else builds a path under the spool directory or knows the
 * name of a subdirectory (spool.h describes the layout). */
#include "spool/spool_private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

gboolean
sg_spool_exists (const char *dir, GError **error)
{
  g_autofree char *queue = g_build_filename (dir, SG_SPOOL_QUEUE_DIR, NULL);
  struct stat st;
  int queue_rc = stat (queue, &st);
  if (queue_rc == 0 && S_ISDIR (st.st_mode))
    return TRUE;
  int e = queue_rc != 0 ? errno : ENOTDIR;
  if (stat (dir, &st) != 0)
    g_set_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND, "no spool at %s: %s",
                 dir, g_strerror (errno));
  else
    g_set_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND, "no spool at %s (%s/: %s)",
                 dir, SG_SPOOL_QUEUE_DIR, g_strerror (e));
  return FALSE;
}

char *
sg_spool_queue_dir (SgSpool *spool)
{
  return g_build_filename (spool->dir, SG_SPOOL_QUEUE_DIR, NULL);
}

char *
sg_spool_meta_file_id (const char *name)
{
  if (!g_str_has_suffix (name, SG_SPOOL_JSON_SUFFIX))
    return NULL;
  return g_strndup (name, strlen (name) - strlen (SG_SPOOL_JSON_SUFFIX));
}

char *
sg_spool_meta_path (SgSpool *spool, const char *queue_id)
{
  g_autofree char *name = sg_spool_file_name (queue_id, SG_SPOOL_JSON_SUFFIX);
  return g_build_filename (spool->dir, SG_SPOOL_QUEUE_DIR, name, NULL);
}

gboolean
sg_spool_has_message (SgSpool *spool, const char *queue_id)
{
  g_autofree char *path = sg_spool_meta_path (spool, queue_id);
  return g_file_test (path, G_FILE_TEST_EXISTS);
}

char *
sg_spool_read_meta_text (SgSpool *spool, const char *queue_id, gsize *len, GError **error)
{
  g_autofree char *path = sg_spool_meta_path (spool, queue_id);
  g_autofree char *data = NULL;
  if (!g_file_get_contents (path, &data, len, error))
    return NULL;
  g_autoptr(SgMeta) meta = sg_meta_from_json (data, (gssize) *len, error);
  if (meta == NULL)
    {
      g_prefix_error (error, "%s/%s%s: ", SG_SPOOL_QUEUE_DIR, queue_id, SG_SPOOL_JSON_SUFFIX);
      return NULL;
    }
  return g_steal_pointer (&data);
}

char *
sg_spool_read_message (SgSpool *spool, const char *queue_id, guint64 whole_max, gsize part_max,
                       gsize *len, guint64 *size, GError **error)
{
  g_autofree char *name = sg_spool_file_name (queue_id, SG_SPOOL_EML_SUFFIX);
  int fd = openat (spool->queue_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  struct stat st;
  if (fd < 0 || fstat (fd, &st) != 0)
    {
      int errsv = errno;
      if (fd >= 0)
        close (fd);
      sg_spool_set_errno (error, errsv, "open %s/%s/%s", spool->dir, SG_SPOOL_QUEUE_DIR, name);
      return NULL;
    }
  gsize want = (guint64) st.st_size <= whole_max ? (gsize) st.st_size
             : MIN ((gsize) st.st_size, part_max);
  char *buf = g_malloc (want + 1);
  gsize got = 0;
  while (got < want)
    {
      ssize_t n = pread (fd, buf + got, want - got, (off_t) got);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;   /* a shorter file than it said: what there is */
      got += (gsize) n;
    }
  close (fd);
  buf[got] = '\0';
  *len = got;
  if (size != NULL)
    *size = (guint64) st.st_size;
  return buf;
}
