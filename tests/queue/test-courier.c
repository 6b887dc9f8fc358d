/* test-courier.c - the queue runner and its delivery workers driven through
 * a fake courier (queue/courier.h), on a real spool in a temporary
 * directory and without any network: per-recipient results recorded in the
 * metadata, the retry schedule (min_backoff doubled per attempt, capped at
 * max_backoff), non-delivery reports for permanent failures and for expiry
 * (delivered through the same courier), a courier that cannot connect,
 * session reuse, and the open message the spool hands out (fd, size,
 * 8-bit recorded at intake or found once for older metadata).
 *
 * A retry is made due the way `spoolgate retry` does it: next_attempt set
 * to 0 under the message lock, then the runner told. Waits are on
 * conditions (the metadata on disk, what the fake saw), never on time; the
 * deadline only stops a hung test. */
#include "queue/runner.h"
#include "queue/courier.h"
#include "spool/spool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RELAY        "fake.example[192.0.2.1]:25"
#define REFUSED      "connect to fake.example[192.0.2.1]:25: Connection refused"
#define MIN_BACKOFF  60
#define MAX_BACKOFF  240
#define WAIT_LIMIT_S 60   /* a hung test fails after this; never reached when it works */

/* ---- the fake courier ---- */

/* One message as the fake received it. */
typedef struct {
  char    *sender;
  char    *rcpts;      /* "a,b,c" in the order given */
  GBytes  *content;    /* read from the fd the worker handed over */
  guint64  size;
  gboolean eightbit;
} Sent;

static void
sent_free (gpointer p)
{
  Sent *s = p;
  g_free (s->sender);
  g_free (s->rcpts);
  g_bytes_unref (s->content);
  g_free (s);
}

typedef struct {
  SgCourier   base;
  GMutex      lock;        /* the workers are threads */
  GHashTable *replies;     /* address -> reply "NNN text"; others get 250 */
  gboolean    refuse;      /* open fails as a refused connection */
  gboolean    drop;        /* a session is unusable after one message (a 421) */
  guint       opens, open_failures, closes, resets, cancels;
  GPtrArray  *sent;        /* Sent* */
  gboolean    freed;       /* the runner let go of it */
} Fake;

typedef struct {
  SgCourierSession base;
  gboolean         usable;
} FakeSession;

static SgCourierSession *
fake_open (SgCourier *courier, SgCourierReached *reached, GError **error)
{
  Fake *f = (Fake *) courier;
  g_mutex_lock (&f->lock);
  gboolean refuse = f->refuse;
  f->opens++;
  f->open_failures += refuse;
  g_mutex_unlock (&f->lock);
  if (refuse)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED, REFUSED);
      return NULL;
    }
  if (reached)
    reached->relay = g_strdup (RELAY);
  FakeSession *s = g_new0 (FakeSession, 1);
  s->base.courier = courier;
  s->usable = TRUE;
  return &s->base;
}

static gboolean
fake_reset (SgCourierSession *s, GError **error)
{
  Fake *f = (Fake *) s->courier;
  g_mutex_lock (&f->lock);
  f->resets++;
  g_mutex_unlock (&f->lock);
  return TRUE;
}

/* read_all - the message from its fd, as a courier must read it: pread from 0. */
static GBytes *
read_all (int fd, guint64 size)
{
  guint8 *buf = g_malloc (size + 1);
  guint64 got = 0;
  while (got < size)
    {
      ssize_t n = pread (fd, buf + got, size - got, (off_t) got);
      if (n < 0 && errno == EINTR)
        continue;
      g_assert_cmpint (n, >, 0);
      got += (guint64) n;
    }
  return g_bytes_new_take (buf, size);
}

static gboolean
fake_send (SgCourierSession *session, const SgCourierMessage *msg, GPtrArray *outcomes,
           GError **error)
{
  FakeSession *s = (FakeSession *) session;
  Fake *f = (Fake *) session->courier;
  g_assert_true (s->usable);
  Sent *sent = g_new0 (Sent, 1);
  sent->sender = g_strdup (msg->sender);
  sent->content = read_all (msg->fd, msg->size);
  sent->size = msg->size;
  sent->eightbit = msg->eightbit;
  GString *rcpts = g_string_new (NULL);
  g_mutex_lock (&f->lock);
  for (guint i = 0; i < outcomes->len; i++)
    {
      SgRcptOutcome *o = g_ptr_array_index (outcomes, i);
      const char *reply = g_hash_table_lookup (f->replies, o->address);
      o->reply = g_strdup (reply ? reply : "250 2.0.0 Ok: queued");
      o->code = (guint) g_ascii_strtoull (o->reply, NULL, 10);
      g_string_append_printf (rcpts, "%s%s", i ? "," : "", o->address);
    }
  sent->rcpts = g_string_free (rcpts, FALSE);
  g_ptr_array_add (f->sent, sent);
  s->usable = !f->drop;
  g_mutex_unlock (&f->lock);
  return TRUE;
}

static gboolean
fake_usable (SgCourierSession *s)
{
  return ((FakeSession *) s)->usable;
}

static void
fake_reached (SgCourierSession *s, SgCourierReached *r)
{
  r->relay = g_strdup (RELAY);
}

static void
fake_close (SgCourierSession *s)
{
  Fake *f = (Fake *) s->courier;
  g_mutex_lock (&f->lock);
  f->closes++;
  g_mutex_unlock (&f->lock);
  g_free (s);
}

static void
fake_cancel (SgCourier *courier)
{
  Fake *f = (Fake *) courier;
  g_mutex_lock (&f->lock);
  f->cancels++;
  g_mutex_unlock (&f->lock);
}

/* fake_free - the runner is done with it; the test reads it afterwards. */
static void
fake_free (SgCourier *courier)
{
  ((Fake *) courier)->freed = TRUE;
}

static const SgCourierOps fake_ops = {
  .open = fake_open, .reset = fake_reset, .send = fake_send, .usable = fake_usable,
  .reached = fake_reached, .close = fake_close, .cancel = fake_cancel, .free = fake_free,
};

/* ---- fixture: a spool, a config, a main context, the fake ---- */

typedef struct {
  char          *dir;
  SgSpool       *spool;
  SgConfig      *config;
  GMainContext  *context;
  GSource       *tick;     /* wakes the loop so that a hang meets its deadline */
  Fake           fake;
  SgQueueRunner *runner;
} Fixture;

static gboolean
tick (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  f->dir = g_dir_make_tmp ("sg-courier-XXXXXX", &error);
  g_assert_no_error (error);
  f->spool = sg_spool_open (f->dir, &error);
  g_assert_no_error (error);
  f->config = sg_config_new ();
  g_free (f->config->hostname);
  f->config->hostname = g_strdup ("gate.example");
  f->config->smarthost_host = g_strdup ("fake.example");
  f->config->queue_concurrency = 1;
  f->config->queue_min_backoff = MIN_BACKOFF;
  f->config->queue_max_backoff = MAX_BACKOFF;
  f->config->queue_max_lifetime = 5 * 86400;
  f->config->queue_keep_delivered = 0;
  f->config->queue_scan_interval = 3600;
  f->context = g_main_context_new ();
  g_main_context_push_thread_default (f->context);
  f->tick = g_timeout_source_new (50);
  g_source_set_callback (f->tick, tick, NULL, NULL);
  g_source_attach (f->tick, f->context);
  f->fake.base.ops = &fake_ops;
  g_mutex_init (&f->fake.lock);
  f->fake.replies = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  f->fake.sent = g_ptr_array_new_with_free_func (sent_free);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->runner, sg_queue_runner_free);
  g_assert_true (f->fake.freed);
  g_assert_cmpuint (f->fake.cancels, ==, 1);
  /* every session opened was closed, the kept one at shutdown */
  g_assert_cmpuint (f->fake.closes, ==, f->fake.opens - f->fake.open_failures);
  g_hash_table_unref (f->fake.replies);
  g_ptr_array_unref (f->fake.sent);
  g_mutex_clear (&f->fake.lock);
  g_source_destroy (f->tick);
  g_source_unref (f->tick);
  g_main_context_pop_thread_default (f->context);
  g_main_context_unref (f->context);
  g_clear_pointer (&f->spool, sg_spool_free);
  sg_config_free (f->config);
  g_autofree char *rm = g_strdup_printf ("rm -rf '%s'", f->dir);
  g_assert_cmpint (system (rm), ==, 0);
  g_free (f->dir);
}

static void
reply (Fixture *f, const char *address, const char *text)
{
  g_mutex_lock (&f->fake.lock);
  if (text)
    g_hash_table_insert (f->fake.replies, g_strdup (address), g_strdup (text));
  else
    g_hash_table_remove (f->fake.replies, address);
  g_mutex_unlock (&f->fake.lock);
}

static guint
sent_count (Fixture *f)
{
  g_mutex_lock (&f->fake.lock);
  guint n = f->fake.sent->len;
  g_mutex_unlock (&f->fake.lock);
  return n;
}

/* sent - the n-th message the fake received (borrowed; the array only grows). */
static const Sent *
sent (Fixture *f, guint n)
{
  g_mutex_lock (&f->fake.lock);
  g_assert_cmpuint (n, <, f->fake.sent->len);
  const Sent *s = g_ptr_array_index (f->fake.sent, n);
  g_mutex_unlock (&f->fake.lock);
  return s;
}

#define HEADER "Received: from client.example ([192.0.2.7])\r\n\tby gate.example (spoolgate) " \
               "with ESMTP; Mon, 7 Dec 2026 20:00:00 +0000\r\n"
#define BODY   "From: alice@example.com\r\nTo: ok@example.org\r\nSubject: hello\r\n" \
               "Date: Mon, 7 Dec 2026 20:00:00 +0000\r\nMessage-ID: <1@example.com>\r\n\r\nhello\r\n"

/* queue - commit a message from alice to rcpts (NULL-terminated), with
 * body and eightbit as intake would record them; its ID (transfer full). */
static char *
queue (Fixture *f, const char *body, SgEightBit eightbit, const char *const *rcpts)
{
  g_autoptr(SgMeta) m = sg_meta_new ();
  m->sender = g_strdup ("alice@example.com");
  for (guint i = 0; rcpts[i]; i++)
    sg_meta_add_recipient (m, rcpts[i]);
  m->eightbit = eightbit;
  m->client_address = g_strdup ("192.0.2.7");
  m->protocol = g_strdup ("ESMTP");
  m->state = SG_MSG_QUEUED;
  g_autoptr(GBytes) header = g_bytes_new_static (HEADER, strlen (HEADER));
  g_autoptr(GBytes) content = g_bytes_new (body, strlen (body));
  g_autoptr(GError) error = NULL;
  g_assert_true (sg_spool_commit (f->spool, m, header, content, &error));
  g_assert_no_error (error);
  return g_strdup (m->queue_id);
}

static void
start (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  f->runner = sg_queue_runner_new (f->config, f->spool, f->context, NULL, NULL, &f->fake.base,
                                   &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->runner);
}

/* load - id's metadata now; NULL once it is gone (transfer full). */
static SgMeta *
load (Fixture *f, const char *id)
{
  g_autoptr(GError) error = NULL;
  SgMeta *m = sg_spool_load_meta (f->spool, id, &error);
  if (!m)
    g_assert_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND);
  return m;
}

/* Run the main loop until expr holds. */
#define WAIT_UNTIL(f, expr) G_STMT_START {                                             \
    gint64 until_ = g_get_monotonic_time () + WAIT_LIMIT_S * G_USEC_PER_SEC;          \
    while (!(expr))                                                                   \
      {                                                                               \
        if (g_get_monotonic_time () > until_)                                         \
          g_error ("still waiting for %s", #expr);                                    \
        g_main_context_iteration ((f)->context, TRUE);                                \
      }                                                                               \
  } G_STMT_END

static guint
attempts_of (Fixture *f, const char *id)
{
  g_autoptr(SgMeta) m = load (f, id);
  return m ? m->attempts : G_MAXUINT;
}

static SgMsgState
state_of (Fixture *f, const char *id)
{
  g_autoptr(SgMeta) m = load (f, id);
  return m ? m->state : (SgMsgState) -1;
}

static gboolean
gone (Fixture *f, const char *id)
{
  g_autoptr(SgMeta) m = load (f, id);
  return m == NULL;
}

/* retry_now - `spoolgate retry`: due now, under the lock, then the runner told. */
static void
retry_now (Fixture *f, const char *id)
{
  g_autoptr(GError) error = NULL;
  int lock = sg_spool_lock_message (f->spool, id, TRUE, &error);
  g_assert_no_error (error);
  g_autoptr(SgMeta) m = load (f, id);
  m->next_attempt = 0;
  g_assert_true (sg_spool_update_meta (f->spool, m, &error));
  g_assert_no_error (error);
  sg_spool_unlock_message (lock);
  sg_queue_runner_notify (f->runner, id);
}

/* last_attempt - the newest attempt_history entry (borrowed from m). */
static JsonObject *
last_attempt (const SgMeta *m)
{
  JsonArray *h = json_node_get_array (m->attempt_history);
  g_assert_cmpuint (json_array_get_length (h), >, 0);
  return json_array_get_object_element (h, json_array_get_length (h) - 1);
}

static const SgMetaRecipient *
rcpt (const SgMeta *m, guint i)
{
  return g_ptr_array_index (m->recipients, i);
}

/* find_bounce - the index of the first message the fake got from <>, or -1. */
static gint
find_bounce (Fixture *f)
{
  for (guint i = 0; i < sent_count (f); i++)
    if (sent (f, i)->sender[0] == '\0')
      return (gint) i;
  return -1;
}

static gboolean
contains (GBytes *b, const char *needle)
{
  gsize len;
  const char *p = g_bytes_get_data (b, &len);
  return g_strstr_len (p, (gssize) len, needle) != NULL;
}

/* /queue/courier/recipients - one attempt, three answers: 250 delivered,
 * 451 deferred with the backoff, 550 failed; the next attempt goes to the
 * deferred one only, over the same session; once none is pending the
 * failed one is reported to the sender, through the courier too. */
static void
test_recipients (Fixture *f, gconstpointer data)
{
  reply (f, "later@example.org", "451 4.2.0 mailbox busy");
  reply (f, "bad@example.org", "550 5.1.1 <bad@example.org>: no such user");
  g_autofree char *id = queue (f, BODY, SG_EIGHTBIT_NO, (const char *const[])
                               { "ok@example.org", "later@example.org", "bad@example.org", NULL });
  start (f);
  WAIT_UNTIL (f, attempts_of (f, id) == 1);

  g_autoptr(SgMeta) m = load (f, id);
  g_assert_cmpint (m->state, ==, SG_MSG_DEFERRED);
  g_assert_cmpint (rcpt (m, 0)->status, ==, SG_RCPT_DELIVERED);
  g_assert_cmpint (rcpt (m, 1)->status, ==, SG_RCPT_DEFERRED);
  g_assert_cmpint (rcpt (m, 2)->status, ==, SG_RCPT_FAILED);
  g_assert_cmpstr (rcpt (m, 0)->delay_reason, ==, "250 2.0.0 Ok: queued");
  g_assert_cmpstr (rcpt (m, 1)->delay_reason, ==, "451 4.2.0 mailbox busy");
  g_assert_cmpstr (rcpt (m, 2)->delay_reason, ==, "550 5.1.1 <bad@example.org>: no such user");
  g_assert_cmpstr (m->last_error, ==, "451 4.2.0 mailbox busy");
  JsonObject *a = last_attempt (m);
  g_assert_cmpstr (json_object_get_string_member (a, "result"), ==, "mixed");
  g_assert_cmpstr (json_object_get_string_member (a, "relay"), ==, RELAY);
  g_assert_cmpint (m->next_attempt, ==, json_object_get_int_member (a, "time") + MIN_BACKOFF);
  g_assert_cmpint (rcpt (m, 2)->bounced, ==, 0);   /* reported when the message is done */

  /* what the courier got: the envelope and the spooled file, byte for byte */
  g_assert_cmpuint (sent_count (f), ==, 1);
  const Sent *s = sent (f, 0);
  g_assert_cmpstr (s->sender, ==, "alice@example.com");
  g_assert_cmpstr (s->rcpts, ==, "ok@example.org,later@example.org,bad@example.org");
  g_assert_cmpuint (s->size, ==, strlen (HEADER BODY));
  g_assert_cmpmem (g_bytes_get_data (s->content, NULL), s->size, HEADER BODY, strlen (HEADER BODY));
  g_assert_false (s->eightbit);

  reply (f, "later@example.org", NULL);
  retry_now (f, id);
  WAIT_UNTIL (f, state_of (f, id) == SG_MSG_FAILED);
  g_clear_pointer (&m, sg_meta_free);
  m = load (f, id);
  g_assert_cmpuint (m->attempts, ==, 2);
  g_assert_cmpstr (sent (f, 1)->rcpts, ==, "later@example.org");
  g_assert_cmpint (rcpt (m, 1)->status, ==, SG_RCPT_DELIVERED);
  g_assert_cmpint (rcpt (m, 2)->status, ==, SG_RCPT_FAILED);
  g_assert_cmpint (rcpt (m, 2)->bounced, >, 0);
  g_assert_cmpint (rcpt (m, 0)->bounced, ==, 0);

  WAIT_UNTIL (f, find_bounce (f) >= 0);
  const Sent *b = sent (f, (guint) find_bounce (f));
  g_assert_cmpstr (b->rcpts, ==, "alice@example.com");
  g_assert_true (contains (b->content, "Final-Recipient: rfc822; bad@example.org\r\nAction: failed\r\n"));
  g_assert_true (contains (b->content, "550 5.1.1 <bad@example.org>: no such user"));
  g_assert_false (contains (b->content, "Final-Recipient: rfc822; ok@example.org"));
  g_assert_false (contains (b->content, "Final-Recipient: rfc822; later@example.org"));
  g_assert_cmpuint (sent_count (f), ==, 3);
  /* one session for all three, reset before each reuse */
  g_assert_cmpuint (f->fake.opens, ==, 1);
  g_assert_cmpuint (f->fake.resets, ==, 2);
}

/* /queue/courier/backoff - every attempt deferred: the next one is
 * min_backoff after it, doubled per attempt up to max_backoff; nothing is
 * reported while the message lives. */
static void
test_backoff (Fixture *f, gconstpointer data)
{
  static const gint64 want[] = { MIN_BACKOFF, 2 * MIN_BACKOFF, MAX_BACKOFF, MAX_BACKOFF };
  reply (f, "later@example.org", "421 4.3.0 try again later");
  g_autofree char *id = queue (f, BODY, SG_EIGHTBIT_NO, (const char *const[])
                               { "later@example.org", NULL });
  start (f);
  for (guint n = 1; n <= G_N_ELEMENTS (want); n++)
    {
      if (n > 1)
        retry_now (f, id);
      WAIT_UNTIL (f, attempts_of (f, id) == n);
      g_autoptr(SgMeta) m = load (f, id);
      JsonObject *a = last_attempt (m);
      g_assert_cmpint (m->state, ==, SG_MSG_DEFERRED);
      g_assert_cmpstr (json_object_get_string_member (a, "result"), ==, "deferred");
      gint64 got = m->next_attempt - json_object_get_int_member (a, "time");
      if (got != want[n - 1])
        g_error ("after attempt %u: next attempt %" G_GINT64_FORMAT " s later, want %"
                 G_GINT64_FORMAT, n, got, want[n - 1]);
      g_assert_cmpuint (json_array_get_length (json_node_get_array (m->attempt_history)), ==, n);
    }
  g_assert_cmpuint (sent_count (f), ==, G_N_ELEMENTS (want));
  g_assert_cmpint (find_bounce (f), ==, -1);
}

/* /queue/courier/expiry - deferred past max_lifetime: failed with the last
 * reply and reported, without another attempt. */
static void
test_expiry (Fixture *f, gconstpointer data)
{
  reply (f, "later@example.org", "451 4.3.0 try again later");
  g_autofree char *id = queue (f, BODY, SG_EIGHTBIT_NO, (const char *const[])
                               { "later@example.org", NULL });
  start (f);
  WAIT_UNTIL (f, attempts_of (f, id) == 1);
  /* its lifetime began long ago: as if max_lifetime had run out */
  g_autoptr(GError) error = NULL;
  int lock = sg_spool_lock_message (f->spool, id, TRUE, &error);
  g_assert_no_error (error);
  g_autoptr(SgMeta) m = load (f, id);
  m->lifetime_start = 1;
  g_assert_true (sg_spool_update_meta (f->spool, m, &error));
  sg_spool_unlock_message (lock);
  retry_now (f, id);
  WAIT_UNTIL (f, state_of (f, id) == SG_MSG_FAILED);
  g_clear_pointer (&m, sg_meta_free);
  m = load (f, id);
  g_assert_cmpuint (m->attempts, ==, 1);
  g_assert_cmpint (rcpt (m, 0)->status, ==, SG_RCPT_FAILED);
  g_assert_cmpstr (rcpt (m, 0)->delay_reason, ==,
                   "expired after 1 attempt: 451 4.3.0 try again later");
  g_assert_cmpstr (json_object_get_string_member (last_attempt (m), "result"), ==, "expired");
  g_assert_cmpint (rcpt (m, 0)->bounced, >, 0);
  WAIT_UNTIL (f, find_bounce (f) >= 0);
  const Sent *b = sent (f, (guint) find_bounce (f));
  g_assert_cmpstr (b->rcpts, ==, "alice@example.com");
  g_assert_true (contains (b->content, "Final-Recipient: rfc822; later@example.org\r\nAction: failed\r\n"));
  g_assert_true (contains (b->content, "expired after 1 attempt"));
  g_assert_cmpuint (sent_count (f), ==, 2);   /* the one attempt, then the report */
}

/* /queue/courier/no-connection - a courier that cannot reach the next hop:
 * every recipient deferred with the reason, nothing sent; the next attempt
 * opens a session again and delivers. */
static void
test_no_connection (Fixture *f, gconstpointer data)
{
  f->fake.refuse = TRUE;
  g_autofree char *id = queue (f, BODY, SG_EIGHTBIT_NO, (const char *const[])
                               { "ok@example.org", "also@example.org", NULL });
  start (f);
  WAIT_UNTIL (f, attempts_of (f, id) == 1);
  g_autoptr(SgMeta) m = load (f, id);
  g_assert_cmpint (m->state, ==, SG_MSG_DEFERRED);
  for (guint i = 0; i < 2; i++)
    {
      g_assert_cmpint (rcpt (m, i)->status, ==, SG_RCPT_DEFERRED);
      g_assert_cmpstr (rcpt (m, i)->delay_reason, ==, REFUSED);
    }
  JsonObject *a = last_attempt (m);
  g_assert_cmpstr (json_object_get_string_member (a, "result"), ==, "deferred");
  g_assert_cmpstr (json_object_get_string_member (a, "reply"), ==, REFUSED);
  g_assert_true (json_object_get_null_member (a, "relay"));
  g_assert_cmpint (m->next_attempt, ==, json_object_get_int_member (a, "time") + MIN_BACKOFF);
  g_assert_cmpuint (sent_count (f), ==, 0);

  g_mutex_lock (&f->fake.lock);
  f->fake.refuse = FALSE;
  g_mutex_unlock (&f->fake.lock);
  retry_now (f, id);
  WAIT_UNTIL (f, gone (f, id));   /* delivered to both; keep_delivered = 0 */
  g_assert_cmpuint (sent_count (f), ==, 1);
  g_assert_cmpstr (sent (f, 0)->rcpts, ==, "ok@example.org,also@example.org");
  g_assert_cmpuint (f->fake.opens, ==, 2);
}

/* /queue/courier/unusable - a session the courier says is spent after a
 * message is closed, and the next message gets a new one. */
static void
test_unusable (Fixture *f, gconstpointer data)
{
  f->fake.drop = TRUE;
  g_autofree char *a = queue (f, BODY, SG_EIGHTBIT_NO, (const char *const[]) { "a@example.org", NULL });
  g_autofree char *b = queue (f, BODY, SG_EIGHTBIT_NO, (const char *const[]) { "b@example.org", NULL });
  start (f);
  WAIT_UNTIL (f, gone (f, a) && gone (f, b));
  g_assert_cmpuint (sent_count (f), ==, 2);
  g_assert_cmpuint (f->fake.opens, ==, 2);
  g_assert_cmpuint (f->fake.closes, ==, 2);
  g_assert_cmpuint (f->fake.resets, ==, 0);
}

#define BODY_8BIT "From: alice@example.com\r\nTo: ok@example.org\r\nSubject: caf\xc3\xa9\r\n" \
                  "Date: Mon, 7 Dec 2026 20:00:00 +0000\r\nMessage-ID: <2@example.com>\r\n" \
                  "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n" \
                  "Content-Transfer-Encoding: 8bit\r\n\r\ncaf\xc3\xa9\r\n"

/* /queue/courier/eightbit - the courier is told what intake recorded;
 * metadata from before the record (unknown) has the file read once, and
 * the answer is written to the metadata with the attempt. */
static void
test_eightbit (Fixture *f, gconstpointer data)
{
  static const struct {
    const char *body;
    SgEightBit  recorded;
    gboolean    want;
  } cases[] = {
    { BODY, SG_EIGHTBIT_NO, FALSE },
    { BODY_8BIT, SG_EIGHTBIT_YES, TRUE },
    { BODY, SG_EIGHTBIT_UNKNOWN, FALSE },
    { BODY_8BIT, SG_EIGHTBIT_UNKNOWN, TRUE },
  };
  char *ids[G_N_ELEMENTS (cases)];
  reply (f, "later@example.org", "451 4.3.0 try again later");   /* keeps the metadata */
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    ids[i] = queue (f, cases[i].body, cases[i].recorded, (const char *const[])
                    { "later@example.org", NULL });
  start (f);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    WAIT_UNTIL (f, attempts_of (f, ids[i]) == 1);
  g_assert_cmpuint (sent_count (f), ==, G_N_ELEMENTS (cases));
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const Sent *s = NULL;
      for (guint j = 0; j < sent_count (f); j++)
        if (g_bytes_get_size (sent (f, j)->content) == strlen (HEADER) + strlen (cases[i].body)
            && contains (sent (f, j)->content, cases[i].body))
          s = sent (f, j);
      g_assert_nonnull (s);
      if (s->eightbit != cases[i].want)
        g_error ("case %u: courier told eightbit=%d, want %d", i, s->eightbit, cases[i].want);
      g_autoptr(SgMeta) m = load (f, ids[i]);
      g_assert_cmpint (m->eightbit, ==, cases[i].want ? SG_EIGHTBIT_YES : SG_EIGHTBIT_NO);
      g_free (ids[i]);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, setup, fn, teardown)
  ADD ("/queue/courier/recipients", test_recipients);
  ADD ("/queue/courier/backoff", test_backoff);
  ADD ("/queue/courier/expiry", test_expiry);
  ADD ("/queue/courier/no-connection", test_no_connection);
  ADD ("/queue/courier/unusable", test_unusable);
  ADD ("/queue/courier/eightbit", test_eightbit);
#undef ADD
  return g_test_run ();
}
