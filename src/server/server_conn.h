/* server_conn.h - what a connection may ask of its server, and no more: the
 * loop's poller, timer wheel and read buffer, the configuration and TLS
 * context new sessions start with, admission of a proxied client, the
 * spool's room, the intake, and the table of open connections. The server's
 * state stays in server_private.h, which connection.c does not include. */
#pragma once
#include <glib.h>
#include "config/config.h"
#include "event/poller.h"
#include "event/timer_wheel.h"
#include "server/data_slots.h"
#include "intake/intake.h"
#include "server/server.h"
#include "tls/tls_server.h"
#include "access/rcpt_policy.h"

G_BEGIN_DECLS

typedef struct _SgConnection SgConnection;

#define SG_READ_CHUNK       (64 * 1024)  /* bytes per read() */

/* Why a client is turned away before its session: the one reply line. */
typedef struct {
  const char *code;   /* "554 5.7.1", "421 4.7.0" */
  const char *text;
} SgRefusal;

SgPoller     *sg_server_poller (SgServer *server);
SgTimerWheel *sg_server_wheel (SgServer *server);
/* sg_server_data_slots - who may stream a large DATA now (data_slots.h). */
SgDataSlots  *sg_server_data_slots (SgServer *server);
/* sg_server_read_buffer - SG_READ_CHUNK bytes shared by every connection:
 * the loop is single-threaded, and nothing may keep a pointer into it. */
guint8       *sg_server_read_buffer (SgServer *server);
/* sg_server_config - the current configuration (borrowed: a session takes a
 * reference; SIGHUP replaces it). */
SgConfig     *sg_server_config (SgServer *server);
/* sg_server_tls - (nullable) the STARTTLS context that goes with
 * sg_server_config (borrowed: a connection takes a reference). */
SgTlsServer  *sg_server_tls (SgServer *server);
/* sg_server_rcpt_policy - the recipient policy (borrowed; lives as long
 * as the server, its tables change on SIGHUP). */
SgRcptPolicy *sg_server_rcpt_policy (SgServer *server);
/* sg_server_stopping - SIGTERM or SIGINT came: admit nobody new. */
gboolean      sg_server_stopping (SgServer *server);
/* sg_server_spool_has_room - free space at least [spool] min_free (listener.c). */
gboolean      sg_server_spool_has_room (SgServer *server);
/* sg_server_submit - hand env (transfer full) to the intake, done called
 * exactly once; FALSE, env untouched, once the intake is being drained for
 * exit. */
gboolean      sg_server_submit (SgServer *server, SgEnvelope *env, SgIntakeDoneFunc done,
                                gpointer user_data);
/* sg_server_open_draft - a spool file for a DATA that outgrows memory
 * (transfer full); NULL with error once the intake is being drained. */
SgSpoolDraft *sg_server_open_draft (SgServer *server, GError **error);

/* listener.c: sg_listener_admit - the per-client checks on the client's
 * address (with a PROXY header, the one it names; via is then the proxy's,
 * for the log): [access] allowed_networks, connection_rate_per_ip,
 * max_connections_per_ip. proxy_itself: a LOCAL/UNKNOWN header, the proxy
 * speaks for itself (health checks), and the rate limit does not apply.
 * TRUE with *relay_allowed set, or FALSE with *refusal to send; logged here. */
gboolean sg_listener_admit (SgServer *server, const char *address, const char *via,
                            gboolean proxy_itself, gboolean *relay_allowed, SgRefusal *refusal);
/* sg_listener_refusal_send - the refusal's reply line, best effort, never blocking. */
void     sg_listener_refusal_send (int fd, const SgConfig *config, const SgRefusal *refusal);

/* The table of open connections: a connection is in it from its socket's
 * watch to connection_close, and counted per address once admitted. */
void sg_server_connection_opened (SgServer *server, SgConnection *conn);
void sg_server_client_admitted (SgServer *server, const char *address);
void sg_server_connection_closed (SgServer *server, SgConnection *conn);

G_END_DECLS
