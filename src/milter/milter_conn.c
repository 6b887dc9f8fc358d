/* milter_conn.c - the socket to one milter: connect (inet: or unix:)
 * within connect_timeout, and writes and packet reads before the deadline
 * of the current stage (set by milter_client.c; nothing read moves it),
 * cut short when the intake stops. What the packets say is
 * milter_proto.c's, the conversation milter_client.c's. */
#include "milter/milter_conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define CANCEL_POLL_MS 200 /* how often a wait looks at SgMilterInput.cancel */

/* wait_fd - until c->fd is ready for events, the deadline passes or the
 * intake stops (SgMilterInput.cancel). */
static gboolean
wait_fd (SgMilterConn *c, short events, gint64 deadline, const char *what)
{
  for (;;)
    {
      gint64 left = deadline - g_get_monotonic_time ();
      if (left <= 0)
        {
          g_set_error (&c->error, SG_MILTER_ERROR, SG_MILTER_ERROR_TIMEOUT, "timeout %s", what);
          return FALSE;
        }
      if (c->in->cancel && g_atomic_int_get (c->in->cancel))
        {
          g_set_error (&c->error, SG_MILTER_ERROR, SG_MILTER_ERROR_IO, "shutting down while %s", what);
          return FALSE;
        }
      struct pollfd p = { .fd = c->fd, .events = events };
      int n = poll (&p, 1, (int) MIN ((left + 999) / 1000, CANCEL_POLL_MS));
      if (n > 0)
        return TRUE;
      if (n < 0 && errno != EINTR)
        {
          g_set_error (&c->error, SG_MILTER_ERROR, SG_MILTER_ERROR_IO, "poll: %s", g_strerror (errno));
          return FALSE;
        }
    }
}

/* connect_one - a non-blocking connect to addr within the deadline. */
static gboolean
connect_one (SgMilterConn *c, const struct sockaddr *addr, socklen_t len, int family, gint64 deadline)
{
  c->fd = socket (family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (c->fd < 0)
    {
      g_set_error (&c->error, SG_MILTER_ERROR, SG_MILTER_ERROR_IO, "socket: %s", g_strerror (errno));
      return FALSE;
    }
  if (connect (c->fd, addr, len) == 0)
    return TRUE;
  if (errno == EINPROGRESS && wait_fd (c, POLLOUT, deadline, "connecting"))
    {
      int err = 0;
      socklen_t elen = sizeof err;
      if (getsockopt (c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err == 0)
        return TRUE;
      errno = err;
    }
  if (!c->error)
    g_set_error (&c->error, SG_MILTER_ERROR, SG_MILTER_ERROR_IO, "connect: %s", g_strerror (errno));
  close (c->fd);
  c->fd = -1;
  return FALSE;
}

/* sg_milter_conn_open - connect c->fd to c->name within connect_timeout. */
gboolean
sg_milter_conn_open (SgMilterConn *c)
{
  g_autofree char *host = NULL, *path = NULL;
  guint16 port_number;
  gint64 deadline = MIN (g_get_monotonic_time () + c->config->milter_connect_timeout * G_USEC_PER_SEC,
                         c->deadline);
  if (!sg_config_parse_milter (c->name, &host, &port_number, &path, NULL))
    {
      g_set_error (&c->error, SG_MILTER_ERROR, SG_MILTER_ERROR_IO,
                   "not inet:HOST:PORT or unix:PATH");
      return FALSE;
    }
  if (path)
    {
      struct sockaddr_un un = { .sun_family = AF_UNIX };
      if (strlen (path) >= sizeof un.sun_path)
        {
          g_set_error (&c->error, SG_MILTER_ERROR, SG_MILTER_ERROR_IO, "socket path too long");
          return FALSE;
        }
      strcpy (un.sun_path, path);
      return connect_one (c, (struct sockaddr *) &un, sizeof un, AF_UNIX, deadline);
    }
  struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
  struct addrinfo *res = NULL;
  char port[8];
  g_snprintf (port, sizeof port, "%u", port_number);
  int rc = getaddrinfo (host, port, &hints, &res);
  if (rc != 0)
    {
      g_set_error (&c->error, SG_MILTER_ERROR, SG_MILTER_ERROR_IO, "%s: %s", host, gai_strerror (rc));
      return FALSE;
    }
  gboolean ok = FALSE;
  for (struct addrinfo *ai = res; ai && !ok; ai = ai->ai_next)
    {
      g_clear_error (&c->error);
      ok = connect_one (c, ai->ai_addr, ai->ai_addrlen, ai->ai_family, deadline);
    }
  freeaddrinfo (res);
  return ok;
}

/* sg_milter_conn_send - write all of buf before c->deadline, then empty it. */
gboolean
sg_milter_conn_send (SgMilterConn *c, GByteArray *buf)
{
  gsize off = 0;
  while (off < buf->len)
    {
      ssize_t n = send (c->fd, buf->data + off, buf->len - off, MSG_NOSIGNAL);
      if (n > 0)
        off += (gsize) n;
      else if (n < 0 && errno == EINTR)
        continue;
      else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        {
          if (!wait_fd (c, POLLOUT, c->deadline, "sending"))
            return FALSE;
        }
      else
        {
          g_set_error (&c->error, SG_MILTER_ERROR, SG_MILTER_ERROR_IO, "write: %s",
                       n < 0 ? g_strerror (errno) : "closed");
          return FALSE;
        }
    }
  g_byte_array_set_size (buf, 0);
  return TRUE;
}

/* sg_milter_conn_read - the next packet before c->deadline. A milter that
 * keeps sending is bounded by the deadline too, not only a silent one. */
gboolean
sg_milter_conn_read (SgMilterConn *c, SgMilterReply *r)
{
  for (;;)
    {
      gsize used = 0;
      SgMilterStatus st = sg_milter_decode (c->inbuf->data, c->inbuf->len, &used, r, &c->error);
      if (st == SG_MILTER_PACKET)
        {
          g_byte_array_remove_range (c->inbuf, 0, (guint) used);
          return TRUE;
        }
      if (st == SG_MILTER_BAD)
        return FALSE;
      /* a milter that never stops sending never lets wait_fd() look */
      if (!wait_fd (c, POLLIN, c->deadline, "waiting for the reply"))
        return FALSE;
      guint8 chunk[8192];
      ssize_t n = recv (c->fd, chunk, sizeof chunk, 0);
      if (n > 0)
        g_byte_array_append (c->inbuf, chunk, (guint) n);
      else if (n < 0 && errno == EINTR)
        continue;
      else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        continue;
      else
        {
          g_set_error (&c->error, SG_MILTER_ERROR, SG_MILTER_ERROR_IO, "read: %s",
                       n < 0 ? g_strerror (errno) : "connection closed by milter");
          return FALSE;
        }
    }
}
