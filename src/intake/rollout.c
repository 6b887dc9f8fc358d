/* rollout.c - monitor mode and the keeping of refused messages, the two
 * ways an operator rolls out a validation policy safely. Called by the
 * intake worker at its verdict; decides nothing itself. */
#include "intake/rollout.h"
#include "common/log.h"
#include "metrics/metrics.h"

#define ROLLOUT_TEXT_MAX 256   /* characters of HELO name and reverse-path logged */

/* sg_rollout_note - record mode and what enforce would have done. */
void
sg_rollout_note (SgMeta *meta, const char *mode, const SgViolation *would_reject, guint code,
                 const char *reply_text)
{
  if (meta->validation == NULL || !JSON_NODE_HOLDS_OBJECT (meta->validation))
    return;
  JsonObject *obj = json_node_get_object (meta->validation);
  json_object_set_string_member (obj, "mode", mode);
  json_object_set_boolean_member (obj, "would_reject", would_reject != NULL);
  if (would_reject != NULL)
    {
      g_autofree char *reply = g_strdup_printf ("%03u %s %s", code, would_reject->enhanced,
                                                reply_text);
      json_object_set_string_member (obj, "rule", would_reject->rule);
      json_object_set_string_member (obj, "reply", reply);
    }
}

/* sg_rollout_monitor - the reject_warning log line and its count. */
void
sg_rollout_monitor (const SgEnvelope *env, const SgViolation *would_reject, guint code,
                    const char *reply_text)
{
  g_autofree char *helo = env->helo ? sg_log_sanitize (env->helo, -1, ROLLOUT_TEXT_MAX) : NULL;
  g_autofree char *sender = sg_log_sanitize (env->mail.address ? env->mail.address : "", -1,
                                             ROLLOUT_TEXT_MAX);
  g_message ("%s: reject_warning: DATA from %s[%s]: %03u %s %s; rule=%s from=<%s>; "
             "accepted: [validation] mode = monitor", env->queue_id, helo ? helo : "unknown",
             env->client_address, code, would_reject->enhanced, reply_text, would_reject->rule,
             sender);
  sg_metrics_monitored (would_reject->rule);
}

/* sg_rollout_keep - a copy of a refused message in rejected/. */
void
sg_rollout_keep (SgRejected *store, SgMeta *envelope, GBytes *header, GBytes *body,
                 const SgViolation *rejected_by, guint code, const char *reply_text)
{
  g_autoptr(SgRejectedMeta) meta = g_new0 (SgRejectedMeta, 1);
  g_autoptr(GError) error = NULL;
  sg_rollout_note (envelope, SG_ROLLOUT_MODE_ENFORCE, rejected_by, code, reply_text);
  meta->envelope = envelope;
  meta->rejected_time_us = g_get_real_time ();
  meta->rule = g_strdup (rejected_by->rule);
  meta->reply = g_strdup_printf ("%03u %s %s", code, rejected_by->enhanced, reply_text);
  if (sg_rejected_keep (store, meta, header, body, &error))
    g_message ("%s: rejected: kept a copy in rejected/ (%" G_GUINT64_FORMAT
               " bytes); spoolgate release %s queues it", envelope->queue_id,
               envelope->message_size, envelope->queue_id);
  else
    g_message ("%s: rejected: no copy kept: %s", envelope->queue_id, error->message);
}
