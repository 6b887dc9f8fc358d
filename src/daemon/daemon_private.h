/* daemon_private.h - the daemon's state, shared by its files: daemon.c
 * (start-up, the main loop, teardown), daemon_stages.c (the stages wired
 * as siblings), daemon_signals.c (signals and the clean stop) and
 * daemon_reload.c (SIGHUP). Nothing outside src/daemon/ includes it. */
#pragma once
#include <glib.h>
#include "daemon/daemon.h"
#include "server/server_context.h"
#include "metrics/metrics_http.h"
#include "queue/census.h"
#include "queue/runner.h"

G_BEGIN_DECLS

/* Lifetime: from sg_daemon_new to sg_daemon_free, the whole process in
 * practice; it owns every object in ctx and below. */
struct _SgDaemon {
  SgServerContext ctx;           /* what the listener and connections use */
  SgConfig       *runner_config; /* what the queue runner was started with (it borrows it) */
  SgConfigLoader  reloader;
  gpointer        reloader_data;
  GMainContext   *context;
  GMainLoop      *loop;
  SgQueueRunner  *runner;        /* (nullable) without a [smarthost] host */
  SgQueueCensus  *census;        /* queue gauges: fed by the runner, or rescanned without one */
  guint           census_scan_id;
  SgMetricsHttp  *metrics;       /* (nullable) [metrics] listen */
  char           *listen_bound;  /* [server] listen as bound at start-up */
  guint           stop_timer;
  guint           stop_poll;     /* a stop's idle check (daemon_signals.c); 0 = none */
  guint           signal_ids[3];
};

/* daemon.c: sg_daemon_notify - one sd_notify message; a service manager
 * that cannot be told is logged, never a reason to stop serving. */
void     sg_daemon_notify (const char *format, ...) G_GNUC_PRINTF (1, 2);

/* daemon_stages.c: sg_daemon_stages_open - the spool (opened and
 * recovered), the recipient policy, the intake, the queue runner (or the
 * census rescan without one) and inbound TLS, each knowing none of the
 * others; the daemon joins them. Runs after the privilege drop. */
gboolean sg_daemon_stages_open (SgDaemon *daemon, GError **error);

/* daemon_signals.c: sg_daemon_signals_watch, sg_daemon_signals_unwatch -
 * SIGTERM and SIGINT stop cleanly, SIGHUP reloads (sg_daemon_hangup);
 * SIGPIPE is ignored. */
void     sg_daemon_signals_watch (SgDaemon *daemon);
void     sg_daemon_signals_unwatch (SgDaemon *daemon);

/* daemon_reload.c: sg_daemon_hangup - SIGHUP: reload; a bad file is
 * logged and the old configuration kept. */
gboolean sg_daemon_hangup (gpointer daemon);

G_END_DECLS
