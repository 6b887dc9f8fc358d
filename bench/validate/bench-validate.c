/* bench-validate.c - throughput of sg_validate() on one core: MB/s for a
 * message carrying a large base64 attachment, and messages/s for typical
 * ~4 KB messages. Messages are generated in memory; every one must be
 * accepted, so the figures measure the full path of a valid message.
 */
#include "validate/validate.h"

#include <stdlib.h>

#define BENCH_B64_LINE 76u              /* RFC 2045 6.8 line length */
#define BENCH_DEFAULT_MB 20u
#define BENCH_DEFAULT_COUNT 50000u

static const char header[] =
  "Received: from mx.example.net (mx.example.net [192.0.2.1]) by gw.example.org;\r\n"
  "\tTue, 14 Nov 2023 22:13:20 +0000\r\n"
  "From: \"Alice Example\" <alice@example.org>\r\n"
  "To: Bob <bob@example.net>, carol@example.net\r\n"
  "Subject: =?utf-8?q?Quarterly_report_f=C3=BCr_Q3?=\r\n"
  "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
  "Message-ID: <20231114221320.12345@example.org>\r\n"
  "MIME-Version: 1.0\r\n"
  "Content-Type: multipart/mixed; boundary=\"=_bench_boundary_0123456789\"\r\n"
  "\r\n"
  "--=_bench_boundary_0123456789\r\n"
  "Content-Type: text/plain; charset=utf-8\r\n"
  "Content-Transfer-Encoding: quoted-printable\r\n"
  "\r\n";

/* Append n bytes of base64 body in 76-character lines. */
static void
append_base64 (GString *s, gsize n, GRand *rand)
{
  static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  gsize chars = n / 4 * 4, col = 0;
  for (gsize i = 0; i < chars; i++)
    {
      g_string_append_c (s, alphabet[g_rand_int_range (rand, 0, 64)]);
      if (++col == BENCH_B64_LINE)
        {
          g_string_append (s, "\r\n");
          col = 0;
        }
    }
  if (col)
    g_string_append (s, "\r\n");
}

static GString *
make_message (gsize text_bytes, gsize attachment_bytes, GRand *rand)
{
  GString *s = g_string_new (header);
  for (gsize i = 0; i < text_bytes / 64; i++)
    g_string_append (s, "Hello Bob, the figures are attached; see the table =C3=BC below.\r\n");
  g_string_append (s, "--=_bench_boundary_0123456789\r\n"
                      "Content-Type: application/pdf; name=\"report.pdf\"\r\n"
                      "Content-Disposition: attachment; filename=\"report.pdf\"\r\n"
                      "Content-Transfer-Encoding: base64\r\n\r\n");
  append_base64 (s, attachment_bytes, rand);
  g_string_append (s, "--=_bench_boundary_0123456789--\r\n");
  return s;
}

static double
run (const GString *msg, guint rounds)
{
  gint64 start = g_get_monotonic_time ();
  for (guint i = 0; i < rounds; i++)
    {
      g_autoptr(SgValidation) v = sg_validate ((const guint8 *) msg->str, msg->len, NULL);
      if (v->first_reject != NULL)
        {
          g_autofree char *why = sg_violation_describe (v->first_reject);
          g_printerr ("bench message rejected: %s\n", why);
          exit (1);
        }
    }
  return (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
}

int
main (int argc, char **argv)
{
  guint mb = argc > 1 ? (guint) atoi (argv[1]) : BENCH_DEFAULT_MB;
  guint count = argc > 2 ? (guint) atoi (argv[2]) : BENCH_DEFAULT_COUNT;
  GRand *rand = g_rand_new_with_seed (42);

  GString *big = make_message (1024, (gsize) MAX (mb, 1u) * 1000 * 1000, rand);
  run (big, 1);                                           /* warm up */
  guint rounds = 5;
  double secs = run (big, rounds);
  g_print ("large base64 attachment: %.1f MB message, %.0f MB/s\n",
           big->len / 1e6, big->len * rounds / 1e6 / secs);

  GString *small = make_message (1200, 2000, rand);
  run (small, 1000);
  secs = run (small, count);
  g_print ("small messages: %" G_GSIZE_FORMAT " bytes each, %.0f msgs/s (%.0f MB/s)\n",
           small->len, count / secs, small->len * (double) count / 1e6 / secs);

  g_string_free (big, TRUE);
  g_string_free (small, TRUE);
  g_rand_free (rand);
  return 0;
}
