/* rcpt_milter.h - the [milter] servers' verdict at one envelope stage,
 * given while the client waits, as Postfix applies a milter's reply at the
 * stage it comes: one envelope conversation per command (connect, then
 * HELO, MAIL and this RCPT as far as the stage goes, then abort), on a
 * thread, answered on the main context. At RCPT a reject or tempfail
 * refuses that recipient only; the session decides what a verdict at
 * connect, HELO or MAIL means (smtp/session.c). The end-of-DATA
 * conversation (intake) then sees only the recipients that were accepted. */
#pragma once
#include <glib.h>
#include "config/config.h"
#include "smtp/session.h"
#include "milter/milter_client.h"

G_BEGIN_DECLS

typedef struct _SgRcptMilter SgRcptMilter;

/* SgRcptMilterDone - the verdict (contents to be taken), exactly once. */
typedef void (*SgRcptMilterDone) (SgRcptVerdict *verdict, gpointer user_data);

/* sg_rcpt_milter_new - at most max_threads conversations at once ([milter]
 * max_conversations); more wait their turn within their own deadline. */
SgRcptMilter *sg_rcpt_milter_new (GMainContext *context, guint max_threads);
/* sg_rcpt_milter_check - run config's milters on q's envelope; hold
 * (nullable, transfer full) is passed on in an accepting verdict. */
void          sg_rcpt_milter_check (SgRcptMilter *m, SgConfig *config, const SgRcptQuery *q,
                                    char *hold, SgRcptMilterDone done, gpointer user_data);
/* sg_rcpt_milter_check_stage - likewise, the conversation going only as far
 * as up_to (q->recipient unused before SG_MILTER_UP_TO_RCPT). */
void          sg_rcpt_milter_check_stage (SgRcptMilter *m, SgConfig *config, SgMilterUpTo up_to,
                                          const SgRcptQuery *q, char *hold,
                                          SgRcptMilterDone done, gpointer user_data);
/* sg_rcpt_milter_free - cut the conversations short (each then gets
 * [milter] default_action) and wait for them; every caller is answered. */
void          sg_rcpt_milter_free (SgRcptMilter *m);

G_END_DECLS
