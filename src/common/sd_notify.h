/* sd_notify.h - the service-manager readiness protocol (sd_notify(3)) without
 * libsystemd: one datagram of "KEY=VALUE" lines to the unix socket named by
 * $NOTIFY_SOCKET. What to say and when is the server's business. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

/* The variable systemd sets for Type=notify services. */
#define SG_SD_NOTIFY_ENV "NOTIFY_SOCKET"

/* sg_sd_notify - send state (newline-separated assignments such as
 * "READY=1\nSTATUS=...") to $NOTIFY_SOCKET. TRUE if sent, and also TRUE
 * when the variable is unset or empty (not started by a service manager);
 * FALSE with error if the socket is unusable. Absolute paths and abstract
 * names ("@name") are supported. */
gboolean sg_sd_notify (const char *state, GError **error);

/* sg_sd_notifyf - sg_sd_notify with a printf format. */
gboolean sg_sd_notifyf (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

G_END_DECLS
