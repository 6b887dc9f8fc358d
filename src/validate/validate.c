/* validate.c - sg_validate(): runs the scanners over one message and collects
 * their violations; plus the reply text and the JSON form of a result.
 *
 * The checks live in scan_raw.c (lines), rules_header.c (RFC 5322 fields),
 * rules_mime.c and rules_body.c (MIME tree), gmime_check.c (GMime's view);
 * the rule table and the policy live in rules.c.
 */
#include "validate/validate-private.h"
#include "config/limits.h"

#include <stdarg.h>
#include <string.h>

/* Longest reply reason, so a 550 line stays well under 512 octets. */
#define SG_DESCRIBE_MAX 200u

/* sg_quote - printable-ASCII copy of untrusted bytes, at most max chars (transfer full). */
char *
sg_quote (const guint8 *s, gsize len, gsize max)
{
  GString *out = g_string_sized_new (MIN (len, max) + 4);
  for (gsize i = 0; i < len; i++)
    {
      if (out->len >= max)
        {
          g_string_append (out, "...");
          break;
        }
      guchar ch = s[i];
      g_string_append_c (out, (ch >= 0x20 && ch < 0x7f) ? (char) ch : '?');
    }
  return g_string_free (out, FALSE);
}

/* sg_vctx_line_at - 1-based line number of offset; linear over calls in
 * increasing offset order thanks to the cache. */
guint
sg_vctx_line_at (SgVctx *c, gsize offset)
{
  if (offset > c->len)
    offset = c->len;
  gsize from = 0;
  guint line = 1;
  if (offset >= c->line_cache_offset)
    {
      from = c->line_cache_offset;
      line = c->line_cache_line;
    }
  const guint8 *p = c->data + from, *end = c->data + offset;
  while (p < end && (p = memchr (p, '\n', (gsize) (end - p))) != NULL)
    {
      line++;
      p++;
    }
  c->line_cache_offset = offset;
  c->line_cache_line = line;
  return line;
}

/* sg_vctx_has - whether rule was already reported for this message. */
gboolean
sg_vctx_has (const SgVctx *c, SgRule rule)
{
  return c->per_rule[rule] > 0;
}

/* sg_vctx_report - add one violation with its location: part path, header
 * name and line of offset (each optional); bounded per rule and per message. */
void
sg_vctx_report (SgVctx *c, SgRule rule, const SgEntity *entity,
                const char *header, gssize offset, const char *fmt, ...)
{
  gboolean reject = sg_policy_rejects (c->policy, rule);

  /* Past the message's cap only its first rejecting violation is still
   * kept: otherwise enough recorded findings placed before a fault would
   * hide it, and the verdict would depend on where the fault stands. A
   * rule past its own cap already has a violation with the same action. */
  if (c->per_rule[rule] >= SG_VALIDATE_MAX_PER_RULE ||
      (c->violations->len >= SG_VALIDATE_MAX_VIOLATIONS && !(reject && !c->rejecting)))
    {
      c->per_rule[rule]++;
      return;
    }
  c->per_rule[rule]++;
  c->rejecting |= reject;

  const SgRuleInfo *info = sg_rule_info (rule);
  SgViolation *v = g_new0 (SgViolation, 1);
  v->rule = info->id;
  v->rfc = info->rfc;
  v->enhanced = info->enhanced;
  v->reject = reject;

  va_list ap;
  va_start (ap, fmt);
  g_autofree char *raw = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  v->text = sg_quote ((const guint8 *) raw, strlen (raw), SG_DESCRIBE_MAX);

  GString *loc = g_string_new (NULL);
  if (entity != NULL && entity->path[0] != '\0')
    g_string_append_printf (loc, "part %s", entity->path);
  if (header != NULL)
    {
      g_autofree char *h = sg_quote ((const guint8 *) header, strlen (header),
                                     SG_VALIDATE_MAX_QUOTE);
      g_string_append_printf (loc, "%sheader %s", loc->len ? " " : "", h);
    }
  if (offset >= 0)
    g_string_append_printf (loc, "%sline %u", loc->len ? ", " : "",
                            sg_vctx_line_at (c, (gsize) offset));
  v->location = loc->len ? g_string_free (loc, FALSE) : (g_string_free (loc, TRUE), NULL);
  g_ptr_array_add (c->violations, v);
}

static void
violation_free (gpointer p)
{
  SgViolation *v = p;
  g_free (v->text);
  g_free (v->location);
  g_free (v);
}

/* sg_validation_free - release a result and its violations. */
void
sg_validation_free (SgValidation *v)
{
  if (v == NULL)
    return;
  g_ptr_array_unref (v->violations);
  g_free (v->message_id);
  g_free (v);
}

/* sg_validate - check one message; never fails, always returns (transfer full). */
SgValidation *
sg_validate (const guint8 *data, gsize len, const SgValidateOptions *opts)
{
  static const SgValidateOptions defaults = { 0 };
  SgVctx ctx = { 0 };

  if (opts == NULL)
    opts = &defaults;
  if (data == NULL)
    len = 0;
  sg_validate_gmime_init ();

  ctx.data = data != NULL ? data : (const guint8 *) "";
  ctx.len = len;
  ctx.smtputf8 = opts->smtputf8;
  ctx.eightbitmime = opts->eightbitmime;
  ctx.max_depth = opts->max_mime_depth ? opts->max_mime_depth : SG_DEF_MAX_MIME_DEPTH;
  ctx.max_depth = MIN (ctx.max_depth, SG_VALIDATE_HARD_MAX_DEPTH);
  ctx.max_parts = opts->max_mime_parts ? opts->max_mime_parts : SG_DEF_MAX_MIME_PARTS;
  ctx.policy = opts->policy;
  ctx.violations = g_ptr_array_new_with_free_func (violation_free);
  ctx.line_cache_line = 1;

  sg_scan_raw (&ctx);
  SgEntity root = { "", SG_ENTITY_ROOT };
  sg_check_entity (&ctx, &root, 0, len, 0, NULL, 0, FALSE);
  sg_check_gmime (&ctx);

  SgValidation *v = g_new0 (SgValidation, 1);
  v->violations = ctx.violations;
  v->message_id = ctx.message_id;
  v->has_8bit = ctx.has_8bit;
  v->policy = sg_policy_level (opts->policy);
  for (guint i = 0; i < v->violations->len; i++)
    {
      const SgViolation *viol = g_ptr_array_index (v->violations, i);
      if (viol->reject)
        {
          v->first_reject = viol;
          break;
        }
    }
  return v;
}

/* sg_violation_describe - the reply reason after "Message rejected: ",
 * e.g. "no Date header (RFC 5322 3.6) [header.date.missing]" (transfer full). */
char *
sg_violation_describe (const SgViolation *v)
{
  g_autofree char *tail = g_strdup_printf (" (%s) [%s]", v->rfc, v->rule);
  g_autofree char *head = v->location != NULL
    ? g_strdup_printf ("%s in %s", v->text, v->location)
    : g_strdup (v->text);
  gsize room = SG_DESCRIBE_MAX > strlen (tail) + 3 ? SG_DESCRIBE_MAX - strlen (tail) - 3 : 0;
  g_autofree char *safe = sg_quote ((const guint8 *) head, strlen (head), room);
  return g_strconcat (safe, tail, NULL);
}

/* sg_validation_to_json - the "validation" metadata object (transfer full). */
JsonNode *
sg_validation_to_json (const SgValidation *v)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "policy");
  json_builder_add_string_value (b, v->policy);
  json_builder_set_member_name (b, "verdict");
  json_builder_add_string_value (b, v->first_reject ? "rejected" : "accepted");
  json_builder_set_member_name (b, "violations");
  json_builder_begin_array (b);
  for (guint i = 0; i < v->violations->len; i++)
    {
      const SgViolation *viol = g_ptr_array_index (v->violations, i);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "rule");
      json_builder_add_string_value (b, viol->rule);
      json_builder_set_member_name (b, "rfc");
      json_builder_add_string_value (b, viol->rfc);
      json_builder_set_member_name (b, "text");
      json_builder_add_string_value (b, viol->text);
      json_builder_set_member_name (b, "location");
      if (viol->location != NULL)
        json_builder_add_string_value (b, viol->location);
      else
        json_builder_add_null_value (b);
      json_builder_set_member_name (b, "action");
      json_builder_add_string_value (b, viol->reject ? "reject" : "accept");
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}
