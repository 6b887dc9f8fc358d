/* rcpt_milter.c - envelope milter conversations for the greeting, HELO,
 * MAIL and RCPT on a small thread pool (milter/milter_client.c does the
 * talking). A Job owns copies of everything the conversation needs, since
 * the session may close while it runs; its answer comes back through the
 * main context, which calls the caller's done. Lifetime: SgRcptMilter lives as long as the recipient
 * policy; freeing it cancels the conversations and waits for the threads,
 * whose hand-backs then run (or are released) on the context. */
#include "access/rcpt_milter.h"
#include "milter/milter_client.h"

#include <string.h>

struct _SgRcptMilter {
  GMainContext *context;
  GThreadPool  *pool;
  gint          cancel;   /* atomic: SgMilterInput.cancel of every conversation */
};

typedef struct {
  SgRcptMilter    *m;
  SgConfig        *config;
  char            *queue_id, *client_address, *helo, *protocol, *tls_protocol, *tls_cipher;
  char            *sender;
  char            *recipients[2];
  guint16          client_port;
  char            *hold;
  SgRcptMilterDone done;
  gpointer         user_data;
  SgRcptVerdict    verdict;   /* written by the thread, read on the context */
  gint64           deadline;  /* monotonic µs: the conversation's end, set when it is asked for */
  SgMilterUpTo     up_to;     /* the last stage sent */
} Job;

static void
job_free (gpointer data)
{
  Job *j = data;
  sg_config_free (j->config);
  g_free (j->queue_id);
  g_free (j->client_address);
  g_free (j->helo);
  g_free (j->protocol);
  g_free (j->tls_protocol);
  g_free (j->tls_cipher);
  g_free (j->sender);
  g_free (j->recipients[0]);
  g_free (j->hold);
  sg_rcpt_verdict_clear (&j->verdict);
  g_free (j);
}

/* job_done - on the context: tell the caller. */
static gboolean
job_done (gpointer data)
{
  Job *j = data;
  if (!j->verdict.reply.code)
    j->verdict.hold = g_steal_pointer (&j->hold);
  j->done (&j->verdict, j->user_data);
  return G_SOURCE_REMOVE;
}

/* job_run - a pool thread: the envelope conversation. */
static void
job_run (gpointer data, gpointer pool_data)
{
  Job *j = data;
  SgMilterInput in = {
    .queue_id = j->queue_id, .hostname = j->config->hostname,
    .client_address = j->client_address, .client_port = j->client_port,
    .helo = j->helo, .protocol = j->protocol, .tls_version = j->tls_protocol,
    .cipher = j->tls_cipher, .sender = j->sender,
    .recipients = (const char *const *) j->recipients, .cancel = &j->m->cancel,
    .envelope_only = TRUE, .deadline = j->deadline, .up_to = j->up_to,
  };
  g_autoptr(SgMilterResult) r = sg_milter_run (j->config, &in);
  j->verdict.settled = r && r->settled;
  if (r && (r->verdict == SG_MILTER_REJECT || r->verdict == SG_MILTER_TEMPFAIL))
    {
      gboolean perm = r->verdict == SG_MILTER_REJECT;
      sg_reply_set (&j->verdict.reply, r->code ? r->code : perm ? 550 : 451,
                    r->enhanced && *r->enhanced ? r->enhanced : perm ? "5.7.1" : "4.7.1", "milter",
                    "%s", r->text ? r->text : perm ? "Command rejected"
                                                   : "Service unavailable - try again later");
      j->verdict.stage = r->stage;   /* static */
      j->verdict.logged = TRUE;   /* milter_client.c logged its milter-reject line */
    }
  /* accept, discard (decided again at the end of DATA) and quarantine
   * (only at the end of message) accept the recipient here */
  g_main_context_invoke_full (j->m->context, G_PRIORITY_DEFAULT, job_done, j, job_free);
}

SgRcptMilter *
sg_rcpt_milter_new (GMainContext *context, guint max_threads)
{
  SgRcptMilter *m = g_new0 (SgRcptMilter, 1);
  m->context = g_main_context_ref (context);
  m->pool = g_thread_pool_new (job_run, m, (gint) MAX (max_threads, 1u), FALSE, NULL);
  return m;
}

void
sg_rcpt_milter_check (SgRcptMilter *m, SgConfig *config, const SgRcptQuery *q, char *hold,
                      SgRcptMilterDone done, gpointer user_data)
{
  sg_rcpt_milter_check_stage (m, config, SG_MILTER_UP_TO_RCPT, q, hold, done, user_data);
}

void
sg_rcpt_milter_check_stage (SgRcptMilter *m, SgConfig *config, SgMilterUpTo up_to,
                            const SgRcptQuery *q, char *hold, SgRcptMilterDone done,
                            gpointer user_data)
{
  /* the stages sent after the connection itself: connect's negotiation,
   * then HELO, MAIL and RCPT as far as up_to goes */
  static const guint commands[] = {
    [SG_MILTER_UP_TO_CONNECT] = 1, [SG_MILTER_UP_TO_HELO] = 2, [SG_MILTER_UP_TO_MAIL] = 3,
    [SG_MILTER_UP_TO_RCPT] = 4,
  };
  Job *j = g_new0 (Job, 1);
  j->m = m;
  j->config = sg_config_ref (config);
  j->queue_id = g_strdup (q->queue_id);
  j->client_address = g_strdup (q->client_address);
  j->client_port = q->client_port;
  j->helo = g_strdup (q->helo);
  j->protocol = g_strdup (q->protocol);
  j->tls_protocol = g_strdup (q->tls_protocol);
  j->tls_cipher = g_strdup (q->tls_cipher);
  j->sender = g_strdup (q->sender);
  j->recipients[0] = up_to == SG_MILTER_UP_TO_RCPT ? g_strdup (q->recipient) : NULL;
  j->up_to = up_to;
  j->hold = hold;
  j->done = done;
  j->user_data = user_data;
  /* The envelope stages (connect, negotiation with CONNECT, HELO, MAIL,
   * RCPT, as far as up_to goes) within their own timeouts, counted from
   * now: a wait for a free thread behind a hanging milter comes out of this
   * command's own time, so a slow filter costs each waiting command at most
   * its own deadline. */
  j->deadline = g_get_monotonic_time ()
                + (config->milter_connect_timeout
                   + commands[up_to] * (gint64) config->milter_command_timeout)
                  * G_USEC_PER_SEC;
  g_thread_pool_push (m->pool, j, NULL);
}

void
sg_rcpt_milter_free (SgRcptMilter *m)
{
  if (!m)
    return;
  g_atomic_int_set (&m->cancel, 1);
  /* every job runs, cut short; each hands back through the context, which
   * answers its caller when it next runs, or releases the job unanswered
   * if it never does (the callers hold references, not pointers into us) */
  g_thread_pool_free (m->pool, FALSE, TRUE);
  g_main_context_unref (m->context);
  g_free (m);
}
