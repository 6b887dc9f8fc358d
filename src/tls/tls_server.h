/* tls_server.h - inbound TLS for STARTTLS (RFC 3207) with OpenSSL 3: the
 * server context from [tls] cert_file/key_file, and non-blocking handshake,
 * read and write on a connection's socket. OpenSSL errors become GError
 * here and nowhere else. */
#pragma once
#include <glib.h>
#include <openssl/ssl.h>

G_BEGIN_DECLS

#define SG_TLS_ERROR (sg_tls_error_quark ())
GQuark sg_tls_error_quark (void);
typedef enum { SG_TLS_ERROR_CONFIG, SG_TLS_ERROR_HANDSHAKE, SG_TLS_ERROR_IO } SgTlsError;

typedef enum {
  SG_TLS_OK,          /* done (handshake) or n bytes moved (read/write) */
  SG_TLS_WANT_READ,   /* retry when the socket is readable */
  SG_TLS_WANT_WRITE,  /* retry when the socket is writable */
  SG_TLS_CLOSED,      /* the peer closed the TLS session */
  SG_TLS_FAILED,      /* error set */
} SgTlsStatus;

typedef struct _SgTlsServer SgTlsServer;

/* sg_tls_server_new - TLS 1.2 or newer with the given PEM chain and key. */
SgTlsServer *sg_tls_server_new (const char *cert_file, const char *key_file, GError **error);
/* sg_tls_server_ref - one more holder; NULL gives NULL (transfer full). */
SgTlsServer *sg_tls_server_ref (SgTlsServer *tls);
/* sg_tls_server_free - drop a reference; the last one frees the context. */
void         sg_tls_server_free (SgTlsServer *tls);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgTlsServer, sg_tls_server_free)

/* sg_tls_server_accept - a server-side SSL on fd, handshake not yet started. (transfer full) */
SSL        *sg_tls_server_accept (SgTlsServer *tls, int fd);
/* sg_tls_handshake - advance the handshake. */
SgTlsStatus sg_tls_handshake (SSL *ssl, GError **error);
/* sg_tls_read - read up to len bytes into buf; *n is set on SG_TLS_OK. */
SgTlsStatus sg_tls_read (SSL *ssl, void *buf, gsize len, gsize *n, GError **error);
/* sg_tls_write - write up to len bytes; *n is set on SG_TLS_OK. */
SgTlsStatus sg_tls_write (SSL *ssl, const void *buf, gsize len, gsize *n, GError **error);
/* sg_tls_describe - "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384" (transfer full). */
char       *sg_tls_describe (SSL *ssl);

G_END_DECLS
