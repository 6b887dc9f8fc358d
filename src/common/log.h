/* log.h - one line per event on stderr, Postfix style, for the journal.
 * Code logs through g_message/g_info/g_warning/g_debug; this module owns the
 * writer that formats those lines and the level filter. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

typedef enum { SG_LOG_ERROR, SG_LOG_WARNING, SG_LOG_INFO, SG_LOG_DEBUG } SgLogLevel;

/* sg_log_init - install the writer; messages above level are dropped. */
void sg_log_init (SgLogLevel level);
/* sg_log_level_parse - "error", "warning", "info", "debug". */
gboolean sg_log_level_parse (const char *name, SgLogLevel *level);
/* sg_log_sanitize - printable ASCII copy of untrusted bytes, at most max chars (transfer full). */
char *sg_log_sanitize (const char *data, gssize len, gsize max);

G_END_DECLS
