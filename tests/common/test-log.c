/* test-log.c - sg_log_sanitize: what untrusted text looks like in a log
 * line. Valid UTF-8 is logged as it is (a SMTPUTF8 address reads as
 * written); invalid bytes and control characters become \xNN. */
#include "common/log.h"

#include <string.h>

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

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/log/sanitize/utf8-kept", test_utf8_kept);
  g_test_add_func ("/log/sanitize/invalid-escaped", test_invalid_escaped);
  g_test_add_func ("/log/sanitize/controls-escaped", test_controls_escaped);
  g_test_add_func ("/log/sanitize/cut-at-character", test_cut_at_character);
  return g_test_run ();
}
