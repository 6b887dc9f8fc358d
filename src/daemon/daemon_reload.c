/* daemon_reload.c - SIGHUP: load the configuration again the way start-up
 * did (the loader serve gave us) and apply it to new sessions and
 * messages. All or nothing: a file that cannot be applied is logged and the
 * running configuration kept. What a reload changes is the key table's
 * reloadable column; a changed key that is not reloadable (a bound
 * address, the spool, the user) is named and waits for a restart. Sessions
 * already open finish under the configuration they started with. Tells
 * the service manager (sd_notify) it is reloading and ready again. */
#include "daemon/daemon_private.h"
#include "server/listener.h"

void
sg_daemon_set_reloader (SgDaemon *daemon, SgConfigLoader loader, gpointer data)
{
  daemon->reloader = loader;
  daemon->reloader_data = data;
}

gboolean
sg_daemon_reconfigure (SgDaemon *daemon, SgConfig *config, GError **error)
{
  SgServerContext *ctx = &daemon->ctx;
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

gboolean
sg_daemon_hangup (gpointer data)
{
  SgDaemon *daemon = data;
  g_autoptr(GError) error = NULL;
  if (!daemon->reloader)
    {
      g_warning ("SIGHUP: no way to reload the configuration; ignored");
      return G_SOURCE_CONTINUE;
    }
  /* systemd wants the monotonic time with RELOADING=1 (Type=notify-reload). */
  sg_daemon_notify ("RELOADING=1\nMONOTONIC_USEC=%" G_GINT64_FORMAT, g_get_monotonic_time ());
  g_autoptr(SgConfig) config = daemon->reloader (daemon->reloader_data, &error);
  if (!config || !sg_daemon_reconfigure (daemon, config, &error))
    {
      g_warning ("reload failed, keeping the running configuration: %s", error->message);
      /* one assignment per line: a newline in the message must not start another */
      g_autofree char *why = g_strdelimit (g_strdup (error->message), "\r\n", ' ');
      sg_daemon_notify ("READY=1\nSTATUS=Reload failed, running configuration kept: %s", why);
      return G_SOURCE_CONTINUE;
    }
  g_message ("reloaded configuration%s%s: %u session(s) continue under the old one",
             config->path ? " from " : "", config->path ? config->path : "",
             g_hash_table_size (daemon->ctx.connections));
  sg_daemon_notify ("READY=1\nSTATUS=Accepting mail on %s (configuration reloaded)",
                    daemon->listen_bound);
  return G_SOURCE_CONTINUE;
}
