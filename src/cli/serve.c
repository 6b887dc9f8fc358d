/* serve.c - `spoolgate serve [--config FILE] [--listen HOST:PORT] [--spool DIR]`:
 * foreground daemon logging to stderr. Flags override the file, which
 * overrides the built-in defaults; SIGHUP loads both again. */
#include "cli/cli.h"
#include "cli/cli_spool.h"
#include "common/log.h"
#include "daemon/daemon.h"
#include "sg-build.h"

#include <gmime/gmime.h>
#include <stdlib.h>
#include <string.h>

/* sg_cli_installed - whether this process runs the installed binary
 * (SG_INSTALLED_BINARY, e.g. /usr/sbin/spoolgate), rather than one in a
 * build tree or copied elsewhere. */
gboolean
sg_cli_installed (void)
{
  g_autofree char *self = realpath ("/proc/self/exe", NULL);
  g_autofree char *installed = realpath (SG_INSTALLED_BINARY, NULL);
  return self != NULL && installed != NULL && strcmp (self, installed) == 0;
}

/* sg_cli_load_config - the configuration every command uses. The file:
 * --config; else, for the installed binary, SG_SYSTEM_CONFIG if it
 * exists; else none (built-in defaults). The spool: --spool; else the
 * file's [spool] dir; else, for the installed binary, SG_SYSTEM_SPOOL
 * (the unit's StateDirectory); else ./spool. spoolgate(8) says the same. */
SgConfig *
sg_cli_load_config (const char *config_path, const char *spool_dir, GError **error)
{
  gboolean installed = sg_cli_installed ();
  if (config_path == NULL && installed && g_file_test (SG_SYSTEM_CONFIG, G_FILE_TEST_EXISTS))
    config_path = SG_SYSTEM_CONFIG;
  g_autoptr(SgConfig) config = sg_config_load (config_path, error);
  if (!config)
    return NULL;
  if (spool_dir == NULL && installed && strcmp (config->spool_dir, SG_DEF_SPOOL_DIR) == 0)
    spool_dir = SG_SYSTEM_SPOOL;
  if (spool_dir && !sg_config_set (config, "spool", "dir", spool_dir, error))
    return NULL;
  return g_steal_pointer (&config);
}

/* What serve was started with, so SIGHUP can load the same way again. */
typedef struct {
  const char *config_path, *listen, *spool;
} ServeArgs;

/* serve_load - the file, then the --spool and --listen flags (transfer full). */
static SgConfig *
serve_load (gpointer data, GError **error)
{
  const ServeArgs *a = data;
  g_autoptr(SgConfig) config = sg_cli_load_config (a->config_path, a->spool, error);
  if (config && a->listen && !sg_config_set (config, "server", "listen", a->listen, error))
    return NULL;
  return g_steal_pointer (&config);
}

int
sg_cli_serve (int argc, char **argv)
{
  g_autofree char *config_path = NULL, *listen = NULL, *spool = NULL, *log_level = NULL, *log_to = NULL;
  const GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "Configuration file (default: installed, " SG_SYSTEM_CONFIG " if present; else none)", "FILE" },
    { "listen", 'l', 0, G_OPTION_ARG_STRING, &listen, "Listen address, or a comma-separated list (default " SG_DEF_LISTEN ")", "HOST:PORT" },
    { "spool", 's', 0, G_OPTION_ARG_FILENAME, &spool, "Spool directory (default: [spool] dir; installed, " SG_SYSTEM_SPOOL "; else ./" SG_DEF_SPOOL_DIR ")", "DIR" },
    { "log-level", 0, 0, G_OPTION_ARG_STRING, &log_level, "error, warning, info (default) or debug", "LEVEL" },
    { "log-to", 0, 0, G_OPTION_ARG_STRING, &log_to, "stderr, syslog (facility mail) or auto (default: syslog when stderr is the journal)", "WHERE" },
    { NULL }
  };
  g_autoptr(GError) error = NULL;
  g_set_prgname ("spoolgate serve");
  g_autoptr(GOptionContext) ctx = g_option_context_new (NULL);
  g_option_context_set_summary (ctx, "Receives mail over SMTP into the spool and, with [smarthost] host set,\n"
                                     "forwards it; runs in the foreground and logs to stderr.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!sg_cli_parse_options (ctx, entries, &argc, &argv, &error) || argc > 1)
    {
      g_printerr ("spoolgate serve: %s\n", error ? error->message : "unexpected argument");
      return 2;
    }
  SgLogLevel level = SG_LOG_INFO;
  if (log_level && !sg_log_level_parse (log_level, &level))
    {
      g_printerr ("spoolgate serve: unknown log level \"%s\"\n", log_level);
      return 2;
    }

  SgLogTarget target = SG_LOG_TO_AUTO;
  if (log_to && !sg_log_target_parse (log_to, &target))
    {
      g_printerr ("spoolgate serve: unknown log target \"%s\" (stderr, syslog, auto)\n", log_to);
      return 2;
    }
  sg_log_set_target (target);

  ServeArgs args = { config_path, listen, spool };
  g_autoptr(SgConfig) config = serve_load (&args, &error);
  if (!config)
    {
      g_printerr ("spoolgate serve: %s\n", error->message);
      return 2;
    }
  /* --log-level overrides [server] log_level, which the table already checked. */
  if (!log_level)
    sg_log_level_parse (config->log_level, &level);
  sg_log_init (level);
  g_mime_init ();
  g_autoptr(SgDaemon) daemon = sg_daemon_new (config, &error);
  if (!daemon)
    {
      g_printerr ("spoolgate serve: %s\n", error->message);
      return 1;
    }
  sg_daemon_set_reloader (daemon, serve_load, &args);
  return sg_daemon_run (daemon);
}
