/* received.h - the Received: trace header we prepend (RFC 5321 4.4). */
#pragma once
#include "smtp/session.h"

G_BEGIN_DECLS

/* sg_received_header - "Received: from HELO ([addr]) by HOST (spoolgate) with
 * PROTO id ID (using TLS) for <rcpt>; DATE" folded over lines, CRLF-terminated; tls is
 * (nullable) e.g. "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384". (transfer full) */
GBytes *sg_received_header (const char *hostname, const SgEnvelope *env, const char *tls);

G_END_DECLS
