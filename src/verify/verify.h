/* verify.h - recipient address verification for the SMTP sessions, as
 * Postfix's verify(8): answers come from the cache (verify_cache.h) while
 * fresh; otherwise one probe per address goes to the next hop (probe.h) on
 * a probe thread, and every RCPT asking for that address meanwhile waits
 * for the same probe. Probes are rate-limited ([access] verify_probe_rate)
 * and bounded in number ([access] verify_max_probes); a waiting RCPT is answered
 * within [access] verify_timeout whatever the next hop does. Runs on the
 * daemon's main loop; only the probes themselves run elsewhere. */
#pragma once
#include <glib.h>
#include "config/config.h"
#include "verify/verify_cache.h"

G_BEGIN_DECLS

/* What a session learns about one address. */
typedef struct {
  SgVerifyStatus status;  /* UNKNOWN: the next hop could not say (4xx, timeout, down, limits) */
  guint          code;    /* the next hop's reply code; 0 when none came */
  const char    *reply;   /* (nullable) its reply, or why there is none */
} SgVerifyAnswer;

/* SgVerifyDone - the answer, exactly once; answer is borrowed. */
typedef void (*SgVerifyDone) (const SgVerifyAnswer *answer, gpointer user_data);

typedef struct _SgVerify SgVerify;

/* sg_verify_new - the cache in config's [spool] dir and the probe threads,
 * which reach the next hop with config's [smarthost] keys (restart-only) and
 * answer on context (transfer full). */
SgVerify *sg_verify_new (const SgConfig *config, GMainContext *context, GError **error);
/* sg_verify_reconfigure - the reloadable [access] verify_* keys. */
void      sg_verify_reconfigure (SgVerify *v, const SgConfig *config);
/* sg_verify_check - TRUE with *now filled when the answer is known now (the
 * cache, a limit); FALSE when done will be called later, within
 * [access] verify_timeout. */
gboolean  sg_verify_check (SgVerify *v, const char *address, gboolean smtputf8,
                           SgVerifyAnswer *now, SgVerifyDone done, gpointer user_data);
/* sg_verify_probes_started - probes sent since start (for the log and tests). */
guint64   sg_verify_probes_started (const SgVerify *v);
/* sg_verify_free - interrupt the probes; every waiting RCPT is answered
 * "unverified" first. */
void      sg_verify_free (SgVerify *v);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgVerify, sg_verify_free)

G_END_DECLS
