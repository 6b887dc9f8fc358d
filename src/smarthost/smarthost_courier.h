/* smarthost_courier.h - the courier (queue/courier.h) that relays to the
 * [smarthost] hosts over SMTP: sessions from dial.c (host list, TLS,
 * AUTH, cool-down), transactions from client.c. */
#pragma once
#include <glib.h>
#include "config/config.h"
#include "queue/courier.h"

G_BEGIN_DECLS

/* sg_smarthost_courier_new - read config's [smarthost] TLS, host list and
 * password_file; config must outlive the courier. Fails on an unusable TLS
 * set-up or an unreadable password_file (transfer full). */
SgCourier *sg_smarthost_courier_new (const SgConfig *config, GError **error);

G_END_DECLS
