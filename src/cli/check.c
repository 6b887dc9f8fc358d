/* check.c - `spoolgate check [--json] [--smtputf8] [--8bitmime] [--config FILE]
 * FILE...`: runs sg_validate() on message files exactly as the server would,
 * with the policy from the configuration, and prints a verdict per file.
 * Owns only file loading, line-ending normalisation and output; the rules
 * are src/validate/'s.
 */
#include "cli/check.h"
#include "cli/cli_spool.h"
#include "config/config.h"
#include "validate/validate.h"

#include <errno.h>
#include <string.h>

enum { CHECK_OK = 0, CHECK_REJECTED = 1, CHECK_ERROR = 2 };

/* A file with LF line endings only becomes CRLF, as SMTP would carry it; a
 * file with any CR is taken as it is, so a mixture shows up as line.bare-lf
 * or line.bare-cr violations (transfer full). */
static GBytes *
normalise_line_endings (char *data, gsize len)
{
  if (memchr (data, '\r', len) != NULL || memchr (data, '\n', len) == NULL)
    return g_bytes_new_take (data, len);
  GByteArray *out = g_byte_array_sized_new ((guint) MIN (len + len / 16 + 2, G_MAXUINT));
  const char *p = data, *end = data + len;
  while (p < end)
    {
      const char *nl = memchr (p, '\n', (gsize) (end - p));
      if (nl == NULL)
        {
          g_byte_array_append (out, (const guint8 *) p, (guint) (end - p));
          break;
        }
      g_byte_array_append (out, (const guint8 *) p, (guint) (nl - p));
      g_byte_array_append (out, (const guint8 *) "\r\n", 2);
      p = nl + 1;
    }
  g_free (data);
  return g_byte_array_free_to_bytes (out);
}

static void
print_text (const char *file, const SgValidation *v)
{
  g_print ("%s: %s (policy %s)\n", file, v->first_reject ? "rejected" : "accepted", v->policy);
  for (guint i = 0; i < v->violations->len; i++)
    {
      const SgViolation *viol = g_ptr_array_index (v->violations, i);
      g_print ("  %s %s%s%s%s: %s (%s)\n", viol->reject ? "reject" : "accept", viol->rule,
               viol->location ? " [" : "", viol->location ? viol->location : "",
               viol->location ? "]" : "", viol->text, viol->rfc);
    }
  if (v->first_reject != NULL)
    {
      g_autofree char *why = sg_violation_describe (v->first_reject);
      g_print ("  reply: 550 %s Message rejected: %s\n", v->first_reject->enhanced, why);
    }
}

static void
print_json (const char *file, const SgValidation *v)
{
  g_autoptr(JsonNode) result = sg_validation_to_json (v);
  JsonObject *src = json_node_get_object (result);
  g_autoptr(JsonObject) out = json_object_new ();
  g_autofree char *name = g_filename_display_name (file);

  json_object_set_string_member (out, "file", name);
  json_object_set_member (out, "verdict", json_object_dup_member (src, "verdict"));
  json_object_set_member (out, "policy", json_object_dup_member (src, "policy"));
  json_object_set_member (out, "violations", json_object_dup_member (src, "violations"));
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), out);
  g_autofree char *line = json_to_string (node, FALSE);
  g_print ("%s\n", line);
}

/* sg_cli_check - validate each FILE and print its verdict. */
int
sg_cli_check (int argc, char **argv)
{
  gboolean json = FALSE, smtputf8 = FALSE, eightbitmime = FALSE;
  g_autofree char *config_path = NULL;
  g_auto(GStrv) files = NULL;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "One JSON object per file, one per line", NULL },
    { "smtputf8", 0, 0, G_OPTION_ARG_NONE, &smtputf8, "Validate as if the client declared SMTPUTF8", NULL },
    { "8bitmime", 0, 0, G_OPTION_ARG_NONE, &eightbitmime, "Validate as if the client declared BODY=8BITMIME", NULL },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "Take the [validation] policy from FILE", "FILE" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &files, NULL, NULL },
    { NULL }
  };
  g_set_prgname ("spoolgate check");
  g_autoptr(GOptionContext) context = g_option_context_new ("FILE...");
  g_autoptr(GError) error = NULL;

  g_option_context_set_summary (context,
    "Checks each message file with the same validator and policy as the server.\n"
    "LF-only files are read as CRLF. Exit status: 0 all accepted, 1 some\n"
    "rejected, 2 usage or I/O error.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!sg_cli_parse_options (context, entries, &argc, &argv, &error))
    {
      g_printerr ("spoolgate check: %s\n", error->message);
      return CHECK_ERROR;
    }
  if (files == NULL || files[0] == NULL)
    {
      g_printerr ("spoolgate check: no message files given; see `spoolgate check --help`\n");
      return CHECK_ERROR;
    }

  g_autoptr(SgConfig) config = sg_config_load (config_path, &error);
  if (config == NULL)
    {
      g_printerr ("spoolgate check: %s\n", error->message);
      return CHECK_ERROR;
    }
  g_autoptr(SgPolicy) policy = sg_policy_new (config->validation_policy,
                                              (const char *const *) config->validation_reject,
                                              (const char *const *) config->validation_accept,
                                              &error);
  if (policy == NULL)
    {
      g_printerr ("spoolgate check: %s%s%s\n", config_path ? config_path : "",
                  config_path ? ": " : "", error->message);
      return CHECK_ERROR;
    }

  SgValidateOptions options = {
    .smtputf8 = smtputf8,
    .eightbitmime = eightbitmime,
    .max_mime_depth = config->max_mime_depth,
    .max_mime_parts = config->max_mime_parts,
    .policy = policy,
  };
  int status = CHECK_OK;
  for (guint i = 0; files[i] != NULL; i++)
    {
      char *data = NULL;
      gsize len = 0;
      g_autoptr(GError) io_error = NULL;
      if (!g_file_get_contents (files[i], &data, &len, &io_error))
        {
          g_printerr ("spoolgate check: %s\n", io_error->message);
          status = CHECK_ERROR;
          continue;
        }
      g_autoptr(GBytes) message = normalise_line_endings (data, len);
      gsize size = 0;
      const guint8 *bytes = g_bytes_get_data (message, &size);
      g_autoptr(SgValidation) v = sg_validate (bytes, size, &options);
      if (json)
        print_json (files[i], v);
      else
        print_text (files[i], v);
      if (v->first_reject != NULL && status == CHECK_OK)
        status = CHECK_REJECTED;
    }
  return status;
}
