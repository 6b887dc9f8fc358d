/* harness_peers.c - what the integration tests need besides spoolgate:
 * whether an optional Python package is there (else skip), the independent
 * servers they talk to (tests/tools/smarthost.py on python3-aiosmtpd,
 * Postfix's smtp-sink), started and waited for, and certificates made now
 * by openssl. Starting and waiting only; what each test checks stays in it. */
#include "harness.h"

#include <glib/gstdio.h>

const char *
sg_test_python_bin (void)
{
  const char *py = g_getenv ("SG_PYTHON");
  return py ? py : "/usr/bin/python3";
}

/* have_module - python3 imports module, else skip naming the package. */
static gboolean
have_module (const char *module, const char *package)
{
  g_autofree char *import = g_strdup_printf ("import %s", module);
  const char *argv[] = { sg_test_python_bin (), "-c", import, NULL };
  if (sg_test_run (argv, NULL, NULL) == 0)
    return TRUE;
  g_test_skip_printf ("%s is not installed (apt-get install %s)", package, package);
  return FALSE;
}

gboolean
sg_test_have_aiosmtpd (void)
{
  return have_module ("aiosmtpd", "python3-aiosmtpd");
}

gboolean
sg_test_have_pymilter (void)
{
  return have_module ("Milter", "python3-milter");
}

GSubprocess *
sg_test_smarthost (guint16 port, const char *dir, const char *log, const char *const *args)
{
  g_autofree char *script = g_test_build_filename (G_TEST_DIST, "tools", "smarthost.py", NULL);
  g_autofree char *port_s = g_strdup_printf ("%u", port);
  g_autofree char *ready = g_build_filename (dir, "ready", NULL);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_unlink (ready);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  const char *head[] = { sg_test_python_bin (), script, "serve", "--port", port_s, "--dir", dir };
  for (guint i = 0; i < G_N_ELEMENTS (head); i++)
    g_ptr_array_add (argv, (gpointer) head[i]);
  for (guint i = 0; args && args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  GSubprocess *p = sg_test_spawn ((const char *const *) argv->pdata, log);
  if (!sg_test_wait_file (ready, SG_TEST_WAIT_MS))
    {
      g_autofree char *text = sg_test_read_file (log, NULL);
      g_error ("smarthost.py on port %u did not start:\n%s", port, text);
    }
  return p;
}

GSubprocess *
sg_test_smtp_sink (guint16 port, const char *dump_dir, const char *user, const char *option)
{
  g_assert_cmpint (g_mkdir_with_parents (dump_dir, 0700), ==, 0);
  g_autofree char *template = g_build_filename (dump_dir, "%M.", NULL);
  g_autofree char *addr = g_strdup_printf ("127.0.0.1:%u", port);
  g_autofree char *log = g_strconcat (dump_dir, ".log", NULL);
  const char *argv[] = { SG_TEST_SMTP_SINK, "-u", user, "-d", template, addr, "100", NULL, NULL };
  if (option)   /* before the address: smtp-sink stops reading flags there */
    {
      memmove (argv + 2, argv + 1, 6 * sizeof *argv);
      argv[1] = option;
    }
  GSubprocess *p = sg_test_spawn (argv, log);
  if (!sg_test_wait_port (port, SG_TEST_WAIT_MS))
    {
      g_autofree char *text = sg_test_read_file (log, NULL);
      g_error ("smtp-sink on port %u did not start:\n%s", port, text);
    }
  return p;
}

void
sg_test_make_cert (const char *cert, const char *key, const char *cn, gboolean localhost)
{
  g_autofree char *subject = g_strdup_printf ("/CN=%s", cn);
  const char *argv[] = { "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                         "-keyout", key, "-out", cert, "-days", "2", "-subj", subject,
                         localhost ? "-addext" : NULL,
                         "subjectAltName=DNS:localhost,IP:127.0.0.1", NULL };
  g_autofree char *err = NULL;
  if (sg_test_run (argv, NULL, &err) != 0)
    g_error ("openssl req for %s failed: %s", cn, err);
}

GSubprocess *
sg_test_tool_server (const char *script, const char *const *args, const char *portfile,
                     const char *out, guint16 *port)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "tools", script, NULL);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) sg_test_python_bin ());
  g_ptr_array_add (argv, path);
  for (guint i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  GSubprocess *p = sg_test_spawn ((const char *const *) argv->pdata, out);
  if (!sg_test_wait_file (portfile, SG_TEST_WAIT_MS))
    {
      g_autofree char *text = sg_test_read_file (out, NULL);
      g_error ("%s did not start:\n%s", script, text);
    }
  g_autofree char *text = sg_test_read_file (portfile, NULL);
  *port = (guint16) g_ascii_strtoull (text, NULL, 10);
  g_assert_cmpuint (*port, >, 0);
  return p;
}
