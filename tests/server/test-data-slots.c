/* test-data-slots.c - the DATA slots (src/server/data_slots.c): at most max
 * holders, waiters served first come first, a release hands its slot on,
 * a waiter that leaves is forgotten, holders that sent too little in their
 * window go to the back of the line only while someone waits, and a reload
 * that adds room resumes. */
#include "server/data_slots.h"

typedef struct {
  GPtrArray *resumed;
} Fixture;

static void
on_resume (gpointer owner, gpointer user_data)
{
  Fixture *f = user_data;
  g_ptr_array_add (f->resumed, owner);
}

static int owners[8];
#define O(i) ((gpointer) &owners[i])

static void
test_order (void)
{
  Fixture f = { g_ptr_array_new () };
  g_autoptr(SgDataSlots) slots = sg_data_slots_new (2, NULL, on_resume, &f);

  g_assert_true (sg_data_slots_take (slots, O (0), 0));
  g_assert_true (sg_data_slots_take (slots, O (1), 0));
  g_assert_false (sg_data_slots_take (slots, O (2), 0));
  g_assert_false (sg_data_slots_take (slots, O (3), 0));
  g_assert_false (sg_data_slots_take (slots, O (2), 0));   /* asking again keeps its place */
  g_assert_true (sg_data_slots_waits (slots, O (3)));
  g_assert_false (sg_data_slots_waits (slots, O (0)));
  g_assert_cmpuint (sg_data_slots_holders (slots), ==, 2);
  g_assert_cmpuint (sg_data_slots_waiters (slots), ==, 2);

  sg_data_slots_release (slots, O (1));                     /* first come, first served */
  g_assert_cmpuint (f.resumed->len, ==, 1);
  g_assert_true (f.resumed->pdata[0] == O (2));
  g_assert_true (sg_data_slots_take (slots, O (2), 0));
  g_assert_false (sg_data_slots_take (slots, O (4), 0));   /* a newcomer queues behind 3 */

  sg_data_slots_release (slots, O (3));                     /* a waiter leaves: no resume */
  g_assert_cmpuint (f.resumed->len, ==, 1);
  sg_data_slots_release (slots, O (0));
  g_assert_cmpuint (f.resumed->len, ==, 2);
  g_assert_true (f.resumed->pdata[1] == O (4));
  g_assert_cmpuint (sg_data_slots_waiters (slots), ==, 0);
  g_ptr_array_unref (f.resumed);
}

static void
test_idle (void)
{
  Fixture f = { g_ptr_array_new () };
  g_autoptr(SgDataSlots) slots = sg_data_slots_new (2, NULL, on_resume, &f);
  gint64 t = 1000 * G_USEC_PER_SEC;

  g_assert_true (sg_data_slots_take (slots, O (0), t));
  g_assert_true (sg_data_slots_take (slots, O (1), t));
  sg_data_slots_evict_idle (slots, t + 10 * SG_DATA_SLOT_IDLE_US);   /* nobody waits: nobody moves */
  g_assert_cmpuint (sg_data_slots_holders (slots), ==, 2);

  g_assert_false (sg_data_slots_take (slots, O (2), t));
  sg_data_slots_input (slots, O (0), SG_DATA_SLOT_MIN_BYTES - 1);   /* 0 trickles */
  sg_data_slots_input (slots, O (1), SG_DATA_SLOT_MIN_BYTES);       /* 1 sends */
  sg_data_slots_input (slots, O (2), 1u << 30);                     /* a waiter's input counts for nothing */
  sg_data_slots_evict_idle (slots, t + SG_DATA_SLOT_IDLE_US - 1);   /* window not over */
  g_assert_cmpuint (f.resumed->len, ==, 0);
  sg_data_slots_evict_idle (slots, t + SG_DATA_SLOT_IDLE_US);
  g_assert_true (sg_data_slots_waits (slots, O (0)));     /* 0 sent too little: back of the line */
  g_assert_false (sg_data_slots_waits (slots, O (1)));
  g_assert_false (sg_data_slots_waits (slots, O (2)));
  g_assert_cmpuint (f.resumed->len, ==, 1);
  g_assert_true (f.resumed->pdata[0] == O (2));
  /* 1's window began again, and 2's with its slot: 1 silent from now on
   * yields to 0 a window later, 2 keeps sending */
  sg_data_slots_input (slots, O (2), SG_DATA_SLOT_MIN_BYTES);
  sg_data_slots_evict_idle (slots, t + 2 * SG_DATA_SLOT_IDLE_US - 1);
  g_assert_false (sg_data_slots_waits (slots, O (1)));
  sg_data_slots_evict_idle (slots, t + 2 * SG_DATA_SLOT_IDLE_US);
  g_assert_true (sg_data_slots_waits (slots, O (1)));
  g_assert_false (sg_data_slots_waits (slots, O (0)));
  g_ptr_array_unref (f.resumed);
}

static void
test_reload (void)
{
  Fixture f = { g_ptr_array_new () };
  g_autoptr(SgDataSlots) slots = sg_data_slots_new (1, NULL, on_resume, &f);

  g_assert_true (sg_data_slots_take (slots, O (0), 0));
  g_assert_false (sg_data_slots_take (slots, O (1), 0));
  g_assert_false (sg_data_slots_take (slots, O (2), 0));
  sg_data_slots_set_max (slots, 0);                         /* 0: no limit */
  g_assert_cmpuint (f.resumed->len, ==, 2);
  g_assert_cmpuint (sg_data_slots_holders (slots), ==, 3);
  for (int i = 3; i < 8; i++)
    g_assert_true (sg_data_slots_take (slots, O (i), 0));
  g_ptr_array_unref (f.resumed);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/data-slots/order", test_order);
  g_test_add_func ("/data-slots/idle", test_idle);
  g_test_add_func ("/data-slots/reload", test_reload);
  return g_test_run ();
}
