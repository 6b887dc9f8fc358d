/* test-common.h - helpers shared by the validator tests: loading sample
 * messages with LF-only files turned into CRLF, and finding a rule in a
 * result. Header-only so each test program stays self-contained.
 */
#pragma once

#include "validate/validate.h"

#include <string.h>

/* load_message - file contents; an LF-only file gets CRLF line endings (transfer full). */
static inline GBytes *
load_message (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *data = NULL;
  gsize len = 0;

  if (!g_file_get_contents (path, &data, &len, &error))
    g_error ("%s: %s", path, error->message);
  if (memchr (data, '\n', len) == NULL || memmem (data, len, "\r\n", 2) != NULL)
    return g_bytes_new_take (g_steal_pointer (&data), len);
  GByteArray *out = g_byte_array_sized_new ((guint) (len + len / 16 + 2));
  for (gsize i = 0; i < len; i++)
    {
      if (data[i] == '\n')
        g_byte_array_append (out, (const guint8 *) "\r", 1);
      g_byte_array_append (out, (const guint8 *) data + i, 1);
    }
  return g_byte_array_free_to_bytes (out);
}

/* find_violation - the first violation of rule id, or NULL. */
static inline const SgViolation *
find_violation (const SgValidation *v, const char *id)
{
  for (guint i = 0; i < v->violations->len; i++)
    {
      const SgViolation *viol = g_ptr_array_index (v->violations, i);
      if (strcmp (viol->rule, id) == 0)
        return viol;
    }
  return NULL;
}

/* dump_violations - the result as text, for failure messages (transfer full). */
static inline char *
dump_violations (const SgValidation *v)
{
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < v->violations->len; i++)
    {
      const SgViolation *viol = g_ptr_array_index (v->violations, i);
      g_autofree char *d = sg_violation_describe (viol);
      g_string_append_printf (s, "\n  %s %s", viol->reject ? "reject" : "accept", d);
    }
  return g_string_free (s, FALSE);
}

static inline SgValidation *
validate_bytes (GBytes *b, const SgValidateOptions *opts)
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (b, &len);
  return sg_validate (data, len, opts);
}
