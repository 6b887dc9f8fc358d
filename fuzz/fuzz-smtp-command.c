/* fuzz-smtp-command.c - libFuzzer target: one command argument through the
 * MAIL and RCPT path/parameter parsers and the domain checker. */
#include "smtp/smtp_command.h"

#include <string.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autofree char *arg = g_strndup ((const char *) data, size);  /* stops at NUL, as the session does */
  SgSmtpPath path = { .size = -1 };
  char verb[SG_SMTP_VERB_MAX + 1];
  const char *rest;
  (void) sg_smtp_split_verb (arg, strlen (arg), verb, &rest);
  (void) sg_smtp_parse_mail (arg, &path, NULL);
  sg_smtp_path_clear (&path);
  (void) sg_smtp_parse_rcpt (arg, size & 1, &path, NULL);
  sg_smtp_path_clear (&path);
  (void) sg_smtp_domain_valid (arg, size & 2);
  return 0;
}
