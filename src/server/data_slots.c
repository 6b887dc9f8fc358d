/* data_slots.c - the slots a large DATA needs to be read past [limits]
 * data_spill_size (issue 13), the line of sessions waiting for one, and the
 * check that moves an idle or trickling holder to the back of that line. Why: with every
 * large body read a little at a time, 100 x 10 MB all end together, each
 * with megabytes still in its socket buffers after the client's final dot;
 * read a few at a time, each is drained soon after its dot. */
#include "server/data_slots.h"

#define SG_DATA_SLOT_CHECK_MS 250u   /* how often the idle check runs while anyone waits */

/* Lifetime: owned by the server, freed after every connection is closed.
 * Owners are borrowed: each calls sg_data_slots_release before it goes. */
struct _SgDataSlots {
  guint              max;       /* 0 = no limit */
  GHashTable        *holders;   /* owner -> Window */
  GQueue             waiting;   /* owners, first come first */
  GMainContext      *context;   /* (nullable) */
  GSource           *check;     /* (nullable) the idle check, while anyone waits */
  SgDataSlotsResume  resume;
  gpointer           user_data;
};

/* A holder's input since its window began. */
typedef struct {
  gint64 start_us;   /* monotonic */
  gsize  bytes;
} Window;

static void check_update (SgDataSlots *slots);

static Window *
window_new (gint64 now_us)
{
  Window *w = g_new (Window, 1);
  *w = (Window) { .start_us = now_us, .bytes = 0 };
  return w;
}

SgDataSlots *
sg_data_slots_new (guint max, GMainContext *context, SgDataSlotsResume resume, gpointer user_data)
{
  SgDataSlots *slots = g_new0 (SgDataSlots, 1);

  slots->max = max;
  slots->holders = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  g_queue_init (&slots->waiting);
  slots->context = context ? g_main_context_ref (context) : NULL;
  slots->resume = resume;
  slots->user_data = user_data;
  return slots;
}

void
sg_data_slots_free (SgDataSlots *slots)
{
  if (slots == NULL)
    return;
  if (slots->check)
    {
      g_source_destroy (slots->check);
      g_source_unref (slots->check);
    }
  g_queue_clear (&slots->waiting);
  g_hash_table_unref (slots->holders);
  g_clear_pointer (&slots->context, g_main_context_unref);
  g_free (slots);
}

static gboolean
has_room (const SgDataSlots *slots)
{
  return slots->max == 0 || g_hash_table_size (slots->holders) < slots->max;
}

/* promote - give free slots to waiters, first come first; now_us: monotonic. */
static void
promote (SgDataSlots *slots, gint64 now_us)
{
  while (has_room (slots) && !g_queue_is_empty (&slots->waiting))
    {
      gpointer next = g_queue_pop_head (&slots->waiting);

      g_hash_table_insert (slots->holders, next, window_new (now_us));
      if (slots->resume)
        slots->resume (next, slots->user_data);
    }
  check_update (slots);
}

void
sg_data_slots_set_max (SgDataSlots *slots, guint max)
{
  slots->max = max;
  promote (slots, g_get_monotonic_time ());
}

gboolean
sg_data_slots_take (SgDataSlots *slots, gpointer owner, gint64 now_us)
{
  if (g_hash_table_contains (slots->holders, owner))
    return TRUE;
  if (g_queue_find (&slots->waiting, owner) != NULL)
    return FALSE;
  if (has_room (slots) && g_queue_is_empty (&slots->waiting))
    {
      g_hash_table_insert (slots->holders, owner, window_new (now_us));
      return TRUE;
    }
  g_queue_push_tail (&slots->waiting, owner);
  check_update (slots);
  return FALSE;
}

void
sg_data_slots_input (SgDataSlots *slots, gpointer owner, gsize n)
{
  Window *w = g_hash_table_lookup (slots->holders, owner);

  if (w != NULL)
    w->bytes += n;
}

gboolean
sg_data_slots_waits (SgDataSlots *slots, gconstpointer owner)
{
  return !g_queue_is_empty (&slots->waiting) && g_queue_find (&slots->waiting, owner) != NULL;
}

void
sg_data_slots_release (SgDataSlots *slots, gpointer owner)
{
  if (g_hash_table_contains (slots->holders, owner))
    {
      g_hash_table_remove (slots->holders, owner);
      promote (slots, g_get_monotonic_time ());
    }
  else if (g_queue_remove (&slots->waiting, owner))
    check_update (slots);
}

void
sg_data_slots_evict_idle (SgDataSlots *slots, gint64 now_us)
{
  g_autoptr(GPtrArray) idle = g_ptr_array_new ();
  GHashTableIter it;
  gpointer owner, value;

  if (g_queue_is_empty (&slots->waiting))
    return;
  g_hash_table_iter_init (&it, slots->holders);
  while (g_hash_table_iter_next (&it, &owner, &value))
    {
      Window *w = value;

      if (now_us - w->start_us < SG_DATA_SLOT_IDLE_US)
        continue;
      if (w->bytes < SG_DATA_SLOT_MIN_BYTES)
        g_ptr_array_add (idle, owner);
      else
        *w = (Window) { .start_us = now_us, .bytes = 0 };
    }
  for (guint i = 0; i < idle->len; i++)
    {
      g_hash_table_remove (slots->holders, idle->pdata[i]);
      g_queue_push_tail (&slots->waiting, idle->pdata[i]);
    }
  promote (slots, now_us);
}

guint
sg_data_slots_holders (const SgDataSlots *slots)
{
  return g_hash_table_size (slots->holders);
}

guint
sg_data_slots_waiters (const SgDataSlots *slots)
{
  return slots->waiting.length;
}

static gboolean
on_check (gpointer data)
{
  SgDataSlots *slots = data;

  sg_data_slots_evict_idle (slots, g_get_monotonic_time ());
  return G_SOURCE_CONTINUE;
}

/* check_update - the idle check runs exactly while someone waits. */
static void
check_update (SgDataSlots *slots)
{
  gboolean want = slots->context != NULL && !g_queue_is_empty (&slots->waiting);

  if (want && slots->check == NULL)
    {
      slots->check = g_timeout_source_new (SG_DATA_SLOT_CHECK_MS);
      g_source_set_callback (slots->check, on_check, slots, NULL);
      g_source_set_static_name (slots->check, "sg-data-slots");
      g_source_attach (slots->check, slots->context);
    }
  else if (!want && slots->check != NULL)
    {
      g_source_destroy (slots->check);
      g_clear_pointer (&slots->check, g_source_unref);
    }
}
