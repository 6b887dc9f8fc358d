/* test-queue-life.c - issue 23, the queue's life cycle (doc/queue-lifecycle.md)
 * against the real daemon and tests/tools/smarthost.py (aiosmtpd), counting
 * what the smarthost received: a requeued expired message is tried again,
 * not bounced at once; a message released from rejected/ or from hold
 * after max_lifetime is delivered, not expired at its first try; a
 * recipient gets at most one non-delivery report, ever; [queue]
 * failed_lifetime removes failed mail, logged. Age is made by rewriting the
 * metadata under the message lock (as the runner would), never by waiting. */
#include "admin_util.h"
#include "spool/spool_rejected.h"

#include <string.h>

#define WAIT_MS 30000
#define DAY     86400

typedef RelayFixture Fixture;

/* fixture_start - retries an hour apart: only the test makes a message due again. */
static void
fixture_start (Fixture *f, const char *const *replies)
{
  relay_start (f, "min_backoff = 3600\nmax_backoff = 3600\nscan_interval = 2\n", replies);
}

/* send_to - a valid message tagged n from alice to rcpts; its ID (transfer full). */
static char *
send_to (Fixture *f, const char *tag, const char *const *rcpts)
{
  g_autofree char *body = g_strdup_printf ("Date: Sat, 21 Nov 2026 10:00:00 +0000\r\n"
                                           "From: Alice <alice@example.com>\r\n"
                                           "To: bob@example.org\r\n"
                                           "Subject: %s\r\n"
                                           "Message-ID: <%s@example.com>\r\n"
                                           "\r\n"
                                           "Hello.\r\n", tag, tag);
  char *id = sg_test_send (f->s.port, "alice@example.com", rcpts, body, -1);
  g_assert_nonnull (id);
  return id;
}

/* age - the message arrived six days ago (past the default max_lifetime of
 * five) and is due now. */
static void
age (SgMeta *meta)
{
  meta->arrival_time_us -= (gint64) 6 * DAY * G_USEC_PER_SEC;
  meta->next_attempt = 0;
}

/* failed_long_ago - every recipient last changed eight days ago. */
static void
failed_long_ago (SgMeta *meta)
{
  for (guint i = 0; i < meta->recipients->len; i++)
    ((SgMetaRecipient *) g_ptr_array_index (meta->recipients, i))->updated -= 8 * DAY;
}

/* wait_settled - until no message in queue/ is queued or deferred (each
 * is gone, failed or held): nothing more will be sent. */
static gboolean
settled (gpointer data)
{
  Fixture *f = data;
  g_autoptr(GPtrArray) ids = sg_test_spool_ids (&f->s);
  for (guint i = 0; i < ids->len; i++)
    {
      g_autoptr(SgMeta) m = meta_of (&f->s, g_ptr_array_index (ids, i));
      if (m != NULL && (m->state == SG_MSG_QUEUED || m->state == SG_MSG_DEFERRED))
        return FALSE;
    }
  return TRUE;
}

static void
wait_settled (Fixture *f)
{
  g_assert_true (sg_test_wait_until (settled, f, WAIT_MS, "no message queued or deferred"));
}

typedef struct {
  SgTestServer *s;
  const char   *id;
} Message;

/* tried_again - the requeued message was delivered (gone) or failed. */
static gboolean
tried_again (gpointer data)
{
  Message *m = data;
  g_autoptr(SgMeta) now = meta_of (m->s, m->id);
  return now == NULL || now->state == SG_MSG_FAILED;
}

/* A message that expired (smarthost 451, then older than max_lifetime) got
 * its one bounce; `spoolgate requeue` tries it again, and it is delivered:
 * no bounce at once, no second bounce (5973853: 3 "Undelivered Mail"
 * notices for one message, and it was never delivered). */
static void
test_requeue_expired (void)
{
  Fixture f;
  fixture_start (&f, (const char *const[]) { "bob@example.org=451,250", NULL });
  const char *needle = "Message-ID: <expired@example.com>";
  g_autofree char *id = send_to (&f, "expired", (const char *const[]) { "bob@example.org", NULL });
  g_assert_true (wait_state (&f.s, id, SG_MSG_DEFERRED, WAIT_MS));
  craft (&f.s, id, age);
  g_assert_true (wait_state (&f.s, id, SG_MSG_FAILED, WAIT_MS));
  g_autofree char *expired = g_strdup_printf ("%s: to=<bob@example.org>, relay=none", id);
  g_assert_true (sg_test_wait_log (&f.s, expired, 1, WAIT_MS));
  /* requeued twice if need be (5973853 bounced it at once each time) */
  for (guint round = 0; round < 2; round++)
    {
      g_autoptr(SgMeta) m = meta_of (&f.s, id);
      if (m == NULL)
        break;   /* delivered */
      g_assert_cmpint (m->state, ==, SG_MSG_FAILED);
      g_assert_cmpint (sg (&f.s, NULL, NULL, "requeue", id, NULL), ==, 0);
      Message requeued = { &f.s, id };
      g_assert_true (sg_test_wait_until (tried_again, &requeued, WAIT_MS, "%s delivered or failed", id));
    }
  wait_queue_empty (&f.s, WAIT_MS);
  guint delivered = originals (f.out, needle);
  guint bounces = reports (f.out, needle, "failed");
  g_test_message ("requeue of an expired message: delivered %u time(s), %u non-delivery "
                  "report(s)", delivered, bounces);
  g_assert_cmpuint (delivered, ==, 1);
  g_assert_cmpuint (bounces, ==, 1);
  relay_stop (&f);
}

/* release (issue 23): a refused message released after max_lifetime, and a
 * held one released after it, are delivered at their first try. */
static void
test_release_old (void)
{
  Fixture f;
  fixture_start (&f, (const char *const[]) { "erin@example.org=451,250", NULL });
  /* refused six days ago: the kept envelope's arrival is moved back */
  g_autofree char *body = refusable ("old-refused", 1);
  g_autofree char *id = refuse (&f.s, body);
  g_autofree char *path = g_strdup_printf ("%s/rejected/%s.json", f.s.spool, id);
  g_autofree char *text = sg_test_read_file (path, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(SgRejectedMeta) kept = sg_rejected_meta_from_json (text, -1, &error);
  g_assert_no_error (error);
  kept->envelope->arrival_time_us -= (gint64) 6 * DAY * G_USEC_PER_SEC;
  kept->rejected_time_us -= (gint64) 6 * DAY * G_USEC_PER_SEC;
  g_autofree char *json = sg_rejected_meta_to_json (kept, NULL);
  g_assert_true (g_file_set_contents (path, json, -1, NULL));
  g_assert_cmpint (sg (&f.s, NULL, NULL, "release", id, NULL), ==, 0);

  /* deferred once, then held for six days */
  g_autofree char *held = send_to (&f, "old-held", (const char *const[]) { "erin@example.org", NULL });
  g_assert_true (wait_state (&f.s, held, SG_MSG_DEFERRED, WAIT_MS));
  g_assert_cmpint (sg (&f.s, NULL, NULL, "hold", held, NULL), ==, 0);
  craft (&f.s, held, age);
  g_assert_cmpint (sg (&f.s, NULL, NULL, "release", held, NULL), ==, 0);

  wait_settled (&f);
  guint refused = originals (f.out, "Message-ID: <old-refused-0001@example.com>");
  guint on_hold = originals (f.out, "Message-ID: <old-held@example.com>");
  guint bounces = reports (f.out, "@example.com>", NULL);
  g_test_message ("released after max_lifetime: refused one delivered %u time(s), held one %u; "
                  "%u report(s)", refused, on_hold, bounces);
  g_assert_cmpuint (refused, ==, 1);
  g_assert_cmpuint (on_hold, ==, 1);
  g_assert_cmpuint (bounces, ==, 0);
  g_assert_true (wait_queue_empty (&f.s, WAIT_MS));
  relay_stop (&f);
}

/* One non-delivery report per recipient, ever: bob and carol fail (550),
 * one report names both; after a requeue carol is delivered and bob fails
 * again, and no second report is sent. The metadata records it (schema v2). */
static void
test_one_report (void)
{
  Fixture f;
  fixture_start (&f, (const char *const[]) { "bob@example.org=550",
                                                   "carol@example.org=550,250", NULL });
  const char *needle = "Message-ID: <once@example.com>";
  g_autofree char *id = send_to (&f, "once", (const char *const[]) { "bob@example.org",
                                                                     "carol@example.org", NULL });
  g_assert_true (wait_state (&f.s, id, SG_MSG_FAILED, WAIT_MS));
  g_autofree char *first = g_strdup_printf ("%s: sender non-delivery notification", id);
  g_assert_true (sg_test_wait_log (&f.s, first, 1, WAIT_MS));
  g_assert_cmpint (sg (&f.s, NULL, NULL, "requeue", id, NULL), ==, 0);
  g_autofree char *carol = g_strdup_printf ("%s: to=<carol@example.org>, relay=127.0.0.1", id);
  g_assert_true (sg_test_wait_log (&f.s, carol, 2, WAIT_MS));
  g_assert_true (wait_state (&f.s, id, SG_MSG_FAILED, WAIT_MS));
  g_autofree char *bob = g_strdup_printf ("%s: to=<bob@example.org>, relay=127.0.0.1", id);
  g_assert_true (sg_test_wait_log (&f.s, bob, 2, WAIT_MS));
  wait_settled (&f);
  guint bounces = reports (f.out, needle, "failed");
  g_test_message ("recipient failed, requeued, failed again: %u non-delivery report(s)", bounces);
  g_assert_cmpuint (bounces, ==, 1);
  g_assert_cmpuint (originals (f.out, needle), ==, 1);   /* to carol */
  g_autofree char *none = g_strdup_printf ("%s: no non-delivery notification: sent already", id);
  g_assert_true (sg_test_wait_log (&f.s, none, 1, WAIT_MS));
  g_autoptr(SgMeta) m = meta_of (&f.s, id);
  g_assert_nonnull (m);
  SgMetaRecipient *rb = g_ptr_array_index (m->recipients, 0);
  SgMetaRecipient *rc = g_ptr_array_index (m->recipients, 1);
  g_assert_cmpint (rb->status, ==, SG_RCPT_FAILED);
  g_assert_cmpint (rb->bounced, >, 0);
  g_assert_cmpint (rc->status, ==, SG_RCPT_DELIVERED);
  g_assert_cmpint (m->lifetime_start, >, 0);
  sg_test_assert_queue_schema (&f.s, id);
  relay_stop (&f);
}

/* [queue] failed_lifetime: a message that failed longer ago than that is
 * removed by the runner, with a log line; a younger one stays. */
static void
test_failed_lifetime (void)
{
  Fixture f;
  fixture_start (&f, (const char *const[]) { "bob@example.org=550",
                                                   "dave@example.org=550", NULL });
  g_autofree char *old = send_to (&f, "failed-old", (const char *const[]) { "bob@example.org", NULL });
  g_autofree char *young = send_to (&f, "failed-young",
                                    (const char *const[]) { "dave@example.org", NULL });
  g_assert_true (wait_state (&f.s, old, SG_MSG_FAILED, WAIT_MS));
  g_assert_true (wait_state (&f.s, young, SG_MSG_FAILED, WAIT_MS));
  craft (&f.s, old, failed_long_ago);
  g_autofree char *removed = g_strdup_printf ("%s: removed (failed ", old);
  g_assert_true (sg_test_wait_log (&f.s, removed, 1, WAIT_MS));
  g_assert_true (sg_test_wait_log (&f.s, "[queue] failed_lifetime = 604800)", 1, WAIT_MS));
  g_assert_true (wait_state (&f.s, old, SG_MSG_DELIVERED, WAIT_MS));   /* gone */
  g_autoptr(SgMeta) still = meta_of (&f.s, young);
  g_assert_nonnull (still);
  g_assert_cmpint (still->state, ==, SG_MSG_FAILED);
  relay_stop (&f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/queue-life/requeue-expired", test_requeue_expired);
  g_test_add_func ("/queue-life/release-old", test_release_old);
  g_test_add_func ("/queue-life/one-report", test_one_report);
  g_test_add_func ("/queue-life/failed-lifetime", test_failed_lifetime);
  return g_test_run ();
}
