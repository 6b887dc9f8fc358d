/* disk-sync.c - the physical ceiling for spoolgate's spool pattern on one file
 * system: how many messages per second can be made durable at all when each
 * is a ~4 KB .eml plus a ~600 B .json written in tmp/, synced, renamed into
 * queue/ and published by an fsync of queue/ (each test gets its own queue.N/). It only measures the disk; it
 * shares no code with src/spool (so its numbers stay a neutral reference). */
#include <glib.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DS_DEFAULT_SECONDS 3.0
#define DS_MAX_BATCH       1024

static char *opt_dir = NULL, *opt_batches = NULL, *opt_tests = NULL;
static double opt_seconds = DS_DEFAULT_SECONDS;
static int opt_eml = 4096, opt_json = 600, opt_threads = 4, opt_large = 10 * 1000 * 1000;
static gboolean opt_keep = FALSE;

static char *eml_data, *json_data;
static int tmp_fd = -1, queue_fd = -1;
static guint64 seq;

/* wanted - whether --tests (default: all) names this test. */
static gboolean
wanted (const char *test)
{
  if (opt_tests == NULL)
    return TRUE;
  g_auto(GStrv) names = g_strsplit (opt_tests, ",", -1);
  return g_strv_contains ((const char *const *) names, test);
}

/* now_s - monotonic clock in seconds. */
static double
now_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* die - report a failed system call and stop. */
static void G_GNUC_NORETURN
die (const char *what)
{
  g_printerr ("disk-sync: %s: %s\n", what, g_strerror (errno));
  exit (1);
}

/* write_file - create tmp/<name> (O_EXCL, 0600), write len bytes, start write-back; its fd. */
static int
write_file (const char *name, const char *data, gsize len, gboolean start_writeback)
{
  int fd = openat (tmp_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    die ("create");
  while (len > 0)
    {
      ssize_t n = write (fd, data, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        die ("write");
      data += n;
      len -= (gsize) n;
    }
  if (start_writeback)
    (void) sync_file_range (fd, 0, 0, SYNC_FILE_RANGE_WRITE);
  return fd;
}

typedef struct {
  char eml[64], json[64];
  int eml_fd, json_fd;
} Msg;

/* msg_write - write both files of one message into tmp/. */
static void
msg_write (Msg *m, gboolean start_writeback)
{
  guint64 id = seq++;
  g_snprintf (m->eml, sizeof m->eml, "%016" G_GINT64_MODIFIER "x.eml", id);
  g_snprintf (m->json, sizeof m->json, "%016" G_GINT64_MODIFIER "x.json", id);
  m->eml_fd = write_file (m->eml, eml_data, (gsize) opt_eml, start_writeback);
  m->json_fd = write_file (m->json, json_data, (gsize) opt_json, start_writeback);
}

/* msg_datasync - fdatasync and close both files. */
static void
msg_datasync (Msg *m)
{
  if (fdatasync (m->eml_fd) != 0 || fdatasync (m->json_fd) != 0)
    die ("fdatasync");
  if (close (m->eml_fd) != 0 || close (m->json_fd) != 0)
    die ("close");
}

/* msg_close - close both files without syncing them. */
static void
msg_close (Msg *m)
{
  if (close (m->eml_fd) != 0 || close (m->json_fd) != 0)
    die ("close");
}

/* msg_publish - rename both files from tmp/ into queue/, .eml first. */
static void
msg_publish (Msg *m)
{
  if (renameat (tmp_fd, m->eml, queue_fd, m->eml) != 0 || renameat (tmp_fd, m->json, queue_fd, m->json) != 0)
    die ("rename");
}

typedef enum { MODE_FDATASYNC, MODE_SYNCFS, MODE_THREADS } Mode;

typedef struct {
  Msg *msgs;
  guint k;
  gint next;                    /* atomic: next file (2 per message) */
} SyncShare;

/* sync_files - fdatasync files of a batch until none is left: the .eml of
 * message i is file 2i, its .json 2i+1, so one message's two files are
 * synced at once as well (as spoolgate's helper threads do). */
static gpointer
sync_files (gpointer data)
{
  SyncShare *sh = data;
  for (;;)
    {
      guint f = (guint) g_atomic_int_add (&sh->next, 1);
      if (f >= 2 * sh->k)
        return NULL;
      Msg *m = &sh->msgs[f / 2];
      if (fdatasync (f % 2 ? m->json_fd : m->eml_fd) != 0)
        die ("fdatasync");
    }
}

/* batch - K messages made durable as one group: the spool pattern's unit. */
static void
batch (Msg *msgs, guint k, Mode mode)
{
  for (guint i = 0; i < k; i++)
    msg_write (&msgs[i], mode != MODE_SYNCFS);
  if (mode == MODE_FDATASYNC)
    for (guint i = 0; i < k; i++)
      msg_datasync (&msgs[i]);
  else if (mode == MODE_THREADS)
    {
      /* --threads helpers plus this thread, as spoolgate does it */
      guint t = MIN ((guint) opt_threads, 2 * k - 1);
      GThread *th[64];
      SyncShare sh = { msgs, k, 0 };
      for (guint j = 0; j < t; j++)
        th[j] = g_thread_new ("sync", sync_files, &sh);
      sync_files (&sh);
      for (guint j = 0; j < t; j++)
        g_thread_join (th[j]);
      for (guint i = 0; i < k; i++)
        msg_close (&msgs[i]);
    }
  else
    {
      if (syncfs (tmp_fd) != 0 || fdatasync (tmp_fd) != 0)
        die ("syncfs and flush");
      for (guint i = 0; i < k; i++)
        msg_close (&msgs[i]);
    }
  for (guint i = 0; i < k; i++)
    msg_publish (&msgs[i]);
  /* syncfs is followed by one more flush (fdatasync of a clean directory):
   * without a journal, syncfs writes the inode and directory blocks after
   * its own flush, so spoolgate's syncfs method pays that flush too */
  if (mode == MODE_SYNCFS ? syncfs (queue_fd) != 0 || fdatasync (tmp_fd) != 0 : fsync (queue_fd) != 0)
    die (mode == MODE_SYNCFS ? "syncfs and flush" : "fsync queue/");
}

/* next_queue - a fresh queue.N/ for the next test. Files are only removed at
 * the very end: ext4 without a journal skips inodes freed in the last 60 s or
 * more on every create (recently_deleted()), so deleting between tests would
 * slow down the tests that follow. */
static void
next_queue (const char *root)
{
  static guint n;
  g_autofree char *name = g_strdup_printf ("queue.%u", n++);
  g_autofree char *path = g_build_filename (root, name, NULL);
  if (queue_fd >= 0)
    close (queue_fd);
  if (mkdir (path, 0700) != 0)
    die ("mkdir queue");
  queue_fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (queue_fd < 0)
    die ("open queue");
}

/* remove_entry - nftw callback for remove_tree. */
static int
remove_entry (const char *path, const struct stat *st, int type, struct FTW *ftw)
{
  return remove (path) == 0 ? 0 : (g_printerr ("disk-sync: remove %s: %s\n", path, g_strerror (errno)), 0);
}

/* remove_tree - delete the scratch directory and everything in it. */
static void
remove_tree (const char *root)
{
  nftw (root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* run_batches - batches of k for opt_seconds; prints and returns messages/s. */
static double
run_batches (const char *root, const char *test, guint k, Mode mode)
{
  Msg *msgs = g_new0 (Msg, k);
  guint64 n = 0;
  double t0 = now_s (), t;
  do
    {
      batch (msgs, k, mode);
      n += k;
    }
  while ((t = now_s ()) - t0 < opt_seconds);
  double rate = n / (t - t0);
  g_print ("RESULT test=%s batch=%u messages=%" G_GUINT64_FORMAT " seconds=%.2f msgs_per_s=%.1f"
           " batch_ms=%.3f mb_per_s=%.2f\n",
           test, k, n, t - t0, rate, (t - t0) * 1000.0 * k / n, rate * (opt_eml + opt_json) / 1e6);
  g_free (msgs);
  next_queue (root);
  return rate;
}

/* run_raw - write 4 KB and fdatasync one file, in place or appending. */
static double
run_raw (const char *test, gboolean append)
{
  int fd = openat (tmp_fd, "raw", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    die ("create raw");
  guint64 n = 0;
  double t0 = now_s (), t;
  do
    {
      off_t off = append ? (off_t) n * opt_eml : 0;
      if (pwrite (fd, eml_data, (size_t) opt_eml, off) != opt_eml)
        die ("pwrite");
      if (fdatasync (fd) != 0)
        die ("fdatasync");
      n++;
    }
  while ((t = now_s ()) - t0 < opt_seconds);
  close (fd);
  unlinkat (tmp_fd, "raw", 0);
  double rate = n / (t - t0);
  g_print ("RESULT test=%s batch=1 messages=%" G_GUINT64_FORMAT " seconds=%.2f ops_per_s=%.1f op_ms=%.3f\n",
           test, n, t - t0, rate, (t - t0) * 1000.0 / n);
  return rate;
}

/* run_large - one large message at a time: write it in 1 MB pieces into a new
 * tmp/ file, fdatasync, rename into queue/, fsync queue/ (the bandwidth limit). */
static double
run_large (const char *root)
{
  gsize chunk = 1024 * 1024, size = (gsize) opt_large;
  g_autofree char *data = g_malloc (chunk);
  memset (data, 'x', chunk);
  guint64 n = 0;
  double t0 = now_s (), t;
  do
    {
      char name[64];
      g_snprintf (name, sizeof name, "%016" G_GINT64_MODIFIER "x.eml", seq++);
      int fd = openat (tmp_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd < 0)
        die ("create large");
      for (gsize done = 0; done < size;)
        {
          gsize len = MIN (chunk, size - done);
          ssize_t w = write (fd, data, len);
          if (w < 0 && errno == EINTR)
            continue;
          if (w <= 0)
            die ("write large");
          done += (gsize) w;
        }
      if (fdatasync (fd) != 0 || close (fd) != 0)
        die ("fdatasync large");
      if (renameat (tmp_fd, name, queue_fd, name) != 0 || fsync (queue_fd) != 0)
        die ("publish large");
      n++;
    }
  while ((t = now_s ()) - t0 < opt_seconds);
  double rate = n / (t - t0);
  g_print ("RESULT test=large batch=1 messages=%" G_GUINT64_FORMAT " seconds=%.2f msgs_per_s=%.2f"
           " batch_ms=%.3f mb_per_s=%.1f size=%d\n",
           n, t - t0, rate, (t - t0) * 1000.0 / n, rate * opt_large / 1e6, opt_large);
  next_queue (root);
  return rate;
}

int
main (int argc, char **argv)
{
  const GOptionEntry entries[] = {
    { "dir", 'd', 0, G_OPTION_ARG_FILENAME, &opt_dir, "Directory on the file system to measure (default .)", "DIR" },
    { "seconds", 's', 0, G_OPTION_ARG_DOUBLE, &opt_seconds, "Seconds per test (default 3)", "S" },
    { "batches", 'b', 0, G_OPTION_ARG_STRING, &opt_batches, "Group sizes (default 1,8,32,128)", "K,K,..." },
    { "eml-size", 0, 0, G_OPTION_ARG_INT, &opt_eml, "Bytes per .eml (default 4096)", "N" },
    { "json-size", 0, 0, G_OPTION_ARG_INT, &opt_json, "Bytes per .json (default 600)", "N" },
    { "large-size", 0, 0, G_OPTION_ARG_INT, &opt_large, "Bytes per message of the large test (default 10000000; 0 = skip)", "N" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &opt_threads, "Threads for the parallel-fdatasync test (default 4)", "N" },
    { "keep", 0, 0, G_OPTION_ARG_NONE, &opt_keep, "Keep the scratch directory", NULL },
    { "tests", 0, 0, G_OPTION_ARG_STRING, &opt_tests, "Only these tests (default all)", "T,T,..." },
    { NULL }
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(GOptionContext) ctx = g_option_context_new ("- durable-write ceiling for the spool's file pattern");
  g_option_context_set_summary (ctx,
    "Tests, each for --seconds:\n"
    "  raw-overwrite   pwrite 4 KB at offset 0 + fdatasync, one file (the device's flush rate)\n"
    "  raw-append      append 4 KB + fdatasync, one file (flush + journal commit)\n"
    "  serial          per message: write .eml+.json in tmp/, fdatasync both, rename both, fsync queue/\n"
    "  group-fdatasync batch K: write all, fdatasync each, rename all, one fsync of queue/\n"
    "  group-threads   the same with the files' fdatasyncs spread over --threads threads and the\n"
    "                  main one (K = 1 included: one message's .eml and .json at once)\n"
    "  group-syncfs    batch K: write all, syncfs + flush, rename all, syncfs + flush\n"
    "  large           one --large-size message: write, fdatasync, rename, fsync queue/ (MB/s)\n"
    "Each prints one line: RESULT test=... batch=K msgs_per_s=...");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 1)
    {
      g_printerr ("disk-sync: %s\n", error ? error->message : "unexpected argument");
      return 2;
    }
  opt_threads = CLAMP (opt_threads, 1, 64);
  g_auto(GStrv) ks = g_strsplit (opt_batches ? opt_batches : "1,8,32,128", ",", -1);

  g_autofree char *tmpl = g_build_filename (opt_dir ? opt_dir : ".", "disk-sync.XXXXXX", NULL);
  if (g_mkdtemp (tmpl) == NULL)
    die ("mkdtemp");
  g_autofree char *tmp = g_build_filename (tmpl, "tmp", NULL);
  if (mkdir (tmp, 0700) != 0)
    die ("mkdir");
  tmp_fd = open (tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (tmp_fd < 0)
    die ("open directory");
  next_queue (tmpl);
  eml_data = g_malloc ((gsize) opt_eml);
  json_data = g_malloc ((gsize) opt_json);
  for (int i = 0; i < opt_eml; i++)
    eml_data[i] = (i % 78 == 77) ? '\n' : 'a' + i % 26;
  for (int i = 0; i < opt_json; i++)
    json_data[i] = 'j';

  g_print ("# disk-sync on %s: .eml %d B, .json %d B, %.1f s per test\n", tmpl, opt_eml, opt_json, opt_seconds);
  if (wanted ("raw-overwrite"))
    run_raw ("raw-overwrite", FALSE);
  if (wanted ("raw-append"))
    run_raw ("raw-append", TRUE);
  if (wanted ("serial"))
    run_batches (tmpl, "serial", 1, MODE_FDATASYNC);
  for (guint i = 0; ks[i] != NULL; i++)
    {
      guint k = (guint) atoi (ks[i]);
      if (k < 1 || k > DS_MAX_BATCH)
        {
          g_printerr ("disk-sync: batch size %s out of range 1..%d\n", ks[i], DS_MAX_BATCH);
          return 2;
        }
      if (k > 1 && wanted ("group-fdatasync"))   /* k = 1 is the serial test */
        run_batches (tmpl, "group-fdatasync", k, MODE_FDATASYNC);
      if (wanted ("group-threads"))
        run_batches (tmpl, "group-threads", k, MODE_THREADS);
      if (wanted ("group-syncfs"))
        run_batches (tmpl, "group-syncfs", k, MODE_SYNCFS);
    }

  if (opt_large > 0 && wanted ("large"))
    run_large (tmpl);

  close (tmp_fd);
  close (queue_fd);
  if (!opt_keep)
    {
      remove_tree (tmpl);
    }
  return 0;
}
