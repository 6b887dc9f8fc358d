/* test-schedule.c - the queue runner's index (src/queue/schedule.c): round
 * robin among due messages, backoff respected, in-flight rules, on a large
 * synthetic index and against a naive model (the old walk-and-sort
 * dispatch) under random operations. */
#include "queue/schedule.h"

#include <string.h>

#define LARGE 100000u

static char *
make_id (guint i)
{
  return g_strdup_printf ("ID%08u", i);
}

/* /queue/schedule/round-robin - 100,000 due messages go out in arrival
 * order; one that keeps coming back due at once waits for all the others. */
static void
test_round_robin (void)
{
  g_autoptr(SgSchedule) s = sg_schedule_new ();
  for (guint i = 0; i < LARGE; i++)
    {
      g_autofree char *id = make_id (LARGE - 1 - i);   /* inserted backwards */
      sg_schedule_set (s, id, 0);
    }
  g_assert_cmpuint (sg_schedule_size (s), ==, LARGE);
  /* first pass: never tried, so by ID */
  for (guint i = 0; i < LARGE; i++)
    {
      g_autofree char *want = make_id (i);
      const char *got = sg_schedule_take (s, 1000);
      g_assert_cmpstr (got, ==, want);
    }
  g_assert_null (sg_schedule_take (s, 1000));
  g_assert_cmpuint (sg_schedule_in_flight_count (s), ==, LARGE);
  /* all back, due now, returned in reverse: second pass keeps the first's
   * order (least recently tried first), not the order of return */
  for (guint i = 0; i < LARGE; i++)
    {
      g_autofree char *id = make_id (LARGE - 1 - i);
      g_assert_false (sg_schedule_done (s, id));
      sg_schedule_set (s, id, 1000);
    }
  /* a failing message (ID 0) comes back due at once every time it goes
   * out; it still gets one turn per pass */
  g_autofree char *first = make_id (0);
  for (guint i = 0; i < LARGE; i++)
    {
      g_autofree char *want = make_id (i);
      const char *got = sg_schedule_take (s, 1000);
      g_assert_cmpstr (got, ==, want);
      if (i == 0)
        {
          g_assert_false (sg_schedule_done (s, first));
          sg_schedule_set (s, first, 1000);
        }
    }
  g_assert_cmpstr (sg_schedule_take (s, 1000), ==, first);
  g_assert_null (sg_schedule_take (s, 1000));
}

/* /queue/schedule/backoff - nothing goes out before its due time; the
 * timer is armed for the earliest one; due ones in round-robin order. */
static void
test_backoff (void)
{
  g_autoptr(SgSchedule) s = sg_schedule_new ();
  /* message i due at 1000 + (i % 100): 1000 each second */
  for (guint i = 0; i < LARGE; i++)
    {
      g_autofree char *id = make_id (i);
      sg_schedule_set (s, id, 1000 + (i % 100));
    }
  g_assert_cmpint (sg_schedule_next_due (s), ==, 1000);
  g_assert_null (sg_schedule_take (s, 999));
  for (gint64 now = 1000; now < 1100; now++)
    {
      for (guint k = 0; k < LARGE / 100; k++)
        {
          const char *got = sg_schedule_take (s, now);
          g_assert_nonnull (got);
          guint n = (guint) g_ascii_strtoull (got + 2, NULL, 10);
          g_assert_cmpuint (1000 + n % 100, ==, now);
          g_assert_cmpuint (n, ==, (guint) (now - 1000) + 100 * k);
        }
      g_assert_null (sg_schedule_take (s, now));
      if (now < 1099)
        g_assert_cmpint (sg_schedule_next_due (s), ==, now + 1);
    }
  g_assert_cmpint (sg_schedule_next_due (s), ==, G_MAXINT64);
  /* a message backed off while in flight is not due before its time */
  g_autofree char *id = make_id (7);
  sg_schedule_set (s, id, 5000);
  g_assert_false (sg_schedule_done (s, id));
  g_assert_cmpint (sg_schedule_next_due (s), ==, 5000);
  g_assert_null (sg_schedule_take (s, 4999));
  g_assert_cmpstr (sg_schedule_take (s, 5000), ==, id);
}

/* /queue/schedule/in-flight - in flight: never forgotten, rechecks noted;
 * never-due entries are known but not taken; moving a due entry back. */
static void
test_in_flight (void)
{
  g_autoptr(SgSchedule) s = sg_schedule_new ();
  sg_schedule_set (s, "A", 10);
  sg_schedule_set (s, "B", SG_SCHEDULE_NEVER);
  sg_schedule_set (s, "C", 10);
  g_assert_cmpstr (sg_schedule_take (s, 10), ==, "A");
  g_assert_false (sg_schedule_forget (s, "A"));
  g_assert_true (sg_schedule_in_flight (s, "A"));
  g_assert_true (sg_schedule_recheck (s, "A"));
  g_assert_false (sg_schedule_recheck (s, "C"));
  /* C is due (in the ready heap now); moved to later, it is not taken */
  sg_schedule_set (s, "C", 20);
  g_assert_null (sg_schedule_take (s, 10));
  g_assert_true (sg_schedule_contains (s, "B"));
  g_assert_true (sg_schedule_done (s, "A"));
  g_assert_false (sg_schedule_done (s, "A"));
  g_assert_true (sg_schedule_forget (s, "A"));
  g_assert_false (sg_schedule_contains (s, "A"));
  g_autoptr(GHashTable) present = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_add (present, "C");
  sg_schedule_retain (s, present);
  g_assert_false (sg_schedule_contains (s, "B"));
  g_assert_cmpstr (sg_schedule_take (s, 20), ==, "C");
  g_assert_cmpuint (sg_schedule_size (s), ==, 1);
}

/* The naive model: what the runner did before (walk all, sort due by turn). */
typedef struct {
  char    *id;
  gint64   due;
  guint64  turn;
  gboolean in_flight;
} Model;

static gint
model_by_turn (gconstpointer a, gconstpointer b)
{
  const Model *x = *(Model *const *) a, *y = *(Model *const *) b;
  if (x->turn != y->turn)
    return x->turn < y->turn ? -1 : 1;
  return strcmp (x->id, y->id);
}

static Model *
model_take (GPtrArray *model, gint64 now, guint64 *turns)
{
  g_autoptr(GPtrArray) due = g_ptr_array_new ();
  for (guint i = 0; i < model->len; i++)
    {
      Model *m = g_ptr_array_index (model, i);
      if (!m->in_flight && m->due >= 0 && m->due <= now)
        g_ptr_array_add (due, m);
    }
  if (due->len == 0)
    return NULL;
  g_ptr_array_sort (due, model_by_turn);
  Model *m = g_ptr_array_index (due, 0);
  m->in_flight = TRUE;
  m->turn = ++*turns;
  return m;
}

/* /queue/schedule/model - random sets, takes, completions and clock steps
 * give the same choices as the naive walk-and-sort. */
static void
test_model (void)
{
  const guint n = 2000, ops = 200000;
  g_autoptr(SgSchedule) s = sg_schedule_new ();
  g_autoptr(GPtrArray) model = g_ptr_array_new ();
  g_autoptr(GRand) rand = g_rand_new_with_seed (14);
  guint64 turns = 0;
  gint64 now = 100;
  for (guint i = 0; i < n; i++)
    {
      Model *m = g_new0 (Model, 1);
      m->id = make_id (g_rand_int_range (rand, 0, 1000000) * 1000 + i);
      m->due = g_rand_int_range (rand, 0, 200);
      g_ptr_array_add (model, m);
      sg_schedule_set (s, m->id, m->due);
    }
  for (guint op = 0; op < ops; op++)
    {
      Model *m = g_ptr_array_index (model, g_rand_int_range (rand, 0, n));
      switch (g_rand_int_range (rand, 0, 6))
        {
        case 0: case 1:
          {
            Model *want = model_take (model, now, &turns);
            const char *got = sg_schedule_take (s, now);
            g_assert_cmpstr (got, ==, want ? want->id : NULL);
            break;
          }
        case 2:
          if (m->in_flight)
            {
              m->in_flight = FALSE;
              sg_schedule_done (s, m->id);
            }
          G_GNUC_FALLTHROUGH;   /* the runner then sets the next look */
        case 3:
          m->due = g_rand_int_range (rand, 0, 10) == 0 ? -1 : now + g_rand_int_range (rand, -5, 30);
          sg_schedule_set (s, m->id, m->due);
          break;
        case 4:
          now += g_rand_int_range (rand, 0, 3);
          break;
        default:
          if (m->in_flight)
            {
              m->in_flight = FALSE;
              sg_schedule_done (s, m->id);
            }
          break;
        }
    }
  for (guint i = 0; i < model->len; i++)
    {
      Model *m = g_ptr_array_index (model, i);
      g_free (m->id);
      g_free (m);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/queue/schedule/round-robin", test_round_robin);
  g_test_add_func ("/queue/schedule/backoff", test_backoff);
  g_test_add_func ("/queue/schedule/in-flight", test_in_flight);
  g_test_add_func ("/queue/schedule/model", test_model);
  return g_test_run ();
}
