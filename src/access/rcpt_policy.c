/* rcpt_policy.c - the recipient policy: the [access] tables (access_table.c)
 * and address verification (verify/verify.c) turned into RCPT verdicts.
 * Order, as Postfix's smtpd_recipient_restrictions would be written for an
 * edge MX: check_sender_access, check_recipient_access (OK there accepts
 * the recipient outright), relay_recipient_maps, reject_unverified_recipient.
 * The last two apply to recipients in [access] accepted_domains only.
 * Then, as Postfix runs milters after its restrictions at each stage, the
 * [milter] servers' verdict on the envelope (rcpt_milter.c). */
#include "access/rcpt_policy.h"
#include "access/access_table.h"
#include "access/rcpt_milter.h"

#include <string.h>

/* Which table, for the reload log. */
typedef struct {
  const char    *key;     /* "[access] recipient_maps" */
  SgTableKind    kind;
  gsize          offset;  /* of the path in SgConfig */
} TableSpec;

static const TableSpec specs[] = {
  { "[access] recipient_maps", SG_TABLE_RECIPIENTS, G_STRUCT_OFFSET (SgConfig, recipient_maps) },
  { "[access] sender_access", SG_TABLE_ACCESS, G_STRUCT_OFFSET (SgConfig, sender_access) },
  { "[access] recipient_access", SG_TABLE_ACCESS, G_STRUCT_OFFSET (SgConfig, recipient_access) },
};
enum { T_RECIPIENTS, T_SENDER, T_RECIPIENT_ACCESS, N_TABLES };

struct _SgRcptPolicy {
  SgAccessTable *tables[N_TABLES];  /* (nullable) each */
  GMainContext  *context;
  SgVerify      *verify;            /* (nullable) created when verify_recipients is first on */
  gboolean       verify_on;
  SgConfig      *config;            /* the latest: [milter] servers for RCPT */
  SgRcptMilter  *milter;
};

/* A verdict waiting for a probe, then maybe the milters; freed once answered. */
typedef struct {
  SgRcptPolicy    *p;
  SgRcptPolicyDone done;
  gpointer         user_data;
  SgRcptQuery      q;       /* owned copies of the query's strings */
  char            *hold;    /* (nullable) a HOLD seen before the probe */
} Pending;

static Pending *
pending_new (SgRcptPolicy *p, const SgRcptQuery *q, SgRcptPolicyDone done, gpointer user_data)
{
  Pending *pend = g_new0 (Pending, 1);
  pend->p = p;
  pend->done = done;
  pend->user_data = user_data;
  pend->q = *q;
  pend->q.sender = g_strdup (q->sender);
  pend->q.recipient = g_strdup (q->recipient);
  pend->q.queue_id = g_strdup (q->queue_id);
  pend->q.client_address = g_strdup (q->client_address);
  pend->q.helo = g_strdup (q->helo);
  pend->q.protocol = g_strdup (q->protocol);
  pend->q.tls_protocol = g_strdup (q->tls_protocol);
  pend->q.tls_cipher = g_strdup (q->tls_cipher);
  return pend;
}

static void
pending_free (Pending *pend)
{
  g_free ((char *) pend->q.sender);
  g_free ((char *) pend->q.recipient);
  g_free ((char *) pend->q.queue_id);
  g_free ((char *) pend->q.client_address);
  g_free ((char *) pend->q.helo);
  g_free ((char *) pend->q.protocol);
  g_free ((char *) pend->q.tls_protocol);
  g_free ((char *) pend->q.tls_cipher);
  g_free (pend->hold);
  g_free (pend);
}

static const char *
spec_path (const SgConfig *config, const TableSpec *spec)
{
  return *(char *const *) (const void *) ((const char *) config + spec->offset);
}

/* load_tables - every table config names into out (transfer full each). */
static gboolean
load_table (const SgConfig *config, guint i, SgAccessTable **out, GError **error)
{
  const char *path = spec_path (config, &specs[i]);
  *out = NULL;
  if (!path)
    return TRUE;
  gint64 start = g_get_monotonic_time ();
  *out = sg_access_table_load (path, specs[i].kind, error);
  if (!*out)
    {
      g_prefix_error (error, "%s: ", specs[i].key);
      return FALSE;
    }
  g_message ("%s: %u entries from %s in %.3f s", specs[i].key, sg_access_table_size (*out), path,
             (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC);
  return TRUE;
}

/* verify_ready - verification wanted by config: the service, created at
 * first need. */
static gboolean
verify_ready (SgRcptPolicy *p, const SgConfig *config, GError **error)
{
  p->verify_on = config->verify_recipients;
  if (!p->verify_on)
    return TRUE;
  if (!p->verify)
    p->verify = sg_verify_new (config, p->context, error);
  else
    sg_verify_reconfigure (p->verify, config);
  return p->verify != NULL;
}

SgRcptPolicy *
sg_rcpt_policy_new (const SgConfig *config, GMainContext *context, GError **error)
{
  g_autoptr(SgRcptPolicy) p = g_new0 (SgRcptPolicy, 1);
  p->context = g_main_context_ref (context);
  p->config = sg_config_ref ((SgConfig *) config);
  /* RCPT conversations share [milter] max_conversations' bound */
  p->milter = sg_rcpt_milter_new (context, config->milter_max_conversations);
  for (guint i = 0; i < N_TABLES; i++)
    if (!load_table (config, i, &p->tables[i], error))
      return NULL;
  if (!verify_ready (p, config, error))
    return NULL;
  return g_steal_pointer (&p);
}

gboolean
sg_rcpt_policy_reload (SgRcptPolicy *p, const SgConfig *config)
{
  gboolean ok = TRUE;
  sg_config_free (p->config);
  p->config = sg_config_ref ((SgConfig *) config);
  for (guint i = 0; i < N_TABLES; i++)
    {
      g_autoptr(GError) error = NULL;
      SgAccessTable *t = NULL;
      if (!load_table (config, i, &t, &error))
        {
          g_warning ("reload: %s; keeping the table read before%s", error->message,
                     p->tables[i] ? "" : " (none)");
          ok = FALSE;
          continue;
        }
      g_clear_pointer (&p->tables[i], sg_access_table_free);
      p->tables[i] = t;
    }
  g_autoptr(GError) error = NULL;
  if (!verify_ready (p, config, &error))
    {
      g_warning ("reload: [access] verify_recipients: %s; recipients are not verified", error->message);
      p->verify_on = FALSE;
      ok = FALSE;
    }
  return ok;
}

void
sg_rcpt_policy_free (SgRcptPolicy *p)
{
  if (!p)
    return;
  g_clear_pointer (&p->verify, sg_verify_free);  /* answers every waiter first */
  g_clear_pointer (&p->milter, sg_rcpt_milter_free);
  g_clear_pointer (&p->config, sg_config_free);
  for (guint i = 0; i < N_TABLES; i++)
    g_clear_pointer (&p->tables[i], sg_access_table_free);
  g_main_context_unref (p->context);
  g_free (p);
}

/* set - fill a verdict. */
static void G_GNUC_PRINTF (5, 6)
set (SgRcptVerdict *v, guint code, const char *enhanced, const char *reason, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *text = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  sg_reply_set (&v->reply, code, enhanced, reason, "%s", text);
}

/* access_verdict - an access(5) action on address, "Sender" or "Recipient";
 * TRUE when it decides (a refusal or OK), FALSE to go on. */
static gboolean
access_verdict (SgAccessAction action, const char *text, const char *who, const char *address,
                const char *reason, SgRcptVerdict *v)
{
  const char *shown = *address ? address : "";
  switch (action)
    {
    case SG_ACCESS_NONE:
      return FALSE;
    case SG_ACCESS_OK:
      return TRUE;
    case SG_ACCESS_REJECT:
      set (v, 554, "5.7.1", reason, "<%s>: %s address rejected: %s", shown, who,
           text ? text : "Access denied");
      return TRUE;
    case SG_ACCESS_DEFER:
      set (v, 450, "4.7.1", reason, "<%s>: %s address rejected: %s", shown, who,
           text ? text : "Access denied");
      return TRUE;
    case SG_ACCESS_HOLD:
      if (!v->hold)
        v->hold = g_strdup_printf ("%s address triggers HOLD action%s%s", who, text ? ": " : "",
                                   text ? text : "");
      return FALSE;
    }
  return FALSE;
}

/* verify_verdict - a probe's answer as the RCPT reply. */
static void
verify_verdict (const SgVerifyAnswer *a, const char *address, SgRcptVerdict *v)
{
  if (a->status == SG_VERIFY_DELIVERABLE)
    return;
  if (a->status == SG_VERIFY_UNDELIVERABLE)
    set (v, 550, "5.1.1", "undeliverable", "<%s>: Recipient address rejected: undeliverable address: %s",
         address, a->reply ? a->reply : "refused by the next hop");
  else
    set (v, 450, "4.1.1", "unverified", "<%s>: Recipient address rejected: unverified address: %s",
         address, a->reply ? a->reply : "the next hop gave no answer");
}

/* milters_wanted - [milter] servers are configured. */
static gboolean
milters_wanted (const SgRcptPolicy *p)
{
  return p->config->milter_servers && p->config->milter_servers[0];
}

static void
on_milter (SgRcptVerdict *v, gpointer user_data)
{
  Pending *pend = user_data;
  pend->done (v, pend->user_data);
  pending_free (pend);
}

static void
on_verified (const SgVerifyAnswer *a, gpointer user_data)
{
  Pending *pend = user_data;
  SgRcptVerdict v = { 0 };
  verify_verdict (a, pend->q.recipient, &v);
  if (!v.reply.code && milters_wanted (pend->p))
    {
      sg_rcpt_milter_check (pend->p->milter, pend->p->config, &pend->q,
                            g_steal_pointer (&pend->hold), on_milter, pend);
      return;
    }
  if (!v.reply.code)
    v.hold = g_steal_pointer (&pend->hold);
  pend->done (&v, pend->user_data);
  sg_rcpt_verdict_clear (&v);
  pending_free (pend);
}

gboolean
sg_rcpt_policy_check (SgRcptPolicy *p, const SgRcptQuery *q, SgRcptVerdict *v,
                      SgRcptPolicyDone done, gpointer user_data)
{
  const char *text = NULL;
  gboolean welcome = FALSE;   /* recipient_access said OK */
  memset (v, 0, sizeof *v);
  if (p->tables[T_SENDER])
    {
      SgAccessAction a = sg_access_table_check (p->tables[T_SENDER], q->sender, &text);
      if (a != SG_ACCESS_OK && access_verdict (a, text, "Sender", q->sender, "sender_access", v))
        return TRUE;
    }
  if (p->tables[T_RECIPIENT_ACCESS])
    {
      SgAccessAction a = sg_access_table_check (p->tables[T_RECIPIENT_ACCESS], q->recipient, &text);
      if (access_verdict (a, text, "Recipient", q->recipient, "recipient_access", v))
        {
          if (v->reply.code)
            return TRUE;
          welcome = TRUE;   /* OK: listed as welcome, no map or probe */
        }
    }
  if (q->accepted_domain && !welcome && p->tables[T_RECIPIENTS]
      && !sg_access_table_has_recipient (p->tables[T_RECIPIENTS], q->recipient))
    {
      set (v, 550, "5.1.1", "unknown_user",
           "<%s>: Recipient address rejected: User unknown in relay recipient table", q->recipient);
      return TRUE;
    }
  if (q->accepted_domain && !welcome && p->verify_on && p->verify)
    {
      SgVerifyAnswer now;
      Pending *pend = pending_new (p, q, done, user_data);
      if (!sg_verify_check (p->verify, q->recipient, q->smtputf8, &now, on_verified, pend))
        {
          pend->hold = g_steal_pointer (&v->hold);   /* applied if the probe accepts */
          sg_rcpt_verdict_clear (v);
          return FALSE;
        }
      pending_free (pend);
      verify_verdict (&now, q->recipient, v);
      if (v->reply.code)
        return TRUE;
    }
  if (milters_wanted (p))
    {
      Pending *pend = pending_new (p, q, done, user_data);
      sg_rcpt_milter_check (p->milter, p->config, &pend->q, g_steal_pointer (&v->hold),
                            on_milter, pend);
      sg_rcpt_verdict_clear (v);
      return FALSE;
    }
  return TRUE;
}

gboolean
sg_rcpt_policy_check_stage (SgRcptPolicy *p, SgSessionStage stage, const SgRcptQuery *q,
                            SgRcptVerdict *v, SgRcptPolicyDone done, gpointer user_data)
{
  static const SgMilterUpTo up_to[] = {
    [SG_SESSION_STAGE_CONNECT] = SG_MILTER_UP_TO_CONNECT,
    [SG_SESSION_STAGE_HELO] = SG_MILTER_UP_TO_HELO,
    [SG_SESSION_STAGE_MAIL] = SG_MILTER_UP_TO_MAIL,
  };
  memset (v, 0, sizeof *v);
  if (!milters_wanted (p))
    return TRUE;
  Pending *pend = pending_new (p, q, done, user_data);
  sg_rcpt_milter_check_stage (p->milter, p->config, up_to[stage], &pend->q, NULL, on_milter, pend);
  return FALSE;
}
