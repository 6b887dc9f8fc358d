/* reject.c - the one place a refusal becomes a log line and a metric, so
 * the two never disagree: an operator who sees a count under a rule id
 * greps "rule=ID" and finds each event. */
#include "reply/reject.h"
#include "common/log.h"
#include "metrics/metrics.h"

#include <string.h>


/* reject_fields - "; from=<S> to=<R> proto=P helo=<H>", each part only
 * when known, as Postfix's smtpd ends its reject lines (transfer full). */
char *
sg_reject_fields (const char *sender, const char *recipient, const char *protocol,
                  const char *helo)
{
  GString *out = g_string_new (";");
  if (sender)
    {
      g_autofree char *safe = sg_log_sanitize (sender, -1, SG_LOG_FIELD_MAX);
      g_string_append_printf (out, " from=<%s>", safe);
    }
  if (recipient)
    {
      g_autofree char *safe = sg_log_sanitize (recipient, -1, SG_LOG_FIELD_MAX);
      g_string_append_printf (out, " to=<%s>", safe);
    }
  if (protocol)
    g_string_append_printf (out, " proto=%s", protocol);
  if (helo)
    {
      g_autofree char *safe = sg_log_sanitize (helo, -1, SG_LOG_FIELD_MAX);
      g_string_append_printf (out, " helo=<%s>", safe);
    }
  return g_string_free (out, FALSE);
}

void
sg_reject (const SgRejectClient *client, const char *stage, const SgReply *reply)
{
  g_autofree char *who = sg_log_client (client->name, client->address);
  g_autofree char *fields = sg_reject_fields (client->sender, client->recipient,
                                              client->protocol, client->helo);
  sg_log_info (SG_LOG_SMTPD, "%s: reject: %s from %s: %03u %s %s%s rule=%s",
               client->queue_id && client->queue_id[0] ? client->queue_id : "NOQUEUE", stage,
               who, reply->code, reply->enhanced, sg_reply_log_text (reply), fields, reply->rule);
  sg_metrics_rejected (reply->rule, reply->code);
}

void
sg_reject_rcpt (const SgRejectClient *client, const char *action, const char *recipient,
                const char *proto, const SgReply *r)
{
  guint code = r->code;
  g_autofree char *helo = client->helo ? sg_log_sanitize (client->helo, -1, SG_LOG_FIELD_MAX) : NULL;
  g_autofree char *sender = sg_log_sanitize (client->sender ? client->sender : "", -1, SG_LOG_FIELD_MAX);
  g_autofree char *rcpt = sg_log_sanitize (recipient, -1, SG_LOG_FIELD_MAX);
  g_autofree char *safe = sg_log_sanitize (sg_reply_log_text (r), -1, 2 * SG_LOG_FIELD_MAX);
  g_autofree char *reply = code ? g_strdup_printf ("%03u %s ", code, r->enhanced) : g_strdup ("");
  /* Postfix writes the queue ID once the message has a queue file; at RCPT
   * it has none, so "NOQUEUE" (and the client name is "unknown": no
   * reverse look-up is done). */
  g_message ("%s: %s: RCPT from unknown[%s]: %s%s; from=<%s> to=<%s> proto=%s helo=<%s>",
             code ? "NOQUEUE" : (client->queue_id && client->queue_id[0] ? client->queue_id : "NOQUEUE"),
             action, client->address, reply, safe, sender, rcpt, proto, helo ? helo : "");
  if (code)
    sg_metrics_recipient_rejected (r->rule);
}

void
sg_reject_connection (const char *address, const char *via, guint code, const char *enhanced,
                      const char *reason, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *text = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_autofree char *who = sg_log_client (NULL, address);
  sg_log_info (SG_LOG_SMTPD, "NOQUEUE: reject: CONNECT from %s: %03u %s %s; proto=SMTP rule=%s%s%s%s",
               who, code, enhanced, text, reason, via ? " via proxy [" : "", via ? via : "",
               via ? "]" : "");
  sg_metrics_refused (reason);
}

void
sg_reject_connection_unlogged (const char *reason)
{
  sg_metrics_refused (reason);
}
