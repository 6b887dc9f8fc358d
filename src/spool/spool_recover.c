/* spool_recover.c - start-up recovery: purge tmp/, then sort queue/ into
 * complete messages (kept), unacknowledged leftovers (removed) and anything
 * doubtful (moved to quarantine/, never deleted). Leaves deciding what to do
 * with quarantined files to the administrator. */
#include "spool/spool_private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

/* The rules follow from the commit order in spool_commit.c: the .eml is
 * published before the .json and 250 is sent only after both names are
 * durable, so a lone .eml was never acknowledged, while a lone or unreadable
 * .json may belong to one that was. Only sizes are checked against the
 * metadata, not SHA-256: start-up must not have to read the whole queue. */

#define QUARANTINE_MAX_SUFFIX 1000u
#define ID_HAS_EML  (1u << 0)
#define ID_HAS_JSON (1u << 1)
#define ID_BAD_JSON (1u << 2)   /* an <ID>.json that is not a regular file */

/* list_dir - the names in a directory, without "." and ".." (transfer full). */
static GPtrArray *
list_dir (int dir_fd, const char *what, GError **error)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  struct dirent *de;
  DIR *dir;
  int fd = dup (dir_fd);

  if (fd < 0 || (dir = fdopendir (fd)) == NULL)
    {
      int errsv = errno;

      if (fd >= 0)
        close (fd);
      sg_spool_set_errno (error, errsv, "read %s/", what);
      return NULL;
    }
  rewinddir (dir);   /* the dup shares its offset with earlier readers */
  errno = 0;
  while ((de = readdir (dir)) != NULL)
    {
      if (strcmp (de->d_name, ".") != 0 && strcmp (de->d_name, "..") != 0)
        g_ptr_array_add (names, g_strdup (de->d_name));
      errno = 0;
    }
  if (errno != 0)
    {
      int errsv = errno;

      closedir (dir);
      sg_spool_set_errno (error, errsv, "read %s/", what);
      return NULL;
    }
  closedir (dir);
  g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);  /* deterministic logs */
  return g_steal_pointer (&names);
}

/* quarantine - move from/<name> into quarantine/ under a free name; FALSE
 * (with a warning) if it had to stay where it is. */
static gboolean
quarantine (SgSpool *spool, SgSpoolRecovery *report, int from_fd, const char *from,
            const char *name, const char *reason)
{
  g_autofree char *target = g_strdup (name);
  int errsv = 0;

  for (guint i = 1; i <= QUARANTINE_MAX_SUFFIX; i++)
    {
      errsv = sg_spool_rename_noreplace (from_fd, name, spool->quarantine_fd, target);
      if (errsv != EEXIST)
        break;
      g_free (target);
      target = g_strdup_printf ("%s.%u", name, i);
    }
  if (errsv != 0)
    {
      g_warning ("spool recovery: cannot quarantine %s/%s (%s): %s; left in place",
                 from, name, reason, g_strerror (errsv));
      return FALSE;
    }
  if (report != NULL)
    report->quarantined++;
  g_warning ("spool recovery: %s/%s: %s; moved to quarantine/%s", from, name, reason, target);
  return TRUE;
}

/* purge_tmp - remove every file in tmp/: none of them was ever acknowledged. */
static gboolean
purge_tmp (SgSpool *spool, SgSpoolRecovery *report, GError **error)
{
  g_autoptr(GPtrArray) names = list_dir (spool->tmp_fd, SG_SPOOL_TMP_DIR, error);

  if (names == NULL)
    return FALSE;
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);

      if (unlinkat (spool->tmp_fd, name, 0) == 0)
        {
          report->removed_partial++;
          g_message ("spool recovery: removed unfinished write tmp/%s", name);
        }
      else if (errno == EISDIR || errno == EPERM)
        quarantine (spool, report, spool->tmp_fd, SG_SPOOL_TMP_DIR, name, "unexpected directory");
      else
        g_warning ("spool recovery: cannot remove tmp/%s: %s", name, g_strerror (errno));
    }
  return TRUE;
}

/* split_name - if name is "<valid ID>.eml" or ".json", its ID (transfer full)
 * and which of the two it is. */
static char *
split_name (const char *name, guint *kind)
{
  gsize len = strlen (name);
  const char *suffix = name + SG_QUEUE_ID_LEN;
  g_autofree char *id = NULL;

  if (len <= SG_QUEUE_ID_LEN)
    return NULL;
  if (strcmp (suffix, SG_SPOOL_EML_SUFFIX) == 0)
    *kind = ID_HAS_EML;
  else if (strcmp (suffix, SG_SPOOL_JSON_SUFFIX) == 0)
    *kind = ID_HAS_JSON;
  else
    return NULL;
  id = g_strndup (name, SG_QUEUE_ID_LEN);
  return sg_queue_id_valid (id) ? g_steal_pointer (&id) : NULL;
}

/* is_regular - whether queue/<name> is a regular file (not a symlink); its size. */
static gboolean
is_regular (SgSpool *spool, const char *name, guint64 *size)
{
  struct stat st;

  if (fstatat (spool->queue_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG (st.st_mode))
    return FALSE;
  if (size != NULL)
    *size = (guint64) st.st_size;
  return TRUE;
}

/* check_message - decide the fate of one ID found in queue/. */
static void
check_message (SgSpool *spool, SgSpoolRecovery *report, const char *id, guint kinds)
{
  g_autofree char *eml = sg_spool_file_name (id, SG_SPOOL_EML_SUFFIX);
  g_autofree char *json = sg_spool_file_name (id, SG_SPOOL_JSON_SUFFIX);
  g_autofree char *reason = NULL;
  g_autofree char *data = NULL;
  g_autoptr(SgMeta) meta = NULL;
  g_autoptr(GError) error = NULL;
  gsize len = 0;
  guint64 size = 0;

  if (kinds & ID_BAD_JSON)
    {
      /* Its metadata was there but unusable (quarantined already): it may
       * have been acknowledged, so it is kept, never deleted. */
      if (kinds & ID_HAS_EML)
        quarantine (spool, report, spool->queue_fd, SG_SPOOL_QUEUE_DIR, eml,
                    "its metadata is not a regular file");
      return;
    }
  if (!(kinds & ID_HAS_JSON))
    {
      if (unlinkat (spool->queue_fd, eml, 0) == 0)
        {
          report->removed_partial++;
          g_message ("spool recovery: %s: removed queue/%s without metadata "
                     "(an unacknowledged, unfinished commit)", id, eml);
        }
      else
        g_warning ("spool recovery: cannot remove queue/%s: %s", eml, g_strerror (errno));
      return;
    }
  if (!(kinds & ID_HAS_EML))
    {
      quarantine (spool, report, spool->queue_fd, SG_SPOOL_QUEUE_DIR, json, "no message file");
      return;
    }

  data = sg_spool_read_at (spool->queue_fd, json, SG_SPOOL_MAX_META_SIZE, &len, &error);
  if (data != NULL)
    meta = sg_meta_from_json (data, (gssize) len, &error);
  if (meta == NULL)
    reason = g_strdup_printf ("unusable metadata: %s", error->message);
  else if (strcmp (meta->queue_id, id) != 0)
    reason = g_strdup_printf ("metadata names queue_id %s", meta->queue_id);
  else if (!is_regular (spool, eml, &size))
    reason = g_strdup ("message file is not a regular file");
  else if (size != meta->message_size)
    reason = g_strdup_printf ("message file has %" G_GUINT64_FORMAT " bytes, metadata says %"
                              G_GUINT64_FORMAT, size, meta->message_size);
  if (reason != NULL)
    {
      /* .eml first: if only it moves, the lone .json is quarantined next
       * time; the other way round a lone .eml would be deleted. */
      if (quarantine (spool, report, spool->queue_fd, SG_SPOOL_QUEUE_DIR, eml, reason))
        quarantine (spool, report, spool->queue_fd, SG_SPOOL_QUEUE_DIR, json, reason);
      return;
    }
  report->messages++;
}

/* scan_queue - classify everything in queue/. */
static gboolean
scan_queue (SgSpool *spool, SgSpoolRecovery *report, GError **error)
{
  g_autoptr(GPtrArray) names = list_dir (spool->queue_fd, SG_SPOOL_QUEUE_DIR, error);
  g_autoptr(GHashTable) ids = NULL;
  g_autoptr(GPtrArray) order = NULL;

  if (names == NULL)
    return FALSE;
  ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  order = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      guint kind = 0;
      g_autofree char *id = split_name (name, &kind);
      gpointer old;

      if (id == NULL || !is_regular (spool, name, NULL))
        {
          quarantine (spool, report, spool->queue_fd, SG_SPOOL_QUEUE_DIR, name,
                      "unexpected file in the queue");
          if (id == NULL || kind != ID_HAS_JSON)
            continue;
          kind = ID_BAD_JSON;   /* remembered: its .eml must not look unfinished */
        }
      old = g_hash_table_lookup (ids, id);
      if (old == NULL)
        g_ptr_array_add (order, g_strdup (id));
      g_hash_table_replace (ids, g_strdup (id), GUINT_TO_POINTER (GPOINTER_TO_UINT (old) | kind));
    }
  for (guint i = 0; i < order->len; i++)
    {
      const char *id = g_ptr_array_index (order, i);

      check_message (spool, report, id, GPOINTER_TO_UINT (g_hash_table_lookup (ids, id)));
    }
  return TRUE;
}

/* sg_spool_recover - clean up after a crash; logs each action (g_message/g_warning). */
gboolean
sg_spool_recover (SgSpool *spool, SgSpoolRecovery *report, GError **error)
{
  SgSpoolRecovery local = { 0 };

  g_return_val_if_fail (spool != NULL, FALSE);
  if (report == NULL)
    report = &local;
  memset (report, 0, sizeof *report);

  if (!purge_tmp (spool, report, error) || !scan_queue (spool, report, error))
    return FALSE;
  /* Make the removals and moves durable before new commits start. */
  if (!sg_spool_fsync_dir (spool->queue_fd, SG_SPOOL_QUEUE_DIR, error) ||
      !sg_spool_fsync_dir (spool->quarantine_fd, SG_SPOOL_QUARANTINE_DIR, error) ||
      !sg_spool_fsync_dir (spool->tmp_fd, SG_SPOOL_TMP_DIR, error))
    return FALSE;
  g_message ("spool recovery: %s: %u messages queued, %u unfinished writes removed, "
             "%u files quarantined", spool->dir, report->messages, report->removed_partial,
             report->quarantined);
  return TRUE;
}

/* sg_spool_quarantine_damaged - see spool.h. */
gboolean
sg_spool_quarantine_damaged (SgSpool *spool, const char *queue_id, GError **error)
{
  g_autofree char *eml = NULL;
  g_autofree char *json = NULL;
  g_autofree char *data = NULL;
  g_autoptr(SgMeta) meta = NULL;
  g_autoptr(GError) local = NULL;
  g_autofree char *reason = NULL;
  gsize len = 0;
  int lock;

  g_return_val_if_fail (spool != NULL, FALSE);
  if (!sg_queue_id_valid (queue_id))
    return FALSE;
  eml = sg_spool_file_name (queue_id, SG_SPOOL_EML_SUFFIX);
  json = sg_spool_file_name (queue_id, SG_SPOOL_JSON_SUFFIX);
  lock = sg_spool_lock_message (spool, queue_id, FALSE, &local);
  if (lock < 0 && !g_error_matches (local, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND))
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;   /* busy: whoever holds it will see the same */
    }
  g_clear_error (&local);
  /* Under the lock, so it is not mid-change: decide again. */
  data = sg_spool_read_at (spool->queue_fd, json, SG_SPOOL_MAX_META_SIZE, &len, &local);
  if (data != NULL)
    meta = sg_meta_from_json (data, (gssize) len, &local);
  if (meta != NULL && strcmp (meta->queue_id, queue_id) == 0)
    {
      sg_spool_unlock_message (lock);
      return FALSE;   /* readable after all */
    }
  if (g_error_matches (local, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND))
    {
      sg_spool_unlock_message (lock);
      return FALSE;   /* gone meanwhile */
    }
  if (meta == NULL && local->domain != SG_META_ERROR
      && is_regular (spool, json, NULL))
    {
      /* A regular file we could not read (EMFILE, EIO...): maybe transient. */
      g_propagate_error (error, g_steal_pointer (&local));
      sg_spool_unlock_message (lock);
      return FALSE;
    }
  reason = meta != NULL ? g_strdup_printf ("metadata names queue_id %s", meta->queue_id)
                        : g_strdup_printf ("unusable metadata: %s", local->message);
  /* .eml first, as in recovery: a lone .json is never mistaken for unfinished. */
  if (lock >= 0 && !quarantine (spool, NULL, spool->queue_fd, SG_SPOOL_QUEUE_DIR, eml, reason))
    {
      sg_spool_unlock_message (lock);
      g_set_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_IO, "cannot move queue/%s", eml);
      return FALSE;
    }
  gboolean moved = quarantine (spool, NULL, spool->queue_fd, SG_SPOOL_QUEUE_DIR, json, reason);
  sg_spool_unlock_message (lock);
  if (!sg_spool_fsync_dir (spool->queue_fd, SG_SPOOL_QUEUE_DIR, error)
      || !sg_spool_fsync_dir (spool->quarantine_fd, SG_SPOOL_QUARANTINE_DIR, error))
    return FALSE;
  return moved || lock >= 0;
}
