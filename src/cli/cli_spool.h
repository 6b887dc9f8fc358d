/* cli_spool.h - what the spool administration subcommands (queue, show,
 * hold, release, retry, delete, requeue) share: the --spool/--config
 * options, finding and opening the spool beside a running daemon, queue ID
 * arguments, and terminal-safe output of text taken from the spool. */
#pragma once
#include <glib.h>
#include "spool/spool.h"

G_BEGIN_DECLS

/* Exit statuses of the administration subcommands. */
enum {
  SG_CLI_EXIT_OK = 0,
  SG_CLI_EXIT_FAILED = 1,   /* the command ran and something failed */
  SG_CLI_EXIT_USAGE = 2,    /* bad options or arguments; nothing was looked at */
};

typedef struct {
  char *spool_dir;     /* --spool DIR (nullable) */
  char *config_path;   /* --config FILE (nullable) */
} SgCliSpoolArgs;

/* sg_cli_spool_args_clear - free what the option parser stored. */
void sg_cli_spool_args_clear (SgCliSpoolArgs *args);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (SgCliSpoolArgs, sg_cli_spool_args_clear)

/* sg_cli_spool_context_new - a GOptionContext for subcommand `name` with
 * --spool and --config (filling args) and the caller's entries (nullable);
 * options are accepted anywhere among the arguments (transfer full). */
GOptionContext *sg_cli_spool_context_new (const char *name, const char *parameter,
                                          const char *summary, const GOptionEntry *entries,
                                          SgCliSpoolArgs *args);

/* sg_cli_parse_options - g_option_context_parse, but a flag (an entry of
 * entries with G_OPTION_ARG_NONE) given a value, "--all=1", is a usage
 * error rather than silently taken as the flag. */
gboolean sg_cli_parse_options (GOptionContext *context, const GOptionEntry *entries,
                               int *argc, char ***argv, GError **error);

/* The number of message states, SgMsgState's values being 0 .. SG_CLI_N_STATES-1. */
#define SG_CLI_N_STATES (SG_MSG_FAILED + 1)

/* sg_cli_parse_states - "held,deferred" into a mask of 1 << SgMsgState bits;
 * "hold" is taken for "held" as Postfix names it. */
gboolean sg_cli_parse_states (const char *text, guint *mask, GError **error);

/* sg_cli_spool_open - open the spool named by --spool, else by [spool] dir
 * of --config, else the built-in default, beside a running daemon. A
 * missing directory, or one without queue/, is SG_SPOOL_ERROR_NOT_FOUND and
 * nothing is created. Run as root on a spool owned by another user (the
 * daemon's), the process becomes that user first (transfer full). */
SgSpool *sg_cli_spool_open (const SgCliSpoolArgs *args, GError **error);
/* sg_cli_spool_open_for_change - the same for a command that changes the
 * spool: refused unless root or the spool's owner (transfer full). */
SgSpool *sg_cli_spool_open_for_change (const SgCliSpoolArgs *args, GError **error);

/* sg_cli_parse_id - a queue ID argument, upper-cased (Crockford base32 is
 * case-insensitive); NULL with an error naming arg if it is not one (transfer full). */
char *sg_cli_parse_id (const char *arg, GError **error);

/* sg_cli_meta_error - the one wording every command uses when a message's
 * metadata cannot be had: "no message ID in SPOOL" (SG_SPOOL_ERROR_NOT_FOUND)
 * when it does not exist, else "message ID: unreadable metadata: DETAIL"
 * (local's domain and code). */
void sg_cli_meta_error (SgSpool *spool, const char *queue_id, const GError *local, GError **error);

/* sg_cli_append_safe - append len bytes of s (-1: NUL-terminated) to out with
 * everything a terminal could act on escaped as \xNN: control characters
 * (C0 other than tab and, if keep_newlines, LF; DEL; C1) and invalid UTF-8.
 * CR before LF is dropped when keep_newlines. */
void sg_cli_append_safe (GString *out, const char *s, gssize len, gboolean keep_newlines);

/* sg_cli_safe - sg_cli_append_safe into a new string, newlines escaped (transfer full). */
char *sg_cli_safe (const char *s);

/* sg_cli_append_field - "  label:  value\n", the label and its colon padded
 * to width, value terminal-safe ("-" when NULL): the lines of `show`. */
void sg_cli_append_field (GString *out, int width, const char *label, const char *value);

/* sg_cli_header_length - bytes of a message's header section, up to and
 * including the empty line that ends it (RFC 5322 2.1); len if there is none. */
gsize sg_cli_header_length (const char *data, gsize len);

/* sg_cli_format_time - epoch seconds as local "YYYY-MM-DD HH:MM:SS +ZZZZ" (transfer full). */
char *sg_cli_format_time (gint64 epoch);

G_END_DECLS
