/* server.h - `spoolgate serve`: owns the listening socket, the connections,
 * the spool and the intake pipeline, and runs the main loop until SIGTERM or
 * SIGINT. */
#pragma once
#include <glib.h>
#include "config/config.h"

G_BEGIN_DECLS

typedef struct _SgServer SgServer;

/* sg_server_new - open the spool (with recovery) and bind; config is borrowed. */
SgServer *sg_server_new (const SgConfig *config, GError **error);
/* sg_server_run - serve until stopped; returns the exit status. */
int       sg_server_run (SgServer *server);
/* sg_server_stop - begin a clean shutdown (also what SIGTERM does). */
void      sg_server_stop (SgServer *server);
void      sg_server_free (SgServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgServer, sg_server_free)

G_END_DECLS
