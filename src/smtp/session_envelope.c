/* session_envelope.c - MAIL and RCPT: the reverse-path and its ESMTP
 * parameters, each forward-path through the recipient policy (relay,
 * [access] tables, verification, envelope milters; an answer may come later,
 * SG_SESSION_RCPT_WAIT), the limits on recipients and errors, and the
 * refusals logged as Postfix's smtpd logs them. What is accepted goes into
 * the session's SgEnvelope. */
#include "smtp/session_private.h"
#include "common/log.h"
#include "metrics/metrics.h"

#include <string.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN SG_LOG_SMTPD

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
  session_reply_error (s, map[i].code, map[i].enhanced, "%s", error->message);
}

/* session_mail_apply - answer MAIL by the milters' verdict (path moved, contents of
 * v taken): a refusal (logged by milter_client.c) is the reply; one given
 * at CONNECT or HELO is kept for the session. */
void
session_mail_apply (SgSession *s, SgSmtpPath *path, SgRcptVerdict *v)
{
  if (v->reply.code)
    {
      sg_smtp_path_clear (path);
      s->env->queue_id[0] = '\0';
      session_reply_verdict (s, v);
      session_milter_keep (s, v);
      sg_rcpt_verdict_clear (v);
      return;
    }
  if (v->settled)
    s->milters_settled = TRUE;
  sg_rcpt_verdict_clear (v);
  s->env->mail = *path;
  memset (path, 0, sizeof *path);
  session_enter_state (s, SG_SESSION_MAIL);
  session_reply (s, 250, "2.1.0", "Sender OK");
}

void
smtp_mail (SgSession *s, const char *arg)
{
  g_autoptr(GError) error = NULL;
  SgSmtpPath path = { .size = -1 };
  SgRejectClient who = session_reject_client (s);
  g_auto(SgReply) r = { 0 };

  if (s->config->tls_require && !s->env->tls_protocol)
    {
      sg_reply_set (&r, 530, "5.7.0", SG_RULE_TLS_REQUIRED, "Must issue a STARTTLS command first");
      session_refuse (s, &who, "MAIL", &r);
      session_count_error (s);
      return;
    }
  if (s->hooks->mail_room && !s->hooks->mail_room (s, s->user_data))
    {
      sg_reply_set (&r, 452, "4.3.1", SG_RULE_SPOOL_LOW, "Insufficient system storage; try again later");
      sg_reply_set_log (&r, "Insufficient system storage");
      session_refuse (s, &who, "MAIL", &r);
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
      session_reply_error (s, 555, "5.5.4", "MAIL parameters need EHLO (RFC 5321 4.1.1.11)");
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
      session_refuse (s, &who, "MAIL", &r);
      sg_smtp_path_clear (&path);
      return;
    }
  if (s->milter_session.reply.code)
    {
      /* refused at CONNECT or HELO: every MAIL gets that session_reply (Postfix) */
      const SgRcptVerdict *v = &s->milter_session;
      who.sender = path.address;
      sg_reply_set (&r, v->reply.code, v->reply.enhanced, SG_RULE_MILTER, "%s", v->reply.text);
      sg_reply_set_log (&r, "%s (milter verdict at %s)", v->reply.text, v->stage);
      sg_reject (&who, "MAIL", &r);
      sg_smtp_path_clear (&path);
      session_reply_verdict (s, v);
      return;
    }
  sg_queue_id_generate (s->env->queue_id);
  SgRcptVerdict verdict = { 0 };
  if (s->hooks->check_stage && !s->milters_settled)
    {
      SgRcptQuery q = session_stage_query (s);
      q.sender = path.address;
      q.smtputf8 = path.smtputf8;
      if (!s->hooks->check_stage (s, SG_SESSION_STAGE_MAIL, &q, &verdict, s->user_data))
        {
          s->stage_mail = path;   /* moved */
          session_stage_wait (s, SG_SESSION_STAGE_MAIL);
          return;
        }
    }
  session_mail_apply (s, &path, &verdict);
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
      SgRejectClient who = session_reject_client (s);
      if (v->logged)
        sg_metrics_recipient_rejected (v->reply.rule);
      else
        sg_reject_rcpt (&who, "reject", address, session_protocol (s), &v->reply);
      session_reply_verdict (s, v);   /* a milter's 421 closes here as at any other stage */
      g_free (address);
      sg_smtp_path_free (params);
      sg_rcpt_verdict_clear (v);
      return;
    }
  if (v->hold)
    {
      SgRejectClient who = session_reject_client (s);
      g_autofree char *what = g_strdup_printf ("<%s>: %s", address, v->hold);
      SgReply held = { .text = what };   /* code 0: logged, not refused */
      sg_reject_rcpt (&who, "hold", address, session_protocol (s), &held);
      if (!s->env->hold_reason)
        s->env->hold_reason = g_steal_pointer (&v->hold);
    }
  sg_rcpt_verdict_clear (v);
  sg_envelope_add_recipient (s->env, address, params);
  session_enter_state (s, SG_SESSION_RCPT);
  session_reply (s, 250, "2.1.5", "Recipient OK");
}

void
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
      session_reply_error (s, 555, "5.5.4", "RCPT parameters need EHLO (RFC 5321 4.1.1.11)");
      return;
    }
  g_autofree char *address = g_steal_pointer (&path.address);
  if (!s->relay_allowed && !recipient_accepted (s, address))
    {
      g_autofree char *safe = sg_log_sanitize (address, -1, SG_LOG_FIELD_MAX);
      SgRejectClient who = session_reject_client (s);
      g_auto(SgReply) r = { 0 };
      who.recipient = address;
      sg_reply_set (&r, 550, "5.7.1", SG_RULE_RELAY_DENIED, "Relay access denied");
      sg_reply_set_log (&r, "<%s>: Relay access denied", safe);
      session_refuse (s, &who, "RCPT", &r);
      session_count_error (s);
      return;
    }
  for (guint i = 0; i < s->env->recipients->len; i++)
    if (g_ascii_strcasecmp (g_ptr_array_index (s->env->recipients, i), address) == 0)
      {
        session_reply (s, 250, "2.1.5", "Recipient OK (duplicate)");
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
          SgRejectClient who = session_reject_client (s);
          who.recipient = address;
          sg_reply_set_log (&r, "<%s>: too many recipients (at most %u)", safe, s->config->max_recipients);
          session_refuse (s, &who, "RCPT", &r);
          s->rcpt_limit_hit = TRUE;
        }
      else
        session_reply_send (s, &r);
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

void
sg_session_rcpt_done (SgSession *s, SgRcptVerdict *verdict)
{
  if (!session_verdict_arrived (s, SG_SESSION_RCPT_WAIT, s->rcpt_return, verdict))
    return;
  rcpt_apply (s, g_steal_pointer (&s->rcpt_pending), g_steal_pointer (&s->rcpt_pending_params),
              verdict);
  session_resume (s);
}
