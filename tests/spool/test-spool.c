/* test-spool.c - synchronous spool tests on real directories: layout and
 * daemon lock, byte-exact commit checked against the JSON Schema, ID
 * collisions, load/update/remove, concurrent commits, and real ENOSPC on a
 * tiny tmpfs. */
#include "spool_test_util.h"
#include "spool/spool_private.h"

#include <errno.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER      "Received: from client.example.org ([192.0.2.7])\r\n\tby mx.example; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
#define TINY_FS     "size=64k,mode=0700"
#define BIG_BODY    (200u * 1024u)
#define FILL_BODY   (6u * 1024u)
#define N_THREADS   4
#define PER_THREAD  10

typedef struct {
  char    *dir;
  SgSpool *spool;
} Fixture;

/* fixture_setup - an opened spool in a fresh directory. */
static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->spool = sg_test_spool_new (&f->dir);
  if (data != NULL)
    {
      sg_test_spool_use_syncfs (f->spool, *(const SgSpoolSyncMethod *) data);
      g_assert_cmpint (sg_spool_get_sync_method (f->spool), ==, SG_SPOOL_SYNC_SYNCFS);
    }
}

/* fixture_teardown - close the spool and remove its directory. */
static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->spool, sg_spool_free);
  sg_test_rmtree (f->dir);
  g_free (f->dir);
}

/* sub - path of a file below the spool directory (transfer full). */
static char *
sub (Fixture *f, const char *dir, const char *id, const char *suffix)
{
  g_autofree char *name = id ? g_strconcat (id, suffix, NULL) : NULL;

  return g_build_filename (f->dir, dir, name, NULL);
}

/* count_in - how many names in <spool>/<dir> end in suffix (NULL = all). */
static guint
count_in (Fixture *f, const char *dir, const char *suffix)
{
  g_autofree char *path = g_build_filename (f->dir, dir, NULL);

  return sg_test_count (path, suffix);
}

/* sample_body - a body with bytes that must not be rewritten (transfer full). */
static GBytes *
sample_body (void)
{
  static const char body[] = "Subject: t\r\n\r\nbare LF\nCR only\rNUL:\0:8bit \xc3\xa9\r\n.\r\n";

  return g_bytes_new_static (body, sizeof body - 1);
}

/* /spool/open/layout - directories with mode 0750 (tmp/ 0700) and the lock file exist. */
static void
test_layout (Fixture *f, gconstpointer data)
{
  static const char *const dirs[] = { "tmp", "queue", "quarantine" };
  g_autofree char *lock = g_build_filename (f->dir, SG_SPOOL_LOCK_FILE, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      g_autofree char *path = g_build_filename (f->dir, dirs[i], NULL);
      struct stat st;

      g_assert_cmpint (stat (path, &st), ==, 0);
      g_assert_true (S_ISDIR (st.st_mode));
      g_assert_cmpint (st.st_mode & 0777, ==, strcmp (dirs[i], "tmp") == 0 ? 0700 : 0750);
    }
  g_assert_true (g_file_test (lock, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpstr (sg_spool_dir (f->spool), ==, f->dir);
}

/* /spool/open/locked - a second daemon on the same spool is refused. */
static void
test_locked (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SgSpool) second = sg_spool_open (f->dir, &error);
  g_autofree char *pid = g_strdup_printf ("pid %ld", (long) getpid ());

  g_assert_null (second);
  g_assert_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_LOCKED);
  g_assert_nonnull (strstr (error->message, pid));
  g_clear_error (&error);

  g_clear_pointer (&f->spool, sg_spool_free);
  f->spool = sg_spool_open (f->dir, &error);
  g_assert_no_error (error);
}

/* /spool/open/not-a-directory - queue/ being a file is an error, not a crash. */
static void
test_not_a_directory (void)
{
  g_autofree char *dir = sg_test_tmpdir ();
  g_autofree char *queue = g_build_filename (dir, "queue", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(SgSpool) spool = NULL;

  g_assert_true (g_file_set_contents (queue, "x", 1, NULL));
  spool = sg_spool_open (dir, &error);
  g_assert_null (spool);
  g_assert_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_IO);
  sg_test_rmtree (dir);
}

/* /spool/commit/files - .eml is header+body byte for byte, .json validates
 * against the schema (and a broken one does not). */
static void
test_commit_files (Fixture *f, gconstpointer data)
{
  g_autoptr(SgMeta) meta = sg_test_sample_meta ();
  g_autoptr(GBytes) header = g_bytes_new_static (HEADER, strlen (HEADER));
  g_autoptr(GBytes) body = sample_body ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GByteArray) expect = g_byte_array_new ();
  g_autofree char *eml = NULL, *json = NULL, *tmp = NULL, *got = NULL, *broken = NULL;
  g_autofree char *text = NULL, *errors = NULL, *sha = NULL;
  gsize len = 0;
  struct stat st;

  g_assert_true (sg_spool_commit (f->spool, meta, header, body, &error));
  g_assert_no_error (error);
  eml = sub (f, "queue", meta->queue_id, ".eml");
  json = sub (f, "queue", meta->queue_id, ".json");
  tmp = sub (f, "tmp", NULL, NULL);

  g_byte_array_append (expect, (const guint8 *) HEADER, strlen (HEADER));
  g_byte_array_append (expect, g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  g_assert_true (g_file_get_contents (eml, &got, &len, NULL));
  g_assert_cmpmem (got, len, expect->data, expect->len);
  g_assert_cmpuint (meta->message_size, ==, expect->len);
  sha = g_compute_checksum_for_data (G_CHECKSUM_SHA256, expect->data, expect->len);
  g_assert_cmpstr (meta->sha256, ==, sha);
  g_assert_cmpint (stat (eml, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0640);
  g_assert_cmpint (stat (json, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0640);
  g_assert_cmpuint (sg_test_count (tmp, NULL), ==, 0);
  g_assert_cmpuint (sg_spool_flush_rounds (f->spool), ==, 1);

  {
    const char *files[] = { json, NULL };
    g_assert_cmpint (sg_test_validate (files, &errors), ==, 0);
  }
  /* The check can fail: a state outside the enum must be refused. */
  g_assert_true (g_file_get_contents (json, &text, NULL, NULL));
  broken = g_build_filename (f->dir, "broken.json", NULL);
  {
    g_autoptr(GString) s = g_string_new (text);
    const char *files[] = { broken, NULL };

    g_assert_cmpuint (g_string_replace (s, "\"queued\"", "\"lost\"", 1), ==, 1);
    g_assert_true (g_file_set_contents (broken, s->str, -1, NULL));
    g_clear_pointer (&errors, g_free);
    g_assert_cmpint (sg_test_validate (files, &errors), ==, 1);
    g_assert_nonnull (strstr (errors, "lost"));
  }
}

/* /spool/commit/large - messages around the direct-I/O threshold, with
 * sizes on and off the alignment and chunk boundaries, are stored byte for
 * byte (the padded last block is cut off) and hashed right. */
static void
test_commit_large (Fixture *f, gconstpointer data)
{
  const gsize sizes[] = {
    SG_SPOOL_DIRECT_MIN - strlen (HEADER) - 1, SG_SPOOL_DIRECT_MIN - strlen (HEADER),
    SG_SPOOL_DIRECT_MIN + 1, SG_SPOOL_DIRECT_CHUNK + SG_SPOOL_DIRECT_ALIGN,
    3 * SG_SPOOL_DIRECT_CHUNK - strlen (HEADER), 3 * SG_SPOOL_DIRECT_CHUNK + 4097,
  };
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autoptr(SgMeta) meta = sg_test_sample_meta ();
      g_autoptr(GBytes) header = g_bytes_new_static (HEADER, strlen (HEADER));
      guint8 *bytes = g_malloc (sizes[i]);
      for (gsize j = 0; j < sizes[i]; j++)
        bytes[j] = (guint8) ("0123456789abcdef\r\n"[j % 18]);
      g_autoptr(GBytes) body = g_bytes_new_take (bytes, sizes[i]);
      g_autoptr(GError) error = NULL;
      g_assert_true (sg_spool_commit (f->spool, meta, header, body, &error));
      g_assert_no_error (error);

      g_autofree char *eml = sub (f, "queue", meta->queue_id, ".eml");
      g_autofree char *got = NULL;
      gsize len = 0;
      g_assert_true (g_file_get_contents (eml, &got, &len, NULL));
      g_assert_cmpuint (len, ==, strlen (HEADER) + sizes[i]);
      g_assert_cmpmem (got, strlen (HEADER), HEADER, strlen (HEADER));
      g_assert_cmpmem (got + strlen (HEADER), sizes[i], g_bytes_get_data (body, NULL), sizes[i]);
      g_autofree char *sha = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (guint8 *) got, len);
      g_assert_cmpstr (meta->sha256, ==, sha);
      g_assert_cmpuint (meta->message_size, ==, len);
    }
}

/* /spool/commit/load-update-remove - the metadata life cycle. */
static void
test_load_update_remove (Fixture *f, gconstpointer data)
{
  g_autoptr(SgMeta) meta = sg_test_sample_meta ();
  g_autoptr(GBytes) header = g_bytes_new_static (HEADER, strlen (HEADER));
  g_autoptr(GBytes) body = sample_body ();
  g_autoptr(GError) error = NULL;
  g_autoptr(SgMeta) loaded = NULL, again = NULL, gone = NULL;
  g_autofree char *json = NULL, *eml = NULL, *path = NULL, *errors = NULL;

  g_assert_true (sg_spool_commit (f->spool, meta, header, body, &error));
  loaded = sg_spool_load_meta (f->spool, meta->queue_id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (loaded->sha256, ==, meta->sha256);

  loaded->state = SG_MSG_DEFERRED;
  loaded->attempts = 1;
  loaded->last_error = g_strdup ("421 4.3.2 busy");
  g_assert_true (sg_spool_update_meta (f->spool, loaded, &error));
  g_assert_no_error (error);
  again = sg_spool_load_meta (f->spool, meta->queue_id, &error);
  g_assert_no_error (error);
  g_assert_cmpint (again->state, ==, SG_MSG_DEFERRED);
  g_assert_cmpstr (again->last_error, ==, "421 4.3.2 busy");
  json = sub (f, "queue", meta->queue_id, ".json");
  {
    const char *files[] = { json, NULL };
    g_assert_cmpint (sg_test_validate (files, &errors), ==, 0);
  }
  g_assert_cmpuint (count_in (f, "tmp", NULL), ==, 0);

  path = sg_spool_message_path (f->spool, meta->queue_id);
  eml = sub (f, "queue", meta->queue_id, ".eml");
  g_assert_cmpstr (path, ==, eml);

  g_assert_true (sg_spool_remove (f->spool, meta->queue_id, &error));
  g_assert_false (g_file_test (json, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (eml, G_FILE_TEST_EXISTS));
  gone = sg_spool_load_meta (f->spool, meta->queue_id, &error);
  g_assert_null (gone);
  g_assert_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (sg_spool_update_meta (f->spool, loaded, &error));
  g_assert_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (sg_spool_remove (f->spool, meta->queue_id, &error));
  g_assert_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (sg_spool_load_meta (f->spool, "../queue/x", &error));
  g_assert_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND);
}

/* /spool/commit/exists - an ID already in queue/ is SG_SPOOL_ERROR_EXISTS and
 * the existing message is untouched. */
static void
test_exists (Fixture *f, gconstpointer data)
{
  g_autoptr(SgMeta) first = sg_test_sample_meta ();
  g_autoptr(SgMeta) second = sg_test_sample_meta ();
  g_autoptr(GBytes) header = g_bytes_new_static (HEADER, strlen (HEADER));
  g_autoptr(GBytes) body = sample_body ();
  g_autoptr(GBytes) other = g_bytes_new_static ("other", 5);
  g_autoptr(GError) error = NULL;
  g_autofree char *before = NULL, *after = NULL, *json = NULL;

  g_assert_true (sg_spool_commit (f->spool, first, header, body, &error));
  json = sub (f, "queue", first->queue_id, ".json");
  g_assert_true (g_file_get_contents (json, &before, NULL, NULL));
  g_free (second->queue_id);
  second->queue_id = g_strdup (first->queue_id);
  g_assert_false (sg_spool_commit (f->spool, second, header, other, &error));
  g_assert_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_EXISTS);
  g_assert_true (g_file_get_contents (json, &after, NULL, NULL));
  g_assert_cmpstr (before, ==, after);
  g_assert_cmpuint (count_in (f, "queue", NULL), ==, 2);
  g_assert_cmpuint (count_in (f, "tmp", NULL), ==, 0);
}

/* /spool/commit/generated-id - a NULL queue_id gets a fresh one. */
static void
test_generated_id (Fixture *f, gconstpointer data)
{
  g_autoptr(SgMeta) meta = sg_test_sample_meta ();
  g_autoptr(GError) error = NULL;
  g_autofree char *eml = NULL;

  g_clear_pointer (&meta->queue_id, g_free);
  meta->arrival_time_us = 0;
  g_assert_true (sg_spool_commit (f->spool, meta, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (sg_queue_id_valid (meta->queue_id));
  g_assert_cmpint (meta->arrival_time_us, ==, sg_queue_id_time (meta->queue_id));
  g_assert_cmpuint (meta->message_size, ==, 0);
  eml = sub (f, "queue", meta->queue_id, ".eml");
  g_assert_true (g_file_test (eml, G_FILE_TEST_IS_REGULAR));
}

/* commit_thread - PER_THREAD synchronous commits on one spool. */
static gpointer
commit_thread (gpointer data)
{
  SgSpool *spool = data;
  g_autoptr(GBytes) header = g_bytes_new_static (HEADER, strlen (HEADER));
  g_autoptr(GBytes) body = sample_body ();

  for (guint i = 0; i < PER_THREAD; i++)
    {
      g_autoptr(SgMeta) meta = sg_test_sample_meta ();
      g_autoptr(GError) error = NULL;

      if (!sg_spool_commit (spool, meta, header, body, &error))
        return g_strdup (error->message);
    }
  return NULL;
}

/* /spool/commit/threads - sg_spool_commit is safe from several threads. */
static void
test_threads (Fixture *f, gconstpointer data)
{
  GThread *threads[N_THREADS];

  for (guint t = 0; t < N_THREADS; t++)
    threads[t] = g_thread_new ("commit", commit_thread, f->spool);
  for (guint t = 0; t < N_THREADS; t++)
    {
      g_autofree char *failure = g_thread_join (threads[t]);

      g_assert_null (failure);
    }
  g_assert_cmpuint (count_in (f, "queue", ".eml"), ==, N_THREADS * PER_THREAD);
  g_assert_cmpuint (count_in (f, "queue", ".json"), ==, N_THREADS * PER_THREAD);
}

/* /spool/commit/nospace - real ENOSPC on a 64 KiB tmpfs: NOSPACE, and no
 * partial message anywhere. */
static void
test_nospace (void)
{
  g_autofree char *mnt = sg_test_mount_tmpfs (TINY_FS);
  if (mnt == NULL)
    return;
  g_autofree char *dir = g_build_filename (mnt, "spool", NULL);
  g_autofree char *queue = g_build_filename (dir, "queue", NULL);
  g_autofree char *tmp = g_build_filename (dir, "tmp", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) header = g_bytes_new_static (HEADER, strlen (HEADER));
  g_autofree guint8 *big = g_malloc0 (BIG_BODY);
  g_autoptr(GBytes) big_body = g_bytes_new_static (big, BIG_BODY);
  g_autofree guint8 *fill = g_malloc0 (FILL_BODY);
  g_autoptr(GBytes) fill_body = g_bytes_new_static (fill, FILL_BODY);
  g_autoptr(GPtrArray) jsons = NULL;
  SgSpool *spool;
  guint ok = 0;

  spool = sg_spool_open (dir, &error);
  g_assert_no_error (error);
  {
    g_autoptr(SgMeta) meta = sg_test_sample_meta ();

    g_assert_false (sg_spool_commit (spool, meta, header, big_body, &error));
    g_assert_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOSPACE);
    g_clear_error (&error);
    g_assert_cmpuint (sg_test_count (queue, NULL), ==, 0);
    g_assert_cmpuint (sg_test_count (tmp, NULL), ==, 0);
  }
  /* Fill it up: every commit either fully succeeds or leaves nothing. */
  for (;;)
    {
      g_autoptr(SgMeta) meta = sg_test_sample_meta ();

      if (!sg_spool_commit (spool, meta, header, fill_body, &error))
        break;
      ok++;
      g_assert_cmpuint (ok, <, 64);
    }
  g_assert_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOSPACE);
  g_clear_error (&error);
  g_assert_cmpuint (ok, >, 0);
  g_assert_cmpuint (sg_test_count (queue, ".eml"), ==, ok);
  g_assert_cmpuint (sg_test_count (queue, ".json"), ==, ok);
  g_assert_cmpuint (sg_test_count (queue, NULL), ==, 2 * ok);
  g_assert_cmpuint (sg_test_count (tmp, NULL), ==, 0);
  jsons = sg_test_list (queue, ".json");
  for (guint i = 0; i < jsons->len; i++)
    {
      g_autofree char *id = g_strndup (g_ptr_array_index (jsons, i), SG_QUEUE_ID_LEN);
      g_autoptr(SgMeta) back = sg_spool_load_meta (spool, id, &error);

      g_assert_no_error (error);
      g_assert_cmpuint (back->message_size, ==, strlen (HEADER) + FILL_BODY);
    }
  sg_spool_free (spool);
  sg_test_unmount_tmpfs (mnt);
}

/* /spool/sync/method-names - the configuration words, both ways. */
static void
test_sync_method_names (void)
{
  static const struct { const char *name; gboolean ok; SgSpoolSyncMethod method; } cases[] = {
    { "fdatasync", TRUE, SG_SPOOL_SYNC_FDATASYNC }, { "syncfs", TRUE, SG_SPOOL_SYNC_SYNCFS },
    { "fsync", FALSE, 0 }, { "", FALSE, 0 }, { "SYNCFS", FALSE, 0 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      SgSpoolSyncMethod got = 99;
      gboolean ok = sg_spool_sync_method_parse (cases[i].name, &got);
      if (ok != cases[i].ok || (ok && got != cases[i].method))
        g_error ("\"%s\": got %d/%d, want %d/%d", cases[i].name, ok, got, cases[i].ok, cases[i].method);
      if (ok)
        g_assert_cmpstr (sg_spool_sync_method_name (got), ==, cases[i].name);
    }
}

/* /spool/sync/own-fs - a directory on a shared file system is not "its own";
 * a tmpfs mounted on it is, and syncfs then logs a message, not a warning;
 * a sub-directory of that tmpfs is not. */
static void
test_own_fs (void)
{
  g_autofree char *mnt = sg_test_tmpdir ();
  g_autofree char *sub = g_build_filename (mnt, "sub", NULL);
  g_autofree char *where = NULL;
  g_autoptr(GError) error = NULL;
  SgSpool *spool = sg_spool_open (mnt, &error);

  g_assert_no_error (error);
  g_assert_false (sg_spool_own_fs (spool, &where));
  g_assert_nonnull (where);
  g_clear_pointer (&where, g_free);
  sg_spool_free (spool);
  sg_test_rmtree (mnt);
  g_assert_cmpint (mkdir (mnt, 0700), ==, 0);
  if (mount ("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m") != 0)
    {
      g_test_skip_printf ("cannot mount a tmpfs (%s); needs root and CAP_SYS_ADMIN",
                          g_strerror (errno));
      sg_test_rmtree (mnt);
      return;
    }
  spool = sg_spool_open (mnt, &error);
  g_assert_no_error (error);
  g_assert_true (sg_spool_own_fs (spool, &where));
  g_assert_nonnull (strstr (where, "tmpfs"));
  g_clear_pointer (&where, g_free);
  g_test_expect_message ("spoolgate", G_LOG_LEVEL_MESSAGE, "*is a file system of its own*");
  sg_spool_set_sync_method (spool, SG_SPOOL_SYNC_SYNCFS);
  g_test_assert_expected_messages ();
  sg_spool_free (spool);
  spool = sg_spool_open (sub, &error);
  g_assert_no_error (error);
  g_assert_false (sg_spool_own_fs (spool, &where));
  sg_spool_free (spool);
  g_assert_cmpint (umount (mnt), ==, 0);
  sg_test_rmtree (mnt);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/spool/open/layout", Fixture, NULL, fixture_setup, test_layout, fixture_teardown);
  g_test_add ("/spool/open/locked", Fixture, NULL, fixture_setup, test_locked, fixture_teardown);
  g_test_add_func ("/spool/open/not-a-directory", test_not_a_directory);
  g_test_add ("/spool/commit/files", Fixture, NULL, fixture_setup, test_commit_files,
              fixture_teardown);
  g_test_add ("/spool/commit/large", Fixture, NULL, fixture_setup, test_commit_large,
              fixture_teardown);
  g_test_add ("/spool/commit/load-update-remove", Fixture, NULL, fixture_setup,
              test_load_update_remove, fixture_teardown);
  g_test_add ("/spool/commit/exists", Fixture, NULL, fixture_setup, test_exists, fixture_teardown);
  g_test_add ("/spool/commit/generated-id", Fixture, NULL, fixture_setup, test_generated_id,
              fixture_teardown);
  g_test_add ("/spool/commit/threads", Fixture, NULL, fixture_setup, test_threads, fixture_teardown);
  g_test_add_func ("/spool/commit/nospace", test_nospace);
  /* the commit tests again with [spool] sync_method = syncfs */
  static const SgSpoolSyncMethod syncfs = SG_SPOOL_SYNC_SYNCFS;
  g_test_add ("/spool/commit/syncfs/files", Fixture, &syncfs, fixture_setup, test_commit_files,
              fixture_teardown);
  g_test_add ("/spool/commit/syncfs/large", Fixture, &syncfs, fixture_setup, test_commit_large,
              fixture_teardown);
  g_test_add ("/spool/commit/syncfs/threads", Fixture, &syncfs, fixture_setup, test_threads,
              fixture_teardown);
  g_test_add_func ("/spool/sync/method-names", test_sync_method_names);
  g_test_add_func ("/spool/sync/own-fs", test_own_fs);
  return g_test_run ();
}
