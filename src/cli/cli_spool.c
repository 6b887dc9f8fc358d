/* cli_spool.c - shared by the spool administration subcommands: their
 * --spool/--config options, opening the spool beside a running daemon
 * without creating anything, queue ID arguments and terminal-safe output.
 * What each command does to a message is queue.c's, show.c's and admin.c's;
 * how messages are stored and locked is src/spool/'s. */
#include "cli/cli_spool.h"
#include "cli/cli.h"
#include "common/privilege.h"
#include "spool/queue_id.h"
#include "sg-build.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gio/gio.h>

#define TIME_FORMAT "%Y-%m-%d %H:%M:%S %z"

/* sg_cli_spool_args_clear - free what the option parser stored. */
void
sg_cli_spool_args_clear (SgCliSpoolArgs *args)
{
  g_clear_pointer (&args->spool_dir, g_free);
  g_clear_pointer (&args->config_path, g_free);
}

/* sg_cli_spool_context_new - option context with --spool, --config and entries. */
GOptionContext *
sg_cli_spool_context_new (const char *name, const char *parameter, const char *summary,
                          const GOptionEntry *entries, SgCliSpoolArgs *args)
{
  const GOptionEntry spool_entries[] = {
    { "spool", 's', 0, G_OPTION_ARG_FILENAME, &args->spool_dir,
      "Spool directory (default: [spool] dir of the configuration; installed, "
      SG_SYSTEM_SPOOL "; else ./" SG_DEF_SPOOL_DIR ")", "DIR" },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &args->config_path,
      "Take the spool directory from this configuration file (default: installed, "
      SG_SYSTEM_CONFIG " if present)", "FILE" },
    { NULL }
  };
  /* Usage: "spoolgate NAME [OPTION…] PARAMETER" */
  g_autofree char *prgname = g_strdup_printf ("spoolgate %s", name);
  g_set_prgname (prgname);
  GOptionContext *context = g_option_context_new (parameter);

  g_option_context_set_summary (context, summary);
  g_option_context_set_description (context,
    "Exit status: 0 success, 1 something failed (see stderr), 2 usage error.\n"
    "Safe beside a running `spoolgate serve`: see spoolgate(8) for the locking.");
  g_option_context_add_main_entries (context, spool_entries, NULL);
  if (entries != NULL)
    g_option_context_add_main_entries (context, entries, NULL);
  return context;
}

/* sg_cli_parse_options - parse, refusing values given to flags. */
gboolean
sg_cli_parse_options (GOptionContext *context, const GOptionEntry *entries, int *argc,
                      char ***argv, GError **error)
{
  for (int i = 1; i < *argc; i++)
    {
      const char *arg = (*argv)[i];
      if (strcmp (arg, "--") == 0)
        break;
      const char *eq = strchr (arg, '=');
      if (!g_str_has_prefix (arg, "--") || eq == NULL)
        continue;
      for (const GOptionEntry *e = entries; e != NULL && e->long_name != NULL; e++)
        if (e->arg == G_OPTION_ARG_NONE && strlen (e->long_name) == (gsize) (eq - arg - 2)
            && strncmp (arg + 2, e->long_name, eq - arg - 2) == 0)
          {
            g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                         "option --%s takes no value", e->long_name);
            return FALSE;
          }
    }
  return g_option_context_parse (context, argc, argv, error);
}

/* sg_cli_parse_states - a comma-separated list of state names as a mask. */
gboolean
sg_cli_parse_states (const char *text, guint *mask, GError **error)
{
  g_auto(GStrv) names = g_strsplit (text, ",", -1);

  *mask = 0;
  for (guint i = 0; names[i] != NULL; i++)
    {
      const char *name = g_strstrip (names[i]);
      guint s;
      if (strcmp (name, "hold") == 0)
        name = sg_meta_state_name (SG_MSG_HELD);
      for (s = 0; s < SG_CLI_N_STATES; s++)
        if (strcmp (name, sg_meta_state_name ((SgMsgState) s)) == 0)
          break;
      if (s == SG_CLI_N_STATES)
        {
          g_autofree char *shown = sg_cli_safe (name);
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "unknown state \"%s\" (queued, deferred, held, delivered or failed)", shown);
          return FALSE;
        }
      *mask |= 1u << s;
    }
  if (*mask == 0)
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--state needs a state");
  return *mask != 0;
}

/* sg_cli_spool_open - find the spool from the arguments and open it for administration. */
SgSpool *
sg_cli_spool_open (const SgCliSpoolArgs *args, GError **error)
{
  g_autoptr(SgConfig) config = sg_cli_load_config (args->config_path, args->spool_dir, error);
  if (config == NULL)
    return NULL;

  /* sg_spool_open_admin would create missing subdirectories; an
   * administration command must not turn a wrong path into a new spool. */
  if (!sg_spool_exists (config->spool_dir, error))
    return NULL;
  /* Started as root on the daemon's spool: act as its owner (as postsuper
   * does), so that rewritten metadata stays readable by the daemon. */
  if (!sg_privilege_become_owner (config->spool_dir, error))
    return NULL;
  return sg_spool_open_admin (config->spool_dir, error);
}

/* sg_cli_spool_open_for_change - sg_cli_spool_open for the commands that
 * change the spool (hold, release, retry, delete, requeue): root, which acts
 * as the spool's owner, or the owner itself. Members of group spoolgate may
 * read the queue (queue, show, rejected) but not change it, as mailq and
 * postsuper divide it (transfer full). */
SgSpool *
sg_cli_spool_open_for_change (const SgCliSpoolArgs *args, GError **error)
{
  g_autoptr(SgConfig) config = sg_cli_load_config (args->config_path, args->spool_dir, error);
  if (config == NULL)
    return NULL;
  struct stat st;
  uid_t me = geteuid ();
  if (me != 0 && stat (config->spool_dir, &st) == 0 && st.st_uid != me)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "changing the spool %s needs root (as postsuper does); members of its "
                   "group may only read it (spoolgate queue, show, rejected)", config->spool_dir);
      return NULL;
    }
  return sg_cli_spool_open (args, error);
}

/* sg_cli_parse_id - validate and upper-case one queue ID argument. */
char *
sg_cli_parse_id (const char *arg, GError **error)
{
  g_autofree char *id = g_ascii_strup (arg, -1);

  if (!sg_queue_id_valid (id))
    {
      g_autofree char *shown = sg_cli_safe (arg);
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "\"%s\" is not a queue ID (%d characters of Crockford base32)",
                   shown, SG_QUEUE_ID_LEN);
      return NULL;
    }
  return g_steal_pointer (&id);
}

/* sg_cli_meta_error - "no message ID in SPOOL" or "message ID: unreadable metadata: ...". */
void
sg_cli_meta_error (SgSpool *spool, const char *queue_id, const GError *local, GError **error)
{
  if (g_error_matches (local, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND)
      || g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    g_set_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND, "no message %s in %s",
                 queue_id, sg_spool_dir (spool));
  else
    g_set_error (error, local->domain, local->code, "message %s: unreadable metadata: %s",
                 queue_id, local->message);
}

/* is_terminal_control - whether a code point could steer a terminal. */
static gboolean
is_terminal_control (gunichar c, gboolean keep_newlines)
{
  if (c == '\t' || (keep_newlines && c == '\n'))
    return FALSE;
  return c < 0x20 || (c >= 0x7f && c < 0xa0);
}

/* sg_cli_append_safe - append text with terminal controls and bad UTF-8 escaped. */
void
sg_cli_append_safe (GString *out, const char *s, gssize len, gboolean keep_newlines)
{
  const char *p = s, *end;

  if (s == NULL)
    return;
  end = s + (len < 0 ? (gssize) strlen (s) : len);
  while (p < end)
    {
      gunichar c = g_utf8_get_char_validated (p, end - p);
      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          g_string_append_printf (out, "\\x%02X", (guchar) *p);
          p++;
          continue;
        }
      const char *next = g_utf8_next_char (p);
      if (keep_newlines && c == '\r' && next < end && *next == '\n')
        ;  /* CRLF becomes LF */
      else if (is_terminal_control (c, keep_newlines))
        for (const char *q = p; q < next; q++)
          g_string_append_printf (out, "\\x%02X", (guchar) *q);
      else
        g_string_append_len (out, p, next - p);
      p = next;
    }
}

/* sg_cli_safe - a terminal-safe copy of s on one line. */
char *
sg_cli_safe (const char *s)
{
  GString *out = g_string_new (NULL);
  sg_cli_append_safe (out, s, -1, FALSE);
  return g_string_free (out, FALSE);
}

/* sg_cli_format_time - epoch seconds in local time. */
char *
sg_cli_format_time (gint64 epoch)
{
  g_autoptr(GDateTime) t = g_date_time_new_from_unix_local (epoch);
  if (t == NULL)
    return g_strdup_printf ("@%" G_GINT64_FORMAT, epoch);
  return g_date_time_format (t, TIME_FORMAT);
}

/* sg_cli_append_field - one padded "label: value" line. */
void
sg_cli_append_field (GString *out, int width, const char *label, const char *value)
{
  g_autofree char *with_colon = g_strconcat (label, ":", NULL);
  g_string_append_printf (out, "  %-*s ", width, with_colon);
  sg_cli_append_safe (out, value ? value : "-", -1, FALSE);
  g_string_append_c (out, '\n');
}

/* sg_cli_header_length - where the header section ends. */
gsize
sg_cli_header_length (const char *data, gsize len)
{
  for (gsize pos = 0; pos < len;)
    {
      const char *nl = memchr (data + pos, '\n', len - pos);
      gsize end = nl ? (gsize) (nl - data) + 1 : len;
      if (data[pos] == '\n' || (data[pos] == '\r' && pos + 1 < len && data[pos + 1] == '\n'))
        return end;
      pos = end;
    }
  return len;
}
