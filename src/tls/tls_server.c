/* tls_server.c - OpenSSL behind tls_server.h. Every call clears the error
 * queue first and turns what OpenSSL reports into one GError, so no stale
 * error leaks from one connection into the next. */
#include "tls/tls_server.h"

#include <openssl/err.h>
#include "tls/tls_error.h"

G_DEFINE_QUARK (sg-tls-error-quark, sg_tls_error)

/* Lifetime: reference-counted. The server holds one for new sessions; each
 * connection holds one from its greeting on, so the STARTTLS it advertised
 * still works after a SIGHUP replaced or removed [tls]. An SSL made from it
 * holds the SSL_CTX itself (SSL_new takes a reference). Main thread only. */
struct _SgTlsServer {
  guint    refs;
  SSL_CTX *ctx;
};

/* set_ssl_error - the OpenSSL error queue as a GError in our domain. */
static void
set_ssl_error (GError **error, SgTlsError code, const char *what)
{
  sg_tls_set_error (error, SG_TLS_ERROR, code, what, "unexpected end of stream");
}

SgTlsServer *
sg_tls_server_new (const char *cert_file, const char *key_file, GError **error)
{
  ERR_clear_error ();
  SSL_CTX *ctx = SSL_CTX_new (TLS_server_method ());
  if (!ctx)
    {
      set_ssl_error (error, SG_TLS_ERROR_CONFIG, "SSL_CTX_new");
      return NULL;
    }
  SSL_CTX_set_min_proto_version (ctx, TLS1_2_VERSION);
  SSL_CTX_set_options (ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION
                            | SSL_OP_CIPHER_SERVER_PREFERENCE);
  /* Writes behave like send(): partial, and retried from a buffer that may move. */
  SSL_CTX_set_mode (ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_session_cache_mode (ctx, SSL_SESS_CACHE_OFF);
  if (SSL_CTX_use_certificate_chain_file (ctx, cert_file) != 1)
    {
      g_autofree char *what = g_strdup_printf ("[tls] cert_file %s", cert_file);
      set_ssl_error (error, SG_TLS_ERROR_CONFIG, what);
      SSL_CTX_free (ctx);
      return NULL;
    }
  if (SSL_CTX_use_PrivateKey_file (ctx, key_file, SSL_FILETYPE_PEM) != 1
      || SSL_CTX_check_private_key (ctx) != 1)
    {
      g_autofree char *what = g_strdup_printf ("[tls] key_file %s", key_file);
      set_ssl_error (error, SG_TLS_ERROR_CONFIG, what);
      SSL_CTX_free (ctx);
      return NULL;
    }
  SgTlsServer *tls = g_new0 (SgTlsServer, 1);
  tls->refs = 1;
  tls->ctx = ctx;
  return tls;
}

SgTlsServer *
sg_tls_server_ref (SgTlsServer *tls)
{
  if (tls)
    tls->refs++;
  return tls;
}

void
sg_tls_server_free (SgTlsServer *tls)
{
  if (!tls || --tls->refs > 0)
    return;
  SSL_CTX_free (tls->ctx);
  g_free (tls);
}

SSL *
sg_tls_server_accept (SgTlsServer *tls, int fd)
{
  ERR_clear_error ();
  SSL *ssl = SSL_new (tls->ctx);
  if (ssl && SSL_set_fd (ssl, fd) == 1)
    {
      SSL_set_accept_state (ssl);
      return ssl;
    }
  SSL_free (ssl);
  ERR_clear_error ();
  return NULL;
}

/* status_of - map SSL_get_error() for a call that returned rc. */
static SgTlsStatus
status_of (SSL *ssl, int rc, const char *what, GError **error)
{
  switch (SSL_get_error (ssl, rc))
    {
    case SSL_ERROR_WANT_READ:
      return SG_TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
      return SG_TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
      return SG_TLS_CLOSED;
    default:
      set_ssl_error (error, g_str_equal (what, "handshake") ? SG_TLS_ERROR_HANDSHAKE : SG_TLS_ERROR_IO,
                     what);
      return SG_TLS_FAILED;
    }
}

SgTlsStatus
sg_tls_handshake (SSL *ssl, GError **error)
{
  ERR_clear_error ();
  int rc = SSL_do_handshake (ssl);
  return rc == 1 ? SG_TLS_OK : status_of (ssl, rc, "handshake", error);
}

SgTlsStatus
sg_tls_read (SSL *ssl, void *buf, gsize len, gsize *n, GError **error)
{
  ERR_clear_error ();
  size_t got = 0;
  int rc = SSL_read_ex (ssl, buf, len, &got);
  if (rc == 1)
    {
      *n = got;
      return SG_TLS_OK;
    }
  return status_of (ssl, rc, "read", error);
}

SgTlsStatus
sg_tls_write (SSL *ssl, const void *buf, gsize len, gsize *n, GError **error)
{
  ERR_clear_error ();
  size_t put = 0;
  int rc = SSL_write_ex (ssl, buf, len, &put);
  if (rc == 1)
    {
      *n = put;
      return SG_TLS_OK;
    }
  return status_of (ssl, rc, "write", error);
}

char *
sg_tls_describe (SSL *ssl)
{
  return g_strdup_printf ("%s with cipher %s", SSL_get_version (ssl),
                          SSL_CIPHER_get_name (SSL_get_current_cipher (ssl)));
}
