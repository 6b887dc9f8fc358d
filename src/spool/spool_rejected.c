/* spool_rejected.c - rejected/: the refused messages an operator asked to
 * keep, their byte budget (oldest dropped first) and start-up cleanup.
 * Owns nothing in queue/; release into queue/ is spool_release.c's, the
 * verdict and the reply are the intake's, the .json format
 * spool_rejected_meta.c's. */
#include "spool/spool_rejected.h"
#include "spool/spool_private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <dirent.h>
#include <stdio.h>
#include <glib/gstdio.h>

/* Durability: a refused message was answered 5xx, so the client still owns
 * it and keeping a copy is a courtesy. Files are written under a ".tmp"
 * name and renamed, so a reader sees whole files, but nothing is fsynced: a
 * burst of refusals costs no flushes, and a crash may lose (never corrupt
 * unnoticed: size and SHA-256 are checked) the last copies. A release
 * re-commits the message to queue/ with the spool's full durability before
 * it removes the copy here.
 *
 * A release in progress (spool_rejected.h) has <ID>.queued beside the copy:
 * nothing here removes that file, or an .eml beside it, and the store's
 * own drop takes no lock, so that an administrator can never stall it.
 *
 * Accounting: the daemon indexes the store once at start-up and then counts
 * what it adds and drops; `spoolgate release` removing a file behind its
 * back only makes the count too high, never too low, so the budget holds. */

#define TMP_SUFFIX ".tmp"

/* One kept message; owned by SgRejected.entries from its keep (or the
 * start-up index) until it is dropped for room or the store is freed. */
typedef struct {
  char    id[SG_QUEUE_ID_LEN + 1];
  guint64 bytes;   /* .eml + .json */
} Entry;

/* The daemon's store lives from the first keep_rejected (sg_intake_new or a
 * SIGHUP) until sg_intake_free; an administration command's (open_admin)
 * for that one command, its entries left empty. */
struct _SgRejected {
  char   *dir;        /* <spool>/rejected */
  int     dir_fd;
  GMutex  lock;       /* guards what follows */
  GQueue  entries;    /* Entry*, oldest first */
  guint64 used;       /* bytes of the entries */
  guint64 max_bytes;
};


/* store_new - open <spool_dir>/rejected, creating it if asked. */
static SgRejected *
store_new (const char *spool_dir, gboolean create, GError **error)
{
  g_autofree char *dir = g_build_filename (spool_dir, SG_REJECTED_DIR, NULL);
  if (create && g_mkdir (dir, SG_SPOOL_DIR_MODE) != 0 && errno != EEXIST)
    return sg_spool_set_errno (error, errno, "mkdir %s", dir), NULL;
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    {
      if (errno == ENOENT)
        g_set_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND,
                     "no rejected messages: %s does not exist", dir);
      else
        sg_spool_set_errno (error, errno, "open %s", dir);
      return NULL;
    }
  SgRejected *store = g_new0 (SgRejected, 1);
  store->dir = g_steal_pointer (&dir);
  store->dir_fd = fd;
  g_mutex_init (&store->lock);
  g_queue_init (&store->entries);
  return store;
}

void
sg_rejected_free (SgRejected *store)
{
  if (store == NULL)
    return;
  g_queue_clear_full (&store->entries, g_free);
  g_mutex_clear (&store->lock);
  if (store->dir_fd >= 0)
    close (store->dir_fd);
  g_free (store->dir);
  g_free (store);
}

/* compare_names - g_ptr_array_sort hands pointers to the elements. */
static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* list_names - every name in rejected/, sorted (transfer full). */
static GPtrArray *
list_names (SgRejected *store, GError **error)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  int fd = dup (store->dir_fd);
  DIR *dir = fd >= 0 ? fdopendir (fd) : NULL;
  struct dirent *de;

  if (dir == NULL)
    {
      int errsv = errno;
      if (fd >= 0)
        close (fd);
      return sg_spool_set_errno (error, errsv, "read %s", store->dir), NULL;
    }
  rewinddir (dir);
  while ((de = readdir (dir)) != NULL)
    if (strcmp (de->d_name, ".") != 0 && strcmp (de->d_name, "..") != 0)
      g_ptr_array_add (names, g_strdup (de->d_name));
  closedir (dir);
  g_ptr_array_sort (names, compare_names);
  return g_steal_pointer (&names);
}

/* name_id - the ID of "<ID><suffix>", or NULL (transfer full). */
static char *
name_id (const char *name, const char *suffix)
{
  if (strlen (name) != SG_QUEUE_ID_LEN + strlen (suffix) || !g_str_has_suffix (name, suffix))
    return NULL;
  char *id = g_strndup (name, SG_QUEUE_ID_LEN);
  if (!sg_queue_id_valid (id))
    g_clear_pointer (&id, g_free);
  return id;
}

/* file_size - size of a regular rejected/<name>, or -1. */
static gint64
file_size (SgRejected *store, const char *name)
{
  struct stat st;
  if (fstatat (store->dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG (st.st_mode))
    return -1;
  return st.st_size;
}

/* releasing - whether a release of id is in progress or was cut short
 * (<ID>.queued exists): its .eml may still have to be queued. */
static gboolean
releasing (SgRejected *store, const char *id)
{
  g_autofree char *intent = sg_spool_file_name (id, SG_RELEASE_INTENT_SUFFIX);
  return file_size (store, intent) >= 0;
}

/* unlink_pair - remove <ID>.json, then <ID>.eml unless a release needs it
 * (ENOENT is fine). */
static void
unlink_pair (SgRejected *store, const char *id)
{
  g_autofree char *json = sg_spool_file_name (id, SG_SPOOL_JSON_SUFFIX);
  g_autofree char *eml = sg_spool_file_name (id, SG_SPOOL_EML_SUFFIX);
  if (unlinkat (store->dir_fd, json, 0) != 0 && errno != ENOENT)
    g_warning ("rejected: cannot remove %s/%s: %s", store->dir, json, g_strerror (errno));
  if (releasing (store, id))
    return;
  if (unlinkat (store->dir_fd, eml, 0) != 0 && errno != ENOENT)
    g_warning ("rejected: cannot remove %s/%s: %s", store->dir, eml, g_strerror (errno));
}

/* in_queue - whether queue/<ID>.json exists beside rejected/ (a release
 * that stopped after its commit). */
static gboolean
in_queue (SgRejected *store, const char *id)
{
  g_autofree char *json = sg_spool_file_name (id, SG_SPOOL_JSON_SUFFIX);
  g_autofree char *path = g_build_filename (store->dir, "..", SG_SPOOL_QUEUE_DIR, json, NULL);
  return g_file_test (path, G_FILE_TEST_EXISTS);
}

/* recover - start-up: sort rejected/ into kept copies (indexed), leftovers
 * of an interrupted write, prune or release (removed: none of them is
 * acknowledged mail, which lives in queue/ only), and anything else, which
 * is left in place with a warning, never deleted. */
static void
recover (SgRejected *store)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) names = list_names (store, &error);
  guint kept = 0, removed = 0, unknown = 0;

  if (names == NULL)
    {
      g_warning ("rejected recovery: %s", error->message);
      return;
    }
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      g_autofree char *id = NULL;
      if (g_str_has_suffix (name, TMP_SUFFIX))
        {
          g_autofree char *stem = g_strndup (name, strlen (name) - strlen (TMP_SUFFIX));
          id = name_id (stem, SG_SPOOL_EML_SUFFIX);
          if (id == NULL)
            id = name_id (stem, SG_SPOOL_JSON_SUFFIX);
          if (id != NULL && unlinkat (store->dir_fd, name, 0) == 0)
            {
              removed++;
              g_message ("rejected recovery: removed unfinished write %s/%s", store->dir, name);
              continue;
            }
        }
      else if ((id = name_id (name, SG_RELEASE_INTENT_SUFFIX)) != NULL)
        {
          /* A release in progress, or cut short while no daemon recovery
           * could take the lock: the next release of it resolves it. */
          g_message ("rejected recovery: %s: a release is in progress or was cut short; "
                     "`spoolgate release %s` finishes it", id, id);
          continue;
        }
      else if ((id = name_id (name, SG_SPOOL_EML_SUFFIX)) != NULL)
        {
          g_autofree char *json = sg_spool_file_name (id, SG_SPOOL_JSON_SUFFIX);
          if (file_size (store, json) >= 0 || releasing (store, id))
            continue;   /* handled with its .json, or a release needs it */
          if (unlinkat (store->dir_fd, name, 0) == 0)
            {
              removed++;
              g_message ("rejected recovery: %s: removed %s without metadata", id, name);
            }
          continue;
        }
      else if ((id = name_id (name, SG_SPOOL_JSON_SUFFIX)) != NULL)
        {
          g_autofree char *eml = sg_spool_file_name (id, SG_SPOOL_EML_SUFFIX);
          g_autofree char *data = NULL;
          g_autoptr(SgRejectedMeta) meta = NULL;
          g_autoptr(GError) local = NULL;
          gsize len = 0;
          gint64 eml_size = file_size (store, eml), json_size = file_size (store, name);
          if (!releasing (store, id) && in_queue (store, id))
            {
              unlink_pair (store, id);
              removed++;
              g_message ("rejected recovery: %s: already released to queue/; removed the copy in %s",
                         id, store->dir);
              continue;
            }
          data = sg_spool_read_at (store->dir_fd, name, SG_SPOOL_MAX_META_SIZE, &len, &local);
          if (data != NULL)
            meta = sg_rejected_meta_from_json (data, (gssize) len, &local);
          if (meta != NULL && eml_size >= 0 && json_size >= 0 &&
              (guint64) eml_size == meta->envelope->message_size &&
              strcmp (meta->envelope->queue_id, id) == 0)
            {
              Entry *e = g_new0 (Entry, 1);
              g_strlcpy (e->id, id, sizeof e->id);
              e->bytes = (guint64) eml_size + (guint64) json_size;
              store->used += e->bytes;
              g_queue_push_tail (&store->entries, e);
              kept++;
              continue;
            }
          if (releasing (store, id))
            continue;   /* the release's to resolve, whatever it is */
          /* A copy cut short by a crash (no fsync): refused mail, so drop it. */
          g_message ("rejected recovery: %s: removed an incomplete copy (%s)", id,
                     local ? local->message : eml_size < 0 ? "no message file"
                                                           : "message size differs from metadata");
          unlink_pair (store, id);
          removed++;
          continue;
        }
      unknown++;
      g_warning ("rejected recovery: %s/%s: not a file spoolgate writes; left alone", store->dir,
                 name);
    }
  g_message ("rejected recovery: %s: %u messages kept (%" G_GUINT64_FORMAT " bytes), "
             "%u leftovers removed, %u unknown files left alone", store->dir, kept, store->used,
             removed, unknown);
}

/* sg_rejected_open - the daemon's store, recovered and indexed. */
SgRejected *
sg_rejected_open (const char *spool_dir, guint64 max_bytes, GError **error)
{
  SgRejected *store = store_new (spool_dir, TRUE, error);
  if (store == NULL)
    return NULL;
  store->max_bytes = max_bytes;
  recover (store);
  return store;
}

/* sg_rejected_open_admin - an existing store beside the daemon. */
SgRejected *
sg_rejected_open_admin (const char *spool_dir, GError **error)
{
  return store_new (spool_dir, FALSE, error);
}

int
sg_rejected_dir_fd (SgRejected *store)
{
  return store->dir_fd;
}

const char *
sg_rejected_dir (SgRejected *store)
{
  return store->dir;
}

void
sg_rejected_set_limit (SgRejected *store, guint64 max_bytes)
{
  g_mutex_lock (&store->lock);
  store->max_bytes = max_bytes;
  g_mutex_unlock (&store->lock);
}

guint64
sg_rejected_bytes (SgRejected *store)
{
  g_mutex_lock (&store->lock);
  guint64 used = store->used;
  g_mutex_unlock (&store->lock);
  return used;
}

/* write_tmp - create rejected/<name>.tmp holding a then b and rename it to
 * <name>; no fsync (see the top of this file). */
static gboolean
write_tmp (SgRejected *store, const char *name, const guint8 *a, gsize a_len,
           const guint8 *b, gsize b_len, GError **error)
{
  g_autofree char *tmp = g_strconcat (name, TMP_SUFFIX, NULL);
  int errsv = 0;
  int fd = openat (store->dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                   SG_SPOOL_FILE_MODE);
  if (fd < 0)
    return sg_spool_set_errno (error, errno, "create %s/%s", store->dir, tmp);
  gboolean ok = sg_spool_write_all (fd, a, a_len, &errsv) && sg_spool_write_all (fd, b, b_len, &errsv);
  if (close (fd) != 0 && ok)
    ok = FALSE, errsv = errno;
  if (ok && renameat (store->dir_fd, tmp, store->dir_fd, name) != 0)
    ok = FALSE, errsv = errno;
  if (!ok)
    {
      unlinkat (store->dir_fd, tmp, 0);
      return sg_spool_set_errno (error, errsv, "write %s/%s", store->dir, name);
    }
  return TRUE;
}

/* drop_oldest - make room for need bytes; lock held. */
static void
drop_oldest (SgRejected *store, guint64 need)
{
  Entry *e;
  while (store->used + need > store->max_bytes && (e = g_queue_pop_head (&store->entries)) != NULL)
    {
      unlink_pair (store, e->id);
      store->used -= e->bytes;
      g_message ("%s: rejected: dropped the kept copy, [validation] keep_rejected is full "
                 "(%" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " bytes)", e->id,
                 store->used, store->max_bytes);
      g_free (e);
    }
}

/* sg_rejected_keep - store one refused message, dropping the oldest first. */
gboolean
sg_rejected_keep (SgRejected *store, SgRejectedMeta *meta, GBytes *header, GBytes *body,
                  GError **error)
{
  gsize h_len = 0, b_len = 0, json_len = 0;
  const guint8 *h = header ? g_bytes_get_data (header, &h_len) : NULL;
  const guint8 *bd = body ? g_bytes_get_data (body, &b_len) : NULL;
  SgMeta *env = meta->envelope;

  g_return_val_if_fail (sg_queue_id_valid (env->queue_id), FALSE);
  env->message_size = h_len + b_len;
  g_free (env->sha256);
  env->sha256 = sg_spool_sha256_hex (h ? h : (const guint8 *) "", h_len,
                                     bd ? bd : (const guint8 *) "", b_len);
  g_autofree char *json = sg_rejected_meta_to_json (meta, &json_len);
  g_autofree char *eml_name = sg_spool_file_name (env->queue_id, SG_SPOOL_EML_SUFFIX);
  g_autofree char *json_name = sg_spool_file_name (env->queue_id, SG_SPOOL_JSON_SUFFIX);
  guint64 need = env->message_size + json_len;
  gboolean ok = FALSE;

  g_mutex_lock (&store->lock);
  if (need > store->max_bytes)
    g_set_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOSPACE,
                 "%" G_GUINT64_FORMAT " bytes, more than [validation] keep_rejected (%"
                 G_GUINT64_FORMAT ")", need, store->max_bytes);
  else
    {
      drop_oldest (store, need);
      /* .eml first: a .json is the mark of a complete copy. */
      ok = write_tmp (store, eml_name, h, h_len, bd, b_len, error) &&
           write_tmp (store, json_name, (const guint8 *) json, json_len, NULL, 0, error);
      if (ok)
        {
          Entry *e = g_new0 (Entry, 1);
          g_strlcpy (e->id, env->queue_id, sizeof e->id);
          e->bytes = need;
          store->used += need;
          g_queue_push_tail (&store->entries, e);
        }
      else
        unlink_pair (store, env->queue_id);
    }
  g_mutex_unlock (&store->lock);
  return ok;
}

/* sg_rejected_note_delivered - see spool_rejected.h. Called by the queue
 * runner's workers beside the daemon's own store: the rewrite is a rename,
 * and a copy dropped meanwhile (its .eml gone) loses its .json again. */
gboolean
sg_rejected_note_delivered (const char *spool_dir, const char *queue_id, gint64 when_us,
                            GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autoptr(SgRejected) store = store_new (spool_dir, FALSE, &local);
  g_autoptr(SgRejectedMeta) meta = store ? sg_rejected_load (store, queue_id, &local) : NULL;
  if (meta == NULL)
    {
      if (g_error_matches (local, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND)
          || g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  if (!meta->monitored || meta->delivered_time_us != 0)
    return TRUE;
  meta->delivered_time_us = when_us;
  gsize len = 0;
  g_autofree char *json = sg_rejected_meta_to_json (meta, &len);
  g_autofree char *json_name = sg_spool_file_name (queue_id, SG_SPOOL_JSON_SUFFIX);
  g_autofree char *eml_name = sg_spool_file_name (queue_id, SG_SPOOL_EML_SUFFIX);
  if (!write_tmp (store, json_name, (const guint8 *) json, len, NULL, 0, error))
    return FALSE;
  struct stat st;
  if (fstatat (store->dir_fd, eml_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
    unlinkat (store->dir_fd, json_name, 0);
  return TRUE;
}

/* sg_rejected_list - IDs with metadata, oldest first (transfer full). */
GPtrArray *
sg_rejected_list (SgRejected *store, GError **error)
{
  g_autoptr(GPtrArray) names = list_names (store, error);
  if (names == NULL)
    return NULL;
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < names->len; i++)
    {
      char *id = name_id (g_ptr_array_index (names, i), SG_SPOOL_JSON_SUFFIX);
      if (id != NULL)
        g_ptr_array_add (ids, id);
    }
  return ids;
}

/* sg_rejected_load - read one .json (transfer full). */
SgRejectedMeta *
sg_rejected_load (SgRejected *store, const char *queue_id, GError **error)
{
  g_autofree char *name = NULL;
  g_autofree char *data = NULL;
  gsize len = 0;

  if (!sg_queue_id_valid (queue_id))
    {
      g_set_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND, "\"%s\" is not a queue ID",
                   queue_id ? queue_id : "(null)");
      return NULL;
    }
  name = sg_spool_file_name (queue_id, SG_SPOOL_JSON_SUFFIX);
  data = sg_spool_read_at (store->dir_fd, name, SG_SPOOL_MAX_META_SIZE, &len, error);
  if (data == NULL)
    return NULL;
  SgRejectedMeta *meta = sg_rejected_meta_from_json (data, (gssize) len, error);
  if (meta == NULL)
    g_prefix_error (error, "%s/%s: ", store->dir, name);
  else if (strcmp (meta->envelope->queue_id, queue_id) != 0)
    {
      g_set_error (error, SG_META_ERROR, SG_META_ERROR_INVALID, "%s/%s: holds queue_id %s",
                   store->dir, name, meta->envelope->queue_id);
      g_clear_pointer (&meta, sg_rejected_meta_free);
    }
  return meta;
}

/* sg_rejected_read_message - the kept .eml, checked (transfer full). */
GBytes *
sg_rejected_read_message (SgRejected *store, const char *queue_id, const SgRejectedMeta *meta,
                          GError **error)
{
  g_autofree char *name = sg_spool_file_name (queue_id, SG_SPOOL_EML_SUFFIX);
  gsize len = 0;
  g_autofree char *data = sg_spool_read_at (store->dir_fd, name, G_MAXSIZE - 1, &len, error);
  if (data == NULL)
    return NULL;
  if (meta != NULL)
    {
      g_autofree char *sum = sg_spool_sha256_hex ((const guint8 *) data, len, (const guint8 *) "", 0);
      if (len != meta->envelope->message_size || g_strcmp0 (sum, meta->envelope->sha256) != 0)
        {
          g_set_error (error, SG_META_ERROR, SG_META_ERROR_INVALID,
                       "%s/%s: %" G_GSIZE_FORMAT " bytes that do not match its metadata "
                       "(%" G_GUINT64_FORMAT " bytes, SHA-256 %s)", store->dir, name, len,
                       meta->envelope->message_size, meta->envelope->sha256);
          return NULL;
        }
    }
  return g_bytes_new_take (g_steal_pointer (&data), len);
}

/* sg_rejected_remove - delete one kept copy. */
gboolean
sg_rejected_remove (SgRejected *store, const char *queue_id, GError **error)
{
  g_autofree char *json = sg_spool_file_name (queue_id, SG_SPOOL_JSON_SUFFIX);
  if (unlinkat (store->dir_fd, json, 0) != 0)
    {
      if (errno == ENOENT)
        {
          g_set_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND,
                       "no rejected message %s", queue_id);
          return FALSE;
        }
      return sg_spool_set_errno (error, errno, "remove %s/%s", store->dir, json);
    }
  unlink_pair (store, queue_id);
  return TRUE;
}
