/* test-spool-draft.c - drafts (spool_draft.c): a message written to tmp/ as
 * it arrives (appended through the writer thread or written in place),
 * read back through its mapping and committed as that same file.
 * Byte-exact .eml at sizes around the page, the O_DIRECT minimum and the
 * write chunk; the same inode ends in queue/ (no second copy); an
 * uncommitted draft leaves nothing; a recycled file is reused and cut to the
 * new size; real ENOSPC on a tiny tmpfs leaves nothing. */
#include "spool_test_util.h"
#include "spool/spool_private.h"

#include <errno.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER  "Received: from client ([192.0.2.1])\r\n\tby mx (spoolgate) with ESMTP id X;\r\n\tdate\r\n"
#define TINY_FS "size=64k"

/* pattern - len bytes of recognisable text with CRLF line ends (transfer full). */
static guint8 *
pattern (gsize len, guint seed)
{
  guint8 *p = g_malloc (len);
  for (gsize i = 0; i < len; i++)
    p[i] = (i % 78 == 76) ? '\r' : (i % 78 == 77) ? '\n' : (guint8) ('A' + (i * 7 + seed) % 26);
  return p;
}

/* commit_one - write HEADER then body into a draft in uneven pieces, check
 * the mapping, commit it, and check queue/<ID>.eml byte for byte. */
static void
commit_one (SgSpool *spool, const char *dir, gsize body_len)
{
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *body = pattern (body_len, (guint) body_len);
  gsize hlen = strlen (HEADER);
  g_autoptr(SgSpoolDraft) draft = sg_spool_draft_new (spool, &error);
  g_assert_no_error (error);
  g_assert_true (sg_spool_draft_write (draft, (const guint8 *) HEADER, hlen, &error));
  /* Pieces alternate between the writer thread and this one. */
  guint piece = 0;
  for (gsize pos = 0, step = 1; pos < body_len; step = step * 3 + 1, piece++)
    {
      gsize n = MIN (step, body_len - pos);
      if (piece % 2 == 0)
        g_assert_true (sg_spool_draft_append (draft, g_memdup2 (body + pos, n), n, &error));
      else
        g_assert_true (sg_spool_draft_write (draft, body + pos, n, &error));
      pos += n;
    }
  g_assert_cmpuint (sg_spool_draft_size (draft), ==, hlen + body_len);

  gsize mlen = 0;
  const guint8 *m = sg_spool_draft_map (draft, &mlen, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (m, hlen, HEADER, hlen);
  g_assert_cmpmem (m + hlen, mlen - hlen, body, body_len);
  sg_spool_draft_unmap (draft);

  /* The inodes in tmp/ now: the .eml must end up as one of them. */
  g_autofree char *tmp_dir = g_build_filename (dir, "tmp", NULL);
  g_autoptr(GPtrArray) tmp_names = sg_test_list (tmp_dir, NULL);
  g_autoptr(GArray) inodes = g_array_new (FALSE, FALSE, sizeof (ino_t));
  for (guint i = 0; i < tmp_names->len; i++)
    {
      g_autofree char *path = g_build_filename (tmp_dir, g_ptr_array_index (tmp_names, i), NULL);
      struct stat st;
      g_assert_cmpint (stat (path, &st), ==, 0);
      g_array_append_val (inodes, st.st_ino);
    }

  g_autoptr(SgMeta) meta = sg_test_sample_meta ();
  g_assert_true (sg_spool_commit_draft (spool, meta, g_steal_pointer (&draft), &error));
  g_assert_no_error (error);
  g_assert_cmpuint (meta->message_size, ==, hlen + body_len);
  g_autofree char *want_sha = sg_spool_sha256_hex ((const guint8 *) HEADER, hlen, body, body_len);
  g_assert_cmpstr (meta->sha256, ==, want_sha);

  g_autofree char *eml = sg_spool_message_path (spool, meta->queue_id);
  g_autofree char *got = NULL;
  gsize got_len = 0;
  g_assert_true (g_file_get_contents (eml, &got, &got_len, NULL));
  g_assert_cmpuint (got_len, ==, hlen + body_len);
  g_assert_cmpmem (got, hlen, HEADER, hlen);
  g_assert_cmpmem (got + hlen, got_len - hlen, body, body_len);
  struct stat after;
  g_assert_cmpint (stat (eml, &after), ==, 0);
  gboolean same = FALSE;                       /* the draft's file, not a copy */
  for (guint i = 0; i < inodes->len; i++)
    same |= g_array_index (inodes, ino_t, i) == after.st_ino;
  g_assert_true (same);
  g_assert_cmpuint (sg_test_count (tmp_dir, NULL), <, tmp_names->len);
  g_autoptr(SgMeta) back = sg_spool_load_meta (spool, meta->queue_id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back->sha256, ==, want_sha);
}

/* /spool/draft/commit - byte-exact at every interesting size. */
static void
test_commit_sizes (void)
{
  static const gsize sizes[] = {
    0, 1, 4095, 4096, 4097,
    SG_SPOOL_DIRECT_MIN - 1, SG_SPOOL_DIRECT_MIN, SG_SPOOL_DIRECT_MIN + 1,
    SG_SPOOL_DIRECT_CHUNK * 2 - 4096, SG_SPOOL_DIRECT_CHUNK * 2 + 4096 + 17,
    10u * 1000u * 1000u,
  };
  g_autofree char *dir = sg_test_tmpdir ();
  g_autoptr(GError) error = NULL;
  SgSpool *spool = sg_spool_open (dir, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    commit_one (spool, dir, sizes[i]);
  sg_spool_free (spool);
  sg_test_rmtree (dir);
}

/* /spool/draft/abandon - a draft freed without commit (a refused or
 * interrupted message) leaves nothing in tmp/ or queue/. */
static void
test_abandon (void)
{
  g_autofree char *dir = sg_test_tmpdir ();
  g_autofree char *tmp = g_build_filename (dir, "tmp", NULL);
  g_autofree char *queue = g_build_filename (dir, "queue", NULL);
  g_autoptr(GError) error = NULL;
  SgSpool *spool = sg_spool_open (dir, &error);
  g_assert_no_error (error);
  SgSpoolDraft *draft = sg_spool_draft_new (spool, &error);
  g_assert_no_error (error);
  g_assert_true (sg_spool_draft_write (draft, (const guint8 *) HEADER, strlen (HEADER), &error));
  gsize len;
  g_assert_nonnull (sg_spool_draft_map (draft, &len, &error));
  g_assert_cmpuint (sg_test_count (tmp, NULL), ==, 1);
  sg_spool_draft_free (draft);   /* still mapped: free unmaps too */
  g_assert_cmpuint (sg_test_count (tmp, NULL), ==, 0);
  g_assert_cmpuint (sg_test_count (queue, NULL), ==, 0);
  sg_spool_free (spool);
  sg_test_rmtree (dir);
}

/* /spool/draft/recycled - a draft takes a retired file from the pool and
 * nothing of the old message survives in it. */
static void
test_recycled (void)
{
  g_autofree char *dir = sg_test_tmpdir ();
  g_autoptr(GError) error = NULL;
  SgSpool *spool = sg_spool_open (dir, &error);
  g_assert_no_error (error);
  g_autofree guint8 *old = pattern (200000, 3);
  g_autoptr(GBytes) h = g_bytes_new_static (HEADER, strlen (HEADER));
  g_autoptr(GBytes) b = g_bytes_new_static (old, 200000);
  g_autoptr(SgMeta) meta = sg_test_sample_meta ();
  g_assert_true (sg_spool_commit (spool, meta, h, b, &error));
  g_assert_true (sg_spool_retire (spool, meta->queue_id, &error));
  g_assert_no_error (error);
  guint pooled = sg_spool_pool_size (spool);
  g_assert_cmpuint (pooled, >, 0);
  commit_one (spool, dir, 1000);
  g_assert_cmpuint (pooled, ==, 2);
  g_assert_cmpuint (sg_spool_pool_size (spool), ==, 0);   /* the draft took one, the .json the other */
  sg_spool_free (spool);
  sg_test_rmtree (dir);
}

/* /spool/draft/nospace - real ENOSPC while streaming: NOSPACE, and freeing
 * the draft leaves nothing behind. */
static void
test_nospace (void)
{
  g_autofree char *mnt = sg_test_mount_tmpfs (TINY_FS);
  if (mnt == NULL)
    return;
  g_autofree char *dir = g_build_filename (mnt, "spool", NULL);
  g_autofree char *tmp = g_build_filename (dir, "tmp", NULL);
  g_autoptr(GError) error = NULL;
  SgSpool *spool = sg_spool_open (dir, &error);
  g_assert_no_error (error);
  SgSpoolDraft *draft = sg_spool_draft_new (spool, &error);
  g_assert_no_error (error);
  g_autofree guint8 *chunk = pattern (16384, 1);
  gboolean ok = TRUE;
  for (guint i = 0; ok && i < 64; i++)
    ok = sg_spool_draft_write (draft, chunk, 16384, &error);
  g_assert_false (ok);
  g_assert_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOSPACE);
  g_clear_error (&error);
  sg_spool_draft_free (draft);
  g_assert_cmpuint (sg_test_count (tmp, NULL), ==, 0);

  /* The same through the writer thread: the error comes back from a later
   * append or from the wait, never as success. */
  draft = sg_spool_draft_new (spool, &error);
  g_assert_no_error (error);
  ok = TRUE;
  for (guint i = 0; ok && i < 64; i++)
    ok = sg_spool_draft_append (draft, g_memdup2 (chunk, 16384), 16384, &error);
  if (ok)
    ok = sg_spool_draft_wait (draft, &error);
  g_assert_false (ok);
  g_assert_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOSPACE);
  gsize len;
  g_clear_error (&error);
  g_assert_null (sg_spool_draft_map (draft, &len, &error));
  g_assert_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOSPACE);
  sg_spool_draft_free (draft);
  sg_spool_free (spool);       /* the writer is done with it now */
  g_assert_cmpuint (sg_test_count (tmp, NULL), ==, 0);
  spool = NULL;
  sg_test_unmount_tmpfs (mnt);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/spool/draft/commit", test_commit_sizes);
  g_test_add_func ("/spool/draft/abandon", test_abandon);
  g_test_add_func ("/spool/draft/recycled", test_recycled);
  g_test_add_func ("/spool/draft/nospace", test_nospace);
  return g_test_run ();
}
