/* spool_release.c - `spoolgate release` of a refused message: rejected/ to
 * queue/ exactly once, and the resolution of a release cut short, by the
 * next release of that ID or by the daemon's start-up recovery. The
 * protocol is written down in spool_rejected.h. Keeping, listing and
 * dropping copies is spool_rejected.c's; the queue's own commits are
 * spool_commit.c's; what a released message's metadata says is set here. */
#include "spool/spool_private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>

#define COPY_PREFIX "release-"   /* tmp/release-<ID>.eml: the queue copy being written */

static SgReleaseStepHook step_hook;

void
sg_release_set_step_hook (SgReleaseStepHook hook)
{
  step_hook = hook;
}

/* step - a numbered point of the protocol (tests crash there). */
static inline void
step (SgReleaseStep s)
{
  if (step_hook != NULL)
    step_hook (s);
}

/* One release (or resolution) of one ID: where it works and its names. */
typedef struct {
  SgSpool    *spool;
  int         rej_fd;    /* rejected/ */
  const char *rej_dir;   /* its path, for messages */
  const char *id;
  char       *eml, *json, *intent;   /* <ID>.eml, <ID>.json, <ID>.queued */
} Release;

static void
release_init (Release *r, SgSpool *spool, int rej_fd, const char *rej_dir, const char *id)
{
  r->spool = spool;
  r->rej_fd = rej_fd;
  r->rej_dir = rej_dir;
  r->id = id;
  r->eml = sg_spool_file_name (id, SG_SPOOL_EML_SUFFIX);
  r->json = sg_spool_file_name (id, SG_SPOOL_JSON_SUFFIX);
  r->intent = sg_spool_file_name (id, SG_RELEASE_INTENT_SUFFIX);
}

static void
release_clear (Release *r)
{
  g_free (r->eml);
  g_free (r->json);
  g_free (r->intent);
}

/* exists_at - whether dir/name exists (not following a symlink). */
static gboolean
exists_at (int dir_fd, const char *name)
{
  struct stat st;
  return fstatat (dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* lock_dir - flock a directory exclusively through a descriptor of our
 * own: flock locks belong to the open file, so this excludes every other
 * process and every other open in this one. The lock fd, or -1 (with
 * SG_SPOOL_ERROR_BUSY when !wait and someone holds it). */
static int
lock_dir (int dir_fd, const char *what, gboolean wait, GError **error)
{
  int fd = openat (dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return sg_spool_set_errno (error, errno, "open %s", what), -1;
  int e = sg_spool_flock (fd, LOCK_EX, wait);
  if (e != 0)
    {
      close (fd);
      if (e == EWOULDBLOCK)
        g_set_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_BUSY,
                     "%s is locked by a release in progress", what);
      else
        sg_spool_set_errno (error, e, "lock %s", what);
      return -1;
    }
  return fd;
}

/* lock_copy - queue/<ID>.eml, flocked without waiting; -1 (errno ENOENT or
 * EWOULDBLOCK) if it is absent or someone holds it. */
static int
lock_copy (Release *r)
{
  int fd = openat (r->spool->queue_fd, r->eml, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return -1;
  int e = sg_spool_flock (fd, LOCK_EX, FALSE);
  if (e != 0)
    {
      close (fd);
      errno = e;
      return -1;
    }
  return fd;
}

/* drop_copy - remove a queue/<ID>.eml that is not a message (no .json
 * beside it), locked by us (copy_fd) or, when copy_fd is -1, by nobody. */
static void
drop_copy (Release *r, int copy_fd)
{
  int fd = copy_fd >= 0 ? copy_fd : lock_copy (r);
  if (fd < 0)
    return;
  if (!exists_at (r->spool->queue_fd, r->json) && unlinkat (r->spool->queue_fd, r->eml, 0) == 0)
    step (SG_RELEASE_UNDO_COPY);
  close (fd);
}

/* abandon - a release that fails before its decision leaves nothing:
 * the copy in queue/ (copy_fd, or -1), then the intent. */
static void
abandon (Release *r, int copy_fd)
{
  drop_copy (r, copy_fd);
  if (unlinkat (r->rej_fd, r->intent, 0) != 0 && errno != ENOENT)
    g_warning ("%s: cannot remove %s/%s: %s", r->id, r->rej_dir, r->intent, g_strerror (errno));
  else
    step (SG_RELEASE_UNDONE);
  if (fsync (r->rej_fd) != 0)
    g_warning ("%s: fsync %s: %s", r->id, r->rej_dir, g_strerror (errno));
}

/* write_intent - step 3: <ID>.queued holding json, durable. */
static gboolean
write_intent (Release *r, const char *json, gsize len, GError **error)
{
  int errsv = 0;
  int fd = openat (r->rej_fd, r->intent, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                   SG_SPOOL_FILE_MODE);
  if (fd < 0)
    return sg_spool_set_errno (error, errno, "create %s/%s", r->rej_dir, r->intent);
  gboolean ok = sg_spool_write_all (fd, (const guint8 *) json, len, &errsv);
  if (ok)
    step (SG_RELEASE_INTENT_WRITTEN);
  if (ok && fsync (fd) != 0)
    ok = FALSE, errsv = errno;
  if (close (fd) != 0 && ok)
    ok = FALSE, errsv = errno;
  if (ok && fsync (r->rej_fd) != 0)
    ok = FALSE, errsv = errno;
  if (!ok)
    {
      unlinkat (r->rej_fd, r->intent, 0);
      return sg_spool_set_errno (error, errsv, "write %s/%s", r->rej_dir, r->intent);
    }
  step (SG_RELEASE_INTENT_DURABLE);
  return TRUE;
}

/* put_copy - step 4: queue/<ID>.eml holding data, durable, and flocked so
 * that nobody removes it as a lone .eml before it is published. A lone
 * .eml of an earlier, undone release is replaced. The locked fd, or -1. */
static int
put_copy (Release *r, GBytes *data, GError **error)
{
  SgSpool *spool = r->spool;
  g_autofree char *tmp = g_strconcat (COPY_PREFIX, r->eml, NULL);
  gsize len = 0;
  const guint8 *bytes = g_bytes_get_data (data, &len);
  int errsv = 0;
  int fd = openat (spool->tmp_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                   SG_SPOOL_FILE_MODE);
  if (fd < 0)
    return sg_spool_set_errno (error, errno, "create %s/%s/%s", spool->dir, SG_SPOOL_TMP_DIR, tmp), -1;
  gboolean ok = sg_spool_write_all (fd, bytes != NULL ? bytes : (const guint8 *) "", len, &errsv);
  if (ok && fsync (fd) != 0)
    ok = FALSE, errsv = errno;
  if (ok && (errsv = sg_spool_flock (fd, LOCK_EX, FALSE)) != 0)
    ok = FALSE;
  if (ok)
    {
      step (SG_RELEASE_COPY_WRITTEN);
      errsv = sg_spool_rename_noreplace (spool->tmp_fd, tmp, spool->queue_fd, r->eml);
      if (errsv == EEXIST && !exists_at (spool->queue_fd, r->json))
        {
          /* a lone .eml of a release undone earlier: ours to replace, unless held */
          int old = lock_copy (r);
          errsv = old < 0 ? errno
                : renameat (spool->tmp_fd, tmp, spool->queue_fd, r->eml) == 0 ? 0 : errno;
          if (old >= 0)
            close (old);
        }
      ok = errsv == 0;
    }
  if (!ok)
    {
      close (fd);
      unlinkat (spool->tmp_fd, tmp, 0);
      return sg_spool_set_errno (error, errsv, "write %s/%s/%s", spool->dir, SG_SPOOL_QUEUE_DIR,
                                 r->eml), -1;
    }
  step (SG_RELEASE_COPY_QUEUED);
  if (!sg_spool_fsync_dir (spool->queue_fd, SG_SPOOL_QUEUE_DIR, error))
    {
      drop_copy (r, fd);
      return -1;
    }
  return fd;
}

/* publish - step 6: <ID>.queued becomes queue/<ID>.json; then the copy's
 * lock (copy_fd, closed here) is dropped at once, so that the runner,
 * woken by the new name, finds the message free. */
static gboolean
publish (Release *r, int copy_fd, GError **error)
{
  int errsv = sg_spool_rename_noreplace (r->rej_fd, r->intent, r->spool->queue_fd, r->json);
  close (copy_fd);
  if (errsv == EEXIST)
    {
      /* Queued already: only a link-and-unlink rename (file systems
       * without RENAME_NOREPLACE) cut short leaves both; the intent is spent. */
      errsv = unlinkat (r->rej_fd, r->intent, 0) == 0 || errno == ENOENT ? 0 : errno;
    }
  if (errsv != 0)
    return sg_spool_set_errno (error, errsv, "rename %s/%s to %s/%s/%s", r->rej_dir, r->intent,
                               r->spool->dir, SG_SPOOL_QUEUE_DIR, r->json);
  step (SG_RELEASE_PUBLISHED);
  if (!sg_spool_fsync_dir (r->spool->queue_fd, SG_SPOOL_QUEUE_DIR, error) ||
      !sg_spool_fsync_dir (r->rej_fd, SG_REJECTED_DIR, error))
    return FALSE;
  step (SG_RELEASE_PUBLISH_DURABLE);
  return TRUE;
}

/* whole_copy - the locked queue/<ID>.eml of an earlier run if it has
 * size bytes (it was fsynced before it got its name), else -1. */
static int
whole_copy (Release *r, guint64 size)
{
  struct stat st;
  int fd = lock_copy (r);
  if (fd >= 0 && (fstat (fd, &st) != 0 || (guint64) st.st_size != size))
    {
      close (fd);
      fd = -1;
    }
  return fd;
}

/* finish - steps 6 and 7 of a decided release; copy_fd is the locked
 * queue/<ID>.eml, or -1 after a crash: then that copy, or a new one from
 * rejected/<ID>.eml if the queue lost it. Closes copy_fd. The queued
 * metadata (transfer full), or NULL if it cannot be finished now. */
static SgMeta *
finish (Release *r, int copy_fd, GError **error)
{
  gsize len = 0;
  g_autofree char *data = sg_spool_read_at (r->rej_fd, r->intent, SG_SPOOL_MAX_META_SIZE, &len,
                                            error);
  g_autoptr(SgMeta) meta = data ? sg_meta_from_json (data, (gssize) len, error) : NULL;
  if (meta != NULL && strcmp (meta->queue_id, r->id) != 0)
    {
      g_set_error (error, SG_META_ERROR, SG_META_ERROR_INVALID, "holds queue_id %s", meta->queue_id);
      g_clear_pointer (&meta, sg_meta_free);
    }
  if (meta == NULL)
    {
      g_prefix_error (error, "%s/%s: ", r->rej_dir, r->intent);
      if (copy_fd >= 0)
        close (copy_fd);
      return NULL;
    }
  if (copy_fd < 0 && (copy_fd = whole_copy (r, meta->message_size)) < 0)
    {
      g_autofree char *eml = g_strdup_printf ("%s/%s", r->rej_dir, r->eml);
      g_autofree char *bytes = sg_spool_read_at (r->rej_fd, r->eml, G_MAXSIZE - 1, &len, error);
      g_autofree char *sum = bytes ? sg_spool_sha256_hex ((const guint8 *) bytes, len,
                                                          (const guint8 *) "", 0) : NULL;
      if (bytes == NULL)
        {
          g_prefix_error (error, "no copy of the message left to queue: ");
          return NULL;
        }
      if (len != meta->message_size || g_strcmp0 (sum, meta->sha256) != 0)
        {
          g_set_error (error, SG_META_ERROR, SG_META_ERROR_INVALID,
                       "%s does not match %s/%s (%" G_GSIZE_FORMAT " bytes, SHA-256 %s)", eml,
                       r->rej_dir, r->intent, len, sum);
          return NULL;
        }
      g_autoptr(GBytes) copy = g_bytes_new_take (g_steal_pointer (&bytes), len);
      if ((copy_fd = put_copy (r, copy, error)) < 0)
        return NULL;
    }
  if (!publish (r, copy_fd, error))
    return NULL;
  if (unlinkat (r->rej_fd, r->eml, 0) != 0 && errno != ENOENT)
    g_warning ("%s: queued, but %s/%s stays: %s", r->id, r->rej_dir, r->eml, g_strerror (errno));
  step (SG_RELEASE_DONE);
  return g_steal_pointer (&meta);
}

/* resolve - under the rejected/ lock: undo (not decided) or finish
 * (decided) a release of r->id that was cut short. *queued gets the
 * metadata of one finished now (transfer full), else stays NULL. */
static gboolean
resolve (Release *r, SgMeta **queued, GError **error)
{
  *queued = NULL;
  if (!exists_at (r->rej_fd, r->intent))
    return TRUE;
  if (exists_at (r->rej_fd, r->json))
    {
      abandon (r, -1);
      g_message ("%s: a release cut short before its decision was undone; the message is still "
                 "refused, in %s", r->id, r->rej_dir);
      return TRUE;
    }
  if (!exists_at (r->spool->queue_fd, r->eml) && !exists_at (r->rej_fd, r->eml))
    {
      /* The daemon dropped the copy for room before the release had one in
       * queue/: nothing is left to queue. */
      if (unlinkat (r->rej_fd, r->intent, 0) != 0 && errno != ENOENT)
        return sg_spool_set_errno (error, errno, "remove %s/%s", r->rej_dir, r->intent);
      g_warning ("%s: a release cut short cannot be finished: its copy was dropped from %s "
                 "([validation] keep_rejected full); nothing queued", r->id, r->rej_dir);
      return TRUE;
    }
  *queued = finish (r, -1, error);
  if (*queued == NULL)
    return FALSE;
  g_message ("%s: a release cut short after its decision was finished: the message is queued",
             r->id);
  return TRUE;
}

/* prepare - the envelope of a refused message as queued mail: never
 * tried, every recipient pending, its lifetime starting now (issue 23: the
 * administrator's decision to try again), and a "released" note in its
 * validation object. */
static void
prepare (SgMeta *env, gint64 now)
{
  env->state = SG_MSG_QUEUED;
  env->attempts = 0;
  env->next_attempt = 0;
  env->lifetime_start = now;
  for (guint i = 0; i < env->recipients->len; i++)
    {
      SgMetaRecipient *rcpt = g_ptr_array_index (env->recipients, i);
      rcpt->status = SG_RCPT_PENDING;
    }
  if (env->validation != NULL && JSON_NODE_HOLDS_OBJECT (env->validation))
    json_object_set_int_member (json_node_get_object (env->validation), "released", now);
}

/* run - steps 1 (after the lock) to 7 for one ID (transfer full). */
static SgMeta *
run (Release *r, SgRejected *store, GError **error)
{
  SgMeta *done = NULL;
  g_autoptr(GError) local = NULL;

  step (SG_RELEASE_LOCKED);
  if (!resolve (r, &done, error))
    return NULL;
  if (done != NULL)
    return done;
  g_autoptr(SgRejectedMeta) meta = sg_rejected_load (store, r->id, &local);
  if (meta == NULL)
    {
      if (g_error_matches (local, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND))
        {
          /* A release that died at step 7 leaves the .eml alone: spent. */
          if (unlinkat (r->rej_fd, r->eml, 0) == 0)
            g_message ("%s: removed %s/%s left by a finished release", r->id, r->rej_dir, r->eml);
          g_set_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND,
                       "no refused message %s in %s (released or dropped already)", r->id,
                       r->rej_dir);
        }
      else
        g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  if (exists_at (r->spool->queue_fd, r->json))
    {
      /* Queued by a release older than this protocol that died before it
       * removed its copy: the copy only goes. */
      if (unlinkat (r->rej_fd, r->json, 0) == 0)
        unlinkat (r->rej_fd, r->eml, 0);
      g_set_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND,
                   "message %s is in the queue already; removed its copy in %s", r->id, r->rej_dir);
      return NULL;
    }
  g_autoptr(GBytes) eml = sg_rejected_read_message (store, r->id, meta, error);
  if (eml == NULL)
    return NULL;
  prepare (meta->envelope, g_get_real_time () / G_USEC_PER_SEC);
  gsize json_len = 0;
  g_autofree char *json = sg_meta_to_json (meta->envelope, &json_len);
  if (!write_intent (r, json, json_len, error))
    return NULL;
  int copy = put_copy (r, eml, error);
  if (copy < 0)
    {
      abandon (r, -1);
      return NULL;
    }
  /* Step 5, the decision. ENOENT: the daemon dropped the copy for room
   * meanwhile; the intent is ours, so it is decided all the same. */
  if (unlinkat (r->rej_fd, r->json, 0) != 0 && errno != ENOENT)
    {
      int errsv = errno;
      abandon (r, copy);
      return sg_spool_set_errno (error, errsv, "remove %s/%s", r->rej_dir, r->json), NULL;
    }
  step (SG_RELEASE_DECIDED);
  if (fsync (r->rej_fd) != 0)
    {
      int errsv = errno;
      close (copy);
      sg_spool_set_errno (error, errsv, "fsync %s", r->rej_dir);
      g_prefix_error (error, "released, not yet queued (the next `spoolgate release %s` or start "
                      "finishes it): ", r->id);
      return NULL;
    }
  step (SG_RELEASE_DECISION_DURABLE);
  SgMeta *queued = finish (r, copy, error);
  if (queued == NULL)
    g_prefix_error (error, "released, not yet queued (the next `spoolgate release %s` or start "
                    "finishes it): ", r->id);
  return queued;
}

/* sg_rejected_release - see spool_rejected.h. */
SgMeta *
sg_rejected_release (SgRejected *store, SgSpool *spool, const char *queue_id, GError **error)
{
  Release r;
  if (!sg_queue_id_valid (queue_id))
    {
      g_set_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND, "\"%s\" is not a queue ID",
                   queue_id ? queue_id : "(null)");
      return NULL;
    }
  int lock = lock_dir (sg_rejected_dir_fd (store), sg_rejected_dir (store), TRUE, error);
  if (lock < 0)
    return NULL;
  release_init (&r, spool, sg_rejected_dir_fd (store), sg_rejected_dir (store), queue_id);
  SgMeta *queued = run (&r, store, error);
  release_clear (&r);
  close (lock);
  return queued;
}

/* sg_rejected_holds - see spool_rejected.h. */
gboolean
sg_rejected_holds (SgRejected *store, const char *queue_id)
{
  static const char *const suffixes[] = {
    SG_SPOOL_JSON_SUFFIX, SG_RELEASE_INTENT_SUFFIX, SG_SPOOL_EML_SUFFIX
  };
  if (!sg_queue_id_valid (queue_id))
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *name = sg_spool_file_name (queue_id, suffixes[i]);
      if (exists_at (sg_rejected_dir_fd (store), name))
        return TRUE;
    }
  return FALSE;
}

/* intent_ids - IDs of the <ID>.queued files in a directory (transfer full). */
static GPtrArray *
intent_ids (int dir_fd)
{
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  int fd = dup (dir_fd);
  DIR *dir = fd >= 0 ? fdopendir (fd) : NULL;
  gsize want = SG_QUEUE_ID_LEN + strlen (SG_RELEASE_INTENT_SUFFIX);
  if (dir == NULL)
    {
      if (fd >= 0)
        close (fd);
      return ids;
    }
  rewinddir (dir);
  for (struct dirent *de; (de = readdir (dir)) != NULL; )
    if (strlen (de->d_name) == want && g_str_has_suffix (de->d_name, SG_RELEASE_INTENT_SUFFIX))
      {
        char *id = g_strndup (de->d_name, SG_QUEUE_ID_LEN);
        if (sg_queue_id_valid (id))
          g_ptr_array_add (ids, id);
        else
          g_free (id);
      }
  closedir (dir);
  return ids;
}

/* sg_spool_recover_releases - see spool_private.h. */
void
sg_spool_recover_releases (SgSpool *spool)
{
  g_autofree char *dir = g_build_filename (spool->dir, SG_REJECTED_DIR, NULL);
  g_autoptr(GError) error = NULL;
  int rej = openat (spool->dir_fd, SG_REJECTED_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (rej < 0)
    {
      if (errno != ENOENT)
        g_warning ("spool recovery: open %s: %s", dir, g_strerror (errno));
      return;
    }
  int lock = lock_dir (rej, dir, FALSE, &error);
  if (lock < 0)
    {
      g_message ("spool recovery: %s; any release cut short is left to it", error->message);
      close (rej);
      return;
    }
  g_autoptr(GPtrArray) ids = intent_ids (rej);
  for (guint i = 0; i < ids->len; i++)
    {
      const char *id = g_ptr_array_index (ids, i);
      g_autoptr(SgMeta) queued = NULL;
      g_autoptr(GError) local = NULL;
      Release r;
      release_init (&r, spool, rej, dir, id);
      if (!resolve (&r, &queued, &local))
        g_warning ("spool recovery: %s: a release cut short cannot be finished now: %s; "
                   "left for the next start or `spoolgate release %s`", id, local->message, id);
      release_clear (&r);
    }
  close (lock);
  close (rej);
}
