/* test-intake.c - the intake path end to end: the real `spoolgate serve` on
 * a loopback port, independent clients (Python's email + smtplib, swaks, raw
 * sockets), and the spool checked on disk byte for byte and against the
 * published JSON Schema. */
#include "harness.h"

#include <glib/gstdio.h>
#include <string.h>

/* message - a small valid message body with the given extra header lines. */
static const char *const GOOD =
  "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\n"
  "From: Alice <alice@example.com>\r\n"
  "To: bob@example.org\r\n"
  "Subject: test\r\n"
  "Message-ID: <t1@example.com>\r\n"
  "\r\n"
  "Hello.\r\n";

/* transaction - EHLO/MAIL/RCPT/DATA, send body and ".", return the final reply. */
static char *
transaction (guint16 port, const char *body, gsize len)
{
  SgTestClient *c = sg_test_client_connect (port, NULL);
  g_autofree char *r1 = sg_test_client_command (c, "EHLO client.example");
  g_autofree char *r2 = sg_test_client_command (c, "MAIL FROM:<alice@example.com>");
  g_autofree char *r3 = sg_test_client_command (c, "RCPT TO:<bob@example.org>");
  g_autofree char *r4 = sg_test_client_command (c, "DATA");
  g_assert_true (g_str_has_prefix (r2, "250 "));
  g_assert_true (g_str_has_prefix (r3, "250 "));
  g_assert_true (g_str_has_prefix (r4, "354 "));
  sg_test_client_send (c, body, len);
  sg_test_client_send (c, ".\r\n", 3);
  char *reply = sg_test_client_reply (c);
  g_autofree char *quit = sg_test_client_command (c, "QUIT");
  g_assert_true (g_str_has_prefix (quit, "221 "));
  sg_test_client_free (c);
  return reply;
}

/* queued_id - the ID from "250 2.0.0 Ok: queued as ID" (transfer full). */
static char *
queued_id (const char *reply)
{
  const char *p = strstr (reply, "queued as ");
  g_assert_nonnull (p);
  p += strlen ("queued as ");
  gsize n = 0;
  while (g_ascii_isalnum (p[n]))
    n++;
  return g_strndup (p, n);
}

/* check_spooled - .eml is our Received header + exactly the sent bytes, and
 * the .json validates against the schema. */
static void
check_spooled (SgTestServer *s, const char *id, const char *sent, gsize sent_len)
{
  g_autofree char *eml_path = g_strdup_printf ("%s/queue/%s.eml", s->spool, id);
  g_autofree char *json_path = g_strdup_printf ("%s/queue/%s.json", s->spool, id);
  g_autofree char *eml = NULL;
  gsize eml_len = 0;
  g_assert_true (g_file_get_contents (eml_path, &eml, &eml_len, NULL));
  g_assert_true (g_str_has_prefix (eml, "Received: from client.example ([127.0.0.1])\r\n"));
  /* the Received header ends at the first CRLF not followed by a tab */
  const char *p = eml;
  for (;;)
    {
      p = strstr (p, "\r\n");
      g_assert_nonnull (p);
      p += 2;
      if (*p != '\t')
        break;
    }
  g_assert_nonnull (strstr (eml, id));
  g_assert_cmpmem (p, eml_len - (p - eml), sent, sent_len);

  sg_test_assert_schema ("spool-metadata.schema.json", (const char *const[]) { json_path, NULL });
  g_autofree char *json = NULL;
  g_assert_true (g_file_get_contents (json_path, &json, NULL, NULL));
  g_autofree char *idfield = g_strdup_printf ("\"queue_id\" : \"%s\"", id);
  if (!strstr (json, idfield))
    {
      /* json-glib pretty-prints as "key" : value */
      g_error ("%s lacks %s:\n%s", json_path, idfield, json);
    }
}

static void
test_accept_python (void)
{
  static const char *const kinds[] = { "attachment", "plain", "nested", "international" };
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  g_autofree char *port = g_strdup_printf ("%u", s.port);
  for (guint i = 0; i < G_N_ELEMENTS (kinds); i++)
    {
      g_autofree char *file = g_build_filename (s.dir, kinds[i], NULL);
      const char *gen[] = { "gen", kinds[i], file, NULL };
      g_assert_cmpint (sg_test_python ("smtp_client.py", gen, NULL, NULL), ==, 0);
      const char *send[] = { "send", port, file, "--to", "bob@example.org", NULL };
      g_autofree char *out = NULL;
      g_assert_cmpint (sg_test_python ("smtp_client.py", send, &out, NULL), ==, 0);
      if (!strstr (out, "\"code\": 250"))
        {
          g_autofree char *log = sg_test_server_log (&s);
          g_error ("%s message not accepted: %s\nlog:\n%s", kinds[i], out, log);
        }
      g_autofree char *id = queued_id (out);
      g_autofree char *sent = NULL;
      gsize sent_len;
      g_assert_true (g_file_get_contents (file, &sent, &sent_len, NULL));
      check_spooled (&s, id, sent, sent_len);
    }
  g_autoptr(GPtrArray) ids = sg_test_spool_ids (&s);
  g_assert_cmpuint (ids->len, ==, G_N_ELEMENTS (kinds));
  g_autofree char *log = sg_test_server_log (&s);
  g_assert_nonnull (strstr (log, ": from=<alice@example.com>, size="));
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  sg_test_server_free (&s);
}

static void
test_accept_swaks (void)
{
  if (!g_file_test ("/usr/bin/swaks", G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("swaks is not installed (apt-get install swaks)");
      return;
    }
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  g_autofree char *port = g_strdup_printf ("%u", s.port);
  const char *argv[] = { "/usr/bin/swaks", "--server", "127.0.0.1", "--port", port,
                         "--from", "carol@example.com", "--to", "dave@example.org",
                         "--helo", "swaks.example", "--header", "Subject: via swaks",
                         "--body", "hello from swaks", "--pipeline", NULL };
  g_autofree char *out = NULL, *err = NULL;
  int rc = sg_test_run (argv, &out, &err);
  if (rc != 0)
    g_error ("swaks failed (%d):\n%s\n%s", rc, out, err);
  g_assert_nonnull (strstr (out, "<-  250 2.0.0 Ok: queued as "));
  g_autoptr(GPtrArray) ids = sg_test_spool_ids (&s);
  g_assert_cmpuint (ids->len, ==, 1);
  sg_test_server_free (&s);
}

static void
test_pipelining (void)
{
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  SgTestClient *c = sg_test_client_connect (s.port, NULL);
  g_autofree char *ehlo = sg_test_client_command (c, "EHLO client.example");
  g_assert_nonnull (strstr (ehlo, "250-PIPELINING"));
  g_assert_nonnull (strstr (ehlo, "250-SIZE "));
  g_assert_nonnull (strstr (ehlo, "250-8BITMIME"));
  g_assert_nonnull (strstr (ehlo, "ENHANCEDSTATUSCODES"));
  /* one write: MAIL, RCPT, DATA; then the content and QUIT in one more */
  sg_test_client_send (c, "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n", -1);
  g_autofree char *r1 = sg_test_client_reply (c);
  g_autofree char *r2 = sg_test_client_reply (c);
  g_autofree char *r3 = sg_test_client_reply (c);
  g_assert_true (g_str_has_prefix (r1, "250 2.1.0"));
  g_assert_true (g_str_has_prefix (r2, "250 2.1.5"));
  g_assert_true (g_str_has_prefix (r3, "354 "));
  g_autofree char *all = g_strconcat (GOOD, ".\r\nQUIT\r\n", NULL);
  sg_test_client_send (c, all, -1);
  g_autofree char *r4 = sg_test_client_reply (c);
  g_autofree char *r5 = sg_test_client_reply (c);
  g_assert_true (g_str_has_prefix (r4, "250 2.0.0 Ok: queued as "));
  g_assert_true (g_str_has_prefix (r5, "221 2.0.0"));
  sg_test_client_free (c);
  g_autofree char *id = queued_id (r4);
  check_spooled (&s, id, GOOD, strlen (GOOD));
  sg_test_server_free (&s);
}

typedef struct {
  const char *name;
  const char *body;
  gssize      len;         /* -1: strlen */
  const char *want;        /* reply prefix */
  const char *mention;     /* (nullable) text the reply must contain */
} RejectCase;

#define NUL_BODY "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\nFrom: a@example.com\r\n\r\nx\0y\r\n"

static const RejectCase reject_cases[] = {
  { "no-date", "From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n", -1, "550 5.6.0 Message rejected: ", "Date" },
  { "two-dates", "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\nDate: Sat, 21 Nov 2026 10:00:00 +0000\r\nFrom: a@example.com\r\n\r\nx\r\n", -1, "550 5.6.0 Message rejected: ", "Date" },
  { "no-from", "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\nSubject: x\r\n\r\nbody\r\n", -1, "550 5.6.0 Message rejected: ", "From" },
  { "two-froms", "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\nFrom: a@example.com\r\nFrom: b@example.com\r\n\r\nx\r\n", -1, "550 5.6.0 Message rejected: ", "From" },
  { "nul", NUL_BODY, sizeof NUL_BODY - 1, "550 5.6.", "NUL" },
  { "invalid-header-name", "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\nFrom: a@example.com\r\nBad Header: x\r\n\r\nx\r\n", -1, "550 5.6.0 Message rejected: ", NULL },
  { "multipart-no-boundary", "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\nFrom: a@example.com\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n\r\n--x\r\n\r\nx\r\n--x--\r\n", -1, "550 5.6.0 Message rejected: ", "boundary" },
  { "bare-lf", "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\nFrom: a@example.com\r\n\r\nline\nother\r\n", -1, "550 5.5.2 Message rejected: bare LF at line 4", NULL },
  { "bare-cr", "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\nFrom: a@example.com\r\n\r\nline\rother\r\n", -1, "550 5.5.2 Message rejected: bare CR at line 4", NULL },
};

static void
test_reject (gconstpointer data)
{
  const RejectCase *rc = data;
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  gsize len = rc->len < 0 ? strlen (rc->body) : (gsize) rc->len;
  g_autofree char *reply = transaction (s.port, rc->body, len);
  if (!g_str_has_prefix (reply, rc->want) || (rc->mention && !strstr (reply, rc->mention)))
    g_error ("%s: got \"%s\", want \"%s...\" mentioning %s", rc->name, reply, rc->want,
             rc->mention ? rc->mention : "-");
  g_autoptr(GPtrArray) files = sg_test_spool_files (&s);
  g_assert_cmpuint (files->len, ==, 0);
  /* and the server goes on serving */
  g_autofree char *ok = transaction (s.port, GOOD, strlen (GOOD));
  g_assert_true (g_str_has_prefix (ok, "250 2.0.0 "));
  g_autofree char *log = sg_test_server_log (&s);
  /* smtpd's line: content verdicts at END-OF-MESSAGE, framing faults at DATA */
  gboolean content = strstr (log, "/smtpd[") != NULL
                     && strstr (log, ": reject: END-OF-MESSAGE from unknown[127.0.0.1]: 55") != NULL;
  gboolean framing = strstr (log, "/smtpd[") != NULL
                     && strstr (log, ": reject: DATA from unknown[127.0.0.1]: 55") != NULL;
  g_assert_true (content || framing);
  g_assert_nonnull (strstr (log, "; from=<alice@example.com> to=<bob@example.org> proto=ESMTP helo=<client.example> rule="));
  sg_test_server_free (&s);
}

static void
test_reject_long_line (void)
{
  GString *body = g_string_new ("Date: Sat, 21 Nov 2026 10:00:00 +0000\r\nFrom: a@example.com\r\n\r\n");
  for (int i = 0; i < 1200; i++)
    g_string_append_c (body, 'x');
  g_string_append (body, "\r\n");
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  g_autofree char *reply = transaction (s.port, body->str, body->len);
  g_assert_true (g_str_has_prefix (reply, "550 5.6.0 Message rejected: "));
  g_assert_nonnull (strstr (reply, "998"));
  g_autoptr(GPtrArray) files = sg_test_spool_files (&s);
  g_assert_cmpuint (files->len, ==, 0);
  g_string_free (body, TRUE);
  sg_test_server_free (&s);
}

static void
test_reject_size (void)
{
  SgTestServer s;
  sg_test_server_start (&s, "[limits]\nmax_message_size = 2048\n");
  GString *body = g_string_new (GOOD);
  while (body->len < 4096)
    g_string_append (body, "0123456789012345678901234567890123456789\r\n");
  g_autofree char *reply = transaction (s.port, body->str, body->len);
  g_assert_true (g_str_has_prefix (reply, "552 5.3.4 "));
  g_autoptr(GPtrArray) files = sg_test_spool_files (&s);
  g_assert_cmpuint (files->len, ==, 0);
  SgTestClient *c = sg_test_client_connect (s.port, NULL);
  g_autofree char *e = sg_test_client_command (c, "EHLO client.example");
  g_assert_nonnull (strstr (e, "250-SIZE 2048"));
  g_autofree char *m = sg_test_client_command (c, "MAIL FROM:<a@example.com> SIZE=4096");
  g_assert_true (g_str_has_prefix (m, "552 5.3.4 "));
  sg_test_client_free (c);
  g_string_free (body, TRUE);
  sg_test_server_free (&s);
}

static void
test_smuggling (void)
{
  /* every known malformed end-of-data sequence, then NUL variants of the
   * real one; each is followed by a smuggled second transaction */
  static const struct { const char *seq; gsize len; } ends[] = {
    { "\n.\n", 3 }, { "\n.\r\n", 4 }, { "\r.\r", 3 }, { "\r.\r\n", 4 },
    { "\r\n.\n", 4 }, { "\r\n.\r", 4 }, { "\n.\r", 3 }, { "\r.\n", 3 },
    { "\r\n\0.\r\n", 6 }, { "\r\n.\0\r\n", 6 }, { "\n\0.\n", 4 }, { "\r\n.\r\0\n", 6 },
  };
  static const char smuggled[] = "MAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\n";
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (ends); i++)
    {
      GString *body = g_string_new (GOOD);
      g_string_append_c (body, 'x');
      g_string_append_len (body, ends[i].seq, ends[i].len);
      g_string_append (body, smuggled);
      g_string_append (body, GOOD);
      g_autofree char *reply = transaction (s.port, body->str, body->len);
      gboolean nul = memchr (ends[i].seq, '\0', ends[i].len) != NULL;
      /* bare CR/LF: 550 5.5.2 from the SMTP layer; NUL: 550 from the validator */
      if (!g_str_has_prefix (reply, nul ? "550 5." : "550 5.5.2 Message rejected: bare "))
        g_error ("end sequence %u: got \"%s\"", i, reply);
      g_string_free (body, TRUE);
    }
  g_autoptr(GPtrArray) files = sg_test_spool_files (&s);
  g_assert_cmpuint (files->len, ==, 0);
  g_autofree char *log = sg_test_server_log (&s);
  g_assert_null (strstr (log, "from=<evil@example.com>"));
  sg_test_server_free (&s);
}

static void
test_restart_keeps_spool (void)
{
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  g_autofree char *r = transaction (s.port, GOOD, strlen (GOOD));
  g_autofree char *id = queued_id (r);
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  /* leftovers of an unfinished write, as a crash would leave them */
  g_autofree char *tmpfile = g_build_filename (s.spool, "tmp", "partial.eml", NULL);
  g_assert_true (g_file_set_contents (tmpfile, "half a message", -1, NULL));
  g_autofree char *orphan = g_build_filename (s.spool, "queue", "1K0000000000000ORPHN.eml", NULL);
  g_assert_true (g_file_set_contents (orphan, "no metadata", -1, NULL));
  sg_test_server_restart (&s);
  g_autoptr(GPtrArray) ids = sg_test_spool_ids (&s);
  g_assert_cmpuint (ids->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (ids, 0), ==, id);
  check_spooled (&s, id, GOOD, strlen (GOOD));
  g_assert_false (g_file_test (tmpfile, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (orphan, G_FILE_TEST_EXISTS));
  g_autofree char *r2 = transaction (s.port, GOOD, strlen (GOOD));
  g_assert_true (g_str_has_prefix (r2, "250 "));
  g_autofree char *log = sg_test_server_log (&s);
  g_assert_nonnull (strstr (log, ": 1 message (queued 1); "));
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  sg_test_server_free (&s);
}

static void
test_dkim_fidelity (void)
{
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  g_autofree char *port = g_strdup_printf ("%u", s.port);
  g_autofree char *plain = g_build_filename (s.dir, "plain.eml", NULL);
  g_autofree char *signed_ = g_build_filename (s.dir, "signed.eml", NULL);
  const char *gen[] = { "gen", "attachment", plain, NULL };
  const char *keygen[] = { "keygen", s.dir, NULL };
  const char *sign[] = { "sign", s.dir, plain, signed_, NULL };
  g_assert_cmpint (sg_test_python ("smtp_client.py", gen, NULL, NULL), ==, 0);
  g_assert_cmpint (sg_test_python ("dkim_tool.py", keygen, NULL, NULL), ==, 0);
  g_assert_cmpint (sg_test_python ("dkim_tool.py", sign, NULL, NULL), ==, 0);
  const char *verify_sent[] = { "verify", s.dir, signed_, NULL };
  g_assert_cmpint (sg_test_python ("dkim_tool.py", verify_sent, NULL, NULL), ==, 0);

  const char *send[] = { "send", port, signed_, NULL };
  g_autofree char *out = NULL;
  g_assert_cmpint (sg_test_python ("smtp_client.py", send, &out, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "\"code\": 250"));
  g_autofree char *id = queued_id (out);
  g_autofree char *eml = g_strdup_printf ("%s/queue/%s.eml", s.spool, id);
  /* the spooled file, our Received header included, still verifies */
  const char *verify[] = { "verify", s.dir, eml, NULL };
  g_autofree char *vout = NULL;
  g_assert_cmpint (sg_test_python ("dkim_tool.py", verify, &vout, NULL), ==, 0);
  g_assert_cmpstr (vout, ==, "pass\n");
  /* and the check can fail: one changed body byte breaks it */
  g_autofree char *data = NULL;
  gsize len;
  g_assert_true (g_file_get_contents (eml, &data, &len, NULL));
  data[len - 3] ^= 1;
  g_autofree char *tampered = g_build_filename (s.dir, "tampered.eml", NULL);
  g_assert_true (g_file_set_contents (tampered, data, len, NULL));
  const char *verify_bad[] = { "verify", s.dir, tampered, NULL };
  g_autofree char *bad_out = NULL;
  g_assert_cmpint (sg_test_python ("dkim_tool.py", verify_bad, &bad_out, NULL), !=, 0);
  g_assert_cmpstr (bad_out, ==, "fail\n");
  sg_test_server_free (&s);
}

/* test_disk_full - a spool on a 256 KiB tmpfs: once it is full every
 * message gets 452 4.3.1 (never 250), nothing half-written is visible, the
 * server keeps serving, and mail is accepted again once space is freed. */
static void
test_disk_full (void)
{
  SgTestServer s;
  /* min_free = 0: exercise the write failure itself, not the early check */
  sg_test_server_start (&s, "[spool]\nmin_free = 0\n");
  if (!sg_test_server_small_spool (&s, "256k"))
    {
      sg_test_server_free (&s);
      return;
    }
  GString *big = g_string_new (GOOD);
  while (big->len < 40 * 1024)
    g_string_append (big, "0123456789012345678901234567890123456789012345678901234567890123456789\r\n");
  guint accepted = 0, full = 0;
  for (int i = 0; i < 12; i++)
    {
      g_autofree char *r = transaction (s.port, big->str, big->len);
      if (g_str_has_prefix (r, "250 2.0.0 "))
        accepted++;
      else if (g_str_has_prefix (r, "452 4.3.1 "))
        full++;
      else
        g_error ("message %d on a full disk: got \"%s\"", i, r);
    }
  g_assert_cmpuint (accepted, >, 0);
  g_assert_cmpuint (full, >, 0);
  /* every acknowledged message is complete; no stray partial files */
  g_autoptr(GPtrArray) files = sg_test_spool_files (&s);
  g_autoptr(GPtrArray) ids = sg_test_spool_ids (&s);
  g_assert_cmpuint (ids->len, ==, accepted);
  g_assert_cmpuint (files->len, ==, 2 * accepted);
  /* still serving; after freeing space, accepting again */
  SgTestClient *c = sg_test_client_connect (s.port, NULL);
  g_autofree char *noop = sg_test_client_command (c, "NOOP");
  g_assert_true (g_str_has_prefix (noop, "250 "));
  sg_test_client_free (c);
  for (guint i = 0; i < ids->len; i++)
    for (const char *const *ext = (const char *const[]) { ".json", ".eml", NULL }; *ext; ext++)
      {
        g_autofree char *f = g_strdup_printf ("%s/queue/%s%s", s.spool, (char *) g_ptr_array_index (ids, i), *ext);
        g_unlink (f);
      }
  g_autofree char *again = transaction (s.port, GOOD, strlen (GOOD));
  g_assert_true (g_str_has_prefix (again, "250 2.0.0 "));
  g_autofree char *log = sg_test_server_log (&s);
  g_assert_nonnull (strstr (log, "spool commit failed"));
  sg_test_server_stop (&s);
  g_string_free (big, TRUE);
  sg_test_server_free (&s);
}

/* acked_over_100 - load_client.py has recorded more than 100 queue IDs. */
static gboolean
acked_over_100 (gpointer acked)
{
  g_autofree char *text = sg_test_read_file (acked, NULL);
  return strlen (text) > 21 * 100;
}

/* test_kill9_under_load - SIGKILL while 8 clients send as fast as they can:
 * after a restart every message that got 250 is there, complete (size and
 * SHA-256 match its metadata), and no half-written message is visible. */
static void
test_kill9_under_load (gconstpointer data)
{
  const char *method = data;
  g_autofree char *conf = g_strdup_printf ("[spool]\nsync_method = %s\n", method);
  SgTestServer s;
  sg_test_server_start (&s, conf);
  /* the method took effect, and the log says whether the spool suits it */
  g_autofree char *start_log = sg_test_server_log (&s);
  g_autofree char *said = g_strdup_printf ("spool: sync_method=%s: ", method);
  g_assert_nonnull (strstr (start_log, said));
  g_autofree char *acked = g_build_filename (s.dir, "acked.txt", NULL);
  g_autofree char *port = g_strdup_printf ("%u", s.port);
  g_autofree char *script = g_test_build_filename (G_TEST_DIST, "tools", "load_client.py", NULL);
  const char *argv[] = { sg_test_python_bin (), script, port, "20", "8", acked, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) load = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_NONE, &error);
  g_assert_no_error (error);
  /* let it run until a good number of messages are acknowledged (one
   * "ID\n" line of 21 bytes each) */
  g_assert_true (sg_test_wait_until (acked_over_100, acked, SG_TEST_WAIT_MS,
                                     "100 acknowledged messages in %s", acked));
  sg_test_server_kill (&s);
  g_subprocess_wait (load, NULL, NULL);
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (acked, &text, NULL, NULL));
  g_auto(GStrv) ids = g_strsplit (g_strstrip (text), "\n", -1);
  guint n = g_strv_length (ids);
  g_assert_cmpuint (n, >=, 50);

  sg_test_server_restart (&s);
  g_autoptr(GPtrArray) files = sg_test_spool_files (&s);
  g_autoptr(GPtrArray) present = sg_test_spool_ids (&s);
  /* nothing half-written: every file is one of a complete pair */
  g_assert_cmpuint (files->len, ==, 2 * present->len);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *json_path = g_strdup_printf ("%s/queue/%s.json", s.spool, ids[i]);
      g_autofree char *eml_path = g_strdup_printf ("%s/queue/%s.eml", s.spool, ids[i]);
      g_autofree char *json = NULL, *eml = NULL;
      gsize eml_len = 0;
      if (!g_file_get_contents (json_path, &json, NULL, NULL)
          || !g_file_get_contents (eml_path, &eml, &eml_len, NULL))
        g_error ("message %s got 250 but is gone after kill -9", ids[i]);
      g_autofree char *sum = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) eml, eml_len);
      g_autofree char *want_sum = g_strdup_printf ("\"sha256\" : \"%s\"", sum);
      g_autofree char *want_size = g_strdup_printf ("\"message_size\" : %" G_GSIZE_FORMAT, eml_len);
      g_assert_nonnull (strstr (json, want_sum));
      g_assert_nonnull (strstr (json, want_size));
    }
  g_test_message ("%s: %u acknowledged before kill -9, all present; %u in the spool", method, n,
                  present->len);
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  sg_test_server_free (&s);
}

static void
test_bad_config (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sg-it-XXXXXX", NULL);
  g_autofree char *conf = g_build_filename (dir, "bad.conf", NULL);
  g_assert_true (g_file_set_contents (conf, "[limits]\nmax_recipients = many\n", -1, NULL));
  const char *argv[] = { sg_test_spoolgate (), "serve", "--config", conf, NULL };
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (sg_test_run (argv, &out, &err), ==, 2);
  g_assert_nonnull (strstr (err, conf));
  g_assert_nonnull (strstr (err, "[limits] max_recipients"));
  g_unlink (conf);
  g_rmdir (dir);
  const char *help[] = { sg_test_spoolgate (), "help", NULL };
  g_autofree char *hout = NULL;
  g_assert_cmpint (sg_test_run (help, &hout, NULL), ==, 0);
  g_assert_nonnull (strstr (hout, "serve"));
  const char *bogus[] = { sg_test_spoolgate (), "bogus", NULL };
  g_autofree char *berr = NULL;
  g_assert_cmpint (sg_test_run (bogus, NULL, &berr), ==, 2);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/intake/accept/python-email", test_accept_python);
  g_test_add_func ("/intake/accept/swaks", test_accept_swaks);
  g_test_add_func ("/intake/pipelining", test_pipelining);
  for (guint i = 0; i < G_N_ELEMENTS (reject_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/intake/reject/%s", reject_cases[i].name);
      g_test_add_data_func (path, &reject_cases[i], test_reject);
    }
  g_test_add_func ("/intake/reject/long-line", test_reject_long_line);
  g_test_add_func ("/intake/reject/size", test_reject_size);
  g_test_add_func ("/intake/reject/smuggling", test_smuggling);
  g_test_add_func ("/intake/restart", test_restart_keeps_spool);
  g_test_add_func ("/intake/accept/dkim-fidelity", test_dkim_fidelity);
  g_test_add_func ("/intake/disk-full", test_disk_full);
  /* the crash test with each [spool] sync_method */
  g_test_add_data_func ("/intake/kill9-under-load/fdatasync", "fdatasync", test_kill9_under_load);
  g_test_add_data_func ("/intake/kill9-under-load/syncfs", "syncfs", test_kill9_under_load);
  g_test_add_func ("/cli/serve/bad-config", test_bad_config);
  return g_test_run ();
}
