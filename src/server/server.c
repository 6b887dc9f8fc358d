/* server.c - start-up (bind the listener and the metrics endpoint, drop
 * privileges, spool recovery, intake, queue runner or census), the main
 * loop, and a clean stop on SIGTERM/SIGINT: stop accepting, say 421 to idle
 * sessions, let transactions in flight finish for up to [limits]
 * shutdown_timeout, then 421 to whoever is still sending, and drain every
 * spool commit before exit. Tells the service manager (sd_notify) when it is
 * ready, reloading and stopping. */
#include "server/server.h"
#include "server/connection.h"
#include "server/listener.h"
#include "server/server_context.h"
#include "intake/intake.h"
#include "queue/census.h"
#include "queue/runner.h"
#include "metrics/metrics_http.h"
#include "common/privilege.h"
#include "common/sd_notify.h"
#include "metrics/metrics.h"

#include <glib-unix.h>
#include <signal.h>
#include <stdarg.h>
#include <unistd.h>
#include "sg-build.h"

struct _SgServer {
  SgServerContext ctx;           /* what the listener and connections use */
  SgConfig       *runner_config; /* what the queue runner was started with */
  SgConfigLoader  reloader;
  gpointer        reloader_data;
  GMainContext   *context;
  GMainLoop      *loop;
  SgQueueRunner  *runner;        /* (nullable) without a [smarthost] host */
  SgQueueCensus  *census;        /* queue gauges: fed by the runner, or rescanned here without one */
  guint           census_scan_id;
  SgMetricsHttp  *metrics;       /* (nullable) [metrics] listen */
  char           *listen_bound;  /* [server] listen as bound at start-up */
  guint           stop_timer;
  guint           signal_ids[3];
};

/* notify - one sd_notify message; a service manager that cannot be told is
 * logged, never a reason to stop serving. */
static void G_GNUC_PRINTF (1, 2)
notify (const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *state = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_autoptr(GError) error = NULL;
  if (!sg_sd_notify (state, &error))
    g_warning ("cannot tell the service manager: %s", error->message);
}

static gboolean
stop_when_idle (gpointer data)
{
  SgServer *server = data;
  if (sg_connections_busy (&server->ctx) == 0 && sg_intake_pending (server->ctx.intake) == 0)
    {
      g_main_loop_quit (server->loop);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
shutdown_deadline (gpointer data)
{
  SgServer *server = data;
  g_message ("shutdown_timeout of %u s over; closing the remaining sessions",
             server->ctx.config->shutdown_timeout);
  server->stop_timer = 0;
  sg_connections_shutdown (&server->ctx, TRUE);
  g_main_loop_quit (server->loop);
  return G_SOURCE_REMOVE;
}

void
sg_server_stop (SgServer *server)
{
  SgServerContext *ctx = &server->ctx;
  if (ctx->stopping)
    return;
  ctx->stopping = TRUE;
  g_message ("stopping: no new connections; finishing %u session(s)",
             g_hash_table_size (ctx->connections));
  notify ("STOPPING=1\nSTATUS=Stopping: finishing %u session(s)",
          g_hash_table_size (ctx->connections));
  sg_listener_close (ctx->listener);
  sg_connections_shutdown (ctx, FALSE);
  g_timeout_add (100, stop_when_idle, server);
  server->stop_timer = g_timeout_add_seconds (ctx->config->shutdown_timeout, shutdown_deadline, server);
}

void
sg_server_set_reloader (SgServer *server, SgConfigLoader loader, gpointer data)
{
  server->reloader = loader;
  server->reloader_data = data;
}

gboolean
sg_server_reconfigure (SgServer *server, SgConfig *config, GError **error)
{
  SgServerContext *ctx = &server->ctx;
  SgConfig *old = ctx->config;
  g_autoptr(SgTlsServer) tls = NULL;
  g_autoptr(SgNetList) allowed = sg_netlist_parse ((const char *const *) config->allowed_networks, error);
  if (!allowed)
    return FALSE;
  g_autoptr(SgNetList) proxy_trusted = sg_netlist_parse ((const char *const *) config->proxy_trusted, error);
  if (!proxy_trusted)
    return FALSE;
  if (config->tls_cert_file
      && !(tls = sg_tls_server_new (config->tls_cert_file, config->tls_key_file, error)))
    return FALSE;
  if (!sg_intake_reconfigure (ctx->intake, config, error))
    return FALSE;
  /* A table that cannot be read keeps its old contents (logged there). */
  sg_rcpt_policy_reload (ctx->policy, config);
  /* Applied from here on: the key table's reloadable column says what a
   * reload changes; what is bound or running stays as it was until restart. */
  g_autoptr(GPtrArray) restart = sg_config_restart_changes (old, config);
  for (guint i = 0; i < restart->len; i++)
    g_warning ("reload: %s changed; it takes effect at restart", (char *) restart->pdata[i]);
  sg_spool_set_commit_limits (ctx->spool, config->commit_queue_messages,
                              (gsize) config->commit_queue_bytes, config->commit_queue_wait);
  sg_spool_set_recycling (ctx->spool, config->recycle_files);
  sg_data_slots_set_max (ctx->data_slots, config->max_data_streams);
  g_clear_pointer (&ctx->allowed, sg_netlist_free);
  ctx->allowed = g_steal_pointer (&allowed);
  g_clear_pointer (&ctx->proxy_trusted, sg_netlist_free);
  ctx->proxy_trusted = g_steal_pointer (&proxy_trusted);
  g_clear_pointer (&ctx->tls, sg_tls_server_free);
  ctx->tls = g_steal_pointer (&tls);
  ctx->config = sg_config_ref (config);
  sg_listener_reconfigured (ctx->listener);
  sg_config_free (old);
  return TRUE;
}

/* on_hangup - SIGHUP: reload; a bad file is logged and the old configuration kept. */
static gboolean
on_hangup (gpointer data)
{
  SgServer *server = data;
  g_autoptr(GError) error = NULL;
  if (!server->reloader)
    {
      g_warning ("SIGHUP: no way to reload the configuration; ignored");
      return G_SOURCE_CONTINUE;
    }
  /* systemd wants the monotonic time with RELOADING=1 (Type=notify-reload). */
  notify ("RELOADING=1\nMONOTONIC_USEC=%" G_GINT64_FORMAT, g_get_monotonic_time ());
  g_autoptr(SgConfig) config = server->reloader (server->reloader_data, &error);
  if (!config || !sg_server_reconfigure (server, config, &error))
    {
      g_warning ("reload failed, keeping the running configuration: %s", error->message);
      /* one assignment per line: a newline in the message must not start another */
      g_autofree char *why = g_strdelimit (g_strdup (error->message), "\r\n", ' ');
      notify ("READY=1\nSTATUS=Reload failed, running configuration kept: %s", why);
      return G_SOURCE_CONTINUE;
    }
  g_message ("reloaded configuration%s%s: %u session(s) continue under the old one",
             config->path ? " from " : "", config->path ? config->path : "",
             g_hash_table_size (server->ctx.connections));
  notify ("READY=1\nSTATUS=Accepting mail on %s (configuration reloaded)", server->listen_bound);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_signal (gpointer data)
{
  sg_server_stop (data);
  return G_SOURCE_CONTINUE;
}

/* on_committed - new mail is durable: count it in the census; the runner
 * picks it up at once. */
static void
on_committed (const SgMeta *meta, gpointer data)
{
  SgServer *server = data;
  sg_queue_census_set (server->census, meta->queue_id, meta->state, meta->message_size,
                       meta->arrival_time_us);
  if (server->runner)
    sg_queue_runner_notify (server->runner, meta->queue_id);
}

/* census_rescan - without a runner nobody else reads the queue: recount it
 * every [queue] scan_interval so admin commands show in the gauges. */
static gboolean
census_rescan (gpointer data)
{
  SgServer *server = data;
  g_autoptr(GError) error = NULL;
  if (!sg_queue_census_scan (server->census, server->ctx.spool, &error))
    g_warning ("queue census: %s", error->message);
  return G_SOURCE_CONTINUE;
}

SgServer *
sg_server_new (SgConfig *config, GError **error)
{
  g_autoptr(SgServer) server = g_new0 (SgServer, 1);
  SgServerContext *ctx = &server->ctx;
  ctx->config = sg_config_ref (config);
  server->context = g_main_context_ref_thread_default ();
  server->loop = g_main_loop_new (server->context, FALSE);
  ctx->connections = g_hash_table_new (NULL, NULL);
  ctx->read_buffer = g_malloc (SG_READ_CHUNK);
  ctx->poller = sg_poller_new (server->context, error);
  if (!ctx->poller)
    return NULL;
  ctx->wheel = sg_timer_wheel_new (server->context);
  ctx->data_slots = sg_data_slots_new (config->max_data_streams, server->context,
                                       sg_connection_data_resume, NULL);

  /* Bind first: ports below 1024 may need root (or CAP_NET_BIND_SERVICE).
   * Every listening socket belongs here, before the drop below; that
   * includes [metrics] listen. Nothing accepts until sg_server_run. */
  sg_metrics_init (g_get_real_time ());
  if (!(ctx->listener = sg_listener_new (ctx, error))
      || !(ctx->allowed = sg_netlist_parse ((const char *const *) config->allowed_networks, error))
      || !(ctx->proxy_trusted = sg_netlist_parse ((const char *const *) config->proxy_trusted, error)))
    return NULL;
  server->listen_bound = g_strdup (config->listen);
  if (config->metrics_listen
      && !(server->metrics = sg_metrics_http_new (config->metrics_listen, ctx->poller,
                                                  ctx->wheel, error)))
    return NULL;

  /* Then give up root for [server] user, before any thread starts and
   * before any file is opened or created: the spool, TLS keys and smarthost
   * credentials are read as that user, at start-up as on SIGHUP. */
  if (!sg_privilege_prepare_dir (config->spool_dir, config->user, error)
      || !sg_privilege_drop (config->user, error)
      || (config->user && !sg_privilege_check_owner (config->spool_dir, config->user, error)))
    return NULL;

  ctx->spool = sg_spool_open (config->spool_dir, error);
  if (!ctx->spool)
    return NULL;
  sg_spool_set_commit_limits (ctx->spool, config->commit_queue_messages,
                              (gsize) config->commit_queue_bytes, config->commit_queue_wait);
  sg_spool_set_recycling (ctx->spool, config->recycle_files);
  SgSpoolSyncMethod sync_method = SG_SPOOL_SYNC_FDATASYNC;
  (void) sg_spool_sync_method_parse (config->sync_method, &sync_method);  /* checked by the key table */
  sg_spool_set_sync_method (ctx->spool, sync_method);
  /* Recovery's first step purges tmp/; with a queue runner the rest (the
   * listing of queue/ and every message's metadata) runs in the background
   * while we serve (issue 14). */
  g_autoptr(SgSpoolBacklog) backlog = sg_spool_recover_begin (ctx->spool,
                                                              config->smarthost_host != NULL, error);
  if (!backlog)
    return NULL;
  if (!config->smarthost_host)
    {
      /* sg_spool_recover_finish logs the one summary line */
      if (!sg_spool_recover_finish (ctx->spool, g_steal_pointer (&backlog), NULL, NULL, NULL,
                                    error))
        return NULL;
    }
  /* A bad table at start stops the server, naming file and line. */
  ctx->policy = sg_rcpt_policy_new (config, server->context, error);
  if (!ctx->policy)
    return NULL;
  ctx->intake = sg_intake_new (config, ctx->spool, server->context, 0, error);
  if (!ctx->intake)
    return NULL;
  server->census = sg_queue_census_new ();
  if (!config->smarthost_host)
    {
      g_message ("no [smarthost] host configured: mail stays queued");
      census_rescan (server);
      server->census_scan_id = g_timeout_add_seconds (config->queue_scan_interval, census_rescan, server);
    }
  else if (!(server->runner = sg_queue_runner_new (config, ctx->spool, server->context,
                                                   server->census, g_steal_pointer (&backlog),
                                                   error)))
    return NULL;
  else
    server->runner_config = sg_config_ref (config);  /* the runner borrows it */
  sg_intake_set_committed_hook (ctx->intake, on_committed, server);
  if (config->tls_cert_file)
    {
      ctx->tls = sg_tls_server_new (config->tls_cert_file, config->tls_key_file, error);
      if (!ctx->tls)
        return NULL;
      g_message ("STARTTLS offered%s", config->tls_require ? " and required" : "");
    }
  return g_steal_pointer (&server);
}

int
sg_server_run (SgServer *server)
{
  const SgConfig *config = server->ctx.config;
  signal (SIGPIPE, SIG_IGN);
  server->signal_ids[0] = g_unix_signal_add (SIGTERM, on_signal, server);
  server->signal_ids[1] = g_unix_signal_add (SIGINT, on_signal, server);
  server->signal_ids[2] = g_unix_signal_add (SIGHUP, on_hangup, server);
  g_autoptr(GError) error = NULL;
  if (!sg_listener_start (server->ctx.listener, &error))
    {
      g_warning ("%s", error->message);
      return 1;
    }
  g_message ("spoolgate %s ready: hostname %s, spool %s, policy %s", SG_VERSION_STRING,
             config->hostname, config->spool_dir, config->validation_policy);
  /* Bound and the spool open and recovered: the service is up. */
  notify ("READY=1\nSTATUS=Accepting mail on %s", server->listen_bound);
  g_main_loop_run (server->loop);
  g_message ("stopped");
  return 0;
}

void
sg_server_free (SgServer *server)
{
  if (!server)
    return;
  SgServerContext *ctx = &server->ctx;
  for (guint i = 0; i < G_N_ELEMENTS (server->signal_ids); i++)
    if (server->signal_ids[i])
      g_source_remove (server->signal_ids[i]);
  if (server->stop_timer)
    g_source_remove (server->stop_timer);
  if (ctx->listener)
    sg_listener_close (ctx->listener);
  /* Drain first: no session takes another command or message from here on
   * (each finishes the one in flight, then 421), so nothing reaches the
   * intake while it is freed. */
  if (ctx->connections)
    sg_connections_shutdown (ctx, TRUE);
  /* RCPTs waiting for an address probe are answered "unverified". */
  g_clear_pointer (&ctx->policy, sg_rcpt_policy_free);
  /* Messages in flight get their replies (or are dropped if the socket is
   * gone) before the spool is closed; nothing acknowledged is lost. */
  g_clear_pointer (&ctx->intake, sg_intake_free);
  /* Deliveries in flight are interrupted; they stay in the queue. */
  g_clear_pointer (&server->runner, sg_queue_runner_free);
  g_clear_handle_id (&server->census_scan_id, g_source_remove);
  g_clear_pointer (&server->census, sg_queue_census_free);
  g_clear_pointer (&server->metrics, sg_metrics_http_free);
  if (ctx->connections)
    {
      sg_connections_shutdown (ctx, TRUE);
      g_hash_table_unref (ctx->connections);
    }
  g_clear_pointer (&ctx->listener, sg_listener_free);
  g_clear_pointer (&ctx->data_slots, sg_data_slots_free);
  g_clear_pointer (&ctx->wheel, sg_timer_wheel_free);
  g_clear_pointer (&ctx->poller, sg_poller_free);
  g_clear_pointer (&ctx->spool, sg_spool_free);
  g_clear_pointer (&ctx->tls, sg_tls_server_free);
  g_clear_pointer (&ctx->allowed, sg_netlist_free);
  g_clear_pointer (&ctx->proxy_trusted, sg_netlist_free);
  g_clear_pointer (&server->runner_config, sg_config_free);
  g_clear_pointer (&ctx->config, sg_config_free);
  g_clear_pointer (&server->loop, g_main_loop_unref);
  g_clear_pointer (&server->context, g_main_context_unref);
  g_free (ctx->read_buffer);
  g_free (server->listen_bound);
  g_free (server);
}
