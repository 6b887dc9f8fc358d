/* scan_raw.c - checks on the raw octets of the whole message, before any
 * parsing: NUL, CR and LF outside CRLF, and line length (RFC 5322 2.1.1,
 * 2.3); and whether any octet is 8-bit, which the spool records so that
 * delivery never reads the message to find out (RFC 6152). Each is a memchr-driven pass, so large messages cost little; the
 * header and MIME structure is left to rules_header.c and rules_mime.c.
 */
#include "validate/validate-private.h"

#include <string.h>

/* RFC 5322 2.1.1: each line MUST be no more than 998 characters, excluding CRLF. */
#define SG_MAX_LINE_OCTETS 998u

/* sg_scan_raw - NUL, bare CR, bare LF and over-long lines anywhere; 8-bit octets. */
void
sg_scan_raw (SgVctx *c)
{
  const guint8 *data = c->data, *end = c->data + c->len, *p;
  gsize first_8bit;

  c->has_8bit = sg_has_8bit (data, c->len, &first_8bit);

  /* RFC 5322 2.3 / RFC 5321 4.1.1.4: NUL has no place in a message. */
  p = memchr (data, '\0', c->len);
  if (p != NULL)
    sg_vctx_report (c, SG_RULE_MESSAGE_NUL, NULL, NULL, p - data, "NUL byte");

  /* RFC 5322 2.3: CR and LF only occur together as CRLF. */
  for (p = data; p < end && (p = memchr (p, '\r', (gsize) (end - p))) != NULL; p++)
    if (p + 1 >= end || p[1] != '\n')
      {
        sg_vctx_report (c, SG_RULE_LINE_BARE_CR, NULL, NULL, p - data,
                        "CR not followed by LF");
        if (c->per_rule[SG_RULE_LINE_BARE_CR] >= SG_VALIDATE_MAX_PER_RULE)
          break;
      }

  const guint8 *line = data;
  while (line < end)
    {
      const guint8 *nl = memchr (line, '\n', (gsize) (end - line));
      const guint8 *stop = nl != NULL ? nl : end;
      gsize n = (gsize) (stop - line);
      if (nl != NULL && n > 0 && stop[-1] == '\r')
        n--;
      else if (nl != NULL && c->per_rule[SG_RULE_LINE_BARE_LF] < SG_VALIDATE_MAX_PER_RULE)
        sg_vctx_report (c, SG_RULE_LINE_BARE_LF, NULL, NULL, nl - data,
                        "LF not preceded by CR");
      if (n > SG_MAX_LINE_OCTETS && c->per_rule[SG_RULE_LINE_TOO_LONG] < SG_VALIDATE_MAX_PER_RULE)
        sg_vctx_report (c, SG_RULE_LINE_TOO_LONG, NULL, NULL, line - data,
                        "line of %" G_GSIZE_FORMAT " octets, more than %u", n, SG_MAX_LINE_OCTETS);
      if (nl == NULL)
        break;
      line = nl + 1;
    }
}
