/* server.c - start-up (bind the listener and the metrics endpoint, drop
 * privileges, spool recovery, intake, queue runner or census), the main
 * loop, and a clean stop on SIGTERM/SIGINT: stop accepting, say 421 to idle
 * sessions, let transactions in flight finish for up to [limits]
 * shutdown_timeout, then 421 to whoever is still sending, and drain every
 * spool commit before exit. Tells the service manager (sd_notify) when it is
 * ready, reloading and stopping. */
#include "server/server_private.h"
#include "server/connection.h"
#include "common/privilege.h"
#include "common/sd_notify.h"
#include "metrics/metrics.h"
#include "smarthost/smarthost_courier.h"

#include <glib-unix.h>
#include <signal.h>
#include <stdarg.h>
#include <unistd.h>
#include "sg-build.h"

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
  GHashTableIter it;
  gpointer conn;
  guint busy = 0;
  g_hash_table_iter_init (&it, server->connections);
  while (g_hash_table_iter_next (&it, &conn, NULL))
    if (sg_connection_busy (conn))
      busy++;
  if (busy == 0 && sg_intake_pending (server->intake) == 0)
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
             server->config->shutdown_timeout);
  server->stop_timer = 0;
  GList *conns = g_hash_table_get_keys (server->connections);
  for (GList *l = conns; l; l = l->next)
    sg_connection_shutdown (l->data, TRUE);
  g_list_free (conns);
  g_main_loop_quit (server->loop);
  return G_SOURCE_REMOVE;
}

void
sg_server_stop (SgServer *server)
{
  if (server->stopping)
    return;
  server->stopping = TRUE;
  g_message ("stopping: no new connections; finishing %u session(s)",
             g_hash_table_size (server->connections));
  notify ("STOPPING=1\nSTATUS=Stopping: finishing %u session(s)",
          g_hash_table_size (server->connections));
  sg_listener_close (server);
  GList *conns = g_hash_table_get_keys (server->connections);
  for (GList *l = conns; l; l = l->next)
    sg_connection_shutdown (l->data, FALSE);
  g_list_free (conns);
  g_timeout_add (100, stop_when_idle, server);
  server->stop_timer = g_timeout_add_seconds (server->config->shutdown_timeout, shutdown_deadline, server);
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
  SgConfig *old = server->config;
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
  if (!sg_intake_reconfigure (server->intake, config, error))
    return FALSE;
  /* A table that cannot be read keeps its old contents (logged there). */
  sg_rcpt_policy_reload (server->policy, config);
  /* Applied from here on: the key table's reloadable column says what a
   * reload changes; what is bound or running stays as it was until restart. */
  g_autoptr(GPtrArray) restart = sg_config_restart_changes (old, config);
  for (guint i = 0; i < restart->len; i++)
    g_warning ("reload: %s changed; it takes effect at restart", (char *) restart->pdata[i]);
  sg_spool_set_commit_limits (server->spool, config->commit_queue_messages,
                              (gsize) config->commit_queue_bytes, config->commit_queue_wait);
  sg_spool_set_recycling (server->spool, config->recycle_files);
  sg_data_slots_set_max (server->data_slots, config->max_data_streams);
  g_clear_pointer (&server->allowed, sg_netlist_free);
  server->allowed = g_steal_pointer (&allowed);
  g_clear_pointer (&server->proxy_trusted, sg_netlist_free);
  server->proxy_trusted = g_steal_pointer (&proxy_trusted);
  g_clear_pointer (&server->tls, sg_tls_server_free);
  server->tls = g_steal_pointer (&tls);
  server->config = sg_config_ref (config);
  server->free_checked = 0;
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
             g_hash_table_size (server->connections));
  notify ("READY=1\nSTATUS=Accepting mail on %s (configuration reloaded)", server->listen_bound);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_signal (gpointer data)
{
  sg_server_stop (data);
  return G_SOURCE_CONTINUE;
}

/* What a connection may use of its server (server_conn.h). */
SgPoller *
sg_server_poller (SgServer *server)
{
  return server->poller;
}

SgTimerWheel *
sg_server_wheel (SgServer *server)
{
  return server->wheel;
}

SgDataSlots *
sg_server_data_slots (SgServer *server)
{
  return server->data_slots;
}

guint8 *
sg_server_read_buffer (SgServer *server)
{
  return server->read_buffer;
}

SgConfig *
sg_server_config (SgServer *server)
{
  return server->config;
}

SgRcptPolicy *
sg_server_rcpt_policy (SgServer *server)
{
  return server->policy;
}

SgTlsServer *
sg_server_tls (SgServer *server)
{
  return server->tls;
}

gboolean
sg_server_stopping (SgServer *server)
{
  return server->stopping;
}

gboolean
sg_server_submit (SgServer *server, SgEnvelope *env, SgIntakeDoneFunc done, gpointer user_data)
{
  if (!server->intake)   /* NULL while sg_server_free drains it */
    return FALSE;
  sg_intake_submit (server->intake, env, done, user_data);
  return TRUE;
}

SgSpoolDraft *
sg_server_open_draft (SgServer *server, GError **error)
{
  if (!server->intake)   /* NULL while sg_server_free drains it */
    {
      g_set_error_literal (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_IO, "shutting down");
      return NULL;
    }
  return sg_intake_open_draft (server->intake, error);
}

void
sg_server_connection_opened (SgServer *server, SgConnection *conn)
{
  g_hash_table_add (server->connections, conn);
}

void
sg_server_client_admitted (SgServer *server, const char *address)
{
  g_hash_table_insert (server->per_ip, g_strdup (address),
                       GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (server->per_ip, address)) + 1));
}

void
sg_server_connection_closed (SgServer *server, SgConnection *conn)
{
  const char *addr = sg_connection_address (conn);
  if (addr)   /* NULL: closed before its PROXY header, never counted */
    {
      guint n = GPOINTER_TO_UINT (g_hash_table_lookup (server->per_ip, addr));
      if (n <= 1)
        g_hash_table_remove (server->per_ip, addr);
      else
        g_hash_table_insert (server->per_ip, g_strdup (addr), GUINT_TO_POINTER (n - 1));
    }
  g_hash_table_remove (server->connections, conn);
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
  if (!sg_queue_census_scan (server->census, server->spool, &error))
    g_warning ("queue census: %s", error->message);
  return G_SOURCE_CONTINUE;
}

SgServer *
sg_server_new (SgConfig *config, GError **error)
{
  g_autoptr(SgServer) server = g_new0 (SgServer, 1);
  server->config = sg_config_ref (config);
  server->context = g_main_context_ref_thread_default ();
  server->loop = g_main_loop_new (server->context, FALSE);
  server->connections = g_hash_table_new (NULL, NULL);
  server->per_ip = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  server->read_buffer = g_malloc (SG_READ_CHUNK);
  server->poller = sg_poller_new (server->context, error);
  if (!server->poller)
    return NULL;
  server->wheel = sg_timer_wheel_new (server->context);
  server->data_slots = sg_data_slots_new (config->max_data_streams, server->context,
                                          sg_connection_data_resume, NULL);

  /* Bind first: ports below 1024 may need root (or CAP_NET_BIND_SERVICE).
   * Every listening socket belongs here, before the drop below; that
   * includes [metrics] listen. Nothing accepts until sg_server_run. */
  sg_metrics_init (g_get_real_time ());
  if (!sg_listener_open (server, error))
    return NULL;
  server->listen_bound = g_strdup (config->listen);
  if (config->metrics_listen
      && !(server->metrics = sg_metrics_http_new (config->metrics_listen, server->poller,
                                                  server->wheel, error)))
    return NULL;

  /* Then give up root for [server] user, before any thread starts and
   * before any file is opened or created: the spool, TLS keys and smarthost
   * credentials are read as that user, at start-up as on SIGHUP. */
  if (!sg_privilege_prepare_dir (config->spool_dir, config->user, error)
      || !sg_privilege_drop (config->user, error)
      || (config->user && !sg_privilege_check_owner (config->spool_dir, config->user, error)))
    return NULL;

  server->spool = sg_spool_open (config->spool_dir, error);
  if (!server->spool)
    return NULL;
  sg_spool_set_commit_limits (server->spool, config->commit_queue_messages,
                              (gsize) config->commit_queue_bytes, config->commit_queue_wait);
  sg_spool_set_recycling (server->spool, config->recycle_files);
  SgSpoolSyncMethod sync_method = SG_SPOOL_SYNC_FDATASYNC;
  (void) sg_spool_sync_method_parse (config->sync_method, &sync_method);  /* checked by the key table */
  sg_spool_set_sync_method (server->spool, sync_method);
  /* Recovery's first step purges tmp/; with a queue runner the rest (the
   * listing of queue/ and every message's metadata) runs in the background
   * while we serve (issue 14). */
  g_autoptr(SgSpoolBacklog) backlog = sg_spool_recover_begin (server->spool,
                                                              config->smarthost_host != NULL, error);
  if (!backlog)
    return NULL;
  if (!config->smarthost_host)
    {
      /* sg_spool_recover_finish logs the one summary line */
      if (!sg_spool_recover_finish (server->spool, g_steal_pointer (&backlog), NULL, NULL, NULL,
                                    error))
        return NULL;
    }
  /* A bad table at start stops the server, naming file and line. */
  server->policy = sg_rcpt_policy_new (config, server->context, error);
  if (!server->policy)
    return NULL;
  server->intake = sg_intake_new (config, server->spool, server->context, 0, error);
  if (!server->intake)
    return NULL;
  server->census = sg_queue_census_new ();
  g_autoptr(SgCourier) courier = NULL;   /* the smarthost's, for the runner */
  if (!config->smarthost_host)
    {
      g_message ("no [smarthost] host configured: mail stays queued");
      census_rescan (server);
      server->census_scan_id = g_timeout_add_seconds (config->queue_scan_interval, census_rescan, server);
    }
  else if (!(courier = sg_smarthost_courier_new (config, error))
           || !(server->runner = sg_queue_runner_new (config, server->spool, server->context,
                                                      server->census, g_steal_pointer (&backlog),
                                                      g_steal_pointer (&courier), error)))
    return NULL;
  else
    server->runner_config = sg_config_ref (config);  /* the runner borrows it */
  sg_intake_set_committed_hook (server->intake, on_committed, server);
  if (config->tls_cert_file)
    {
      server->tls = sg_tls_server_new (config->tls_cert_file, config->tls_key_file, error);
      if (!server->tls)
        return NULL;
      g_message ("STARTTLS offered%s", config->tls_require ? " and required" : "");
    }
  return g_steal_pointer (&server);
}

int
sg_server_run (SgServer *server)
{
  signal (SIGPIPE, SIG_IGN);
  server->signal_ids[0] = g_unix_signal_add (SIGTERM, on_signal, server);
  server->signal_ids[1] = g_unix_signal_add (SIGINT, on_signal, server);
  server->signal_ids[2] = g_unix_signal_add (SIGHUP, on_hangup, server);
  g_autoptr(GError) error = NULL;
  if (!sg_listener_start (server, &error))
    {
      g_warning ("%s", error->message);
      return 1;
    }
  g_message ("spoolgate %s ready: hostname %s, spool %s, policy %s", SG_VERSION_STRING,
             server->config->hostname, server->config->spool_dir,
             server->config->validation_policy);
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
  for (guint i = 0; i < G_N_ELEMENTS (server->signal_ids); i++)
    if (server->signal_ids[i])
      g_source_remove (server->signal_ids[i]);
  if (server->stop_timer)
    g_source_remove (server->stop_timer);
  sg_listener_close (server);
  /* Drain first: no session takes another command or message from here on
   * (each finishes the one in flight, then 421), so nothing reaches the
   * intake while it is freed. */
  if (server->connections)
    {
      GList *conns = g_hash_table_get_keys (server->connections);
      for (GList *l = conns; l; l = l->next)
        sg_connection_shutdown (l->data, TRUE);
      g_list_free (conns);
    }
  /* RCPTs waiting for an address probe are answered "unverified". */
  g_clear_pointer (&server->policy, sg_rcpt_policy_free);
  /* Messages in flight get their replies (or are dropped if the socket is
   * gone) before the spool is closed; nothing acknowledged is lost. */
  g_clear_pointer (&server->intake, sg_intake_free);
  /* Deliveries in flight are interrupted; they stay in the queue. */
  g_clear_pointer (&server->runner, sg_queue_runner_free);
  g_clear_handle_id (&server->census_scan_id, g_source_remove);
  g_clear_pointer (&server->census, sg_queue_census_free);
  g_clear_pointer (&server->metrics, sg_metrics_http_free);
  if (server->connections)
    {
      GList *conns = g_hash_table_get_keys (server->connections);
      for (GList *l = conns; l; l = l->next)
        sg_connection_shutdown (l->data, TRUE);
      g_list_free (conns);
      g_hash_table_unref (server->connections);
    }
  g_clear_pointer (&server->data_slots, sg_data_slots_free);
  g_clear_pointer (&server->wheel, sg_timer_wheel_free);
  g_clear_pointer (&server->poller, sg_poller_free);
  g_clear_pointer (&server->spool, sg_spool_free);
  g_clear_pointer (&server->tls, sg_tls_server_free);
  g_clear_pointer (&server->runner_config, sg_config_free);
  g_clear_pointer (&server->config, sg_config_free);
  g_clear_pointer (&server->per_ip, g_hash_table_unref);
  g_clear_pointer (&server->loop, g_main_loop_unref);
  g_clear_pointer (&server->context, g_main_context_unref);
  g_free (server->read_buffer);
  g_free (server->listen_bound);
  g_free (server);
}
