/* test-rejected.c - src/spool/spool_rejected.c on real directories: the
 * .json round trip, the byte budget (oldest dropped first, too big refused),
 * the index rebuilt at open, listing order, and release into queue/. */
#include "spool/spool_rejected.h"
#include "spool_test_util.h"

#include <string.h>

static const char BODY[] = "From: a@example.com\r\nSubject: x\r\n\r\nhello\r\n";

/* sample - refused-message metadata around a fresh sample envelope (transfer full). */
static SgRejectedMeta *
sample (void)
{
  SgRejectedMeta *m = g_new0 (SgRejectedMeta, 1);
  m->envelope = sg_test_sample_meta ();
  m->rejected_time_us = g_get_real_time ();
  m->rule = g_strdup ("header.date.missing");
  m->reply = g_strdup ("550 5.6.0 Message rejected: no Date header (RFC 5322 3.6) [header.date.missing]");
  return m;
}

/* keep - keep one sample; its ID (transfer full), NULL if refused. */
static char *
keep (SgRejected *store, GError **error)
{
  g_autoptr(SgRejectedMeta) m = sample ();
  g_autoptr(GBytes) body = g_bytes_new_static (BODY, sizeof BODY - 1);
  g_usleep (2);   /* distinct arrival order, as IDs encode microseconds */
  return sg_rejected_keep (store, m, NULL, body, error) ? g_strdup (m->envelope->queue_id) : NULL;
}

/* A rejected/<ID>.json nested 100,000 deep is refused before json-glib
 * recurses into it (issue 13 defect 5, as for queue/). */
static void
test_deep (void)
{
  g_autoptr(GString) json = g_string_new ("{\"version\":1,\"x\":");
  for (int i = 0; i < 100000; i++)
    g_string_append_c (json, '[');
  g_autoptr(GError) error = NULL;
  g_autoptr(SgRejectedMeta) m = sg_rejected_meta_from_json (json->str, json->len, &error);
  g_assert_null (m);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "nested deeper"));
}

static void
test_roundtrip (void)
{
  g_autoptr(SgRejectedMeta) m = sample ();
  g_free (m->envelope->sha256);
  m->envelope->sha256 = g_strnfill (64, 'a');   /* sg_rejected_keep fills the real one */
  g_autofree char *json = sg_rejected_meta_to_json (m, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(SgRejectedMeta) back = sg_rejected_meta_from_json (json, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back->envelope->queue_id, ==, m->envelope->queue_id);
  g_assert_cmpstr (back->rule, ==, m->rule);
  g_assert_cmpstr (back->reply, ==, m->reply);
  g_assert_cmpint (back->rejected_time_us, ==, m->rejected_time_us);
  /* another version is refused */
  g_autofree char *v2 = g_strdup (json);
  char *v = strstr (v2, "\"version\" : 1");
  g_assert_nonnull (v);
  v[strlen ("\"version\" : ")] = '2';
  g_autoptr(SgRejectedMeta) none = sg_rejected_meta_from_json (v2, -1, &error);
  g_assert_null (none);
  g_assert_error (error, SG_META_ERROR, SG_META_ERROR_VERSION);
}

static void
test_budget (void)
{
  g_autofree char *dir = sg_test_tmpdir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(SgRejected) store = sg_rejected_open (dir, G_MAXUINT64, &error);
  g_assert_no_error (error);
  g_autofree char *first = keep (store, &error);
  g_assert_no_error (error);
  guint64 one = sg_rejected_bytes (store);
  g_assert_cmpuint (one, >, sizeof BODY);

  /* room for two: the third drops the first, oldest first */
  sg_rejected_set_limit (store, one * 5 / 2);
  g_autofree char *second = keep (store, &error);
  g_autofree char *third = keep (store, &error);
  g_assert_no_error (error);
  g_autoptr(GPtrArray) ids = sg_rejected_list (store, &error);
  g_assert_cmpuint (ids->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (ids, 0), ==, second);
  g_assert_cmpstr (g_ptr_array_index (ids, 1), ==, third);
  g_assert_cmpuint (sg_rejected_bytes (store), <=, one * 5 / 2);

  /* bigger than the whole budget: refused, nothing dropped */
  sg_rejected_set_limit (store, one / 2);
  g_autofree char *big = keep (store, &error);
  g_assert_null (big);
  g_assert_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOSPACE);
  g_clear_error (&error);
  g_clear_pointer (&ids, g_ptr_array_unref);
  ids = sg_rejected_list (store, NULL);
  g_assert_cmpuint (ids->len, ==, 2);

  /* reopened, the store counts what is there and drops from the oldest */
  g_clear_pointer (&store, sg_rejected_free);
  store = sg_rejected_open (dir, one * 5 / 2, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (sg_rejected_bytes (store), ==, 2 * one);
  g_autofree char *fourth = keep (store, &error);
  g_assert_no_error (error);
  g_clear_pointer (&ids, g_ptr_array_unref);
  ids = sg_rejected_list (store, NULL);
  g_assert_cmpuint (ids->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (ids, 0), ==, third);
  g_assert_cmpstr (g_ptr_array_index (ids, 1), ==, fourth);
  sg_test_rmtree (dir);
}

static void
test_release (void)
{
  g_autofree char *dir = sg_test_tmpdir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(SgSpool) spool = sg_spool_open (dir, &error);
  g_assert_no_error (error);
  g_autoptr(SgRejected) store = sg_rejected_open (dir, 1 << 20, &error);
  g_assert_no_error (error);
  g_autofree char *id = keep (store, &error);
  g_assert_no_error (error);

  g_autoptr(SgRejected) admin = sg_rejected_open_admin (dir, &error);
  g_assert_no_error (error);
  g_autoptr(SgMeta) queued = sg_rejected_release (admin, spool, id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (queued->queue_id, ==, id);
  g_assert_cmpint (queued->state, ==, SG_MSG_QUEUED);
  g_autoptr(SgMeta) loaded = sg_spool_load_meta (spool, id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (loaded->message_size, ==, sizeof BODY - 1);
  g_autoptr(GPtrArray) left = sg_rejected_list (admin, NULL);
  g_assert_cmpuint (left->len, ==, 0);
  /* a second release finds nothing */
  g_autoptr(SgMeta) again = sg_rejected_release (admin, spool, id, &error);
  g_assert_null (again);
  g_assert_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND);
  sg_test_rmtree (dir);
}

static void
test_admin_missing (void)
{
  g_autofree char *dir = sg_test_tmpdir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(SgRejected) none = sg_rejected_open_admin (dir, &error);
  g_assert_null (none);
  g_assert_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND);
  sg_test_rmtree (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/spool/rejected/roundtrip", test_roundtrip);
  g_test_add_func ("/spool/rejected/deep", test_deep);
  g_test_add_func ("/spool/rejected/budget", test_budget);
  g_test_add_func ("/spool/rejected/release", test_release);
  g_test_add_func ("/spool/rejected/admin-missing", test_admin_missing);
  return g_test_run ();
}
