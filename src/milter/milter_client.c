/* milter_client.c - drives one conversation per configured milter for each
 * message: connect, option negotiation, then connect/helo/mail/rcpt/data/
 * headers/eoh/body/eom as Postfix's milter8 sends them, then quit (abort
 * first on an early verdict). In the end-of-data conversation an
 * envelope-stage verdict applies to the whole message; an envelope-only one
 * (envelope_only, up_to) stops after the stage a client command waits for.
 * Each stage has a deadline fixed when it starts (progress does not move
 * it). Edits: headers only, within the message's budget (milter_edits.c).
 * The socket I/O is milter_conn.c's, the packets milter_proto.c's. */
#include "milter/milter_client.h"
#include "milter/milter_conn.h"
#include "milter/milter_edits.h"
#include "milter/milter_headers.h"
#include "milter/milter_proto.h"
#include "common/log.h"
#include "metrics/metrics.h"

#include <string.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN SG_LOG_CLEANUP

/* Above this many bytes of edits, freed memory is handed back to the
 * system after the message (glibc keeps freed heap otherwise). */
#define EDIT_TRIM_BYTES (1024u * 1024u)

/* How one milter's conversation ended. */
typedef enum {
  END_PASS,      /* continue: next step */
  END_ACCEPT,    /* accept: no more steps for this milter, the message goes on */
  END_VERDICT,   /* reject, tempfail or discard: out.verdict */
  END_FAILED,    /* down, timed out or broke the protocol: default_action */
} End;

/* What one milter decided; lives for that milter's turn in sg_milter_run(),
 * which copies what it keeps into the SgMilterResult. */
typedef struct {
  SgMilterVerdict verdict;
  guint           code;
  char            enhanced[16];
  char           *text;
  const char     *stage;
  char           *quarantine;   /* (nullable) reason */
  SgMilterEdits   edits;        /* at end of message (milter_edits.c) */
  SgMilterBudget *budget;       /* the message's, shared by its milters */
} Outcome;

/* ---- the conversation ---- */

static End
verdict (Outcome *out, SgMilterVerdict v, guint code, const char *enhanced, const char *text)
{
  out->verdict = v;
  out->code = code;
  g_strlcpy (out->enhanced, enhanced, sizeof out->enhanced);
  g_free (out->text);
  out->text = g_strdup (text);
  return END_VERDICT;
}

/* answer - read replies to the current command until a decision, before
 * the stage's deadline; edits and quarantine are taken only at end of
 * message. *skip is set for SKIP. */
static End
answer (SgMilterConn *c, Outcome *out, gboolean eom, gboolean *skip)
{
  for (;;)
    {
      SgMilterReply *r = g_new0 (SgMilterReply, 1);
      if (!sg_milter_conn_read (c, r))
        {
          g_free (r);
          return END_FAILED;
        }
      char cmd = r->cmd;
      switch (cmd)
        {
        case SG_SMFIR_CONTINUE:
          sg_milter_reply_free (r);
          return END_PASS;
        case SG_SMFIR_ACCEPT:
          sg_milter_reply_free (r);
          return END_ACCEPT;
        case SG_SMFIR_SKIP:
          sg_milter_reply_free (r);
          if (skip && (c->flags & SG_SMFIP_SKIP))
            {
              *skip = TRUE;
              return END_PASS;
            }
          break;
        case SG_SMFIR_PROGRESS:
          /* still working: fine, but the stage's deadline stays where it is */
          sg_milter_reply_free (r);
          continue;
        case SG_SMFIR_REJECT:
          sg_milter_reply_free (r);
          return verdict (out, SG_MILTER_REJECT, 550, "5.7.1", "Command rejected");
        case SG_SMFIR_TEMPFAIL:
          sg_milter_reply_free (r);
          return verdict (out, SG_MILTER_TEMPFAIL, 451, "4.7.1", "Service unavailable - try again later");
        case SG_SMFIR_DISCARD:
          sg_milter_reply_free (r);
          return verdict (out, SG_MILTER_DISCARD, 250, "2.0.0", "Ok");
        case SG_SMFIR_REPLYCODE:
          {
            End e = verdict (out, r->code >= 500 ? SG_MILTER_REJECT : SG_MILTER_TEMPFAIL,
                             r->code, r->enhanced, r->value);
            sg_milter_reply_free (r);
            return e;
          }
        case SG_SMFIR_QUARANTINE:
          if (!eom)
            break;
          g_free (out->quarantine);
          out->quarantine = g_steal_pointer (&r->value);
          sg_milter_reply_free (r);
          continue;
        case SG_SMFIR_ADDHEADER: case SG_SMFIR_INSHEADER: case SG_SMFIR_CHGHEADER:
        case SG_SMFIR_REPLBODY: case SG_SMFIR_ADDRCPT: case SG_SMFIR_DELRCPT:
        case SG_SMFIR_ADDRCPT_PAR: case SG_SMFIR_CHGFROM:
          if (!eom)
            break;
          /* Each packet is bounded; their number is not. */
          if (!sg_milter_edits_take (&out->edits, out->budget, c->actions, r, &c->error))
            return END_FAILED;
          continue;
        default:
          break;
        }
      g_set_error (&c->error, SG_MILTER_ERROR, SG_MILTER_ERROR_PROTOCOL,
                   "unexpected reply '%s' at %s", sg_milter_reply_name (cmd), out->stage);
      sg_milter_reply_free (r);
      return END_FAILED;
    }
}

/* stage - start stage name: whatever the milter sends, it ends timeout
 * seconds from now, or at the message's own deadline if that comes first. */
static void
stage (SgMilterConn *c, Outcome *out, const char *name, guint timeout)
{
  out->stage = name;
  c->deadline = g_get_monotonic_time () + (gint64) timeout * G_USEC_PER_SEC;
  if (c->in->deadline)
    c->deadline = MIN (c->deadline, c->in->deadline);
}

/* step - send buf (macros and one command) and, unless the milter said it
 * will not reply (nr_flag), wait for its answer; within the current stage. */
static End
step (SgMilterConn *c, Outcome *out, GByteArray *buf, guint32 nr_flag, gboolean eom, gboolean *skip)
{
  if (!sg_milter_conn_send (c, buf))
    return END_FAILED;
  if (c->version >= 6 && (c->flags & nr_flag))
    return END_PASS;
  return answer (c, out, eom, skip);
}

/* negotiate - SMFIC_OPTNEG: offer our version, every action, every step flag. */
static gboolean
negotiate (SgMilterConn *c, GByteArray *buf)
{
  guint32 version = c->config->milter_protocol;
  guint32 offer = version >= 6 ? SG_SMFIP_OFFER_V6 : SG_SMFIP_OFFER_V2;
  sg_milter_encode_optneg (buf, version, version >= 6 ? SG_SMFIF_ALL_V6 : SG_SMFIF_ALL_V2, offer);
  if (!sg_milter_conn_send (c, buf))
    return FALSE;
  SgMilterReply r = { 0 };
  if (!sg_milter_conn_read (c, &r))
    return FALSE;
  gboolean ok = r.cmd == SG_SMFIR_OPTNEG && r.version >= 2 && r.version <= 6;
  c->version = MIN (r.version, version);
  c->actions = r.actions;
  c->flags = r.flags & (offer | SG_SMFIP_MDS_MASK);
  if (!ok)
    g_set_error (&c->error, SG_MILTER_ERROR, SG_MILTER_ERROR_PROTOCOL,
                 "bad option negotiation reply '%s', version %u", sg_milter_reply_name (r.cmd),
                 r.version);
  sg_milter_reply_clear (&r);
  return ok;
}

/* bracket - "<addr>" as Postfix sends envelope addresses (transfer full). */
static char *
bracket (const char *addr)
{
  return g_strdup_printf ("<%s>", addr ? addr : "");
}

/* converse - the whole conversation with one milter about one message. */
static End
converse (SgMilterConn *c, Outcome *out, SgMilterHeaders *hdrs, const guint8 *body, gsize body_len)
{
  const SgMilterInput *in = c->in;
  const SgConfig *cf = c->config;
  g_autoptr(GByteArray) buf = g_byte_array_new ();
  const char *client_name = in->client_name ? in->client_name : "unknown";
  End e;

  /* CONNECT: connect_timeout to connect, then command_timeout for option
   * negotiation and the connect command together */
  stage (c, out, "CONNECT", cf->milter_connect_timeout);
  if (c->in->cancel && g_atomic_int_get (c->in->cancel))
    {
      g_set_error (&c->error, SG_MILTER_ERROR, SG_MILTER_ERROR_IO, "shutting down");
      return END_FAILED;
    }
  if (c->in->deadline && g_get_monotonic_time () >= c->in->deadline)
    {
      g_set_error (&c->error, SG_MILTER_ERROR, SG_MILTER_ERROR_TIMEOUT,
                   "timeout waiting for a free milter conversation ([milter] max_conversations)");
      return END_FAILED;
    }
  if (!sg_milter_conn_open (c))
    return END_FAILED;
  stage (c, out, "CONNECT", cf->milter_command_timeout);
  if (!negotiate (c, buf))
    return END_FAILED;

  if (!(c->flags & SG_SMFIP_NOCONNECT))
    {
      const char *m[] = { "j", in->hostname, "{daemon_name}", "spoolgate", "v", "spoolgate",
                          "{client_addr}", in->client_address, "{client_name}", client_name,
                          "_", NULL, NULL };
      g_autofree char *underscore = g_strdup_printf ("%s [%s]", client_name, in->client_address);
      m[11] = underscore;
      sg_milter_encode_macros (buf, SG_SMFIC_CONNECT, m);
      sg_milter_encode_connect (buf, client_name, in->client_address, in->client_port);
      if ((e = step (c, out, buf, SG_SMFIP_NR_CONN, FALSE, NULL)) != END_PASS)
        return e;
    }
  if (in->envelope_only && in->up_to == SG_MILTER_UP_TO_CONNECT)
    return END_PASS;   /* the greeting's verdict only */
  if (!(c->flags & SG_SMFIP_NOHELO) && in->helo)
    {
      const char *m[] = { "{tls_version}", in->tls_version, "{cipher}", in->cipher, NULL };
      const char *s[] = { in->helo, NULL };
      sg_milter_encode_macros (buf, SG_SMFIC_HELO, m);
      sg_milter_encode_strings (buf, SG_SMFIC_HELO, s);
      stage (c, out, "HELO", cf->milter_command_timeout);
      if ((e = step (c, out, buf, SG_SMFIP_NR_HELO, FALSE, NULL)) != END_PASS)
        return e;
    }
  if (in->envelope_only && in->up_to == SG_MILTER_UP_TO_HELO)
    return END_PASS;   /* HELO's verdict only */
  if (!(c->flags & SG_SMFIP_NOMAIL))
    {
      g_autofree char *from = bracket (in->sender);
      const char *m[] = { "i", in->queue_id, "{mail_addr}", in->sender, NULL };
      const char *s[] = { from, NULL };
      sg_milter_encode_macros (buf, SG_SMFIC_MAIL, m);
      sg_milter_encode_strings (buf, SG_SMFIC_MAIL, s);
      stage (c, out, "MAIL", cf->milter_command_timeout);
      if ((e = step (c, out, buf, SG_SMFIP_NR_MAIL, FALSE, NULL)) != END_PASS)
        return e;
    }
  if (in->envelope_only && in->up_to == SG_MILTER_UP_TO_MAIL)
    return END_PASS;   /* MAIL's verdict only */
  /* RCPT: one stage, every recipient within one command_timeout */
  stage (c, out, "RCPT", cf->milter_command_timeout);
  for (guint i = 0; !(c->flags & SG_SMFIP_NORCPT) && in->recipients[i]; i++)
    {
      g_autofree char *to = bracket (in->recipients[i]);
      const char *m[] = { "{rcpt_addr}", in->recipients[i], NULL };
      const char *s[] = { to, NULL };
      sg_milter_encode_macros (buf, SG_SMFIC_RCPT, m);
      sg_milter_encode_strings (buf, SG_SMFIC_RCPT, s);
      /* accept at RCPT accepts that recipient only (libmilter's xxfi_envrcpt) */
      if ((e = step (c, out, buf, SG_SMFIP_NR_RCPT, FALSE, NULL)) != END_PASS
          && e != END_ACCEPT)
        return e;
    }
  if (in->envelope_only)
    return END_PASS;   /* the caller only wanted the envelope's verdict */
  if (c->version >= 4 && !(c->flags & SG_SMFIP_NODATA))
    {
      const char *m[] = { "i", in->queue_id, NULL };
      sg_milter_encode_macros (buf, SG_SMFIC_DATA, m);
      sg_milter_encode (buf, SG_SMFIC_DATA, NULL, 0);
      stage (c, out, "DATA", cf->milter_command_timeout);
      if ((e = step (c, out, buf, SG_SMFIP_NR_DATA, FALSE, NULL)) != END_PASS)
        return e;
    }
  /* END-OF-MESSAGE: headers, body and end of message within one content_timeout */
  stage (c, out, "END-OF-MESSAGE", cf->milter_content_timeout);
  gboolean leadspc = (c->flags & SG_SMFIP_HDR_LEADSPC) != 0;
  for (guint i = 0; !(c->flags & SG_SMFIP_NOHDRS) && i < sg_milter_headers_count (hdrs); i++)
    {
      g_autofree char *value = sg_milter_headers_value (hdrs, i, leadspc);
      const char *s[] = { sg_milter_headers_name (hdrs, i), value, NULL };
      sg_milter_encode_strings (buf, SG_SMFIC_HEADER, s);
      if ((e = step (c, out, buf, SG_SMFIP_NR_HDR, FALSE, NULL)) != END_PASS)
        return e;
    }
  if (!(c->flags & SG_SMFIP_NOEOH))
    {
      const char *m[] = { "i", in->queue_id, NULL };
      sg_milter_encode_macros (buf, SG_SMFIC_EOH, m);
      sg_milter_encode (buf, SG_SMFIC_EOH, NULL, 0);
      if ((e = step (c, out, buf, SG_SMFIP_NR_EOH, FALSE, NULL)) != END_PASS)
        return e;
    }
  gboolean skip = FALSE;
  for (gsize off = 0; !(c->flags & SG_SMFIP_NOBODY) && !skip && off < body_len; off += SG_MILTER_CHUNK)
    {
      sg_milter_encode (buf, SG_SMFIC_BODY, body + off, MIN (SG_MILTER_CHUNK, body_len - off));
      if ((e = step (c, out, buf, SG_SMFIP_NR_BODY, FALSE, &skip)) != END_PASS)
        return e;
    }
  const char *m[] = { "i", in->queue_id, NULL };
  sg_milter_encode_macros (buf, SG_SMFIC_BODYEOB, m);
  sg_milter_encode (buf, SG_SMFIC_BODYEOB, NULL, 0);
  return step (c, out, buf, 0, TRUE, NULL);
}

/* ---- the run over all milters ---- */

static const char *
verdict_name (SgMilterVerdict v)
{
  static const char *const names[] = { "accept", "reject", "tempfail", "discard", "quarantine" };
  return names[v];
}

/* log_verdict - Postfix's "ID: milter-reject: STAGE from HELO[ADDR]: X.Y.Z
 * text; from=<> to=<> proto=P helo=<H>" (milter-discard, milter-hold alike),
 * then which milter, and for a refusal its rule id (reply/reject.h). */
static void
log_verdict (const SgMilterInput *in, const char *kind, const char *stage, const char *what,
             const char *milter)
{
  g_autofree char *helo = sg_log_sanitize (in->helo ? in->helo : "unknown", -1, SG_LOG_FIELD_MAX);
  g_autofree char *from = sg_log_sanitize (in->sender, -1, SG_LOG_FIELD_MAX);
  g_autofree char *to = sg_log_sanitize (in->recipients[0] ? in->recipients[0] : "", -1, SG_LOG_FIELD_MAX);
  g_autofree char *text = sg_log_sanitize (what, -1, SG_LOG_FIELD_MAX);
  g_message ("%s: %s: %s from %s[%s]: %s; from=<%s> to=<%s> proto=%s helo=<%s> milter=%s%s",
             in->queue_id, kind, stage, in->client_name ? in->client_name : "unknown",
             in->client_address, text, from, to,
             sg_log_proto (in->protocol), helo, milter,
             strcmp (kind, "milter-reject") == 0 ? " rule=milter" : "");
}

void
sg_milter_result_free (SgMilterResult *res)
{
  if (!res)
    return;
  g_free (res->enhanced);
  g_free (res->text);
  g_free (res->milter);
  g_free (res->quarantine_reason);
  g_clear_pointer (&res->header, g_bytes_unref);
  g_clear_pointer (&res->body, g_bytes_unref);
  g_clear_pointer (&res->json, json_node_unref);
  g_free (res);
}

/* default_verdict - [milter] default_action for a milter that failed. */
static gboolean
default_verdict (const SgConfig *cf, Outcome *out)
{
  if (g_strcmp0 (cf->milter_default_action, "accept") == 0)
    return FALSE;
  if (g_strcmp0 (cf->milter_default_action, "reject") == 0)
    verdict (out, SG_MILTER_REJECT, 550, "5.7.1", "Command rejected");
  else
    verdict (out, SG_MILTER_TEMPFAIL, 451, "4.7.1", "Service unavailable - try again later");
  return TRUE;
}

SgMilterResult *
sg_milter_run (const SgConfig *cf, const SgMilterInput *in)
{
  if (!cf->milter_servers || !cf->milter_servers[0])
    return NULL;
  SgMilterResult *res = g_new0 (SgMilterResult, 1);
  gsize body_off = 0, content_len = 0;
  const guint8 *content = in->content ? g_bytes_get_data (in->content, &content_len) : NULL;
  g_autoptr(SgMilterHeaders) hdrs = sg_milter_headers_new (in->received, in->content, &body_off);
  g_autoptr(JsonBuilder) jb = json_builder_new ();
  json_builder_begin_array (jb);
  /* Edits may add what the client left unused of max_message_size (our
   * Received: aside, as at DATA). */
  SgMilterBudget budget = {
    .max_edits = cf->milter_max_edits, .max_size = cf->max_message_size,
    .room = cf->max_message_size > content_len ? cf->max_message_size - content_len : 0,
  };
  guint64 trim = 0;
  guint settled = 0;   /* milters done with this session's envelope stages */

  for (guint i = 0; cf->milter_servers[i] && res->verdict != SG_MILTER_REJECT
                    && res->verdict != SG_MILTER_TEMPFAIL && res->verdict != SG_MILTER_DISCARD; i++)
    {
      SgMilterConn c = { .config = cf, .in = in, .name = cf->milter_servers[i], .fd = -1,
                 .inbuf = g_byte_array_new () };
      Outcome out = { .budget = &budget };
      sg_milter_edits_init (&out.edits);
      SgMilterBudget before = budget;
      gint64 start = g_get_monotonic_time ();
      End e = converse (&c, &out, hdrs, content ? content + body_off : NULL, content_len - body_off);
      trim = MAX (trim, budget.cost);
      g_autofree char *failure = c.error ? g_strdup (c.error->message) : NULL;
      const char *action = "accept";
      gboolean by_default = FALSE;
      if (e == END_FAILED && in->envelope_only)
        {
          /* at RCPT a milter that fails is passed over: the end-of-DATA
           * conversation meets it again, and applies default_action there */
          g_debug ("%s: milter %s at %s: %s; left to the end of data", in->queue_id, c.name,
                   out.stage, failure ? failure : "failed");
          e = END_PASS;
          settled++;
        }
      else if (in->envelope_only && e == END_ACCEPT && out.stage
               && (strcmp (out.stage, "CONNECT") == 0 || strcmp (out.stage, "HELO") == 0))
        settled++;
      if (e == END_FAILED)
        {
          g_warning ("%s: milter %s: %s at %s after %.1f s; default_action=%s", in->queue_id,
                     c.name, failure ? failure : "failed", out.stage,
                     (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC,
                     cf->milter_default_action);
          by_default = default_verdict (cf, &out);
          action = "error";
          g_clear_pointer (&out.quarantine, g_free);
          budget = before;   /* none of its edits are made */
        }
      else if (e == END_PASS || e == END_ACCEPT)
        {
          sg_milter_edits_apply (&out.edits, hdrs, (c.flags & SG_SMFIP_HDR_LEADSPC) != 0);
          sg_milter_edits_log (&out.edits, in->queue_id, c.name);
          if (out.quarantine)
            {
              action = "quarantine";
              g_autofree char *reason = g_strdup_printf ("milter triggers HOLD action (%s)", out.quarantine);
              log_verdict (in, "milter-hold", out.stage, reason, c.name);
              res->verdict = SG_MILTER_QUARANTINE;
              g_free (res->milter);
              res->milter = g_strdup (c.name);
              g_free (res->quarantine_reason);
              res->quarantine_reason = g_strdup (out.quarantine);
            }
        }
      if (in->envelope_only && e == END_PASS && c.fd >= 0)
        {
          /* the transaction goes no further with this conversation */
          g_autoptr(GByteArray) buf = g_byte_array_new ();
          sg_milter_encode (buf, SG_SMFIC_ABORT, NULL, 0);
          c.deadline = g_get_monotonic_time () + G_USEC_PER_SEC;
          sg_milter_conn_send (&c, buf);
        }
      if (e == END_VERDICT || by_default)
        {
          action = verdict_name (out.verdict);
          if (e == END_FAILED)
            action = "error";
          if (c.fd >= 0)
            {
              g_autoptr(GByteArray) buf = g_byte_array_new ();
              sg_milter_encode (buf, SG_SMFIC_ABORT, NULL, 0);
              g_clear_error (&c.error);
              c.deadline = g_get_monotonic_time () + G_USEC_PER_SEC;
              sg_milter_conn_send (&c, buf);
            }
          res->verdict = out.verdict;
          res->code = out.code;
          res->enhanced = g_strdup (out.enhanced);
          res->text = g_strdup (out.text);
          g_free (res->milter);
          res->milter = g_strdup (c.name);
          res->stage = out.stage;
          res->by_default = by_default;
          if (out.verdict == SG_MILTER_DISCARD)
            log_verdict (in, "milter-discard", out.stage, "milter triggers DISCARD action", c.name);
          else
            {
              g_autofree char *what = g_strdup_printf ("%s %s", out.enhanced, out.text);
              log_verdict (in, "milter-reject", out.stage, what, c.name);
            }
        }
      if (c.fd >= 0)
        {
          g_autoptr(GByteArray) buf = g_byte_array_new ();
          sg_milter_encode (buf, SG_SMFIC_QUIT, NULL, 0);
          g_clear_error (&c.error);
          c.deadline = g_get_monotonic_time () + G_USEC_PER_SEC;
          sg_milter_conn_send (&c, buf);
          close (c.fd);
        }
      if (!in->envelope_only || e == END_VERDICT)
        sg_metrics_milter (c.name, action);   /* one count per message, not per RCPT asked */

      json_builder_begin_object (jb);
      json_builder_set_member_name (jb, "server");
      json_builder_add_string_value (jb, c.name);
      json_builder_set_member_name (jb, "action");
      json_builder_add_string_value (jb, action);
      json_builder_set_member_name (jb, "headers_added");
      json_builder_add_int_value (jb, out.edits.added);
      json_builder_set_member_name (jb, "headers_changed");
      json_builder_add_int_value (jb, out.edits.changed);
      json_builder_set_member_name (jb, "refused");
      json_builder_add_int_value (jb, out.edits.refused);
      json_builder_set_member_name (jb, "reason");
      if (out.quarantine)
        json_builder_add_string_value (jb, out.quarantine);
      else if (failure)
        json_builder_add_string_value (jb, failure);
      else
        json_builder_add_null_value (jb);
      json_builder_end_object (jb);

      g_clear_error (&c.error);
      g_byte_array_unref (c.inbuf);
      sg_milter_edits_clear (&out.edits);
      g_free (out.text);
      g_free (out.quarantine);
    }
  json_builder_end_array (jb);
  res->settled = in->envelope_only && settled == g_strv_length (cf->milter_servers);
  g_autoptr(JsonNode) list = json_builder_get_root (jb);

  g_autoptr(JsonBuilder) ob = json_builder_new ();
  json_builder_begin_object (ob);
  json_builder_set_member_name (ob, "verdict");
  json_builder_add_string_value (ob, verdict_name (res->verdict));
  json_builder_set_member_name (ob, "quarantine_reason");
  if (res->quarantine_reason)
    json_builder_add_string_value (ob, res->quarantine_reason);
  else
    json_builder_add_null_value (ob);
  json_builder_set_member_name (ob, "milters");
  json_builder_add_value (ob, g_steal_pointer (&list));
  json_builder_end_object (ob);
  res->json = json_builder_get_root (ob);

  if (sg_milter_headers_changed (hdrs))
    {
      res->header = sg_milter_headers_bytes (hdrs);
      res->body = content ? g_bytes_new_from_bytes (in->content, body_off, content_len - body_off)
                          : g_bytes_new (NULL, 0);
    }
#ifdef __GLIBC__
  if (trim > EDIT_TRIM_BYTES)
    {
      g_clear_pointer (&hdrs, sg_milter_headers_free);
      malloc_trim (0);
    }
#endif
  return res;
}

gint64
sg_milter_budget (const SgConfig *cf)
{
  guint n = cf->milter_servers ? g_strv_length (cf->milter_servers) : 0;
  return (gint64) n * G_USEC_PER_SEC
         * ((gint64) cf->milter_connect_timeout + 5 * (gint64) cf->milter_command_timeout
            + (gint64) cf->milter_content_timeout);
}
