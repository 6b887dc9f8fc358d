/* test-sd-notify.c - sg_sd_notify against real unix datagram sockets: a
 * path socket and an abstract one receive exactly the state sent; no
 * NOTIFY_SOCKET is a quiet no-op; unusable addresses are errors. */
#include "common/sd_notify.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <gio/gio.h>

#define RECV_TIMEOUT_MS 5000

typedef struct {
  int   fd;
  char *dir;     /* (nullable) holds a path socket */
  char *value;   /* what NOTIFY_SOCKET is set to */
} Listener;

/* listen_path - a datagram socket bound to DIR/notify. */
static void
listen_path (Listener *l)
{
  l->dir = g_dir_make_tmp ("sg-notify-XXXXXX", NULL);
  g_assert_nonnull (l->dir);
  l->value = g_build_filename (l->dir, "notify", NULL);
  struct sockaddr_un a = { .sun_family = AF_UNIX };
  g_assert_cmpuint (strlen (l->value), <, sizeof a.sun_path);
  strcpy (a.sun_path, l->value);
  l->fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (l->fd, >=, 0);
  g_assert_cmpint (bind (l->fd, (struct sockaddr *) &a, sizeof a), ==, 0);
}

/* listen_abstract - a datagram socket with an abstract name unique to this run. */
static void
listen_abstract (Listener *l)
{
  l->value = g_strdup_printf ("@sg-test-notify-%ld-%u", (long) getpid (), g_random_int ());
  struct sockaddr_un a = { .sun_family = AF_UNIX };
  gsize n = strlen (l->value);
  memcpy (a.sun_path + 1, l->value + 1, n - 1);   /* leading NUL, no terminator */
  l->fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (l->fd, >=, 0);
  g_assert_cmpint (bind (l->fd, (struct sockaddr *) &a,
                         (socklen_t) (offsetof (struct sockaddr_un, sun_path) + n)), ==, 0);
}

/* receive - the next datagram, or NULL after RECV_TIMEOUT_MS (transfer full). */
static char *
receive (Listener *l)
{
  GPollFD p = { .fd = l->fd, .events = G_IO_IN };
  if (g_poll (&p, 1, RECV_TIMEOUT_MS) != 1)
    return NULL;
  char buf[4096];
  ssize_t n = recv (l->fd, buf, sizeof buf, 0);
  g_assert_cmpint (n, >=, 0);
  return g_strndup (buf, (gsize) n);
}

static void
listener_close (Listener *l)
{
  close (l->fd);
  if (l->dir)
    {
      g_unlink (l->value);
      g_rmdir (l->dir);
    }
  g_free (l->dir);
  g_free (l->value);
  g_unsetenv (SG_SD_NOTIFY_ENV);
}

/* round_trip - what sg_sd_notify sends arrives whole, twice in a row. */
static void
round_trip (Listener *l)
{
  g_autoptr(GError) error = NULL;
  g_setenv (SG_SD_NOTIFY_ENV, l->value, TRUE);
  g_assert_true (sg_sd_notify ("READY=1\nSTATUS=Accepting mail", &error));
  g_assert_no_error (error);
  g_autofree char *first = receive (l);
  g_assert_cmpstr (first, ==, "READY=1\nSTATUS=Accepting mail");
  g_assert_true (sg_sd_notifyf (&error, "RELOADING=1\nMONOTONIC_USEC=%d", 42));
  g_autofree char *second = receive (l);
  g_assert_cmpstr (second, ==, "RELOADING=1\nMONOTONIC_USEC=42");
}

static void
test_path_socket (void)
{
  Listener l = { 0 };
  listen_path (&l);
  round_trip (&l);
  listener_close (&l);
}

static void
test_abstract_socket (void)
{
  Listener l = { 0 };
  listen_abstract (&l);
  round_trip (&l);
  listener_close (&l);
}

static void
test_unset_is_noop (void)
{
  g_autoptr(GError) error = NULL;
  g_unsetenv (SG_SD_NOTIFY_ENV);
  g_assert_true (sg_sd_notify ("READY=1", &error));
  g_setenv (SG_SD_NOTIFY_ENV, "", TRUE);
  g_assert_true (sg_sd_notify ("READY=1", &error));
  g_assert_no_error (error);
  g_unsetenv (SG_SD_NOTIFY_ENV);
}

/* Table: NOTIFY_SOCKET values that must give an error, never a crash. */
static void
test_bad_addresses (void)
{
  g_autofree char *too_long = g_strnfill (200, 'x');
  g_autofree char *long_path = g_strconcat ("/", too_long, NULL);
  g_autofree char *long_abstract = g_strconcat ("@", too_long, NULL);
  const struct { const char *value; gint code; } cases[] = {
    { "relative/notify", G_IO_ERROR_NOT_SUPPORTED },
    { "vsock:2:1234", G_IO_ERROR_NOT_SUPPORTED },
    { "@", G_IO_ERROR_NOT_SUPPORTED },
    { long_path, G_IO_ERROR_NOT_SUPPORTED },
    { long_abstract, G_IO_ERROR_NOT_SUPPORTED },
    { "/nonexistent/sg-notify", G_IO_ERROR_NOT_FOUND },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_setenv (SG_SD_NOTIFY_ENV, cases[i].value, TRUE);
      gboolean ok = sg_sd_notify ("READY=1", &error);
      if (ok || !g_error_matches (error, G_IO_ERROR, cases[i].code))
        g_test_fail_printf ("NOTIFY_SOCKET=%.40s: got %s, want error %d",
                            cases[i].value, ok ? "success" : error->message, cases[i].code);
    }
  g_unsetenv (SG_SD_NOTIFY_ENV);
}

/* Nobody bound to the abstract name: the send fails with an error. */
static void
test_nobody_listening (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *value = g_strdup_printf ("@sg-test-nobody-%ld-%u", (long) getpid (),
                                            g_random_int ());
  g_setenv (SG_SD_NOTIFY_ENV, value, TRUE);
  g_assert_false (sg_sd_notify ("READY=1", &error));
  g_assert_nonnull (error);
  g_unsetenv (SG_SD_NOTIFY_ENV);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/common/sd-notify/path-socket", test_path_socket);
  g_test_add_func ("/common/sd-notify/abstract-socket", test_abstract_socket);
  g_test_add_func ("/common/sd-notify/unset-is-noop", test_unset_is_noop);
  g_test_add_func ("/common/sd-notify/bad-addresses", test_bad_addresses);
  g_test_add_func ("/common/sd-notify/nobody-listening", test_nobody_listening);
  return g_test_run ();
}
