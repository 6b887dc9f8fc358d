/* listener.c - the listening socket and accept(): connection limits are
 * checked here, before a session exists (RFC 5321 3.1: 421 at greeting). */
#include "server/server_private.h"
#include "server/connection.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <gio/gio.h>

#define LISTEN_BACKLOG 1024
#define ACCEPT_BATCH   64   /* accepts per wake-up, for fairness */

/* refuse - say 421 and close, without a session. */
static void
refuse (int fd, const SgConfig *config, const char *why)
{
  g_autofree char *line = g_strdup_printf ("421 4.7.0 %s Error: %s; try again later\r\n",
                                           config->hostname, why);
  ssize_t unused = send (fd, line, strlen (line), MSG_NOSIGNAL | MSG_DONTWAIT);
  (void) unused;
  close (fd);
}

static void
on_accept (SgPollFd *pfd, GIOCondition ready, gpointer user_data)
{
  SgServer *server = user_data;
  const SgConfig *config = server->config;

  for (int i = 0; i < ACCEPT_BATCH; i++)
    {
      struct sockaddr_storage ss;
      socklen_t sslen = sizeof ss;
      int fd = accept4 (server->listen_fd, (struct sockaddr *) &ss, &sslen,
                        SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0)
        {
          if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
            g_warning ("accept: %s", g_strerror (errno));
          return;
        }
      char host[INET6_ADDRSTRLEN] = "unknown", port[8] = "0";
      getnameinfo ((struct sockaddr *) &ss, sslen, host, sizeof host, port, sizeof port,
                   NI_NUMERICHOST | NI_NUMERICSERV);
      /* IPv4-mapped IPv6 addresses are logged and counted as IPv4. */
      const char *addr = g_str_has_prefix (host, "::ffff:") && strchr (host, '.') ? host + 7 : host;
      guint per_ip = GPOINTER_TO_UINT (g_hash_table_lookup (server->per_ip, addr));
      guint total = g_hash_table_size (server->connections);

      if (server->stopping)
        refuse (fd, config, "server shutting down");
      else if (config->max_connections && total >= config->max_connections)
        {
          g_message ("refused %s: too many connections (%u)", addr, total);
          refuse (fd, config, "too many connections");
        }
      else if (config->max_connections_per_ip && per_ip >= config->max_connections_per_ip)
        {
          g_message ("refused %s: too many connections from this address (%u)", addr, per_ip);
          refuse (fd, config, "too many connections from your address");
        }
      else
        sg_connection_new (server, fd, addr, (guint16) atoi (port));
    }
}

gboolean
sg_listener_open (SgServer *server, GError **error)
{
  const SgConfig *config = server->config;
  struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                            .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
  struct addrinfo *res = NULL;
  char port[8];
  g_snprintf (port, sizeof port, "%u", config->listen_port);
  int rc = getaddrinfo (config->listen_host, port, &hints, &res);
  if (rc != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot resolve listen address %s: %s",
                   config->listen, gai_strerror (rc));
      return FALSE;
    }
  int fd = socket (res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd < 0 || setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0
      || bind (fd, res->ai_addr, res->ai_addrlen) < 0 || listen (fd, LISTEN_BACKLOG) < 0)
    {
      int e = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "cannot listen on %s: %s",
                   config->listen, g_strerror (e));
      if (fd >= 0)
        close (fd);
      freeaddrinfo (res);
      return FALSE;
    }
  freeaddrinfo (res);
  server->listen_fd = fd;
  server->listen_pfd = sg_poller_add (server->poller, fd, G_IO_IN, on_accept, server, error);
  if (!server->listen_pfd)
    {
      close (fd);
      server->listen_fd = -1;
      return FALSE;
    }
  g_message ("listening on %s", config->listen);
  return TRUE;
}

void
sg_listener_close (SgServer *server)
{
  g_clear_pointer (&server->listen_pfd, sg_poller_remove);
  if (server->listen_fd >= 0)
    close (server->listen_fd);
  server->listen_fd = -1;
}
