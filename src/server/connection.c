/* connection.c - a client connection: reads into its session, writes the
 * session's replies, keeps its timeout in the server's timer wheel and
 * carries messages to the intake pipeline. A connection whose message is in
 * flight outlives its socket until the pipeline answers. */
#include "server/connection.h"
#include "smtp/session.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define READS_PER_WAKEUP 4   /* fairness between busy connections */
#define CLOSE_LINGER     5   /* seconds to deliver a last reply to a stalled client */

struct _SgConnection {
  SgServer  *server;
  int        fd;
  SgPollFd  *pfd;
  SgTimer    timer;
  SgSession *session;
  char      *address;
  guint16    port;
  guint      refs;          /* 1 for the socket + 1 while a message is in flight */
  gboolean   closed;
};

static void connection_update (SgConnection *conn);

static void
connection_unref (SgConnection *conn)
{
  if (--conn->refs > 0)
    return;
  sg_session_free (conn->session);
  g_free (conn->address);
  g_free (conn);
}

/* connection_close - drop the socket; the object lives while referenced. */
static void
connection_close (SgConnection *conn)
{
  if (conn->closed)
    return;
  conn->closed = TRUE;
  SgServer *server = conn->server;
  sg_timer_disarm (server->wheel, &conn->timer);
  g_clear_pointer (&conn->pfd, sg_poller_remove);
  close (conn->fd);
  g_message ("disconnect from [%s]:%u", conn->address, conn->port);
  sg_server_connection_closed (server, conn);
  connection_unref (conn);
}

/* connection_flush - write what the session has queued; FALSE if the socket died. */
static gboolean
connection_flush (SgConnection *conn)
{
  GString *out = sg_session_output (conn->session);
  gsize sent = 0;
  while (sent < out->len)
    {
      ssize_t n = send (conn->fd, out->str + sent, out->len - sent, MSG_NOSIGNAL);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          if (errno == EAGAIN || errno == EWOULDBLOCK)
            break;
          g_debug ("send to [%s]: %s", conn->address, g_strerror (errno));
          g_string_truncate (out, 0);
          connection_close (conn);
          return FALSE;
        }
      sent += (gsize) n;
    }
  g_string_erase (out, 0, sent);
  return TRUE;
}

static void
on_timeout (SgTimer *timer, gpointer user_data)
{
  SgConnection *conn = user_data;
  if (sg_session_state (conn->session) == SG_SESSION_CLOSING)
    {
      connection_close (conn); /* the client would not take our last reply */
      return;
    }
  g_message ("timeout after %s from [%s]:%u",
             sg_session_state_name (sg_session_state (conn->session)), conn->address, conn->port);
  sg_session_abort (conn->session, "4.4.2", "Error: timeout exceeded");
  if (connection_flush (conn))
    connection_update (conn);
}

/* connection_update - close when done, else set the events and the timer. */
static void
connection_update (SgConnection *conn)
{
  if (conn->closed)
    return;
  SgSession *s = conn->session;
  if (sg_session_finished (s))
    {
      connection_close (conn);
      return;
    }
  GIOCondition want = (sg_session_wants_input (s) ? G_IO_IN : 0)
                    | (sg_session_output (s)->len ? G_IO_OUT : 0);
  sg_poller_modify (conn->pfd, want);
  switch (sg_session_state (s))
    {
    case SG_SESSION_SUBMITTED:
      sg_timer_disarm (conn->server->wheel, &conn->timer); /* waiting on us, not the client */
      break;
    case SG_SESSION_CLOSING:
      if (!conn->timer.armed)
        sg_timer_arm (conn->server->wheel, &conn->timer, CLOSE_LINGER);
      break;
    default:
      if (!conn->timer.armed)
        sg_timer_arm (conn->server->wheel, &conn->timer,
                      sg_session_in_data (s) ? conn->server->config->data_timeout
                                             : conn->server->config->command_timeout);
      break;
    }
}

static void
on_io (SgPollFd *pfd, GIOCondition ready, gpointer user_data)
{
  SgConnection *conn = user_data;
  SgServer *server = conn->server;

  if (ready & (G_IO_IN | G_IO_HUP | G_IO_ERR))
    for (int i = 0; i < READS_PER_WAKEUP && sg_session_wants_input (conn->session); i++)
      {
        ssize_t n = recv (conn->fd, server->read_buffer, SG_READ_CHUNK, 0);
        if (n < 0 && errno == EINTR)
          continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
          break;
        if (n <= 0)
          {
            sg_session_eof (conn->session);
            connection_close (conn);
            return;
          }
        sg_session_input (conn->session, (const char *) server->read_buffer, (gsize) n);
        sg_timer_disarm (server->wheel, &conn->timer); /* activity: re-armed below */
        if ((gsize) n < SG_READ_CHUNK)
          break;
      }
  if (connection_flush (conn))
    connection_update (conn);
}

static void
on_submit_done (guint code, const char *enhanced, const char *text, gpointer user_data)
{
  SgConnection *conn = user_data;
  if (!conn->closed)
    {
      sg_session_submit_done (conn->session, code, enhanced, text);
      if (conn->server->stopping && sg_session_state (conn->session) != SG_SESSION_DATA
          && sg_session_state (conn->session) != SG_SESSION_SUBMITTED)
        sg_session_abort (conn->session, "4.3.2", "Service shutting down");
      if (connection_flush (conn))
        connection_update (conn);
    }
  connection_unref (conn);
}

static void
on_submit (SgSession *session, SgEnvelope *env, gpointer user_data)
{
  SgConnection *conn = user_data;
  conn->refs++;
  sg_intake_submit (conn->server->intake, env, on_submit_done, conn);
}

static const SgSessionHooks session_hooks = {
  .submit = on_submit,
};

SgConnection *
sg_connection_new (SgServer *server, int fd, const char *address, guint16 port)
{
  g_autoptr(GError) error = NULL;
  SgConnection *conn = g_new0 (SgConnection, 1);
  conn->server = server;
  conn->fd = fd;
  conn->address = g_strdup (address);
  conn->port = port;
  conn->refs = 1;
  conn->session = sg_session_new (server->config, address, port, &session_hooks, conn);
  sg_timer_init (&conn->timer, on_timeout, conn);
  conn->pfd = sg_poller_add (server->poller, fd, G_IO_IN, on_io, conn, &error);
  if (!conn->pfd)
    {
      g_warning ("cannot watch connection from %s: %s", address, error->message);
      close (fd);
      connection_unref (conn);
      return NULL;
    }
  g_hash_table_add (server->connections, conn);
  g_hash_table_insert (server->per_ip, g_strdup (address),
                       GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (server->per_ip, address)) + 1));
  g_message ("connect from [%s]:%u", address, port);
  sg_session_start (conn->session);
  if (connection_flush (conn))
    connection_update (conn);
  return conn;
}

gboolean
sg_connection_busy (const SgConnection *conn)
{
  SgSessionState st = sg_session_state (conn->session);
  return !conn->closed && (st == SG_SESSION_DATA || st == SG_SESSION_SUBMITTED);
}

void
sg_connection_shutdown (SgConnection *conn)
{
  if (conn->closed || sg_connection_busy (conn))
    return;
  sg_session_abort (conn->session, "4.3.2", "Service shutting down");
  if (connection_flush (conn))
    connection_update (conn);
}

const char *
sg_connection_address (const SgConnection *conn)
{
  return conn->address;
}
