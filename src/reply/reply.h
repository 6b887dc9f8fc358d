/* reply.h - one SMTP reply as an object: code, RFC 3463 enhanced code, the
 * text the client reads and the rule id a refusal is counted and logged
 * under. A refusal is built once and both the log (reply/reject.h) and the
 * client take it, so the two cannot drift apart (chasquid's (code, message)
 * pair). The wording of the spool's failures lives here too. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

#define SG_REPLY_ENHANCED_MAX 16   /* "X.YYY.ZZZ" and its NUL, with room */

typedef struct {
  guint       code;                             /* 0: none */
  char        enhanced[SG_REPLY_ENHANCED_MAX];  /* "X.Y.Z" */
  char       *text;       /* what the client reads after "CODE ENHANCED " */
  char       *log_text;   /* (nullable) what the refusal line says instead, when the log
                           * tells the operator more (or other) than the client */
  const char *rule;       /* (nullable, static) the rule id of a refusal (reply/reject.h) */
} SgReply;

/* sg_reply_set - replace r with "code enhanced text" under rule (nullable). */
void sg_reply_set (SgReply *r, guint code, const char *enhanced, const char *rule,
                   const char *fmt, ...) G_GNUC_PRINTF (5, 6);
/* sg_reply_set_log - what the refusal's log line says instead of the reply text. */
void sg_reply_set_log (SgReply *r, const char *fmt, ...) G_GNUC_PRINTF (2, 3);
/* sg_reply_log_text - the text of the refusal's log line (borrowed). */
const char *sg_reply_log_text (const SgReply *r);
/* sg_reply_move - dst takes src's contents (dst cleared first; src left empty). */
void sg_reply_move (SgReply *dst, SgReply *src);
void sg_reply_clear (SgReply *r);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (SgReply, sg_reply_clear)

/* sg_reply_spool_error - the reply to a message the spool could not take
 * (error nullable: an unknown failure): SG_SPOOL_ERROR_NOSPACE is "452
 * 4.3.1 Insufficient system storage; try again later" (rule spool.full),
 * anything else "451 4.3.0 Local error in processing; try again later"
 * (rule spool.error). RFC 3463 3.4: 4.3.1 is "mail system full". */
void sg_reply_spool_error (SgReply *r, const GError *error);

G_END_DECLS
