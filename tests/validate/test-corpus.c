/* test-corpus.c - the verdict of the default policy on both corpora:
 * tests/data/corpus/legit/ (real composers, made by tests/tools/make-corpus)
 * must all be accepted, except a message with a line over 998 octets; every
 * message of tests/data/corpus/evasion/ (written from the RFCs, listed in its
 * MANIFEST) must be rejected naming the rule its MANIFEST line gives; every
 * message of tests/data/corpus/near-miss/ (legitimate constructs next to the
 * evasions, same generator) must be accepted.
 */
#include "test-common.h"
#include "config/limits.h"

static char *
corpus_dir (const char *which)
{
  return g_test_build_filename (G_TEST_DIST, "data", "corpus", which, NULL);
}

/* The client of a real relay declares BODY=8BITMIME; evasions get the same
 * benefit of the doubt, so no rule below depends on a missing declaration.
 * Legitimate mail must also pass from a client that never declares it
 * (Python's smtplib.send_message with ASCII addresses, swaks): Postfix takes
 * such mail, and the default policy records mime.8bit.undeclared only. */
static SgValidation *
validate_as (const char *path, gboolean eightbitmime)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SgPolicy) policy = sg_policy_new (SG_DEF_VALIDATION_POLICY, NULL, NULL, &error);
  g_assert_no_error (error);
  g_autoptr(GBytes) msg = load_message (path);
  SgValidateOptions o = { .eightbitmime = eightbitmime, .policy = policy };
  return validate_bytes (msg, &o);
}

static SgValidation *
validate_default (const char *path)
{
  return validate_as (path, TRUE);
}

static void
test_legit (void)
{
  g_autofree char *dir = corpus_dir ("legit");
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  g_assert_nonnull (d);
  g_autoptr(GHashTable) composers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint count = 0, long_lines = 0;
  const char *name;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      if (!g_str_has_suffix (name, ".eml"))
        continue;
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autoptr(SgValidation) v = validate_default (path);
      g_autofree char *dump = dump_violations (v);
      const SgViolation *too_long = find_violation (v, "line.too-long");
      if (v->first_reject != NULL && !(too_long != NULL && v->first_reject == too_long))
        g_error ("legit/%s: got%s\nwant acceptance", name, dump);
      long_lines += too_long != NULL;
      g_autoptr(SgValidation) plain = validate_as (path, FALSE);
      if (plain->first_reject != NULL && plain->first_reject != find_violation (plain, "line.too-long"))
        {
          g_autofree char *pdump = dump_violations (plain);
          g_error ("legit/%s without BODY=8BITMIME: got%s\nwant acceptance", name, pdump);
        }
      g_test_message ("legit/%s: %s%s", name, v->first_reject ? "rejected (line over 998)" : "accepted", dump);
      const char *sep = strstr (name, "--");
      g_hash_table_add (composers, g_strndup (name, sep ? (gsize) (sep - name) : strlen (name)));
      count++;
    }
  g_test_message ("%u legitimate messages from %u composers, %u with a line over 998 octets",
                  count, g_hash_table_size (composers), long_lines);
  g_assert_cmpuint (count, >=, 200);
  g_assert_cmpuint (g_hash_table_size (composers), >=, 12);
}

static void
test_evasion (void)
{
  g_autofree char *dir = corpus_dir ("evasion");
  g_autofree char *manifest_path = g_build_filename (dir, "MANIFEST", NULL);
  g_autofree char *manifest = NULL;
  g_assert_true (g_file_get_contents (manifest_path, &manifest, NULL, NULL));
  g_auto(GStrv) lines = g_strsplit (manifest, "\n", -1);
  g_autoptr(GHashTable) listed = g_hash_table_new (g_str_hash, g_str_equal);
  guint count = 0;
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (lines[i][0] == '#' || lines[i][0] == '\0')
        continue;
      g_auto(GStrv) f = g_strsplit (lines[i], "\t", 3);
      g_assert_cmpuint (g_strv_length (f), ==, 3);
      if (!sg_rule_exists (f[1]))
        g_error ("MANIFEST: %s names unknown rule %s", f[0], f[1]);
      g_assert_cmpstr (f[2], !=, "");              /* the RFC rule it breaks */
      g_autofree char *path = g_build_filename (dir, f[0], NULL);
      g_autoptr(SgValidation) v = validate_default (path);
      g_autofree char *dump = dump_violations (v);
      const SgViolation *want = find_violation (v, f[1]);
      if (v->first_reject == NULL || want == NULL || !want->reject)
        g_error ("evasion/%s (%s): got%s\nwant rejection naming %s", f[0], f[2], dump, f[1]);
      g_test_message ("evasion/%s: rejected%s", f[0], dump);
      g_hash_table_add (listed, lines[i]);   /* the line starts with the file name */
      count++;
    }
  /* every sample is listed, so none escapes the verdict check */
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  guint files = 0;
  while ((name = g_dir_read_name (d)) != NULL)
    if (g_str_has_suffix (name, ".eml"))
      {
        g_autofree char *needle = g_strconcat ("\n", name, "\t", NULL);
        if (strstr (manifest, needle) == NULL)
          g_error ("evasion/%s is not in MANIFEST", name);
        files++;
      }
  g_assert_cmpuint (files, ==, count);
  g_assert_cmpuint (count, >=, 100);
}

static void
test_near_miss (void)
{
  g_autofree char *dir = corpus_dir ("near-miss");
  g_autofree char *manifest_path = g_build_filename (dir, "MANIFEST", NULL);
  g_autofree char *manifest = NULL;
  g_assert_true (g_file_get_contents (manifest_path, &manifest, NULL, NULL));
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  g_assert_nonnull (d);
  const char *name;
  guint count = 0;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      if (!g_str_has_suffix (name, ".eml"))
        continue;
      g_autofree char *needle = g_strconcat ("\n", name, "\t", NULL);
      if (strstr (manifest, needle) == NULL)
        g_error ("near-miss/%s is not in MANIFEST", name);
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autoptr(SgValidation) v = validate_default (path);
      g_autofree char *dump = dump_violations (v);
      if (v->first_reject != NULL)
        g_error ("near-miss/%s: got%s\nwant acceptance", name, dump);
      g_test_message ("near-miss/%s: accepted%s", name, dump);
      count++;
    }
  g_assert_cmpuint (count, >=, 20);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/validate/corpus/legit", test_legit);
  g_test_add_func ("/validate/corpus/evasion", test_evasion);
  g_test_add_func ("/validate/corpus/near-miss", test_near_miss);
  return g_test_run ();
}
