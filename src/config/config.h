/* config.h - spoolgate's configuration: built-in defaults (limits.h), a
 * GKeyFile file on top, command-line flags on top of that.
 *
 * Every key lives in one table in config.c with its type, bounds and default;
 * unknown groups or keys and bad values are errors naming file, key and what
 * is allowed. Groups: [server] [spool] [tls] [limits] [access] [smarthost]
 * [queue] [validation] [metrics] [milter].
 */
#pragma once
#include <glib.h>
#include "config/limits.h"

G_BEGIN_DECLS

#define SG_CONFIG_ERROR (sg_config_error_quark ())
GQuark sg_config_error_quark (void);
typedef enum { SG_CONFIG_ERROR_FILE, SG_CONFIG_ERROR_UNKNOWN, SG_CONFIG_ERROR_VALUE } SgConfigError;

/* What a key's value names on disk: the key table's "file" column, which
 * `spoolgate config check` (src/cli/config_cmd.c) checks by kind. */
typedef enum {
  SG_CONFIG_FILE_NONE,      /* not a path */
  SG_CONFIG_FILE_READABLE,  /* a file read whole (a password) */
  SG_CONFIG_FILE_CERT,      /* PEM certificate chain */
  SG_CONFIG_FILE_KEY,       /* PEM private key, matching the key's *_cert / cert_file */
  SG_CONFIG_FILE_CA,        /* PEM trust anchors */
  SG_CONFIG_FILE_CA_DIR,    /* a c_rehash'ed directory of trust anchors */
  SG_CONFIG_FILE_TABLE,     /* a lookup table, one "key [value]" a line */
  SG_CONFIG_FILE_SPOOL,     /* the spool directory: checked, never created */
} SgConfigFileKind;

typedef struct {
  gint     refs;                 /* sg_config_ref/unref; SIGHUP swaps configs under sessions */
  char    *path;                 /* (nullable) file the values came from */
  /* [server] */
  char    *listen;               /* HOST:PORT as given */
  char    *listen_host;          /* parsed from listen (its first address) */
  guint16  listen_port;
  char   **listen_addrs;         /* every HOST:PORT of listen, a list ("0.0.0.0:25, [::]:25") */
  char    *hostname;             /* our name in the greeting and Received */
  char    *user;                 /* (nullable) started as root: drop to this user after binding */
  char    *log_level;            /* error | warning | info | debug */
  gboolean proxy_protocol;       /* expect a PROXY v1/v2 header first on each connection */
  char   **proxy_trusted;        /* CIDR list: peers allowed to send a PROXY header */
  guint    proxy_timeout;        /* seconds to wait for the PROXY header */
  /* [metrics] */
  char    *metrics_listen;       /* (nullable) HOST:PORT of the Prometheus /metrics endpoint */
  /* [spool] */
  char    *spool_dir;
  guint64  min_free;             /* bytes */
  guint    commit_queue_messages;
  guint64  commit_queue_bytes;
  guint    commit_queue_wait;    /* seconds a commit waits for room; 0 = 451 at once */
  guint    recycle_files;        /* retired spool files kept for reuse; 0 = unlink */
  char    *sync_method;          /* fdatasync | syncfs (SgSpoolSyncMethod) */
  /* [access] */
  char   **allowed_networks;     /* CIDR list: may relay anywhere */
  char   **accepted_domains;     /* recipient domains anyone may send to */
  char    *recipient_maps;       /* (nullable) file: the addresses and @domains that exist */
  char    *sender_access;        /* (nullable) file in access(5) style, keyed by sender */
  char    *recipient_access;     /* (nullable) file in access(5) style, keyed by recipient */
  gboolean verify_recipients;    /* probe the next hop for recipients not yet known */
  guint    verify_positive_ttl;  /* seconds a deliverable answer is kept */
  guint    verify_negative_ttl;  /* seconds an undeliverable answer is kept */
  guint    verify_timeout;       /* seconds an RCPT waits for a probe */
  guint    verify_cache_size;    /* answers kept at most */
  guint    verify_probe_rate;    /* probes per second to the next hop */
  guint    verify_max_probes;    /* probes queued or running at once */
  guint    verify_probe_threads; /* probes running at once (restart) */
  /* [tls] inbound STARTTLS (RFC 3207), offered when both files are set */
  char    *tls_cert_file;        /* (nullable) PEM chain */
  char    *tls_key_file;         /* (nullable) PEM key */
  gboolean tls_require;          /* MAIL before STARTTLS gets 530 5.7.0 */
  /* [limits] */
  guint64  max_message_size;
  guint    max_recipients;
  guint    max_command_line;
  guint    command_timeout;      /* seconds */
  guint    data_timeout;         /* seconds */
  guint    max_errors;
  guint    shutdown_timeout;     /* seconds */
  guint    max_connections;      /* 0 = unlimited */
  guint    max_connections_per_ip; /* 0 = unlimited */
  guint64  max_pipeline_buffer;  /* unprocessed input, and unsent replies, per session */
  guint    max_junk_commands;    /* EHLO/HELO/NOOP/HELP/VRFY/RSET before they count as errors */
  guint    min_data_rate;        /* bytes/s in DATA that keep extending the data deadline */
  guint64  data_spill_size;      /* bytes of one message kept in memory, then tmp/ */
  guint64  max_memory_in_flight; /* bytes of all messages kept in memory, then tmp/ */
  guint    max_data_streams;     /* DATAs past data_spill_size read at once; 0 = no limit */
  guint    connection_rate_per_ip; /* per minute; 0 = off */
  /* [validation] */
  char    *validation_policy;    /* strict | standard | permissive */
  char   **validation_reject;    /* rule ids, NULL-terminated, maybe empty */
  char   **validation_accept;
  guint    max_mime_depth;
  guint    max_mime_parts;
  char    *validation_mode;      /* enforce | monitor */
  guint64  keep_rejected;        /* bytes of rejected/ quarantine; 0 = off */
  /* [smarthost] (host NULL: no forwarding, mail stays queued; a list, parsed
   * by smarthost/relayhost.c) */
  char    *smarthost_host;
  guint    smarthost_port;
  char    *smarthost_tls;        /* none | opportunistic | required | verify */
  char    *smarthost_ca_file;    /* (nullable) default: system store */
  char    *smarthost_ca_path;    /* (nullable) */
  char    *smarthost_server_name;/* (nullable) default: the host list entry tried */
  char    *smarthost_client_cert;/* (nullable) */
  char    *smarthost_client_key; /* (nullable) */
  char    *smarthost_username;   /* (nullable) */
  char    *smarthost_password_file; /* (nullable) */
  char    *smarthost_helo_name;  /* (nullable) default: [server] hostname */
  guint    smarthost_connect_timeout;
  guint    smarthost_tls_timeout;
  guint    smarthost_greeting_timeout;
  guint    smarthost_mail_timeout;
  guint    smarthost_rcpt_timeout;
  guint    smarthost_data_init_timeout;
  guint    smarthost_data_block_timeout;
  guint    smarthost_data_term_timeout;
  guint    smarthost_idle_timeout;
  char    *smarthost_balance;    /* failover | round-robin */
  guint    smarthost_host_cooldown; /* seconds a failed host is skipped */
  /* [queue] */
  guint    queue_min_backoff;    /* seconds */
  guint    queue_max_backoff;
  guint    queue_max_lifetime;
  guint    queue_concurrency;
  guint    queue_keep_delivered;
  guint64  queue_bounce_size_limit; /* bytes of original a RET=FULL bounce returns whole */
  guint    queue_delay_warning;  /* seconds in the queue before one delay notice; 0: never */
  guint    queue_scan_interval;
  guint    queue_max_history;
  guint    queue_failed_lifetime; /* seconds a failed message is kept after it failed; 0: for ever */
  /* [milter] content filters, called in order before 250 (src/milter/) */
  char   **milter_servers;       /* "inet:HOST:PORT" or "unix:PATH", maybe empty */
  char    *milter_default_action;/* accept | tempfail | reject: a milter down or timing out */
  guint    milter_connect_timeout; /* seconds */
  guint    milter_command_timeout;
  guint    milter_content_timeout;
  guint    milter_protocol;      /* version offered, 2..6 */
  guint    milter_max_edits;     /* edit requests per message, all milters together */
  guint    milter_max_conversations; /* messages in milter conversations at once */
} SgConfig;

/* sg_config_new - the built-in defaults (transfer full). */
SgConfig *sg_config_new (void);
/* sg_config_load - defaults, then the file at path when not NULL (transfer full). */
SgConfig *sg_config_load (const char *path, GError **error);
/* sg_config_check - rules between keys (credentials need TLS, min <= max...). */
gboolean  sg_config_check (const SgConfig *config, GError **error);
/* sg_config_set - set one key from its string form, as a file would. */
gboolean  sg_config_set (SgConfig *config, const char *group, const char *key,
                         const char *value, GError **error);
/* sg_config_copy - a new configuration with every key of config (transfer full). */
SgConfig *sg_config_copy (const SgConfig *config);
/* sg_config_ref - one more holder (transfer full). */
SgConfig *sg_config_ref (SgConfig *config);
/* sg_config_free - drop a reference; the last one frees. */
void      sg_config_free (SgConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgConfig, sg_config_free)

/* sg_config_parse_duration - "30", "30s", "5m", "2h", "5d" to seconds. */
gboolean sg_config_parse_duration (const char *text, guint64 *seconds, GError **error);
/* sg_config_parse_size - "1000", "64K", "25M", "1G" (powers of 1000; KiB/MiB/GiB powers of 1024). */
gboolean sg_config_parse_size (const char *text, guint64 *bytes, GError **error);
/* sg_config_parse_hostport - "127.0.0.1:2525", "[::1]:2525". */
gboolean sg_config_parse_hostport (const char *text, char **host, guint16 *port, GError **error);
/* sg_config_parse_milter - one [milter] servers entry: "inet:HOST:PORT"
 * ([HOST] for IPv6; *host and *port set) or "unix:PATH" (*path set, not
 * empty). The one reader of that syntax: the loader, `config check` and
 * the milter's connect all use it. */
gboolean sg_config_parse_milter (const char *spec, char **host, guint16 *port, char **path,
                                 GError **error);

/* sg_config_group_equal - whether a and b agree on every key of group. */
gboolean sg_config_group_equal (const SgConfig *a, const SgConfig *b, const char *group);

/* sg_config_key_reloadable - whether SIGHUP applies [group] key (the key
 * table's "reloadable" column); FALSE for unknown keys. */
gboolean sg_config_key_reloadable (const char *group, const char *key);
/* sg_config_restart_changes - "[group] key" of each key that differs between
 * old and config and that only a restart applies (transfer full). */
GPtrArray *sg_config_restart_changes (const SgConfig *old, const SgConfig *config);

/* sg_config_dump - every key with its current value, as a config file (transfer full). */
char *sg_config_dump (const SgConfig *config);
/* sg_config_dump_changed - only the keys whose value differs from the
 * built-in default, as a config file, like `postconf -n` (transfer full). */
char *sg_config_dump_changed (const SgConfig *config);

/* One key of the table, for tools and tests that walk it. */
typedef struct {
  const char        *group, *key;
  const char        *type;          /* string, hostport, enum, list, uint, size, duration, bool */
  guint64            min, max;      /* numeric types */
  const char *const *choices;       /* enum */
  gboolean           reloadable;
  SgConfigFileKind   file;
} SgConfigKeyInfo;

/* sg_config_n_keys - how many keys the table has. */
guint sg_config_n_keys (void);
/* sg_config_key_info - the i-th key, in table order. */
void  sg_config_key_info (guint i, SgConfigKeyInfo *info);
/* sg_config_key_value - the i-th key's value as text, lists joined with
 * ", " (transfer full); NULL when a string key is not set. */
char *sg_config_key_value (const SgConfig *config, guint i);

G_END_DECLS
