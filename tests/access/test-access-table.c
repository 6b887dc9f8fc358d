/* test-access-table.c - the [access] table files: what each kind accepts,
 * the errors that name file and line, access(5)'s look-up order, and (with
 * -m perf) the load time and memory of a million-line table. */
#include "access/access_table.h"

#include <glib/gstdio.h>
#include <string.h>

/* write_table - text into a new temporary file (transfer full: the path). */
static char *
write_table (const char *text)
{
  g_autoptr(GError) error = NULL;
  char *path = NULL;
  int fd = g_file_open_tmp ("sg-table-XXXXXX", &path, &error);
  g_assert_no_error (error);
  close (fd);
  g_assert_true (g_file_set_contents (path, text, -1, &error));
  return path;
}

static void
test_recipients (void)
{
  g_autofree char *path = write_table ("# the users\n"
                                       "Alice@Example.ORG\n"
                                       "  bob@example.org   x   # Postfix's map form, value ignored\n"
                                       "\n"
                                       "@example.net\r\n"
                                       "carol@example.org # comment\n");
  g_autoptr(GError) error = NULL;
  g_autoptr(SgAccessTable) t = sg_access_table_load (path, SG_TABLE_RECIPIENTS, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (sg_access_table_size (t), ==, 4);
  static const struct { const char *address; gboolean listed; } cases[] = {
    { "alice@example.org", TRUE }, { "ALICE@EXAMPLE.org", TRUE }, { "bob@example.org", TRUE },
    { "carol@example.org", TRUE }, { "dave@example.org", FALSE }, { "anyone@example.net", TRUE },
    { "x@sub.example.net", FALSE }, { "alice@example.com", FALSE }, { "postmaster", FALSE },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    if (sg_access_table_has_recipient (t, cases[i].address) != cases[i].listed)
      g_test_fail_printf ("%s: got %s, want %s", cases[i].address,
                          cases[i].listed ? "unlisted" : "listed", cases[i].listed ? "listed" : "unlisted");
  g_unlink (path);
}

static void
test_access_lookup_order (void)
{
  g_autofree char *path = write_table ("# access(5)\n"
                                       "spam@example.com   REJECT   no spam here\n"
                                       "example.com        OK\n"
                                       "bad.example        DEFER\n"
                                       "postmaster@        HOLD  look first\n"
                                       "<>                 REJECT null sender refused\n"
                                       "held.test          hold\n");
  g_autoptr(GError) error = NULL;
  g_autoptr(SgAccessTable) t = sg_access_table_load (path, SG_TABLE_ACCESS, &error);
  g_assert_no_error (error);
  static const struct { const char *address; SgAccessAction action; const char *text; } cases[] = {
    { "spam@example.com", SG_ACCESS_REJECT, "no spam here" },     /* user@domain first */
    { "SPAM@EXAMPLE.COM", SG_ACCESS_REJECT, "no spam here" },
    { "ham@example.com", SG_ACCESS_OK, NULL },                     /* then the domain */
    { "x@mail.example.com", SG_ACCESS_OK, NULL },                  /* and its parents */
    { "x@a.b.bad.example", SG_ACCESS_DEFER, NULL },
    { "postmaster@elsewhere.test", SG_ACCESS_HOLD, "look first" }, /* then user@ */
    { "postmaster@example.com", SG_ACCESS_OK, NULL },              /* the domain wins over user@ */
    { "", SG_ACCESS_REJECT, "null sender refused" },
    { "x@held.test", SG_ACCESS_HOLD, NULL },
    { "x@example.org", SG_ACCESS_NONE, NULL },
    { "x@com", SG_ACCESS_NONE, NULL },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const char *text = NULL;
      SgAccessAction got = sg_access_table_check (t, cases[i].address, &text);
      if (got != cases[i].action || g_strcmp0 (text, cases[i].text) != 0)
        g_test_fail_printf ("<%s>: got action %d text \"%s\", want %d \"%s\"", cases[i].address,
                            got, text ? text : "(none)", cases[i].action,
                            cases[i].text ? cases[i].text : "(none)");
    }
  g_unlink (path);
}

static void
test_errors (void)
{
  static const struct { SgTableKind kind; const char *text; const char *want; } cases[] = {
    { SG_TABLE_RECIPIENTS, "alice@example.org\nbob\n", ":2: \"bob\" is not an address or @domain" },
    { SG_TABLE_RECIPIENTS, "a@b\n@\n", ":2: \"@\" is not an address or @domain" },
    { SG_TABLE_RECIPIENTS, "\n\nx@y@z\n", ":3: \"x@y@z\" is not an address" },
    { SG_TABLE_ACCESS, "example.com OK\nexample.org\n", ":2: \"example.org\" has no action" },
    { SG_TABLE_ACCESS, "example.com PERMIT\n", ":1: unknown action \"PERMIT\" (OK, REJECT, DEFER or HOLD)" },
    { SG_TABLE_ACCESS, "a OK\nb OK\nc OK\nd # nothing\n", ":4: \"d\" has no action" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = write_table (cases[i].text);
      g_autoptr(GError) error = NULL;
      g_autoptr(SgAccessTable) t = sg_access_table_load (path, cases[i].kind, &error);
      g_autofree char *want = g_strconcat (path, cases[i].want, NULL);
      if (t || !error || !g_str_has_prefix (error->message, want))
        g_test_fail_printf ("case %u: got \"%s\", want \"%s...\"", i,
                            error ? error->message : "(loaded)", want);
      g_unlink (path);
    }
  g_autoptr(GError) error = NULL;
  g_autoptr(SgAccessTable) t = sg_access_table_load ("/nonexistent/table", SG_TABLE_ACCESS, &error);
  g_assert_null (t);
  g_assert_error (error, SG_ACCESS_ERROR, SG_ACCESS_ERROR_FILE);
  g_assert_nonnull (strstr (error->message, "/nonexistent/table"));
}

/* rss_kb - this process's resident set now, from /proc. */
static guint64
rss_kb (void)
{
  g_autofree char *status = NULL;
  g_file_get_contents ("/proc/self/status", &status, NULL, NULL);
  const char *hwm = status ? strstr (status, "VmRSS:") : NULL;
  return hwm ? g_ascii_strtoull (hwm + 6, NULL, 10) : 0;
}

/* test_million - -m perf: a million-line recipients table (issue 22: at
 * most 2 s and 100 MB); printed, not judged (no timing in pass/fail). */
static void
test_million (void)
{
  if (!g_test_perf ())
    {
      g_test_skip ("a measurement: run with -m perf");
      return;
    }
  g_autoptr(GString) text = g_string_sized_new (40 << 20);
  for (guint i = 0; i < 1000000; i++)
    g_string_append_printf (text, "user%07u.someone@department%03u.example.org\n", i, i % 997);
  g_autofree char *path = write_table (text->str);
  gsize file_size = text->len;
  g_string_free (g_steal_pointer (&text), TRUE);
  guint64 before = rss_kb ();
  gint64 start = g_get_monotonic_time ();
  g_autoptr(GError) error = NULL;
  g_autoptr(SgAccessTable) t = sg_access_table_load (path, SG_TABLE_RECIPIENTS, &error);
  double secs = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  g_assert_no_error (error);
  g_assert_cmpuint (sg_access_table_size (t), ==, 1000000);
  g_assert_true (sg_access_table_has_recipient (t, "user0999999.someone@department008.example.org"));
  g_test_minimized_result (secs, "1,000,000 lines (%.1f MB) loaded in %.3f s; RSS grew %.1f MB",
                           file_size / 1e6, secs, (rss_kb () - before) / 1024.0);
  g_unlink (path);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/access/table/recipients", test_recipients);
  g_test_add_func ("/access/table/lookup-order", test_access_lookup_order);
  g_test_add_func ("/access/table/errors", test_errors);
  g_test_add_func ("/access/table/million", test_million);
  return g_test_run ();
}
