/* smtp_path.h - a mailbox and the ESMTP parameters that came with it, as
 * MAIL and RCPT give them (RFC 5321 4.1.2, RFC 1870, RFC 6152, RFC 6531,
 * RFC 3461). smtp/smtp_command.c parses command lines into it; the envelope
 * carries it to the spool, which is why it lives here and not in smtp/. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

typedef enum { SG_BODY_NONE, SG_BODY_7BIT, SG_BODY_8BITMIME } SgBodyType;

typedef struct {
  char      *address;   /* mailbox without brackets; "" for the null reverse-path */
  gint64     size;      /* SIZE=, -1 when absent */
  SgBodyType body;
  gboolean   smtputf8;
  /* RFC 3461 DSN parameters, kept as received (xtext undecoded), upper-cased
   * keywords; NULL when absent. MAIL: RET, ENVID. RCPT: NOTIFY, ORCPT. */
  char      *dsn_ret;     /* "FULL" or "HDRS" */
  char      *dsn_envid;
  char      *dsn_notify;  /* "NEVER" or a list of SUCCESS, FAILURE, DELAY */
  char      *dsn_orcpt;   /* addr-type ";" xtext */
} SgSmtpPath;

/* sg_smtp_path_clear - free the strings; back to no address, no SIZE=. */
void sg_smtp_path_clear (SgSmtpPath *path);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (SgSmtpPath, sg_smtp_path_clear)
/* sg_smtp_path_free - one on the heap (nullable; a GDestroyNotify). */
void sg_smtp_path_free (gpointer path);

G_END_DECLS
