/* test-dsn-policy.c - what spoolgate writes itself passes its own strictest
 * policy (issue 20, part 4): each kind of report (failure with the header
 * section or, for RET=FULL, the whole original; delay notice; relayed
 * notice), to and about SMTPUTF8 addresses, with ENVID and ORCPT and with a
 * smarthost reply that is not ASCII, is queued into a real spool and then
 * checked by `spoolgate check --config <policy = strict>` with the SMTPUTF8
 * and 8BITMIME the spool records for relaying it.
 */
#include "queue/dsn.h"
#include "spool/spool.h"

#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1800000200

typedef struct {
  const char *address;
  SgRcptStatus status;
  const char *reason;       /* (nullable) */
  const char *notify;       /* (nullable) */
  const char *orcpt;        /* (nullable) addr-type;xtext as received */
  SgRelayNotice relay;
} Rcpt;

typedef struct {
  const char *name;
  SgDsnKind kind;
  const char *sender;
  const char *envid;        /* (nullable) xtext as received */
  const char *ret;          /* (nullable) */
  const char *original;
  Rcpt rcpts[3];
  const char *expect;       /* (nullable) text the report must hold */
} DsnCase;

static const char ascii_original[] =
  "Received: from client.example ([127.0.0.1])\r\n\tby gate.example (spoolgate)\r\n"
  "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\nFrom: Alice <alice@example.com>\r\n"
  "To: bob@example.org\r\nMessage-ID: <1@example.com>\r\nSubject: hello\r\n"
  "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
  "--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nthe body line\r\n"
  "--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
  "Content-Disposition: attachment; filename=\"a.bin\"\r\n\r\nAAECAw==\r\n--b1--\r\n";

/* An SMTPUTF8 original (RFC 6532): UTF-8 in addresses, Subject and body. */
static const char utf8_original[] =
  "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\nFrom: J\xc3\xbcrgen <j\xc3\xbcrgen@b\xc3\xbc" "cher.example>\r\n"
  "To: zo\xc3\xab@example.net\r\nMessage-ID: <2@b\xc3\xbc" "cher.example>\r\n"
  "Subject: Gr\xc3\xbc\xc3\x9f" "e\r\nMIME-Version: 1.0\r\n"
  "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
  "Sch\xc3\xb6ne Gr\xc3\xbc\xc3\x9f" "e\r\n";

#define FAILED(a, why) { a, SG_RCPT_FAILED, why, NULL, NULL, 0 }
#define OK(a) { a, SG_RCPT_DELIVERED, "250 2.0.0 Ok", NULL, NULL, 0 }

static const DsnCase cases[] = {
  { "failure, headers, ENVID and ORCPT", SG_DSN_FAILURE, "alice@example.com", "QQ+2B1", NULL,
    ascii_original,
    { { "bad@example.org", SG_RCPT_FAILED, "550 5.1.1 <bad@example.org>: no such user",
        "FAILURE", "rfc822;Bad+2Bx@example.org", 0 },
      { "later@example.org", SG_RCPT_FAILED, "expired after 9 attempts: 451 4.3.0 later", NULL,
        NULL, 0 },
      OK ("ok@example.org") } },
  { "failure, RET=FULL", SG_DSN_FAILURE, "alice@example.com", "env-1", "FULL", ascii_original,
    { FAILED ("bad@example.org", "550 5.1.1 no such user"), OK ("ok@example.org") } },
  { "failure, RET=HDRS", SG_DSN_FAILURE, "alice@example.com", NULL, "HDRS", ascii_original,
    { FAILED ("bad@example.org", "554 5.7.1 rejected") } },
  { "failure, smarthost reply not ASCII", SG_DSN_FAILURE, "alice@example.com", NULL, NULL,
    ascii_original,
    { FAILED ("bad@example.org", "550 5.1.1 Benutzer unbekannt: j\xc3\xbcrgen \xff\xfe"),
      FAILED ("ctl@example.org", "550 5.1.1 a\x01" "b\x7f" "c\tend") },
    "Diagnostic-Code: smtp; 550 5.1.1 a?b?c end\r\n" },
  { "failure to an SMTPUTF8 sender", SG_DSN_FAILURE, "j\xc3\xbcrgen@b\xc3\xbc" "cher.example", NULL,
    NULL, utf8_original,
    { FAILED ("bob@example.org", "550 5.1.1 no such user") },
    "Content-Type: message/global-headers\r\nContent-Transfer-Encoding: 8bit\r\n" },
  { "failure to an SMTPUTF8 sender, RET=FULL", SG_DSN_FAILURE,
    "j\xc3\xbcrgen@b\xc3\xbc" "cher.example", "env+2B2", "FULL", utf8_original,
    { FAILED ("bob@example.org", "550 5.1.1 no such user") },
    "Content-Type: message/global\r\nContent-Transfer-Encoding: 8bit\r\n" },
  { "failure about an SMTPUTF8 recipient, utf-8 ORCPT", SG_DSN_FAILURE, "alice@example.com",
    "QQ1", NULL, ascii_original,
    { { "zo\xc3\xab@example.net", SG_RCPT_FAILED, "550 5.1.1 <zo\xc3\xab@example.net>: no such user",
        NULL, "utf-8;zo\\x{EB}@example.net", 0 },
      { "bob@example.org", SG_RCPT_FAILED, "550 5.1.1 no", NULL, "rfc822;bob@example.org", 0 } },
    "Content-Type: message/global-delivery-status\r\n" },
  { "delay, ENVID and ORCPT", SG_DSN_DELAY, "alice@example.com", "QQ+2B1", NULL, ascii_original,
    { { "late@example.org", SG_RCPT_DEFERRED, "451 4.3.0 try later", "DELAY",
        "rfc822;late@example.org", 0 },
      { "plain@example.org", SG_RCPT_PENDING, NULL, NULL, NULL, 0 } } },
  { "delay to and about SMTPUTF8 addresses", SG_DSN_DELAY, "j\xc3\xbcrgen@b\xc3\xbc" "cher.example",
    "env-3", NULL, utf8_original,
    { { "zo\xc3\xab@example.net", SG_RCPT_DEFERRED, "451 4.3.0 try later", NULL,
        "utf-8;zo\\x{EB}@example.net", 0 } },
    "Original-Recipient: utf-8; zo\\x{EB}@example.net\r\nFinal-Recipient: utf-8; zo\xc3\xab@example.net\r\n" },
  { "relayed, ENVID and ORCPT", SG_DSN_RELAYED, "alice@example.com", "QQ+2B1", NULL, ascii_original,
    { { "bob@example.org", SG_RCPT_DELIVERED, "250 2.0.0 Ok: queued as 4711", "SUCCESS",
        "rfc822;Bob+2B1@example.org", SG_RELAY_NOTICE_DUE } } },
  { "relayed to and about SMTPUTF8 addresses", SG_DSN_RELAYED,
    "j\xc3\xbcrgen@b\xc3\xbc" "cher.example", "env-4", NULL, utf8_original,
    { { "zo\xc3\xab@example.net", SG_RCPT_DELIVERED, "250 2.0.0 Ok", "SUCCESS,FAILURE",
        "utf-8;zo\\x{EB}@example.net", SG_RELAY_NOTICE_DUE } } },
};

static char *
write_strict_config (const char *dir)
{
  char *path = g_build_filename (dir, "strict.conf", NULL);
  g_autoptr(GError) error = NULL;
  g_file_set_contents (path, "[validation]\npolicy = strict\n", -1, &error);
  g_assert_no_error (error);
  return path;
}

/* One report queued into spool, then `spoolgate check` on its file. */
static void
test_case (gconstpointer data)
{
  const DsnCase *dc = data;
  const char *spoolgate = g_getenv ("SPOOLGATE");
  g_assert_nonnull (spoolgate);
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("sg-dsn-policy-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *conf = write_strict_config (dir);
  g_autofree char *spool_dir = g_build_filename (dir, "spool", NULL);
  g_autoptr(SgSpool) spool = sg_spool_open (spool_dir, &error);
  g_assert_no_error (error);

  g_autoptr(SgMeta) m = sg_meta_new ();
  m->sender = g_strdup (dc->sender);
  m->dsn_envid = g_strdup (dc->envid);
  m->dsn_ret = g_strdup (dc->ret);
  m->esmtp_size = -1;
  m->client_address = g_strdup ("127.0.0.1");
  m->protocol = g_strdup ("ESMTP");
  for (guint i = 0; i < G_N_ELEMENTS (dc->rcpts) && dc->rcpts[i].address; i++)
    sg_meta_add_recipient (m, dc->rcpts[i].address);
  g_autoptr(GBytes) body = g_bytes_new_static (dc->original, strlen (dc->original));
  g_assert_true (sg_spool_commit (spool, m, NULL, body, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < m->recipients->len; i++)
    {
      SgMetaRecipient *r = m->recipients->pdata[i];
      r->status = dc->rcpts[i].status;
      r->delay_reason = g_strdup (dc->rcpts[i].reason);
      r->dsn_notify = g_strdup (dc->rcpts[i].notify);
      r->dsn_orcpt = g_strdup (dc->rcpts[i].orcpt);
      r->relay_notice = dc->rcpts[i].relay;
      r->updated = NOW - 60;
    }

  g_autofree char *id = sg_dsn_queue_original (spool, m, dc->kind, "gate.example", 1024 * 1024,
                                               NOW, &error);
  g_assert_no_error (error);
  g_autoptr(SgMeta) dsn = sg_spool_load_meta (spool, id, &error);
  g_assert_no_error (error);
  g_autofree char *path = sg_spool_message_path (spool, id);
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  if (dc->envid != NULL)
    g_assert_nonnull (strstr (text, "Original-Envelope-Id: "));
  if (dc->expect != NULL && strstr (text, dc->expect) == NULL)
    g_error ("%s: the report lacks \"%s\":\n%s", dc->name, dc->expect, text);
  for (guint i = 0; i < m->recipients->len; i++)
    if (dc->rcpts[i].orcpt != NULL && (dc->kind != SG_DSN_FAILURE || dc->rcpts[i].status == SG_RCPT_FAILED))
      g_assert_nonnull (strstr (text, "Original-Recipient: "));

  GPtrArray *argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) spoolgate);
  g_ptr_array_add (argv, "check");
  g_ptr_array_add (argv, "--config");
  g_ptr_array_add (argv, conf);
  if (dsn->smtputf8)
    g_ptr_array_add (argv, "--smtputf8");
  if (g_strcmp0 (dsn->esmtp_body, "8BITMIME") == 0)
    g_ptr_array_add (argv, "--8bitmime");
  g_ptr_array_add (argv, path);
  g_ptr_array_add (argv, NULL);
  g_autofree char *out = NULL, *err = NULL;
  int status = 0;
  g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                &status, &error);
  g_ptr_array_unref (argv);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    {
      g_test_fail ();
      g_test_message ("%s: spoolgate check --config strict%s%s:\n%s%s\nthe report:\n%s", dc->name,
             dsn->smtputf8 ? " --smtputf8" : "",
             g_strcmp0 (dsn->esmtp_body, "8BITMIME") == 0 ? " --8bitmime" : "", out, err, text);
    }
  else
    g_test_message ("%s: %s", dc->name, out);

  g_autofree char *rm = g_strdup_printf ("rm -rf '%s'", dir);
  g_assert_cmpint (system (rm), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *slug = g_ascii_strdown (cases[i].name, -1);
      g_strcanon (slug, "abcdefghijklmnopqrstuvwxyz0123456789", '-');
      g_autofree char *path = g_strconcat ("/queue/dsn/strict-policy/", slug, NULL);
      g_test_add_data_func (path, &cases[i], test_case);
    }
  return g_test_run ();
}
