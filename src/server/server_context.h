/* server_context.h - everything the listener and its connections use that
 * they do not own: the loop's poller, timer wheel and read buffer, the DATA
 * slots, the configuration new sessions start with (and what was built from
 * it), the stages a session feeds (recipient policy, intake) and the table
 * of open connections. The daemon (src/daemon/) fills it, keeps it for its
 * whole life, and is the only one that changes a field. */
#pragma once
#include <glib.h>
#include "access/rcpt_policy.h"
#include "common/netlist.h"
#include "config/config.h"
#include "event/poller.h"
#include "event/timer_wheel.h"
#include "intake/intake.h"
#include "server/data_slots.h"
#include "spool/spool.h"
#include "tls/tls_server.h"

G_BEGIN_DECLS

#define SG_READ_CHUNK       (64 * 1024)  /* bytes per read() */

typedef struct _SgListener SgListener;
typedef struct _SgConnection SgConnection;

/* Lifetime: owned by the daemon, with every object it points to; the
 * listener and each connection borrow it and never free a field. A
 * connection that must keep something beyond one call (the config, the TLS
 * context) takes its own reference. */
typedef struct {
  /* The loop: fixed from start-up to exit. */
  SgPoller      *poller;
  SgTimerWheel  *wheel;
  guint8        *read_buffer;   /* SG_READ_CHUNK bytes shared by every connection: the
                                 * loop is single-threaded, and nobody keeps a pointer into it */
  SgDataSlots   *data_slots;    /* [limits] max_data_streams: who may stream a large DATA now */

  /* The configuration new clients and sessions meet, and what was built
   * from it; a reload (SIGHUP) replaces the four together. */
  SgConfig      *config;
  SgTlsServer   *tls;           /* (nullable) inbound STARTTLS, goes with config */
  SgNetList     *allowed;       /* [access] allowed_networks */
  SgNetList     *proxy_trusted; /* [server] proxy_trusted */

  /* The stages a session feeds. */
  SgRcptPolicy  *policy;        /* [access] tables and address verification, for RCPT and
                                 * the milter stages; NULL while the daemon is being freed */
  SgIntake      *intake;        /* validation and the durable commit; NULL once the daemon
                                 * drains it for exit: a message is then refused with 451 */
  SgSpool       *spool;         /* only for its free space ([spool] min_free, listener.c) */

  SgListener    *listener;      /* admission, per-address counts, the spool's room */
  GHashTable    *connections;   /* SgConnection* set: from the socket's watch to its close */
  gboolean       stopping;      /* SIGTERM or SIGINT came: admit nobody new */
} SgServerContext;

G_END_DECLS
