/* session.c - the inbound SMTP state machine (RFC 5321, RFC 2920 pipelining,
 * RFC 2034 enhanced codes, RFC 3030 CHUNKING). Verbs live in verb_table[] with the states they
 * are allowed in; session_enter_state() is the only place the state changes.
 * Message content goes to smtp_data.c; validation and spooling happen behind
 * the submit hook. Every reply carries an RFC 3463 enhanced status code.
 * Memory per session is bounded both ways: unprocessed input and unsent
 * replies each by [limits] max_pipeline_buffer (commands wait while either is
 * full). */
#include "smtp/session.h"
#include "smtp/smtp_data.h"
#include "reply/reject.h"
#include "common/log.h"
#include "metrics/metrics.h"

#include <string.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN SG_LOG_SMTPD

#define SESSION_CLIENT_TEXT_MAX 64  /* untrusted text echoed into logs */

/* The commands a disconnect line counts, in Postfix's order; unknown last. */
typedef enum {
  CMD_HELO, CMD_EHLO, CMD_STARTTLS, CMD_MAIL, CMD_RCPT, CMD_DATA, CMD_BDAT, CMD_RSET,
  CMD_NOOP, CMD_VRFY, CMD_EXPN, CMD_HELP, CMD_QUIT, CMD_UNKNOWN, CMD_N
} CmdCount;
static const char *const cmd_count_names[CMD_N] = {
  "helo", "ehlo", "starttls", "mail", "rcpt", "data", "bdat", "rset", "noop", "vrfy",
  "expn", "help", "quit", "unknown",
};

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

typedef void (*VerbHandler) (SgSession *s, const char *arg);

typedef enum {
  VERB_ARG_NONE     = 1 << 0,  /* any argument is a syntax error */
  VERB_ARG_REQUIRED = 1 << 1,
  VERB_LIMIT        = 1 << 2,  /* no mail moves: past max_junk_commands each one is an error
                                * (Postfix's LIMIT flag, smtpd_junk_command_limit) */
} VerbFlags;

#define IN(st) (1u << (st))
#define ANY_IDLE (IN (SG_SESSION_CONNECTED) | IN (SG_SESSION_READY) | IN (SG_SESSION_MAIL) | IN (SG_SESSION_RCPT))

typedef struct {
  const char *verb;
  VerbHandler handler;
  guint       states;     /* allowed states; otherwise 503 5.5.1 */
  VerbFlags   flags;
  CmdCount    count;      /* its counter on the disconnect line */
} Verb;

static void smtp_ehlo (SgSession *s, const char *arg);
static void smtp_helo (SgSession *s, const char *arg);
static void smtp_mail (SgSession *s, const char *arg);
static void smtp_rcpt (SgSession *s, const char *arg);
static void smtp_data (SgSession *s, const char *arg);
static void smtp_rset (SgSession *s, const char *arg);
static void smtp_noop (SgSession *s, const char *arg);
static void smtp_quit (SgSession *s, const char *arg);
static void smtp_help (SgSession *s, const char *arg);
static void smtp_vrfy (SgSession *s, const char *arg);
static void smtp_expn (SgSession *s, const char *arg);
static void smtp_starttls (SgSession *s, const char *arg);
static void smtp_bdat (SgSession *s, const char *arg);

static const Verb verb_table[] = {
  { "EHLO", smtp_ehlo, ANY_IDLE, VERB_ARG_REQUIRED | VERB_LIMIT, CMD_EHLO },
  { "HELO", smtp_helo, ANY_IDLE, VERB_ARG_REQUIRED | VERB_LIMIT, CMD_HELO },
  { "MAIL", smtp_mail, IN (SG_SESSION_READY), VERB_ARG_REQUIRED, CMD_MAIL },
  { "RCPT", smtp_rcpt, IN (SG_SESSION_MAIL) | IN (SG_SESSION_RCPT), VERB_ARG_REQUIRED, CMD_RCPT },
  { "DATA", smtp_data, IN (SG_SESSION_RCPT), VERB_ARG_NONE, CMD_DATA },
  { "RSET", smtp_rset, ANY_IDLE | IN (SG_SESSION_CHUNKING), VERB_ARG_NONE | VERB_LIMIT, CMD_RSET },
  { "NOOP", smtp_noop, ANY_IDLE | IN (SG_SESSION_CHUNKING), VERB_LIMIT, CMD_NOOP },
  { "QUIT", smtp_quit, ANY_IDLE | IN (SG_SESSION_CHUNKING), VERB_ARG_NONE, CMD_QUIT },
  { "HELP", smtp_help, ANY_IDLE, VERB_LIMIT, CMD_HELP },
  { "VRFY", smtp_vrfy, ANY_IDLE, VERB_ARG_REQUIRED | VERB_LIMIT, CMD_VRFY },
  { "EXPN", smtp_expn, ANY_IDLE, 0, CMD_EXPN },
  { "STARTTLS", smtp_starttls, IN (SG_SESSION_READY), VERB_ARG_NONE, CMD_STARTTLS },
  /* Allowed wherever a transaction may be, so that a refused chunk is still
   * read (RFC 3030 2: the bytes follow the command whatever the reply). */
  { "BDAT", smtp_bdat, ANY_IDLE | IN (SG_SESSION_CHUNKING), VERB_ARG_REQUIRED, CMD_BDAT },
};

static const char *const state_names[] = {
  "CONNECTED", "READY", "MAIL", "RCPT", "DATA", "SUBMITTED", "STARTTLS", "CLOSING",
  "CHUNKING", "BDAT", "RCPT-WAIT", "STAGE-WAIT",
};

const char *
sg_session_state_name (SgSessionState state)
{
  return state_names[state];
}

/* session_enter_state - the one place the state changes. */
static void
session_enter_state (SgSession *s, SgSessionState next)
{
  if (s->state == next)
    return;
  g_debug ("%s: session %s: %s -> %s", s->env->queue_id[0] ? s->env->queue_id : "-", s->client,
           state_names[s->state], state_names[next]);
  s->state = next;
}

/* reply_va - one reply line (RFC 5321 4.2) with its enhanced code (RFC 2034). */
static void G_GNUC_PRINTF (4, 0)
reply_va (SgSession *s, guint code, const char *enhanced, const char *fmt, va_list ap)
{
  g_string_append_printf (s->out, "%03u %s ", code, enhanced);
  g_string_append_vprintf (s->out, fmt, ap);
  g_string_append (s->out, "\r\n");
}

static void G_GNUC_PRINTF (4, 5)
reply (SgSession *s, guint code, const char *enhanced, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  reply_va (s, code, enhanced, fmt, ap);
  va_end (ap);
}

/* count_error - one more error; too many end the session with 421. */
static void
count_error (SgSession *s)
{
  if (s->state == SG_SESSION_CLOSING)
    return;
  if (++s->errors >= s->config->max_errors)
    {
      g_message ("too many errors after %s from %s: %u", state_names[s->state], s->client,
                 s->errors);
      reply (s, 421, "4.7.0", "%s Error: too many errors; closing connection", s->config->hostname);
      session_enter_state (s, SG_SESSION_CLOSING);
    }
}

/* reply_error - a reply to a bad command; too many of them end the session. */
static void G_GNUC_PRINTF (4, 5)
reply_error (SgSession *s, guint code, const char *enhanced, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  reply_va (s, code, enhanced, fmt, ap);
  va_end (ap);
  count_error (s);
}

/* session_protocol_name - proto= of a log line, as Postfix names it. */
static const char *
session_protocol_name (const SgSession *s)
{
  return s->esmtp ? "ESMTP" : "SMTP";
}

/* reject_client - who this session is, for a refusal (reply/reject.h). */
static SgRejectClient
reject_client (const SgSession *s)
{
  /* Like Postfix, a transaction has a queue ID in the log once it has a
   * recipient; until then its refusals are NOQUEUE. */
  SgRejectClient who = sg_envelope_reject_client (s->env);
  if (!s->env->recipients->len)
    who.queue_id = NULL;
  who.protocol = session_protocol_name (s);   /* as of now: the envelope's is set at DATA */
  return who;
}

/* reply_send - a reply object as the reply line. */
static void
reply_send (SgSession *s, const SgReply *r)
{
  reply (s, r->code, r->enhanced, "%s", r->text);
}

/* refuse - a refusal logged (reply/reject.h) and answered from one reply
 * object, so the log and the client cannot disagree. */
static void
refuse (SgSession *s, const SgRejectClient *who, const char *stage, const SgReply *r)
{
  sg_reject (who, stage, r);
  reply_send (s, r);
}

/* data_replied - the final reply to DATA is queued: time it from the end of data. */
static void
data_replied (SgSession *s)
{
  if (s->data_end_us)
    sg_metrics_observe_us (SG_HISTOGRAM_DATA_REPLY, g_get_monotonic_time () - s->data_end_us);
  s->data_end_us = 0;
}

/* transaction_reset - forget MAIL, RCPT and content (RSET, EHLO, after DATA). */
static void
transaction_reset (SgSession *s)
{
  sg_envelope_reset (s->env);
  sg_data_reader_clear (&s->data);
  s->rcpt_limit_hit = FALSE;
  s->bdat_fed = FALSE;
  s->bdat_prev[0] = s->bdat_prev[1] = 0;
  if (s->state != SG_SESSION_CONNECTED && s->state != SG_SESSION_CLOSING)
    session_enter_state (s, SG_SESSION_READY);
}

static const char *session_protocol (const SgSession *s);

/* stage_query - the session as the milters see it at a stage before RCPT. */
static SgRcptQuery
stage_query (const SgSession *s)
{
  return (SgRcptQuery) { .sender = s->env->mail.address ? s->env->mail.address : "",
                         .smtputf8 = s->env->mail.smtputf8,
                         .queue_id = s->env->queue_id[0] ? s->env->queue_id : "NOQUEUE",
                         .client_address = s->env->client_address,
                         .client_port = s->env->client_port, .helo = s->env->helo,
                         .protocol = session_protocol (s), .tls_protocol = s->env->tls_protocol,
                         .tls_cipher = s->env->tls_cipher };
}

/* stage_wait - the verdict at stage comes later: hold input until it does. */
static void
stage_wait (SgSession *s, SgSessionStage stage)
{
  s->stage_pending = stage;
  s->stage_return = s->state;
  session_enter_state (s, SG_SESSION_STAGE_WAIT);
}

/* milter_session_keep - a milter refused at CONNECT or HELO: keep its reply
 * for the session (contents of v taken when kept). */
static void
milter_session_keep (SgSession *s, SgRcptVerdict *v)
{
  if (v->settled)
    s->milters_settled = TRUE;
  if (s->milter_session.reply.code || !v->stage
      || (strcmp (v->stage, "CONNECT") != 0 && strcmp (v->stage, "HELO") != 0))
    return;
  s->milter_session = *v;
  memset (v, 0, sizeof *v);
}

/* reply_verdict - a milter's or the recipient policy's refusal as the
 * reply; a 5xx counts as an error, and a 421 closes (RFC 5321 3.8). */
static void
reply_verdict (SgSession *s, const SgRcptVerdict *v)
{
  if (v->reply.code / 100 == 5)
    reply_error (s, v->reply.code, v->reply.enhanced, "%s", v->reply.text);
  else
    reply (s, v->reply.code, v->reply.enhanced, "%s", v->reply.text);
  if (v->reply.code == 421)
    session_enter_state (s, SG_SESSION_CLOSING);
}

/* milter_session_refuse - the kept CONNECT/HELO refusal answers this
 * command, as Postfix answers STARTTLS (a 4xx as 454): TRUE if it did. */
static gboolean
milter_session_refuse (SgSession *s, gboolean map_4xx)
{
  const SgRcptVerdict *v = &s->milter_session;
  if (!v->reply.code)
    return FALSE;
  if (map_4xx && v->reply.code / 100 == 4)
    reply (s, 454, "4.3.0", "Try again later");
  else
    reply_verdict (s, v);
  return TRUE;
}

/* greeting_apply - the 220, or what a milter said at CONNECT instead, in
 * Postfix's words (smtpd.c): a 5xx is "554 ... not accepting connections",
 * a 421 closes; a 5xx or 4xx is kept for every MAIL (RFC 5321 3.1: the
 * client may still QUIT). The greeting has no enhanced code (RFC 2034 3). */
static void
greeting_apply (SgSession *s, SgRcptVerdict *v)
{
  if (v->reply.code == 421)
    {
      g_string_append_printf (s->out, "421 %s Service unavailable - try again later\r\n",
                              s->config->hostname);
      session_enter_state (s, SG_SESSION_CLOSING);
      return;
    }
  if (v->reply.code / 100 == 5)
    {
      g_string_append_printf (s->out, "554 %s ESMTP not accepting connections\r\n",
                              s->config->hostname);
      count_error (s);
    }
  else
    g_string_append_printf (s->out, "220 %s ESMTP spoolgate\r\n", s->config->hostname);
  milter_session_keep (s, v);
}

/* greet_finish - the HELO/EHLO is taken: the session is greeted, and the reply. */
static void
greet_finish (SgSession *s, const char *arg, gboolean esmtp)
{
  g_free (s->env->helo);
  s->env->helo = g_strdup (arg);
  s->esmtp = esmtp;
  session_enter_state (s, SG_SESSION_READY);
  transaction_reset (s);
  if (!esmtp)
    {
      g_string_append_printf (s->out, "250 %s\r\n", s->config->hostname);
      return;
    }
  g_string_append_printf (s->out, "250-%s\r\n", s->config->hostname);
  g_string_append (s->out, "250-PIPELINING\r\n");
  g_string_append_printf (s->out, "250-SIZE %" G_GUINT64_FORMAT "\r\n", s->config->max_message_size);
  g_string_append (s->out, "250-8BITMIME\r\n");
  g_string_append (s->out, "250-SMTPUTF8\r\n");
  g_string_append (s->out, "250-DSN\r\n");
  /* RFC 3030: CHUNKING, but not BINARYMIME: the validator judges a body by
   * its CRLF lines (bare CR and LF are refused), so it cannot honestly
   * accept binary content. */
  g_string_append (s->out, "250-CHUNKING\r\n");
  if (s->config->tls_cert_file && !s->env->tls_protocol)
    g_string_append (s->out, "250-STARTTLS\r\n");
  g_string_append (s->out, "250 ENHANCEDSTATUSCODES\r\n");
}

/* greet_verdict - the milters' verdict at HELO: as in Postfix, a 421 is the
 * reply (and closes); any other refusal is kept for MAIL and the HELO still
 * gets 250. FALSE when the HELO is answered already. */
static gboolean
greet_verdict (SgSession *s, SgRcptVerdict *v)
{
  if (v->reply.code == 421)
    {
      reply_verdict (s, v);
      return FALSE;
    }
  milter_session_keep (s, v);
  return TRUE;
}

/* greet - HELO or EHLO: after a valid hostname, the milters' verdict at
 * HELO (unless they refused the session already: nothing to ask). */
static void
greet (SgSession *s, const char *arg, gboolean esmtp)
{
  if (!sg_smtp_domain_valid (arg, FALSE))
    {
      reply_error (s, 501, "5.5.4", "Invalid %s hostname (RFC 5321 4.1.1.1)", esmtp ? "EHLO" : "HELO");
      return;
    }
  if (s->hooks->check_stage && !s->milter_session.reply.code && !s->milters_settled)
    {
      SgRcptQuery q = stage_query (s);
      q.helo = arg;
      q.protocol = esmtp ? "ESMTP" : "SMTP";
      q.sender = "";
      g_auto(SgRcptVerdict) v = { 0 };
      if (!s->hooks->check_stage (s, SG_SESSION_STAGE_HELO, &q, &v, s->user_data))
        {
          s->stage_helo = g_strdup (arg);
          s->stage_esmtp = esmtp;
          stage_wait (s, SG_SESSION_STAGE_HELO);
          return;
        }
      if (!greet_verdict (s, &v))
        return;
    }
  greet_finish (s, arg, esmtp);
}

static void
smtp_ehlo (SgSession *s, const char *arg)
{
  greet (s, arg, TRUE);
}

static void
smtp_helo (SgSession *s, const char *arg)
{
  greet (s, arg, FALSE);
}

/* smtp_error_reply - the reply for a parse error from smtp_command.c. */
static void
smtp_error_reply (SgSession *s, const GError *error)
{
  static const struct { guint code; const char *enhanced; } map[] = {
    [SG_SMTP_ERROR_SYNTAX] = { 501, "5.5.4" },
    [SG_SMTP_ERROR_BAD_SENDER] = { 501, "5.1.7" },
    [SG_SMTP_ERROR_BAD_RECIPIENT] = { 501, "5.1.3" },
    [SG_SMTP_ERROR_UNKNOWN_PARAM] = { 555, "5.5.4" },
  };
  guint i = (guint) error->code < G_N_ELEMENTS (map) ? (guint) error->code : SG_SMTP_ERROR_SYNTAX;
  reply_error (s, map[i].code, map[i].enhanced, "%s", error->message);
}

/* mail_apply - answer MAIL by the milters' verdict (path moved, contents of
 * v taken): a refusal (logged by milter_client.c) is the reply; one given
 * at CONNECT or HELO is kept for the session. */
static void
mail_apply (SgSession *s, SgSmtpPath *path, SgRcptVerdict *v)
{
  if (v->reply.code)
    {
      sg_smtp_path_clear (path);
      s->env->queue_id[0] = '\0';
      reply_verdict (s, v);
      milter_session_keep (s, v);
      sg_rcpt_verdict_clear (v);
      return;
    }
  if (v->settled)
    s->milters_settled = TRUE;
  sg_rcpt_verdict_clear (v);
  s->env->mail = *path;
  memset (path, 0, sizeof *path);
  session_enter_state (s, SG_SESSION_MAIL);
  reply (s, 250, "2.1.0", "Sender OK");
}

static void
smtp_mail (SgSession *s, const char *arg)
{
  g_autoptr(GError) error = NULL;
  SgSmtpPath path = { .size = -1 };
  SgRejectClient who = reject_client (s);
  g_auto(SgReply) r = { 0 };

  if (s->config->tls_require && !s->env->tls_protocol)
    {
      sg_reply_set (&r, 530, "5.7.0", SG_RULE_TLS_REQUIRED, "Must issue a STARTTLS command first");
      refuse (s, &who, "MAIL", &r);
      count_error (s);
      return;
    }
  if (s->hooks->mail_room && !s->hooks->mail_room (s, s->user_data))
    {
      sg_reply_set (&r, 452, "4.3.1", SG_RULE_SPOOL_LOW, "Insufficient system storage; try again later");
      sg_reply_set_log (&r, "Insufficient system storage");
      refuse (s, &who, "MAIL", &r);
      return;
    }
  if (!sg_smtp_parse_mail (arg, &path, &error))
    {
      sg_smtp_path_clear (&path);
      smtp_error_reply (s, error);
      return;
    }
  if (!s->esmtp && (path.size >= 0 || path.body != SG_BODY_NONE || path.smtputf8
                    || path.dsn_ret || path.dsn_envid))
    {
      sg_smtp_path_clear (&path);
      reply_error (s, 555, "5.5.4", "MAIL parameters need EHLO (RFC 5321 4.1.1.11)");
      return;
    }
  if (path.size >= 0 && (guint64) path.size > s->config->max_message_size)
    {
      who.sender = path.address;
      sg_reply_set (&r, 552, "5.3.4", SG_RULE_SIZE_EXCEEDED, "Message size exceeds fixed maximum "
                    "message size of %" G_GUINT64_FORMAT " bytes (RFC 1870)",
                    s->config->max_message_size);
      sg_reply_set_log (&r, "declared SIZE=%" G_GINT64_FORMAT " exceeds %" G_GUINT64_FORMAT,
                        path.size, s->config->max_message_size);
      refuse (s, &who, "MAIL", &r);
      sg_smtp_path_clear (&path);
      return;
    }
  if (s->milter_session.reply.code)
    {
      /* refused at CONNECT or HELO: every MAIL gets that reply (Postfix) */
      const SgRcptVerdict *v = &s->milter_session;
      who.sender = path.address;
      sg_reply_set (&r, v->reply.code, v->reply.enhanced, SG_RULE_MILTER, "%s", v->reply.text);
      sg_reply_set_log (&r, "%s (milter verdict at %s)", v->reply.text, v->stage);
      sg_reject (&who, "MAIL", &r);
      sg_smtp_path_clear (&path);
      reply_verdict (s, v);
      return;
    }
  sg_queue_id_generate (s->env->queue_id);
  SgRcptVerdict verdict = { 0 };
  if (s->hooks->check_stage && !s->milters_settled)
    {
      SgRcptQuery q = stage_query (s);
      q.sender = path.address;
      q.smtputf8 = path.smtputf8;
      if (!s->hooks->check_stage (s, SG_SESSION_STAGE_MAIL, &q, &verdict, s->user_data))
        {
          s->stage_mail = path;   /* moved */
          stage_wait (s, SG_SESSION_STAGE_MAIL);
          return;
        }
    }
  mail_apply (s, &path, &verdict);
}

/* recipient_accepted - postmaster, or a domain in [access] accepted_domains
 * (exact, case-insensitive). */
static gboolean
recipient_accepted (SgSession *s, const char *address)
{
  const char *at = strrchr (address, '@');
  if (!at)
    return TRUE;   /* <postmaster>, RFC 5321 4.5.1 */
  for (guint i = 0; s->config->accepted_domains && s->config->accepted_domains[i]; i++)
    if (g_ascii_strcasecmp (at + 1, s->config->accepted_domains[i]) == 0)
      return TRUE;
  return FALSE;
}

static const char *session_protocol (const SgSession *s);

/* recipient_in_accepted_domain - the domain is in [access] accepted_domains
 * (postmaster, without a domain, is not). */
static gboolean
recipient_in_accepted_domain (SgSession *s, const char *address)
{
  return strchr (address, '@') != NULL && recipient_accepted (s, address);
}

/* rcpt_apply - answer one RCPT by the policy's verdict (contents taken):
 * a refusal is logged as Postfix's smtpd does, and each 5xx counts toward
 * [limits] max_errors (Postfix's smtpd_hard_error_limit), so a client
 * guessing addresses is cut off with 421; a 421 verdict (a milter's)
 * closes the session (RFC 5321 3.8). */
static void
rcpt_apply (SgSession *s, char *address, SgSmtpPath *params, SgRcptVerdict *v)
{
  if (v->reply.code)
    {
      SgRejectClient who = reject_client (s);
      if (v->logged)
        sg_metrics_recipient_rejected (v->reply.rule);
      else
        sg_reject_rcpt (&who, "reject", address, session_protocol (s), &v->reply);
      reply_verdict (s, v);   /* a milter's 421 closes here as at any other stage */
      g_free (address);
      sg_smtp_path_free (params);
      sg_rcpt_verdict_clear (v);
      return;
    }
  if (v->hold)
    {
      SgRejectClient who = reject_client (s);
      g_autofree char *what = g_strdup_printf ("<%s>: %s", address, v->hold);
      SgReply held = { .text = what };   /* code 0: logged, not refused */
      sg_reject_rcpt (&who, "hold", address, session_protocol (s), &held);
      if (!s->env->hold_reason)
        s->env->hold_reason = g_steal_pointer (&v->hold);
    }
  sg_rcpt_verdict_clear (v);
  sg_envelope_add_recipient (s->env, address, params);
  session_enter_state (s, SG_SESSION_RCPT);
  reply (s, 250, "2.1.5", "Recipient OK");
}

static void
smtp_rcpt (SgSession *s, const char *arg)
{
  g_autoptr(GError) error = NULL;
  g_auto(SgSmtpPath) path = { .size = -1 };

  if (!sg_smtp_parse_rcpt (arg, s->env->mail.smtputf8, &path, &error))
    {
      smtp_error_reply (s, error);
      return;
    }
  if (!s->esmtp && (path.dsn_notify || path.dsn_orcpt))
    {
      reply_error (s, 555, "5.5.4", "RCPT parameters need EHLO (RFC 5321 4.1.1.11)");
      return;
    }
  g_autofree char *address = g_steal_pointer (&path.address);
  if (!s->relay_allowed && !recipient_accepted (s, address))
    {
      g_autofree char *safe = sg_log_sanitize (address, -1, SG_LOG_FIELD_MAX);
      SgRejectClient who = reject_client (s);
      g_auto(SgReply) r = { 0 };
      who.recipient = address;
      sg_reply_set (&r, 550, "5.7.1", SG_RULE_RELAY_DENIED, "Relay access denied");
      sg_reply_set_log (&r, "<%s>: Relay access denied", safe);
      refuse (s, &who, "RCPT", &r);
      count_error (s);
      return;
    }
  for (guint i = 0; i < s->env->recipients->len; i++)
    if (g_ascii_strcasecmp (g_ptr_array_index (s->env->recipients, i), address) == 0)
      {
        reply (s, 250, "2.1.5", "Recipient OK (duplicate)");
        return;
      }
  if (s->env->recipients->len >= s->config->max_recipients)
    {
      /* Logged and counted once per transaction: the limit is no error,
       * so nothing else bounds how many more RCPTs a client sends. */
      g_auto(SgReply) r = { 0 };
      sg_reply_set (&r, 452, "4.5.3", SG_RULE_TOO_MANY_RCPT, "Too many recipients (at most %u per message)",
                    s->config->max_recipients);
      if (!s->rcpt_limit_hit)
        {
          g_autofree char *safe = sg_log_sanitize (address, -1, SG_LOG_FIELD_MAX);
          SgRejectClient who = reject_client (s);
          who.recipient = address;
          sg_reply_set_log (&r, "<%s>: too many recipients (at most %u)", safe, s->config->max_recipients);
          refuse (s, &who, "RCPT", &r);
          s->rcpt_limit_hit = TRUE;
        }
      else
        reply_send (s, &r);
      return;
    }
  SgRcptVerdict verdict = { 0 };
  if (s->hooks->check_rcpt)
    {
      SgRcptQuery q = { .sender = s->env->mail.address, .recipient = address,
                        .smtputf8 = s->env->mail.smtputf8,
                        .accepted_domain = recipient_in_accepted_domain (s, address),
                        .queue_id = s->env->queue_id, .client_address = s->env->client_address,
                        .client_port = s->env->client_port, .helo = s->env->helo,
                        .protocol = session_protocol (s), .tls_protocol = s->env->tls_protocol,
                        .tls_cipher = s->env->tls_cipher };
      if (!s->hooks->check_rcpt (s, &q, &verdict, s->user_data))
        {
          /* The verdict needs the network (an address probe): wait for it,
           * as for the spool commit; input is held meanwhile. */
          s->rcpt_pending = g_steal_pointer (&address);
          s->rcpt_pending_params = g_memdup2 (&path, sizeof path);
          memset (&path, 0, sizeof path);   /* moved */
          s->rcpt_return = s->state;
          session_enter_state (s, SG_SESSION_RCPT_WAIT);
          return;
        }
    }
  SgSmtpPath *params = g_memdup2 (&path, sizeof path);
  memset (&path, 0, sizeof path);   /* moved */
  rcpt_apply (s, g_steal_pointer (&address), params, &verdict);
}

void
sg_rcpt_verdict_clear (SgRcptVerdict *v)
{
  sg_reply_clear (&v->reply);
  g_clear_pointer (&v->hold, g_free);
  v->stage = NULL;
  v->settled = FALSE;
}

/* session_resume - a deferred verdict is answered: stopping, 421 now;
 * otherwise the commands pipelined after it were held: answer them. */
static void
session_resume (SgSession *s)
{
  if (s->draining && s->state != SG_SESSION_CLOSING)
    {
      sg_session_abort (s, "4.3.2", "Service shutting down");
      return;
    }
  if (!s->processing)
    sg_session_input (s, NULL, 0);
}

void
sg_session_stage_done (SgSession *s, SgRcptVerdict *v)
{
  if (s->state != SG_SESSION_STAGE_WAIT)
    {
      /* the session stopped waiting (a timeout, a shutdown): nobody to tell */
      sg_rcpt_verdict_clear (v);
      return;
    }
  session_enter_state (s, s->stage_return);
  s->progress++;
  gsize mark = s->out->len;
  CmdCount count = CMD_N;
  switch (s->stage_pending)
    {
    case SG_SESSION_STAGE_CONNECT:
      greeting_apply (s, v);
      break;
    case SG_SESSION_STAGE_HELO:
      {
        g_autofree char *helo = g_steal_pointer (&s->stage_helo);
        count = s->stage_esmtp ? CMD_EHLO : CMD_HELO;
        if (greet_verdict (s, v))
          greet_finish (s, helo, s->stage_esmtp);
        break;
      }
    case SG_SESSION_STAGE_MAIL:
      {
        SgSmtpPath path = s->stage_mail;
        memset (&s->stage_mail, 0, sizeof s->stage_mail);   /* moved */
        count = CMD_MAIL;
        mail_apply (s, &path, v);
        break;
      }
    }
  sg_rcpt_verdict_clear (v);
  if (count != CMD_N && s->out->len > mark && s->out->str[mark] == '2')
    s->cmd_ok[count]++;
  session_resume (s);
}

void
sg_session_rcpt_done (SgSession *s, SgRcptVerdict *verdict)
{
  if (s->state != SG_SESSION_RCPT_WAIT)
    {
      /* the session stopped waiting (a timeout, a shutdown): nobody to tell */
      sg_rcpt_verdict_clear (verdict);
      return;
    }
  session_enter_state (s, s->rcpt_return);
  s->progress++;
  rcpt_apply (s, g_steal_pointer (&s->rcpt_pending), g_steal_pointer (&s->rcpt_pending_params),
              verdict);
  session_resume (s);
}

/* session_protocol - the WITH protocol of RFC 3848 (static). */
static const char *
session_protocol (const SgSession *s)
{
  if (s->env->tls_protocol)
    return s->env->mail.smtputf8 ? "UTF8SMTPS" : "ESMTPS";
  return s->env->mail.smtputf8 ? "UTF8SMTP" : s->esmtp ? "ESMTP" : "SMTP";
}

/* open_draft - SgDataSpill.open: a spool draft through the session's hook. */
static SgSpoolDraft *
open_draft (gpointer user_data, GError **error)
{
  SgSession *s = user_data;
  return s->hooks->open_draft (s, s->user_data, error);
}

/* content_start - ready the reader for the content of DATA or of BDAT.
 * Our Received header is made now, as Postfix does, so a message too big
 * for memory can go to its spool file header first and be committed as
 * that file without another copy. */
static void
content_start (SgSession *s)
{
  SgEnvelope *env = s->env;   /* the client is in it already */
  env->protocol = session_protocol (s);
  env->arrival_us = g_get_real_time ();
  g_autoptr(GBytes) received = sg_envelope_received (env, s->config->hostname);
  SgDataSpill spill = {
    .open = s->hooks->open_draft ? open_draft : NULL, .user_data = s, .header = received,
    .threshold = s->config->data_spill_size, .max_in_flight = s->config->max_memory_in_flight,
  };

  sg_data_reader_init (&s->data, s->config->max_message_size);
  sg_data_reader_set_spill (&s->data, &spill);
}

/* smtp_data - 354; the content goes to the reader content_start() readies. */
static void
smtp_data (SgSession *s, const char *arg)
{
  content_start (s);
  session_enter_state (s, SG_SESSION_DATA);
  g_string_append (s->out, "354 End data with <CR><LF>.<CR><LF>\r\n");
}

static void
smtp_rset (SgSession *s, const char *arg)
{
  transaction_reset (s);
  reply (s, 250, "2.0.0", "OK");
}

static void
smtp_noop (SgSession *s, const char *arg)
{
  reply (s, 250, "2.0.0", "OK");
}

static void
smtp_quit (SgSession *s, const char *arg)
{
  reply (s, 221, "2.0.0", "%s closing connection", s->config->hostname);
  session_enter_state (s, SG_SESSION_CLOSING);
}

static void
smtp_help (SgSession *s, const char *arg)
{
  g_string_append (s->out, "214-2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT HELP VRFY\r\n");
  reply (s, 214, "2.0.0", "End of HELP");
}

static void
smtp_vrfy (SgSession *s, const char *arg)
{
  /* RFC 5321 3.5.3: we relay, so we cannot verify; say so without refusing. */
  reply (s, 252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery");
}

static void
smtp_expn (SgSession *s, const char *arg)
{
  reply_error (s, 502, "5.5.1", "EXPN not implemented");
}

static void
smtp_starttls (SgSession *s, const char *arg)
{
  if (!s->config->tls_cert_file)
    {
      reply_error (s, 502, "5.5.1", "STARTTLS not available");
      return;
    }
  if (s->env->tls_protocol)
    {
      reply_error (s, 503, "5.5.1", "TLS already active");
      return;
    }
  if (milter_session_refuse (s, TRUE))
    return;
  reply (s, 220, "2.0.0", "Ready to start TLS");
  /* RFC 3207 4.2 and CVE-2011-0411: nothing sent before the handshake may
   * be read as a command after it. */
  s->discard_input = TRUE;
  session_enter_state (s, SG_SESSION_STARTTLS);
}

gboolean
sg_session_tls_started (SgSession *s, const char *protocol, const char *cipher)
{
  /* The handshake ran on network time: a timeout or shutdown may have
   * closed the session meanwhile. That is a state, not a bug. */
  if (s->state != SG_SESSION_STARTTLS)
    {
      g_debug ("%s: TLS handshake finished after the session went %s", s->client,
               state_names[s->state]);
      return FALSE;
    }
  g_free (s->env->tls_protocol);
  g_free (s->env->tls_cipher);
  s->env->tls_protocol = g_strdup (protocol);
  s->env->tls_cipher = g_strdup (cipher);
  g_clear_pointer (&s->env->helo, g_free);
  s->esmtp = FALSE;
  transaction_reset (s);
  session_enter_state (s, SG_SESSION_CONNECTED);
  s->progress++;
  return TRUE;
}

gboolean
sg_session_tls_active (const SgSession *s)
{
  return s->env->tls_protocol != NULL;
}

/* bdat_feed - chunk bytes into the DATA reader with a dot stuffed before
 * each "." that starts a line (after CRLF, or first), so the reader, which
 * unstuffs, keeps exactly the chunk's bytes and never meets an end of data
 * in them: BDAT has no dot framing (RFC 3030 2), but bare CR and LF are
 * still found and judged as in DATA. */
static void
bdat_feed (SgSession *s, const char *data, gsize len)
{
  char buf[4096];
  gsize n = 0;
  for (gsize i = 0; i < len; i++)
    {
      gboolean line_start = !s->bdat_fed || (s->bdat_prev[0] == '\r' && s->bdat_prev[1] == '\n');
      if (data[i] == '.' && line_start)
        buf[n++] = '.';
      buf[n++] = data[i];
      s->bdat_prev[0] = s->bdat_prev[1];
      s->bdat_prev[1] = data[i];
      s->bdat_fed = TRUE;
      if (n >= sizeof buf - 1)
        {
          sg_data_reader_feed (&s->data, buf, n);
          n = 0;
        }
    }
  if (n > 0)
    sg_data_reader_feed (&s->data, buf, n);
}

static void finish_data (SgSession *s);

/* bdat_chunk_done - every byte of the chunk is in: answer it. */
static void
bdat_chunk_done (SgSession *s)
{
  s->progress++;
  if (s->bdat_discard)
    {
      s->bdat_discard = FALSE;
      session_enter_state (s, s->bdat_return);
      g_auto(SgReply) r = { 0 };
      sg_reply_move (&r, &s->bdat_refusal);
      reply_send (s, &r);
      if (r.code == 552)
        transaction_reset (s);
      else
        count_error (s);
      return;
    }
  if (!s->bdat_last)
    {
      session_enter_state (s, SG_SESSION_CHUNKING);
      s->cmd_ok[CMD_BDAT]++;
      reply (s, 250, "2.0.0", "%" G_GUINT64_FORMAT " octets received", s->bdat_size);
      return;
    }
  /* The end of data that BDAT LAST means, in the reader's own terms. */
  gboolean crlf = !s->bdat_fed || (s->bdat_prev[0] == '\r' && s->bdat_prev[1] == '\n');
  const char *end = crlf ? ".\r\n" : "\r\n.\r\n";
  sg_data_reader_feed (&s->data, end, strlen (end));
  g_warn_if_fail (s->data.state == SG_DATA_DONE);
  finish_data (s);
}

/* bdat_refuse - answer the chunk with r (contents taken) once its bytes
 * are read and dropped. */
static void
bdat_refuse (SgSession *s, SgReply *r)
{
  s->bdat_discard = TRUE;
  sg_reply_move (&s->bdat_refusal, r);
}

/* smtp_bdat - "BDAT size [LAST]" (RFC 3030 2). The chunk's bytes follow
 * the command whatever we answer, so a refused chunk is still read, and
 * dropped, to stay in step with the client. */
static void
smtp_bdat (SgSession *s, const char *arg)
{
  gsize digits = strspn (arg, "0123456789");
  const char *rest = arg + digits;
  guint64 size = 0;
  gboolean last = g_ascii_strcasecmp (rest, " LAST") == 0;
  char number[20] = "";
  if (digits > 0 && digits < sizeof number)
    memcpy (number, arg, digits);
  if (digits == 0 || digits >= sizeof number || (*rest && !last)
      || !g_ascii_string_to_unsigned (number, 10, 0, G_MAXINT64, &size, NULL))
    {
      reply_error (s, 501, "5.5.4", "Syntax: BDAT <size> [LAST] (RFC 3030 2)");
      return;
    }
  s->bdat_left = s->bdat_size = size;
  s->bdat_last = last;
  s->bdat_return = s->state;
  g_auto(SgReply) r = { 0 };
  if (s->state == SG_SESSION_CONNECTED || s->state == SG_SESSION_READY)
    {
      sg_reply_set (&r, 503, "5.5.1", NULL, "%s", s->state == SG_SESSION_CONNECTED
                    ? "Bad sequence of commands: send EHLO or HELO first"
                    : "Bad sequence of commands: need MAIL and RCPT before BDAT");
      bdat_refuse (s, &r);
    }
  else if (s->state == SG_SESSION_MAIL)
    {
      sg_reply_set (&r, 503, "5.5.1", NULL, "Bad sequence of commands: no valid recipients");
      bdat_refuse (s, &r);
    }
  else
    {
      if (s->state == SG_SESSION_RCPT)
        content_start (s);
      if (size > s->config->max_message_size - MIN (s->data.size, s->config->max_message_size))
        {
          /* logged now, answered once the chunk is read */
          SgRejectClient who = reject_client (s);
          sg_reply_set (&r, 552, "5.3.4", SG_RULE_SIZE_EXCEEDED,
                        "Message size exceeds fixed maximum message size");
          sg_reply_set_log (&r, "message size %" G_GUINT64_FORMAT " exceeds %" G_GUINT64_FORMAT,
                            s->data.size + size, s->config->max_message_size);
          sg_reject (&who, "BDAT", &r);
          bdat_refuse (s, &r);
          s->bdat_return = SG_SESSION_READY;
        }
    }
  if (size == 0)
    bdat_chunk_done (s);
  else
    session_enter_state (s, SG_SESSION_BDAT);
}

/* finish_data - end of data seen: reject framing faults, else submit. */
static void
finish_data (SgSession *s)
{
  SgDataReader *data = &s->data;
  SgRejectClient who = reject_client (s);
  g_auto(SgReply) r = { 0 };

  s->data_end_us = g_get_monotonic_time ();
  if (data->bare_lf_line || data->bare_cr_line)
    {
      gboolean lf = data->bare_lf_line && (!data->bare_cr_line || data->bare_lf_line <= data->bare_cr_line);
      guint64 line = lf ? data->bare_lf_line : data->bare_cr_line;
      const char *rule = lf ? SG_RULE_BARE_LF : SG_RULE_BARE_CR;
      sg_reply_set (&r, 550, "5.5.2", rule, "Message rejected: bare %s at line %" G_GUINT64_FORMAT
                    "; lines must end with CRLF (RFC 5321 2.3.8) [%s]", lf ? "LF" : "CR", line, rule);
      sg_reply_set_log (&r, "bare %s at line %" G_GUINT64_FORMAT, lf ? "LF" : "CR", line);
      refuse (s, &who, "DATA", &r);
      data_replied (s);
      transaction_reset (s);
      return;
    }
  if (data->too_big)
    {
      sg_reply_set (&r, 552, "5.3.4", SG_RULE_SIZE_EXCEEDED, "Message size exceeds fixed maximum "
                    "message size of %" G_GUINT64_FORMAT " bytes", data->max_size);
      sg_reply_set_log (&r, "message size %" G_GUINT64_FORMAT " exceeds %" G_GUINT64_FORMAT,
                        data->size, data->max_size);
      refuse (s, &who, "DATA", &r);
      data_replied (s);
      transaction_reset (s);
      return;
    }
  if (data->spill_error)
    {
      g_warning ("%s: writing the message to the spool failed: %s", s->env->queue_id,
                 data->spill_error->message);
      sg_reply_spool_error (&r, data->spill_error);
      refuse (s, &who, "DATA", &r);
      data_replied (s);
      transaction_reset (s);
      return;
    }

  /* the envelope goes with the message; the next one is the same client's */
  SgEnvelope *env = g_steal_pointer (&s->env);
  s->env = sg_envelope_next (env);
  env->arrival_us = g_get_real_time ();
  env->received = g_bytes_ref (data->spill.header);
  env->draft = sg_data_reader_steal_draft (data);
  env->content = sg_data_reader_steal (data);
  session_enter_state (s, SG_SESSION_SUBMITTED);
  s->progress++;
  s->hooks->submit (s, env, s->user_data);
}

void
sg_session_submit_done (SgSession *s, const SgReply *r)
{
  g_return_if_fail (s->state == SG_SESSION_SUBMITTED);
  guint code = r->code;
  reply_send (s, r);
  data_replied (s);
  if (code / 100 == 2)
    s->cmd_ok[s->bdat_fed ? CMD_BDAT : CMD_DATA]++;
  transaction_reset (s);
  s->progress++;
  if (code / 100 == 2)
    s->junk = 0;   /* mail moved: the commands around it were not junk */
  if (code == 421)
    {
      /* RFC 5321 3.8: a 421 closes the channel (a milter may answer so). */
      session_enter_state (s, SG_SESSION_CLOSING);
      return;
    }
  if (s->draining)
    {
      /* Stopping: what was pipelined after this message is not read. */
      sg_session_abort (s, "4.3.2", "Service shutting down");
      return;
    }
  /* Commands pipelined after the end of data were held; answer them now,
   * unless the answer came synchronously from inside process(). */
  if (!s->processing)
    sg_session_input (s, NULL, 0);
}

/* dispatch - look the verb up, check its state and argument, call it;
 * line is NUL-terminated and free of NUL. */
static void
dispatch (SgSession *s, const char *line, gsize len)
{
  char verb[SG_SMTP_VERB_MAX + 1];
  const char *arg = NULL;

  if (!sg_smtp_split_verb (line, len, verb, &arg))
    {
      s->cmd_total[CMD_UNKNOWN]++;
      reply_error (s, 500, "5.5.2", "Command unrecognized");
      return;
    }
  const Verb *v = NULL;
  for (guint i = 0; i < G_N_ELEMENTS (verb_table); i++)
    if (strcmp (verb_table[i].verb, verb) == 0)
      v = &verb_table[i];
  if (v == NULL)
    {
      s->cmd_total[CMD_UNKNOWN]++;
      reply_error (s, 500, "5.5.2", "Command unrecognized");
      return;
    }
  /* Counted now; a success once its reply is 2xx or 3xx (DATA and BDAT:
   * once the message or chunk is accepted, cmd_succeeded). */
  s->cmd_total[v->count]++;
  gsize mark = s->out->len;
  if (!(v->states & IN (s->state)))
    {
      const char *why = s->state == SG_SESSION_CONNECTED ? "send EHLO or HELO first"
                      : v->handler == smtp_mail ? "nested MAIL command"
                      : v->handler == smtp_data && s->state == SG_SESSION_MAIL ? "no valid recipients"
                      : s->state == SG_SESSION_CHUNKING ? "only BDAT, RSET, NOOP or QUIT between "
                                                          "BDAT chunks (RFC 3030 3)"
                      : "need MAIL before RCPT and DATA";
      reply_error (s, 503, "5.5.1", "Bad sequence of commands: %s", why);
      return;
    }
  if ((v->flags & VERB_ARG_NONE) && *arg != '\0')
    {
      reply_error (s, 501, "5.5.4", "Syntax: %s takes no argument", v->verb);
      return;
    }
  if ((v->flags & VERB_ARG_REQUIRED) && *arg == '\0')
    {
      reply_error (s, 501, "5.5.4", "Syntax: %s needs an argument", v->verb);
      return;
    }
  v->handler (s, arg);
  if (v->count != CMD_DATA && v->count != CMD_BDAT && s->out->len > mark
      && (s->out->str[mark] == '2' || s->out->str[mark] == '3'))
    s->cmd_ok[v->count]++;
  if ((v->flags & VERB_LIMIT) && ++s->junk > s->config->max_junk_commands)
    {
      if (s->junk == s->config->max_junk_commands + 1)
        g_message ("%s: more than %u EHLO/HELO/NOOP/HELP/VRFY/RSET without mail "
                   "([limits] max_junk_commands): each one is an error now",
                   s->client, s->config->max_junk_commands);
      count_error (s);
    }
}

/* session_waiting - a command waits for a verdict from outside (input held). */
static gboolean
session_waiting (const SgSession *s)
{
  return s->state == SG_SESSION_RCPT_WAIT || s->state == SG_SESSION_STAGE_WAIT;
}

/* session_idle - between commands (no transaction step in progress). */
static gboolean
session_idle (const SgSession *s)
{
  return s->state == SG_SESSION_CONNECTED || s->state == SG_SESSION_READY
      || s->state == SG_SESSION_MAIL || s->state == SG_SESSION_RCPT;
}

/* session_input_ended - the client sent all it will: once every complete
 * command it sent is answered (a message in flight gets its reply first),
 * close after the replies drain; a partial line or message is lost. */
static void
session_input_ended (SgSession *s)
{
  if (s->state == SG_SESSION_SUBMITTED || s->state == SG_SESSION_CLOSING || session_waiting (s))
    return;
  if (session_idle (s) && s->in->len > 0 && memchr (s->in->data, '\n', s->in->len) != NULL)
    return;   /* more to answer once the client reads its replies */
  if (s->state == SG_SESSION_DATA || s->state == SG_SESSION_BDAT || s->state == SG_SESSION_CHUNKING)
    g_message ("%s: lost connection after %s from %s", s->env->queue_id,
               s->state == SG_SESSION_DATA ? "DATA" : "BDAT", s->client);
  session_enter_state (s, SG_SESSION_CLOSING);
}

/* bdat_take - up to the rest of the current chunk from data; returns the
 * bytes used. */
static gsize
bdat_take (SgSession *s, const char *data, gsize len)
{
  gsize take = (gsize) MIN ((guint64) len, s->bdat_left);
  if (!s->bdat_discard)
    bdat_feed (s, data, take);
  s->bdat_left -= take;
  if (s->bdat_left == 0)
    bdat_chunk_done (s);
  return take;
}

/* process - answer every complete command in the input buffer; feed DATA. */
static void
process (SgSession *s)
{
  gsize pos = 0;
  GByteArray *in = s->in;

  s->processing = TRUE;
  while (pos < in->len && s->state != SG_SESSION_SUBMITTED && s->state != SG_SESSION_CLOSING
         && s->state != SG_SESSION_STARTTLS && !session_waiting (s))
    {
      if (s->state == SG_SESSION_DATA)
        {
          pos += sg_data_reader_feed (&s->data, (const char *) in->data + pos, in->len - pos);
          if (s->data.state == SG_DATA_DONE)
            finish_data (s);
          continue;
        }
      if (s->state == SG_SESSION_BDAT)
        {
          pos += bdat_take (s, (const char *) in->data + pos, in->len - pos);
          continue;
        }
      if (s->draining)
        {
          sg_session_abort (s, "4.3.2", "Service shutting down");
          break;
        }
      /* Replies wait for the client to read: no more commands until it does. */
      if (s->out->len >= s->config->max_pipeline_buffer)
        break;
      const guint8 *start = in->data + pos;
      const guint8 *lf = memchr (start, '\n', in->len - pos);
      if (lf == NULL)
        {
          /* No line end yet. A partial line over the limit is dropped now and
           * the rest of it skipped, to keep the buffer bounded. */
          if (s->skipping_long_line || in->len - pos > s->config->max_command_line)
            {
              s->skipping_long_line = TRUE;
              pos = in->len;
            }
          break;
        }
      gsize len = lf - start + 1;
      pos += len;
      s->progress++;
      if (s->skipping_long_line || len > s->config->max_command_line)
        {
          s->skipping_long_line = FALSE;
          reply_error (s, 500, "5.5.2", "Line too long (at most %u octets, RFC 5321 4.5.3.1.4)",
                       s->config->max_command_line);
          continue;
        }
      if (len < 2 || start[len - 2] != '\r')
        {
          reply_error (s, 500, "5.5.2", "Command line must end with CRLF, not bare LF (RFC 5321 2.3.8)");
          continue;
        }
      g_autofree char *cmd = g_strndup ((const char *) start, len - 2);
      if (memchr (start, '\0', len - 2))
        reply_error (s, 500, "5.5.2", "NUL character in command");
      else
        dispatch (s, cmd, len - 2);
    }
  if (s->discard_input)
    {
      s->discard_input = FALSE;
      if (in->len > pos)
        g_message ("%s: discarding %u byte(s) sent with STARTTLS (command injection, "
                   "CVE-2011-0411)", s->client, (guint) (in->len - pos));
      pos = in->len;
    }
  g_byte_array_remove_range (in, 0, MIN (pos, in->len));
  s->processing = FALSE;
  if (s->input_ended)
    session_input_ended (s);
}

void
sg_session_input (SgSession *s, const char *data, gsize len)
{
  if (s->state == SG_SESSION_CLOSING)
    return;
  /* Inside a BDAT chunk with nothing buffered: likewise. */
  if (s->state == SG_SESSION_BDAT && s->in->len == 0 && len > 0)
    {
      gsize used = bdat_take (s, data, len);
      data += used;
      len -= used;
    }
  /* In DATA with nothing buffered, read straight from the caller's buffer. */
  if (s->state == SG_SESSION_DATA && s->in->len == 0 && len > 0)
    {
      gsize used = sg_data_reader_feed (&s->data, data, len);
      data += used;
      len -= used;
      if (s->data.state == SG_DATA_DONE)
        finish_data (s);
    }
  if (len > 0)
    g_byte_array_append (s->in, (const guint8 *) data, len);
  process (s);
}

void
sg_session_eof (SgSession *s)
{
  if (s->input_ended)
    return;
  s->input_ended = TRUE;
  if (s->state == SG_SESSION_STARTTLS)
    {
      session_enter_state (s, SG_SESSION_CLOSING);  /* no handshake will come */
      return;
    }
  if (s->processing)
    return;   /* process() checks input_ended on its way out */
  session_input_ended (s);
}

void
sg_session_drain (SgSession *s)
{
  s->draining = TRUE;
  if (session_idle (s) || s->state == SG_SESSION_STARTTLS)
    sg_session_abort (s, "4.3.2", "Service shutting down");
}

void
sg_session_abort (SgSession *s, const char *enhanced, const char *text)
{
  if (s->state == SG_SESSION_CLOSING)
    return;
  reply (s, 421, enhanced, "%s %s", s->config->hostname, text);
  session_enter_state (s, SG_SESSION_CLOSING);
}

/* sg_session_start - the greeting: the domain right after "220 " (RFC 5321
 * 4.2 and 4.3.1) and no enhanced code (RFC 2034 section 3). */
void
sg_session_start (SgSession *s)
{
  SgRcptVerdict v = { 0 };
  if (s->hooks->check_stage)
    {
      /* the milters' verdict at CONNECT decides the greeting (Postfix) */
      SgRcptQuery q = stage_query (s);
      if (!s->hooks->check_stage (s, SG_SESSION_STAGE_CONNECT, &q, &v, s->user_data))
        {
          stage_wait (s, SG_SESSION_STAGE_CONNECT);
          return;
        }
    }
  greeting_apply (s, &v);
  sg_rcpt_verdict_clear (&v);
}

SgSession *
sg_session_new (SgConfig *config, const char *client_address, guint16 client_port,
                const SgSessionHooks *hooks, gpointer user_data)
{
  SgSession *s = g_new0 (SgSession, 1);
  s->config = sg_config_ref (config);
  s->hooks = hooks;
  s->user_data = user_data;
  s->state = SG_SESSION_CONNECTED;
  s->env = sg_envelope_new ();
  s->env->client_address = g_strdup (client_address);
  s->env->client_port = client_port;
  s->client = sg_log_client (NULL, client_address);
  s->in = g_byte_array_new ();
  s->out = g_string_sized_new (256);
  s->relay_allowed = TRUE;
  return s;
}

void
sg_session_set_relay_allowed (SgSession *s, gboolean allowed)
{
  s->relay_allowed = allowed;
}

void
sg_session_free (SgSession *s)
{
  if (!s)
    return;
  sg_envelope_free (s->env);
  sg_data_reader_clear (&s->data);
  g_byte_array_unref (s->in);
  g_string_free (s->out, TRUE);
  g_free (s->client);
  g_free (s->rcpt_pending);
  sg_smtp_path_free (s->rcpt_pending_params);
  sg_rcpt_verdict_clear (&s->milter_session);
  g_free (s->stage_helo);
  sg_smtp_path_clear (&s->stage_mail);
  sg_reply_clear (&s->bdat_refusal);
  sg_config_free ((SgConfig *) s->config);
  g_free (s);
}

/* sg_session_command_counts - Postfix's disconnect summary, e.g. "ehlo=1
 * mail=1 rcpt=0/1 data=0/1 quit=1 commands=3/5": each command used, with
 * how many of them failed when any did (transfer full). */
char *
sg_session_command_counts (const SgSession *s)
{
  GString *out = g_string_new (NULL);
  guint ok = 0, total = 0;
  for (guint i = 0; i < CMD_N; i++)
    {
      if (s->cmd_total[i] == 0)
        continue;
      ok += s->cmd_ok[i];
      total += s->cmd_total[i];
      g_string_append_printf (out, "%s=%u", cmd_count_names[i], s->cmd_ok[i]);
      if (s->cmd_ok[i] != s->cmd_total[i])
        g_string_append_printf (out, "/%u", s->cmd_total[i]);
      g_string_append_c (out, ' ');
    }
  g_string_append_printf (out, "commands=%u", ok);
  if (ok != total || total == 0)
    g_string_append_printf (out, "/%u", total);
  return g_string_free (out, FALSE);
}

/* sg_session_client - "NAME[ADDR]", how every line names this client. */
const char *
sg_session_client (const SgSession *s)
{
  return s->client;
}

GString *
sg_session_output (SgSession *s)
{
  return s->out;
}

gboolean
sg_session_wants_input (const SgSession *s)
{
  if (s->state == SG_SESSION_CLOSING || s->state == SG_SESSION_STARTTLS || s->input_ended)
    return FALSE;
  /* OpenSMTPD's rule: a client that does not read its replies is not read. */
  if (s->out->len >= s->config->max_pipeline_buffer)
    return FALSE;
  if (s->state == SG_SESSION_DATA || s->state == SG_SESSION_BDAT)
    return TRUE;
  return s->in->len < s->config->max_pipeline_buffer;
}

gboolean
sg_session_has_held_input (const SgSession *s)
{
  return s->in->len > 0 && s->state != SG_SESSION_SUBMITTED && s->state != SG_SESSION_CLOSING
      && s->state != SG_SESSION_STARTTLS && !session_waiting (s);
}

guint64
sg_session_progress (const SgSession *s)
{
  return s->progress;
}

SgSessionState
sg_session_state (const SgSession *s)
{
  return s->state;
}

gboolean
sg_session_finished (const SgSession *s)
{
  return s->state == SG_SESSION_CLOSING && s->out->len == 0;
}

gboolean
sg_session_in_data (const SgSession *s)
{
  return s->state == SG_SESSION_DATA || s->state == SG_SESSION_BDAT;
}
