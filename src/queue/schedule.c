/* schedule.c - the runner's index behind schedule.h: a hash table by ID and
 * two indexed binary heaps. "waiting" orders the entries not yet due by due
 * time; "ready" orders the due ones by turn (0 = never tried, else the
 * order in which they were last handed out), then ID, which is the round
 * robin: a message that keeps failing never starves the rest. An entry is
 * in at most one heap; in-flight and never-due entries are in neither. */
#include "queue/schedule.h"

#include <string.h>

typedef enum { IN_NONE, IN_WAITING, IN_READY } Where;

/* One message. Lifetime: from the first sg_schedule_set until forgotten
 * (never while in flight); owned by the hash table. */
typedef struct {
  gint64   due;         /* epoch seconds, or SG_SCHEDULE_NEVER */
  guint64  turn;        /* 0 = never tried, else when last handed out */
  guint    pos;         /* index in its heap */
  Where    where;
  gboolean in_flight;
  gboolean recheck;     /* changed on disk while in flight */
  char     id[];        /* NUL-terminated; the hash table's key */
} Entry;

typedef gboolean (*Before) (const Entry *a, const Entry *b);

typedef struct {
  GPtrArray *items;     /* Entry*, borrowed from the table */
  Before     before;
} Heap;

struct _SgSchedule {
  GHashTable *table;    /* id -> Entry* (owned) */
  Heap        waiting;  /* by due */
  Heap        ready;    /* by turn, then ID */
  guint64     turns;
  guint       in_flight;
};

static gboolean
by_due (const Entry *a, const Entry *b)
{
  if (a->due != b->due)
    return a->due < b->due;
  if (a->turn != b->turn)
    return a->turn < b->turn;
  return strcmp (a->id, b->id) < 0;
}

static gboolean
by_turn (const Entry *a, const Entry *b)
{
  if (a->turn != b->turn)
    return a->turn < b->turn;
  return strcmp (a->id, b->id) < 0;
}

/* ---- indexed binary heap ---- */

static inline Entry *
at (const Heap *h, guint i)
{
  return g_ptr_array_index (h->items, i);
}

static inline void
put (Heap *h, guint i, Entry *e)
{
  h->items->pdata[i] = e;
  e->pos = i;
}

static void
sift_up (Heap *h, guint i)
{
  Entry *e = at (h, i);
  while (i > 0)
    {
      guint parent = (i - 1) / 2;
      if (!h->before (e, at (h, parent)))
        break;
      put (h, i, at (h, parent));
      i = parent;
    }
  put (h, i, e);
}

static void
sift_down (Heap *h, guint i)
{
  Entry *e = at (h, i);
  guint n = h->items->len;
  for (;;)
    {
      guint child = 2 * i + 1;
      if (child >= n)
        break;
      if (child + 1 < n && h->before (at (h, child + 1), at (h, child)))
        child++;
      if (!h->before (at (h, child), e))
        break;
      put (h, i, at (h, child));
      i = child;
    }
  put (h, i, e);
}

static void
heap_push (Heap *h, Entry *e)
{
  g_ptr_array_add (h->items, e);
  sift_up (h, h->items->len - 1);
}

static void
heap_remove (Heap *h, Entry *e)
{
  guint i = e->pos;
  Entry *last = g_ptr_array_steal_index_fast (h->items, h->items->len - 1);
  if (last != e)
    {
      put (h, i, last);
      sift_up (h, i);
      sift_down (h, last->pos);
    }
  e->where = IN_NONE;
}

/* ---- placement ---- */

/* unplace - take e out of whichever heap holds it. */
static void
unplace (SgSchedule *s, Entry *e)
{
  if (e->where == IN_WAITING)
    heap_remove (&s->waiting, e);
  else if (e->where == IN_READY)
    heap_remove (&s->ready, e);
}

/* place - e waits for its due time (it moves to ready at the next take). */
static void
place (SgSchedule *s, Entry *e)
{
  unplace (s, e);
  if (e->in_flight || e->due == SG_SCHEDULE_NEVER)
    return;
  e->where = IN_WAITING;
  heap_push (&s->waiting, e);
}

SgSchedule *
sg_schedule_new (void)
{
  SgSchedule *s = g_new0 (SgSchedule, 1);
  s->table = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  s->waiting = (Heap) { g_ptr_array_new (), by_due };
  s->ready = (Heap) { g_ptr_array_new (), by_turn };
  return s;
}

void
sg_schedule_free (SgSchedule *s)
{
  if (!s)
    return;
  g_ptr_array_unref (s->waiting.items);
  g_ptr_array_unref (s->ready.items);
  g_hash_table_unref (s->table);
  g_free (s);
}

void
sg_schedule_set (SgSchedule *s, const char *id, gint64 due)
{
  Entry *e = g_hash_table_lookup (s->table, id);
  if (!e)
    {
      gsize len = strlen (id);
      e = g_malloc0 (sizeof *e + len + 1);
      memcpy (e->id, id, len + 1);
      g_hash_table_insert (s->table, e->id, e);
    }
  e->due = due < 0 ? SG_SCHEDULE_NEVER : due;
  place (s, e);
}

gboolean
sg_schedule_forget (SgSchedule *s, const char *id)
{
  Entry *e = g_hash_table_lookup (s->table, id);
  if (!e || e->in_flight)
    return FALSE;
  unplace (s, e);
  g_hash_table_remove (s->table, id);
  return TRUE;
}

gboolean
sg_schedule_contains (const SgSchedule *s, const char *id)
{
  return g_hash_table_contains (s->table, id);
}

gboolean
sg_schedule_in_flight (const SgSchedule *s, const char *id)
{
  Entry *e = g_hash_table_lookup (s->table, id);
  return e && e->in_flight;
}

gboolean
sg_schedule_recheck (SgSchedule *s, const char *id)
{
  Entry *e = g_hash_table_lookup (s->table, id);
  if (!e || !e->in_flight)
    return FALSE;
  e->recheck = TRUE;
  return TRUE;
}

const char *
sg_schedule_take (SgSchedule *s, gint64 now)
{
  while (s->waiting.items->len > 0 && at (&s->waiting, 0)->due <= now)
    {
      Entry *e = at (&s->waiting, 0);
      heap_remove (&s->waiting, e);
      e->where = IN_READY;
      heap_push (&s->ready, e);
    }
  if (s->ready.items->len == 0)
    return NULL;
  Entry *e = at (&s->ready, 0);
  heap_remove (&s->ready, e);
  e->in_flight = TRUE;
  e->recheck = FALSE;
  e->turn = ++s->turns;
  s->in_flight++;
  return e->id;
}

gboolean
sg_schedule_done (SgSchedule *s, const char *id)
{
  Entry *e = g_hash_table_lookup (s->table, id);
  if (!e || !e->in_flight)
    return FALSE;
  e->in_flight = FALSE;
  s->in_flight--;
  gboolean recheck = e->recheck;
  e->recheck = FALSE;
  place (s, e);
  return recheck;
}

gint64
sg_schedule_next_due (const SgSchedule *s)
{
  return s->waiting.items->len > 0 ? at (&s->waiting, 0)->due : G_MAXINT64;
}

guint
sg_schedule_size (const SgSchedule *s)
{
  return g_hash_table_size (s->table);
}

guint
sg_schedule_in_flight_count (const SgSchedule *s)
{
  return s->in_flight;
}

void
sg_schedule_retain (SgSchedule *s, GHashTable *present)
{
  GHashTableIter it;
  Entry *e;
  g_hash_table_iter_init (&it, s->table);
  while (g_hash_table_iter_next (&it, NULL, (gpointer *) &e))
    if (!e->in_flight && !g_hash_table_contains (present, e->id))
      {
        unplace (s, e);
        g_hash_table_iter_remove (&it);
      }
}
