/* admin_util.h - shared by test-admin.c and test-admin-race.c: see admin_util.c. */
#pragma once
#include "harness.h"
#include "spool/spool.h"

#define SMTP_SINK          "/usr/sbin/smtp-sink"
#define DELIVERY_WAIT_MS   15000
#define POLL_MS            50
#define FUTURE_SECONDS     3600

/* message - a valid message with a unique Message-ID (transfer full). */
char *message (const char *subject);
/* send_one - spool one message from alice to rcpts (NULL: bob); its ID (transfer full). */
char *send_one (SgTestServer *s, const char *const *rcpts);
/* sgv - run spoolgate with a NULL-terminated argument vector; exit status. */
int   sgv (const char *const *args, char **out, char **err);
/* sg - run `spoolgate CMD --spool SPOOL ARGS...` (NULL-terminated). */
int   sg (SgTestServer *s, char **out, char **err, const char *cmd, ...) G_GNUC_NULL_TERMINATED;
/* assert_one_line - err is exactly one non-empty line. */
void  assert_one_line (const char *err);
char *json_path (SgTestServer *s, const char *id);
char *eml_path (SgTestServer *s, const char *id);
/* json_of - queue/<ID>.json as stored, "" if gone (transfer full). */
char *json_of (SgTestServer *s, const char *id);
/* meta_of - the parsed metadata, NULL if gone (transfer full). */
SgMeta *meta_of (SgTestServer *s, const char *id);

typedef void (*CraftFunc) (SgMeta *meta);
/* craft - change a message's metadata under its lock, as the runner would. */
void  craft (SgTestServer *s, const char *id, CraftFunc func);
/* make_deferred - two attempts, next one an hour away. */
void  make_deferred (SgMeta *meta);
/* make_failed - first recipient delivered, second failed. */
void  make_failed (SgMeta *meta);
/* snapshot - every file of queue/ with its contents, for "nothing changed" (transfer full). */
char *snapshot (SgTestServer *s);
/* start_swaks_loop - swaks sending one message after another until stop_file exists. */
GSubprocess *start_swaks_loop (SgTestServer *s, const char *stop_file);
/* deliveries - how many dumped transactions in dir contain needle. */
guint deliveries (const char *dir, const char *needle);
/* wait_state - wait until the message is in state (or, for delivered, gone). */
gboolean wait_state (SgTestServer *s, const char *id, SgMsgState state, guint timeout_ms);
/* start_sink - smtp-sink on port, dumping each transaction into dump/. */
GSubprocess *start_sink (guint16 port, const char *dump);
