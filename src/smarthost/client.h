/* client.h - the SMTP client that forwards spooled mail to the smarthost:
 * one session (greeting, EHLO, STARTTLS, EHLO again, AUTH) reused for
 * several transactions (MAIL, RCPT..., DATA, RSET between), with PIPELINING
 * (RFC 2920) when offered. It reports per-recipient replies and leaves
 * every decision about the queue (defer, fail, retry) to src/queue/. Its
 * vocabulary (the recipient outcome, what was reached, the message as the
 * spool hands it out) is the courier interface's (queue/courier.h), which
 * smarthost_courier.c implements with it. */
#pragma once
#include <glib.h>
#include "config/config.h"
#include "smarthost/tls_client.h"
#include "queue/courier.h"

G_BEGIN_DECLS

#define SG_SMTP_CLIENT_ERROR (sg_smtp_client_error_quark ())
GQuark sg_smtp_client_error_quark (void);
typedef enum {
  SG_SMTP_CLIENT_ERROR_REPLY,      /* unexpected reply in the session set-up or RSET */
  SG_SMTP_CLIENT_ERROR_PROTOCOL,   /* a reply that is not SMTP */
  SG_SMTP_CLIENT_ERROR_TLS_POLICY, /* TLS required, STARTTLS not offered or refused */
  SG_SMTP_CLIENT_ERROR_AUTH,       /* no usable mechanism or credentials refused */
  SG_SMTP_CLIENT_ERROR_STARTTLS,   /* opportunistic STARTTLS failed: plaintext may be retried */
  SG_SMTP_CLIENT_ERROR_GREETING,   /* the greeting was 4xx: try another host, cool this one down */
} SgSmtpClientError;

/* The client's state, changed only by client_enter_state() in client.c. */
typedef enum {
  SG_CLIENT_BANNER, SG_CLIENT_EHLO, SG_CLIENT_STARTTLS, SG_CLIENT_TLS_EHLO, SG_CLIENT_AUTH,
  SG_CLIENT_READY, SG_CLIENT_MAIL, SG_CLIENT_RCPT, SG_CLIENT_DATA, SG_CLIENT_RSET,
  SG_CLIENT_QUIT, SG_CLIENT_BROKEN,
} SgClientState;

typedef struct _SgSmtpClient SgSmtpClient;

/* sg_smtp_client_open - connect to host:port and set up a session by
 * config's [smarthost] and tls's policy (skip_tls: plaintext, for the
 * opportunistic fallback); server_name is the name TLS checks unless
 * [smarthost] server_name is set; password is used only for AUTH; cancel_fd
 * (or -1) interrupts any wait. Fails without sending any mail command when
 * the policy needs TLS that is missing or fails; a refusal at a command
 * boundary (no STARTTLS offered, a 5xx to EHLO or AUTH) is followed by QUIT.
 * reached (nullable, cleared first) gets what was reached, whether or not it
 * succeeds; a TLS session is logged "Verified TLS connection established to
 * ..." or "Untrusted ..." (transfer full). */
SgSmtpClient *sg_smtp_client_open (const SgConfig *config, const char *host, guint port,
                                   const char *server_name, SgTlsClient *tls, gboolean skip_tls,
                                   const char *password, int cancel_fd, SgCourierReached *reached,
                                   GError **error);
/* sg_smtp_client_close - QUIT (best effort) and free. */
void          sg_smtp_client_close (SgSmtpClient *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgSmtpClient, sg_smtp_client_close)

/* sg_smtp_client_send - one transaction; fills each SgRcptOutcome of rcpts.
 * The message is streamed from msg->fd as it is; msg->eightbit and
 * msg->size say what MAIL FROM declares, the file is never read to find out.
 * FALSE: the connection failed (the outcomes are meaningless and the client
 * is broken); the caller defers everything. */
gboolean sg_smtp_client_send (SgSmtpClient *c, const SgCourierMessage *msg, GPtrArray *rcpts,
                              GError **error);
/* sg_smtp_client_probe - an address probe, as Postfix's verify(8): MAIL
 * FROM:<>, RCPT TO:<address>, then RSET; no DATA is ever sent. *code and
 * *reply (transfer full, sanitised "NNN text") get the answer to RCPT, or to
 * MAIL if that was refused. FALSE: the connection failed, no answer. */
gboolean sg_smtp_client_probe (SgSmtpClient *c, const char *address, gboolean smtputf8,
                               guint *code, char **reply, GError **error);
/* sg_smtp_client_reset - RSET before reusing the session (RFC 5321 4.1.1.5). */
gboolean sg_smtp_client_reset (SgSmtpClient *c, GError **error);
/* sg_smtp_client_usable - not broken, ready for another transaction. */
gboolean sg_smtp_client_usable (const SgSmtpClient *c);
/* sg_smtp_client_relay - "host[ip]:port". */
const char *sg_smtp_client_relay (const SgSmtpClient *c);
/* sg_smtp_client_tls - TLS protocol and cipher, NULLs for plaintext (static). */
void     sg_smtp_client_tls (const SgSmtpClient *c, const char **protocol, const char **cipher);
/* sg_smtp_client_reached - what this session reached (r cleared first). */
void     sg_smtp_client_reached (const SgSmtpClient *c, SgCourierReached *r);
/* sg_smtp_client_transactions - transactions sent on this session so far. */
guint    sg_smtp_client_transactions (const SgSmtpClient *c);

G_END_DECLS
