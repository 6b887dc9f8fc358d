/* queue_id.h - queue IDs: unique across restarts and instances, sorting by
 * arrival time, safe as file names. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

/* 11 chars of microseconds since the epoch, 4 of per-process random node, 5 of
 * sequence, all in Crockford base32 (ASCII order = numeric order). */
#define SG_QUEUE_ID_LEN 20

/* sg_queue_id_generate - write a fresh NUL-terminated ID into out. Thread-safe. */
void     sg_queue_id_generate (char out[SG_QUEUE_ID_LEN + 1]);
/* sg_queue_id_valid - whether s is syntactically a queue ID. */
gboolean sg_queue_id_valid (const char *s);
/* sg_queue_id_time - microseconds since the epoch encoded in a valid id. */
gint64   sg_queue_id_time (const char *id);

G_END_DECLS
