/* smarthost_courier.c - the smarthost as a courier: each session is one
 * SMTP client session from the dial (dial.c), kept by a delivery worker for
 * the next message; RSET before a reused session carries another
 * transaction. What to do with the replies is src/queue/'s. */
#include "smarthost/smarthost_courier.h"
#include "smarthost/client.h"
#include "smarthost/dial.h"

typedef struct {
  SgCourier        base;
  SgSmarthostDial *dial;   /* shared by every session: thread-safe */
} SmarthostCourier;

typedef struct {
  SgCourierSession base;
  SgSmtpClient    *client;
} SmarthostSession;

static SgSmtpClient *
client_of (SgCourierSession *s)
{
  return ((SmarthostSession *) s)->client;
}

static SgCourierSession *
smarthost_open (SgCourier *courier, SgCourierReached *reached, GError **error)
{
  SgSmtpClient *client = sg_smarthost_dial_open (((SmarthostCourier *) courier)->dial, reached,
                                                 error);
  if (!client)
    return NULL;
  SmarthostSession *s = g_new0 (SmarthostSession, 1);
  s->base.courier = courier;
  s->client = client;
  return &s->base;
}

/* smarthost_reset - RFC 5321 4.1.1.5: RSET only after a transaction. */
static gboolean
smarthost_reset (SgCourierSession *s, GError **error)
{
  return sg_smtp_client_transactions (client_of (s)) == 0
         || sg_smtp_client_reset (client_of (s), error);
}

static gboolean
smarthost_send (SgCourierSession *s, const SgCourierMessage *msg, GPtrArray *outcomes,
                GError **error)
{
  return sg_smtp_client_send (client_of (s), msg, outcomes, error);
}

static gboolean
smarthost_usable (SgCourierSession *s)
{
  return sg_smtp_client_usable (client_of (s));
}

static void
smarthost_reached (SgCourierSession *s, SgCourierReached *r)
{
  sg_smtp_client_reached (client_of (s), r);
}

/* smarthost_close - QUIT (when the session is still in step) and free. */
static void
smarthost_close (SgCourierSession *s)
{
  sg_smtp_client_close (client_of (s));
  g_free (s);
}

static void
smarthost_cancel (SgCourier *courier)
{
  sg_smarthost_dial_cancel (((SmarthostCourier *) courier)->dial);
}

static void
smarthost_free (SgCourier *courier)
{
  sg_smarthost_dial_free (((SmarthostCourier *) courier)->dial);
  g_free (courier);
}

static const SgCourierOps smarthost_ops = {
  .open = smarthost_open, .reset = smarthost_reset, .send = smarthost_send,
  .usable = smarthost_usable, .reached = smarthost_reached, .close = smarthost_close,
  .cancel = smarthost_cancel, .free = smarthost_free,
};

SgCourier *
sg_smarthost_courier_new (const SgConfig *config, GError **error)
{
  SgSmarthostDial *dial = sg_smarthost_dial_new (config, error);
  if (!dial)
    return NULL;
  SmarthostCourier *c = g_new0 (SmarthostCourier, 1);
  c->base.ops = &smarthost_ops;
  c->dial = dial;
  return &c->base;
}
