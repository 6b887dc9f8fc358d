/* harness.h - integration-test support: start the real `spoolgate serve` on
 * a free loopback port with its own spool, talk to it over raw sockets, run
 * independent tools (Python, swaks) and inspect the spool on disk
 * (harness.c); start the independent peers (harness_peers.c); wait for
 * things to happen, never for a fixed time (harness_wait.c). */
#pragma once
#include <gio/gio.h>

typedef struct {
  char        *dir;      /* temporary root of this server */
  char        *spool;    /* dir/spool */
  char        *log;      /* dir/server.log: the server's stderr */
  char        *config;   /* (nullable) dir/spoolgate.conf */
  guint16      port;
  GSubprocess *proc;
  gboolean     tmpfs;    /* spool is a tmpfs of ours: unmounted at free */
} SgTestServer;

/* sg_test_server_start - start with an optional config text; waits until it accepts. */
void   sg_test_server_start (SgTestServer *s, const char *config_text);
/* sg_test_server_init - the directory, config and port of a server, not
 * started: prepare the directory, then sg_test_server_restart. */
void   sg_test_server_init (SgTestServer *s, const char *config_text);
/* sg_test_server_restart - start again on the same spool and config. */
void   sg_test_server_restart (SgTestServer *s);
/* sg_test_server_stop - SIGTERM and wait; returns the exit status. */
int    sg_test_server_stop (SgTestServer *s);
/* sg_test_server_kill - SIGKILL and wait. */
void   sg_test_server_kill (SgTestServer *s);
void   sg_test_server_free (SgTestServer *s);
/* sg_test_server_log - everything the server logged so far (transfer full). */
char  *sg_test_server_log (SgTestServer *s);
/* sg_test_spool_ids - queue IDs with a .json in spool/queue, sorted (transfer full). */
GPtrArray *sg_test_spool_ids (SgTestServer *s);
/* sg_test_spool_files - every file name under spool/queue (transfer full). */
GPtrArray *sg_test_spool_files (SgTestServer *s);
/* sg_test_queue_file - spool/queue/<id><suffix> of s (transfer full). */
char      *sg_test_queue_file (SgTestServer *s, const char *id, const char *suffix);
/* sg_test_assert_schema - each of the JSON files (NULL-terminated)
 * validates against schemas/SCHEMA (tests/tools/validate_schema.py); else
 * fail with what the validator said. */
void       sg_test_assert_schema (const char *schema, const char *const *files);
/* sg_test_assert_queue_schema - queue/<id>.json of s validates against
 * schemas/spool-metadata.schema.json. */
void       sg_test_assert_queue_schema (SgTestServer *s, const char *id);
/* sg_test_server_small_spool - stop s, mount a tmpfs of size (as mount's
 * size=, "256k") on its spool and start it again; FALSE, with the test
 * skipped, where mounting needs a root we do not have. Unmounted at free. */
gboolean   sg_test_server_small_spool (SgTestServer *s, const char *size);

typedef struct {
  GSocketConnection *conn;
  GInputStream      *in;
  GOutputStream     *out;
  GString           *buf;
} SgTestClient;

/* sg_test_client_connect - connect and return the greeting reply (transfer full). */
SgTestClient *sg_test_client_connect (guint16 port, char **greeting);
/* sg_test_client_open - connect from source (nullable: any loopback address)
 * without reading anything; NULL if the connection failed (transfer full). */
SgTestClient *sg_test_client_open (const char *source, guint16 port);
void          sg_test_client_send (SgTestClient *c, const char *data, gssize len);
/* sg_test_client_reply - the next whole reply, lines joined by "\n"; NULL at EOF. (transfer full) */
char         *sg_test_client_reply (SgTestClient *c);
/* sg_test_client_command - send line + CRLF and return the reply (transfer full). */
char         *sg_test_client_command (SgTestClient *c, const char *line);
void          sg_test_client_free (SgTestClient *c);

/* sg_test_run - run argv, return exit status; stdout into *out (nullable). */
int  sg_test_run (const char *const *argv, char **out, char **err);
/* sg_test_python - Debian's python3 running tests/tools/SCRIPT with args. */
int  sg_test_python (const char *script, const char *const *args, char **out, char **err);
/* sg_test_python_bin - that python3: $SG_PYTHON, else /usr/bin/python3. */
const char *sg_test_python_bin (void);
/* sg_test_have_aiosmtpd, sg_test_have_pymilter - the Debian package is
 * installed; else the test is skipped, naming the package. */
gboolean    sg_test_have_aiosmtpd (void);
gboolean    sg_test_have_pymilter (void);
const char *sg_test_spoolgate (void);
/* sg_test_spoolgate_sanitized - the binary under test is built with ASan: its
 * shadow memory and quarantine make RSS say nothing about our own bounds. */
gboolean    sg_test_spoolgate_sanitized (void);

/* admin tests */
/* sg_test_run_in - sg_test_run with cwd as the working directory (nullable: ours). */
int   sg_test_run_in (const char *cwd, const char *const *argv, char **out, char **err);
/* sg_test_send - one SMTP transaction of body (CRLF, without the final dot)
 * from sender to the NULL-terminated rcpts; returns the queued ID, or NULL
 * if the final reply was not 250 (transfer full). */
char *sg_test_send (guint16 port, const char *sender, const char *const *rcpts,
                    const char *body, gssize len);
/* sg_test_transact - the same transaction (MAIL, RCPT and DATA must be
 * accepted); the reply to the message, NULL if the connection closed
 * (transfer full). */
char *sg_test_transact (guint16 port, const char *sender, const char *const *rcpts,
                        const char *body, gssize len);
/* sg_test_count - how often needle occurs in text (not overlapping). */
guint sg_test_count (const char *text, const char *needle);
/* sg_test_read_file - a file's whole contents, "" if unreadable (transfer full). */
char *sg_test_read_file (const char *path, gsize *len);

/* relay tests */
/* sg_test_free_port - a loopback TCP port nobody listens on right now. */
guint16      sg_test_free_port (void);
/* sg_test_spawn - start argv in the background, stdout and stderr to log_path (transfer full). */
GSubprocess *sg_test_spawn (const char *const *argv, const char *log_path);
/* sg_test_stop_process - SIGTERM, wait, unref; NULL is fine. */
void         sg_test_stop_process (GSubprocess *p);

/* independent peers, started here and waited for */
#define SG_TEST_SMTP_SINK "/usr/sbin/smtp-sink"
/* sg_test_smarthost - tests/tools/smarthost.py serve on 127.0.0.1:port,
 * recording into dir (created), output to log, with more arguments (nullable,
 * NULL-terminated); returns once it listens, fails showing its log if it
 * does not (transfer full). */
GSubprocess *sg_test_smarthost (guint16 port, const char *dir, const char *log,
                                const char *const *args);
/* sg_test_smtp_sink - Postfix's smtp-sink on 127.0.0.1:port, running as
 * user, dumping each transaction into dump_dir (created) and its output into
 * dump_dir.log; option (nullable) is one more flag, e.g. "-8" (no 8BITMIME);
 * returns once it listens (transfer full). */
GSubprocess *sg_test_smtp_sink (guint16 port, const char *dump_dir, const char *user,
                                const char *option);
/* sg_test_tool_server - tests/tools/SCRIPT with args, a server that listens
 * on a port of its choosing and then writes it to portfile (the milters);
 * output to out; returns once it listens, with its port in *port (transfer full). */
GSubprocess *sg_test_tool_server (const char *script, const char *const *args,
                                  const char *portfile, const char *out, guint16 *port);
/* sg_test_make_cert - a self-signed certificate for cn (its own CA) and its
 * key; with localhost, for DNS:localhost and IP:127.0.0.1 as well. */
void         sg_test_make_cert (const char *cert, const char *key, const char *cn,
                                gboolean localhost);

/* Waiting. Every wait is a bounded poll of a condition: the timeout is a
 * generous ceiling, never a measurement. On timeout the wait says in the
 * test log what it waited for, and returns FALSE for the caller to fail. */
#define SG_TEST_WAIT_MS 30000
/* how long a stopped process (spoolgate, a peer) may take to exit after
 * SIGTERM before it is killed; spoolgate's own stop deadline is 30 s */
#define SG_TEST_EXIT_MS 60000
typedef gboolean (*SgTestCondition) (gpointer data);
/* sg_test_wait_until - poll cond (data) until TRUE; what (printf format)
 * names it in the message on timeout. */
gboolean     sg_test_wait_until (SgTestCondition cond, gpointer data, guint timeout_ms,
                                 const char *what, ...) G_GNUC_PRINTF (4, 5);
/* sg_test_wait_file - poll until path exists; FALSE after timeout_ms. */
gboolean     sg_test_wait_file (const char *path, guint timeout_ms);
/* sg_test_wait_gone - poll until path does not exist. */
gboolean     sg_test_wait_gone (const char *path, guint timeout_ms);
/* sg_test_wait_text - poll until the file at path holds needle count times. */
gboolean     sg_test_wait_text (const char *path, const char *needle, guint count,
                                guint timeout_ms);
/* sg_test_wait_log - poll until the server log holds needle at least count times. */
gboolean     sg_test_wait_log (SgTestServer *s, const char *needle, guint count, guint timeout_ms);
/* sg_test_expect_log - sg_test_wait_log for SG_TEST_WAIT_MS, or fail showing the log. */
void         sg_test_expect_log (SgTestServer *s, const char *needle, guint count);
/* sg_test_wait_port - poll until something accepts on 127.0.0.1:port. */
gboolean     sg_test_wait_port (guint16 port, guint timeout_ms);
/* sg_test_wait_unix - poll until something accepts on the unix socket path. */
gboolean     sg_test_wait_unix (const char *path, guint timeout_ms);
/* sg_test_wait_accepted - poll until the listener on 127.0.0.1:port has
 * accepted every connection made to it so far (its accept queue, as
 * /proc/net/tcp shows it, is empty). */
gboolean     sg_test_wait_accepted (guint16 port, guint timeout_ms);
