/* test-limits.c - intake limits and access control against the real
 * server: [access] networks and accepted domains, the per-address
 * connection rate (sliding window) and count, the command timeout, and
 * [spool] min_free. */
#include "harness.h"

#include <string.h>

/* greeting_of - connect and return the first reply (transfer full). */
static char *
greeting_of (guint16 port, SgTestClient **keep)
{
  char *greeting = NULL;
  SgTestClient *c = sg_test_client_connect (port, &greeting);
  if (keep)
    *keep = c;
  else
    sg_test_client_free (c);
  return greeting;
}

/* wait_sessions_ended - the server has logged the end of n sessions: their
 * slots are free. */
static void
wait_sessions_ended (SgTestServer *s, guint n)
{
  g_assert_true (sg_test_wait_log (s, "disconnect from", n, SG_TEST_WAIT_MS));
}

static void
test_access_denied (void)
{
  SgTestServer s;
  sg_test_server_start (&s, "[access]\nallowed_networks = 192.0.2.0/24, 2001:db8::/32\n");
  g_autofree char *g = greeting_of (s.port, NULL);
  g_assert_true (g_str_has_prefix (g, "554 5.7.1 "));
  g_autofree char *log = sg_test_server_log (&s);
  g_assert_nonnull (strstr (log, "NOQUEUE: reject: CONNECT from unknown[127.0.0.1]: 554 5.7.1"));
  sg_test_server_free (&s);
}

static void
test_accepted_domains (void)
{
  SgTestServer s;
  sg_test_server_start (&s, "[access]\nallowed_networks = 192.0.2.0/24\naccepted_domains = example.org, Example.NET\n");
  SgTestClient *c = NULL;
  g_autofree char *g = greeting_of (s.port, &c);
  g_assert_true (g_str_has_prefix (g, "220 "));
  g_autofree char *e = sg_test_client_command (c, "EHLO client.example");
  g_autofree char *m = sg_test_client_command (c, "MAIL FROM:<a@elsewhere.test>");
  g_autofree char *r1 = sg_test_client_command (c, "RCPT TO:<b@example.org>");
  g_autofree char *r2 = sg_test_client_command (c, "RCPT TO:<b@EXAMPLE.net>");
  g_autofree char *r3 = sg_test_client_command (c, "RCPT TO:<victim@relay.test>");
  g_autofree char *r4 = sg_test_client_command (c, "RCPT TO:<postmaster>");
  g_assert_true (g_str_has_prefix (m, "250 "));
  g_assert_true (g_str_has_prefix (r1, "250 "));
  g_assert_true (g_str_has_prefix (r2, "250 "));
  g_assert_true (g_str_has_prefix (r3, "550 5.7.1 Relay access denied"));
  g_assert_true (g_str_has_prefix (r4, "250 "));
  sg_test_client_free (c);
  sg_test_server_free (&s);
}

static void
test_connection_rate (void)
{
  SgTestServer s;
  sg_test_server_start (&s, "[limits]\nconnection_rate_per_ip = 3\n");
  /* the harness's own readiness probe counted as the first connection */
  for (int i = 0; i < 2; i++)
    {
      g_autofree char *g = greeting_of (s.port, NULL);
      g_assert_true (g_str_has_prefix (g, "220 "));
    }
  g_autofree char *refused = greeting_of (s.port, NULL);
  g_assert_true (g_str_has_prefix (refused, "421 4.7.0 "));
  g_autofree char *log = sg_test_server_log (&s);
  g_assert_nonnull (strstr (log, "more than 3 connections in 60 s"));
  sg_test_server_free (&s);
}

static void
test_connections_per_ip (void)
{
  SgTestServer s;
  sg_test_server_start (&s, "[limits]\nmax_connections_per_ip = 2\n");
  SgTestClient *a = NULL, *b = NULL;
  wait_sessions_ended (&s, 1);   /* the harness's readiness probe held a slot */
  g_autofree char *ga = greeting_of (s.port, &a);
  g_assert_true (g_str_has_prefix (ga, "220 "));
  g_autofree char *gb = greeting_of (s.port, &b);
  g_assert_true (g_str_has_prefix (gb, "220 "));
  g_autofree char *gc = greeting_of (s.port, NULL);
  g_assert_true (g_str_has_prefix (gc, "421 4.7.0 "));
  sg_test_client_free (a);
  /* a slot is free again once a session ends */
  wait_sessions_ended (&s, 2);
  g_autofree char *g = greeting_of (s.port, NULL);
  g_assert_true (g_str_has_prefix (g, "220 "));
  sg_test_client_free (b);
  sg_test_server_free (&s);
}

static void
test_max_connections (void)
{
  SgTestServer s;
  sg_test_server_start (&s, "[limits]\nmax_connections = 1\nmax_connections_per_ip = 0\n");
  SgTestClient *a = NULL;
  wait_sessions_ended (&s, 1);   /* the harness's readiness probe held the slot */
  g_autofree char *g = greeting_of (s.port, &a);
  g_assert_true (g_str_has_prefix (g, "220 "));
  g_autofree char *refused = greeting_of (s.port, NULL);
  g_assert_true (g_str_has_prefix (refused, "421 4.7.0 "));
  g_assert_nonnull (strstr (refused, "too many connections"));
  sg_test_client_free (a);
  sg_test_server_free (&s);
}

static void
test_command_timeout (void)
{
  SgTestServer s;
  sg_test_server_start (&s, "[limits]\ncommand_timeout = 1\n");
  SgTestClient *c = NULL;
  g_autofree char *g = greeting_of (s.port, &c);
  /* say nothing: within a few seconds the server gives up on us */
  g_autofree char *r = sg_test_client_reply (c);
  g_assert_nonnull (r);
  g_assert_true (g_str_has_prefix (r, "421 4.4.2 "));
  g_autofree char *eof = sg_test_client_reply (c);
  g_assert_null (eof);
  sg_test_client_free (c);
  sg_test_server_free (&s);
}

static void
test_data_timeout (void)
{
  SgTestServer s;
  sg_test_server_start (&s, "[limits]\ndata_timeout = 1\n");
  SgTestClient *c = NULL;
  g_autofree char *g = greeting_of (s.port, &c);
  g_autofree char *e = sg_test_client_command (c, "EHLO client.example");
  g_autofree char *m = sg_test_client_command (c, "MAIL FROM:<a@example.com>");
  g_autofree char *r = sg_test_client_command (c, "RCPT TO:<b@example.org>");
  g_autofree char *d = sg_test_client_command (c, "DATA");
  g_assert_true (g_str_has_prefix (d, "354 "));
  sg_test_client_send (c, "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\nFrom: a@example.com\r\n\r\nhalf", -1);
  /* then silence inside DATA */
  g_autofree char *t = sg_test_client_reply (c);
  g_assert_nonnull (t);
  g_assert_true (g_str_has_prefix (t, "421 4.4.2 "));
  sg_test_client_free (c);
  g_autoptr(GPtrArray) files = sg_test_spool_files (&s);
  g_assert_cmpuint (files->len, ==, 0);
  g_autofree char *log = sg_test_server_log (&s);
  g_assert_nonnull (strstr (log, "timeout after DATA from unknown[127.0.0.1]"));
  sg_test_server_free (&s);
}

static void
test_min_free (void)
{
  SgTestServer s;
  sg_test_server_start (&s, "[spool]\nmin_free = 1000000G\n");
  SgTestClient *c = NULL;
  g_autofree char *g = greeting_of (s.port, &c);
  g_autofree char *e = sg_test_client_command (c, "EHLO client.example");
  g_autofree char *m = sg_test_client_command (c, "MAIL FROM:<a@example.com>");
  g_assert_true (g_str_has_prefix (m, "452 4.3.1 "));
  sg_test_client_free (c);
  g_autofree char *log = sg_test_server_log (&s);
  g_assert_nonnull (strstr (log, "below [spool] min_free"));
  sg_test_server_free (&s);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/limits/access/denied", test_access_denied);
  g_test_add_func ("/limits/access/accepted-domains", test_accepted_domains);
  g_test_add_func ("/limits/connection-rate", test_connection_rate);
  g_test_add_func ("/limits/connections-per-ip", test_connections_per_ip);
  g_test_add_func ("/limits/max-connections", test_max_connections);
  g_test_add_func ("/limits/command-timeout", test_command_timeout);
  g_test_add_func ("/limits/data-timeout", test_data_timeout);
  g_test_add_func ("/limits/min-free", test_min_free);
  return g_test_run ();
}
