/* harness.h - integration-test support: start the real `spoolgate serve` on
 * a free loopback port with its own spool, talk to it over raw sockets, run
 * independent tools (Python, swaks) and inspect the spool on disk. */
#pragma once
#include <gio/gio.h>

typedef struct {
  char        *dir;      /* temporary root of this server */
  char        *spool;    /* dir/spool */
  char        *log;      /* dir/server.log: the server's stderr */
  char        *config;   /* (nullable) dir/spoolgate.conf */
  guint16      port;
  GSubprocess *proc;
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
/* sg_test_read_file - a file's whole contents, "" if unreadable (transfer full). */
char *sg_test_read_file (const char *path, gsize *len);

/* relay tests */
/* sg_test_free_port - a loopback TCP port nobody listens on right now. */
guint16      sg_test_free_port (void);
/* sg_test_spawn - start argv in the background, stdout and stderr to log_path (transfer full). */
GSubprocess *sg_test_spawn (const char *const *argv, const char *log_path);
/* sg_test_stop_process - SIGTERM, wait, unref; NULL is fine. */
void         sg_test_stop_process (GSubprocess *p);
/* sg_test_wait_file - poll until path exists; FALSE after timeout_ms. */
gboolean     sg_test_wait_file (const char *path, guint timeout_ms);
/* sg_test_wait_log - poll until the server log holds needle at least count times. */
gboolean     sg_test_wait_log (SgTestServer *s, const char *needle, guint count, guint timeout_ms);
