/* test-tls.c - inbound STARTTLS (RFC 3207) against the real server, with
 * Python's smtplib/ssl as the client and a CA and certificate made by
 * openssl at test time: verified delivery with the TLS details in the
 * Received header and the metadata, the STARTTLS command-injection defence
 * (CVE-2011-0411), and [tls] require. */
#include "harness.h"

#include <string.h>

typedef struct {
  char *dir, *cert, *key, *config;
} Certs;

/* make_certs - a self-signed certificate for localhost/127.0.0.1 (it is its own CA). */
static void
make_certs (Certs *c, gboolean require)
{
  c->dir = g_dir_make_tmp ("sg-tls-XXXXXX", NULL);
  c->cert = g_build_filename (c->dir, "cert.pem", NULL);
  c->key = g_build_filename (c->dir, "key.pem", NULL);
  sg_test_make_cert (c->cert, c->key, "localhost", TRUE);
  c->config = g_strdup_printf ("[tls]\ncert_file = %s\nkey_file = %s\nrequire = %s\n",
                               c->cert, c->key, require ? "true" : "false");
}

static void
free_certs (Certs *c)
{
  const char *argv[] = { "rm", "-rf", c->dir, NULL };
  sg_test_run (argv, NULL, NULL);
  g_free (c->dir);
  g_free (c->cert);
  g_free (c->key);
  g_free (c->config);
}

static void
test_starttls_delivery (void)
{
  Certs c;
  make_certs (&c, FALSE);
  SgTestServer s;
  sg_test_server_start (&s, c.config);
  g_autofree char *msg = g_build_filename (s.dir, "m.eml", NULL);
  const char *gen[] = { "gen", "attachment", msg, NULL };
  g_assert_cmpint (sg_test_python ("smtp_client.py", gen, NULL, NULL), ==, 0);
  g_autofree char *port = g_strdup_printf ("%u", s.port);
  const char *send[] = { "send", port, c.cert, msg, NULL };
  g_autofree char *out = NULL, *err = NULL;
  if (sg_test_python ("tls_client.py", send, &out, &err) != 0)
    g_error ("tls_client send failed: %s%s", out, err);
  g_assert_nonnull (strstr (out, "\"offered\": true"));
  g_assert_nonnull (strstr (out, "\"code\": 250"));
  const char *p = strstr (out, "queued as ") + strlen ("queued as ");
  g_autofree char *id = g_strndup (p, 20);
  g_autofree char *eml_path = g_strdup_printf ("%s/queue/%s.eml", s.spool, id);
  g_autofree char *json_path = g_strdup_printf ("%s/queue/%s.json", s.spool, id);
  g_autofree char *eml = NULL, *json = NULL;
  g_assert_true (g_file_get_contents (eml_path, &eml, NULL, NULL));
  g_assert_true (g_file_get_contents (json_path, &json, NULL, NULL));
  g_assert_nonnull (strstr (eml, " with ESMTPS id "));
  g_assert_nonnull (strstr (eml, "(using TLSv1."));
  g_assert_nonnull (strstr (json, "\"tls_protocol\" : \"TLSv1."));
  g_assert_nonnull (strstr (json, "\"protocol\" : \"ESMTPS\""));
  g_autofree char *log = sg_test_server_log (&s);
  g_assert_nonnull (strstr (log, "Anonymous TLS connection established from unknown[127.0.0.1]: TLSv1."));
  sg_test_server_free (&s);
  free_certs (&c);
}

static void
test_starttls_injection (void)
{
  Certs c;
  make_certs (&c, FALSE);
  SgTestServer s;
  sg_test_server_start (&s, c.config);
  g_autofree char *port = g_strdup_printf ("%u", s.port);
  const char *inject[] = { "inject", port, NULL };
  g_autofree char *out = NULL, *err = NULL;
  if (sg_test_python ("tls_client.py", inject, &out, &err) != 0)
    g_error ("tls_client inject failed: %s%s", out, err);
  g_assert_nonnull (strstr (out, "\"starttls\": [\"220 2.0.0 Ready to start TLS\"]"));
  /* the NOOP sent in the clear behind STARTTLS was never answered */
  g_assert_nonnull (strstr (out, "\"unsolicited\": []"));
  /* back to the state before EHLO: EHLO again works, no STARTTLS offered twice */
  g_assert_nonnull (strstr (out, "\"250 ENHANCEDSTATUSCODES\""));
  g_assert_null (strstr (out, "250-STARTTLS"));
  g_assert_nonnull (strstr (out, "\"mail\": [\"250 2.1.0"));
  g_autofree char *log = sg_test_server_log (&s);
  g_assert_nonnull (strstr (log, "discarding 6 byte(s) sent with STARTTLS"));
  sg_test_server_free (&s);
  free_certs (&c);
}

static void
test_starttls_required (void)
{
  Certs c;
  make_certs (&c, TRUE);
  SgTestServer s;
  sg_test_server_start (&s, c.config);
  g_autofree char *port = g_strdup_printf ("%u", s.port);
  const char *plain[] = { "plain-mail", port, NULL };
  g_autofree char *out = NULL;
  g_assert_cmpint (sg_test_python ("tls_client.py", plain, &out, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "\"code\": 530"));
  g_assert_nonnull (strstr (out, "5.7.0"));
  /* and with STARTTLS the same server accepts */
  g_autofree char *msg = g_build_filename (s.dir, "m.eml", NULL);
  const char *gen[] = { "gen", "plain", msg, NULL };
  g_assert_cmpint (sg_test_python ("smtp_client.py", gen, NULL, NULL), ==, 0);
  const char *send[] = { "send", port, c.cert, msg, NULL };
  g_autofree char *out2 = NULL;
  g_assert_cmpint (sg_test_python ("tls_client.py", send, &out2, NULL), ==, 0);
  g_assert_nonnull (strstr (out2, "\"code\": 250"));
  sg_test_server_free (&s);
  free_certs (&c);
}

static void
test_starttls_not_configured (void)
{
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  SgTestClient *cl = sg_test_client_connect (s.port, NULL);
  g_autofree char *e = sg_test_client_command (cl, "EHLO client.example");
  g_assert_null (strstr (e, "STARTTLS"));
  g_autofree char *r = sg_test_client_command (cl, "STARTTLS");
  g_assert_true (g_str_has_prefix (r, "502 5.5.1"));
  sg_test_client_free (cl);
  sg_test_server_free (&s);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tls/starttls/delivery", test_starttls_delivery);
  g_test_add_func ("/tls/starttls/injection", test_starttls_injection);
  g_test_add_func ("/tls/starttls/required", test_starttls_required);
  g_test_add_func ("/tls/starttls/not-configured", test_starttls_not_configured);
  return g_test_run ();
}
