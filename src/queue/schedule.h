/* schedule.h - the queue runner's index: every message it knows, each with
 * the time to look at it next, kept in two binary heaps so that taking the
 * next message and finding the next wake-up cost O(log n), not a walk of
 * the whole queue. Pure data structure: no I/O, no clock, no threads (main
 * context only). */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

typedef struct _SgSchedule SgSchedule;

/* SG_SCHEDULE_NEVER - a known message nobody looks at (held, failed). */
#define SG_SCHEDULE_NEVER ((gint64) -1)

/* sg_schedule_new - an empty index (transfer full). */
SgSchedule *sg_schedule_new (void);
void        sg_schedule_free (SgSchedule *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgSchedule, sg_schedule_free)

/* sg_schedule_set - look at id at due (epoch seconds), or never
 * (SG_SCHEDULE_NEVER) while still knowing it; adds id if new. An entry in
 * flight keeps due for when it comes back (sg_schedule_done). */
void     sg_schedule_set (SgSchedule *s, const char *id, gint64 due);
/* sg_schedule_forget - drop id unless it is in flight; TRUE if dropped. */
gboolean sg_schedule_forget (SgSchedule *s, const char *id);
/* sg_schedule_contains - whether id is known. */
gboolean sg_schedule_contains (const SgSchedule *s, const char *id);
/* sg_schedule_in_flight - whether id was taken and is not done yet. */
gboolean sg_schedule_in_flight (const SgSchedule *s, const char *id);
/* sg_schedule_recheck - mark an in-flight id as changed on disk meanwhile;
 * FALSE (nothing marked) if it is not in flight. */
gboolean sg_schedule_recheck (SgSchedule *s, const char *id);
/* sg_schedule_take - the due (due <= now) message tried least recently
 * (never tried first, then by ID: arrival order), marked in flight; NULL
 * when none is due. The string lives as long as the entry. */
const char *sg_schedule_take (SgSchedule *s, gint64 now);
/* sg_schedule_done - id's job is over: it is scheduled again at the due
 * time last set. Returns whether it was marked for a recheck. */
gboolean sg_schedule_done (SgSchedule *s, const char *id);
/* sg_schedule_next_due - the earliest due time not yet reached at the last
 * take (G_MAXINT64: none). */
gint64   sg_schedule_next_due (const SgSchedule *s);
/* sg_schedule_size - messages known; sg_schedule_in_flight_count - taken. */
guint    sg_schedule_size (const SgSchedule *s);
guint    sg_schedule_in_flight_count (const SgSchedule *s);
/* sg_schedule_retain - forget every entry not in flight whose ID is not in
 * present (a set of char* IDs); O(n), for the periodic rescan. */
void     sg_schedule_retain (SgSchedule *s, GHashTable *present);

G_END_DECLS
