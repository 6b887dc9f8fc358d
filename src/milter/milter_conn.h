/* milter_conn.h - the socket under one milter conversation (milter_conn.c),
 * private to the milter module: milter_client.c holds the SgMilterConn and
 * reads the failure from its error. */
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
} SgMilterConn;

/* sg_milter_conn_open - connect to c->name within [milter] connect_timeout;
 * FALSE with c->error set. */
gboolean sg_milter_conn_open (SgMilterConn *c);

/* sg_milter_conn_send - write all of buf within timeout seconds, then empty
 * it; FALSE with c->error set. */
gboolean sg_milter_conn_send (SgMilterConn *c, GByteArray *buf, guint timeout);

/* sg_milter_conn_read - decode the next reply into r within timeout
 * seconds; FALSE with c->error set (r left cleared). */
gboolean sg_milter_conn_read (SgMilterConn *c, guint timeout, SgMilterReply *r);

G_END_DECLS
