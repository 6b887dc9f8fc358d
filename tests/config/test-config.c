/* test-config.c - defaults, file loading, errors naming file and key, and
 * the value parsers. Real files in a temporary directory. */
#include "config/config.h"
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

static char *
write_config (const char *text)
{
  g_autoptr(GError) error = NULL;
  char *path = NULL;
  int fd = g_file_open_tmp ("sg-config-XXXXXX.conf", &path, &error);
  g_assert_no_error (error);
  close (fd);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  return path;
}

static void
test_defaults (void)
{
  g_autoptr(SgConfig) c = sg_config_new ();
  g_assert_cmpstr (c->listen, ==, "127.0.0.1:2525");
  g_assert_cmpstr (c->listen_host, ==, "127.0.0.1");
  g_assert_cmpuint (c->listen_port, ==, 2525);
  g_assert_cmpstr (c->spool_dir, ==, "spool");
  g_assert_cmpuint (c->max_message_size, ==, SG_DEF_MAX_MESSAGE_SIZE);
  g_assert_cmpuint (c->max_recipients, ==, SG_DEF_MAX_RECIPIENTS);
  g_assert_cmpstr (c->validation_policy, ==, "standard");
  g_assert_nonnull (c->validation_reject);
  g_assert_null (c->validation_reject[0]);
  g_assert_nonnull (c->hostname);
  g_assert_cmpstr (c->hostname, !=, "");
}

static void
test_load (void)
{
  g_autofree char *path = write_config (
    "# comment\n[server]\nlisten = [::1]:2600\nhostname = mx.example.test\n"
    "[spool]\ndir = /var/spool/x\n[limits]\nmax_message_size = 10M\ncommand_timeout = 5m\n"
    "[validation]\npolicy = standard\naccept = header.message-id.missing, mime.qp.invalid\n[tls]\n");
  g_autoptr(GError) error = NULL;
  g_autoptr(SgConfig) c = sg_config_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (c->listen_host, ==, "::1");
  g_assert_cmpuint (c->listen_port, ==, 2600);
  g_assert_cmpstr (c->hostname, ==, "mx.example.test");
  g_assert_cmpstr (c->spool_dir, ==, "/var/spool/x");
  g_assert_cmpuint (c->max_message_size, ==, 10000000);
  g_assert_cmpuint (c->command_timeout, ==, 300);
  g_assert_cmpstr (c->validation_policy, ==, "standard");
  g_assert_cmpuint (g_strv_length (c->validation_accept), ==, 2);
  g_assert_cmpstr (c->validation_accept[1], ==, "mime.qp.invalid");
  g_unlink (path);
}

static void
test_errors (void)
{
  static const struct { const char *text; const char *want[3]; } cases[] = {
    { "[bogus]\nx = 1\n", { "unknown group [bogus]", NULL } },
    { "[bogus]\n", { "unknown group [bogus]", NULL } },
    { "[server]\nlistne = 1.2.3.4:25\n", { "unknown key \"listne\" in [server]", "listen", NULL } },
    { "[server]\nlisten = 1.2.3.4\n", { "[server] listen", "HOST:PORT", NULL } },
    { "[limits]\nmax_recipients = 0\n", { "[limits] max_recipients", "out of range", NULL } },
    { "[limits]\nmax_recipients = lots\n", { "[limits] max_recipients", NULL } },
    { "[limits]\nmax_command_line = 100\n", { "out of range (allowed 512", NULL } },
    { "[limits]\ncommand_timeout = 5x\n", { "not a duration", NULL } },
    { "[validation]\npolicy = lax\n", { "strict, standard, permissive", NULL } },
    { "[smarthost]\nhots = x\n", { "unknown key \"hots\" in [smarthost]", "host, port", NULL } },
    { "[smarthost]\ntls = maybe\n", { "none, opportunistic, required, verify", NULL } },
    { "[smarthost]\nhost = mx\nusername = u\npassword_file = /p\ntls = opportunistic\n", { "AUTH is only ever sent inside TLS", NULL } },
    { "[smarthost]\nusername = u\n", { "username and password_file go together", NULL } },
    { "[queue]\nmin_backoff = 2h\nmax_backoff = 1h\n", { "min_backoff (7200) is larger than max_backoff (3600)", NULL } },
    { "[tls]\nrequire = maybe\n", { "[tls] require", "not a boolean", NULL } },
    { "[tls]\nrequire = yes\n", { "require = true needs cert_file and key_file", NULL } },
    { "[tls]\ncert_file = /c.pem\n", { "cert_file and key_file go together", NULL } },
    { "[access]\nallowed_networks = 10.0.0.0/33\n", { "[access] allowed_networks", "10.0.0.0/33", NULL } },
    { "[access]\nallowed_networks = localhost\n", { "\"localhost\" is not a network", NULL } },
    { "[metrics]\nlisten = x\n", { "[metrics] listen", "is not HOST:PORT", NULL } },
    { "[metrics]\nport = 9100\n", { "unknown key \"port\" in [metrics] (keys: listen)", NULL } },
    { "[metrics]\nlisten = 127.0.0.1:2525\n", { "[metrics] listen must differ from [server] listen", NULL } },
    { "[server]\nproxy_trusted = 10.0.0.0/40\n", { "[server] proxy_trusted", "10.0.0.0/40", NULL } },
    { "[server]\nlog_level = loud\n", { "[server] log_level", "loud", NULL } },
    { "[server]\nuser = \n", { "[server] user", "must not be empty", NULL } },
    { "[milter]\nservers = 127.0.0.1:11332\n", { "[milter] servers: \"127.0.0.1:11332\" is not inet:HOST:PORT or unix:PATH", NULL } },
    { "[milter]\nservers = inet:host\n", { "\"inet:host\" is not inet:HOST:PORT", NULL } },
    { "[milter]\nservers = unix:\n", { "\"unix:\" is not", NULL } },
    { "[milter]\nservers = inet:127.0.0.1:99999\n", { "\"inet:127.0.0.1:99999\" is not inet:HOST:PORT", NULL } },
    { "[milter]\ndefault_action = discard\n", { "[milter] default_action", "accept, tempfail, reject", NULL } },
    { "[milter]\nprotocol = 7\n", { "[milter] protocol", "out of range", NULL } },
    { "not an ini file", { "sg-config-", NULL } },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = write_config (cases[i].text);
      g_autoptr(GError) error = NULL;
      g_autoptr(SgConfig) c = sg_config_load (path, &error);
      g_assert_null (c);
      g_assert_nonnull (error);
      if (!strstr (error->message, path))
        g_error ("case %u: error \"%s\" does not name the file", i, error->message);
      for (guint j = 0; cases[i].want[j]; j++)
        if (!strstr (error->message, cases[i].want[j]))
          g_error ("case %u: got \"%s\", want it to contain \"%s\"", i, error->message, cases[i].want[j]);
      g_unlink (path);
    }
  g_autoptr(GError) error = NULL;
  g_assert_null (sg_config_load ("/nonexistent/spoolgate.conf", &error));
  g_assert_error (error, SG_CONFIG_ERROR, SG_CONFIG_ERROR_FILE);
}

static void
test_parsers (void)
{
  static const struct { const char *in; gboolean ok; guint64 want; } durations[] = {
    { "30", TRUE, 30 }, { "30s", TRUE, 30 }, { "5m", TRUE, 300 }, { "2h", TRUE, 7200 },
    { "5d", TRUE, 432000 }, { "", FALSE }, { "-1", FALSE }, { "1w", FALSE }, { "m", FALSE },
    { "1.5h", FALSE }, { "99999999999999999999d", FALSE },
  };
  for (guint i = 0; i < G_N_ELEMENTS (durations); i++)
    {
      guint64 v = 0;
      gboolean ok = sg_config_parse_duration (durations[i].in, &v, NULL);
      if (ok != durations[i].ok || (ok && v != durations[i].want))
        g_error ("duration \"%s\": got %d/%" G_GUINT64_FORMAT, durations[i].in, ok, v);
    }
  static const struct { const char *in; gboolean ok; guint64 want; } sizes[] = {
    { "1000", TRUE, 1000 }, { "25M", TRUE, 25000000 }, { "64KiB", TRUE, 65536 },
    { "1G", TRUE, 1000000000 }, { "1T", FALSE }, { "x", FALSE }, { "", FALSE },
  };
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      guint64 v = 0;
      gboolean ok = sg_config_parse_size (sizes[i].in, &v, NULL);
      if (ok != sizes[i].ok || (ok && v != sizes[i].want))
        g_error ("size \"%s\": got %d/%" G_GUINT64_FORMAT, sizes[i].in, ok, v);
    }
  static const struct { const char *in; gboolean ok; const char *host; guint port; } hp[] = {
    { "127.0.0.1:2525", TRUE, "127.0.0.1", 2525 }, { "[::1]:25", TRUE, "::1", 25 },
    { "localhost:1", TRUE, "localhost", 1 }, { "::1:25", FALSE }, { "host", FALSE },
    { "host:0", FALSE }, { "host:65536", FALSE }, { ":25", FALSE }, { "[::1]25", FALSE },
  };
  for (guint i = 0; i < G_N_ELEMENTS (hp); i++)
    {
      g_autofree char *host = NULL;
      guint16 port = 0;
      gboolean ok = sg_config_parse_hostport (hp[i].in, &host, &port, NULL);
      if (ok != hp[i].ok || (ok && (g_strcmp0 (host, hp[i].host) != 0 || port != hp[i].port)))
        g_error ("hostport \"%s\": got %d %s:%u", hp[i].in, ok, host, port);
    }
}

static void
test_dump (void)
{
  g_autoptr(SgConfig) c = sg_config_new ();
  g_autofree char *dump = sg_config_dump (c);
  g_assert_nonnull (strstr (dump, "[limits]\n"));
  g_assert_nonnull (strstr (dump, "max_recipients = 100\n"));
  /* the dump is itself a valid configuration */
  g_autofree char *path = write_config (dump);
  g_autoptr(GError) error = NULL;
  g_autoptr(SgConfig) again = sg_config_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (again->max_message_size, ==, c->max_message_size);
  g_unlink (path);
}

/* The reloadable column: what SIGHUP applies, and what it only reports. */
static void
test_reloadable (void)
{
  static const struct { const char *group, *key; gboolean live; } cases[] = {
    { "limits", "max_recipients", TRUE },
    { "limits", "min_data_rate", TRUE },
    { "spool", "commit_queue_wait", TRUE },
    { "spool", "recycle_files", TRUE },
    { "tls", "cert_file", TRUE },
    { "server", "listen", FALSE },
    { "spool", "dir", FALSE },
    { "queue", "scan_interval", FALSE },
    { "smarthost", "host", FALSE },
    { "limits", "no_such_key", FALSE },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    if (sg_config_key_reloadable (cases[i].group, cases[i].key) != cases[i].live)
      g_test_fail_printf ("[%s] %s: got reloadable=%d, want %d", cases[i].group, cases[i].key,
                          !cases[i].live, cases[i].live);

  g_autoptr(SgConfig) a = sg_config_new ();
  g_autoptr(SgConfig) b = sg_config_new ();
  g_assert_true (sg_config_set (b, "limits", "max_recipients", "5", NULL));
  g_assert_true (sg_config_set (b, "spool", "commit_queue_wait", "1", NULL));
  g_assert_true (sg_config_set (b, "queue", "scan_interval", "5", NULL));
  g_assert_true (sg_config_set (b, "server", "listen", "127.0.0.1:2626", NULL));
  g_autoptr(GPtrArray) changed = sg_config_restart_changes (a, b);
  g_assert_cmpuint (changed->len, ==, 2);
  g_assert_cmpstr (changed->pdata[0], ==, "[server] listen");
  g_assert_cmpstr (changed->pdata[1], ==, "[queue] scan_interval");
}

/* other_value - a valid value for key k that differs from its default d
 * (transfer full). */
static char *
other_value (const SgConfigKeyInfo *k, const char *d)
{
  if (strcmp (k->type, "bool") == 0)
    return g_strdup (strcmp (d, "true") == 0 ? "false" : "true");
  if (strcmp (k->type, "enum") == 0)
    return g_strdup (strcmp (k->choices[0], d) == 0 ? k->choices[1] : k->choices[0]);
  if (strcmp (k->type, "uint") == 0 || strcmp (k->type, "size") == 0
      || strcmp (k->type, "duration") == 0)
    return g_strdup_printf ("%" G_GUINT64_FORMAT,
                            g_ascii_strtoull (d, NULL, 10) == k->min ? k->max : k->min);
  if (strcmp (k->type, "hostport") == 0)
    return g_strdup ("127.0.0.2:2600");
  if (strcmp (k->type, "list") == 0)
    return g_strdup ("10.0.0.1");
  return g_strdup ("/elsewhere");
}

/* For every key of the table: a configuration that differs from the
 * defaults in that key alone is a restart change exactly when the key is
 * not reloadable; what SIGHUP logs is derived from the column. */
static void
test_restart_changes_every_key (void)
{
  g_autoptr(SgConfig) defaults = sg_config_new ();
  for (guint i = 0; i < sg_config_n_keys (); i++)
    {
      SgConfigKeyInfo k;
      sg_config_key_info (i, &k);
      g_autofree char *d = sg_config_key_value (defaults, i);
      g_autofree char *v = other_value (&k, d ? d : "");
      g_autoptr(SgConfig) changed = sg_config_new ();
      g_autoptr(GError) error = NULL;
      if (!sg_config_set (changed, k.group, k.key, v, &error))
        g_error ("[%s] %s = %s: %s", k.group, k.key, v, error->message);
      g_autofree char *now = sg_config_key_value (changed, i);
      g_assert_cmpstr (now, !=, d);
      g_autoptr(GPtrArray) restart = sg_config_restart_changes (defaults, changed);
      g_autofree char *name = g_strdup_printf ("[%s] %s", k.group, k.key);
      if (k.reloadable ? restart->len != 0 : restart->len != 1 || strcmp (restart->pdata[0], name) != 0)
        g_test_fail_printf ("%s (reloadable=%d) changed: %u restart change(s) reported", name,
                            k.reloadable, restart->len);
      g_assert_cmpint (k.reloadable, ==, sg_config_key_reloadable (k.group, k.key));
    }
}

/* [server] listen takes a list; each address is parsed, the first is listen_host. */
static void
test_listen_list (void)
{
  g_autoptr(SgConfig) c = sg_config_new ();
  g_autoptr(GError) error = NULL;
  g_assert_true (sg_config_set (c, "server", "listen", "0.0.0.0:25, [::]:25", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (c->listen_addrs), ==, 2);
  g_assert_cmpstr (c->listen_addrs[0], ==, "0.0.0.0:25");
  g_assert_cmpstr (c->listen_addrs[1], ==, "[::]:25");
  g_assert_cmpstr (c->listen_host, ==, "0.0.0.0");
  g_assert_cmpuint (c->listen_port, ==, 25);
  static const char *const bad[] = { "0.0.0.0:25, nonsense", "", " , ", "1.2.3.4:25,1.2.3.4:25" };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_clear_error (&error);
      if (sg_config_set (c, "server", "listen", bad[i], &error))
        g_test_fail_printf ("listen = \"%s\" accepted", bad[i]);
    }
  /* [metrics] listen may not be one of them */
  g_assert_true (sg_config_set (c, "server", "listen", "127.0.0.1:2525, 127.0.0.1:9125", NULL));
  g_assert_true (sg_config_set (c, "metrics", "listen", "127.0.0.1:9125", NULL));
  g_clear_error (&error);
  g_assert_false (sg_config_check (c, &error));
  g_assert_nonnull (strstr (error->message, "[metrics] listen must differ"));
}

/* config show -n: only what differs from the defaults, as a loadable file. */
static void
test_dump_changed (void)
{
  g_autoptr(SgConfig) c = sg_config_new ();
  g_autofree char *none = sg_config_dump_changed (c);
  g_assert_cmpstr (none, ==, "");
  g_assert_true (sg_config_set (c, "limits", "max_recipients", "5", NULL));
  g_assert_true (sg_config_set (c, "milter", "servers", "inet:127.0.0.1:11332", NULL));
  g_autofree char *two = sg_config_dump_changed (c);
  g_assert_cmpstr (two, ==, "[limits]\nmax_recipients = 5\n\n[milter]\nservers = inet:127.0.0.1:11332\n");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/config/defaults", test_defaults);
  g_test_add_func ("/config/load", test_load);
  g_test_add_func ("/config/errors", test_errors);
  g_test_add_func ("/config/parsers", test_parsers);
  g_test_add_func ("/config/dump", test_dump);
  g_test_add_func ("/config/reloadable", test_reloadable);
  g_test_add_func ("/config/reloadable/every-key", test_restart_changes_every_key);
  g_test_add_func ("/config/listen-list", test_listen_list);
  g_test_add_func ("/config/dump-changed", test_dump_changed);
  return g_test_run ();
}
