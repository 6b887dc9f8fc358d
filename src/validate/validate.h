/* validate.h - the message validator: RFC 5322 and MIME checks on a whole
 * message before it is accepted.
 *
 * Owns the rule set, the policy that turns violations into rejections, and the
 * JSON form of a validation result. It sees only message bytes (CRLF line
 * endings, dot-unstuffed, without our Received header); SMTP framing such as
 * bare LF in DATA and end-of-data is the smtp/ layer's business.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define SG_VALIDATE_ERROR (sg_validate_error_quark ())
GQuark sg_validate_error_quark (void);
typedef enum {
  SG_VALIDATE_ERROR_UNKNOWN_RULE,
  SG_VALIDATE_ERROR_BAD_POLICY,
} SgValidateError;

/* One broken rule. All strings are owned by the violation. */
typedef struct {
  const char *rule;       /* stable id, e.g. "header.date.missing" (static) */
  const char *rfc;        /* e.g. "RFC 5322 3.6" (static) */
  const char *enhanced;   /* RFC 3463 code for the 5xx reply, e.g. "5.6.0" (static) */
  char       *text;       /* human text, e.g. "no Date header" */
  char       *location;   /* (nullable) e.g. "header Date", "part 1.2", "line 14" */
  gboolean    reject;     /* the policy's verdict for this violation */
} SgViolation;

typedef struct _SgPolicy SgPolicy;

/* sg_policy_new - build a policy from a level ("strict", "standard",
 * "permissive") and per-rule overrides; unknown rule ids are errors. */
SgPolicy *sg_policy_new (const char *level, const char *const *reject,
                         const char *const *accept, GError **error);
void      sg_policy_free (SgPolicy *policy);
const char *sg_policy_level (const SgPolicy *policy);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgPolicy, sg_policy_free)

typedef struct {
  gboolean smtputf8;          /* client declared SMTPUTF8 */
  gboolean eightbitmime;      /* client declared BODY=8BITMIME */
  guint    max_mime_depth;    /* 0 = SG_DEF_MAX_MIME_DEPTH */
  guint    max_mime_parts;    /* 0 = SG_DEF_MAX_MIME_PARTS */
  const SgPolicy *policy;     /* (nullable) NULL = strict */
} SgValidateOptions;

typedef struct {
  GPtrArray         *violations;   /* SgViolation*, in message order */
  const SgViolation *first_reject; /* (nullable) first violation with reject set */
  const char        *policy;       /* level name used (static) */
  char              *message_id;   /* (nullable) the Message-ID field's value, unfolded and
                                    * trimmed, as written (for the log's message-id= line) */
  gboolean           has_8bit;     /* some octet has the high bit set: relaying the message
                                    * needs BODY=8BITMIME (RFC 6152); found by the raw scan */
} SgValidation;

/* sg_validate - check one message; never fails, always returns (transfer full). */
SgValidation *sg_validate (const guint8 *data, gsize len, const SgValidateOptions *opts);
void          sg_validation_free (SgValidation *v);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgValidation, sg_validation_free)

/* sg_bytes_have_8bit - whether any octet of bytes (nullable) has the high
 * bit set: for bytes spooled beside the validated ones (our Received header). */
gboolean sg_bytes_have_8bit (GBytes *bytes);

/* sg_violation_describe - the reply reason after "Message rejected: ",
 * e.g. "no Date header (RFC 5322 3.6) [header.date.missing]" (transfer full). */
char *sg_violation_describe (const SgViolation *v);

/* sg_validation_to_json - the "validation" object stored in the metadata:
 * { "policy", "verdict": "accepted"|"rejected",
 *   "violations": [ { "rule", "rfc", "text", "location" (nullable), "action": "reject"|"accept" } ] }
 * (transfer full) */
JsonNode *sg_validation_to_json (const SgValidation *v);

/* sg_rule_exists - whether id names a known rule. */
gboolean sg_rule_exists (const char *id);

/* sg_rule_count, sg_rule_id - every rule id, in table order (static strings). */
guint       sg_rule_count (void);
const char *sg_rule_id (guint n);
/* sg_rule_rfc - the RFC section of rule id, or NULL when unknown (static). */
const char *sg_rule_rfc (const char *id);
/* sg_policy_rejects_rule - the policy's verdict for rule id (FALSE when unknown). */
gboolean    sg_policy_rejects_rule (const SgPolicy *policy, const char *id);

G_END_DECLS
