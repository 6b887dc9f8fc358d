/* rollout.c - monitor mode and the keeping of refused messages, the two
 * ways an operator rolls out a validation policy safely. Called by the
 * intake worker at its verdict; decides nothing itself. */
#include "intake/rollout.h"
#include "common/log.h"
#include "metrics/metrics.h"
#include "reply/reject.h"

#include <string.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN SG_LOG_CLEANUP


/* sg_rollout_reply - the text after "550 ENHANCED ", as intake.c sends it. */
char *
sg_rollout_reply (const SgViolation *v)
{
  g_autofree char *why = sg_violation_describe (v);
  return g_strdup_printf ("Message rejected: %s", why);
}

/* sg_rollout_refusal - enforce's 550, as the client reads it and the log says it. */
void
sg_rollout_refusal (const SgViolation *v, SgReply *out)
{
  g_autofree char *text = sg_rollout_reply (v);
  sg_reply_set (out, SG_ROLLOUT_REJECT_CODE, v->enhanced, v->rule, "%s", text);
  g_free (out->log_text);
  out->log_text = sg_violation_describe (v);
}

/* sg_rollout_note - record mode and what enforce would have done. */
void
sg_rollout_note (SgMeta *meta, gboolean monitor, const SgViolation *would_reject)
{
  if (meta->validation == NULL || !JSON_NODE_HOLDS_OBJECT (meta->validation))
    return;
  JsonObject *obj = json_node_get_object (meta->validation);
  json_object_set_string_member (obj, "mode", monitor ? SG_ROLLOUT_MODE_MONITOR
                                                      : SG_ROLLOUT_MODE_ENFORCE);
  json_object_set_boolean_member (obj, "would_reject", would_reject != NULL);
  if (would_reject != NULL)
    {
      g_autofree char *text = sg_rollout_reply (would_reject);
      g_autofree char *reply = g_strdup_printf ("%03u %s %s", SG_ROLLOUT_REJECT_CODE, would_reject->enhanced,
                                                text);
      json_object_set_string_member (obj, "rule", would_reject->rule);
      json_object_set_string_member (obj, "reply", reply);
    }
}

/* sg_rollout_monitor - the reject_warning log line and its count. */
void
sg_rollout_monitor (const SgEnvelope *env, const SgViolation *would_reject)
{
  g_autofree char *text = sg_rollout_reply (would_reject);
  SgRejectClient client = sg_envelope_reject_client (env);
  g_autofree char *who = sg_log_client (NULL, client.address);
  g_autofree char *fields = sg_reject_fields (client.sender ? client.sender : "", client.recipient,
                                              client.protocol, client.helo);
  /* Postfix's smtpd reject_warning (warn_if_reject): what enforce would
   * have logged as reject; pflogsumm counts it under reject warnings */
  sg_log_info (SG_LOG_SMTPD, "%s: reject_warning: END-OF-MESSAGE from %s: %03u %s %s%s rule=%s; "
             "accepted: [validation] mode = monitor", env->queue_id, who, SG_ROLLOUT_REJECT_CODE,
             would_reject->enhanced, text, fields, would_reject->rule);
  sg_metrics_monitored (would_reject->rule);
}

/* sg_rollout_keep - a copy of a refused message in rejected/; or, with
 * monitored, of one that monitor mode accepted but enforce would refuse,
 * so that it can still be looked at once delivered. */
void
sg_rollout_keep (SgRejected *store, SgMeta *envelope, GBytes *header, GBytes *body,
                 const SgViolation *rejected_by, gboolean monitored)
{
  g_autoptr(SgRejectedMeta) meta = g_new0 (SgRejectedMeta, 1);
  g_autoptr(GError) error = NULL;
  g_autofree char *text = sg_rollout_reply (rejected_by);
  sg_rollout_note (envelope, monitored, rejected_by);
  meta->monitored = monitored;
  meta->envelope = envelope;
  meta->rejected_time_us = g_get_real_time ();
  meta->rule = g_strdup (rejected_by->rule);
  meta->reply = g_strdup_printf ("%03u %s %s", SG_ROLLOUT_REJECT_CODE, rejected_by->enhanced, text);
  if (monitored && sg_rejected_keep (store, meta, header, body, &error))
    g_message ("%s: monitored: kept a copy in rejected/ (%" G_GUINT64_FORMAT " bytes); "
               "spoolgate rejected --monitored lists it", envelope->queue_id,
               envelope->message_size);
  else if (monitored)
    g_message ("%s: monitored: no copy kept: %s", envelope->queue_id, error->message);
  else if (sg_rejected_keep (store, meta, header, body, &error))
    g_message ("%s: rejected: kept a copy in rejected/ (%" G_GUINT64_FORMAT
               " bytes); spoolgate release %s queues it", envelope->queue_id,
               envelope->message_size, envelope->queue_id);
  else
    g_message ("%s: rejected: no copy kept: %s", envelope->queue_id, error->message);
}
