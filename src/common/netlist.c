/* netlist.c - CIDR parsing and matching with inet_pton; IPv4 networks are
 * stored as IPv4-mapped IPv6 (::ffff:a.b.c.d/96+len) so one comparison
 * serves both families. */
#include "common/netlist.h"

#include <arpa/inet.h>
#include <string.h>
#include <gio/gio.h>

typedef struct {
  guint8 addr[16];
  guint  prefix;   /* bits, 0-128 */
} Net;

struct _SgNetList {
  GArray *nets;    /* Net */
};

/* to_v6 - numeric address to 16 bytes; FALSE if not an address. */
static gboolean
to_v6 (const char *text, guint8 out[16], gboolean *was_v4)
{
  struct in_addr a4;
  if (inet_pton (AF_INET, text, &a4) == 1)
    {
      memset (out, 0, 10);
      out[10] = out[11] = 0xff;
      memcpy (out + 12, &a4, 4);
      *was_v4 = TRUE;
      return TRUE;
    }
  *was_v4 = FALSE;
  return inet_pton (AF_INET6, text, out) == 1;
}

SgNetList *
sg_netlist_parse (const char *const *items, GError **error)
{
  g_autoptr(SgNetList) list = g_new0 (SgNetList, 1);
  list->nets = g_array_new (FALSE, FALSE, sizeof (Net));
  for (guint i = 0; items && items[i]; i++)
    {
      g_autofree char *addr = g_strdup (items[i]);
      char *slash = strchr (addr, '/');
      Net n = { .prefix = 128 };
      gboolean v4;
      guint64 bits = 0;
      if (slash)
        *slash = '\0';
      if (!to_v6 (addr, n.addr, &v4)
          || (slash && !g_ascii_string_to_unsigned (slash + 1, 10, 0, v4 ? 32 : 128, &bits, NULL)))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "\"%s\" is not a network (e.g. 192.0.2.0/24 or 2001:db8::/32)", items[i]);
          return NULL;
        }
      if (slash)
        n.prefix = v4 ? 96 + (guint) bits : (guint) bits;
      /* clear host bits so matching is a prefix comparison */
      for (guint b = n.prefix; b < 128; b++)
        n.addr[b / 8] &= (guint8) ~(0x80 >> (b % 8));
      g_array_append_val (list->nets, n);
    }
  return g_steal_pointer (&list);
}

void
sg_netlist_free (SgNetList *list)
{
  if (!list)
    return;
  g_array_unref (list->nets);
  g_free (list);
}

gboolean
sg_netlist_contains (const SgNetList *list, const char *address)
{
  guint8 a[16];
  gboolean v4;
  if (!to_v6 (address, a, &v4))
    return FALSE;
  for (guint i = 0; i < list->nets->len; i++)
    {
      const Net *n = &g_array_index (list->nets, Net, i);
      guint full = n->prefix / 8, rest = n->prefix % 8;
      if (memcmp (a, n->addr, full) != 0)
        continue;
      if (rest && ((a[full] ^ n->addr[full]) & (guint8) (0xff << (8 - rest))))
        continue;
      return TRUE;
    }
  return FALSE;
}
