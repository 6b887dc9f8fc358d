/* metrics_http.c - the scrape endpoint: accept, read one bounded request
 * head, answer, close. Each exchange has one deadline on the timer wheel
 * from accept to close, so a slow or silent client holds a slot for a
 * bounded time; while every slot is taken we stop accepting and further
 * clients wait in the listen backlog (answering them 503 and closing at
 * once would reset connections whose request we never read). After the
 * answer we shut down our side and read what the client still sends until
 * it closes, so it sees the answer instead of a reset. */
#include "metrics/metrics_http.h"
#include "metrics/metrics.h"
#include "config/config.h"

#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <gio/gio.h>

#define SG_METRICS_HTTP_MAX_REQUEST (8 * 1024)  /* request line and headers */
#define SG_METRICS_HTTP_TIMEOUT     10          /* seconds from accept to close */
#define SG_METRICS_HTTP_MAX_CLIENTS 8           /* exchanges at once; more wait to be accepted */
#define SG_METRICS_HTTP_DRAIN_MAX   (64 * 1024) /* bytes read after the answer, then close */
#define SG_METRICS_HTTP_BACKLOG     16
#define SG_METRICS_HTTP_ACCEPTS     16          /* accepts per wake-up */
#define SG_METRICS_HTTP_METHOD_MAX  16
#define SG_METRICS_PATH             "/metrics"
#define SG_METRICS_CONTENT_TYPE     "text/plain; version=0.0.4"

typedef enum { CLIENT_READING, CLIENT_WRITING, CLIENT_DRAINING } ClientState;

typedef struct {
  SgMetricsHttp *http;
  int            fd;
  SgPollFd      *pfd;
  SgTimer        timer;
  ClientState    state;
  gsize          got;
  char          *response;
  gsize          response_len;
  gsize          sent;
  gsize          drained;
  char           request[SG_METRICS_HTTP_MAX_REQUEST];
} Client;

struct _SgMetricsHttp {
  SgPoller     *poller;
  SgTimerWheel *wheel;
  int           fd;
  SgPollFd     *pfd;
  GHashTable   *clients;   /* Client* set */
};

/* ---- the request ---- */

static gboolean
is_tchar (char c)
{
  return g_ascii_isalnum (c) || (c != '\0' && strchr ("!#$%&'*+-.^_`|~", c));
}

/* header_lines_valid - every line after the request line up to the empty
 * one is "name: value" with a token name (RFC 9112 5; no obs-fold). */
static gboolean
header_lines_valid (const char *p, const char *end)
{
  while (p < end)
    {
      const char *eol = memchr (p, '\n', end - p);
      if (!eol)
        return FALSE;
      gsize len = eol - p;
      if (len > 0 && p[len - 1] == '\r')
        len--;
      if (len == 0)
        return TRUE;
      const char *colon = memchr (p, ':', len);
      if (!colon || colon == p)
        return FALSE;
      for (const char *q = p; q < colon; q++)
        if (!is_tchar (*q))
          return FALSE;
      p = eol + 1;
    }
  return FALSE;
}

/* sg_metrics_http_route - see metrics_http.h. */
guint
sg_metrics_http_route (const char *req, gsize len, gboolean *is_head)
{
  *is_head = FALSE;
  if (memchr (req, '\0', len))
    return 400;
  for (gsize i = 0; i < len; i++)
    if (g_ascii_iscntrl (req[i]) && req[i] != '\r' && req[i] != '\n' && req[i] != '\t')
      return 400;
  const char *eol = memchr (req, '\n', len);
  if (!eol)
    return 400;
  gsize line_len = eol - req;
  if (line_len > 0 && req[line_len - 1] == '\r')
    line_len--;
  /* request-line = method SP request-target SP HTTP-version (RFC 9112 3) */
  g_autofree char *line = g_strndup (req, line_len);
  g_auto(GStrv) parts = g_strsplit (line, " ", -1);
  if (g_strv_length (parts) != 3 || parts[0][0] == '\0'
      || strlen (parts[0]) > SG_METRICS_HTTP_METHOD_MAX || parts[1][0] != '/')
    return 400;
  for (const char *p = parts[0]; *p; p++)
    if (!is_tchar (*p))
      return 400;
  for (const char *p = parts[1]; *p; p++)
    if ((guchar) *p <= ' ' || (guchar) *p >= 0x7f)
      return 400;
  if (strcmp (parts[2], "HTTP/1.1") != 0 && strcmp (parts[2], "HTTP/1.0") != 0)
    return 400;
  if (!header_lines_valid (eol + 1, req + len))
    return 400;
  gsize path_len = strcspn (parts[1], "?");
  if (path_len != strlen (SG_METRICS_PATH) || strncmp (parts[1], SG_METRICS_PATH, path_len) != 0)
    return 404;
  *is_head = strcmp (parts[0], "HEAD") == 0;
  if (strcmp (parts[0], "GET") != 0 && !*is_head)
    return 405;
  return 200;
}

/* head_end - the length of the request head through its empty line
 * (CRLF CRLF, or LF LF from lenient clients), or 0 while incomplete. */
static gsize
head_end (const char *buf, gsize len)
{
  for (gsize i = 0; i < len; i++)
    {
      if (buf[i] != '\n')
        continue;
      if (i + 1 < len && buf[i + 1] == '\n')
        return i + 2;
      if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
        return i + 3;
    }
  return 0;
}

/* ---- the exchange ---- */

static void
client_close (Client *c)
{
  SgMetricsHttp *http = c->http;
  sg_timer_disarm (http->wheel, &c->timer);
  g_clear_pointer (&c->pfd, sg_poller_remove);
  close (c->fd);
  g_hash_table_remove (http->clients, c);
  g_free (c->response);
  g_free (c);
  if (http->pfd)
    sg_poller_modify (http->pfd, G_IO_IN);   /* a slot is free: accept again */
}

/* response_text - a whole response: the metrics for 200, else a one-line
 * reason; without the body for HEAD (transfer full). */
static char *
response_text (guint status, gboolean is_head, gsize *len)
{
  static const struct { guint status; const char *reason; } reasons[] = {
    { 200, "OK" }, { 400, "Bad Request" }, { 404, "Not Found" },
    { 405, "Method Not Allowed" },
    { 431, "Request Header Fields Too Large" },
  };
  const char *reason = "Error";
  for (guint i = 0; i < G_N_ELEMENTS (reasons); i++)
    if (reasons[i].status == status)
      reason = reasons[i].reason;
  g_autofree char *body = NULL;
  gsize body_len = 0;
  if (status == 200)
    body = sg_metrics_render (&body_len);
  else
    {
      body = g_strdup_printf ("%s\n", reason);
      body_len = strlen (body);
    }
  GString *out = g_string_sized_new (body_len + 256);
  g_string_append_printf (out, "HTTP/1.1 %u %s\r\n"
                          "Content-Type: %s\r\n"
                          "Content-Length: %" G_GSIZE_FORMAT "\r\n"
                          "%s"
                          "Connection: close\r\n\r\n",
                          status, reason, status == 200 ? SG_METRICS_CONTENT_TYPE : "text/plain",
                          body_len, status == 405 ? "Allow: GET, HEAD\r\n" : "");
  if (!is_head)
    g_string_append_len (out, body, body_len);
  *len = out->len;
  return g_string_free (out, FALSE);
}

/* client_drain - after the answer: discard input until EOF, error or the cap. */
static void
client_drain (Client *c)
{
  char buf[4096];
  for (;;)
    {
      ssize_t n = recv (c->fd, buf, sizeof buf, 0);
      if (n > 0 && (c->drained += n) < SG_METRICS_HTTP_DRAIN_MAX)
        continue;
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
      client_close (c);
      return;
    }
}

/* client_write - send what is left; then shut down our side and drain. */
static void
client_write (Client *c)
{
  while (c->sent < c->response_len)
    {
      ssize_t n = send (c->fd, c->response + c->sent, c->response_len - c->sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        {
          sg_poller_modify (c->pfd, G_IO_OUT);
          return;
        }
      if (n < 0)
        {
          client_close (c);
          return;
        }
      c->sent += n;
    }
  g_clear_pointer (&c->response, g_free);
  shutdown (c->fd, SHUT_WR);
  c->state = CLIENT_DRAINING;
  sg_poller_modify (c->pfd, G_IO_IN);
  client_drain (c);
}

static void
client_respond (Client *c, guint status, gboolean is_head)
{
  g_debug ("metrics: %u for a %" G_GSIZE_FORMAT "-byte request", status, c->got);
  c->response = response_text (status, is_head, &c->response_len);
  c->state = CLIENT_WRITING;
  client_write (c);
}

/* client_read - take input until the request head is complete, then answer. */
static void
client_read (Client *c)
{
  for (;;)
    {
      if (c->got == sizeof c->request)
        {
          client_respond (c, 431, FALSE);
          return;
        }
      ssize_t n = recv (c->fd, c->request + c->got, sizeof c->request - c->got, 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
      if (n <= 0)
        {
          client_close (c);   /* gone before asking anything complete */
          return;
        }
      gsize before = c->got;
      c->got += n;
      /* look again from just before the new bytes: the end may straddle reads */
      gsize from = before > 3 ? before - 3 : 0;
      gsize end = head_end (c->request + from, c->got - from);
      if (end)
        {
          gboolean is_head = FALSE;
          guint status = sg_metrics_http_route (c->request, from + end, &is_head);
          client_respond (c, status, is_head);
          return;
        }
    }
}

static void
on_client_io (SgPollFd *pfd, GIOCondition ready, gpointer user_data)
{
  Client *c = user_data;
  switch (c->state)
    {
    case CLIENT_READING: client_read (c); break;
    case CLIENT_WRITING: client_write (c); break;
    case CLIENT_DRAINING: client_drain (c); break;
    }
}

static void
on_client_timeout (SgTimer *timer, gpointer user_data)
{
  Client *c = user_data;
  g_debug ("metrics: exchange timed out after %d s", SG_METRICS_HTTP_TIMEOUT);
  client_close (c);
}

static void
on_accept (SgPollFd *pfd, GIOCondition ready, gpointer user_data)
{
  SgMetricsHttp *http = user_data;
  for (int i = 0; i < SG_METRICS_HTTP_ACCEPTS; i++)
    {
      if (g_hash_table_size (http->clients) >= SG_METRICS_HTTP_MAX_CLIENTS)
        {
          sg_poller_modify (http->pfd, 0);   /* until client_close frees a slot */
          return;
        }
      int fd = accept4 (http->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0)
        {
          if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
            g_warning ("metrics: accept: %s", g_strerror (errno));
          return;
        }
      g_autoptr(GError) error = NULL;
      Client *c = g_new0 (Client, 1);
      c->http = http;
      c->fd = fd;
      c->state = CLIENT_READING;
      c->pfd = sg_poller_add (http->poller, fd, G_IO_IN, on_client_io, c, &error);
      if (!c->pfd)
        {
          g_warning ("metrics: cannot watch a scrape: %s", error->message);
          close (fd);
          g_free (c);
          continue;
        }
      sg_timer_init (&c->timer, on_client_timeout, c);
      sg_timer_arm (http->wheel, &c->timer, SG_METRICS_HTTP_TIMEOUT);
      g_hash_table_add (http->clients, c);
    }
}

/* ---- the endpoint ---- */

/* bind_listen - a non-blocking listening socket on address (HOST:PORT). */
static int
bind_listen (const char *address, GError **error)
{
  g_autofree char *host = NULL;
  guint16 port = 0;
  if (!sg_config_parse_hostport (address, &host, &port, error))
    return -1;
  struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                            .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
  struct addrinfo *res = NULL;
  char service[8];
  g_snprintf (service, sizeof service, "%u", port);
  int rc = getaddrinfo (host, service, &hints, &res);
  if (rc != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot resolve [metrics] listen %s: %s",
                   address, gai_strerror (rc));
      return -1;
    }
  int one = 1;
  int fd = socket (res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 || setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0
      || bind (fd, res->ai_addr, res->ai_addrlen) < 0 || listen (fd, SG_METRICS_HTTP_BACKLOG) < 0)
    {
      int e = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "cannot listen on [metrics] %s: %s",
                   address, g_strerror (e));
      if (fd >= 0)
        close (fd);
      fd = -1;
    }
  freeaddrinfo (res);
  return fd;
}

SgMetricsHttp *
sg_metrics_http_new (const char *address, SgPoller *poller, SgTimerWheel *wheel, GError **error)
{
  int fd = bind_listen (address, error);
  if (fd < 0)
    return NULL;
  SgMetricsHttp *http = g_new0 (SgMetricsHttp, 1);
  http->poller = poller;
  http->wheel = wheel;
  http->fd = fd;
  http->clients = g_hash_table_new (NULL, NULL);
  http->pfd = sg_poller_add (poller, fd, G_IO_IN, on_accept, http, error);
  if (!http->pfd)
    {
      sg_metrics_http_free (http);
      return NULL;
    }
  g_message ("metrics on %s", address);
  return http;
}

void
sg_metrics_http_free (SgMetricsHttp *http)
{
  if (!http)
    return;
  GList *clients = g_hash_table_get_keys (http->clients);
  for (GList *l = clients; l; l = l->next)
    client_close (l->data);
  g_list_free (clients);
  g_hash_table_unref (http->clients);
  g_clear_pointer (&http->pfd, sg_poller_remove);
  close (http->fd);
  g_free (http);
}
