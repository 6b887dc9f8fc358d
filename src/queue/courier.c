/* courier.c - the courier interface's dispatch and the recipient outcome
 * (courier.h). What a courier does is its implementation's; this file only
 * calls through the table. */
#include "queue/courier.h"

SgRcptOutcome *
sg_rcpt_outcome_new (const char *address)
{
  SgRcptOutcome *o = g_new0 (SgRcptOutcome, 1);
  o->address = g_strdup (address);
  return o;
}

void
sg_rcpt_outcome_free (SgRcptOutcome *o)
{
  if (!o)
    return;
  g_free (o->address);
  g_free (o->reply);
  g_free (o->dsn_notify);
  g_free (o->dsn_orcpt);
  g_free (o);
}

SgCourierSession *
sg_courier_open (SgCourier *courier, SgCourierReached *reached, GError **error)
{
  if (reached != NULL)
    sg_courier_reached_clear (reached);
  SgCourierSession *s = courier->ops->open (courier, reached, error);
  g_return_val_if_fail (s == NULL || s->courier == courier, s);
  return s;
}

gboolean
sg_courier_session_reset (SgCourierSession *session, GError **error)
{
  return session->courier->ops->reset (session, error);
}

gboolean
sg_courier_session_send (SgCourierSession *session, const SgCourierMessage *msg,
                         GPtrArray *outcomes, GError **error)
{
  return session->courier->ops->send (session, msg, outcomes, error);
}

gboolean
sg_courier_session_usable (SgCourierSession *session)
{
  return session->courier->ops->usable (session);
}

void
sg_courier_session_reached (SgCourierSession *session, SgCourierReached *r)
{
  sg_courier_reached_clear (r);
  session->courier->ops->reached (session, r);
}

void
sg_courier_session_close (SgCourierSession *session)
{
  if (session)
    session->courier->ops->close (session);
}

void
sg_courier_cancel (SgCourier *courier)
{
  courier->ops->cancel (courier);
}

void
sg_courier_free (SgCourier *courier)
{
  if (courier)
    courier->ops->free (courier);
}
