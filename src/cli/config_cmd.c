/* config_cmd.c - `spoolgate config check [--config FILE]` and `spoolgate
 * config show [-n] [--config FILE]`, the postconf of spoolgate. check loads
 * the file as serve would, then checks what its keys name, by the key
 * table's "file" column: files readable, certificates and keys loaded and
 * matched, trust anchors and tables read, milter addresses parsed. It
 * reports every problem and creates nothing. The keys themselves are
 * src/config/'s. */
#include "cli/cli.h"
#include "cli/cli_spool.h"
#include "access/access_table.h"
#include "tls/tls_error.h"
#include "sg-build.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

enum { CONFIG_OK = 0, CONFIG_PROBLEMS = 1, CONFIG_USAGE = 2 };

#define SG_SERVICE_USER "spoolgate"   /* User= of the shipped unit */

G_DEFINE_QUARK (sg-config-check-error-quark, config_check_error)
#define CHECK_ERROR (config_check_error_quark ())

/* Problems, in the order found: "[group] key = value: why". */
typedef struct {
  const SgConfig *config;
  GPtrArray      *problems;
} Check;

static void G_GNUC_PRINTF (4, 5)
problem (Check *c, const SgConfigKeyInfo *k, const char *value, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *why = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_ptr_array_add (c->problems, g_strdup_printf ("[%s] %s = %s: %s", k->group, k->key, value, why));
}

/* read_bio - a BIO on path, or NULL with why (transfer full). */
static BIO *
read_bio (const char *path, GError **error)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      int e = errno;
      g_set_error (error, CHECK_ERROR, 0, "cannot read: %s", g_strerror (e));
      return NULL;
    }
  struct stat st;
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, CHECK_ERROR, 0, "not a regular file");
      return NULL;
    }
  BIO *bio = BIO_new_fd (fd, BIO_CLOSE);
  if (bio == NULL)
    close (fd);
  return bio;
}

/* load_chain - the certificates of a PEM file (at least one; transfer full). */
static STACK_OF (X509) *
load_chain (const char *path, GError **error)
{
  BIO *bio = read_bio (path, error);
  if (bio == NULL)
    return NULL;
  STACK_OF (X509) *chain = sk_X509_new_null ();
  X509 *x;
  ERR_clear_error ();
  while ((x = PEM_read_bio_X509 (bio, NULL, NULL, NULL)) != NULL)
    sk_X509_push (chain, x);
  BIO_free (bio);
  unsigned long last = ERR_peek_last_error ();
  if (ERR_GET_REASON (last) == PEM_R_NO_START_LINE)
    ERR_clear_error ();   /* the normal end of the file */
  if (sk_X509_num (chain) == 0 || ERR_peek_error () != 0)
    {
      if (ERR_peek_error () != 0)
        sg_tls_set_error (error, CHECK_ERROR, 0, "not a PEM certificate file", NULL);
      else
        g_set_error (error, CHECK_ERROR, 0, "no PEM certificate in it");
      sk_X509_pop_free (chain, X509_free);
      return NULL;
    }
  return chain;
}

/* load_key - the private key of a PEM file (transfer full). */
static EVP_PKEY *
load_key (const char *path, GError **error)
{
  BIO *bio = read_bio (path, error);
  if (bio == NULL)
    return NULL;
  ERR_clear_error ();
  EVP_PKEY *key = PEM_read_bio_PrivateKey (bio, NULL, NULL, NULL);
  BIO_free (bio);
  if (key == NULL)
    sg_tls_set_error (error, CHECK_ERROR, 0, "no PEM private key in it (or it needs a passphrase)",
                      NULL);
  return key;
}

/* check_cert - a chain that loads and whose first certificate is valid now. */
static void
check_cert (Check *c, const SgConfigKeyInfo *k, const char *path)
{
  g_autoptr(GError) error = NULL;
  STACK_OF (X509) *chain = load_chain (path, &error);
  if (chain == NULL)
    {
      problem (c, k, path, "%s", error->message);
      return;
    }
  X509 *leaf = sk_X509_value (chain, 0);
  if (X509_cmp_current_time (X509_get0_notAfter (leaf)) < 0)
    problem (c, k, path, "the certificate has expired");
  else if (X509_cmp_current_time (X509_get0_notBefore (leaf)) > 0)
    problem (c, k, path, "the certificate is not valid yet");
  sk_X509_pop_free (chain, X509_free);
}

/* partner_cert - the certificate key of k's group, for a private key. */
static const char *
partner_cert (const Check *c, const SgConfigKeyInfo *k, char **value)
{
  for (guint i = 0; i < sg_config_n_keys (); i++)
    {
      SgConfigKeyInfo other;
      sg_config_key_info (i, &other);
      if (other.file == SG_CONFIG_FILE_CERT && strcmp (other.group, k->group) == 0)
        {
          *value = sg_config_key_value (c->config, i);
          return other.key;
        }
    }
  return NULL;
}

/* check_key - a key that loads and matches its group's certificate. */
static void
check_key (Check *c, const SgConfigKeyInfo *k, const char *path)
{
  g_autoptr(GError) error = NULL;
  EVP_PKEY *key = load_key (path, &error);
  if (key == NULL)
    {
      problem (c, k, path, "%s", error->message);
      return;
    }
  g_autofree char *cert_path = NULL;
  const char *cert_key = partner_cert (c, k, &cert_path);
  STACK_OF (X509) *chain = cert_path ? load_chain (cert_path, NULL) : NULL;
  if (chain != NULL && X509_check_private_key (sk_X509_value (chain, 0), key) != 1)
    problem (c, k, path, "does not match the certificate of [%s] %s (%s)", k->group, cert_key,
             cert_path);
  ERR_clear_error ();
  if (chain)
    sk_X509_pop_free (chain, X509_free);
  EVP_PKEY_free (key);
}

/* check_ca - trust anchors OpenSSL loads, as the smarthost client would. */
static void
check_ca (Check *c, const SgConfigKeyInfo *k, const char *path, gboolean dir)
{
  struct stat st;
  if (stat (path, &st) != 0)
    {
      problem (c, k, path, "cannot read: %s", g_strerror (errno));
      return;
    }
  if (dir ? !S_ISDIR (st.st_mode) : !S_ISREG (st.st_mode))
    {
      problem (c, k, path, dir ? "not a directory" : "not a regular file");
      return;
    }
  if (access (path, dir ? R_OK | X_OK : R_OK) != 0)
    {
      problem (c, k, path, "cannot read: %s", g_strerror (errno));
      return;
    }
  if (dir)
    return;   /* c_rehash'ed names are looked up per certificate, at the handshake */
  g_autoptr(GError) error = NULL;
  STACK_OF (X509) *chain = load_chain (path, &error);
  if (chain == NULL)
    problem (c, k, path, "%s", error->message);
  else
    sk_X509_pop_free (chain, X509_free);
}

/* check_readable - a regular file this process can read. */
static void
check_readable (Check *c, const SgConfigKeyInfo *k, const char *path)
{
  g_autoptr(GError) error = NULL;
  BIO *bio = read_bio (path, &error);
  if (bio == NULL)
    problem (c, k, path, "%s", error->message);
  else
    BIO_free (bio);
}

/* check_table - a lookup table, parsed as serve parses it: the table's
 * loader names the file and the first bad line. recipient_maps is a list
 * of addresses; the *_access keys are access(5) tables. */
static void
check_table (Check *c, const SgConfigKeyInfo *k, const char *path)
{
  g_autoptr(GError) error = NULL;
  SgTableKind kind = g_str_equal (k->key, "recipient_maps") ? SG_TABLE_RECIPIENTS : SG_TABLE_ACCESS;
  g_autoptr(SgAccessTable) t = sg_access_table_load (path, kind, &error);
  if (t == NULL)
    problem (c, k, path, "%s", error->message);
}

/* check_spool - the spool directory: if it exists a directory, else its
 * parent must exist (serve creates the rest). Nothing is created here. */
static void
check_spool (Check *c, const SgConfigKeyInfo *k, const char *path)
{
  struct stat st;
  if (stat (path, &st) == 0)
    {
      if (!S_ISDIR (st.st_mode))
        problem (c, k, path, "not a directory");
      return;
    }
  g_autofree char *parent = g_path_get_dirname (path);
  if (errno != ENOENT || stat (parent, &st) != 0 || !S_ISDIR (st.st_mode))
    problem (c, k, path, "neither it nor its parent directory %s exists", parent);
}

/* check_milters - every [milter] servers entry is inet:HOST:PORT (port
 * 1-65535, [IPv6]) or unix:/absolute/path that fits a socket address. */
static void
check_milters (Check *c)
{
  SgConfigKeyInfo k = { .group = "milter", .key = "servers" };
  for (guint i = 0; c->config->milter_servers && c->config->milter_servers[i]; i++)
    {
      const char *m = c->config->milter_servers[i];
      struct sockaddr_un un;
      g_autofree char *host = NULL, *path = NULL;
      guint16 port;
      if (!sg_config_parse_milter (m, &host, &port, &path, NULL))
        problem (c, &k, m, "not inet:HOST:PORT ([HOST] for IPv6, port 1-65535) or unix:PATH");
      else if (path && path[0] != '/')
        problem (c, &k, m, "unix: needs an absolute path");
      else if (path && strlen (path) >= sizeof un.sun_path)
        problem (c, &k, m, "the socket path is longer than %zu bytes", sizeof un.sun_path - 1);
    }
}

/* service_user - whom the daemon runs as, when root runs this command:
 * [server] user, else for the installed binary the unit's user, if it
 * exists; NULL otherwise (the files are then checked as the caller). */
static const char *
service_user (const SgConfig *config)
{
  if (geteuid () != 0)
    return NULL;
  if (config->user)
    return config->user;
  if (sg_cli_installed () && getpwnam (SG_SERVICE_USER) != NULL)
    return SG_SERVICE_USER;
  return NULL;
}

/* become - switch this (child) process to user for good, with its groups,
 * so that files are checked as the daemon will open them. */
static gboolean
become (const char *user)
{
  const struct passwd *pw = getpwnam (user);
  return pw != NULL && pw->pw_uid != 0 && initgroups (user, pw->pw_gid) == 0
         && setgid (pw->pw_gid) == 0 && setuid (pw->pw_uid) == 0;
}

static int check_files (const SgConfig *config, const char *as_user);

/* run_check - every problem of the file at path; the exit status. Run by
 * root for a daemon that runs as another user, the files are checked in a
 * child process that has become that user. */
static int
run_check (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SgConfig) config = sg_cli_load_config (path, NULL, &error);
  if (config == NULL)
    {
      g_printerr ("spoolgate config check: %s\n", error->message);
      return CONFIG_PROBLEMS;
    }
  const char *user = service_user (config);
  if (user == NULL || getpwnam (user) == NULL)
    return check_files (config, NULL);
  fflush (stdout);
  pid_t pid = fork ();
  if (pid < 0)
    {
      g_printerr ("spoolgate config check: fork: %s\n", g_strerror (errno));
      return CONFIG_PROBLEMS;
    }
  if (pid == 0)
    {
      if (!become (user))
        {
          g_printerr ("spoolgate config check: cannot become %s to check its files\n", user);
          _exit (CONFIG_PROBLEMS);
        }
      fflush (stdout);
      _exit (check_files (config, user));
    }
  int status = 0;
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  return WIFEXITED (status) ? WEXITSTATUS (status) : CONFIG_PROBLEMS;
}

/* check_files - every problem of what config names, printed; as_user
 * (nullable) is whom this process checks them as. The exit status. */
static int
check_files (const SgConfig *config, const char *as_user)
{
  Check c = { config, g_ptr_array_new_with_free_func (g_free) };
  for (guint i = 0; i < sg_config_n_keys (); i++)
    {
      SgConfigKeyInfo k;
      sg_config_key_info (i, &k);
      g_autofree char *value = sg_config_key_value (config, i);
      if (k.file == SG_CONFIG_FILE_NONE || value == NULL || *value == '\0')
        continue;
      switch (k.file)
        {
        case SG_CONFIG_FILE_NONE: break;
        case SG_CONFIG_FILE_READABLE: check_readable (&c, &k, value); break;
        case SG_CONFIG_FILE_CERT: check_cert (&c, &k, value); break;
        case SG_CONFIG_FILE_KEY: check_key (&c, &k, value); break;
        case SG_CONFIG_FILE_CA: check_ca (&c, &k, value, FALSE); break;
        case SG_CONFIG_FILE_CA_DIR: check_ca (&c, &k, value, TRUE); break;
        case SG_CONFIG_FILE_TABLE: check_table (&c, &k, value); break;
        case SG_CONFIG_FILE_SPOOL: check_spool (&c, &k, value); break;
        }
    }
  check_milters (&c);
  if (config->user && getpwnam (config->user) == NULL)
    {
      SgConfigKeyInfo k = { .group = "server", .key = "user" };
      problem (&c, &k, config->user, "no such user");
    }
  const char *name = config->path ? config->path : "(built-in defaults)";
  g_autofree char *as = as_user ? g_strdup_printf (" (files checked as user %s)", as_user)
                                : g_strdup ("");
  for (guint i = 0; i < c.problems->len; i++)
    g_printerr ("spoolgate config check: %s: %s\n", name, (char *) c.problems->pdata[i]);
  int status = c.problems->len ? CONFIG_PROBLEMS : CONFIG_OK;
  if (status == CONFIG_OK)
    g_print ("%s: OK%s\n", name, as);
  else
    g_printerr ("spoolgate config check: %s: %u problem%s%s\n", name, c.problems->len,
                c.problems->len == 1 ? "" : "s", as);
  g_ptr_array_unref (c.problems);
  return status;
}

/* sg_cli_config_check - `config check`, also `check --config FILE` alone. */
int
sg_cli_config_check (const char *config_path)
{
  return run_check (config_path);
}

/* run_show - every key, or with changed_only those off their default. */
static int
run_show (const char *path, gboolean changed_only)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SgConfig) config = sg_cli_load_config (path, NULL, &error);
  if (config == NULL)
    {
      g_printerr ("spoolgate config show: %s\n", error->message);
      return CONFIG_PROBLEMS;
    }
  g_autofree char *text = changed_only ? sg_config_dump_changed (config) : sg_config_dump (config);
  g_print ("%s", text);
  return CONFIG_OK;
}

/* sg_cli_config - `spoolgate config check|show ...`. */
int
sg_cli_config (int argc, char **argv)
{
  g_autofree char *config_path = NULL;
  gboolean changed_only = FALSE;
  const GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
      "The configuration file (default: installed, " SG_SYSTEM_CONFIG " if present; else built-in defaults)",
      "FILE" },
    { "non-default", 'n', 0, G_OPTION_ARG_NONE, &changed_only,
      "show: only the settings that differ from the default (as postconf -n)", NULL },
    { NULL }
  };
  g_set_prgname ("spoolgate config");
  g_autoptr(GOptionContext) context = g_option_context_new ("check | show");
  g_option_context_set_summary (context,
    "check: load the configuration as serve would and check what it names:\n"
    "files readable, certificates and keys load and match, trust anchors and\n"
    "tables read, milter addresses parse. Every problem is printed; nothing\n"
    "is created. Exit status: 0 no problem, 1 problems, 2 usage error.\n"
    "show: every setting with its value, as a configuration file; with -n\n"
    "only those that differ from the built-in default.");
  g_option_context_add_main_entries (context, entries, NULL);
  g_autoptr(GError) error = NULL;
  if (!sg_cli_parse_options (context, entries, &argc, &argv, &error))
    {
      g_printerr ("spoolgate config: %s\n", error->message);
      return CONFIG_USAGE;
    }
  const char *what = argc == 2 ? argv[1] : NULL;
  if (g_strcmp0 (what, "check") == 0 && !changed_only)
    return run_check (config_path);
  if (g_strcmp0 (what, "show") == 0)
    return run_show (config_path, changed_only);
  g_printerr ("spoolgate config: say check or show (-n goes with show); see `spoolgate config --help`\n");
  return CONFIG_USAGE;
}
