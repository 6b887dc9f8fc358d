/* rcpt_policy.h - what the gateway says to one RCPT, in Postfix's order:
 * sender_access, recipient_access, then for recipients in accepted_domains
 * recipient_maps and address verification. Holds the tables of the running
 * configuration; a reload that cannot read a table keeps the old one. The
 * replies are Postfix's own words, so an administrator's greps and
 * pflogsumm keep working. */
#pragma once
#include <glib.h>
#include "config/config.h"
#include "smtp/session.h"
#include "verify/verify.h"

G_BEGIN_DECLS

typedef struct _SgRcptPolicy SgRcptPolicy;

/* sg_rcpt_policy_new - read config's tables, open the verification cache
 * when verify_recipients is on (transfer full); NULL with "FILE:LINE: why"
 * on a bad table: the server does not start. */
SgRcptPolicy *sg_rcpt_policy_new (const SgConfig *config, GMainContext *context, GError **error);
/* sg_rcpt_policy_reload - the tables and verify_* keys of config. Each table
 * that cannot be read keeps its old contents, logged with the reason;
 * FALSE if any was kept. */
gboolean      sg_rcpt_policy_reload (SgRcptPolicy *p, const SgConfig *config);
void          sg_rcpt_policy_free (SgRcptPolicy *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgRcptPolicy, sg_rcpt_policy_free)

/* SgRcptPolicyDone - a deferred verdict (contents to be taken). */
typedef void (*SgRcptPolicyDone) (SgRcptVerdict *verdict, gpointer user_data);

/* sg_rcpt_policy_check - the verdict on q: TRUE with *verdict set now, or
 * FALSE when it waits for an address probe: done is called exactly once,
 * within [access] verify_timeout, or at sg_rcpt_policy_free. */
gboolean      sg_rcpt_policy_check (SgRcptPolicy *p, const SgRcptQuery *q, SgRcptVerdict *verdict,
                                    SgRcptPolicyDone done, gpointer user_data);

/* sg_rcpt_policy_check_stage - the [milter] servers' verdict at the
 * greeting, HELO or MAIL (q->recipient unused): TRUE with *verdict set now
 * (no milters: accept), or FALSE when done is to be called, exactly once,
 * within the stages' milter timeouts, or at sg_rcpt_policy_free. */
gboolean      sg_rcpt_policy_check_stage (SgRcptPolicy *p, SgSessionStage stage,
                                          const SgRcptQuery *q, SgRcptVerdict *verdict,
                                          SgRcptPolicyDone done, gpointer user_data);

G_END_DECLS
