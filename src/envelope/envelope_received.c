/* envelope_received.c - the envelope as our Received: header (RFC 5321
 * 4.4, RFC 5322 3.6.7). The recipient is named only when there is exactly
 * one, so a message to several people does not disclose the others. */
#include "envelope/envelope.h"

#include <string.h>

GBytes *
sg_envelope_received (const SgEnvelope *env, const char *hostname)
{
  GString *h = g_string_sized_new (256);
  gboolean v6 = strchr (env->client_address, ':') != NULL;

  g_string_append_printf (h, "Received: from %s ([%s%s])\r\n",
                          env->helo ? env->helo : "unknown", v6 ? "IPv6:" : "",
                          env->client_address);
  g_string_append_printf (h, "\tby %s (spoolgate) with %s id %s", hostname, env->protocol,
                          env->queue_id);
  if (env->tls_protocol)
    g_string_append_printf (h, "\r\n\t(using %s with cipher %s)", env->tls_protocol, env->tls_cipher);
  if (env->recipients && env->recipients->len == 1)
    g_string_append_printf (h, "\r\n\tfor <%s>", (const char *) g_ptr_array_index (env->recipients, 0));
  g_autoptr(GDateTime) when = g_date_time_new_from_unix_local (env->arrival_us / G_USEC_PER_SEC);
  g_autofree char *date = g_date_time_format (when, "%a, %d %b %Y %H:%M:%S %z");
  g_string_append_printf (h, ";\r\n\t%s\r\n", date);
  return g_string_free_to_bytes (h);
}
