/* log.h - one line per event on stderr, Postfix style, for the journal.
 * Code logs through g_message/g_info/g_warning/g_debug; this module owns the
 * writer that formats those lines and the level filter. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

typedef enum { SG_LOG_ERROR, SG_LOG_WARNING, SG_LOG_INFO, SG_LOG_DEBUG } SgLogLevel;

/* sg_log_init - install the writer; messages above level are dropped. */
void sg_log_init (SgLogLevel level);
/* sg_log_level_parse - "error", "warning", "info", "debug". */
gboolean sg_log_level_parse (const char *name, SgLogLevel *level);
/* sg_log_sanitize - a one-line copy of untrusted bytes for the log: valid
 * UTF-8 as it is (a UTF-8 address is logged as written), every invalid
 * byte and control character (C0, DEL, C1, U+2028/9) as \xNN; cut after
 * about max bytes with "..." (transfer full). */
char *sg_log_sanitize (const char *data, gssize len, gsize max);

/* Where the administration commands log: the system logger's socket
 * (journald or rsyslog listen there), unless SPOOLGATE_SYSLOG_SOCKET names
 * another datagram socket (tests, chroots). */
#define SG_LOG_SYSLOG_SOCKET     "/dev/log"
#define SG_LOG_SYSLOG_SOCKET_ENV "SPOOLGATE_SYSLOG_SOCKET"
#define SG_LOG_ADMIN_TAG         "spoolgate/admin"

/* sg_log_admin - log "spoolgate/admin[PID]: ID: what, by uid U (user)" to
 * the system logger, facility mail, as postsuper does; FALSE if no logger
 * listens (nothing else happens). */
gboolean sg_log_admin (const char *queue_id, const char *what);

G_END_DECLS
