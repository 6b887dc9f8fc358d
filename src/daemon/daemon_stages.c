/* daemon_stages.c - the stages a message passes, started side by side:
 * the spool (opened, tuned and recovered), the recipient policy, the
 * intake, the queue runner (or, without a smarthost, a periodic census of
 * the queue) and inbound TLS. None of them knows another; the daemon joins
 * them here (the intake's committed hook feeds the census and wakes the
 * runner) and hands the listener the ones a session feeds. Everything runs
 * as [server] user: daemon.c bound the listener and the metrics endpoint
 * and dropped privileges before. */
#include "daemon/daemon_private.h"
#include "smarthost/smarthost_courier.h"

/* on_committed - new mail is durable: count it in the census; the runner
 * picks it up at once. */
static void
on_committed (const SgMeta *meta, gpointer data)
{
  SgDaemon *daemon = data;
  sg_queue_census_set (daemon->census, meta->queue_id, meta->state, meta->message_size,
                       meta->arrival_time_us);
  if (daemon->runner)
    sg_queue_runner_notify (daemon->runner, meta->queue_id);
}

/* census_rescan - without a runner nobody else reads the queue: recount it
 * every [queue] scan_interval so admin commands show in the gauges. */
static gboolean
census_rescan (gpointer data)
{
  SgDaemon *daemon = data;
  g_autoptr(GError) error = NULL;
  if (!sg_queue_census_scan (daemon->census, daemon->ctx.spool, &error))
    g_warning ("queue census: %s", error->message);
  return G_SOURCE_CONTINUE;
}

gboolean
sg_daemon_stages_open (SgDaemon *daemon, GError **error)
{
  SgServerContext *ctx = &daemon->ctx;
  SgConfig *config = ctx->config;
  ctx->spool = sg_spool_open (config->spool_dir, error);
  if (!ctx->spool)
    return FALSE;
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
    return FALSE;
  if (!config->smarthost_host)
    {
      /* sg_spool_recover_finish logs the one summary line */
      if (!sg_spool_recover_finish (ctx->spool, g_steal_pointer (&backlog), NULL, NULL, NULL,
                                    error))
        return FALSE;
    }
  /* A bad table at start stops the server, naming file and line. */
  ctx->policy = sg_rcpt_policy_new (config, daemon->context, error);
  if (!ctx->policy)
    return FALSE;
  ctx->intake = sg_intake_new (config, ctx->spool, daemon->context, 0, error);
  if (!ctx->intake)
    return FALSE;
  daemon->census = sg_queue_census_new ();
  g_autoptr(SgCourier) courier = NULL;   /* the smarthost's, for the runner */
  if (!config->smarthost_host)
    {
      g_message ("no [smarthost] host configured: mail stays queued");
      census_rescan (daemon);
      daemon->census_scan_id = g_timeout_add_seconds (config->queue_scan_interval, census_rescan, daemon);
    }
  else if (!(courier = sg_smarthost_courier_new (config, error))
           || !(daemon->runner = sg_queue_runner_new (config, ctx->spool, daemon->context,
                                                      daemon->census, g_steal_pointer (&backlog),
                                                      g_steal_pointer (&courier), error)))
    return FALSE;
  else
    daemon->runner_config = sg_config_ref (config);  /* the runner borrows it */
  sg_intake_set_committed_hook (ctx->intake, on_committed, daemon);
  if (config->tls_cert_file)
    {
      ctx->tls = sg_tls_server_new (config->tls_cert_file, config->tls_key_file, error);
      if (!ctx->tls)
        return FALSE;
      g_message ("STARTTLS offered%s", config->tls_require ? " and required" : "");
    }
  return TRUE;
}
