/* sd_notify.c - sends one notification datagram to $NOTIFY_SOCKET, the way
 * systemd's Type=notify expects it (see sd_notify(3) for the message keys).
 * Owns only the transport: address parsing and the send. No state is kept,
 * so a socket is opened per message; notifications are rare (start, reload,
 * stop). */
#include "common/sd_notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <gio/gio.h>

/* The first byte of a NOTIFY_SOCKET value naming an abstract socket. */
#define ABSTRACT_PREFIX '@'

/* notify_address - fill addr from a $NOTIFY_SOCKET value; *len is the
 * address length to pass to sendto(). */
static gboolean
notify_address (const char *value, struct sockaddr_un *addr, socklen_t *len, GError **error)
{
  gsize n = strlen (value);

  memset (addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  if (value[0] == ABSTRACT_PREFIX)
    {
      /* Abstract namespace: a leading NUL, then the name; the length says
       * where it ends, no terminator. */
      if (n < 2 || n > sizeof addr->sun_path)
        goto bad;
      memcpy (addr->sun_path + 1, value + 1, n - 1);
      *len = (socklen_t) (offsetof (struct sockaddr_un, sun_path) + n);
      return TRUE;
    }
  if (value[0] != '/' || n >= sizeof addr->sun_path)
    goto bad;
  memcpy (addr->sun_path, value, n);
  *len = (socklen_t) (offsetof (struct sockaddr_un, sun_path) + n + 1);
  return TRUE;

bad:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
               "%s=\"%s\": not an absolute socket path or @abstract name of at most %zu bytes",
               SG_SD_NOTIFY_ENV, value, sizeof addr->sun_path - 1);
  return FALSE;
}

gboolean
sg_sd_notify (const char *state, GError **error)
{
  const char *value = g_getenv (SG_SD_NOTIFY_ENV);
  struct sockaddr_un addr;
  socklen_t addr_len = 0;

  g_return_val_if_fail (state != NULL, FALSE);
  if (value == NULL || value[0] == '\0')
    return TRUE;
  if (!notify_address (value, &addr, &addr_len, error))
    return FALSE;

  int fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    {
      int e = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e),
                   "notify socket: %s", g_strerror (e));
      return FALSE;
    }
  gsize len = strlen (state);
  ssize_t sent = sendto (fd, state, len, MSG_NOSIGNAL, (struct sockaddr *) &addr, addr_len);
  int e = errno;
  close (fd);
  if (sent < 0 || (gsize) sent != len)
    {
      g_set_error (error, G_IO_ERROR, sent < 0 ? g_io_error_from_errno (e) : G_IO_ERROR_FAILED,
                   "notify %s: %s", value, sent < 0 ? g_strerror (e) : "short send");
      return FALSE;
    }
  return TRUE;
}

gboolean
sg_sd_notifyf (GError **error, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *state = g_strdup_vprintf (format, ap);
  va_end (ap);
  return sg_sd_notify (state, error);
}
