/* admin_util.h - shared by test-admin.c and test-admin-race.c: see admin_util.c. */
#pragma once
#include "harness.h"
#include "spool/spool.h"

#define SMTP_SINK          SG_TEST_SMTP_SINK
#define DELIVERY_WAIT_MS   15000
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
/* hold_retrying - hold id, retrying while the runner has it locked. */
void  hold_retrying (SgTestServer *s, const char *id);
/* snapshot - every file of queue/ with its contents, for "nothing changed" (transfer full). */
char *snapshot (SgTestServer *s);
/* start_swaks_loop - swaks sending one message after another until stop_file exists. */
GSubprocess *start_swaks_loop (SgTestServer *s, const char *stop_file);
/* deliveries - how many dumped transactions in dir contain needle. */
guint deliveries (const char *dir, const char *needle);
/* wait_deliveries - wait until count dumped transactions in dir contain needle. */
gboolean wait_deliveries (const char *dir, const char *needle, guint count, guint timeout_ms);
/* wait_state - wait until the message is in state (or, for delivered, gone). */
gboolean wait_state (SgTestServer *s, const char *id, SgMsgState state, guint timeout_ms);

/* --- refused mail, tests/tools/smarthost.py and counting (test-release.c,
 * test-queue-life.c) --- */
/* refusable - a message every policy refuses (no Date header) with Message-ID
 * <tag-n@example.com> (transfer full). */
char *refusable (const char *tag, guint n);
/* refuse - send body from alice to bob, expect 550, and return the ID kept
 * in rejected/ for it ([validation] keep_rejected) (transfer full). */
char *refuse (SgTestServer *s, const char *body);
/* kept_ids - IDs with a .json in spool/rejected, sorted (transfer full). */
GPtrArray *kept_ids (SgTestServer *s);
/* originals - messages smarthost.py stored in dir that hold needle and are
 * not delivery status notifications. */
guint originals (const char *dir, const char *needle);
/* reports - delivery status notifications (RFC 3464) stored in dir that
 * quote needle, with Action: action (nullable: any). */
guint reports (const char *dir, const char *needle, const char *action);
/* wait_queue_empty - poll until queue/ holds no message. */
gboolean wait_queue_empty (SgTestServer *s, guint timeout_ms);

/* A daemon with keep_rejected relaying to smarthost.py. */
typedef struct {
  SgTestServer s;
  guint16      port;   /* the smarthost's */
  char        *out;    /* where it stores what it accepts */
  GSubprocess *host;
} RelayFixture;
/* relay_start - start both; queue: the daemon's [queue] lines; replies:
 * the smarthost's --reply rules (nullable). */
void relay_start (RelayFixture *f, const char *queue, const char *const *replies);
void relay_stop (RelayFixture *f);
