/* fuzz-proxy.c - libFuzzer target: arbitrary bytes into the PROXY header
 * parser, twice: in one piece, and in pieces whose sizes the first byte
 * picks. Both runs must agree on status, bytes consumed, error code and
 * header, and a finished header must hold addresses that parse back. */
#include "server/proxy.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

/* run - feed data in pieces of chunk bytes (0: all at once). */
static SgProxyStatus
run (const guint8 *data, gsize size, gsize chunk, gsize *consumed, SgProxyHeader *h, GError **error)
{
  g_autoptr(SgProxyParser) p = sg_proxy_parser_new ();
  SgProxyStatus st = SG_PROXY_NEED_MORE;
  gsize pos = 0;
  memset (h, 0, sizeof *h);
  do
    {
      gsize n = chunk ? MIN (chunk, size - pos) : size - pos, used = 0;
      st = sg_proxy_parser_feed (p, data + pos, n, &used, h, error);
      if (used > n || (st == SG_PROXY_NEED_MORE && used != n))
        abort ();
      pos += used;
    }
  while (st == SG_PROXY_NEED_MORE && pos < size);
  *consumed = pos;
  return st;
}

/* address_ok - a NUL-terminated numeric address, or "" when local. */
static gboolean
address_ok (const char *a, gboolean local)
{
  guint8 bytes[16];
  if (!memchr (a, '\0', SG_PROXY_ADDRESS_MAX))
    return FALSE;
  if (local)
    return a[0] == '\0';
  return inet_pton (AF_INET, a, bytes) == 1 || inet_pton (AF_INET6, a, bytes) == 1;
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  if (size == 0)
    return 0;
  gsize chunk = (data[0] % 17) + 1;
  data++;
  size--;

  g_autoptr(GError) e1 = NULL;
  g_autoptr(GError) e2 = NULL;
  SgProxyHeader h1, h2;
  gsize c1 = 0, c2 = 0;
  SgProxyStatus s1 = run (data, size, 0, &c1, &h1, &e1);
  SgProxyStatus s2 = run (data, size, chunk, &c2, &h2, &e2);
  if (s1 != s2 || c1 != c2 || (s1 == SG_PROXY_FAILED) != (e1 != NULL) || !e1 != !e2)
    abort ();
  if (e1 && (e1->code != e2->code || strcmp (e1->message, e2->message) != 0))
    abort ();
  if (s1 == SG_PROXY_DONE)
    {
      if (memcmp (&h1, &h2, sizeof h1) != 0
          || (h1.version != 1 && h1.version != 2)
          || !address_ok (h1.source, h1.local) || !address_ok (h1.destination, h1.local)
          || c1 > (h1.version == 1 ? SG_PROXY_V1_MAX_LENGTH : SG_PROXY_V2_FIXED + SG_PROXY_V2_MAX_PAYLOAD))
        abort ();
    }
  return 0;
}
