/* tls_client.h - the OpenSSL 3 side of the smarthost connection: the
 * SSL_CTX built from [smarthost] (TLS 1.2 or newer, CA store, client
 * certificate, verification mode), one SSL per connection with SNI and the
 * host name check, and the single place where OpenSSL errors become GErrors.
 * Sockets, polling and timeouts belong to transport.c. */
#pragma once
#include <glib.h>
#include <openssl/ssl.h>
#include "config/config.h"

G_BEGIN_DECLS

#define SG_TLS_CLIENT_ERROR (sg_tls_client_error_quark ())
GQuark sg_tls_client_error_quark (void);
typedef enum {
  SG_TLS_CLIENT_ERROR_CONFIG,     /* CA store, client certificate or key unusable */
  SG_TLS_CLIENT_ERROR_HANDSHAKE,  /* protocol failure, including a closed socket */
  SG_TLS_CLIENT_ERROR_VERIFY,     /* the certificate chain or name did not verify */
} SgTlsClientError;

/* [smarthost] tls = ... */
typedef enum {
  SG_TLS_POLICY_NONE,           /* never STARTTLS */
  SG_TLS_POLICY_OPPORTUNISTIC,  /* STARTTLS when offered, no verification */
  SG_TLS_POLICY_REQUIRED,       /* STARTTLS or nothing is sent; no verification */
  SG_TLS_POLICY_VERIFY,         /* STARTTLS, full chain and host name, or nothing is sent */
} SgTlsPolicy;

/* Outcome of one non-blocking OpenSSL step. */
typedef enum { SG_TLS_STEP_DONE, SG_TLS_STEP_WANT_READ, SG_TLS_STEP_WANT_WRITE,
               SG_TLS_STEP_ERROR } SgTlsStep;

typedef enum { SG_TLS_OP_HANDSHAKE, SG_TLS_OP_READ, SG_TLS_OP_WRITE, SG_TLS_OP_SHUTDOWN } SgTlsOp;

typedef struct _SgTlsClient SgTlsClient;

/* sg_tls_policy_parse - "none" | "opportunistic" | "required" | "verify". */
gboolean     sg_tls_policy_parse (const char *name, SgTlsPolicy *policy);
/* sg_tls_client_new - the shared client context for config's [smarthost] (transfer full). */
SgTlsClient *sg_tls_client_new (const SgConfig *config, GError **error);
void         sg_tls_client_free (SgTlsClient *tls);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgTlsClient, sg_tls_client_free)
/* sg_tls_client_policy - the configured policy. */
SgTlsPolicy  sg_tls_client_policy (const SgTlsClient *tls);
/* sg_tls_client_ssl_new - an SSL on the non-blocking socket fd, with SNI and
 * (verify) the expected name set: [smarthost] server_name, else server_name,
 * the host list entry being tried (transfer full). */
SSL         *sg_tls_client_ssl_new (SgTlsClient *tls, int fd, const char *server_name,
                                    GError **error);
/* sg_tls_client_step - one non-blocking handshake, read, write or shutdown;
 * *done gets the bytes moved. The only place OpenSSL errors are read. */
SgTlsStep    sg_tls_client_step (SSL *ssl, SgTlsOp op, void *buf, gsize len, gsize *done,
                                 GError **error);
/* sg_tls_client_describe - "TLSv1.3" and the cipher name of an established SSL (static). */
void         sg_tls_client_describe (SSL *ssl, const char **protocol, const char **cipher);

G_END_DECLS
