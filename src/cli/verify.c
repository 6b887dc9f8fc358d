/* verify.c - `spoolgate verify [--json] [--probe] ADDRESS...`: what the
 * address verification cache ([spool] dir/verify.lmdb) says about each
 * address, as Postfix's `postmap -q` on verify(8)'s cache would; --probe
 * asks the next hop now, with the daemon's TLS and AUTH policy, and stores
 * the answer. Safe beside a running daemon (LMDB locks). The cache itself
 * is src/verify/verify_cache.c's; the probe src/verify/probe.c's. */
#include "cli/cli.h"
#include "cli/cli_spool.h"
#include "common/privilege.h"
#include "verify/probe.h"
#include "verify/verify_cache.h"

#include <json-glib/json-glib.h>
#include <string.h>

static const char *const status_names[] = {
  [SG_VERIFY_UNKNOWN] = "unknown", [SG_VERIFY_DELIVERABLE] = "deliverable",
  [SG_VERIFY_UNDELIVERABLE] = "undeliverable",
};

/* One address's line of output. */
typedef struct {
  const char    *address;
  gboolean       found;
  gboolean       expired;
  SgVerifyEntry  entry;
  char          *error;     /* (nullable) --probe got no answer */
} Row;

static void
append_text (GString *out, const Row *r, gint64 now)
{
  g_autofree char *addr = sg_cli_safe (r->address);
  g_string_append_printf (out, "%s: ", addr);
  if (r->error)
    {
      g_autofree char *why = sg_cli_safe (r->error);
      g_string_append_printf (out, "unknown (probe failed: %s)\n", why);
      return;
    }
  if (!r->found)
    {
      g_string_append (out, "unknown (never probed)\n");
      return;
    }
  g_autofree char *reply = sg_cli_safe (r->entry.reply ? r->entry.reply : "");
  g_string_append_printf (out, "%s, probed %" G_GINT64_FORMAT " s ago%s%s%s: %s\n",
                          r->expired ? "unknown" : status_names[r->entry.status],
                          MAX (0, now - r->entry.time), r->expired ? " (expired; it was " : "",
                          r->expired ? status_names[r->entry.status] : "", r->expired ? ")" : "",
                          reply);
}

static void
append_json (JsonBuilder *b, const Row *r, gint64 now)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "address");
  json_builder_add_string_value (b, r->address);
  json_builder_set_member_name (b, "status");
  json_builder_add_string_value (b, r->found && !r->expired ? status_names[r->entry.status] : "unknown");
  if (r->found)
    {
      json_builder_set_member_name (b, "cached_status");
      json_builder_add_string_value (b, status_names[r->entry.status]);
      json_builder_set_member_name (b, "expired");
      json_builder_add_boolean_value (b, r->expired);
      json_builder_set_member_name (b, "age");
      json_builder_add_int_value (b, MAX (0, now - r->entry.time));
      json_builder_set_member_name (b, "probed_at");
      json_builder_add_int_value (b, r->entry.time);
      json_builder_set_member_name (b, "code");
      json_builder_add_int_value (b, r->entry.code);
      json_builder_set_member_name (b, "reply");
      json_builder_add_string_value (b, r->entry.reply ? r->entry.reply : "");
    }
  if (r->error)
    {
      json_builder_set_member_name (b, "error");
      json_builder_add_string_value (b, r->error);
    }
  json_builder_end_object (b);
}

int
sg_cli_verify (int argc, char **argv)
{
  gboolean json = FALSE, probe = FALSE;
  g_auto(SgCliSpoolArgs) args = { NULL };
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { "probe", 0, 0, G_OPTION_ARG_NONE, &probe, "Ask the next hop now and cache its answer", NULL },
    { NULL },
  };
  g_autoptr(GOptionContext) ctx = sg_cli_spool_context_new (
    "verify", "ADDRESS...", "Show what address verification knows of each address: deliverable, "
    "undeliverable or unknown, with the age and the next hop's reply.", entries, &args);
  g_autoptr(GError) error = NULL;
  if (!sg_cli_parse_options (ctx, entries, &argc, &argv, &error) || argc < 2)
    {
      g_printerr ("spoolgate verify: %s\n", error ? error->message : "name at least one address");
      return SG_CLI_EXIT_USAGE;
    }
  g_autoptr(SgConfig) config = sg_cli_load_config (args.config_path, args.spool_dir, &error);
  if (!config || !sg_privilege_become_owner (config->spool_dir, &error))
    {
      g_printerr ("spoolgate verify: %s\n", error->message);
      return SG_CLI_EXIT_FAILED;
    }
  g_autoptr(SgVerifyCache) cache = NULL;
  if (probe || sg_verify_cache_exists (config->spool_dir))
    {
      cache = sg_verify_cache_open (config->spool_dir, !probe, &error);
      if (!cache)
        {
          g_printerr ("spoolgate verify: %s\n", error->message);
          return SG_CLI_EXIT_FAILED;
        }
      sg_verify_cache_set_limits (cache, config->verify_cache_size, config->verify_positive_ttl,
                                  config->verify_negative_ttl);
    }
  g_autoptr(SgConfig) probe_config = NULL;
  g_autoptr(SgSmarthostDial) dial = NULL;
  if (probe)
    {
      if (!config->smarthost_host)
        {
          g_printerr ("spoolgate verify: --probe needs a [smarthost] host to ask\n");
          return SG_CLI_EXIT_FAILED;
        }
      probe_config = sg_verify_probe_config (config, config->verify_timeout);
      if (!(dial = sg_smarthost_dial_new (probe_config, &error)))
        {
          g_printerr ("spoolgate verify: %s\n", error->message);
          return SG_CLI_EXIT_FAILED;
        }
    }
  int status = SG_CLI_EXIT_OK;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_array (b);
  for (int i = 1; i < argc; i++)
    {
      Row r = { .address = argv[i] };
      if (probe)
        {
          g_autoptr(GError) perr = NULL;
          if (sg_verify_probe (dial, argv[i], FALSE, &r.entry, &perr))
            {
              r.found = TRUE;
              if (r.entry.status != SG_VERIFY_UNKNOWN && !sg_verify_cache_put (cache, argv[i], &r.entry, &perr))
                g_printerr ("spoolgate verify: %s\n", perr->message);
            }
          else
            {
              r.error = g_strdup (perr->message);
              status = SG_CLI_EXIT_FAILED;
            }
        }
      else if (cache)
        r.found = sg_verify_cache_get (cache, argv[i], &r.entry);
      r.expired = r.found && sg_verify_cache_expired (cache, &r.entry, now);
      if (json)
        append_json (b, &r, now);
      else
        append_text (text, &r, now);
      sg_verify_entry_clear (&r.entry);
      g_free (r.error);
    }
  json_builder_end_array (b);
  if (json)
    {
      g_autoptr(JsonGenerator) gen = json_generator_new ();
      g_autoptr(JsonNode) root = json_builder_get_root (b);
      json_generator_set_pretty (gen, TRUE);
      json_generator_set_root (gen, root);
      g_autofree char *out = json_generator_to_data (gen, NULL);
      g_print ("%s\n", out);
    }
  else
    g_print ("%s", text->str);
  return status;
}
