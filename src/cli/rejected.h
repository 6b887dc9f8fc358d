/* rejected.h - the administration commands' view of rejected/ (refused
 * messages kept by [validation] keep_rejected): `spoolgate rejected`, and
 * the hooks through which `show` and `release` reach a refused message. */
#pragma once
#include <glib.h>
#include "spool/spool.h"

G_BEGIN_DECLS

/* sg_cli_rejected - list refused messages: text, or --json lines. */
int sg_cli_rejected (int argc, char **argv);

/* sg_cli_rejected_show - `spoolgate show [--json | --body] ID` for an ID in
 * rejected/; SG_SPOOL_ERROR_NOT_FOUND (naming queue/ and rejected/) if absent. */
gboolean sg_cli_rejected_show (SgSpool *spool, const char *id, gboolean json, gboolean body,
                               GError **error);

/* sg_cli_rejected_release - `spoolgate release ID...` when the IDs name
 * refused messages in rejected/: queue them and set *status. FALSE (nothing
 * done) when the arguments are for the ordinary release of held mail. */
gboolean sg_cli_rejected_release (int argc, char **argv, int *status);

G_END_DECLS
