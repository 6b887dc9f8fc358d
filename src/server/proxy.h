/* proxy.h - the PROXY protocol header (haproxy's proxy-protocol.txt, v1
 * text and v2 binary) that a load balancer sends before the client's first
 * byte, parsed without I/O: feed what the socket gave, in any pieces. The
 * parser owns only the header; whether the peer may send one, the timeout and
 * what the address is then used for belong to the connection and listener. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

#define SG_PROXY_ERROR (sg_proxy_error_quark ())
GQuark sg_proxy_error_quark (void);
typedef enum {
  SG_PROXY_ERROR_NOT_PROXY,   /* does not start like a PROXY header (v1 "PROXY " or the v2 signature) */
  SG_PROXY_ERROR_SYNTAX,      /* a malformed header */
  SG_PROXY_ERROR_TOO_LONG,    /* over SG_PROXY_V1_MAX_LENGTH or SG_PROXY_V2_MAX_PAYLOAD */
  SG_PROXY_ERROR_UNSUPPORTED, /* well formed, but not TCP over IPv4/IPv6 (e.g. AF_UNIX, UDP) */
} SgProxyError;

#define SG_PROXY_V1_MAX_LENGTH  107   /* the whole v1 line with CRLF (spec 2.1) */
#define SG_PROXY_V2_FIXED       16    /* signature, version/command, family, length (spec 2.2) */
#define SG_PROXY_V2_MAX_PAYLOAD 2048  /* our bound on v2 addresses + TLVs; senders use a few hundred */
#define SG_PROXY_ADDRESS_MAX    46    /* INET6_ADDRSTRLEN: longest numeric address + NUL */

typedef enum {
  SG_PROXY_NEED_MORE,   /* every byte given was taken; feed more */
  SG_PROXY_DONE,        /* header complete: the bytes after *consumed are the client's */
  SG_PROXY_FAILED,      /* not a valid header: close the connection */
} SgProxyStatus;

/* What a complete header says. With local set (v2 LOCAL, such as a health
 * check, v1 UNKNOWN, or v2 AF_UNSPEC) there is no client address: the
 * connection's own peer is the client. An IPv4-mapped IPv6 address is given
 * in its IPv4 form, as the listener does for direct connections. */
typedef struct {
  guint    version;                               /* 1 or 2 */
  gboolean local;
  char     source[SG_PROXY_ADDRESS_MAX];          /* numeric, "" when local */
  guint16  source_port;
  char     destination[SG_PROXY_ADDRESS_MAX];     /* the address the client connected to */
  guint16  destination_port;
} SgProxyHeader;

typedef struct _SgProxyParser SgProxyParser;

/* sg_proxy_parser_new - a parser awaiting the first byte (transfer full). */
SgProxyParser *sg_proxy_parser_new (void);
void           sg_proxy_parser_free (SgProxyParser *parser);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgProxyParser, sg_proxy_parser_free)

/* sg_proxy_parser_feed - take len bytes; *consumed tells how many belong to
 * the header (all of them on NEED_MORE). On DONE, header is filled in; on
 * ERROR, error says why. Call no more after DONE or FAILED. */
SgProxyStatus sg_proxy_parser_feed (SgProxyParser *parser, const guint8 *data, gsize len,
                                    gsize *consumed, SgProxyHeader *header, GError **error);

G_END_DECLS
