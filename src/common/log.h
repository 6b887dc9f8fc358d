/* log.h - one line per event, in Postfix's form, so that pflogsumm and the
 * administrator's greps read it: "spoolgate/SERVICE[PID]: ID: text", where
 * SERVICE is the Postfix program that would have logged the event. Code
 * logs through g_message/g_warning/g_debug; a source file's lines carry
 * its service (G_LOG_DOMAIN, below), and a line about another part of the
 * mail flow names its own with sg_log_info(SG_LOG_QMGR, ...). This module
 * owns the writer (stderr or the system logger), the level filter, the
 * administration commands' audit lines and holding a message's early lines
 * back until its arrival is logged. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

typedef enum { SG_LOG_ERROR, SG_LOG_WARNING, SG_LOG_INFO, SG_LOG_DEBUG } SgLogLevel;

/* Where the lines go. AUTO: the system logger when stderr is the journal
 * (systemd sets JOURNAL_STREAM), else stderr. */
typedef enum { SG_LOG_TO_AUTO, SG_LOG_TO_STDERR, SG_LOG_TO_SYSLOG } SgLogTarget;

/* The services, Postfix's program names. A .c file whose lines are all of
 * one service says so after its includes:
 *   #undef G_LOG_DOMAIN
 *   #define G_LOG_DOMAIN SG_LOG_SMTPD
 * Files that do not are "master" (the daemon itself: start, reload, stop,
 * spool recovery). GLib's and GMime's own domains are logged as master too,
 * their domain before the text. */
#define SG_LOG_SMTPD   "smtpd"    /* SMTP sessions: connect, client=, NOQUEUE: reject, disconnect */
#define SG_LOG_CLEANUP "cleanup"  /* content: message-id=, validation, milter verdicts */
#define SG_LOG_QMGR    "qmgr"     /* the queue: from=... (queue active), removed, expired */
#define SG_LOG_SMTP    "smtp"     /* the smarthost client: to=..., status=sent|deferred|bounced */
#define SG_LOG_BOUNCE  "bounce"   /* notices to the sender: non-delivery, delay, relayed */
#define SG_LOG_MASTER  "master"   /* everything else the daemon says */
#define SG_LOG_ADMIN   "admin"    /* the administration commands (sg_log_admin) */

/* sg_log_info/warning/debug - one line of service (a SG_LOG_* name) whatever
 * the file's default. */
#define sg_log_info(service, ...)    g_log ((service), G_LOG_LEVEL_MESSAGE, __VA_ARGS__)
#define sg_log_warning(service, ...) g_log ((service), G_LOG_LEVEL_WARNING, __VA_ARGS__)
#define sg_log_debug(service, ...)   g_log ((service), G_LOG_LEVEL_DEBUG, __VA_ARGS__)

/* sg_log_client - how a client is named on every line: "NAME[ADDR]", NAME
 * the verified reverse name or "unknown" (never the HELO name, which the
 * client chose) (transfer full). */
char *sg_log_client (const char *verified_name, const char *address);

/* sg_log_init - install the writer; messages above level are dropped. */
void sg_log_init (SgLogLevel level);
/* sg_log_set_target - where lines go from now on (default AUTO). */
void sg_log_set_target (SgLogTarget target);
/* sg_log_target_parse - "auto", "stderr", "syslog". */
gboolean sg_log_target_parse (const char *name, SgLogTarget *target);
/* sg_log_level_parse - "error", "warning", "info", "debug". */
gboolean sg_log_level_parse (const char *name, SgLogLevel *level);
/* sg_log_sanitize - a one-line copy of untrusted bytes for the log: valid
 * UTF-8 as it is (a UTF-8 address is logged as written), every invalid
 * byte and control character (C0, DEL, C1, U+2028/9) as \xNN; cut after
 * about max bytes with "..." (transfer full). */
char *sg_log_sanitize (const char *data, gssize len, gsize max);
/* How much of one untrusted field (an address, a HELO name, a milter's
 * text) a log line carries: Postfix's smtpd cuts at about the same. */
#define SG_LOG_FIELD_MAX 256
/* sg_log_proto - the proto= of a log line as Postfix writes it ("SMTP"
 * after HELO, "ESMTP" after EHLO) from the RFC 3848 WITH protocol
 * (nullable: "ESMTP"): only "SMTP" itself was a HELO session; ESMTPS,
 * ESMTPA, UTF8SMTP, UTF8SMTPS and the others all began with EHLO. */
const char *sg_log_proto (const char *with_protocol);

/* sg_log_hold - from now on keep back, in any thread, the lines that start
 * with "queue_id: " (a message's warnings written while it is checked), so
 * that the message's arrival lines (client=, message-id=, from=) come first.
 * At most SG_LOG_HOLD_MAX lines are kept; more are written at once. */
#define SG_LOG_HOLD_MAX 64
void sg_log_hold (const char *queue_id);
/* sg_log_release - write the lines held for queue_id and stop holding;
 * nothing when none are held. */
void sg_log_release (const char *queue_id);
/* sg_log_unhold - stop holding queue_id's lines and return them, to be
 * written with sg_log_held_write after the lines that must come first
 * (transfer full; NULL when none were held). */
typedef struct _SgLogHeld SgLogHeld;
SgLogHeld *sg_log_unhold (const char *queue_id);
/* sg_log_held_write - write the held lines in order and free them (NULL: nothing). */
void sg_log_held_write (SgLogHeld *held);

/* Where syslog lines go: the system logger's socket (journald or rsyslog
 * listen there), unless SPOOLGATE_SYSLOG_SOCKET names another datagram
 * socket (tests, chroots). */
#define SG_LOG_SYSLOG_SOCKET     "/dev/log"
#define SG_LOG_SYSLOG_SOCKET_ENV "SPOOLGATE_SYSLOG_SOCKET"
#define SG_LOG_ADMIN_TAG         "spoolgate/" SG_LOG_ADMIN

/* sg_log_capture_caller - remember who runs the command (real uid and its
 * name) for sg_log_admin; the first call counts, so call it before any
 * privilege change (main() does, and sg_privilege_* do). */
void sg_log_capture_caller (void);
/* sg_log_admin - log "spoolgate/admin[PID]: ID: what, by uid U (user)" to
 * the system logger, facility mail, as postsuper does, U being the caller
 * captured before any privilege change; FALSE if no logger listens (nothing
 * else happens). */
gboolean sg_log_admin (const char *queue_id, const char *what);

G_END_DECLS
