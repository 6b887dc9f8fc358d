/* session_private.h - the session's state (struct _SgSession) and the
 * functions its files share: session.c (the verb table, the reply helpers,
 * input and output, the life cycle), session_stage.c (greeting, HELO/EHLO,
 * milter stages), session_envelope.c (MAIL, RCPT) and session_content.c
 * (DATA, BDAT, the hand-off). Nothing outside src/smtp/session*.c includes it. */
#pragma once
#include "smtp/session.h"
#include "smtp/smtp_data.h"
#include "reply/reject.h"

G_BEGIN_DECLS

#define SESSION_CLIENT_TEXT_MAX 64  /* untrusted text echoed into logs */

/* The commands a disconnect line counts, in Postfix's order; unknown last. */
typedef enum {
  CMD_HELO, CMD_EHLO, CMD_STARTTLS, CMD_MAIL, CMD_RCPT, CMD_DATA, CMD_BDAT, CMD_RSET,
  CMD_NOOP, CMD_VRFY, CMD_EXPN, CMD_HELP, CMD_QUIT, CMD_UNKNOWN, CMD_N
} CmdCount;

struct _SgSession {
  const SgConfig      *config;
  const SgSessionHooks *hooks;
  gpointer             user_data;
  SgSessionState       state;
  char                *client;     /* "NAME[ADDR]" for the log (sg_log_client) */
  guint                cmd_total[CMD_N];  /* commands received, for the disconnect line */
  guint                cmd_ok[CMD_N];     /* of those, answered 2xx/3xx */
  gboolean             esmtp;
  guint                errors;
  guint                junk;      /* VERB_LIMIT commands since the last message accepted */
  guint64              progress;  /* command lines consumed, ends of DATA, replies to them */
  gboolean             input_ended; /* the client half-closed: answer what came, then close */
  gboolean             draining;  /* server stopping: finish the transaction, then 421 */
  gboolean             skipping_long_line;
  gboolean             processing;  /* inside process(): no re-entry */
  gboolean             discard_input; /* STARTTLS accepted: drop the rest (CVE-2011-0411) */
  gboolean             relay_allowed; /* client in [access] allowed_networks */
  GByteArray          *in;       /* received, not yet processed */
  GString             *out;      /* replies not yet sent */
  /* who the client is (address, HELO name, TLS), which every envelope of
   * the session carries, and the transaction: queue ID, MAIL, each RCPT
   * and a HOLD, handed over whole at the end of data (envelope/envelope.h) */
  SgEnvelope          *env;
  SgDataReader         data;
  gint64               data_end_us;  /* monotonic end of DATA, 0 once answered */
  gboolean             rcpt_limit_hit; /* logged once per transaction, not per RCPT */
  char                *rcpt_pending;   /* RCPT_WAIT: the address waiting for its verdict */
  SgSmtpPath          *rcpt_pending_params; /* and its DSN parameters */
  SgSessionState       rcpt_return;    /* RCPT_WAIT: the state to go back to */
  /* Milters before RCPT. A reject or tempfail at CONNECT or HELO is kept
   * for the session, as Postfix's milter8 keeps it (REJECT_CON): HELO and
   * EHLO still get 250, and every MAIL (and STARTTLS) gets the milter's reply. */
  SgRcptVerdict        milter_session;  /* code 0: none */
  gboolean             milters_settled; /* accepted the connection, or failed: not asked again */
  SgSessionStage       stage_pending;   /* STAGE_WAIT: the stage waiting for its verdict */
  SgSessionState       stage_return;    /* STAGE_WAIT: the state to go back to */
  char                *stage_helo;      /* STAGE_WAIT at HELO: the hostname */
  gboolean             stage_esmtp;     /* and it came with EHLO */
  SgSmtpPath           stage_mail;      /* STAGE_WAIT at MAIL: the parsed reverse-path */
  /* BDAT (RFC 3030): chunk bytes go to the same SgDataReader as DATA,
   * dot-stuffed on the way in, so size, framing faults, validation and the
   * spool are exactly DATA's. */
  guint64              bdat_left;     /* bytes of the current chunk still to read */
  gboolean             bdat_last;     /* the current chunk is the LAST one */
  gboolean             bdat_discard;  /* the chunk is refused: read and drop it */
  SgReply              bdat_refusal;  /* the reply owed after the discarded chunk */
  SgSessionState       bdat_return;   /* state to go back to after a refused chunk */
  guint64              bdat_size;     /* size of the current chunk */
  char                 bdat_prev[2];  /* last two bytes fed, to stuff a dot at line start */
  gboolean             bdat_fed;      /* any chunk byte fed yet */
};

/* session.c */
/* session_enter_state - the one place the state changes. */
void session_enter_state (SgSession *s, SgSessionState next);
void session_reply (SgSession *s, guint code, const char *enhanced, const char *fmt, ...)
  G_GNUC_PRINTF (4, 5);
/* session_count_error - one more error; too many end the session with 421. */
void session_count_error (SgSession *s);
/* session_reply_error - a reply to a bad command; too many of them end the session. */
void session_reply_error (SgSession *s, guint code, const char *enhanced, const char *fmt, ...)
  G_GNUC_PRINTF (4, 5);
/* session_reject_client - who this session is, for a refusal (reply/reject.h). */
SgRejectClient session_reject_client (const SgSession *s);
/* session_reply_send - a reply object as the reply line. */
void session_reply_send (SgSession *s, const SgReply *r);
/* session_refuse - a refusal logged (reply/reject.h) and answered from one reply
 * object, so the log and the client cannot disagree. */
void session_refuse (SgSession *s, const SgRejectClient *who, const char *stage, const SgReply *r);
/* session_data_replied - the final reply to DATA is queued: time it from the end of data. */
void session_data_replied (SgSession *s);
/* session_transaction_reset - forget MAIL, RCPT and content (RSET, EHLO, after DATA). */
void session_transaction_reset (SgSession *s);
/* session_verdict_arrived - a deferred verdict came for a session that
 * waits in state waiting: leave that state for back and count progress.
 * FALSE (and the verdict cleared) if it no longer waits: a timeout or a
 * shutdown came first, and nobody is left to tell. */
gboolean session_verdict_arrived (SgSession *s, SgSessionState waiting, SgSessionState back,
                                  SgRcptVerdict *verdict);
/* session_resume - a deferred verdict is answered: stopping, 421 now;
 * otherwise the commands pipelined after it were held: answer them. */
void session_resume (SgSession *s);
/* session_protocol - the WITH protocol of RFC 3848 (static). */
const char *session_protocol (const SgSession *s);
/* session_process - answer every complete command in the input buffer; feed DATA. */
void session_process (SgSession *s);

/* session_stage.c */
/* session_stage_query - the session as the milters see it at a stage before RCPT. */
SgRcptQuery session_stage_query (const SgSession *s);
/* session_stage_wait - the verdict at stage comes later: hold input until it does. */
void session_stage_wait (SgSession *s, SgSessionStage stage);
/* session_milter_keep - a milter refused at CONNECT or HELO: keep its reply
 * for the session (contents of v taken when kept). */
void session_milter_keep (SgSession *s, SgRcptVerdict *v);
/* session_reply_verdict - a milter's or the recipient policy's refusal as the
 * reply; a 5xx counts as an error, and a 421 closes (RFC 5321 3.8). */
void session_reply_verdict (SgSession *s, const SgRcptVerdict *v);
/* session_milter_refuse - the kept CONNECT/HELO refusal answers this
 * command, as Postfix answers STARTTLS (a 4xx as 454): TRUE if it did. */
gboolean session_milter_refuse (SgSession *s, gboolean map_4xx);
/* session_greeting_apply - the 220, or what a milter said at CONNECT instead, in
 * Postfix's words (smtpd.c): a 5xx is "554 ... not accepting connections",
 * a 421 closes; a 5xx or 4xx is kept for every MAIL (RFC 5321 3.1: the
 * client may still QUIT). The greeting has no enhanced code (RFC 2034 3). */
void session_greeting_apply (SgSession *s, SgRcptVerdict *v);
/* verb handlers of verb_table (session.c) */
void smtp_ehlo (SgSession *s, const char *arg);
void smtp_helo (SgSession *s, const char *arg);

/* session_envelope.c */
/* session_mail_apply - answer MAIL by the milters' verdict (path moved, contents of
 * v taken): a refusal (logged by milter_client.c) is the reply; one given
 * at CONNECT or HELO is kept for the session. */
void session_mail_apply (SgSession *s, SgSmtpPath *path, SgRcptVerdict *v);
void smtp_mail (SgSession *s, const char *arg);
void smtp_rcpt (SgSession *s, const char *arg);

/* session_content.c */
/* smtp_data - 354; the content goes to the reader content_start() readies. */
void smtp_data (SgSession *s, const char *arg);
/* smtp_bdat - "BDAT size [LAST]" (RFC 3030 2). The chunk's bytes follow
 * the command whatever we answer, so a refused chunk is still read, and
 * dropped, to stay in step with the client. */
void smtp_bdat (SgSession *s, const char *arg);
/* session_finish_data - end of data seen: reject framing faults, else submit. */
void session_finish_data (SgSession *s);
/* session_bdat_take - up to the rest of the current chunk from data; returns the
 * bytes used. */
gsize session_bdat_take (SgSession *s, const char *data, gsize len);

G_END_DECLS
