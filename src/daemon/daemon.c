/* daemon.c - the daemon's life: start-up in the order privilege needs
 * (the loop, then every listening socket, then the drop to [server] user,
 * then the stages: daemon_stages.c), the main loop, and the teardown that
 * answers every message in flight before the spool closes. Signals and
 * the clean stop are daemon_signals.c's, reload daemon_reload.c's; the
 * listener and connections are src/server/'s. Tells the service manager
 * (sd_notify) when it is ready. */
#include "daemon/daemon_private.h"
#include "server/connection.h"
#include "server/listener.h"
#include "common/privilege.h"
#include "common/sd_notify.h"
#include "metrics/metrics.h"

#include <stdarg.h>
#include "sg-build.h"

void
sg_daemon_notify (const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *state = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_autoptr(GError) error = NULL;
  if (!sg_sd_notify (state, &error))
    g_warning ("cannot tell the service manager: %s", error->message);
}

SgDaemon *
sg_daemon_new (SgConfig *config, GError **error)
{
  g_autoptr(SgDaemon) daemon = g_new0 (SgDaemon, 1);
  SgServerContext *ctx = &daemon->ctx;
  ctx->config = sg_config_ref (config);
  daemon->context = g_main_context_ref_thread_default ();
  daemon->loop = g_main_loop_new (daemon->context, FALSE);
  ctx->connections = g_hash_table_new (NULL, NULL);
  ctx->read_buffer = g_malloc (SG_READ_CHUNK);
  ctx->poller = sg_poller_new (daemon->context, error);
  if (!ctx->poller)
    return NULL;
  ctx->wheel = sg_timer_wheel_new (daemon->context);
  ctx->data_slots = sg_data_slots_new (config->max_data_streams, daemon->context,
                                       sg_connection_data_resume, NULL);

  /* Bind first: ports below 1024 may need root (or CAP_NET_BIND_SERVICE).
   * Every listening socket belongs here, before the drop below; that
   * includes [metrics] listen. Nothing accepts until sg_daemon_run. */
  sg_metrics_init (g_get_real_time ());
  if (!(ctx->listener = sg_listener_new (ctx, error))
      || !(ctx->allowed = sg_netlist_parse ((const char *const *) config->allowed_networks, error))
      || !(ctx->proxy_trusted = sg_netlist_parse ((const char *const *) config->proxy_trusted, error)))
    return NULL;
  daemon->listen_bound = g_strdup (config->listen);
  if (config->metrics_listen
      && !(daemon->metrics = sg_metrics_http_new (config->metrics_listen, ctx->poller,
                                                  ctx->wheel, error)))
    return NULL;

  /* Then give up root for [server] user, before any thread starts and
   * before any file is opened or created: the spool, TLS keys and smarthost
   * credentials are read as that user, at start-up as on SIGHUP. */
  if (!sg_privilege_prepare_dir (config->spool_dir, config->user, error)
      || !sg_privilege_drop (config->user, error)
      || (config->user && !sg_privilege_check_owner (config->spool_dir, config->user, error)))
    return NULL;

  if (!sg_daemon_stages_open (daemon, error))
    return NULL;
  return g_steal_pointer (&daemon);
}

int
sg_daemon_run (SgDaemon *daemon)
{
  const SgConfig *config = daemon->ctx.config;
  sg_daemon_signals_watch (daemon);
  g_autoptr(GError) error = NULL;
  if (!sg_listener_start (daemon->ctx.listener, &error))
    {
      g_warning ("%s", error->message);
      return 1;
    }
  g_message ("spoolgate %s ready: hostname %s, spool %s, policy %s", SG_VERSION_STRING,
             config->hostname, config->spool_dir, config->validation_policy);
  /* Bound and the spool open and recovered: the service is up. */
  sg_daemon_notify ("READY=1\nSTATUS=Accepting mail on %s", daemon->listen_bound);
  g_main_loop_run (daemon->loop);
  g_message ("stopped");
  return 0;
}

void
sg_daemon_free (SgDaemon *daemon)
{
  if (!daemon)
    return;
  SgServerContext *ctx = &daemon->ctx;
  sg_daemon_signals_unwatch (daemon);
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
  g_clear_pointer (&daemon->runner, sg_queue_runner_free);
  g_clear_handle_id (&daemon->census_scan_id, g_source_remove);
  g_clear_pointer (&daemon->census, sg_queue_census_free);
  g_clear_pointer (&daemon->metrics, sg_metrics_http_free);
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
  g_clear_pointer (&daemon->runner_config, sg_config_free);
  g_clear_pointer (&ctx->config, sg_config_free);
  g_clear_pointer (&daemon->loop, g_main_loop_unref);
  g_clear_pointer (&daemon->context, g_main_context_unref);
  g_free (ctx->read_buffer);
  g_free (daemon->listen_bound);
  g_free (daemon);
}
