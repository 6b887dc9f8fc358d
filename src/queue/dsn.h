/* dsn.h - non-delivery reports (RFC 3464 delivery status notifications in
 * an RFC 6522 multipart/report) for messages with failed recipients, and
 * their hand-off to the spool as new mail from <> to the original sender.
 * Deciding whether a report is due (never for <>) is the caller's job. */
#pragma once
#include <glib.h>
#include "spool/spool.h"

G_BEGIN_DECLS

/* Most of the original header section quoted in text/rfc822-headers. */
#define SG_DSN_MAX_HEADER_BYTES  (256 * 1024)

/* What a report is about: failed recipients (a bounce) or recipients still
 * deferred ([queue] delay_warning). */
typedef enum { SG_DSN_FAILURE, SG_DSN_DELAY, SG_DSN_RELAYED } SgDsnKind;

/* sg_dsn_wants_success - r's NOTIFY lists SUCCESS (RFC 3461 4.1). */
gboolean sg_dsn_wants_success (const SgMetaRecipient *r);

/* sg_dsn_wants_delay - r asked for delay notices: no NOTIFY (our default
 * includes DELAY, RFC 3461 4.1), or a NOTIFY list with DELAY. */
gboolean sg_dsn_wants_delay (const SgMetaRecipient *r);

/* sg_dsn_wants_failure - r asked for a failure report: no NOTIFY, or a
 * NOTIFY list with FAILURE (RFC 3461 4.1; NOTIFY=NEVER never). */
gboolean sg_dsn_wants_failure (const SgMetaRecipient *r);

/* sg_dsn_build - the report for meta's failed recipients that want one, quoting header
 * (the original header section); now is epoch seconds (transfer full). */
GBytes *sg_dsn_build (const SgMeta *meta, const char *hostname, const char *header,
                      gsize header_len, gint64 now);
/* sg_dsn_build_kind - likewise for kind: SG_DSN_DELAY reports the deferred
 * recipients that want it with Action: delayed (transfer full). */
GBytes *sg_dsn_build_kind (const SgMeta *meta, SgDsnKind kind, const char *hostname,
                           const char *header, gsize header_len, gint64 now);
/* sg_dsn_build_original - likewise, quoting original: the whole message as
 * message/rfc822 when full, else its header section (transfer full). */
GBytes *sg_dsn_build_original (const SgMeta *meta, SgDsnKind kind, const char *hostname,
                               const char *original, gsize len, gboolean full, gint64 now);
/* sg_dsn_queue - build the failure report and commit it durably to the spool
 * (sync); the whole original goes with it for RET=FULL if at most full_limit
 * bytes ([queue] bounce_size_limit). Returns its queue ID (transfer full). */
char   *sg_dsn_queue (SgSpool *spool, const SgMeta *meta, const char *hostname,
                      guint64 full_limit, gint64 now, GError **error);
/* sg_dsn_queue_kind - likewise for a report of kind, headers only (transfer full). */
char   *sg_dsn_queue_kind (SgSpool *spool, const SgMeta *meta, SgDsnKind kind,
                           const char *hostname, gint64 now, GError **error);
/* sg_dsn_queue_original - the general form of both (transfer full). */
char   *sg_dsn_queue_original (SgSpool *spool, const SgMeta *meta, SgDsnKind kind,
                               const char *hostname, guint64 full_limit, gint64 now,
                               GError **error);

G_END_DECLS
