/* check.h - `spoolgate check`: validate message files offline with the
 * server's validator and policy. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* sg_cli_check - run `check`; argv[0] is "check". Returns the exit code:
 * 0 all files valid, 1 some file rejected, 2 usage or I/O error. */
int sg_cli_check (int argc, char **argv);

G_END_DECLS
