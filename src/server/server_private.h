/* server_private.h - the server's state shared by server.c, listener.c and
 * connection.c; nothing outside src/server/ includes it. */
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
#include "spool/spool.h"
#include "tls/tls_server.h"
#include "common/netlist.h"

typedef struct _SgConnection SgConnection;

struct _SgServer {
  SgConfig       *config;        /* current: new sessions and messages use it */
  SgConfig       *runner_config; /* what the queue runner was started with */
  SgConfigLoader  reloader;
  gpointer        reloader_data;
  GMainContext   *context;
  GMainLoop      *loop;
  SgPoller       *poller;
  SgTimerWheel   *wheel;
  SgSpool        *spool;
  SgIntake       *intake;
  SgTlsServer    *tls;           /* (nullable) inbound STARTTLS */
  SgNetList      *allowed;       /* [access] allowed_networks */
  GHashTable     *rate;          /* address -> GQueue of connect times (connection_rate_per_ip) */
  guint           rate_sweep_id;
  gint64          free_checked;  /* monotonic µs of the last statvfs of the spool */
  gboolean        spool_low;     /* below [spool] min_free at that check */
  SgQueueRunner  *runner;        /* (nullable) without a [smarthost] host */
  SgQueueCensus  *census;        /* queue gauges: fed by the runner, or rescanned here without one */
  guint           census_scan_id;
  SgMetricsHttp  *metrics;       /* (nullable) [metrics] listen */
  int             listen_fd;
  SgPollFd       *listen_pfd;
  GHashTable     *connections;   /* SgConnection* set */
  GHashTable     *per_ip;        /* address -> GUINT count */
  guint8         *read_buffer;   /* shared: the loop is single-threaded */
  gboolean        stopping;
  guint           stop_timer;
  guint           signal_ids[3];
};

#define SG_READ_CHUNK       (64 * 1024)  /* bytes per read() */

/* listener.c */
gboolean sg_listener_open (SgServer *server, GError **error);
void     sg_listener_close (SgServer *server);

/* listener.c */
gboolean sg_server_spool_has_room (SgServer *server);

/* connection.c, called back by the server */
void sg_server_connection_closed (SgServer *server, SgConnection *conn);
