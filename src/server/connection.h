/* connection.h - one client connection: socket I/O, the session's timeouts,
 * and the glue between the session and the intake pipeline. Plain TCP today;
 * the read/write pair is where TLS will sit. */
#pragma once
#include <glib.h>
#include "server/server_private.h"

G_BEGIN_DECLS

/* sg_connection_new - take ownership of fd (non-blocking) and greet the client. */
SgConnection *sg_connection_new (SgServer *server, int fd, const char *address, guint16 port,
                                 gboolean relay_allowed);
/* sg_connection_shutdown - server stopping: 421 now, unless mid-transaction
 * and not forced. A message already handed to the spool is never cut off. */
void          sg_connection_shutdown (SgConnection *conn, gboolean force);
/* sg_connection_busy - in DATA or waiting for the spool. */
gboolean      sg_connection_busy (const SgConnection *conn);
const char   *sg_connection_address (const SgConnection *conn);

G_END_DECLS
