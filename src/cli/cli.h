/* cli.h - the subcommands of the spoolgate executable. Each takes argv with
 * argv[0] = the subcommand name and returns the process exit status. */
#pragma once
#include <glib.h>
#include "config/config.h"

G_BEGIN_DECLS

int sg_cli_serve (int argc, char **argv);

/* sg_cli_load_config - --config FILE then --spool DIR overrides (transfer full). */
SgConfig *sg_cli_load_config (const char *config_path, const char *spool_dir, GError **error);

G_END_DECLS
