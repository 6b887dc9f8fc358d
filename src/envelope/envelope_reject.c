/* envelope_reject.c - the envelope as the refusal record (reply/reject.h):
 * who is named on a refusal line once the message is complete. */
#include "envelope/envelope.h"
#include "common/log.h"

#include <string.h>

SgRejectClient
sg_envelope_reject_client (const SgEnvelope *env)
{
  return (SgRejectClient) { .queue_id = env->queue_id, .helo = env->helo,
                            .address = env->client_address, .sender = env->mail.address,
                            .recipient = sg_envelope_first_recipient (env),
                            .protocol = sg_log_proto (env->protocol) };
}
