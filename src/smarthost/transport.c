/* transport.c - the smarthost socket: non-blocking connect, line reads and
 * full writes, each bounded by a deadline and by the cancel fd, over either
 * the plain socket or an SSL from tls_client.c. */
#include "smarthost/transport.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

G_DEFINE_QUARK (sg-transport-error-quark, sg_transport_error)

struct _SgTransport {
  int      fd;
  int      cancel_fd;
  SSL     *ssl;        /* (nullable) after STARTTLS */
  char    *peer;
  char    *buf;        /* SG_TRANSPORT_CHUNK bytes of input */
  gsize    start, end; /* unconsumed input is buf[start..end) */
};

/* wait_for - poll fd for events until deadline (monotonic µs), or fail. */
static gboolean
wait_for (SgTransport *t, short events, gint64 deadline, GError **error)
{
  for (;;)
    {
      gint64 left = deadline - g_get_monotonic_time ();
      if (left <= 0)
        {
          g_set_error (error, SG_TRANSPORT_ERROR, SG_TRANSPORT_ERROR_TIMEOUT,
                       "timed out talking to %s", t->peer);
          return FALSE;
        }
      struct pollfd p[2] = { { .fd = t->fd, .events = events },
                             { .fd = t->cancel_fd, .events = POLLIN } };
      int n = poll (p, t->cancel_fd >= 0 ? 2 : 1, (int) MIN ((left + 999) / 1000, G_MAXINT));
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          g_set_error (error, SG_TRANSPORT_ERROR, SG_TRANSPORT_ERROR_IO, "poll: %s",
                       g_strerror (errno));
          return FALSE;
        }
      if (t->cancel_fd >= 0 && (p[1].revents & POLLIN))
        {
          g_set_error (error, SG_TRANSPORT_ERROR, SG_TRANSPORT_ERROR_CANCELLED,
                       "delivery interrupted by shutdown");
          return FALSE;
        }
      if (p[0].revents)
        return TRUE;
    }
}

static gint64
deadline_in (guint seconds)
{
  return g_get_monotonic_time () + (gint64) seconds * G_USEC_PER_SEC;
}

/* try_address - connect one resolved address; the fd on success, else -1. */
static int
try_address (SgTransport *t, const struct addrinfo *ai, gint64 deadline, GError **error)
{
  int fd = socket (ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
  if (fd < 0)
    {
      g_set_error (error, SG_TRANSPORT_ERROR, SG_TRANSPORT_ERROR_CONNECT, "socket: %s",
                   g_strerror (errno));
      return -1;
    }
  t->fd = fd;
  /* Every write is a whole command, pipelined group or data block, and the
   * next step waits for the reply: Nagle would hold the last small segment
   * (".\r\n") for the peer's delayed ACK, some 40 ms per message. */
  int one = 1;
  (void) setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect (fd, ai->ai_addr, ai->ai_addrlen) != 0)
    {
      int err = errno;
      if (err == EINPROGRESS)
        {
          socklen_t len = sizeof err;
          if (!wait_for (t, POLLOUT, deadline, error))
            goto fail;
          if (getsockopt (fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = errno;
        }
      if (err != 0)
        {
          g_set_error (error, SG_TRANSPORT_ERROR, SG_TRANSPORT_ERROR_CONNECT,
                       "connect to %s: %s", t->peer, g_strerror (err));
          goto fail;
        }
    }
  return fd;
fail:
  close (fd);
  t->fd = -1;
  return -1;
}

SgTransport *
sg_transport_connect (const char *host, guint port, guint timeout, int cancel_fd, GError **error)
{
  g_autoptr(SgTransport) t = g_new0 (SgTransport, 1);
  t->fd = -1;
  t->cancel_fd = cancel_fd;
  t->buf = g_malloc (SG_TRANSPORT_CHUNK);
  char service[8];
  g_snprintf (service, sizeof service, "%u", port);
  struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
  struct addrinfo *res = NULL;
  int rc = getaddrinfo (host, service, &hints, &res);
  if (rc != 0)
    {
      g_set_error (error, SG_TRANSPORT_ERROR, SG_TRANSPORT_ERROR_CONNECT,
                   "cannot resolve %s: %s", host, gai_strerror (rc));
      return NULL;
    }
  gint64 deadline = deadline_in (timeout);
  g_autoptr(GError) last = NULL;
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
    {
      char ip[INET6_ADDRSTRLEN] = "?";
      const void *a = ai->ai_family == AF_INET6
        ? (const void *) &((struct sockaddr_in6 *) ai->ai_addr)->sin6_addr
        : (const void *) &((struct sockaddr_in *) ai->ai_addr)->sin_addr;
      inet_ntop (ai->ai_family, a, ip, sizeof ip);
      g_free (t->peer);
      t->peer = g_strdup_printf ("%s[%s]:%u", host, ip, port);
      g_clear_error (&last);
      if (try_address (t, ai, deadline, &last) >= 0)
        break;
      if (g_error_matches (last, SG_TRANSPORT_ERROR, SG_TRANSPORT_ERROR_CANCELLED))
        break;
    }
  freeaddrinfo (res);
  if (t->fd < 0)
    {
      g_propagate_error (error, g_steal_pointer (&last));
      return NULL;
    }
  return g_steal_pointer (&t);
}

void
sg_transport_free (SgTransport *t)
{
  if (!t)
    return;
  if (t->ssl)
    {
      /* Best effort close_notify; never wait for the peer's. */
      sg_tls_client_step (t->ssl, SG_TLS_OP_SHUTDOWN, NULL, 0, NULL, NULL);
      SSL_free (t->ssl);
    }
  if (t->fd >= 0)
    close (t->fd);
  g_free (t->peer);
  g_free (t->buf);
  g_free (t);
}

const char *
sg_transport_peer (const SgTransport *t)
{
  return t->peer;
}

/* fill - read more input into buf[end..]; FALSE on error, EOF included. */
static gboolean
fill (SgTransport *t, gint64 deadline, GError **error)
{
  if (t->start > 0)
    {
      memmove (t->buf, t->buf + t->start, t->end - t->start);
      t->end -= t->start;
      t->start = 0;
    }
  void *dst = t->buf + t->end;
  gsize room = SG_TRANSPORT_CHUNK - t->end;
  for (;;)
    {
      short want = POLLIN;
      if (t->ssl)
        {
          gsize n = 0;
          SgTlsStep st = sg_tls_client_step (t->ssl, SG_TLS_OP_READ, dst, room, &n, error);
          if (st == SG_TLS_STEP_DONE)
            {
              t->end += n;
              return TRUE;
            }
          if (st == SG_TLS_STEP_ERROR)
            return FALSE;
          want = st == SG_TLS_STEP_WANT_WRITE ? POLLOUT : POLLIN;
        }
      else
        {
          ssize_t n = read (t->fd, dst, room);
          if (n > 0)
            {
              t->end += (gsize) n;
              return TRUE;
            }
          if (n == 0)
            {
              g_set_error (error, SG_TRANSPORT_ERROR, SG_TRANSPORT_ERROR_IO,
                           "connection closed by %s", t->peer);
              return FALSE;
            }
          if (errno != EAGAIN && errno != EINTR)
            {
              g_set_error (error, SG_TRANSPORT_ERROR, SG_TRANSPORT_ERROR_IO, "read from %s: %s",
                           t->peer, g_strerror (errno));
              return FALSE;
            }
        }
      if (!wait_for (t, want, deadline, error))
        return FALSE;
    }
}

char *
sg_transport_read_line (SgTransport *t, guint timeout, GError **error)
{
  gint64 deadline = deadline_in (timeout);
  gsize scanned = t->start;
  for (;;)
    {
      char *nl = memchr (t->buf + scanned, '\n', t->end - scanned);
      if (nl)
        {
          gsize len = (gsize) (nl - (t->buf + t->start));
          char *line = g_strndup (t->buf + t->start, len > 0 && nl[-1] == '\r' ? len - 1 : len);
          t->start += len + 1;
          return line;
        }
      scanned = t->end;
      if (t->end - t->start >= SG_TRANSPORT_MAX_LINE)
        {
          g_set_error (error, SG_TRANSPORT_ERROR, SG_TRANSPORT_ERROR_PROTOCOL,
                       "reply line from %s longer than %d bytes", t->peer, SG_TRANSPORT_MAX_LINE);
          return NULL;
        }
      gsize off = scanned - t->start;
      if (!fill (t, deadline, error))
        return NULL;
      scanned = t->start + off;
    }
}

gboolean
sg_transport_write (SgTransport *t, const void *data, gsize len, guint timeout, GError **error)
{
  gint64 deadline = deadline_in (timeout);
  const char *p = data;
  while (len > 0)
    {
      short want = POLLOUT;
      if (t->ssl)
        {
          gsize n = 0;
          SgTlsStep st = sg_tls_client_step (t->ssl, SG_TLS_OP_WRITE, (void *) p, len, &n, error);
          if (st == SG_TLS_STEP_DONE)
            {
              p += n;
              len -= n;
              continue;
            }
          if (st == SG_TLS_STEP_ERROR)
            return FALSE;
          want = st == SG_TLS_STEP_WANT_READ ? POLLIN : POLLOUT;
        }
      else
        {
          ssize_t n = send (t->fd, p, len, MSG_NOSIGNAL);
          if (n > 0)
            {
              p += n;
              len -= (gsize) n;
              continue;
            }
          if (n < 0 && errno != EAGAIN && errno != EINTR)
            {
              g_set_error (error, SG_TRANSPORT_ERROR, SG_TRANSPORT_ERROR_IO, "write to %s: %s",
                           t->peer, g_strerror (errno));
              return FALSE;
            }
        }
      if (!wait_for (t, want, deadline, error))
        return FALSE;
    }
  return TRUE;
}

gsize
sg_transport_buffered (const SgTransport *t)
{
  return t->end - t->start;
}

gboolean
sg_transport_start_tls (SgTransport *t, SgTlsClient *tls, const char *server_name, guint timeout,
                        GError **error)
{
  g_return_val_if_fail (t->ssl == NULL, FALSE);
  /* Anything the peer sent after its 220 came before the handshake and is
   * not to be trusted (RFC 3207 section 4.2): drop it. */
  t->start = t->end = 0;
  t->ssl = sg_tls_client_ssl_new (tls, t->fd, server_name, error);
  if (!t->ssl)
    return FALSE;
  gint64 deadline = deadline_in (timeout);
  for (;;)
    {
      SgTlsStep st = sg_tls_client_step (t->ssl, SG_TLS_OP_HANDSHAKE, NULL, 0, NULL, error);
      if (st == SG_TLS_STEP_DONE)
        return TRUE;
      if (st == SG_TLS_STEP_ERROR
          || !wait_for (t, st == SG_TLS_STEP_WANT_WRITE ? POLLOUT : POLLIN, deadline, error))
        {
          SSL_free (t->ssl);
          t->ssl = NULL;
          return FALSE;
        }
    }
}

gboolean
sg_transport_tls (const SgTransport *t, const char **protocol, const char **cipher)
{
  if (!t->ssl)
    return FALSE;
  sg_tls_client_describe (t->ssl, protocol, cipher);
  return TRUE;
}
