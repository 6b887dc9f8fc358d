/* census.c - the per-state totals behind census.h: an ID -> (state, size)
 * table, totals adjusted on every change, and only the changed states
 * pushed to the metrics registry; and the messages waiting for delivery
 * (queued, deferred) ordered by arrival, for the age of the oldest. Knows
 * nothing of scheduling; whoever reads a message's metadata tells the
 * census what it saw. */
#include "queue/census.h"
#include "metrics/metrics.h"

#include <string.h>

#define CENSUS_STATES (SG_MSG_FAILED + 1)

typedef struct {
  char      *id;         /* the hash table's key */
  SgMsgState state;
  guint64    size;
  gint64     arrival_us;
} Item;

struct _SgQueueCensus {
  GHashTable *items;                   /* char* ID -> Item* (owns both) */
  GTree      *waiting;                 /* Item* of queued and deferred, oldest first */
  guint64     count[CENSUS_STATES];
  guint64     bytes[CENSUS_STATES];
};

/* waiting - whether a message in state still waits for delivery. */
static gboolean
waiting (SgMsgState state)
{
  return state == SG_MSG_QUEUED || state == SG_MSG_DEFERRED;
}

/* compare_arrival - oldest first; the ID breaks ties. */
static gint
compare_arrival (gconstpointer a, gconstpointer b)
{
  const Item *x = a, *y = b;
  if (x->arrival_us != y->arrival_us)
    return x->arrival_us < y->arrival_us ? -1 : 1;
  return strcmp (x->id, y->id);
}

/* publish_oldest - spoolgate_queue_oldest_seconds from the first waiting item. */
static void
publish_oldest (const SgQueueCensus *c)
{
  GTreeNode *first = g_tree_node_first (c->waiting);
  const Item *item = first ? g_tree_node_key (first) : NULL;
  sg_metrics_queue_oldest_set (item ? item->arrival_us : 0);
}

static void
item_free (gpointer data)
{
  Item *item = data;
  g_free (item->id);
  g_free (item);
}

/* publish - the gauges of one state. */
static void
publish (const SgQueueCensus *c, SgMsgState state)
{
  sg_metrics_queue_set (sg_meta_state_name (state), c->count[state], c->bytes[state]);
}

SgQueueCensus *
sg_queue_census_new (void)
{
  SgQueueCensus *c = g_new0 (SgQueueCensus, 1);
  c->items = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, item_free);
  c->waiting = g_tree_new (compare_arrival);
  for (guint s = 0; s < CENSUS_STATES; s++)
    publish (c, s);
  publish_oldest (c);
  return c;
}

void
sg_queue_census_free (SgQueueCensus *c)
{
  if (!c)
    return;
  g_tree_destroy (c->waiting);
  g_hash_table_unref (c->items);
  sg_metrics_queue_oldest_set (0);
  g_free (c);
}

/* take_out - remove item's contribution from the totals. */
static void
take_out (SgQueueCensus *c, const Item *item)
{
  c->count[item->state]--;
  c->bytes[item->state] -= item->size;
  publish (c, item->state);
  if (waiting (item->state))
    {
      g_tree_remove (c->waiting, item);
      publish_oldest (c);
    }
}

void
sg_queue_census_set (SgQueueCensus *c, const char *id, SgMsgState state, guint64 size,
                     gint64 arrival_us)
{
  g_return_if_fail ((guint) state < CENSUS_STATES);
  Item *item = g_hash_table_lookup (c->items, id);
  if (item && item->state == state && item->size == size && item->arrival_us == arrival_us)
    return;
  if (item)
    take_out (c, item);
  else
    {
      item = g_new (Item, 1);
      item->id = g_strdup (id);
      g_hash_table_insert (c->items, item->id, item);
    }
  item->state = state;
  item->size = size;
  item->arrival_us = arrival_us;
  c->count[state]++;
  c->bytes[state] += size;
  publish (c, state);
  if (waiting (state))
    {
      g_tree_insert (c->waiting, item, item);
      publish_oldest (c);
    }
}

void
sg_queue_census_forget (SgQueueCensus *c, const char *id)
{
  Item *item = g_hash_table_lookup (c->items, id);
  if (!item)
    return;
  take_out (c, item);
  g_hash_table_remove (c->items, id);   /* frees item and its id */
}

void
sg_queue_census_retain (SgQueueCensus *c, GHashTable *present)
{
  GHashTableIter it;
  gpointer id, item;
  g_hash_table_iter_init (&it, c->items);
  while (g_hash_table_iter_next (&it, &id, &item))
    if (!g_hash_table_contains (present, id))
      {
        take_out (c, item);
        g_hash_table_iter_remove (&it);
      }
}

gboolean
sg_queue_census_scan (SgQueueCensus *c, SgSpool *spool, GError **error)
{
  g_autoptr(GPtrArray) ids = sg_spool_list (spool, error);
  if (!ids)
    return FALSE;
  g_autoptr(GHashTable) present = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < ids->len; i++)
    {
      const char *id = g_ptr_array_index (ids, i);
      g_autoptr(SgMeta) meta = sg_spool_load_meta (spool, id, NULL);
      if (!meta)
        continue;   /* gone meanwhile, or unreadable: not counted */
      g_hash_table_add (present, (gpointer) id);
      sg_queue_census_set (c, id, meta->state, meta->message_size, meta->arrival_time_us);
    }
  sg_queue_census_retain (c, present);
  return TRUE;
}

guint
sg_queue_census_count (const SgQueueCensus *c, SgMsgState state)
{
  g_return_val_if_fail ((guint) state < CENSUS_STATES, 0);
  return (guint) c->count[state];
}
