/* test-policy.c - the policy (levels, reject=/accept= overrides, errors),
 * the reply text of sg_violation_describe() and the JSON result form.
 */
#include "test-common.h"

static SgValidation *
validate_sample (const char *kind, const char *rule, const SgPolicy *policy)
{
  g_autofree char *name = g_strconcat (rule, ".eml", NULL);
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "validate", kind, name, NULL);
  g_autoptr(GBytes) msg = load_message (path);
  SgValidateOptions o = { .policy = policy };
  return validate_bytes (msg, &o);
}

static void
test_unknown (void)
{
  g_autoptr(GError) error = NULL;
  const char *bad[] = { "header.date.missing", "no.such.rule", NULL };
  g_autoptr(SgPolicy) p1 = sg_policy_new ("strict", bad, NULL, &error);
  g_assert_null (p1);
  g_assert_error (error, SG_VALIDATE_ERROR, SG_VALIDATE_ERROR_UNKNOWN_RULE);
  g_assert_nonnull (strstr (error->message, "no.such.rule"));
  g_clear_error (&error);

  g_autoptr(SgPolicy) p2 = sg_policy_new ("strict", NULL, bad, &error);
  g_assert_null (p2);
  g_assert_error (error, SG_VALIDATE_ERROR, SG_VALIDATE_ERROR_UNKNOWN_RULE);
  g_clear_error (&error);

  g_autoptr(SgPolicy) p3 = sg_policy_new ("lenient", NULL, NULL, &error);
  g_assert_null (p3);
  g_assert_error (error, SG_VALIDATE_ERROR, SG_VALIDATE_ERROR_BAD_POLICY);
}

/* The documented table: level -> rules it accepts that strict rejects. */
static const struct {
  const char *rule;
  gboolean strict, standard, permissive;
} verdicts[] = {
  { "message.nul",                TRUE,  TRUE,  TRUE  },
  { "line.too-long",              TRUE,  TRUE,  TRUE  },
  { "line.bare-lf",               TRUE,  TRUE,  TRUE  },
  { "header.date.missing",        TRUE,  TRUE,  TRUE  },
  { "header.date.invalid",        TRUE,  FALSE, FALSE },
  { "header.date.duplicate",      TRUE,  TRUE,  FALSE },
  { "header.from.missing",        TRUE,  TRUE,  TRUE  },
  { "header.from.invalid",        TRUE,  TRUE,  FALSE },
  { "header.8bit",                TRUE,  FALSE, FALSE },
  { "header.rfc2047.invalid",     TRUE,  FALSE, FALSE },
  { "header.message-id.invalid",  TRUE,  FALSE, FALSE },
  { "header.message-id.missing",  FALSE, FALSE, FALSE },
  { "mime.8bit.in-7bit",          TRUE,  FALSE, FALSE },
  { "mime.qp.invalid",            TRUE,  TRUE,  FALSE },
  { "mime.param.duplicate",       TRUE,  TRUE,  TRUE  },
  { "mime.filename.conflict",     TRUE,  TRUE,  TRUE  },
  { "mime.param.rfc2047",         TRUE,  FALSE, FALSE },
  { "mime.param.rfc2047-evasive", TRUE,  TRUE,  TRUE  },
  { "mime.param.fallback",        FALSE, FALSE, FALSE },
  { "mime.param.cfws",            TRUE,  TRUE,  TRUE  },
  { "mime.rfc2231.quoted",        TRUE,  FALSE, FALSE },
  { "mime.multipart.empty",       TRUE,  TRUE,  TRUE  },
  { "mime.qp.needless",           TRUE,  FALSE, FALSE },
  { "mime.cte.whitespace",        TRUE,  TRUE,  TRUE  },
  { "mime.param.charset-mismatch", TRUE, TRUE,  TRUE  },
  { "header.mbox-from",           TRUE,  FALSE, FALSE },
  { "mime.8bit.preamble",         TRUE,  FALSE, FALSE },
  { "mime.boundary.in-encoded",   TRUE,  TRUE,  TRUE  },
  { "mime.epilogue.part",         TRUE,  TRUE,  TRUE  },
};

static void
test_levels (void)
{
  g_autoptr(SgPolicy) strict = sg_policy_new ("strict", NULL, NULL, NULL);
  g_autoptr(SgPolicy) standard = sg_policy_new ("Standard", NULL, NULL, NULL);
  g_autoptr(SgPolicy) permissive = sg_policy_new ("permissive", NULL, NULL, NULL);
  g_assert_cmpstr (sg_policy_level (standard), ==, "standard");
  g_assert_cmpstr (sg_policy_level (NULL), ==, "strict");

  for (gsize i = 0; i < G_N_ELEMENTS (verdicts); i++)
    {
      const char *rule = verdicts[i].rule;
      g_assert_true (sg_rule_exists (rule));
      g_assert_cmpint (sg_policy_rejects_rule (strict, rule), ==, verdicts[i].strict);
      g_assert_cmpint (sg_policy_rejects_rule (standard, rule), ==, verdicts[i].standard);
      g_assert_cmpint (sg_policy_rejects_rule (permissive, rule), ==, verdicts[i].permissive);
      g_assert_cmpint (sg_policy_rejects_rule (NULL, rule), ==, verdicts[i].strict);
    }

  /* Each level is no stricter than the one before it. */
  for (guint i = 0; i < sg_rule_count (); i++)
    {
      const char *rule = sg_rule_id (i);
      g_assert_true (!sg_policy_rejects_rule (permissive, rule) || sg_policy_rejects_rule (standard, rule));
      g_assert_true (!sg_policy_rejects_rule (standard, rule) || sg_policy_rejects_rule (strict, rule));
    }

  /* End to end: a relaxed violation is still reported, with reject FALSE. */
  g_autoptr(SgValidation) v = validate_sample ("bad", "header.date.invalid", standard);
  const SgViolation *viol = find_violation (v, "header.date.invalid");
  g_assert_nonnull (viol);
  g_assert_false (viol->reject);
  g_assert_null (v->first_reject);
  g_assert_cmpstr (v->policy, ==, "standard");

  g_autoptr(SgValidation) v2 = validate_sample ("bad", "mime.epilogue.part", permissive);
  g_assert_nonnull (v2->first_reject);
  g_assert_cmpstr (v2->first_reject->rule, ==, "mime.epilogue.part");
}

static void
test_overrides (void)
{
  const char *reject[] = { "header.message-id.missing", " line.too-long ", NULL };
  const char *accept[] = { "header.date.missing", "line.too-long", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(SgPolicy) p = sg_policy_new ("permissive", reject, accept, &error);
  g_assert_no_error (error);
  g_assert_true (sg_policy_rejects_rule (p, "header.message-id.missing"));
  g_assert_false (sg_policy_rejects_rule (p, "header.date.missing"));
  /* accept= wins over reject= */
  g_assert_false (sg_policy_rejects_rule (p, "line.too-long"));

  g_autoptr(SgValidation) v = validate_sample ("bad", "header.message-id.missing", p);
  g_assert_nonnull (v->first_reject);
  g_assert_cmpstr (v->first_reject->rule, ==, "header.message-id.missing");
  g_autoptr(SgValidation) v2 = validate_sample ("bad", "header.date.missing", p);
  g_assert_null (v2->first_reject);
}

static void
test_describe (void)
{
  g_autoptr(SgValidation) v = validate_sample ("bad", "header.date.missing", NULL);
  g_assert_nonnull (v->first_reject);
  g_autofree char *d = sg_violation_describe (v->first_reject);
  g_assert_cmpstr (d, ==, "no Date header (RFC 5322 3.6) [header.date.missing]");
  g_assert_cmpstr (v->first_reject->enhanced, ==, "5.6.0");

  g_autoptr(SgValidation) v2 = validate_sample ("bad", "mime.param.duplicate", NULL);
  g_autofree char *d2 = sg_violation_describe (find_violation (v2, "mime.param.duplicate"));
  g_assert_cmpstr (d2, ==, "duplicate boundary parameter in header Content-Type, line 7 "
                           "(RFC 2045 5.1) [mime.param.duplicate]");

  g_autoptr(SgValidation) v3 = validate_sample ("bad", "mime.rfc2231.invalid", NULL);
  g_autofree char *d3 = sg_violation_describe (find_violation (v3, "mime.rfc2231.invalid"));
  g_assert_nonnull (strstr (d3, "in part 2 header Content-Disposition"));

  /* Untrusted bytes are quoted as printable ASCII, and the text is capped. */
  GString *s = g_string_new ("Date: Tue, 14 Nov 2023 22:13:20 +0000\r\nFrom: a@b.example\r\n"
                             "Content-Type: text/plain\r\nContent-Transfer-Encoding: \x01\xff");
  for (guint i = 0; i < 500; i++)
    g_string_append_c (s, 'x');
  g_string_append (s, "\r\n\r\nbody\r\n");
  g_autoptr(SgValidation) v4 = sg_validate ((guint8 *) s->str, s->len, NULL);
  g_string_free (s, TRUE);
  const SgViolation *viol = find_violation (v4, "mime.cte.unknown");
  g_assert_nonnull (viol);
  g_autofree char *d4 = sg_violation_describe (viol);
  g_assert_cmpuint (strlen (d4), <=, 200);
  for (const char *p = d4; *p; p++)
    g_assert_true (*p >= 0x20 && *p < 0x7f);
  g_assert_true (g_str_has_suffix (d4, "(RFC 2045 6.1) [mime.cte.unknown]"));
}

static void
test_json (void)
{
  g_autoptr(SgPolicy) p = sg_policy_new ("standard", NULL, NULL, NULL);
  g_autoptr(SgValidation) v = validate_sample ("bad", "header.message-id.invalid", p);
  g_autoptr(JsonNode) node = sg_validation_to_json (v);
  g_autofree char *text = json_to_string (node, FALSE);
  g_assert_cmpstr (text, ==,
                   "{\"policy\":\"standard\",\"verdict\":\"accepted\",\"violations\":"
                   "[{\"rule\":\"header.message-id.invalid\",\"rfc\":\"RFC 5322 3.6.4\","
                   "\"text\":\"invalid msg-id\",\"location\":\"header Message-ID, line 5\","
                   "\"action\":\"accept\"}]}");

  g_autoptr(SgValidation) v2 = validate_sample ("bad", "header.from.missing", NULL);
  g_autoptr(JsonNode) node2 = sg_validation_to_json (v2);
  JsonObject *o = json_node_get_object (node2);
  g_assert_cmpstr (json_object_get_string_member (o, "verdict"), ==, "rejected");
  JsonArray *a = json_object_get_array_member (o, "violations");
  JsonObject *first = json_array_get_object_element (a, 0);
  g_assert_true (json_object_get_null_member (first, "location"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/validate/policy/unknown-rule", test_unknown);
  g_test_add_func ("/validate/policy/levels", test_levels);
  g_test_add_func ("/validate/policy/overrides", test_overrides);
  g_test_add_func ("/validate/reply/describe", test_describe);
  g_test_add_func ("/validate/reply/json", test_json);
  return g_test_run ();
}
