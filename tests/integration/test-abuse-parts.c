/* test-abuse-parts.c - issue 13 defect 2 against the real server: one
 * 24.8 MB message of 580,000 empty MIME parts is refused with
 * mime.limit.parts within 3 s, the server's peak RSS (VmHWM) stays under
 * 256 MB and its RSS falls back afterwards, and it keeps serving. */
#include "harness.h"

#include <string.h>

#define FLOOD_PARTS    580000u
#define FLOOD_BOUNDARY "flood-0123456789-0123456789-01234567"
#define MAX_HWM_KB     (256u * 1024u)

/* proc_status_kb - a "VmXXX:" figure of pid's /proc status, in kB. */
static guint64
proc_status_kb (const char *pid, const char *field)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/status", pid);
  g_autofree char *status = NULL;
  g_assert_true (g_file_get_contents (path, &status, NULL, NULL));
  const char *p = strstr (status, field);
  g_assert_nonnull (p);
  return g_ascii_strtoull (p + strlen (field), NULL, 10);
}

static void
test_part_flood (void)
{
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  const char *pid = g_subprocess_get_identifier (s.proc);
  g_assert_nonnull (pid);

  GString *msg = g_string_new ("From: a@client.example\r\nTo: b@example.org\r\n"
                               "Date: Tue, 1 Dec 2026 10:00:00 +0000\r\n"
                               "Message-ID: <flood@client.example>\r\nSubject: parts\r\n"
                               "MIME-Version: 1.0\r\n"
                               "Content-Type: multipart/mixed; boundary=\"" FLOOD_BOUNDARY "\"\r\n\r\n");
  for (guint i = 0; i < FLOOD_PARTS; i++)
    g_string_append (msg, "--" FLOOD_BOUNDARY "\r\n\r\n");
  g_string_append (msg, "--" FLOOD_BOUNDARY "--\r\n.\r\n");
  g_test_message ("message of %" G_GSIZE_FORMAT " octets", msg->len);

  SgTestClient *c = sg_test_client_connect (s.port, NULL);
  g_autofree char *ehlo = sg_test_client_command (c, "EHLO client.example");
  g_autofree char *mail = sg_test_client_command (c, "MAIL FROM:<a@client.example>");
  g_autofree char *rcpt = sg_test_client_command (c, "RCPT TO:<b@example.org>");
  g_autofree char *data = sg_test_client_command (c, "DATA");
  g_assert_true (g_str_has_prefix (data, "354 "));
  sg_test_client_send (c, msg->str, (gssize) msg->len - 3);
  gint64 start = g_get_monotonic_time ();
  sg_test_client_send (c, ".\r\n", 3);
  g_autofree char *reply = sg_test_client_reply (c);
  gint64 took_ms = (g_get_monotonic_time () - start) / 1000;
  g_test_message ("reply after %" G_GINT64_FORMAT " ms: %s", took_ms, reply);
  g_assert_nonnull (reply);
  g_assert_true (g_str_has_prefix (reply, "550 5.6.0 "));
  g_assert_nonnull (strstr (reply, "[mime.limit.parts]"));
  g_assert_cmpint (took_ms, <, 3000);   /* the bound; it took 7 s */
  g_string_free (msg, TRUE);

  /* Still serving, on the same connection and on a new one. */
  g_autofree char *rset = sg_test_client_command (c, "RSET");
  g_assert_true (g_str_has_prefix (rset, "250 "));
  g_autofree char *quit = sg_test_client_command (c, "QUIT");
  sg_test_client_free (c);
  const char *body = "From: a@client.example\r\nTo: b@example.org\r\n"
                     "Date: Tue, 1 Dec 2026 10:00:00 +0000\r\n"
                     "Message-ID: <after@client.example>\r\nSubject: after\r\n\r\nhello\r\n";
  const char *rcpts[] = { "b@example.org", NULL };
  g_autofree char *id = sg_test_send (s.port, "a@client.example", rcpts, body, -1);
  g_assert_nonnull (id);

  guint64 hwm = proc_status_kb (pid, "VmHWM:");
  guint64 rss = proc_status_kb (pid, "VmRSS:");
  g_test_message ("server VmHWM %" G_GUINT64_FORMAT " kB, VmRSS %" G_GUINT64_FORMAT " kB", hwm, rss);
  if (sg_test_spoolgate_sanitized ())
    g_test_message ("ASan build: RSS not checked");
  else
    g_assert_cmpuint (hwm, <, MAX_HWM_KB);    /* it peaked at 1.14 GB */
  g_assert_cmpuint (rss, <, MAX_HWM_KB / 2); /* and stayed there */
  sg_test_server_free (&s);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/abuse/parts/flood", test_part_flood);
  return g_test_run ();
}
