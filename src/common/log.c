/* log.c - the stderr log writer: "TIME spoolgate[PID]: level: text", one
 * line per event; and the administration commands' syslog line
 * ("spoolgate/admin[PID]: ID: placed on hold, by uid 0 (root)"). Untrusted
 * text must be passed through sg_log_sanitize() by callers; the writer
 * only guards against embedded newlines. */
#include "common/log.h"

#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
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

/* is_log_control - whether a code point could break or steer a log line. */
static gboolean
is_log_control (gunichar c)
{
  return c < 0x20 || (c >= 0x7f && c < 0xa0) || c == 0x2028 || c == 0x2029;
}

/* sg_log_sanitize - valid UTF-8 kept as it is; invalid bytes and control
 * characters as \xNN; cut at a character boundary once max bytes are reached. */
char *
sg_log_sanitize (const char *data, gssize len, gsize max)
{
  gsize n = len < 0 ? strlen (data) : (gsize) len;
  const char *p = data, *end = data + n;
  GString *out = g_string_sized_new (MIN (n, max) + 4);
  while (p < end)
    {
      if (out->len >= max)
        {
          g_string_append (out, "...");
          break;
        }
      gunichar c = g_utf8_get_char_validated (p, end - p);
      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          g_string_append_printf (out, "\\x%02X", (guchar) *p);
          p++;
          continue;
        }
      const char *next = g_utf8_next_char (p);
      if (is_log_control (c))
        for (const char *q = p; q < next; q++)
          g_string_append_printf (out, "\\x%02X", (guchar) *q);
      else
        g_string_append_len (out, p, next - p);
      p = next;
    }
  return g_string_free (out, FALSE);
}

/* sg_log_admin - one syslog datagram, mail facility, info priority. */
gboolean
sg_log_admin (const char *queue_id, const char *what)
{
  const char *path = g_getenv (SG_LOG_SYSLOG_SOCKET_ENV);
  if (path == NULL || *path == '\0')
    path = SG_LOG_SYSLOG_SOCKET;

  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  if (strlen (path) >= sizeof addr.sun_path)
    return FALSE;
  strcpy (addr.sun_path, path);

  uid_t uid = getuid ();
  struct passwd *pw = getpwuid (uid);
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  /* RFC 3164: "<PRI>Mmm dd hh:mm:ss TAG[PID]: text", the form syslog(3) sends */
  static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
  g_autofree char *line = g_strdup_printf (
    "<%d>%s %2d %02d:%02d:%02d " SG_LOG_ADMIN_TAG "[%d]: %s: %s, by uid %u (%s)",
    LOG_MAIL | LOG_INFO, months[g_date_time_get_month (now) - 1],
    g_date_time_get_day_of_month (now), g_date_time_get_hour (now),
    g_date_time_get_minute (now), g_date_time_get_second (now), (int) getpid (),
    queue_id, what, (unsigned) uid, pw != NULL ? pw->pw_name : "?");

  int fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return FALSE;
  gboolean sent = sendto (fd, line, strlen (line), MSG_NOSIGNAL, (struct sockaddr *) &addr,
                          sizeof addr) >= 0;
  close (fd);
  return sent;
}
