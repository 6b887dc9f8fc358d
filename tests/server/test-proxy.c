/* test-proxy.c - the PROXY protocol header parser, table-driven: v1 TCP4,
 * TCP6 and UNKNOWN, v2 IPv4/IPv6, LOCAL, AF_UNSPEC and TLVs, and every way
 * a header can be cut short, too long or wrong. Each case is also fed in
 * every chunk size down to one byte at a time, and whatever follows a
 * complete header must be left for SMTP. */
#include "server/proxy.h"

#include <string.h>

#define BIN(s) s, sizeof (s) - 1
#define SIG    "\r\n\r\n\0\r\nQUIT\n"

typedef struct {
  const char   *name;
  const char   *input;
  gsize         len;
  SgProxyStatus want;
  gsize         consumed;   /* DONE: header bytes; the rest is SMTP */
  guint         version;
  gboolean      local;
  const char   *src;
  guint16       sport;
  const char   *dst;
  guint16       dport;
  SgProxyError  code;       /* ERROR */
} Case;

#define V1_TCP4 "PROXY TCP4 192.0.2.1 198.51.100.2 4321 25\r\n"
#define V1_TCP6 "PROXY TCP6 2001:db8::1 2001:db8::2 4321 25\r\n"
#define V1_MAX  "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"
#define V2_IP4  SIG "\x21\x11\x00\x0c" "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\x10\xe1" "\x00\x19"
#define V2_IP6  SIG "\x21\x21\x00\x24" \
                "\x20\x01\x0d\xb8" "\0\0\0\0\0\0\0\0\0\0\0" "\x01" \
                "\x20\x01\x0d\xb8" "\0\0\0\0\0\0\0\0\0\0\0" "\x02" "\x10\xe1" "\x00\x19"
#define V2_IP4_TLV SIG "\x21\x11\x00\x17" "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\x10\xe1" "\x00\x19" \
                "\x04\x00\x03" "abc" "\x01\x00\x02" "h2"
#define V2_LOCAL SIG "\x20\x00\x00\x00"
#define SMTP    "EHLO client.example\r\n"

#define DONE1(n, in, src, sp, dst, dp) { n, BIN (in), SG_PROXY_DONE, sizeof (in) - 1, 1, FALSE, src, sp, dst, dp }
#define DONE2(n, in, src, sp, dst, dp) { n, BIN (in), SG_PROXY_DONE, sizeof (in) - 1, 2, FALSE, src, sp, dst, dp }
#define LOCAL(n, in, v) { n, BIN (in), SG_PROXY_DONE, sizeof (in) - 1, v, TRUE, "", 0, "", 0 }
#define MORE(n, in)     { n, BIN (in), SG_PROXY_NEED_MORE }
#define ERR(n, in, c)   { n, BIN (in), SG_PROXY_FAILED, .code = c }

static const Case cases[] = {
  /* v1 */
  DONE1 ("v1/tcp4", V1_TCP4, "192.0.2.1", 4321, "198.51.100.2", 25),
  DONE1 ("v1/tcp6", V1_TCP6, "2001:db8::1", 4321, "2001:db8::2", 25),
  DONE1 ("v1/tcp6-v4mapped", "PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n", "192.0.2.1", 1, "::1", 2),
  DONE1 ("v1/tcp6-longest", "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
         "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe 65535 65535\r\n",
         "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 65535),
  DONE1 ("v1/ports-0", "PROXY TCP4 192.0.2.1 192.0.2.2 0 0\r\n", "192.0.2.1", 0, "192.0.2.2", 0),
  LOCAL ("v1/unknown", "PROXY UNKNOWN\r\n", 1),
  LOCAL ("v1/unknown-ignores-rest", "PROXY UNKNOWN whatever \x01\x7f junk\r\n", 1),
  LOCAL ("v1/unknown-107-bytes", V1_MAX, 1),
  { "v1/trailing-smtp", BIN (V1_TCP4 SMTP), SG_PROXY_DONE, sizeof (V1_TCP4) - 1, 1, FALSE,
    "192.0.2.1", 4321, "198.51.100.2", 25 },
  { "v1/two-headers", BIN (V1_TCP4 V1_TCP4), SG_PROXY_DONE, sizeof (V1_TCP4) - 1, 1, FALSE,
    "192.0.2.1", 4321, "198.51.100.2", 25 },
  MORE ("v1/empty", ""),
  MORE ("v1/truncated-prefix", "PRO"),
  MORE ("v1/truncated-line", "PROXY TCP4 192.0.2.1 198.51.100.2 43"),
  MORE ("v1/truncated-before-lf", "PROXY TCP4 192.0.2.1 198.51.100.2 4321 25\r"),
  ERR ("v1/oversize", "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
       "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 655355\r\n", SG_PROXY_ERROR_TOO_LONG),
  ERR ("v1/no-crlf", "PROXY TCP4 " "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", SG_PROXY_ERROR_TOO_LONG),
  ERR ("v1/bare-lf", "PROXY TCP4 192.0.2.1 198.51.100.2 4321 25\n", SG_PROXY_ERROR_SYNTAX),
  ERR ("v1/cr-without-lf", "PROXY TCP4 192.0.2.1\r198.51.100.2 4321 25\r\n", SG_PROXY_ERROR_SYNTAX),
  ERR ("v1/lowercase", "proxy TCP4 192.0.2.1 198.51.100.2 4321 25\r\n", SG_PROXY_ERROR_NOT_PROXY),
  ERR ("v1/no-space", "PROXYTCP4 192.0.2.1 198.51.100.2 4321 25\r\n", SG_PROXY_ERROR_NOT_PROXY),
  ERR ("v1/prefix-only", "PROXY \r\n", SG_PROXY_ERROR_SYNTAX),
  ERR ("v1/bad-protocol", "PROXY TCP5 192.0.2.1 198.51.100.2 4321 25\r\n", SG_PROXY_ERROR_SYNTAX),
  ERR ("v1/udp", "PROXY UDP4 192.0.2.1 198.51.100.2 4321 25\r\n", SG_PROXY_ERROR_SYNTAX),
  ERR ("v1/unknownx", "PROXY UNKNOWNX\r\n", SG_PROXY_ERROR_SYNTAX),
  ERR ("v1/too-few-fields", "PROXY TCP4 192.0.2.1 198.51.100.2 4321\r\n", SG_PROXY_ERROR_SYNTAX),
  ERR ("v1/too-many-fields", "PROXY TCP4 192.0.2.1 198.51.100.2 4321 25 x\r\n", SG_PROXY_ERROR_SYNTAX),
  ERR ("v1/double-space", "PROXY TCP4  192.0.2.1 198.51.100.2 4321 25\r\n", SG_PROXY_ERROR_SYNTAX),
  ERR ("v1/trailing-space", "PROXY TCP4 192.0.2.1 198.51.100.2 4321 25 \r\n", SG_PROXY_ERROR_SYNTAX),
  ERR ("v1/tab", "PROXY TCP4\t192.0.2.1 198.51.100.2 4321 25\r\n", SG_PROXY_ERROR_SYNTAX),
  ERR ("v1/tcp4-with-ipv6", "PROXY TCP4 2001:db8::1 2001:db8::2 4321 25\r\n", SG_PROXY_ERROR_SYNTAX),
  ERR ("v1/tcp6-with-ipv4", "PROXY TCP6 192.0.2.1 198.51.100.2 4321 25\r\n", SG_PROXY_ERROR_SYNTAX),
  ERR ("v1/bad-octet", "PROXY TCP4 192.0.2.256 198.51.100.2 4321 25\r\n", SG_PROXY_ERROR_SYNTAX),
  ERR ("v1/leading-zero-octet", "PROXY TCP4 192.0.2.01 198.51.100.2 4321 25\r\n", SG_PROXY_ERROR_SYNTAX),
  ERR ("v1/hostname", "PROXY TCP4 localhost 198.51.100.2 4321 25\r\n", SG_PROXY_ERROR_SYNTAX),
  ERR ("v1/scoped-ipv6", "PROXY TCP6 fe80::1%eth0 ::1 4321 25\r\n", SG_PROXY_ERROR_SYNTAX),
  ERR ("v1/bad-dst", "PROXY TCP4 192.0.2.1 198.51.100 4321 25\r\n", SG_PROXY_ERROR_SYNTAX),
  ERR ("v1/nul", "PROXY TCP4 192.0.2.1\0" "198.51.100.2 4321 25\r\n", SG_PROXY_ERROR_SYNTAX),
  ERR ("v1/port-65536", "PROXY TCP4 192.0.2.1 198.51.100.2 65536 25\r\n", SG_PROXY_ERROR_SYNTAX),
  ERR ("v1/port-99999", "PROXY TCP4 192.0.2.1 198.51.100.2 4321 99999\r\n", SG_PROXY_ERROR_SYNTAX),
  ERR ("v1/port-6-digits", "PROXY TCP4 192.0.2.1 198.51.100.2 000025 25\r\n", SG_PROXY_ERROR_SYNTAX),
  ERR ("v1/port-leading-zero", "PROXY TCP4 192.0.2.1 198.51.100.2 04321 25\r\n", SG_PROXY_ERROR_SYNTAX),
  ERR ("v1/port-negative", "PROXY TCP4 192.0.2.1 198.51.100.2 -1 25\r\n", SG_PROXY_ERROR_SYNTAX),
  ERR ("v1/port-plus", "PROXY TCP4 192.0.2.1 198.51.100.2 4321 +25\r\n", SG_PROXY_ERROR_SYNTAX),
  ERR ("v1/port-hex", "PROXY TCP4 192.0.2.1 198.51.100.2 0x19 25\r\n", SG_PROXY_ERROR_SYNTAX),
  ERR ("v1/port-suffix", "PROXY TCP4 192.0.2.1 198.51.100.2 4321 25a\r\n", SG_PROXY_ERROR_SYNTAX),
  ERR ("v1/port-huge", "PROXY TCP4 192.0.2.1 198.51.100.2 4294967321 25\r\n", SG_PROXY_ERROR_SYNTAX),

  /* v2 */
  DONE2 ("v2/ipv4", V2_IP4, "192.0.2.1", 4321, "198.51.100.2", 25),
  DONE2 ("v2/ipv6", V2_IP6, "2001:db8::1", 4321, "2001:db8::2", 25),
  DONE2 ("v2/ipv6-v4mapped", SIG "\x21\x21\x00\x24"
         "\0\0\0\0\0\0\0\0\0\0\xff\xff" "\xc0\x00\x02\x01"
         "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01" "\xff\xff" "\x00\x00", "192.0.2.1", 65535, "::1", 0),
  DONE2 ("v2/tlvs", V2_IP4_TLV, "192.0.2.1", 4321, "198.51.100.2", 25),
  DONE2 ("v2/empty-tlv", SIG "\x21\x11\x00\x0f" "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\x10\xe1" "\x00\x19"
         "\x04\x00\x00", "192.0.2.1", 4321, "198.51.100.2", 25),
  DONE2 ("v2/unknown-tlv-type", SIG "\x21\x11\x00\x0f" "\xc0\x00\x02\x01" "\xc6\x33\x64\x02"
         "\x10\xe1" "\x00\x19" "\xee\x00\x00", "192.0.2.1", 4321, "198.51.100.2", 25),
  LOCAL ("v2/local", V2_LOCAL, 2),
  LOCAL ("v2/local-with-addresses", SIG "\x20\x11\x00\x0c" "\xc0\x00\x02\x01" "\xc6\x33\x64\x02"
         "\x10\xe1" "\x00\x19", 2),
  LOCAL ("v2/local-garbage-block", SIG "\x20\x31\x00\x05" "\xff\xff\xff\xff\xff", 2),
  LOCAL ("v2/proxy-unspec", SIG "\x21\x00\x00\x00", 2),
  { "v2/trailing-smtp", BIN (V2_IP4 SMTP), SG_PROXY_DONE, sizeof (V2_IP4) - 1, 2, FALSE,
    "192.0.2.1", 4321, "198.51.100.2", 25 },
  { "v2/local-trailing-smtp", BIN (V2_LOCAL SMTP), SG_PROXY_DONE, sizeof (V2_LOCAL) - 1, 2, TRUE,
    "", 0, "", 0 },
  { "v2/tlvs-trailing-smtp", BIN (V2_IP4_TLV SMTP), SG_PROXY_DONE, sizeof (V2_IP4_TLV) - 1, 2, FALSE,
    "192.0.2.1", 4321, "198.51.100.2", 25 },
  MORE ("v2/truncated-signature", "\r\n\r\n\0\r\nQU"),
  MORE ("v2/truncated-fixed", SIG "\x21\x11"),
  MORE ("v2/truncated-addresses", SIG "\x21\x11\x00\x0c" "\xc0\x00\x02\x01" "\xc6"),
  MORE ("v2/truncated-tlv-head", SIG "\x21\x11\x00\x17" "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\x10\xe1"
        "\x00\x19" "\x04\x00"),
  MORE ("v2/truncated-tlv-value", SIG "\x21\x11\x00\x17" "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\x10\xe1"
        "\x00\x19" "\x04\x00\x03" "ab"),
  MORE ("v2/truncated-local-block", SIG "\x20\x00\x00\x10" "abc"),
  MORE ("v2/crlf-is-a-signature-prefix", "\r\n"),
  ERR ("v2/bad-signature", "\r\n\r\n\0\r\nQUIX\n" "\x21\x11\x00\x0c", SG_PROXY_ERROR_NOT_PROXY),
  ERR ("v2/signature-without-nul", "\r\n\r\n\r\nQUIT\n", SG_PROXY_ERROR_NOT_PROXY),
  ERR ("v2/version-1", SIG "\x11\x11\x00\x0c", SG_PROXY_ERROR_SYNTAX),
  ERR ("v2/version-3", SIG "\x31\x11\x00\x0c", SG_PROXY_ERROR_SYNTAX),
  ERR ("v2/command-2", SIG "\x22\x11\x00\x0c", SG_PROXY_ERROR_SYNTAX),
  ERR ("v2/command-f", SIG "\x2f\x11\x00\x0c", SG_PROXY_ERROR_SYNTAX),
  ERR ("v2/af-unix", SIG "\x21\x31\x00\xd8", SG_PROXY_ERROR_UNSUPPORTED),
  ERR ("v2/af-unknown", SIG "\x21\x41\x00\x0c", SG_PROXY_ERROR_SYNTAX),
  ERR ("v2/udp", SIG "\x21\x12\x00\x0c", SG_PROXY_ERROR_UNSUPPORTED),
  ERR ("v2/transport-unspec", SIG "\x21\x10\x00\x0c", SG_PROXY_ERROR_UNSUPPORTED),
  ERR ("v2/ipv4-short-block", SIG "\x21\x11\x00\x08" "\xc0\x00\x02\x01" "\xc6\x33\x64\x02", SG_PROXY_ERROR_SYNTAX),
  ERR ("v2/ipv6-ipv4-sized-block", SIG "\x21\x21\x00\x0c", SG_PROXY_ERROR_SYNTAX),
  ERR ("v2/oversize", SIG "\x21\x11\x08\x01", SG_PROXY_ERROR_TOO_LONG),
  ERR ("v2/oversize-max", SIG "\x21\x11\xff\xff", SG_PROXY_ERROR_TOO_LONG),
  ERR ("v2/local-oversize", SIG "\x20\x00\xff\xff", SG_PROXY_ERROR_TOO_LONG),
  ERR ("v2/stray-byte", SIG "\x21\x11\x00\x0d" "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\x10\xe1" "\x00\x19"
       "\x04", SG_PROXY_ERROR_SYNTAX),
  ERR ("v2/tlv-overrun", SIG "\x21\x11\x00\x11" "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\x10\xe1" "\x00\x19"
       "\x04\x00\x05" "ab", SG_PROXY_ERROR_SYNTAX),

  /* neither */
  ERR ("garbage/smtp", SMTP, SG_PROXY_ERROR_NOT_PROXY),
  ERR ("garbage/http", "GET / HTTP/1.0\r\n\r\n", SG_PROXY_ERROR_NOT_PROXY),
  ERR ("garbage/nul", "\0\0\0\0", SG_PROXY_ERROR_NOT_PROXY),
  ERR ("garbage/tls-hello", "\x16\x03\x01\x00\xa5\x01", SG_PROXY_ERROR_NOT_PROXY),
  ERR ("garbage/high-bytes", "\xff\xfe\xfd", SG_PROXY_ERROR_NOT_PROXY),
  ERR ("garbage/proxz", "PROXZ TCP4", SG_PROXY_ERROR_NOT_PROXY),
};

/* run_case - feed c in pieces of chunk bytes; stop at DONE or ERROR. */
static void
run_case (const Case *c, gsize chunk)
{
  g_autoptr(SgProxyParser) p = sg_proxy_parser_new ();
  g_autoptr(GError) error = NULL;
  SgProxyHeader h;
  memset (&h, 0xAA, sizeof h);
  SgProxyStatus st = SG_PROXY_NEED_MORE;
  gsize pos = 0;
  do
    {
      gsize n = MIN (chunk, c->len - pos), used = G_MAXSIZE;
      st = sg_proxy_parser_feed (p, (const guint8 *) c->input + pos, n, &used, &h, &error);
      g_assert_cmpuint (used, <=, n);
      if (st == SG_PROXY_NEED_MORE && used != n)
        g_error ("%s (chunk %zu): need-more took %zu of %zu bytes", c->name, chunk, used, n);
      pos += used;
    }
  while (st == SG_PROXY_NEED_MORE && pos < c->len);

  if (st != c->want)
    g_error ("%s (chunk %zu): status %d, want %d (%s)", c->name, chunk, st, c->want,
             error ? error->message : "no error");
  switch (st)
    {
    case SG_PROXY_NEED_MORE:
      g_assert_cmpuint (pos, ==, c->len);
      g_assert_no_error (error);
      break;
    case SG_PROXY_DONE:
      g_assert_no_error (error);
      if (pos != c->consumed)
        g_error ("%s (chunk %zu): consumed %zu, want %zu", c->name, chunk, pos, c->consumed);
      g_assert_cmpuint (h.version, ==, c->version);
      g_assert_cmpint (h.local, ==, c->local);
      g_assert_cmpstr (h.source, ==, c->src);
      g_assert_cmpuint (h.source_port, ==, c->sport);
      g_assert_cmpstr (h.destination, ==, c->dst);
      g_assert_cmpuint (h.destination_port, ==, c->dport);
      break;
    case SG_PROXY_FAILED:
      g_assert_error (error, SG_PROXY_ERROR, (gint) c->code);
      g_assert_cmpuint (pos, <=, c->len);
      /* the reason is fit for a log line: printable ASCII */
      for (const char *m = error->message; *m; m++)
        g_assert_true (*m >= 0x20 && *m < 0x7f);
      break;
    }
}

static void
test_case (gconstpointer data)
{
  const Case *c = data;
  for (gsize chunk = 1; chunk <= MAX (c->len, 1); chunk++)
    run_case (c, chunk);
}

/* /server/proxy/random-splits - the same cases cut at random places. */
static void
test_random_splits (void)
{
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
    for (int round = 0; round < 50; round++)
      {
        const Case *c = &cases[k];
        g_autoptr(SgProxyParser) p = sg_proxy_parser_new ();
        g_autoptr(GError) error = NULL;
        SgProxyHeader h;
        SgProxyStatus st = SG_PROXY_NEED_MORE;
        gsize pos = 0;
        while (st == SG_PROXY_NEED_MORE && pos < c->len)
          {
            gsize n = (gsize) g_test_rand_int_range (0, (gint32) (c->len - pos) + 1), used = 0;
            st = sg_proxy_parser_feed (p, (const guint8 *) c->input + pos, n, &used, &h, &error);
            pos += used;
          }
        g_assert_cmpint (st, ==, c->want);
        if (st == SG_PROXY_DONE)
          g_assert_cmpuint (pos, ==, c->consumed);
      }
}

/* /server/proxy/v2-largest - a header at SG_PROXY_V2_MAX_PAYLOAD exactly, in TLVs. */
static void
test_v2_largest (void)
{
  g_autoptr(GByteArray) b = g_byte_array_new ();
  static const char head[] = V2_IP4;
  g_byte_array_append (b, (const guint8 *) head, sizeof head - 1);
  gsize tlvs = SG_PROXY_V2_MAX_PAYLOAD - 12;
  b->data[14] = (guint8) (SG_PROXY_V2_MAX_PAYLOAD >> 8);
  b->data[15] = (guint8) (SG_PROXY_V2_MAX_PAYLOAD & 0xff);
  /* one big NOOP TLV holding all but its own 3 bytes */
  guint8 tlv[3] = { 0x04, (guint8) ((tlvs - 3) >> 8), (guint8) ((tlvs - 3) & 0xff) };
  g_byte_array_append (b, tlv, 3);
  for (gsize i = 0; i < tlvs - 3; i++)
    g_byte_array_append (b, (const guint8 *) "\x5a", 1);
  g_byte_array_append (b, (const guint8 *) SMTP, strlen (SMTP));

  g_autoptr(SgProxyParser) p = sg_proxy_parser_new ();
  g_autoptr(GError) error = NULL;
  SgProxyHeader h;
  gsize used = 0;
  g_assert_cmpint (sg_proxy_parser_feed (p, b->data, b->len, &used, &h, &error), ==, SG_PROXY_DONE);
  g_assert_no_error (error);
  g_assert_cmpuint (used, ==, SG_PROXY_V2_FIXED + SG_PROXY_V2_MAX_PAYLOAD);
  g_assert_cmpstr (h.source, ==, "192.0.2.1");
  g_assert_cmpmem (b->data + used, b->len - used, SMTP, strlen (SMTP));
}

/* /server/proxy/garbage - random bytes never crash it, and it always ends
 * within the longest possible header. */
static void
test_garbage (void)
{
  guint8 buf[SG_PROXY_V2_FIXED + SG_PROXY_V2_MAX_PAYLOAD + 1];
  for (int round = 0; round < 2000; round++)
    {
      for (gsize i = 0; i < sizeof buf; i++)
        buf[i] = (guint8) g_test_rand_int_range (0, 256);
      /* often start like a header so the deeper states are reached */
      switch (round % 3)
        {
        case 0: memcpy (buf, SIG, 12); buf[12] = 0x20 | (buf[12] & 1); break;
        case 1: memcpy (buf, "PROXY ", 6); break;
        default: break;
        }
      g_autoptr(SgProxyParser) p = sg_proxy_parser_new ();
      g_autoptr(GError) error = NULL;
      SgProxyHeader h;
      gsize used = 0;
      SgProxyStatus st = sg_proxy_parser_feed (p, buf, sizeof buf, &used, &h, &error);
      g_assert_cmpint (st, !=, SG_PROXY_NEED_MORE);
      g_assert_cmpuint (used, <=, sizeof buf);
      g_assert_true ((st == SG_PROXY_FAILED) == (error != NULL));
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/server/proxy/%s", cases[i].name);
      g_test_add_data_func (path, &cases[i], test_case);
    }
  g_test_add_func ("/server/proxy/random-splits", test_random_splits);
  g_test_add_func ("/server/proxy/v2-largest", test_v2_largest);
  g_test_add_func ("/server/proxy/garbage", test_garbage);
  return g_test_run ();
}
