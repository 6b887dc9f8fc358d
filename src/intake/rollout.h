/* rollout.h - what [validation] mode and keep_rejected do with a message the
 * policy rejects: monitor lets it through and records what enforce would
 * have said (metadata, log, metrics); enforce may keep a copy in rejected/.
 * The verdict is validate/'s, the store spool/spool_rejected.c's. */
#pragma once
#include <glib.h>
#include "envelope/envelope.h"
#include "reply/reply.h"
#include "spool/meta.h"
#include "spool/spool_rejected.h"
#include "validate/validate.h"

G_BEGIN_DECLS

#define SG_ROLLOUT_MODE_ENFORCE "enforce"
#define SG_ROLLOUT_MODE_MONITOR "monitor"

/* The reply code enforce answers a message validation refuses with. */
#define SG_ROLLOUT_REJECT_CODE  550u

/* sg_rollout_reply - the reply text enforce sends for v, after "550 ENHANCED ":
 * "Message rejected: <sg_violation_describe>" (transfer full). */
char *sg_rollout_reply (const SgViolation *v);
/* sg_rollout_refusal - the whole refusal enforce answers and logs for v:
 * 550, v's enhanced code and rule, sg_rollout_reply's text, and the bare
 * description for the log line. */
void sg_rollout_refusal (const SgViolation *v, SgReply *out);

/* sg_rollout_note - add "mode", "would_reject" and, when would_reject
 * (nullable) is set, "rule" and "reply" (the whole 550 line enforce sends)
 * to the metadata's validation object. */
void sg_rollout_note (SgMeta *meta, gboolean monitor, const SgViolation *would_reject);

/* sg_rollout_monitor - log "ID: reject_warning: DATA from HELO[ADDR]: 550
 * ENHANCED TEXT; rule=RULE from=<SENDER>; accepted: ..." (Postfix's
 * warn_if_reject form) and count spoolgate_messages_monitored_total{rule}. */
void sg_rollout_monitor (const SgEnvelope *env, const SgViolation *would_reject);

/* sg_rollout_keep - keep a message enforce refused in store: envelope
 * (transfer full) is its would-be metadata, noted as by sg_rollout_note;
 * with monitored, a message monitor mode accepted all the same (listed by
 * `spoolgate rejected --monitored`). Failures are logged, never fatal. */
void sg_rollout_keep (SgRejected *store, SgMeta *envelope, GBytes *header, GBytes *body,
                      const SgViolation *rejected_by, gboolean monitored);

G_END_DECLS
