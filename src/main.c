/* main.c - the spoolgate executable: dispatches to a subcommand. */
#include "cli/cli.h"
#include "cli/check.h"
#include "sg-build.h"

#include <locale.h>
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
  g_print ("\n`spoolgate COMMAND --help` describes each command's options.\n");
  return 0;
}

int
main (int argc, char **argv)
{
  /* Dates in headers and logs must not follow the locale. */
  setlocale (LC_ALL, "C");
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
