/* timer_wheel.c - a hashed timing wheel with one-second slots, driven by a
 * single one-second GLib timeout. Timers further out than the wheel's span
 * stay in their slot and are skipped until their deadline comes round. */
#include "event/timer_wheel.h"

#define WHEEL_SLOTS 1024   /* seconds covered per turn; a power of two */

struct _SgTimerWheel {
  SgTimer  slots[WHEEL_SLOTS];  /* list heads (sentinels) */
  gint64   now;                 /* last second processed */
  guint    count;
  guint    tick_id;
  GSource *tick;
};

static gint64
now_seconds (void)
{
  return g_get_monotonic_time () / G_USEC_PER_SEC;
}

static void
unlink_timer (SgTimerWheel *w, SgTimer *t)
{
  t->prev->next = t->next;
  t->next->prev = t->prev;
  t->prev = t->next = NULL;
  t->armed = FALSE;
  w->count--;
}

static gboolean
wheel_tick (gpointer data)
{
  SgTimerWheel *w = data;
  gint64 target = now_seconds ();
  /* Catch up second by second (bounded by one turn of the wheel). */
  gint64 from = MAX (w->now + 1, target - WHEEL_SLOTS + 1);
  for (gint64 sec = from; sec <= target; sec++)
    {
      SgTimer *head = &w->slots[sec & (WHEEL_SLOTS - 1)];
      SgTimer *t = head->next;
      while (t != head)
        {
          SgTimer *next = t->next;
          if (t->deadline <= target)
            {
              unlink_timer (w, t);
              t->func (t, t->user_data); /* may re-arm or free t */
            }
          t = next;
        }
    }
  w->now = target;
  return G_SOURCE_CONTINUE;
}

SgTimerWheel *
sg_timer_wheel_new (GMainContext *context)
{
  SgTimerWheel *w = g_new0 (SgTimerWheel, 1);
  for (guint i = 0; i < WHEEL_SLOTS; i++)
    w->slots[i].prev = w->slots[i].next = &w->slots[i];
  w->now = now_seconds ();
  w->tick = g_timeout_source_new_seconds (1);
  g_source_set_callback (w->tick, wheel_tick, w, NULL);
  g_source_set_static_name (w->tick, "spoolgate-timer-wheel");
  g_source_attach (w->tick, context);
  return w;
}

void
sg_timer_wheel_free (SgTimerWheel *w)
{
  if (!w)
    return;
  for (guint i = 0; i < WHEEL_SLOTS; i++)
    while (w->slots[i].next != &w->slots[i])
      unlink_timer (w, w->slots[i].next);
  g_source_destroy (w->tick);
  g_source_unref (w->tick);
  g_free (w);
}

void
sg_timer_init (SgTimer *t, SgTimerFunc func, gpointer user_data)
{
  t->prev = t->next = NULL;
  t->armed = FALSE;
  t->func = func;
  t->user_data = user_data;
}

void
sg_timer_arm (SgTimerWheel *w, SgTimer *t, guint seconds)
{
  if (t->armed)
    unlink_timer (w, t);
  /* +1: a timer armed mid-second must not fire in under `seconds`. */
  t->deadline = now_seconds () + seconds + 1;
  SgTimer *head = &w->slots[t->deadline & (WHEEL_SLOTS - 1)];
  t->next = head;
  t->prev = head->prev;
  head->prev->next = t;
  head->prev = t;
  t->armed = TRUE;
  w->count++;
}

void
sg_timer_disarm (SgTimerWheel *w, SgTimer *t)
{
  if (t->armed)
    unlink_timer (w, t);
}

guint
sg_timer_wheel_count (const SgTimerWheel *w)
{
  return w->count;
}
