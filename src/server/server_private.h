/* server_private.h - the server's state shared by server.c and listener.c;
 * connections see only server_conn.h. Nothing outside src/server/ includes it. */
#pragma once
#include <glib.h>
#include "config/config.h"
#include "event/poller.h"
#include "event/timer_wheel.h"
#include "intake/intake.h"
#include "queue/census.h"
#include "queue/runner.h"
#include "metrics/metrics_http.h"
#include "server/server.h"
#include "server/server_conn.h"
#include "spool/spool.h"
#include "tls/tls_server.h"
#include "common/netlist.h"
#include "access/rcpt_policy.h"

struct _SgServer {
  SgConfig       *config;        /* current: new sessions and messages use it */
  SgConfig       *runner_config; /* what the queue runner was started with */
  SgConfigLoader  reloader;
  gpointer        reloader_data;
  GMainContext   *context;
  GMainLoop      *loop;
  SgPoller       *poller;
  SgTimerWheel   *wheel;
  SgDataSlots    *data_slots;    /* [limits] max_data_streams; freed after every connection */
  SgSpool        *spool;
  SgIntake       *intake;
  SgRcptPolicy   *policy;        /* [access] tables and address verification, for RCPT */
  SgTlsServer    *tls;           /* (nullable) inbound STARTTLS */
  SgNetList      *allowed;       /* [access] allowed_networks */
  SgNetList      *proxy_trusted; /* [server] proxy_trusted */
  GHashTable     *rate;          /* address -> GQueue of connect times (connection_rate_per_ip) */
  guint           rate_sweep_id;
  gint64          free_checked;  /* monotonic µs of the last statvfs of the spool */
  gboolean        spool_low;     /* below [spool] min_free at that check */
  SgQueueRunner  *runner;        /* (nullable) without a [smarthost] host */
  SgQueueCensus  *census;        /* queue gauges: fed by the runner, or rescanned here without one */
  guint           census_scan_id;
  SgMetricsHttp  *metrics;       /* (nullable) [metrics] listen */
  GPtrArray      *listeners;     /* SgPollFd*, one per [server] listen address; owns the fds */
  char           *listen_bound;  /* [server] listen as bound at start-up */
  GHashTable     *connections;   /* SgConnection* set */
  GHashTable     *per_ip;        /* address -> GUINT count */
  guint8         *read_buffer;   /* shared: the loop is single-threaded */
  guint           fd_sessions;   /* sessions the open-file limit fits (sg_listener_open) */
  guint           accept_pause_id; /* listener paused after EMFILE until this fires */
  gint64          flood_logged;  /* monotonic µs of the last EMFILE or max_connections line */
  guint           flood_unlogged; /* such events since, counted but not logged */
  gboolean        stopping;
  guint           stop_timer;
  guint           signal_ids[3];
};

/* listener.c */
gboolean sg_listener_open (SgServer *server, GError **error);
/* sg_listener_start - listen() on the socket sg_listener_open bound. */
gboolean sg_listener_start (SgServer *server, GError **error);
void     sg_listener_close (SgServer *server);
/* sg_listener_max_connections - [limits] max_connections, lowered to what the
 * open-file limit fits; 0 = no limit. */
guint    sg_listener_max_connections (SgServer *server);

