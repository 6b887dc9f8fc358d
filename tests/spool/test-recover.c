/* test-recover.c - start-up recovery on a crafted crash scene: tmp/
 * leftovers, a lone .eml, a lone .json, corrupt and wrong-version metadata,
 * a size mismatch and stray files. Valid messages must come through
 * untouched, nothing doubtful may be deleted. */
#include "spool_test_util.h"

#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER  "Received: from x by y; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
#define BODY    "Subject: recover\r\n\r\nbody\r\n"
#define N_VALID 3

static guint recovery_warnings;

/* count_warning - recovery warns once per quarantined file by design: count
 * those (the test compares the count); any other warning fails the test. */
static void
count_warning (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
  if (g_str_has_prefix (message, "spool recovery: "))
    recovery_warnings++;
  else
    g_test_fail ();
  g_test_message ("warning: %s", message);
}

typedef struct {
  char     *dir;
  SgSpool  *spool;
} Fixture;

/* fixture_setup - an opened spool in a fresh directory. */
static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->spool = sg_test_spool_new (&f->dir);
}

/* fixture_teardown - close the spool and remove its directory. */
static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->spool, sg_spool_free);
  sg_test_rmtree (f->dir);
  g_free (f->dir);
}

/* commit_one - commit a sample message; its ID (transfer full). */
static char *
commit_one (Fixture *f)
{
  g_autoptr(SgMeta) meta = sg_test_sample_meta ();
  g_autoptr(GBytes) header = g_bytes_new_static (HEADER, strlen (HEADER));
  g_autoptr(GBytes) body = g_bytes_new_static (BODY, strlen (BODY));
  g_autoptr(GError) error = NULL;

  g_assert_true (sg_spool_commit (f->spool, meta, header, body, &error));
  g_assert_no_error (error);
  return g_strdup (meta->queue_id);
}

/* path - <spool>/<dir>/<id><suffix> (transfer full). */
static char *
path (Fixture *f, const char *dir, const char *id, const char *suffix)
{
  g_autofree char *name = g_strconcat (id, suffix, NULL);

  return g_build_filename (f->dir, dir, name, NULL);
}

/* put - write a file below the spool directory. */
static void
put (Fixture *f, const char *dir, const char *name, const char *text)
{
  g_autofree char *p = path (f, dir, name, "");

  g_assert_true (g_file_set_contents (p, text, -1, NULL));
}

/* slurp - contents of a file (transfer full). */
static char *
slurp (const char *p)
{
  char *data = NULL;

  g_assert_true (g_file_get_contents (p, &data, NULL, NULL));
  return data;
}

/* replace_in - substitute once in a file's text. */
static void
replace_in (const char *p, const char *from, const char *to)
{
  g_autofree char *text = slurp (p);
  g_autoptr(GString) s = g_string_new (text);

  g_assert_cmpuint (g_string_replace (s, from, to, 1), ==, 1);
  g_assert_true (g_file_set_contents (p, s->str, -1, NULL));
}

/* /spool/recover/scene - every kind of leftover handled, valid ones kept. */
static void
test_scene (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) before = g_ptr_array_new_with_free_func (g_free);
  char *valid[N_VALID] = { NULL };
  g_autofree char *lone_json = NULL, *corrupt = NULL, *version = NULL, *size = NULL;
  g_autofree char *lone_eml = NULL, *p = NULL, *subdir = NULL;
  g_autofree char *queue = g_build_filename (f->dir, "queue", NULL);
  g_autofree char *quarantine = g_build_filename (f->dir, "quarantine", NULL);
  g_autofree char *tmp = g_build_filename (f->dir, "tmp", NULL);
  char id[SG_QUEUE_ID_LEN + 1];
  SgSpoolRecovery report = { .messages = 99, .removed_partial = 99, .quarantined = 99 };

  for (guint i = 0; i < N_VALID; i++)
    {
      valid[i] = commit_one (f);
      p = path (f, "queue", valid[i], ".eml");
      g_ptr_array_add (before, slurp (p));
      g_clear_pointer (&p, g_free);
      p = path (f, "queue", valid[i], ".json");
      g_ptr_array_add (before, slurp (p));
      g_clear_pointer (&p, g_free);
    }

  /* tmp/: an unfinished commit and an unfinished metadata rewrite. */
  sg_queue_id_generate (id);
  put (f, "tmp", id, "half a message");
  p = g_strconcat (valid[0], ".json.1234abcd.upd", NULL);
  put (f, "tmp", p, "{\"version\":");
  g_clear_pointer (&p, g_free);
  /* queue/: an .eml whose .json never arrived. */
  sg_queue_id_generate (id);
  lone_eml = g_strdup (id);
  p = g_strconcat (lone_eml, ".eml", NULL);
  put (f, "queue", p, HEADER BODY);
  g_clear_pointer (&p, g_free);
  /* queue/: a .json whose .eml is gone. */
  lone_json = commit_one (f);
  p = path (f, "queue", lone_json, ".eml");
  g_assert_cmpint (unlink (p), ==, 0);
  g_clear_pointer (&p, g_free);
  /* queue/: unparsable metadata, a future version, a size mismatch. */
  corrupt = commit_one (f);
  p = path (f, "queue", corrupt, ".json");
  g_assert_true (g_file_set_contents (p, "{ not json", -1, NULL));
  g_clear_pointer (&p, g_free);
  version = commit_one (f);
  p = path (f, "queue", version, ".json");
  replace_in (p, "\"version\" : 3", "\"version\" : 4");
  g_clear_pointer (&p, g_free);
  size = commit_one (f);
  p = path (f, "queue", size, ".eml");
  g_assert_true (g_file_set_contents (p, HEADER BODY "extra", -1, NULL));
  g_clear_pointer (&p, g_free);
  /* queue/: stray files, one clashing with a name already in quarantine/. */
  put (f, "queue", "README", "stray");
  put (f, "quarantine", "README", "older");
  subdir = g_build_filename (queue, "subdir", NULL);
  g_assert_cmpint (mkdir (subdir, 0700), ==, 0);

  /* "Restart" and recover. */
  g_clear_pointer (&f->spool, sg_spool_free);
  f->spool = sg_spool_open (f->dir, &error);
  g_assert_no_error (error);
  recovery_warnings = 0;
  g_assert_true (sg_spool_recover (f->spool, &report, &error));
  g_assert_no_error (error);

  g_assert_cmpuint (recovery_warnings, ==, report.quarantined);
  g_assert_cmpuint (report.messages, ==, N_VALID);
  g_assert_cmpuint (report.removed_partial, ==, 3);     /* 2 in tmp/, the lone .eml */
  g_assert_cmpuint (report.quarantined, ==, 1 + 2 + 2 + 2 + 2);
  g_assert_cmpuint (sg_test_count (tmp, NULL), ==, 0);
  g_assert_cmpuint (sg_test_count (queue, NULL), ==, 2 * N_VALID);
  for (guint i = 0; i < N_VALID; i++)
    {
      g_autofree char *eml = path (f, "queue", valid[i], ".eml");
      g_autofree char *json = path (f, "queue", valid[i], ".json");
      g_autofree char *eml_now = slurp (eml);
      g_autofree char *json_now = slurp (json);

      g_assert_cmpstr (eml_now, ==, g_ptr_array_index (before, 2 * i));
      g_assert_cmpstr (json_now, ==, g_ptr_array_index (before, 2 * i + 1));
    }
  /* Quarantined, not deleted. */
  {
    static const char *const suffixes[] = { ".json", ".eml" };
    const char *pairs[] = { corrupt, version, size };

    p = path (f, "quarantine", lone_json, ".json");
    g_assert_true (g_file_test (p, G_FILE_TEST_IS_REGULAR));
    g_clear_pointer (&p, g_free);
    for (guint i = 0; i < G_N_ELEMENTS (pairs); i++)
      for (guint j = 0; j < G_N_ELEMENTS (suffixes); j++)
        {
          g_autofree char *q = path (f, "quarantine", pairs[i], suffixes[j]);

          g_assert_true (g_file_test (q, G_FILE_TEST_IS_REGULAR));
        }
  }
  p = path (f, "quarantine", "README", "");
  {
    g_autofree char *older = slurp (p);
    g_assert_cmpstr (older, ==, "older");
  }
  g_clear_pointer (&p, g_free);
  p = path (f, "quarantine", "README", ".1");
  {
    g_autofree char *stray = slurp (p);
    g_assert_cmpstr (stray, ==, "stray");
  }
  g_clear_pointer (&p, g_free);
  p = path (f, "quarantine", "subdir", "");
  g_assert_true (g_file_test (p, G_FILE_TEST_IS_DIR));
  g_clear_pointer (&p, g_free);
  p = path (f, "queue", lone_eml, ".eml");
  g_assert_false (g_file_test (p, G_FILE_TEST_EXISTS));

  /* A second run finds a clean spool. */
  g_assert_true (sg_spool_recover (f->spool, &report, &error));
  g_assert_cmpuint (report.messages, ==, N_VALID);
  g_assert_cmpuint (report.removed_partial, ==, 0);
  g_assert_cmpuint (report.quarantined, ==, 0);
  g_assert_cmpuint (sg_test_count (quarantine, NULL), ==, 1 + 1 + 2 + 2 + 2 + 2);
  for (guint i = 0; i < N_VALID; i++)
    g_free (valid[i]);
}

/* /spool/recover/empty - a fresh spool recovers to nothing; report may be NULL. */
static void
test_empty (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  SgSpoolRecovery report;

  g_assert_true (sg_spool_recover (f->spool, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (sg_spool_recover (f->spool, &report, &error));
  g_assert_cmpuint (report.messages, ==, 0);
  g_assert_cmpuint (report.removed_partial, ==, 0);
  g_assert_cmpuint (report.quarantined, ==, 0);
}

/* deep_json - 100,000 nested '[' (transfer full). */
static char *
deep_json (void)
{
  return g_strnfill (100000, '[');
}

/* /spool/recover/symlink-json - issue 13 defect 6: a .json that is a
 * symlink is quarantined, and its .eml with it: never deleted. */
static void
test_symlink_json (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *id = commit_one (f);
  g_autofree char *json = path (f, "queue", id, ".json");
  g_autofree char *elsewhere = g_build_filename (f->dir, "elsewhere.json", NULL);
  g_autofree char *eml_q = path (f, "quarantine", id, ".eml");
  g_autofree char *quarantine = g_build_filename (f->dir, "quarantine", NULL);
  g_autofree char *queue = g_build_filename (f->dir, "queue", NULL);
  SgSpoolRecovery report;

  g_assert_cmpint (rename (json, elsewhere), ==, 0);
  g_assert_cmpint (symlink (elsewhere, json), ==, 0);
  g_assert_true (sg_spool_recover (f->spool, &report, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (report.removed_partial, ==, 0);
  g_assert_cmpuint (report.quarantined, ==, 2);
  g_assert_true (g_file_test (eml_q, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpuint (sg_test_count (queue, NULL), ==, 0);
  g_assert_cmpuint (sg_test_count (quarantine, NULL), ==, 2);
}

/* /spool/recover/deep-json - issue 13 defect 5: 100,000 nested '[' in a
 * .json is refused before parsing (no stack overflow) and quarantined. */
static void
test_deep_json (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *id = commit_one (f);
  g_autofree char *good = commit_one (f);
  g_autofree char *json = path (f, "queue", id, ".json");
  g_autofree char *deep = deep_json ();
  g_autofree char *quarantine = g_build_filename (f->dir, "quarantine", NULL);
  SgSpoolRecovery report;

  g_assert_true (g_file_set_contents (json, deep, -1, NULL));
  g_assert_true (sg_spool_recover (f->spool, &report, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (report.messages, ==, 1);
  g_assert_cmpuint (report.quarantined, ==, 2);
  g_assert_cmpuint (sg_test_count (quarantine, NULL), ==, 2);
}

/* /spool/quarantine/damaged - at run time: unusable metadata moves both
 * files to quarantine/; readable metadata, or a missing message, moves
 * nothing (issue 13: "unreadable metadata at runtime ... quarantine it"). */
static void
test_quarantine_damaged (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *id = commit_one (f);
  g_autofree char *good = commit_one (f);
  g_autofree char *json = path (f, "queue", id, ".json");
  g_autofree char *deep = deep_json ();
  g_autofree char *quarantine = g_build_filename (f->dir, "quarantine", NULL);
  g_autofree char *queue = g_build_filename (f->dir, "queue", NULL);
  g_autoptr(SgMeta) meta = NULL;

  g_assert_false (sg_spool_quarantine_damaged (f->spool, good, &error));
  g_assert_no_error (error);
  g_assert_false (sg_spool_quarantine_damaged (f->spool, "00000000000000000000", &error));
  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (json, deep, -1, NULL));
  meta = sg_spool_load_meta (f->spool, id, &error);
  g_assert_null (meta);
  g_assert_error (error, SG_META_ERROR, SG_META_ERROR_PARSE);
  g_clear_error (&error);
  g_assert_true (sg_spool_quarantine_damaged (f->spool, id, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (sg_test_count (quarantine, NULL), ==, 2);
  g_assert_cmpuint (sg_test_count (queue, NULL), ==, 2);
}

static gboolean
count_found (SgMeta *meta, gpointer data)
{
  GPtrArray *ids = data;

  g_ptr_array_add (ids, g_strdup (meta->queue_id));
  sg_meta_free (meta);
  return TRUE;
}

/* /spool/recover/concurrent - the background recovery of a serving daemon
 * hands over old messages only; mail committed after _begin is not its
 * business, and a lone .eml written since _begin is left, not deleted. */
static void
test_concurrent (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *old = commit_one (f);
  char stale[SG_QUEUE_ID_LEN + 1], recent[SG_QUEUE_ID_LEN + 1];
  g_autofree char *stale_eml = NULL, *recent_eml = NULL;
  struct timespec past[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
  SgSpoolRecovery report;

  sg_queue_id_generate (stale);
  sg_queue_id_generate (recent);
  stale_eml = path (f, "queue", stale, ".eml");
  recent_eml = path (f, "queue", recent, ".eml");
  g_assert_true (g_file_set_contents (stale_eml, "never acknowledged", -1, NULL));
  g_assert_cmpint (utimensat (AT_FDCWD, stale_eml, past, 0), ==, 0);
  SgSpoolBacklog *backlog = sg_spool_recover_begin (f->spool, TRUE, &error);
  g_assert_no_error (error);
  g_autofree char *fresh = commit_one (f);
  g_assert_true (g_file_set_contents (recent_eml, "being committed", -1, NULL));
  g_assert_true (sg_spool_recover_finish (f->spool, backlog, &report, count_found, found, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (found->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (found, 0), ==, old);
  g_assert_cmpuint (report.removed_partial, ==, 1);
  g_assert_false (g_file_test (stale_eml, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (recent_eml, G_FILE_TEST_EXISTS));
  g_autofree char *fresh_json = path (f, "queue", fresh, ".json");
  g_assert_true (g_file_test (fresh_json, G_FILE_TEST_IS_REGULAR));
}

/* A lone .eml that another process holds locked is a release between its
 * steps 4 and 6 (spool_rejected.h): recovery leaves it; unlocked, it goes. */
static void
test_locked_lone (Fixture *f, gconstpointer data)
{
  g_autofree char *held_id = commit_one (f);
  g_autofree char *free_id = commit_one (f);
  g_autofree char *held_json = path (f, "queue", held_id, ".json");
  g_autofree char *free_json = path (f, "queue", free_id, ".json");
  g_autofree char *held_eml = path (f, "queue", held_id, ".eml");
  g_autofree char *free_eml = path (f, "queue", free_id, ".eml");
  g_assert_cmpint (unlink (held_json), ==, 0);
  g_assert_cmpint (unlink (free_json), ==, 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(SgSpool) other = sg_spool_open_admin (f->dir, &error);   /* another open file */
  int lock = sg_spool_lock_message (other, held_id, FALSE, &error);
  g_assert_no_error (error);
  SgSpoolRecovery report = { 0 };
  g_assert_true (sg_spool_recover (f->spool, &report, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_test (held_eml, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (free_eml, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (report.removed_partial, ==, 1);
  sg_spool_unlock_message (lock);
  g_assert_true (sg_spool_recover (f->spool, &report, &error));
  g_assert_false (g_file_test (held_eml, G_FILE_TEST_EXISTS));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* Warnings are expected here, so not fatal; count_warning checks them. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_log_set_handler (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, count_warning, NULL);
  g_test_add ("/spool/recover/scene", Fixture, NULL, fixture_setup, test_scene, fixture_teardown);
  g_test_add ("/spool/recover/empty", Fixture, NULL, fixture_setup, test_empty, fixture_teardown);
  g_test_add ("/spool/recover/locked-lone", Fixture, NULL, fixture_setup, test_locked_lone,
              fixture_teardown);
  g_test_add ("/spool/recover/symlink-json", Fixture, NULL, fixture_setup, test_symlink_json,
              fixture_teardown);
  g_test_add ("/spool/recover/deep-json", Fixture, NULL, fixture_setup, test_deep_json,
              fixture_teardown);
  g_test_add ("/spool/quarantine/damaged", Fixture, NULL, fixture_setup, test_quarantine_damaged,
              fixture_teardown);
  g_test_add ("/spool/recover/concurrent", Fixture, NULL, fixture_setup, test_concurrent,
              fixture_teardown);
  return g_test_run ();
}
