/* listener.c - the listening socket and accept(), and admission: access by
 * network, connection limits and the per-address rate window, checked before
 * a session exists (RFC 5321 3.1: 554 or 421 at the greeting). With [server]
 * proxy_protocol only trusted proxies may connect, and the per-client checks
 * run once the connection has read the PROXY header, on the address it names.
 * Each refusal is logged and counted through smtp/reject.h, a flood of them
 * (max_connections, EMFILE) logged once per FLOOD_LOG_INTERVAL. Also the
 * open-file limit that max_connections must fit, and the spool's free-space
 * check that MAIL consults. */
#include "server/server_private.h"
#include "server/connection.h"
#include "metrics/metrics.h"
#include "smtp/reject.h"
#include "common/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <gio/gio.h>

#define LISTEN_BACKLOG 1024
#define ACCEPT_BATCH   64   /* accepts per wake-up, for fairness */
#define FD_RESERVE     64   /* descriptors besides sessions: spool, intake, runner, metrics */
#define FD_UNLIMITED_WANT (1u << 20) /* the open-file limit sought with max_connections = 0 */
#define ACCEPT_PAUSE_MS 250 /* out of descriptors: the listener rests this long */
#define FLOOD_LOG_INTERVAL 10 /* seconds between log lines about a refusal flood */

/* flood_note - one more EMFILE or max_connections refusal; TRUE when it is
 * time to log (the line then says how many went unlogged before it). */
static gboolean
flood_note (SgServer *server, guint *unlogged)
{
  gint64 now = g_get_monotonic_time ();
  if (server->flood_logged && now - server->flood_logged < FLOOD_LOG_INTERVAL * G_USEC_PER_SEC)
    {
      server->flood_unlogged++;
      return FALSE;
    }
  server->flood_logged = now;
  *unlogged = server->flood_unlogged;
  server->flood_unlogged = 0;
  return TRUE;
}

static gboolean
accept_resume (gpointer data)
{
  SgServer *server = data;
  server->accept_pause_id = 0;
  for (guint i = 0; server->listeners && i < server->listeners->len; i++)
    sg_poller_modify (server->listeners->pdata[i], G_IO_IN);
  return G_SOURCE_REMOVE;
}

/* accept_pause - accept() found no descriptor free: waiting (level-triggered)
 * would only spin, so rest a moment; sessions that end free some. */
static void
accept_pause (SgServer *server, int err)
{
  guint unlogged = 0;
  if (flood_note (server, &unlogged))
    g_warning ("accept: %s; pausing new connections for %d ms (%u similar event(s) in the last "
               "%d s not logged); see [limits] max_connections and the open-file limit",
               g_strerror (err), ACCEPT_PAUSE_MS, unlogged, FLOOD_LOG_INTERVAL);
  for (guint i = 0; i < server->listeners->len; i++)
    sg_poller_modify (server->listeners->pdata[i], 0);
  if (!server->accept_pause_id)
    server->accept_pause_id = g_timeout_add (ACCEPT_PAUSE_MS, accept_resume, server);
}

/* fit_fd_limit - raise RLIMIT_NOFILE to fit max_connections sessions; if
 * the hard limit forbids it, say so and serve only as many as it fits. */
static void
fit_fd_limit (SgServer *server)
{
  const SgConfig *config = server->config;
  struct rlimit rl;
  if (getrlimit (RLIMIT_NOFILE, &rl) != 0)
    {
      server->fd_sessions = 0;
      return;
    }
  /* without max_connections, as many as the hard limit allows (within reason) */
  rlim_t want = config->max_connections ? (rlim_t) config->max_connections + FD_RESERVE
                                        : MIN (rl.rlim_max, (rlim_t) FD_UNLIMITED_WANT);
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
    {
      struct rlimit raised = { want, rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? rl.rlim_max : want };
      if (setrlimit (RLIMIT_NOFILE, &raised) != 0)   /* a higher hard limit needs root */
        {
          raised.rlim_cur = MIN (want, rl.rlim_max);
          raised.rlim_max = rl.rlim_max;
          if (setrlimit (RLIMIT_NOFILE, &raised) != 0)
            g_warning ("cannot raise the open-file limit from %lu: %s", (gulong) rl.rlim_cur,
                       g_strerror (errno));
        }
      getrlimit (RLIMIT_NOFILE, &rl);
    }
  if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= G_MAXUINT)
    server->fd_sessions = 0;
  else
    server->fd_sessions = rl.rlim_cur > 2 * FD_RESERVE ? (guint) (rl.rlim_cur - FD_RESERVE)
                                                        : (guint) (rl.rlim_cur / 2);
  if (server->fd_sessions && (config->max_connections == 0 || config->max_connections > server->fd_sessions))
    {
      g_autofree char *asked = config->max_connections ? g_strdup_printf ("%u", config->max_connections)
                                                       : g_strdup ("0 (no limit)");
      g_warning ("the open-file limit (%lu) fits %u sessions: serving at most that many, not "
                 "[limits] max_connections %s; raise the limit (LimitNOFILE=, ulimit -n) to serve more",
                 (gulong) rl.rlim_cur, server->fd_sessions, asked);
    }
}

guint
sg_listener_max_connections (SgServer *server)
{
  guint max = server->config->max_connections;
  if (server->fd_sessions && (max == 0 || max > server->fd_sessions))
    max = server->fd_sessions;
  return max;
}

void
sg_listener_refusal_send (int fd, const SgConfig *config, const SgRefusal *refusal)
{
  g_autofree char *line = g_strdup_printf ("%s %s %s\r\n", refusal->code, config->hostname,
                                           refusal->text);
  ssize_t unused = send (fd, line, strlen (line), MSG_NOSIGNAL | MSG_DONTWAIT);
  (void) unused;
}

/* refuse - one reply line (e.g. 421 4.7.0 or 554 5.7.1) and close, without a session. */
static void
refuse (int fd, const SgConfig *config, const char *code, const char *text)
{
  SgRefusal refusal = { code, text };
  sg_listener_refusal_send (fd, config, &refusal);
  close (fd);
}

/* rate_exceeded - record a connection from addr in its sliding window of
 * SG_RATE_WINDOW seconds; TRUE if that makes more than the limit. */
static gboolean
rate_exceeded (SgServer *server, const char *addr)
{
  guint limit = server->config->connection_rate_per_ip;
  if (limit == 0)
    return FALSE;
  gint64 now = g_get_monotonic_time ();
  GQueue *times = g_hash_table_lookup (server->rate, addr);
  if (!times)
    {
      times = g_queue_new ();
      g_hash_table_insert (server->rate, g_strdup (addr), times);
    }
  while (!g_queue_is_empty (times)
         && now - *(gint64 *) g_queue_peek_head (times) >= SG_RATE_WINDOW * G_USEC_PER_SEC)
    g_free (g_queue_pop_head (times));
  if (g_queue_get_length (times) >= limit)
    return TRUE;   /* refused attempts are not counted: the window stays bounded */
  gint64 *t = g_new (gint64, 1);
  *t = now;
  g_queue_push_tail (times, t);
  return FALSE;
}

/* rate_sweep - drop addresses whose window is empty, so the table stays bounded. */
static gboolean
rate_sweep (gpointer data)
{
  SgServer *server = data;
  gint64 now = g_get_monotonic_time ();
  GHashTableIter it;
  gpointer key, value;
  g_hash_table_iter_init (&it, server->rate);
  while (g_hash_table_iter_next (&it, &key, &value))
    {
      GQueue *times = value;
      if (g_queue_is_empty (times)
          || now - *(gint64 *) g_queue_peek_tail (times) >= SG_RATE_WINDOW * G_USEC_PER_SEC)
        g_hash_table_iter_remove (&it);
    }
  return G_SOURCE_CONTINUE;
}

static void
free_times (gpointer data)
{
  g_queue_free_full (data, g_free);
}

/* sg_server_spool_has_room - free space at least [spool] min_free (checked at most once a second). */
gboolean
sg_server_spool_has_room (SgServer *server)
{
  gint64 now = g_get_monotonic_time ();
  if (server->config->min_free == 0)
    return TRUE;
  if (now - server->free_checked >= G_USEC_PER_SEC)
    {
      guint64 avail = 0;
      server->free_checked = now;
      if (sg_spool_space_available (server->spool, &avail, NULL))
        {
          gboolean low = avail < server->config->min_free;
          if (low && !server->spool_low)
            g_warning ("spool %s: %" G_GUINT64_FORMAT " bytes free, below [spool] min_free %"
                       G_GUINT64_FORMAT ": refusing new mail with 452", server->config->spool_dir,
                       avail, server->config->min_free);
          server->spool_low = low;
        }
    }
  return !server->spool_low;
}

gboolean
sg_listener_admit (SgServer *server, const char *addr, const char *via, gboolean proxy_itself,
                   gboolean *relay_allowed, SgRefusal *refusal)
{
  const SgConfig *config = server->config;
  guint per_ip = GPOINTER_TO_UINT (g_hash_table_lookup (server->per_ip, addr));
  gboolean trusted = sg_netlist_contains (server->allowed, addr);

  *relay_allowed = trusted;
  if (!trusted && !(config->accepted_domains && config->accepted_domains[0]))
    {
      /* RFC 5321 3.1: a 554 greeting; nothing here is for this client */
      sg_reject_connection (addr, via, 554, "5.7.1", SG_REFUSE_ACCESS, "not in [access] allowed_networks");
      *refusal = (SgRefusal) { "554 5.7.1", "Access denied" };
      return FALSE;
    }
  /* The proxy's own connections (its health checks every few seconds) are
   * not a client connecting again and again. */
  if (!proxy_itself && rate_exceeded (server, addr))
    {
      sg_reject_connection (addr, via, 421, "4.7.0", SG_REFUSE_RATE, "more than %u connections in %d s",
                            config->connection_rate_per_ip, SG_RATE_WINDOW);
      *refusal = (SgRefusal) { "421 4.7.0", "Error: too many connections from your address; try again later" };
      return FALSE;
    }
  if (config->max_connections_per_ip && per_ip >= config->max_connections_per_ip)
    {
      sg_reject_connection (addr, via, 421, "4.7.0", SG_REFUSE_MAX_PER_IP,
                            "too many connections from this address (%u)", per_ip);
      *refusal = (SgRefusal) { "421 4.7.0", "Error: too many connections from your address; try again later" };
      return FALSE;
    }
  return TRUE;
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
      int fd = accept4 (sg_poller_fd (pfd), (struct sockaddr *) &ss, &sslen,
                        SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0)
        {
          int e = errno;
          if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM)
            accept_pause (server, e);
          else if (e != EAGAIN && e != EWOULDBLOCK && e != EINTR && e != ECONNABORTED)
            g_warning ("accept: %s", g_strerror (e));
          return;
        }
      char host[INET6_ADDRSTRLEN] = "unknown", port[8] = "0";
      getnameinfo ((struct sockaddr *) &ss, sslen, host, sizeof host, port, sizeof port,
                   NI_NUMERICHOST | NI_NUMERICSERV);
      /* IPv4-mapped IPv6 addresses are logged and counted as IPv4. */
      const char *addr = g_str_has_prefix (host, "::ffff:") && strchr (host, '.') ? host + 7 : host;
      sg_metrics_inc (SG_COUNTER_CONNECTIONS);
      guint total = g_hash_table_size (server->connections);
      guint max = sg_listener_max_connections (server);
      gboolean relay_allowed = FALSE;
      SgRefusal refusal;

      if (server->stopping)
        {
          sg_reject_connection (addr, NULL, 421, "4.7.0", SG_REFUSE_STOPPING, "server shutting down");
          refuse (fd, config, "421 4.7.0", "Error: server shutting down; try again later");
        }
      else if (max && total >= max)
        {
          guint unlogged = 0;
          if (flood_note (server, &unlogged))
            sg_reject_connection (addr, NULL, 421, "4.7.0", SG_REFUSE_MAX, "too many connections (%u); "
                                  "%u similar refusal(s) in the last %d s not logged", total, unlogged,
                                  FLOOD_LOG_INTERVAL);
          else
            sg_reject_connection_unlogged (SG_REFUSE_MAX);
          refuse (fd, config, "421 4.7.0", "Error: too many connections; try again later");
        }
      else if (config->proxy_protocol && !sg_netlist_contains (server->proxy_trusted, addr))
        {
          /* Not our proxy: it must not choose its own client address, and
           * nobody else may talk to a PROXY listener. Not a word, not even
           * our name. */
          sg_log_info (SG_LOG_SMTPD, "connect from unknown[%s]: refused: not in [server] proxy_trusted",
                       addr);
          close (fd);
        }
      else if (config->proxy_protocol)
        sg_connection_new_proxied (server, fd, addr, (guint16) atoi (port));
      else if (!sg_listener_admit (server, addr, NULL, FALSE, &relay_allowed, &refusal))
        refuse (fd, config, refusal.code, refusal.text);
      else
        sg_connection_new (server, fd, addr, (guint16) atoi (port), relay_allowed);
    }
}

/* bind_one - a socket bound to one HOST:PORT of [server] listen, or -1.
 * With several addresses an IPv6 one takes IPv6 only, so that "0.0.0.0:25,
 * [::]:25" binds both (alone, [::] also takes IPv4, as the kernel does). */
static int
bind_one (const char *addr, gboolean several, GError **error)
{
  g_autofree char *host = NULL;
  guint16 port_number;
  if (!sg_config_parse_hostport (addr, &host, &port_number, error))
    return -1;
  struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                            .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
  struct addrinfo *res = NULL;
  char port[8];
  g_snprintf (port, sizeof port, "%u", port_number);
  int rc = getaddrinfo (host, port, &hints, &res);
  if (rc != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot resolve listen address %s: %s",
                   addr, gai_strerror (rc));
      return -1;
    }
  int fd = socket (res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd < 0 || setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0
      || (several && res->ai_family == AF_INET6
          && setsockopt (fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0)
      || bind (fd, res->ai_addr, res->ai_addrlen) < 0)
    {
      int e = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "cannot bind %s: %s",
                   addr, g_strerror (e));
      if (fd >= 0)
        close (fd);
      freeaddrinfo (res);
      return -1;
    }
  freeaddrinfo (res);
  return fd;
}

/* close_listener - GPtrArray free func: stop polling one socket, close it. */
static void
close_listener (gpointer data)
{
  SgPollFd *pfd = data;
  int fd = sg_poller_fd (pfd);
  sg_poller_remove (pfd);
  close (fd);
}

gboolean
sg_listener_open (SgServer *server, GError **error)
{
  const SgConfig *config = server->config;
  guint n = g_strv_length (config->listen_addrs);
  g_autofree int *fds = g_new (int, n);
  for (guint i = 0; i < n; i++)
    if ((fds[i] = bind_one (config->listen_addrs[i], n > 1, error)) < 0)
      {
        while (i-- > 0)
          close (fds[i]);
        return FALSE;
      }
  fit_fd_limit (server);
  server->listeners = g_ptr_array_new_with_free_func (close_listener);
  server->allowed = sg_netlist_parse ((const char *const *) config->allowed_networks, error);
  if (server->allowed)
    server->proxy_trusted = sg_netlist_parse ((const char *const *) config->proxy_trusted, error);
  for (guint i = 0; i < n; i++)
    {
      SgPollFd *pfd = server->proxy_trusted
                      ? sg_poller_add (server->poller, fds[i], G_IO_IN, on_accept, server, error)
                      : NULL;
      if (!pfd)
        {
          for (; i < n; i++)
            close (fds[i]);
          return FALSE;   /* sg_listener_close closes the ones added */
        }
      g_ptr_array_add (server->listeners, pfd);
    }
  server->rate = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, free_times);
  server->rate_sweep_id = g_timeout_add_seconds (SG_RATE_WINDOW, rate_sweep, server);
  return TRUE;
}

/* sg_listener_start - listen(): only now do connections complete, so a
 * client (or a health check) never reaches a server that is still
 * recovering its spool or cannot yet handle SIGTERM. */
gboolean
sg_listener_start (SgServer *server, GError **error)
{
  const SgConfig *config = server->config;
  for (guint i = 0; i < server->listeners->len; i++)
    if (listen (sg_poller_fd (server->listeners->pdata[i]), LISTEN_BACKLOG) < 0)
      {
        int e = errno;
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "cannot listen on %s: %s",
                     config->listen_addrs[i], g_strerror (e));
        return FALSE;
      }
  g_message ("listening on %s%s", config->listen,
             config->proxy_protocol ? ", PROXY protocol required from [server] proxy_trusted" : "");
  return TRUE;
}

void
sg_listener_close (SgServer *server)
{
  g_clear_pointer (&server->listeners, g_ptr_array_unref);
  g_clear_handle_id (&server->accept_pause_id, g_source_remove);
  g_clear_handle_id (&server->rate_sweep_id, g_source_remove);
  g_clear_pointer (&server->rate, g_hash_table_unref);
  g_clear_pointer (&server->allowed, sg_netlist_free);
  g_clear_pointer (&server->proxy_trusted, sg_netlist_free);
}
