/* dial.c - from the [smarthost] host list to one usable session: the
 * opportunistic plaintext retry, the cool-down of hosts that are down, and
 * the shutdown interruption through an eventfd. Moved out of the delivery
 * workers so address probes share it. */
#include "smarthost/dial.h"
#include "smarthost/relayhost.h"
#include "smarthost/transport.h"
#include "smarthost/tls_client.h"
#include "common/log.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN SG_LOG_SMTP

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct _SgSmarthostDial {
  const SgConfig *config;
  SgTlsClient    *tls;
  SgRelayhosts   *relays;
  char           *password;   /* (nullable) never logged */
  int             cancel_fd;  /* eventfd, readable once cancelled */
  gint            cancelled;  /* atomic */
};

/* read_password - the first line of [smarthost] password_file (transfer full). */
static char *
read_password (const char *path, GError **error)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  if (!g_file_get_contents (path, &data, &len, error))
    {
      g_prefix_error (error, "[smarthost] password_file: ");
      return NULL;
    }
  char *nl = strpbrk (data, "\r\n");
  char *pw = g_strndup (data, nl ? (gsize) (nl - data) : len);
  memset (data, 0, len);
  if (!*pw)
    {
      g_free (pw);
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                   "[smarthost] password_file %s is empty", path);
      return NULL;
    }
  return pw;
}

SgSmarthostDial *
sg_smarthost_dial_new (const SgConfig *config, GError **error)
{
  g_autoptr(SgTlsClient) tls = sg_tls_client_new (config, error);
  if (!tls)
    return NULL;
  g_autoptr(SgRelayhosts) relays = sg_relayhosts_new (config, error);
  if (!relays)
    return NULL;
  g_autofree char *password = NULL;
  if (config->smarthost_password_file
      && !(password = read_password (config->smarthost_password_file, error)))
    return NULL;
  int cancel_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (cancel_fd < 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "eventfd: %s",
                   g_strerror (errno));
      return NULL;
    }
  SgSmarthostDial *d = g_new0 (SgSmarthostDial, 1);
  d->config = config;
  d->tls = g_steal_pointer (&tls);
  d->relays = g_steal_pointer (&relays);
  d->password = g_steal_pointer (&password);
  d->cancel_fd = cancel_fd;
  return d;
}

void
sg_smarthost_dial_cancel (SgSmarthostDial *d)
{
  g_atomic_int_set (&d->cancelled, 1);
  guint64 one = 1;
  if (write (d->cancel_fd, &one, sizeof one) != sizeof one)
    g_warning ("smarthost: cannot interrupt the sessions in progress: %s", g_strerror (errno));
}

gboolean
sg_smarthost_dial_cancelled (SgSmarthostDial *d)
{
  return g_atomic_int_get (&d->cancelled) != 0;
}

void
sg_smarthost_dial_free (SgSmarthostDial *d)
{
  if (!d)
    return;
  close (d->cancel_fd);
  sg_tls_client_free (d->tls);
  sg_relayhosts_free (d->relays);
  if (d->password)
    memset (d->password, 0, strlen (d->password));
  g_free (d->password);
  g_free (d);
}

/* open_host - a session with one host; the opportunistic policy retries
 * in plaintext when STARTTLS was offered but failed. reached: what the
 * (last) connection got to, also on failure. */
static SgSmtpClient *
open_host (SgSmarthostDial *d, const SgRelayEntry *e, const SgRelayTarget *t,
           SgCourierReached *reached, GError **error)
{
  g_autoptr(GError) local = NULL;
  SgSmtpClient *c = sg_smtp_client_open (d->config, t->host, t->port, e->name, d->tls, FALSE,
                                         d->password, d->cancel_fd, reached, &local);
  if (!c && g_error_matches (local, SG_SMTP_CLIENT_ERROR, SG_SMTP_CLIENT_ERROR_STARTTLS))
    {
      g_message ("smarthost %s:%u: %s; tls = opportunistic, retrying without TLS",
                 t->host, t->port, local->message);
      g_clear_error (&local);
      c = sg_smtp_client_open (d->config, t->host, t->port, e->name, d->tls, TRUE,
                               d->password, d->cancel_fd, reached, &local);
    }
  if (!c)
    g_propagate_error (error, g_steal_pointer (&local));
  return c;
}

/* host_down - the failure means the host itself is unusable for now: it
 * could not be reached, or it greeted with 4xx. */
static gboolean
host_down (const GError *e)
{
  return g_error_matches (e, SG_TRANSPORT_ERROR, SG_TRANSPORT_ERROR_CONNECT)
      || g_error_matches (e, SG_TRANSPORT_ERROR, SG_TRANSPORT_ERROR_TIMEOUT)
      || g_error_matches (e, SG_SMTP_CLIENT_ERROR, SG_SMTP_CLIENT_ERROR_GREETING);
}

SgSmtpClient *
sg_smarthost_dial_open (SgSmarthostDial *d, SgCourierReached *reached, GError **error)
{
  g_autoptr(GPtrArray) plan = sg_relayhosts_plan (d->relays);
  g_autoptr(GString) why = g_string_new (NULL);
  GQuark domain = SG_SMTP_CLIENT_ERROR;
  int code = SG_SMTP_CLIENT_ERROR_REPLY;
  for (guint i = 0; i < plan->len && !sg_smarthost_dial_cancelled (d); i++)
    {
      const SgRelayEntry *e = g_ptr_array_index (plan, i);
      g_autoptr(GPtrArray) targets = sg_relay_entry_targets (e);
      gboolean down = targets->len > 0;
      if (targets->len == 0)
        g_string_append_printf (why, "%s%s: null MX, no host to connect to", why->len ? "; " : "",
                                e->name);
      for (guint j = 0; j < targets->len; j++)
        {
          g_autoptr(GError) local = NULL;
          SgSmtpClient *c = open_host (d, e, g_ptr_array_index (targets, j), reached, &local);
          if (c)
            return c;
          if (g_error_matches (local, SG_TRANSPORT_ERROR, SG_TRANSPORT_ERROR_CANCELLED))
            {
              g_propagate_error (error, g_steal_pointer (&local));
              return NULL;
            }
          down &= host_down (local);
          domain = local->domain;
          code = local->code;
          g_message ("smarthost %s: %s%s", e->name, local->message,
                     i + 1 < plan->len || j + 1 < targets->len ? "; trying the next host" : "");
          g_string_append_printf (why, "%s%s", why->len ? "; " : "", local->message);
        }
      if (down)
        sg_relayhosts_cool_down (d->relays, e);
    }
  g_set_error (error, domain, code, "%s", why->len ? why->str : "shutting down");
  return NULL;
}
