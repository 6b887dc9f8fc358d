/* listener.h - the listening sockets, accept() and admission (listener.c):
 * who may connect, how many at once and how often, and whether the spool
 * has room for another message. The daemon creates it, starts it once the
 * spool is ready and closes it to stop; connections ask it to admit a
 * client named by a PROXY header and count clients in and out. */
#pragma once
#include <glib.h>
#include "server/server_context.h"

G_BEGIN_DECLS

/* Why a client is turned away before its session: the one reply line. */
typedef struct {
  const char *code;   /* "554 5.7.1", "421 4.7.0" */
  const char *text;
} SgRefusal;

/* sg_listener_new - bind every [server] listen address of ctx->config and
 * raise the open-file limit to fit max_connections; nothing is accepted
 * before sg_listener_start. ctx is borrowed for the listener's life. */
SgListener *sg_listener_new (SgServerContext *ctx, GError **error);
/* sg_listener_start - listen() on the sockets sg_listener_new bound. */
gboolean    sg_listener_start (SgListener *listener, GError **error);
/* sg_listener_close - stop accepting and close the sockets; admission and
 * the counts stay until sg_listener_free. */
void        sg_listener_close (SgListener *listener);
void        sg_listener_free (SgListener *listener);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgListener, sg_listener_free)
/* sg_listener_reconfigured - ctx->config was replaced: look at the spool's
 * room again at the next MAIL. */
void        sg_listener_reconfigured (SgListener *listener);

/* sg_listener_admit - the per-client checks on the client's address (with
 * a PROXY header, the one it names; via is then the proxy's, for the log):
 * [access] allowed_networks, connection_rate_per_ip,
 * max_connections_per_ip. proxy_itself: a LOCAL/UNKNOWN header, the proxy
 * speaks for itself (health checks), and the rate limit does not apply.
 * TRUE with *relay_allowed set, or FALSE with *refusal to send; logged here. */
gboolean sg_listener_admit (SgListener *listener, const char *address, const char *via,
                            gboolean proxy_itself, gboolean *relay_allowed, SgRefusal *refusal);
/* sg_listener_refusal_send - the refusal's reply line, best effort, never blocking. */
void     sg_listener_refusal_send (int fd, const SgConfig *config, const SgRefusal *refusal);
/* sg_listener_client_admitted, sg_listener_client_gone - count an admitted
 * client's connection in and out (max_connections_per_ip). */
void     sg_listener_client_admitted (SgListener *listener, const char *address);
void     sg_listener_client_gone (SgListener *listener, const char *address);
/* sg_listener_spool_has_room - free space at least [spool] min_free
 * (looked at no more than once a second; going low is logged once). */
gboolean sg_listener_spool_has_room (SgListener *listener);

G_END_DECLS
