/* test-queue.c - unit tests of src/queue/ without a network: the backoff
 * table, applying attempts to metadata (and counting deliveries), expiry,
 * the non-delivery report (which must pass our own validator under the
 * strict policy) and the census behind the queue gauges. */
#include "queue/queue_private.h"
#include "queue/census.h"
#include "queue/dsn.h"
#include "metrics/metrics.h"
#include "validate/validate.h"

#include <stdlib.h>
#include <string.h>

/* metric - the value of one sample line of the rendered metrics, or -1. */
static gint64
metric (const char *sample)
{
  g_autofree char *text = sg_metrics_render (NULL);
  g_autofree char *needle = g_strdup_printf ("\n%s ", sample);
  const char *p = strstr (text, needle);
  return p ? g_ascii_strtoll (p + strlen (needle), NULL, 10) : -1;
}

static SgConfig *
config (void)
{
  SgConfig *c = sg_config_new ();
  c->queue_min_backoff = 300;
  c->queue_max_backoff = 4000;
  c->queue_max_lifetime = 5 * 86400;
  return c;
}

static void
test_backoff (void)
{
  g_autoptr(SgConfig) c = config ();
  static const struct { guint attempts, want; } cases[] = {
    { 1, 300 }, { 2, 600 }, { 3, 1200 }, { 4, 2400 }, { 5, 4000 }, { 50, 4000 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      guint got = sg_queue_backoff (c, cases[i].attempts);
      if (got != cases[i].want)
        g_error ("attempt %u: got %u, want %u", cases[i].attempts, got, cases[i].want);
    }
}

static SgMeta *
message (void)
{
  SgMeta *m = sg_meta_new ();
  m->queue_id = g_strdup ("1K0SZASGDY8VSFY00000");
  m->arrival_time_us = (gint64) 1800000000 * G_USEC_PER_SEC;
  m->sender = g_strdup ("alice@example.com");
  sg_meta_add_recipient (m, "ok@example.org");
  sg_meta_add_recipient (m, "later@example.org");
  sg_meta_add_recipient (m, "bad@example.org");
  m->state = SG_MSG_QUEUED;
  return m;
}

static void
test_apply_mixed (void)
{
  g_autoptr(SgConfig) c = config ();
  g_autoptr(SgMeta) m = message ();
  g_autoptr(GPtrArray) pending = sg_queue_pending (m);
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) sg_rcpt_outcome_free);
  static const struct { guint code; const char *reply; } r[] = {
    { 250, "250 2.0.0 Ok" }, { 451, "451 4.3.0 later" }, { 550, "550 5.1.1 no such user" },
  };
  for (guint i = 0; i < 3; i++)
    {
      SgRcptOutcome *o = sg_rcpt_outcome_new (((SgMetaRecipient *) pending->pdata[i])->address);
      o->code = r[i].code;
      o->reply = g_strdup (r[i].reply);
      g_ptr_array_add (out, o);
    }
  gint64 now = 1800000100;
  sg_metrics_reset ();
  SgAttempt a = { .time = now, .relay = "mx[192.0.2.1]:25", .tls_protocol = "TLSv1.3",
                  .tls_cipher = "TLS_AES_256_GCM_SHA384", .outcomes = out, .recipients = pending };
  sg_queue_apply (m, &a, c, now);
  g_assert_cmpint (((SgMetaRecipient *) m->recipients->pdata[0])->status, ==, SG_RCPT_DELIVERED);
  g_assert_cmpint (((SgMetaRecipient *) m->recipients->pdata[1])->status, ==, SG_RCPT_DEFERRED);
  g_assert_cmpint (((SgMetaRecipient *) m->recipients->pdata[2])->status, ==, SG_RCPT_FAILED);
  g_assert_cmpint (m->state, ==, SG_MSG_DEFERRED);
  g_assert_cmpint (m->next_attempt, ==, now + 300);
  g_assert_cmpuint (m->attempts, ==, 1);
  g_assert_cmpuint (json_array_get_length (json_node_get_array (m->attempt_history)), ==, 1);
  JsonObject *h = json_array_get_object_element (json_node_get_array (m->attempt_history), 0);
  g_assert_cmpstr (json_object_get_string_member (h, "result"), ==, "mixed");
  g_assert_cmpstr (json_object_get_string_member (h, "tls_protocol"), ==, "TLSv1.3");
  g_assert_cmpint (metric ("spoolgate_deliveries_total{result=\"delivered\"}"), ==, 1);
  g_assert_cmpint (metric ("spoolgate_deliveries_total{result=\"deferred\"}"), ==, 1);
  g_assert_cmpint (metric ("spoolgate_deliveries_total{result=\"failed\"}"), ==, 1);

  /* a session failure defers everyone still pending, with the error */
  g_autoptr(GPtrArray) left = sg_queue_pending (m);
  g_assert_cmpuint (left->len, ==, 1);
  g_autoptr(GPtrArray) out2 = g_ptr_array_new_with_free_func ((GDestroyNotify) sg_rcpt_outcome_free);
  g_ptr_array_add (out2, sg_rcpt_outcome_new ("later@example.org"));
  SgAttempt b = { .time = now + 300, .error = "connect to mx: Connection refused",
                  .outcomes = out2, .recipients = left };
  sg_queue_apply (m, &b, c, now + 300);
  g_assert_cmpint (m->next_attempt, ==, now + 300 + 600);
  g_assert_cmpstr (m->last_error, ==, "connect to mx: Connection refused");
  g_assert_cmpint (metric ("spoolgate_deliveries_total{result=\"deferred\"}"), ==, 2);
}

static void
test_expire (void)
{
  g_autoptr(SgConfig) c = config ();
  g_autoptr(SgMeta) m = message ();
  gint64 arrival = m->arrival_time_us / G_USEC_PER_SEC;
  g_assert_false (sg_queue_expired (m, c, arrival + 5 * 86400 - 1));
  g_assert_true (sg_queue_expired (m, c, arrival + 5 * 86400));
  sg_queue_expire (m, c, arrival + 5 * 86400);
  g_autoptr(GPtrArray) left = sg_queue_pending (m);
  g_assert_cmpuint (left->len, ==, 0);
  g_assert_true (g_str_has_prefix (((SgMetaRecipient *) m->recipients->pdata[0])->delay_reason,
                                   "expired after 0 attempts: never attempted"));
}

/* issue 23: requeue and release start the lifetime clock again: a
 * message released or requeued after max_lifetime is not expired, and its
 * next tries are capped by the new expiry, not the arrival's. */
static void
test_lifetime_start (void)
{
  g_autoptr(SgConfig) c = config ();
  g_autoptr(SgMeta) m = message ();
  gint64 arrival = m->arrival_time_us / G_USEC_PER_SEC;
  gint64 later = arrival + 30 * 86400;
  g_assert_true (sg_queue_expired (m, c, later));
  m->lifetime_start = later;
  g_assert_false (sg_queue_expired (m, c, later));
  g_assert_false (sg_queue_expired (m, c, later + 5 * 86400 - 1));
  g_assert_true (sg_queue_expired (m, c, later + 5 * 86400));
  /* a deferral just before the new expiry is capped by it */
  g_autoptr(GPtrArray) pending = sg_queue_pending (m);
  g_autoptr(GPtrArray) outcomes = g_ptr_array_new_with_free_func ((GDestroyNotify) sg_rcpt_outcome_free);
  for (guint i = 0; i < pending->len; i++)
    g_ptr_array_add (outcomes, sg_rcpt_outcome_new (((SgMetaRecipient *) pending->pdata[i])->address));
  m->attempts = 10;
  SgAttempt a = { .time = later + 5 * 86400 - 60, .error = "connect: refused",
                  .outcomes = outcomes, .recipients = pending };
  sg_queue_apply (m, &a, c, later + 5 * 86400 - 60);
  g_assert_cmpint (m->next_attempt, ==, later + 5 * 86400);
}

/* issue 23: [queue] failed_lifetime: a failed message is looked at again
 * when it is over, counted from when it failed; 0 keeps it for ever. */
static void
test_failed_lifetime (void)
{
  g_autoptr(SgConfig) c = config ();
  g_autoptr(SgMeta) m = message ();
  c->queue_failed_lifetime = 7 * 86400;
  m->state = SG_MSG_FAILED;
  for (guint i = 0; i < m->recipients->len; i++)
    ((SgMetaRecipient *) m->recipients->pdata[i])->updated = 1800000100 + i;
  g_assert_cmpint (sg_queue_finished_at (m), ==, 1800000102);
  g_assert_cmpint (sg_queue_next_look (m, c), ==, 1800000102 + 7 * 86400);
  c->queue_failed_lifetime = 0;
  g_assert_cmpint (sg_queue_next_look (m, c), ==, -1);
  m->state = SG_MSG_HELD;
  g_assert_cmpint (sg_queue_next_look (m, c), ==, -1);
}

/* issue 23: a recipient gets at most one non-delivery report, ever: after
 * a requeue it fails again, and the report leaves it out; a recipient
 * failing for the first time is still reported. */
static void
test_dsn_once (void)
{
  g_autoptr(SgMeta) m = message ();
  SgMetaRecipient *again = m->recipients->pdata[1], *first = m->recipients->pdata[2];
  again->status = first->status = SG_RCPT_FAILED;
  again->delay_reason = g_strdup ("550 5.1.1 still no such user");
  first->delay_reason = g_strdup ("550 5.1.1 no such user");
  again->bounced = 1800000050;
  const char *header = "From: alice@example.com\r\nSubject: hello\r\n";
  g_autoptr(GBytes) dsn = sg_dsn_build (m, "gate.example", header, strlen (header), 1800000200);
  g_autofree char *s = g_strndup (g_bytes_get_data (dsn, NULL), g_bytes_get_size (dsn));
  g_assert_null (strstr (s, "Final-Recipient: rfc822; later@example.org"));
  g_assert_nonnull (strstr (s, "Final-Recipient: rfc822; bad@example.org"));

  /* sg_queue_finish queues one report only while someone is left to report */
  g_autofree char *dir = g_dir_make_tmp ("sg-dsn-once-XXXXXX", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(SgSpool) spool = sg_spool_open (dir, &error);
  g_assert_no_error (error);
  g_autoptr(SgConfig) c = config ();
  g_autoptr(GBytes) body = g_bytes_new_static ("Subject: x\r\n\r\nx\r\n", 18);
  g_clear_pointer (&m->queue_id, g_free);
  m->arrival_time_us = 0;
  g_assert_true (sg_spool_commit (spool, m, NULL, body, &error));
  g_assert_no_error (error);
  for (guint round = 0; round < 2; round++)
    {
      g_autofree char *dsn_id = NULL;
      gboolean removed = FALSE;
      g_assert_true (sg_queue_finish (spool, m, c, 1800000300 + round, &dsn_id, &removed, &error));
      g_assert_no_error (error);
      g_assert_cmpint (m->state, ==, SG_MSG_FAILED);
      g_assert_cmpint (first->bounced, ==, 1800000300);
      g_assert_cmpint (again->bounced, ==, 1800000050);
      if (round == 0)
        g_assert_nonnull (dsn_id);
      else
        g_assert_null (dsn_id);   /* requeued and failed again: no second report */
    }
  g_autofree char *rm = g_strdup_printf ("rm -rf '%s'", dir);
  g_assert_cmpint (system (rm), ==, 0);
}

static void
test_dsn_validates (void)
{
  g_autoptr(SgMeta) m = message ();
  SgMetaRecipient *bad = m->recipients->pdata[2];
  bad->status = SG_RCPT_FAILED;
  bad->delay_reason = g_strdup ("550 5.1.1 <bad@example.org>: no such user");
  SgMetaRecipient *old = m->recipients->pdata[1];
  old->status = SG_RCPT_FAILED;
  old->delay_reason = g_strdup ("expired after 9 attempts: 451 4.3.0 later");
  const char *header = "Received: from client.example ([127.0.0.1])\r\n\tby gate.example\r\n"
                       "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\nFrom: alice@example.com\r\n"
                       "Subject: hello\r\n";
  g_autoptr(GBytes) dsn = sg_dsn_build (m, "gate.example", header, strlen (header), 1800000200);
  gsize len;
  const char *text = g_bytes_get_data (dsn, &len);
  g_autofree char *s = g_strndup (text, len);
  g_assert_nonnull (strstr (s, "Content-Type: multipart/report; report-type=delivery-status;"));
  g_assert_nonnull (strstr (s, "Reporting-MTA: dns; gate.example\r\n"));
  g_assert_nonnull (strstr (s, "Arrival-Date: "));
  g_assert_nonnull (strstr (s, "Final-Recipient: rfc822; bad@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n"
                               "Diagnostic-Code: smtp; 550 5.1.1 <bad@example.org>: no such user\r\n"));
  g_assert_nonnull (strstr (s, "Final-Recipient: rfc822; later@example.org\r\nAction: failed\r\nStatus: 4.4.7\r\n"));
  g_assert_null (strstr (s, "Final-Recipient: rfc822; ok@example.org"));
  g_assert_nonnull (strstr (s, "Content-Type: text/rfc822-headers"));
  g_assert_nonnull (strstr (s, "Subject: hello\r\n"));
  SgValidateOptions opts = { 0 };
  g_autoptr(SgValidation) v = sg_validate ((const guint8 *) text, len, &opts);
  if (v->first_reject)
    {
      g_autofree char *why = sg_violation_describe (v->first_reject);
      g_error ("our own DSN is rejected: %s\n%s", why, s);
    }
}

/* RFC 3461: NOTIFY=NEVER and NOTIFY without FAILURE leave a recipient out of
 * the report; ENVID and ORCPT come back decoded from xtext (RFC 3464). */
static void
test_dsn_notify (void)
{
  g_autoptr(SgMeta) m = message ();
  m->dsn_envid = g_strdup ("QQ+2B1");
  for (guint i = 0; i < 3; i++)
    {
      SgMetaRecipient *r = m->recipients->pdata[i];
      r->status = SG_RCPT_FAILED;
      r->delay_reason = g_strdup ("550 5.1.1 no such user");
    }
  SgMetaRecipient *never = m->recipients->pdata[0], *delay = m->recipients->pdata[1];
  SgMetaRecipient *want = m->recipients->pdata[2];
  never->dsn_notify = g_strdup ("NEVER");
  delay->dsn_notify = g_strdup ("SUCCESS,DELAY");
  want->dsn_notify = g_strdup ("DELAY,FAILURE");
  want->dsn_orcpt = g_strdup ("rfc822;Bad+2Bx@example.org");
  g_assert_false (sg_dsn_wants_failure (never));
  g_assert_false (sg_dsn_wants_failure (delay));
  g_assert_true (sg_dsn_wants_failure (want));
  const char *header = "From: alice@example.com\r\nSubject: hello\r\n";
  g_autoptr(GBytes) dsn = sg_dsn_build (m, "gate.example", header, strlen (header), 1800000200);
  g_autofree char *s = g_strndup (g_bytes_get_data (dsn, NULL), g_bytes_get_size (dsn));
  g_assert_nonnull (strstr (s, "Original-Envelope-Id: QQ+1\r\n"));
  g_autofree char *block = g_strdup_printf ("\r\n\r\nOriginal-Recipient: rfc822; Bad+x@example.org\r\n"
                                            "Final-Recipient: rfc822; %s\r\n", want->address);
  g_assert_nonnull (strstr (s, block));
  g_autofree char *no1 = g_strdup_printf ("Final-Recipient: rfc822; %s\r\n", never->address);
  g_autofree char *no2 = g_strdup_printf ("Final-Recipient: rfc822; %s\r\n", delay->address);
  g_assert_null (strstr (s, no1));
  g_assert_null (strstr (s, no2));
}

/* RET=FULL (RFC 3461 4.3): the bounce returns the whole original as
 * message/rfc822 up to [queue] bounce_size_limit, headers only above it,
 * and headers only for RET=HDRS. Against a real spool in a temp dir. */
static void
test_dsn_ret_full (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sg-dsn-XXXXXX", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(SgSpool) spool = sg_spool_open (dir, &error);
  g_assert_no_error (error);
  const char *msg = "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\nFrom: alice@example.com\r\n"
                    "Message-ID: <1@example.com>\r\nSubject: hello\r\n\r\nthe body line\r\n";
  g_autoptr(GBytes) body = g_bytes_new_static (msg, strlen (msg));
  g_autoptr(SgMeta) m = message ();
  g_clear_pointer (&m->queue_id, g_free);
  m->arrival_time_us = 0;
  g_assert_true (sg_spool_commit (spool, m, NULL, body, &error));
  g_assert_no_error (error);
  SgMetaRecipient *bad = m->recipients->pdata[2];
  bad->status = SG_RCPT_FAILED;
  bad->delay_reason = g_strdup ("550 5.1.1 no such user");

  struct { const char *ret; guint64 limit; gboolean full; } cases[] = {
    { "FULL", 50000, TRUE }, { "FULL", 10, FALSE }, { "HDRS", 50000, FALSE }, { NULL, 50000, FALSE },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_free (m->dsn_ret);
      m->dsn_ret = g_strdup (cases[i].ret);
      g_autofree char *id = sg_dsn_queue (spool, m, "gate.example", cases[i].limit, 1800000200, &error);
      g_assert_no_error (error);
      g_autofree char *path = sg_spool_message_path (spool, id);
      g_autofree char *text = NULL;
      gsize len = 0;
      g_assert_true (g_file_get_contents (path, &text, &len, NULL));
      g_assert_cmpint (strstr (text, "Content-Type: message/rfc822\r\n") != NULL, ==, cases[i].full);
      g_assert_cmpint (strstr (text, "Content-Type: text/rfc822-headers\r\n") != NULL, ==, !cases[i].full);
      g_assert_cmpint (strstr (text, "the body line\r\n") != NULL, ==, cases[i].full);
      g_assert_nonnull (strstr (text, "Subject: hello\r\n"));
      SgValidateOptions opts = { 0 };
      g_autoptr(SgValidation) v = sg_validate ((const guint8 *) text, len, &opts);
      if (v->first_reject)
        g_error ("our own DSN (case %u) is rejected: %s", i, sg_violation_describe (v->first_reject));
    }
  g_autofree char *rm = g_strdup_printf ("rm -rf '%s'", dir);
  g_assert_cmpint (system (rm), ==, 0);
}

/* [queue] delay_warning's notice: deferred recipients that want DELAY (or
 * gave no NOTIFY), Action: delayed with a 4.x.x status. */
static void
test_dsn_delay (void)
{
  g_autoptr(SgMeta) m = message ();
  SgMetaRecipient *quiet = m->recipients->pdata[0], *late = m->recipients->pdata[1];
  SgMetaRecipient *plain = m->recipients->pdata[2];
  quiet->status = late->status = plain->status = SG_RCPT_DEFERRED;
  late->delay_reason = g_strdup ("451 4.3.0 try later");
  quiet->dsn_notify = g_strdup ("FAILURE");
  late->dsn_notify = g_strdup ("DELAY");
  g_assert_false (sg_dsn_wants_delay (quiet));
  g_assert_true (sg_dsn_wants_delay (late));
  g_assert_true (sg_dsn_wants_delay (plain));
  const char *header = "From: alice@example.com\r\nSubject: hello\r\n";
  g_autoptr(GBytes) dsn = sg_dsn_build_kind (m, SG_DSN_DELAY, "gate.example", header, strlen (header),
                                             1800000200);
  g_autofree char *s = g_strndup (g_bytes_get_data (dsn, NULL), g_bytes_get_size (dsn));
  g_assert_nonnull (strstr (s, "Subject: Delayed Mail (still being retried)\r\n"));
  g_autofree char *l = g_strdup_printf ("Final-Recipient: rfc822; %s\r\nAction: delayed\r\n"
                                        "Status: 4.3.0\r\n", late->address);
  g_autofree char *p = g_strdup_printf ("Final-Recipient: rfc822; %s\r\nAction: delayed\r\n"
                                        "Status: 4.0.0\r\n", plain->address);
  g_autofree char *q = g_strdup_printf ("Final-Recipient: rfc822; %s\r\n", quiet->address);
  g_assert_nonnull (strstr (s, l));
  g_assert_nonnull (strstr (s, p));
  g_assert_null (strstr (s, q));
  g_assert_null (strstr (s, "Action: failed"));
}

/* The census keeps per-state totals through moves, updates and removals,
 * and the queue gauges follow. */
static void
test_census (void)
{
  sg_metrics_reset ();
  g_autoptr(SgQueueCensus) c = sg_queue_census_new ();
  sg_queue_census_set (c, "A", SG_MSG_QUEUED, 100, 0);
  sg_queue_census_set (c, "B", SG_MSG_QUEUED, 200, 0);
  sg_queue_census_set (c, "C", SG_MSG_HELD, 50, 0);
  sg_queue_census_set (c, "A", SG_MSG_QUEUED, 100, 0);   /* seen again: no change */
  g_assert_cmpuint (sg_queue_census_count (c, SG_MSG_QUEUED), ==, 2);
  g_assert_cmpint (metric ("spoolgate_queue_bytes{state=\"queued\"}"), ==, 300);
  sg_queue_census_set (c, "B", SG_MSG_DEFERRED, 210, 0);  /* state and size change */
  g_assert_cmpint (metric ("spoolgate_queue_messages{state=\"queued\"}"), ==, 1);
  g_assert_cmpint (metric ("spoolgate_queue_bytes{state=\"queued\"}"), ==, 100);
  g_assert_cmpint (metric ("spoolgate_queue_messages{state=\"deferred\"}"), ==, 1);
  g_assert_cmpint (metric ("spoolgate_queue_bytes{state=\"deferred\"}"), ==, 210);
  sg_queue_census_forget (c, "A");
  sg_queue_census_forget (c, "nobody");
  g_assert_cmpint (metric ("spoolgate_queue_messages{state=\"queued\"}"), ==, 0);
  g_assert_cmpint (metric ("spoolgate_queue_bytes{state=\"queued\"}"), ==, 0);
  g_autoptr(GHashTable) present = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_add (present, "C");
  sg_queue_census_retain (c, present);
  g_assert_cmpint (metric ("spoolgate_queue_messages{state=\"deferred\"}"), ==, 0);
  g_assert_cmpint (metric ("spoolgate_queue_messages{state=\"held\"}"), ==, 1);
  g_assert_cmpint (metric ("spoolgate_queue_bytes{state=\"held\"}"), ==, 50);
}

/* spoolgate_queue_oldest_seconds follows the oldest queued or deferred
 * message through arrivals, moves and removals; held and finished mail does
 * not count. Ages are hours apart: a minute of slack, no timing. */
static void
test_census_oldest (void)
{
  sg_metrics_reset ();
  const gint64 hour = (gint64) 3600 * G_USEC_PER_SEC, now = g_get_real_time ();
  g_autoptr(SgQueueCensus) c = sg_queue_census_new ();
  g_assert_cmpint (metric ("spoolgate_queue_oldest_seconds"), ==, 0);
  sg_queue_census_set (c, "HELD", SG_MSG_HELD, 10, now - 9 * hour);
  sg_queue_census_set (c, "DONE", SG_MSG_FAILED, 10, now - 8 * hour);
  g_assert_cmpint (metric ("spoolgate_queue_oldest_seconds"), ==, 0);
  sg_queue_census_set (c, "NEW", SG_MSG_QUEUED, 10, now - 1 * hour);
  sg_queue_census_set (c, "OLD", SG_MSG_QUEUED, 10, now - 3 * hour);
  sg_queue_census_set (c, "MID", SG_MSG_QUEUED, 10, now - 2 * hour);
  gint64 age = metric ("spoolgate_queue_oldest_seconds");
  g_assert_cmpint (age / 60, ==, 3 * 60);
  sg_queue_census_set (c, "OLD", SG_MSG_DEFERRED, 10, now - 3 * hour);  /* still waiting */
  g_assert_cmpint (metric ("spoolgate_queue_oldest_seconds") / 60, ==, 3 * 60);
  sg_queue_census_set (c, "OLD", SG_MSG_DELIVERED, 10, now - 3 * hour); /* done */
  g_assert_cmpint (metric ("spoolgate_queue_oldest_seconds") / 60, ==, 2 * 60);
  sg_queue_census_forget (c, "MID");
  g_assert_cmpint (metric ("spoolgate_queue_oldest_seconds") / 60, ==, 1 * 60);
  sg_queue_census_set (c, "HELD", SG_MSG_QUEUED, 10, now - 9 * hour);   /* released */
  g_assert_cmpint (metric ("spoolgate_queue_oldest_seconds") / 60, ==, 9 * 60);
  g_autoptr(GHashTable) present = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_add (present, "DONE");
  sg_queue_census_retain (c, present);
  g_assert_cmpint (metric ("spoolgate_queue_oldest_seconds"), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL);
  g_test_add_func ("/queue/backoff", test_backoff);
  g_test_add_func ("/queue/apply/mixed", test_apply_mixed);
  g_test_add_func ("/queue/expire", test_expire);
  g_test_add_func ("/queue/lifetime-start", test_lifetime_start);
  g_test_add_func ("/queue/failed-lifetime", test_failed_lifetime);
  g_test_add_func ("/queue/dsn/once", test_dsn_once);
  g_test_add_func ("/queue/dsn/validates", test_dsn_validates);
  g_test_add_func ("/queue/census", test_census);
  g_test_add_func ("/queue/census/oldest", test_census_oldest);
  g_test_add_func ("/queue/dsn/notify", test_dsn_notify);
  g_test_add_func ("/queue/dsn/delay", test_dsn_delay);
  g_test_add_func ("/queue/dsn/ret-full", test_dsn_ret_full);
  return g_test_run ();
}
