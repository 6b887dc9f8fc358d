/* test-event.c - the epoll GSource and the timer wheel, on real sockets and
 * a real main loop. */
#include "event/poller.h"
#include "event/timer_wheel.h"
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
  GMainLoop *loop;
  guint      reads;
  SgPollFd  *other;
  gboolean   removed_other;
} PollData;

static void
on_ready (SgPollFd *pfd, GIOCondition ready, gpointer user_data)
{
  PollData *d = user_data;
  char buf[16];
  g_assert_true (ready & G_IO_IN);
  g_assert_cmpint (read (sg_poller_fd (pfd), buf, sizeof buf), >, 0);
  d->reads++;
  /* removing another ready fd from inside dispatch must be safe */
  if (d->other && !d->removed_other)
    {
      sg_poller_remove (d->other);
      d->removed_other = TRUE;
    }
  if (d->reads == 1)
    g_main_loop_quit (d->loop);
}

static void
test_poller (void)
{
  int a[2], b[2];
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, a), ==, 0);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, b), ==, 0);
  PollData d = { .loop = g_main_loop_new (NULL, FALSE) };
  g_autoptr(SgPoller) p = sg_poller_new (NULL, NULL);
  SgPollFd *pa = sg_poller_add (p, a[0], G_IO_IN, on_ready, &d, NULL);
  SgPollFd *pb = sg_poller_add (p, b[0], G_IO_IN, on_ready, &d, NULL);
  g_assert_nonnull (pa);
  g_assert_nonnull (pb);
  /* both ready at once: whichever runs first removes the other */
  g_assert_cmpint (write (a[1], "x", 1), ==, 1);
  g_assert_cmpint (write (b[1], "y", 1), ==, 1);
  d.other = pb;
  /* make pa the first: remove of pb while pa runs; if pb runs first it removes itself */
  g_main_loop_run (d.loop);
  for (int i = 0; i < 10; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (d.reads, ==, 1);
  /* interest in nothing: no callback even though data is there */
  sg_poller_modify (pa, 0);
  g_assert_cmpint (write (a[1], "z", 1), ==, 1);
  for (int i = 0; i < 10; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (d.reads, ==, 1);
  sg_poller_remove (pa);
  close (a[0]); close (a[1]); close (b[0]); close (b[1]);
  g_main_loop_unref (d.loop);
}

/* A poll function that counts the descriptors poll() found ready. */
static GPollFunc real_poll;
static guint polled_ready;

static gint
counting_poll (GPollFD *fds, guint n, gint timeout)
{
  gint r = real_poll (fds, n, timeout);
  if (r > 0)
    polled_ready += (guint) r;
  return r;
}

typedef struct {
  guint     calls;
  SgPollFd *remove;       /* (nullable) removed by a callback inside a nested dispatch */
  gboolean  nested;       /* the next callback iterates the context */
  guint     depth;
} CountData;

static void
on_count (SgPollFd *pfd, GIOCondition ready, gpointer user_data)
{
  CountData *d = user_data;
  char buf[16];
  (void) recv (sg_poller_fd (pfd), buf, sizeof buf, MSG_DONTWAIT);
  d->calls++;
  if (d->depth > 0 && d->remove != NULL && d->remove != pfd)
    sg_poller_remove (g_steal_pointer (&d->remove));
  if (d->nested)
    {
      /* a callback that iterates the context: the poller runs again
       * inside itself, with the fds the outer dispatch has yet to reach */
      d->nested = FALSE;
      d->depth++;
      g_main_context_iteration (g_main_context_get_thread_default (), FALSE);
      d->depth--;
    }
}

/* Dispatching the poller must not wake its own context: a source that may
 * not recurse is taken out of the poll set while it runs and put back,
 * which signals the context each time. Then the next poll() finds the
 * context's wakeup fd ready although nothing happened. */
static void
test_poller_no_self_wakeup (void)
{
  g_autoptr(GMainContext) ctx = g_main_context_new ();
  g_main_context_push_thread_default (ctx);
  real_poll = g_main_context_get_poll_func (ctx);
  g_main_context_set_poll_func (ctx, counting_poll);
  int a[2];
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, a), ==, 0);
  CountData d = { 0 };
  g_autoptr(SgPoller) p = sg_poller_new (ctx, NULL);
  SgPollFd *pa = sg_poller_add (p, a[0], G_IO_IN, on_count, &d, NULL);
  while (g_main_context_iteration (ctx, FALSE))
    ;
  for (guint round = 0; round < 5; round++)
    {
      g_assert_cmpint (write (a[1], "x", 1), ==, 1);
      polled_ready = 0;
      g_assert_true (g_main_context_iteration (ctx, TRUE));   /* the event */
      g_assert_cmpuint (d.calls, ==, round + 1);
      g_assert_cmpuint (polled_ready, ==, 1);                 /* the epoll fd only */
      polled_ready = 0;
      g_main_context_iteration (ctx, FALSE);
      g_assert_cmpuint (polled_ready, ==, 0);                 /* no wakeup left behind */
    }
  sg_poller_remove (pa);
  close (a[0]);
  close (a[1]);
  g_main_context_pop_thread_default (ctx);
}

/* The poller recurses: a nested dispatch runs the fds the outer one has
 * not reached yet, and one removed in there is not freed while the outer
 * dispatch still holds it (ASan sees it if it is). */
static void
test_poller_nested (void)
{
  g_autoptr(GMainContext) ctx = g_main_context_new ();
  g_main_context_push_thread_default (ctx);
  int a[2], b[2], c[2];
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, a), ==, 0);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, b), ==, 0);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, c), ==, 0);
  CountData d = { .nested = TRUE };
  g_autoptr(SgPoller) p = sg_poller_new (ctx, NULL);
  SgPollFd *pa = sg_poller_add (p, a[0], G_IO_IN, on_count, &d, NULL);
  SgPollFd *pb = sg_poller_add (p, b[0], G_IO_IN, on_count, &d, NULL);
  SgPollFd *pc = sg_poller_add (p, c[0], G_IO_IN, on_count, &d, NULL);
  d.remove = pc;
  /* ready in this order: the outer dispatch takes a, b, c; a iterates,
   * the inner dispatch takes b and c, and b removes c */
  g_assert_cmpint (write (a[1], "x", 1), ==, 1);
  g_assert_cmpint (write (b[1], "y", 1), ==, 1);
  g_assert_cmpint (write (c[1], "z", 1), ==, 1);
  g_assert_true (g_main_context_iteration (ctx, FALSE));
  g_assert_null (d.remove);
  g_assert_cmpuint (d.depth, ==, 0);
  g_assert_cmpuint (d.calls, ==, 3);   /* a; b inside; b again outside; never c */
  while (g_main_context_iteration (ctx, FALSE))
    ;
  /* c is gone; a and b still work */
  guint before = d.calls;
  g_assert_cmpint (write (c[1], "z", 1), ==, 1);
  g_assert_cmpint (write (a[1], "x", 1), ==, 1);
  g_assert_cmpint (write (b[1], "y", 1), ==, 1);
  for (int i = 0; i < 10; i++)
    g_main_context_iteration (ctx, FALSE);
  g_assert_cmpuint (d.calls, ==, before + 2);
  sg_poller_remove (pa);
  sg_poller_remove (pb);
  for (int i = 0; i < 2; i++)
    {
      close (a[i]); close (b[i]); close (c[i]);
    }
  g_main_context_pop_thread_default (ctx);
}

typedef struct {
  GMainLoop *loop;
  guint      fired;
  gint64     armed_at;
  gint64     fired_at;
} TimerData;

static void
on_timer (SgTimer *t, gpointer user_data)
{
  TimerData *d = user_data;
  d->fired++;
  d->fired_at = g_get_monotonic_time ();
  g_main_loop_quit (d->loop);
}

static void
test_wheel (void)
{
  TimerData d = { .loop = g_main_loop_new (NULL, FALSE) };
  SgTimerWheel *w = sg_timer_wheel_new (NULL);
  SgTimer t, never;
  sg_timer_init (&t, on_timer, &d);
  sg_timer_init (&never, on_timer, &d);
  sg_timer_arm (w, &never, 1);
  sg_timer_arm (w, &t, 1);
  sg_timer_disarm (w, &never);
  g_assert_cmpuint (sg_timer_wheel_count (w), ==, 1);
  /* re-arming moves, never duplicates */
  sg_timer_arm (w, &t, 1);
  g_assert_cmpuint (sg_timer_wheel_count (w), ==, 1);
  d.armed_at = g_get_monotonic_time ();
  g_main_loop_run (d.loop);
  g_assert_cmpuint (d.fired, ==, 1);
  g_assert_cmpint (d.fired_at - d.armed_at, >=, 1 * G_USEC_PER_SEC);
  g_assert_false (t.armed);
  g_assert_cmpuint (sg_timer_wheel_count (w), ==, 0);
  /* a timer far beyond one turn of the wheel stays armed through ticks */
  sg_timer_arm (w, &t, 5000);
  sg_timer_wheel_free (w);  /* frees with a timer armed: unlinks it */
  g_assert_false (t.armed);
  g_main_loop_unref (d.loop);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/event/poller", test_poller);
  g_test_add_func ("/event/poller/no-self-wakeup", test_poller_no_self_wakeup);
  g_test_add_func ("/event/poller/nested", test_poller_nested);
  g_test_add_func ("/event/timer-wheel", test_wheel);
  return g_test_run ();
}
