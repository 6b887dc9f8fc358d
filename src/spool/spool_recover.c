/* spool_recover.c - start-up recovery: purge tmp/, then sort queue/ into
 * complete messages (kept), unacknowledged leftovers (removed) and anything
 * doubtful (moved to quarantine/, never deleted). In two steps, so a daemon
 * can serve before a large queue is read: _begin lists the names (no file
 * is opened), _finish reads each message's metadata, on any thread. Leaves
 * deciding what to do with quarantined files to the administrator. */
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

/* remove_lone - remove a queue/<ID>.eml without metadata (a commit that
 * never finished), under its lock: one that someone holds locked is a
 * release between its steps 4 and 6 (spool_rejected.h), about to become
 * a message, and is left alone. */
static void
remove_lone (SgSpool *spool, SgSpoolRecovery *report, const char *id, const char *eml,
             const char *json)
{
  g_autoptr(GError) error = NULL;
  struct stat st;
  int lock = sg_spool_lock_message (spool, id, FALSE, &error);

  if (lock < 0)
    {
      if (g_error_matches (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_BUSY))
        g_message ("spool recovery: %s: queue/%s without metadata is locked by another "
                   "process (a release); left alone", id, eml);
      else if (!g_error_matches (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND))
        g_warning ("spool recovery: cannot lock queue/%s: %s", eml, error->message);
      return;
    }
  if (fstatat (spool->queue_fd, json, &st, AT_SYMLINK_NOFOLLOW) == 0)
    ;   /* its metadata appeared meanwhile: a message */
  else if (unlinkat (spool->queue_fd, eml, 0) == 0)
    {
      report->removed_partial++;
      g_message ("spool recovery: %s: removed queue/%s without metadata "
                 "(an unacknowledged, unfinished commit)", id, eml);
    }
  else
    g_warning ("spool recovery: cannot remove queue/%s: %s", eml, g_strerror (errno));
  sg_spool_unlock_message (lock);
}

/* check_message - decide the fate of one ID found in queue/. */
static gboolean left_alone (SgSpool *spool, const SgSpoolBacklog *backlog, const char *eml,
                            const char *json);

/* ... FALSE: found asked to stop. */
static gboolean
check_message (SgSpool *spool, const SgSpoolBacklog *backlog, SgSpoolRecovery *report,
               const char *id, guint kinds, SgSpoolFoundFunc found, gpointer user_data)
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
      return TRUE;
    }
  if (!(kinds & ID_HAS_JSON))
    {
      if (left_alone (spool, backlog, eml, json))
        return TRUE;
      remove_lone (spool, report, id, eml, json);
      return TRUE;
    }
  if (!(kinds & ID_HAS_EML))
    {
      quarantine (spool, report, spool->queue_fd, SG_SPOOL_QUEUE_DIR, json, "no message file");
      return TRUE;
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
      return TRUE;
    }
  report->messages++;
  if ((guint) meta->state < G_N_ELEMENTS (report->states))
    report->states[meta->state]++;
  if (found != NULL && !found (g_steal_pointer (&meta), user_data))
    return FALSE;
  return TRUE;
}

/* One ID found by _begin: 20 bytes of ID and what was seen with it. The
 * whole listing of a queue of a million messages fits in about 40 MB. */
typedef struct {
  char  id[SG_QUEUE_ID_LEN];   /* not NUL-terminated */
  guint8 kind;                 /* ID_HAS_EML | ID_HAS_JSON | ID_BAD_JSON */
} Found;

/* What _begin saw in queue/. Lifetime: from sg_spool_recover_begin until
 * sg_spool_recover_finish or sg_spool_backlog_free. */
struct _SgSpoolBacklog {
  GArray         *found;       /* Found, one per name until _finish pairs them */
  SgSpoolRecovery report;      /* what _begin already did */
  gboolean        concurrent;  /* commits may run beside _finish */
  char            fresh[SG_QUEUE_ID_LEN + 1]; /* concurrent: IDs from here on are new */
  gint64          start;       /* concurrent: epoch seconds at _begin */
};

void
sg_spool_backlog_free (SgSpoolBacklog *backlog)
{
  if (!backlog)
    return;
  g_array_unref (backlog->found);
  g_free (backlog);
}


/* scan_queue - list queue/ by name: every <ID>.eml and regular <ID>.json
 * into found; anything else to quarantine/ at once (rare). readdir's d_type
 * saves a stat per name on file systems that fill it in. */
static gboolean
scan_queue (SgSpool *spool, SgSpoolBacklog *backlog, GError **error)
{
  SgSpoolRecovery *report = &backlog->report;
  struct dirent *de;
  DIR *dir;
  int fd = dup (spool->queue_fd);

  if (fd < 0 || (dir = fdopendir (fd)) == NULL)
    {
      int errsv = errno;

      if (fd >= 0)
        close (fd);
      return sg_spool_set_errno (error, errsv, "read %s/", SG_SPOOL_QUEUE_DIR);
    }
  rewinddir (dir);
  errno = 0;
  while ((de = readdir (dir)) != NULL)
    {
      const char *name = de->d_name;
      guint kind = 0;
      g_autofree char *id = NULL;
      gboolean regular;

      if (strcmp (name, ".") == 0 || strcmp (name, "..") == 0)
        {
          errno = 0;
          continue;
        }
      id = split_name (name, &kind);
      regular = de->d_type == DT_REG || (de->d_type == DT_UNKNOWN && is_regular (spool, name, NULL));
      if (id == NULL || !regular)
        {
          /* Moving it while listing is safe: readdir may or may not return
           * the new name, and quarantine/ is another directory. */
          quarantine (spool, report, spool->queue_fd, SG_SPOOL_QUEUE_DIR, name,
                      "unexpected file in the queue");
          if (id == NULL || kind != ID_HAS_JSON)
            {
              errno = 0;
              continue;
            }
          kind = ID_BAD_JSON;   /* remembered: its .eml must not look unfinished */
        }
      Found f;
      memcpy (f.id, id, SG_QUEUE_ID_LEN);
      f.kind = (guint8) kind;
      g_array_append_val (backlog->found, f);
      errno = 0;
    }
  if (errno != 0)
    {
      int errsv = errno;

      closedir (dir);
      return sg_spool_set_errno (error, errsv, "read %s/", SG_SPOOL_QUEUE_DIR);
    }
  closedir (dir);
  return TRUE;
}

static gint
compare_found (gconstpointer a, gconstpointer b)
{
  return memcmp (((const Found *) a)->id, ((const Found *) b)->id, SG_QUEUE_ID_LEN);
}

/* sg_spool_recover_begin - see spool.h. */
SgSpoolBacklog *
sg_spool_recover_begin (SgSpool *spool, gboolean concurrent, GError **error)
{
  g_autoptr(SgSpoolBacklog) backlog = g_new0 (SgSpoolBacklog, 1);

  g_return_val_if_fail (spool != NULL, NULL);
  backlog->found = g_array_new (FALSE, FALSE, sizeof (Found));
  backlog->concurrent = concurrent;
  if (concurrent)
    {
      /* IDs only grow within a process: every commit from now on, and every
       * later admin requeue on a sane clock, sorts at or after this one. */
      sg_queue_id_generate (backlog->fresh);
      backlog->start = g_get_real_time () / G_USEC_PER_SEC;
    }
  /* Releases from rejected/ cut short first (spool_rejected.h): one that
   * was decided gets its queue/<ID>.json before queue/ is read. */
  sg_spool_recover_releases (spool);
  if (!purge_tmp (spool, &backlog->report, error)
      || !sg_spool_fsync_dir (spool->tmp_fd, SG_SPOOL_TMP_DIR, error))
    return NULL;
  return g_steal_pointer (&backlog);
}

/* left_alone - concurrent recovery: whether a lone .eml may be part of a
 * commit happening now (new, or touched since start-up): then it is left
 * for the next start, never deleted. */
static gboolean
left_alone (SgSpool *spool, const SgSpoolBacklog *backlog, const char *eml, const char *json)
{
  struct stat st;

  if (!backlog->concurrent)
    return FALSE;
  if (fstatat (spool->queue_fd, json, &st, AT_SYMLINK_NOFOLLOW) == 0)
    return TRUE;   /* its metadata appeared meanwhile */
  return fstatat (spool->queue_fd, eml, &st, AT_SYMLINK_NOFOLLOW) != 0
         || st.st_mtime >= backlog->start;
}

/* sg_spool_recover_finish - see spool.h. */
gboolean
sg_spool_recover_finish (SgSpool *spool, SgSpoolBacklog *backlog, SgSpoolRecovery *report,
                         SgSpoolFoundFunc found, gpointer user_data, GError **error)
{
  g_autoptr(SgSpoolBacklog) owned G_GNUC_UNUSED = backlog;   /* freed on every way out */
  SgSpoolRecovery local = { 0 };
  GArray *a = backlog->found;

  if (report == NULL)
    report = &local;
  if (!scan_queue (spool, backlog, error))
    return FALSE;
  *report = backlog->report;
  /* Pair the names of each ID (sorted: arrival order, deterministic logs). */
  g_array_sort (a, compare_found);
  for (guint i = 0; i < a->len; )
    {
      Found *f = &g_array_index (a, Found, i);
      char id[SG_QUEUE_ID_LEN + 1];
      guint kinds = f->kind;

      memcpy (id, f->id, SG_QUEUE_ID_LEN);
      id[SG_QUEUE_ID_LEN] = '\0';
      for (i++; i < a->len && compare_found (f, &g_array_index (a, Found, i)) == 0; i++)
        kinds |= g_array_index (a, Found, i).kind;
      if (backlog->concurrent && strcmp (id, backlog->fresh) >= 0)
        continue;   /* committed since start-up: the runner hears of it anyway */
      if (!check_message (spool, backlog, report, id, kinds, found, user_data))
        {
          g_message ("spool recovery: stopped with %u of %u names left", a->len - i, a->len);
          break;
        }
    }
  /* Make the removals and moves durable. */
  if (!sg_spool_fsync_dir (spool->queue_fd, SG_SPOOL_QUEUE_DIR, error) ||
      !sg_spool_fsync_dir (spool->quarantine_fd, SG_SPOOL_QUARANTINE_DIR, error))
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

/* sg_spool_recover - clean up after a crash; logs each action (g_message/g_warning). */
gboolean
sg_spool_recover (SgSpool *spool, SgSpoolRecovery *report, GError **error)
{
  SgSpoolBacklog *backlog;

  g_return_val_if_fail (spool != NULL, FALSE);
  if (report != NULL)
    memset (report, 0, sizeof *report);
  backlog = sg_spool_recover_begin (spool, FALSE, error);
  return backlog != NULL && sg_spool_recover_finish (spool, backlog, report, NULL, NULL, error);
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
