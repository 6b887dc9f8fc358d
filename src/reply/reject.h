/* reject.h - every refusal the gateway makes, in one form: the Postfix-style
 * log line, keyed by queue ID and ending in "; rule=ID", and its count in
 * the metrics. A rule id is a validation rule (doc/validation-rules.md) or
 * one of the protocol ids below; doc/metrics.md lists them all. */
#pragma once
#include <glib.h>
#include "reply/reply.h"

G_BEGIN_DECLS

/* Messages, recipients and transactions: spoolgate_messages_rejected_total{rule,code}. */
#define SG_RULE_TLS_REQUIRED  "tls.required"    /* MAIL before STARTTLS with [tls] require: 530 */
#define SG_RULE_SPOOL_LOW     "spool.min-free"  /* MAIL while free space is under [spool] min_free: 452 */
#define SG_RULE_SIZE_EXCEEDED "size.exceeded"   /* MAIL SIZE= or DATA over max_message_size: 552 */
#define SG_RULE_RELAY_DENIED  "relay.denied"    /* RCPT elsewhere from outside allowed_networks: 550 */
#define SG_RULE_TOO_MANY_RCPT "rcpt.too-many"   /* RCPT past [limits] max_recipients: 452 */
#define SG_RULE_BARE_LF       "line.bare-lf"    /* DATA framing, before validation: 550 */
#define SG_RULE_BARE_CR       "line.bare-cr"    /* likewise: 550 */
#define SG_RULE_SPOOL_FULL    "spool.full"      /* commit failed for lack of space: 452 */
#define SG_RULE_MILTER        "milter"          /* a milter's reject or tempfail, or [milter] default_action: its code */
#define SG_RULE_SPOOL_ERROR   "spool.error"     /* commit failed otherwise (I/O, commit queue full): 451 */

/* Connections refused before a session: spoolgate_connections_refused_total{reason}. */
#define SG_REFUSE_ACCESS      "access.denied"   /* not in allowed_networks, no accepted_domains: 554 */
#define SG_REFUSE_RATE        "conn.rate"       /* over [limits] connection_rate_per_ip: 421 */
#define SG_REFUSE_MAX         "conn.max"        /* [limits] max_connections reached: 421 */
#define SG_REFUSE_MAX_PER_IP  "conn.max-per-ip" /* [limits] max_connections_per_ip reached: 421 */
#define SG_REFUSE_STOPPING    "server.stopping" /* shutting down: 421 */

/* Who was refused; strings are borrowed and may be untrusted (sanitised here). */
typedef struct {
  const char *queue_id;  /* (nullable) "NOQUEUE" before the first accepted RCPT */
  const char *helo;      /* (nullable) */
  const char *address;   /* the client's IP address */
  const char *sender;    /* (nullable) the reverse-path once MAIL was accepted */
  const char *recipient; /* (nullable) the RCPT refused, or the first one */
  const char *protocol;  /* (nullable) "SMTP" or "ESMTP" */
  const char *name;      /* (nullable) the client's verified name; "unknown" */
} SgRejectClient;

/* sg_reject - log Postfix's "ID: reject: STAGE from NAME[ADDR]: CODE
 * ENHANCED TEXT; from=<SENDER> to=<RCPT> proto=ESMTP helo=<HELO> rule=RULE"
 * (each of from/to/proto/helo only when known; TEXT is the reply's log
 * text) and count it under the reply's rule and code: smtpd's line,
 * END-OF-MESSAGE (the verdict on the content) included, as Postfix's
 * smtpd_end_of_data_restrictions. The client gets the same reply. */
void sg_reject (const SgRejectClient *client, const char *stage, const SgReply *reply);

/* sg_reject_fields - "; from=<S> to=<R> proto=P helo=<H>", each part only
 * when known (nullable), sanitised: how every refusal line ends (transfer full). */
char *sg_reject_fields (const char *sender, const char *recipient, const char *protocol,
                        const char *helo);

/* sg_reject_rcpt - a recipient refused (action "reject") or held ("hold",
 * code 0) at RCPT, in the form Postfix's smtpd logs and its tools read:
 * "NOQUEUE: reject: RCPT from unknown[ADDR]: CODE ENHANCED TEXT; from=<S>
 * to=<R> proto=PROTO helo=<HELO>"; a refusal is counted in
 * spoolgate_recipients_rejected_total{reason}. */
void sg_reject_rcpt (const SgRejectClient *client, const char *action, const char *recipient,
                     const char *proto, const SgReply *reply);

/* sg_reject_connection - log "NOQUEUE: reject: CONNECT from unknown[ADDR]:
 * CODE ENHANCED TEXT; proto=SMTP rule=REASON (via proxy [VIA])" and count it under reason;
 * via (nullable) is the proxy that sent the PROXY header. */
void sg_reject_connection (const char *address, const char *via, guint code, const char *enhanced,
                           const char *reason, const char *fmt, ...) G_GNUC_PRINTF (6, 7);
/* sg_reject_connection_unlogged - count a refusal under reason without a
 * log line: for a flood, whose caller logs one summary per interval. */
void sg_reject_connection_unlogged (const char *reason);

G_END_DECLS
