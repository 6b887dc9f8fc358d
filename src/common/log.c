/* log.c - the stderr log writer: "TIME spoolgate[PID]: level: text", one
 * line per event. Untrusted text must be passed through sg_log_sanitize()
 * by callers; the writer only guards against embedded newlines. */
#include "common/log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static SgLogLevel log_threshold = SG_LOG_INFO;

static SgLogLevel
level_of (GLogLevelFlags flags)
{
  if (flags & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
    return SG_LOG_ERROR;
  if (flags & G_LOG_LEVEL_WARNING)
    return SG_LOG_WARNING;
  if (flags & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO))
    return SG_LOG_INFO;
  return SG_LOG_DEBUG;
}

static const char *const level_names[] = { "error", "warning", "info", "debug" };

static GLogWriterOutput
log_writer (GLogLevelFlags flags, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  SgLogLevel level = level_of (flags);
  const char *message = NULL;

  if (level > log_threshold)
    return G_LOG_WRITER_HANDLED;
  for (gsize i = 0; i < n_fields; i++)
    if (g_strcmp0 (fields[i].key, "MESSAGE") == 0)
      message = fields[i].value;
  if (message == NULL)
    return G_LOG_WRITER_UNHANDLED;

  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *stamp = g_date_time_format (now, "%Y-%m-%dT%H:%M:%S");
  GString *line = g_string_sized_new (128);
  g_string_append_printf (line, "%s.%03dZ spoolgate[%d]: %s: ", stamp,
                          g_date_time_get_microsecond (now) / 1000, (int) getpid (),
                          level_names[level]);
  for (const char *p = message; *p; p++)
    g_string_append_c (line, (*p == '\n' || *p == '\r') ? ' ' : *p);
  g_string_append_c (line, '\n');
  /* One write per line keeps lines from different threads whole. */
  ssize_t unused = write (STDERR_FILENO, line->str, line->len);
  (void) unused;
  g_string_free (line, TRUE);
  return G_LOG_WRITER_HANDLED;
}

void
sg_log_init (SgLogLevel level)
{
  static gsize once = 0;
  log_threshold = level;
  if (g_once_init_enter (&once))
    {
      g_log_set_writer_func (log_writer, NULL, NULL);
      g_once_init_leave (&once, 1);
    }
}

gboolean
sg_log_level_parse (const char *name, SgLogLevel *level)
{
  for (guint i = 0; i < G_N_ELEMENTS (level_names); i++)
    if (g_ascii_strcasecmp (name, level_names[i]) == 0)
      {
        *level = (SgLogLevel) i;
        return TRUE;
      }
  return FALSE;
}

char *
sg_log_sanitize (const char *data, gssize len, gsize max)
{
  gsize n = len < 0 ? strlen (data) : (gsize) len;
  GString *out = g_string_sized_new (MIN (n, max) + 4);
  for (gsize i = 0; i < n; i++)
    {
      if (out->len >= max)
        {
          g_string_append (out, "...");
          break;
        }
      guchar c = (guchar) data[i];
      if (c >= 0x20 && c < 0x7f)
        g_string_append_c (out, (char) c);
      else
        g_string_append_printf (out, "\\x%02X", c);
    }
  return g_string_free (out, FALSE);
}
