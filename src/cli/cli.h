/* cli.h - the subcommands of the spoolgate executable. Each takes argv with
 * argv[0] = the subcommand name and returns the process exit status. */
#pragma once
#include <glib.h>
#include "config/config.h"

G_BEGIN_DECLS

int sg_cli_serve (int argc, char **argv);

/* Spool administration, safe beside a running daemon (see spoolgate(8)).
 * Exit status: 0 success, 1 something failed, 2 usage error. */
/* sg_cli_queue - list messages: text like mailq, or --json like postqueue -j. */
int sg_cli_queue (int argc, char **argv);
/* sg_cli_show - one message: metadata, MIME tree and header; or --body / --json raw. */
int sg_cli_show (int argc, char **argv);
/* sg_cli_hold - put queued or deferred messages on hold. */
int sg_cli_hold (int argc, char **argv);
/* sg_cli_release - return held messages to the queue. */
int sg_cli_release (int argc, char **argv);
/* sg_cli_retry - make queued or deferred messages due now. */
int sg_cli_retry (int argc, char **argv);
/* sg_cli_delete - remove messages from the spool. */
int sg_cli_delete (int argc, char **argv);
/* sg_cli_requeue - put failed messages back in the queue. */
int sg_cli_requeue (int argc, char **argv);

/* sg_cli_config - `config check` (what the file names, every problem) and
 * `config show [-n]` (every setting, or those off their default). */
int sg_cli_config (int argc, char **argv);
/* sg_cli_config_check - `config check` of config_path (nullable: the default). */
int sg_cli_config_check (const char *config_path);
/* sg_cli_verify - the address verification cache: show, or --probe now. */
int sg_cli_verify (int argc, char **argv);

/* sg_cli_installed - whether this is the installed binary (not a build tree's). */
gboolean sg_cli_installed (void);
/* sg_cli_load_config - --config FILE (installed: the system file by
 * default), then --spool DIR overrides (installed: the system spool by
 * default); see serve.c (transfer full). */
SgConfig *sg_cli_load_config (const char *config_path, const char *spool_dir, GError **error);

G_END_DECLS
