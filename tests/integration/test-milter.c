/* test-milter.c - content filters before 250: the real binary against real
 * milters from Debian packages, each started here with its own config in a
 * temporary directory (rspamd as an rspamd_proxy with milter = yes and no
 * network checks; OpenDKIM signing with a key from opendkim-genkey), and
 * against tests/tools/milter_peer.py for what real filters will not do on
 * demand: hang, quarantine, ask for forbidden edits. ClamAV runs with a
 * signature database built here (none can be downloaded offline). Skips
 * with a message when rspamd, opendkim or clamav is not installed. */
#include "harness.h"

#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>

#define RSPAMD_UP_MS   120000   /* rspamd compiles its regexps at start-up */
#define DAEMON_UP_MS   30000

#define GTUBE "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

/* message - a small valid message from a@example.com (transfer full). */
static char *
message (const char *subject, const char *body)
{
  return g_strdup_printf ("From: <a@example.com>\r\nTo: <b@example.net>\r\nSubject: %s\r\n"
                          "Date: Tue, 01 Dec 2026 12:00:00 +0000\r\n"
                          "Message-ID: <%s.%" G_GINT64_FORMAT "@example.com>\r\n\r\n%s\r\n",
                          subject, subject, g_get_real_time (), body);
}

/* transact - one transaction; the final reply to the message (transfer full). */
static char *
transact (guint16 port, const char *data)
{
  char *reply = sg_test_transact (port, "a@example.com",
                                  (const char *const[]) { "b@example.net", NULL }, data, -1);
  g_assert_nonnull (reply);
  return reply;
}

/* queued_id - the ID in "250 2.0.0 Ok: queued as ID" (transfer full). */
static char *
queued_id (const char *reply)
{
  const char *p = strstr (reply, "queued as ");
  g_assert_nonnull (p);
  return g_strdup (p + strlen ("queued as "));
}

/* meta_milter - the "milter" object of a spooled message's metadata. */
static JsonNode *
meta_milter (SgTestServer *s, const char *id, char **state)
{
  g_autofree char *path = sg_test_queue_file (s, id, ".json");
  g_autoptr(JsonParser) p = json_parser_new ();
  g_assert_true (json_parser_load_from_file (p, path, NULL));
  JsonObject *o = json_node_get_object (json_parser_get_root (p));
  if (state)
    *state = g_strdup (json_object_get_string_member (o, "state"));
  JsonNode *m = json_object_get_member (o, "milter");
  return m ? json_node_copy (m) : NULL;
}

static char *
find_program (const char *name, const char *sbin)
{
  char *p = g_find_program_in_path (name);
  if (!p && g_file_test (sbin, G_FILE_TEST_IS_EXECUTABLE))
    p = g_strdup (sbin);
  return p;
}

static char *
server_config (const char *servers, const char *extra)
{
  return g_strdup_printf ("[server]\nhostname = mx.test\n[milter]\nservers = %s\n%s", servers,
                          extra ? extra : "");
}

/* ---- rspamd ---- */

/* rspamd_start - rspamd with the Debian configuration, its LOCAL_CONFDIR,
 * run, db and log directories in dir: only the proxy worker, in milter mode,
 * scanning itself; no network modules; headers added for every client. */
static GSubprocess *
rspamd_start (const char *rspamd, const char *dir, guint16 port)
{
  static const char *const disabled[] = {
    "rbl", "spf", "dkim", "dmarc", "asn", "fuzzy_check", "phishing", "dkim_signing", "arc",
    "url_reputation", "neural", "ratelimit", "greylist", "replies", "history_redis", "mx_check",
    "emails", "surbl", "multimap", "once_received", "hfilter", "whitelist", "reputation",
  };
  g_autofree char *local = g_build_filename (dir, "local.d", NULL);
  g_autofree char *override = g_build_filename (dir, "override.d", NULL);
  g_autofree char *run = g_build_filename (dir, "run", NULL);
  g_autofree char *db = g_build_filename (dir, "db", NULL);
  g_assert_cmpint (g_mkdir_with_parents (local, 0700), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (override, 0700), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (run, 0700), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (db, 0700), ==, 0);
  struct { const char *dir, *name, *text; } files[] = {
    { local, "worker-proxy.inc", NULL },
    { override, "worker-normal.inc", "enabled = false;\n" },
    { override, "worker-controller.inc", "enabled = false;\n" },
    { override, "worker-fuzzy.inc", "enabled = false;\n" },
    { local, "milter_headers.conf",
      "use = [\"x-spamd-result\", \"x-rspamd-server\", \"x-rspamd-queue-id\"];\n"
      "skip_local = false;\nskip_authenticated = false;\n" },
    { local, "options.inc", "local_addrs = [];\ndns { timeout = 1s; retransmits = 1; }\n" },
    { local, "logging.inc", "type = \"console\";\nlevel = \"notice\";\n" },
  };
  g_autofree char *proxy = g_strdup_printf ("bind_socket = \"127.0.0.1:%u\";\nmilter = yes;\n"
                                            "timeout = 120s;\ncount = 1;\n"
                                            "upstream \"local\" {\n  default = yes;\n  self_scan = yes;\n}\n",
                                            port);
  files[0].text = proxy;
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *path = g_build_filename (files[i].dir, files[i].name, NULL);
      g_assert_true (g_file_set_contents (path, files[i].text, -1, NULL));
    }
  for (guint i = 0; i < G_N_ELEMENTS (disabled); i++)
    {
      g_autofree char *name = g_strconcat (disabled[i], ".conf", NULL);
      g_autofree char *path = g_build_filename (local, name, NULL);
      g_assert_true (g_file_set_contents (path, "enabled = false;\n", -1, NULL));
    }
  g_autofree char *v_local = g_strconcat ("LOCAL_CONFDIR=", dir, NULL);
  g_autofree char *v_run = g_strconcat ("RUNDIR=", run, NULL);
  g_autofree char *v_db = g_strconcat ("DBDIR=", db, NULL);
  g_autofree char *v_log = g_strconcat ("LOGDIR=", dir, NULL);
  g_autofree char *log = g_build_filename (dir, "rspamd.log", NULL);
  const char *argv[] = { rspamd, "-f", "-i", "-u", g_get_user_name (), "-g", g_get_user_name (),
                         "-c", "/etc/rspamd/rspamd.conf", "--var", v_local, "--var", v_run,
                         "--var", v_db, "--var", v_log, NULL };
  return sg_test_spawn (argv, log);
}

/* GTUBE gets rspamd's reject as our 5xx with rspamd's text; a clean message
 * is spooled with the headers rspamd adds, its queue ID being ours (macro i). */
static void
test_rspamd (void)
{
  g_autofree char *rspamd = find_program ("rspamd", "/usr/bin/rspamd");
  if (!rspamd || !g_file_test ("/etc/rspamd/rspamd.conf", G_FILE_TEST_EXISTS))
    {
      g_test_skip ("rspamd is not installed (apt-get install rspamd): milter with rspamd not tested");
      return;
    }
  g_autofree char *dir = g_dir_make_tmp ("sg-rspamd-XXXXXX", NULL);
  guint16 port = sg_test_free_port ();
  GSubprocess *proc = rspamd_start (rspamd, dir, port);
  g_assert_true (sg_test_wait_port (port, RSPAMD_UP_MS));

  g_autofree char *servers = g_strdup_printf ("inet:127.0.0.1:%u", port);
  g_autofree char *cfg = server_config (servers, "content_timeout = 120\ncommand_timeout = 60\n");
  SgTestServer s;
  sg_test_server_start (&s, cfg);

  g_autofree char *spam = message ("gtube", GTUBE);
  g_autofree char *r1 = transact (s.port, spam);
  g_test_message ("GTUBE: %s", r1);
  g_assert_true (g_str_has_prefix (r1, "554 5.7.1 "));
  g_assert_nonnull (strstr (r1, "Gtube pattern"));
  g_assert_true (sg_test_wait_log (&s, "milter-reject: END-OF-MESSAGE from unknown[127.0.0.1]: 5.7.1 Gtube pattern; from=<a@example.com> to=<b@example.net>", 1, 1000));

  g_autofree char *ham = message ("clean", "Just a friendly note about the meeting tomorrow.");
  g_autofree char *r2 = transact (s.port, ham);
  g_assert_true (g_str_has_prefix (r2, "250 2.0.0 Ok: queued as "));
  g_autofree char *id = queued_id (r2);
  g_autofree char *eml_path = sg_test_queue_file (&s, id, ".eml");
  g_autofree char *eml = sg_test_read_file (eml_path, NULL);
  g_autofree char *qid_header = g_strdup_printf ("\r\nX-Rspamd-Queue-Id: %s\r\n", id);
  g_assert_nonnull (strstr (eml, qid_header));
  g_assert_nonnull (strstr (eml, "\r\nX-Spamd-Result: default: False"));
  g_assert_nonnull (strstr (eml, "\r\nX-Rspamd-Server: "));
  /* the client's bytes follow the header section unchanged */
  g_assert_true (g_str_has_suffix (eml, "\r\n\r\nJust a friendly note about the meeting tomorrow.\r\n"));
  g_autoptr(JsonNode) m = meta_milter (&s, id, NULL);
  g_assert_nonnull (m);
  JsonObject *mo = json_node_get_object (m);
  g_assert_cmpstr (json_object_get_string_member (mo, "verdict"), ==, "accept");
  JsonObject *first = json_array_get_object_element (json_object_get_array_member (mo, "milters"), 0);
  g_assert_cmpint (json_object_get_int_member (first, "headers_added"), >=, 3);

  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  sg_test_server_free (&s);
  sg_test_stop_process (proc);
  const char *rm[] = { "rm", "-rf", dir, NULL };
  sg_test_run (rm, NULL, NULL);
}

/* ---- OpenDKIM ---- */

/* OpenDKIM signs with a key made by opendkim-genkey; the spooled message's
 * DKIM-Signature verifies with python3-dkim against that key's record. */
static void
test_opendkim (void)
{
  g_autofree char *opendkim = find_program ("opendkim", "/usr/sbin/opendkim");
  g_autofree char *genkey = find_program ("opendkim-genkey", "/usr/sbin/opendkim-genkey");
  if (!opendkim || !genkey)
    {
      g_test_skip ("opendkim is not installed (apt-get install opendkim opendkim-tools): "
                   "DKIM signing through a milter not tested");
      return;
    }
  g_autofree char *dir = g_dir_make_tmp ("sg-opendkim-XXXXXX", NULL);
  const char *gen[] = { genkey, "-D", dir, "-d", "example.com", "-s", "sgtest", NULL };
  g_assert_cmpint (sg_test_run (gen, NULL, NULL), ==, 0);
  g_autofree char *sock = g_build_filename (dir, "opendkim.sock", NULL);
  g_autofree char *conf = g_build_filename (dir, "opendkim.conf", NULL);
  g_autofree char *conf_text = g_strdup_printf (
    "Syslog no\nMode s\nDomain example.com\nSelector sgtest\nKeyFile %s/sgtest.private\n"
    "Socket local:%s\nPidFile %s/opendkim.pid\nBackground no\n"
    "Canonicalization relaxed/relaxed\nRequireSafeKeys false\nUserID %s\n",
    dir, sock, dir, g_get_user_name ());
  g_assert_true (g_file_set_contents (conf, conf_text, -1, NULL));
  g_autofree char *log = g_build_filename (dir, "opendkim.log", NULL);
  const char *argv[] = { opendkim, "-f", "-x", conf, NULL };
  GSubprocess *proc = sg_test_spawn (argv, log);
  g_assert_true (sg_test_wait_unix (sock, DAEMON_UP_MS));

  /* over a unix socket, as doc/content-filtering.md's example */
  g_autofree char *servers = g_strconcat ("unix:", sock, NULL);
  g_autofree char *cfg = server_config (servers, NULL);
  SgTestServer s;
  sg_test_server_start (&s, cfg);
  g_autofree char *msg = message ("signed", "This message is signed by OpenDKIM.");
  g_autofree char *reply = transact (s.port, msg);
  g_assert_true (g_str_has_prefix (reply, "250 2.0.0 Ok: queued as "));
  g_autofree char *id = queued_id (reply);
  g_autofree char *eml_path = sg_test_queue_file (&s, id, ".eml");
  g_autofree char *eml = sg_test_read_file (eml_path, NULL);
  g_assert_true (g_str_has_prefix (eml, "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com;"));
  g_assert_nonnull (strstr (eml, "s=sgtest;"));
  g_autofree char *txt = g_build_filename (dir, "sgtest.txt", NULL);
  g_autofree char *out = NULL;
  const char *args[] = { "verify-txt", txt, eml_path, NULL };
  g_assert_cmpint (sg_test_python ("dkim_tool.py", args, &out, NULL), ==, 0);
  g_assert_cmpstr (out, ==, "pass\n");

  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  sg_test_server_free (&s);
  sg_test_stop_process (proc);
  const char *rm[] = { "rm", "-rf", dir, NULL };
  sg_test_run (rm, NULL, NULL);
}

/* ---- ClamAV ---- */

/* The signature database cannot be downloaded here, so one is built
 * offline: a body signature (.ndb, any file type) for a marker string. */
#define CLAM_MARKER "SPOOLGATE-CLAMAV-TEST-MARKER-7f3a"

/* clamd and clamav-milter with their own config in dir; an infected message
 * gets 550 5.7.1 (OnInfected Reject), a clean one the X-Virus-* headers. */
static void
test_clamav (void)
{
  g_autofree char *clamd = find_program ("clamd", "/usr/sbin/clamd");
  g_autofree char *milter = find_program ("clamav-milter", "/usr/sbin/clamav-milter");
  if (!clamd || !milter)
    {
      g_test_skip ("clamav-daemon or clamav-milter is not installed "
                   "(apt-get install clamav-daemon clamav-milter): ClamAV not tested");
      return;
    }
  g_autofree char *dir = g_dir_make_tmp ("sg-clamav-XXXXXX", NULL);
  g_autofree char *db = g_build_filename (dir, "db", NULL);
  g_assert_cmpint (g_mkdir_with_parents (db, 0700), ==, 0);
  GString *hex = g_string_new (NULL);
  for (const char *c = CLAM_MARKER; *c; c++)
    g_string_append_printf (hex, "%02x", (guchar) *c);
  g_autofree char *ndb = g_build_filename (db, "spoolgate.ndb", NULL);
  g_autofree char *sig = g_strdup_printf ("SpoolgateTest.Marker:0:*:%s\n", hex->str);
  g_string_free (hex, TRUE);
  g_assert_true (g_file_set_contents (ndb, sig, -1, NULL));
  g_autofree char *user = getuid () == 0 ? g_strdup_printf ("User %s\n", g_get_user_name ()) : g_strdup ("");
  g_autofree char *sock = g_build_filename (dir, "clamd.sock", NULL);
  g_autofree char *clamd_conf = g_build_filename (dir, "clamd.conf", NULL);
  g_autofree char *clamd_text = g_strdup_printf (
    "LocalSocket %s\nDatabaseDirectory %s\nForeground yes\nTemporaryDirectory %s\n"
    "PidFile %s/clamd.pid\n%s", sock, db, dir, dir, user);
  g_assert_true (g_file_set_contents (clamd_conf, clamd_text, -1, NULL));
  guint16 port = sg_test_free_port ();
  g_autofree char *milter_conf = g_build_filename (dir, "clamav-milter.conf", NULL);
  g_autofree char *milter_text = g_strdup_printf (
    "MilterSocket inet:%u@127.0.0.1\nClamdSocket unix:%s\nForeground yes\nOnInfected Reject\n"
    "OnFail Defer\nAddHeader Replace\nTemporaryDirectory %s\nPidFile %s/milter.pid\n%s",
    port, sock, dir, dir, user);
  g_assert_true (g_file_set_contents (milter_conf, milter_text, -1, NULL));
  g_autofree char *clamd_log = g_build_filename (dir, "clamd.log", NULL);
  g_autofree char *milter_log = g_build_filename (dir, "clamav-milter.log", NULL);
  const char *clamd_argv[] = { clamd, "-c", clamd_conf, NULL };
  GSubprocess *clamd_proc = sg_test_spawn (clamd_argv, clamd_log);
  g_assert_true (sg_test_wait_unix (sock, RSPAMD_UP_MS));
  const char *milter_argv[] = { milter, "-c", milter_conf, NULL };
  GSubprocess *milter_proc = sg_test_spawn (milter_argv, milter_log);
  g_assert_true (sg_test_wait_port (port, DAEMON_UP_MS));

  g_autofree char *servers = g_strdup_printf ("inet:127.0.0.1:%u", port);
  g_autofree char *cfg = server_config (servers, NULL);
  SgTestServer s;
  sg_test_server_start (&s, cfg);
  g_autofree char *infected = message ("infected", "Look: " CLAM_MARKER " inside.");
  g_autofree char *r1 = transact (s.port, infected);
  g_assert_cmpstr (r1, ==, "550 5.7.1 Command rejected");
  g_autofree char *clean = message ("clean", "Nothing to see here.");
  g_autofree char *r2 = transact (s.port, clean);
  g_assert_true (g_str_has_prefix (r2, "250 2.0.0 Ok: queued as "));
  g_autofree char *id = queued_id (r2);
  g_autofree char *eml_path = sg_test_queue_file (&s, id, ".eml");
  g_autofree char *eml = sg_test_read_file (eml_path, NULL);
  g_assert_nonnull (strstr (eml, "\r\nX-Virus-Status: Clean\r\n"));
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  sg_test_server_free (&s);
  sg_test_stop_process (milter_proc);
  sg_test_stop_process (clamd_proc);
  const char *rm[] = { "rm", "-rf", dir, NULL };
  sg_test_run (rm, NULL, NULL);
}

/* ---- scripted milters: down, hanging, quarantine, edits ---- */

typedef struct {
  char        *dir;
  char        *log;     /* the commands it received, one JSON line each */
  guint16      port;
  GSubprocess *proc;
} Peer;

static void
peer_start (Peer *p, const char *mode)
{
  p->dir = g_dir_make_tmp ("sg-milter-peer-XXXXXX", NULL);
  g_autofree char *portfile = g_build_filename (p->dir, "port", NULL);
  p->log = g_build_filename (p->dir, "commands.jsonl", NULL);
  g_autofree char *out = g_build_filename (p->dir, "stdout", NULL);
  const char *args[] = { mode, portfile, p->log, NULL };
  p->proc = sg_test_tool_server ("milter_peer.py", args, portfile, out, &p->port);
}

static void
peer_stop (Peer *p)
{
  sg_test_stop_process (p->proc);
  const char *rm[] = { "rm", "-rf", p->dir, NULL };
  sg_test_run (rm, NULL, NULL);
  g_free (p->dir);
  g_free (p->log);
}

/* peer_wait_quit - until the peer has logged count quit commands. */
static void
peer_wait_quit (Peer *p, guint count)
{
  g_assert_true (sg_test_wait_text (p->log, "\"cmd\": \"Q\"", count, DAEMON_UP_MS));
}

static void
gstring_free (gpointer g)
{
  g_string_free (g, TRUE);
}

/* session_conversations_are - convs (peer_conversations) is the session's
 * conversations want, in order, with the readiness probe's conversation
 * (probe) anywhere among them: the probe runs on its own connection and
 * may end before or after the session's first stages. */
static gboolean
session_conversations_are (const char *convs, const char *probe, const char *want)
{
  g_auto(GStrv) words = g_strsplit (convs, " ", -1);
  for (guint skip = 0; words[skip]; skip++)
    {
      if (strcmp (words[skip], probe) != 0)
        continue;
      g_autoptr(GString) rest = g_string_new (NULL);
      for (guint i = 0; words[i]; i++)
        if (i != skip)
          g_string_append_printf (rest, "%s%s", rest->len ? " " : "", words[i]);
      if (strcmp (rest->str, want) == 0)
        return TRUE;
    }
  return FALSE;
}

/* peer_conversations - the commands of each conversation the peer held,
 * one word per conversation in the order they began (transfer full): the
 * envelope conversations of a session's stages come one after the other,
 * but the harness's readiness probe's may overlap the first. */
static char *
peer_conversations (Peer *p)
{
  g_autofree char *log = sg_test_read_file (p->log, NULL);
  g_auto(GStrv) lines = g_strsplit (log ? log : "", "\n", -1);
  g_autoptr(GHashTable) convs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GPtrArray) order = g_ptr_array_new_with_free_func (gstring_free);
  for (guint i = 0; lines[i] && *lines[i]; i++)
    {
      g_autoptr(JsonParser) jp = json_parser_new ();
      g_assert_true (json_parser_load_from_data (jp, lines[i], -1, NULL));
      JsonObject *o = json_node_get_object (json_parser_get_root (jp));
      const char *conn = json_object_get_string_member (o, "conn");
      GString *g = g_hash_table_lookup (convs, conn);
      if (!g)
        {
          g = g_string_new (NULL);
          g_hash_table_insert (convs, g_strdup (conn), g);
          g_ptr_array_add (order, g);
        }
      g_string_append (g, json_object_get_string_member (o, "cmd"));
    }
  GString *out = g_string_new (NULL);
  for (guint i = 0; i < order->len; i++)
    g_string_append_printf (out, "%s%s", i ? " " : "", ((GString *) order->pdata[i])->str);
  return g_string_free (out, FALSE);
}

/* scrape - the body of GET /metrics on 127.0.0.1:port (transfer full). */
static char *
scrape (guint16 port)
{
  g_autoptr(GSocketClient) sc = g_socket_client_new ();
  g_autoptr(GSocketConnection) conn = g_socket_client_connect_to_host (sc, "127.0.0.1", port, NULL, NULL);
  g_assert_nonnull (conn);
  static const char req[] = "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n";
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
  g_assert_true (g_output_stream_write_all (out, req, strlen (req), NULL, NULL, NULL));
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (conn));
  GString *text = g_string_new (NULL);
  char buf[4096];
  gssize n;
  while ((n = g_input_stream_read (in, buf, sizeof buf, NULL, NULL)) > 0)
    g_string_append_len (text, buf, n);
  return g_string_free (text, FALSE);
}

/* A milter that sends header edits without end is cut off once they could
 * make the message larger than [limits] max_message_size: default_action,
 * not unbounded memory. */
static void
test_edit_flood (void)
{
  Peer p;
  peer_start (&p, "flood");
  g_autofree char *servers = g_strdup_printf ("inet:127.0.0.1:%u", p.port);
  g_autofree char *milter = server_config (servers, "default_action = tempfail\n");
  g_autofree char *cfg = g_strconcat ("[limits]\nmax_message_size = 1000000\n", milter, NULL);
  SgTestServer s;
  sg_test_server_start (&s, cfg);
  g_autofree char *msg = message ("flood", "The filter adds 15 MB of header fields.");
  g_autofree char *reply = transact (s.port, msg);
  g_assert_cmpstr (reply, ==, "451 4.7.1 Service unavailable - try again later");
  g_assert_true (sg_test_wait_log (&s, "larger than 1000000 bytes ([limits] max_message_size) "
                                       "at END-OF-MESSAGE", 1, 5000));
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  sg_test_server_free (&s);
  peer_stop (&p);
}

/* A milter nobody listens for: each default_action within connect time,
 * counted by milter and action and, when refused, under rule "milter". */
static void
test_down (void)
{
  static const struct { const char *action; const char *reply; } cases[] = {
    { "tempfail", "451 4.7.1 Service unavailable - try again later" },
    { "reject", "550 5.7.1 Command rejected" },
    { "accept", "250 2.0.0 Ok: queued as " },
  };
  guint16 dead = sg_test_free_port ();
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *servers = g_strdup_printf ("inet:127.0.0.1:%u", dead);
      guint16 metrics = sg_test_free_port ();
      g_autofree char *extra = g_strdup_printf ("default_action = %s\nconnect_timeout = 5\n"
                                                "[metrics]\nlisten = 127.0.0.1:%u\n",
                                                cases[i].action, metrics);
      g_autofree char *cfg = server_config (servers, extra);
      SgTestServer s;
      sg_test_server_start (&s, cfg);
      g_autofree char *msg = message ("down", "Nobody filters this.");
      gint64 start = g_get_monotonic_time ();
      g_autofree char *reply = transact (s.port, msg);
      gdouble took = (gdouble) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
      g_test_message ("default_action = %s: %s in %.2f s", cases[i].action, reply, took);
      if (!g_str_has_prefix (reply, cases[i].reply))
        g_test_fail_printf ("default_action = %s: got \"%s\", want \"%s...\"", cases[i].action,
                            reply, cases[i].reply);
      g_assert_cmpfloat (took, <, 5 + 10);
      g_assert_true (sg_test_wait_log (&s, "default_action=", 1, 1000));
      g_autofree char *body = scrape (metrics);
      g_autofree char *sample = g_strdup_printf ("\nspoolgate_milter_actions_total{milter=\"%s\",action=\"error\"} 1\n", servers);
      g_assert_nonnull (strstr (body, sample));
      if (strcmp (cases[i].action, "accept") != 0)
        {
          g_autofree char *rejected = g_strdup_printf ("\nspoolgate_messages_rejected_total{rule=\"milter\",code=\"%.3s\"} 1\n",
                                                       cases[i].reply);
          g_assert_nonnull (strstr (body, rejected));
        }
      if (strcmp (cases[i].action, "accept") == 0)
        {
          g_autofree char *id = queued_id (reply);
          g_autoptr(JsonNode) m = meta_milter (&s, id, NULL);
          JsonObject *first = json_array_get_object_element (
            json_object_get_array_member (json_node_get_object (m), "milters"), 0);
          g_assert_cmpstr (json_object_get_string_member (first, "action"), ==, "error");
        }
      g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
      sg_test_server_free (&s);
    }
}

/* A milter that answers option negotiation and then nothing: the message
 * gets default_action after command_timeout, while the server answers
 * another client in the meantime and stays up afterwards. */
static void
test_hang (void)
{
  Peer p;
  peer_start (&p, "hang");
  g_autofree char *servers = g_strdup_printf ("inet:127.0.0.1:%u", p.port);
  g_autofree char *cfg = server_config (servers, "default_action = tempfail\ncommand_timeout = 2\n"
                                                 "content_timeout = 2\nconnect_timeout = 2\n");
  SgTestServer s;
  sg_test_server_start (&s, cfg);

  SgTestClient *c = sg_test_client_connect (s.port, NULL);
  g_autofree char *ehlo = sg_test_client_command (c, "EHLO client.example");
  g_autofree char *mail = sg_test_client_command (c, "MAIL FROM:<a@example.com>");
  g_autofree char *rcpt = sg_test_client_command (c, "RCPT TO:<b@example.net>");
  g_autofree char *go = sg_test_client_command (c, "DATA");
  g_assert_true (g_str_has_prefix (go, "354 "));
  g_autofree char *msg = message ("hang", "The filter never answers.");
  gint64 start = g_get_monotonic_time ();
  sg_test_client_send (c, msg, -1);
  sg_test_client_send (c, ".\r\n", 3);

  /* while that message waits for the milter, another client is served */
  g_assert_true (sg_test_wait_file (p.log, DAEMON_UP_MS));
  SgTestClient *other = sg_test_client_connect (s.port, NULL);
  g_autofree char *ehlo2 = sg_test_client_command (other, "EHLO other.example");
  g_assert_true (g_str_has_prefix (ehlo2, "250"));
  g_autofree char *noop = sg_test_client_command (other, "NOOP");
  g_assert_true (g_str_has_prefix (noop, "250"));
  sg_test_client_free (other);

  g_autofree char *reply = sg_test_client_reply (c);
  gdouble took = (gdouble) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  g_test_message ("hanging milter: %s after %.2f s", reply, took);
  g_assert_cmpstr (reply, ==, "451 4.7.1 Service unavailable - try again later");
  g_assert_cmpfloat (took, >=, 1.5);
  g_assert_cmpfloat (took, <, 2 + 10);
  g_autofree char *quit = sg_test_client_command (c, "QUIT");
  sg_test_client_free (c);
  g_assert_true (sg_test_wait_log (&s, "timeout waiting for the reply at CONNECT", 1, 1000));
  g_assert_true (sg_test_wait_log (&s, "milter-reject: CONNECT from unknown[127.0.0.1]: 4.7.1 Service unavailable - try again later; from=<a@example.com>", 1, 1000));

  /* still serving: the same gateway takes the next message (and times out again) */
  g_autofree char *again = transact (s.port, msg);
  g_assert_true (g_str_has_prefix (again, "451 4.7.1 "));
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  sg_test_server_free (&s);

  /* default_action = accept: spooled after the timeout, the failure recorded */
  g_autofree char *cfg2 = server_config (servers, "default_action = accept\ncommand_timeout = 1\n");
  sg_test_server_start (&s, cfg2);
  g_autofree char *accepted = transact (s.port, msg);
  g_assert_true (g_str_has_prefix (accepted, "250 2.0.0 Ok: queued as "));
  g_autofree char *id = queued_id (accepted);
  g_autoptr(JsonNode) m = meta_milter (&s, id, NULL);
  JsonObject *first = json_array_get_object_element (
    json_object_get_array_member (json_node_get_object (m), "milters"), 0);
  g_assert_cmpstr (json_object_get_string_member (first, "action"), ==, "error");
  g_assert_cmpstr (json_object_get_string_member (first, "reason"), ==, "timeout waiting for the reply");
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  sg_test_server_free (&s);

  /* SIGTERM while a message waits for the milter: the wait is cut short at
   * shutdown_timeout, not at the (long) command_timeout */
  Peer q;   /* it hangs at end of message only: the envelope stages pass */
  peer_start (&q, "hang-eom");
  g_autofree char *servers3 = g_strdup_printf ("inet:127.0.0.1:%u", q.port);
  g_autofree char *milter3 = server_config (servers3, "command_timeout = 300\ncontent_timeout = 300\n");
  g_autofree char *cfg3 = g_strconcat ("[limits]\nshutdown_timeout = 1\n", milter3, NULL);
  sg_test_server_start (&s, cfg3);
  c = sg_test_client_connect (s.port, NULL);
  g_autofree char *e3 = sg_test_client_command (c, "EHLO client.example");
  g_autofree char *m3 = sg_test_client_command (c, "MAIL FROM:<a@example.com>");
  g_autofree char *r3 = sg_test_client_command (c, "RCPT TO:<b@example.net>");
  g_autofree char *d3 = sg_test_client_command (c, "DATA");
  sg_test_client_send (c, msg, -1);
  sg_test_client_send (c, ".\r\n", 3);
  /* the worker is in the conversation once the milter has the end of message */
  g_assert_true (sg_test_wait_text (q.log, "\"cmd\": \"E\"", 1, DAEMON_UP_MS));
  start = g_get_monotonic_time ();
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  took = (gdouble) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  g_test_message ("stopped in %.2f s with a milter conversation waiting", took);
  g_assert_cmpfloat (took, <, 1 + 20);
  sg_test_client_free (c);
  sg_test_server_free (&s);
  peer_stop (&q);
  peer_stop (&p);
}

/* The macros and commands a milter sees, as Postfix sends them. */
static void
test_macros (void)
{
  Peer p;
  peer_start (&p, "accept");
  g_autofree char *servers = g_strdup_printf ("inet:127.0.0.1:%u", p.port);
  g_autofree char *cfg = server_config (servers, NULL);
  SgTestServer s;
  sg_test_server_start (&s, cfg);
  g_autofree char *msg = message ("macros", "Body line.");
  g_autofree char *reply = transact (s.port, msg);
  g_assert_true (g_str_has_prefix (reply, "250 "));
  g_autofree char *id = queued_id (reply);
  peer_wait_quit (&p, 6);   /* every conversation below */
  g_autofree char *log = sg_test_read_file (p.log, NULL);
  g_auto(GStrv) lines = g_strsplit (log, "\n", -1);
  GString *cmds = g_string_new (NULL);
  JsonObject *last_macros = NULL;
  g_autoptr(GPtrArray) parsers = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; lines[i] && *lines[i]; i++)
    {
      JsonParser *jp = json_parser_new ();
      g_ptr_array_add (parsers, jp);
      g_assert_true (json_parser_load_from_data (jp, lines[i], -1, NULL));
      JsonObject *o = json_node_get_object (json_parser_get_root (jp));
      g_string_append (cmds, json_object_get_string_member (o, "cmd"));
      last_macros = json_object_get_object_member (o, "macros");
      if (strcmp (json_object_get_string_member (o, "cmd"), "M") == 0)
        g_assert_cmpstr (json_array_get_string_element (json_object_get_array_member (o, "args"), 0), ==, "<a@example.com>");
    }
  /* one conversation per stage (issue 22), each ending in abort and quit:
   * the readiness probe's greeting; the session's greeting, EHLO, MAIL and
   * RCPT; then at the end of data: optneg, connect, helo, mail, rcpt,
   * data, 5 headers + Received, eoh, body, eom, quit */
  g_autofree char *convs = peer_conversations (&p);
  if (!session_conversations_are (convs, "OCAQ", "OCAQ OCHAQ OCHMAQ OCHMRAQ OCHMRTLLLLLLNBEQ"))
    g_error ("milter conversations: %s; want the readiness probe's OCAQ anywhere, and the "
             "session's OCAQ OCHAQ OCHMAQ OCHMRAQ OCHMRTLLLLLLNBEQ in this order", convs);
  g_string_free (cmds, TRUE);
  g_assert_nonnull (last_macros);
  g_assert_cmpstr (json_object_get_string_member (last_macros, "i"), ==, id);
  g_assert_cmpstr (json_object_get_string_member (last_macros, "j"), ==, "mx.test");
  g_assert_cmpstr (json_object_get_string_member (last_macros, "{daemon_name}"), ==, "spoolgate");
  g_assert_cmpstr (json_object_get_string_member (last_macros, "{client_addr}"), ==, "127.0.0.1");
  g_assert_cmpstr (json_object_get_string_member (last_macros, "{client_name}"), ==, "unknown");
  g_assert_cmpstr (json_object_get_string_member (last_macros, "{mail_addr}"), ==, "a@example.com");
  g_assert_cmpstr (json_object_get_string_member (last_macros, "{rcpt_addr}"), ==, "b@example.net");
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  sg_test_server_free (&s);
  peer_stop (&p);
}

/* Under STARTTLS the milter gets {tls_version} and {cipher} at HELO. */
static void
test_tls_macros (void)
{
  Peer p;
  peer_start (&p, "accept");
  g_autofree char *cert = g_build_filename (p.dir, "cert.pem", NULL);
  g_autofree char *key = g_build_filename (p.dir, "key.pem", NULL);
  sg_test_make_cert (cert, key, "localhost", TRUE);
  g_autofree char *servers = g_strdup_printf ("inet:127.0.0.1:%u", p.port);
  g_autofree char *milter = server_config (servers, NULL);
  g_autofree char *cfg = g_strdup_printf ("[tls]\ncert_file = %s\nkey_file = %s\n%s", cert, key, milter);
  SgTestServer s;
  sg_test_server_start (&s, cfg);
  g_autofree char *file = g_build_filename (p.dir, "message.eml", NULL);
  g_autofree char *msg = message ("tls", "Over TLS.");
  g_assert_true (g_file_set_contents (file, msg, -1, NULL));
  g_autofree char *port = g_strdup_printf ("%u", s.port);
  g_autofree char *out = NULL;
  const char *args[] = { "send", port, cert, file, NULL };
  g_assert_cmpint (sg_test_python ("tls_client.py", args, &out, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "\"code\": 250"));
  peer_wait_quit (&p, 7);   /* the greetings', the two EHLOs', MAIL's, RCPT's and the message's */
  g_autofree char *log = sg_test_read_file (p.log, NULL);
  g_assert_nonnull (strstr (log, "\"{tls_version}\": \"TLSv1.3\""));
  g_assert_nonnull (strstr (log, "\"{cipher}\": \"TLS_"));
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  sg_test_server_free (&s);
  peer_stop (&p);
}

/* Accept at CONNECT ends that milter's part: it is sent nothing else but
 * quit, and the message is spooled unchanged. */
static void
test_accept_early (void)
{
  Peer p;
  peer_start (&p, "accept-early");
  g_autofree char *servers = g_strdup_printf ("inet:127.0.0.1:%u", p.port);
  g_autofree char *cfg = server_config (servers, NULL);
  SgTestServer s;
  sg_test_server_start (&s, cfg);
  g_autofree char *msg = message ("early", "Accepted at connect.");
  g_autofree char *reply = transact (s.port, msg);
  g_assert_true (g_str_has_prefix (reply, "250 2.0.0 Ok: queued as "));
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  peer_wait_quit (&p, 4);
  g_autofree char *convs = peer_conversations (&p);
  /* the readiness probe's greeting, the session's greeting (accepted at
   * CONNECT: no more conversations at EHLO or MAIL), the RCPT's (issue 22),
   * then the message's */
  g_assert_cmpstr (convs, ==, "OCQ OCQ OCQ OCQ");
  sg_test_server_free (&s);
  peer_stop (&p);
}

/* Quarantine: spooled in state held with the milter's reason; shown by
 * `spoolgate show`. */
static void
test_quarantine (void)
{
  Peer p;
  peer_start (&p, "quarantine");
  g_autofree char *servers = g_strdup_printf ("inet:127.0.0.1:%u", p.port);
  g_autofree char *cfg = server_config (servers, NULL);
  SgTestServer s;
  sg_test_server_start (&s, cfg);
  g_autofree char *msg = message ("quarantine", "Held for review.");
  g_autofree char *reply = transact (s.port, msg);
  g_assert_true (g_str_has_prefix (reply, "250 2.0.0 Ok: queued as "));
  g_autofree char *id = queued_id (reply);
  g_autofree char *state = NULL;
  g_autoptr(JsonNode) m = meta_milter (&s, id, &state);
  g_assert_cmpstr (state, ==, "held");
  JsonObject *mo = json_node_get_object (m);
  g_assert_cmpstr (json_object_get_string_member (mo, "verdict"), ==, "quarantine");
  g_assert_cmpstr (json_object_get_string_member (mo, "quarantine_reason"), ==, "suspicious attachment");
  g_assert_true (sg_test_wait_log (&s, "milter-hold: END-OF-MESSAGE from unknown[127.0.0.1]: milter triggers HOLD action (suspicious attachment)", 1, 1000));
  g_autofree char *out = NULL;
  const char *argv[] = { sg_test_spoolgate (), "show", "--spool", s.spool, id, NULL };
  g_assert_cmpint (sg_test_run (argv, &out, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "quarantine (suspicious attachment)"));
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  sg_test_server_free (&s);
  peer_stop (&p);
}

/* Header edits are applied; body replacement and envelope changes are
 * refused and logged; the body stays the client's bytes. */
static void
test_edits (void)
{
  Peer p;
  peer_start (&p, "edits");
  g_autofree char *servers = g_strdup_printf ("inet:127.0.0.1:%u", p.port);
  g_autofree char *cfg = server_config (servers, NULL);
  SgTestServer s;
  sg_test_server_start (&s, cfg);
  g_autofree char *msg = message ("original", "The client's body.");
  g_autofree char *reply = transact (s.port, msg);
  g_assert_true (g_str_has_prefix (reply, "250 2.0.0 Ok: queued as "));
  g_autofree char *id = queued_id (reply);
  g_autofree char *eml_path = sg_test_queue_file (&s, id, ".eml");
  g_autofree char *eml = sg_test_read_file (eml_path, NULL);
  g_assert_nonnull (strstr (eml, "\r\nSubject: changed\r\n"));
  g_assert_null (strstr (eml, "Subject: original"));
  g_assert_nonnull (strstr (eml, "\r\nX-Peer: checked\r\n\r\nThe client's body.\r\n"));
  g_assert_null (strstr (eml, "replaced body"));
  g_assert_true (sg_test_wait_log (&s, "refused body replacement", 1, 1000));
  /* two of a kind: one line, with the count */
  g_assert_true (sg_test_wait_log (&s, "refused 2 edits: an envelope change", 1, 1000));
  /* the milter's warnings come after the message's arrival lines, not before */
  g_autofree char *log = sg_test_server_log (&s);
  g_autofree char *client = g_strdup_printf ("]: %s: client=unknown[127.0.0.1]\n", id);
  g_autofree char *from = g_strdup_printf ("]: %s: from=<", id);
  g_autofree char *warned = g_strdup_printf ("]: warning: %s: milter ", id);
  const char *at_client = strstr (log, client), *at_from = strstr (log, from);
  const char *at_warn = strstr (log, warned);
  g_assert_true (at_client && at_from && at_warn);
  g_assert_true (at_client < at_from && at_from < at_warn);
  g_autofree char *json_path = sg_test_queue_file (&s, id, ".json");
  g_autofree char *json = sg_test_read_file (json_path, NULL);
  g_assert_null (strstr (json, "extra@example.net"));
  g_assert_null (strstr (json, "other@example.com"));
  sg_test_assert_queue_schema (&s, id);
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  sg_test_server_free (&s);
  peer_stop (&p);
}

/* Discard: 250 to the client, nothing spooled; an envelope-stage 4xx with
 * the milter's own text reaches the client at RCPT, as in Postfix (issue 22). */
static void
test_discard_and_replycode (void)
{
  Peer d, t;
  peer_start (&d, "discard");
  peer_start (&t, "tempfail-rcpt");
  g_autofree char *servers = g_strdup_printf ("inet:127.0.0.1:%u", d.port);
  g_autofree char *cfg = server_config (servers, NULL);
  SgTestServer s;
  sg_test_server_start (&s, cfg);
  g_autofree char *msg = message ("discard", "Dropped.");
  g_autofree char *reply = transact (s.port, msg);
  g_assert_true (g_str_has_prefix (reply, "250 2.0.0 Ok: queued as "));
  g_autoptr(GPtrArray) ids = sg_test_spool_ids (&s);
  g_assert_cmpuint (ids->len, ==, 0);
  g_assert_true (sg_test_wait_log (&s, "milter-discard: END-OF-MESSAGE from unknown[127.0.0.1]: milter triggers DISCARD action", 1, 1000));
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  sg_test_server_free (&s);

  g_autofree char *servers2 = g_strdup_printf ("inet:127.0.0.1:%u", t.port);
  g_autofree char *cfg2 = server_config (servers2, NULL);
  sg_test_server_start (&s, cfg2);
  SgTestClient *c = sg_test_client_connect (s.port, NULL);
  g_autofree char *ehlo = sg_test_client_command (c, "EHLO client.example");
  g_autofree char *mail = sg_test_client_command (c, "MAIL FROM:<a@example.com>");
  g_autofree char *reply2 = sg_test_client_command (c, "RCPT TO:<b@example.net>");
  g_assert_cmpstr (reply2, ==, "451 4.7.1 Greylisted, try again");
  g_autofree char *data = sg_test_client_command (c, "DATA");
  g_assert_true (g_str_has_prefix (data, "503 5.5.1 "));   /* no valid recipients */
  sg_test_client_free (c);
  g_assert_true (sg_test_wait_log (&s, "milter-reject: RCPT from unknown[127.0.0.1]: 4.7.1 Greylisted, try again;", 1, 1000));
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  sg_test_server_free (&s);
  peer_stop (&d);
  peer_stop (&t);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/milter/rspamd/gtube-and-clean", test_rspamd);
  g_test_add_func ("/milter/opendkim/sign", test_opendkim);
  g_test_add_func ("/milter/clamav/infected-and-clean", test_clamav);
  g_test_add_func ("/milter/default-action/down", test_down);
  g_test_add_func ("/milter/default-action/hang", test_hang);
  g_test_add_func ("/milter/default-action/edit-flood", test_edit_flood);
  g_test_add_func ("/milter/protocol/macros", test_macros);
  g_test_add_func ("/milter/protocol/accept-early", test_accept_early);
  g_test_add_func ("/milter/protocol/tls-macros", test_tls_macros);
  g_test_add_func ("/milter/verdict/quarantine", test_quarantine);
  g_test_add_func ("/milter/edits/headers-only", test_edits);
  g_test_add_func ("/milter/verdict/discard-and-replycode", test_discard_and_replycode);
  return g_test_run ();
}
