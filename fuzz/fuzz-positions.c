/* fuzz-positions.c - libFuzzer target: the input is one header field (a
 * "probe"), placed first, in the middle and last in each kind of header
 * section by tests/validate/field-positions.h; aborts when the validator's
 * rule ids or verdict depend on where the field stands (issue 20). The
 * first byte selects the policy level, SMTPUTF8 and whether a second field
 * of the probe's name stays beside it (then only the verdict must agree).
 * Inputs that are not one field whatever the position are skipped. */
#include "../tests/validate/field-positions.h"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  static SgPolicy *policies[3];
  static const char *const levels[] = { "strict", "standard", "permissive" };
  if (!policies[0])
    for (int i = 0; i < 3; i++)
      policies[i] = sg_policy_new (levels[i], NULL, NULL, NULL);
  /* a field longer than this adds nothing but time per input */
  if (size < 2 || size > 4096 || !sg_pos_probe_ok (data + 1, size - 1))
    return 0;
  SgValidateOptions o = {
    .smtputf8 = data[0] & 1,
    .eightbitmime = data[0] & 1,
    .policy = policies[(data[0] >> 2) % 3],
  };
  char *diff = sg_pos_check (data + 1, size - 1, &o, (data[0] & 2) != 0);
  if (diff != NULL)
    {
      fprintf (stderr, "fuzz-positions (%s%s): %s\n", levels[(data[0] >> 2) % 3],
               o.smtputf8 ? ", SMTPUTF8" : "", diff);
      abort ();
    }
  return 0;
}
