/* fuzz-milter.c - libFuzzer target: arbitrary bytes as a stream of milter
 * replies, decoded packet by packet as milter_client.c reads them, once from
 * the whole buffer and once growing it a piece at a time (the first byte
 * picks the piece size). Both must agree; a packet never claims more bytes
 * than it was given or more than SG_MILTER_MAX_PACKET; header edits that
 * pass sg_milter_header_valid() render to a field that re-parses as one. */
#include "milter/milter_headers.h"
#include "milter/milter_proto.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

/* check_edit - a valid edit yields exactly one more field. */
static void
check_edit (const SgMilterReply *r)
{
  if (!r->name || !r->value || !sg_milter_header_valid (r->name, r->value))
    return;
  static const char msg[] = "Subject: x\r\n\r\nbody\r\n";
  g_autoptr(GBytes) b = g_bytes_new_static (msg, sizeof msg - 1);
  gsize body = 0;
  g_autoptr(SgMilterHeaders) h = sg_milter_headers_new (NULL, b, &body);
  sg_milter_headers_add (h, r->name, r->value, FALSE);
  g_autoptr(GBytes) out = sg_milter_headers_bytes (h);
  g_autoptr(GBytes) again_in = g_bytes_new (g_bytes_get_data (out, NULL), g_bytes_get_size (out));
  gsize body2 = 0;
  g_autoptr(SgMilterHeaders) again = sg_milter_headers_new (NULL, again_in, &body2);
  if (sg_milter_headers_count (again) != 2 || body2 != g_bytes_get_size (out))
    abort ();
}

/* run - decode every packet; returns how many, and the offset reached. */
static guint
run (const guint8 *data, gsize size, gsize chunk, gsize *end, char *cmds, GError **error)
{
  gsize pos = 0, avail = chunk ? MIN (chunk, size) : size;
  guint n = 0;
  for (;;)
    {
      SgMilterReply r;
      gsize used = 0;
      SgMilterStatus st = sg_milter_decode (data + pos, avail - pos, &used, &r, error);
      if (st == SG_MILTER_BAD)
        break;
      if (st == SG_MILTER_NEED_MORE)
        {
          if (used != 0 || avail == size)
            break;
          avail = MIN (avail + chunk, size);
          continue;
        }
      if (used < 5 || used > avail - pos || used > 4 + SG_MILTER_MAX_PACKET)
        abort ();
      if (n < 64)
        cmds[n] = r.cmd;
      if (!chunk)
        check_edit (&r);
      n++;
      pos += used;
      sg_milter_reply_clear (&r);
    }
  *end = pos;
  return n;
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  if (size == 0)
    return 0;
  gsize chunk = (data[0] % 23) + 1;
  data++;
  size--;
  g_autoptr(GError) e1 = NULL;
  g_autoptr(GError) e2 = NULL;
  char c1[64] = { 0 }, c2[64] = { 0 };
  gsize end1 = 0, end2 = 0;
  guint n1 = run (data, size, 0, &end1, c1, &e1);
  guint n2 = run (data, size, chunk, &end2, c2, &e2);
  if (n1 != n2 || end1 != end2 || memcmp (c1, c2, sizeof c1) != 0 || !e1 != !e2)
    abort ();
  if (e1 && strcmp (e1->message, e2->message) != 0)
    abort ();
  return 0;
}
