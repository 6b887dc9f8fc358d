/* tls_error.c - OpenSSL's error queue to GError (see tls_error.h). */
#include "tls/tls_error.h"

#include <openssl/err.h>

void
sg_tls_set_error (GError **error, GQuark domain, gint code, const char *what,
                  const char *fallback)
{
  unsigned long e = ERR_get_error ();
  char buf[256];
  if (e != 0)
    ERR_error_string_n (e, buf, sizeof buf);
  else
    g_strlcpy (buf, fallback ? fallback : "unknown error", sizeof buf);
  ERR_clear_error ();
  g_set_error (error, domain, code, "%s: %s", what, buf);
}
