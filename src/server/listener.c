/* listener.c - the listening socket and accept(), and admission: access by
 * network, connection limits and the per-address rate window, checked before
 * a session exists (RFC 5321 3.1: 554 or 421 at the greeting). With [server]
 * proxy_protocol only trusted proxies may connect, and the per-client checks
 * run once the connection has read the PROXY header, on the address it names.
 * Each refusal is logged and counted through reply/reject.h, a flood of them
 * (max_connections, EMFILE) logged once per FLOOD_LOG_INTERVAL. Also the
 * open-file limit that max_connections must fit, the count of connections
 * per address, and the [spool] min_free check that MAIL consults (the
 * spool itself measures its free space). */
#include "server/listener.h"
#include "server/connection.h"
#include "metrics/metrics.h"
#include "reply/reject.h"
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

/* Lifetime: the daemon's, from sg_listener_new to sg_listener_free; the
 * sockets only until sg_listener_close. */
struct _SgListener {
  SgServerContext *ctx;          /* borrowed: the daemon's */
  GPtrArray       *sockets;      /* SgPollFd*, one per [server] listen address; owns the fds */
  GHashTable      *rate;         /* address -> GQueue of connect times (connection_rate_per_ip) */
  guint            rate_sweep_id;
  GHashTable      *per_ip;       /* address -> GUINT count of admitted connections */
  guint            fd_sessions;  /* sessions the open-file limit fits (fit_fd_limit) */
  guint            accept_pause_id; /* accepting paused after EMFILE until this fires */
  gint64           flood_logged; /* monotonic µs of the last EMFILE or max_connections line */
  guint            flood_unlogged; /* such events since, counted but not logged */
  gint64           free_checked; /* monotonic µs of the last look at the spool's free space */
  gboolean         spool_low;    /* below [spool] min_free at that look */
};

/* flood_note - one more EMFILE or max_connections refusal; TRUE when it is
 * time to log (the line then says how many went unlogged before it). */
static gboolean
flood_note (SgListener *listener, guint *unlogged)
{
  gint64 now = g_get_monotonic_time ();
  if (listener->flood_logged && now - listener->flood_logged < FLOOD_LOG_INTERVAL * G_USEC_PER_SEC)
    {
      listener->flood_unlogged++;
      return FALSE;
    }
  listener->flood_logged = now;
  *unlogged = listener->flood_unlogged;
  listener->flood_unlogged = 0;
  return TRUE;
}

static gboolean
accept_resume (gpointer data)
{
  SgListener *listener = data;
  listener->accept_pause_id = 0;
  for (guint i = 0; listener->sockets && i < listener->sockets->len; i++)
    sg_poller_modify (listener->sockets->pdata[i], G_IO_IN);
  return G_SOURCE_REMOVE;
}

/* accept_pause - accept() found no descriptor free: waiting (level-triggered)
 * would only spin, so rest a moment; sessions that end free some. */
static void
accept_pause (SgListener *listener, int err)
{
  guint unlogged = 0;
  if (flood_note (listener, &unlogged))
    g_warning ("accept: %s; pausing new connections for %d ms (%u similar event(s) in the last "
               "%d s not logged); see [limits] max_connections and the open-file limit",
               g_strerror (err), ACCEPT_PAUSE_MS, unlogged, FLOOD_LOG_INTERVAL);
  for (guint i = 0; i < listener->sockets->len; i++)
    sg_poller_modify (listener->sockets->pdata[i], 0);
  if (!listener->accept_pause_id)
    listener->accept_pause_id = g_timeout_add (ACCEPT_PAUSE_MS, accept_resume, listener);
}

/* fit_fd_limit - raise RLIMIT_NOFILE to fit max_connections sessions; if
 * the hard limit forbids it, say so and serve only as many as it fits. */
static void
fit_fd_limit (SgListener *listener)
{
  const SgConfig *config = listener->ctx->config;
  struct rlimit rl;
  if (getrlimit (RLIMIT_NOFILE, &rl) != 0)
    {
      listener->fd_sessions = 0;
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
    listener->fd_sessions = 0;
  else
    listener->fd_sessions = rl.rlim_cur > 2 * FD_RESERVE ? (guint) (rl.rlim_cur - FD_RESERVE)
                                                        : (guint) (rl.rlim_cur / 2);
  if (listener->fd_sessions && (config->max_connections == 0 || config->max_connections > listener->fd_sessions))
    {
      g_autofree char *asked = config->max_connections ? g_strdup_printf ("%u", config->max_connections)
                                                       : g_strdup ("0 (no limit)");
      g_warning ("the open-file limit (%lu) fits %u sessions: serving at most that many, not "
                 "[limits] max_connections %s; raise the limit (LimitNOFILE=, ulimit -n) to serve more",
                 (gulong) rl.rlim_cur, listener->fd_sessions, asked);
    }
}

/* listener_max_connections - [limits] max_connections, lowered to what the
 * open-file limit fits; 0 = no limit. */
static guint
listener_max_connections (SgListener *listener)
{
  guint max = listener->ctx->config->max_connections;
  if (listener->fd_sessions && (max == 0 || max > listener->fd_sessions))
    max = listener->fd_sessions;
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
rate_exceeded (SgListener *listener, const char *addr)
{
  guint limit = listener->ctx->config->connection_rate_per_ip;
  if (limit == 0)
    return FALSE;
  gint64 now = g_get_monotonic_time ();
  GQueue *times = g_hash_table_lookup (listener->rate, addr);
  if (!times)
    {
      times = g_queue_new ();
      g_hash_table_insert (listener->rate, g_strdup (addr), times);
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
  SgListener *listener = data;
  gint64 now = g_get_monotonic_time ();
  GHashTableIter it;
  gpointer key, value;
  g_hash_table_iter_init (&it, listener->rate);
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

/* sg_listener_spool_has_room - see listener.h. */
gboolean
sg_listener_spool_has_room (SgListener *listener)
{
  const SgConfig *config = listener->ctx->config;
  gint64 now = g_get_monotonic_time ();
  if (config->min_free == 0)
    return TRUE;
  if (now - listener->free_checked >= G_USEC_PER_SEC)
    {
      guint64 avail = 0;
      listener->free_checked = now;
      if (sg_spool_space_available (listener->ctx->spool, &avail, NULL))
        {
          gboolean low = avail < config->min_free;
          if (low && !listener->spool_low)
            g_warning ("spool %s: %" G_GUINT64_FORMAT " bytes free, below [spool] min_free %"
                       G_GUINT64_FORMAT ": refusing new mail with 452", config->spool_dir,
                       avail, config->min_free);
          listener->spool_low = low;
        }
    }
  return !listener->spool_low;
}

void
sg_listener_reconfigured (SgListener *listener)
{
  listener->free_checked = 0;
}

void
sg_listener_client_admitted (SgListener *listener, const char *address)
{
  g_hash_table_insert (listener->per_ip, g_strdup (address),
                       GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (listener->per_ip, address)) + 1));
}

void
sg_listener_client_gone (SgListener *listener, const char *address)
{
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (listener->per_ip, address));
  if (n <= 1)
    g_hash_table_remove (listener->per_ip, address);
  else
    g_hash_table_insert (listener->per_ip, g_strdup (address), GUINT_TO_POINTER (n - 1));
}

gboolean
sg_listener_admit (SgListener *listener, const char *addr, const char *via, gboolean proxy_itself,
                   gboolean *relay_allowed, SgRefusal *refusal)
{
  const SgConfig *config = listener->ctx->config;
  guint per_ip = GPOINTER_TO_UINT (g_hash_table_lookup (listener->per_ip, addr));
  gboolean trusted = sg_netlist_contains (listener->ctx->allowed, addr);

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
  if (!proxy_itself && rate_exceeded (listener, addr))
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
  SgListener *listener = user_data;
  SgServerContext *ctx = listener->ctx;
  const SgConfig *config = ctx->config;

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
            accept_pause (listener, e);
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
      guint total = g_hash_table_size (ctx->connections);
      guint max = listener_max_connections (listener);
      gboolean relay_allowed = FALSE;
      SgRefusal refusal;

      if (ctx->stopping)
        {
          sg_reject_connection (addr, NULL, 421, "4.7.0", SG_REFUSE_STOPPING, "server shutting down");
          refuse (fd, config, "421 4.7.0", "Error: server shutting down; try again later");
        }
      else if (max && total >= max)
        {
          guint unlogged = 0;
          if (flood_note (listener, &unlogged))
            sg_reject_connection (addr, NULL, 421, "4.7.0", SG_REFUSE_MAX, "too many connections (%u); "
                                  "%u similar refusal(s) in the last %d s not logged", total, unlogged,
                                  FLOOD_LOG_INTERVAL);
          else
            sg_reject_connection_unlogged (SG_REFUSE_MAX);
          refuse (fd, config, "421 4.7.0", "Error: too many connections; try again later");
        }
      else if (config->proxy_protocol && !sg_netlist_contains (ctx->proxy_trusted, addr))
        {
          /* Not our proxy: it must not choose its own client address, and
           * nobody else may talk to a PROXY listener. Not a word, not even
           * our name. */
          sg_log_info (SG_LOG_SMTPD, "connect from unknown[%s]: refused: not in [server] proxy_trusted",
                       addr);
          close (fd);
        }
      else if (config->proxy_protocol)
        sg_connection_new_proxied (ctx, fd, addr, (guint16) atoi (port));
      else if (!sg_listener_admit (listener, addr, NULL, FALSE, &relay_allowed, &refusal))
        refuse (fd, config, refusal.code, refusal.text);
      else
        sg_connection_new (ctx, fd, addr, (guint16) atoi (port), relay_allowed);
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

SgListener *
sg_listener_new (SgServerContext *ctx, GError **error)
{
  const SgConfig *config = ctx->config;
  guint n = g_strv_length (config->listen_addrs);
  g_autofree int *fds = g_new (int, n);
  for (guint i = 0; i < n; i++)
    if ((fds[i] = bind_one (config->listen_addrs[i], n > 1, error)) < 0)
      {
        while (i-- > 0)
          close (fds[i]);
        return NULL;
      }
  g_autoptr(SgListener) listener = g_new0 (SgListener, 1);
  listener->ctx = ctx;
  fit_fd_limit (listener);
  listener->sockets = g_ptr_array_new_with_free_func (close_listener);
  listener->rate = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, free_times);
  listener->per_ip = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < n; i++)
    {
      SgPollFd *pfd = sg_poller_add (ctx->poller, fds[i], G_IO_IN, on_accept, listener, error);
      if (!pfd)
        {
          for (; i < n; i++)
            close (fds[i]);
          return NULL;   /* sg_listener_free closes the ones added */
        }
      g_ptr_array_add (listener->sockets, pfd);
    }
  listener->rate_sweep_id = g_timeout_add_seconds (SG_RATE_WINDOW, rate_sweep, listener);
  return g_steal_pointer (&listener);
}

/* sg_listener_start - listen(): only now do connections complete, so a
 * client (or a health check) never reaches a server that is still
 * recovering its spool or cannot yet handle SIGTERM. */
gboolean
sg_listener_start (SgListener *listener, GError **error)
{
  const SgConfig *config = listener->ctx->config;
  for (guint i = 0; i < listener->sockets->len; i++)
    if (listen (sg_poller_fd (listener->sockets->pdata[i]), LISTEN_BACKLOG) < 0)
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
sg_listener_close (SgListener *listener)
{
  g_clear_pointer (&listener->sockets, g_ptr_array_unref);
  g_clear_handle_id (&listener->accept_pause_id, g_source_remove);
}

void
sg_listener_free (SgListener *listener)
{
  if (!listener)
    return;
  sg_listener_close (listener);
  g_clear_handle_id (&listener->rate_sweep_id, g_source_remove);
  g_clear_pointer (&listener->rate, g_hash_table_unref);
  g_clear_pointer (&listener->per_ip, g_hash_table_unref);
  g_free (listener);
}
