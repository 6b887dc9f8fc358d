/* transport.h - one TCP connection to the smarthost, plaintext or TLS, with
 * blocking semantics built from non-blocking I/O and poll() deadlines. Every
 * wait also watches a cancel fd, so a daemon shutdown interrupts it at once.
 * Knows nothing of SMTP beyond CRLF-terminated lines. */
#pragma once
#include <glib.h>
#include "smarthost/tls_client.h"

G_BEGIN_DECLS

#define SG_TRANSPORT_ERROR (sg_transport_error_quark ())
GQuark sg_transport_error_quark (void);
typedef enum {
  SG_TRANSPORT_ERROR_CONNECT,    /* resolve or connect failed */
  SG_TRANSPORT_ERROR_TIMEOUT,
  SG_TRANSPORT_ERROR_IO,         /* read/write failed or the peer closed */
  SG_TRANSPORT_ERROR_PROTOCOL,   /* overlong line */
  SG_TRANSPORT_ERROR_CANCELLED,  /* the cancel fd became readable */
} SgTransportError;

/* Longest reply line we take (RFC 5321 4.5.3.1.5 says 512; be generous). */
#define SG_TRANSPORT_MAX_LINE  4096
#define SG_TRANSPORT_CHUNK     (64 * 1024)

typedef struct _SgTransport SgTransport;

/* sg_transport_connect - resolve host and connect within timeout seconds;
 * cancel_fd (or -1) aborts any wait when readable (transfer full). */
SgTransport *sg_transport_connect (const char *host, guint port, guint timeout, int cancel_fd,
                                   GError **error);
void         sg_transport_free (SgTransport *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgTransport, sg_transport_free)
/* sg_transport_peer - "host[ip]:port", for logs and the attempt history. */
const char  *sg_transport_peer (const SgTransport *t);
/* sg_transport_read_line - the next line without its CRLF (transfer full). */
char        *sg_transport_read_line (SgTransport *t, guint timeout, GError **error);
/* sg_transport_write - write all of data within timeout seconds. */
gboolean     sg_transport_write (SgTransport *t, const void *data, gsize len, guint timeout,
                                 GError **error);
/* sg_transport_buffered - bytes read from the peer and not yet consumed. */
gsize        sg_transport_buffered (const SgTransport *t);
/* sg_transport_start_tls - drop buffered plaintext and run the TLS handshake;
 * server_name as for sg_tls_client_ssl_new(). */
gboolean     sg_transport_start_tls (SgTransport *t, SgTlsClient *tls, const char *server_name,
                                     guint timeout, GError **error);
/* sg_transport_tls - protocol and cipher, or FALSE when plaintext (static strings). */
gboolean     sg_transport_tls (const SgTransport *t, const char **protocol, const char **cipher);

G_END_DECLS
