/* metrics_http.h - the Prometheus scrape endpoint on [metrics] listen: a
 * minimal HTTP/1.0 and HTTP/1.1 server on the server's main loop (its poller
 * and timer wheel). GET or HEAD /metrics gets metrics.c's text; every answer
 * closes the connection. What the metrics mean is metrics.c's business. */
#pragma once
#include <glib.h>
#include "event/poller.h"
#include "event/timer_wheel.h"

G_BEGIN_DECLS

typedef struct _SgMetricsHttp SgMetricsHttp;

/* sg_metrics_http_new - bind address ("HOST:PORT") and serve scrapes through
 * poller and wheel, which must outlive the endpoint (transfer full). */
SgMetricsHttp *sg_metrics_http_new (const char *address, SgPoller *poller, SgTimerWheel *wheel,
                                    GError **error);
/* sg_metrics_http_free - close the socket and every scrape in progress. */
void           sg_metrics_http_free (SgMetricsHttp *http);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgMetricsHttp, sg_metrics_http_free)

/* sg_metrics_http_route - the status for one complete request head (request
 * line and headers through the empty line): 200 for GET or HEAD /metrics
 * (a query string is ignored), 404 for another path, 405 for another method,
 * 400 for anything that is not an HTTP/1.0 or HTTP/1.1 request. *is_head is
 * set for HEAD. Exposed for the unit tests. */
guint sg_metrics_http_route (const char *request, gsize len, gboolean *is_head);

G_END_DECLS
