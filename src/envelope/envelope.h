/* envelope.h - one message's envelope, from the session to the spool: who
 * sent it and from where, to whom, with which ESMTP parameters, and our
 * Received header. The session fills it as MAIL and RCPT are accepted and
 * hands it over at the end of DATA (smtp/session.c); the intake validates
 * and commits it (intake/intake.c). Every other shape it takes is made by
 * the conversions below, one file each, so no one else copies its fields:
 *   envelope_meta.c      -> SgMeta, the spool's <ID>.json
 *   envelope_milter.c    -> SgMilterInput, the milters' macros
 *   envelope_reject.c    -> SgRejectClient, the refusal record of the log
 *   envelope_received.c  -> our Received: header
 * It includes nothing from smtp/: the session depends on it, not the reverse. */
#pragma once
#include <glib.h>
#include "envelope/smtp_path.h"
#include "milter/milter_client.h"
#include "reply/reject.h"
#include "spool/queue_id.h"
#include "spool/spool.h"

G_BEGIN_DECLS

/* Lifetime: made by sg_envelope_new, owned by the session while the
 * transaction lasts, then by the intake (submit hook, transfer full) until
 * its reply is delivered. All fields owned unless marked. */
typedef struct {
  char        queue_id[SG_QUEUE_ID_LEN + 1];  /* "" until MAIL is accepted */
  SgSmtpPath  mail;          /* reverse-path and its ESMTP parameters */
  GPtrArray  *recipients;    /* char* forward-paths, in order, no duplicates; NULL-terminated */
  GPtrArray  *rcpt_params;   /* SgSmtpPath*, parallel to recipients: each RCPT's DSN
                              * parameters (address NULL) */
  char       *helo;          /* (nullable) */
  const char *protocol;      /* "SMTP", "ESMTP", "ESMTPS", "UTF8SMTP", "UTF8SMTPS" (static) */
  char       *tls_protocol;  /* (nullable) e.g. "TLSv1.3" */
  char       *tls_cipher;    /* (nullable) */
  char       *client_address;
  guint16     client_port;
  GBytes     *received;      /* our Received header, CRLF-terminated, made at DATA */
  GBytes     *content;       /* the message as received, dot-unstuffed; NULL when draft is set */
  SgSpoolDraft *draft;       /* (nullable) the message on disk instead: received, then content */
  gint64      arrival_us;    /* when the end of data was seen */
  char       *hold_reason;   /* (nullable) an access table said HOLD: queue it held */
} SgEnvelope;

/* sg_envelope_new - an empty envelope: no sender (SIZE= absent), no
 * recipients (transfer full). */
SgEnvelope *sg_envelope_new (void);
void        sg_envelope_free (SgEnvelope *env);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgEnvelope, sg_envelope_free)
/* sg_envelope_reset - forget the transaction (queue ID, sender, recipients,
 * hold); who the client is stays. */
void        sg_envelope_reset (SgEnvelope *env);
/* sg_envelope_next - a new envelope for the same client's next
 * transaction: client address and port, HELO name and TLS copied from env,
 * nothing of its transaction (transfer full). */
SgEnvelope *sg_envelope_next (const SgEnvelope *env);
/* sg_envelope_add_recipient - one more forward-path with its RCPT
 * parameters (both transfer full; params nullable). */
void        sg_envelope_add_recipient (SgEnvelope *env, char *address, SgSmtpPath *params);
/* sg_envelope_first_recipient - (nullable) the first RCPT accepted. */
const char *sg_envelope_first_recipient (const SgEnvelope *env);

/* envelope_meta.c: sg_envelope_to_meta - the metadata of the message as
 * queued (state queued, or held with hold_reason); the intake adds what
 * validation found (transfer full). */
SgMeta *sg_envelope_to_meta (const SgEnvelope *env);

/* envelope_milter.c: sg_envelope_milter_input - what the milters are told
 * about env (every string borrowed from env, which must outlive it);
 * hostname is [server] hostname (macro j). The caller sets content,
 * cancel, deadline and the envelope-only stages. */
SgMilterInput sg_envelope_milter_input (const SgEnvelope *env, const char *hostname);

/* envelope_reject.c: sg_envelope_reject_client - who sent env, for a
 * refusal line (strings borrowed from env); proto= is "ESMTP" for every
 * ESMTP variant, as Postfix logs it. */
SgRejectClient sg_envelope_reject_client (const SgEnvelope *env);

/* envelope_received.c: sg_envelope_received - "Received: from HELO ([addr])
 * by HOST (spoolgate) with PROTO id ID (using TLS with cipher C) for <rcpt>;
 * DATE" (RFC 5321 4.4, RFC 5322 3.6.7) folded over lines, CRLF-terminated,
 * for the arrival time; the recipient only when there is exactly one
 * (transfer full). */
GBytes *sg_envelope_received (const SgEnvelope *env, const char *hostname);

G_END_DECLS
