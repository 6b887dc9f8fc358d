/* log.c - the log writer: each line as Postfix's programs write theirs,
 * "spoolgate/SERVICE[PID]: [warning: ]text", to stderr in RFC 3164 form
 * ("Mmm dd hh:mm:ss HOST spoolgate/smtpd[PID]: ...", what pflogsumm and a
 * mail.log reader expect) or to the system logger with facility mail; the
 * administration commands' audit line; and holding a message's early lines
 * back (sg_log_hold). Untrusted text must be passed through
 * sg_log_sanitize() by callers; the writer only guards against newlines. */
#include "common/log.h"

#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define LOG_TAG_PREFIX "spoolgate/"

static SgLogLevel log_threshold = SG_LOG_INFO;
static SgLogTarget log_target = SG_LOG_TO_AUTO;
static gboolean to_syslog;   /* the target, resolved */

static const char *const services[] = {
  SG_LOG_SMTPD, SG_LOG_CLEANUP, SG_LOG_QMGR, SG_LOG_SMTP, SG_LOG_BOUNCE, SG_LOG_MASTER,
  SG_LOG_ADMIN,
};

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
/* what Postfix puts before the text of each level; info and debug: nothing */
static const char *const level_prefix[] = { "error: ", "warning: ", "", "" };
static const int level_priority[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

/* host_name - this machine's name up to the first dot, as syslogd writes it. */
static const char *
host_name (void)
{
  static char name[256];
  static gsize once = 0;
  if (g_once_init_enter (&once))
    {
      if (gethostname (name, sizeof name - 1) != 0 || name[0] == '\0')
        g_strlcpy (name, "localhost", sizeof name);
      name[sizeof name - 1] = '\0';
      char *dot = strchr (name, '.');
      if (dot != NULL && dot != name)
        *dot = '\0';
      g_once_init_leave (&once, 1);
    }
  return name;
}

/* stamp - "Mmm dd hh:mm:ss" in local time (RFC 3164 4.1.2), never localised. */
static void
stamp (char out[16])
{
  static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
  time_t now = time (NULL);
  struct tm tm;
  localtime_r (&now, &tm);
  g_snprintf (out, 16, "%s %2d %02d:%02d:%02d", months[tm.tm_mon], tm.tm_mday, tm.tm_hour,
              tm.tm_min, tm.tm_sec);
}

/* syslog_send - one datagram "<PRI>STAMP TAG[PID]: text" to the system
 * logger, facility mail (what syslog(3) sends); FALSE if none listens. */
static gboolean
syslog_send (const char *tag, int priority, const char *text)
{
  const char *path = g_getenv (SG_LOG_SYSLOG_SOCKET_ENV);
  if (path == NULL || *path == '\0')
    path = SG_LOG_SYSLOG_SOCKET;
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  if (strlen (path) >= sizeof addr.sun_path)
    return FALSE;
  strcpy (addr.sun_path, path);

  char when[16];
  stamp (when);
  g_autofree char *line = g_strdup_printf ("<%d>%s %s[%d]: %s", LOG_MAIL | priority, when, tag,
                                           (int) getpid (), text);
  int fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return FALSE;
  gboolean sent = sendto (fd, line, strlen (line), MSG_NOSIGNAL, (struct sockaddr *) &addr,
                          sizeof addr) >= 0;
  close (fd);
  return sent;
}

/* emit - one finished line to its target; stderr when the logger is gone. */
static void
emit (const char *service, SgLogLevel level, const char *text)
{
  g_autofree char *tag = g_strconcat (LOG_TAG_PREFIX, service, NULL);
  g_autofree char *body = g_strconcat (level_prefix[level], text, NULL);
  if (to_syslog && syslog_send (tag, level_priority[level], body))
    return;
  char when[16];
  stamp (when);
  g_autofree char *line = g_strdup_printf ("%s %s %s[%d]: %s\n", when, host_name (), tag,
                                           (int) getpid (), body);
  /* One write per line keeps lines from different threads whole. */
  ssize_t unused = write (STDERR_FILENO, line, strlen (line));
  (void) unused;
}

/* Holding: lines about a message kept back until its arrival is logged. */
typedef struct {
  const char *service;   /* static, from services[] */
  SgLogLevel  level;
  char       *text;
} HeldLine;

static GMutex hold_lock;
static GHashTable *holds;   /* queue ID -> GPtrArray of HeldLine*; under hold_lock */
static gint n_holds;        /* atomic: g_hash_table_size (holds), read without the lock */

static void
held_line_free (gpointer p)
{
  HeldLine *h = p;
  g_free (h->text);
  g_free (h);
}

/* hold_line - keep text back if it is about a held message; FALSE to write it now. */
static gboolean
hold_line (const char *service, SgLogLevel level, const char *text)
{
  if (g_atomic_int_get (&n_holds) == 0)
    return FALSE;
  const char *colon = strstr (text, ": ");
  if (colon == NULL || colon == text || (gsize) (colon - text) > 64)
    return FALSE;
  g_autofree char *id = g_strndup (text, colon - text);
  gboolean kept = FALSE;
  g_mutex_lock (&hold_lock);
  GPtrArray *lines = holds ? g_hash_table_lookup (holds, id) : NULL;
  if (lines != NULL && lines->len < SG_LOG_HOLD_MAX)
    {
      HeldLine *h = g_new (HeldLine, 1);
      *h = (HeldLine) { service, level, g_strdup (text) };
      g_ptr_array_add (lines, h);
      kept = TRUE;
    }
  g_mutex_unlock (&hold_lock);
  return kept;
}

void
sg_log_hold (const char *queue_id)
{
  if (queue_id == NULL || *queue_id == '\0')
    return;
  g_mutex_lock (&hold_lock);
  if (holds == NULL)
    holds = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                   (GDestroyNotify) g_ptr_array_unref);
  if (!g_hash_table_contains (holds, queue_id))
    {
      g_hash_table_insert (holds, g_strdup (queue_id), g_ptr_array_new_with_free_func (held_line_free));
      g_atomic_int_inc (&n_holds);
    }
  g_mutex_unlock (&hold_lock);
}

/* An SgLogHeld is the GPtrArray of HeldLine* taken out of holds. */
SgLogHeld *
sg_log_unhold (const char *queue_id)
{
  if (queue_id == NULL || g_atomic_int_get (&n_holds) == 0)
    return NULL;
  gpointer key = NULL, value = NULL;
  g_mutex_lock (&hold_lock);
  gboolean found = holds && g_hash_table_steal_extended (holds, queue_id, &key, &value);
  if (found)
    g_atomic_int_dec_and_test (&n_holds);
  g_mutex_unlock (&hold_lock);
  g_free (key);
  return found ? (SgLogHeld *) value : NULL;
}

void
sg_log_held_write (SgLogHeld *held)
{
  if (held == NULL)
    return;
  GPtrArray *lines = (GPtrArray *) held;
  for (guint i = 0; i < lines->len; i++)
    {
      const HeldLine *h = g_ptr_array_index (lines, i);
      emit (h->service, h->level, h->text);
    }
  g_ptr_array_unref (lines);
}

void
sg_log_release (const char *queue_id)
{
  sg_log_held_write (sg_log_unhold (queue_id));
}

/* service_of - the SG_LOG_* name for a GLib log domain; NULL when it is
 * none of ours (GLib's, GMime's: logged as master, domain first). */
static const char *
service_of (const char *domain)
{
  if (domain == NULL)
    return NULL;
  for (guint i = 0; i < G_N_ELEMENTS (services); i++)
    if (strcmp (domain, services[i]) == 0)
      return services[i];
  return NULL;
}

static GLogWriterOutput
log_writer (GLogLevelFlags flags, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  SgLogLevel level = level_of (flags);
  const char *message = NULL, *domain = NULL;

  if (level > log_threshold)
    return G_LOG_WRITER_HANDLED;
  for (gsize i = 0; i < n_fields; i++)
    if (g_strcmp0 (fields[i].key, "MESSAGE") == 0)
      message = fields[i].value;
    else if (g_strcmp0 (fields[i].key, "GLIB_DOMAIN") == 0)
      domain = fields[i].value;
  if (message == NULL)
    return G_LOG_WRITER_UNHANDLED;

  const char *service = service_of (domain);
  GString *text = g_string_sized_new (128);
  if (service == NULL && domain != NULL && strcmp (domain, "spoolgate") != 0)
    g_string_append_printf (text, "%s: ", domain);
  for (const char *p = message; *p; p++)
    g_string_append_c (text, (*p == '\n' || *p == '\r') ? ' ' : *p);
  if (service == NULL)
    service = SG_LOG_MASTER;
  if (!hold_line (service, level, text->str))
    emit (service, level, text->str);
  g_string_free (text, TRUE);
  return G_LOG_WRITER_HANDLED;
}

/* journal_is_stderr - whether stderr is systemd's journal stream
 * (JOURNAL_STREAM is "DEV:INODE" of it, systemd.exec(5)). */
static gboolean
journal_is_stderr (void)
{
  const char *js = g_getenv ("JOURNAL_STREAM");
  struct stat st;
  unsigned long long dev, ino;
  if (js == NULL || sscanf (js, "%llu:%llu", &dev, &ino) != 2 || fstat (STDERR_FILENO, &st) != 0)
    return FALSE;
  return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

void
sg_log_set_target (SgLogTarget target)
{
  log_target = target;
  to_syslog = target == SG_LOG_TO_SYSLOG || (target == SG_LOG_TO_AUTO && journal_is_stderr ());
}

void
sg_log_init (SgLogLevel level)
{
  static gsize once = 0;
  log_threshold = level;
  sg_log_set_target (log_target);
  (void) host_name ();
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

gboolean
sg_log_target_parse (const char *name, SgLogTarget *target)
{
  static const char *const names[] = { "auto", "stderr", "syslog" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_ascii_strcasecmp (name, names[i]) == 0)
      {
        *target = (SgLogTarget) i;
        return TRUE;
      }
  return FALSE;
}

char *
sg_log_client (const char *verified_name, const char *address)
{
  return g_strdup_printf ("%s[%s]", verified_name && *verified_name ? verified_name : "unknown",
                          address && *address ? address : "unknown");
}

/* is_log_control - whether a code point could break or steer a log line. */
static gboolean
is_log_control (gunichar c)
{
  return c < 0x20 || (c >= 0x7f && c < 0xa0) || c == 0x2028 || c == 0x2029;
}

/* sg_log_sanitize - valid UTF-8 kept as it is; invalid bytes and control
 * characters as \xNN; cut at a character boundary once max bytes are reached. */
const char *
sg_log_proto (const char *with_protocol)
{
  return with_protocol && strcmp (with_protocol, "SMTP") == 0 ? "SMTP" : "ESMTP";
}

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

/* The caller of an administration command, as it was when it started. */
static uid_t caller_uid;
static char *caller_name;

void
sg_log_capture_caller (void)
{
  static gsize once = 0;
  if (g_once_init_enter (&once))
    {
      caller_uid = getuid ();
      struct passwd *pw = getpwuid (caller_uid);
      caller_name = g_strdup (pw != NULL ? pw->pw_name : "?");
      g_once_init_leave (&once, 1);
    }
}

/* sg_log_admin - one syslog datagram, mail facility, info priority. */
gboolean
sg_log_admin (const char *queue_id, const char *what)
{
  sg_log_capture_caller ();
  g_autofree char *text = g_strdup_printf ("%s: %s, by uid %u (%s)", queue_id, what,
                                           (unsigned) caller_uid, caller_name);
  return syslog_send (SG_LOG_ADMIN_TAG, LOG_INFO, text);
}
