/* flush_trace.h - checking at the block layer that what an operation wrote
 * was on stable storage when it returned (flush_trace.c). Needs root (a loop
 * mount, tracefs): the callers skip otherwise. Use:
 *   mnt = sg_flush_trace_mount (...); inst = sg_flush_trace_open ();
 *   sync (); sg_flush_trace_mark (inst, "BEGIN x"); ...; sg_flush_trace_mark (inst, "END x");
 *   lines = sg_flush_trace_finish (inst, &buf); sg_flush_trace_check (lines, "x", ...); */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

/* sg_flush_trace_mount - a fresh ext4 image (4 KiB blocks, with or without
 * a journal) in dir, mounted on dir/mnt through a loop device (transfer
 * full: the mount point); unmount it with umount2 when done. */
char      *sg_flush_trace_mount (gboolean journal, const char *dir);
/* sg_flush_trace_open - a tracefs instance of ours recording block requests
 * and our markers (transfer full: its directory), or NULL with the test
 * skipped where tracefs cannot be had. */
char      *sg_flush_trace_open (void);
/* sg_flush_trace_mark - a line in the instance's trace. */
void       sg_flush_trace_mark (const char *inst, const char *text);
/* sg_flush_trace_dev - how the trace names the device holding path (transfer full). */
char      *sg_flush_trace_dev (const char *path);
/* sg_flush_trace_finish - read the trace, remove the instance (takes inst);
 * its lines (transfer container: they point into *buffer, transfer full). */
GPtrArray *sg_flush_trace_finish (char *inst, char **buffer);
/* sg_flush_trace_check - between the markers "BEGIN label" and "END label":
 * every write to dev (the caller's file system alone, clean at BEGIN)
 * completed before some flush of dev was issued, and that flush completed
 * before END; with a journal, metadata writes (journalled) are exempt.
 * Fails the test naming the write otherwise; adds what it saw to *writes
 * and *flushes. */
void       sg_flush_trace_check (GPtrArray *lines, const char *label, const char *dev,
                                 gboolean journal, guint *writes, guint *flushes);

G_END_DECLS
