/* test-durable.c - the brief's first rule, seen at the block layer through
 * the real daemon: 250 only once the message is on stable storage. The
 * spool is a loop-mounted ext4 image without a journal (as on the benchmark
 * machine) of this test's own; a tracefs instance records the block
 * requests, and the client marks when it sends a message and when it reads
 * the 250. Every write made in between must have completed before a cache
 * flush that completed before the 250 arrived. Small messages (committed
 * from memory) and 2 MiB ones (spooled as drafts while they arrive), with
 * each [spool] sync_method. Needs root (loop mount, tracefs): skipped
 * otherwise. Library-level checks of every durable spool operation are in
 * tests/spool/test-spool-flush.c. */
#include "harness.h"
#include "flush_trace.h"

#include <string.h>
#include <unistd.h>

#define ROUNDS      8                      /* of each size, after one untraced */
#define SMALL_BODY  (4u * 1024u)
#define LARGE_BODY  (2u * 1024u * 1024u)   /* past data_spill_size (1 MiB): a draft */

/* message - a valid message with a body of about size bytes (transfer full). */
static GString *
message (guint n, gsize size)
{
  GString *m = g_string_new (NULL);

  g_string_append_printf (m, "Date: Tue, 08 Dec 2026 03:00:00 +0000\r\n"
                             "From: alice@example.com\r\nTo: bob@example.org\r\n"
                             "Subject: durable %u\r\nMessage-ID: <durable.%u.%zu@example.com>\r\n\r\n",
                          n, n, size);
  while (m->len < size)
    g_string_append (m, "The quick brown fox jumps over the lazy dog, again and again and again.\r\n");
  return m;
}

/* send_traced - one transaction; the final dot and the reply inside the
 * markers "BEGIN label" and "END label" (none for label NULL). */
static void
send_traced (SgTestClient *c, const char *inst, const char *label, guint n, gsize size)
{
  g_autoptr(GString) m = message (n, size);
  g_autofree char *r1 = sg_test_client_command (c, "MAIL FROM:<alice@example.com>");
  g_autofree char *r2 = sg_test_client_command (c, "RCPT TO:<bob@example.org>");
  g_autofree char *r3 = sg_test_client_command (c, "DATA");
  g_assert_cmpstr (r1, ==, "250 2.1.0 Sender OK");
  g_assert_cmpstr (r2, ==, "250 2.1.5 Recipient OK");
  g_assert_true (g_str_has_prefix (r3, "354 "));
  /* start clean: nothing of an earlier message is left for write-back */
  sync ();
  g_autofree char *begin = label ? g_strconcat ("BEGIN ", label, NULL) : NULL;
  g_autofree char *end = label ? g_strconcat ("END ", label, NULL) : NULL;
  if (begin)
    sg_flush_trace_mark (inst, begin);
  sg_test_client_send (c, m->str, m->len);
  sg_test_client_send (c, ".\r\n", 3);
  g_autofree char *reply = sg_test_client_reply (c);
  if (end)
    sg_flush_trace_mark (inst, end);
  g_assert_nonnull (reply);
  if (!g_str_has_prefix (reply, "250 "))
    g_error ("message %u (%zu bytes): %s", n, size, reply);
}

static void
test_durable (gconstpointer data)
{
  const char *method = data;
  SgTestServer s;
  g_autofree char *config = g_strdup_printf ("[spool]\nsync_method = %s\n", method);
  g_autofree char *trace = NULL;
  static const gsize sizes[] = { SMALL_BODY, LARGE_BODY };
  static const char *const names[] = { "small", "large" };

  if (geteuid () != 0)
    {
      g_test_skip ("needs root: a loop mount and tracefs");
      return;
    }
  sg_test_server_init (&s, config);
  /* the spool is the image's mount point: a file system of its own */
  g_free (s.spool);
  s.spool = sg_flush_trace_mount (FALSE, s.dir);
  s.tmpfs = TRUE;   /* unmounted at free */
  char *inst = sg_flush_trace_open ();
  if (inst == NULL)
    {
      sg_test_server_free (&s);
      return;
    }
  g_autofree char *dev = sg_flush_trace_dev (s.spool);
  sg_test_server_restart (&s);
  sg_test_expect_log (&s, "sync_method=", 1);

  SgTestClient *c = sg_test_client_connect (s.port, NULL);
  g_autofree char *ehlo = sg_test_client_command (c, "EHLO client.example");
  g_assert_true (g_str_has_prefix (ehlo, "250"));
  for (guint k = 0; k < G_N_ELEMENTS (sizes); k++)
    for (guint n = 0; n <= ROUNDS; n++)
      {
        g_autofree char *label = n > 0 ? g_strdup_printf ("%s %u", names[k], n) : NULL;
        send_traced (c, inst, label, n, sizes[k]);
      }
  g_autofree char *quit = sg_test_client_command (c, "QUIT");
  sg_test_client_free (c);
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  g_autoptr(GPtrArray) lines = sg_flush_trace_finish (inst, &trace);

  for (guint k = 0; k < G_N_ELEMENTS (sizes); k++)
    {
      guint writes = 0, flushes = 0;
      for (guint n = 1; n <= ROUNDS; n++)
        {
          g_autofree char *label = g_strdup_printf ("%s %u", names[k], n);
          sg_flush_trace_check (lines, label, dev, FALSE, &writes, &flushes);
        }
      g_test_message ("%s, %u %s messages: %u writes, %u flushes before their 250s",
                      method, ROUNDS, names[k], writes, flushes);
      if (g_test_failed ())
        break;          /* a write was not flushed: said above */
      /* not vacuous: each message was seen to be written and flushed */
      g_assert_cmpuint (writes, >=, 3 * ROUNDS);
      g_assert_cmpuint (flushes, >=, 2 * ROUNDS);
    }
  g_autoptr(GPtrArray) ids = sg_test_spool_ids (&s);
  if (!g_test_failed ())
    g_assert_cmpuint (ids->len, ==, 2 * (ROUNDS + 1));
  sg_test_server_free (&s);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/durable/250/fdatasync", "fdatasync", test_durable);
  g_test_add_data_func ("/durable/250/syncfs", "syncfs", test_durable);
  return g_test_run ();
}
