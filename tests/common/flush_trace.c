/* flush_trace.c - checking at the block layer that what an operation wrote
 * was on stable storage when it returned: a loop-mounted ext4 image of the
 * test's own, a tracefs instance recording the kernel's block_rq_issue and
 * block_rq_complete events and the test's markers, and the check itself.
 * Shared by tests/spool/test-spool-flush.c (the spool's calls) and
 * tests/integration/test-durable.c (the 250 of the real daemon). */
#include "flush_trace.h"

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
#define IMAGE_BYTES      (256 * 1024 * 1024)  /* above the spool's min_free (50 MB) after its messages */

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

/* sg_flush_trace_mount - see flush_trace.h. */
char *
sg_flush_trace_mount (gboolean journal, const char *dir)
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

/* set_events - switch the instance's two block events on ("1") or off ("0"). */
static gboolean
set_events (const char *inst, const char *on)
{
  g_autofree char *issue = g_build_filename (inst, "events/block/block_rq_issue/enable", NULL);
  g_autofree char *complete = g_build_filename (inst, "events/block/block_rq_complete/enable", NULL);
  gboolean ok = write_file (issue, on);

  return write_file (complete, on) && ok;
}

/* sg_flush_trace_open - see flush_trace.h. */
char *
sg_flush_trace_open (void)
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
  g_autofree char *size = g_build_filename (inst, "buffer_size_kb", NULL);
  g_assert_true (write_file (size, "4096"));
  g_assert_true (set_events (inst, "1"));
  return inst;
}

/* trace_close - stop and remove the instance. */
static void
trace_close (char *inst)
{
  set_events (inst, "0");
  if (rmdir (inst) != 0)
    g_test_message ("rmdir %s: %s", inst, g_strerror (errno));
  g_free (inst);
}

/* sg_flush_trace_mark - see flush_trace.h. */
void
sg_flush_trace_mark (const char *inst, const char *text)
{
  g_autofree char *path = g_build_filename (inst, "trace_marker", NULL);

  g_assert_true (write_file (path, text));
}

/* sg_flush_trace_check - see flush_trace.h. */
void
sg_flush_trace_check (GPtrArray *lines, const char *label, const char *dev, gboolean journal,
                      guint *writes, guint *flushes)
{
  g_autoptr(GRegex) re = g_regex_new ("-\\d+\\s+\\[\\d+\\]\\s+\\S+\\s+([0-9.]+): "
                                      "(block_rq_issue|block_rq_complete|tracing_mark_write): (.*)$",
                                      0, 0, NULL);
  g_autofree char *begin_line = g_strconcat (": BEGIN ", label, NULL);
  g_autofree char *end = g_strconcat ("END ", label, NULL);
  g_autoptr(GArray) reqs = g_array_new (FALSE, FALSE, sizeof (Request));
  gdouble end_at = -1;
  guint i = 0;

  /* skip to the window's marker without the regex: the trace is long */
  while (i < lines->len && !g_str_has_suffix (lines->pdata[i], begin_line))
    i++;
  for (i++; i < lines->len && end_at < 0; i++)
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
          if (strcmp (rest, end) == 0)
            end_at = t;
          continue;
        }
      gboolean issue = strcmp (event, "block_rq_issue") == 0;
      /* issue:    DEV RWBS BYTES () SECTOR + N ...
       * complete: DEV RWBS () SECTOR + N ... (a flush: sector 2^64-1) */
      int got = issue ? sscanf (rest, "%31s %15s %*u () %" G_GUINT64_FORMAT " + %u", rdev, rwbs, &sector, &nsect)
                      : sscanf (rest, "%31s %15s () %" G_GUINT64_FORMAT " + %u", rdev, rwbs, &sector, &nsect);
      if (got != 4 || strcmp (rdev, dev) != 0)
        continue;
      gboolean flush = nsect == 0 && strchr (rwbs, 'F') != NULL;
      if (!flush && strchr (rwbs, 'W') == NULL)
        continue;       /* a read */
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
        {
          /* fail, and let the caller unmount its image */
          g_test_fail_printf ("%s: the write (%s) of sector %" G_GUINT64_FORMAT
                              " (issued %.6f, completed %.6f) is not followed by a completed"
                              " cache flush before the call returned (%.6f)",
                              label, w->rwbs, w->sector, w->issued, w->completed, end_at);
          return;
        }
    }
}

/* sg_flush_trace_dev - the trace's name ("MAJ,MIN") of the device holding path (transfer full). */
char *
sg_flush_trace_dev (const char *path)
{
  struct stat st;

  g_assert_cmpint (stat (path, &st), ==, 0);
  return g_strdup_printf ("%u,%u", major (st.st_dev), minor (st.st_dev));
}

/* sg_flush_trace_finish - see flush_trace.h. */
GPtrArray *
sg_flush_trace_finish (char *inst, char **buffer)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (inst, "trace", NULL);
  gsize len = 0;

  g_assert_true (g_file_get_contents (path, buffer, &len, &error));
  g_assert_no_error (error);
  trace_close (inst);
  /* split in place (not g_strsplit: under ASan its strstr checks the whole
   * rest of the trace on every line) */
  GPtrArray *lines = g_ptr_array_new ();
  for (char *p = *buffer, *nl; p < *buffer + len; p = nl + 1)
    {
      nl = memchr (p, '\n', *buffer + len - p);
      if (nl == NULL)
        nl = *buffer + len;
      *nl = '\0';
      g_ptr_array_add (lines, p);
    }
  return lines;
}
