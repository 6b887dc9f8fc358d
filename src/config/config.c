/* config.c - the configuration key table, the GKeyFile loader and the value
 * parsers. Each key appears once, in config_keys[], with its type, bounds and
 * default; defaults, file loading, command-line overrides and the dump all
 * walk that table. Unknown groups and keys are errors, never ignored. */
#include "config/config.h"
#include "common/netlist.h"

#include <errno.h>
#include <stdarg.h>
#include <netdb.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

G_DEFINE_QUARK (sg-config-error-quark, sg_config_error)

typedef enum {
  KEY_STRING,   /* char* */
  KEY_HOSTPORT, /* char* checked as HOST:PORT */
  KEY_ENUM,     /* char* from choices */
  KEY_LIST,     /* char** comma or semicolon separated */
  KEY_UINT,     /* guint */
  KEY_SIZE,     /* guint64 bytes */
  KEY_DURATION, /* guint seconds */
  KEY_BOOL,     /* gboolean: true/false, yes/no, on/off, 1/0 */
} KeyType;

typedef struct {
  const char *group;
  const char *key;
  KeyType     type;
  gsize       offset;
  const char *def_str;        /* string types; NULL = computed or empty */
  guint64     def_num;        /* numeric types */
  guint64     min, max;
  const char *const *choices; /* KEY_ENUM */
  gboolean    reloadable;     /* SIGHUP applies it (to new sessions and messages);
                               * otherwise a change is logged and waits for a restart */
  SgConfigFileKind file;      /* a file or directory it names, checked by `config check` */
} ConfigKey;

static const char *const policy_choices[] = { "strict", "standard", "permissive", NULL };
static const char *const mode_choices[] = { "enforce", "monitor", NULL };
static const char *const tls_choices[] = { "none", "opportunistic", "required", "verify", NULL };
static const char *const balance_choices[] = { "failover", "round-robin", NULL };
static const char *const milter_action_choices[] = { "accept", "tempfail", "reject", NULL };
static const char *const log_level_choices[] = { "error", "warning", "info", "debug", NULL };
static const char *const sync_method_choices[] = { "fdatasync", "syncfs", NULL };

#define OFF(field) offsetof (SgConfig, field)
#define LIVE .reloadable = TRUE   /* the "reloadable" column; absent: restart only */
#define FILE_IS(kind) .file = SG_CONFIG_FILE_##kind   /* what the value names */
static const ConfigKey config_keys[] = {
  { "server", "listen", KEY_HOSTPORT, OFF (listen), SG_DEF_LISTEN },
  { "server", "hostname", KEY_STRING, OFF (hostname), NULL, LIVE },
  { "server", "user", KEY_STRING, OFF (user), NULL },
  { "server", "log_level", KEY_ENUM, OFF (log_level), SG_DEF_LOG_LEVEL, 0, 0, 0, log_level_choices },
  { "server", "proxy_protocol", KEY_BOOL, OFF (proxy_protocol), NULL, FALSE, 0, 1, LIVE },
  { "server", "proxy_trusted", KEY_LIST, OFF (proxy_trusted), SG_DEF_PROXY_TRUSTED, LIVE },
  { "server", "proxy_timeout", KEY_DURATION, OFF (proxy_timeout), NULL, SG_DEF_PROXY_TIMEOUT, 1, 3600, LIVE },
  { "metrics", "listen", KEY_HOSTPORT, OFF (metrics_listen), NULL },
  { "spool", "dir", KEY_STRING, OFF (spool_dir), SG_DEF_SPOOL_DIR, FILE_IS (SPOOL) },
  { "spool", "commit_queue_messages", KEY_UINT, OFF (commit_queue_messages), NULL, SG_DEF_COMMIT_QUEUE_MESSAGES, 1, 1000000, LIVE },
  { "spool", "commit_queue_bytes", KEY_SIZE, OFF (commit_queue_bytes), NULL, SG_DEF_COMMIT_QUEUE_BYTES, 1 << 20, G_GUINT64_CONSTANT (1) << 40, LIVE },
  { "spool", "commit_queue_wait", KEY_DURATION, OFF (commit_queue_wait), NULL, SG_DEF_COMMIT_QUEUE_WAIT, 0, 3600, LIVE },
  { "spool", "recycle_files", KEY_UINT, OFF (recycle_files), NULL, SG_DEF_RECYCLE_FILES, 0, 1000000, LIVE },
  { "spool", "sync_method", KEY_ENUM, OFF (sync_method), SG_DEF_SYNC_METHOD, 0, 0, 0, sync_method_choices },
  { "spool", "min_free", KEY_SIZE, OFF (min_free), NULL, SG_DEF_MIN_FREE, 0, G_GUINT64_CONSTANT (1) << 50, LIVE },
  { "access", "allowed_networks", KEY_LIST, OFF (allowed_networks), SG_DEF_ALLOWED_NETWORKS, LIVE },
  { "access", "accepted_domains", KEY_LIST, OFF (accepted_domains), NULL, LIVE },
  { "tls", "cert_file", KEY_STRING, OFF (tls_cert_file), NULL, LIVE, FILE_IS (CERT) },
  { "tls", "key_file", KEY_STRING, OFF (tls_key_file), NULL, LIVE, FILE_IS (KEY) },
  { "tls", "require", KEY_BOOL, OFF (tls_require), NULL, FALSE, 0, 1, LIVE },
  { "limits", "max_message_size", KEY_SIZE, OFF (max_message_size), NULL, SG_DEF_MAX_MESSAGE_SIZE, 1024, SG_MAX_MAX_MESSAGE_SIZE, LIVE },
  { "limits", "max_recipients", KEY_UINT, OFF (max_recipients), NULL, SG_DEF_MAX_RECIPIENTS, 1, 100000, LIVE },
  { "limits", "max_command_line", KEY_UINT, OFF (max_command_line), NULL, SG_DEF_MAX_COMMAND_LINE, SG_MIN_MAX_COMMAND_LINE, 65536, LIVE },
  { "limits", "command_timeout", KEY_DURATION, OFF (command_timeout), NULL, SG_DEF_COMMAND_TIMEOUT, 1, 86400, LIVE },
  { "limits", "data_timeout", KEY_DURATION, OFF (data_timeout), NULL, SG_DEF_DATA_TIMEOUT, 1, 86400, LIVE },
  { "limits", "shutdown_timeout", KEY_DURATION, OFF (shutdown_timeout), NULL, SG_DEF_SHUTDOWN_TIMEOUT, 1, 3600, LIVE },
  { "limits", "max_errors", KEY_UINT, OFF (max_errors), NULL, SG_DEF_MAX_ERRORS, 1, 100000, LIVE },
  { "limits", "max_connections", KEY_UINT, OFF (max_connections), NULL, SG_DEF_MAX_CONNECTIONS, 0, 1000000, LIVE },
  { "limits", "max_connections_per_ip", KEY_UINT, OFF (max_connections_per_ip), NULL, SG_DEF_MAX_CONNECTIONS_PER_IP, 0, 1000000, LIVE },
  { "limits", "max_pipeline_buffer", KEY_SIZE, OFF (max_pipeline_buffer), NULL, SG_DEF_MAX_PIPELINE_BUFFER, 4096, 16u << 20, LIVE },
  { "limits", "max_junk_commands", KEY_UINT, OFF (max_junk_commands), NULL, SG_DEF_MAX_JUNK_COMMANDS, 1, 1000000, LIVE },
  { "limits", "min_data_rate", KEY_UINT, OFF (min_data_rate), NULL, SG_DEF_MIN_DATA_RATE, 1, 1u << 30, LIVE },
  { "limits", "data_spill_size", KEY_SIZE, OFF (data_spill_size), NULL, SG_DEF_DATA_SPILL_SIZE, 4096, 256u << 20, LIVE },
  { "limits", "max_data_streams", KEY_UINT, OFF (max_data_streams), NULL, SG_DEF_MAX_DATA_STREAMS, 0, 1000000, LIVE },
  { "limits", "max_memory_in_flight", KEY_SIZE, OFF (max_memory_in_flight), NULL, SG_DEF_MAX_MEMORY_IN_FLIGHT, 0, G_GUINT64_CONSTANT (1) << 40, LIVE },
  { "limits", "connection_rate_per_ip", KEY_UINT, OFF (connection_rate_per_ip), NULL, SG_DEF_CONNECTION_RATE_PER_IP, 0, 1000000, LIVE },
  { "validation", "policy", KEY_ENUM, OFF (validation_policy), SG_DEF_VALIDATION_POLICY, 0, 0, 0, policy_choices, LIVE },
  { "validation", "reject", KEY_LIST, OFF (validation_reject), NULL, LIVE },
  { "validation", "accept", KEY_LIST, OFF (validation_accept), NULL, LIVE },
  { "validation", "max_mime_depth", KEY_UINT, OFF (max_mime_depth), NULL, SG_DEF_MAX_MIME_DEPTH, 1, 1000, LIVE },
  { "validation", "max_mime_parts", KEY_UINT, OFF (max_mime_parts), NULL, SG_DEF_MAX_MIME_PARTS, 1, 1000000, LIVE },
  { "validation", "mode", KEY_ENUM, OFF (validation_mode), SG_DEF_VALIDATION_MODE, 0, 0, 0, mode_choices, LIVE },
  { "validation", "keep_rejected", KEY_SIZE, OFF (keep_rejected), NULL, SG_DEF_KEEP_REJECTED, 0, G_GUINT64_CONSTANT (1) << 40, LIVE },
  { "smarthost", "host", KEY_STRING, OFF (smarthost_host), NULL },
  { "smarthost", "port", KEY_UINT, OFF (smarthost_port), NULL, SG_DEF_SMARTHOST_PORT, 1, 65535 },
  { "smarthost", "tls", KEY_ENUM, OFF (smarthost_tls), SG_DEF_SMARTHOST_TLS, 0, 0, 0, tls_choices },
  { "smarthost", "ca_file", KEY_STRING, OFF (smarthost_ca_file), NULL, FILE_IS (CA) },
  { "smarthost", "ca_path", KEY_STRING, OFF (smarthost_ca_path), NULL, FILE_IS (CA_DIR) },
  { "smarthost", "server_name", KEY_STRING, OFF (smarthost_server_name), NULL },
  { "smarthost", "client_cert", KEY_STRING, OFF (smarthost_client_cert), NULL, FILE_IS (CERT) },
  { "smarthost", "client_key", KEY_STRING, OFF (smarthost_client_key), NULL, FILE_IS (KEY) },
  { "smarthost", "username", KEY_STRING, OFF (smarthost_username), NULL },
  { "smarthost", "password_file", KEY_STRING, OFF (smarthost_password_file), NULL, FILE_IS (READABLE) },
  { "smarthost", "helo_name", KEY_STRING, OFF (smarthost_helo_name), NULL },
  { "smarthost", "connect_timeout", KEY_DURATION, OFF (smarthost_connect_timeout), NULL, SG_DEF_CONNECT_TIMEOUT, 1, 3600 },
  { "smarthost", "tls_timeout", KEY_DURATION, OFF (smarthost_tls_timeout), NULL, SG_DEF_TLS_TIMEOUT, 1, 3600 },
  { "smarthost", "greeting_timeout", KEY_DURATION, OFF (smarthost_greeting_timeout), NULL, SG_DEF_GREETING_TIMEOUT, 1, 3600 },
  { "smarthost", "mail_timeout", KEY_DURATION, OFF (smarthost_mail_timeout), NULL, SG_DEF_MAIL_TIMEOUT, 1, 3600 },
  { "smarthost", "rcpt_timeout", KEY_DURATION, OFF (smarthost_rcpt_timeout), NULL, SG_DEF_RCPT_TIMEOUT, 1, 3600 },
  { "smarthost", "data_init_timeout", KEY_DURATION, OFF (smarthost_data_init_timeout), NULL, SG_DEF_DATA_INIT_TIMEOUT, 1, 3600 },
  { "smarthost", "data_block_timeout", KEY_DURATION, OFF (smarthost_data_block_timeout), NULL, SG_DEF_DATA_BLOCK_TIMEOUT, 1, 3600 },
  { "smarthost", "data_term_timeout", KEY_DURATION, OFF (smarthost_data_term_timeout), NULL, SG_DEF_DATA_TERM_TIMEOUT, 1, 3600 },
  { "smarthost", "idle_timeout", KEY_DURATION, OFF (smarthost_idle_timeout), NULL, SG_DEF_SMARTHOST_IDLE_TIMEOUT, 1, 3600 },
  { "smarthost", "balance", KEY_ENUM, OFF (smarthost_balance), SG_DEF_SMARTHOST_BALANCE, 0, 0, 0, balance_choices },
  { "smarthost", "host_cooldown", KEY_DURATION, OFF (smarthost_host_cooldown), NULL, SG_DEF_SMARTHOST_HOST_COOLDOWN, 0, 86400 },
  { "queue", "min_backoff", KEY_DURATION, OFF (queue_min_backoff), NULL, SG_DEF_MIN_BACKOFF, 1, 30 * 86400 },
  { "queue", "max_backoff", KEY_DURATION, OFF (queue_max_backoff), NULL, SG_DEF_MAX_BACKOFF, 1, 30 * 86400 },
  { "queue", "max_lifetime", KEY_DURATION, OFF (queue_max_lifetime), NULL, SG_DEF_MAX_LIFETIME, 1, 365 * 86400 },
  { "queue", "concurrency", KEY_UINT, OFF (queue_concurrency), NULL, SG_DEF_QUEUE_CONCURRENCY, 1, 100 },
  { "queue", "keep_delivered", KEY_DURATION, OFF (queue_keep_delivered), NULL, SG_DEF_KEEP_DELIVERED, 0, 365 * 86400 },
  { "queue", "bounce_size_limit", KEY_SIZE, OFF (queue_bounce_size_limit), NULL, SG_DEF_BOUNCE_SIZE_LIMIT, 0, G_GUINT64_CONSTANT (1) << 31 },
  { "queue", "delay_warning", KEY_DURATION, OFF (queue_delay_warning), NULL, SG_DEF_DELAY_WARNING, 0, 365 * 86400 },
  { "queue", "max_history", KEY_UINT, OFF (queue_max_history), NULL, SG_DEF_MAX_HISTORY, 1, 100000 },
  { "queue", "scan_interval", KEY_DURATION, OFF (queue_scan_interval), NULL, SG_DEF_SCAN_INTERVAL, 1, 86400 },
  { "queue", "failed_lifetime", KEY_DURATION, OFF (queue_failed_lifetime), NULL, SG_DEF_FAILED_LIFETIME, 0, 365 * 86400 },
  { "milter", "servers", KEY_LIST, OFF (milter_servers), NULL, LIVE },
  { "milter", "default_action", KEY_ENUM, OFF (milter_default_action), SG_DEF_MILTER_DEFAULT_ACTION, 0, 0, 0, milter_action_choices, LIVE },
  { "milter", "connect_timeout", KEY_DURATION, OFF (milter_connect_timeout), NULL, SG_DEF_MILTER_CONNECT_TIMEOUT, 1, 3600, LIVE },
  { "milter", "command_timeout", KEY_DURATION, OFF (milter_command_timeout), NULL, SG_DEF_MILTER_COMMAND_TIMEOUT, 1, 3600, LIVE },
  { "milter", "content_timeout", KEY_DURATION, OFF (milter_content_timeout), NULL, SG_DEF_MILTER_CONTENT_TIMEOUT, 1, 3600, LIVE },
  { "milter", "protocol", KEY_UINT, OFF (milter_protocol), NULL, SG_DEF_MILTER_PROTOCOL, 2, 6, LIVE },
  { "milter", "max_edits", KEY_UINT, OFF (milter_max_edits), NULL, SG_DEF_MILTER_MAX_EDITS, 1, 1000000, LIVE },
  { "milter", "max_conversations", KEY_UINT, OFF (milter_max_conversations), NULL, SG_DEF_MILTER_MAX_CONVERSATIONS, 1, 10000 },
  { "access", "recipient_maps", KEY_STRING, OFF (recipient_maps), NULL, LIVE, FILE_IS (TABLE) },
  { "access", "sender_access", KEY_STRING, OFF (sender_access), NULL, LIVE, FILE_IS (TABLE) },
  { "access", "recipient_access", KEY_STRING, OFF (recipient_access), NULL, LIVE, FILE_IS (TABLE) },
  { "access", "verify_recipients", KEY_BOOL, OFF (verify_recipients), NULL, FALSE, 0, 1, LIVE },
  { "access", "verify_positive_ttl", KEY_DURATION, OFF (verify_positive_ttl), NULL, SG_DEF_VERIFY_POSITIVE_TTL, 60, 365 * 86400, LIVE },
  { "access", "verify_negative_ttl", KEY_DURATION, OFF (verify_negative_ttl), NULL, SG_DEF_VERIFY_NEGATIVE_TTL, 60, 30 * 86400, LIVE },
  { "access", "verify_timeout", KEY_DURATION, OFF (verify_timeout), NULL, SG_DEF_VERIFY_TIMEOUT, 1, 300, LIVE },
  { "access", "verify_cache_size", KEY_UINT, OFF (verify_cache_size), NULL, SG_DEF_VERIFY_CACHE_SIZE, 100, 1000000, LIVE },
  { "access", "verify_probe_rate", KEY_UINT, OFF (verify_probe_rate), NULL, SG_DEF_VERIFY_PROBE_RATE, 1, 1000, LIVE },
  { "access", "verify_max_probes", KEY_UINT, OFF (verify_max_probes), NULL, SG_DEF_VERIFY_MAX_PROBES, 1, 10000, LIVE },
  { "access", "verify_probe_threads", KEY_UINT, OFF (verify_probe_threads), NULL, SG_DEF_VERIFY_PROBE_THREADS, 1, 64 },
};
#undef LIVE
#undef FILE_IS
#undef OFF

/* Groups that exist; the ones without keys yet are filled by later features. */
static const char *const config_groups[] = {
  "server", "spool", "tls", "limits", "access", "smarthost", "queue", "validation", "metrics", "milter", NULL,
};

#define FIELD(config, k, type) ((type *) (void *) ((char *) (config) + (k)->offset))

/* machine_fqdn - the canonical name of this host, or its plain name. */
static char *
machine_fqdn (void)
{
  char name[256] = "";
  if (gethostname (name, sizeof name - 1) != 0 || name[0] == '\0')
    return g_strdup ("localhost");
  struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_flags = AI_CANONNAME };
  struct addrinfo *res = NULL;
  char *fqdn = NULL;
  if (getaddrinfo (name, NULL, &hints, &res) == 0 && res && res->ai_canonname
      && strchr (res->ai_canonname, '.'))
    fqdn = g_strdup (res->ai_canonname);
  if (res)
    freeaddrinfo (res);
  return fqdn ? fqdn : g_strdup (name);
}

gboolean
sg_config_parse_duration (const char *text, guint64 *seconds, GError **error)
{
  char *end = NULL;
  if (!g_ascii_isdigit (*text))
    goto bad;
  errno = 0;
  guint64 n = g_ascii_strtoull (text, &end, 10);
  guint64 mult = 1;
  if (errno != 0)
    goto bad;
  switch (*end)
    {
    case '\0': break;
    case 's': mult = 1; end++; break;
    case 'm': mult = 60; end++; break;
    case 'h': mult = 3600; end++; break;
    case 'd': mult = 86400; end++; break;
    default: goto bad;
    }
  if (*end != '\0' || n > G_MAXUINT64 / mult)
    goto bad;
  *seconds = n * mult;
  return TRUE;
bad:
  g_set_error (error, SG_CONFIG_ERROR, SG_CONFIG_ERROR_VALUE,
               "\"%s\" is not a duration (a number of seconds, or with suffix s, m, h or d)", text);
  return FALSE;
}

gboolean
sg_config_parse_size (const char *text, guint64 *bytes, GError **error)
{
  static const struct { const char *suffix; guint64 mult; } units[] = {
    { "", 1 }, { "K", 1000 }, { "M", 1000000 }, { "G", 1000000000 },
    { "KiB", 1024 }, { "MiB", 1 << 20 }, { "GiB", 1 << 30 },
  };
  char *end = NULL;
  if (g_ascii_isdigit (*text))
    {
      errno = 0;
      guint64 n = g_ascii_strtoull (text, &end, 10);
      if (errno == 0)
        for (guint i = 0; i < G_N_ELEMENTS (units); i++)
          if (g_ascii_strcasecmp (end, units[i].suffix) == 0 && n <= G_MAXUINT64 / units[i].mult)
            {
              *bytes = n * units[i].mult;
              return TRUE;
            }
    }
  g_set_error (error, SG_CONFIG_ERROR, SG_CONFIG_ERROR_VALUE,
               "\"%s\" is not a size (bytes, or with suffix K, M, G, KiB, MiB or GiB)", text);
  return FALSE;
}

gboolean
sg_config_parse_hostport (const char *text, char **host, guint16 *port, GError **error)
{
  const char *colon;
  g_autofree char *h = NULL;
  if (text[0] == '[')
    {
      const char *close = strchr (text, ']');
      if (!close || close[1] != ':')
        goto bad;
      h = g_strndup (text + 1, close - text - 1);
      colon = close + 1;
    }
  else
    {
      colon = strrchr (text, ':');
      if (!colon || strchr (text, ':') != colon)
        goto bad;
      h = g_strndup (text, colon - text);
    }
  char *end = NULL;
  guint64 p = g_ascii_strtoull (colon + 1, &end, 10);
  if (h[0] == '\0' || colon[1] == '\0' || *end != '\0' || p == 0 || p > 65535)
    goto bad;
  *host = g_steal_pointer (&h);
  *port = (guint16) p;
  return TRUE;
bad:
  g_set_error (error, SG_CONFIG_ERROR, SG_CONFIG_ERROR_VALUE,
               "\"%s\" is not HOST:PORT (e.g. 127.0.0.1:2525 or [::1]:2525)", text);
  return FALSE;
}

gboolean
sg_config_parse_milter (const char *spec, char **host, guint16 *port, char **path, GError **error)
{
  *host = *path = NULL;
  *port = 0;
  if (g_str_has_prefix (spec, "unix:") && spec[5])
    {
      *path = g_strdup (spec + 5);
      return TRUE;
    }
  if (g_str_has_prefix (spec, "inet:") && sg_config_parse_hostport (spec + 5, host, port, NULL))
    return TRUE;
  g_set_error (error, SG_CONFIG_ERROR, SG_CONFIG_ERROR_VALUE,
               "\"%s\" is not inet:HOST:PORT or unix:PATH ([HOST] for IPv6, port 1-65535)", spec);
  return FALSE;
}

/* parse_listen - [server] listen: one HOST:PORT or a list of them, every
 * one parsed; the first also as listen_host and listen_port. */
static gboolean
parse_listen (SgConfig *config, const char *value, GError **error)
{
  g_auto(GStrv) parts = g_strsplit_set (value, ",;", -1);
  g_autoptr(GPtrArray) addrs = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *first_host = NULL;
  guint16 first_port = 0;
  for (guint i = 0; parts[i]; i++)
    {
      const char *item = g_strstrip (parts[i]);
      g_autofree char *host = NULL;
      guint16 port;
      if (*item == '\0')
        continue;
      if (!sg_config_parse_hostport (item, &host, &port, error))
        return FALSE;
      for (guint j = 0; j < addrs->len; j++)
        if (strcmp (addrs->pdata[j], item) == 0)
          {
            g_set_error (error, SG_CONFIG_ERROR, SG_CONFIG_ERROR_VALUE, "\"%s\" is listed twice", item);
            return FALSE;
          }
      if (first_host == NULL)
        first_host = g_steal_pointer (&host), first_port = port;
      g_ptr_array_add (addrs, g_strdup (item));
    }
  if (addrs->len == 0)
    {
      g_set_error (error, SG_CONFIG_ERROR, SG_CONFIG_ERROR_VALUE,
                   "needs at least one HOST:PORT (e.g. 0.0.0.0:25, [::]:25)");
      return FALSE;
    }
  g_ptr_array_add (addrs, NULL);
  g_strfreev (config->listen_addrs);
  config->listen_addrs = (char **) g_ptr_array_steal (addrs, NULL);
  g_free (config->listen_host);
  config->listen_host = g_steal_pointer (&first_host);
  config->listen_port = first_port;
  return TRUE;
}

/* key_set - parse value into the field for k; error text names what is allowed. */
static gboolean
key_set (SgConfig *config, const ConfigKey *k, const char *value, GError **error)
{
  g_autoptr(GError) local = NULL;
  guint64 n = 0;

  switch (k->type)
    {
    case KEY_HOSTPORT:
      if (k->offset == G_STRUCT_OFFSET (SgConfig, listen))
        {
          if (!parse_listen (config, value, &local))
            break;
        }
      else
        {
          g_autofree char *host = NULL;
          guint16 port;
          if (!sg_config_parse_hostport (value, &host, &port, &local))
            break;
        }
      G_GNUC_FALLTHROUGH;
    case KEY_STRING:
      if (!local && k->type == KEY_STRING && value[0] == '\0')
        g_set_error (&local, SG_CONFIG_ERROR, SG_CONFIG_ERROR_VALUE, "must not be empty");
      if (!local)
        {
          g_free (*FIELD (config, k, char *));
          *FIELD (config, k, char *) = g_strdup (value);
        }
      break;
    case KEY_ENUM:
      if (!g_strv_contains (k->choices, value))
        {
          g_autofree char *allowed = g_strjoinv (", ", (char **) k->choices);
          g_set_error (&local, SG_CONFIG_ERROR, SG_CONFIG_ERROR_VALUE,
                       "\"%s\" is not one of: %s", value, allowed);
          break;
        }
      g_free (*FIELD (config, k, char *));
      *FIELD (config, k, char *) = g_strdup (value);
      break;
    case KEY_LIST:
      {
        g_auto(GStrv) parts = g_strsplit_set (value, ",;", -1);
        GPtrArray *items = g_ptr_array_new ();
        for (guint i = 0; parts[i]; i++)
          {
            char *item = g_strstrip (parts[i]);
            if (*item)
              g_ptr_array_add (items, g_strdup (item));
          }
        g_ptr_array_add (items, NULL);
        g_strfreev (*FIELD (config, k, char **));
        *FIELD (config, k, char **) = (char **) g_ptr_array_free (items, FALSE);
      }
      break;
    case KEY_BOOL:
      {
        static const char *const yes[] = { "true", "yes", "on", "1", NULL };
        static const char *const no[] = { "false", "no", "off", "0", NULL };
        g_autofree char *lower = g_ascii_strdown (value, -1);
        if (g_strv_contains (yes, lower))
          *FIELD (config, k, gboolean) = TRUE;
        else if (g_strv_contains (no, lower))
          *FIELD (config, k, gboolean) = FALSE;
        else
          g_set_error (&local, SG_CONFIG_ERROR, SG_CONFIG_ERROR_VALUE,
                       "\"%s\" is not a boolean (true or false)", value);
      }
      break;
    case KEY_UINT:
    case KEY_SIZE:
    case KEY_DURATION:
      if (k->type == KEY_SIZE ? !sg_config_parse_size (value, &n, &local)
          : k->type == KEY_DURATION ? !sg_config_parse_duration (value, &n, &local)
          : !g_ascii_string_to_unsigned (value, 10, 0, G_MAXUINT64, &n, &local))
        break;
      if (n < k->min || n > k->max)
        {
          g_set_error (&local, SG_CONFIG_ERROR, SG_CONFIG_ERROR_VALUE,
                       "%s is out of range (allowed %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT ")",
                       value, k->min, k->max);
          break;
        }
      if (k->type == KEY_SIZE)
        *FIELD (config, k, guint64) = n;
      else
        *FIELD (config, k, guint) = (guint) n;
      break;
    }
  if (local)
    {
      g_set_error (error, SG_CONFIG_ERROR, SG_CONFIG_ERROR_VALUE, "%s%s[%s] %s: %s",
                   config->path ? config->path : "", config->path ? ": " : "",
                   k->group, k->key, local->message);
      return FALSE;
    }
  return TRUE;
}

static const ConfigKey *
key_find (const char *group, const char *key)
{
  for (guint i = 0; i < G_N_ELEMENTS (config_keys); i++)
    if (strcmp (config_keys[i].group, group) == 0 && strcmp (config_keys[i].key, key) == 0)
      return &config_keys[i];
  return NULL;
}

/* keys_in_group - "a, b, c" or "(none yet)" (transfer full). */
static char *
keys_in_group (const char *group)
{
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < G_N_ELEMENTS (config_keys); i++)
    if (strcmp (config_keys[i].group, group) == 0)
      g_string_append_printf (s, "%s%s", s->len ? ", " : "", config_keys[i].key);
  if (s->len == 0)
    g_string_append (s, "none yet");
  return g_string_free (s, FALSE);
}

gboolean
sg_config_set (SgConfig *config, const char *group, const char *key, const char *value,
               GError **error)
{
  const char *where = config->path ? config->path : "";
  const char *sep = config->path ? ": " : "";
  if (!g_strv_contains (config_groups, group))
    {
      g_autofree char *groups = g_strjoinv (", ", (char **) config_groups);
      g_set_error (error, SG_CONFIG_ERROR, SG_CONFIG_ERROR_UNKNOWN,
                   "%s%sunknown group [%s] (groups: %s)", where, sep, group, groups);
      return FALSE;
    }
  const ConfigKey *k = key_find (group, key);
  if (!k)
    {
      g_autofree char *keys = keys_in_group (group);
      g_set_error (error, SG_CONFIG_ERROR, SG_CONFIG_ERROR_UNKNOWN,
                   "%s%sunknown key \"%s\" in [%s] (keys: %s)", where, sep, key, group, keys);
      return FALSE;
    }
  return key_set (config, k, value, error);
}

SgConfig *
sg_config_new (void)
{
  SgConfig *config = g_new0 (SgConfig, 1);
  config->refs = 1;
  for (guint i = 0; i < G_N_ELEMENTS (config_keys); i++)
    {
      const ConfigKey *k = &config_keys[i];
      g_autofree char *num = g_strdup_printf ("%" G_GUINT64_FORMAT, k->def_num);
      const char *def = k->type >= KEY_UINT ? num : k->def_str ? k->def_str : "";
      if (k->type == KEY_BOOL)
        def = k->def_num ? "true" : "false";
      if ((k->type == KEY_STRING || k->type == KEY_HOSTPORT) && *def == '\0')
        continue;
      if (!key_set (config, k, def, NULL))
        g_assert_not_reached (); /* the built-in defaults are valid by construction */
    }
  config->hostname = machine_fqdn ();
  return config;
}

SgConfig *
sg_config_load (const char *path, GError **error)
{
  g_autoptr(SgConfig) config = sg_config_new ();
  if (path == NULL)
    return g_steal_pointer (&config);

  g_autoptr(GKeyFile) kf = g_key_file_new ();
  g_autoptr(GError) local = NULL;
  if (!g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, &local))
    {
      g_set_error (error, SG_CONFIG_ERROR, SG_CONFIG_ERROR_FILE, "%s: %s", path, local->message);
      return NULL;
    }
  config->path = g_strdup (path);
  g_auto(GStrv) groups = g_key_file_get_groups (kf, NULL);
  for (guint g = 0; groups[g]; g++)
    {
      g_auto(GStrv) keys = g_key_file_get_keys (kf, groups[g], NULL, NULL);
      if (!g_strv_contains (config_groups, groups[g]) || !keys[0])
        {
          /* Report unknown groups even when empty. */
          if (!sg_config_set (config, groups[g], keys[0] ? keys[0] : "", "", error)
              && !g_strv_contains (config_groups, groups[g]))
            return NULL;
          g_clear_error (error);
          continue;
        }
      for (guint i = 0; keys[i]; i++)
        {
          g_autofree char *value = g_key_file_get_value (kf, groups[g], keys[i], NULL);
          if (!sg_config_set (config, groups[g], keys[i], g_strstrip (value), error))
            return NULL;
        }
    }
  if (!sg_config_check (config, error))
    return NULL;
  return g_steal_pointer (&config);
}

/* conflict - set a cross-key error naming the file. Returns FALSE. */
static gboolean G_GNUC_PRINTF (3, 4)
conflict (const SgConfig *config, GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, SG_CONFIG_ERROR, SG_CONFIG_ERROR_VALUE, "%s%s%s",
               config->path ? config->path : "", config->path ? ": " : "", msg);
  return FALSE;
}

gboolean
sg_config_check (const SgConfig *c, GError **error)
{
  gboolean creds = c->smarthost_username || c->smarthost_password_file;
  if (creds && !(c->smarthost_username && c->smarthost_password_file))
    return conflict (c, error, "[smarthost] username and password_file go together");
  if (creds && (g_strcmp0 (c->smarthost_tls, "none") == 0
                || g_strcmp0 (c->smarthost_tls, "opportunistic") == 0))
    return conflict (c, error, "[smarthost] credentials need tls = required or verify "
                     "(AUTH is only ever sent inside TLS), not tls = %s", c->smarthost_tls);
  g_autoptr(GError) net_error = NULL;
  g_autoptr(SgNetList) nets = sg_netlist_parse ((const char *const *) c->allowed_networks, &net_error);
  if (!nets)
    return conflict (c, error, "[access] allowed_networks: %s", net_error->message);
  g_autoptr(SgNetList) proxies = sg_netlist_parse ((const char *const *) c->proxy_trusted, &net_error);
  if (!proxies)
    return conflict (c, error, "[server] proxy_trusted: %s", net_error->message);
  if (c->metrics_listen && c->listen_addrs
      && g_strv_contains ((const char *const *) c->listen_addrs, c->metrics_listen))
    return conflict (c, error, "[metrics] listen must differ from [server] listen");
  for (guint i = 0; c->accepted_domains && c->accepted_domains[i]; i++)
    if (strchr (c->accepted_domains[i], '@') || strchr (c->accepted_domains[i], ' '))
      return conflict (c, error, "[access] accepted_domains: \"%s\" is not a domain",
                       c->accepted_domains[i]);
  if (c->verify_recipients && !c->smarthost_host)
    return conflict (c, error, "[access] verify_recipients = yes needs a [smarthost] host to probe");
  if (!c->tls_cert_file != !c->tls_key_file)
    return conflict (c, error, "[tls] cert_file and key_file go together");
  if (c->tls_require && !c->tls_cert_file)
    return conflict (c, error, "[tls] require = true needs cert_file and key_file");
  if (!c->smarthost_client_cert != !c->smarthost_client_key)
    return conflict (c, error, "[smarthost] client_cert and client_key go together");
  if (c->queue_min_backoff > c->queue_max_backoff)
    return conflict (c, error, "[queue] min_backoff (%u) is larger than max_backoff (%u)",
                     c->queue_min_backoff, c->queue_max_backoff);
  for (guint i = 0; c->milter_servers && c->milter_servers[i]; i++)
    {
      g_autofree char *host = NULL, *path = NULL;
      guint16 port;
      g_autoptr(GError) local = NULL;
      if (!sg_config_parse_milter (c->milter_servers[i], &host, &port, &path, &local))
        return conflict (c, error, "[milter] servers: %s", local->message);
    }
  return TRUE;
}

/* key_text - one key's value as text (transfer full). */
static char *key_text (const SgConfig *config, const ConfigKey *k);

SgConfig *
sg_config_copy (const SgConfig *config)
{
  SgConfig *copy = sg_config_new ();
  copy->path = g_strdup (config->path);
  for (guint i = 0; i < G_N_ELEMENTS (config_keys); i++)
    {
      g_autofree char *text = key_text (config, &config_keys[i]);
      if (text && !key_set (copy, &config_keys[i], text, NULL))
        g_warn_if_reached ();   /* a loaded value is valid by construction */
    }
  return copy;
}

static char *
key_text (const SgConfig *config, const ConfigKey *k)
{
  switch (k->type)
    {
    case KEY_STRING: case KEY_HOSTPORT: case KEY_ENUM:
      return g_strdup (*FIELD (config, k, char *));
    case KEY_LIST:
      return *FIELD (config, k, char **) ? g_strjoinv (",", *FIELD (config, k, char **)) : NULL;
    case KEY_SIZE:
      return g_strdup_printf ("%" G_GUINT64_FORMAT, *FIELD (config, k, guint64));
    case KEY_UINT: case KEY_DURATION:
      return g_strdup_printf ("%u", *FIELD (config, k, guint));
    case KEY_BOOL:
      return g_strdup (*FIELD (config, k, gboolean) ? "true" : "false");
    }
  return NULL;
}

gboolean
sg_config_group_equal (const SgConfig *a, const SgConfig *b, const char *group)
{
  for (guint i = 0; i < G_N_ELEMENTS (config_keys); i++)
    if (strcmp (config_keys[i].group, group) == 0)
      {
        g_autofree char *va = key_text (a, &config_keys[i]);
        g_autofree char *vb = key_text (b, &config_keys[i]);
        if (g_strcmp0 (va, vb) != 0)
          return FALSE;
      }
  return TRUE;
}

gboolean
sg_config_key_reloadable (const char *group, const char *key)
{
  for (guint i = 0; i < G_N_ELEMENTS (config_keys); i++)
    if (strcmp (config_keys[i].group, group) == 0 && strcmp (config_keys[i].key, key) == 0)
      return config_keys[i].reloadable;
  return FALSE;
}

GPtrArray *
sg_config_restart_changes (const SgConfig *old, const SgConfig *config)
{
  GPtrArray *changed = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < G_N_ELEMENTS (config_keys); i++)
    {
      const ConfigKey *k = &config_keys[i];
      if (k->reloadable)
        continue;
      g_autofree char *va = key_text (old, k);
      g_autofree char *vb = key_text (config, k);
      if (g_strcmp0 (va, vb) != 0)
        g_ptr_array_add (changed, g_strdup_printf ("[%s] %s", k->group, k->key));
    }
  return changed;
}

/* dump - the keys (all, or those differing from defaults) as a config file. */
static char *
dump (const SgConfig *config, const SgConfig *defaults)
{
  GString *out = g_string_new (NULL);
  const char *group = NULL;
  for (guint i = 0; i < G_N_ELEMENTS (config_keys); i++)
    {
      const ConfigKey *k = &config_keys[i];
      if (defaults)
        {
          g_autofree char *mine = key_text (config, k);
          g_autofree char *def = key_text (defaults, k);
          if (g_strcmp0 (mine, def) == 0)
            continue;
        }
      if (g_strcmp0 (group, k->group) != 0)
        g_string_append_printf (out, "%s[%s]\n", group ? "\n" : "", k->group);
      group = k->group;
      if (k->type <= KEY_ENUM && *FIELD (config, k, char *) == NULL)
        {
          g_string_append_printf (out, "# %s = (not set)\n", k->key);
          continue;
        }
      g_string_append_printf (out, "%s = ", k->key);
      switch (k->type)
        {
        case KEY_STRING: case KEY_HOSTPORT: case KEY_ENUM:
          g_string_append (out, *FIELD (config, k, char *) ? *FIELD (config, k, char *) : "");
          break;
        case KEY_LIST:
          {
            char **v = *FIELD (config, k, char **);
            g_autofree char *joined = v ? g_strjoinv (", ", v) : g_strdup ("");
            g_string_append (out, joined);
          }
          break;
        case KEY_SIZE:
          g_string_append_printf (out, "%" G_GUINT64_FORMAT, *FIELD (config, k, guint64));
          break;
        case KEY_UINT: case KEY_DURATION:
          g_string_append_printf (out, "%u", *FIELD (config, k, guint));
          break;
        case KEY_BOOL:
          g_string_append (out, *FIELD (config, k, gboolean) ? "true" : "false");
          break;
        }
      g_string_append_c (out, '\n');
    }
  return g_string_free (out, FALSE);
}

char *
sg_config_dump (const SgConfig *config)
{
  return dump (config, NULL);
}

char *
sg_config_dump_changed (const SgConfig *config)
{
  g_autoptr(SgConfig) defaults = sg_config_new ();
  return dump (config, defaults);
}

guint
sg_config_n_keys (void)
{
  return G_N_ELEMENTS (config_keys);
}

void
sg_config_key_info (guint i, SgConfigKeyInfo *info)
{
  static const char *const type_names[] = {
    [KEY_STRING] = "string", [KEY_HOSTPORT] = "hostport", [KEY_ENUM] = "enum",
    [KEY_LIST] = "list", [KEY_UINT] = "uint", [KEY_SIZE] = "size",
    [KEY_DURATION] = "duration", [KEY_BOOL] = "bool",
  };
  g_return_if_fail (i < G_N_ELEMENTS (config_keys));
  const ConfigKey *k = &config_keys[i];
  *info = (SgConfigKeyInfo) {
    .group = k->group, .key = k->key, .type = type_names[k->type], .min = k->min, .max = k->max,
    .choices = k->choices, .reloadable = k->reloadable, .file = k->file,
  };
}

char *
sg_config_key_value (const SgConfig *config, guint i)
{
  g_return_val_if_fail (i < G_N_ELEMENTS (config_keys), NULL);
  const ConfigKey *k = &config_keys[i];
  if (k->type == KEY_LIST)
    {
      char **v = *FIELD (config, k, char **);
      return v ? g_strjoinv (", ", v) : g_strdup ("");
    }
  return key_text (config, k);
}

SgConfig *
sg_config_ref (SgConfig *config)
{
  g_atomic_int_inc (&config->refs);
  return config;
}

void
sg_config_free (SgConfig *config)
{
  if (!config || !g_atomic_int_dec_and_test (&config->refs))
    return;
  for (guint i = 0; i < G_N_ELEMENTS (config_keys); i++)
    {
      const ConfigKey *k = &config_keys[i];
      if (k->type == KEY_LIST)
        g_strfreev (*FIELD (config, k, char **));
      else if (k->type <= KEY_ENUM)
        g_free (*FIELD (config, k, char *));
    }
  g_free (config->listen_host);
  g_strfreev (config->listen_addrs);
  g_free (config->path);
  g_free (config);
}
