/* connection.h - one client connection: socket I/O, the session's timeouts,
 * and the glue between the session and the stages it feeds (recipient
 * policy, intake); plain TCP or TLS after STARTTLS, and optionally a PROXY
 * header before the session. */
#pragma once
#include <glib.h>
#include "server/server_context.h"

G_BEGIN_DECLS

/* sg_connection_new - take ownership of fd (non-blocking) and greet the
 * client; ctx is borrowed for the connection's life. */
SgConnection *sg_connection_new (SgServerContext *ctx, int fd, const char *address, guint16 port,
                                 gboolean relay_allowed);
/* sg_connection_new_proxied - take ownership of fd, a connection from a
 * trusted proxy: read the PROXY header within [server] proxy_timeout, then
 * admit the client it names (sg_listener_admit) and greet it. */
SgConnection *sg_connection_new_proxied (SgServerContext *ctx, int fd, const char *peer,
                                         guint16 peer_port);
/* sg_connections_shutdown - the server is stopping: every open connection
 * says 421 now, unless mid-transaction and not forced. A message already
 * handed to the spool is never cut off. */
void          sg_connections_shutdown (SgServerContext *ctx, gboolean force);
/* sg_connection_data_resume - conn (an SgConnection) got its DATA slot
 * (an SgDataSlotsResume): read again. */
void          sg_connection_data_resume (gpointer conn, gpointer user_data);
/* sg_connections_busy - how many open connections are in DATA or waiting
 * for a verdict or the spool. */
guint         sg_connections_busy (SgServerContext *ctx);

G_END_DECLS
