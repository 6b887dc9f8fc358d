/* data_slots.h - which sessions may stream a large message body at once.
 * Past [limits] data_spill_size a DATA needs one of [limits]
 * max_data_streams slots to be read further; the others wait, unread, in
 * the order they asked. A holder that sent less than SG_DATA_SLOT_MIN_BYTES
 * in SG_DATA_SLOT_IDLE_US while others wait goes to the back of the line:
 * neither a silent nor a trickling client keeps a slot from the others. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

#define SG_DATA_SLOT_IDLE_US (1 * G_USEC_PER_SEC)   /* the window a holder's input is judged over */
#define SG_DATA_SLOT_MIN_BYTES (64u * 1024u)        /* a holder sending less per window yields to a waiter */

typedef struct _SgDataSlots SgDataSlots;

/* Called, on the loop that owns the slots, for a waiter that now holds a slot. */
typedef void (*SgDataSlotsResume) (gpointer owner, gpointer user_data);

/* sg_data_slots_new - max slots (0 = no limit); the idle check runs on
 * context (NULL = none: call sg_data_slots_evict_idle yourself). */
SgDataSlots *sg_data_slots_new (guint max, GMainContext *context, SgDataSlotsResume resume,
                                gpointer user_data);
void         sg_data_slots_free (SgDataSlots *slots);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgDataSlots, sg_data_slots_free)
/* sg_data_slots_set_max - a reload; more room resumes waiters at once. */
void         sg_data_slots_set_max (SgDataSlots *slots, guint max);
/* sg_data_slots_take - TRUE if owner holds a slot (already, or now), FALSE
 * if it waits (queued on the first call). now_us: monotonic. */
gboolean     sg_data_slots_take (SgDataSlots *slots, gpointer owner, gint64 now_us);
/* sg_data_slots_input - a holder read n bytes (what the idle check judges). */
void         sg_data_slots_input (SgDataSlots *slots, gpointer owner, gsize n);
/* sg_data_slots_waits - owner is in the line. */
gboolean     sg_data_slots_waits (SgDataSlots *slots, gconstpointer owner);
/* sg_data_slots_release - owner's DATA ended (or its connection did): its
 * slot goes to the first waiter, or it leaves the line. */
void         sg_data_slots_release (SgDataSlots *slots, gpointer owner);
/* sg_data_slots_evict_idle - while anyone waits, holders whose window of
 * SG_DATA_SLOT_IDLE_US is over with less than SG_DATA_SLOT_MIN_BYTES read go
 * to the back of the line; the others start a new window. */
void         sg_data_slots_evict_idle (SgDataSlots *slots, gint64 now_us);
guint        sg_data_slots_holders (const SgDataSlots *slots);
guint        sg_data_slots_waiters (const SgDataSlots *slots);

G_END_DECLS
