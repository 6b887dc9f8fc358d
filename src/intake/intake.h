/* intake.h - the path from a complete message to its SMTP reply: validation
 * on worker threads, then the spool's durable group commit, then the reply
 * delivered back on the main loop. Never answers 250 before the commit. */
#pragma once
#include <glib.h>
#include "config/config.h"
#include "reply/reply.h"
#include "envelope/envelope.h"
#include "spool/spool.h"
#include "validate/validate.h"

G_BEGIN_DECLS

typedef struct _SgIntake SgIntake;

/* The reply for one message (borrowed for the call; a refusal in it is
 * logged already), called in the intake's main context. */
typedef void (*SgIntakeDoneFunc) (const SgReply *reply, gpointer user_data);

/* sg_intake_new - keeps a reference to config; spool is borrowed; workers =
 * 0 means one per CPU. */
SgIntake *sg_intake_new (SgConfig *config, SgSpool *spool, GMainContext *context,
                         guint workers, GError **error);
/* sg_intake_free - waits for every message in flight to get its reply; milter
 * conversations still waiting are cut short (as a failed milter). */
void      sg_intake_free (SgIntake *intake);

/* sg_intake_submit - validate and spool env (transfer full); done is called exactly once. */
void sg_intake_submit (SgIntake *intake, SgEnvelope *env, SgIntakeDoneFunc done,
                       gpointer user_data);
/* sg_intake_reconfigure - messages submitted from now on use config (limits,
 * validation policy); those already in flight finish under the old one. */
gboolean sg_intake_reconfigure (SgIntake *intake, SgConfig *config, GError **error);
/* sg_intake_open_draft - a spool draft for a message too big for memory
 * (transfer full; SgSessionHooks.open_draft). Main context only. */
SgSpoolDraft *sg_intake_open_draft (SgIntake *intake, GError **error);
/* sg_intake_pending - messages submitted and not yet answered. */
guint sg_intake_pending (const SgIntake *intake);

/* Called in the intake's main context once a message is durable; meta is
 * its committed metadata (borrowed for the call). */
typedef void (*SgIntakeCommittedFunc) (const SgMeta *meta, gpointer user_data);
/* sg_intake_set_committed_hook - call func for each committed message (NULL: none). */
void sg_intake_set_committed_hook (SgIntake *intake, SgIntakeCommittedFunc func,
                                   gpointer user_data);

G_END_DECLS
