/* netlist.h - lists of IPv4/IPv6 networks in CIDR notation ([access]
 * allowed_networks, and later proxy_trusted): parse once, match addresses. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

typedef struct _SgNetList SgNetList;

/* sg_netlist_parse - "127.0.0.0/8", "::1/128", "192.0.2.7" (a host) ...; an
 * error names the bad item. (transfer full) */
SgNetList *sg_netlist_parse (const char *const *items, GError **error);
void       sg_netlist_free (SgNetList *list);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgNetList, sg_netlist_free)
/* sg_netlist_contains - whether the numeric address is in the list; an
 * IPv4-mapped IPv6 address matches IPv4 networks. */
gboolean   sg_netlist_contains (const SgNetList *list, const char *address);

G_END_DECLS
