/* tls_error.h - the one place OpenSSL's error queue becomes a GError, for
 * both the inbound (tls_server.c) and the smarthost (tls_client.c) side. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

/* sg_tls_set_error - "what: <oldest queued OpenSSL error>" (fallback, or
 * "unknown error", when the queue is empty); clears the queue. */
void sg_tls_set_error (GError **error, GQuark domain, gint code, const char *what,
                       const char *fallback);

G_END_DECLS
