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
  report->quarantined++;
  g_warning ("spool recovery: %s/%s: %s; moved to quarantine/%s", from, name, reason, target);
  return TRUE;
}

/* purge_tmp - remove every file in tmp/: none of them was ever acknowledged.
 * The recycling pool's tmp/free-* files (spool_pool.c) are counted apart
 * and not logged one by one: they are retired messages' files kept for
 * reuse, or one being rewritten, not leftovers worth a line each. */
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
          if (g_str_has_prefix (name, SG_SPOOL_POOL_PREFIX))
            report->recycled++;
          else
            {
              report->removed_partial++;
              g_message ("spool recovery: removed unfinished write tmp/%s", name);
            }
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
  if ((guint) meta->state < G_N_ELEMENTS (report->states))
    report->states[meta->state]++;
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
          continue;
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
  /* The one summary line: messages by state, then what was cleaned up. */
  g_autoptr(GString) line = g_string_new (NULL);
  g_string_append_printf (line, "spool recovery: %s: %u message%s", spool->dir, report->messages,
                          report->messages == 1 ? "" : "s");
  const char *sep = " (";
  for (guint s = 0; s < G_N_ELEMENTS (report->states); s++)
    if (report->states[s] > 0)
      {
        g_string_append_printf (line, "%s%s %u", sep, sg_meta_state_name ((SgMsgState) s),
                                report->states[s]);
        sep = ", ";
      }
  if (*sep == ',')
    g_string_append_c (line, ')');
  g_string_append_printf (line, "; %u unfinished write%s removed, %u file%s quarantined",
                          report->removed_partial, report->removed_partial == 1 ? "" : "s",
                          report->quarantined, report->quarantined == 1 ? "" : "s");
  if (report->recycled > 0)
    g_string_append_printf (line, ", %u recycled file%s dropped", report->recycled,
                            report->recycled == 1 ? "" : "s");
  g_message ("%s", line->str);
  return TRUE;
}
