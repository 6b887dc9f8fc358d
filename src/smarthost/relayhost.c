/* relayhost.c - the [smarthost] host list: parsing, MX then A/AAAA look-up
 * (RFC 5321 5.1) for names outside brackets, the order of each attempt and
 * the cool-down of failed hosts. The delivery threads share one list under
 * its mutex; DNS is looked up outside it. */
#include "smarthost/relayhost.h"

#include <gio/gio.h>
#include <string.h>
#include "common/log.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN SG_LOG_SMTP

struct _SgRelayhosts {
  GMutex     mutex;
  GPtrArray *entries;        /* SgRelayEntry*, in the configured order */
  gint64    *cooling_until;  /* per entry, monotonic microseconds; 0: usable */
  gboolean   round_robin;
  guint      next;           /* round-robin: the entry to start at */
  guint      cooldown;       /* seconds */
};

static void
relay_entry_free (SgRelayEntry *e)
{
  g_free (e->name);
  g_free (e);
}

void
sg_relay_target_free (SgRelayTarget *t)
{
  if (!t)
    return;
  g_free (t->host);
  g_free (t);
}

/* parse_entry - "name", "name:port", "[name]" or "[name]:port" (transfer full). */
static SgRelayEntry *
parse_entry (const char *item, guint default_port, GError **error)
{
  g_autofree char *name = NULL;
  const char *port_text = NULL;
  gboolean literal = item[0] == '[';
  if (literal)
    {
      const char *close = strchr (item, ']');
      if (!close || close == item + 1 || (close[1] != '\0' && close[1] != ':'))
        goto bad;
      name = g_strndup (item + 1, close - item - 1);
      port_text = close[1] == ':' ? close + 2 : NULL;
    }
  else
    {
      const char *colon = strchr (item, ':');
      if (colon && strchr (colon + 1, ':'))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "\"%s\": write an IPv6 address in brackets, as [2001:db8::1]:25", item);
          return NULL;
        }
      name = colon ? g_strndup (item, colon - item) : g_strdup (item);
      port_text = colon ? colon + 1 : NULL;
    }
  if (!*name || strpbrk (name, "[] \t"))
    goto bad;
  guint64 port = default_port;
  if (port_text && (!g_ascii_string_to_unsigned (port_text, 10, 1, 65535, &port, NULL)))
    goto bad;
  SgRelayEntry *e = g_new0 (SgRelayEntry, 1);
  e->name = g_steal_pointer (&name);
  e->port = (guint) port;
  e->literal = literal;
  return e;
bad:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               "\"%s\" is not host, host:port, [host] or [host]:port", item);
  return NULL;
}

SgRelayhosts *
sg_relayhosts_new (const SgConfig *config, GError **error)
{
  g_return_val_if_fail (config->smarthost_host != NULL, NULL);
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func ((GDestroyNotify) relay_entry_free);
  g_auto(GStrv) items = g_strsplit (config->smarthost_host, ",", -1);
  for (guint i = 0; items[i]; i++)
    {
      char *item = g_strstrip (items[i]);
      if (!*item)
        continue;
      SgRelayEntry *e = parse_entry (item, config->smarthost_port, error);
      if (!e)
        {
          g_prefix_error (error, "[smarthost] host: ");
          return NULL;
        }
      g_ptr_array_add (entries, e);
    }
  if (entries->len == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "[smarthost] host: empty list");
      return NULL;
    }
  SgRelayhosts *r = g_new0 (SgRelayhosts, 1);
  g_mutex_init (&r->mutex);
  r->cooling_until = g_new0 (gint64, entries->len);
  r->entries = g_steal_pointer (&entries);
  r->round_robin = g_strcmp0 (config->smarthost_balance, "round-robin") == 0;
  r->cooldown = config->smarthost_host_cooldown;
  return r;
}

void
sg_relayhosts_free (SgRelayhosts *r)
{
  if (!r)
    return;
  g_ptr_array_unref (r->entries);
  g_free (r->cooling_until);
  g_mutex_clear (&r->mutex);
  g_free (r);
}

GPtrArray *
sg_relayhosts_plan (SgRelayhosts *r)
{
  GPtrArray *plan = g_ptr_array_new ();
  g_autoptr(GPtrArray) cooling = g_ptr_array_new ();
  gint64 now = g_get_monotonic_time ();
  g_mutex_lock (&r->mutex);
  guint n = r->entries->len, start = 0;
  if (r->round_robin)
    start = r->next++ % n;
  for (guint k = 0; k < n; k++)
    {
      guint i = (start + k) % n;
      g_ptr_array_add (r->cooling_until[i] > now ? cooling : plan, g_ptr_array_index (r->entries, i));
    }
  g_mutex_unlock (&r->mutex);
  /* Every host is cooling down: try them all rather than hold the mail back
   * longer than the queue's own back-off says. */
  if (plan->len == 0)
    g_ptr_array_extend (plan, cooling, NULL, NULL);
  return plan;
}

void
sg_relayhosts_cool_down (SgRelayhosts *r, const SgRelayEntry *entry)
{
  if (r->cooldown == 0)
    return;
  g_mutex_lock (&r->mutex);
  for (guint i = 0; i < r->entries->len; i++)
    if (g_ptr_array_index (r->entries, i) == entry)
      r->cooling_until[i] = g_get_monotonic_time () + (gint64) r->cooldown * G_USEC_PER_SEC;
  g_mutex_unlock (&r->mutex);
  g_message ("smarthost %s:%u: skipped for %u s (host_cooldown)", entry->name, entry->port,
             r->cooldown);
}

static gint
compare_mx (gconstpointer a, gconstpointer b)
{
  guint16 pa, pb;
  g_variant_get (*(GVariant *const *) a, "(q&s)", &pa, NULL);
  g_variant_get (*(GVariant *const *) b, "(q&s)", &pb, NULL);
  return (gint) pa - (gint) pb;
}

static SgRelayTarget *
target_new (const char *host, guint port)
{
  SgRelayTarget *t = g_new0 (SgRelayTarget, 1);
  t->host = g_strdup (host);
  t->port = port;
  return t;
}

GPtrArray *
sg_relay_entry_targets (const SgRelayEntry *entry)
{
  GPtrArray *targets = g_ptr_array_new_with_free_func ((GDestroyNotify) sg_relay_target_free);
  if (entry->literal || g_hostname_is_ip_address (entry->name))
    {
      g_ptr_array_add (targets, target_new (entry->name, entry->port));
      return targets;
    }
  g_autoptr(GResolver) resolver = g_resolver_get_default ();
  g_autoptr(GError) error = NULL;
  GList *records = g_resolver_lookup_records (resolver, entry->name, G_RESOLVER_RECORD_MX,
                                              NULL, &error);
  if (!records)
    {
      /* RFC 5321 5.1: no MX record, the name itself is the host. */
      if (!g_error_matches (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND))
        g_message ("smarthost %s: MX look-up failed (%s); using its address records",
                   entry->name, error->message);
      g_ptr_array_add (targets, target_new (entry->name, entry->port));
      return targets;
    }
  g_autoptr(GPtrArray) sorted = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  for (GList *l = records; l; l = l->next)
    g_ptr_array_add (sorted, l->data);
  g_list_free (records);
  g_ptr_array_sort (sorted, compare_mx);
  for (guint i = 0; i < sorted->len; i++)
    {
      const char *host = NULL;
      g_variant_get (g_ptr_array_index (sorted, i), "(q&s)", NULL, &host);
      /* RFC 7505: a null MX ("." ) says the domain takes no mail. */
      if (host && *host && strcmp (host, ".") != 0)
        g_ptr_array_add (targets, target_new (host, entry->port));
    }
  return targets;
}
