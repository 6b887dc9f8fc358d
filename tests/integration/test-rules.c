/* test-rules.c - every validation rule over SMTP: each bad sample under
 * tests/data/validate/bad/ sent to the real server must be refused naming
 * exactly its rule id (or, for advisory rules, accepted with the violation
 * recorded in the metadata), and each good near-miss must be accepted. The
 * same samples go through `spoolgate check --json`, the offline path. Then
 * both corpora (tests/data/corpus/) go to a server with the default policy. */
#include "harness.h"

#include <json-glib/json-glib.h>

#include <string.h>

typedef struct {
  SgTestServer server;
  GPtrArray   *rules;
} Fixture;

static Fixture fixture;

/* The samples are cut for the letter of the RFCs: the server and `check`
 * run with policy = strict, not the (standard) default. */
#define RULES_CONFIG "[validation]\npolicy = strict\n"

/* advisory - rules that are only recorded, whatever the level. */
static gboolean
advisory (const char *rule)
{
  return strcmp (rule, "header.message-id.missing") == 0 ||
         strcmp (rule, "mime.param.fallback") == 0;
}

/* Samples whose client must declare SMTPUTF8/8BITMIME for the rule to be
 * the one seen: the MAIL parameters, and the same for `spoolgate check`. */
static const struct { const char *rule; const char *mail_params; const char *check_flags[3]; } declared[] = {
  { "header.utf8.invalid", " SMTPUTF8 BODY=8BITMIME", { "--smtputf8", "--8bitmime", NULL } },
  { "mime.8bit.in-7bit", " BODY=8BITMIME", { "--8bitmime", NULL } },
};

/* declared_index - the row of declared[] for rule, or -1. */
static int
declared_index (const char *rule)
{
  for (guint i = 0; i < G_N_ELEMENTS (declared); i++)
    if (strcmp (declared[i].rule, rule) == 0)
      return (int) i;
  return -1;
}

static const char *
mail_params (const char *rule, gboolean good)
{
  int d = declared_index (rule);
  if (d >= 0)
    return declared[d].mail_params;
  /* near-misses may carry 8-bit text legitimately: declare what would allow it,
   * except where the declaration is what the rule is about */
  if (good && strcmp (rule, "header.8bit") != 0 && strcmp (rule, "mime.8bit.undeclared") != 0)
    return " BODY=8BITMIME";
  return "";
}

/* load_sample - the file as SMTP content: LF-only files become CRLF; then
 * dot-stuffed (RFC 5321 4.5.2) and terminated. (transfer full) */
static GString *
load_sample (const char *path)
{
  g_autofree char *raw = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (path, &raw, &len, NULL));
  gboolean has_crlf = g_strstr_len (raw, len, "\r\n") != NULL;
  GString *out = g_string_sized_new (len + 64);
  gboolean bol = TRUE;
  for (gsize i = 0; i < len; i++)
    {
      char c = raw[i];
      if (bol && c == '.')
        g_string_append_c (out, '.');
      if (c == '\n' && !has_crlf && (i == 0 || raw[i - 1] != '\r'))
        g_string_append_c (out, '\r');
      g_string_append_c (out, c);
      bol = c == '\n';
    }
  if (!bol)
    g_string_append (out, "\r\n");
  g_string_append (out, ".\r\n");
  return out;
}

/* send_sample - one transaction; returns the reply to the final dot. */
static char *
send_sample (const char *kind, const char *rule)
{
  g_autofree char *name = g_strconcat (rule, ".eml", NULL);
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "validate", kind, name, NULL);
  g_autoptr(GString) data = NULL;
  data = load_sample (path);
  SgTestClient *c = sg_test_client_connect (fixture.server.port, NULL);
  g_autofree char *e = sg_test_client_command (c, "EHLO client.example");
  g_autofree char *mail = g_strconcat ("MAIL FROM:<a@example.com>", mail_params (rule, strcmp (kind, "good") == 0), NULL);
  g_autofree char *m = sg_test_client_command (c, mail);
  g_autofree char *r = sg_test_client_command (c, "RCPT TO:<b@example.org>");
  g_autofree char *d = sg_test_client_command (c, "DATA");
  g_assert_true (g_str_has_prefix (m, "250 "));
  g_assert_true (g_str_has_prefix (d, "354 "));
  sg_test_client_send (c, data->str, data->len);
  char *reply = sg_test_client_reply (c);
  sg_test_client_free (c);
  return reply;
}

/* send_file - one transaction of the message at path to port, as a client
 * that declared BODY=8BITMIME; returns the reply to the final dot. */
static char *
send_file (guint16 port, const char *path)
{
  g_autoptr(GString) data = load_sample (path);
  SgTestClient *c = sg_test_client_connect (port, NULL);
  g_autofree char *e = sg_test_client_command (c, "EHLO client.example");
  g_autofree char *m = sg_test_client_command (c, "MAIL FROM:<a@example.com> BODY=8BITMIME");
  g_autofree char *r = sg_test_client_command (c, "RCPT TO:<b@example.org>");
  g_autofree char *d = sg_test_client_command (c, "DATA");
  g_assert_true (g_str_has_prefix (m, "250 "));
  g_assert_true (g_str_has_prefix (d, "354 "));
  sg_test_client_send (c, data->str, data->len);
  char *reply = sg_test_client_reply (c);
  sg_test_client_free (c);
  return reply;
}

/* Both corpora over SMTP to a server with the default configuration, as a
 * new user runs it: every legitimate message queued, every evasion refused
 * with a 550 naming the rule its MANIFEST gives. */
static void
test_corpora_default (void)
{
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  g_autofree char *legit = g_test_build_filename (G_TEST_DIST, "data", "corpus", "legit", NULL);
  g_autoptr(GDir) d = g_dir_open (legit, 0, NULL);
  g_assert_nonnull (d);
  guint accepted = 0, rejected = 0;
  for (const char *n; (n = g_dir_read_name (d)) != NULL; )
    {
      if (!g_str_has_suffix (n, ".eml"))
        continue;
      g_autofree char *path = g_build_filename (legit, n, NULL);
      g_autofree char *reply = send_file (s.port, path);
      if (reply == NULL || !g_str_has_prefix (reply, "250 "))
        g_error ("legit/%s over SMTP: got \"%s\", want 250", n, reply);
      accepted++;
    }
  g_autofree char *evasion = g_test_build_filename (G_TEST_DIST, "data", "corpus", "evasion", NULL);
  g_autofree char *manifest_path = g_build_filename (evasion, "MANIFEST", NULL);
  g_autofree char *manifest = sg_test_read_file (manifest_path, NULL);
  g_auto(GStrv) lines = g_strsplit (manifest, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (lines[i][0] == '#' || lines[i][0] == '\0')
        continue;
      g_auto(GStrv) f = g_strsplit (lines[i], "\t", 3);
      g_autofree char *path = g_build_filename (evasion, f[0], NULL);
      g_autofree char *reply = send_file (s.port, path);
      g_autofree char *tag = g_strdup_printf ("[%s]", f[1]);
      if (reply == NULL || !g_str_has_prefix (reply, "550 5.") || strstr (reply, tag) == NULL)
        g_error ("evasion/%s over SMTP: got \"%s\", want 550 naming %s", f[0], reply, tag);
      rejected++;
    }
  g_test_message ("default policy over SMTP: %u legitimate accepted, %u evasions rejected",
                  accepted, rejected);
  g_assert_cmpuint (accepted, >=, 40);
  g_assert_cmpuint (rejected, >=, 45);
  g_autoptr(GPtrArray) ids = sg_test_spool_ids (&s);
  g_assert_cmpuint (ids->len, ==, accepted);
  sg_test_server_free (&s);
}

static void
test_bad (gconstpointer data)
{
  const char *rule = data;
  g_autoptr(GPtrArray) before = sg_test_spool_ids (&fixture.server);
  g_autofree char *reply = send_sample ("bad", rule);
  g_autofree char *tag = g_strdup_printf ("[%s]", rule);
  if (advisory (rule))
    {
      /* advisory: accepted, and the violation is recorded in the metadata */
      g_assert_true (g_str_has_prefix (reply, "250 "));
      const char *id = strstr (reply, "queued as ") + strlen ("queued as ");
      g_autofree char *json_path = g_strdup_printf ("%s/queue/%s.json", fixture.server.spool, id);
      g_autofree char *json = NULL;
      g_assert_true (g_file_get_contents (json_path, &json, NULL, NULL));
      g_assert_nonnull (strstr (json, rule));
      return;
    }
  if (!g_str_has_prefix (reply, "550 5.") || !strstr (reply, tag))
    g_error ("bad/%s.eml over SMTP: got \"%s\", want 550 naming %s", rule, reply, tag);
  g_autoptr(GPtrArray) after = sg_test_spool_ids (&fixture.server);
  g_assert_cmpuint (after->len, ==, before->len);
}

static void
test_good (gconstpointer data)
{
  const char *rule = data;
  g_autofree char *reply = send_sample ("good", rule);
  if (!g_str_has_prefix (reply, "250 2.0.0 Ok: queued as "))
    g_error ("good/%s.eml over SMTP: got \"%s\", want 250", rule, reply);
}

/* check_all - `spoolgate check --json` over every sample of kind at once;
 * bad ones must name their own rule, good ones must be accepted. */
static void
check_all (const char *kind, const char *const *flags, const char *only)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (argv, g_strdup (sg_test_spoolgate ()));
  g_ptr_array_add (argv, g_strdup ("check"));
  g_ptr_array_add (argv, g_strdup ("--json"));
  g_ptr_array_add (argv, g_strdup ("--config"));
  g_ptr_array_add (argv, g_strdup (fixture.server.config));
  for (guint i = 0; flags && flags[i]; i++)
    g_ptr_array_add (argv, g_strdup (flags[i]));
  guint want = 0;
  for (guint i = 0; i < fixture.rules->len; i++)
    {
      const char *rule = g_ptr_array_index (fixture.rules, i);
      if (only ? strcmp (rule, only) != 0 : declared_index (rule) >= 0)
        continue;
      want++;
      g_autofree char *name = g_strconcat (rule, ".eml", NULL);
      g_ptr_array_add (argv, g_test_build_filename (G_TEST_DIST, "data", "validate", kind, name, NULL));
    }
  g_ptr_array_add (argv, NULL);
  g_autofree char *out = NULL, *err = NULL;
  int rc = sg_test_run ((const char *const *) argv->pdata, &out, &err);
  int want_rc = strcmp (kind, "bad") == 0 ? 1 : 0;
  if (rc != want_rc)
    g_error ("check %s samples: exit %d, want %d\n%s%s", kind, rc, want_rc, out, err);
  g_auto(GStrv) lines = g_strsplit (out, "\n", -1);
  guint seen = 0;
  for (guint i = 0; lines[i] && *lines[i]; i++, seen++)
    {
      g_autoptr(JsonParser) p = json_parser_new ();
      g_assert_true (json_parser_load_from_data (p, lines[i], -1, NULL));
      JsonObject *o = json_node_get_object (json_parser_get_root (p));
      g_autofree char *file = g_path_get_basename (json_object_get_string_member (o, "file"));
      file[strlen (file) - 4] = '\0';
      const char *verdict = json_object_get_string_member (o, "verdict");
      gboolean found = FALSE;
      JsonArray *vs = json_object_get_array_member (o, "violations");
      for (guint j = 0; j < json_array_get_length (vs); j++)
        if (strcmp (json_object_get_string_member (json_array_get_object_element (vs, j), "rule"), file) == 0)
          found = TRUE;
      if (strcmp (kind, "good") == 0 && strcmp (verdict, "accepted") != 0)
        g_error ("check good/%s.eml: %s", file, lines[i]);
      if (strcmp (kind, "bad") == 0 && (!found || (strcmp (verdict, "rejected") != 0
                                                   && !advisory (file))))
        g_error ("check bad/%s.eml does not reject naming %s: %s", file, file, lines[i]);
    }
  g_assert_cmpuint (seen, ==, want);
}

static void
test_check_bad (void)
{
  check_all ("bad", NULL, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (declared); i++)
    check_all ("bad", declared[i].check_flags, declared[i].rule);
}

static void
test_check_good (void)
{
  /* near-misses may use 8-bit text that a declaring client may send */
  static const char *const flags[] = { "--8bitmime", NULL };
  check_all ("good", flags, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (declared); i++)
    check_all ("good", declared[i].check_flags, declared[i].rule);
}

/* Issue 20 over SMTP: a field is judged alike first and last in its
 * header section; the last field of a section used to escape the 8-bit,
 * UTF-8 and RFC 2047 checks. */
#define POS_HEAD "From: a@example.com\r\nTo: b@example.org\r\nDate: Mon, 7 Dec 2026 10:00:00 +0000\r\n"
#define POS_PART(first, second) POS_HEAD "MIME-Version: 1.0\r\nMessage-ID: <p@example.com>\r\n" \
  "Content-Type: multipart/mixed; boundary=BB\r\n\r\n--BB\r\nContent-Type: text/plain\r\n\r\n" \
  "hi\r\n--BB\r\n" first "\r\n" second "\r\n\r\nAAAA\r\n--BB--\r\n"
#define POS_CT "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64"
#define POS_CD "Content-Disposition: attachment; filename=\"a\xff.txt\""

static const struct {
  const char *body;
  const char *level;
  const char *reply;     /* the final reply starts with this */
  const char *rule;      /* named in the reply, or recorded in the metadata */
} position_cases[] = {
  { POS_HEAD "Subject: x\xff\xfe\r\nMessage-ID: <x@example.com>\r\n\r\nbody\r\n",
    "standard", "550 5.6.7", "header.utf8.invalid" },
  { POS_HEAD "Message-ID: <x@example.com>\r\nSubject: x\xff\xfe\r\n\r\nbody\r\n",
    "standard", "550 5.6.7", "header.utf8.invalid" },
  { POS_HEAD "Message-ID: <x@example.com>\r\nSubject: x\xff\xfe\r\n\r\nbody\r\n",
    "strict", "550 5.6.7", "header.8bit" },
  { POS_PART (POS_CD, POS_CT), "standard", "550 5.6.7", "header.utf8.invalid" },
  { POS_PART (POS_CT, POS_CD), "standard", "550 5.6.7", "header.utf8.invalid" },
  { POS_PART (POS_CT, POS_CD), "strict", "550 5.6.7", "header.8bit" },
  { POS_HEAD "Subject: =?utf-8?B?***?=\r\nMessage-ID: <x@example.com>\r\n\r\nbody\r\n",
    "standard", "250 2.0.0", "header.rfc2047.invalid" },
  { POS_HEAD "Message-ID: <x@example.com>\r\nSubject: =?utf-8?B?***?=\r\n\r\nbody\r\n",
    "standard", "250 2.0.0", "header.rfc2047.invalid" },
  { POS_HEAD "Message-ID: <x@example.com>\r\nSubject: =?utf-8?B?***?=\r\n\r\nbody\r\n",
    "strict", "550 5.6.0", "header.rfc2047.invalid" },
};

static void
test_positions (void)
{
  for (guint k = 0; k < 2; k++)
    {
      const char *level = k ? "strict" : "standard";
      g_autofree char *conf = g_strdup_printf ("[validation]\npolicy = %s\n", level);
      SgTestServer s;
      sg_test_server_start (&s, conf);
      for (guint i = 0; i < G_N_ELEMENTS (position_cases); i++)
        {
          if (strcmp (position_cases[i].level, level) != 0)
            continue;
          g_autofree char *greeting = NULL;
          SgTestClient *c = sg_test_client_connect (s.port, &greeting);
          g_assert_nonnull (c);
          const char *cmds[] = { "EHLO client.example", "MAIL FROM:<a@example.com>",
                                 "RCPT TO:<b@example.org>", "DATA" };
          for (guint j = 0; j < G_N_ELEMENTS (cmds); j++)
            g_free (sg_test_client_command (c, cmds[j]));
          sg_test_client_send (c, position_cases[i].body, -1);
          g_autofree char *reply = sg_test_client_command (c, ".");
          g_autofree char *want_rule = g_strdup_printf ("[%s]", position_cases[i].rule);
          if (!g_str_has_prefix (reply, position_cases[i].reply) ||
              (reply[0] == '5' && strstr (reply, want_rule) == NULL))
            g_error ("case %u (%s): got \"%s\", want \"%s ... %s\"", i, level, reply,
                     position_cases[i].reply, want_rule);
          if (reply[0] == '2')
            {
              const char *id = strstr (reply, "queued as ") + strlen ("queued as ");
              g_autofree char *json = g_strdup_printf ("%s/queue/%.*s.json", s.spool,
                                                       (int) strcspn (id, " \r\n"), id);
              g_autofree char *meta = sg_test_read_file (json, NULL);
              g_autofree char *recorded = g_strdup_printf ("\"%s\"", position_cases[i].rule);
              if (strstr (meta, recorded) == NULL)
                g_error ("case %u (%s): %s not recorded in %s:\n%s", i, level,
                         position_cases[i].rule, json, meta);
            }
          g_free (sg_test_client_command (c, "QUIT"));
          sg_test_client_free (c);
        }
      sg_test_server_free (&s);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_autofree char *dir = g_test_build_filename (G_TEST_DIST, "data", "validate", "bad", NULL);
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  g_assert_nonnull (d);
  fixture.rules = g_ptr_array_new_with_free_func (g_free);
  for (const char *n; (n = g_dir_read_name (d)); )
    if (g_str_has_suffix (n, ".eml"))
      g_ptr_array_add (fixture.rules, g_strndup (n, strlen (n) - 4));
  g_assert_cmpuint (fixture.rules->len, >=, 40);
  for (guint i = 0; i < fixture.rules->len; i++)
    {
      const char *rule = g_ptr_array_index (fixture.rules, i);
      g_autofree char *bad = g_strdup_printf ("/rules/smtp/bad/%s", rule);
      g_autofree char *good = g_strdup_printf ("/rules/smtp/good/%s", rule);
      g_test_add_data_func (bad, rule, test_bad);
      g_test_add_data_func (good, rule, test_good);
    }
  g_test_add_func ("/rules/check/bad", test_check_bad);
  g_test_add_func ("/rules/check/good", test_check_good);
  g_test_add_func ("/rules/corpora/default-policy", test_corpora_default);
  g_test_add_func ("/rules/positions/issue-20", test_positions);
  sg_test_server_start (&fixture.server, RULES_CONFIG);
  int rc = g_test_run ();
  sg_test_server_free (&fixture.server);
  g_ptr_array_unref (fixture.rules);
  return rc;
}
