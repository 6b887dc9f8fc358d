/* session_content.c - the message content: DATA and BDAT (RFC 3030) into
 * one SgDataReader (smtp_data.c), our Received header made at the start,
 * the spill to a spool draft for a message too big for memory, the hand-off
 * of the envelope through the submit hook at the end of data, and its
 * reply when the intake answers. */
#include "smtp/session_private.h"
#include "common/log.h"
#include "metrics/metrics.h"

#include <string.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN SG_LOG_SMTPD

/* open_draft - SgDataSpill.open: a spool draft through the session's hook. */
static SgSpoolDraft *
open_draft (gpointer user_data, GError **error)
{
  SgSession *s = user_data;
  return s->hooks->open_draft (s, s->user_data, error);
}

/* content_start - ready the reader for the content of DATA or of BDAT.
 * Our Received header is made now, as Postfix does, so a message too big
 * for memory can go to its spool file header first and be committed as
 * that file without another copy. */
static void
content_start (SgSession *s)
{
  SgEnvelope *env = s->env;   /* the client is in it already */
  env->protocol = session_protocol (s);
  env->arrival_us = g_get_real_time ();
  g_autoptr(GBytes) received = sg_envelope_received (env, s->config->hostname);
  SgDataSpill spill = {
    .open = s->hooks->open_draft ? open_draft : NULL, .user_data = s, .header = received,
    .threshold = s->config->data_spill_size, .max_in_flight = s->config->max_memory_in_flight,
  };

  sg_data_reader_init (&s->data, s->config->max_message_size);
  sg_data_reader_set_spill (&s->data, &spill);
}

/* smtp_data - 354; the content goes to the reader content_start() readies. */
void
smtp_data (SgSession *s, const char *arg)
{
  content_start (s);
  session_enter_state (s, SG_SESSION_DATA);
  g_string_append (s->out, "354 End data with <CR><LF>.<CR><LF>\r\n");
}

/* bdat_feed - chunk bytes into the DATA reader with a dot stuffed before
 * each "." that starts a line (after CRLF, or first), so the reader, which
 * unstuffs, keeps exactly the chunk's bytes and never meets an end of data
 * in them: BDAT has no dot framing (RFC 3030 2), but bare CR and LF are
 * still found and judged as in DATA. */
static void
bdat_feed (SgSession *s, const char *data, gsize len)
{
  char buf[4096];
  gsize n = 0;
  for (gsize i = 0; i < len; i++)
    {
      gboolean line_start = !s->bdat_fed || (s->bdat_prev[0] == '\r' && s->bdat_prev[1] == '\n');
      if (data[i] == '.' && line_start)
        buf[n++] = '.';
      buf[n++] = data[i];
      s->bdat_prev[0] = s->bdat_prev[1];
      s->bdat_prev[1] = data[i];
      s->bdat_fed = TRUE;
      if (n >= sizeof buf - 1)
        {
          sg_data_reader_feed (&s->data, buf, n);
          n = 0;
        }
    }
  if (n > 0)
    sg_data_reader_feed (&s->data, buf, n);
}

/* bdat_chunk_done - every byte of the chunk is in: answer it. */
static void
bdat_chunk_done (SgSession *s)
{
  s->progress++;
  if (s->bdat_discard)
    {
      s->bdat_discard = FALSE;
      session_enter_state (s, s->bdat_return);
      g_auto(SgReply) r = { 0 };
      sg_reply_move (&r, &s->bdat_refusal);
      session_reply_send (s, &r);
      if (r.code == 552)
        session_transaction_reset (s);
      else
        session_count_error (s);
      return;
    }
  if (!s->bdat_last)
    {
      session_enter_state (s, SG_SESSION_CHUNKING);
      s->cmd_ok[CMD_BDAT]++;
      session_reply (s, 250, "2.0.0", "%" G_GUINT64_FORMAT " octets received", s->bdat_size);
      return;
    }
  /* The end of data that BDAT LAST means, in the reader's own terms. */
  gboolean crlf = !s->bdat_fed || (s->bdat_prev[0] == '\r' && s->bdat_prev[1] == '\n');
  const char *end = crlf ? ".\r\n" : "\r\n.\r\n";
  sg_data_reader_feed (&s->data, end, strlen (end));
  g_warn_if_fail (s->data.state == SG_DATA_DONE);
  session_finish_data (s);
}

/* bdat_refuse - answer the chunk with r (contents taken) once its bytes
 * are read and dropped. */
static void
bdat_refuse (SgSession *s, SgReply *r)
{
  s->bdat_discard = TRUE;
  sg_reply_move (&s->bdat_refusal, r);
}

/* smtp_bdat - "BDAT size [LAST]" (RFC 3030 2). The chunk's bytes follow
 * the command whatever we answer, so a refused chunk is still read, and
 * dropped, to stay in step with the client. */
void
smtp_bdat (SgSession *s, const char *arg)
{
  gsize digits = strspn (arg, "0123456789");
  const char *rest = arg + digits;
  guint64 size = 0;
  gboolean last = g_ascii_strcasecmp (rest, " LAST") == 0;
  char number[20] = "";
  if (digits > 0 && digits < sizeof number)
    memcpy (number, arg, digits);
  if (digits == 0 || digits >= sizeof number || (*rest && !last)
      || !g_ascii_string_to_unsigned (number, 10, 0, G_MAXINT64, &size, NULL))
    {
      session_reply_error (s, 501, "5.5.4", "Syntax: BDAT <size> [LAST] (RFC 3030 2)");
      return;
    }
  s->bdat_left = s->bdat_size = size;
  s->bdat_last = last;
  s->bdat_return = s->state;
  g_auto(SgReply) r = { 0 };
  if (s->state == SG_SESSION_CONNECTED || s->state == SG_SESSION_READY)
    {
      sg_reply_set (&r, 503, "5.5.1", NULL, "%s", s->state == SG_SESSION_CONNECTED
                    ? "Bad sequence of commands: send EHLO or HELO first"
                    : "Bad sequence of commands: need MAIL and RCPT before BDAT");
      bdat_refuse (s, &r);
    }
  else if (s->state == SG_SESSION_MAIL)
    {
      sg_reply_set (&r, 503, "5.5.1", NULL, "Bad sequence of commands: no valid recipients");
      bdat_refuse (s, &r);
    }
  else
    {
      if (s->state == SG_SESSION_RCPT)
        content_start (s);
      if (size > s->config->max_message_size - MIN (s->data.size, s->config->max_message_size))
        {
          /* logged now, answered once the chunk is read */
          SgRejectClient who = session_reject_client (s);
          sg_reply_set (&r, 552, "5.3.4", SG_RULE_SIZE_EXCEEDED,
                        "Message size exceeds fixed maximum message size");
          sg_reply_set_log (&r, "message size %" G_GUINT64_FORMAT " exceeds %" G_GUINT64_FORMAT,
                            s->data.size + size, s->config->max_message_size);
          sg_reject (&who, "BDAT", &r);
          bdat_refuse (s, &r);
          s->bdat_return = SG_SESSION_READY;
        }
    }
  if (size == 0)
    bdat_chunk_done (s);
  else
    session_enter_state (s, SG_SESSION_BDAT);
}

/* session_finish_data - end of data seen: reject framing faults, else submit. */
void
session_finish_data (SgSession *s)
{
  SgDataReader *data = &s->data;
  SgRejectClient who = session_reject_client (s);
  g_auto(SgReply) r = { 0 };

  s->data_end_us = g_get_monotonic_time ();
  if (data->bare_lf_line || data->bare_cr_line)
    {
      gboolean lf = data->bare_lf_line && (!data->bare_cr_line || data->bare_lf_line <= data->bare_cr_line);
      guint64 line = lf ? data->bare_lf_line : data->bare_cr_line;
      const char *rule = lf ? SG_RULE_BARE_LF : SG_RULE_BARE_CR;
      sg_reply_set (&r, 550, "5.5.2", rule, "Message rejected: bare %s at line %" G_GUINT64_FORMAT
                    "; lines must end with CRLF (RFC 5321 2.3.8) [%s]", lf ? "LF" : "CR", line, rule);
      sg_reply_set_log (&r, "bare %s at line %" G_GUINT64_FORMAT, lf ? "LF" : "CR", line);
      session_refuse (s, &who, "DATA", &r);
      session_data_replied (s);
      session_transaction_reset (s);
      return;
    }
  if (data->too_big)
    {
      sg_reply_set (&r, 552, "5.3.4", SG_RULE_SIZE_EXCEEDED, "Message size exceeds fixed maximum "
                    "message size of %" G_GUINT64_FORMAT " bytes", data->max_size);
      sg_reply_set_log (&r, "message size %" G_GUINT64_FORMAT " exceeds %" G_GUINT64_FORMAT,
                        data->size, data->max_size);
      session_refuse (s, &who, "DATA", &r);
      session_data_replied (s);
      session_transaction_reset (s);
      return;
    }
  if (data->spill_error)
    {
      g_warning ("%s: writing the message to the spool failed: %s", s->env->queue_id,
                 data->spill_error->message);
      sg_reply_spool_error (&r, data->spill_error);
      session_refuse (s, &who, "DATA", &r);
      session_data_replied (s);
      session_transaction_reset (s);
      return;
    }

  /* the envelope goes with the message; the next one is the same client's */
  SgEnvelope *env = g_steal_pointer (&s->env);
  s->env = sg_envelope_next (env);
  env->arrival_us = g_get_real_time ();
  env->received = g_bytes_ref (data->spill.header);
  env->draft = sg_data_reader_steal_draft (data);
  env->content = sg_data_reader_steal (data);
  session_enter_state (s, SG_SESSION_SUBMITTED);
  s->progress++;
  s->hooks->submit (s, env, s->user_data);
}

void
sg_session_submit_done (SgSession *s, const SgReply *r)
{
  g_return_if_fail (s->state == SG_SESSION_SUBMITTED);
  guint code = r->code;
  session_reply_send (s, r);
  session_data_replied (s);
  if (code / 100 == 2)
    s->cmd_ok[s->bdat_fed ? CMD_BDAT : CMD_DATA]++;
  session_transaction_reset (s);
  s->progress++;
  if (code / 100 == 2)
    s->junk = 0;   /* mail moved: the commands around it were not junk */
  if (code == 421)
    {
      /* RFC 5321 3.8: a 421 closes the channel (a milter may answer so). */
      session_enter_state (s, SG_SESSION_CLOSING);
      return;
    }
  if (s->draining)
    {
      /* Stopping: what was pipelined after this message is not read. */
      sg_session_abort (s, "4.3.2", "Service shutting down");
      return;
    }
  /* Commands pipelined after the end of data were held; answer them now,
   * unless the answer came synchronously from inside process(). */
  if (!s->processing)
    sg_session_input (s, NULL, 0);
}

/* session_bdat_take - up to the rest of the current chunk from data; returns the
 * bytes used. */
gsize
session_bdat_take (SgSession *s, const char *data, gsize len)
{
  gsize take = (gsize) MIN ((guint64) len, s->bdat_left);
  if (!s->bdat_discard)
    bdat_feed (s, data, take);
  s->bdat_left -= take;
  if (s->bdat_left == 0)
    bdat_chunk_done (s);
  return take;
}
