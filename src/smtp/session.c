/* session.c - the inbound SMTP state machine (RFC 5321, RFC 2920 pipelining,
 * RFC 2034 enhanced codes, RFC 3030 CHUNKING). Verbs live in verb_table[] with the states they
 * are allowed in; session_enter_state() is the only place the state changes.
 * Message content goes to smtp_data.c; validation and spooling happen behind
 * the submit hook. Every reply carries an RFC 3463 enhanced status code.
 * Memory per session is bounded both ways: unprocessed input and unsent
 * replies each by [limits] max_pipeline_buffer (commands wait while either is
 * full). */
#include "smtp/session_private.h"
#include "common/log.h"
#include "metrics/metrics.h"

#include <string.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN SG_LOG_SMTPD

static const char *const cmd_count_names[CMD_N] = {
  "helo", "ehlo", "starttls", "mail", "rcpt", "data", "bdat", "rset", "noop", "vrfy",
  "expn", "help", "quit", "unknown",
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

static void smtp_rset (SgSession *s, const char *arg);
static void smtp_noop (SgSession *s, const char *arg);
static void smtp_quit (SgSession *s, const char *arg);
static void smtp_help (SgSession *s, const char *arg);
static void smtp_vrfy (SgSession *s, const char *arg);
static void smtp_expn (SgSession *s, const char *arg);
static void smtp_starttls (SgSession *s, const char *arg);

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
void
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

void G_GNUC_PRINTF (4, 5)
session_reply (SgSession *s, guint code, const char *enhanced, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  reply_va (s, code, enhanced, fmt, ap);
  va_end (ap);
}

/* session_count_error - one more error; too many end the session with 421. */
void
session_count_error (SgSession *s)
{
  if (s->state == SG_SESSION_CLOSING)
    return;
  if (++s->errors >= s->config->max_errors)
    {
      g_message ("too many errors after %s from %s: %u", state_names[s->state], s->client,
                 s->errors);
      session_reply (s, 421, "4.7.0", "%s Error: too many errors; closing connection", s->config->hostname);
      session_enter_state (s, SG_SESSION_CLOSING);
    }
}

/* session_reply_error - a reply to a bad command; too many of them end the session. */
void G_GNUC_PRINTF (4, 5)
session_reply_error (SgSession *s, guint code, const char *enhanced, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  reply_va (s, code, enhanced, fmt, ap);
  va_end (ap);
  session_count_error (s);
}

/* session_protocol_name - proto= of a log line, as Postfix names it. */
static const char *
session_protocol_name (const SgSession *s)
{
  return s->esmtp ? "ESMTP" : "SMTP";
}

/* session_reject_client - who this session is, for a refusal (reply/reject.h). */
SgRejectClient
session_reject_client (const SgSession *s)
{
  /* Like Postfix, a transaction has a queue ID in the log once it has a
   * recipient; until then its refusals are NOQUEUE. */
  SgRejectClient who = sg_envelope_reject_client (s->env);
  if (!s->env->recipients->len)
    who.queue_id = NULL;
  who.protocol = session_protocol_name (s);   /* as of now: the envelope's is set at DATA */
  return who;
}

/* session_reply_send - a reply object as the reply line. */
void
session_reply_send (SgSession *s, const SgReply *r)
{
  session_reply (s, r->code, r->enhanced, "%s", r->text);
}

/* session_refuse - a refusal logged (reply/reject.h) and answered from one reply
 * object, so the log and the client cannot disagree. */
void
session_refuse (SgSession *s, const SgRejectClient *who, const char *stage, const SgReply *r)
{
  sg_reject (who, stage, r);
  session_reply_send (s, r);
}

/* session_data_replied - the final reply to DATA is queued: time it from the end of data. */
void
session_data_replied (SgSession *s)
{
  if (s->data_end_us)
    sg_metrics_observe_us (SG_HISTOGRAM_DATA_REPLY, g_get_monotonic_time () - s->data_end_us);
  s->data_end_us = 0;
}

/* session_transaction_reset - forget MAIL, RCPT and content (RSET, EHLO, after DATA). */
void
session_transaction_reset (SgSession *s)
{
  sg_envelope_reset (s->env);
  sg_data_reader_clear (&s->data);
  s->rcpt_limit_hit = FALSE;
  s->bdat_fed = FALSE;
  s->bdat_prev[0] = s->bdat_prev[1] = 0;
  if (s->state != SG_SESSION_CONNECTED && s->state != SG_SESSION_CLOSING)
    session_enter_state (s, SG_SESSION_READY);
}

/* session_verdict_arrived - see session_private.h. */
gboolean
session_verdict_arrived (SgSession *s, SgSessionState waiting, SgSessionState back,
                         SgRcptVerdict *verdict)
{
  if (s->state != waiting)
    {
      sg_rcpt_verdict_clear (verdict);
      return FALSE;
    }
  session_enter_state (s, back);
  s->progress++;
  return TRUE;
}

/* session_resume - a deferred verdict is answered: stopping, 421 now;
 * otherwise the commands pipelined after it were held: answer them. */
void
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

/* session_protocol - the WITH protocol of RFC 3848 (static). */
const char *
session_protocol (const SgSession *s)
{
  if (s->env->tls_protocol)
    return s->env->mail.smtputf8 ? "UTF8SMTPS" : "ESMTPS";
  return s->env->mail.smtputf8 ? "UTF8SMTP" : s->esmtp ? "ESMTP" : "SMTP";
}

static void
smtp_rset (SgSession *s, const char *arg)
{
  session_transaction_reset (s);
  session_reply (s, 250, "2.0.0", "OK");
}

static void
smtp_noop (SgSession *s, const char *arg)
{
  session_reply (s, 250, "2.0.0", "OK");
}

static void
smtp_quit (SgSession *s, const char *arg)
{
  session_reply (s, 221, "2.0.0", "%s closing connection", s->config->hostname);
  session_enter_state (s, SG_SESSION_CLOSING);
}

static void
smtp_help (SgSession *s, const char *arg)
{
  g_string_append (s->out, "214-2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT HELP VRFY\r\n");
  session_reply (s, 214, "2.0.0", "End of HELP");
}

static void
smtp_vrfy (SgSession *s, const char *arg)
{
  /* RFC 5321 3.5.3: we relay, so we cannot verify; say so without refusing. */
  session_reply (s, 252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery");
}

static void
smtp_expn (SgSession *s, const char *arg)
{
  session_reply_error (s, 502, "5.5.1", "EXPN not implemented");
}

static void
smtp_starttls (SgSession *s, const char *arg)
{
  if (!s->config->tls_cert_file)
    {
      session_reply_error (s, 502, "5.5.1", "STARTTLS not available");
      return;
    }
  if (s->env->tls_protocol)
    {
      session_reply_error (s, 503, "5.5.1", "TLS already active");
      return;
    }
  if (session_milter_refuse (s, TRUE))
    return;
  session_reply (s, 220, "2.0.0", "Ready to start TLS");
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
  session_transaction_reset (s);
  session_enter_state (s, SG_SESSION_CONNECTED);
  s->progress++;
  return TRUE;
}

gboolean
sg_session_tls_active (const SgSession *s)
{
  return s->env->tls_protocol != NULL;
}

/* dispatch - look the verb up, check its state and argument, call it;
 * line is NUL-terminated and free of NUL. */
static void
session_dispatch (SgSession *s, const char *line, gsize len)
{
  char verb[SG_SMTP_VERB_MAX + 1];
  const char *arg = NULL;

  if (!sg_smtp_split_verb (line, len, verb, &arg))
    {
      s->cmd_total[CMD_UNKNOWN]++;
      session_reply_error (s, 500, "5.5.2", "Command unrecognized");
      return;
    }
  const Verb *v = NULL;
  for (guint i = 0; i < G_N_ELEMENTS (verb_table); i++)
    if (strcmp (verb_table[i].verb, verb) == 0)
      v = &verb_table[i];
  if (v == NULL)
    {
      s->cmd_total[CMD_UNKNOWN]++;
      session_reply_error (s, 500, "5.5.2", "Command unrecognized");
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
      session_reply_error (s, 503, "5.5.1", "Bad sequence of commands: %s", why);
      return;
    }
  if ((v->flags & VERB_ARG_NONE) && *arg != '\0')
    {
      session_reply_error (s, 501, "5.5.4", "Syntax: %s takes no argument", v->verb);
      return;
    }
  if ((v->flags & VERB_ARG_REQUIRED) && *arg == '\0')
    {
      session_reply_error (s, 501, "5.5.4", "Syntax: %s needs an argument", v->verb);
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
      session_count_error (s);
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

/* session_process - answer every complete command in the input buffer; feed DATA. */
void
session_process (SgSession *s)
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
            session_finish_data (s);
          continue;
        }
      if (s->state == SG_SESSION_BDAT)
        {
          pos += session_bdat_take (s, (const char *) in->data + pos, in->len - pos);
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
          session_reply_error (s, 500, "5.5.2", "Line too long (at most %u octets, RFC 5321 4.5.3.1.4)",
                       s->config->max_command_line);
          continue;
        }
      if (len < 2 || start[len - 2] != '\r')
        {
          session_reply_error (s, 500, "5.5.2", "Command line must end with CRLF, not bare LF (RFC 5321 2.3.8)");
          continue;
        }
      g_autofree char *cmd = g_strndup ((const char *) start, len - 2);
      if (memchr (start, '\0', len - 2))
        session_reply_error (s, 500, "5.5.2", "NUL character in command");
      else
        session_dispatch (s, cmd, len - 2);
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
      gsize used = session_bdat_take (s, data, len);
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
        session_finish_data (s);
    }
  if (len > 0)
    g_byte_array_append (s->in, (const guint8 *) data, len);
  session_process (s);
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
  session_reply (s, 421, enhanced, "%s %s", s->config->hostname, text);
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
      SgRcptQuery q = session_stage_query (s);
      if (!s->hooks->check_stage (s, SG_SESSION_STAGE_CONNECT, &q, &v, s->user_data))
        {
          session_stage_wait (s, SG_SESSION_STAGE_CONNECT);
          return;
        }
    }
  session_greeting_apply (s, &v);
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
