/* spool_test_util.c - helpers shared by the spool tests (see the header):
 * scratch directories, a spool opened in one, a small tmpfs, sample
 * metadata, listings and the schema check. */
#include "spool_test_util.h"

#include <errno.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_PYTHON "/usr/bin/python3"

/* sg_test_tmpdir - a fresh empty directory under $TMPDIR (transfer full). */
char *
sg_test_tmpdir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("sg-spool-test-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

/* sg_test_rmtree - remove path and everything below it. */
void
sg_test_rmtree (const char *path)
{
  struct stat st;

  if (lstat (path, &st) != 0)
    return;
  if (S_ISDIR (st.st_mode))
    {
      GDir *dir;
      const char *name;

      chmod (path, 0700);
      dir = g_dir_open (path, 0, NULL);
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          sg_test_rmtree (child);
        }
      if (dir != NULL)
        g_dir_close (dir);
      if (rmdir (path) != 0)
        g_test_message ("rmdir %s: %s", path, g_strerror (errno));
    }
  else if (unlink (path) != 0)
    g_test_message ("unlink %s: %s", path, g_strerror (errno));
}

/* sg_test_sample_meta - a fully filled metadata record with a fresh ID. */
SgMeta *
sg_test_sample_meta (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  SgMeta *meta = sg_meta_new ();
  char id[SG_QUEUE_ID_LEN + 1];
  static const char validation[] =
    "{ \"policy\": \"strict\", \"verdict\": \"accepted\", \"violations\": ["
    "  { \"rule\": \"header.date.missing\", \"rfc\": \"RFC 5322 3.6\", \"text\": \"no Date\","
    "    \"location\": null, \"action\": \"accept\" } ] }";

  sg_queue_id_generate (id);
  meta->queue_id = g_strdup (id);
  meta->arrival_time_us = sg_queue_id_time (id);
  meta->sender = g_strdup ("alice@example.org");
  sg_meta_add_recipient (meta, "bob@example.net");
  sg_meta_add_recipient (meta, "carol@example.com");
  meta->esmtp_size = 1234;
  meta->esmtp_body = g_strdup ("8BITMIME");
  meta->smtputf8 = TRUE;
  meta->client_address = g_strdup ("192.0.2.7");
  meta->client_port = 50123;
  meta->helo_name = g_strdup ("client.example.org");
  meta->protocol = g_strdup ("UTF8SMTPS");
  meta->tls_protocol = g_strdup ("TLSv1.3");
  meta->tls_cipher = g_strdup ("TLS_AES_256_GCM_SHA384");
  json_parser_load_from_data (parser, validation, -1, &error);
  g_assert_no_error (error);
  meta->validation = json_node_copy (json_parser_get_root (parser));
  return meta;
}

/* sg_test_list - sorted names in dir (ending in suffix if non-NULL) (transfer full). */
GPtrArray *
sg_test_list (const char *dir, const char *suffix)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    if (suffix == NULL || g_str_has_suffix (name, suffix))
      g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);
  return names;
}

/* sg_test_count - how many names in dir end in suffix (NULL = all). */
guint
sg_test_count (const char *dir, const char *suffix)
{
  g_autoptr(GPtrArray) names = sg_test_list (dir, suffix);

  return names->len;
}

SgSpool *
sg_test_spool_new (char **dir)
{
  g_autoptr(GError) error = NULL;

  *dir = sg_test_tmpdir ();
  SgSpool *spool = sg_spool_open (*dir, &error);
  g_assert_no_error (error);
  return spool;
}

void
sg_test_spool_use_syncfs (SgSpool *spool, SgSpoolSyncMethod method)
{
  g_test_expect_message ("spoolgate", G_LOG_LEVEL_WARNING, "*not a file system of its own*");
  sg_spool_set_sync_method (spool, method);
  g_test_assert_expected_messages ();
}

char *
sg_test_mount_tmpfs (const char *options)
{
  char *mnt = sg_test_tmpdir ();

  if (mount ("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, options) == 0)
    return mnt;
  g_test_skip_printf ("cannot mount a tmpfs (%s); needs root and CAP_SYS_ADMIN", g_strerror (errno));
  sg_test_rmtree (mnt);
  g_free (mnt);
  return NULL;
}

void
sg_test_unmount_tmpfs (const char *mnt)
{
  if (umount2 (mnt, MNT_DETACH) != 0)
    g_test_message ("umount %s: %s", mnt, g_strerror (errno));
  sg_test_rmtree (mnt);
}

/* sg_test_validate - run the schema validator on files; its exit status. */
int
sg_test_validate (const char *const *files, char **errors)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  const char *python = g_getenv ("SG_PYTHON");
  int status = -1;

  g_ptr_array_add (argv, g_strdup (python && *python ? python : DEFAULT_PYTHON));
  g_ptr_array_add (argv, g_test_build_filename (G_TEST_DIST, "tools", "validate_schema.py", NULL));
  g_ptr_array_add (argv, g_test_build_filename (G_TEST_DIST, "..", "schemas",
                                                "spool-metadata.schema.json", NULL));
  for (guint i = 0; files[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (files[i]));
  g_ptr_array_add (argv, NULL);
  g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL,
                errors, &status, &error);
  g_assert_no_error (error);
  if (WIFEXITED (status))
    return WEXITSTATUS (status);
  return -1;
}
