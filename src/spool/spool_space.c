/* spool_space.c - how much room the spool's file system has left, for the
 * daemon's [spool] min_free check before MAIL. Only the spool knows where it
 * lives; what to do with the figure (refuse with 452, how often to look) is
 * the listener's business (src/server/listener.c). */
#include "spool/spool_private.h"

#include <errno.h>
#include <sys/statvfs.h>

/* sg_spool_space_available - bytes an unprivileged writer may still use on
 * the spool's file system (statvfs f_bavail). */
gboolean
sg_spool_space_available (const SgSpool *spool, guint64 *bytes, GError **error)
{
  struct statvfs st;
  if (fstatvfs (spool->dir_fd, &st) != 0)
    {
      int e = errno;
      g_set_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_IO, "statvfs %s: %s", spool->dir,
                   g_strerror (e));
      return FALSE;
    }
  *bytes = (guint64) st.f_bavail * st.f_frsize;
  return TRUE;
}
