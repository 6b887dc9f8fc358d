/* test-spool-flush.c - what is on stable storage when a spool operation
 * returns, seen at the block layer. A spool on a loop-mounted ext4 image of
 * our own (with and without a journal) commits messages (in memory and as
 * drafts), rewrites their metadata, retires and removes them, while a
 * tracefs instance of ours records the kernel's block_rq_issue and
 * block_rq_complete events. For each operation, every write it caused must
 * have completed before a cache flush was issued, and that flush must have
 * completed, before the call returned: a write that completes after the last
 * flush sits in the device's volatile cache when SMTP says 250 (or when the
 * queue runner goes on as if a delivery or removal were recorded). Needs
 * root (loop mount, tracefs): skipped otherwise. */
#include "spool_test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define TRACEFS          "/sys/kernel/tracing"
#define IMAGE_BYTES      (64 * 1024 * 1024)
#define ROUNDS           16                   /* traced, after one untraced */
#define SMALL_BODY       (4u * 1024u)
#define DRAFT_BODY       (2u * 1024u * 1024u) /* past data_spill_size: a draft */
#define GROUP            12                   /* commits submitted at once: group commit */

typedef struct {
  gboolean journal;
  SgSpoolSyncMethod method;
} Case;

typedef struct {
  gboolean flush;        /* a cache flush (no sectors) rather than a write */
  guint64 sector;
  char rwbs[16];
  gdouble issued, completed;   /* completed < 0: not (yet) */
} Request;

/* write_file - write text to path; FALSE with a test message on failure. */
static gboolean
write_file (const char *path, const char *text)
{
  int fd = open (path, O_WRONLY | O_CLOEXEC);
  gboolean ok = fd >= 0 && write (fd, text, strlen (text)) == (ssize_t) strlen (text);

  if (!ok)
    g_test_message ("write %s: %s", path, g_strerror (errno));
  if (fd >= 0)
    close (fd);
  return ok;
}

/* run - run argv, and assert that it exits 0. */
static void
run (const char *const *argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  int status = 0;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                NULL, NULL, NULL, &err, &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("%s failed: %s", argv[0], err);
}

/* mount_image - a fresh ext4 image (journal or not) mounted on a fresh
 * directory through a loop device (transfer full); NULL with the test skipped
 * where we cannot mount. */
static char *
mount_image (gboolean journal, const char *dir)
{
  g_autofree char *img = g_build_filename (dir, "fs.img", NULL);
  char *mnt = g_build_filename (dir, "mnt", NULL);
  int fd = open (img, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, IMAGE_BYTES), ==, 0);
  close (fd);
  g_assert_cmpint (g_mkdir (mnt, 0700), ==, 0);
  const char *mkfs[] = { "mkfs.ext4", "-q", "-F", "-O", journal ? "has_journal" : "^has_journal",
                         "-b", "4096", "-E", "nodiscard", img, NULL };
  run (mkfs);
  const char *mount[] = { "mount", "-o", "loop", img, mnt, NULL };
  run (mount);
  return mnt;
}

/* trace_open - a tracefs instance of ours recording block requests and our
 * markers (transfer full: its directory), or NULL with the test skipped. */
static char *
trace_open (void)
{
  struct stat st;

  if (stat (TRACEFS "/instances", &st) != 0
      && mount ("tracefs", TRACEFS, "tracefs", 0, NULL) != 0)
    {
      g_test_skip_printf ("no tracefs at %s (%s)", TRACEFS, g_strerror (errno));
      return NULL;
    }
  char *inst = g_strdup_printf (TRACEFS "/instances/spoolgate-flush-%d", (int) getpid ());
  if (g_mkdir (inst, 0700) != 0)
    {
      g_test_skip_printf ("cannot make a tracefs instance %s: %s", inst, g_strerror (errno));
      g_free (inst);
      return NULL;
    }
  g_autofree char *issue = g_build_filename (inst, "events/block/block_rq_issue/enable", NULL);
  g_autofree char *complete = g_build_filename (inst, "events/block/block_rq_complete/enable", NULL);
  g_autofree char *size = g_build_filename (inst, "buffer_size_kb", NULL);
  g_assert_true (write_file (size, "4096"));
  g_assert_true (write_file (issue, "1"));
  g_assert_true (write_file (complete, "1"));
  return inst;
}

/* trace_close - stop and remove the instance. */
static void
trace_close (char *inst)
{
  g_autofree char *issue = g_build_filename (inst, "events/block/block_rq_issue/enable", NULL);
  g_autofree char *complete = g_build_filename (inst, "events/block/block_rq_complete/enable", NULL);

  write_file (issue, "0");
  write_file (complete, "0");
  if (rmdir (inst) != 0)
    g_test_message ("rmdir %s: %s", inst, g_strerror (errno));
  g_free (inst);
}

/* mark - a line in the instance's trace. */
static void
mark (const char *inst, const char *text)
{
  g_autofree char *path = g_build_filename (inst, "trace_marker", NULL);

  g_assert_true (write_file (path, text));
}

/* check_window - in the trace between "BEGIN label" and "END label": every
 * write to dev (the file system is ours alone, and clean at BEGIN, so every
 * write is the operation's) completed before some flush of dev was issued, and that flush completed before END (with a journal, only the
 * writes that are not metadata). Counts what it saw. */
static void
check_window (GPtrArray *lines, const char *label, const char *dev, gboolean journal,
              guint *writes, guint *flushes)
{
  g_autoptr(GRegex) re = g_regex_new ("-\\d+\\s+\\[\\d+\\]\\s+\\S+\\s+([0-9.]+): "
                                      "(block_rq_issue|block_rq_complete|tracing_mark_write): (.*)$",
                                      0, 0, NULL);
  g_autofree char *begin = g_strconcat ("BEGIN ", label, NULL), *end = g_strconcat ("END ", label, NULL);
  g_autofree char *begin_line = g_strconcat (": ", begin, NULL);
  g_autoptr(GArray) reqs = g_array_new (FALSE, FALSE, sizeof (Request));
  gboolean in = FALSE;
  gdouble end_at = -1;
  guint i = 0;

  /* skip to the window's marker without the regex: the trace is long */
  while (i < lines->len && !g_str_has_suffix (lines->pdata[i], begin_line))
    i++;
  for (; i < lines->len && end_at < 0; i++)
    {
      g_autoptr(GMatchInfo) m = NULL;
      if (!g_regex_match (re, lines->pdata[i], 0, &m))
        continue;
      g_autofree char *ts = g_match_info_fetch (m, 1);
      g_autofree char *event = g_match_info_fetch (m, 2), *rest = g_match_info_fetch (m, 3);
      gdouble t = g_ascii_strtod (ts, NULL);
      char rdev[32], rwbs[16];
      guint64 sector;
      guint nsect;

      if (strcmp (event, "tracing_mark_write") == 0)
        {
          if (strcmp (rest, begin) == 0)
            in = TRUE;
          else if (in && strcmp (rest, end) == 0)
            end_at = t;
          continue;
        }
      if (!in)
        continue;
      gboolean issue = strcmp (event, "block_rq_issue") == 0;
      /* issue:    DEV RWBS BYTES () SECTOR + N ...
       * complete: DEV RWBS () SECTOR + N ... (a flush: sector 2^64-1) */
      int got = issue ? sscanf (rest, "%31s %15s %*u () %" G_GUINT64_FORMAT " + %u", rdev, rwbs, &sector, &nsect)
                      : sscanf (rest, "%31s %15s () %" G_GUINT64_FORMAT " + %u", rdev, rwbs, &sector, &nsect);
      if (got != 4 || strcmp (rdev, dev) != 0 || (strchr (rwbs, 'W') == NULL && strchr (rwbs, 'F') == NULL))
        continue;
      gboolean flush = nsect == 0 && strchr (rwbs, 'F') != NULL;
      if (!flush && strchr (rwbs, 'W') == NULL)
        continue;
      if (issue)
        {
          Request r = { flush, flush ? 0 : sector, "", t, -1 };
          g_strlcpy (r.rwbs, rwbs, sizeof r.rwbs);
          g_array_append_val (reqs, r);
          continue;
        }
      for (guint j = 0; j < reqs->len; j++)
        {
          Request *r = &g_array_index (reqs, Request, j);
          if (r->completed < 0 && r->flush == flush && (flush || r->sector == sector))
            {
              r->completed = t;
              break;
            }
        }
    }
  g_assert_cmpfloat (end_at, >, 0);
  for (guint j = 0; j < reqs->len; j++)
    {
      Request *w = &g_array_index (reqs, Request, j);
      if (w->flush)
        {
          *flushes += 1;
          continue;
        }
      /* with a journal, metadata is durable once its transaction is
       * committed; writing it in place later is a checkpoint */
      if (journal && strchr (w->rwbs, 'M') != NULL)
        continue;
      *writes += 1;
      gboolean covered = FALSE;
      for (guint k = 0; k < reqs->len && !covered; k++)
        {
          Request *f = &g_array_index (reqs, Request, k);
          covered = f->flush && w->completed >= 0 && f->issued >= w->completed
                    && f->completed >= 0 && f->completed <= end_at;
        }
      if (!covered)
        g_error ("%s: the write (%s) of sector %" G_GUINT64_FORMAT " (issued %.6f, completed %.6f) "
                 "is not followed by a completed cache flush before the call returned (%.6f)",
                 label, w->rwbs, w->sector, w->issued, w->completed, end_at);
    }
}

static const char *const ops[] = { "commit", "group", "draft", "update", "retire", "remove" };

typedef struct {
  guint done, failed;
} GroupWait;

/* on_group_done - one of a group's commits reported (in the default context). */
static void
on_group_done (SgMeta *meta, const GError *error, gpointer user_data)
{
  GroupWait *w = user_data;

  w->done++;
  if (error != NULL)
    {
      w->failed++;
      g_test_message ("group commit failed: %s", error->message);
    }
}

/* traced_op - run operation op (one of ops) on message n between markers:
 * metas[n] is committed, updated and retired, drafts[n] committed and
 * removed; "group" is GROUP commits submitted at once to the committer
 * threads (batches, helper threads), the window closing when the last has
 * reported. */
static void
traced_op (SgSpool *spool, const char *inst, const char *op, guint n, GBytes *header,
           GBytes *small, GBytes *large, SgMeta **metas, SgMeta **drafts)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *label = g_strdup_printf ("%s %u", op, n);
  g_autofree char *b = g_strconcat ("BEGIN ", label, NULL), *e = g_strconcat ("END ", label, NULL);
  g_autoptr(SgSpoolDraft) draft = NULL;
  gboolean ok;

  if (strcmp (op, "draft") == 0)
    {
      /* the draft is written as DATA arrives, before the final dot */
      draft = sg_spool_draft_new (spool, &error);
      g_assert_no_error (error);
      g_assert_true (sg_spool_draft_write (draft, g_bytes_get_data (header, NULL),
                                           g_bytes_get_size (header), &error));
      g_assert_true (sg_spool_draft_write (draft, g_bytes_get_data (large, NULL),
                                           g_bytes_get_size (large), &error));
      g_assert_no_error (error);
    }
  /* start clean: nothing of an earlier operation is left for write-back */
  sync ();
  if (n > 0)
    mark (inst, b);
  if (strcmp (op, "commit") == 0)
    {
      metas[n] = sg_test_sample_meta ();
      ok = sg_spool_commit (spool, metas[n], header, small, &error);
    }
  else if (strcmp (op, "group") == 0)
    {
      GroupWait w = { 0, 0 };
      for (guint i = 0; i < GROUP; i++)
        sg_spool_commit_async (spool, sg_test_sample_meta (), header, small, NULL, on_group_done, &w);
      while (w.done < GROUP)
        g_main_context_iteration (NULL, TRUE);
      ok = w.failed == 0;
    }
  else if (strcmp (op, "draft") == 0)
    {
      drafts[n] = sg_test_sample_meta ();
      ok = sg_spool_commit_draft (spool, drafts[n], g_steal_pointer (&draft), &error);
    }
  else if (strcmp (op, "update") == 0)
    ok = sg_spool_update_meta (spool, metas[n], &error);
  else if (strcmp (op, "retire") == 0)
    ok = sg_spool_retire (spool, metas[n]->queue_id, &error);
  else
    ok = sg_spool_remove (spool, drafts[n]->queue_id, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  if (n > 0)
    mark (inst, e);
}

/* test_flush_order - ROUNDS of each operation on a fresh file system, traced. */
static void
test_flush_order (gconstpointer data)
{
  const Case *c = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL, *mnt = NULL, *inst = NULL, *trace = NULL, *trace_path = NULL;
  g_autofree char *body = g_malloc (DRAFT_BODY);
  SgMeta *metas[ROUNDS + 1] = { NULL }, *drafts[ROUNDS + 1] = { NULL };
  gsize trace_len = 0;
  struct stat st;

  if (geteuid () != 0)
    {
      g_test_skip ("needs root: a loop mount and tracefs");
      return;
    }
  dir = sg_test_tmpdir ();
  mnt = mount_image (c->journal, dir);
  inst = trace_open ();
  if (inst == NULL)
    {
      umount2 (mnt, MNT_DETACH);
      sg_test_rmtree (dir);
      return;
    }
  g_assert_cmpint (stat (mnt, &st), ==, 0);
  g_autofree char *dev = g_strdup_printf ("%u,%u", major (st.st_dev), minor (st.st_dev));
  memset (body, 'x', DRAFT_BODY);
  for (gsize i = 77; i < DRAFT_BODY; i += 78)
    body[i - 1] = '\r', body[i] = '\n';
  g_autoptr(GBytes) header = g_bytes_new_static ("Received: by test\r\n", 19);
  g_autoptr(GBytes) small = g_bytes_new (body, SMALL_BODY);
  g_autoptr(GBytes) large = g_bytes_new (body, DRAFT_BODY);
  {
    /* the mount point itself: a file system of its own, as syncfs wants */
    SgSpool *spool = sg_spool_open (mnt, &error);
    g_assert_no_error (error);
    sg_spool_set_sync_method (spool, c->method);
    for (guint o = 0; o < G_N_ELEMENTS (ops); o++)
      for (guint n = 0; n <= ROUNDS; n++)
        traced_op (spool, inst, ops[o], n, header, small, large, metas, drafts);
    sg_spool_free (spool);
  }
  for (guint n = 0; n <= ROUNDS; n++)
    {
      sg_meta_free (metas[n]);
      sg_meta_free (drafts[n]);
    }
  trace_path = g_build_filename (inst, "trace", NULL);
  g_assert_true (g_file_get_contents (trace_path, &trace, &trace_len, &error));
  g_assert_no_error (error);
  trace_close (g_steal_pointer (&inst));
  /* split in place (not g_strsplit: under ASan its strstr checks the whole
   * rest of the trace on every line) */
  g_autoptr(GPtrArray) lines = g_ptr_array_new ();
  for (char *p = trace, *nl; p < trace + trace_len; p = nl + 1)
    {
      nl = memchr (p, '\n', trace + trace_len - p);
      if (nl == NULL)
        nl = trace + trace_len;
      *nl = '\0';
      g_ptr_array_add (lines, p);
    }

  for (guint o = 0; o < G_N_ELEMENTS (ops); o++)
    {
      guint writes = 0, flushes = 0;
      for (guint n = 1; n <= ROUNDS; n++)
        {
          g_autofree char *label = g_strdup_printf ("%s %u", ops[o], n);
          check_window (lines, label, dev, c->journal, &writes, &flushes);
        }
      g_test_message ("%u x %s: %u writes, %u flushes", ROUNDS, ops[o], writes, flushes);
      /* not vacuous: each operation was seen to write and to flush */
      g_assert_cmpuint (flushes, >=, ROUNDS);
      if (!c->journal)
        g_assert_cmpuint (writes, >=, ROUNDS);
    }
  g_assert_cmpint (umount2 (mnt, 0), ==, 0);
  sg_test_rmtree (dir);
}

int
main (int argc, char **argv)
{
  static const Case cases[] = {
    { FALSE, SG_SPOOL_SYNC_FDATASYNC }, { FALSE, SG_SPOOL_SYNC_SYNCFS },
    { TRUE, SG_SPOOL_SYNC_FDATASYNC }, { TRUE, SG_SPOOL_SYNC_SYNCFS },
  };

  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/spool/flush/%s/%s",
                                               cases[i].journal ? "journal" : "no-journal",
                                               sg_spool_sync_method_name (cases[i].method));
      g_test_add_data_func (path, &cases[i], test_flush_order);
    }
  return g_test_run ();
}
