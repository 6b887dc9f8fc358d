/* main.c - the spoolgate executable: dispatches to a subcommand. */
#include "cli/cli.h"
#include "cli/rejected.h"
#include "cli/check.h"
#include "common/log.h"
#include "sg-build.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

typedef struct {
  const char *name;
  int (*run) (int argc, char **argv);
  const char *usage;
} Subcommand;

static int cmd_version (int argc, char **argv);
static int cmd_help (int argc, char **argv);

static const Subcommand subcommands[] = {
  { "serve", sg_cli_serve, "serve [--config FILE] [--listen HOST:PORT] [--spool DIR]   receive mail (foreground)" },
  { "check", sg_cli_check, "check [--json] [--smtputf8] [--8bitmime] [--config FILE] FILE...   validate message files" },
  { "queue", sg_cli_queue, "queue [--json] [--state STATE]   list the spool's messages (like mailq)" },
  { "show", sg_cli_show, "show [--json | --body] ID   one message: metadata, MIME tree, header" },
  { "hold", sg_cli_hold, "hold ID... | --all   keep messages from being delivered" },
  { "release", sg_cli_release, "release ID... | --all   return held messages to the queue" },
  { "retry", sg_cli_retry, "retry ID... | --all   make queued or deferred messages due now" },
  { "delete", sg_cli_delete, "delete ID... | --all   remove messages from the spool" },
  { "rejected", sg_cli_rejected, "rejected [--json] [--monitored]   list refused messages kept in rejected/ ([validation] keep_rejected), or those monitor mode accepted" },
  { "requeue", sg_cli_requeue, "requeue ID... | --all   put failed messages back in the queue" },
  { "config", sg_cli_config, "config check | show [-n] [--config FILE]   check the configuration and what it names; print it (like postconf)" },
  { "verify", sg_cli_verify, "verify [--json] [--probe] ADDRESS...   what address verification knows (or asks the next hop now)" },
  { "version", cmd_version, "version   print the version" },
  { "help", cmd_help, "help   this text" },
};

static int
cmd_version (int argc, char **argv)
{
  g_print ("spoolgate %s\n", SG_VERSION_STRING);
  return 0;
}

static int
cmd_help (int argc, char **argv)
{
  g_print ("usage: spoolgate COMMAND [OPTIONS]\n\ncommands:\n");
  for (guint i = 0; i < G_N_ELEMENTS (subcommands); i++)
    g_print ("  %s\n", subcommands[i].usage);
  g_print ("\nThe spool commands (queue ... requeue) also take --spool DIR or --config FILE\n"
           "and are safe while `serve` runs.\n"
           "`spoolgate COMMAND --help` describes each command's options; see spoolgate(8).\n");
  return 0;
}

/* print_raw, printerr_raw - g_print and g_printerr write their UTF-8 as
 * is. GLib's own handlers convert to the locale's charset, which under
 * LC_ALL=C (set below) turns every non-ASCII character into '?'; what the
 * commands print is UTF-8 whatever the locale (made terminal-safe where
 * it comes from the spool, cli_spool.c). */
static void
print_raw (const char *text)
{
  fputs (text, stdout);
  fflush (stdout);
}

static void
printerr_raw (const char *text)
{
  fputs (text, stderr);
}

int
main (int argc, char **argv)
{
  /* Dates in headers and logs must not follow the locale. */
  setlocale (LC_ALL, "C");
  /* who runs us, for the audit lines, before anything changes our uid */
  sg_log_capture_caller ();
  g_set_print_handler (print_raw);
  g_set_printerr_handler (printerr_raw);
  g_set_prgname ("spoolgate");
  if (argc < 2)
    {
      cmd_help (0, NULL);
      return 2;
    }
  const char *name = argv[1];
  if (strcmp (name, "--help") == 0 || strcmp (name, "-h") == 0)
    name = "help";
  if (strcmp (name, "--version") == 0)
    name = "version";
  for (guint i = 0; i < G_N_ELEMENTS (subcommands); i++)
    if (strcmp (subcommands[i].name, name) == 0)
      return subcommands[i].run (argc - 1, argv + 1);
  g_printerr ("spoolgate: unknown command \"%s\"; see `spoolgate help`\n", argv[1]);
  return 2;
}
