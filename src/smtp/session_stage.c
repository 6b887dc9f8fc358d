/* session_stage.c - the session's greeting and HELO/EHLO, and the milters'
 * verdicts before RCPT: at CONNECT (before the greeting), at HELO/EHLO and
 * at MAIL, each asked through the check_stage hook and possibly answered
 * later (SG_SESSION_STAGE_WAIT). A reject or tempfail at CONNECT or HELO is
 * kept for the session, as Postfix's milter8 keeps it. */
#include "smtp/session_private.h"
#include "common/log.h"
#include "metrics/metrics.h"

#include <string.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN SG_LOG_SMTPD

/* session_stage_query - the session as the milters see it at a stage before RCPT. */
SgRcptQuery
session_stage_query (const SgSession *s)
{
  return (SgRcptQuery) { .sender = s->env->mail.address ? s->env->mail.address : "",
                         .smtputf8 = s->env->mail.smtputf8,
                         .queue_id = s->env->queue_id[0] ? s->env->queue_id : "NOQUEUE",
                         .client_address = s->env->client_address,
                         .client_port = s->env->client_port, .helo = s->env->helo,
                         .protocol = session_protocol (s), .tls_protocol = s->env->tls_protocol,
                         .tls_cipher = s->env->tls_cipher };
}

/* session_stage_wait - the verdict at stage comes later: hold input until it does. */
void
session_stage_wait (SgSession *s, SgSessionStage stage)
{
  s->stage_pending = stage;
  s->stage_return = s->state;
  session_enter_state (s, SG_SESSION_STAGE_WAIT);
}

/* session_milter_keep - a milter refused at CONNECT or HELO: keep its reply
 * for the session (contents of v taken when kept). */
void
session_milter_keep (SgSession *s, SgRcptVerdict *v)
{
  if (v->settled)
    s->milters_settled = TRUE;
  if (s->milter_session.reply.code || !v->stage
      || (strcmp (v->stage, "CONNECT") != 0 && strcmp (v->stage, "HELO") != 0))
    return;
  s->milter_session = *v;
  memset (v, 0, sizeof *v);
}

/* session_reply_verdict - a milter's or the recipient policy's refusal as the
 * reply; a 5xx counts as an error, and a 421 closes (RFC 5321 3.8). */
void
session_reply_verdict (SgSession *s, const SgRcptVerdict *v)
{
  if (v->reply.code / 100 == 5)
    session_reply_error (s, v->reply.code, v->reply.enhanced, "%s", v->reply.text);
  else
    session_reply (s, v->reply.code, v->reply.enhanced, "%s", v->reply.text);
  if (v->reply.code == 421)
    session_enter_state (s, SG_SESSION_CLOSING);
}

/* session_milter_refuse - the kept CONNECT/HELO refusal answers this
 * command, as Postfix answers STARTTLS (a 4xx as 454): TRUE if it did. */
gboolean
session_milter_refuse (SgSession *s, gboolean map_4xx)
{
  const SgRcptVerdict *v = &s->milter_session;
  if (!v->reply.code)
    return FALSE;
  if (map_4xx && v->reply.code / 100 == 4)
    session_reply (s, 454, "4.3.0", "Try again later");
  else
    session_reply_verdict (s, v);
  return TRUE;
}

/* session_greeting_apply - the 220, or what a milter said at CONNECT instead, in
 * Postfix's words (smtpd.c): a 5xx is "554 ... not accepting connections",
 * a 421 closes; a 5xx or 4xx is kept for every MAIL (RFC 5321 3.1: the
 * client may still QUIT). The greeting has no enhanced code (RFC 2034 3). */
void
session_greeting_apply (SgSession *s, SgRcptVerdict *v)
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
      session_count_error (s);
    }
  else
    g_string_append_printf (s->out, "220 %s ESMTP spoolgate\r\n", s->config->hostname);
  session_milter_keep (s, v);
}

/* greet_finish - the HELO/EHLO is taken: the session is greeted, and the reply. */
static void
greet_finish (SgSession *s, const char *arg, gboolean esmtp)
{
  g_free (s->env->helo);
  s->env->helo = g_strdup (arg);
  s->esmtp = esmtp;
  session_enter_state (s, SG_SESSION_READY);
  session_transaction_reset (s);
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
      session_reply_verdict (s, v);
      return FALSE;
    }
  session_milter_keep (s, v);
  return TRUE;
}

/* greet - HELO or EHLO: after a valid hostname, the milters' verdict at
 * HELO (unless they refused the session already: nothing to ask). */
static void
greet (SgSession *s, const char *arg, gboolean esmtp)
{
  if (!sg_smtp_domain_valid (arg, FALSE))
    {
      session_reply_error (s, 501, "5.5.4", "Invalid %s hostname (RFC 5321 4.1.1.1)", esmtp ? "EHLO" : "HELO");
      return;
    }
  if (s->hooks->check_stage && !s->milter_session.reply.code && !s->milters_settled)
    {
      SgRcptQuery q = session_stage_query (s);
      q.helo = arg;
      q.protocol = esmtp ? "ESMTP" : "SMTP";
      q.sender = "";
      g_auto(SgRcptVerdict) v = { 0 };
      if (!s->hooks->check_stage (s, SG_SESSION_STAGE_HELO, &q, &v, s->user_data))
        {
          s->stage_helo = g_strdup (arg);
          s->stage_esmtp = esmtp;
          session_stage_wait (s, SG_SESSION_STAGE_HELO);
          return;
        }
      if (!greet_verdict (s, &v))
        return;
    }
  greet_finish (s, arg, esmtp);
}

void
smtp_ehlo (SgSession *s, const char *arg)
{
  greet (s, arg, TRUE);
}

void
smtp_helo (SgSession *s, const char *arg)
{
  greet (s, arg, FALSE);
}

void
sg_session_stage_done (SgSession *s, SgRcptVerdict *v)
{
  if (!session_verdict_arrived (s, SG_SESSION_STAGE_WAIT, s->stage_return, v))
    return;
  gsize mark = s->out->len;
  CmdCount count = CMD_N;
  switch (s->stage_pending)
    {
    case SG_SESSION_STAGE_CONNECT:
      session_greeting_apply (s, v);
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
        session_mail_apply (s, &path, v);
        break;
      }
    }
  sg_rcpt_verdict_clear (v);
  if (count != CMD_N && s->out->len > mark && s->out->str[mark] == '2')
    s->cmd_ok[count]++;
  session_resume (s);
}
