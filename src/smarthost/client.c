/* client.c - the smarthost SMTP client state machine (RFC 5321), with
 * STARTTLS (RFC 3207), AUTH PLAIN/LOGIN (RFC 4954, 4616) only inside TLS,
 * PIPELINING (RFC 2920), SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8
 * (RFC 6531) and DSN (RFC 3461: the parameters passed on when offered).
 * The message comes as an open file from the spool with its size and
 * whether it is 8-bit; it is streamed and dot-stuffed (RFC 5321 4.5.2),
 * never rewritten and never read twice. Sockets and TLS live in transport.c. */
#include "smarthost/client.h"
#include "smarthost/transport.h"
#include "common/log.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN SG_LOG_SMTP

G_DEFINE_QUARK (sg-smtp-client-error-quark, sg_smtp_client_error)

#define REPLY_TEXT_MAX  512   /* sanitised reply kept for logs and metadata */
#define QUIT_TIMEOUT    5     /* seconds we wait for the 221 */

typedef enum {
  EXT_PIPELINING = 1 << 0, EXT_SIZE = 1 << 1, EXT_8BITMIME = 1 << 2, EXT_SMTPUTF8 = 1 << 3,
  EXT_STARTTLS = 1 << 4, EXT_AUTH_PLAIN = 1 << 5, EXT_AUTH_LOGIN = 1 << 6, EXT_DSN = 1 << 7,
} Extension;

struct _SgSmtpClient {
  const SgConfig *config;
  SgTransport    *t;
  SgClientState   state;
  guint           ext;           /* Extension bits of the last EHLO */
  gboolean        esmtp;
  guint           transactions;
  gboolean        tls_verified;  /* the handshake checked chain and name */
  gboolean        quit_ok;       /* refused at a command boundary: QUIT is due */
};

typedef struct {
  guint      code;
  GPtrArray *lines;   /* text after "NNN-" / "NNN ", one per line */
  char      *text;    /* sanitised "NNN text text" */
} Reply;

static const char *const state_names[] = {
  "BANNER", "EHLO", "STARTTLS", "TLS-EHLO", "AUTH", "READY", "MAIL", "RCPT", "DATA",
  "RSET", "QUIT", "BROKEN",
};

/* client_enter_state - the one place the state changes. */
static void
client_enter_state (SgSmtpClient *c, SgClientState next)
{
  g_debug ("smarthost %s: %s -> %s", sg_transport_peer (c->t), state_names[c->state],
           state_names[next]);
  c->state = next;
}

static void
reply_clear (Reply *r)
{
  g_clear_pointer (&r->lines, g_ptr_array_unref);
  g_clear_pointer (&r->text, g_free);
  r->code = 0;
}

/* read_reply - one whole reply, possibly multi-line (RFC 5321 4.2.1). */
static gboolean
read_reply (SgSmtpClient *c, guint timeout, Reply *r, GError **error)
{
  reply_clear (r);
  r->lines = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GString) text = g_string_new (NULL);
  for (;;)
    {
      g_autofree char *line = sg_transport_read_line (c->t, timeout, error);
      if (!line)
        goto broken;
      gsize len = strlen (line);
      if (len < 3 || !g_ascii_isdigit (line[0]) || !g_ascii_isdigit (line[1])
          || !g_ascii_isdigit (line[2]) || (len > 3 && line[3] != ' ' && line[3] != '-'))
        {
          g_autofree char *shown = sg_log_sanitize (line, -1, 80);
          g_set_error (error, SG_SMTP_CLIENT_ERROR, SG_SMTP_CLIENT_ERROR_PROTOCOL,
                       "%s sent a line that is not an SMTP reply: \"%s\"",
                       sg_transport_peer (c->t), shown);
          goto broken;
        }
      guint code = (guint) g_ascii_strtoull (line, NULL, 10);
      if (r->lines->len > 0 && code != r->code)
        {
          g_set_error (error, SG_SMTP_CLIENT_ERROR, SG_SMTP_CLIENT_ERROR_PROTOCOL,
                       "%s changed the reply code within a multi-line reply",
                       sg_transport_peer (c->t));
          goto broken;
        }
      r->code = code;
      const char *rest = len > 4 ? line + 4 : "";
      g_ptr_array_add (r->lines, g_strdup (rest));
      if (text->len == 0)
        g_string_append_printf (text, "%u", code);
      if (*rest && text->len < REPLY_TEXT_MAX)
        g_string_append_printf (text, " %s", rest);
      if (len <= 3 || line[3] == ' ')
        break;
    }
  r->text = sg_log_sanitize (text->str, (gssize) text->len, REPLY_TEXT_MAX);
  return TRUE;
broken:
  client_enter_state (c, SG_CLIENT_BROKEN);
  return FALSE;
}

/* command - send one line (CRLF added) and read its reply. */
static gboolean
command (SgSmtpClient *c, const char *line, guint timeout, Reply *r, GError **error)
{
  g_autofree char *wire = g_strconcat (line, "\r\n", NULL);
  if (!sg_transport_write (c->t, wire, strlen (wire), timeout, error))
    {
      client_enter_state (c, SG_CLIENT_BROKEN);
      return FALSE;
    }
  return read_reply (c, timeout, r, error);
}

/* step_failed - a session set-up step got reply r instead of success. */
static gboolean
step_failed (SgSmtpClient *c, GError **error, int code, const char *step, const Reply *r)
{
  g_set_error (error, SG_SMTP_CLIENT_ERROR, code, "%s refused %s: %s",
               sg_transport_peer (c->t), step, r->text);
  client_enter_state (c, SG_CLIENT_BROKEN);
  c->quit_ok = TRUE;   /* a whole reply was read: the session can still be ended politely */
  return FALSE;
}

/* parse_ehlo - the extensions named in an EHLO reply (RFC 5321 4.1.1.1). */
static void
parse_ehlo (SgSmtpClient *c, const Reply *r)
{
  c->ext = 0;
  for (guint i = 1; i < r->lines->len; i++)
    {
      g_auto(GStrv) words = g_strsplit_set (g_ptr_array_index (r->lines, i), " =", -1);
      if (!words[0])
        continue;
      const char *kw = words[0];
      if (g_ascii_strcasecmp (kw, "PIPELINING") == 0)
        c->ext |= EXT_PIPELINING;
      else if (g_ascii_strcasecmp (kw, "SIZE") == 0)
        c->ext |= EXT_SIZE;
      else if (g_ascii_strcasecmp (kw, "8BITMIME") == 0)
        c->ext |= EXT_8BITMIME;
      else if (g_ascii_strcasecmp (kw, "SMTPUTF8") == 0)
        c->ext |= EXT_SMTPUTF8;
      else if (g_ascii_strcasecmp (kw, "STARTTLS") == 0)
        c->ext |= EXT_STARTTLS;
      else if (g_ascii_strcasecmp (kw, "DSN") == 0)
        c->ext |= EXT_DSN;
      else if (g_ascii_strcasecmp (kw, "AUTH") == 0)
        for (guint j = 1; words[j]; j++)
          {
            if (g_ascii_strcasecmp (words[j], "PLAIN") == 0)
              c->ext |= EXT_AUTH_PLAIN;
            else if (g_ascii_strcasecmp (words[j], "LOGIN") == 0)
              c->ext |= EXT_AUTH_LOGIN;
          }
    }
}

/* hello - EHLO, or HELO when EHLO is refused and nothing needs ESMTP. */
static gboolean
hello (SgSmtpClient *c, SgClientState state, gboolean need_esmtp, GError **error)
{
  Reply r = { 0 };
  const SgConfig *cf = c->config;
  g_autofree char *line = g_strdup_printf ("EHLO %s", cf->smarthost_helo_name
                                           ? cf->smarthost_helo_name : cf->hostname);
  client_enter_state (c, state);
  gboolean ok = command (c, line, cf->smarthost_greeting_timeout, &r, error);
  if (ok && r.code / 100 == 2)
    {
      c->esmtp = TRUE;
      parse_ehlo (c, &r);
    }
  else if (ok && !need_esmtp && r.code / 100 == 5)
    {
      line[0] = 'H';   /* RFC 5321 4.1.4: fall back to HELO */
      ok = command (c, line, cf->smarthost_greeting_timeout, &r, error);
      c->esmtp = FALSE;
      c->ext = 0;
      if (ok && r.code / 100 != 2)
        ok = step_failed (c, error, SG_SMTP_CLIENT_ERROR_REPLY, "HELO", &r);
    }
  else if (ok)
    ok = step_failed (c, error, SG_SMTP_CLIENT_ERROR_REPLY, "EHLO", &r);
  reply_clear (&r);
  return ok;
}

/* starttls - RFC 3207: STARTTLS, the handshake, then EHLO from scratch.
 * Everything learned before the handshake is forgotten. */
static gboolean
starttls (SgSmtpClient *c, SgTlsClient *tls, const char *server_name, gboolean need_esmtp,
          GError **error)
{
  Reply r = { 0 };
  client_enter_state (c, SG_CLIENT_STARTTLS);
  if (!command (c, "STARTTLS", c->config->smarthost_greeting_timeout, &r, error))
    return FALSE;
  if (r.code != 220)
    {
      step_failed (c, error, SG_SMTP_CLIENT_ERROR_TLS_POLICY, "STARTTLS", &r);
      reply_clear (&r);
      return FALSE;
    }
  reply_clear (&r);
  if (sg_transport_buffered (c->t) > 0)
    g_message ("smarthost %s: discarding %" G_GSIZE_FORMAT " byte(s) sent before the TLS handshake",
               sg_transport_peer (c->t), sg_transport_buffered (c->t));
  c->ext = 0;
  if (!sg_transport_start_tls (c->t, tls, server_name, c->config->smarthost_tls_timeout, error))
    {
      client_enter_state (c, SG_CLIENT_BROKEN);
      return FALSE;
    }
  /* With tls = verify the handshake fails unless chain and name verify
   * (tls_client.c); the other policies do not check the certificate. */
  const char *proto = NULL, *cipher = NULL;
  sg_transport_tls (c->t, &proto, &cipher);
  c->tls_verified = sg_tls_client_policy (tls) == SG_TLS_POLICY_VERIFY;
  g_message ("%s TLS connection established to %s: %s with cipher %s",
             c->tls_verified ? "Verified" : "Untrusted", sg_transport_peer (c->t),
             proto ? proto : "?", cipher ? cipher : "?");
  return hello (c, SG_CLIENT_TLS_EHLO, need_esmtp, error);
}

/* authenticate - RFC 4954 with PLAIN (RFC 4616) or LOGIN; never in plaintext. */
static gboolean
authenticate (SgSmtpClient *c, const char *password, GError **error)
{
  const char *user = c->config->smarthost_username;
  const char *proto, *cipher;
  client_enter_state (c, SG_CLIENT_AUTH);
  if (!sg_transport_tls (c->t, &proto, &cipher))
    {
      g_set_error (error, SG_SMTP_CLIENT_ERROR, SG_SMTP_CLIENT_ERROR_AUTH,
                   "refusing to send credentials without TLS");
      client_enter_state (c, SG_CLIENT_BROKEN);
      return FALSE;
    }
  Reply r = { 0 };
  gboolean ok;
  guint timeout = c->config->smarthost_greeting_timeout;
  if (c->ext & EXT_AUTH_PLAIN)
    {
      gsize ulen = strlen (user), plen = strlen (password);
      g_autofree guchar *raw = g_malloc (ulen + plen + 2);
      raw[0] = '\0';
      memcpy (raw + 1, user, ulen);
      raw[ulen + 1] = '\0';
      memcpy (raw + ulen + 2, password, plen);
      g_autofree char *b64 = g_base64_encode (raw, ulen + plen + 2);
      g_autofree char *line = g_strconcat ("AUTH PLAIN ", b64, NULL);
      ok = command (c, line, timeout, &r, error);
      memset (raw, 0, ulen + plen + 2);
      memset (b64, 0, strlen (b64));
      memset (line, 0, strlen (line));
    }
  else if (c->ext & EXT_AUTH_LOGIN)
    {
      g_autofree char *u = g_base64_encode ((const guchar *) user, strlen (user));
      g_autofree char *p = g_base64_encode ((const guchar *) password, strlen (password));
      ok = command (c, "AUTH LOGIN", timeout, &r, error);
      if (ok && r.code == 334)
        ok = command (c, u, timeout, &r, error);
      if (ok && r.code == 334)
        ok = command (c, p, timeout, &r, error);
      memset (p, 0, strlen (p));
    }
  else
    {
      g_set_error (error, SG_SMTP_CLIENT_ERROR, SG_SMTP_CLIENT_ERROR_AUTH,
                   "%s offers neither AUTH PLAIN nor AUTH LOGIN", sg_transport_peer (c->t));
      client_enter_state (c, SG_CLIENT_BROKEN);
      return FALSE;
    }
  if (ok && r.code != 235)
    ok = step_failed (c, error, SG_SMTP_CLIENT_ERROR_AUTH, "AUTH", &r);
  reply_clear (&r);
  return ok;
}

void
sg_smtp_client_reached (const SgSmtpClient *c, SgCourierReached *r)
{
  sg_courier_reached_clear (r);
  r->relay = g_strdup (sg_transport_peer (c->t));
  if (sg_transport_tls (c->t, &r->tls_protocol, &r->tls_cipher))
    r->tls_verified = c->tls_verified;
  else
    r->tls_protocol = r->tls_cipher = NULL;
}

static gboolean set_up (SgSmtpClient *c, SgTlsClient *tls, const char *server_name,
                        gboolean skip_tls, const char *password, GError **error);

SgSmtpClient *
sg_smtp_client_open (const SgConfig *cf, const char *host, guint port, const char *server_name,
                     SgTlsClient *tls, gboolean skip_tls, const char *password, int cancel_fd,
                     SgCourierReached *reached, GError **error)
{
  if (reached != NULL)
    sg_courier_reached_clear (reached);
  g_autoptr(SgTransport) t = sg_transport_connect (host, port, cf->smarthost_connect_timeout,
                                                   cancel_fd, error);
  if (!t)
    return NULL;
  g_autoptr(SgSmtpClient) c = g_new0 (SgSmtpClient, 1);
  c->config = cf;
  c->t = g_steal_pointer (&t);
  c->state = SG_CLIENT_BANNER;
  gboolean ok = set_up (c, tls, server_name, skip_tls, password, error);
  if (reached != NULL)
    sg_smtp_client_reached (c, reached);
  if (ok)
    return g_steal_pointer (&c);
  if (c->quit_ok)
    {
      /* RFC 5321 4.1.1.10: end the session with QUIT, even after a refusal */
      Reply r = { 0 };
      client_enter_state (c, SG_CLIENT_QUIT);
      command (c, "QUIT", QUIT_TIMEOUT, &r, NULL);
      reply_clear (&r);
    }
  return NULL;
}

/* set_up - greeting, EHLO, STARTTLS and EHLO again, AUTH: READY or FALSE. */
static gboolean
set_up (SgSmtpClient *c, SgTlsClient *tls, const char *server_name, gboolean skip_tls,
        const char *password, GError **error)
{
  const SgConfig *cf = c->config;
  SgTlsPolicy policy = sg_tls_client_policy (tls);
  gboolean need_tls = policy == SG_TLS_POLICY_REQUIRED || policy == SG_TLS_POLICY_VERIFY;

  Reply r = { 0 };
  /* RFC 5321 4.5.3.2.1: wait for the greeting. */
  if (!read_reply (c, cf->smarthost_greeting_timeout, &r, error))
    return FALSE;
  if (r.code != 220)
    {
      step_failed (c, error, r.code / 100 == 4 ? SG_SMTP_CLIENT_ERROR_GREETING
                   : SG_SMTP_CLIENT_ERROR_REPLY, "the session (greeting)", &r);
      reply_clear (&r);
      return FALSE;
    }
  reply_clear (&r);
  if (!hello (c, SG_CLIENT_EHLO, need_tls, error))
    return FALSE;
  if (policy != SG_TLS_POLICY_NONE && !(skip_tls && !need_tls))
    {
      if (c->ext & EXT_STARTTLS)
        {
          g_autoptr(GError) tls_error = NULL;
          if (!starttls (c, tls, server_name, need_tls, &tls_error))
            {
              /* Plaintext fallback is never done on this connection: the
               * caller may retry the opportunistic case without TLS. */
              if (need_tls)
                g_set_error (error, tls_error->domain, tls_error->code,
                             "TLS is required (tls = %s) but STARTTLS failed; nothing sent: %s",
                             cf->smarthost_tls, tls_error->message);
              else
                g_set_error (error, SG_SMTP_CLIENT_ERROR, SG_SMTP_CLIENT_ERROR_STARTTLS,
                             "STARTTLS failed: %s", tls_error->message);
              return FALSE;
            }
        }
      else if (need_tls)
        {
          g_set_error (error, SG_SMTP_CLIENT_ERROR, SG_SMTP_CLIENT_ERROR_TLS_POLICY,
                       "TLS is required (tls = %s) but %s does not offer STARTTLS; nothing sent",
                       cf->smarthost_tls, sg_transport_peer (c->t));
          c->quit_ok = TRUE;
          return FALSE;
        }
    }
  if (cf->smarthost_username && !authenticate (c, password ? password : "", error))
    return FALSE;
  client_enter_state (c, SG_CLIENT_READY);
  return TRUE;
}

void
sg_smtp_client_close (SgSmtpClient *c)
{
  if (!c)
    return;
  if (c->t && c->state == SG_CLIENT_READY)
    {
      Reply r = { 0 };
      client_enter_state (c, SG_CLIENT_QUIT);
      command (c, "QUIT", QUIT_TIMEOUT, &r, NULL);
      reply_clear (&r);
    }
  g_clear_pointer (&c->t, sg_transport_free);
  g_free (c);
}

gboolean
sg_smtp_client_usable (const SgSmtpClient *c)
{
  return c->state == SG_CLIENT_READY;
}

const char *
sg_smtp_client_relay (const SgSmtpClient *c)
{
  return sg_transport_peer (c->t);
}

void
sg_smtp_client_tls (const SgSmtpClient *c, const char **protocol, const char **cipher)
{
  if (!sg_transport_tls (c->t, protocol, cipher))
    *protocol = *cipher = NULL;
}

guint
sg_smtp_client_transactions (const SgSmtpClient *c)
{
  return c->transactions;
}

gboolean
sg_smtp_client_reset (SgSmtpClient *c, GError **error)
{
  Reply r = { 0 };
  client_enter_state (c, SG_CLIENT_RSET);
  gboolean ok = command (c, "RSET", c->config->smarthost_mail_timeout, &r, error);
  if (ok && r.code / 100 != 2)
    ok = step_failed (c, error, SG_SMTP_CLIENT_ERROR_REPLY, "RSET", &r);
  if (ok)
    client_enter_state (c, SG_CLIENT_READY);
  reply_clear (&r);
  return ok;
}

gboolean
sg_smtp_client_probe (SgSmtpClient *c, const char *address, gboolean smtputf8, guint *code,
                      char **reply, GError **error)
{
  g_return_val_if_fail (c->state == SG_CLIENT_READY, FALSE);
  const SgConfig *cf = c->config;
  Reply r = { 0 };
  *code = 0;
  *reply = NULL;
  if (smtputf8 && !(c->ext & EXT_SMTPUTF8))
    {
      *code = 553;
      *reply = g_strdup ("553 5.6.7 the next hop does not offer SMTPUTF8 (RFC 6531)");
      return TRUE;
    }
  c->transactions++;
  client_enter_state (c, SG_CLIENT_MAIL);
  if (!command (c, smtputf8 ? "MAIL FROM:<> SMTPUTF8" : "MAIL FROM:<>", cf->smarthost_mail_timeout,
                &r, error))
    return FALSE;
  if (r.code / 100 == 2)
    {
      g_autofree char *line = g_strdup_printf ("RCPT TO:<%s>", address);
      client_enter_state (c, SG_CLIENT_RCPT);
      if (!command (c, line, cf->smarthost_rcpt_timeout, &r, error))   /* 4.5.3.2.3 */
        {
          reply_clear (&r);
          return FALSE;
        }
    }
  *code = r.code;
  *reply = g_strdup (r.text);
  reply_clear (&r);
  /* RFC 5321 4.1.1.5: the transaction is abandoned; a failed RSET only
   * means the session cannot be reused. */
  g_autoptr(GError) rset = NULL;
  if (!sg_smtp_client_reset (c, &rset))
    g_debug ("probe: RSET: %s", rset->message);
  return TRUE;
}

/* send_body - stream the file dot-stuffed (RFC 5321 4.5.2) and end it with
 * CRLF.CRLF; a file not ending in CRLF gets one (it never happens for mail
 * our intake accepted). */
static gboolean
send_body (SgSmtpClient *c, int fd, GError **error)
{
  g_autofree char *in = g_malloc (SG_TRANSPORT_CHUNK);
  g_autoptr(GString) out = g_string_sized_new (SG_TRANSPORT_CHUNK + 1024);
  guint timeout = c->config->smarthost_data_block_timeout;   /* 4.5.3.2.5 */
  char prev = '\n', prev2 = '\r';
  for (off_t at = 0; ; )
    {
      ssize_t n = pread (fd, in, SG_TRANSPORT_CHUNK, at);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          /* The spool file failed us mid-DATA: the transaction cannot end
           * cleanly, so drop the connection (the smarthost discards it). */
          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                       "read spooled message: %s", g_strerror (errno));
          return FALSE;
        }
      if (n == 0)
        break;
      at += n;
      g_string_truncate (out, 0);
      for (ssize_t i = 0; i < n; i++)
        {
          if (in[i] == '.' && prev == '\n')
            g_string_append_c (out, '.');
          g_string_append_c (out, in[i]);
          prev2 = prev;
          prev = in[i];
        }
      if (!sg_transport_write (c->t, out->str, out->len, timeout, error))
        return FALSE;
    }
  const char *end = prev == '\n' && prev2 == '\r' ? ".\r\n" : "\r\n.\r\n";
  return sg_transport_write (c->t, end, strlen (end), timeout, error);
}

/* apply_all - give every recipient still marked (code 0 or accepted) the reply r. */
static void
apply_all (GPtrArray *rcpts, const Reply *r, gboolean only_accepted)
{
  for (guint i = 0; i < rcpts->len; i++)
    {
      SgRcptOutcome *o = g_ptr_array_index (rcpts, i);
      if (only_accepted && o->code / 100 != 2)
        continue;
      o->code = r->code;
      g_free (o->reply);
      o->reply = g_strdup (r->text);
    }
}

/* local_failure - fail every recipient for a local reason, without a transaction. */
static void
local_failure (GPtrArray *rcpts, guint code, const char *text)
{
  Reply r = { .code = code, .text = (char *) text };
  apply_all (rcpts, &r, FALSE);
}

/* broken - mark the client unusable and pass on FALSE. */
static gboolean
broken (SgSmtpClient *c)
{
  client_enter_state (c, SG_CLIENT_BROKEN);
  return FALSE;
}

gboolean
sg_smtp_client_send (SgSmtpClient *c, const SgCourierMessage *msg, GPtrArray *rcpts,
                     GError **error)
{
  g_return_val_if_fail (c->state == SG_CLIENT_READY, FALSE);
  const SgConfig *cf = c->config;
  /* Never downgrade (RFC 6152 section 3, RFC 6531 section 3.4): without the
   * extension the message cannot be relayed as it is. */
  if (msg->eightbit && !(c->ext & EXT_8BITMIME))
    {
      local_failure (rcpts, 554, "554 5.6.3 the smarthost does not offer 8BITMIME, "
                     "which this message needs (RFC 6152)");
      return TRUE;
    }
  if (msg->smtputf8 && !(c->ext & EXT_SMTPUTF8))
    {
      local_failure (rcpts, 553, "553 5.6.7 the smarthost does not offer SMTPUTF8, "
                     "which this message needs (RFC 6531)");
      return TRUE;
    }
  c->transactions++;
  GString *wire = g_string_new (NULL);
  g_string_append_printf (wire, "MAIL FROM:<%s>", msg->sender);
  if (c->ext & EXT_SIZE)
    g_string_append_printf (wire, " SIZE=%" G_GUINT64_FORMAT, msg->size); /* RFC 1870 */
  if (msg->eightbit)
    g_string_append (wire, " BODY=8BITMIME");
  if (msg->smtputf8)
    g_string_append (wire, " SMTPUTF8");
  gboolean dsn = (c->ext & EXT_DSN) != 0;   /* RFC 3461 5.2.1: only to a DSN server */
  if (dsn && msg->dsn_ret)
    g_string_append_printf (wire, " RET=%s", msg->dsn_ret);
  if (dsn && msg->dsn_envid)
    g_string_append_printf (wire, " ENVID=%s", msg->dsn_envid);
  g_string_append (wire, "\r\n");
  gboolean pipelining = (c->ext & EXT_PIPELINING) != 0;
  gsize mail_len = wire->len;
  for (guint i = 0; i < rcpts->len; i++)
    {
      SgRcptOutcome *o = g_ptr_array_index (rcpts, i);
      o->dsn_passed = dsn;
      g_string_append_printf (wire, "RCPT TO:<%s>", o->address);
      if (dsn && o->dsn_notify)
        g_string_append_printf (wire, " NOTIFY=%s", o->dsn_notify);
      if (dsn && o->dsn_orcpt)
        g_string_append_printf (wire, " ORCPT=%s", o->dsn_orcpt);
      g_string_append (wire, "\r\n");
    }
  g_string_append (wire, "DATA\r\n");

  Reply r = { 0 };
  gboolean ok = FALSE, accepted = FALSE;
  g_autoptr(GString) w = wire;
  /* RFC 2920 3.1: MAIL, the RCPTs and DATA go in one write when pipelining. */
  client_enter_state (c, SG_CLIENT_MAIL);
  if (!sg_transport_write (c->t, w->str, pipelining ? w->len : mail_len,
                           cf->smarthost_mail_timeout, error))
    goto fail;
  if (!read_reply (c, cf->smarthost_mail_timeout, &r, error))
    goto fail;
  Reply mail = { .code = r.code, .text = g_strdup (r.text) };
  const char *next = w->str + mail_len;
  client_enter_state (c, SG_CLIENT_RCPT);
  for (guint i = 0; i < rcpts->len && (pipelining || mail.code / 100 == 2); i++)
    {
      SgRcptOutcome *o = g_ptr_array_index (rcpts, i);
      const char *eol = strstr (next, "\r\n") + 2;
      if (!pipelining && !sg_transport_write (c->t, next, (gsize) (eol - next),
                                              cf->smarthost_rcpt_timeout, error))
        goto fail_mail;
      next = eol;
      if (!read_reply (c, cf->smarthost_rcpt_timeout, &r, error))   /* 4.5.3.2.3 */
        goto fail_mail;
      o->code = r.code;
      o->reply = g_strdup (r.text);
      accepted |= r.code / 100 == 2;
    }
  if (mail.code / 100 != 2)
    {
      /* A MAIL failure is every recipient's (pipelined RCPTs got 503s). */
      apply_all (rcpts, &mail, FALSE);
      if (pipelining && !read_reply (c, cf->smarthost_data_init_timeout, &r, error))
        goto fail_mail;
      if (pipelining && r.code == 354 && !sg_transport_write (c->t, ".\r\n", 3, cf->smarthost_data_term_timeout, error))
        goto fail_mail;
      if (pipelining && r.code == 354 && !read_reply (c, cf->smarthost_data_term_timeout, &r, error))
        goto fail_mail;
      ok = TRUE;
      goto done;
    }
  client_enter_state (c, SG_CLIENT_DATA);
  if (!pipelining && !accepted)
    {
      ok = TRUE;   /* no DATA without recipients; the next RSET ends it */
      goto done;
    }
  if (!pipelining && !sg_transport_write (c->t, "DATA\r\n", 6, cf->smarthost_data_init_timeout, error))
    goto fail_mail;
  if (!read_reply (c, cf->smarthost_data_init_timeout, &r, error))   /* 4.5.3.2.4 */
    goto fail_mail;
  if (r.code != 354)
    {
      apply_all (rcpts, &r, TRUE);
      ok = TRUE;
      goto done;
    }
  if (!accepted)
    {
      /* RFC 2920 3.1: 354 after every RCPT failed; send an empty message end. */
      if (!sg_transport_write (c->t, ".\r\n", 3, cf->smarthost_data_term_timeout, error)
          || !read_reply (c, cf->smarthost_data_term_timeout, &r, error))
        goto fail_mail;
      ok = TRUE;
      goto done;
    }
  if (!send_body (c, msg->fd, error))
    goto fail_mail;
  /* 4.5.3.2.6: the smarthost may take long to accept the data. */
  if (!read_reply (c, cf->smarthost_data_term_timeout, &r, error))
    goto fail_mail;
  apply_all (rcpts, &r, TRUE);
  ok = TRUE;
done:
  g_free (mail.text);
  reply_clear (&r);
  if (ok)
    client_enter_state (c, SG_CLIENT_READY);
  return ok;
fail_mail:
  g_free (mail.text);
fail:
  reply_clear (&r);
  return broken (c);
}
