/* dial.h - reaching the next hop: what a session with the [smarthost] needs
 * (the TLS context, the host list, the AUTH password, a cancel fd) and the
 * walk down the host list to the first host that gives a usable session.
 * Shared by the delivery workers (queue/worker.c) and the address probes
 * (verify/probe.c), so a probe goes out under exactly delivery's policy. */
#pragma once
#include <glib.h>
#include "config/config.h"
#include "smarthost/client.h"

G_BEGIN_DECLS

typedef struct _SgSmarthostDial SgSmarthostDial;

/* sg_smarthost_dial_new - read config's [smarthost] TLS, host list and
 * password_file (transfer full); config must outlive the result. Safe to
 * use from several threads at once. */
SgSmarthostDial *sg_smarthost_dial_new (const SgConfig *config, GError **error);
void             sg_smarthost_dial_free (SgSmarthostDial *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgSmarthostDial, sg_smarthost_dial_free)

/* sg_smarthost_dial_open - a new session with the first host of this
 * attempt's plan that works ([smarthost] balance); a host that cannot be
 * reached or greets with 4xx is skipped for [smarthost] host_cooldown. The
 * error names every host tried; reached (nullable) is what the last host
 * tried got to (transfer full). */
SgSmtpClient    *sg_smarthost_dial_open (SgSmarthostDial *d, SgCourierReached *reached,
                                         GError **error);
/* sg_smarthost_dial_cancel - interrupt every wait, now and from now on. */
void             sg_smarthost_dial_cancel (SgSmarthostDial *d);
/* sg_smarthost_dial_cancelled - sg_smarthost_dial_cancel was called. */
gboolean         sg_smarthost_dial_cancelled (SgSmarthostDial *d);

G_END_DECLS
