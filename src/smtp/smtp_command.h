/* smtp_command.h - parsing of SMTP command lines: the verb, and for MAIL and
 * RCPT the path and ESMTP parameters (RFC 5321 4.1.1-4.1.3, RFC 1870, RFC 6152,
 * RFC 6531, RFC 3461 DSN). Pure functions over one line; no session state. */
#pragma once
#include <glib.h>
#include "envelope/smtp_path.h"   /* SgSmtpPath, what MAIL and RCPT parse into */

G_BEGIN_DECLS

#define SG_SMTP_ERROR (sg_smtp_error_quark ())
GQuark sg_smtp_error_quark (void);
/* Each code maps to one reply; the message is the human text of that reply. */
typedef enum {
  SG_SMTP_ERROR_SYNTAX,        /* 501 5.5.4 */
  SG_SMTP_ERROR_BAD_SENDER,    /* 501 5.1.7 */
  SG_SMTP_ERROR_BAD_RECIPIENT, /* 501 5.1.3 */
  SG_SMTP_ERROR_UNKNOWN_PARAM, /* 555 5.5.4 */
} SgSmtpError;

/* Limits from RFC 5321 4.5.3.1. */
#define SG_SMTP_LOCAL_PART_MAX 64
#define SG_SMTP_DOMAIN_MAX     255
#define SG_SMTP_PATH_MAX       256
#define SG_SMTP_VERB_MAX       16

/* RFC 3461 4.3 and 4.4: the longest ENVID and ORCPT values we take. */
#define SG_SMTP_ENVID_MAX 100
#define SG_SMTP_ORCPT_MAX 500

/* sg_smtp_split_verb - verb (upper-cased into verb_out) and the argument
 * after one space; FALSE when the verb is not 1-16 letters. */
gboolean sg_smtp_split_verb (const char *line, gsize len, char verb_out[SG_SMTP_VERB_MAX + 1],
                             const char **arg);

/* sg_smtp_parse_mail - "FROM:<path> params" of MAIL. */
gboolean sg_smtp_parse_mail (const char *arg, SgSmtpPath *out, GError **error);
/* sg_smtp_parse_rcpt - "TO:<path> params" of RCPT; smtputf8 allows UTF-8 in the mailbox. */
gboolean sg_smtp_parse_rcpt (const char *arg, gboolean smtputf8, SgSmtpPath *out, GError **error);
/* sg_smtp_xtext_valid - xtext of RFC 3461 section 4: "!".."~" except "+"
 * and "=", and "+" followed by two upper-case hex digits. */
gboolean sg_smtp_xtext_valid (const char *text);
/* sg_smtp_xtext_decode - the text an xtext stands for (transfer full). */
char    *sg_smtp_xtext_decode (const char *xtext);
/* sg_smtp_mailbox_valid - Mailbox of RFC 5321 4.1.2 (with RFC 6531 UTF-8 when utf8). */
gboolean sg_smtp_mailbox_valid (const char *mailbox, gboolean utf8);
/* sg_smtp_domain_valid - Domain or address-literal of RFC 5321 4.1.2/4.1.3. */
gboolean sg_smtp_domain_valid (const char *domain, gboolean utf8);

G_END_DECLS
