/* envelope.c - the envelope's life: made empty, filled by the session,
 * reset between transactions, freed by whoever holds it last. Its other
 * shapes are the envelope_*.c conversions'. */
#include "envelope/envelope.h"

#include <string.h>

SgEnvelope *
sg_envelope_new (void)
{
  SgEnvelope *env = g_new0 (SgEnvelope, 1);
  env->mail.size = -1;
  /* NULL-terminated, so the milters' {rcpt_addr} list is pdata itself */
  env->recipients = g_ptr_array_new_null_terminated (0, g_free, TRUE);
  env->rcpt_params = g_ptr_array_new_with_free_func (sg_smtp_path_free);
  return env;
}

void
sg_envelope_reset (SgEnvelope *env)
{
  sg_smtp_path_clear (&env->mail);
  g_ptr_array_set_size (env->recipients, 0);
  g_ptr_array_set_size (env->rcpt_params, 0);
  env->queue_id[0] = '\0';
  g_clear_pointer (&env->hold_reason, g_free);
}

SgEnvelope *
sg_envelope_next (const SgEnvelope *env)
{
  SgEnvelope *next = sg_envelope_new ();
  next->client_address = g_strdup (env->client_address);
  next->client_port = env->client_port;
  next->helo = g_strdup (env->helo);
  next->tls_protocol = g_strdup (env->tls_protocol);
  next->tls_cipher = g_strdup (env->tls_cipher);
  return next;
}

void
sg_envelope_add_recipient (SgEnvelope *env, char *address, SgSmtpPath *params)
{
  g_ptr_array_add (env->recipients, address);
  g_ptr_array_add (env->rcpt_params, params);
}

const char *
sg_envelope_first_recipient (const SgEnvelope *env)
{
  return env->recipients->len ? g_ptr_array_index (env->recipients, 0) : NULL;
}

void
sg_envelope_free (SgEnvelope *env)
{
  if (!env)
    return;
  sg_smtp_path_clear (&env->mail);
  g_clear_pointer (&env->recipients, g_ptr_array_unref);
  g_clear_pointer (&env->rcpt_params, g_ptr_array_unref);
  g_free (env->helo);
  g_free (env->client_address);
  g_free (env->tls_protocol);
  g_free (env->tls_cipher);
  g_free (env->hold_reason);
  g_clear_pointer (&env->received, g_bytes_unref);
  g_clear_pointer (&env->content, g_bytes_unref);
  g_clear_pointer (&env->draft, sg_spool_draft_free);
  g_free (env);
}
