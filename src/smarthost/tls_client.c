/* tls_client.c - the smarthost TLS context and the OpenSSL error boundary.
 * Every OpenSSL call that can fail on the network goes through
 * sg_tls_client_step(): ERR_clear_error, the call, SSL_get_error and
 * ERR_get_error, then g_set_error. Verification follows RFC 6125 through
 * OpenSSL's own host check (SSL_set1_host); SNI is RFC 6066 section 3. */
#include "smarthost/tls_client.h"
#include "tls/tls_error.h"

#include <gio/gio.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

G_DEFINE_QUARK (sg-tls-client-error-quark, sg_tls_client_error)

struct _SgTlsClient {
  SSL_CTX    *ctx;
  SgTlsPolicy policy;
  char       *server_name;   /* (nullable) [smarthost] server_name: SNI and the name the
                              * certificate must carry, instead of the host's own */
};

static const char *const policy_names[] = {
  [SG_TLS_POLICY_NONE] = "none", [SG_TLS_POLICY_OPPORTUNISTIC] = "opportunistic",
  [SG_TLS_POLICY_REQUIRED] = "required", [SG_TLS_POLICY_VERIFY] = "verify",
};

gboolean
sg_tls_policy_parse (const char *name, SgTlsPolicy *policy)
{
  for (guint i = 0; i < G_N_ELEMENTS (policy_names); i++)
    if (g_strcmp0 (name, policy_names[i]) == 0)
      {
        *policy = (SgTlsPolicy) i;
        return TRUE;
      }
  return FALSE;
}

/* openssl_error - the OpenSSL error queue as a GError in our domain. */
static void
openssl_error (GError **error, int code, const char *what, const char *fallback)
{
  sg_tls_set_error (error, SG_TLS_CLIENT_ERROR, code, what, fallback);
}

SgTlsClient *
sg_tls_client_new (const SgConfig *c, GError **error)
{
  g_autoptr(SgTlsClient) tls = g_new0 (SgTlsClient, 1);
  if (!sg_tls_policy_parse (c->smarthost_tls, &tls->policy))
    {
      g_set_error (error, SG_TLS_CLIENT_ERROR, SG_TLS_CLIENT_ERROR_CONFIG,
                   "[smarthost] tls = %s is not a TLS policy", c->smarthost_tls);
      return NULL;
    }
  tls->server_name = g_strdup (c->smarthost_server_name);
  ERR_clear_error ();
  tls->ctx = SSL_CTX_new (TLS_client_method ());
  if (!tls->ctx)
    return openssl_error (error, SG_TLS_CLIENT_ERROR_CONFIG, "SSL_CTX_new", NULL), NULL;
  /* RFC 8996: nothing older than TLS 1.2. */
  if (!SSL_CTX_set_min_proto_version (tls->ctx, TLS1_2_VERSION))
    return openssl_error (error, SG_TLS_CLIENT_ERROR_CONFIG, "minimum TLS version", NULL), NULL;
  SSL_CTX_set_mode (tls->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

  if (tls->policy == SG_TLS_POLICY_VERIFY)
    {
      SSL_CTX_set_verify (tls->ctx, SSL_VERIFY_PEER, NULL);
      gboolean ok = (c->smarthost_ca_file || c->smarthost_ca_path)
        ? SSL_CTX_load_verify_locations (tls->ctx, c->smarthost_ca_file, c->smarthost_ca_path)
        : SSL_CTX_set_default_verify_paths (tls->ctx);
      if (!ok)
        {
          g_autofree char *what = g_strdup_printf ("[smarthost] CA store %s%s%s",
                                                   c->smarthost_ca_file ? c->smarthost_ca_file : "",
                                                   c->smarthost_ca_path ? " " : "",
                                                   c->smarthost_ca_path ? c->smarthost_ca_path : "");
          return openssl_error (error, SG_TLS_CLIENT_ERROR_CONFIG, what, NULL), NULL;
        }
    }
  else
    SSL_CTX_set_verify (tls->ctx, SSL_VERIFY_NONE, NULL);

  if (c->smarthost_client_cert)
    {
      if (SSL_CTX_use_certificate_chain_file (tls->ctx, c->smarthost_client_cert) != 1)
        return openssl_error (error, SG_TLS_CLIENT_ERROR_CONFIG, c->smarthost_client_cert, NULL), NULL;
      if (SSL_CTX_use_PrivateKey_file (tls->ctx, c->smarthost_client_key, SSL_FILETYPE_PEM) != 1)
        return openssl_error (error, SG_TLS_CLIENT_ERROR_CONFIG, c->smarthost_client_key, NULL), NULL;
      if (SSL_CTX_check_private_key (tls->ctx) != 1)
        return openssl_error (error, SG_TLS_CLIENT_ERROR_CONFIG, "client key does not match certificate", NULL), NULL;
    }
  return g_steal_pointer (&tls);
}

void
sg_tls_client_free (SgTlsClient *tls)
{
  if (!tls)
    return;
  if (tls->ctx)
    SSL_CTX_free (tls->ctx);
  g_free (tls->server_name);
  g_free (tls);
}

SgTlsPolicy
sg_tls_client_policy (const SgTlsClient *tls)
{
  return tls->policy;
}

SSL *
sg_tls_client_ssl_new (SgTlsClient *tls, int fd, const char *host_name, GError **error)
{
  const char *server_name = tls->server_name ? tls->server_name : host_name;
  ERR_clear_error ();
  SSL *ssl = SSL_new (tls->ctx);
  if (!ssl)
    return openssl_error (error, SG_TLS_CLIENT_ERROR_HANDSHAKE, "SSL_new", NULL), NULL;
  gboolean ip = g_hostname_is_ip_address (server_name);
  gboolean ok = SSL_set_fd (ssl, fd) == 1;
  /* RFC 6066 section 3: SNI carries host names only, never address literals. */
  if (ok && !ip)
    ok = SSL_set_tlsext_host_name (ssl, server_name) == 1;
  if (ok && tls->policy == SG_TLS_POLICY_VERIFY)
    {
      if (ip)
        ok = X509_VERIFY_PARAM_set1_ip_asc (SSL_get0_param (ssl), server_name) == 1;
      else
        {
          SSL_set_hostflags (ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
          ok = SSL_set1_host (ssl, server_name) == 1;
        }
    }
  if (!ok)
    {
      SSL_free (ssl);
      openssl_error (error, SG_TLS_CLIENT_ERROR_HANDSHAKE, "TLS session set-up", NULL);
      return NULL;
    }
  return ssl;
}

SgTlsStep
sg_tls_client_step (SSL *ssl, SgTlsOp op, void *buf, gsize len, gsize *done, GError **error)
{
  size_t n = 0;
  int ret;
  ERR_clear_error ();
  switch (op)
    {
    case SG_TLS_OP_HANDSHAKE: ret = SSL_connect (ssl); break;
    case SG_TLS_OP_READ:      ret = SSL_read_ex (ssl, buf, len, &n); break;
    case SG_TLS_OP_WRITE:     ret = SSL_write_ex (ssl, buf, len, &n); break;
    default:                  ret = SSL_shutdown (ssl); if (ret == 0) ret = 1; break;
    }
  if (done)
    *done = n;
  if (ret == 1)
    {
      ERR_clear_error ();
      return SG_TLS_STEP_DONE;
    }
  int why = SSL_get_error (ssl, ret);
  switch (why)
    {
    case SSL_ERROR_WANT_READ:
      return SG_TLS_STEP_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
      return SG_TLS_STEP_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
      ERR_clear_error ();
      g_set_error (error, SG_TLS_CLIENT_ERROR, SG_TLS_CLIENT_ERROR_HANDSHAKE,
                   "TLS connection closed by the smarthost");
      return SG_TLS_STEP_ERROR;
    default:
      break;
    }
  long vr = SSL_get_verify_result (ssl);
  if (op == SG_TLS_OP_HANDSHAKE && vr != X509_V_OK)
    {
      ERR_clear_error ();
      g_set_error (error, SG_TLS_CLIENT_ERROR, SG_TLS_CLIENT_ERROR_VERIFY,
                   "TLS certificate verification failed: %s",
                   X509_verify_cert_error_string (vr));
      return SG_TLS_STEP_ERROR;
    }
  const char *what = op == SG_TLS_OP_HANDSHAKE ? "TLS handshake failed"
                   : op == SG_TLS_OP_READ ? "TLS read failed" : "TLS write failed";
  openssl_error (error, SG_TLS_CLIENT_ERROR_HANDSHAKE, what,
                 why == SSL_ERROR_SYSCALL ? "connection closed or reset" : NULL);
  return SG_TLS_STEP_ERROR;
}

void
sg_tls_client_describe (SSL *ssl, const char **protocol, const char **cipher)
{
  *protocol = SSL_get_version (ssl);
  *cipher = SSL_CIPHER_get_name (SSL_get_current_cipher (ssl));
}
