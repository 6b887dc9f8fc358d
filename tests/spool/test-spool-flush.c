/* test-spool-flush.c - what is on stable storage when a spool operation
 * returns, seen at the block layer. A spool on a loop-mounted ext4 image of
 * our own (with and without a journal) commits messages (in memory, in
 * groups and as drafts), rewrites their metadata, retires and removes them,
 * and releases refused copies from rejected/ into the queue, while a
 * tracefs instance of ours records the kernel's block_rq_issue and
 * block_rq_complete events. For each operation, every write it caused must
 * have completed before a cache flush was issued, and that flush must have
 * completed, before the call returned: a write that completes after the last
 * flush sits in the device's volatile cache when SMTP says 250 (or when the
 * queue runner goes on as if a delivery or removal were recorded). Needs
 * root (loop mount, tracefs): skipped otherwise. */
#include "spool_test_util.h"
#include "flush_trace.h"
#include "spool/spool_rejected.h"

#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#define ROUNDS           16                   /* traced, after one untraced */
#define SMALL_BODY       (4u * 1024u)
#define DRAFT_BODY       (2u * 1024u * 1024u) /* past data_spill_size: a draft */
#define GROUP            12                   /* commits submitted at once: group commit */

typedef struct {
  gboolean journal;
  SgSpoolSyncMethod method;
} Case;

static const char *const ops[] = { "commit", "group", "draft", "update", "retire", "remove", "release" };

/* What the operations work on. */
typedef struct {
  SgSpool    *spool;
  SgRejected *rejected;
  const char *inst;
  GBytes     *header, *small, *large;
  SgMeta     *metas[ROUNDS + 1];    /* committed, updated, retired */
  SgMeta     *drafts[ROUNDS + 1];   /* committed as drafts, removed */
} Ops;

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
 * reported; "release" queues a refused copy kept in rejected/ before the
 * window (`spoolgate release`). */
static void
traced_op (Ops *o, const char *op, guint n)
{
  SgSpool *spool = o->spool;
  GBytes *header = o->header, *small = o->small;
  SgMeta **metas = o->metas, **drafts = o->drafts;
  g_autofree char *refused = NULL;
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
      g_assert_true (sg_spool_draft_write (draft, g_bytes_get_data (o->large, NULL),
                                           g_bytes_get_size (o->large), &error));
      g_assert_no_error (error);
    }
  else if (strcmp (op, "release") == 0)
    {
      g_autoptr(SgRejectedMeta) m = sg_rejected_meta_new ();
      sg_meta_free (m->envelope);
      m->envelope = sg_test_sample_meta ();
      m->rejected_time_us = g_get_real_time ();
      m->rule = g_strdup ("header.date.missing");
      m->reply = g_strdup ("550 5.6.0 no Date");
      g_assert_true (sg_rejected_keep (o->rejected, m, header, small, &error));
      g_assert_no_error (error);
      refused = g_strdup (m->envelope->queue_id);
    }
  /* start clean: nothing of an earlier operation is left for write-back */
  sync ();
  if (n > 0)
    sg_flush_trace_mark (o->inst, b);
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
  else if (strcmp (op, "remove") == 0)
    ok = sg_spool_remove (spool, drafts[n]->queue_id, &error);
  else
    {
      g_autoptr(SgMeta) queued = sg_rejected_release (o->rejected, spool, refused, &error);
      ok = queued != NULL;
    }
  g_assert_no_error (error);
  g_assert_true (ok);
  if (n > 0)
    sg_flush_trace_mark (o->inst, e);
}

/* test_flush_order - ROUNDS of each operation on a fresh file system, traced. */
static void
test_flush_order (gconstpointer data)
{
  const Case *c = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL, *mnt = NULL, *inst = NULL, *trace = NULL;
  g_autofree char *body = g_malloc (DRAFT_BODY);
  Ops o = { 0 };

  if (geteuid () != 0)
    {
      g_test_skip ("needs root: a loop mount and tracefs");
      return;
    }
  dir = sg_test_tmpdir ();
  mnt = sg_flush_trace_mount (c->journal, dir);
  inst = sg_flush_trace_open ();
  if (inst == NULL)
    {
      umount2 (mnt, MNT_DETACH);
      sg_test_rmtree (dir);
      return;
    }
  g_autofree char *dev = sg_flush_trace_dev (mnt);
  memset (body, 'x', DRAFT_BODY);
  for (gsize i = 77; i < DRAFT_BODY; i += 78)
    body[i - 1] = '\r', body[i] = '\n';
  g_autoptr(GBytes) header = g_bytes_new_static ("Received: by test\r\n", 19);
  g_autoptr(GBytes) small = g_bytes_new (body, SMALL_BODY);
  g_autoptr(GBytes) large = g_bytes_new (body, DRAFT_BODY);
  {
    /* the mount point itself: a file system of its own, as syncfs wants */
    o.spool = sg_spool_open (mnt, &error);
    g_assert_no_error (error);
    o.rejected = sg_rejected_open (mnt, 64u << 20, &error);
    g_assert_no_error (error);
    o.inst = inst;
    o.header = header;
    o.small = small;
    o.large = large;
    sg_spool_set_sync_method (o.spool, c->method);
    for (guint k = 0; k < G_N_ELEMENTS (ops); k++)
      for (guint n = 0; n <= ROUNDS; n++)
        traced_op (&o, ops[k], n);
    sg_rejected_free (o.rejected);
    sg_spool_free (o.spool);
  }
  for (guint n = 0; n <= ROUNDS; n++)
    {
      sg_meta_free (o.metas[n]);
      sg_meta_free (o.drafts[n]);
    }
  g_autoptr(GPtrArray) lines = sg_flush_trace_finish (g_steal_pointer (&inst), &trace);

  for (guint k = 0; k < G_N_ELEMENTS (ops); k++)
    {
      guint writes = 0, flushes = 0;
      for (guint n = 1; n <= ROUNDS; n++)
        {
          g_autofree char *label = g_strdup_printf ("%s %u", ops[k], n);
          sg_flush_trace_check (lines, label, dev, c->journal, &writes, &flushes);
        }
      g_test_message ("%u x %s: %u writes, %u flushes", ROUNDS, ops[k], writes, flushes);
      if (g_test_failed ())
        break;          /* a write was not flushed: said above */
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
