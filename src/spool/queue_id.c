/* queue_id.c - queue IDs: microsecond time, per-process random node and a
 * sequence number, each in fixed-width Crockford base32 so that byte order is
 * arrival order. Owns uniqueness inside one process (strictly increasing IDs);
 * uniqueness across processes rests on the random node, and the spool's
 * O_EXCL/RENAME_NOREPLACE catches the rare collision. */
#include "spool/queue_id.h"

#include <string.h>
#include <unistd.h>
#include <sys/random.h>

#define ID_TIME_CHARS  11u   /* 55 bits of microseconds: good until year 3111 */
#define ID_NODE_CHARS  4u    /* 20 random bits per process */
#define ID_SEQ_CHARS   5u    /* 25 bits of sequence within one microsecond */
#define ID_BITS_PER_CHAR 5u
#define ID_NODE_MAX    ((guint32) 1 << (ID_NODE_CHARS * ID_BITS_PER_CHAR))
#define ID_SEQ_MAX     ((guint32) 1 << (ID_SEQ_CHARS * ID_BITS_PER_CHAR))

G_STATIC_ASSERT (ID_TIME_CHARS + ID_NODE_CHARS + ID_SEQ_CHARS == SG_QUEUE_ID_LEN);

/* Crockford base32: no I, L, O, U; ASCII order equals numeric order. */
static const char id_alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* State of the generator; guarded by id_lock. */
static GMutex   id_lock;
static gint64   id_last_time = -1;   /* µs value used by the previous ID */
static guint32  id_last_seq;
static guint32  id_node;
static pid_t    id_node_pid = -1;    /* the node is redrawn after fork() */

/* id_random_node - 20 bits from the kernel's CSPRNG, GLib's PRNG as fallback. */
static guint32
id_random_node (void)
{
  guint32 value = 0;

  if (getrandom (&value, sizeof value, GRND_NONBLOCK) != (ssize_t) sizeof value)
    value = g_random_int ();
  return value % ID_NODE_MAX;
}

/* id_encode - write value as exactly width base32 digits, most significant first. */
static void
id_encode (char *out, guint64 value, guint width)
{
  for (guint i = width; i > 0; i--)
    {
      out[i - 1] = id_alphabet[value & 0x1f];
      value >>= ID_BITS_PER_CHAR;
    }
}

/* id_digit - value of one base32 digit, or -1 if c is not one. */
static int
id_digit (char c)
{
  const char *p;

  if (c == '\0')
    return -1;
  p = strchr (id_alphabet, c);
  return p ? (int) (p - id_alphabet) : -1;
}

/* sg_queue_id_generate - write a fresh NUL-terminated ID into out. Thread-safe. */
void
sg_queue_id_generate (char out[SG_QUEUE_ID_LEN + 1])
{
  gint64 now = g_get_real_time ();
  gint64 time_us;
  guint32 seq, node;

  g_mutex_lock (&id_lock);
  if (id_node_pid != getpid ())
    {
      id_node = id_random_node ();
      id_node_pid = getpid ();
    }
  if (now > id_last_time)
    {
      time_us = now;
      seq = 0;
    }
  else
    {
      /* Same microsecond, or the clock went back: stay on the last time
       * value and count up, borrowing the next microsecond on overflow. */
      time_us = id_last_time;
      seq = id_last_seq + 1;
      if (seq >= ID_SEQ_MAX)
        {
          time_us++;
          seq = 0;
        }
    }
  id_last_time = time_us;
  id_last_seq = seq;
  node = id_node;
  g_mutex_unlock (&id_lock);

  id_encode (out, (guint64) time_us, ID_TIME_CHARS);
  id_encode (out + ID_TIME_CHARS, node, ID_NODE_CHARS);
  id_encode (out + ID_TIME_CHARS + ID_NODE_CHARS, seq, ID_SEQ_CHARS);
  out[SG_QUEUE_ID_LEN] = '\0';
}

/* sg_queue_id_valid - whether s is syntactically a queue ID. */
gboolean
sg_queue_id_valid (const char *s)
{
  if (s == NULL)
    return FALSE;
  for (guint i = 0; i < SG_QUEUE_ID_LEN; i++)
    if (id_digit (s[i]) < 0)
      return FALSE;
  return s[SG_QUEUE_ID_LEN] == '\0';
}

/* sg_queue_id_time - microseconds since the epoch encoded in a valid id. */
gint64
sg_queue_id_time (const char *id)
{
  guint64 value = 0;

  g_return_val_if_fail (sg_queue_id_valid (id), 0);
  for (guint i = 0; i < ID_TIME_CHARS; i++)
    value = (value << ID_BITS_PER_CHAR) | (guint64) id_digit (id[i]);
  return (gint64) value;
}
