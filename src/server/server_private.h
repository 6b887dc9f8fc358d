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
  SgNetList      *proxy_trusted; /* [server] proxy_trusted */
  GHashTable     *rate;          /* address -> GQueue of connect times (connection_rate_per_ip) */
  guint           rate_sweep_id;
  gint64          free_checked;  /* monotonic µs of the last statvfs of the spool */
  gboolean        spool_low;     /* below [spool] min_free at that check */
  SgQueueRunner  *runner;        /* (nullable) without a [smarthost] host */
  SgQueueCensus  *census;        /* queue gauges: fed by the runner, or rescanned here without one */
  guint           census_scan_id;
  SgMetricsHttp  *metrics;       /* (nullable) [metrics] listen */
  int             listen_fd;
  char           *listen_bound;  /* [server] listen as bound at start-up */
  SgPollFd       *listen_pfd;
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

#define SG_READ_CHUNK       (64 * 1024)  /* bytes per read() */

/* Why a client is turned away before its session: the one reply line. */
typedef struct {
  const char *code;   /* "554 5.7.1", "421 4.7.0" */
  const char *text;
} SgRefusal;

/* listener.c */
gboolean sg_listener_open (SgServer *server, GError **error);
/* sg_listener_start - listen() on the socket sg_listener_open bound. */
gboolean sg_listener_start (SgServer *server, GError **error);
void     sg_listener_close (SgServer *server);
/* sg_listener_max_connections - [limits] max_connections, lowered to what the
 * open-file limit fits; 0 = no limit. */
guint    sg_listener_max_connections (SgServer *server);
/* sg_listener_admit - the per-client checks on the client's address (with a
 * PROXY header, the one it names; via is then the proxy's, for the log):
 * [access] allowed_networks, connection_rate_per_ip, max_connections_per_ip.
 * proxy_itself: a LOCAL/UNKNOWN header, the proxy speaks for itself (health
 * checks), and the rate limit does not apply. TRUE with *relay_allowed set,
 * or FALSE with *refusal to send; logged here. */
gboolean sg_listener_admit (SgServer *server, const char *address, const char *via,
                            gboolean proxy_itself, gboolean *relay_allowed, SgRefusal *refusal);
/* sg_listener_refusal_send - the refusal's reply line, best effort, never blocking. */
void     sg_listener_refusal_send (int fd, const SgConfig *config, const SgRefusal *refusal);

/* listener.c */
gboolean sg_server_spool_has_room (SgServer *server);

/* connection.c, called back by the server */
void sg_server_connection_closed (SgServer *server, SgConnection *conn);
