/* test-envelope.c - the envelope's conversions, each checked field by
 * field or byte for byte: Received header, metadata, milter input, refusal
 * record; and the reply object's wording of spool failures. */
#include "envelope/envelope.h"
#include "reply/reply.h"

#include <string.h>

#define ARRIVAL_US (G_GINT64_CONSTANT (1704067200) * G_USEC_PER_SEC)  /* 2024-01-01 00:00:00 UTC */

/* envelope - a message from client.example to rcpts (NULL-terminated). */
static SgEnvelope *
envelope (const char *const *rcpts)
{
  SgEnvelope *env = sg_envelope_new ();
  g_strlcpy (env->queue_id, "1K2237Q9J3HWVP300000", sizeof env->queue_id);
  env->mail.address = g_strdup ("a@example.com");
  env->helo = g_strdup ("client.example");
  env->protocol = "ESMTP";
  env->client_address = g_strdup ("192.0.2.7");
  env->client_port = 40000;
  env->arrival_us = ARRIVAL_US;
  for (guint i = 0; rcpts[i]; i++)
    sg_envelope_add_recipient (env, g_strdup (rcpts[i]), NULL);
  return env;
}

static void
test_received (void)
{
  g_autoptr(SgEnvelope) one = envelope ((const char *[]) { "b@example.org", NULL });
  g_autoptr(GBytes) h1 = sg_envelope_received (one, "mx.test");
  g_assert_cmpstr (g_bytes_get_data (h1, NULL), ==,
                   "Received: from client.example ([192.0.2.7])\r\n"
                   "\tby mx.test (spoolgate) with ESMTP id 1K2237Q9J3HWVP300000\r\n"
                   "\tfor <b@example.org>;\r\n"
                   "\tMon, 01 Jan 2024 00:00:00 +0000\r\n");

  /* several recipients are not disclosed; TLS, IPv6 and no HELO name */
  g_autoptr(SgEnvelope) two = envelope ((const char *[]) { "b@example.org", "c@example.org", NULL });
  g_clear_pointer (&two->helo, g_free);
  g_free (two->client_address);
  two->client_address = g_strdup ("2001:db8::7");
  two->protocol = "ESMTPS";
  two->tls_protocol = g_strdup ("TLSv1.3");
  two->tls_cipher = g_strdup ("TLS_AES_256_GCM_SHA384");
  g_autoptr(GBytes) h2 = sg_envelope_received (two, "mx.test");
  g_assert_cmpstr (g_bytes_get_data (h2, NULL), ==,
                   "Received: from unknown ([IPv6:2001:db8::7])\r\n"
                   "\tby mx.test (spoolgate) with ESMTPS id 1K2237Q9J3HWVP300000\r\n"
                   "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384);\r\n"
                   "\tMon, 01 Jan 2024 00:00:00 +0000\r\n");
}

static void
test_meta (void)
{
  g_autoptr(SgEnvelope) env = envelope ((const char *[]) { NULL });
  SgSmtpPath *p = g_new0 (SgSmtpPath, 1);
  p->size = -1;
  p->dsn_notify = g_strdup ("SUCCESS,DELAY");
  p->dsn_orcpt = g_strdup ("rfc822;b@example.org");
  sg_envelope_add_recipient (env, g_strdup ("b@example.org"), p);
  sg_envelope_add_recipient (env, g_strdup ("c@example.org"), NULL);
  env->mail.size = 1234;
  env->mail.body = SG_BODY_8BITMIME;
  env->mail.smtputf8 = TRUE;
  env->mail.dsn_ret = g_strdup ("HDRS");
  env->mail.dsn_envid = g_strdup ("QQ+2B1");
  env->tls_protocol = g_strdup ("TLSv1.3");

  g_autoptr(SgMeta) m = sg_envelope_to_meta (env);
  g_assert_cmpstr (m->queue_id, ==, "1K2237Q9J3HWVP300000");
  g_assert_cmpint (m->arrival_time_us, ==, ARRIVAL_US);
  g_assert_cmpstr (m->sender, ==, "a@example.com");
  g_assert_cmpuint (m->recipients->len, ==, 2);
  const SgMetaRecipient *r0 = g_ptr_array_index (m->recipients, 0);
  const SgMetaRecipient *r1 = g_ptr_array_index (m->recipients, 1);
  g_assert_cmpstr (r0->address, ==, "b@example.org");
  g_assert_cmpstr (r0->dsn_notify, ==, "SUCCESS,DELAY");
  g_assert_cmpstr (r0->dsn_orcpt, ==, "rfc822;b@example.org");
  g_assert_cmpstr (r1->address, ==, "c@example.org");
  g_assert_null (r1->dsn_notify);
  g_assert_null (r1->dsn_orcpt);
  g_assert_cmpint (m->esmtp_size, ==, 1234);
  g_assert_cmpstr (m->esmtp_body, ==, "8BITMIME");
  g_assert_true (m->smtputf8);
  g_assert_cmpstr (m->dsn_ret, ==, "HDRS");
  g_assert_cmpstr (m->dsn_envid, ==, "QQ+2B1");
  g_assert_cmpstr (m->client_address, ==, "192.0.2.7");
  g_assert_cmpuint (m->client_port, ==, 40000);
  g_assert_cmpstr (m->helo_name, ==, "client.example");
  g_assert_cmpstr (m->protocol, ==, "ESMTP");
  g_assert_cmpstr (m->tls_protocol, ==, "TLSv1.3");
  g_assert_null (m->tls_cipher);
  g_assert_cmpint (m->state, ==, SG_MSG_QUEUED);
  g_assert_cmpstr (m->log_client, ==, "unknown[192.0.2.7]");

  /* an [access] HOLD: queued held; BODY=7BIT; no SIZE= */
  env->hold_reason = g_strdup ("Recipient address triggers HOLD action");
  env->mail.body = SG_BODY_7BIT;
  env->mail.size = -1;
  g_autoptr(SgMeta) held = sg_envelope_to_meta (env);
  g_assert_cmpint (held->state, ==, SG_MSG_HELD);
  g_assert_cmpstr (held->esmtp_body, ==, "7BIT");
  g_assert_cmpint (held->esmtp_size, ==, -1);
}

static void
test_milter_input (void)
{
  g_autoptr(SgEnvelope) env = envelope ((const char *[]) { "b@example.org", "c@example.org", NULL });
  env->received = g_bytes_new_static ("Received: x\r\n", 13);
  SgMilterInput in = sg_envelope_milter_input (env, "mx.test");
  g_assert_cmpstr (in.queue_id, ==, "1K2237Q9J3HWVP300000");
  g_assert_cmpstr (in.hostname, ==, "mx.test");
  g_assert_cmpstr (in.client_address, ==, "192.0.2.7");
  g_assert_cmpuint (in.client_port, ==, 40000);
  g_assert_cmpstr (in.helo, ==, "client.example");
  g_assert_cmpstr (in.sender, ==, "a@example.com");
  g_assert_cmpstr (in.recipients[0], ==, "b@example.org");
  g_assert_cmpstr (in.recipients[1], ==, "c@example.org");
  g_assert_null (in.recipients[2]);
  g_assert_true (in.received == env->received);
  g_assert_null (in.content);
  g_assert_false (in.envelope_only);

  /* a reset and a new recipient: still one NULL-terminated list */
  sg_envelope_reset (env);
  g_assert_cmpstr (env->queue_id, ==, "");
  g_assert_null (env->mail.address);
  g_assert_cmpint (env->mail.size, ==, -1);
  in = sg_envelope_milter_input (env, "mx.test");
  g_assert_null (in.recipients[0]);
  sg_envelope_add_recipient (env, g_strdup ("d@example.org"), NULL);
  in = sg_envelope_milter_input (env, "mx.test");
  g_assert_cmpstr (in.recipients[0], ==, "d@example.org");
  g_assert_null (in.recipients[1]);

  g_autoptr(SgEnvelope) empty = sg_envelope_new ();
  in = sg_envelope_milter_input (empty, "mx.test");
  g_assert_nonnull (in.recipients);
  g_assert_null (in.recipients[0]);
}

static void
test_reject_client (void)
{
  g_autoptr(SgEnvelope) env = envelope ((const char *[]) { "b@example.org", "c@example.org", NULL });
  const struct { const char *protocol, *logged; } cases[] = {
    { "SMTP", "SMTP" }, { "ESMTP", "ESMTP" }, { "ESMTPS", "ESMTP" }, { "UTF8SMTP", "ESMTP" },
    { "UTF8SMTPS", "ESMTP" }, { NULL, "ESMTP" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      env->protocol = cases[i].protocol;
      SgRejectClient who = sg_envelope_reject_client (env);
      g_assert_cmpstr (who.protocol, ==, cases[i].logged);
      g_assert_cmpstr (who.queue_id, ==, "1K2237Q9J3HWVP300000");
      g_assert_cmpstr (who.helo, ==, "client.example");
      g_assert_cmpstr (who.address, ==, "192.0.2.7");
      g_assert_cmpstr (who.sender, ==, "a@example.com");
      g_assert_cmpstr (who.recipient, ==, "b@example.org");
      g_assert_null (who.name);
    }
}

/* The one wording of a spool failure (session spill, intake draft, commit). */
static void
test_reply_spool_error (void)
{
  g_auto(SgReply) r = { 0 };
  g_autoptr(GError) full = g_error_new_literal (SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOSPACE, "No space left");
  g_autoptr(GError) io = g_error_new_literal (SG_SPOOL_ERROR, SG_SPOOL_ERROR_IO, "EIO");
  g_autoptr(GError) other = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_NO_SPACE, "not the spool's");
  sg_reply_spool_error (&r, full);
  g_assert_cmpuint (r.code, ==, 452);
  g_assert_cmpstr (r.enhanced, ==, "4.3.1");
  g_assert_cmpstr (r.text, ==, "Insufficient system storage; try again later");
  g_assert_cmpstr (r.rule, ==, "spool.full");
  g_assert_cmpstr (sg_reply_log_text (&r), ==, r.text);
  const GError *others[] = { io, other, NULL };
  for (guint i = 0; i < G_N_ELEMENTS (others); i++)
    {
      sg_reply_spool_error (&r, others[i]);
      g_assert_cmpuint (r.code, ==, 451);
      g_assert_cmpstr (r.enhanced, ==, "4.3.0");
      g_assert_cmpstr (r.text, ==, "Local error in processing; try again later");
      g_assert_cmpstr (r.rule, ==, "spool.error");
    }
  /* a log text of its own; a move leaves the source empty */
  sg_reply_set_log (&r, "details for the operator");
  g_assert_cmpstr (sg_reply_log_text (&r), ==, "details for the operator");
  g_auto(SgReply) moved = { 0 };
  sg_reply_move (&moved, &r);
  g_assert_cmpuint (r.code, ==, 0);
  g_assert_null (r.text);
  g_assert_cmpstr (moved.log_text, ==, "details for the operator");
}

int
main (int argc, char **argv)
{
  g_setenv ("TZ", "UTC", TRUE);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/envelope/received", test_received);
  g_test_add_func ("/envelope/meta", test_meta);
  g_test_add_func ("/envelope/milter-input", test_milter_input);
  g_test_add_func ("/envelope/reject-client", test_reject_client);
  g_test_add_func ("/reply/spool-error", test_reply_spool_error);
  return g_test_run ();
}
