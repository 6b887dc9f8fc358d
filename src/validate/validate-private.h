/* validate-private.h - shared internals of the validator: the rule ids, the
 * per-message context that collects violations, and the entry points of the
 * scanners (raw lines, header blocks, MIME tree, leaf bodies, RFC 5322
 * grammar). Nothing here is visible outside src/validate/.
 */
#pragma once

#include "validate/validate.h"

G_BEGIN_DECLS

/* Every rule, in the order of the table in rules.c and doc/validation-rules.md. */
typedef enum {
  SG_RULE_MESSAGE_NUL,
  SG_RULE_LINE_TOO_LONG,
  SG_RULE_LINE_BARE_CR,
  SG_RULE_LINE_BARE_LF,
  SG_RULE_HEADER_NAME_INVALID,
  SG_RULE_HEADER_NAME_SPACE,
  SG_RULE_HEADER_SEPARATOR_MISSING,
  SG_RULE_HEADER_MBOX_FROM,
  SG_RULE_HEADER_8BIT,
  SG_RULE_HEADER_UTF8_INVALID,
  SG_RULE_HEADER_DATE_MISSING,
  SG_RULE_HEADER_DATE_DUPLICATE,
  SG_RULE_HEADER_DATE_INVALID,
  SG_RULE_HEADER_FROM_MISSING,
  SG_RULE_HEADER_FROM_DUPLICATE,
  SG_RULE_HEADER_FROM_INVALID,
  SG_RULE_HEADER_SENDER_REQUIRED,
  SG_RULE_HEADER_DUPLICATE,
  SG_RULE_HEADER_ADDRESS_INVALID,
  SG_RULE_HEADER_MESSAGE_ID_MISSING,
  SG_RULE_HEADER_MESSAGE_ID_INVALID,
  SG_RULE_HEADER_RFC2047_INVALID,
  SG_RULE_MIME_CONTENT_TYPE_INVALID,
  SG_RULE_MIME_CONTENT_TYPE_AMBIGUOUS,
  SG_RULE_MIME_PARAM_INVALID,
  SG_RULE_MIME_PARAM_DUPLICATE,
  SG_RULE_MIME_PARAM_CFWS,
  SG_RULE_MIME_PARAM_SINGLE_QUOTED,
  SG_RULE_MIME_PARAM_RFC2047,
  SG_RULE_MIME_PARAM_RFC2047_EVASIVE,
  SG_RULE_MIME_PARAM_CHARSET_MISMATCH,
  SG_RULE_MIME_PARAM_FALLBACK,
  SG_RULE_MIME_HEADER_DUPLICATE,
  SG_RULE_MIME_CTE_UNKNOWN,
  SG_RULE_MIME_CTE_EMPTY,
  SG_RULE_MIME_CTE_COMPOSITE,
  SG_RULE_MIME_CTE_COMMENT,
  SG_RULE_MIME_CTE_WHITESPACE,
  SG_RULE_MIME_BOUNDARY_MISSING,
  SG_RULE_MIME_BOUNDARY_INVALID,
  SG_RULE_MIME_BOUNDARY_FORM,
  SG_RULE_MIME_BOUNDARY_UNOPENED,
  SG_RULE_MIME_BOUNDARY_UNTERMINATED,
  SG_RULE_MIME_BOUNDARY_NESTED,
  SG_RULE_MIME_BOUNDARY_IN_ENCODED,
  SG_RULE_MIME_BOUNDARY_AMBIGUOUS,
  SG_RULE_MIME_EPILOGUE_PART,
  SG_RULE_MIME_PART_EMPTY,
  SG_RULE_MIME_MULTIPART_EMPTY,
  SG_RULE_MIME_8BIT_PREAMBLE,
  SG_RULE_MIME_8BIT_IN_7BIT,
  SG_RULE_MIME_8BIT_UNDECLARED,
  SG_RULE_MIME_BASE64_INVALID,
  SG_RULE_MIME_QP_INVALID,
  SG_RULE_MIME_QP_NEEDLESS,
  SG_RULE_MIME_RFC2231_INVALID,
  SG_RULE_MIME_RFC2231_QUOTED,
  SG_RULE_MIME_FILENAME_CONFLICT,
  SG_RULE_MIME_LIMIT_DEPTH,
  SG_RULE_MIME_LIMIT_PARTS,
  SG_RULE_COUNT
} SgRule;

/* How strongly a rule is held; the policy level decides which classes reject. */
typedef enum {
  SG_CLASS_STRUCTURAL, /* rejects under every level: structure, ambiguity, NUL */
  SG_CLASS_STANDARD,   /* rejects under strict and standard */
  SG_CLASS_STRICT,     /* rejects under strict only */
  SG_CLASS_ADVISORY,   /* never rejects unless named in reject= */
} SgRuleClass;

typedef struct {
  const char *id;
  const char *rfc;
  const char *enhanced;
  SgRuleClass klass;
} SgRuleInfo;

/* rules.c */
const SgRuleInfo *sg_rule_info (SgRule rule);
int               sg_rule_lookup (const char *id);       /* -1 when unknown */
gboolean          sg_policy_rejects (const SgPolicy *policy, SgRule rule);

/* Bounded output: at most this many violations per rule and per message
 * (plus the first rejecting one, see sg_vctx_report). */
#define SG_VALIDATE_MAX_PER_RULE   4u
#define SG_VALIDATE_MAX_VIOLATIONS 64u
/* Hard cap on recursion whatever the configured depth limit says. */
#define SG_VALIDATE_HARD_MAX_DEPTH 256u
/* Longest quoted item (header name, value excerpt) in a violation text. */
#define SG_VALIDATE_MAX_QUOTE      48u

/* One MIME entity being checked: the message itself, a body part, or the
 * message inside a message/rfc822 part. */
typedef enum { SG_ENTITY_ROOT, SG_ENTITY_PART, SG_ENTITY_EMBEDDED } SgEntityKind;

typedef struct {
  const char *path;     /* "" for the message itself, else "1.2" */
  SgEntityKind kind;
} SgEntity;

/* One enclosing boundary, innermost last. */
typedef struct {
  const char *value;
  gsize len;
} SgBoundary;

typedef struct {
  const guint8 *data;
  gsize len;
  gboolean smtputf8;
  gboolean eightbitmime;
  guint max_depth;
  guint max_parts;
  guint nparts;
  gboolean parts_exceeded;
  const SgPolicy *policy;
  GPtrArray *violations;
  gboolean rejecting;  /* a violation in violations rejects the message */
  char *message_id;     /* (nullable) the message's own Message-ID, unfolded */
  gboolean has_8bit;    /* an octet with the high bit set anywhere (scan_raw.c) */
  guint per_rule[SG_RULE_COUNT];
  /* offset -> line number cache, so reports in message order stay linear */
  gsize line_cache_offset;
  guint line_cache_line;
} SgVctx;

/* validate.c */
guint sg_vctx_line_at (SgVctx *c, gsize offset);
void  sg_vctx_report (SgVctx *c, SgRule rule, const SgEntity *entity,
                      const char *header, gssize offset, const char *fmt, ...)
  G_GNUC_PRINTF (6, 7);
gboolean sg_vctx_has (const SgVctx *c, SgRule rule);
char *sg_quote (const guint8 *s, gsize len, gsize max);

/* scan_raw.c: NUL, bare CR/LF and line length over the whole message. */
void sg_scan_raw (SgVctx *c);

/* One header field of an entity, as offsets into the message. */
typedef struct {
  gsize name;        /* offset of the name */
  gsize name_len;    /* without trailing whitespace */
  gsize value;       /* offset just after the colon */
  gsize value_end;   /* end of the last line, before its CRLF */
} SgField;

/* rules_header.c */
/* sg_scan_headers - split [start,end) into fields and return the body start. */
gsize sg_scan_headers (SgVctx *c, const SgEntity *e, gsize start, gsize end,
                       GArray *fields);
void  sg_check_message_headers (SgVctx *c, const SgEntity *e, GArray *fields);
gboolean sg_field_is (const SgVctx *c, const SgField *f, const char *name);
char *sg_field_name (const SgVctx *c, const SgField *f);

/* rfc5322.c: grammar checks on a header value (folding CRLF allowed). */
/* sg_rfc5322_skip_cfws - advance *p over CFWS (3.2.2): whitespace, folding and
 * nested comments with quoted-pairs; FALSE on an unterminated comment. */
gboolean sg_rfc5322_skip_cfws (const char **p, const char *end);
gboolean sg_rfc5322_date (const char *s, gsize len);
/* kind: 0 address-list, 1 mailbox-list (From), 2 single mailbox, 3 address-list or empty (Bcc) */
gboolean sg_rfc5322_addresses (const char *s, gsize len, int kind, guint *mailboxes);
gboolean sg_rfc5322_msg_id (const char *s, gsize len);
/* sg_rfc2047_check - first malformed encoded-word, or NULL if all are fine;
 * *why (nullable) gets what is wrong with it (transfer full). */
const char *sg_rfc2047_check (const char *s, gsize len, gsize *bad_len, char **why);

/* rules_mime.c: the MIME tree walk, starting at the message itself. */
gboolean sg_vctx_count_part (SgVctx *c, const SgEntity *e);
void sg_check_entity (SgVctx *c, const SgEntity *e, gsize start, gsize end,
                      guint depth, const SgBoundary *stack, guint nstack,
                      gboolean digest_child);

/* param_charset.c: encoded parameter octets against their charset. */
gboolean sg_octets_fit_charset (const char *charset, gsize cslen, const char *bytes, gsize len);
void sg_check_word_charsets (SgVctx *c, const SgEntity *e, const char *header, const char *qname,
                             const char *value);

/* mime_params.c: Content-Type / Content-Disposition values. */
typedef struct {
  char *type;        /* lower case; for Content-Disposition the disposition type */
  char *subtype;     /* lower case; NULL for Content-Disposition */
  GHashTable *params;/* lower-case base name -> decoded value (char*, UTF-8 or raw) */
} SgMimeValue;

void sg_mime_value_clear (SgMimeValue *v);
/* sg_mime_value_parse - parse value at [s,s+len); reports violations, returns
 * FALSE when the type itself is unusable. */
gboolean sg_mime_value_parse (SgVctx *c, const SgEntity *e, const char *header,
                              gsize offset, const char *s, gsize len,
                              gboolean is_content_type, SgMimeValue *out);

/* rules_body.c: checks on a leaf body [start,end). */
typedef enum { SG_CTE_7BIT, SG_CTE_8BIT, SG_CTE_BINARY, SG_CTE_QP, SG_CTE_BASE64, SG_CTE_UNKNOWN } SgCte;
void sg_check_leaf (SgVctx *c, const SgEntity *e, gsize start, gsize end, SgCte cte,
                    const SgBoundary *stack, guint nstack);
/* sg_check_near_delimiters - lines in [start,end) that begin with "--" and an
 * enclosing boundary but are no delimiter. */
void sg_check_near_delimiters (SgVctx *c, const SgEntity *e, gsize start, gsize end,
                               const SgBoundary *stack, guint nstack, SgRule rule);
gboolean sg_has_8bit (const guint8 *p, gsize len, gsize *where);

/* gmime_check.c: GMime's own parser warnings. */
void sg_validate_gmime_init (void);
void sg_check_gmime (SgVctx *c);

G_END_DECLS
