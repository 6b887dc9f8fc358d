/* timer_wheel.h - session timeouts for many connections at O(1) per arm and
 * per tick slot, instead of one GSource per session. One-second resolution. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

typedef struct _SgTimerWheel SgTimerWheel;
typedef struct _SgTimer SgTimer;
typedef void (*SgTimerFunc) (SgTimer *timer, gpointer user_data);

/* An embeddable timer; zero-initialise, then sg_timer_init(). */
struct _SgTimer {
  SgTimer    *prev, *next;  /* slot list; NULL when not armed */
  gint64      deadline;     /* monotonic seconds */
  SgTimerFunc func;
  gpointer    user_data;
  gboolean    armed;
};

SgTimerWheel *sg_timer_wheel_new (GMainContext *context);
void          sg_timer_wheel_free (SgTimerWheel *wheel);

void sg_timer_init (SgTimer *timer, SgTimerFunc func, gpointer user_data);
/* sg_timer_arm - (re)arm to fire once after seconds. */
void sg_timer_arm (SgTimerWheel *wheel, SgTimer *timer, guint seconds);
void sg_timer_disarm (SgTimerWheel *wheel, SgTimer *timer);
/* sg_timer_wheel_count - armed timers (for tests). */
guint sg_timer_wheel_count (const SgTimerWheel *wheel);

G_END_DECLS
