/* test-abuse-memory.c - issue 13 defect 3 against the real server: message
 * bytes in memory are bounded ([limits] data_spill_size and
 * max_memory_in_flight), whatever clients do. 20 sessions parked after
 * 24 MB of DATA without a final dot, and 100 concurrent 10 MB messages,
 * keep the server's peak RSS (VmHWM) under 256 MB while a normal client is
 * served alongside; all 100 get 250 and are spooled byte for byte. Spilled
 * messages that are refused, abandoned or hit a full disk leave nothing in
 * tmp/. */
#include "harness.h"

#include <glib/gstdio.h>
#include <string.h>

#define RSS_LIMIT_KB      (256u * 1024u)
#define PARKED_SESSIONS   20u
#define PARKED_BYTES      (24u * 1000u * 1000u)
#define BIG_MESSAGES      100u
#define BIG_BYTES         (10u * 1000u * 1000u)
#define LINE_LEN          76u       /* content bytes per line, CRLF not counted */
#define SEND_CHUNK        (256u * 1024u)
#define WAIT_MS           30000u

static const char *const SMALL =
  "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\n"
  "From: Alice <alice@example.com>\r\n"
  "To: bob@example.org\r\n"
  "Subject: small\r\n"
  "Message-ID: <small@example.com>\r\n"
  "\r\n"
  "Hello.\r\n";

static const char *const CONFIG =
  "[limits]\nmax_connections_per_ip = 0\n[spool]\nmin_free = 0\n";

/* ---- deterministic messages, made and checked a piece at a time ---- */

/* Message n's content (unstuffed) is header(n), then body lines until size
 * bytes; every 997th line starts with a dot, so dot stuffing is crossed. */
typedef struct {
  guint   n;
  gsize   size;      /* content bytes */
  gsize   made;      /* content bytes produced so far */
  guint64 line;
  GString *pending;  /* content bytes made but not yet taken */
} Gen;

static void
gen_init (Gen *g, guint n, gsize size)
{
  memset (g, 0, sizeof *g);
  g->n = n;
  g->size = size;
  g->pending = g_string_sized_new (SEND_CHUNK + 256);
  g_string_printf (g->pending,
                   "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\n"
                   "From: Load <load@example.com>\r\n"
                   "To: bob@example.org\r\n"
                   "Subject: big %u\r\n"
                   "Message-ID: <big%u@example.com>\r\n"
                   "\r\n", n, n);
}

/* gen_line - append one more CRLF line, shortened so that the content
 * ends exactly at size on a line end. */
static void
gen_line (Gen *g)
{
  char line[LINE_LEN + 3];
  gsize rem = g->size - g->made - g->pending->len;
  gsize len = rem <= LINE_LEN + 2 ? rem - 2 : rem == LINE_LEN + 3 ? LINE_LEN - 1 : LINE_LEN;
  guint64 l = g->line++;
  int k = g_snprintf (line, sizeof line, "%s%05u %010" G_GUINT64_FORMAT " ",
                      l % 997 == 996 ? "." : "", g->n, l);
  for (guint i = (guint) k; i < LINE_LEN; i++)
    line[i] = (char) ('a' + (i + l + g->n) % 26);
  line[len] = '\r';
  line[len + 1] = '\n';
  g_string_append_len (g->pending, line, len + 2);
}

/* gen_take - the next content bytes (up to max), 0 at the end. */
static gsize
gen_take (Gen *g, GString *out, gsize max)
{
  gsize left = g->size - g->made;
  while (g->pending->len < MIN (max, left))
    gen_line (g);
  gsize n = MIN (max, left);
  g_string_append_len (out, g->pending->str, n);
  g_string_erase (g->pending, 0, n);
  g->made += n;
  return n;
}

static void
gen_clear (Gen *g)
{
  g_string_free (g->pending, TRUE);
}

/* stuff - content as it goes on the wire (RFC 5321 4.5.2); *bol carries
 * "at the start of a line" across pieces. */
static void
stuff (const GString *content, GString *wire, gboolean *bol)
{
  g_string_truncate (wire, 0);
  for (gsize i = 0; i < content->len; i++)
    {
      if (*bol && content->str[i] == '.')
        g_string_append_c (wire, '.');
      g_string_append_c (wire, content->str[i]);
      *bol = content->str[i] == '\n';
    }
}

/* ---- clients ---- */

/* open_data - a client at the 354 of a transaction (transfer full). */
static SgTestClient *
open_data (guint16 port)
{
  SgTestClient *c = sg_test_client_connect (port, NULL);
  g_autofree char *e = sg_test_client_command (c, "EHLO load.example");
  g_autofree char *m = sg_test_client_command (c, "MAIL FROM:<load@example.com>");
  g_autofree char *r = sg_test_client_command (c, "RCPT TO:<bob@example.org>");
  g_autofree char *d = sg_test_client_command (c, "DATA");
  g_assert_true (g_str_has_prefix (e, "250"));
  g_assert_true (g_str_has_prefix (m, "250 "));
  g_assert_true (g_str_has_prefix (r, "250 "));
  g_assert_true (g_str_has_prefix (d, "354 "));
  return c;
}

/* send_content - message n of size bytes, dot-stuffed, without the final dot. */
static void
send_content (SgTestClient *c, guint n, gsize size)
{
  Gen g;
  g_autoptr(GString) content = g_string_sized_new (SEND_CHUNK + 256);
  g_autoptr(GString) wire = g_string_sized_new (SEND_CHUNK * 2);
  gboolean bol = TRUE;

  gen_init (&g, n, size);
  for (;;)
    {
      g_string_truncate (content, 0);
      if (gen_take (&g, content, SEND_CHUNK) == 0)
        break;
      stuff (content, wire, &bol);
      sg_test_client_send (c, wire->str, wire->len);
    }
  gen_clear (&g);
}

/* small_transaction - a normal client's whole transaction; its final reply. */
static char *
small_transaction (guint16 port)
{
  SgTestClient *c = open_data (port);
  sg_test_client_send (c, SMALL, -1);
  sg_test_client_send (c, ".\r\n", 3);
  char *reply = sg_test_client_reply (c);
  g_autofree char *quit = sg_test_client_command (c, "QUIT");
  sg_test_client_free (c);
  return reply;
}

/* ---- the server ---- */

/* peak_rss_kb - the server's VmHWM. */
static guint64
peak_rss_kb (SgTestServer *s)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/status", g_subprocess_get_identifier (s->proc));
  g_autofree char *status = NULL;
  g_assert_true (g_file_get_contents (path, &status, NULL, NULL));
  const char *p = strstr (status, "VmHWM:");
  g_assert_nonnull (p);
  return g_ascii_strtoull (p + strlen ("VmHWM:"), NULL, 10);
}

static guint
dir_count (SgTestServer *s, const char *sub)
{
  g_autofree char *path = g_build_filename (s->spool, sub, NULL);
  g_autoptr(GDir) d = g_dir_open (path, 0, NULL);
  guint n = 0;
  while (d && g_dir_read_name (d))
    n++;
  return n;
}

static gboolean
tmp_empty (gpointer s)
{
  return dir_count (s, "tmp") == 0;
}

/* wait_tmp_empty - poll until tmp/ holds no file; FALSE after WAIT_MS. */
static gboolean
wait_tmp_empty (SgTestServer *s)
{
  return sg_test_wait_until (tmp_empty, s, WAIT_MS, "an empty tmp/ in %s", s->spool);
}

/* check_spooled - queue/<id>.eml is one Received header, then exactly
 * message n of size bytes. */
static void
check_spooled (SgTestServer *s, const char *id, guint n, gsize size)
{
  g_autofree char *path = g_strdup_printf ("%s/queue/%s.eml", s->spool, id);
  g_autofree char *eml = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (path, &eml, &len, NULL));
  g_assert_true (g_str_has_prefix (eml, "Received: "));
  const char *p = eml;
  do
    p = strstr (p, "\r\n") + 2;
  while (*p == '\t' || *p == ' ');
  gsize hlen = (gsize) (p - eml);
  Gen g;
  g_autoptr(GString) want = g_string_sized_new (size);
  gen_init (&g, n, size);
  while (gen_take (&g, want, SEND_CHUNK) > 0)
    ;
  gen_clear (&g);
  if (len - hlen != want->len || memcmp (p, want->str, want->len) != 0)
    g_error ("message %u (%s): spooled %" G_GSIZE_FORMAT " bytes after the header, sent %"
             G_GSIZE_FORMAT ", or they differ", n, id, len - hlen, want->len);
}

/* queued_id - the ID from "250 2.0.0 Ok: queued as ID" (transfer full). */
static char *
queued_id (const char *reply)
{
  const char *p = strstr (reply, "queued as ");
  g_assert_nonnull (p);
  p += strlen ("queued as ");
  gsize k = 0;
  while (g_ascii_isalnum (p[k]))
    k++;
  return g_strndup (p, k);
}

/* /abuse/memory/parked - 20 sessions stop after 24 MB of DATA and never
 * send the final dot: RSS stays low, a normal client is served, and once
 * they leave their files are gone from tmp/. */
static void
test_parked (void)
{
  SgTestServer s;
  SgTestClient *parked[PARKED_SESSIONS];

  sg_test_server_start (&s, CONFIG);
  for (guint i = 0; i < PARKED_SESSIONS; i++)
    {
      parked[i] = open_data (s.port);
      send_content (parked[i], i, PARKED_BYTES);
    }
  /* Each send returned once the server had read all but what the socket
   * buffers hold; a normal client is served while they all stay parked. */
  g_autofree char *reply = small_transaction (s.port);
  g_assert_true (g_str_has_prefix (reply, "250 2.0.0 "));
  guint64 hwm = peak_rss_kb (&s);
  g_test_message ("parked: %u x %u bytes without a final dot; server VmHWM %" G_GUINT64_FORMAT
                  " kB; tmp/ holds %u files", PARKED_SESSIONS, PARKED_BYTES, hwm, dir_count (&s, "tmp"));
  if (sg_test_spoolgate_sanitized ())
    g_test_message ("ASan build: RSS not checked");
  else
    g_assert_cmpuint (hwm, <, RSS_LIMIT_KB);
  g_assert_cmpuint (dir_count (&s, "tmp"), >=, PARKED_SESSIONS);
  for (guint i = 0; i < PARKED_SESSIONS; i++)
    sg_test_client_free (parked[i]);
  g_assert_true (wait_tmp_empty (&s));
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  sg_test_server_free (&s);
}

typedef struct {
  guint16 port;
  guint   n;
  char   *reply;
} BigJob;

static gpointer
big_sender (gpointer data)
{
  BigJob *job = data;
  SgTestClient *c = open_data (job->port);
  send_content (c, job->n, BIG_BYTES);
  sg_test_client_send (c, ".\r\n", 3);
  job->reply = sg_test_client_reply (c);
  g_autofree char *quit = sg_test_client_command (c, "QUIT");
  sg_test_client_free (c);
  return NULL;
}

/* /abuse/memory/concurrent - 100 clients send 10 MB each at once: all get
 * 250, every .eml is byte-exact, RSS stays under 256 MB, and a normal
 * client is served meanwhile. */
static void
test_concurrent (void)
{
  SgTestServer s;
  BigJob jobs[BIG_MESSAGES];
  GThread *threads[BIG_MESSAGES];

  sg_test_server_start (&s, CONFIG);
  gint64 start = g_get_monotonic_time ();
  for (guint i = 0; i < BIG_MESSAGES; i++)
    {
      jobs[i] = (BigJob) { .port = s.port, .n = i };
      threads[i] = g_thread_new ("big-sender", big_sender, &jobs[i]);
    }
  g_autofree char *reply = small_transaction (s.port);
  g_assert_true (g_str_has_prefix (reply, "250 2.0.0 "));
  for (guint i = 0; i < BIG_MESSAGES; i++)
    g_thread_join (threads[i]);
  gint64 elapsed = g_get_monotonic_time () - start;
  guint64 hwm = peak_rss_kb (&s);
  g_test_message ("concurrent: %u x %u bytes in %.1f s; server VmHWM %" G_GUINT64_FORMAT " kB",
                  BIG_MESSAGES, BIG_BYTES, elapsed / 1e6, hwm);
  for (guint i = 0; i < BIG_MESSAGES; i++)
    {
      if (jobs[i].reply == NULL || !g_str_has_prefix (jobs[i].reply, "250 2.0.0 "))
        g_error ("message %u: %s", i, jobs[i].reply ? jobs[i].reply : "(connection lost)");
      g_autofree char *id = queued_id (jobs[i].reply);
      check_spooled (&s, id, i, BIG_BYTES);
      g_free (jobs[i].reply);
    }
  if (sg_test_spoolgate_sanitized ())
    g_test_message ("ASan build: RSS not checked");
  else
    g_assert_cmpuint (hwm, <, RSS_LIMIT_KB);
  g_assert_true (wait_tmp_empty (&s));
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  sg_test_server_free (&s);
}

/* /abuse/memory/refused - a spilled message the validator refuses gets its
 * 550 and its tmp/ file is removed; a spilled message with a bare LF gets
 * 550 5.5.2 as ever, and likewise leaves nothing. */
static void
test_refused (void)
{
  SgTestServer s;
  sg_test_server_start (&s, CONFIG);

  /* No From: and no Date: a strict policy refuses it after the final dot. */
  SgTestClient *c = open_data (s.port);
  GString *bad = g_string_new ("Subject: no originator\r\n\r\n");
  while (bad->len < 3u << 20)
    g_string_append (bad, "0123456789012345678901234567890123456789012345678901234567890123456789\r\n");
  sg_test_client_send (c, bad->str, bad->len);
  sg_test_client_send (c, ".\r\n", 3);
  g_autofree char *r1 = sg_test_client_reply (c);
  g_assert_true (g_str_has_prefix (r1, "550 5."));
  g_assert_true (wait_tmp_empty (&s));

  /* A bare LF deep inside a spilled message: smuggling defence unchanged. */
  g_autofree char *d = sg_test_client_command (c, "RSET");
  sg_test_client_free (c);
  c = open_data (s.port);
  sg_test_client_send (c, SMALL, -1);
  sg_test_client_send (c, bad->str, bad->len);
  sg_test_client_send (c, "smuggled\n.\nMAIL FROM:<x@example.com>\r\n", -1);
  sg_test_client_send (c, ".\r\n", 3);
  g_autofree char *r2 = sg_test_client_reply (c);
  g_assert_true (g_str_has_prefix (r2, "550 5.5.2 "));
  g_assert_true (wait_tmp_empty (&s));
  sg_test_client_free (c);
  g_assert_cmpuint (dir_count (&s, "queue"), ==, 0);
  g_string_free (bad, TRUE);
  sg_test_server_free (&s);
}

/* /abuse/memory/kept-rejected - [validation] keep_rejected keeps a refused
 * message that arrived as a draft byte for byte (its body is lent from the
 * draft's mapping), and tmp/ is left empty. */
static void
test_kept_rejected (void)
{
  SgTestServer s;
  sg_test_server_start (&s, "[limits]\ndata_spill_size = 4096\n[validation]\nkeep_rejected = 100000000\n");
  SgTestClient *c = open_data (s.port);
  GString *bad = g_string_new ("Subject: no originator\r\n\r\n");
  while (bad->len < 300000)
    g_string_append (bad, "0123456789012345678901234567890123456789012345678901234567890123456789\r\n");
  sg_test_client_send (c, bad->str, bad->len);
  sg_test_client_send (c, ".\r\n", 3);
  g_autofree char *r = sg_test_client_reply (c);
  g_assert_true (g_str_has_prefix (r, "550 5."));
  sg_test_client_free (c);
  g_assert_true (wait_tmp_empty (&s));
  g_autofree char *dir = g_build_filename (s.spool, "rejected", NULL);
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  g_assert_nonnull (d);
  guint found = 0;
  for (const char *n; (n = g_dir_read_name (d)); )
    if (g_str_has_suffix (n, ".eml"))
      {
        g_autofree char *path = g_build_filename (dir, n, NULL);
        g_autofree char *eml = NULL;
        gsize len = 0;
        g_assert_true (g_file_get_contents (path, &eml, &len, NULL));
        g_assert_true (g_str_has_prefix (eml, "Received: "));
        g_assert_cmpuint (len, >, bad->len);
        g_assert_cmpmem (eml + len - bad->len, bad->len, bad->str, bad->len);
        found++;
      }
  g_assert_cmpuint (found, ==, 1);
  g_string_free (bad, TRUE);
  sg_test_server_free (&s);
}

/* /abuse/memory/disk-full - a message streamed to a spool on a 256 KiB
 * tmpfs: 452 4.3.1 during DATA's end, nothing partial left, and a small
 * message is accepted afterwards. */
static void
test_disk_full (void)
{
  SgTestServer s;
  sg_test_server_start (&s, "[limits]\ndata_spill_size = 4096\n[spool]\nmin_free = 0\n");
  if (!sg_test_server_small_spool (&s, "256k"))
    {
      sg_test_server_free (&s);
      return;
    }
  SgTestClient *c = open_data (s.port);
  send_content (c, 0, 1u << 20);
  sg_test_client_send (c, ".\r\n", 3);
  g_autofree char *r = sg_test_client_reply (c);
  g_assert_true (g_str_has_prefix (r, "452 4.3.1 "));
  sg_test_client_free (c);
  g_assert_true (wait_tmp_empty (&s));
  g_assert_cmpuint (dir_count (&s, "queue"), ==, 0);
  g_autofree char *again = small_transaction (s.port);
  g_assert_true (g_str_has_prefix (again, "250 2.0.0 "));
  sg_test_server_stop (&s);
  sg_test_server_free (&s);
}

/* lines - n body lines of 72 octets. */
static GString *
lines (guint n)
{
  GString *b = g_string_new (NULL);
  for (guint i = 0; i < n; i++)
    g_string_append (b, "0123456789012345678901234567890123456789012345678901234567890123456789\r\n");
  return b;
}

/* /abuse/memory/data-slots - with [limits] max_data_streams = 1, a client
 * that starts a large DATA and then goes quiet keeps its slot only while it
 * sends: a second large DATA, waiting for that slot, gets its 250 after the
 * quiet holder is sent to the back of the line (about a second, not the
 * holder's data_timeout), and the first then finishes too. A normal small
 * message is not held back meanwhile. */
static void
test_data_slots (void)
{
  SgTestServer s;
  sg_test_server_start (&s, "[limits]\nmax_connections_per_ip = 0\ndata_spill_size = 4096\n"
                        "max_data_streams = 1\ndata_timeout = 300\n[spool]\nmin_free = 0\n");
  g_autoptr(GString) body = lines (2000);          /* 144,000 octets */

  SgTestClient *a = open_data (s.port);
  sg_test_client_send (a, SMALL, -1);
  sg_test_client_send (a, body->str, body->len);  /* past data_spill_size: a holds the slot */

  SgTestClient *b = open_data (s.port);
  gint64 t0 = g_get_monotonic_time ();
  sg_test_client_send (b, SMALL, -1);
  sg_test_client_send (b, body->str, body->len);
  sg_test_client_send (b, ".\r\n", 3);
  g_autofree char *small = small_transaction (s.port);
  g_assert_true (g_str_has_prefix (small, "250 2.0.0 "));
  g_autofree char *rb = sg_test_client_reply (b);
  g_assert_true (g_str_has_prefix (rb, "250 2.0.0 "));
  /* loose: the idle check runs every 250 ms and judges a 1 s window */
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 20 * G_USEC_PER_SEC);

  sg_test_client_send (a, body->str, body->len);
  sg_test_client_send (a, ".\r\n", 3);
  g_autofree char *ra = sg_test_client_reply (a);
  g_assert_true (g_str_has_prefix (ra, "250 2.0.0 "));
  sg_test_client_free (a);
  sg_test_client_free (b);
  g_assert_cmpuint (dir_count (&s, "queue"), ==, 6);   /* 3 messages, .eml and .json */
  sg_test_server_free (&s);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/abuse/memory/refused", test_refused);
  g_test_add_func ("/abuse/memory/kept-rejected", test_kept_rejected);
  g_test_add_func ("/abuse/memory/disk-full", test_disk_full);
  g_test_add_func ("/abuse/memory/parked", test_parked);
  g_test_add_func ("/abuse/memory/concurrent", test_concurrent);
  g_test_add_func ("/abuse/memory/data-slots", test_data_slots);
  return g_test_run ();
}
