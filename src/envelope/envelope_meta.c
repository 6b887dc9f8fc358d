/* envelope_meta.c - the envelope as the spool's metadata (spool/meta.h,
 * written as <ID>.json): sender, recipients with their DSN parameters, the
 * ESMTP parameters and the client. What validation and the milters found
 * is the intake's to add. */
#include "envelope/envelope.h"
#include "common/log.h"

SgMeta *
sg_envelope_to_meta (const SgEnvelope *env)
{
  SgMeta *meta = sg_meta_new ();
  meta->queue_id = g_strdup (env->queue_id);
  meta->arrival_time_us = env->arrival_us;
  meta->sender = g_strdup (env->mail.address);
  for (guint i = 0; i < env->recipients->len; i++)
    {
      sg_meta_add_recipient (meta, g_ptr_array_index (env->recipients, i));
      const SgSmtpPath *p = env->rcpt_params && i < env->rcpt_params->len
                            ? g_ptr_array_index (env->rcpt_params, i) : NULL;
      SgMetaRecipient *r = g_ptr_array_index (meta->recipients, i);
      r->dsn_notify = p ? g_strdup (p->dsn_notify) : NULL;
      r->dsn_orcpt = p ? g_strdup (p->dsn_orcpt) : NULL;
    }
  meta->dsn_ret = g_strdup (env->mail.dsn_ret);
  meta->dsn_envid = g_strdup (env->mail.dsn_envid);
  meta->esmtp_size = env->mail.size;
  meta->esmtp_body = env->mail.body == SG_BODY_8BITMIME ? g_strdup ("8BITMIME")
                   : env->mail.body == SG_BODY_7BIT ? g_strdup ("7BIT") : NULL;
  meta->smtputf8 = env->mail.smtputf8;
  meta->client_address = g_strdup (env->client_address);
  meta->client_port = env->client_port;
  meta->helo_name = g_strdup (env->helo);
  meta->protocol = g_strdup (env->protocol);
  meta->tls_protocol = g_strdup (env->tls_protocol);
  meta->tls_cipher = g_strdup (env->tls_cipher);
  /* an [access] table said HOLD: kept until `spoolgate release` */
  meta->state = env->hold_reason ? SG_MSG_HELD : SG_MSG_QUEUED;
  meta->log_client = sg_log_client (NULL, env->client_address);
  return meta;
}
