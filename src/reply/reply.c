/* reply.c - the reply object's life, and the one wording of a spool failure
 * (the session's spill, the intake's mapping of a draft, the commit). */
#include "reply/reply.h"
#include "reply/reject.h"
#include "spool/spool.h"

#include <string.h>

void
sg_reply_set (SgReply *r, guint code, const char *enhanced, const char *rule, const char *fmt, ...)
{
  va_list ap;
  sg_reply_clear (r);
  r->code = code;
  g_strlcpy (r->enhanced, enhanced ? enhanced : "", sizeof r->enhanced);
  r->rule = rule;
  va_start (ap, fmt);
  r->text = g_strdup_vprintf (fmt, ap);
  va_end (ap);
}

void
sg_reply_set_log (SgReply *r, const char *fmt, ...)
{
  va_list ap;
  g_free (r->log_text);
  va_start (ap, fmt);
  r->log_text = g_strdup_vprintf (fmt, ap);
  va_end (ap);
}

const char *
sg_reply_log_text (const SgReply *r)
{
  return r->log_text ? r->log_text : r->text;
}

void
sg_reply_move (SgReply *dst, SgReply *src)
{
  sg_reply_clear (dst);
  *dst = *src;
  memset (src, 0, sizeof *src);
}

void
sg_reply_clear (SgReply *r)
{
  g_clear_pointer (&r->text, g_free);
  g_clear_pointer (&r->log_text, g_free);
  r->code = 0;
  r->enhanced[0] = '\0';
  r->rule = NULL;
}

void
sg_reply_spool_error (SgReply *r, const GError *error)
{
  if (error && g_error_matches (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOSPACE))
    sg_reply_set (r, 452, "4.3.1", SG_RULE_SPOOL_FULL, "Insufficient system storage; try again later");
  else
    sg_reply_set (r, 451, "4.3.0", SG_RULE_SPOOL_ERROR, "Local error in processing; try again later");
}
