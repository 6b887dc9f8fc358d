/* meta.h - a spooled message's metadata (<ID>.json): envelope and queueing
 * state, and its JSON form described by schemas/spool-metadata.schema.json. */
#pragma once
#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Version 2 added lifetime_start and each recipient's bounced (issue 23);
 * version 3 added eightbit (issue 24). Versions 1 and 2 are still read
 * (sg_meta_from_json says how), and every file is written as version 3. */
#define SG_META_VERSION     3
#define SG_META_VERSION_MIN 1

#define SG_META_ERROR (sg_meta_error_quark ())
GQuark sg_meta_error_quark (void);
typedef enum { SG_META_ERROR_PARSE, SG_META_ERROR_VERSION, SG_META_ERROR_INVALID } SgMetaError;

typedef enum {
  SG_RCPT_PENDING, SG_RCPT_DEFERRED, SG_RCPT_DELIVERED, SG_RCPT_FAILED,
} SgRcptStatus;

typedef enum {
  SG_MSG_QUEUED, SG_MSG_DEFERRED, SG_MSG_HELD, SG_MSG_DELIVERED, SG_MSG_FAILED,
} SgMsgState;

/* Whether the .eml holds an octet with the high bit set, so that relaying
 * it needs BODY=8BITMIME (RFC 6152). UNKNOWN only for metadata written
 * before version 3 (or by a producer that could not tell): the spool then
 * reads the file once when it is first delivered (sg_spool_locked_message),
 * and the next metadata write records the answer. Assuming 8-bit instead
 * would bounce 7-bit mail at a smarthost without 8BITMIME. */
typedef enum { SG_EIGHTBIT_UNKNOWN, SG_EIGHTBIT_NO, SG_EIGHTBIT_YES } SgEightBit;

/* RFC 3461 5.2.2: a "relayed" notice owed to the sender for a recipient. */
typedef enum { SG_RELAY_NOTICE_NONE, SG_RELAY_NOTICE_DUE, SG_RELAY_NOTICE_SENT } SgRelayNotice;

typedef struct {
  char        *address;
  SgRcptStatus status;
  char        *delay_reason;   /* (nullable) last reply or error for this recipient */
  gint64       updated;        /* epoch seconds, 0 = never */
  char        *dsn_notify;     /* (nullable) RCPT NOTIFY= (RFC 3461 4.1), e.g. "SUCCESS,DELAY" */
  char        *dsn_orcpt;      /* (nullable) RCPT ORCPT= as received: addr-type;xtext */
  SgRelayNotice relay_notice;  /* NOTIFY=SUCCESS relayed to a smarthost without DSN */
  gint64       bounced;        /* epoch seconds its non-delivery report was queued; 0 = none:
                                * a recipient is reported at most once, ever */
} SgMetaRecipient;

typedef struct {
  char      *queue_id;
  gint64     arrival_time_us;  /* microseconds since the epoch */
  gint64     lifetime_start;   /* epoch seconds [queue] max_lifetime and delay_warning count
                                * from: 0 = arrival; set by requeue and release (the
                                * administrator's decision to try again) */
  char      *sender;           /* "" for the null reverse-path */
  GPtrArray *recipients;       /* SgMetaRecipient* */
  gint64     esmtp_size;       /* SIZE= value, -1 when not given */
  char      *esmtp_body;       /* (nullable) "7BIT" or "8BITMIME" */
  gboolean   smtputf8;
  SgEightBit eightbit;         /* recorded at intake from validation (above) */
  char      *dsn_ret;          /* (nullable) MAIL RET= "FULL" or "HDRS" (RFC 3461 4.3) */
  char      *dsn_envid;        /* (nullable) MAIL ENVID= as received, xtext (RFC 3461 4.4) */
  gboolean   delay_warned;     /* the delay notice ([queue] delay_warning) is queued */
  char      *client_address;
  guint16    client_port;
  char      *helo_name;        /* (nullable) */
  char      *protocol;         /* "SMTP", "ESMTP", "ESMTPS" */
  char      *tls_protocol;     /* (nullable) */
  char      *tls_cipher;       /* (nullable) */
  guint64    message_size;     /* bytes of the .eml, Received header included */
  char      *sha256;           /* hex SHA-256 of the .eml */
  SgMsgState state;
  guint      attempts;
  gint64     next_attempt;     /* epoch seconds, 0 = now */
  char      *last_error;       /* (nullable) */
  JsonNode  *validation;       /* (nullable) from sg_validation_to_json() */
  JsonNode  *milter;           /* (nullable) from sg_milter_run(): verdict and each milter's action */
  JsonNode  *attempt_history;  /* (nullable) JSON array, filled by the queue runner */
  /* For the arrival's log lines only, not stored: */
  char      *message_id;       /* (nullable) the Message-ID field as written */
  char      *log_client;       /* (nullable) "NAME[ADDR]" of the SMTP client; NULL for our own
                                * notices, which have no smtpd line, as in Postfix */
} SgMeta;

SgMeta *sg_meta_new (void);
void    sg_meta_free (SgMeta *meta);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgMeta, sg_meta_free)

void sg_meta_add_recipient (SgMeta *meta, const char *address);

const char *sg_meta_state_name (SgMsgState state);
const char *sg_meta_rcpt_status_name (SgRcptStatus status);

/* sg_meta_to_json - serialise, pretty-printed, ending in "\n" (transfer full). */
char   *sg_meta_to_json (const SgMeta *meta, gsize *length);
/* sg_meta_check_depth - SG_META_ERROR_PARSE if JSON arrays and objects in
 * data nest deeper than any spool file may (checked before json-glib, whose
 * parser recurses once per level). */
gboolean sg_meta_check_depth (const char *data, gsize length, GError **error);
/* sg_meta_from_json - parse and check version and required fields (transfer full). */
SgMeta *sg_meta_from_json (const char *data, gssize length, GError **error);

G_END_DECLS
