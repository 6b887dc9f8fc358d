/* fuzz-validate.c - libFuzzer target: arbitrary bytes as a message through
 * the validator (GMime parse, raw header, MIME and body scanners). The first
 * byte selects SMTPUTF8, 8BITMIME and the policy level. */
#include "validate/validate.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  static SgPolicy *policies[3];
  static const char *const levels[] = { "strict", "standard", "permissive" };
  if (!policies[0])
    for (int i = 0; i < 3; i++)
      policies[i] = sg_policy_new (levels[i], NULL, NULL, NULL);
  if (size == 0)
    return 0;
  SgValidateOptions o = {
    .smtputf8 = data[0] & 1,
    .eightbitmime = data[0] & 2,
    .max_mime_depth = 8 + (data[0] >> 4),
    .policy = policies[(data[0] >> 2) % 3],
  };
  SgValidation *v = sg_validate (data + 1, size - 1, &o);
  if (v->first_reject)
    g_free (sg_violation_describe (v->first_reject));
  json_node_unref (sg_validation_to_json (v));
  sg_validation_free (v);
  return 0;
}
