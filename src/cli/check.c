/* check.c - `spoolgate check [--json] [--smtputf8] [--8bitmime] [--config FILE]
 * FILE...`: runs sg_validate() on message files exactly as the server would,
 * with the policy from the configuration, and prints a verdict per file;
 * `check --summary DIR...` prints accepted/rejected per directory (a corpus)
 * and per rule instead. Owns only file loading, line-ending normalisation and
 * output; the rules are src/validate/'s.
 */
#include "cli/check.h"
#include "cli/cli.h"
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

/* validate_file - load path (LF-only files as CRLF) and validate it; NULL
 * with the error printed when it cannot be read (transfer full). */
static SgValidation *
validate_file (const char *path, const SgValidateOptions *options)
{
  char *data = NULL;
  gsize len = 0;
  g_autoptr(GError) io_error = NULL;
  if (!g_file_get_contents (path, &data, &len, &io_error))
    {
      g_printerr ("spoolgate check: %s\n", io_error->message);
      return NULL;
    }
  g_autoptr(GBytes) message = normalise_line_endings (data, len);
  gsize size = 0;
  const guint8 *bytes = g_bytes_get_data (message, &size);
  return sg_validate (bytes, size, options);
}

/* Per-rule tallies of one corpus. */
typedef struct {
  guint rejected;   /* messages whose reply names this rule (the first reject) */
  guint recorded;   /* messages where it was found but did not decide */
} RuleTally;

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* summarise_dir - validate every *.eml under dir (sorted) and print the
 * counts: messages, accepted, rejected, then one line per rule seen. */
static int
summarise_dir (const char *dir, const SgValidateOptions *options)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) d = g_dir_open (dir, 0, &error);
  if (d == NULL)
    {
      g_printerr ("spoolgate check: %s\n", error->message);
      return CHECK_ERROR;
    }
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  for (const char *n; (n = g_dir_read_name (d)) != NULL; )
    if (g_str_has_suffix (n, ".eml"))
      g_ptr_array_add (names, g_strdup (n));
  g_ptr_array_sort (names, compare_names);
  guint nrules = sg_rule_count ();
  g_autofree RuleTally *tally = g_new0 (RuleTally, nrules);
  guint accepted = 0, rejected = 0;
  int status = CHECK_OK;
  const char *policy = NULL;

  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *path = g_build_filename (dir, g_ptr_array_index (names, i), NULL);
      g_autoptr(SgValidation) v = validate_file (path, options);
      if (v == NULL)
        {
          status = CHECK_ERROR;
          continue;
        }
      policy = v->policy;
      if (v->first_reject != NULL)
        rejected++;
      else
        accepted++;
      for (guint r = 0; r < nrules; r++)
        {
          const char *id = sg_rule_id (r);
          gboolean seen = FALSE, decides = FALSE;
          for (guint k = 0; k < v->violations->len; k++)
            {
              const SgViolation *viol = g_ptr_array_index (v->violations, k);
              if (strcmp (viol->rule, id) != 0)
                continue;
              seen = TRUE;
              decides = decides || viol == v->first_reject;
            }
          if (decides)
            tally[r].rejected++;
          else if (seen)
            tally[r].recorded++;
        }
    }
  g_print ("%s: %u messages, %u accepted, %u rejected (policy %s)\n", dir, names->len,
           accepted, rejected, policy ? policy : sg_policy_level (options->policy));
  gboolean any = FALSE;
  for (guint r = 0; r < nrules; r++)
    {
      if (tally[r].rejected == 0 && tally[r].recorded == 0)
        continue;
      if (!any)
        g_print ("  %-30s %8s %8s\n", "rule", "rejected", "recorded");
      any = TRUE;
      g_print ("  %-30s %8u %8u\n", sg_rule_id (r), tally[r].rejected, tally[r].recorded);
    }
  return status;
}

/* sg_cli_check - validate each FILE and print its verdict. */
int
sg_cli_check (int argc, char **argv)
{
  gboolean json = FALSE, smtputf8 = FALSE, eightbitmime = FALSE, summary = FALSE;
  g_autofree char *config_path = NULL;
  g_auto(GStrv) files = NULL;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "One JSON object per file, one per line", NULL },
    { "summary", 0, 0, G_OPTION_ARG_NONE, &summary,
      "Arguments are directories (corpora): print accepted/rejected per directory and per rule", NULL },
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
    "rejected, 2 usage or I/O error. With --summary, each argument is a\n"
    "directory whose *.eml files are counted; the exit status is then 0\n"
    "unless a file could not be read.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!sg_cli_parse_options (context, entries, &argc, &argv, &error))
    {
      g_printerr ("spoolgate check: %s\n", error->message);
      return CHECK_ERROR;
    }
  /* `check --config FILE` alone checks the configuration itself. */
  if ((files == NULL || files[0] == NULL) && config_path != NULL && !summary)
    return sg_cli_config_check (config_path);
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
  if (summary)
    {
      for (guint i = 0; files[i] != NULL; i++)
        if (summarise_dir (files[i], &options) != CHECK_OK)
          status = CHECK_ERROR;
      return status;
    }
  for (guint i = 0; files[i] != NULL; i++)
    {
      g_autoptr(SgValidation) v = validate_file (files[i], &options);
      if (v == NULL)
        {
          status = CHECK_ERROR;
          continue;
        }
      if (json)
        print_json (files[i], v);
      else
        print_text (files[i], v);
      if (v->first_reject != NULL && status == CHECK_OK)
        status = CHECK_REJECTED;
    }
  return status;
}
