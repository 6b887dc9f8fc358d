/* envelope_milter.c - the envelope as the milters see it: the macros and
 * the SMTP commands milter/milter_client.c replays to them (i, j,
 * {client_addr}, HELO, MAIL, RCPT, {tls_version}, {cipher}). */
#include "envelope/envelope.h"

SgMilterInput
sg_envelope_milter_input (const SgEnvelope *env, const char *hostname)
{
  /* recipients is NULL-terminated (sg_envelope_new); an empty one may have no pdata yet */
  static const char *const none[] = { NULL };
  return (SgMilterInput) {
    .queue_id = env->queue_id, .hostname = hostname,
    .client_address = env->client_address, .client_port = env->client_port,
    .helo = env->helo, .protocol = env->protocol,
    .tls_version = env->tls_protocol, .cipher = env->tls_cipher, .sender = env->mail.address,
    .recipients = env->recipients->pdata ? (const char *const *) env->recipients->pdata : none,
    .received = env->received,
  };
}
