/* session.h - one inbound SMTP session as a protocol engine without I/O.
 *
 * The network layer feeds received bytes in with sg_session_input() and sends
 * whatever sg_session_output() holds; the session never touches a socket, so
 * it is driven the same way by the server, the unit tests and the fuzzer.
 * A complete message leaves through the submit hook; the reply comes back
 * through sg_session_submit_done(). */
#pragma once
#include <glib.h>
#include <gio/gio.h>
#include "config/config.h"
#include "envelope/envelope.h"
#include "smtp/smtp_command.h"
#include "spool/queue_id.h"
#include "spool/spool.h"
#include "reply/reply.h"

G_BEGIN_DECLS

typedef enum {
  SG_SESSION_CONNECTED, /* greeting sent; EHLO or HELO expected */
  SG_SESSION_READY,     /* greeted, no transaction */
  SG_SESSION_MAIL,      /* MAIL accepted */
  SG_SESSION_RCPT,      /* at least one RCPT accepted */
  SG_SESSION_DATA,      /* reading message content */
  SG_SESSION_SUBMITTED, /* content complete; waiting for validation and spool */
  SG_SESSION_STARTTLS,  /* 220 to STARTTLS queued; the transport does the handshake */
  SG_SESSION_CLOSING,   /* last reply queued; close after output drains */
  SG_SESSION_CHUNKING,  /* BDAT chunks accepted, more expected (RFC 3030) */
  SG_SESSION_BDAT,      /* reading the bytes of one BDAT chunk */
  SG_SESSION_RCPT_WAIT, /* an RCPT waits for its policy verdict (an address probe) */
  SG_SESSION_STAGE_WAIT,/* the greeting, a HELO/EHLO or a MAIL waits for the milters' verdict */
} SgSessionState;

/* The envelope stages before RCPT at which milters give a verdict. */
typedef enum {
  SG_SESSION_STAGE_CONNECT,  /* before the greeting */
  SG_SESSION_STAGE_HELO,     /* HELO or EHLO */
  SG_SESSION_STAGE_MAIL,
} SgSessionStage;

typedef struct _SgSession SgSession;

/* One RCPT for the recipient policy ([access] tables, verification); borrowed. */
typedef struct {
  const char *sender;       /* "" for <> */
  const char *recipient;
  gboolean    smtputf8;
  gboolean    accepted_domain; /* the recipient's domain is in [access] accepted_domains */
  /* the session, for milters' macros and log lines */
  const char *queue_id;
  const char *client_address;
  guint16     client_port;
  const char *helo;          /* (nullable) */
  const char *protocol;      /* "ESMTP", ... */
  const char *tls_protocol;  /* (nullable) */
  const char *tls_cipher;    /* (nullable) */
} SgRcptQuery;

/* The policy's verdict on one RCPT (or a milter's at an earlier stage).
 * reply.code 0 accepts; otherwise reply is the refusal, its text naming the
 * address as Postfix does ("<a@b>: Recipient address rejected: ...") and
 * its rule the reason it is counted under
 * (spoolgate_recipients_rejected_total{reason}). Owned strings are freed
 * by sg_rcpt_verdict_clear. */
typedef struct {
  SgReply     reply;
  char       *hold;       /* (nullable) accepted, but the message is to be held: why */
  gboolean    logged;     /* the refusal is logged already (a milter's milter-reject line) */
  const char *stage;      /* (nullable, static) a milter's: the stage it refused at, "CONNECT", ... */
  gboolean    settled;    /* the milters accepted the connection or failed: ask no more before RCPT */
} SgRcptVerdict;

void sg_rcpt_verdict_clear (SgRcptVerdict *v);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (SgRcptVerdict, sg_rcpt_verdict_clear)

typedef struct {
  /* submit - validate and spool env (transfer full); answer later with
   * sg_session_submit_done(). */
  void (*submit) (SgSession *session, SgEnvelope *env, gpointer user_data);
  /* mail_room - (nullable) FALSE when the spool is below [spool] min_free. */
  gboolean (*mail_room) (SgSession *session, gpointer user_data);
  /* open_draft - (nullable) a spool draft (transfer full) for a message too
   * big for memory ([limits] data_spill_size, max_memory_in_flight); NULL:
   * every message stays in memory. */
  SgSpoolDraft *(*open_draft) (SgSession *session, gpointer user_data, GError **error);
  /* check_rcpt - (nullable) the recipient policy: TRUE with *verdict set
   * now, or FALSE to answer later, once, with sg_session_rcpt_done(). */
  gboolean (*check_rcpt) (SgSession *session, const SgRcptQuery *query, SgRcptVerdict *verdict,
                          gpointer user_data);
  /* check_stage - (nullable) the milters' verdict at the greeting, HELO/EHLO
   * or MAIL (query->recipient NULL): TRUE with *verdict set now, or FALSE
   * to answer later, once, with sg_session_stage_done(). */
  gboolean (*check_stage) (SgSession *session, SgSessionStage stage, const SgRcptQuery *query,
                           SgRcptVerdict *verdict, gpointer user_data);
} SgSessionHooks;

/* sg_session_new - the session keeps a reference to config for its life. */
SgSession *sg_session_new (SgConfig *config, const char *client_address,
                           guint16 client_port, const SgSessionHooks *hooks,
                           gpointer user_data);
void       sg_session_free (SgSession *session);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgSession, sg_session_free)

/* sg_session_set_relay_allowed - the client is in [access] allowed_networks
 * (default TRUE); otherwise RCPT only for [access] accepted_domains. */
void sg_session_set_relay_allowed (SgSession *session, gboolean allowed);

/* sg_session_command_counts - the disconnect line's summary, Postfix's
 * "ehlo=1 mail=1 rcpt=0/1 data=0/1 quit=1 commands=3/5" (transfer full). */
char *sg_session_command_counts (const SgSession *session);
/* sg_session_client - "NAME[ADDR]" as every log line names the client. */
const char *sg_session_client (const SgSession *session);

/* sg_session_start - queue the 220 greeting. */
void sg_session_start (SgSession *session);
/* sg_session_input - take received bytes and answer every complete command. */
void sg_session_input (SgSession *session, const char *data, gsize len);
/* sg_session_eof - the client closed its side (maybe only for writing): every
 * complete command it sent is still answered, a message in flight still gets
 * its reply, then the session closes. */
void sg_session_eof (SgSession *session);
/* sg_session_drain - the server is stopping: an idle session gets 421 now;
 * one in a transaction finishes it, gets its reply and then 421; nothing
 * pipelined after that is read. */
void sg_session_drain (SgSession *session);
/* sg_session_submit_done - the reply to the message handed to submit
 * (borrowed; a refusal in it is logged already, by whoever refused). */
void sg_session_submit_done (SgSession *session, const SgReply *reply);
/* sg_session_rcpt_done - the verdict check_rcpt deferred (contents taken);
 * ignored if the session stopped waiting (a timeout, a shutdown). */
void sg_session_rcpt_done (SgSession *session, SgRcptVerdict *verdict);
/* sg_session_stage_done - the verdict check_stage deferred (contents
 * taken); ignored if the session stopped waiting (a timeout, a shutdown). */
void sg_session_stage_done (SgSession *session, SgRcptVerdict *verdict);
/* sg_session_tls_started - the STARTTLS handshake succeeded: back to the
 * state before EHLO (RFC 3207 4.2), remembering protocol and cipher. FALSE
 * if the session stopped waiting for it meanwhile (a timeout, a shutdown):
 * then the caller closes. */
gboolean sg_session_tls_started (SgSession *session, const char *protocol, const char *cipher);
/* sg_session_tls_active - TLS is on. */
gboolean sg_session_tls_active (const SgSession *session);

/* sg_session_abort - queue a 421 with this text and close (timeouts, shutdown). */
void sg_session_abort (SgSession *session, const char *enhanced, const char *text);

/* sg_session_output - bytes to send; the caller removes what it sent. */
GString       *sg_session_output (SgSession *session);
/* sg_session_wants_input - FALSE while input is held back (submitted, input
 * or unsent replies over [limits] max_pipeline_buffer, input ended). */
gboolean       sg_session_wants_input (const SgSession *session);
/* sg_session_has_held_input - received input waits to be processed: call
 * sg_session_input (session, NULL, 0) once the replies are sent. */
gboolean       sg_session_has_held_input (const SgSession *session);
/* sg_session_progress - a counter that moves with each command line
 * consumed, each end of DATA and each reply to one (for deadlines). */
guint64        sg_session_progress (const SgSession *session);
SgSessionState sg_session_state (const SgSession *session);
/* sg_session_finished - closing and nothing left to send. */
gboolean       sg_session_finished (const SgSession *session);
/* sg_session_in_data - in DATA or inside a BDAT chunk (for the data timeout). */
gboolean       sg_session_in_data (const SgSession *session);
const char    *sg_session_state_name (SgSessionState state);

G_END_DECLS
