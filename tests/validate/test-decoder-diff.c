/* test-decoder-diff.c - the decoder-differential invariant over the corpora:
 * tests/tools/decoder-diff reads every message with GMime, Python's email
 * and MIME-tools, asks `spoolgate check --json` for the default policy's
 * verdict, and no accepted message may read differently (issue 20). Also
 * checks the harness itself: it sees the evasions' disagreements, and it
 * fails when a policy accepts one of them.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

typedef struct {
  guint messages, accepted, differ, differ_accepted, harmless;
  int status;
  GString *report;          /* the lines of messages that differ, for failures */
} DiffRun;

static void
diff_run_clear (DiffRun *r)
{
  if (r->report != NULL)
    g_string_free (r->report, TRUE);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (DiffRun, diff_run_clear)

/* run_diff - decoder-diff --json --check $SPOOLGATE [--config CONF] over
 * tests/data/corpus/WHICH (or one file), tallied into r. FALSE: skipped. */
static gboolean
run_diff (const char *which, const char *config, DiffRun *r)
{
  const char *python = g_getenv ("SG_PYTHON");
  const char *spoolgate = g_getenv ("SPOOLGATE");
  if (python == NULL || spoolgate == NULL || !g_file_test (python, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("needs $SG_PYTHON and $SPOOLGATE");
      return FALSE;
    }
  g_autofree char *tool = g_test_build_filename (G_TEST_DIST, "tools", "decoder-diff", NULL);
  g_autofree char *target = g_test_build_filename (G_TEST_DIST, "data", "corpus", which, NULL);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (char *) python);
  g_ptr_array_add (argv, tool);
  g_ptr_array_add (argv, (char *) "--json");
  g_ptr_array_add (argv, (char *) "--check");
  g_ptr_array_add (argv, (char *) spoolgate);
  if (config != NULL)
    {
      g_ptr_array_add (argv, (char *) "--config");
      g_ptr_array_add (argv, (char *) config);
    }
  g_ptr_array_add (argv, target);
  g_ptr_array_add (argv, NULL);

  g_autofree char *out = NULL, *err = NULL;
  g_autoptr(GError) error = NULL;
  int wait = 0;
  if (!g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                     &out, &err, &wait, &error))
    g_error ("decoder-diff: %s", error->message);
  r->status = WIFEXITED (wait) ? WEXITSTATUS (wait) : -1;
  if (r->status == 77)
    {
      g_test_skip (err);
      return FALSE;
    }
  if (r->status != 0 && r->status != 1)
    g_error ("decoder-diff exited %d: %s", r->status, err);
  r->report = g_string_new (NULL);

  g_auto(GStrv) lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (lines[i][0] == '\0')
        continue;
      g_autoptr(JsonParser) p = json_parser_new ();
      if (!json_parser_load_from_data (p, lines[i], -1, &error))
        g_error ("decoder-diff line %u: %s: %s", i, error->message, lines[i]);
      JsonObject *o = json_node_get_object (json_parser_get_root (p));
      gboolean alike = json_object_get_boolean_member (o, "alike");
      gboolean accepted = g_strcmp0 (json_object_get_string_member (o, "verdict"), "accepted") == 0;
      JsonArray *d = json_object_get_array_member (o, "differences");
      r->messages++;
      r->accepted += accepted;
      r->differ += !alike;
      r->differ_accepted += !alike && accepted;
      r->harmless += alike && json_array_get_length (d) > 0;
      if (!alike)
        g_string_append_printf (r->report, "\n  %s", lines[i]);
    }
  g_test_message ("%s: %u messages, %u accepted, %u read differently (%u of them accepted), "
                  "%u with documented harmless differences only",
                  which, r->messages, r->accepted, r->differ, r->differ_accepted, r->harmless);
  return TRUE;
}

static void
test_legit (void)
{
  g_auto(DiffRun) r = { 0 };
  if (!run_diff ("legit", NULL, &r))
    return;
  if (r.differ_accepted > 0 || r.status != 0)
    g_error ("accepted legit messages read differently:%s", r.report->str);
  g_assert_cmpuint (r.messages, >=, 200);
  g_assert_cmpuint (r.accepted, ==, r.messages);
}

static void
test_near_miss (void)
{
  g_auto(DiffRun) r = { 0 };
  if (!run_diff ("near-miss", NULL, &r))
    return;
  if (r.differ > 0 || r.status != 0)
    g_error ("near-misses read differently:%s", r.report->str);
  g_assert_cmpuint (r.messages, >=, 20);
  g_assert_cmpuint (r.accepted, ==, r.messages);
}

/* The evasions the decoders disagree on are all refused, and there are many
 * of them: a harness that sees none would be blind, not reassuring. */
static void
test_evasion (void)
{
  g_auto(DiffRun) r = { 0 };
  if (!run_diff ("evasion", NULL, &r))
    return;
  if (r.differ_accepted > 0 || r.status != 0)
    g_error ("accepted evasions read differently:%s", r.report->str);
  g_assert_cmpuint (r.accepted, ==, 0);
  g_assert_cmpuint (r.differ, >=, 71);
}

/* The invariant can fail: a site policy that accepts the comment and quoting
 * rules lets disagreeing evasions through, and decoder-diff says so. */
static void
test_invariant_fails (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("sg-decoder-diff-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *conf = g_build_filename (dir, "loose.conf", NULL);
  g_assert_true (g_file_set_contents (conf,
      "[validation]\npolicy = standard\naccept = mime.param.cfws, mime.param.single-quoted\n", -1, NULL));
  g_auto(DiffRun) r = { 0 };
  gboolean ran = run_diff ("evasion", conf, &r);
  g_unlink (conf);
  g_rmdir (dir);
  if (!ran)
    return;
  g_assert_cmpint (r.status, ==, 1);
  g_assert_cmpuint (r.differ_accepted, >, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/validate/decoder-diff/legit", test_legit);
  g_test_add_func ("/validate/decoder-diff/near-miss", test_near_miss);
  g_test_add_func ("/validate/decoder-diff/evasion", test_evasion);
  g_test_add_func ("/validate/decoder-diff/invariant-fails", test_invariant_fails);
  return g_test_run ();
}
