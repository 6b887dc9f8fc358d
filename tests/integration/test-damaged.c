/* test-damaged.c - damaged metadata against the real binary (issue 13,
 * defects 5 and 6, and unusable metadata at run time): a .json nested
 * 100,000 deep must not crash `serve` (running or starting) nor `queue`,
 * `show` and `hold`; it is quarantined and the server keeps serving. A
 * .json that is a symlink quarantines its .eml at start-up, never deletes it. */
#include "harness.h"
#include "admin_util.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DEEP     100000
#define WAIT_MS  15000

/* relay_config - a runner whose smarthost is down: mail stays deferred. */
static char *
relay_config (void)
{
  return g_strdup_printf ("[smarthost]\nhost = 127.0.0.1\nport = %u\ntls = none\n",
                          sg_test_free_port ());
}

static void
make_deep (SgTestServer *s, const char *id)
{
  g_autofree char *deep = g_strnfill (DEEP, '[');
  g_autofree char *p = json_path (s, id);
  g_assert_true (g_file_set_contents (p, deep, -1, NULL));
}

static gboolean
in_quarantine (SgTestServer *s, const char *id, const char *suffix)
{
  g_autofree char *name = g_strconcat (id, suffix, NULL);
  g_autofree char *p = g_build_filename (s->spool, "quarantine", name, NULL);
  return g_file_test (p, G_FILE_TEST_IS_REGULAR);
}

/* /damaged/deep-json/serve-running - written while the server runs: the
 * runner sees it, warns, quarantines both files, and serves on. */
static void
test_deep_running (void)
{
  SgTestServer s;
  g_autofree char *conf = relay_config ();
  sg_test_server_start (&s, conf);
  g_autofree char *a = send_one (&s, NULL);
  g_autofree char *b = send_one (&s, NULL);
  make_deep (&s, b);
  g_assert_true (sg_test_wait_log (&s, "moved to quarantine/", 1, WAIT_MS));
  g_assert_true (in_quarantine (&s, b, ".eml"));
  g_assert_true (in_quarantine (&s, b, ".json"));
  g_autofree char *log = sg_test_server_log (&s);
  g_assert_nonnull (strstr (log, "nested deeper than"));
  g_autofree char *c = send_one (&s, NULL);
  g_assert_nonnull (c);
  g_autoptr(SgMeta) ma = meta_of (&s, a);
  g_assert_nonnull (ma);
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  sg_test_server_free (&s);
}

/* /damaged/deep-json/admin-and-start - written while the server is down:
 * queue, show and hold refuse it without crashing; start-up quarantines
 * it and serves. */
static void
test_deep_admin_and_start (void)
{
  SgTestServer s;
  g_autofree char *conf = relay_config ();
  sg_test_server_start (&s, conf);
  g_autofree char *a = send_one (&s, NULL);
  g_autofree char *b = send_one (&s, NULL);
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  make_deep (&s, b);

  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (sg (&s, &out, &err, "queue", NULL), ==, 1);
  g_assert_nonnull (strstr (out, a));
  g_assert_nonnull (strstr (err, b));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (sg (&s, &out, &err, "show", b, NULL), ==, 1);
  g_assert_nonnull (strstr (err, b));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (sg (&s, &out, &err, "hold", b, NULL), ==, 1);
  g_assert_nonnull (strstr (err, b));

  sg_test_server_restart (&s);
  /* the log spans both runs: the second index is this start's */
  g_assert_true (sg_test_wait_log (&s, "queue: indexed", 2, WAIT_MS));
  g_assert_true (in_quarantine (&s, b, ".eml"));
  g_assert_true (in_quarantine (&s, b, ".json"));
  g_autofree char *c = send_one (&s, NULL);
  g_assert_nonnull (c);
  g_autoptr(GPtrArray) ids = sg_test_spool_ids (&s);
  g_assert_cmpuint (ids->len, ==, 2);
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  sg_test_server_free (&s);
}

/* /damaged/symlink-json - defect 6: recovery keeps the .eml in quarantine/. */
static void
test_symlink_json (void)
{
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  g_autofree char *a = send_one (&s, NULL);
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  g_autofree char *p = json_path (&s, a);
  g_autofree char *moved = g_build_filename (s.dir, "moved.json", NULL);
  g_assert_cmpint (rename (p, moved), ==, 0);
  g_assert_cmpint (symlink (moved, p), ==, 0);
  sg_test_server_restart (&s);
  g_assert_true (in_quarantine (&s, a, ".eml"));
  g_autofree char *log = sg_test_server_log (&s);
  g_assert_null (strstr (log, "without metadata"));
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  sg_test_server_free (&s);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/damaged/deep-json/serve-running", test_deep_running);
  g_test_add_func ("/damaged/deep-json/admin-and-start", test_deep_admin_and_start);
  g_test_add_func ("/damaged/symlink-json", test_symlink_json);
  return g_test_run ();
}
