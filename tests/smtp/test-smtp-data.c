/* test-smtp-data.c - the DATA reader: end of data, dot unstuffing, bare
 * CR/LF (SMTP smuggling), size cap, and input split at every byte. */
#include "smtp/smtp_data.h"
#include <string.h>

typedef struct {
  const char *name;
  const char *input;       /* what follows the 354 */
  gboolean    done;        /* end of data found */
  gsize       consumed;    /* bytes consumed, when done (0 = whole input) */
  const char *content;     /* unstuffed content, when done */
  guint64     bare_lf_line, bare_cr_line;
} DataCase;

static const DataCase cases[] = {
  { "simple", "Subject: x\r\n\r\nbody\r\n.\r\n", TRUE, 0, "Subject: x\r\n\r\nbody\r\n" },
  { "empty", ".\r\n", TRUE, 0, "" },
  { "stuffed", "a\r\n..b\r\n...\r\n.\r\n", TRUE, 0, "a\r\n.b\r\n..\r\n" },
  { "trailing-after-end", "a\r\n.\r\nQUIT\r\n", TRUE, 6, "a\r\n" },
  { "dot-not-at-start", "a.\r\n\r\n.\r\n", TRUE, 0, "a.\r\n\r\n" },
  /* malformed end-of-data sequences: never an end, always flagged */
  { "lf-dot-lf", "a\n.\nMAIL FROM:<x@y>\r\n", FALSE, 0, NULL, 1, 0 },
  { "lf-dot-crlf", "a\n.\r\nMAIL FROM:<x@y>\r\n", FALSE, 0, NULL, 1, 0 },
  { "cr-dot-cr", "a\r.\rMAIL\r\n", FALSE, 0, NULL, 0, 1 },
  { "crlf-dot-lf", "a\r\n.\nMAIL\r\n", FALSE, 0, NULL, 2, 0 },
  { "crlf-dot-cr", "a\r\n.\rMAIL\r\n", FALSE, 0, NULL, 0, 2 },
  { "bare-lf-then-end", "a\nb\r\n.\r\n", TRUE, 0, "a\nb\r\n", 1, 0 },
  { "bare-cr-then-end", "a\rb\r\n.\r\n", TRUE, 0, "a\rb\r\n", 0, 1 },
  { "lf-dot-lf-then-real-end", "a\r\n\n.\n\r\n.\r\n", TRUE, 0, "a\r\n\n.\n\r\n", 2, 0 },
  { "nul-dot", "a\r\n\0.\r\n.\r\n", TRUE, 0, NULL },
};

static void
check_case (const DataCase *c, gsize input_len, gsize chunk)
{
  SgDataReader r;
  sg_data_reader_init (&r, 1 << 20);
  gsize pos = 0;
  while (pos < input_len && r.state != SG_DATA_DONE)
    pos += sg_data_reader_feed (&r, c->input + pos, MIN (chunk, input_len - pos));
  if ((r.state == SG_DATA_DONE) != c->done)
    g_error ("%s (chunk %zu): done=%d, want %d", c->name, chunk, r.state == SG_DATA_DONE, c->done);
  if (c->done)
    {
      gsize want_consumed = c->consumed ? c->consumed : input_len;
      g_assert_cmpuint (pos, ==, want_consumed);
      g_autoptr(GBytes) b = sg_data_reader_steal (&r);
      if (c->content)
        {
          gsize n;
          const char *d = g_bytes_get_data (b, &n);
          g_assert_cmpmem (d, n, c->content, strlen (c->content));
        }
    }
  g_assert_cmpuint (r.bare_lf_line, ==, c->bare_lf_line);
  g_assert_cmpuint (r.bare_cr_line, ==, c->bare_cr_line);
  sg_data_reader_clear (&r);
}

static gsize
case_len (const DataCase *c)
{
  /* the NUL case embeds a NUL: its length is known */
  return strcmp (c->name, "nul-dot") == 0 ? 10 : strlen (c->input);
}

static void
test_cases (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    for (gsize chunk = 1; chunk <= case_len (&cases[i]); chunk++)
      check_case (&cases[i], case_len (&cases[i]), chunk);
}

static void
test_size_cap (void)
{
  SgDataReader r;
  sg_data_reader_init (&r, 10);
  const char *in = "0123456789\r\nmore\r\n.\r\n";
  gsize used = sg_data_reader_feed (&r, in, strlen (in));
  g_assert_cmpuint (used, ==, strlen (in));
  g_assert_true (r.state == SG_DATA_DONE);
  g_assert_true (r.too_big);
  g_assert_null (r.content);
  g_assert_null (sg_data_reader_steal (&r));
  g_assert_cmpuint (r.size, ==, 18);
  sg_data_reader_clear (&r);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/smtp/data/cases", test_cases);
  g_test_add_func ("/smtp/data/size-cap", test_size_cap);
  return g_test_run ();
}
