/* test-queue-id.c - queue ID tests: format, uniqueness across threads,
 * strict ordering within a process, and the encoded time. */
#include "spool/queue_id.h"

#include <string.h>

#define N_THREADS      4
#define IDS_PER_THREAD 20000
#define SEQUENTIAL_IDS 100000
#define ALPHABET       "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

/* gen_thread - make IDS_PER_THREAD IDs into the char array given. */
static gpointer
gen_thread (gpointer data)
{
  char *out = data;

  for (guint i = 0; i < IDS_PER_THREAD; i++)
    sg_queue_id_generate (out + (gsize) i * (SG_QUEUE_ID_LEN + 1));
  return NULL;
}

/* /spool/queue-id/format - right length, alphabet and validity. */
static void
test_format (void)
{
  char id[SG_QUEUE_ID_LEN + 1];

  sg_queue_id_generate (id);
  g_assert_cmpuint (strlen (id), ==, SG_QUEUE_ID_LEN);
  g_assert_cmpuint (strspn (id, ALPHABET), ==, SG_QUEUE_ID_LEN);
  g_assert_true (sg_queue_id_valid (id));
}

/* /spool/queue-id/valid - table of good and bad strings. */
static void
test_valid (void)
{
  static const struct { const char *s; gboolean valid; } cases[] = {
    { "0123456789ABCDEFGHJK", TRUE },
    { "ZZZZZZZZZZZZZZZZZZZZ", TRUE },
    { "0123456789ABCDEFGHJ", FALSE },       /* too short */
    { "0123456789ABCDEFGHJKM", FALSE },     /* too long */
    { "0123456789ABCDEFGHIK", FALSE },      /* I is not Crockford */
    { "0123456789ABCDEFGHLK", FALSE },      /* L */
    { "0123456789ABCDEFGHOK", FALSE },      /* O */
    { "0123456789ABCDEFGHUK", FALSE },      /* U */
    { "0123456789abcdefghjk", FALSE },      /* lower case */
    { "../../etc/passwd....", FALSE },
    { "", FALSE },
    { NULL, FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    if (sg_queue_id_valid (cases[i].s) != cases[i].valid)
      {
        g_test_message ("case %u \"%s\": got %d, want %d", i,
                        cases[i].s ? cases[i].s : "(null)", !cases[i].valid, cases[i].valid);
        g_test_fail ();
      }
}

/* /spool/queue-id/increasing - many IDs in a row are strictly increasing. */
static void
test_increasing (void)
{
  char prev[SG_QUEUE_ID_LEN + 1], id[SG_QUEUE_ID_LEN + 1];

  sg_queue_id_generate (prev);
  for (guint i = 0; i < SEQUENTIAL_IDS; i++)
    {
      sg_queue_id_generate (id);
      if (strcmp (prev, id) >= 0)
        g_test_message ("ID %u not increasing: %s after %s", i, id, prev);
      g_assert_cmpstr (prev, <, id);
      memcpy (prev, id, sizeof id);
    }
}

/* /spool/queue-id/threads - IDs made concurrently are all distinct and each
 * thread's own IDs are strictly increasing. */
static void
test_threads (void)
{
  const gsize stride = SG_QUEUE_ID_LEN + 1;
  g_autofree char *ids = g_malloc0 ((gsize) N_THREADS * IDS_PER_THREAD * stride);
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  GThread *threads[N_THREADS];

  for (guint t = 0; t < N_THREADS; t++)
    threads[t] = g_thread_new ("ids", gen_thread, ids + (gsize) t * IDS_PER_THREAD * stride);
  for (guint t = 0; t < N_THREADS; t++)
    g_thread_join (threads[t]);
  for (guint t = 0; t < N_THREADS; t++)
    for (guint i = 0; i < IDS_PER_THREAD; i++)
      {
        char *id = ids + ((gsize) t * IDS_PER_THREAD + i) * stride;

        g_assert_true (sg_queue_id_valid (id));
        if (!g_hash_table_add (seen, id))
          g_test_message ("duplicate ID %s", id);
        if (i > 0)
          g_assert_cmpstr (id - stride, <, id);
      }
  g_assert_cmpuint (g_hash_table_size (seen), ==, N_THREADS * IDS_PER_THREAD);
}

/* /spool/queue-id/time - the encoded time is the generation time. */
static void
test_time (void)
{
  char id[SG_QUEUE_ID_LEN + 1];
  gint64 before, after, t;

  before = g_get_real_time ();
  sg_queue_id_generate (id);
  after = g_get_real_time ();
  t = sg_queue_id_time (id);
  /* Earlier IDs in this process may have pushed the time a little ahead. */
  g_assert_cmpint (t, >=, before);
  g_assert_cmpint (t, <=, after + G_USEC_PER_SEC);
  g_assert_cmpint (sg_queue_id_time ("00000000000000000000"), ==, 0);
  g_assert_cmpint (sg_queue_id_time ("00000000001ABCDEFGHJ"), ==, 1);
  g_assert_cmpint (sg_queue_id_time ("00000000010000000000"), ==, 32);
}

/* /spool/queue-id/sortable - sorting IDs sorts by their time. */
static void
test_sortable (void)
{
  char a[SG_QUEUE_ID_LEN + 1], b[SG_QUEUE_ID_LEN + 1];

  sg_queue_id_generate (a);
  g_usleep (2000);   /* a sleep: IDs encode the time, and the time must move on */
  sg_queue_id_generate (b);
  g_assert_cmpstr (a, <, b);
  g_assert_cmpint (sg_queue_id_time (a), <, sg_queue_id_time (b));
  /* IDs of other processes (other nodes) still sort by time first. */
  g_assert_cmpstr ("00000000001ZZZZZZZZZ", <, "00000000002000000000");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/spool/queue-id/format", test_format);
  g_test_add_func ("/spool/queue-id/valid", test_valid);
  g_test_add_func ("/spool/queue-id/increasing", test_increasing);
  g_test_add_func ("/spool/queue-id/threads", test_threads);
  g_test_add_func ("/spool/queue-id/time", test_time);
  g_test_add_func ("/spool/queue-id/sortable", test_sortable);
  return g_test_run ();
}
