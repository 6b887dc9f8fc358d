/* milter_conn.h - the socket under one milter conversation (milter_conn.c),
 * private to the milter module: milter_client.c holds the SgMilterConn,
 * sets the deadline of each stage and reads the failure from its error. */
#pragma once
#include <glib.h>
#include "config/config.h"
#include "milter/milter_client.h"
#include "milter/milter_proto.h"

G_BEGIN_DECLS

/* One milter's conversation; lives for that milter's turn in sg_milter_run(). */
typedef struct {
  const SgConfig      *config;
  const SgMilterInput *in;
  const char          *name;     /* the [milter] servers entry */
  int                  fd;       /* -1 until sg_milter_conn_open; closed by the caller */
  GByteArray          *inbuf;    /* bytes read, not yet decoded */
  guint32              version, actions, flags;   /* negotiated */
  GError              *error;    /* why the conversation failed (set by these functions) */
  gint64               deadline; /* monotonic µs: the current stage ends here, whatever
                                  * the milter sends (progress included) */
} SgMilterConn;

/* sg_milter_conn_open - connect to c->name within [milter] connect_timeout
 * and before c->deadline; FALSE with c->error set. */
gboolean sg_milter_conn_open (SgMilterConn *c);

/* sg_milter_conn_send - write all of buf before c->deadline, then empty it;
 * FALSE with c->error set. */
gboolean sg_milter_conn_send (SgMilterConn *c, GByteArray *buf);

/* sg_milter_conn_read - decode the next reply into r before c->deadline;
 * FALSE with c->error set (r left cleared). */
gboolean sg_milter_conn_read (SgMilterConn *c, SgMilterReply *r);

G_END_DECLS
