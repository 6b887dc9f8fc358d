/* poller.c - the epoll GSource. The epoll fd itself is the only fd GLib
 * polls; dispatch drains up to POLLER_BATCH ready events per iteration.
 * A pfd removed during dispatch is only marked dead and freed once the
 * outermost dispatch is over, so a callback may remove any pfd, including
 * its own. The source may recurse: GLib blocks a source that may not while
 * it dispatches, by taking its fd out of the context's poll set and putting
 * it back, and each of those wakes the context (an eventfd write, and one
 * more loop iteration to read it) - twice for every batch of events. */
#include "event/poller.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <gio/gio.h>

#define POLLER_BATCH 256   /* events taken per dispatch */

struct _SgPollFd {
  SgPoller    *poller;
  int          fd;
  GIOCondition events;
  SgPollFunc   func;
  gpointer     user_data;
  gboolean     dead;
};

typedef struct {
  GSource   source;
  SgPoller *poller;
} PollerSource;

struct _SgPoller {
  int        epfd;
  GSource   *source;
  gpointer   tag;
  guint      dispatching;  /* depth of nested dispatches */
  GPtrArray *graveyard;   /* pfds removed during dispatch */
};

/* to_epoll - the epoll events for events. The peer's half-close (EPOLLRDHUP)
 * is watched only with G_IO_IN: it is level-triggered, and a connection that
 * has seen the end of its input and still owes replies would spin on it. */
static guint32
to_epoll (GIOCondition events)
{
  return ((events & G_IO_IN) ? EPOLLIN | EPOLLRDHUP : 0) | ((events & G_IO_OUT) ? EPOLLOUT : 0);
}

static gboolean
poller_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  SgPoller *p = ((PollerSource *) source)->poller;
  struct epoll_event ev[POLLER_BATCH];
  int n = epoll_wait (p->epfd, ev, POLLER_BATCH, 0);
  if (n < 0)
    {
      if (errno != EINTR)
        g_warning ("epoll_wait: %s", g_strerror (errno));
      return G_SOURCE_CONTINUE;
    }
  p->dispatching++;
  for (int i = 0; i < n; i++)
    {
      SgPollFd *pfd = ev[i].data.ptr;
      if (pfd->dead)
        continue;
      GIOCondition ready = ((ev[i].events & EPOLLIN) ? G_IO_IN : 0)
                         | ((ev[i].events & EPOLLOUT) ? G_IO_OUT : 0)
                         | ((ev[i].events & EPOLLERR) ? G_IO_ERR : 0)
                         | ((ev[i].events & (EPOLLHUP | EPOLLRDHUP)) ? G_IO_HUP : 0);
      pfd->func (pfd, ready, pfd->user_data);
    }
  if (--p->dispatching == 0)
    g_ptr_array_set_size (p->graveyard, 0);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs poller_funcs = {
  .dispatch = poller_dispatch,
};

SgPoller *
sg_poller_new (GMainContext *context, GError **error)
{
  int epfd = epoll_create1 (EPOLL_CLOEXEC);
  if (epfd < 0)
    {
      int e = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "epoll_create1: %s", g_strerror (e));
      return NULL;
    }
  SgPoller *p = g_new0 (SgPoller, 1);
  p->epfd = epfd;
  p->graveyard = g_ptr_array_new_with_free_func (g_free);
  p->source = g_source_new (&poller_funcs, sizeof (PollerSource));
  ((PollerSource *) p->source)->poller = p;
  g_source_set_static_name (p->source, "spoolgate-epoll");
  g_source_set_can_recurse (p->source, TRUE);   /* see the top of this file */
  p->tag = g_source_add_unix_fd (p->source, epfd, G_IO_IN);
  g_source_attach (p->source, context);
  return p;
}

void
sg_poller_free (SgPoller *p)
{
  if (!p)
    return;
  g_source_destroy (p->source);
  g_source_unref (p->source);
  close (p->epfd);
  g_ptr_array_unref (p->graveyard);
  g_free (p);
}

SgPollFd *
sg_poller_add (SgPoller *p, int fd, GIOCondition events, SgPollFunc func,
               gpointer user_data, GError **error)
{
  SgPollFd *pfd = g_new0 (SgPollFd, 1);
  pfd->poller = p;
  pfd->fd = fd;
  pfd->events = events;
  pfd->func = func;
  pfd->user_data = user_data;
  struct epoll_event ev = { .events = to_epoll (events), .data.ptr = pfd };
  if (epoll_ctl (p->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
    {
      int e = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "epoll_ctl: %s", g_strerror (e));
      g_free (pfd);
      return NULL;
    }
  return pfd;
}

void
sg_poller_modify (SgPollFd *pfd, GIOCondition events)
{
  if (pfd->events == events)
    return;
  pfd->events = events;
  struct epoll_event ev = { .events = to_epoll (events), .data.ptr = pfd };
  if (epoll_ctl (pfd->poller->epfd, EPOLL_CTL_MOD, pfd->fd, &ev) < 0)
    g_warning ("epoll_ctl(MOD, %d): %s", pfd->fd, g_strerror (errno));
}

void
sg_poller_remove (SgPollFd *pfd)
{
  if (!pfd)
    return;
  epoll_ctl (pfd->poller->epfd, EPOLL_CTL_DEL, pfd->fd, NULL);
  pfd->dead = TRUE;
  if (pfd->poller->dispatching)
    g_ptr_array_add (pfd->poller->graveyard, pfd);
  else
    g_free (pfd);
}

int
sg_poller_fd (const SgPollFd *pfd)
{
  return pfd->fd;
}
