/* test-smtp-data.c - the DATA reader: end of data, dot unstuffing, bare
 * CR/LF (SMTP smuggling), size cap, and input split at every byte; and
 * where content goes: memory up to the spill threshold and the global
 * in-flight bound, then a real spool draft, byte for byte. */
#include "smtp/smtp_data.h"
#include <glib/gstdio.h>
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

/* ---- spilling to a spool draft ---- */

#define SPILL_HEADER "Received: test\r\n"

typedef struct {
  char    *dir;
  SgSpool *spool;
  guint    opened;
} SpillFixture;

static SgSpoolDraft *
fixture_open (gpointer user_data, GError **error)
{
  SpillFixture *f = user_data;
  f->opened++;
  return sg_spool_draft_new (f->spool, error);
}

static void
fixture_init (SpillFixture *f)
{
  g_autoptr(GError) error = NULL;
  f->dir = g_dir_make_tmp ("sg-smtp-data-XXXXXX", &error);
  g_assert_no_error (error);
  f->spool = sg_spool_open (f->dir, &error);
  g_assert_no_error (error);
  f->opened = 0;
}

/* tmp_count - files in the spool's tmp/. */
static guint
tmp_count (SpillFixture *f)
{
  g_autofree char *tmp = g_build_filename (f->dir, "tmp", NULL);
  g_autoptr(GDir) d = g_dir_open (tmp, 0, NULL);
  guint n = 0;
  while (d && g_dir_read_name (d))
    n++;
  return n;
}

/* fixture_clear - once the spool's writer has finished (sg_spool_free), no
 * draft may have left a file behind. */
static void
fixture_clear (SpillFixture *f)
{
  sg_spool_free (f->spool);
  g_assert_cmpuint (tmp_count (f), ==, 0);
  for (const char *const *sub = (const char *const[]) { "tmp", "queue", "quarantine", ".lock", NULL };
       *sub; sub++)
    {
      g_autofree char *p = g_build_filename (f->dir, *sub, NULL);
      g_remove (p);
    }
  g_rmdir (f->dir);
  g_free (f->dir);
}

static void
reader_with_spill (SgDataReader *r, SpillFixture *f, guint64 threshold, guint64 max_in_flight)
{
  g_autoptr(GBytes) header = g_bytes_new_static (SPILL_HEADER, strlen (SPILL_HEADER));
  SgDataSpill spill = { .open = fixture_open, .user_data = f, .header = header,
                        .threshold = threshold, .max_in_flight = max_in_flight };
  sg_data_reader_init (r, 64u << 20);
  sg_data_reader_set_spill (r, &spill);
}

/* message - content of len bytes, CRLF lines, some starting with a dot;
 * *wire is its dot-stuffed form with the end marker (transfer full). */
static GString *
message (gsize len, GString **wire)
{
  GString *c = g_string_sized_new (len);
  for (guint line = 0; c->len < len; line++)
    {
      gsize room = len - c->len;
      if (room <= 2)
        {
          g_string_append_len (c, "xx", room);
          break;
        }
      gsize n = MIN (room - 2, 60 + line % 17);
      for (gsize i = 0; i < n; i++)
        g_string_append_c (c, i == 0 && line % 5 == 0 ? '.' : (char) ('a' + (line + i) % 26));
      g_string_append (c, "\r\n");
    }
  /* end on a line boundary so the marker is "\r\n.\r\n" after content */
  if (c->len >= 2 && !(c->str[c->len - 2] == '\r' && c->str[c->len - 1] == '\n'))
    {
      g_string_truncate (c, c->len >= 2 ? c->len - 2 : 0);
      g_string_append (c, "\r\n");
    }
  *wire = g_string_sized_new (len + len / 50 + 8);
  gboolean bol = TRUE;
  for (gsize i = 0; i < c->len; i++)
    {
      if (bol && c->str[i] == '.')
        g_string_append_c (*wire, '.');
      g_string_append_c (*wire, c->str[i]);
      bol = c->str[i] == '\n';
    }
  g_string_append (*wire, ".\r\n");
  return c;
}

/* feed_all - feed wire in chunks of chunk bytes until DONE. */
static void
feed_all (SgDataReader *r, const GString *wire, gsize chunk)
{
  gsize pos = 0;
  while (pos < wire->len && r->state != SG_DATA_DONE)
    pos += sg_data_reader_feed (r, wire->str + pos, MIN (chunk, wire->len - pos));
  g_assert_true (r->state == SG_DATA_DONE);
  g_assert_cmpuint (pos, ==, wire->len);
}

/* check_spilled - the draft holds SPILL_HEADER then exactly content. */
static void
check_spilled (SgDataReader *r, const GString *content)
{
  g_autoptr(GError) error = NULL;
  g_assert_null (sg_data_reader_steal (r));
  g_autoptr(SgSpoolDraft) draft = sg_data_reader_steal_draft (r);
  g_assert_nonnull (draft);
  gsize len = 0;
  const guint8 *m = sg_spool_draft_map (draft, &len, &error);
  g_assert_no_error (error);
  gsize hlen = strlen (SPILL_HEADER);
  g_assert_cmpmem (m, hlen, SPILL_HEADER, hlen);
  g_assert_cmpmem (m + hlen, len - hlen, content->str, content->len);
}

/* /smtp/data/spill/threshold - up to the threshold in memory, one byte more
 * to disk; every chunking gives the same bytes. */
static void
test_spill_threshold (void)
{
  SpillFixture f;
  const gsize threshold = 4096;
  fixture_init (&f);
  for (gsize len = threshold - 2; len <= threshold + 2; len++)
    for (const gsize *chunk = (const gsize[]) { 1, 7, 4096, 65536 + 3, 0 }; *chunk; chunk++)
      {
        SgDataReader r;
        g_autoptr(GString) wire = NULL;
        g_autoptr(GString) content = message (len, &wire);
        reader_with_spill (&r, &f, threshold, G_MAXUINT64);
        feed_all (&r, wire, *chunk);
        if (content->len <= threshold)
          {
            g_assert_null (r.draft);
            g_autoptr(GBytes) b = sg_data_reader_steal (&r);
            g_assert_cmpmem (g_bytes_get_data (b, NULL), g_bytes_get_size (b), content->str, content->len);
            g_assert_cmpuint (sg_data_memory_in_flight (), ==, content->len);
          }
        else
          check_spilled (&r, content);
        sg_data_reader_clear (&r);
        g_assert_cmpuint (sg_data_memory_in_flight (), ==, 0);
      }
  fixture_clear (&f);
}

/* /smtp/data/spill/large - a 3 MiB message in odd chunks: past the draft's
 * write buffer and the spool's O_DIRECT sizes, still byte-exact, and
 * memory holds none of it. */
static void
test_spill_large (void)
{
  SpillFixture f;
  fixture_init (&f);
  for (const gsize *len = (const gsize[]) { SG_DATA_SPILL_BUFFER - 1, SG_DATA_SPILL_BUFFER + 1,
                                            (1u << 20) + 1, 3u << 20, 0 }; *len; len++)
    {
      SgDataReader r;
      g_autoptr(GString) wire = NULL;
      g_autoptr(GString) content = message (*len, &wire);
      reader_with_spill (&r, &f, 1024, G_MAXUINT64);
      gsize pos = 0;
      for (gsize step = 1; r.state != SG_DATA_DONE; step = step * 2 + 1)
        {
          pos += sg_data_reader_feed (&r, wire->str + pos, MIN (step % 200000 + 1, wire->len - pos));
          g_assert_cmpuint (sg_data_memory_in_flight (), <=, 1024);
        }
      g_assert_cmpuint (sg_data_memory_in_flight (), ==, 0);
      check_spilled (&r, content);
      sg_data_reader_clear (&r);
    }
  fixture_clear (&f);
}

/* /smtp/data/spill/in-flight - once all readers together hold
 * max_in_flight, another reader's data goes to disk at once, however small
 * the message; the bytes a stolen GBytes holds count until it is freed. */
static void
test_spill_in_flight (void)
{
  SpillFixture f;
  fixture_init (&f);
  SgDataReader a, b, c;
  g_autoptr(GString) wire_a = NULL, wire_b = NULL;
  g_autoptr(GString) content_a = message (3000, &wire_a);
  g_autoptr(GString) content_b = message (200, &wire_b);

  reader_with_spill (&a, &f, 1u << 20, 4000);
  feed_all (&a, wire_a, 512);
  g_assert_null (a.draft);
  g_autoptr(GBytes) held = sg_data_reader_steal (&a);
  sg_data_reader_clear (&a);
  g_assert_cmpuint (sg_data_memory_in_flight (), ==, content_a->len);

  reader_with_spill (&b, &f, 1u << 20, 3000);
  feed_all (&b, wire_b, 100);
  g_assert_cmpuint (f.opened, ==, 1);
  check_spilled (&b, content_b);
  sg_data_reader_clear (&b);

  g_clear_pointer (&held, g_bytes_unref);
  g_assert_cmpuint (sg_data_memory_in_flight (), ==, 0);
  reader_with_spill (&c, &f, 1u << 20, 3000);
  feed_all (&c, wire_b, 100);
  g_assert_null (c.draft);
  sg_data_reader_clear (&c);
  g_assert_cmpuint (f.opened, ==, 1);
  fixture_clear (&f);
}

/* /smtp/data/spill/too-big - over max_size after spilling: the draft and
 * its file go at once; only counting from then on. */
static void
test_spill_too_big (void)
{
  SpillFixture f;
  fixture_init (&f);
  SgDataReader r;
  g_autoptr(GString) wire = NULL;
  g_autoptr(GString) content = message (100000, &wire);
  reader_with_spill (&r, &f, 1024, G_MAXUINT64);
  r.max_size = 50000;
  feed_all (&r, wire, 4096);
  g_assert_true (r.too_big);
  g_assert_null (r.draft);
  g_assert_null (sg_data_reader_steal_draft (&r));
  g_assert_cmpuint (r.size, ==, content->len);
  sg_data_reader_clear (&r);
  fixture_clear (&f);
}

/* The run-of-lines fast path against the byte machine: random DATA (long
 * ordinary runs, with bare CR and LF, stuffed dots and the end marker
 * sprinkled in) fed in random chunks must give exactly what feeding it one
 * byte at a time gives - content, size, line count, first bare CR and LF
 * line, where it ended. One byte at a time never has a whole line to find
 * with memchr, so only the byte machine runs. */
typedef struct {
  gboolean done;
  gsize    consumed;
  guint64  size, line, bare_lf_line, bare_cr_line;
  GBytes  *content;
} FeedResult;

static FeedResult
feed_in_chunks (const char *input, gsize len, gboolean one_byte)
{
  SgDataReader r;
  FeedResult out = { 0 };
  sg_data_reader_init (&r, 1 << 22);
  gsize pos = 0;
  while (pos < len && r.state != SG_DATA_DONE)
    {
      gsize chunk = one_byte ? 1 : (gsize) g_test_rand_int_range (1, 700);
      pos += sg_data_reader_feed (&r, input + pos, MIN (chunk, len - pos));
    }
  out.done = r.state == SG_DATA_DONE;
  out.consumed = pos;
  out.size = r.size;
  out.line = r.line;
  out.bare_lf_line = r.bare_lf_line;
  out.bare_cr_line = r.bare_cr_line;
  out.content = sg_data_reader_steal (&r);
  sg_data_reader_clear (&r);
  return out;
}

static void
append_random_data (GString *s)
{
  static const char *const odd[] = { "\n", "\r", ".", "..", "\r\r\n", "\n.", ".\r\n",
                                     "\r\n.\r\n", "\r\n.", "\r\n..", ".\n", "\r.\r" };
  guint lines = (guint) g_test_rand_int_range (1, 120);
  for (guint i = 0; i < lines; i++)
    {
      guint n = (guint) g_test_rand_int_range (0, 200);
      for (guint k = 0; k < n; k++)
        {
          if (g_test_rand_int_range (0, 400) == 0)
            g_string_append (s, odd[g_test_rand_int_range (0, G_N_ELEMENTS (odd))]);
          else
            g_string_append_c (s, (char) g_test_rand_int_range ('A', 'z'));
        }
      if (g_test_rand_int_range (0, 6) == 0)
        g_string_append_c (s, '.');   /* a line starting with a dot, stuffed or not */
      g_string_append (s, "\r\n");
    }
}

static void
test_fast_path (void)
{
  for (guint iter = 0; iter < 1500; iter++)
    {
      g_autoptr(GString) s = g_string_new (NULL);
      append_random_data (s);
      if (g_test_rand_bit ())
        g_string_append (s, ".\r\nMAIL FROM:<a@b>\r\n");
      FeedResult want = feed_in_chunks (s->str, s->len, TRUE);
      FeedResult got = feed_in_chunks (s->str, s->len, FALSE);
      g_assert_cmpint (got.done, ==, want.done);
      g_assert_cmpuint (got.consumed, ==, want.consumed);
      g_assert_cmpuint (got.size, ==, want.size);
      g_assert_cmpuint (got.line, ==, want.line);
      g_assert_cmpuint (got.bare_lf_line, ==, want.bare_lf_line);
      g_assert_cmpuint (got.bare_cr_line, ==, want.bare_cr_line);
      g_assert_true (g_bytes_equal (got.content, want.content));
      g_bytes_unref (got.content);
      g_bytes_unref (want.content);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/smtp/data/cases", test_cases);
  g_test_add_func ("/smtp/data/fast-path", test_fast_path);
  g_test_add_func ("/smtp/data/size-cap", test_size_cap);
  g_test_add_func ("/smtp/data/spill/threshold", test_spill_threshold);
  g_test_add_func ("/smtp/data/spill/large", test_spill_large);
  g_test_add_func ("/smtp/data/spill/in-flight", test_spill_in_flight);
  g_test_add_func ("/smtp/data/spill/too-big", test_spill_too_big);
  return g_test_run ();
}
