/* test-monitoring.c - what an operator loads next to spoolgate:
 * doc/prometheus/alerts.yml passes `promtool check rules` and the cases of
 * tests/data/prometheus/alerts_test.yml (`promtool test rules`; both skip
 * without promtool, Debian package prometheus), and every metric name that
 * the alerts and doc/grafana/spoolgate.json use exists in doc/metrics.md or
 * in the registry's source. */
#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#define PROMTOOL_MISSING "promtool (Debian package prometheus) is not installed"

/* source - the path of a file of the source tree, NULL-terminated parts (transfer full). */
static char *
source (const char *first, ...)
{
  va_list ap;
  va_start (ap, first);
  g_autoptr(GPtrArray) parts = g_ptr_array_new ();
  g_ptr_array_add (parts, (gpointer) g_test_get_dir (G_TEST_DIST));
  g_ptr_array_add (parts, "..");
  for (const char *p = first; p; p = va_arg (ap, const char *))
    g_ptr_array_add (parts, (gpointer) p);
  va_end (ap);
  g_ptr_array_add (parts, NULL);
  char *path = g_build_filenamev ((char **) parts->pdata);
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    g_error ("%s is missing", path);
  return path;
}

/* promtool - run it with args in dir and fail the test, with its output,
 * unless it exits 0; skips the test when promtool is missing. */
static void
promtool (const char *dir, const char *const *args)
{
  g_autofree char *exe = g_find_program_in_path ("promtool");
  if (exe == NULL)
    {
      g_test_skip (PROMTOOL_MISSING);
      return;
    }
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, exe);
  for (guint i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                                               | G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_set_cwd (l, dir);
  g_autoptr(GSubprocess) p = g_subprocess_launcher_spawnv (l, (const char *const *) argv->pdata,
                                                          &error);
  g_assert_no_error (error);
  g_autofree char *output = NULL;
  g_assert_true (g_subprocess_communicate_utf8 (p, NULL, NULL, &output, NULL, &error));
  g_assert_no_error (error);
  if (!g_subprocess_get_if_exited (p) || g_subprocess_get_exit_status (p) != 0)
    g_test_fail_printf ("promtool %s %s %s (in %s):\n%s", args[0], args[1], args[2], dir, output);
}

static void
test_check_rules (void)
{
  g_autofree char *rules = source ("doc", "prometheus", "alerts.yml", NULL);
  const char *args[] = { "check", "rules", rules, NULL };
  promtool (".", args);
}

static void
test_test_rules (void)
{
  g_autofree char *cases = source ("tests", "data", "prometheus", "alerts_test.yml", NULL);
  g_autofree char *dir = g_path_get_dirname (cases);
  const char *args[] = { "test", "rules", "alerts_test.yml", NULL };
  promtool (dir, args);
}

/* collect_names - every spoolgate_* and process_* name in text, with a
 * histogram's _bucket, _sum and _count cut off, into names. */
static void
collect_names (const char *text, GHashTable *names)
{
  g_autoptr(GRegex) re = g_regex_new ("\\b(?:spoolgate|process)_[a-z0-9_]+", 0, 0, NULL);
  g_autoptr(GMatchInfo) m = NULL;
  g_regex_match (re, text, 0, &m);
  for (; g_match_info_matches (m); g_match_info_next (m, NULL))
    {
      g_autofree char *name = g_match_info_fetch (m, 0);
      static const char *const suffixes[] = { "_bucket", "_sum", "_count" };
      for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
        if (g_str_has_suffix (name, suffixes[i]) && !g_str_has_suffix (name, "_total"))
          name[strlen (name) - strlen (suffixes[i])] = '\0';
      g_hash_table_add (names, g_steal_pointer (&name));
    }
}

/* dashboard_exprs - the PromQL of every target and variable of the
 * dashboard, one per line (transfer full). */
static char *
dashboard_exprs (const char *path, guint *n_targets)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_assert_true (json_parser_load_from_file (parser, path, &error));
  g_assert_no_error (error);
  JsonObject *dash = json_node_get_object (json_parser_get_root (parser));
  GString *out = g_string_new (NULL);
  JsonArray *panels = json_object_get_array_member (dash, "panels");
  *n_targets = 0;
  for (guint i = 0; i < json_array_get_length (panels); i++)
    {
      JsonArray *targets = json_object_get_array_member (json_array_get_object_element (panels, i),
                                                         "targets");
      for (guint t = 0; t < json_array_get_length (targets); t++)
        {
          g_string_append_printf (out, "%s\n",
                                  json_object_get_string_member (json_array_get_object_element (targets, t),
                                                                 "expr"));
          (*n_targets)++;
        }
    }
  JsonArray *vars = json_object_get_array_member (json_object_get_object_member (dash, "templating"),
                                                  "list");
  for (guint i = 0; i < json_array_get_length (vars); i++)
    g_string_append_printf (out, "%s\n",
                            json_object_get_string_member (json_array_get_object_element (vars, i),
                                                           "definition"));
  return g_string_free (out, FALSE);
}

/* Every metric name the alerts and the dashboard query exists. */
static void
test_names_exist (void)
{
  g_autofree char *rules_path = source ("doc", "prometheus", "alerts.yml", NULL);
  g_autofree char *dash_path = source ("doc", "grafana", "spoolgate.json", NULL);
  g_autofree char *doc_path = source ("doc", "metrics.md", NULL);
  g_autofree char *code_path = source ("src", "metrics", "metrics.c", NULL);
  g_autofree char *rules = NULL, *doc = NULL, *code = NULL;
  g_assert_true (g_file_get_contents (rules_path, &rules, NULL, NULL));
  g_assert_true (g_file_get_contents (doc_path, &doc, NULL, NULL));
  g_assert_true (g_file_get_contents (code_path, &code, NULL, NULL));
  guint n_targets = 0;
  g_autofree char *exprs = dashboard_exprs (dash_path, &n_targets);
  g_assert_cmpuint (n_targets, >=, 10);

  g_autoptr(GHashTable) known = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  collect_names (doc, known);
  collect_names (code, known);
  g_assert_true (g_hash_table_contains (known, "spoolgate_queue_oldest_seconds"));
  const struct { const char *what, *text; } users[] = {
    { "doc/prometheus/alerts.yml", rules }, { "doc/grafana/spoolgate.json", exprs },
  };
  for (guint u = 0; u < G_N_ELEMENTS (users); u++)
    {
      g_autoptr(GHashTable) used = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      collect_names (users[u].text, used);
      g_assert_cmpuint (g_hash_table_size (used), >=, 5);
      GHashTableIter it;
      gpointer name;
      g_hash_table_iter_init (&it, used);
      while (g_hash_table_iter_next (&it, &name, NULL))
        if (!g_hash_table_contains (known, name))
          g_test_fail_printf ("%s uses %s, which neither doc/metrics.md nor src/metrics/ defines",
                              users[u].what, (char *) name);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/monitoring/alerts/check", test_check_rules);
  g_test_add_func ("/monitoring/alerts/cases", test_test_rules);
  g_test_add_func ("/monitoring/names", test_names_exist);
  return g_test_run ();
}
