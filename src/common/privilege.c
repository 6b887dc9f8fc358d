/* privilege.c - leaving root for an unprivileged user: the user lookup, the
 * switch in the one safe order (groups, then gid, then uid; each real,
 * effective and saved), the check that it cannot be undone, and the
 * ownership rules of the directory the daemon writes. Binding privileged
 * ports first is the server's job; this file never touches sockets. */
#include "common/privilege.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <gio/gio.h>

#define PRIVATE_DIR_MODE   0750   /* the directory the daemon owns; group spoolgate reads */
#define PARENT_DIR_MODE    0755   /* parents we create: the user must pass through */
#define PW_BUFFER_INITIAL  1024
#define PW_BUFFER_MAX      (1024 * 1024)
#define OWNER_SCAN_DEPTH   2      /* dir/entry and dir/subdir/entry */

typedef struct {
  char  *name;
  uid_t  uid;
  gid_t  gid;
} Account;

static void
account_clear (Account *a)
{
  g_clear_pointer (&a->name, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Account, account_clear)

/* lookup - the passwd entry of name, or of uid when name is NULL; FALSE
 * with error if there is none. */
static gboolean
lookup (const char *name, uid_t uid, Account *out, GError **error)
{
  struct passwd pw, *found = NULL;
  int rc = ERANGE;

  for (gsize size = PW_BUFFER_INITIAL; rc == ERANGE && size <= PW_BUFFER_MAX; size *= 2)
    {
      g_autofree char *buf = g_malloc (size);
      rc = name ? getpwnam_r (name, &pw, buf, size, &found)
                : getpwuid_r (uid, &pw, buf, size, &found);
      if (rc == 0 && found)
        {
          out->name = g_strdup (pw.pw_name);
          out->uid = pw.pw_uid;
          out->gid = pw.pw_gid;
          return TRUE;
        }
    }
  if (name)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "[server] user: no user \"%s\"%s%s",
                 name, rc ? ": " : "", rc ? g_strerror (rc) : "");
  else
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no user with uid %u%s%s",
                 (guint) uid, rc ? ": " : "", rc ? g_strerror (rc) : "");
  return FALSE;
}

/* owner_name - "name" or "uid N" for messages (transfer full). */
static char *
owner_name (uid_t uid)
{
  g_auto(Account) a = { 0 };
  if (lookup (NULL, uid, &a, NULL))
    return g_steal_pointer (&a.name);
  return g_strdup_printf ("uid %u", (guint) uid);
}

static gboolean
fail_errno (GError **error, const char *what, const char *who)
{
  int e = errno;
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "%s %s: %s", what, who,
               g_strerror (e));
  return FALSE;
}

/* switch_to - become a for good. Supplementary groups go first (only root
 * may set them), then the gid, then the uid, which gives up the power to do
 * the other two. With no name (a uid without a passwd entry) no
 * supplementary groups are kept. */
static gboolean
switch_to (const Account *a, GError **error)
{
  const char *who = a->name ? a->name : "the spool owner";
  if ((a->name ? initgroups (a->name, a->gid) : setgroups (0, NULL)) != 0)
    return fail_errno (error, "cannot set the supplementary groups of", who);
  if (setresgid (a->gid, a->gid, a->gid) != 0)
    return fail_errno (error, "cannot switch to the group of", who);
  if (setresuid (a->uid, a->uid, a->uid) != 0)
    return fail_errno (error, "cannot switch to", who);

  uid_t ru, eu, su;
  gid_t rg, eg, sg;
  if (getresuid (&ru, &eu, &su) != 0 || getresgid (&rg, &eg, &sg) != 0
      || ru != a->uid || eu != a->uid || su != a->uid
      || rg != a->gid || eg != a->gid || sg != a->gid)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "switching to %s left another uid or gid in place", who);
      return FALSE;
    }
  /* The point of it all: root must be out of reach now. */
  if (setuid (0) == 0 || seteuid (0) == 0 || (a->gid != 0 && setgid (0) == 0))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "after switching to %s the process could become root again", who);
      return FALSE;
    }
  return TRUE;
}

gboolean
sg_privilege_drop (const char *user, GError **error)
{
  sg_log_capture_caller ();   /* the audit lines name who started us */
  gboolean root = geteuid () == 0;
  if (user == NULL)
    {
      if (root)
        g_warning ("running as root: set [server] user (or User= in the systemd unit) "
                   "so that the SMTP service does not keep root");
      return TRUE;
    }

  g_auto(Account) target = { 0 };
  if (!lookup (user, 0, &target, error))
    return FALSE;
  if (target.uid == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "[server] user = %s is root: nothing to drop to; "
                   "remove the key to run as root", user);
      return FALSE;
    }
  if (!root)
    {
      if (getuid () == target.uid && geteuid () == target.uid)
        return TRUE;
      g_autofree char *me = owner_name (geteuid ());
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "[server] user = %s, but spoolgate runs as %s, not root, and cannot switch: "
                   "start it as root or as %s, or remove the key", user, me, user);
      return FALSE;
    }
  if (!switch_to (&target, error))
    return FALSE;
  g_message ("running as user %s (uid %u, gid %u)", target.name, (guint) target.uid,
             (guint) target.gid);
  return TRUE;
}

gboolean
sg_privilege_prepare_dir (const char *dir, const char *user, GError **error)
{
  struct stat st;
  if (user == NULL || geteuid () != 0 || lstat (dir, &st) == 0)
    return TRUE;
  if (errno != ENOENT)
    return fail_errno (error, "cannot examine", dir);

  g_auto(Account) target = { 0 };
  if (!lookup (user, 0, &target, error))
    return FALSE;
  g_autofree char *parent = g_path_get_dirname (dir);
  if (g_mkdir_with_parents (parent, PARENT_DIR_MODE) != 0)
    return fail_errno (error, "cannot create", parent);
  if (mkdir (dir, PRIVATE_DIR_MODE) != 0 && errno != EEXIST)
    return fail_errno (error, "cannot create", dir);
  /* Through an fd opened without following links, so what we chown is the
   * directory we made. */
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return fail_errno (error, "cannot open", dir);
  if (fchown (fd, target.uid, target.gid) != 0)
    {
      fail_errno (error, "cannot give to its user", dir);
      close (fd);
      return FALSE;
    }
  close (fd);
  g_message ("created %s for user %s", dir, target.name);
  return TRUE;
}

/* wrong_owner - the error for path inside dir not belonging to user. */
static gboolean
wrong_owner (GError **error, const char *dir, const char *path, uid_t owner, const char *user)
{
  g_autofree char *has = owner_name (owner);
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
               "%s belongs to %s, not to %s, which the server runs as; "
               "give the directory to it with: chown -R %s: %s",
               path, has, user, user, dir);
  return FALSE;
}

/* check_tree - path and, depth levels down, everything under it belong to uid. */
static gboolean
check_tree (const char *dir, const char *path, uid_t uid, const char *user, guint depth,
            GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autoptr(GDir) d = g_dir_open (path, 0, &local);
  if (!d)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "%s: not readable by %s (%s); give the directory to it with: chown -R %s: %s",
                   path, user, local->message, user, dir);
      return FALSE;
    }
  for (const char *name; (name = g_dir_read_name (d)); )
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      struct stat st;
      if (lstat (child, &st) != 0)
        {
          if (errno == ENOENT)
            continue;  /* gone meanwhile: nothing to own */
          return fail_errno (error, "cannot examine", child);
        }
      if (st.st_uid != uid)
        return wrong_owner (error, dir, child, st.st_uid, user);
      if (S_ISDIR (st.st_mode) && depth > 1
          && !check_tree (dir, child, uid, user, depth - 1, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
sg_privilege_check_owner (const char *dir, const char *user, GError **error)
{
  struct stat st;
  uid_t uid = geteuid ();
  if (lstat (dir, &st) != 0)
    {
      if (errno == ENOENT)
        return TRUE;  /* whoever creates it now creates it as us */
      int e = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e),
                   "%s: %s, running as %s; every directory above it must be searchable by %s",
                   dir, g_strerror (e), user, user);
      return FALSE;
    }
  if (st.st_uid != uid)
    return wrong_owner (error, dir, dir, st.st_uid, user);
  return check_tree (dir, dir, uid, user, OWNER_SCAN_DEPTH, error);
}

gboolean
sg_privilege_become_owner (const char *dir, GError **error)
{
  sg_log_capture_caller ();   /* the audit lines name who started us, not the owner */
  struct stat st;
  if (geteuid () != 0 || stat (dir, &st) != 0 || st.st_uid == 0)
    return TRUE;
  /* Without a passwd entry: the directory's own uid and gid, no groups. */
  g_auto(Account) owner = { .uid = st.st_uid, .gid = st.st_gid };
  lookup (NULL, st.st_uid, &owner, NULL);
  if (!switch_to (&owner, error))
    return FALSE;
  g_debug ("acting as the owner of %s (uid %u)", dir, (guint) owner.uid);
  return TRUE;
}
