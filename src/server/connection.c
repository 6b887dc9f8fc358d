/* connection.c - a client connection: reads into its session, writes the
 * session's replies, keeps its timeout in the loop's timer wheel, and
 * carries recipients to the recipient policy and messages to the intake
 * itself. A connection whose message is in flight outlives its socket until
 * the intake answers. After STARTTLS the same reads and writes go through
 * OpenSSL (conn_recv/conn_send). Behind a proxy, the connection first reads
 * the PROXY header (proxy.c parses it) and only then is the client admitted
 * and its session started. Each session counts itself in the sessions_open
 * gauges while it lives. Deadlines: command_timeout for each whole command
 * line, data_timeout in DATA extended only by data received at [limits]
 * min_data_rate. */
#include "server/connection.h"
#include "server/listener.h"
#include "server/proxy.h"
#include "smtp/session.h"
#include "tls/tls_server.h"
#include "metrics/metrics.h"
#include "common/log.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN SG_LOG_SMTPD

#define READS_PER_WAKEUP 4   /* fairness between busy connections */
#define READS_PER_WAKEUP_SLOT 16  /* for a DATA holding a slot: few do, and each should finish */
#define CLOSE_LINGER     5   /* seconds to deliver a last reply to a stalled client */

/* Lifetime: created on accept (or after the PROXY header), freed by the last
 * connection_unref. The socket holds one reference until connection_close;
 * a message handed to the intake holds another until on_submit_done, so a
 * commit in flight always finds its connection, though maybe closed (then
 * the reply is dropped: the client will retry, the message is spooled once
 * it is durable). The context's table lists it only while its socket is open. */
struct _SgConnection {
  SgServerContext *ctx;     /* borrowed: the daemon's */
  int        fd;
  SgPollFd  *pfd;
  SgTimer    timer;
  SgSession *session;       /* NULL until the client is admitted */
  char      *address;       /* the client's address: NULL until admitted */
  guint16    port;
  char      *peer;          /* the socket's peer: the client itself, or its proxy */
  guint16    peer_port;
  SgProxyParser *proxy;     /* (nullable) while waiting for the PROXY header */
  guint      refs;          /* 1 for the socket + 1 while a message is in flight */
  gboolean   closed;
  SSL       *ssl;           /* (nullable) once STARTTLS began */
  gboolean   handshaking;
  gboolean   tls_up;        /* handshake done: counted in spoolgate_tls_sessions_open */
  GIOCondition tls_want;    /* what OpenSSL waits for, while it waits */
  SgTlsServer *tls;         /* (nullable) the context the session's STARTTLS was offered
                             * with, held from the greeting: a reload cannot pull it away */
  gint64     deadline_us;   /* monotonic: when the timer's wait ends; the wheel may wake earlier */
  guint64    progress;      /* sg_session_progress when the deadline was set */
  gboolean   eof;           /* the client half-closed: no more reads, replies still go out */
  guint64    data_bytes;    /* content read in this DATA */
  gboolean   in_slots;      /* holds a DATA slot or waits for one (data_slots.h) */
};

typedef enum { IO_OK, IO_AGAIN, IO_EOF, IO_ERROR } IoResult;

/* conn_recv - one read, plain or TLS. */
static IoResult
conn_recv (SgConnection *conn, guint8 *buf, gsize len, gsize *n)
{
  if (conn->ssl)
    {
      g_autoptr(GError) error = NULL;
      switch (sg_tls_read (conn->ssl, buf, len, n, &error))
        {
        case SG_TLS_OK: return IO_OK;
        case SG_TLS_WANT_READ: conn->tls_want = G_IO_IN; return IO_AGAIN;
        case SG_TLS_WANT_WRITE: conn->tls_want = G_IO_OUT; return IO_AGAIN;
        case SG_TLS_CLOSED: return IO_EOF;
        case SG_TLS_FAILED:
          g_message ("TLS read from %s: %s", sg_session_client (conn->session), error->message);
          return IO_ERROR;
        }
    }
  for (;;)
    {
      ssize_t r = recv (conn->fd, buf, len, 0);
      if (r > 0)
        {
          *n = (gsize) r;
          return IO_OK;
        }
      if (r == 0)
        return IO_EOF;
      if (errno == EINTR)
        continue;
      return errno == EAGAIN || errno == EWOULDBLOCK ? IO_AGAIN : IO_ERROR;
    }
}

/* conn_send - one write, plain or TLS. */
static IoResult
conn_send (SgConnection *conn, const char *buf, gsize len, gsize *n)
{
  if (conn->ssl)
    {
      g_autoptr(GError) error = NULL;
      switch (sg_tls_write (conn->ssl, buf, len, n, &error))
        {
        case SG_TLS_OK: return IO_OK;
        case SG_TLS_WANT_READ: conn->tls_want = G_IO_IN; return IO_AGAIN;
        case SG_TLS_WANT_WRITE: conn->tls_want = G_IO_OUT; return IO_AGAIN;
        case SG_TLS_CLOSED: return IO_EOF;
        case SG_TLS_FAILED:
          g_debug ("TLS write to %s: %s", sg_session_client (conn->session), error->message);
          return IO_ERROR;
        }
    }
  for (;;)
    {
      ssize_t r = send (conn->fd, buf, len, MSG_NOSIGNAL);
      if (r >= 0)
        {
          *n = (gsize) r;
          return IO_OK;
        }
      if (errno == EINTR)
        continue;
      return errno == EAGAIN || errno == EWOULDBLOCK ? IO_AGAIN : IO_ERROR;
    }
}

static void connection_update (SgConnection *conn);
static void connection_start_tls (SgConnection *conn);

static void
connection_unref (SgConnection *conn)
{
  if (--conn->refs > 0)
    return;
  sg_session_free (conn->session);
  sg_proxy_parser_free (conn->proxy);
  sg_tls_server_free (conn->tls);
  g_free (conn->address);
  g_free (conn->peer);
  g_free (conn);
}

/* connection_close - drop the socket; the object lives while referenced. */
static void
connection_close (SgConnection *conn)
{
  if (conn->closed)
    return;
  conn->closed = TRUE;
  SgServerContext *ctx = conn->ctx;
  sg_timer_disarm (ctx->wheel, &conn->timer);
  g_clear_pointer (&conn->pfd, sg_poller_remove);
  if (conn->ssl)
    {
      if (!conn->handshaking)
        SSL_shutdown (conn->ssl);  /* best effort close_notify; never waits */
      g_clear_pointer (&conn->ssl, SSL_free);
    }
  close (conn->fd);
  if (conn->in_slots)
    {
      conn->in_slots = FALSE;
      sg_data_slots_release (ctx->data_slots, conn);
    }
  if (conn->session)   /* it logged its connect line and counted itself */
    {
      sg_metrics_gauge_add (SG_GAUGE_SESSIONS_OPEN, -1);
      if (conn->tls_up)
        sg_metrics_gauge_add (SG_GAUGE_TLS_SESSIONS_OPEN, -1);
      g_autofree char *counts = sg_session_command_counts (conn->session);
      g_message ("disconnect from %s %s", sg_session_client (conn->session), counts);
    }
  if (conn->address)   /* NULL: closed before its PROXY header, never counted */
    sg_listener_client_gone (ctx->listener, conn->address);
  g_hash_table_remove (ctx->connections, conn);
  connection_unref (conn);
}

/* connection_flush - write what the session has queued, and let it answer
 * commands it held back while its replies were unread; FALSE if the socket died. */
static gboolean
connection_flush (SgConnection *conn)
{
  GString *out = sg_session_output (conn->session);
  if (conn->handshaking)
    return TRUE;
  for (;;)
    {
      gsize sent = 0;
      IoResult r = IO_OK;
      while (sent < out->len)
        {
          gsize n = 0;
          r = conn_send (conn, out->str + sent, out->len - sent, &n);
          if (r == IO_AGAIN)
            break;
          if (r != IO_OK)
            {
              g_debug ("send to %s failed", sg_session_client (conn->session));
              g_string_truncate (out, 0);
              connection_close (conn);
              return FALSE;
            }
          sent += n;
        }
      g_string_erase (out, 0, sent);
      if (r == IO_AGAIN || out->len > 0 || !sg_session_has_held_input (conn->session))
        return TRUE;
      guint64 before = sg_session_progress (conn->session);
      sg_session_input (conn->session, NULL, 0);
      if (sg_session_progress (conn->session) == before && out->len == 0)
        return TRUE;   /* only a partial line is held */
    }
}

/* connection_arm - the timer for a wait of seconds from now. */
static void
connection_arm (SgConnection *conn, guint seconds)
{
  conn->deadline_us = g_get_monotonic_time () + (gint64) seconds * G_USEC_PER_SEC;
  sg_timer_arm (conn->ctx->wheel, &conn->timer, seconds);
}

/* connection_data_received - n bytes of message content arrived: the DATA
 * deadline grows by n / min_data_rate, as Postfix's smtpd_min_data_rate,
 * but never beyond data_timeout from now. */
static void
connection_data_received (SgConnection *conn, gsize n)
{
  const SgConfig *config = conn->ctx->config;
  gint64 now = g_get_monotonic_time ();
  gint64 grown = conn->deadline_us + (gint64) ((guint64) n * G_USEC_PER_SEC / MAX (config->min_data_rate, 1u));
  conn->deadline_us = MIN (grown, now + (gint64) config->data_timeout * G_USEC_PER_SEC);
}

static void
on_timeout (SgTimer *timer, gpointer user_data)
{
  SgConnection *conn = user_data;
  gint64 left = conn->deadline_us - g_get_monotonic_time ();
  if (left > 0)
    {
      /* the wheel counts whole seconds; the deadline may also have grown */
      sg_timer_arm (conn->ctx->wheel, &conn->timer,
                    (guint) MAX (1, (left + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC));
      return;
    }
  if (conn->proxy)
    {
      g_message ("timeout waiting for the PROXY header from unknown[%s]:%u", conn->peer, conn->peer_port);
      connection_close (conn);
      return;
    }
  if (sg_session_state (conn->session) == SG_SESSION_CLOSING || conn->handshaking)
    {
      /* the client would not take our last reply, or finish its handshake:
       * a 421 cannot go out in the middle of one */
      if (conn->handshaking)
        g_message ("timeout after STARTTLS from %s", sg_session_client (conn->session));
      connection_close (conn);
      return;
    }
  g_message ("timeout after %s from %s", sg_session_state_name (sg_session_state (conn->session)),
             sg_session_client (conn->session));
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
  if (sg_session_state (s) == SG_SESSION_STARTTLS && !conn->ssl && sg_session_output (s)->len == 0)
    {
      connection_start_tls (conn);
      return;
    }
  gboolean slot_wait = conn->in_slots && sg_data_slots_waits (conn->ctx->data_slots, conn);
  GIOCondition want = (sg_session_wants_input (s) && !slot_wait ? G_IO_IN : 0)
                    | (sg_session_output (s)->len ? G_IO_OUT : 0);
  if (conn->handshaking)
    want = conn->tls_want;
  else if (conn->ssl && want && conn->tls_want)
    want = conn->tls_want;   /* OpenSSL needs the other direction first */
  sg_poller_modify (conn->pfd, want);
  /* A deadline runs from the last step forward (a whole command line, the
   * end of DATA), not from the last byte: a client that trickles a byte at
   * a time gets no more time than one that sends nothing. */
  guint64 progress = sg_session_progress (s);
  gboolean moved = progress != conn->progress;
  conn->progress = progress;
  if (slot_wait)
    {
      sg_timer_disarm (conn->ctx->wheel, &conn->timer); /* waiting on us, not the client */
      return;
    }
  switch (sg_session_state (s))
    {
    case SG_SESSION_SUBMITTED:
    case SG_SESSION_RCPT_WAIT:
    case SG_SESSION_STAGE_WAIT:
      sg_timer_disarm (conn->ctx->wheel, &conn->timer); /* waiting on us, not the client */
      break;
    case SG_SESSION_STARTTLS:
      if (!conn->timer.armed)
        connection_arm (conn, conn->ctx->config->command_timeout);
      break;
    case SG_SESSION_CLOSING:
      if (!conn->timer.armed)
        connection_arm (conn, CLOSE_LINGER);
      break;
    default:
      if (!conn->timer.armed || moved)
        connection_arm (conn, sg_session_in_data (s) ? conn->ctx->config->data_timeout
                                                     : conn->ctx->config->command_timeout);
      break;
    }
}

/* connection_handshake - advance the STARTTLS handshake; FALSE if closed. */
static gboolean
connection_handshake (SgConnection *conn)
{
  g_autoptr(GError) error = NULL;
  switch (sg_tls_handshake (conn->ssl, &error))
    {
    case SG_TLS_OK:
      {
        conn->handshaking = FALSE;
        conn->tls_want = 0;
        conn->tls_up = TRUE;
        sg_metrics_gauge_add (SG_GAUGE_TLS_SESSIONS_OPEN, 1);
        const char *proto = SSL_get_version (conn->ssl);
        const char *cipher = SSL_CIPHER_get_name (SSL_get_current_cipher (conn->ssl));
        g_message ("Anonymous TLS connection established from %s: %s with cipher %s",
                   sg_session_client (conn->session), proto, cipher);
        if (!sg_session_tls_started (conn->session, proto, cipher))
          {
            connection_close (conn);   /* the session gave up waiting (timeout, shutdown) */
            return FALSE;
          }
        return TRUE;
      }
    case SG_TLS_WANT_READ:
      conn->tls_want = G_IO_IN;
      return TRUE;
    case SG_TLS_WANT_WRITE:
      conn->tls_want = G_IO_OUT;
      return TRUE;
    case SG_TLS_CLOSED:
    case SG_TLS_FAILED:
      g_message ("SSL_accept error from %s: %s", sg_session_client (conn->session),
                 error ? error->message : "connection closed");
      sg_session_eof (conn->session);
      connection_close (conn);
      return FALSE;
    }
  return TRUE;
}

/* connection_start_tls - the 220 is out: begin the server handshake. */
static void
connection_start_tls (SgConnection *conn)
{
  /* the context STARTTLS was advertised with, whatever a reload did since */
  conn->ssl = conn->tls ? sg_tls_server_accept (conn->tls, conn->fd) : NULL;
  if (!conn->ssl)
    {
      g_warning ("STARTTLS from %s: cannot create a TLS session", sg_session_client (conn->session));
      connection_close (conn);
      return;
    }
  conn->handshaking = TRUE;
  if (connection_handshake (conn))
    connection_update (conn);
}

static void connection_read_proxy (SgConnection *conn);
static void on_io (SgPollFd *pfd, GIOCondition ready, gpointer user_data);

/* connection_data_gate - FALSE while this DATA, past [limits]
 * data_spill_size, waits for one of the server's DATA slots (data_slots.c);
 * the loop then stops watching its input, and its client's buffers fill. */
static gboolean
connection_data_gate (SgConnection *conn)
{
  if (!sg_session_in_data (conn->session))
    return TRUE;
  if (!conn->in_slots && conn->data_bytes < conn->ctx->config->data_spill_size)
    return TRUE;
  conn->in_slots = TRUE;
  return sg_data_slots_take (conn->ctx->data_slots, conn, g_get_monotonic_time ());
}

/* connection_data_done - out of DATA: give the slot to the next in line. */
static void
connection_data_done (SgConnection *conn)
{
  if (sg_session_in_data (conn->session))
    return;
  conn->data_bytes = 0;
  if (conn->in_slots)
    {
      conn->in_slots = FALSE;
      sg_data_slots_release (conn->ctx->data_slots, conn);
    }
}

static gboolean
on_resume_pending (gpointer data)
{
  SgConnection *conn = data;
  if (!conn->closed)
    on_io (conn->pfd, G_IO_IN, conn);
  connection_unref (conn);
  return G_SOURCE_REMOVE;
}

/* sg_connection_data_resume - see connection.h. */
void
sg_connection_data_resume (gpointer data, gpointer user_data)
{
  SgConnection *conn = data;
  if (conn->closed)
    return;
  connection_update (conn);
  /* Decrypted input inside OpenSSL wakes no epoll: read it from the loop. */
  if (conn->ssl && SSL_pending (conn->ssl) > 0)
    {
      conn->refs++;
      g_idle_add (on_resume_pending, conn);
    }
}

static void
on_io (SgPollFd *pfd, GIOCondition ready, gpointer user_data)
{
  SgConnection *conn = user_data;
  guint8 *buffer = conn->ctx->read_buffer;

  if (conn->proxy)
    {
      connection_read_proxy (conn);
      return;
    }
  if (conn->handshaking)
    {
      if (connection_handshake (conn) && connection_flush (conn))
        connection_update (conn);
      return;
    }
  if (conn->eof && (ready & (G_IO_HUP | G_IO_ERR)))
    {
      /* half-closed before, now gone both ways (or reset): nobody to answer */
      sg_session_eof (conn->session);
      connection_close (conn);
      return;
    }
  conn->tls_want = 0;

  /* Writable: send first, so a session that stopped reading because its
   * replies were unread can read again in this same wake-up. */
  if ((ready & G_IO_OUT) && !connection_flush (conn))
    return;
  if ((ready & (G_IO_IN | G_IO_HUP | G_IO_ERR)) || (conn->ssl && SSL_pending (conn->ssl) > 0))
    /* With TLS, keep reading while OpenSSL holds decrypted bytes: epoll
     * cannot see those. */
    for (int i = 0; sg_session_wants_input (conn->session) && connection_data_gate (conn)
                    && (i < (conn->in_slots ? READS_PER_WAKEUP_SLOT : READS_PER_WAKEUP) || (conn->ssl && SSL_pending (conn->ssl) > 0)); i++)
      {
        gsize n = 0;
        IoResult r = conn_recv (conn, buffer, SG_READ_CHUNK, &n);
        if (r == IO_AGAIN)
          break;
        if (r == IO_EOF)
          {
            /* Maybe only a half-close (shutdown(SHUT_WR) after QUIT): what
             * the client sent is still answered before we close. */
            conn->eof = TRUE;
            sg_session_eof (conn->session);
            break;
          }
        if (r != IO_OK)
          {
            sg_session_eof (conn->session);
            connection_close (conn);
            return;
          }
        gboolean in_data = sg_session_in_data (conn->session);
        guint64 before = sg_session_progress (conn->session);
        if (in_data)
          conn->data_bytes += n;
        if (conn->in_slots)
          sg_data_slots_input (conn->ctx->data_slots, conn, n);
        sg_session_input (conn->session, (const char *) buffer, n);
        if (in_data && sg_session_in_data (conn->session) && sg_session_progress (conn->session) == before)
          connection_data_received (conn, n);
        connection_data_done (conn);
        if (n < SG_READ_CHUNK && !(conn->ssl && SSL_pending (conn->ssl) > 0))
          break;
      }
  if (connection_flush (conn))
    connection_update (conn);
}

static void
on_submit_done (const SgReply *reply, gpointer user_data)
{
  SgConnection *conn = user_data;
  if (!conn->closed)
    {
      /* A stopping server drained the session: the reply, then 421. */
      sg_session_submit_done (conn->session, reply);
      if (connection_flush (conn))
        connection_update (conn);
      /* Input held back while we worked may sit decrypted inside OpenSSL. */
      if (!conn->closed && conn->ssl && SSL_pending (conn->ssl) > 0)
        on_io (conn->pfd, G_IO_IN, conn);
    }
  connection_unref (conn);
}

static void
on_submit (SgSession *session, SgEnvelope *env, gpointer user_data)
{
  SgConnection *conn = user_data;
  if (!conn->ctx->intake)
    {
      /* the intake is being drained for exit: this message was never taken */
      g_auto(SgReply) reply = { 0 };
      sg_envelope_free (env);
      sg_reply_set (&reply, 451, "4.3.2", NULL, "Service shutting down; message not accepted, "
                    "try again later");
      sg_session_submit_done (session, &reply);
      return;
    }
  conn->refs++;   /* until on_submit_done */
  sg_intake_submit (conn->ctx->intake, env, on_submit_done, conn);
}

/* on_verdict - a deferred verdict for the session (an RCPT's address
 * probe or milters, or the milters at the greeting, HELO or MAIL). */
static void
on_verdict (SgConnection *conn, SgRcptVerdict *verdict, gboolean stage)
{
  if (!conn->closed)
    {
      if (stage)
        sg_session_stage_done (conn->session, verdict);
      else
        sg_session_rcpt_done (conn->session, verdict);
      if (connection_flush (conn))
        connection_update (conn);
      if (!conn->closed && conn->ssl && SSL_pending (conn->ssl) > 0)
        on_io (conn->pfd, G_IO_IN, conn);
    }
  else
    sg_rcpt_verdict_clear (verdict);
  connection_unref (conn);
}

static void
on_rcpt_verdict (SgRcptVerdict *verdict, gpointer user_data)
{
  on_verdict (user_data, verdict, FALSE);
}

static void
on_stage_verdict (SgRcptVerdict *verdict, gpointer user_data)
{
  on_verdict (user_data, verdict, TRUE);
}

static gboolean
on_check_stage (SgSession *session, SgSessionStage stage, const SgRcptQuery *query,
                SgRcptVerdict *verdict, gpointer user_data)
{
  SgConnection *conn = user_data;
  SgRcptPolicy *policy = conn->ctx->policy;
  if (!policy)
    return TRUE;   /* the server is being freed */
  if (sg_rcpt_policy_check_stage (policy, stage, query, verdict, on_stage_verdict, conn))
    return TRUE;
  conn->refs++;   /* held by the pending verdict */
  return FALSE;
}

static gboolean
on_check_rcpt (SgSession *session, const SgRcptQuery *query, SgRcptVerdict *verdict,
               gpointer user_data)
{
  SgConnection *conn = user_data;
  SgRcptPolicy *policy = conn->ctx->policy;
  if (!policy)
    return TRUE;   /* the server is being freed: the session is drained already */
  if (sg_rcpt_policy_check (policy, query, verdict, on_rcpt_verdict, conn))
    return TRUE;
  conn->refs++;   /* held by the pending verdict, like a message in flight */
  return FALSE;
}

static gboolean
on_mail_room (SgSession *session, gpointer user_data)
{
  SgConnection *conn = user_data;
  return sg_listener_spool_has_room (conn->ctx->listener);
}

static SgSpoolDraft *
on_open_draft (SgSession *session, gpointer user_data, GError **error)
{
  SgConnection *conn = user_data;
  if (!conn->ctx->intake)   /* the intake is being drained for exit */
    {
      g_set_error_literal (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_IO, "shutting down");
      return NULL;
    }
  return sg_intake_open_draft (conn->ctx->intake, error);
}

static const SgSessionHooks session_hooks = {
  .submit = on_submit,
  .mail_room = on_mail_room,
  .open_draft = on_open_draft,
  .check_rcpt = on_check_rcpt,
  .check_stage = on_check_stage,
};

/* connection_alloc - watch fd for input; no session yet. */
static SgConnection *
connection_alloc (SgServerContext *ctx, int fd, const char *peer, guint16 peer_port)
{
  g_autoptr(GError) error = NULL;
  SgConnection *conn = g_new0 (SgConnection, 1);
  conn->ctx = ctx;
  conn->fd = fd;
  conn->peer = g_strdup (peer);
  conn->peer_port = peer_port;
  conn->refs = 1;
  sg_timer_init (&conn->timer, on_timeout, conn);
  conn->pfd = sg_poller_add (ctx->poller, fd, G_IO_IN, on_io, conn, &error);
  if (!conn->pfd)
    {
      g_warning ("cannot watch connection from %s: %s", peer, error->message);
      close (fd);
      connection_unref (conn);
      return NULL;
    }
  g_hash_table_add (ctx->connections, conn);
  return conn;
}

/* connection_greet - the client is admitted: count it, start its session and
 * queue the 220; via says how it came, for the connect line. */
static void
connection_greet (SgConnection *conn, const char *address, guint16 port, gboolean relay_allowed,
                  const char *via)
{
  SgServerContext *ctx = conn->ctx;
  conn->address = g_strdup (address);
  conn->port = port;
  conn->session = sg_session_new (ctx->config, address, port, &session_hooks, conn);
  conn->tls = sg_tls_server_ref (ctx->tls); /* goes with the config the session advertises */
  sg_session_set_relay_allowed (conn->session, relay_allowed);
  sg_metrics_gauge_add (SG_GAUGE_SESSIONS_OPEN, 1);
  sg_listener_client_admitted (ctx->listener, address);
  g_message ("connect from %s%s", sg_session_client (conn->session), via);
  sg_session_start (conn->session);
}

SgConnection *
sg_connection_new (SgServerContext *ctx, int fd, const char *address, guint16 port,
                   gboolean relay_allowed)
{
  SgConnection *conn = connection_alloc (ctx, fd, address, port);
  if (!conn)
    return NULL;
  connection_greet (conn, address, port, relay_allowed, "");
  if (connection_flush (conn))
    connection_update (conn);
  return conn;
}

SgConnection *
sg_connection_new_proxied (SgServerContext *ctx, int fd, const char *peer, guint16 peer_port)
{
  SgConnection *conn = connection_alloc (ctx, fd, peer, peer_port);
  if (!conn)
    return NULL;
  conn->proxy = sg_proxy_parser_new ();
  /* the whole header within proxy_timeout, however slowly it trickles in */
  sg_timer_arm (ctx->wheel, &conn->timer, ctx->config->proxy_timeout);
  g_debug ("connect from proxy unknown[%s]:%u: waiting for the PROXY header", peer, peer_port);
  return conn;
}

/* connection_proxy_done - the header is in: admit the client it names (the
 * proxy itself for LOCAL and UNKNOWN) and start the session; rest is what
 * followed the header in the same read, the client's first SMTP bytes. */
static void
connection_proxy_done (SgConnection *conn, const SgProxyHeader *h, const guint8 *rest, gsize rest_len)
{
  SgServerContext *ctx = conn->ctx;
  const char *address = h->local ? conn->peer : h->source;
  guint16 port = h->local ? conn->peer_port : h->source_port;
  gboolean relay_allowed = FALSE;
  SgRefusal refusal;

  g_clear_pointer (&conn->proxy, sg_proxy_parser_free);
  sg_timer_disarm (ctx->wheel, &conn->timer);
  if (ctx->stopping)
    {
      connection_close (conn);
      return;
    }
  if (!sg_listener_admit (ctx->listener, address, h->local ? NULL : conn->peer, h->local,
                          &relay_allowed, &refusal))
    {
      sg_listener_refusal_send (conn->fd, ctx->config, &refusal);
      connection_close (conn);
      return;
    }
  g_autofree char *via = h->local ? g_strdup (" (the proxy's own connection: no client address in its PROXY header)")
                                  : g_strdup_printf (" via proxy [%s]", conn->peer);
  connection_greet (conn, address, port, relay_allowed, via);
  if (rest_len)
    sg_session_input (conn->session, (const char *) rest, rest_len);
  if (connection_flush (conn))
    connection_update (conn);
}

/* connection_read_proxy - read toward the PROXY header; nothing is sent
 * before it is complete, and a bad or missing one closes in silence. */
static void
connection_read_proxy (SgConnection *conn)
{
  guint8 *buffer = conn->ctx->read_buffer;
  for (int i = 0; i < READS_PER_WAKEUP; i++)
    {
      g_autoptr(GError) error = NULL;
      SgProxyHeader header;
      gsize n = 0, used = 0;
      IoResult r = conn_recv (conn, buffer, SG_READ_CHUNK, &n);
      if (r == IO_AGAIN)
        return;
      if (r != IO_OK)
        {
          g_message ("lost connection before the PROXY header from unknown[%s]:%u", conn->peer, conn->peer_port);
          connection_close (conn);
          return;
        }
      switch (sg_proxy_parser_feed (conn->proxy, buffer, n, &used, &header, &error))
        {
        case SG_PROXY_NEED_MORE:
          break;
        case SG_PROXY_DONE:
          connection_proxy_done (conn, &header, buffer + used, n - used);
          return;
        case SG_PROXY_FAILED:
          g_warning ("bad PROXY header from unknown[%s]:%u: %s", conn->peer, conn->peer_port, error->message);
          connection_close (conn);
          return;
        }
    }
}

/* connection_busy - in DATA or waiting for a verdict or the spool. */
static gboolean
connection_busy (const SgConnection *conn)
{
  if (!conn->session)
    return FALSE;
  SgSessionState st = sg_session_state (conn->session);
  return !conn->closed && (sg_session_in_data (conn->session) || st == SG_SESSION_SUBMITTED
                           || st == SG_SESSION_RCPT_WAIT || st == SG_SESSION_STAGE_WAIT);
}

/* connection_shutdown - 421 now, unless mid-transaction and not forced. */
static void
connection_shutdown (SgConnection *conn, gboolean force)
{
  if (conn->closed)
    return;
  if (!conn->session)
    {
      connection_close (conn);   /* still waiting for a PROXY header: nothing to say */
      return;
    }
  /* Forced, a message still arriving is cut off; one already handed to the
   * spool gets its reply. Either way nothing pipelined after it is read. */
  if (force && sg_session_state (conn->session) == SG_SESSION_DATA)
    sg_session_abort (conn->session, "4.3.2", "Service shutting down");
  else
    sg_session_drain (conn->session);
  if (connection_flush (conn))
    connection_update (conn);
}

void
sg_connections_shutdown (SgServerContext *ctx, gboolean force)
{
  /* a copy: each shutdown may close its connection, which leaves the table */
  GList *conns = g_hash_table_get_keys (ctx->connections);
  for (GList *l = conns; l; l = l->next)
    connection_shutdown (l->data, force);
  g_list_free (conns);
}

guint
sg_connections_busy (SgServerContext *ctx)
{
  GHashTableIter it;
  gpointer conn;
  guint busy = 0;
  g_hash_table_iter_init (&it, ctx->connections);
  while (g_hash_table_iter_next (&it, &conn, NULL))
    if (connection_busy (conn))
      busy++;
  return busy;
}
