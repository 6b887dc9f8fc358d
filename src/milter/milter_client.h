/* milter_client.h - one milter conversation per message and per configured
 * milter ([milter] servers, in order), run on an intake worker thread after
 * validation accepted the message and before the spool commit. Blocking
 * sockets with poll()-bounded connect, command and content timeouts; the
 * wire format is milter_proto.c's, the header edits milter_headers.c's. */
#pragma once
#include <glib.h>
#include <json-glib/json-glib.h>
#include "config/config.h"

G_BEGIN_DECLS

/* How far an envelope-only conversation goes: the verdict at connect, at
 * HELO or at MAIL while the client waits for that reply, or at RCPT. */
typedef enum {
  SG_MILTER_UP_TO_RCPT,     /* connect, HELO, MAIL, each recipient (the default) */
  SG_MILTER_UP_TO_CONNECT,  /* connect only: the verdict before the greeting */
  SG_MILTER_UP_TO_HELO,     /* connect and HELO */
  SG_MILTER_UP_TO_MAIL,     /* connect, HELO and MAIL */
} SgMilterUpTo;

/* What the milters are told about one message; all borrowed. */
typedef struct {
  const char  *queue_id;        /* macro i */
  const char  *hostname;        /* macro j: [server] hostname */
  const char  *client_address;  /* {client_addr} */
  guint16      client_port;
  const char  *client_name;     /* (nullable) {client_name}; "unknown" as in Postfix */
  const char  *helo;            /* (nullable) */
  const char  *protocol;        /* (nullable) "ESMTP", ... for the log */
  const char  *tls_version;     /* (nullable) {tls_version} */
  const char  *cipher;          /* (nullable) {cipher} */
  const char  *sender;          /* {mail_addr}, "" for <> */
  const char *const *recipients;/* {rcpt_addr}, NULL-terminated */
  GBytes      *received;        /* our Received field */
  GBytes      *content;         /* the message as received */
  const gint  *cancel;          /* (nullable) atomic; non-zero: stop waiting for milters, as
                                 * if they had failed (shutting down) */
  gint64       deadline;        /* monotonic µs by which every milter must be done, or
                                 * fail as if timed out; 0: only the stages' own */
  gboolean     envelope_only;   /* the envelope stages only (connect to RCPT), then abort: the
                                 * verdict on one RCPT while the client waits (access/rcpt_milter.c) */
  SgMilterUpTo up_to;           /* with envelope_only: the last stage sent (recipients only
                                 * with SG_MILTER_UP_TO_RCPT) */
} SgMilterInput;

/* The verdict on a message, strongest of all milters' (discard and reject
 * end the conversations; quarantine does not). */
typedef enum {
  SG_MILTER_ACCEPT,      /* spool it (with any header edits) */
  SG_MILTER_REJECT,      /* 5xx: code, enhanced and text */
  SG_MILTER_TEMPFAIL,    /* 4xx: code, enhanced and text */
  SG_MILTER_DISCARD,     /* answer 250, do not spool */
  SG_MILTER_QUARANTINE,  /* spool in state held, with quarantine_reason */
} SgMilterVerdict;

typedef struct {
  SgMilterVerdict verdict;
  guint       code;             /* REJECT, TEMPFAIL */
  char       *enhanced;         /* (nullable) */
  char       *text;             /* (nullable) */
  char       *milter;           /* (nullable) the milter that decided */
  const char *stage;            /* (nullable, static) "CONNECT", ..., "END-OF-MESSAGE" */
  gboolean    by_default;       /* the verdict is [milter] default_action: a milter failed */
  gboolean    settled;          /* envelope_only: every milter accepted the connection (at
                                 * CONNECT or HELO) or failed and was passed over: the
                                 * session need not ask them again before DATA (Postfix's
                                 * milter8 ACCEPT_CON and ERROR states) */
  char       *quarantine_reason;/* (nullable) */
  GBytes     *header;           /* (nullable) set when headers were edited: the whole new
                                 * header section, our Received included, blank line included */
  GBytes     *body;             /* (nullable) with header: the body, a slice of content */
  JsonNode   *json;             /* the outcome for the metadata ("milter"), per milter */
} SgMilterResult;

void sg_milter_result_free (SgMilterResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgMilterResult, sg_milter_result_free)

/* sg_milter_run - run every milter of config on the message and log each
 * verdict in Postfix's shape; NULL when config has no milters. (transfer full) */
SgMilterResult *sg_milter_run (const SgConfig *config, const SgMilterInput *input);

/* sg_milter_budget - the longest, in µs, that sg_milter_run() can take on
 * one message under config: for each milter, connect_timeout, five
 * command_timeouts (connect, helo, mail, rcpt, data) and content_timeout,
 * since no stage outlives its deadline whatever a milter sends. */
gint64 sg_milter_budget (const SgConfig *config);

G_END_DECLS
