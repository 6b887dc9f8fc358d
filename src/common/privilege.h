/* privilege.h - giving up root: switching the process to an unprivileged
 * user for good, and making sure the directory it will write (the spool)
 * belongs to that user. When to switch (after binding, before opening the
 * spool) is the caller's decision; what the switch does is decided here. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

/* sg_privilege_drop - apply [server] user. Running as root with user set:
 * switch supplementary groups (the user's own, as initgroups(3) gives them),
 * gid and uid, real, effective and saved, then check that root cannot be
 * regained. Running as root with user NULL: stay root, with a warning.
 * Not root: fine if user is NULL or names the current user, an error
 * otherwise. */
gboolean sg_privilege_drop (const char *user, GError **error);

/* sg_privilege_prepare_dir - before the drop, as root with user set: create
 * dir (mode 0700, missing parents 0755) owned by user if it does not exist.
 * An existing dir is left alone. Does nothing when not root or user is NULL. */
gboolean sg_privilege_prepare_dir (const char *dir, const char *user, GError **error);

/* sg_privilege_check_owner - after the drop: dir (if it exists), what it
 * holds and what its subdirectories hold all belong to the effective user,
 * named user in messages. The error names the first thing that does not and
 * the chown(1) that fixes it. */
gboolean sg_privilege_check_owner (const char *dir, const char *user, GError **error);

/* sg_privilege_become_owner - an administration command started as root on
 * a directory owned by someone else takes on the owner's identity for good,
 * so what it writes there stays readable by the daemon. Does nothing when
 * not root, when dir is root's, or when dir cannot be stat'ed. */
gboolean sg_privilege_become_owner (const char *dir, GError **error);

G_END_DECLS
