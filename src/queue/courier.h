/* courier.h - how the queue hands a message to the next hop: an interface
 * (a table of functions) that the delivery workers call and that a way of
 * delivering implements. The smarthost's SMTP client is one
 * (smarthost/smarthost_courier.h); the queue's tests drive a fake one. A
 * courier only reports what happened to each recipient; every decision
 * (deliver, defer, fail, retry, bounce) stays in src/queue/.
 *
 * Lifetimes: the daemon creates the courier and gives it to the queue
 * runner, which owns it from then on and frees it after its workers have
 * ended. The courier is shared by every worker (thread-safe); a session is
 * one worker's, used by that thread only, and closed before the courier is
 * freed. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

/* The next hop's answer for one recipient. code 0: not tried. */
typedef struct {
  char  *address;
  guint  code;
  char  *reply;      /* (nullable) sanitised one-line reply, e.g. "550 5.1.1 unknown user" */
  char  *dsn_notify; /* (nullable) RCPT NOTIFY= to pass on when the next hop offers DSN */
  char  *dsn_orcpt;  /* (nullable) RCPT ORCPT=, likewise (RFC 3461 4.2: passed unchanged) */
  gboolean dsn_passed; /* the next hop offered DSN: notices are now its job */
} SgRcptOutcome;

/* sg_rcpt_outcome_new - an untried outcome for address (transfer full). */
SgRcptOutcome *sg_rcpt_outcome_new (const char *address);
void           sg_rcpt_outcome_free (SgRcptOutcome *o);

/* What a session reached, for the log and the attempt history; filled also
 * when the session fails after connecting (an AUTH refused over a good TLS
 * session still names the relay and the TLS). */
typedef struct {
  char       *relay;         /* (nullable) "host[ip]:port" once connected */
  const char *tls_protocol;  /* (nullable, static) once the TLS handshake succeeded */
  const char *tls_cipher;    /* (nullable, static) */
  gboolean    tls_verified;  /* chain and host name verified */
} SgCourierReached;

/* sg_courier_reached_clear - free what r holds and zero it. */
static inline void
sg_courier_reached_clear (SgCourierReached *r)
{
  g_clear_pointer (&r->relay, g_free);
  r->tls_protocol = r->tls_cipher = NULL;
  r->tls_verified = FALSE;
}

/* What to send: the envelope, and the message the spool handed out
 * (spool.h: SgSpoolMessage), sent byte for byte. All borrowed for the call. */
typedef struct {
  const char *queue_id;   /* for log lines only */
  const char *sender;     /* "" for <> */
  gboolean    smtputf8;
  const char *dsn_ret;    /* (nullable) MAIL RET=, passed on when the next hop offers DSN */
  const char *dsn_envid;  /* (nullable) MAIL ENVID= (xtext), likewise */
  int         fd;         /* the message, read with pread() from offset 0 */
  guint64     size;       /* its bytes */
  gboolean    eightbit;   /* it holds 8-bit octets, recorded at intake (RFC 6152) */
} SgCourierMessage;

typedef struct _SgCourier SgCourier;
typedef struct _SgCourierSession SgCourierSession;

/* The functions a courier implements; see the sg_courier_* wrappers below. */
typedef struct {
  SgCourierSession *(*open) (SgCourier *courier, SgCourierReached *reached, GError **error);
  gboolean (*reset)   (SgCourierSession *session, GError **error);
  gboolean (*send)    (SgCourierSession *session, const SgCourierMessage *msg, GPtrArray *outcomes,
                       GError **error);
  gboolean (*usable)  (SgCourierSession *session);
  void     (*reached) (SgCourierSession *session, SgCourierReached *reached);
  void     (*close)   (SgCourierSession *session);
  void     (*cancel)  (SgCourier *courier);
  void     (*free)    (SgCourier *courier);
} SgCourierOps;

/* An implementation's courier and session structures begin with these. */
struct _SgCourier {
  const SgCourierOps *ops;
};
struct _SgCourierSession {
  SgCourier *courier;
};

/* sg_courier_open - a new session with the next hop (transfer full).
 * reached (nullable) is cleared, then filled with what was reached, whether
 * or not it succeeds. NULL: nothing was sent; error says why. */
SgCourierSession *sg_courier_open (SgCourier *courier, SgCourierReached *reached, GError **error);
/* sg_courier_session_reset - make a kept session ready for the next
 * message (RFC 5321 4.1.1.5: RSET after a transaction). FALSE: it cannot be
 * reused (close it; nothing of the next message was sent). */
gboolean sg_courier_session_reset (SgCourierSession *session, GError **error);
/* sg_courier_session_send - one message to the recipients of outcomes
 * (SgRcptOutcome*), filling in each one's reply. FALSE: the session broke;
 * the outcomes mean nothing and every recipient is deferred with error. */
gboolean sg_courier_session_send (SgCourierSession *session, const SgCourierMessage *msg,
                                  GPtrArray *outcomes, GError **error);
/* sg_courier_session_usable - ready for another message. */
gboolean sg_courier_session_usable (SgCourierSession *session);
/* sg_courier_session_reached - what this session reached (r cleared first). */
void     sg_courier_session_reached (SgCourierSession *session, SgCourierReached *r);
/* sg_courier_session_close - end the session (QUIT, best effort) and free it. */
void     sg_courier_session_close (SgCourierSession *session);
/* sg_courier_cancel - interrupt every wait of every session, now and from
 * now on (shutdown); any thread. */
void     sg_courier_cancel (SgCourier *courier);
/* sg_courier_free - free a courier whose sessions are all closed. */
void     sg_courier_free (SgCourier *courier);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgCourier, sg_courier_free)

G_END_DECLS
