/* attempt.c - the queue's rules for one message, applied to its metadata:
 * per-recipient outcomes (2xx delivered, 4xx deferred, 5xx failed), the
 * attempt history, exponential backoff, expiry after max_lifetime, and
 * finishing (non-delivery report, then delivered/failed or removal), with
 * one log line and one count per recipient outcome. Does no network I/O and
 * takes no locks; worker.c holds the message lock. */
#include "queue/queue_private.h"
#include "queue/dsn.h"
#include "common/log.h"
#include "metrics/metrics.h"

#include <string.h>

/* The queue's own lines are qmgr's; a delivery line is smtp's and a
 * notice to the sender bounce's, each named where it is logged. */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN SG_LOG_QMGR

void
sg_job_result_free (SgJobResult *r)
{
  if (!r)
    return;
  g_free (r->queue_id);
  g_free (r->dsn_id);
  g_free (r);
}

guint
sg_queue_backoff (const SgConfig *c, guint attempts)
{
  guint64 delay = c->queue_min_backoff;
  for (guint i = 1; i < attempts && delay < c->queue_max_backoff; i++)
    delay *= 2;
  return (guint) MIN (delay, (guint64) c->queue_max_backoff);
}

GPtrArray *
sg_queue_pending (const SgMeta *meta)
{
  GPtrArray *p = g_ptr_array_new ();
  for (guint i = 0; i < meta->recipients->len; i++)
    {
      SgMetaRecipient *r = g_ptr_array_index (meta->recipients, i);
      if (r->status == SG_RCPT_PENDING || r->status == SG_RCPT_DEFERRED)
        g_ptr_array_add (p, r);
    }
  return p;
}

gboolean
sg_queue_all_delivered (const SgMeta *meta)
{
  for (guint i = 0; i < meta->recipients->len; i++)
    if (((SgMetaRecipient *) g_ptr_array_index (meta->recipients, i))->status != SG_RCPT_DELIVERED)
      return FALSE;
  return TRUE;
}

/* format_seconds - µs as Postfix prints delays: two decimals below 10 s,
 * one below 100 s, whole seconds above (transfer full). */
static char *
format_seconds (gint64 us)
{
  double sec = MAX (us, 0) / (double) G_USEC_PER_SEC;
  if (sec < 10)
    return g_strdup_printf ("%.2f", sec);
  if (sec < 100)
    return g_strdup_printf ("%.1f", sec);
  return g_strdup_printf ("%.0f", sec);
}

/* find_enhanced - the first RFC 3463 code "C.S.D" (C 2, 4 or 5) in text;
 * FALSE if none. */
static gboolean
find_enhanced (const char *text, char out[16])
{
  for (const char *p = text; p != NULL && *p; p++)
    {
      if ((*p != '2' && *p != '4' && *p != '5') || p[1] != '.' || (p > text && !g_ascii_isspace (p[-1])))
        continue;
      const char *q = p + 2;
      guint subject = 0, detail = 0;
      while (g_ascii_isdigit (*q) && subject < 4)
        q++, subject++;
      if (subject == 0 || subject > 3 || *q != '.')
        continue;
      q++;
      while (g_ascii_isdigit (*q) && detail < 4)
        q++, detail++;
      if (detail == 0 || detail > 3 || (*q != '\0' && !g_ascii_isspace (*q) && *q != ')' && *q != ';'))
        continue;
      g_strlcpy (out, p, MIN ((gsize) (q - p) + 1, 16));
      return TRUE;
    }
  return FALSE;
}

/* Failures without a reply, as Postfix's smtp client codes them (RFC 3463
 * 3.5, network and routing status), found by the text transport.c and
 * client.c give them; the first that matches wins. */
static const struct {
  const char *says;
  const char *code;   /* class set by the outcome */
} no_reply_codes[] = {
  { "cannot resolve ", "X.4.3" },   /* directory server failure: the name did not resolve */
  { "connect to ", "X.4.1" },       /* no answer from host: refused, unreachable, timed out */
  { "lost connection", "X.4.2" },   /* bad connection: it broke during the session */
  { "read from ", "X.4.2" },
  { "write to ", "X.4.2" },
  { "timed out", "X.4.2" },
};

/* sg_queue_dsn_code - dsn= of a recipient as Postfix logs it: the enhanced
 * code of the reply, its class made to agree with the outcome (a 5xx that
 * only defers the message is 4.x.x); for no reply, the network code of
 * no_reply_codes; X.0.0 otherwise. */
void
sg_queue_dsn_code (SgRcptStatus status, const char *reply, char out[16])
{
  char cls = status == SG_RCPT_DELIVERED ? '2' : status == SG_RCPT_FAILED ? '5' : '4';
  if (!find_enhanced (reply, out))
    {
      g_strlcpy (out, "X.0.0", 16);
      for (guint i = 0; reply != NULL && i < G_N_ELEMENTS (no_reply_codes); i++)
        if (strstr (reply, no_reply_codes[i].says) != NULL)
          {
            g_strlcpy (out, no_reply_codes[i].code, 16);
            break;
          }
    }
  out[0] = cls;
}

/* log_recipient - the Postfix-style delivery line for one recipient (smtp's),
 * and its count in spoolgate_deliveries_total:
 *   ID: to=<rcpt>, relay=host[ip]:port, delay=S, delays=a/b/c/d, dsn=X.Y.Z,
 *   status=sent (reply)
 * (TLS is on the "... TLS connection established to ..." line before it.)
 * delay runs from arrival to the end of this attempt; delays splits it
 * (attempt.h: SgAttempt). a (nullable: an expiry, nothing attempted);
 * dsn (nullable) overrides the code found in the reply. */
static void
log_recipient (const SgMeta *meta, const SgMetaRecipient *r, const SgAttempt *a,
               const char *dsn)
{
  static const char *const status[] = {
    [SG_RCPT_PENDING] = "deferred", [SG_RCPT_DEFERRED] = "deferred",
    [SG_RCPT_DELIVERED] = "sent", [SG_RCPT_FAILED] = "bounced",
  };
  static const SgDeliveryResult result[] = {
    [SG_RCPT_PENDING] = SG_DELIVERY_DEFERRED, [SG_RCPT_DEFERRED] = SG_DELIVERY_DEFERRED,
    [SG_RCPT_DELIVERED] = SG_DELIVERY_DELIVERED, [SG_RCPT_FAILED] = SG_DELIVERY_FAILED,
  };
  sg_metrics_delivery (result[r->status]);
  g_autofree char *addr = sg_log_sanitize (r->address, -1, SG_LOG_FIELD_MAX);
  gint64 arrival = meta->arrival_time_us;
  gint64 end = a ? a->end_us : g_get_real_time ();
  gint64 taken = a ? a->taken_us : end;
  gint64 setup = a ? a->setup_us : end;
  gint64 ready = a ? a->ready_us : end;
  g_autofree char *delay = format_seconds (end - arrival);
  g_autofree char *da = format_seconds (taken - arrival);
  g_autofree char *db = format_seconds (setup - taken);
  g_autofree char *dc = format_seconds (ready - setup);
  g_autofree char *dd = format_seconds (end - ready);
  char code[16];
  if (dsn != NULL)
    g_strlcpy (code, dsn, sizeof code);
  else
    sg_queue_dsn_code (r->status, r->delay_reason, code);
  const char *relay = a && a->relay ? a->relay : "none";
  sg_log_info (SG_LOG_SMTP, "%s: to=<%s>, relay=%s, delay=%s, delays=%s/%s/%s/%s, dsn=%s, status=%s (%s)",
               meta->queue_id, addr, relay, delay, da, db, dc, dd, code,
               status[r->status], r->delay_reason ? r->delay_reason : "");
}

/* history_add - append one attempt object to attempt_history, keeping at
 * most max ([queue] max_history; schema: $defs/attempt). */
static void
history_add (SgMeta *meta, JsonNode *entry, guint max)
{
  if (!meta->attempt_history || !JSON_NODE_HOLDS_ARRAY (meta->attempt_history))
    {
      g_clear_pointer (&meta->attempt_history, json_node_unref);
      meta->attempt_history = json_node_new (JSON_NODE_ARRAY);
      json_node_take_array (meta->attempt_history, json_array_new ());
    }
  JsonArray *a = json_node_get_array (meta->attempt_history);
  json_array_add_element (a, entry);
  while (json_array_get_length (a) > max)
    json_array_remove_element (a, 0);
}

static void
set_nullable (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  if (value)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

/* history_entry - {time, relay, tls_protocol, tls_cipher, tls_verified,
 * result, reply, recipients: [{address, status, reply}]} for the
 * recipients in rcpts; tls_verified only when TLS was reached. */
static JsonNode *
history_entry (gint64 time, const char *relay, const char *proto, const char *cipher,
               gboolean verified, const char *result, const char *reply, GPtrArray *rcpts)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "time");
  json_builder_add_int_value (b, time);
  set_nullable (b, "relay", relay);
  set_nullable (b, "tls_protocol", proto);
  set_nullable (b, "tls_cipher", cipher);
  if (proto != NULL)
    {
      json_builder_set_member_name (b, "tls_verified");
      json_builder_add_boolean_value (b, verified);
    }
  set_nullable (b, "result", result);
  set_nullable (b, "reply", reply);
  json_builder_set_member_name (b, "recipients");
  json_builder_begin_array (b);
  for (guint i = 0; i < rcpts->len; i++)
    {
      const SgMetaRecipient *r = g_ptr_array_index (rcpts, i);
      json_builder_begin_object (b);
      set_nullable (b, "address", r->address);
      set_nullable (b, "status", sg_meta_rcpt_status_name (r->status));
      set_nullable (b, "reply", r->delay_reason);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* lifetime_start - when max_lifetime and delay_warning count from:
 * arrival, or the last requeue or release (doc/queue-lifecycle.md). */
static gint64
lifetime_start (const SgMeta *meta)
{
  return meta->lifetime_start > 0 ? meta->lifetime_start : meta->arrival_time_us / G_USEC_PER_SEC;
}

/* schedule - after an attempt that left recipients pending: the next try
 * after the backoff, but no later than the expiry time. */
static void
schedule (SgMeta *meta, const SgConfig *c, gint64 now, gboolean interrupted)
{
  gint64 next = now + (interrupted ? 0 : sg_queue_backoff (c, meta->attempts));
  gint64 expiry = lifetime_start (meta) + c->queue_max_lifetime;
  meta->state = SG_MSG_DEFERRED;
  meta->next_attempt = MAX (now, MIN (next, expiry));
}

void
sg_queue_apply (SgMeta *meta, const SgAttempt *a, const SgConfig *c, gint64 now)
{
  guint delivered = 0, deferred = 0, failed = 0;
  const char *first_problem = NULL;
  meta->attempts++;
  for (guint i = 0; i < a->recipients->len; i++)
    {
      SgMetaRecipient *r = g_ptr_array_index (a->recipients, i);
      const SgRcptOutcome *o = g_ptr_array_index (a->outcomes, i);
      g_free (r->delay_reason);
      if (a->error)
        {
          r->status = SG_RCPT_DEFERRED;
          r->delay_reason = g_strdup (a->error);
        }
      else
        {
          r->status = o->code / 100 == 2 ? SG_RCPT_DELIVERED
                    : o->code / 100 == 5 ? SG_RCPT_FAILED : SG_RCPT_DEFERRED;
          /* RFC 3461 5.2.2: relayed to a server without DSN, SUCCESS asked:
           * the "relayed" notice is ours to send. */
          if (r->status == SG_RCPT_DELIVERED && !o->dsn_passed && sg_dsn_wants_success (r))
            r->relay_notice = SG_RELAY_NOTICE_DUE;
          r->delay_reason = g_strdup (o->reply ? o->reply : "no reply from the smarthost");
        }
      r->updated = now;
      delivered += r->status == SG_RCPT_DELIVERED;
      deferred += r->status == SG_RCPT_DEFERRED;
      failed += r->status == SG_RCPT_FAILED;
      if (r->status != SG_RCPT_DELIVERED && !first_problem)
        first_problem = r->delay_reason;
      log_recipient (meta, r, a, NULL);
    }
  const char *result = a->interrupted ? "interrupted"
                     : delivered == a->recipients->len ? "sent"
                     : deferred == a->recipients->len ? "deferred"
                     : failed == a->recipients->len ? "bounced" : "mixed";
  history_add (meta, history_entry (a->time, a->relay, a->tls_protocol, a->tls_cipher,
                                    a->tls_verified, result, a->error, a->recipients),
               c->queue_max_history);
  if (first_problem)
    {
      g_free (meta->last_error);
      meta->last_error = g_strdup (first_problem);
    }
  g_autoptr(GPtrArray) pending = sg_queue_pending (meta);
  if (pending->len > 0)
    schedule (meta, c, now, a->interrupted);
  else
    meta->next_attempt = 0;   /* finished: sg_queue_finish() comes next */
}

gboolean
sg_queue_expired (const SgMeta *meta, const SgConfig *c, gint64 now)
{
  return lifetime_start (meta) + (gint64) c->queue_max_lifetime <= now;
}

void
sg_queue_expire (SgMeta *meta, const SgConfig *c, gint64 now)
{
  g_autoptr(GPtrArray) pending = sg_queue_pending (meta);
  for (guint i = 0; i < pending->len; i++)
    {
      SgMetaRecipient *r = g_ptr_array_index (pending, i);
      const char *last = r->delay_reason ? r->delay_reason
                       : meta->last_error ? meta->last_error : "never attempted";
      char *why = g_strdup_printf ("expired after %u attempt%s: %s", meta->attempts,
                                   meta->attempts == 1 ? "" : "s", last);
      g_free (r->delay_reason);
      r->delay_reason = why;
      r->status = SG_RCPT_FAILED;
      r->updated = now;
      log_recipient (meta, r, NULL, "5.4.7");   /* RFC 3463: delivery time expired */
    }
  history_add (meta, history_entry (now, NULL, NULL, NULL, FALSE, "expired", "message expired", pending),
               c->queue_max_history);
  g_free (meta->last_error);
  meta->last_error = g_strdup ("expired");
  meta->next_attempt = 0;
}

gint64
sg_queue_finished_at (const SgMeta *meta)
{
  gint64 last = 0;
  for (guint i = 0; i < meta->recipients->len; i++)
    last = MAX (last, ((SgMetaRecipient *) g_ptr_array_index (meta->recipients, i))->updated);
  return last;
}

gint64
sg_queue_next_look (const SgMeta *meta, const SgConfig *c)
{
  switch (meta->state)
    {
    case SG_MSG_QUEUED:
    case SG_MSG_DEFERRED:
      return MAX (meta->next_attempt, 0);
    case SG_MSG_DELIVERED:
      return sg_queue_finished_at (meta) + c->queue_keep_delivered;
    case SG_MSG_FAILED:
      /* the administrator's for [queue] failed_lifetime (0: for ever) */
      return c->queue_failed_lifetime > 0 ? sg_queue_finished_at (meta) + c->queue_failed_lifetime
                                          : -1;
    default:
      return -1;   /* held: the administrator's */
    }
}

gboolean
sg_queue_relay_notice (SgSpool *spool, SgMeta *meta, const SgConfig *c, gint64 now, char **dsn_id,
                       GError **error)
{
  gboolean due = FALSE;
  for (guint i = 0; i < meta->recipients->len; i++)
    due |= ((SgMetaRecipient *) g_ptr_array_index (meta->recipients, i))->relay_notice
           == SG_RELAY_NOTICE_DUE;
  if (!due || meta->sender[0] == '\0')
    return TRUE;
  g_autofree char *id = sg_dsn_queue_kind (spool, meta, SG_DSN_RELAYED, c->hostname, now, error);
  if (!id)
    return FALSE;
  for (guint i = 0; i < meta->recipients->len; i++)
    {
      SgMetaRecipient *r = g_ptr_array_index (meta->recipients, i);
      if (r->relay_notice == SG_RELAY_NOTICE_DUE)
        r->relay_notice = SG_RELAY_NOTICE_SENT;
    }
  sg_log_info (SG_LOG_BOUNCE, "%s: sender delivery status notification: %s", meta->queue_id, id);
  if (!*dsn_id)
    *dsn_id = g_steal_pointer (&id);   /* else the queue watch finds it */
  return TRUE;
}

gboolean
sg_queue_delay_notice (SgSpool *spool, SgMeta *meta, const SgConfig *c, gint64 now, char **dsn_id,
                       GError **error)
{
  if (c->queue_delay_warning == 0 || meta->delay_warned || meta->sender[0] == '\0'
      || lifetime_start (meta) + (gint64) c->queue_delay_warning > now)
    return TRUE;
  gboolean wanted = FALSE;
  for (guint i = 0; i < meta->recipients->len; i++)
    {
      const SgMetaRecipient *r = g_ptr_array_index (meta->recipients, i);
      wanted |= (r->status == SG_RCPT_DEFERRED || r->status == SG_RCPT_PENDING)
                && sg_dsn_wants_delay (r);
    }
  if (!wanted)
    return TRUE;
  /* Durable before the mark: a crash in between can repeat it, never lose it. */
  g_autofree char *id = sg_dsn_queue_kind (spool, meta, SG_DSN_DELAY, c->hostname, now, error);
  if (!id)
    return FALSE;
  meta->delay_warned = TRUE;
  sg_log_info (SG_LOG_BOUNCE, "%s: sender delay notification: %s", meta->queue_id, id);
  if (!*dsn_id)
    *dsn_id = g_steal_pointer (&id);   /* else the queue watch finds it */
  return TRUE;
}

gboolean
sg_queue_finish (SgSpool *spool, SgMeta *meta, const SgConfig *c, gint64 now, char **dsn_id,
                 gboolean *removed, GError **error)
{
  gboolean failed = FALSE, report = FALSE, reported = FALSE;
  *removed = FALSE;
  for (guint i = 0; i < meta->recipients->len; i++)
    {
      const SgMetaRecipient *r = g_ptr_array_index (meta->recipients, i);
      failed |= r->status == SG_RCPT_FAILED;
      /* at most one report per recipient, ever: not again after a requeue */
      report |= r->status == SG_RCPT_FAILED && sg_dsn_wants_failure (r) && r->bounced == 0;
      reported |= r->status == SG_RCPT_FAILED && r->bounced > 0;
    }
  /* The report is durable before the original is marked finished, so a
   * crash in between can duplicate it but never lose it. A bounce (sender
   * <>) never bounces (RFC 5321 4.5.5). */
  if (report && meta->sender[0] != '\0')
    {
      *dsn_id = sg_dsn_queue (spool, meta, c->hostname, c->queue_bounce_size_limit, now, error);
      if (!*dsn_id)
        return FALSE;
      for (guint i = 0; i < meta->recipients->len; i++)
        {
          SgMetaRecipient *r = g_ptr_array_index (meta->recipients, i);
          if (r->status == SG_RCPT_FAILED && sg_dsn_wants_failure (r) && r->bounced == 0)
            r->bounced = now;
        }
      sg_log_info (SG_LOG_BOUNCE, "%s: sender non-delivery notification: %s", meta->queue_id, *dsn_id);
    }
  else if (failed && reported && meta->sender[0] != '\0')
    g_message ("%s: no non-delivery notification: sent already for its failed recipients "
               "(one per recipient, ever)", meta->queue_id);
  else if (failed && meta->sender[0] == '\0')
    g_message ("%s: no non-delivery notification: the sender is <>", meta->queue_id);
  else if (failed)
    g_message ("%s: no non-delivery notification: NOTIFY without FAILURE (RFC 3461)",
               meta->queue_id);
  meta->state = failed ? SG_MSG_FAILED : SG_MSG_DELIVERED;
  meta->next_attempt = 0;
  if (!failed && c->queue_keep_delivered == 0)
    {
      if (!sg_spool_retire (spool, meta->queue_id, error))
        return FALSE;
      *removed = TRUE;
      g_message ("%s: removed", meta->queue_id);
      return TRUE;
    }
  if (!sg_spool_update_meta (spool, meta, error))
    return FALSE;
  if (failed)
    g_message ("%s: failed; kept in the queue for the administrator", meta->queue_id);
  return TRUE;
}
