/* test-log.c - sg_log_sanitize: what untrusted text looks like in a log
 * line. Valid UTF-8 is logged as it is (a SMTPUTF8 address reads as
 * written); invalid bytes and control characters become \xNN. And the
 * writer: RFC 3164 lines tagged spoolgate/SERVICE as Postfix's, and a
 * message's lines held back until its arrival lines are written. */
#include "common/log.h"

#include <string.h>
#include <unistd.h>

static void
check (const char *in, gssize len, gsize max, const char *want)
{
  g_autofree char *got = sg_log_sanitize (in, len, max);
  g_assert_cmpstr (got, ==, want);
}

static void
test_utf8_kept (void)
{
  check ("j\xc3\xb6rg@b\xc3\xbc" "cher.example", -1, 256, "j\xc3\xb6rg@b\xc3\xbc" "cher.example");
  check ("\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a", -1, 256,
         "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a");
  check ("plain@example.com", -1, 256, "plain@example.com");
}

static void
test_invalid_escaped (void)
{
  /* a lone continuation byte, a truncated sequence, an overlong encoding */
  check ("a\x80z", -1, 256, "a\\x80z");
  check ("j\xc3", -1, 256, "j\\xC3");
  check ("\xc0\xafx", -1, 256, "\\xC0\\xAFx");
}

static void
test_controls_escaped (void)
{
  check ("a\r\nb\tc\x7f", -1, 256, "a\\x0D\\x0Ab\\x09c\\x7F");
  check ("c1\xc2\x85", -1, 256, "c1\\xC2\\x85");            /* NEL */
  check ("ls\xe2\x80\xa8", -1, 256, "ls\\xE2\\x80\\xA8");    /* LINE SEPARATOR */
  check ("nul\0after", 9, 256, "nul\\x00after");
}

static void
test_cut_at_character (void)
{
  /* never half a character: the cut comes before or after the whole of it */
  check ("ab\xc3\xb6" "cd", -1, 3, "ab\xc3\xb6...");
  check ("abcdef", -1, 3, "abc...");
}

static void
test_format_stderr (void)
{
  if (g_test_subprocess ())
    {
      g_log_set_always_fatal (G_LOG_FATAL_MASK);   /* g_test_init made warnings fatal */
      sg_log_set_target (SG_LOG_TO_STDERR);
      sg_log_init (SG_LOG_INFO);
      sg_log_info (SG_LOG_SMTPD, "connect from unknown[192.0.2.1]");
      sg_log_warning (SG_LOG_QMGR, "ABC: cannot lock");
      g_message ("stopped");                               /* the default domain: master */
      g_log ("GLib-GIO", G_LOG_LEVEL_WARNING, "odd");      /* not ours: master, domain first */
      sg_log_debug (SG_LOG_SMTPD, "not at level info");
      sg_log_info (SG_LOG_CLEANUP, "two\nlines");
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  /* RFC 3164: "Mmm dd hh:mm:ss HOST spoolgate/SERVICE[PID]: TEXT" (glob: no regex in 2.74's traps) */
  g_test_trap_assert_stderr ("??? ?? ??:??:?? * spoolgate/smtpd[*]: connect from unknown[192.0.2.1]\n*");
  g_test_trap_assert_stderr ("*\n??? ?? ??:??:?? * spoolgate/qmgr[*]: warning: ABC: cannot lock\n*");
  g_test_trap_assert_stderr ("*\n??? ?? ??:??:?? * spoolgate/master[*]: stopped\n*");
  g_test_trap_assert_stderr ("*\n??? ?? ??:??:?? * spoolgate/master[*]: warning: GLib-GIO: odd\n*");
  g_test_trap_assert_stderr ("*\n??? ?? ??:??:?? * spoolgate/cleanup[*]: two lines\n");
  g_test_trap_assert_stderr_unmatched ("*not at level info*");
}

/* Lines about a held message wait, in order, for the lines that must come
 * first; other messages' lines do not. */
static void
test_hold (void)
{
  if (g_test_subprocess ())
    {
      sg_log_set_target (SG_LOG_TO_STDERR);
      sg_log_init (SG_LOG_INFO);
      sg_log_hold ("ID1");
      sg_log_info (SG_LOG_CLEANUP, "ID1: warning one");
      sg_log_info (SG_LOG_CLEANUP, "ID2: not held");
      sg_log_info (SG_LOG_CLEANUP, "ID1: warning two");
      SgLogHeld *held = sg_log_unhold ("ID1");
      sg_log_info (SG_LOG_QMGR, "ID1: from=<a@b>, size=1, nrcpt=1 (queue active)");
      sg_log_held_write (held);
      sg_log_info (SG_LOG_QMGR, "ID1: removed");
      sg_log_release ("ID1");   /* nothing held any more: nothing happens */
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*/cleanup[*]: ID2: not held\n*/qmgr[*]: ID1: from=<a@b>, size=1, nrcpt=1 "
                             "(queue active)\n*/cleanup[*]: ID1: warning one\n*/cleanup[*]: "
                             "ID1: warning two\n*/qmgr[*]: ID1: removed\n");
}

static void
test_client (void)
{
  g_autofree char *a = sg_log_client (NULL, "192.0.2.1");
  g_autofree char *b = sg_log_client ("mx.example.org", "2001:db8::1");
  g_assert_cmpstr (a, ==, "unknown[192.0.2.1]");
  g_assert_cmpstr (b, ==, "mx.example.org[2001:db8::1]");
  SgLogTarget t;
  g_assert_true (sg_log_target_parse ("syslog", &t) && t == SG_LOG_TO_SYSLOG);
  g_assert_true (sg_log_target_parse ("stderr", &t) && t == SG_LOG_TO_STDERR);
  g_assert_false (sg_log_target_parse ("journal", &t));
}

/* proto= as Postfix writes it: only a HELO session is SMTP; every RFC 3848
 * WITH value that began with EHLO (UTF8SMTP included) is ESMTP. */
static void
test_proto (void)
{
  g_assert_cmpstr (sg_log_proto ("SMTP"), ==, "SMTP");
  const char *ehlo[] = { "ESMTP", "ESMTPS", "ESMTPA", "ESMTPSA", "UTF8SMTP", "UTF8SMTPS", "UTF8SMTPA", NULL };
  for (guint i = 0; ehlo[i]; i++)
    g_assert_cmpstr (sg_log_proto (ehlo[i]), ==, "ESMTP");
  g_assert_cmpstr (sg_log_proto (NULL), ==, "ESMTP");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/log/sanitize/utf8-kept", test_utf8_kept);
  g_test_add_func ("/log/proto", test_proto);
  g_test_add_func ("/log/sanitize/invalid-escaped", test_invalid_escaped);
  g_test_add_func ("/log/sanitize/controls-escaped", test_controls_escaped);
  g_test_add_func ("/log/sanitize/cut-at-character", test_cut_at_character);
  g_test_add_func ("/log/format/stderr", test_format_stderr);
  g_test_add_func ("/log/hold", test_hold);
  g_test_add_func ("/log/client", test_client);
  return g_test_run ();
}
