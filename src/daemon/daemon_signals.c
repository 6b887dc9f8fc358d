/* daemon_signals.c - the daemon's signals and its clean stop. SIGTERM and
 * SIGINT stop: no new connections, 421 to idle sessions, transactions in
 * flight finish for up to [limits] shutdown_timeout, then 421 to whoever is
 * still sending; the loop ends once nothing is busy and every message
 * handed to the intake has its reply. SIGHUP reloads (daemon_reload.c).
 * Tells the service manager (sd_notify) it is stopping. */
#include "daemon/daemon_private.h"
#include "server/connection.h"
#include "server/listener.h"

#include <glib-unix.h>
#include <signal.h>

#define STOP_POLL_MS 100   /* how often a stopping daemon looks whether it is idle */

static gboolean
stop_when_idle (gpointer data)
{
  SgDaemon *daemon = data;
  if (sg_connections_busy (&daemon->ctx) == 0 && sg_intake_pending (daemon->ctx.intake) == 0)
    {
      daemon->stop_poll = 0;
      g_main_loop_quit (daemon->loop);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
shutdown_deadline (gpointer data)
{
  SgDaemon *daemon = data;
  g_message ("shutdown_timeout of %u s over; closing the remaining sessions",
             daemon->ctx.config->shutdown_timeout);
  daemon->stop_timer = 0;
  sg_connections_shutdown (&daemon->ctx, TRUE);
  g_main_loop_quit (daemon->loop);
  return G_SOURCE_REMOVE;
}

void
sg_daemon_stop (SgDaemon *daemon)
{
  SgServerContext *ctx = &daemon->ctx;
  if (ctx->stopping)
    return;
  ctx->stopping = TRUE;
  g_message ("stopping: no new connections; finishing %u session(s)",
             g_hash_table_size (ctx->connections));
  sg_daemon_notify ("STOPPING=1\nSTATUS=Stopping: finishing %u session(s)",
                    g_hash_table_size (ctx->connections));
  sg_listener_close (ctx->listener);
  sg_connections_shutdown (ctx, FALSE);
  daemon->stop_poll = g_timeout_add (STOP_POLL_MS, stop_when_idle, daemon);
  daemon->stop_timer = g_timeout_add_seconds (ctx->config->shutdown_timeout, shutdown_deadline, daemon);
}

static gboolean
on_stop_signal (gpointer data)
{
  sg_daemon_stop (data);
  return G_SOURCE_CONTINUE;
}

void
sg_daemon_signals_watch (SgDaemon *daemon)
{
  signal (SIGPIPE, SIG_IGN);
  daemon->signal_ids[0] = g_unix_signal_add (SIGTERM, on_stop_signal, daemon);
  daemon->signal_ids[1] = g_unix_signal_add (SIGINT, on_stop_signal, daemon);
  daemon->signal_ids[2] = g_unix_signal_add (SIGHUP, sg_daemon_hangup, daemon);
}

/* sg_daemon_signals_unwatch - also drops a stop's shutdown_timeout deadline
 * and its idle check, which would otherwise outlive the daemon when the
 * deadline ended the loop. */
void
sg_daemon_signals_unwatch (SgDaemon *daemon)
{
  for (guint i = 0; i < G_N_ELEMENTS (daemon->signal_ids); i++)
    g_clear_handle_id (&daemon->signal_ids[i], g_source_remove);
  g_clear_handle_id (&daemon->stop_timer, g_source_remove);
  g_clear_handle_id (&daemon->stop_poll, g_source_remove);
}
