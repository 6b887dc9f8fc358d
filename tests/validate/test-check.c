/* test-check.c - `spoolgate check` as a user runs it: exit codes 0/1/2, the
 * text verdicts and the --json lines. Skips when $SPOOLGATE is missing or
 * does not dispatch `check` yet.
 */
#include "test-common.h"

#include <sys/wait.h>

typedef struct {
  int status;       /* exit code */
  char *out;
  char *err;
} Run;

static void
run_clear (Run *r)
{
  g_free (r->out);
  g_free (r->err);
}

/* Run "$SPOOLGATE check ARGS..." with the sample directory as cwd. */
static gboolean
run_check (Run *r, const char *const *args)
{
  const char *exe = g_getenv ("SPOOLGATE");
  if (exe == NULL || !g_file_test (exe, G_FILE_TEST_IS_EXECUTABLE))
    return FALSE;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (char *) exe);
  g_ptr_array_add (argv, (char *) "check");
  for (gsize i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);

  g_autofree char *cwd = g_test_build_filename (G_TEST_DIST, "data", "validate", NULL);
  g_autoptr(GError) error = NULL;
  int wait = 0;
  if (!g_spawn_sync (cwd, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                     &r->out, &r->err, &wait, &error))
    g_error ("spawn %s: %s", exe, error->message);
  r->status = WIFEXITED (wait) ? WEXITSTATUS (wait) : -1;
  return strstr (r->err, "not implemented") == NULL &&
         strstr (r->err, "unknown command") == NULL;
}

static gboolean
available (void)
{
  Run r = { 0 };
  const char *args[] = { "good/header.date.missing.eml", NULL };
  gboolean ok = run_check (&r, args);
  run_clear (&r);
  if (!ok)
    g_test_skip ("$SPOOLGATE does not dispatch `check` yet");
  return ok;
}

static void
test_exit_codes (void)
{
  if (!available ())
    return;
  const struct {
    const char *args[4];
    int status;
    const char *out;
  } cases[] = {
    { { "good/header.date.missing.eml", "good/mime.limit.parts.eml" }, 0, ": accepted (policy standard)" },
    { { "good/header.date.missing.eml", "bad/header.date.missing.eml" }, 1,
      "reply: 550 5.6.0 Message rejected: no Date header (RFC 5322 3.6) [header.date.missing]" },
    { { "bad/header.message-id.missing.eml" }, 0, "accept header.message-id.missing" },
    { { "--smtputf8", "good/header.utf8.invalid.eml" }, 0, "accepted" },
    { { "good/header.utf8.invalid.eml" }, 0, "accept header.8bit" },
    { { "bad/header.utf8.invalid.eml" }, 1, "reject header.utf8.invalid" },
    { { "no-such-file.eml" }, 2, "" },
    { { "bad/header.date.missing.eml", "no-such-file.eml" }, 2, "rejected" },
    { { "--no-such-option", "good/header.date.missing.eml" }, 2, "" },
    { { NULL }, 2, "" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Run r = { 0 };
      run_check (&r, cases[i].args);
      if (r.status != cases[i].status || strstr (r.out, cases[i].out) == NULL)
        g_error ("case %" G_GSIZE_FORMAT ": got exit %d, output:\n%s%s\nwant exit %d and \"%s\"",
                 i, r.status, r.out, r.err, cases[i].status, cases[i].out);
      run_clear (&r);
    }
}

static void
test_json (void)
{
  if (!available ())
    return;
  Run r = { 0 };
  const char *args[] = { "--json", "good/mime.qp.invalid.eml", "bad/mime.rfc2231.invalid.eml", NULL };
  run_check (&r, args);
  g_assert_cmpint (r.status, ==, 1);
  g_auto(GStrv) lines = g_strsplit (g_strchomp (r.out), "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 2);
  const char *verdicts[] = { "accepted", "rejected" };
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(JsonParser) parser = json_parser_new ();
      g_autoptr(GError) error = NULL;
      json_parser_load_from_data (parser, lines[i], -1, &error);
      g_assert_no_error (error);
      JsonObject *o = json_node_get_object (json_parser_get_root (parser));
      g_assert_cmpstr (json_object_get_string_member (o, "file"), ==, args[i + 1]);
      g_assert_cmpstr (json_object_get_string_member (o, "verdict"), ==, verdicts[i]);
      g_assert_cmpstr (json_object_get_string_member (o, "policy"), ==, "standard");
      JsonArray *a = json_object_get_array_member (o, "violations");
      g_assert_cmpuint (json_array_get_length (a), ==, i);
    }
  JsonParser *parser = json_parser_new ();
  json_parser_load_from_data (parser, lines[1], -1, NULL);
  JsonObject *o = json_node_get_object (json_parser_get_root (parser));
  JsonObject *viol = json_array_get_object_element (json_object_get_array_member (o, "violations"), 0);
  g_assert_cmpstr (json_object_get_string_member (viol, "rule"), ==, "mime.rfc2231.invalid");
  g_assert_cmpstr (json_object_get_string_member (viol, "action"), ==, "reject");
  g_object_unref (parser);
  run_clear (&r);
}

/* A file mixing CRLF and bare LF is not normalised: bare LF is reported. */
static void
test_mixed_endings (void)
{
  if (!available ())
    return;
  Run r = { 0 };
  const char *args[] = { "bad/line.bare-lf.eml", NULL };
  run_check (&r, args);
  g_assert_cmpint (r.status, ==, 1);
  g_assert_nonnull (strstr (r.out, "reject line.bare-lf"));
  run_clear (&r);
}

/* --summary: counts per corpus directory and per rule, exit 0. */
static void
test_summary (void)
{
  if (!available ())
    return;
  Run r = { 0 };
  const char *args[] = { "--summary", "--8bitmime", "../corpus/legit", "../corpus/evasion", NULL };
  run_check (&r, args);
  g_test_message ("%s%s", r.out, r.err);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "../corpus/legit: "));
  g_assert_nonnull (strstr (r.out, " rejected (policy standard)\n"));
  g_assert_nonnull (strstr (r.out, ", 0 accepted, "));      /* every evasion refused */
  g_assert_nonnull (strstr (r.out, "\n  mime.param.cfws "));
  g_assert_nonnull (strstr (r.out, "rejected recorded\n"));
  run_clear (&r);

  const char *missing[] = { "--summary", "no-such-dir", NULL };
  run_check (&r, missing);
  g_assert_cmpint (r.status, ==, 2);
  run_clear (&r);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/validate/check/exit-codes", test_exit_codes);
  g_test_add_func ("/validate/check/json", test_json);
  g_test_add_func ("/validate/check/mixed-endings", test_mixed_endings);
  g_test_add_func ("/validate/check/summary", test_summary);
  return g_test_run ();
}
