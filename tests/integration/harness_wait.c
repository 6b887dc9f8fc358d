/* harness_wait.c - the integration tests' one way to wait: a bounded poll
 * of a condition (a file, a log line, a listening port, an emptied accept
 * queue), never a fixed sleep. The timeout is a ceiling, not a measurement;
 * on timeout the wait says what it waited for and the caller fails. */
#include "harness.h"

#include <gio/gunixsocketaddress.h>
#include <stdarg.h>
#include <string.h>

/* between two looks: short at first, for what happens at once, then
 * longer, so that a slow condition costs the machine little */
#define POLL_FIRST_US  5000
#define POLL_MAX_US    100000

gboolean
sg_test_wait_until (SgTestCondition cond, gpointer data, guint timeout_ms, const char *what, ...)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  gulong pause = POLL_FIRST_US;
  for (;;)
    {
      if (cond (data))
        return TRUE;
      if (g_get_monotonic_time () >= deadline)
        break;
      g_usleep (pause);
      pause = MIN (pause * 2, POLL_MAX_US);
    }
  va_list ap;
  va_start (ap, what);
  g_autofree char *text = g_strdup_vprintf (what, ap);
  va_end (ap);
  g_test_message ("gave up after %u ms waiting for %s", timeout_ms, text);
  return FALSE;
}

guint
sg_test_count (const char *text, const char *needle)
{
  guint n = 0;
  for (const char *p = text; p && (p = strstr (p, needle)); p += strlen (needle))
    n++;
  return n;
}

static gboolean
path_exists (gpointer path)
{
  return g_file_test (path, G_FILE_TEST_EXISTS);
}

gboolean
sg_test_wait_file (const char *path, guint timeout_ms)
{
  return sg_test_wait_until (path_exists, (gpointer) path, timeout_ms, "%s to exist", path);
}

static gboolean
path_gone (gpointer path)
{
  return !g_file_test (path, G_FILE_TEST_EXISTS);
}

gboolean
sg_test_wait_gone (const char *path, guint timeout_ms)
{
  return sg_test_wait_until (path_gone, (gpointer) path, timeout_ms, "%s to go away", path);
}

typedef struct {
  const char *path;
  const char *needle;
  guint       count;
} Text;

static gboolean
text_holds (gpointer data)
{
  Text *t = data;
  g_autofree char *text = sg_test_read_file (t->path, NULL);
  return sg_test_count (text, t->needle) >= t->count;
}

gboolean
sg_test_wait_text (const char *path, const char *needle, guint count, guint timeout_ms)
{
  Text t = { path, needle, count };
  return sg_test_wait_until (text_holds, &t, timeout_ms, "\"%s\" x%u in %s", needle, count, path);
}

gboolean
sg_test_wait_log (SgTestServer *s, const char *needle, guint count, guint timeout_ms)
{
  return sg_test_wait_text (s->log, needle, count, timeout_ms);
}

void
sg_test_expect_log (SgTestServer *s, const char *needle, guint count)
{
  if (sg_test_wait_log (s, needle, count, SG_TEST_WAIT_MS))
    return;
  g_autofree char *log = sg_test_server_log (s);
  g_error ("never saw \"%s\" x%u in the log:\n%s", needle, count, log);
}

static gboolean
accepts (gpointer address)
{
  g_autoptr(GSocketClient) c = g_socket_client_new ();
  g_autoptr(GSocketConnection) conn = g_socket_client_connect (c, address, NULL, NULL);
  return conn != NULL;
}

gboolean
sg_test_wait_port (guint16 port, guint timeout_ms)
{
  g_autoptr(GSocketConnectable) address = g_network_address_new ("127.0.0.1", port);
  return sg_test_wait_until (accepts, address, timeout_ms, "a listener on 127.0.0.1:%u", port);
}

gboolean
sg_test_wait_unix (const char *path, guint timeout_ms)
{
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (path);
  return sg_test_wait_until (accepts, address, timeout_ms, "a listener on %s", path);
}

/* accept_queue_empty - /proc/net/tcp lists the listener on 127.0.0.1:port
 * (state 0A) with nothing in its rx_queue, which for a listener is the
 * number of connections waiting to be accepted. */
static gboolean
accept_queue_empty (gpointer data)
{
  guint port = GPOINTER_TO_UINT (data);
  g_autofree char *table = sg_test_read_file ("/proc/net/tcp", NULL);
  g_auto(GStrv) lines = g_strsplit (table, "\n", -1);
  g_autofree char *local = g_strdup_printf ("0100007F:%04X", port);
  for (guint i = 1; lines[i]; i++)
    {
      g_auto(GStrv) f = g_strsplit_set (g_strstrip (lines[i]), " ", -1);
      g_autoptr(GPtrArray) fields = g_ptr_array_new ();
      for (guint j = 0; f[j]; j++)
        if (*f[j])
          g_ptr_array_add (fields, f[j]);
      if (fields->len < 5 || strcmp (g_ptr_array_index (fields, 1), local) != 0
          || strcmp (g_ptr_array_index (fields, 3), "0A") != 0)
        continue;
      const char *queues = strchr (g_ptr_array_index (fields, 4), ':');
      return queues && g_ascii_strtoull (queues + 1, NULL, 16) == 0;
    }
  return FALSE;
}

gboolean
sg_test_wait_accepted (guint16 port, guint timeout_ms)
{
  return sg_test_wait_until (accept_queue_empty, GUINT_TO_POINTER (port), timeout_ms,
                             "the listener on 127.0.0.1:%u to accept every connection", port);
}
