/* rules.c - the rule table (id, RFC section, enhanced status code, class) and
 * the policy that maps each rule to reject or accept.
 *
 * doc/validation-rules.md documents this table; keep them in step. The checks
 * themselves live in scan_raw.c, rules_header.c, rules_mime.c, rules_body.c.
 */
#include "validate/validate-private.h"

#include <string.h>

G_DEFINE_QUARK (sg-validate-error-quark, sg_validate_error)

#define S SG_CLASS_STRUCTURAL
#define D SG_CLASS_STANDARD
#define T SG_CLASS_STRICT
#define A SG_CLASS_ADVISORY

static const SgRuleInfo rule_table[SG_RULE_COUNT] = {
  [SG_RULE_MESSAGE_NUL]                 = { "message.nul",                  "RFC 5322 2.3",       "5.6.0", S },
  [SG_RULE_LINE_TOO_LONG]               = { "line.too-long",                "RFC 5322 2.1.1",     "5.6.0", S },
  [SG_RULE_LINE_BARE_CR]                = { "line.bare-cr",                 "RFC 5322 2.3",       "5.6.0", S },
  [SG_RULE_LINE_BARE_LF]                = { "line.bare-lf",                 "RFC 5322 2.3",       "5.6.0", S },
  [SG_RULE_HEADER_NAME_INVALID]         = { "header.name.invalid",          "RFC 5322 3.6.8",     "5.6.0", S },
  [SG_RULE_HEADER_NAME_SPACE]           = { "header.name.space",            "RFC 5322 2.2",       "5.6.0", S },
  [SG_RULE_HEADER_SEPARATOR_MISSING]    = { "header.separator.missing",     "RFC 5322 2.1",       "5.6.0", S },
  [SG_RULE_HEADER_MBOX_FROM]            = { "header.mbox-from",             "RFC 5322 2.2",       "5.6.0", T },
  [SG_RULE_HEADER_8BIT]                 = { "header.8bit",                  "RFC 6532 3.2",       "5.6.7", T },
  [SG_RULE_HEADER_UTF8_INVALID]         = { "header.utf8.invalid",          "RFC 6532 3.1",       "5.6.7", D },
  [SG_RULE_HEADER_DATE_MISSING]         = { "header.date.missing",          "RFC 5322 3.6",       "5.6.0", S },
  [SG_RULE_HEADER_DATE_DUPLICATE]       = { "header.date.duplicate",        "RFC 5322 3.6",       "5.6.0", D },
  [SG_RULE_HEADER_DATE_INVALID]         = { "header.date.invalid",          "RFC 5322 3.3",       "5.6.0", T },
  [SG_RULE_HEADER_FROM_MISSING]         = { "header.from.missing",          "RFC 5322 3.6",       "5.6.0", S },
  [SG_RULE_HEADER_FROM_DUPLICATE]       = { "header.from.duplicate",        "RFC 5322 3.6",       "5.6.0", S },
  [SG_RULE_HEADER_FROM_INVALID]         = { "header.from.invalid",          "RFC 5322 3.6.2",     "5.6.0", D },
  [SG_RULE_HEADER_SENDER_REQUIRED]      = { "header.sender.required",       "RFC 5322 3.6.2",     "5.6.0", T },
  [SG_RULE_HEADER_DUPLICATE]            = { "header.duplicate",             "RFC 5322 3.6",       "5.6.0", D },
  [SG_RULE_HEADER_ADDRESS_INVALID]      = { "header.address.invalid",       "RFC 5322 3.4",       "5.6.0", T },
  [SG_RULE_HEADER_MESSAGE_ID_MISSING]   = { "header.message-id.missing",    "RFC 5322 3.6.4",     "5.6.0", A },
  [SG_RULE_HEADER_MESSAGE_ID_INVALID]   = { "header.message-id.invalid",    "RFC 5322 3.6.4",     "5.6.0", T },
  [SG_RULE_HEADER_RFC2047_INVALID]      = { "header.rfc2047.invalid",       "RFC 2047 2",         "5.6.0", T },
  [SG_RULE_MIME_CONTENT_TYPE_INVALID]   = { "mime.content-type.invalid",    "RFC 2045 5.1",       "5.6.0", S },
  [SG_RULE_MIME_CONTENT_TYPE_AMBIGUOUS] = { "mime.content-type.ambiguous",  "RFC 2045 5.1",       "5.6.0", S },
  [SG_RULE_MIME_PARAM_INVALID]          = { "mime.param.invalid",           "RFC 2045 5.1",       "5.6.0", S },
  [SG_RULE_MIME_PARAM_DUPLICATE]        = { "mime.param.duplicate",         "RFC 2045 5.1",       "5.6.0", S },
  [SG_RULE_MIME_PARAM_CFWS]             = { "mime.param.cfws",              "RFC 2045 5.1",       "5.6.0", S },
  [SG_RULE_MIME_PARAM_SINGLE_QUOTED]    = { "mime.param.single-quoted",     "RFC 2045 5.1",       "5.6.0", S },
  [SG_RULE_MIME_PARAM_RFC2047]          = { "mime.param.rfc2047",           "RFC 2047 5",         "5.6.0", T },
  [SG_RULE_MIME_PARAM_RFC2047_EVASIVE]  = { "mime.param.rfc2047-evasive",   "RFC 2047 5",         "5.6.0", S },
  [SG_RULE_MIME_PARAM_CHARSET_MISMATCH] = { "mime.param.charset-mismatch", "RFC 2231 4",         "5.6.0", S },
  [SG_RULE_MIME_PARAM_FALLBACK]         = { "mime.param.fallback",          "RFC 2231 4",         "5.6.0", A },
  [SG_RULE_MIME_HEADER_DUPLICATE]       = { "mime.header.duplicate",        "RFC 2045 3",         "5.6.0", S },
  [SG_RULE_MIME_CTE_UNKNOWN]            = { "mime.cte.unknown",             "RFC 2045 6.1",       "5.6.1", D },
  [SG_RULE_MIME_CTE_EMPTY]              = { "mime.cte.empty",               "RFC 2045 6.1",       "5.6.1", T },
  [SG_RULE_MIME_CTE_COMPOSITE]          = { "mime.cte.composite",           "RFC 2045 6.4",       "5.6.0", S },
  [SG_RULE_MIME_CTE_COMMENT]            = { "mime.cte.comment",             "RFC 2045 6.1",       "5.6.0", S },
  [SG_RULE_MIME_CTE_WHITESPACE]         = { "mime.cte.whitespace",          "RFC 2045 6.1",       "5.6.0", S },
  [SG_RULE_MIME_BOUNDARY_MISSING]       = { "mime.boundary.missing",        "RFC 2046 5.1.1",     "5.6.0", S },
  [SG_RULE_MIME_BOUNDARY_INVALID]       = { "mime.boundary.invalid",        "RFC 2046 5.1.1",     "5.6.0", D },
  [SG_RULE_MIME_BOUNDARY_FORM]          = { "mime.boundary.form",           "RFC 2046 5.1.1",     "5.6.0", S },
  [SG_RULE_MIME_BOUNDARY_UNOPENED]      = { "mime.boundary.unopened",       "RFC 2046 5.1.1",     "5.6.0", S },
  [SG_RULE_MIME_BOUNDARY_UNTERMINATED]  = { "mime.boundary.unterminated",   "RFC 2046 5.1.1",     "5.6.0", S },
  [SG_RULE_MIME_BOUNDARY_NESTED]        = { "mime.boundary.nested",         "RFC 2046 5.1.2",     "5.6.0", S },
  [SG_RULE_MIME_BOUNDARY_IN_ENCODED]    = { "mime.boundary.in-encoded",     "RFC 2046 5.1.1",     "5.6.0", S },
  [SG_RULE_MIME_BOUNDARY_AMBIGUOUS]     = { "mime.boundary.ambiguous",      "RFC 2046 5.1.1",     "5.6.0", S },
  [SG_RULE_MIME_EPILOGUE_PART]          = { "mime.epilogue.part",           "RFC 2046 5.1.1",     "5.6.0", S },
  [SG_RULE_MIME_PART_EMPTY]             = { "mime.part.empty",              "RFC 2046 5.1.1",     "5.6.0", D },
  [SG_RULE_MIME_MULTIPART_EMPTY]        = { "mime.multipart.empty",         "RFC 2046 5.1.1",     "5.6.0", S },
  [SG_RULE_MIME_8BIT_PREAMBLE]          = { "mime.8bit.preamble",           "RFC 2046 5.1.1",     "5.6.0", T },
  [SG_RULE_MIME_8BIT_IN_7BIT]           = { "mime.8bit.in-7bit",            "RFC 2045 2.7",       "5.6.0", T },
  [SG_RULE_MIME_8BIT_UNDECLARED]        = { "mime.8bit.undeclared",         "RFC 6152 3",         "5.6.3", T },
  [SG_RULE_MIME_BASE64_INVALID]         = { "mime.base64.invalid",          "RFC 2045 6.8",       "5.6.0", S },
  [SG_RULE_MIME_QP_INVALID]             = { "mime.qp.invalid",              "RFC 2045 6.7",       "5.6.0", D },
  [SG_RULE_MIME_QP_NEEDLESS]            = { "mime.qp.needless",             "RFC 2045 6.7",       "5.6.0", T },
  [SG_RULE_MIME_RFC2231_INVALID]        = { "mime.rfc2231.invalid",         "RFC 2231 3",         "5.6.0", S },
  [SG_RULE_MIME_RFC2231_QUOTED]         = { "mime.rfc2231.quoted",          "RFC 2231 7",         "5.6.0", T },
  [SG_RULE_MIME_FILENAME_CONFLICT]      = { "mime.filename.conflict",       "RFC 2183 2.3",       "5.6.0", S },
  [SG_RULE_MIME_LIMIT_DEPTH]            = { "mime.limit.depth",             "RFC 2046 5.1",       "5.6.0", S },
  [SG_RULE_MIME_LIMIT_PARTS]            = { "mime.limit.parts",             "RFC 2046 5.1",       "5.6.0", S },
};

#undef S
#undef D
#undef T
#undef A

/* Policy levels, most to least strict, and the classes each one rejects. */
typedef struct {
  const char *name;
  guint rejects;     /* bit per SgRuleClass */
} SgLevel;

static const SgLevel levels[] = {
  { "strict",     (1u << SG_CLASS_STRUCTURAL) | (1u << SG_CLASS_STANDARD) | (1u << SG_CLASS_STRICT) },
  { "standard",   (1u << SG_CLASS_STRUCTURAL) | (1u << SG_CLASS_STANDARD) },
  { "permissive", (1u << SG_CLASS_STRUCTURAL) },
};

struct _SgPolicy {
  const SgLevel *level;
  gboolean reject[SG_RULE_COUNT];
};

/* sg_rule_info - the table row of rule. */
const SgRuleInfo *
sg_rule_info (SgRule rule)
{
  g_return_val_if_fail ((guint) rule < SG_RULE_COUNT, &rule_table[0]);
  return &rule_table[rule];
}

/* sg_rule_lookup - the index of rule id, or -1. */
int
sg_rule_lookup (const char *id)
{
  if (id == NULL)
    return -1;
  for (int i = 0; i < SG_RULE_COUNT; i++)
    if (strcmp (rule_table[i].id, id) == 0)
      return i;
  return -1;
}

/* sg_rule_exists - whether id names a known rule. */
gboolean
sg_rule_exists (const char *id)
{
  return sg_rule_lookup (id) >= 0;
}

/* sg_rule_count - how many rules there are. */
guint
sg_rule_count (void)
{
  return SG_RULE_COUNT;
}

/* sg_rule_id - the id of the n-th rule, NULL past the end (static). */
const char *
sg_rule_id (guint n)
{
  return n < SG_RULE_COUNT ? rule_table[n].id : NULL;
}

/* sg_rule_rfc - the RFC section of rule id (static, nullable). */
const char *
sg_rule_rfc (const char *id)
{
  int rule = sg_rule_lookup (id);
  return rule >= 0 ? rule_table[rule].rfc : NULL;
}

static gboolean
apply_overrides (SgPolicy *policy, const char *const *ids, gboolean reject, GError **error)
{
  for (gsize i = 0; ids != NULL && ids[i] != NULL; i++)
    {
      g_autofree char *id = g_strstrip (g_strdup (ids[i]));
      if (*id == '\0')
        continue;
      int rule = sg_rule_lookup (id);
      if (rule < 0)
        {
          g_set_error (error, SG_VALIDATE_ERROR, SG_VALIDATE_ERROR_UNKNOWN_RULE,
                       "unknown validation rule \"%s\" in %s=", id, reject ? "reject" : "accept");
          return FALSE;
        }
      policy->reject[rule] = reject;
    }
  return TRUE;
}

/* sg_policy_new - a policy from a level name and reject=/accept= rule lists;
 * accept= is applied after reject=, so a rule named in both is accepted. */
SgPolicy *
sg_policy_new (const char *level, const char *const *reject,
               const char *const *accept, GError **error)
{
  const SgLevel *found = NULL;

  if (level == NULL)
    level = "strict";
  for (gsize i = 0; i < G_N_ELEMENTS (levels); i++)
    if (g_ascii_strcasecmp (levels[i].name, level) == 0)
      found = &levels[i];
  if (found == NULL)
    {
      g_set_error (error, SG_VALIDATE_ERROR, SG_VALIDATE_ERROR_BAD_POLICY,
                   "unknown validation policy \"%s\" (expected strict, standard or permissive)",
                   level);
      return NULL;
    }

  g_autoptr(SgPolicy) policy = g_new0 (SgPolicy, 1);
  policy->level = found;
  for (int i = 0; i < SG_RULE_COUNT; i++)
    policy->reject[i] = (found->rejects & (1u << rule_table[i].klass)) != 0;
  if (!apply_overrides (policy, reject, TRUE, error) ||
      !apply_overrides (policy, accept, FALSE, error))
    return NULL;
  return g_steal_pointer (&policy);
}

/* sg_policy_free - release a policy. */
void
sg_policy_free (SgPolicy *policy)
{
  g_free (policy);
}

/* sg_policy_level - the level name (static). */
const char *
sg_policy_level (const SgPolicy *policy)
{
  return policy != NULL ? policy->level->name : "strict";
}

/* sg_policy_rejects - the verdict for rule; a NULL policy is plain strict. */
gboolean
sg_policy_rejects (const SgPolicy *policy, SgRule rule)
{
  if (policy == NULL)
    return (levels[0].rejects & (1u << rule_table[rule].klass)) != 0;
  return policy->reject[rule];
}

/* sg_policy_rejects_rule - the verdict for rule id; unknown ids never reject. */
gboolean
sg_policy_rejects_rule (const SgPolicy *policy, const char *id)
{
  int rule = sg_rule_lookup (id);
  return rule >= 0 && sg_policy_rejects (policy, (SgRule) rule);
}
