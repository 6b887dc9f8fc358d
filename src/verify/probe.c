/* probe.c - one address probe (verify(8)'s "probe message", without the
 * message): the answer to RCPT is all we want, so no DATA is ever sent. */
#include "verify/probe.h"

#include "common/log.h"

#include <string.h>

gboolean
sg_verify_probe (SgSmarthostDial *dial, const char *address, gboolean smtputf8,
                 SgVerifyEntry *out, GError **error)
{
  memset (out, 0, sizeof *out);
  g_autoptr(SgSmtpClient) c = sg_smarthost_dial_open (dial, NULL, error);
  if (!c)
    return FALSE;
  guint code = 0;
  char *reply = NULL;
  if (!sg_smtp_client_probe (c, address, smtputf8, &code, &reply, error))
    return FALSE;
  out->time = g_get_real_time () / G_USEC_PER_SEC;
  out->code = code;
  out->reply = reply;
  out->status = code / 100 == 2 ? SG_VERIFY_DELIVERABLE
              : code / 100 == 5 ? SG_VERIFY_UNDELIVERABLE : SG_VERIFY_UNKNOWN;
  g_autofree char *safe = sg_log_sanitize (address, -1, SG_LOG_FIELD_MAX);
  g_message ("verify: <%s>: %s via %s (%s)", safe,
             out->status == SG_VERIFY_DELIVERABLE ? "deliverable"
             : out->status == SG_VERIFY_UNDELIVERABLE ? "undeliverable" : "unverified",
             sg_smtp_client_relay (c), reply ? reply : "no reply");
  return TRUE;
}

SgConfig *
sg_verify_probe_config (const SgConfig *config, guint timeout)
{
  SgConfig *c = sg_config_copy (config);
  guint *waits[] = {
    &c->smarthost_connect_timeout, &c->smarthost_tls_timeout, &c->smarthost_greeting_timeout,
    &c->smarthost_mail_timeout, &c->smarthost_rcpt_timeout,
  };
  for (guint i = 0; i < G_N_ELEMENTS (waits); i++)
    *waits[i] = MIN (*waits[i], timeout);
  return c;
}
