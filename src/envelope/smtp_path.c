/* smtp_path.c - the life of an SgSmtpPath. */
#include "envelope/smtp_path.h"

void
sg_smtp_path_clear (SgSmtpPath *path)
{
  g_clear_pointer (&path->address, g_free);
  path->size = -1;
  path->body = SG_BODY_NONE;
  path->smtputf8 = FALSE;
  g_clear_pointer (&path->dsn_ret, g_free);
  g_clear_pointer (&path->dsn_envid, g_free);
  g_clear_pointer (&path->dsn_notify, g_free);
  g_clear_pointer (&path->dsn_orcpt, g_free);
}

void
sg_smtp_path_free (gpointer path)
{
  if (!path)
    return;
  sg_smtp_path_clear (path);
  g_free (path);
}
