/* test-spool-async.c - group commit tests: many commits from several threads
 * all reported in the caller's main context, batches sharing one fsync of
 * queue/, the bounded queue failing fast, and sg_spool_free draining. */
#include "spool_test_util.h"
#include "spool/spool_private.h"

#include <string.h>

#define HEADER       "Received: from x by y; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
#define BODY         "Subject: async\r\n\r\nhello\r\n"
#define N_THREADS    4
#define PER_THREAD   25
#define GROUP_SIZE   50
#define SMALL_QUEUE  8
#define OVERFLOW     3
#define DRAIN_COUNT  20

typedef struct {
  char         *dir;
  SgSpool      *spool;
  GMainContext *context;
  GThread      *main_thread;
  guint         done, failed, wrong_thread;
  GPtrArray    *errors;        /* messages of failed commits */
  GPtrArray    *ids;           /* queue IDs of successful commits */
} Fixture;

typedef struct {
  Fixture *f;
  guint    count;
} Submitter;

/* fixture_setup - a spool and a private main context pushed as thread default. */
static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->spool = sg_test_spool_new (&f->dir);
  if (data != NULL)
    sg_test_spool_use_syncfs (f->spool, *(const SgSpoolSyncMethod *) data);
  f->context = g_main_context_new ();
  g_main_context_push_thread_default (f->context);
  f->main_thread = g_thread_self ();
  f->errors = g_ptr_array_new_with_free_func (g_free);
  f->ids = g_ptr_array_new_with_free_func (g_free);
}

/* fixture_teardown - close everything and remove the directory. */
static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->spool, sg_spool_free);
  while (g_main_context_iteration (f->context, FALSE))
    ;
  g_main_context_pop_thread_default (f->context);
  g_main_context_unref (f->context);
  g_ptr_array_unref (f->errors);
  g_ptr_array_unref (f->ids);
  sg_test_rmtree (f->dir);
  g_free (f->dir);
}

/* on_committed - count a result; must run on the thread owning the context. */
static void
on_committed (SgMeta *meta, const GError *error, gpointer user_data)
{
  Fixture *f = user_data;

  if (g_thread_self () != f->main_thread)
    f->wrong_thread++;
  if (error != NULL)
    {
      f->failed++;
      g_ptr_array_add (f->errors, g_strdup (error->message));
    }
  else
    {
      g_assert_nonnull (meta->sha256);
      g_ptr_array_add (f->ids, g_strdup (meta->queue_id));
    }
  f->done++;
}

/* submit - queue one async commit reporting to f's context. */
static void
submit (Fixture *f)
{
  g_autoptr(GBytes) header = g_bytes_new_static (HEADER, strlen (HEADER));
  g_autoptr(GBytes) body = g_bytes_new_static (BODY, strlen (BODY));

  sg_spool_commit_async (f->spool, sg_test_sample_meta (), header, body, f->context,
                         on_committed, f);
}

/* wait_for - iterate the context until n results arrived. */
static void
wait_for (Fixture *f, guint n)
{
  while (f->done < n)
    g_main_context_iteration (f->context, TRUE);
}

/* assert_on_disk - every successful commit has both files in queue/. */
static void
assert_on_disk (Fixture *f)
{
  g_autofree char *queue = g_build_filename (f->dir, "queue", NULL);

  g_assert_cmpuint (sg_test_count (queue, ".eml"), ==, f->ids->len);
  g_assert_cmpuint (sg_test_count (queue, ".json"), ==, f->ids->len);
  for (guint i = 0; i < f->ids->len; i++)
    {
      g_autofree char *name = g_strconcat (g_ptr_array_index (f->ids, i), ".eml", NULL);
      g_autofree char *path = g_build_filename (queue, name, NULL);
      g_autofree char *data = NULL;

      g_assert_true (g_file_get_contents (path, &data, NULL, NULL));
      g_assert_cmpstr (data, ==, HEADER BODY);
    }
}

/* submitter_thread - submit count commits. */
static gpointer
submitter_thread (gpointer data)
{
  Submitter *s = data;

  for (guint i = 0; i < s->count; i++)
    submit (s->f);
  return NULL;
}

/* /spool/async/many - commits from several threads all succeed, each callback
 * on the context's thread. */
static void
test_many (Fixture *f, gconstpointer data)
{
  GThread *threads[N_THREADS];
  Submitter s = { f, PER_THREAD };

  for (guint t = 0; t < N_THREADS; t++)
    threads[t] = g_thread_new ("submit", submitter_thread, &s);
  for (guint t = 0; t < N_THREADS; t++)
    g_thread_join (threads[t]);
  wait_for (f, N_THREADS * PER_THREAD);
  g_assert_cmpuint (f->failed, ==, 0);
  g_assert_cmpuint (f->wrong_thread, ==, 0);
  g_assert_cmpuint (f->ids->len, ==, N_THREADS * PER_THREAD);
  g_assert_cmpuint (sg_spool_flush_rounds (f->spool), <=, N_THREADS * PER_THREAD);
  g_test_message ("%u commits in %u flush rounds", f->ids->len, sg_spool_flush_rounds (f->spool));
  assert_on_disk (f);
}

/* /spool/async/group - commits queued together share one fsync of queue/. */
static void
test_group (Fixture *f, gconstpointer data)
{
  guint before = sg_spool_flush_rounds (f->spool);

  G_STATIC_ASSERT (GROUP_SIZE <= SG_SPOOL_MAX_BATCH);
  sg_spool_commit_hold (f->spool, TRUE);
  for (guint i = 0; i < GROUP_SIZE; i++)
    submit (f);
  g_assert_cmpuint (sg_spool_flush_rounds (f->spool), ==, before);
  sg_spool_commit_hold (f->spool, FALSE);
  wait_for (f, GROUP_SIZE);
  g_assert_cmpuint (f->failed, ==, 0);
  g_assert_cmpuint (sg_spool_flush_rounds (f->spool), ==, before + 1);
  assert_on_disk (f);
}

/* /spool/async/queue-full - beyond the bound a commit fails fast, later,
 * through the context; the rest still commit. */
static void
test_queue_full (Fixture *f, gconstpointer data)
{
  sg_spool_set_commit_limits (f->spool, SMALL_QUEUE, SG_SPOOL_MAX_PENDING_BYTES, 0);
  sg_spool_commit_hold (f->spool, TRUE);
  for (guint i = 0; i < SMALL_QUEUE + OVERFLOW; i++)
    submit (f);
  g_assert_cmpuint (f->done, ==, 0);   /* never called from within the submit */
  wait_for (f, OVERFLOW);
  g_assert_cmpuint (f->failed, ==, OVERFLOW);
  g_assert_nonnull (strstr (g_ptr_array_index (f->errors, 0), "queue full"));
  sg_spool_commit_hold (f->spool, FALSE);
  wait_for (f, SMALL_QUEUE + OVERFLOW);
  g_assert_cmpuint (f->failed, ==, OVERFLOW);
  g_assert_cmpuint (f->ids->len, ==, SMALL_QUEUE);
  g_assert_cmpuint (f->wrong_thread, ==, 0);
  assert_on_disk (f);
}

/* overflow_thread - one commit past the bound; returns once it is queued
 * or refused. */
static gpointer
overflow_thread (gpointer data)
{
  Fixture *f = data;
  submit (f);
  return GINT_TO_POINTER (1);
}

/* /spool/async/queue-wait - past the bound a commit waits for room
 * ([spool] commit_queue_wait): it is taken once the committer moves on, and
 * refused only when the wait runs out. */
static void
test_queue_wait (Fixture *f, gconstpointer data)
{
  sg_spool_set_commit_limits (f->spool, SMALL_QUEUE, SG_SPOOL_MAX_PENDING_BYTES, 10);
  sg_spool_commit_hold (f->spool, TRUE);
  for (guint i = 0; i < SMALL_QUEUE; i++)
    submit (f);
  gint64 start = g_get_monotonic_time ();
  GThread *t = g_thread_new ("overflow", overflow_thread, f);
  g_usleep (300 * 1000);   /* a sleep: nothing is to happen meanwhile */
  g_assert_cmpuint (f->done, ==, 0);          /* still waiting, nothing refused */
  sg_spool_commit_hold (f->spool, FALSE);
  g_thread_join (t);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 10 * G_USEC_PER_SEC);
  wait_for (f, SMALL_QUEUE + 1);
  g_assert_cmpuint (f->failed, ==, 0);
  g_assert_cmpuint (f->ids->len, ==, SMALL_QUEUE + 1);

  /* the wait runs out while the committer stays held: 451 after it */
  sg_spool_set_commit_limits (f->spool, SMALL_QUEUE, SG_SPOOL_MAX_PENDING_BYTES, 1);
  sg_spool_commit_hold (f->spool, TRUE);
  for (guint i = 0; i < SMALL_QUEUE; i++)
    submit (f);
  start = g_get_monotonic_time ();
  t = g_thread_new ("overflow", overflow_thread, f);
  g_thread_join (t);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, G_USEC_PER_SEC);
  wait_for (f, SMALL_QUEUE + 2);
  g_assert_cmpuint (f->failed, ==, 1);
  g_assert_nonnull (strstr (g_ptr_array_index (f->errors, 0), "queue full"));
  sg_spool_commit_hold (f->spool, FALSE);
  wait_for (f, 2 * SMALL_QUEUE + 2);
  g_assert_cmpuint (f->ids->len, ==, 2 * SMALL_QUEUE + 1);
}

/* /spool/async/free-drains - sg_spool_free finishes queued commits; their
 * callbacks come when the context runs. */
static void
test_free_drains (Fixture *f, gconstpointer data)
{
  sg_spool_commit_hold (f->spool, TRUE);
  for (guint i = 0; i < DRAIN_COUNT; i++)
    submit (f);
  g_clear_pointer (&f->spool, sg_spool_free);
  g_assert_cmpuint (f->done, ==, 0);
  wait_for (f, DRAIN_COUNT);
  g_assert_cmpuint (f->failed, ==, 0);
  g_assert_cmpuint (f->wrong_thread, ==, 0);
  assert_on_disk (f);
}

/* /spool/async/error - a failed async commit reports its GError. */
static void
test_error (Fixture *f, gconstpointer data)
{
  g_autoptr(SgMeta) first = sg_test_sample_meta ();
  SgMeta *dup = sg_test_sample_meta ();
  g_autoptr(GBytes) header = g_bytes_new_static (HEADER, strlen (HEADER));
  g_autoptr(GBytes) body = g_bytes_new_static (BODY, strlen (BODY));
  g_autoptr(GError) error = NULL;

  g_assert_true (sg_spool_commit (f->spool, first, header, body, &error));
  g_free (dup->queue_id);
  dup->queue_id = g_strdup (first->queue_id);
  sg_spool_commit_async (f->spool, dup, header, body, NULL /* thread default */,
                         on_committed, f);
  wait_for (f, 1);
  g_assert_cmpuint (f->failed, ==, 1);
  g_assert_nonnull (strstr (g_ptr_array_index (f->errors, 0), first->queue_id));
  g_assert_cmpuint (f->wrong_thread, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* every test with each [spool] sync_method: NULL is the default, fdatasync */
  static const SgSpoolSyncMethod syncfs = SG_SPOOL_SYNC_SYNCFS;
  static const struct { const char *prefix; const SgSpoolSyncMethod *method; } methods[] = {
    { "/spool/async", NULL }, { "/spool/async/syncfs", &syncfs },
  };
  static const struct { const char *name; void (*test) (Fixture *, gconstpointer); } tests[] = {
    { "many", test_many }, { "group", test_group }, { "queue-full", test_queue_full },
    { "queue-wait", test_queue_wait }, { "free-drains", test_free_drains }, { "error", test_error },
  };
  for (guint m = 0; m < G_N_ELEMENTS (methods); m++)
    for (guint t = 0; t < G_N_ELEMENTS (tests); t++)
      {
        g_autofree char *path = g_strdup_printf ("%s/%s", methods[m].prefix, tests[t].name);
        g_test_add (path, Fixture, methods[m].method, fixture_setup, tests[t].test, fixture_teardown);
      }
  return g_test_run ();
}
