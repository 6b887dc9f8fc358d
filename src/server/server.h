/* server.h - `spoolgate serve`: owns the listening socket, the connections,
 * the spool and the intake pipeline, and runs the main loop until SIGTERM or
 * SIGINT. */
#pragma once
#include <glib.h>
#include "config/config.h"

G_BEGIN_DECLS

typedef struct _SgServer SgServer;

/* sg_server_new - bind, drop to [server] user when started as root, then
 * open the spool (with recovery); keeps a reference to config. */
SgServer *sg_server_new (SgConfig *config, GError **error);

/* How SIGHUP gets the new configuration: the file and flags of start-up, again. */
typedef SgConfig *(*SgConfigLoader) (gpointer data, GError **error);
void      sg_server_set_reloader (SgServer *server, SgConfigLoader loader, gpointer data);
/* sg_server_reconfigure - apply config to new sessions and messages; FALSE
 * (old configuration kept) if it cannot be applied. */
gboolean  sg_server_reconfigure (SgServer *server, SgConfig *config, GError **error);
/* sg_server_run - serve until stopped; returns the exit status. */
int       sg_server_run (SgServer *server);
/* sg_server_stop - begin a clean shutdown (also what SIGTERM does). */
void      sg_server_stop (SgServer *server);
void      sg_server_free (SgServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgServer, sg_server_free)

G_END_DECLS
