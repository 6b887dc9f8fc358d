/* test-notify.c - the real `spoolgate serve` under a pretend service
 * manager: with NOTIFY_SOCKET naming our datagram socket it says READY=1
 * once it listens with the spool open, RELOADING=1 then READY=1 around each
 * SIGHUP (also when the new file is refused), and STOPPING=1 at SIGTERM. */
#include "harness.h"

#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define NOTIFY_ENV      "NOTIFY_SOCKET"
#define RECV_TIMEOUT_MS 10000

/* bind_abstract - a datagram socket on a fresh abstract name, set in
 * NOTIFY_SOCKET for the server we start next. */
static int
bind_abstract (void)
{
  g_autofree char *name = g_strdup_printf ("@sg-it-notify-%ld-%u", (long) getpid (), g_random_int ());
  struct sockaddr_un a = { .sun_family = AF_UNIX };
  gsize n = strlen (name);
  memcpy (a.sun_path + 1, name + 1, n - 1);
  int fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &a,
                         (socklen_t) (offsetof (struct sockaddr_un, sun_path) + n)), ==, 0);
  g_setenv (NOTIFY_ENV, name, TRUE);
  return fd;
}

/* next_message - the next datagram (transfer full); fails the test on timeout. */
static char *
next_message (int fd)
{
  GPollFD p = { .fd = fd, .events = G_IO_IN };
  if (g_poll (&p, 1, RECV_TIMEOUT_MS) != 1)
    g_error ("no notification within %d ms", RECV_TIMEOUT_MS);
  char buf[4096];
  ssize_t n = recv (fd, buf, sizeof buf, 0);
  g_assert_cmpint (n, >, 0);
  return g_strndup (buf, (gsize) n);
}

static void
assert_prefix (const char *got, const char *want)
{
  if (!g_str_has_prefix (got, want))
    g_error ("notification \"%s\", want it to start with \"%s\"", got, want);
}

static void
test_lifecycle (void)
{
  int fd = bind_abstract ();
  SgTestServer s;
  sg_test_server_start (&s, "[limits]\nmax_recipients = 10\n");
  g_unsetenv (NOTIFY_ENV);

  g_autofree char *ready = next_message (fd);
  g_autofree char *want_ready = g_strdup_printf ("READY=1\nSTATUS=Accepting mail on 127.0.0.1:%u", s.port);
  g_assert_cmpstr (ready, ==, want_ready);
  g_autofree char *queue = g_build_filename (s.spool, "queue", NULL);
  g_assert_true (g_file_test (queue, G_FILE_TEST_IS_DIR));

  /* a good reload */
  g_subprocess_send_signal (s.proc, SIGHUP);
  g_autofree char *reloading = next_message (fd);
  assert_prefix (reloading, "RELOADING=1\nMONOTONIC_USEC=");
  g_autofree char *reloaded = next_message (fd);
  g_autofree char *want_reloaded = g_strdup_printf ("%s (configuration reloaded)", want_ready);
  g_assert_cmpstr (reloaded, ==, want_reloaded);

  /* a refused file: still READY again, and the status says so */
  g_assert_true (g_file_set_contents (s.config, "[limits]\nno_such_key = 1\n", -1, NULL));
  g_subprocess_send_signal (s.proc, SIGHUP);
  g_autofree char *reloading2 = next_message (fd);
  assert_prefix (reloading2, "RELOADING=1\n");
  g_autofree char *kept = next_message (fd);
  assert_prefix (kept, "READY=1\nSTATUS=Reload failed, running configuration kept: ");

  g_subprocess_send_signal (s.proc, SIGTERM);
  g_autofree char *stopping = next_message (fd);
  assert_prefix (stopping, "STOPPING=1\n");
  g_subprocess_wait (s.proc, NULL, NULL);
  g_assert_cmpint (g_subprocess_get_exit_status (s.proc), ==, 0);
  g_clear_object (&s.proc);
  sg_test_server_free (&s);
  close (fd);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/notify/serve/lifecycle", test_lifecycle);
  return g_test_run ();
}
