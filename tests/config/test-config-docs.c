/* test-config-docs.c - the configuration documents cannot drift from the
 * key table: every key of sg_config_dump() is described in
 * spoolgate.conf(5) with its built-in default, and listed, commented out
 * with that default, in the annotated example conf/spoolgate.conf; neither
 * names a key that does not exist; the example loads to exactly the
 * defaults; and every manual page formats without groff warnings. */
#include "config/config.h"

#include <stdarg.h>
#include <string.h>

/* Keys whose default is computed at start-up, so no document can show it. */
static const char *const computed_defaults[] = { "server.hostname", NULL };

#define NOT_SET "(not set)"

/* problem - note one drift; each test reports all of them at once. */
static void G_GNUC_PRINTF (2, 3)
problem (GString *problems, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_string_append_c (problems, '\n');
  g_string_append_vprintf (problems, format, ap);
  va_end (ap);
}

/* report - fail the test with every problem noted, if any. */
static void
report (GString *problems)
{
  if (problems->len)
    g_test_fail_printf ("the documents have drifted from the key table:%s", problems->str);
}

/* table_keys - "group.key" -> default text, from the dump of the defaults
 * (NOT_SET for keys without a value) (transfer full). */
static GHashTable *
table_keys (void)
{
  g_autoptr(SgConfig) defaults = sg_config_new ();
  g_autofree char *dump = sg_config_dump (defaults);
  GHashTable *keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_auto(GStrv) lines = g_strsplit (dump, "\n", -1);
  g_autofree char *group = NULL;
  for (guint i = 0; lines[i]; i++)
    {
      const char *l = lines[i];
      g_autofree char *name = NULL, *value = NULL;
      if (l[0] == '[')
        {
          g_free (group);
          group = g_strndup (l + 1, strcspn (l + 1, "]"));
          continue;
        }
      if (g_str_has_prefix (l, "# ") && g_str_has_suffix (l, " = " NOT_SET))
        {
          name = g_strndup (l + 2, strlen (l) - 2 - strlen (" = " NOT_SET));
          value = g_strdup (NOT_SET);
        }
      else if (strstr (l, " = ") || g_str_has_suffix (l, " ="))
        {
          const char *eq = strstr (l, " =");
          name = g_strndup (l, eq - l);
          value = g_strdup (g_str_has_prefix (eq, " = ") ? eq + 3 : "");
        }
      else
        continue;
      g_assert_nonnull (group);
      g_hash_table_insert (keys, g_strdup_printf ("%s.%s", group, name), g_steal_pointer (&value));
    }
  g_assert_cmpuint (g_hash_table_size (keys), >, 50);
  return keys;
}

static char *
source_file (const char *dir, const char *name)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "..", dir, name, NULL);
  g_autoptr(GError) error = NULL;
  char *text = NULL;
  g_file_get_contents (path, &text, NULL, &error);
  g_assert_no_error (error);
  return text;
}

/* man_keys - "group.key" -> the first line of its description (its
 * "Default: ..." sentence), from the .SS "[group]" sections and their .TP
 * entries "\fBkey\fP = \fItype\fP" (transfer full). */
static GHashTable *
man_keys (const char *man, GString *problems)
{
  GHashTable *keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_auto(GStrv) lines = g_strsplit (man, "\n", -1);
  g_autofree char *group = NULL;
  for (guint i = 0; lines[i]; i++)
    {
      const char *l = lines[i];
      if (g_str_has_prefix (l, ".SS \"[") || g_str_has_prefix (l, ".SH") || g_str_has_prefix (l, ".SS"))
        {
          g_clear_pointer (&group, g_free);
          if (g_str_has_prefix (l, ".SS \"["))
            group = g_strndup (l + 6, strcspn (l + 6, "]"));
          continue;
        }
      if (!group || strcmp (l, ".TP") != 0 || !lines[i + 1] || !g_str_has_prefix (lines[i + 1], "\\fB"))
        continue;
      const char *tag = lines[i + 1] + 3;
      const char *end = strstr (tag, "\\fP = ");
      if (!end)
        continue;
      g_autofree char *name = g_strndup (tag, end - tag);
      const char *first = lines[i + 2] ? lines[i + 2] : "";
      g_autofree char *id = g_strdup_printf ("%s.%s", group, name);
      if (g_hash_table_contains (keys, id))
        problem (problems, "spoolgate.conf.5: [%s] %s is described twice", group, name);
      g_hash_table_insert (keys, g_steal_pointer (&id), g_strdup (first));
    }
  return keys;
}

static void
test_man_page (void)
{
  g_autoptr(GHashTable) table = table_keys ();
  g_autoptr(GString) problems = g_string_new (NULL);
  g_autofree char *man = source_file ("man", "spoolgate.conf.5");
  g_autoptr(GHashTable) documented = man_keys (man, problems);
  GHashTableIter it;
  gpointer id, def;
  g_hash_table_iter_init (&it, table);
  while (g_hash_table_iter_next (&it, &id, &def))
    {
      const char *line = g_hash_table_lookup (documented, id);
      if (!line)
        {
          problem (problems, "spoolgate.conf.5 does not describe %s", (char *) id);
          continue;
        }
      g_autofree char *want = NULL;
      if (g_strv_contains (computed_defaults, id))
        want = g_strdup ("Default: ");
      else if (strcmp (def, NOT_SET) == 0)
        want = g_strdup ("Default: not set");
      else if (*(char *) def == '\0')
        want = g_strdup ("Default: empty.");
      else
        want = g_strdup_printf ("Default: \\fB%s\\fP", (char *) def);
      if (!g_str_has_prefix (line, want))
        problem (problems, "spoolgate.conf.5, %s: got \"%s\", want it to start with \"%s\"",
                 (char *) id, line, want);
    }
  g_hash_table_iter_init (&it, documented);
  while (g_hash_table_iter_next (&it, &id, NULL))
    if (!g_hash_table_contains (table, id))
      problem (problems, "spoolgate.conf.5 describes %s, which is not a key", (char *) id);
  report (problems);
}

static void
test_example_conf (void)
{
  g_autoptr(GHashTable) table = table_keys ();
  g_autoptr(GString) problems = g_string_new (NULL);
  g_autofree char *text = source_file ("conf", "spoolgate.conf");
  g_autoptr(GHashTable) listed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(SgConfig) scratch = sg_config_new ();
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  g_autofree char *group = NULL;
  for (guint i = 0; lines[i]; i++)
    {
      const char *l = lines[i];
      if (l[0] == '[')
        {
          g_free (group);
          group = g_strndup (l + 1, strcspn (l + 1, "]"));
          continue;
        }
      /* "#key = value": a setting; "# text": an explanation */
      if (l[0] != '#' || !g_ascii_isalpha (l[1]) || !strstr (l, " = "))
        continue;
      const char *eq = strstr (l, " = ");
      g_autofree char *name = g_strndup (l + 1, eq - l - 1);
      const char *value = eq + 3;
      g_autofree char *id = g_strdup_printf ("%s.%s", group ? group : "", name);
      const char *def = g_hash_table_lookup (table, id);
      if (!def)
        {
          problem (problems, "conf/spoolgate.conf line %u: %s is not a key", i + 1, id);
          continue;
        }
      g_hash_table_add (listed, g_strdup (id));
      /* a concrete default is shown as it is; keys without one show a sample */
      if (strcmp (def, NOT_SET) != 0 && *def && !g_strv_contains (computed_defaults, id)
          && strcmp (def, value) != 0)
        problem (problems, "conf/spoolgate.conf line %u: %s = %s, but the default is %s",
                 i + 1, id, value, def);
      /* and uncommenting it must give a valid setting */
      g_autoptr(GError) error = NULL;
      if (!sg_config_set (scratch, group, name, value, &error))
        problem (problems, "conf/spoolgate.conf line %u: %s", i + 1, error->message);
    }
  GHashTableIter it;
  gpointer id;
  g_hash_table_iter_init (&it, table);
  while (g_hash_table_iter_next (&it, &id, NULL))
    if (!g_hash_table_contains (listed, id))
      problem (problems, "conf/spoolgate.conf does not list %s", (char *) id);
  report (problems);
}

/* As shipped the example loads, and changes nothing. */
static void
test_example_loads_to_defaults (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "..", "conf", "spoolgate.conf", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(SgConfig) loaded = sg_config_load (path, &error);
  g_assert_no_error (error);
  g_autoptr(SgConfig) defaults = sg_config_new ();
  g_autofree char *got = sg_config_dump (loaded);
  g_autofree char *want = sg_config_dump (defaults);
  g_assert_cmpstr (got, ==, want);
}

/* Every manual page formats cleanly: groff -ww warns about everything. */
static void
test_man_pages_format (void)
{
  g_autofree char *groff = g_find_program_in_path ("groff");
  if (!groff)
    {
      g_test_skip ("groff is not installed");
      return;
    }
  g_autofree char *dir = g_test_build_filename (G_TEST_DIST, "..", "man", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) d = g_dir_open (dir, 0, &error);
  g_assert_no_error (error);
  guint pages = 0;
  for (const char *name; (name = g_dir_read_name (d)); )
    {
      if (!g_str_has_suffix (name, ".5") && !g_str_has_suffix (name, ".8"))
        continue;
      g_autofree char *page = g_build_filename (dir, name, NULL);
      const char *argv[] = { groff, "-ww", "-man", "-Tutf8", "-z", page, NULL };
      g_autofree char *err = NULL;
      int status = 0;
      g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                    NULL, &err, &status, &error);
      g_assert_no_error (error);
      if (!g_spawn_check_wait_status (status, NULL) || (err && *err))
        g_test_fail_printf ("groff -ww %s:\n%s", name, err ? err : "");
      pages++;
    }
  g_assert_cmpuint (pages, >=, 2);
}

/* man_restart_only - "group.key" of every key spoolgate.conf(5) says
 * waits for a restart: its entry says "Takes effect at restart", or its
 * group's introduction (before the first entry) says so of all of it
 * (transfer full). */
static GHashTable *
man_restart_only (const char *man)
{
  GHashTable *keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_auto(GStrv) lines = g_strsplit (man, "\n", -1);
  g_autofree char *group = NULL, *key = NULL;
  gboolean whole_group = FALSE;
  for (guint i = 0; lines[i]; i++)
    {
      const char *l = lines[i];
      if (g_str_has_prefix (l, ".SS") || g_str_has_prefix (l, ".SH"))
        {
          g_clear_pointer (&group, g_free);
          g_clear_pointer (&key, g_free);
          whole_group = FALSE;
          if (g_str_has_prefix (l, ".SS \"["))
            group = g_strndup (l + 6, strcspn (l + 6, "]"));
          continue;
        }
      if (!group)
        continue;
      if (strcmp (l, ".TP") == 0 && lines[i + 1] && g_str_has_prefix (lines[i + 1], "\\fB")
          && strstr (lines[i + 1], "\\fP = "))
        {
          const char *tag = lines[i + 1] + 3;
          g_free (key);
          key = g_strndup (tag, strstr (tag, "\\fP = ") - tag);
          if (whole_group)
            g_hash_table_add (keys, g_strdup_printf ("%s.%s", group, key));
          continue;
        }
      g_autofree char *lower = g_ascii_strdown (l, -1);
      if (!strstr (lower, "takes effect at restart"))
        continue;
      if (key)
        g_hash_table_add (keys, g_strdup_printf ("%s.%s", group, key));
      else
        whole_group = TRUE;
    }
  return keys;
}

/* The man page says "Takes effect at restart" of exactly the keys that the
 * key table's reloadable column leaves to a restart: what SIGHUP logs
 * (sg_config_restart_changes) and what the page promises cannot differ. */
static void
test_man_reloadable (void)
{
  g_autofree char *man = source_file ("man", "spoolgate.conf.5");
  g_autoptr(GHashTable) restart = man_restart_only (man);
  g_autoptr(GString) problems = g_string_new (NULL);
  for (guint i = 0; i < sg_config_n_keys (); i++)
    {
      SgConfigKeyInfo k;
      sg_config_key_info (i, &k);
      g_autofree char *id = g_strdup_printf ("%s.%s", k.group, k.key);
      gboolean documented = g_hash_table_contains (restart, id);
      if (documented && k.reloadable)
        problem (problems, "spoolgate.conf.5: [%s] %s: says \"Takes effect at restart\", but SIGHUP "
                 "applies it (reloadable in the key table)", k.group, k.key);
      else if (!documented && !k.reloadable)
        problem (problems, "spoolgate.conf.5: [%s] %s: only a restart applies it (the key table), "
                 "but the page does not say \"Takes effect at restart\"", k.group, k.key);
    }
  report (problems);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/config/docs/man-page", test_man_page);
  g_test_add_func ("/config/docs/example-conf", test_example_conf);
  g_test_add_func ("/config/docs/example-loads-to-defaults", test_example_loads_to_defaults);
  g_test_add_func ("/config/docs/man-pages-format", test_man_pages_format);
  g_test_add_func ("/config/docs/man-reloadable", test_man_reloadable);
  return g_test_run ();
}
