/* milter_edits.c - the edits a milter asks for at the end of a message.
 * Each packet is bounded (SG_MILTER_MAX_PACKET), their number is not: every
 * request, applied or refused, costs its bytes as written plus
 * SG_MILTER_EDIT_COST against the message's budget, so that neither a
 * flood of empty edits nor one of one-byte fields can outgrow
 * max_message_size or max_edits. Only header edits we will make are kept;
 * the spool keeps the client's body and envelope, so body replacement and
 * envelope changes are counted and logged, never stored. */
#include "milter/milter_edits.h"
#include "common/log.h"
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN SG_LOG_CLEANUP

#include <string.h>


static const char *const refusal_text[SG_MILTER_REFUSE_KINDS] = {
  "an action it did not negotiate",
  "a malformed header field",
  "body replacement: messages are stored byte for byte as received",
  "an envelope change: the envelope is the one the client sent",
};

void
sg_milter_edits_init (SgMilterEdits *e)
{
  memset (e, 0, sizeof *e);
  e->kept = g_ptr_array_new_with_free_func ((GDestroyNotify) sg_milter_reply_free);
}

void
sg_milter_edits_clear (SgMilterEdits *e)
{
  g_clear_pointer (&e->kept, g_ptr_array_unref);
  for (guint k = 0; k < SG_MILTER_REFUSE_KINDS; k++)
    g_clear_pointer (&e->refused_first[k], g_free);
}

/* edit_size - the bytes an edit request asks us to take: a header field
 * as written ("name: value" CRLF, each LF of value becoming CRLF), the
 * replacement body, the addresses and arguments. */
static guint64
edit_size (const SgMilterReply *r)
{
  guint64 n = r->body_len;
  if (r->name)
    n += strlen (r->name) + strlen (": \r\n");
  for (const char *v = r->value; v && *v; v++)
    n += *v == '\n' ? 2 : 1;
  if (r->args)
    n += strlen (r->args);
  return n;
}

/* refusal - why we refuse edit r, or SG_MILTER_REFUSE_KINDS to make it. */
static SgMilterRefusal
refusal (guint32 actions, const SgMilterReply *r)
{
  switch (r->cmd)
    {
    case SG_SMFIR_ADDHEADER: case SG_SMFIR_INSHEADER: case SG_SMFIR_CHGHEADER:
      if (!(actions & (r->cmd == SG_SMFIR_CHGHEADER ? SG_SMFIF_CHGHDRS : SG_SMFIF_ADDHDRS)))
        return SG_MILTER_REFUSE_ACTION;
      if (!sg_milter_header_valid (r->name, r->value))
        return SG_MILTER_REFUSE_MALFORMED;
      return SG_MILTER_REFUSE_KINDS;
    case SG_SMFIR_REPLBODY:
      return SG_MILTER_REFUSE_BODY;
    default:
      return SG_MILTER_REFUSE_ENVELOPE;
    }
}

gboolean
sg_milter_edits_take (SgMilterEdits *e, SgMilterBudget *b, guint32 actions, SgMilterReply *r,
                      GError **error)
{
  b->edits++;
  b->cost += SG_MILTER_EDIT_COST + edit_size (r);
  if (b->edits > b->max_edits || b->cost > b->room)
    {
      if (b->edits > b->max_edits)
        g_set_error (error, SG_MILTER_ERROR, SG_MILTER_ERROR_PROTOCOL,
                     "more than %u edits ([milter] max_edits)", b->max_edits);
      else
        g_set_error (error, SG_MILTER_ERROR, SG_MILTER_ERROR_PROTOCOL,
                     "edits of more than %" G_GUINT64_FORMAT " bytes would make the message "
                     "larger than %" G_GUINT64_FORMAT " bytes ([limits] max_message_size)",
                     b->room, b->max_size);
      sg_milter_reply_free (r);
      return FALSE;
    }
  SgMilterRefusal why = refusal (actions, r);
  if (why == SG_MILTER_REFUSE_KINDS)
    {
      g_ptr_array_add (e->kept, r);
      return TRUE;
    }
  if (e->refusals[why]++ == 0)
    {
      g_autofree char *arg = sg_log_sanitize (r->name ? r->name : r->value ? r->value : "", -1,
                                              SG_LOG_FIELD_MAX);
      e->refused_first[why] = g_strdup_printf ("%s%s%s", sg_milter_reply_name (r->cmd),
                                               *arg ? " " : "", arg);
    }
  e->refused++;
  sg_milter_reply_free (r);
  return TRUE;
}

void
sg_milter_edits_apply (SgMilterEdits *e, SgMilterHeaders *h, gboolean leading_space)
{
  for (guint i = 0; i < e->kept->len; i++)
    {
      const SgMilterReply *r = g_ptr_array_index (e->kept, i);
      if (r->cmd == SG_SMFIR_ADDHEADER)
        sg_milter_headers_add (h, r->name, r->value, leading_space);
      else if (r->cmd == SG_SMFIR_INSHEADER)
        sg_milter_headers_insert (h, r->index, r->name, r->value, leading_space);
      else
        sg_milter_headers_change (h, r->index, r->name, r->value, leading_space);
      if (r->cmd == SG_SMFIR_CHGHEADER)
        e->changed++;
      else
        e->added++;
    }
}

void
sg_milter_edits_log (const SgMilterEdits *e, const char *queue_id, const char *milter)
{
  for (guint k = 0; k < SG_MILTER_REFUSE_KINDS; k++)
    if (e->refusals[k] == 1)
      g_warning ("%s: milter %s: refused %s (%s)", queue_id, milter, refusal_text[k],
                 e->refused_first[k]);
    else if (e->refusals[k] > 1)
      g_warning ("%s: milter %s: refused %u edits: %s (the first: %s)", queue_id, milter,
                 e->refusals[k], refusal_text[k], e->refused_first[k]);
}
