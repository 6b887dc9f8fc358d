/* milter_proto.c - encoding of milter commands and decoding of milter
 * replies: a packet is a 32-bit big-endian length (command byte plus data),
 * the command byte and its data. Decoding is bounded by SG_MILTER_MAX_PACKET
 * and copies out only what the caller keeps; it never trusts a length. */
#include "milter/milter_proto.h"

#include <string.h>

G_DEFINE_QUARK (sg-milter-error-quark, sg_milter_error)

void
sg_milter_reply_clear (SgMilterReply *r)
{
  g_clear_pointer (&r->name, g_free);
  g_clear_pointer (&r->value, g_free);
  g_clear_pointer (&r->args, g_free);
  memset (r, 0, sizeof *r);
}

void
sg_milter_reply_free (SgMilterReply *r)
{
  if (!r)
    return;
  sg_milter_reply_clear (r);
  g_free (r);
}

static void
put_u32 (GByteArray *out, guint32 v)
{
  guint32 be = GUINT32_TO_BE (v);
  g_byte_array_append (out, (const guint8 *) &be, 4);
}

static guint32
get_u32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | p[3];
}

void
sg_milter_encode (GByteArray *out, char cmd, const void *data, gsize len)
{
  g_return_if_fail (len < G_MAXUINT32);
  put_u32 (out, (guint32) len + 1);
  g_byte_array_append (out, (const guint8 *) &cmd, 1);
  if (len)
    g_byte_array_append (out, data, (guint) len);
}

void
sg_milter_encode_optneg (GByteArray *out, guint32 version, guint32 actions, guint32 flags)
{
  GByteArray *d = g_byte_array_sized_new (12);
  put_u32 (d, version);
  put_u32 (d, actions);
  put_u32 (d, flags);
  sg_milter_encode (out, SG_SMFIC_OPTNEG, d->data, d->len);
  g_byte_array_unref (d);
}

static void
append_string (GByteArray *d, const char *s)
{
  g_byte_array_append (d, (const guint8 *) s, (guint) strlen (s) + 1);
}

void
sg_milter_encode_strings (GByteArray *out, char cmd, const char *const *strings)
{
  GByteArray *d = g_byte_array_new ();
  for (guint i = 0; strings[i]; i++)
    append_string (d, strings[i]);
  sg_milter_encode (out, cmd, d->data, d->len);
  g_byte_array_unref (d);
}

void
sg_milter_encode_macros (GByteArray *out, char stage, const char *const *pairs)
{
  GByteArray *d = g_byte_array_new ();
  g_byte_array_append (d, (const guint8 *) &stage, 1);
  for (guint i = 0; pairs[i]; i += 2)
    if (pairs[i + 1])
      {
        append_string (d, pairs[i]);
        append_string (d, pairs[i + 1]);
      }
  sg_milter_encode (out, SG_SMFIC_MACRO, d->data, d->len);
  g_byte_array_unref (d);
}

void
sg_milter_encode_connect (GByteArray *out, const char *hostname, const char *address, guint16 port)
{
  GByteArray *d = g_byte_array_new ();
  char family = !address || !*address ? 'U' : strchr (address, ':') ? '6' : '4';
  append_string (d, hostname);
  g_byte_array_append (d, (const guint8 *) &family, 1);
  if (family != 'U')
    {
      guint16 be = GUINT16_TO_BE (port);
      g_byte_array_append (d, (const guint8 *) &be, 2);
      append_string (d, address);
    }
  sg_milter_encode (out, SG_SMFIC_CONNECT, d->data, d->len);
  g_byte_array_unref (d);
}

/* take_string - the NUL-terminated string at *pos (transfer full), or NULL. */
static char *
take_string (const guint8 *data, gsize len, gsize *pos)
{
  if (*pos >= len)
    return NULL;
  const guint8 *nul = memchr (data + *pos, '\0', len - *pos);
  if (!nul)
    return NULL;
  char *s = g_strndup ((const char *) data + *pos, (gsize) (nul - (data + *pos)));
  *pos = (gsize) (nul - data) + 1;
  return s;
}

/* parse_replycode - "4xx X.Y.Z text" or "5xx text" (RFC 3463 2); a bare
 * class gets X.7.1 as Postfix gives it. Control characters in the text
 * become spaces, octets outside ASCII '?', and only the first line, cut to
 * SG_MILTER_REPLY_TEXT_MAX, is kept: it goes into our reply (RFC 5321 4.2). */
static gboolean
parse_replycode (SgMilterReply *r, const char *s)
{
  if (!(s[0] == '4' || s[0] == '5') || !g_ascii_isdigit (s[1]) || !g_ascii_isdigit (s[2])
      || !(s[3] == ' ' || s[3] == '-' || s[3] == '\0'))
    return FALSE;
  r->code = (guint) ((s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0'));
  const char *p = s[3] ? s + 4 : s + 3;
  /* enhanced code: class.subject.detail, 1-3 digits each, class = reply class */
  const char *q = p;
  gsize parts = 0;
  gboolean ok = *q == s[0] && q[1] == '.';
  while (ok && parts < 3)
    {
      gsize digits = 0;
      while (g_ascii_isdigit (*q) && digits < 4)
        q++, digits++;
      ok = digits >= 1 && digits <= 3;
      parts++;
      if (ok && parts < 3)
        ok = *q++ == '.';
    }
  ok = ok && (*q == ' ' || *q == '\0' || *q == '\r' || *q == '\n');
  if (ok)
    {
      g_strlcpy (r->enhanced, p, MIN (sizeof r->enhanced, (gsize) (q - p) + 1));
      p = *q == ' ' ? q + 1 : q;
    }
  else
    g_snprintf (r->enhanced, sizeof r->enhanced, "%c.7.1", s[0]);
  gsize n = MIN (strcspn (p, "\r\n"), SG_MILTER_REPLY_TEXT_MAX);
  r->value = g_strndup (p, n);
  for (char *c = r->value; *c; c++)
    if ((guchar) *c < 0x20 || *c == 0x7f)
      *c = ' ';
    else if ((guchar) *c >= 0x80)
      *c = '?';
  return TRUE;
}

static SgMilterStatus
bad (GError **error, const char *what, char cmd)
{
  g_set_error (error, SG_MILTER_ERROR, SG_MILTER_ERROR_PROTOCOL, "%s '%c'", what,
               g_ascii_isprint (cmd) ? cmd : '?');
  return SG_MILTER_BAD;
}

SgMilterStatus
sg_milter_decode (const guint8 *buf, gsize len, gsize *consumed, SgMilterReply *r, GError **error)
{
  memset (r, 0, sizeof *r);
  *consumed = 0;
  if (len < 4)
    return SG_MILTER_NEED_MORE;
  guint32 plen = get_u32 (buf);
  if (plen == 0 || plen > SG_MILTER_MAX_PACKET)
    {
      g_set_error (error, SG_MILTER_ERROR, SG_MILTER_ERROR_PROTOCOL,
                   "packet length %u out of range (1 to %u)", plen, SG_MILTER_MAX_PACKET);
      return SG_MILTER_BAD;
    }
  if (len - 4 < plen)
    return SG_MILTER_NEED_MORE;
  const guint8 *data = buf + 5;
  gsize dlen = plen - 1, pos = 0;
  r->cmd = (char) buf[4];
  switch (r->cmd)
    {
    case SG_SMFIR_OPTNEG:
      if (dlen < 12)
        return bad (error, "short option negotiation reply", r->cmd);
      r->version = get_u32 (data);
      r->actions = get_u32 (data + 4);
      r->flags = get_u32 (data + 8);
      break;  /* macro lists (SETSYMLIST) follow; we send the same macros to every milter */
    case SG_SMFIR_INSHEADER:
    case SG_SMFIR_CHGHEADER:
      if (dlen < 4)
        return bad (error, "short header modification", r->cmd);
      r->index = get_u32 (data);
      pos = 4;
      G_GNUC_FALLTHROUGH;
    case SG_SMFIR_ADDHEADER:
      r->name = take_string (data, dlen, &pos);
      r->value = r->name ? take_string (data, dlen, &pos) : NULL;
      if (!r->value)
        {
          char cmd = r->cmd;
          sg_milter_reply_clear (r);
          return bad (error, "malformed header modification", cmd);
        }
      break;
    case SG_SMFIR_ADDRCPT:
    case SG_SMFIR_DELRCPT:
    case SG_SMFIR_ADDRCPT_PAR:
    case SG_SMFIR_CHGFROM:
    case SG_SMFIR_QUARANTINE:
      r->value = take_string (data, dlen, &pos);
      if (!r->value)
        return bad (error, "malformed reply, a string missing, in", r->cmd);
      if (r->cmd == SG_SMFIR_ADDRCPT_PAR || r->cmd == SG_SMFIR_CHGFROM)
        r->args = take_string (data, dlen, &pos);
      break;
    case SG_SMFIR_REPLYCODE:
      {
        g_autofree char *s = take_string (data, dlen, &pos);
        if (!s || !parse_replycode (r, s))
          {
            sg_milter_reply_clear (r);
            return bad (error, "malformed reply code in", SG_SMFIR_REPLYCODE);
          }
      }
      break;
    case SG_SMFIR_REPLBODY:
      r->body_len = dlen;
      break;
    case SG_SMFIR_ACCEPT: case SG_SMFIR_CONTINUE: case SG_SMFIR_DISCARD:
    case SG_SMFIR_REJECT: case SG_SMFIR_TEMPFAIL: case SG_SMFIR_SKIP:
    case SG_SMFIR_PROGRESS: case SG_SMFIR_SHUTDOWN: case SG_SMFIR_CONN_FAIL:
      break;
    default:
      return bad (error, "unknown reply", r->cmd);
    }
  *consumed = 4 + plen;
  return SG_MILTER_PACKET;
}

const char *
sg_milter_reply_name (char cmd)
{
  switch (cmd)
    {
    case SG_SMFIR_ADDRCPT: return "addrcpt";
    case SG_SMFIR_DELRCPT: return "delrcpt";
    case SG_SMFIR_ADDRCPT_PAR: return "addrcpt_par";
    case SG_SMFIR_SHUTDOWN: return "shutdown";
    case SG_SMFIR_ACCEPT: return "accept";
    case SG_SMFIR_REPLBODY: return "replbody";
    case SG_SMFIR_CONTINUE: return "continue";
    case SG_SMFIR_DISCARD: return "discard";
    case SG_SMFIR_CHGFROM: return "chgfrom";
    case SG_SMFIR_CONN_FAIL: return "conn_fail";
    case SG_SMFIR_ADDHEADER: return "addheader";
    case SG_SMFIR_INSHEADER: return "insheader";
    case SG_SMFIR_CHGHEADER: return "chgheader";
    case SG_SMFIR_PROGRESS: return "progress";
    case SG_SMFIR_QUARANTINE: return "quarantine";
    case SG_SMFIR_REJECT: return "reject";
    case SG_SMFIR_SKIP: return "skip";
    case SG_SMFIR_TEMPFAIL: return "tempfail";
    case SG_SMFIR_REPLYCODE: return "replycode";
    case SG_SMFIR_OPTNEG: return "optneg";
    default: return "unknown";
    }
}
