/* test-metrics.c - the metrics registry and the scrape endpoint's request
 * routing: the exact exposition text against tests/data/metrics/, label
 * escaping and the series cap, counts under concurrent updates, histogram
 * bucket edges, and a table of good and hostile HTTP request heads. */
#include "metrics/metrics.h"
#include "metrics/metrics_http.h"
#include "sg-build.h"

#include <string.h>

#define TEST_START_US (G_GINT64_CONSTANT (1700000000) * G_USEC_PER_SEC + 250000)
#define THREADS       4
#define PER_THREAD    20000

static void
fresh (void)
{
  sg_metrics_reset ();
  sg_metrics_init (TEST_START_US);
}

/* line_value - the value of the sample line that starts with prefix + " ", or -1. */
static gint64
line_value (const char *text, const char *prefix)
{
  g_autofree char *needle = g_strdup_printf ("\n%s ", prefix);
  const char *p = strstr (text, needle);
  if (!p)
    return -1;
  return g_ascii_strtoll (p + strlen (needle), NULL, 10);
}

/* The golden file holds @VERSION@ where the build's version goes. */
static void
test_render_exact (void)
{
  fresh ();
  sg_metrics_inc (SG_COUNTER_CONNECTIONS);
  sg_metrics_inc (SG_COUNTER_CONNECTIONS);
  sg_metrics_inc (SG_COUNTER_CONNECTIONS);
  sg_metrics_refused ("access.denied");
  sg_metrics_gauge_add (SG_GAUGE_SESSIONS_OPEN, 2);
  sg_metrics_gauge_add (SG_GAUGE_TLS_SESSIONS_OPEN, 1);
  sg_metrics_inc (SG_COUNTER_MESSAGES_ACCEPTED);
  sg_metrics_add (SG_COUNTER_ACCEPTED_BYTES, 1234);
  sg_metrics_rejected ("header.date.missing", 550);
  sg_metrics_rejected ("relay.denied", 550);
  sg_metrics_rejected ("header.date.missing", 550);
  sg_metrics_monitored ("mime.boundary.missing");
  sg_metrics_milter ("inet:127.0.0.1:11332", "reject");
  sg_metrics_milter ("unix:/run/opendkim/opendkim.sock", "accept");
  sg_metrics_milter ("inet:127.0.0.1:11332", "reject");
  sg_metrics_recipient_rejected ("unknown_user");
  sg_metrics_recipient_rejected ("unknown_user");
  sg_metrics_recipient_rejected ("undeliverable");
  sg_metrics_delivery (SG_DELIVERY_DELIVERED);
  sg_metrics_delivery (SG_DELIVERY_DEFERRED);
  sg_metrics_delivery (SG_DELIVERY_DEFERRED);
  sg_metrics_queue_set ("queued", 3, 4500);
  sg_metrics_queue_set ("held", 1, 700);
  sg_metrics_queue_set ("no-such-state", 9, 9);
  sg_metrics_observe_us (SG_HISTOGRAM_SPOOL_COMMIT, 3000);     /* le 0.005 */
  sg_metrics_observe_us (SG_HISTOGRAM_SPOOL_COMMIT, 20000000); /* +Inf */
  sg_metrics_observe_us (SG_HISTOGRAM_DATA_REPLY, 1000);       /* le 0.001: bounds are inclusive */

  gsize len = 0;
  g_autofree char *text = sg_metrics_render (&len);
  g_assert_cmpuint (len, ==, strlen (text));
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "metrics",
                                                 "render.prom", NULL);
  g_autofree char *golden = NULL;
  g_assert_true (g_file_get_contents (path, &golden, NULL, NULL));
  g_auto(GStrv) parts = g_strsplit (golden, "@VERSION@", -1);
  g_autofree char *want = g_strjoinv (SG_VERSION_STRING, parts);
  if (strcmp (text, want) != 0)
    {
      const char *a = text, *b = want;
      while (*a && *a == *b)
        a++, b++;
      while (a > text && a[-1] != '\n')
        a--, b--;
      g_error ("render differs from %s\ngot:  %.120s\nwant: %.120s", path, a, b);
    }
}

/* Every line is a comment or "name{labels} value"; every family has HELP and TYPE. */
static void
test_render_syntax (void)
{
  fresh ();
  g_autofree char *text = sg_metrics_render (NULL);
  g_assert_true (g_str_has_suffix (text, "\n"));
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  guint helps = 0, types = 0;
  for (guint i = 0; lines[i] && lines[i][0]; i++)
    {
      const char *l = lines[i];
      if (g_str_has_prefix (l, "# HELP "))
        helps++;
      else if (g_str_has_prefix (l, "# TYPE "))
        {
          types++;
          g_assert_true (g_str_has_suffix (l, " counter") || g_str_has_suffix (l, " gauge")
                         || g_str_has_suffix (l, " histogram"));
        }
      else
        {
          g_assert_true (g_ascii_isalpha (l[0]));
          const char *sp = strrchr (l, ' ');
          g_assert_nonnull (sp);
          char *end = NULL;
          g_ascii_strtod (sp + 1, &end);
          g_assert_true (end && *end == '\0');
        }
    }
  g_assert_cmpuint (helps, ==, types);
  g_assert_cmpuint (helps, ==, 18);
}

static void
test_label_escape (void)
{
  fresh ();
  sg_metrics_rejected ("a\"b\\c\nd", 451);
  g_autofree char *text = sg_metrics_render (NULL);
  g_assert_nonnull (strstr (text, "spoolgate_messages_rejected_total{rule=\"a\\\"b\\\\c\\nd\",code=\"451\"} 1\n"));

  /* truncated to SG_METRICS_LABEL_MAX - 1 characters */
  g_autofree char *longer = g_strnfill (200, 'x');
  sg_metrics_refused (longer);
  sg_metrics_refused (longer);
  g_autofree char *cut = g_strnfill (SG_METRICS_LABEL_MAX - 1, 'x');
  g_autofree char *line = g_strdup_printf ("spoolgate_connections_refused_total{reason=\"%s\"} 2\n", cut);
  g_autofree char *text2 = sg_metrics_render (NULL);
  g_assert_nonnull (strstr (text2, line));
}

static void
test_label_cap (void)
{
  fresh ();
  guint extra = 10;
  for (guint i = 0; i < SG_METRICS_MAX_SERIES + extra; i++)
    {
      g_autofree char *rule = g_strdup_printf ("rule.%u", i);
      sg_metrics_rejected (rule, 550);
      sg_metrics_rejected (rule, 550);
    }
  g_autofree char *text = sg_metrics_render (NULL);
  g_assert_cmpint (line_value (text, "spoolgate_messages_rejected_total{rule=\"rule.0\",code=\"550\"}"), ==, 2);
  g_autofree char *last = g_strdup_printf ("spoolgate_messages_rejected_total{rule=\"rule.%u\",code=\"550\"}",
                                           SG_METRICS_MAX_SERIES - 1);
  g_assert_cmpint (line_value (text, last), ==, 2);
  g_autofree char *over = g_strdup_printf ("spoolgate_messages_rejected_total{rule=\"rule.%u\",code=\"550\"}",
                                           SG_METRICS_MAX_SERIES);
  g_assert_cmpint (line_value (text, over), ==, -1);
  g_assert_cmpint (line_value (text, "spoolgate_messages_rejected_total{rule=\"other\",code=\"other\"}"),
                   ==, 2 * extra);
}

static gpointer
hammer (gpointer data)
{
  static const char *const rules[] = { "header.date.missing", "relay.denied", "line.bare-lf" };
  guint n = GPOINTER_TO_UINT (data);
  for (guint i = 0; i < PER_THREAD; i++)
    {
      sg_metrics_inc (SG_COUNTER_MESSAGES_ACCEPTED);
      sg_metrics_rejected (rules[(i + n) % G_N_ELEMENTS (rules)], 550);
      sg_metrics_observe_us (SG_HISTOGRAM_SPOOL_COMMIT, i % 3 ? 700 : 30000);
      sg_metrics_gauge_add (SG_GAUGE_SESSIONS_OPEN, 1);
      sg_metrics_gauge_add (SG_GAUGE_SESSIONS_OPEN, -1);
    }
  return NULL;
}

static void
test_threads (void)
{
  fresh ();
  GThread *t[THREADS];
  for (guint i = 0; i < THREADS; i++)
    t[i] = g_thread_new ("hammer", hammer, GUINT_TO_POINTER (i));
  for (guint i = 0; i < THREADS; i++)
    {
      /* scraping while they run must be safe */
      g_free (sg_metrics_render (NULL));
      g_thread_join (t[i]);
    }
  g_autofree char *text = sg_metrics_render (NULL);
  g_assert_cmpint (line_value (text, "spoolgate_messages_accepted_total"), ==, THREADS * PER_THREAD);
  g_assert_cmpint (line_value (text, "spoolgate_sessions_open"), ==, 0);
  gint64 rejected = line_value (text, "spoolgate_messages_rejected_total{rule=\"header.date.missing\",code=\"550\"}")
                  + line_value (text, "spoolgate_messages_rejected_total{rule=\"relay.denied\",code=\"550\"}")
                  + line_value (text, "spoolgate_messages_rejected_total{rule=\"line.bare-lf\",code=\"550\"}");
  g_assert_cmpint (rejected, ==, THREADS * PER_THREAD);
  g_assert_cmpint (line_value (text, "spoolgate_spool_commit_seconds_count"), ==, THREADS * PER_THREAD);
  g_assert_cmpint (line_value (text, "spoolgate_spool_commit_seconds_bucket{le=\"0.001\"}"), ==,
                   THREADS * (PER_THREAD - (PER_THREAD + 2) / 3));
  g_assert_null (strstr (text, "rule=\"other\""));
}

static void
test_histogram_edges (void)
{
  fresh ();
  sg_metrics_observe_us (SG_HISTOGRAM_DATA_REPLY, -5);        /* clamped to 0 */
  sg_metrics_observe_us (SG_HISTOGRAM_DATA_REPLY, 2500);      /* le 0.0025 exactly */
  sg_metrics_observe_us (SG_HISTOGRAM_DATA_REPLY, 2501);      /* le 0.005 */
  sg_metrics_observe_us (SG_HISTOGRAM_DATA_REPLY, 30000001);  /* +Inf */
  g_autofree char *text = sg_metrics_render (NULL);
  g_assert_cmpint (line_value (text, "spoolgate_data_reply_seconds_bucket{le=\"0.001\"}"), ==, 1);
  g_assert_cmpint (line_value (text, "spoolgate_data_reply_seconds_bucket{le=\"0.0025\"}"), ==, 2);
  g_assert_cmpint (line_value (text, "spoolgate_data_reply_seconds_bucket{le=\"0.005\"}"), ==, 3);
  g_assert_cmpint (line_value (text, "spoolgate_data_reply_seconds_bucket{le=\"30\"}"), ==, 3);
  g_assert_cmpint (line_value (text, "spoolgate_data_reply_seconds_bucket{le=\"+Inf\"}"), ==, 4);
  g_assert_cmpint (line_value (text, "spoolgate_data_reply_seconds_count"), ==, 4);
  g_assert_nonnull (strstr (text, "\nspoolgate_data_reply_seconds_sum 30.005002\n"));
}

static void
test_route (void)
{
  static const struct { const char *request; guint status; gboolean head; } cases[] = {
    { "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 200, FALSE },
    { "GET /metrics HTTP/1.0\r\n\r\n", 200, FALSE },
    { "GET /metrics?name[]=x HTTP/1.1\r\n\r\n", 200, FALSE },
    { "HEAD /metrics HTTP/1.1\r\n\r\n", 200, TRUE },
    { "GET /metrics HTTP/1.1\n\n", 200, FALSE },
    { "GET / HTTP/1.1\r\n\r\n", 404, FALSE },
    { "GET /metrics/ HTTP/1.1\r\n\r\n", 404, FALSE },
    { "GET /metricsx HTTP/1.1\r\n\r\n", 404, FALSE },
    { "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\n", 405, FALSE },
    { "DELETE /metrics HTTP/1.0\r\n\r\n", 405, FALSE },
    { "get /metrics HTTP/1.1\r\n\r\n", 405, FALSE },
    { "GET /metrics\r\n\r\n", 400, FALSE },
    { "GET /metrics HTTP/2.0\r\n\r\n", 400, FALSE },
    { "GET  /metrics HTTP/1.1\r\n\r\n", 400, FALSE },
    { "GET metrics HTTP/1.1\r\n\r\n", 400, FALSE },
    { "GET /met rics HTTP/1.1\r\n\r\n", 400, FALSE },
    { "G(T /metrics HTTP/1.1\r\n\r\n", 400, FALSE },
    { "\r\n\r\n", 400, FALSE },
    { "GET /metrics HTTP/1.1\r\nno colon\r\n\r\n", 400, FALSE },
    { "GET /metrics HTTP/1.1\r\n: empty name\r\n\r\n", 400, FALSE },
    { "GET /metrics HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400, FALSE },
    { "GET /metrics HTTP/1.1\r\nX: a\001b\r\n\r\n", 400, FALSE },
    { "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n\n", 400, FALSE },
    { "GET /m\xc3\xa9trics HTTP/1.1\r\n\r\n", 400, FALSE },
    { "GETGETGETGETGETGETGET /metrics HTTP/1.1\r\n\r\n", 400, FALSE },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      gboolean head = !cases[i].head;
      guint got = sg_metrics_http_route (cases[i].request, strlen (cases[i].request), &head);
      if (got != cases[i].status || head != cases[i].head)
        g_error ("case %u %s: got %u%s, want %u%s", i, g_strescape (cases[i].request, NULL),
                 got, head ? " HEAD" : "", cases[i].status, cases[i].head ? " HEAD" : "");
    }
  /* a NUL byte is garbage too */
  static const char nul[] = "GET /metrics HTTP/1.1\r\nX: a\0b\r\n\r\n";
  gboolean head;
  g_assert_cmpuint (sg_metrics_http_route (nul, sizeof nul - 1, &head), ==, 400);
}

/* spoolgate_queue_oldest_seconds - the age of the arrival time set, in
 * whole seconds; 0 with none. A minute of slack: no timing in the verdict. */
static void
test_queue_oldest (void)
{
  fresh ();
  g_autofree char *none = sg_metrics_render (NULL);
  g_assert_cmpint (line_value (none, "spoolgate_queue_oldest_seconds"), ==, 0);
  sg_metrics_queue_oldest_set (g_get_real_time () - (gint64) 3600 * G_USEC_PER_SEC);
  g_autofree char *hour = sg_metrics_render (NULL);
  gint64 age = line_value (hour, "spoolgate_queue_oldest_seconds");
  g_assert_cmpint (age, >=, 3600);
  g_assert_cmpint (age, <, 3660);
  sg_metrics_queue_oldest_set (0);
  g_autofree char *again = sg_metrics_render (NULL);
  g_assert_cmpint (line_value (again, "spoolgate_queue_oldest_seconds"), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/metrics/render/exact", test_render_exact);
  g_test_add_func ("/metrics/render/syntax", test_render_syntax);
  g_test_add_func ("/metrics/queue/oldest", test_queue_oldest);
  g_test_add_func ("/metrics/labels/escape", test_label_escape);
  g_test_add_func ("/metrics/labels/cap", test_label_cap);
  g_test_add_func ("/metrics/threads", test_threads);
  g_test_add_func ("/metrics/histogram/edges", test_histogram_edges);
  g_test_add_func ("/metrics/http/route", test_route);
  return g_test_run ();
}
