/* test-verify-cache.c - the LMDB cache of address probe answers: what is
 * stored comes back (also after reopening, as after a restart), expiry by
 * the TTL of the moment, and the bound on entries under a flood. */
#include "verify/verify_cache.h"

#include <glib/gstdio.h>
#include <string.h>

static char *
tmp_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("sg-verify-XXXXXX", &error);
  g_assert_no_error (error);
  return dir;
}

static void
remove_dir (const char *dir)
{
  g_autofree char *db = g_build_filename (dir, SG_VERIFY_CACHE_FILE, NULL);
  g_autofree char *lock = g_strconcat (db, "-lock", NULL);
  g_unlink (db);
  g_unlink (lock);
  g_rmdir (dir);
}

static void
test_roundtrip (void)
{
  g_autofree char *dir = tmp_dir ();
  g_autoptr(GError) error = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  {
    g_autoptr(SgVerifyCache) c = sg_verify_cache_open (dir, FALSE, &error);
    g_assert_no_error (error);
    sg_verify_cache_set_limits (c, 1000, 3600, 600);
    SgVerifyEntry yes = { SG_VERIFY_DELIVERABLE, now, 250, (char *) "250 2.1.5 Ok" };
    SgVerifyEntry no = { SG_VERIFY_UNDELIVERABLE, now - 700, 550, (char *) "550 5.1.1 No such user" };
    g_assert_true (sg_verify_cache_put (c, "Alice@Example.org", &yes, &error));
    g_assert_true (sg_verify_cache_put (c, "nobody@example.org", &no, &error));
    g_assert_no_error (error);
  }
  /* reopened, as after a restart; read-only, as `spoolgate verify` does */
  g_autoptr(SgVerifyCache) c = sg_verify_cache_open (dir, TRUE, &error);
  g_assert_no_error (error);
  sg_verify_cache_set_limits (c, 1000, 3600, 600);
  g_auto(SgVerifyEntry) e = { 0 };
  g_assert_true (sg_verify_cache_get (c, "alice@EXAMPLE.ORG", &e));
  g_assert_cmpint (e.status, ==, SG_VERIFY_DELIVERABLE);
  g_assert_cmpuint (e.code, ==, 250);
  g_assert_cmpstr (e.reply, ==, "250 2.1.5 Ok");
  g_assert_false (sg_verify_cache_expired (c, &e, now + 10));
  g_assert_true (sg_verify_cache_expired (c, &e, now + 3600));
  g_auto(SgVerifyEntry) n = { 0 };
  g_assert_true (sg_verify_cache_get (c, "nobody@example.org", &n));
  g_assert_cmpint (n.status, ==, SG_VERIFY_UNDELIVERABLE);
  g_assert_true (sg_verify_cache_expired (c, &n, now));   /* 700 s old, negative TTL 600 */
  sg_verify_cache_set_limits (c, 1000, 3600, 7200);         /* a reload lengthens it */
  g_assert_false (sg_verify_cache_expired (c, &n, now));
  g_auto(SgVerifyEntry) none = { 0 };
  g_assert_false (sg_verify_cache_get (c, "carol@example.org", &none));
  g_clear_pointer (&c, sg_verify_cache_free);
  remove_dir (dir);
}

/* test_bounded - 1,000 invented addresses into a cache of 100: it never
 * holds more than 100, and the newest answers are the ones kept. */
static void
test_bounded (void)
{
  g_autofree char *dir = tmp_dir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(SgVerifyCache) c = sg_verify_cache_open (dir, FALSE, &error);
  g_assert_no_error (error);
  sg_verify_cache_set_limits (c, 100, 86400, 86400);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  guint most = 0;
  for (guint i = 0; i < 1000; i++)
    {
      g_autofree char *addr = g_strdup_printf ("guess%u@example.org", i);
      SgVerifyEntry e = { SG_VERIFY_UNDELIVERABLE, now - 1000 + i, 550, (char *) "550 5.1.1 unknown" };
      g_assert_true (sg_verify_cache_put (c, addr, &e, &error));
      most = MAX (most, sg_verify_cache_count (c));
    }
  g_assert_cmpuint (most, <=, 100);
  g_auto(SgVerifyEntry) last = { 0 };
  g_assert_true (sg_verify_cache_get (c, "guess999@example.org", &last));
  g_auto(SgVerifyEntry) first = { 0 };
  g_assert_false (sg_verify_cache_get (c, "guess0@example.org", &first));
  g_clear_pointer (&c, sg_verify_cache_free);
  remove_dir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/verify/cache/roundtrip", test_roundtrip);
  g_test_add_func ("/verify/cache/bounded", test_bounded);
  return g_test_run ();
}
