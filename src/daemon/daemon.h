/* daemon.h - `spoolgate serve` as a process: start-up (bind, drop
 * privileges, wire the stages), signals, reload on SIGHUP, the main loop
 * and a clean stop. The listener and its connections are src/server/'s;
 * the daemon hands them one SgServerContext and owns everything in it. */
#pragma once
#include <glib.h>
#include "config/config.h"

G_BEGIN_DECLS

typedef struct _SgDaemon SgDaemon;

/* sg_daemon_new - bind, drop to [server] user when started as root, then
 * open the spool (with recovery) and start every stage; keeps a reference
 * to config. Nothing is accepted before sg_daemon_run. */
SgDaemon *sg_daemon_new (SgConfig *config, GError **error);

/* How SIGHUP gets the new configuration: the file and flags of start-up, again. */
typedef SgConfig *(*SgConfigLoader) (gpointer data, GError **error);
void      sg_daemon_set_reloader (SgDaemon *daemon, SgConfigLoader loader, gpointer data);
/* sg_daemon_reconfigure - apply config to new sessions and messages; FALSE
 * (old configuration kept) if it cannot be applied. */
gboolean  sg_daemon_reconfigure (SgDaemon *daemon, SgConfig *config, GError **error);
/* sg_daemon_run - serve until stopped; returns the exit status. */
int       sg_daemon_run (SgDaemon *daemon);
/* sg_daemon_stop - begin a clean shutdown (also what SIGTERM does). */
void      sg_daemon_stop (SgDaemon *daemon);
void      sg_daemon_free (SgDaemon *daemon);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgDaemon, sg_daemon_free)

G_END_DECLS
