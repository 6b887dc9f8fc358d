/* test-session.c - the session state machine driven by dialogue files in
 * tests/data/smtp/ (OpenSMTPD smtpscript style). Each file holds lines:
 *   C: text   client line, sent with CRLF (C-style escapes allowed)
 *   R: text   raw client bytes, no CRLF added (escapes allowed)
 *   F: n c    raw client bytes: n times the character c (no CRLF added)
 *   B: text   client line held back and sent with the next C/R/S line in
 *             one input call (pipelining)
 *   S: 250 2.1.0 [text]   next reply: a prefix of its last line, or of
 *                         any line for a multi-line prefix like "250-SIZE"
 *   H: 550 5.6.0 text     what the submit hook answers from now on
 *   O: group key value    set a config key before the dialogue starts
 *   N: count              number of messages submitted so far
 *   X:                    the session must be closing now
 * Each file also runs with the client bytes fed one byte at a time. */
#include "smtp/session.h"
#include <string.h>

/* submit_done - answer the submitted message with "code enhanced text". */
static void
submit_done (SgSession *session, guint code, const char *enhanced, const char *text)
{
  g_auto(SgReply) r = { 0 };
  sg_reply_set (&r, code, enhanced, NULL, "%s", text);
  sg_session_submit_done (session, &r);
}

typedef struct {
  SgSession *session;
  guint      submitted;
  guint      code;
  char      *enhanced;
  char      *text;
  gsize      out_pos;     /* replies consumed so far */
  gboolean   bytewise;
} Dialogue;

static void
hook_submit (SgSession *session, SgEnvelope *env, gpointer user_data)
{
  Dialogue *d = user_data;
  d->submitted++;
  g_assert_nonnull (env->received);
  g_assert_true (g_str_has_prefix (g_bytes_get_data (env->received, NULL), "Received: from "));
  sg_envelope_free (env);
  submit_done (session, d->code, d->enhanced, d->text);
}

static const SgSessionHooks hooks = { .submit = hook_submit };

static void
feed (Dialogue *d, GString *pending)
{
  if (pending->len == 0)
    return;
  if (d->bytewise)
    for (gsize i = 0; i < pending->len; i++)
      sg_session_input (d->session, pending->str + i, 1);
  else
    sg_session_input (d->session, pending->str, pending->len);
  g_string_truncate (pending, 0);
}

/* next_reply - the next complete reply, lines joined by "\n", or NULL. (transfer full) */
static char *
next_reply (Dialogue *d)
{
  GString *out = sg_session_output (d->session);
  gsize pos = d->out_pos;
  g_autoptr(GString) all = g_string_new (NULL);
  while (pos < out->len)
    {
      const char *eol = strstr (out->str + pos, "\r\n");
      g_assert_nonnull (eol);
      gsize len = eol - (out->str + pos);
      const char *line = out->str + pos;
      pos += len + 2;
      g_string_append_len (all, line, len);
      if (len >= 4 && line[3] == ' ')
        {
          d->out_pos = pos;
          return g_string_free (g_steal_pointer (&all), FALSE);
        }
      g_string_append_c (all, '\n');
      g_assert_true (len >= 4 && line[3] == '-');
    }
  return NULL;
}

static void
run_dialogue (const char *path, gboolean bytewise)
{
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  g_autoptr(SgConfig) config = sg_config_new ();
  sg_config_set (config, "server", "hostname", "mx.test", NULL);
  Dialogue d = { .code = 250, .enhanced = g_strdup ("2.0.0"), .text = g_strdup ("Ok: queued"),
                 .bytewise = bytewise };
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  g_autoptr(GString) pending = g_string_new (NULL);
  g_autofree char *name = g_path_get_basename (path);

  for (guint i = 0; lines[i]; i++)
    if (g_str_has_prefix (lines[i], "O: "))
      {
        g_auto(GStrv) kv = g_strsplit (lines[i] + 3, " ", 3);
        if (!sg_config_set (config, kv[0], kv[1], kv[2], &error))
          g_error ("%s:%u: %s", name, i + 1, error->message);
      }
  d.session = sg_session_new (config, "192.0.2.7", 40000, &hooks, &d);
  sg_session_start (d.session);

  for (guint i = 0; lines[i]; i++)
    {
      const char *line = lines[i];
      if (line[0] == '\0' || line[0] == '#' || g_str_has_prefix (line, "O: "))
        continue;
      const char *body = strlen (line) >= 3 ? line + 3 : "";  /* "C:" alone is an empty line */
      g_autofree char *arg = g_strcompress (body);
      gsize arg_len = strlen (arg);
      if (strstr (body, "\\0"))  /* g_strcompress stops at an escaped NUL: rebuild */
        {
          g_free (arg);
          GString *raw = g_string_new (NULL);
          for (const char *p = body; *p; p++)
            if (p[0] == '\\' && p[1] == '0')
              g_string_append_c (raw, '\0'), p++;
            else if (p[0] == '\\' && p[1] == 'r')
              g_string_append_c (raw, '\r'), p++;
            else if (p[0] == '\\' && p[1] == 'n')
              g_string_append_c (raw, '\n'), p++;
            else
              g_string_append_c (raw, *p);
          arg_len = raw->len;
          arg = g_string_free (raw, FALSE);
        }
      switch (line[0])
        {
        case 'B':
          g_string_append_len (pending, arg, arg_len);
          g_string_append (pending, "\r\n");
          break;
        case 'C':
          g_string_append_len (pending, arg, arg_len);
          g_string_append (pending, "\r\n");
          feed (&d, pending);
          break;
        case 'R':
          g_string_append_len (pending, arg, arg_len);
          feed (&d, pending);
          break;
        case 'F':
          {
            guint n = (guint) atoi (arg);
            const char *c = strchr (arg, ' ');
            g_assert_nonnull (c);
            for (guint k = 0; k < n; k++)
              g_string_append_c (pending, c[1]);
          }
          break;
        case 'S':
          {
            feed (&d, pending);
            g_autofree char *reply = next_reply (&d);
            const char *last = reply ? strrchr (reply, '\n') : NULL;
            gboolean match = reply && (arg[3] == '-' ? strstr (reply, arg) != NULL
                                       : g_str_has_prefix (last ? last + 1 : reply, arg));
            if (!match)
              g_error ("%s:%u%s: got reply \"%s\", want \"%s...\"", name, i + 1,
                       bytewise ? " (bytewise)" : "", reply ? reply : "(none)", arg);
          }
          break;
        case 'H':
          {
            g_auto(GStrv) parts = g_strsplit (arg, " ", 3);
            d.code = atoi (parts[0]);
            g_free (d.enhanced);
            g_free (d.text);
            d.enhanced = g_strdup (parts[1]);
            d.text = g_strdup (parts[2] ? parts[2] : "");
          }
          break;
        case 'N':
          feed (&d, pending);
          if (d.submitted != (guint) atoi (arg))
            g_error ("%s:%u: %u message(s) submitted, want %s", name, i + 1, d.submitted, arg);
          break;
        case 'X':
          feed (&d, pending);
          if (sg_session_state (d.session) != SG_SESSION_CLOSING)
            g_error ("%s:%u: session is %s, want CLOSING", name, i + 1,
                     sg_session_state_name (sg_session_state (d.session)));
          break;
        default:
          g_error ("%s:%u: bad dialogue line \"%s\"", name, i + 1, line);
        }
    }
  g_autofree char *extra = next_reply (&d);
  if (extra)
    g_error ("%s: unexpected extra reply \"%s\"", name, extra);
  sg_session_free (d.session);
  g_free (d.enhanced);
  g_free (d.text);
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static void
test_dialogue (gconstpointer data)
{
  run_dialogue (data, FALSE);
  run_dialogue (data, TRUE);
}

/* The tests below drive a session whose submit hook answers later, as the
 * intake does: the reply comes back from the test, not from inside input. */
typedef struct {
  SgSession  *session;
  guint       submitted;
  SgEnvelope *pending;   /* the message awaiting its reply */
} Async;

static void
async_submit (SgSession *session, SgEnvelope *env, gpointer user_data)
{
  Async *a = user_data;
  a->submitted++;
  g_assert_null (a->pending);
  a->pending = env;
}

static const SgSessionHooks async_hooks = { .submit = async_submit };

static SgSession *
async_session (Async *a, SgConfig *config)
{
  sg_config_set (config, "server", "hostname", "mx.test", NULL);
  a->session = sg_session_new (config, "192.0.2.7", 40000, &async_hooks, a);
  sg_session_start (a->session);
  return a->session;
}

static void
async_answer (Async *a, guint code, const char *enhanced, const char *text)
{
  g_assert_nonnull (a->pending);
  g_clear_pointer (&a->pending, sg_envelope_free);
  submit_done (a->session, code, enhanced, text);
}

static void
input (SgSession *s, const char *text)
{
  sg_session_input (s, text, strlen (text));
}

/* count_lines - reply lines in out starting with prefix. */
static guint
count_lines (const GString *out, const char *prefix)
{
  guint n = 0;
  g_auto(GStrv) lines = g_strsplit (out->str, "\r\n", -1);
  for (guint i = 0; lines[i]; i++)
    if (g_str_has_prefix (lines[i], prefix))
      n++;
  return n;
}

#define TXN "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n"

/* A client that pipelines and never reads: replies stop growing at
 * max_pipeline_buffer, and input is refused until they are sent (issue 13,
 * defect 1). RCPT duplicates are no junk and no error, so only the bound stops them. */
static void
test_reply_bound (void)
{
  g_autoptr(SgConfig) config = sg_config_new ();
  sg_config_set (config, "limits", "max_pipeline_buffer", "4096", NULL);
  Async a = { 0 };
  SgSession *s = async_session (&a, config);
  input (s, "EHLO client.example\r\nMAIL FROM:<a@example.com>\r\n");
  g_autoptr(GString) many = g_string_new (NULL);
  for (guint i = 0; i < 200; i++)
    g_string_append (many, "RCPT TO:<b@example.com>\r\n");
  guint sent = 0;
  for (guint round = 0; round < 100 && sg_session_wants_input (s); round++, sent += 200)
    sg_session_input (s, many->str, many->len);
  GString *out = sg_session_output (s);
  g_assert_false (sg_session_wants_input (s));
  g_assert_cmpuint (out->len, <, 4096 + 512);
  g_assert_true (sg_session_has_held_input (s));
  /* The client reads: everything it sent is answered, in order. */
  guint answered = count_lines (out, "250 2.1.5");
  while (sg_session_has_held_input (s))
    {
      g_string_truncate (out, 0);
      sg_session_input (s, NULL, 0);
      answered += count_lines (out, "250 2.1.5");
    }
  g_assert_cmpuint (answered, ==, sent);
  g_assert_true (sg_session_wants_input (s));
  sg_session_free (s);
}

/* EOF after ".\r\nQUIT\r\n" (shutdown(SHUT_WR)): the message still gets its
 * reply, then 221, then the session closes (issue 13, defect 10). */
static void
test_half_close (void)
{
  g_autoptr(SgConfig) config = sg_config_new ();
  Async a = { 0 };
  SgSession *s = async_session (&a, config);
  input (s, "EHLO client.example\r\n" TXN "QUIT\r\n");
  sg_session_eof (s);
  g_assert_cmpint (sg_session_state (s), ==, SG_SESSION_SUBMITTED);
  g_assert_false (sg_session_wants_input (s));
  async_answer (&a, 250, "2.0.0", "Ok: queued");
  GString *out = sg_session_output (s);
  g_assert_nonnull (strstr (out->str, "250 2.0.0 Ok: queued\r\n221 2.0.0 "));
  g_assert_cmpint (sg_session_state (s), ==, SG_SESSION_CLOSING);
  sg_session_free (s);

  /* Without QUIT, and idle: closes once the input is answered. */
  Async b = { 0 };
  s = async_session (&b, config);
  input (s, "EHLO client.example\r\nNOOP\r\nNOO");
  sg_session_eof (s);
  g_assert_cmpint (sg_session_state (s), ==, SG_SESSION_CLOSING);
  g_assert_nonnull (strstr (sg_session_output (s)->str, "250 2.0.0 OK\r\n"));
  sg_session_free (s);
}

/* Stopping with transactions pipelined: the one in flight gets its reply,
 * then 421, and the next is never read (issue 13, defect 9). */
static void
test_drain (void)
{
  g_autoptr(SgConfig) config = sg_config_new ();
  Async a = { 0 };
  SgSession *s = async_session (&a, config);
  input (s, "EHLO client.example\r\n" TXN TXN "QUIT\r\n");
  g_assert_cmpuint (a.submitted, ==, 1);
  sg_session_drain (s);
  g_assert_cmpint (sg_session_state (s), ==, SG_SESSION_SUBMITTED);
  async_answer (&a, 250, "2.0.0", "Ok: queued");
  g_assert_cmpuint (a.submitted, ==, 1);
  g_assert_nonnull (strstr (sg_session_output (s)->str, "250 2.0.0 Ok: queued\r\n421 4.3.2 "));
  g_assert_cmpint (sg_session_state (s), ==, SG_SESSION_CLOSING);
  sg_session_free (s);

  /* An idle session is told at once. */
  Async b = { 0 };
  s = async_session (&b, config);
  input (s, "EHLO client.example\r\n");
  sg_session_drain (s);
  g_assert_cmpint (sg_session_state (s), ==, SG_SESSION_CLOSING);
  sg_session_free (s);
}

/* A handshake that completes after the session timed out is a state, not
 * an assertion (issue 13, 11). */
static void
test_tls_late (void)
{
  g_autoptr(SgConfig) config = sg_config_new ();
  sg_config_set (config, "tls", "cert_file", "/nonexistent/cert.pem", NULL);
  sg_config_set (config, "tls", "key_file", "/nonexistent/key.pem", NULL);
  Async a = { 0 };
  SgSession *s = async_session (&a, config);
  input (s, "EHLO client.example\r\nSTARTTLS\r\n");
  g_assert_cmpint (sg_session_state (s), ==, SG_SESSION_STARTTLS);
  sg_session_abort (s, "4.4.2", "Error: timeout exceeded");
  g_assert_false (sg_session_tls_started (s, "TLSv1.3", "TLS_AES_128_GCM_SHA256"));
  g_assert_false (sg_session_tls_active (s));
  g_assert_cmpint (sg_session_state (s), ==, SG_SESSION_CLOSING);
  sg_session_free (s);
}

/* A recipient policy for the tests: "wait..." waits for rcpt_answer(),
 * "bad..." gets 550 at once, "down..." a milter's 421 at once, "hold..." is
 * held, anything else accepted. */
typedef struct {
  guint    asked;
  gboolean waiting;
  char    *hold_seen;   /* the submitted envelope's hold_reason */
} Policy;

static gboolean
policy_check (SgSession *s, const SgRcptQuery *q, SgRcptVerdict *v, gpointer user_data)
{
  Policy *p = user_data;
  p->asked++;
  g_assert_cmpstr (q->sender, ==, "a@example.com");
  g_assert_cmpstr (q->client_address, ==, "192.0.2.7");
  if (g_str_has_prefix (q->recipient, "wait"))
    {
      p->waiting = TRUE;
      return FALSE;
    }
  if (g_str_has_prefix (q->recipient, "bad"))
    {
      sg_reply_set (&v->reply, 550, "5.1.1", "unknown_user",
                    "<%s>: Recipient address rejected: User unknown", q->recipient);
    }
  if (g_str_has_prefix (q->recipient, "down"))
    {
      sg_reply_set (&v->reply, 421, "4.7.0", "milter", "mx.test Service unavailable - try again later");
      v->logged = TRUE;
    }
  if (g_str_has_prefix (q->recipient, "hold"))
    v->hold = g_strdup ("Recipient address triggers HOLD action");
  return TRUE;
}

static void
policy_submit (SgSession *s, SgEnvelope *env, gpointer user_data)
{
  Policy *p = user_data;
  g_free (p->hold_seen);
  p->hold_seen = g_strdup (env->hold_reason);
  sg_envelope_free (env);
  submit_done (s, 250, "2.0.0", "Ok: queued");
}

static const SgSessionHooks policy_hooks = { .submit = policy_submit, .check_rcpt = policy_check };

/* rcpt_answer - the deferred verdict: code 0 accepts. */
static void
rcpt_answer (SgSession *s, Policy *p, guint code)
{
  SgRcptVerdict v = { 0 };
  if (code)
    sg_reply_set (&v.reply, code, "4.1.1", "unverified",
                  "<wait@example.org>: Recipient address rejected: unverified address: x");
  p->waiting = FALSE;
  sg_session_rcpt_done (s, &v);
}

#define MAIL "MAIL FROM:<a@example.com>\r\n"

/* An RCPT whose verdict needs the network waits for it, as the end of DATA
 * waits for the spool: commands pipelined after it are held, then answered
 * in order once the verdict comes (issue 22). */
static void
test_rcpt_wait (void)
{
  g_autoptr(SgConfig) config = sg_config_new ();
  sg_config_set (config, "server", "hostname", "mx.test", NULL);
  Policy p = { 0 };
  SgSession *s = sg_session_new (config, "192.0.2.7", 40000, &policy_hooks, &p);
  sg_session_start (s);
  input (s, "EHLO client.example\r\n" MAIL "RCPT TO:<wait@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n");
  g_assert_cmpint (sg_session_state (s), ==, SG_SESSION_RCPT_WAIT);
  g_assert_cmpuint (p.asked, ==, 1);
  g_assert_false (sg_session_has_held_input (s));
  GString *out = sg_session_output (s);
  g_assert_null (strstr (out->str, "2.1.5"));
  rcpt_answer (s, &p, 450);
  g_assert_nonnull (strstr (out->str, "250 2.1.0 Sender OK\r\n"
                                      "450 4.1.1 <wait@example.org>: Recipient address rejected: unverified address: x\r\n"
                                      "250 2.1.5 Recipient OK\r\n"
                                      "354 "));
  g_assert_cmpint (sg_session_state (s), ==, SG_SESSION_DATA);
  sg_session_free (s);

  /* stopping meanwhile: the verdict, then 421; nothing more is read */
  Policy q = { 0 };
  s = sg_session_new (config, "192.0.2.7", 40000, &policy_hooks, &q);
  input (s, "EHLO client.example\r\n" MAIL "RCPT TO:<wait@example.org>\r\nRCPT TO:<b@example.org>\r\n");
  sg_session_drain (s);
  g_assert_cmpint (sg_session_state (s), ==, SG_SESSION_RCPT_WAIT);
  rcpt_answer (s, &q, 0);
  g_assert_nonnull (strstr (sg_session_output (s)->str, "250 2.1.5 Recipient OK\r\n421 4.3.2 "));
  g_assert_cmpuint (q.asked, ==, 1);
  g_assert_cmpint (sg_session_state (s), ==, SG_SESSION_CLOSING);
  sg_session_free (s);

  /* a timeout while waiting: the late verdict is dropped */
  Policy r = { 0 };
  s = sg_session_new (config, "192.0.2.7", 40000, &policy_hooks, &r);
  input (s, "EHLO client.example\r\n" MAIL "RCPT TO:<wait@example.org>\r\n");
  sg_session_abort (s, "4.4.2", "Error: timeout exceeded");
  rcpt_answer (s, &r, 0);
  g_assert_null (strstr (sg_session_output (s)->str, "2.1.5"));
  g_assert_cmpint (sg_session_state (s), ==, SG_SESSION_CLOSING);
  sg_session_free (s);
}

/* Every 5xx to RCPT counts toward max_errors: a client guessing addresses
 * gets 421 at the limit; a HOLD verdict reaches the envelope. */
static void
test_rcpt_refusals (void)
{
  g_autoptr(SgConfig) config = sg_config_new ();
  sg_config_set (config, "server", "hostname", "mx.test", NULL);
  sg_config_set (config, "limits", "max_errors", "3", NULL);
  Policy p = { 0 };
  SgSession *s = sg_session_new (config, "192.0.2.7", 40000, &policy_hooks, &p);
  input (s, "EHLO client.example\r\n" MAIL "RCPT TO:<hold@example.org>\r\nDATA\r\n"
         "Subject: x\r\n\r\nx\r\n.\r\n");
  g_assert_cmpstr (p.hold_seen, ==, "Recipient address triggers HOLD action");
  input (s, MAIL "RCPT TO:<bad1@example.org>\r\nRCPT TO:<bad2@example.org>\r\n"
         "RCPT TO:<bad3@example.org>\r\nRCPT TO:<ok@example.org>\r\n");
  GString *out = sg_session_output (s);
  g_assert_nonnull (strstr (out->str, "550 5.1.1 <bad3@example.org>: Recipient address rejected: "
                                      "User unknown\r\n421 4.7.0 mx.test Error: too many errors"));
  g_assert_cmpuint (p.asked, ==, 4);   /* hold + 3 bad; ok@ was never read */
  g_assert_cmpint (sg_session_state (s), ==, SG_SESSION_CLOSING);
  g_free (p.hold_seen);
  sg_session_free (s);
}

/* A 421 verdict at RCPT (a milter's) closes the session, as at the
 * greeting, HELO, MAIL and the end of data (RFC 5321 3.8): nothing
 * pipelined after it is answered, whether the verdict came at once or later. */
static void
test_rcpt_421 (void)
{
  g_autoptr(SgConfig) config = sg_config_new ();
  sg_config_set (config, "server", "hostname", "mx.test", NULL);
  Policy p = { 0 };
  SgSession *s = sg_session_new (config, "192.0.2.7", 40000, &policy_hooks, &p);
  sg_session_start (s);
  input (s, "EHLO client.example\r\n" MAIL "RCPT TO:<down@example.org>\r\nRCPT TO:<b@example.org>\r\n");
  g_assert_true (g_str_has_suffix (sg_session_output (s)->str,
                                   "250 2.1.0 Sender OK\r\n"
                                   "421 4.7.0 mx.test Service unavailable - try again later\r\n"));
  g_assert_cmpint (sg_session_state (s), ==, SG_SESSION_CLOSING);
  g_assert_cmpuint (p.asked, ==, 1);   /* b@ was never read */
  sg_session_free (s);

  /* the same verdict after a wait */
  Policy q = { 0 };
  s = sg_session_new (config, "192.0.2.7", 40000, &policy_hooks, &q);
  sg_session_start (s);
  input (s, "EHLO client.example\r\n" MAIL "RCPT TO:<wait@example.org>\r\nRCPT TO:<b@example.org>\r\n");
  g_assert_cmpint (sg_session_state (s), ==, SG_SESSION_RCPT_WAIT);
  rcpt_answer (s, &q, 421);
  g_assert_true (g_str_has_suffix (sg_session_output (s)->str, "250 2.1.0 Sender OK\r\n421 4.1.1 "
                                   "<wait@example.org>: Recipient address rejected: unverified address: x\r\n"));
  g_assert_cmpint (sg_session_state (s), ==, SG_SESSION_CLOSING);
  g_assert_cmpuint (q.asked, ==, 1);
  sg_session_free (s);
}

/* The milters at the greeting, HELO and MAIL: each defers, the session
 * waits with input held; what a refusal at each stage means is Postfix's
 * (smtpd.c): CONNECT decides the greeting, HELO still gets 250, and a
 * refusal at either is every MAIL's reply; MAIL's refusal is MAIL's. */
typedef struct {
  GString *asked;     /* "C H M " as the stages were asked */
  guint    waiting;
} Stages;

static gboolean
stages_check (SgSession *s, SgSessionStage stage, const SgRcptQuery *q, SgRcptVerdict *v,
              gpointer user_data)
{
  Stages *st = user_data;
  g_assert_null (q->recipient);
  g_string_append (st->asked, stage == SG_SESSION_STAGE_CONNECT ? "C " : stage == SG_SESSION_STAGE_HELO ? "H " : "M ");
  if (stage == SG_SESSION_STAGE_MAIL)
    g_assert_cmpstr (q->sender, ==, "a@example.com");
  st->waiting++;
  return FALSE;
}

static void
stages_submit (SgSession *s, SgEnvelope *env, gpointer user_data)
{
  sg_envelope_free (env);
  submit_done (s, 250, "2.0.0", "Ok: queued");
}

static const SgSessionHooks stage_hooks = { .submit = stages_submit, .check_stage = stages_check };

/* stage_answer - the deferred verdict: code 0 accepts; stage is the milter's. */
static void
stage_answer (SgSession *s, Stages *st, guint code, const char *stage)
{
  SgRcptVerdict v = { .logged = TRUE, .stage = stage };
  if (code)
    sg_reply_set (&v.reply, code, code >= 500 ? "5.7.1" : "4.7.1", "milter", "refused at %s", stage);
  g_assert_cmpuint (st->waiting, >, 0);
  st->waiting--;
  sg_session_stage_done (s, &v);
}

static void
test_stage_wait (void)
{
  g_autoptr(SgConfig) config = sg_config_new ();
  sg_config_set (config, "server", "hostname", "mx.test", NULL);

  /* all accept: each stage waits in turn, pipelined input held meanwhile */
  Stages a = { g_string_new (NULL) };
  SgSession *s = sg_session_new (config, "192.0.2.7", 40000, &stage_hooks, &a);
  sg_session_start (s);
  GString *out = sg_session_output (s);
  g_assert_cmpint (sg_session_state (s), ==, SG_SESSION_STAGE_WAIT);
  g_assert_cmpstr (out->str, ==, "");
  input (s, "EHLO client.example\r\n" MAIL "RCPT TO:<b@example.org>\r\n");
  g_assert_false (sg_session_has_held_input (s));
  g_assert_true (sg_session_wants_input (s));
  stage_answer (s, &a, 0, NULL);
  g_assert_cmpstr (a.asked->str, ==, "C H ");
  g_assert_cmpint (sg_session_state (s), ==, SG_SESSION_STAGE_WAIT);
  g_assert_cmpstr (out->str, ==, "220 mx.test ESMTP spoolgate\r\n");
  stage_answer (s, &a, 0, NULL);
  g_assert_cmpstr (a.asked->str, ==, "C H M ");
  g_assert_null (strstr (out->str, "2.1.0"));
  stage_answer (s, &a, 0, NULL);
  g_assert_nonnull (strstr (out->str, "250 ENHANCEDSTATUSCODES\r\n250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n"));
  g_assert_cmpint (sg_session_state (s), ==, SG_SESSION_RCPT);
  g_autofree char *counts = sg_session_command_counts (s);
  g_assert_cmpstr (counts, ==, "ehlo=1 mail=1 rcpt=1 commands=3");
  sg_session_free (s);

  /* 550 at CONNECT: Postfix's 554 greeting; EHLO gets 250 and is not asked
   * about; every MAIL gets the milter's reply, and is not asked about */
  Stages c = { g_string_new (NULL) };
  s = sg_session_new (config, "192.0.2.7", 40000, &stage_hooks, &c);
  sg_session_start (s);
  stage_answer (s, &c, 550, "CONNECT");
  out = sg_session_output (s);
  g_assert_cmpstr (out->str, ==, "554 mx.test ESMTP not accepting connections\r\n");
  input (s, "EHLO client.example\r\n" MAIL MAIL "STARTTLS\r\nQUIT\r\n");
  g_assert_cmpstr (c.asked->str, ==, "C ");
  g_assert_nonnull (strstr (out->str, "250 ENHANCEDSTATUSCODES\r\n550 5.7.1 refused at CONNECT\r\n"
                                      "550 5.7.1 refused at CONNECT\r\n"));
  g_assert_cmpint (sg_session_state (s), ==, SG_SESSION_CLOSING);
  sg_session_free (s);

  /* 421 at CONNECT: the greeting is 421 and the session closes */
  Stages d = { g_string_new (NULL) };
  s = sg_session_new (config, "192.0.2.7", 40000, &stage_hooks, &d);
  sg_session_start (s);
  input (s, "EHLO client.example\r\n");
  stage_answer (s, &d, 421, "CONNECT");
  g_assert_cmpstr (sg_session_output (s)->str, ==, "421 mx.test Service unavailable - try again later\r\n");
  g_assert_cmpint (sg_session_state (s), ==, SG_SESSION_CLOSING);
  sg_session_free (s);

  /* 450 at HELO: HELO still gets 250, MAIL gets the 450, and RSET, a new
   * EHLO and MAIL do not ask again */
  Stages h = { g_string_new (NULL) };
  s = sg_session_new (config, "192.0.2.7", 40000, &stage_hooks, &h);
  sg_session_start (s);
  stage_answer (s, &h, 0, NULL);
  input (s, "HELO client.example\r\n" MAIL "RCPT TO:<b@example.org>\r\n");
  stage_answer (s, &h, 450, "HELO");
  out = sg_session_output (s);
  g_assert_nonnull (strstr (out->str, "250 mx.test\r\n450 4.7.1 refused at HELO\r\n"
                                      "503 5.5.1 Bad sequence of commands: need MAIL before RCPT and DATA\r\n"));
  input (s, "RSET\r\nEHLO client.example\r\n" MAIL);
  g_assert_cmpstr (h.asked->str, ==, "C H ");
  g_assert_true (g_str_has_suffix (out->str, "250 ENHANCEDSTATUSCODES\r\n450 4.7.1 refused at HELO\r\n"));
  g_assert_cmpint (sg_session_state (s), ==, SG_SESSION_READY);
  sg_session_free (s);

  /* 550 at MAIL: that MAIL's reply; the next MAIL asks again and may pass */
  Stages m = { g_string_new (NULL) };
  s = sg_session_new (config, "192.0.2.7", 40000, &stage_hooks, &m);
  sg_session_start (s);
  stage_answer (s, &m, 0, NULL);
  input (s, "EHLO client.example\r\n" MAIL "RCPT TO:<b@example.org>\r\n" MAIL);
  stage_answer (s, &m, 0, NULL);
  stage_answer (s, &m, 550, "MAIL");
  out = sg_session_output (s);
  g_assert_nonnull (strstr (out->str, "250 ENHANCEDSTATUSCODES\r\n550 5.7.1 refused at MAIL\r\n"
                                      "503 5.5.1 Bad sequence of commands: need MAIL before RCPT and DATA\r\n"));
  g_assert_cmpint (sg_session_state (s), ==, SG_SESSION_STAGE_WAIT);
  stage_answer (s, &m, 0, NULL);
  g_assert_true (g_str_has_suffix (out->str, "250 2.1.0 Sender OK\r\n"));
  g_assert_cmpstr (m.asked->str, ==, "C H M M ");
  sg_session_free (s);

  /* stopping while MAIL waits: its verdict, then 421 */
  Stages w = { g_string_new (NULL) };
  s = sg_session_new (config, "192.0.2.7", 40000, &stage_hooks, &w);
  sg_session_start (s);
  stage_answer (s, &w, 0, NULL);
  input (s, "EHLO client.example\r\n");
  stage_answer (s, &w, 0, NULL);
  input (s, MAIL "NOOP\r\n");
  sg_session_drain (s);
  g_assert_cmpint (sg_session_state (s), ==, SG_SESSION_STAGE_WAIT);
  stage_answer (s, &w, 0, NULL);
  g_assert_true (g_str_has_suffix (sg_session_output (s)->str, "250 2.1.0 Sender OK\r\n421 4.3.2 mx.test Service shutting down\r\n"));
  sg_session_free (s);

  /* a timeout while waiting: the late verdict is dropped */
  Stages t = { g_string_new (NULL) };
  s = sg_session_new (config, "192.0.2.7", 40000, &stage_hooks, &t);
  sg_session_start (s);
  sg_session_abort (s, "4.4.2", "Error: timeout exceeded");
  stage_answer (s, &t, 0, NULL);
  g_assert_null (strstr (sg_session_output (s)->str, "220 "));
  sg_session_free (s);

  for (GString **g = (GString *[]) { a.asked, c.asked, d.asked, h.asked, m.asked, w.asked, t.asked, NULL }; *g; g++)
    g_string_free (*g, TRUE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/smtp/session/rcpt-wait", test_rcpt_wait);
  g_test_add_func ("/smtp/session/stage-wait", test_stage_wait);
  g_test_add_func ("/smtp/session/rcpt-refusals", test_rcpt_refusals);
  g_test_add_func ("/smtp/session/rcpt-421", test_rcpt_421);
  g_test_add_func ("/smtp/session/reply-bound", test_reply_bound);
  g_test_add_func ("/smtp/session/half-close", test_half_close);
  g_test_add_func ("/smtp/session/drain", test_drain);
  g_test_add_func ("/smtp/session/tls-late", test_tls_late);
  g_autofree char *dir = g_test_build_filename (G_TEST_DIST, "data", "smtp", NULL);
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  g_assert_nonnull (d);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  for (const char *n; (n = g_dir_read_name (d)); )
    if (g_str_has_suffix (n, ".dialogue"))
      g_ptr_array_add (names, g_strdup (n));
  g_ptr_array_sort (names, compare_names);
  g_assert_cmpuint (names->len, >, 0);
  for (guint i = 0; i < names->len; i++)
    {
      const char *n = g_ptr_array_index (names, i);
      g_autofree char *stem = g_strndup (n, strlen (n) - strlen (".dialogue"));
      g_autofree char *tpath = g_strdup_printf ("/smtp/session/%s", stem);
      g_test_add_data_func_full (tpath, g_build_filename (dir, n, NULL), test_dialogue, g_free);
    }
  return g_test_run ();
}
