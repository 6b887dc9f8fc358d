/* poller.h - one epoll-backed GSource for every socket of the server, so a
 * main-loop wake-up costs O(ready sockets), not O(open sessions) as one GSource
 * per socket with poll() would. Level-triggered; callbacks run in the context
 * the poller is attached to. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

typedef struct _SgPoller SgPoller;
typedef struct _SgPollFd SgPollFd;

/* Called with the ready events (G_IO_IN, G_IO_OUT, G_IO_ERR, G_IO_HUP). */
typedef void (*SgPollFunc) (SgPollFd *pfd, GIOCondition ready, gpointer user_data);

/* sg_poller_new - attach to context (NULL = default). */
SgPoller *sg_poller_new (GMainContext *context, GError **error);
void      sg_poller_free (SgPoller *poller);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgPoller, sg_poller_free)

/* sg_poller_add - watch fd for events (G_IO_IN and/or G_IO_OUT). */
SgPollFd *sg_poller_add (SgPoller *poller, int fd, GIOCondition events,
                         SgPollFunc func, gpointer user_data, GError **error);
/* sg_poller_modify - change the watched events; no-op when unchanged. */
void      sg_poller_modify (SgPollFd *pfd, GIOCondition events);
/* sg_poller_remove - stop watching and free pfd (the fd stays open). */
void      sg_poller_remove (SgPollFd *pfd);
int       sg_poller_fd (const SgPollFd *pfd);

G_END_DECLS
