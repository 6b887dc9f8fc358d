/* test-milter-abuse.c - issue 21: a milter is a peer like any other. The
 * real binary against tests/tools/hostile_milter.py, which speaks the raw
 * milter protocol and misbehaves at the end of the message: a flood of
 * empty edits, a flood of one-byte header adds past max_message_size,
 * progress packets for ever, silence. Each message must get its
 * default_action within its own deadline, memory must stay bounded (not
 * checked under ASan, whose shadow memory says nothing about our bounds),
 * and a message validation refuses is answered while milters stall. */
#include "harness.h"

#include <string.h>

#define RSS_LIMIT_KB   (128u * 1024u)   /* the flood reproductions took 267 and 807 MB */
#define TEMPFAIL       "451 4.7.1 Service unavailable - try again later"

typedef struct {
  char        *dir;
  char        *out;     /* its stdout: "eom N" per end of message */
  guint16      port;
  GSubprocess *proc;
} Hostile;

static void
hostile_start (Hostile *h, const char *mode, guint count)
{
  h->dir = g_dir_make_tmp ("sg-hostile-milter-XXXXXX", NULL);
  g_autofree char *portfile = g_build_filename (h->dir, "port", NULL);
  h->out = g_build_filename (h->dir, "stdout", NULL);
  g_autofree char *n = g_strdup_printf ("%u", count);
  const char *args[] = { mode, portfile, n, NULL };
  h->proc = sg_test_tool_server ("hostile_milter.py", args, portfile, h->out, &h->port);
}

static void
hostile_stop (Hostile *h)
{
  sg_test_stop_process (h->proc);
  const char *rm[] = { "rm", "-rf", h->dir, NULL };
  sg_test_run (rm, NULL, NULL);
  g_free (h->dir);
  g_free (h->out);
}

/* server_config - [milter] servers = the hostile milter, plus extra lines
 * for [milter], after limits lines (transfer full). */
static char *
server_config (const Hostile *h, const char *limits, const char *extra)
{
  return g_strdup_printf ("[server]\nhostname = mx.test\n%s[milter]\nservers = inet:127.0.0.1:%u\n%s",
                          limits ? limits : "", h->port, extra ? extra : "");
}

/* message - a small valid message; without Date when dated is FALSE, which
 * validation refuses (transfer full). */
static char *
message (guint n, gboolean dated)
{
  return g_strdup_printf ("From: <a@example.com>\r\nTo: <b@example.net>\r\nSubject: %u\r\n%s"
                          "Message-ID: <abuse.%u.%" G_GINT64_FORMAT "@example.com>\r\n\r\nBody.\r\n",
                          n, dated ? "Date: Tue, 01 Dec 2026 12:00:00 +0000\r\n" : "", n,
                          g_get_real_time ());
}

/* start_message - a client that has sent a whole message and its final
 * dot; its reply is still to be read (transfer full). */
static SgTestClient *
start_message (guint16 port, const char *data)
{
  SgTestClient *c = sg_test_client_connect (port, NULL);
  const char *cmds[] = { "EHLO client.example", "MAIL FROM:<a@example.com>", "RCPT TO:<b@example.net>", "DATA" };
  for (guint i = 0; i < G_N_ELEMENTS (cmds); i++)
    {
      g_autofree char *r = sg_test_client_command (c, cmds[i]);
      g_assert_true (g_str_has_prefix (r, i == 3 ? "354 " : "250"));
    }
  sg_test_client_send (c, data, -1);
  sg_test_client_send (c, ".\r\n", 3);
  return c;
}

/* transact - one message; its final reply (transfer full). */
static char *
transact (guint16 port, const char *data)
{
  SgTestClient *c = start_message (port, data);
  char *reply = sg_test_client_reply (c);
  sg_test_client_free (c);
  g_assert_nonnull (reply);
  return reply;
}

/* answered - whether the server has written anything to c yet. */
static gboolean
answered (SgTestClient *c)
{
  GSocket *s = g_socket_connection_get_socket (c->conn);
  return c->buf->len > 0 || (g_socket_condition_check (s, G_IO_IN) & G_IO_IN) != 0;
}

static guint64
status_kb (SgTestServer *s, const char *field)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/status", g_subprocess_get_identifier (s->proc));
  g_autofree char *status = NULL;
  g_assert_true (g_file_get_contents (path, &status, NULL, NULL));
  const char *p = strstr (status, field);
  g_assert_nonnull (p);
  return g_ascii_strtoull (p + strlen (field), NULL, 10);
}

/* check_rss - the server's peak RSS stayed under RSS_LIMIT_KB. */
static void
check_rss (SgTestServer *s)
{
  guint64 hwm = status_kb (s, "VmHWM:"), rss = status_kb (s, "VmRSS:");
  g_test_message ("server RSS peak %" G_GUINT64_FORMAT " kB, now %" G_GUINT64_FORMAT " kB", hwm, rss);
  if (sg_test_spoolgate_sanitized ())
    g_test_message ("ASan build: RSS not checked");
  else
    g_assert_cmpuint (hwm, <, RSS_LIMIT_KB);
}

/* log_lines - lines of the server log that name id. */
static guint
log_lines (SgTestServer *s, const char *id)
{
  g_autofree char *log = sg_test_server_log (s);
  g_auto(GStrv) lines = g_strsplit (log, "\n", -1);
  guint n = 0;
  for (guint i = 0; lines[i]; i++)
    n += strstr (lines[i], id) != NULL;
  return n;
}

/* queue_id_of - the queue ID the server logged for the milter's refusal (transfer full). */
static char *
queue_id_of (SgTestServer *s, const char *needle)
{
  g_autofree char *log = sg_test_server_log (s);
  const char *p = strstr (log, needle);
  g_assert_nonnull (p);
  const char *bol = p;
  while (bol > log && bol[-1] != '\n')
    bol--;
  const char *id = strstr (bol, ": milter ");
  g_assert_nonnull (id);
  /* the line is "... ID: milter ...": the ID is the word before */
  const char *start = id;
  while (start > bol && start[-1] != ' ')
    start--;
  return g_strndup (start, (gsize) (id - start));
}

/* A milter that answers the end of the message with 1,000,000 empty edits
 * (ADDHEADER without name or value, REPLBODY without bytes, in turn): cut
 * off at [milter] max_edits with default_action, logged once with the
 * count, in bounded memory. At 5973853 each was free, kept and logged:
 * 250, a million log lines, hundreds of MB. */
static void
test_empty_edit_flood (void)
{
  Hostile h;
  hostile_start (&h, "empty-edits", 1000000);
  g_autofree char *cfg = server_config (&h, NULL, "default_action = tempfail\n");
  SgTestServer s;
  sg_test_server_start (&s, cfg);
  g_autofree char *msg = message (1, TRUE);
  g_autofree char *reply = transact (s.port, msg);
  g_assert_cmpstr (reply, ==, TEMPFAIL);
  g_assert_true (sg_test_wait_log (&s, "more than 1000 edits ([milter] max_edits) at END-OF-MESSAGE", 1, 5000));
  g_autofree char *id = queue_id_of (&s, "more than 1000 edits");
  guint lines = log_lines (&s, id);
  g_test_message ("%u log lines for %s", lines, id);
  g_assert_cmpuint (lines, <, 20);
  check_rss (&s);
  g_autoptr(GPtrArray) spooled = sg_test_spool_ids (&s);
  g_assert_cmpuint (spooled->len, ==, 0);
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  sg_test_server_free (&s);
  hostile_stop (&h);
}

/* 1,900,000 header adds of "X" with an empty value: 1.9 MB as name plus
 * value, 9.5 MB written as "X: " CRLF, with max_message_size = 2000000.
 * Cut off at max_edits; with max_edits out of the way, once their cost
 * passes the size limit. default_action either way, and with
 * default_action = accept the message is spooled without them, no larger
 * than max_message_size. At 5973853: 250 and a 9.5 MB file. */
static void
test_add_flood_past_size (void)
{
  static const struct { const char *extra, *reply, *log; } cases[] = {
    { "default_action = tempfail\n", TEMPFAIL, "more than 1000 edits ([milter] max_edits)" },
    { "default_action = tempfail\nmax_edits = 1000000\n", TEMPFAIL,
      "larger than 2000000 bytes ([limits] max_message_size) at END-OF-MESSAGE" },
    { "default_action = accept\nmax_edits = 1000000\n", "250 2.0.0 Ok: queued as ",
      "larger than 2000000 bytes ([limits] max_message_size) at END-OF-MESSAGE" },
  };
  Hostile h;
  hostile_start (&h, "add-flood", 1900000);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *cfg = server_config (&h, "[limits]\nmax_message_size = 2000000\n", cases[i].extra);
      SgTestServer s;
      sg_test_server_start (&s, cfg);
      g_autofree char *msg = message (2, TRUE);
      g_autofree char *reply = transact (s.port, msg);
      g_test_message ("case %u: %s", i, reply);
      if (!g_str_has_prefix (reply, cases[i].reply))
        g_error ("got \"%s\", want \"%s...\"", reply, cases[i].reply);
      g_assert_true (sg_test_wait_log (&s, cases[i].log, 1, 5000));
      g_autoptr(GPtrArray) ids = sg_test_spool_ids (&s);
      g_assert_cmpuint (ids->len, ==, g_str_has_prefix (reply, "250") ? 1 : 0);
      for (guint j = 0; j < ids->len; j++)
        {
          g_autofree char *name = g_strconcat (g_ptr_array_index (ids, j), ".eml", NULL);
          g_autofree char *path = g_build_filename (s.spool, "queue", name, NULL);
          gsize len = 0;
          g_autofree char *eml = sg_test_read_file (path, &len);
          g_assert_cmpuint (len, <=, 2000000);
          g_assert_null (strstr (eml, "\r\nX: "));
        }
      check_rss (&s);
      g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
      sg_test_server_free (&s);
    }
  hostile_stop (&h);
}

/* hostile_eoms - ends of message the hostile milter has received. */
static guint
hostile_eoms (Hostile *h)
{
  g_autofree char *out = sg_test_read_file (h->out, NULL);
  guint n = 0;
  for (const char *p = out; (p = strstr (p, "eom ")); p++)
    n++;
  return n;
}

/* stall - n messages at once to a milter that stalls at their end (mode),
 * and a message without Date in the meantime: the refusal is answered
 * before any stalled message is, and each stalled message gets
 * default_action within about its own content_timeout, not after the
 * others' (2 x timeout separates the two: at 5973853, with one intake
 * worker per CPU, they came at 1, 2, 3 x timeout, or never). */
static void
stall (const char *mode, guint n)
{
  const guint timeout = 4;
  Hostile h;
  hostile_start (&h, mode, 0);
  g_autofree char *extra = g_strdup_printf ("default_action = tempfail\ncontent_timeout = %u\n", timeout);
  g_autofree char *cfg = server_config (&h, NULL, extra);
  SgTestServer s;
  sg_test_server_start (&s, cfg);

  SgTestClient **held = g_new0 (SgTestClient *, n);
  gint64 *sent = g_new0 (gint64, n);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *msg = message (i, TRUE);
      held[i] = start_message (s.port, msg);
      sent[i] = g_get_monotonic_time ();
    }
  /* a message validation refuses: answered at once, milters or not */
  g_autofree char *undated = message (n, FALSE);
  g_autofree char *refused = transact (s.port, undated);
  g_test_message ("refused meanwhile: %s", refused);
  g_assert_true (g_str_has_prefix (refused, "5"));
  guint early = 0;
  for (guint i = 0; i < n; i++)
    early += answered (held[i]);
  g_assert_cmpuint (early, ==, 0);

  gdouble slowest = 0;
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *reply = sg_test_client_reply (held[i]);
      gdouble took = (gdouble) (g_get_monotonic_time () - sent[i]) / G_USEC_PER_SEC;
      g_test_message ("message %u: %s after %.1f s", i, reply ? reply : "(no reply)", took);
      g_assert_cmpstr (reply, ==, TEMPFAIL);
      slowest = MAX (slowest, took);
      sg_test_client_free (held[i]);
    }
  g_assert_cmpfloat (slowest, <, 2.0 * timeout);
  g_assert_cmpuint (hostile_eoms (&h), ==, n);
  g_assert_true (sg_test_wait_log (&s, "timeout waiting for the reply at END-OF-MESSAGE", n, 5000));
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  sg_test_server_free (&s);
  hostile_stop (&h);
  g_free (held);
  g_free (sent);
}

/* more messages than the intake has workers (one per CPU), six at least */
static guint
crowd (void)
{
  return MAX (6u, 2u * g_get_num_processors () + 2u);
}

/* SMFIR_PROGRESS every 0.1 s, for ever: progress does not move the
 * END-OF-MESSAGE deadline. At 5973853 no message was ever answered. */
static void
test_endless_progress (void)
{
  stall ("progress", crowd ());
}

/* A milter that never answers the end of the message. */
static void
test_hang_at_once (void)
{
  stall ("hang", crowd ());
}

/* [milter] max_conversations = 2 and a milter that hangs at the end of
 * the message: six messages share two conversations, each answered within
 * its own deadline (connect 1 + 5 x command 1 + content 2 = 8 s) though
 * they wait for each other; a refused message is answered at once. */
static void
test_max_conversations (void)
{
  const guint n = 6;
  const gdouble budget = 1 + 5 * 1 + 2;
  Hostile h;
  hostile_start (&h, "hang", 0);
  g_autofree char *cfg = server_config (&h, NULL, "default_action = tempfail\nmax_conversations = 2\n"
                                                  "connect_timeout = 1\ncommand_timeout = 1\n"
                                                  "content_timeout = 2\n");
  SgTestServer s;
  sg_test_server_start (&s, cfg);
  SgTestClient *held[6];
  gint64 sent[6];
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *msg = message (i, TRUE);
      held[i] = start_message (s.port, msg);
      sent[i] = g_get_monotonic_time ();
    }
  g_autofree char *undated = message (n, FALSE);
  g_autofree char *refused = transact (s.port, undated);
  g_assert_true (g_str_has_prefix (refused, "5"));
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *reply = sg_test_client_reply (held[i]);
      gdouble took = (gdouble) (g_get_monotonic_time () - sent[i]) / G_USEC_PER_SEC;
      g_test_message ("message %u: %s after %.1f s", i, reply ? reply : "(no reply)", took);
      g_assert_cmpstr (reply, ==, TEMPFAIL);
      g_assert_cmpfloat (took, <, budget + 2);
      sg_test_client_free (held[i]);
    }
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  sg_test_server_free (&s);
  hostile_stop (&h);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/milter/abuse/empty-edit-flood", test_empty_edit_flood);
  g_test_add_func ("/milter/abuse/add-flood-past-size", test_add_flood_past_size);
  g_test_add_func ("/milter/abuse/endless-progress", test_endless_progress);
  g_test_add_func ("/milter/abuse/hang-at-once", test_hang_at_once);
  g_test_add_func ("/milter/abuse/max-conversations", test_max_conversations);
  return g_test_run ();
}
