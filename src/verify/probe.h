/* probe.h - one address probe to the next hop, blocking: a session through
 * smarthost/dial.c (delivery's TLS, AUTH and host list), MAIL FROM:<>,
 * RCPT TO:<address>, RSET, QUIT. Run on a probe thread by verify.c and
 * in the foreground by `spoolgate verify --probe`. */
#pragma once
#include <glib.h>
#include "smarthost/dial.h"
#include "verify/verify_cache.h"

G_BEGIN_DECLS

/* sg_verify_probe - probe address; out gets DELIVERABLE for 2xx,
 * UNDELIVERABLE for 5xx, UNKNOWN for anything else, with the reply (the
 * time is now). FALSE with error when no answer came (down, timed out,
 * refused the session): the caller says "unverified". */
gboolean sg_verify_probe (SgSmarthostDial *dial, const char *address, gboolean smtputf8,
                          SgVerifyEntry *out, GError **error);

/* sg_verify_probe_config - config with every [smarthost] wait capped at
 * timeout seconds, for probes that an RCPT waits on (transfer full). */
SgConfig *sg_verify_probe_config (const SgConfig *config, guint timeout);

G_END_DECLS
