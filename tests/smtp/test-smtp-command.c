/* test-smtp-command.c - table-driven tests of SMTP command-line syntax. */
#include "smtp/smtp_command.h"

typedef struct {
  const char *arg;
  gboolean    ok;
  int         error_code;   /* when !ok */
  const char *address;      /* when ok */
  gint64      size;
  SgBodyType  body;
} PathCase;

static const PathCase mail_cases[] = {
  { "FROM:<a@example.com>", TRUE, 0, "a@example.com", -1, SG_BODY_NONE },
  { "from:<a@example.com>", TRUE, 0, "a@example.com", -1, SG_BODY_NONE },
  { "FROM: <a@example.com>", TRUE, 0, "a@example.com", -1, SG_BODY_NONE },
  { "FROM:<>", TRUE, 0, "", -1, SG_BODY_NONE },
  { "FROM:<a@example.com> SIZE=1000 BODY=8BITMIME", TRUE, 0, "a@example.com", 1000, SG_BODY_8BITMIME },
  { "FROM:<a@example.com> body=7bit", TRUE, 0, "a@example.com", -1, SG_BODY_7BIT },
  { "FROM:<\"john doe\"@example.com>", TRUE, 0, "\"john doe\"@example.com", -1, SG_BODY_NONE },
  { "FROM:<@relay.example:a@example.com>", TRUE, 0, "a@example.com", -1, SG_BODY_NONE },
  { "FROM:<a@[192.0.2.1]>", TRUE, 0, "a@[192.0.2.1]", -1, SG_BODY_NONE },
  { "FROM:<a@[IPv6:2001:db8::1]>", TRUE, 0, "a@[IPv6:2001:db8::1]", -1, SG_BODY_NONE },
  { "FROM:a@example.com", FALSE, SG_SMTP_ERROR_BAD_SENDER },
  { "FROM:<a@example.com", FALSE, SG_SMTP_ERROR_BAD_SENDER },
  { "FROM:<a..b@example.com>", FALSE, SG_SMTP_ERROR_BAD_SENDER },
  { "FROM:<a@-example.com>", FALSE, SG_SMTP_ERROR_BAD_SENDER },
  { "FROM:<a@exa_mple.com>", FALSE, SG_SMTP_ERROR_BAD_SENDER },
  { "FROM:<a@[300.1.1.1]>", FALSE, SG_SMTP_ERROR_BAD_SENDER },
  { "FROM:<postmaster>", FALSE, SG_SMTP_ERROR_BAD_SENDER },
  { "FROM:<a@example.com>x", FALSE, SG_SMTP_ERROR_BAD_SENDER },
  { "FROM:<\xc3\xa9@example.com>", FALSE, SG_SMTP_ERROR_BAD_SENDER },
  { "FROM:<\xc3\xa9@example.com> SMTPUTF8", TRUE, 0, "\xc3\xa9@example.com", -1, SG_BODY_NONE },
  { "FROM:<\xff@example.com> SMTPUTF8", FALSE, SG_SMTP_ERROR_BAD_SENDER },
  { "TO:<a@example.com>", FALSE, SG_SMTP_ERROR_SYNTAX },
  { "FROM:<a@example.com> SIZE=abc", FALSE, SG_SMTP_ERROR_SYNTAX },
  { "FROM:<a@example.com> SIZE=1 SIZE=2", FALSE, SG_SMTP_ERROR_SYNTAX },
  { "FROM:<a@example.com> SIZE", FALSE, SG_SMTP_ERROR_SYNTAX },
  { "FROM:<a@example.com> BODY=BINARYMIME", FALSE, SG_SMTP_ERROR_UNKNOWN_PARAM },
  { "FROM:<a@example.com> AUTH=<>", FALSE, SG_SMTP_ERROR_UNKNOWN_PARAM },
  { "FROM:<a@example.com> X-FOO=bar", FALSE, SG_SMTP_ERROR_UNKNOWN_PARAM },
  { "FROM:<a@example.com> =bar", FALSE, SG_SMTP_ERROR_SYNTAX },
  { "FROM:<a@example.com>\tSIZE=1", FALSE, SG_SMTP_ERROR_SYNTAX },
  /* RFC 3461 4.4: ENVID is printable US-ASCII once its xtext is decoded */
  { "FROM:<a@example.com> ENVID=QQ+2B1+20x", TRUE, 0, "a@example.com", -1, SG_BODY_NONE },
  { "FROM:<a@example.com> ENVID=a+00b", FALSE, SG_SMTP_ERROR_SYNTAX },
  { "FROM:<a@example.com> ENVID=a+0D+0Ab", FALSE, SG_SMTP_ERROR_SYNTAX },
  { "FROM:<a@example.com> ENVID=a+09b", FALSE, SG_SMTP_ERROR_SYNTAX },
  { "FROM:<a@example.com> ENVID=a+7F", FALSE, SG_SMTP_ERROR_SYNTAX },
  { "FROM:<a@example.com> ENVID=caf+C3+A9", FALSE, SG_SMTP_ERROR_SYNTAX },
  { "FROM:<a@example.com> ENVID=+FF", FALSE, SG_SMTP_ERROR_SYNTAX },
};

static const PathCase rcpt_cases[] = {
  { "TO:<b@example.org>", TRUE, 0, "b@example.org", -1, SG_BODY_NONE },
  { "TO:<Postmaster>", TRUE, 0, "Postmaster", -1, SG_BODY_NONE },
  { "TO:<>", FALSE, SG_SMTP_ERROR_BAD_RECIPIENT },
  { "TO:<b@example.org> NOTIFY=NEVER", TRUE, 0, "b@example.org", -1, SG_BODY_NONE },
  { "TO:<b@example.org> NOTIFY=NEVER,DELAY", FALSE, SG_SMTP_ERROR_SYNTAX },
  { "TO:<b@example.org> ORCPT=rfc822;b+ZZ", FALSE, SG_SMTP_ERROR_SYNTAX },
  /* RFC 3461 4.2: ORCPT's address is printable US-ASCII once decoded */
  { "TO:<b@example.org> ORCPT=rfc822;B+2Bx@example.org", TRUE, 0, "b@example.org", -1, SG_BODY_NONE },
  { "TO:<b@example.org> ORCPT=utf-8;zo\\x{EB}@example.net", TRUE, 0, "b@example.org", -1, SG_BODY_NONE },
  { "TO:<b@example.org> ORCPT=rfc822;b+00@example.org", FALSE, SG_SMTP_ERROR_SYNTAX },
  { "TO:<b@example.org> ORCPT=rfc822;b+0A@example.org", FALSE, SG_SMTP_ERROR_SYNTAX },
  { "TO:<b@example.org> ORCPT=rfc822;zo+C3+AB@example.org", FALSE, SG_SMTP_ERROR_SYNTAX },
  { "TO:<b@example.org> ORCPT=rfc822;b+80", FALSE, SG_SMTP_ERROR_SYNTAX },
  { "TO:<b@example.org> X-FOO=bar", FALSE, SG_SMTP_ERROR_UNKNOWN_PARAM },
  { "TO:<b@example.org> SIZE=10", FALSE, SG_SMTP_ERROR_UNKNOWN_PARAM },
  { "TO:<b@@example.org>", FALSE, SG_SMTP_ERROR_BAD_RECIPIENT },
  { "TO:<b>", FALSE, SG_SMTP_ERROR_BAD_RECIPIENT },
  { "TO:b@example.org", FALSE, SG_SMTP_ERROR_BAD_RECIPIENT },
  { "FROM:<b@example.org>", FALSE, SG_SMTP_ERROR_SYNTAX },
};

static void
run_cases (const PathCase *cases, guint n, gboolean mail)
{
  for (guint i = 0; i < n; i++)
    {
      const PathCase *c = &cases[i];
      g_autoptr(GError) error = NULL;
      SgSmtpPath path = { .size = -1 };
      gboolean ok = mail ? sg_smtp_parse_mail (c->arg, &path, &error)
                         : sg_smtp_parse_rcpt (c->arg, FALSE, &path, &error);
      if (ok != c->ok)
        g_error ("case %u \"%s\": got %s (%s), want %s", i, c->arg, ok ? "ok" : "error",
                 error ? error->message : "", c->ok ? "ok" : "error");
      if (ok)
        {
          g_assert_cmpstr (path.address, ==, c->address);
          g_assert_cmpint (path.size, ==, c->size);
          g_assert_cmpint (path.body, ==, c->body);
        }
      else if (error->code != c->error_code)
        g_error ("case %u \"%s\": got error code %d (%s), want %d", i, c->arg, error->code,
                 error->message, c->error_code);
      sg_smtp_path_clear (&path);
    }
}

static void
test_mail (void)
{
  run_cases (mail_cases, G_N_ELEMENTS (mail_cases), TRUE);
}

static void
test_rcpt (void)
{
  run_cases (rcpt_cases, G_N_ELEMENTS (rcpt_cases), FALSE);
}

static void
test_verb (void)
{
  static const struct { const char *line; gboolean ok; const char *verb, *arg; } cases[] = {
    { "EHLO client.example", TRUE, "EHLO", "client.example" },
    { "quit", TRUE, "QUIT", "" },
    { "MAIL FROM:<a@b>", TRUE, "MAIL", "FROM:<a@b>" },
    { "", FALSE },
    { " EHLO x", FALSE },
    { "EH1O x", FALSE },
    { "ABCDEFGHIJKLMNOPQ x", FALSE },
    { "EHLO\tx", FALSE },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      char verb[SG_SMTP_VERB_MAX + 1];
      const char *arg = NULL;
      gboolean ok = sg_smtp_split_verb (cases[i].line, strlen (cases[i].line), verb, &arg);
      g_assert_cmpint (ok, ==, cases[i].ok);
      if (ok)
        {
          g_assert_cmpstr (verb, ==, cases[i].verb);
          g_assert_cmpstr (arg, ==, cases[i].arg);
        }
    }
}

static void
test_domain (void)
{
  g_assert_true (sg_smtp_domain_valid ("localhost", FALSE));
  g_assert_true (sg_smtp_domain_valid ("mx-1.example.co.uk", FALSE));
  g_assert_true (sg_smtp_domain_valid ("[127.0.0.1]", FALSE));
  g_assert_false (sg_smtp_domain_valid ("", FALSE));
  g_assert_false (sg_smtp_domain_valid ("a..b", FALSE));
  g_assert_false (sg_smtp_domain_valid ("a.b.", FALSE));
  g_assert_false (sg_smtp_domain_valid ("[127.0.0.1", FALSE));
  g_autofree char *long_label = g_strnfill (64, 'a');
  g_assert_false (sg_smtp_domain_valid (long_label, FALSE));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/smtp/command/verb", test_verb);
  g_test_add_func ("/smtp/command/mail", test_mail);
  g_test_add_func ("/smtp/command/rcpt", test_rcpt);
  g_test_add_func ("/smtp/command/domain", test_domain);
  return g_test_run ();
}
