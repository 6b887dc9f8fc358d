/* proxy.c - PROXY protocol v1/v2 header parser (haproxy's proxy-protocol.txt).
 * A state machine over single bytes: the first byte picks the version, the v1
 * prefix and v2 signature are checked as they arrive (so an SMTP client that
 * talks first fails at once), v1 is bounded at 107 bytes and v2 at
 * SG_PROXY_V2_MAX_PAYLOAD. Only the fixed part and the addresses are kept;
 * TLVs are walked for framing and skipped without being stored. */
#include "server/proxy.h"
#include "common/log.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

G_STATIC_ASSERT (SG_PROXY_ADDRESS_MAX >= INET6_ADDRSTRLEN);

#define V1_PREFIX       "PROXY "
#define V1_PREFIX_LEN   6
#define V2_SIG_LEN      12
#define V2_CMD_LOCAL    0x0
#define V2_CMD_PROXY    0x1
#define V2_AF_UNSPEC    0x0
#define V2_AF_INET      0x1
#define V2_AF_INET6     0x2
#define V2_AF_UNIX      0x3
#define V2_STREAM       0x1
#define V2_INET_LEN     12   /* 2 x 4-byte address, 2 x 2-byte port */
#define V2_INET6_LEN    36   /* 2 x 16-byte address, 2 x 2-byte port */
#define V2_TLV_HEAD     3    /* type, 16-bit length */
#define ERR_EXCERPT     48   /* bytes of a bad field quoted in an error */

/* spec 2.2: \r\n\r\n\0\r\nQUIT\n */
static const guint8 v2_signature[V2_SIG_LEN] = {
  0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
};

typedef enum {
  ST_START,       /* nothing yet */
  ST_V1,          /* collecting the text line */
  ST_V2_FIXED,    /* collecting the 16 fixed bytes */
  ST_V2_ADDR,     /* collecting the address block */
  ST_V2_TLV,      /* collecting a TLV's type and length */
  ST_V2_SKIP,     /* skipping a TLV value, or all of a LOCAL/UNSPEC block */
  ST_DONE,
  ST_FAILED,
} State;

struct _SgProxyParser {
  State         state;
  guint8        buf[SG_PROXY_V1_MAX_LENGTH]; /* the v1 line, or v2 fixed part + addresses */
  gsize         have;       /* bytes in buf */
  gsize         want;       /* bytes buf must reach in ST_V2_ADDR */
  guint8        tlv[V2_TLV_HEAD];
  gsize         tlv_have;
  gsize         remaining;  /* v2 bytes after the address block not yet seen */
  gsize         skip;       /* bytes still to skip in ST_V2_SKIP */
  SgProxyHeader header;
};

G_STATIC_ASSERT (SG_PROXY_V2_FIXED + V2_INET6_LEN <= SG_PROXY_V1_MAX_LENGTH);

G_DEFINE_QUARK (sg-proxy-error-quark, sg_proxy_error)

SgProxyParser *
sg_proxy_parser_new (void)
{
  return g_new0 (SgProxyParser, 1);
}

void
sg_proxy_parser_free (SgProxyParser *parser)
{
  g_free (parser);
}

static gboolean G_GNUC_PRINTF (4, 5)
fail (SgProxyParser *p, GError **error, SgProxyError code, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error_literal (error, SG_PROXY_ERROR, code, msg);
  p->state = ST_FAILED;
  return FALSE;
}

/* format_address - numeric text of a binary address; IPv4-mapped IPv6 as IPv4. */
static void
format_address (int family, const guint8 *bytes, char out[SG_PROXY_ADDRESS_MAX])
{
  if (family == AF_INET6 && IN6_IS_ADDR_V4MAPPED ((const struct in6_addr *) bytes))
    inet_ntop (AF_INET, bytes + 12, out, SG_PROXY_ADDRESS_MAX);
  else
    inet_ntop (family, bytes, out, SG_PROXY_ADDRESS_MAX);
}

/* v1_address - one v1 address field of the announced family, canonicalised. */
static gboolean
v1_address (SgProxyParser *p, int family, const char *text, char out[SG_PROXY_ADDRESS_MAX],
            const char *what, GError **error)
{
  guint8 bytes[16];
  if (inet_pton (family, text, bytes) != 1)
    {
      g_autofree char *safe = sg_log_sanitize (text, -1, ERR_EXCERPT);
      return fail (p, error, SG_PROXY_ERROR_SYNTAX, "PROXY v1: bad %s address \"%s\"", what, safe);
    }
  format_address (family, bytes, out);
  return TRUE;
}

/* v1_port - decimal 0-65535 without sign or leading zeros. */
static gboolean
v1_port (SgProxyParser *p, const char *text, guint16 *port, const char *what, GError **error)
{
  gsize n = strlen (text);
  guint v = 0;
  gboolean ok = n >= 1 && n <= 5 && !(n > 1 && text[0] == '0');
  for (gsize i = 0; ok && i < n; i++)
    {
      ok = g_ascii_isdigit (text[i]);
      v = v * 10 + (guint) (text[i] - '0');
    }
  if (!ok || v > G_MAXUINT16)
    {
      g_autofree char *safe = sg_log_sanitize (text, -1, ERR_EXCERPT);
      return fail (p, error, SG_PROXY_ERROR_SYNTAX, "PROXY v1: bad %s port \"%s\"", what, safe);
    }
  *port = (guint16) v;
  return TRUE;
}

/* v1_parse - the complete line in buf (CRLF included, prefix checked):
 * "PROXY TCP4|TCP6 src dst sport dport" with single spaces, or "PROXY
 * UNKNOWN" and anything up to the CRLF, which the receiver ignores (spec 2.1). */
static gboolean
v1_parse (SgProxyParser *p, GError **error)
{
  char line[SG_PROXY_V1_MAX_LENGTH];
  gsize n = p->have - 2;
  memcpy (line, p->buf, n);
  line[n] = '\0';
  const char *proto = line + V1_PREFIX_LEN;
  if (strncmp (proto, "UNKNOWN", 7) == 0 && (proto[7] == '\0' || proto[7] == ' '))
    {
      p->header.local = TRUE;
      return TRUE;
    }
  if (memchr (line, '\0', n))
    return fail (p, error, SG_PROXY_ERROR_SYNTAX, "PROXY v1: NUL byte in the line");

  char *field[5];
  guint nf = 0;
  for (char *s = line + V1_PREFIX_LEN; ; )
    {
      if (nf == G_N_ELEMENTS (field))
        return fail (p, error, SG_PROXY_ERROR_SYNTAX, "PROXY v1: too many fields");
      field[nf++] = s;
      char *sp = strchr (s, ' ');
      if (!sp)
        break;
      *sp = '\0';
      s = sp + 1;
    }
  int family = strcmp (field[0], "TCP4") == 0 ? AF_INET : strcmp (field[0], "TCP6") == 0 ? AF_INET6 : 0;
  if (!family)
    {
      g_autofree char *safe = sg_log_sanitize (field[0], -1, ERR_EXCERPT);
      return fail (p, error, SG_PROXY_ERROR_SYNTAX,
                   "PROXY v1: protocol \"%s\", not TCP4, TCP6 or UNKNOWN", safe);
    }
  if (nf != G_N_ELEMENTS (field))
    return fail (p, error, SG_PROXY_ERROR_SYNTAX,
                 "PROXY v1: %u fields, want protocol, 2 addresses and 2 ports", nf);
  SgProxyHeader *h = &p->header;
  return v1_address (p, family, field[1], h->source, "source", error)
      && v1_address (p, family, field[2], h->destination, "destination", error)
      && v1_port (p, field[3], &h->source_port, "source", error)
      && v1_port (p, field[4], &h->destination_port, "destination", error);
}

/* v1_byte - one more byte of the line; TRUE while it may still be valid. */
static gboolean
v1_byte (SgProxyParser *p, guint8 b, GError **error)
{
  if (p->have < V1_PREFIX_LEN && b != (guint8) V1_PREFIX[p->have])
    return fail (p, error, SG_PROXY_ERROR_NOT_PROXY, "no PROXY header (the line does not start with \"PROXY \")");
  gboolean after_cr = p->have > 0 && p->buf[p->have - 1] == '\r';
  if (after_cr && b != '\n')
    return fail (p, error, SG_PROXY_ERROR_SYNTAX, "PROXY v1: CR not followed by LF");
  if (!after_cr && b == '\n')
    return fail (p, error, SG_PROXY_ERROR_SYNTAX, "PROXY v1: bare LF ends the line");
  if (p->have == SG_PROXY_V1_MAX_LENGTH)
    return fail (p, error, SG_PROXY_ERROR_TOO_LONG, "PROXY v1: no CRLF within %d bytes",
                 SG_PROXY_V1_MAX_LENGTH);
  p->buf[p->have++] = b;
  if (b == '\n')
    {
      if (!v1_parse (p, error))
        return FALSE;
      p->header.version = 1;
      p->state = ST_DONE;
    }
  return TRUE;
}

/* v2_next - after the addresses or a TLV: the next TLV, or the end. */
static gboolean
v2_next (SgProxyParser *p, GError **error)
{
  if (p->remaining == 0)
    p->state = ST_DONE;
  else if (p->remaining < V2_TLV_HEAD)
    return fail (p, error, SG_PROXY_ERROR_SYNTAX, "PROXY v2: %zu stray byte(s) after the TLVs",
                 p->remaining);
  else
    {
      p->tlv_have = 0;
      p->state = ST_V2_TLV;
    }
  return TRUE;
}

/* v2_fixed - the 16 fixed bytes are in: version, command, family, length. */
static gboolean
v2_fixed (SgProxyParser *p, GError **error)
{
  guint version = p->buf[12] >> 4, command = p->buf[12] & 0x0F;
  guint af = p->buf[13] >> 4, transport = p->buf[13] & 0x0F;
  gsize len = ((gsize) p->buf[14] << 8) | p->buf[15];
  if (version != 2)
    return fail (p, error, SG_PROXY_ERROR_SYNTAX, "PROXY v2: version %u", version);
  if (command != V2_CMD_LOCAL && command != V2_CMD_PROXY)
    return fail (p, error, SG_PROXY_ERROR_SYNTAX, "PROXY v2: unknown command %u", command);
  if (len > SG_PROXY_V2_MAX_PAYLOAD)
    return fail (p, error, SG_PROXY_ERROR_TOO_LONG, "PROXY v2: %zu bytes of addresses and TLVs, "
                 "more than %d", len, SG_PROXY_V2_MAX_PAYLOAD);
  p->header.version = 2;
  /* LOCAL (health checks) and AF_UNSPEC: the block means nothing to us; the
   * connection's own endpoints stand (spec 2.2). */
  if (command == V2_CMD_LOCAL || af == V2_AF_UNSPEC)
    {
      p->header.local = TRUE;
      p->skip = len;
      p->remaining = 0;
      p->state = len ? ST_V2_SKIP : ST_DONE;
      return TRUE;
    }
  if (af == V2_AF_UNIX)
    return fail (p, error, SG_PROXY_ERROR_UNSUPPORTED, "PROXY v2: AF_UNIX addresses");
  if (af != V2_AF_INET && af != V2_AF_INET6)
    return fail (p, error, SG_PROXY_ERROR_SYNTAX, "PROXY v2: unknown address family %u", af);
  if (transport != V2_STREAM)
    return fail (p, error, SG_PROXY_ERROR_UNSUPPORTED, "PROXY v2: transport %u, not TCP", transport);
  gsize need = af == V2_AF_INET ? V2_INET_LEN : V2_INET6_LEN;
  if (len < need)
    return fail (p, error, SG_PROXY_ERROR_SYNTAX, "PROXY v2: %zu bytes cannot hold %s addresses",
                 len, af == V2_AF_INET ? "IPv4" : "IPv6");
  p->want = SG_PROXY_V2_FIXED + need;
  p->remaining = len - need;
  p->state = ST_V2_ADDR;
  return TRUE;
}

/* v2_addresses - the address block is in buf after the fixed part. */
static gboolean
v2_addresses (SgProxyParser *p, GError **error)
{
  const guint8 *a = p->buf + SG_PROXY_V2_FIXED;
  SgProxyHeader *h = &p->header;
  int family = (p->buf[13] >> 4) == V2_AF_INET ? AF_INET : AF_INET6;
  gsize alen = family == AF_INET ? 4 : 16;
  format_address (family, a, h->source);
  format_address (family, a + alen, h->destination);
  h->source_port = (guint16) ((a[2 * alen] << 8) | a[2 * alen + 1]);
  h->destination_port = (guint16) ((a[2 * alen + 2] << 8) | a[2 * alen + 3]);
  return v2_next (p, error);
}

/* v2_tlv - a TLV's type and length are in: skip its value (spec 2.2.7). */
static gboolean
v2_tlv (SgProxyParser *p, GError **error)
{
  gsize vlen = ((gsize) p->tlv[1] << 8) | p->tlv[2];
  p->remaining -= V2_TLV_HEAD;
  if (vlen > p->remaining)
    return fail (p, error, SG_PROXY_ERROR_SYNTAX, "PROXY v2: TLV 0x%02X of %zu bytes overruns "
                 "the header", p->tlv[0], vlen);
  p->remaining -= vlen;
  p->skip = vlen;
  if (vlen == 0)
    return v2_next (p, error);
  p->state = ST_V2_SKIP;
  return TRUE;
}

SgProxyStatus
sg_proxy_parser_feed (SgProxyParser *p, const guint8 *data, gsize len, gsize *consumed,
                      SgProxyHeader *header, GError **error)
{
  g_return_val_if_fail (p != NULL && consumed != NULL && header != NULL, SG_PROXY_FAILED);
  g_return_val_if_fail (p->state != ST_DONE && p->state != ST_FAILED, SG_PROXY_FAILED);
  gsize i = 0;
  gboolean ok = TRUE;

  while (ok && i < len && p->state != ST_DONE)
    switch (p->state)
      {
      case ST_START:
        if (data[i] == (guint8) V1_PREFIX[0])
          p->state = ST_V1;
        else if (data[i] == v2_signature[0])
          p->state = ST_V2_FIXED;
        else
          ok = fail (p, error, SG_PROXY_ERROR_NOT_PROXY, "no PROXY header (first byte 0x%02X)", data[i]);
        break;
      case ST_V1:
        ok = v1_byte (p, data[i++], error);
        break;
      case ST_V2_FIXED:
        if (p->have < V2_SIG_LEN && data[i] != v2_signature[p->have])
          {
            ok = fail (p, error, SG_PROXY_ERROR_NOT_PROXY, "no PROXY header (bad v2 signature)");
            break;
          }
        p->buf[p->have++] = data[i++];
        if (p->have == SG_PROXY_V2_FIXED)
          ok = v2_fixed (p, error);
        break;
      case ST_V2_ADDR:
        {
          gsize n = MIN (len - i, p->want - p->have);
          memcpy (p->buf + p->have, data + i, n);
          p->have += n;
          i += n;
          if (p->have == p->want)
            ok = v2_addresses (p, error);
          break;
        }
      case ST_V2_TLV:
        p->tlv[p->tlv_have++] = data[i++];
        if (p->tlv_have == V2_TLV_HEAD)
          ok = v2_tlv (p, error);
        break;
      case ST_V2_SKIP:
        {
          gsize n = MIN (len - i, p->skip);
          p->skip -= n;
          i += n;
          if (p->skip == 0)
            ok = v2_next (p, error);
          break;
        }
      case ST_DONE:
      case ST_FAILED:
        g_assert_not_reached ();
      }

  *consumed = i;
  if (!ok)
    return SG_PROXY_FAILED;
  if (p->state != ST_DONE)
    return SG_PROXY_NEED_MORE;
  *header = p->header;
  return SG_PROXY_DONE;
}
