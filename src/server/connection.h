/* connection.h - one client connection: socket I/O, the session's timeouts,
 * and the glue between the session and the intake pipeline; plain TCP or
 * TLS after STARTTLS, and optionally a PROXY header before the session. */
#pragma once
#include <glib.h>
#include "server/server_conn.h"

G_BEGIN_DECLS

/* sg_connection_new - take ownership of fd (non-blocking) and greet the client. */
SgConnection *sg_connection_new (SgServer *server, int fd, const char *address, guint16 port,
                                 gboolean relay_allowed);
/* sg_connection_new_proxied - take ownership of fd, a connection from a
 * trusted proxy: read the PROXY header within [server] proxy_timeout, then
 * admit the client it names (sg_listener_admit) and greet it. */
SgConnection *sg_connection_new_proxied (SgServer *server, int fd, const char *peer, guint16 peer_port);
/* sg_connection_shutdown - server stopping: 421 now, unless mid-transaction
 * and not forced. A message already handed to the spool is never cut off. */
void          sg_connection_shutdown (SgConnection *conn, gboolean force);
/* sg_connection_busy - in DATA or waiting for the spool. */
gboolean      sg_connection_busy (const SgConnection *conn);
/* sg_connection_address - the client's address; NULL until it is admitted
 * (while a PROXY header is awaited, or when it was refused after one). */
const char   *sg_connection_address (const SgConnection *conn);

G_END_DECLS
