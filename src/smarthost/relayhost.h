/* relayhost.h - the [smarthost] host list: "relay1.example.com,
 * relay2.example.com:587, [192.0.2.7]". A name in brackets is connected to
 * as it is; any other name is looked up for MX first, then A/AAAA, as
 * Postfix's relayhost. Orders each attempt (failover or round-robin) and
 * skips hosts in their cool-down. Connecting is client.c's. */
#pragma once
#include <glib.h>
#include "config/config.h"

G_BEGIN_DECLS

/* One entry of the list. Lifetime: that of its SgRelayhosts. */
typedef struct {
  char     *name;     /* without brackets; the TLS server name by default */
  guint     port;     /* its own :port, else [smarthost] port */
  gboolean  literal;  /* written in brackets: no MX look-up */
} SgRelayEntry;

/* Somewhere to connect to for one entry (an MX target or the name itself). */
typedef struct {
  char  *host;
  guint  port;
} SgRelayTarget;

void sg_relay_target_free (SgRelayTarget *t);

typedef struct _SgRelayhosts SgRelayhosts;

/* sg_relayhosts_new - parse config's [smarthost] host, balance and
 * host_cooldown (transfer full); NULL with error on a bad list. Safe to use
 * from several threads at once. */
SgRelayhosts *sg_relayhosts_new (const SgConfig *config, GError **error);
void          sg_relayhosts_free (SgRelayhosts *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgRelayhosts, sg_relayhosts_free)

/* sg_relayhosts_plan - the entries to try in order for one attempt: from the
 * first (failover) or the next in turn (round-robin), without those in
 * their cool-down unless every entry is (transfer container; the entries
 * stay owned by r). */
GPtrArray *sg_relayhosts_plan (SgRelayhosts *r);
/* sg_relayhosts_cool_down - entry failed to connect or greeted with 4xx:
 * skip it for [smarthost] host_cooldown seconds. */
void       sg_relayhosts_cool_down (SgRelayhosts *r, const SgRelayEntry *entry);
/* sg_relay_entry_targets - where to connect for entry: its MX hosts by
 * preference, or the name itself (no MX record, bracketed, an address)
 * (transfer full, SgRelayTarget*). Blocks on DNS. */
GPtrArray *sg_relay_entry_targets (const SgRelayEntry *entry);

G_END_DECLS
