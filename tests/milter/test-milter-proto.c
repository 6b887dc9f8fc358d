/* test-milter-proto.c - the milter codec byte for byte: commands as
 * libmilter expects them, replies decoded or refused (table-driven), packets
 * split anywhere, and the header list's edits as libmilter defines them. */
#include "milter/milter_headers.h"
#include "milter/milter_proto.h"

#include <string.h>

/* assert_bytes - got vs want, shown escaped on mismatch. */
static void
assert_bytes (const GByteArray *got, const char *want, gsize want_len)
{
  if (got->len != want_len || memcmp (got->data, want, want_len) != 0)
    {
      g_autofree char *gotx = g_malloc0 (got->len * 4 + 1);
      for (guint i = 0; i < got->len; i++)
        g_snprintf (gotx + i * 4, 5, "\\%03o", got->data[i]);
      g_test_fail_printf ("got %u bytes %s, want %zu", got->len, gotx, want_len);
    }
}

static void
test_encode_optneg (void)
{
  g_autoptr(GByteArray) b = g_byte_array_new ();
  sg_milter_encode_optneg (b, 6, SG_SMFIF_ALL_V6, SG_SMFIP_OFFER_V6);
  static const char want[] = "\0\0\0\015O" "\0\0\0\006" "\0\0\001\377" "\0\037\367\377";
  assert_bytes (b, want, sizeof want - 1);
}

static void
test_encode_connect (void)
{
  g_autoptr(GByteArray) b = g_byte_array_new ();
  sg_milter_encode_connect (b, "unknown", "192.0.2.1", 2525);
  static const char want[] = "\0\0\0\026C" "unknown\0" "4" "\011\335" "192.0.2.1\0";
  assert_bytes (b, want, sizeof want - 1);
  g_byte_array_set_size (b, 0);
  sg_milter_encode_connect (b, "h", "::1", 25);
  static const char want6[] = "\0\0\0\012C" "h\0" "6" "\0\031" "::1\0";
  assert_bytes (b, want6, sizeof want6 - 1);
}

static void
test_encode_macros (void)
{
  g_autoptr(GByteArray) b = g_byte_array_new ();
  const char *pairs[] = { "i", "Q1", "{cipher}", NULL, "{mail_addr}", "a@b", NULL };
  sg_milter_encode_macros (b, SG_SMFIC_MAIL, pairs);
  static const char want[] = "\0\0\0\027D" "M" "i\0Q1\0" "{mail_addr}\0a@b\0";
  assert_bytes (b, want, sizeof want - 1);
}

static void
test_encode_strings (void)
{
  g_autoptr(GByteArray) b = g_byte_array_new ();
  const char *s[] = { "Subject", "hi", NULL };
  sg_milter_encode_strings (b, SG_SMFIC_HEADER, s);
  static const char want[] = "\0\0\0\014L" "Subject\0hi\0";
  assert_bytes (b, want, sizeof want - 1);
  g_byte_array_set_size (b, 0);
  sg_milter_encode (b, SG_SMFIC_BODYEOB, NULL, 0);
  assert_bytes (b, "\0\0\0\001E", 5);
}

typedef struct {
  const char    *name;
  const char    *bytes;
  gsize          len;
  SgMilterStatus status;
  char           cmd;
  const char    *hname, *value, *args;  /* expected strings (NULL: none) */
  guint32        index;
  guint          code;
  const char    *enhanced;
} DecodeCase;

#define B(s) s, sizeof s - 1
static const DecodeCase decode_cases[] = {
  { "continue", B ("\0\0\0\001c"), SG_MILTER_PACKET, 'c' },
  { "accept-extra-data", B ("\0\0\0\002ax"), SG_MILTER_PACKET, 'a' },
  { "need-length", B ("\0\0\0"), SG_MILTER_NEED_MORE },
  { "need-data", B ("\0\0\0\005hX\0"), SG_MILTER_NEED_MORE },
  { "zero-length", B ("\0\0\0\0c"), SG_MILTER_BAD },
  { "too-long", B ("\0\020\0\001c"), SG_MILTER_BAD },
  { "unknown", B ("\0\0\0\001Z"), SG_MILTER_BAD },
  { "optneg", B ("\0\0\0\015O\0\0\0\006\0\0\0\021\0\020\0\0"), SG_MILTER_PACKET, 'O' },
  { "optneg-short", B ("\0\0\0\011O\0\0\0\006\0\0\0\021"), SG_MILTER_BAD },
  { "addheader", B ("\0\0\0\011hX-A\0v 1\0"), SG_MILTER_PACKET, 'h', "X-A", "v 1" },
  { "addheader-no-nul", B ("\0\0\0\010hX-A\0v 1"), SG_MILTER_BAD },
  { "addheader-no-value", B ("\0\0\0\005hX-A\0"), SG_MILTER_BAD },
  { "insheader", B ("\0\0\0\011i\0\0\0\002X\0y\0"), SG_MILTER_PACKET, 'i', "X", "y", NULL, 2 },
  { "chgheader-delete", B ("\0\0\0\010m\0\0\0\001X\0\0"), SG_MILTER_PACKET, 'm', "X", "", NULL, 1 },
  { "chgheader-short", B ("\0\0\0\003m\0\0"), SG_MILTER_BAD },
  { "quarantine", B ("\0\0\0\006qspam\0"), SG_MILTER_PACKET, 'q', NULL, "spam" },
  { "chgfrom-args", B ("\0\0\0\011e<a@b>\0X\0"), SG_MILTER_PACKET, 'e', NULL, "<a@b>", "X" },
  { "addrcpt", B ("\0\0\0\007+<a@b>\0"), SG_MILTER_PACKET, '+', NULL, "<a@b>" },
  { "replbody", B ("\0\0\0\004bxyz"), SG_MILTER_PACKET, 'b' },
  { "replycode", B ("\0\0\0\031y554 5.7.1 Gtube pattern\0"), SG_MILTER_PACKET, 'y', NULL,
    "Gtube pattern", NULL, 0, 554, "5.7.1" },
  { "replycode-bare", B ("\0\0\0\016y451 later on\0"), SG_MILTER_PACKET, 'y', NULL, "later on",
    NULL, 0, 451, "4.7.1" },
  { "replycode-class-mismatch", B ("\0\0\0\017y550 4.7.1 x y\0"), SG_MILTER_PACKET, 'y', NULL,
    "4.7.1 x y", NULL, 0, 550, "5.7.1" },
  { "replycode-multiline", B ("\0\0\0\032y550-5.7.0 a\r\n550 5.7.0 b\0"), SG_MILTER_PACKET, 'y',
    NULL, "a", NULL, 0, 550, "5.7.0" },
  { "replycode-control", B ("\0\0\0\017y550 5.7.1 a\tb\0"), SG_MILTER_PACKET, 'y', NULL, "a b",
    NULL, 0, 550, "5.7.1" },
  { "replycode-2xx", B ("\0\0\0\010y250 ok\0"), SG_MILTER_BAD },
  { "replycode-short", B ("\0\0\0\004y55\0"), SG_MILTER_BAD },
  { "replycode-no-nul", B ("\0\0\0\004y550"), SG_MILTER_BAD },
};
#undef B

static void
test_decode_table (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (decode_cases); i++)
    {
      const DecodeCase *c = &decode_cases[i];
      SgMilterReply r;
      gsize used = 99;
      g_autoptr(GError) error = NULL;
      SgMilterStatus st = sg_milter_decode ((const guint8 *) c->bytes, c->len, &used, &r, &error);
      if (st != c->status)
        {
          g_test_fail_printf ("%s: got status %d, want %d (%s)", c->name, st, c->status,
                              error ? error->message : "no error");
          sg_milter_reply_clear (&r);
          continue;
        }
      g_assert_true ((st == SG_MILTER_BAD) == (error != NULL));
      if (st != SG_MILTER_PACKET)
        {
          g_assert_cmpuint (used, ==, 0);
          continue;
        }
      g_assert_cmpuint (used, ==, c->len);
      if (r.cmd != c->cmd || g_strcmp0 (r.name, c->hname) != 0 || g_strcmp0 (r.value, c->value) != 0
          || g_strcmp0 (r.args, c->args) != 0 || r.index != c->index || r.code != c->code
          || (c->enhanced && strcmp (r.enhanced, c->enhanced) != 0))
        g_test_fail_printf ("%s: got %c name=%s value=%s args=%s index=%u code=%u enhanced=%s",
                            c->name, r.cmd, r.name, r.value, r.args, r.index, r.code, r.enhanced);
      sg_milter_reply_clear (&r);
    }
}

static void
test_decode_optneg_fields (void)
{
  static const char b[] = "\0\0\0\025O\0\0\0\006\0\0\0\021\0\020\0\0" "\0\0\0\002{i}\0";
  SgMilterReply r;
  gsize used = 0;
  g_assert_cmpint (sg_milter_decode ((const guint8 *) b, sizeof b - 1, &used, &r, NULL), ==, SG_MILTER_PACKET);
  g_assert_cmpuint (r.version, ==, 6);
  g_assert_cmpuint (r.actions, ==, SG_SMFIF_ADDHDRS | SG_SMFIF_CHGHDRS);
  g_assert_cmpuint (r.flags, ==, SG_SMFIP_HDR_LEADSPC);
  g_assert_cmpuint (used, ==, sizeof b - 1);
  sg_milter_reply_clear (&r);
}

/* A milter's reply text becomes our SMTP reply: a long one is cut so the
 * line stays within 512 octets (RFC 5321 4.5.3.1.5), and octets outside
 * ASCII do not reach the client. */
static void
test_decode_replycode_bounded (void)
{
  g_autoptr(GByteArray) b = g_byte_array_new ();
  g_autoptr(GString) s = g_string_new ("550 5.7.1 caf\xc3\xa9 ");
  while (s->len < 4000)
    g_string_append_c (s, 'x');
  const char *strings[] = { s->str, NULL };
  sg_milter_encode_strings (b, SG_SMFIR_REPLYCODE, strings);
  SgMilterReply r;
  gsize used = 0;
  g_autoptr(GError) error = NULL;
  g_assert_cmpint (sg_milter_decode (b->data, b->len, &used, &r, &error), ==, SG_MILTER_PACKET);
  g_assert_no_error (error);
  g_assert_cmpuint (used, ==, b->len);
  g_assert_cmpstr (r.enhanced, ==, "5.7.1");
  g_assert_cmpuint (strlen (r.value), ==, SG_MILTER_REPLY_TEXT_MAX);
  g_assert_true (g_str_has_prefix (r.value, "caf?? xxx"));
  g_autofree char *line = g_strdup_printf ("%03u %s %s\r\n", r.code, r.enhanced, r.value);
  g_assert_cmpuint (strlen (line), <=, 512);
  sg_milter_reply_clear (&r);
}

/* Two packets in one buffer, then every prefix of it: a packet is decoded
 * only once whole, and the second starts where the first ended. */
static void
test_decode_stream (void)
{
  static const char b[] = "\0\0\0\011hX-A\0v 1\0" "\0\0\0\001c";
  gsize total = sizeof b - 1;
  for (gsize n = 0; n <= total; n++)
    {
      SgMilterReply r;
      gsize used = 0;
      SgMilterStatus st = sg_milter_decode ((const guint8 *) b, n, &used, &r, NULL);
      g_assert_cmpint (st, ==, (n < 13 ? SG_MILTER_NEED_MORE : SG_MILTER_PACKET));
      if (st == SG_MILTER_PACKET)
        {
          g_assert_cmpuint (used, ==, 13);
          sg_milter_reply_clear (&r);
          st = sg_milter_decode ((const guint8 *) b + used, n - used, &used, &r, NULL);
          g_assert_cmpint (st, ==, (n == total ? SG_MILTER_PACKET : SG_MILTER_NEED_MORE));
          if (st == SG_MILTER_PACKET)
            g_assert_cmpint (r.cmd, ==, 'c');
          sg_milter_reply_clear (&r);
        }
    }
}

/* ---- the header list ---- */

#define RECEIVED "Received: from x ([192.0.2.1])\r\n\tby mx (spoolgate) with ESMTP id Q\r\n"
#define MESSAGE  "Subject: hi\r\nTo: a@b,\r\n  c@d\r\nX-Two: 1\r\nx-two: 2\r\n\r\nbody\r\n"

static SgMilterHeaders *
headers (gsize *body)
{
  g_autoptr(GBytes) rcv = g_bytes_new_static (RECEIVED, strlen (RECEIVED));
  g_autoptr(GBytes) msg = g_bytes_new_static (MESSAGE, strlen (MESSAGE));
  return sg_milter_headers_new (rcv, msg, body);
}

static void
assert_headers (SgMilterHeaders *h, const char *want)
{
  g_autoptr(GBytes) got = sg_milter_headers_bytes (h);
  gsize len = 0;
  const char *g = g_bytes_get_data (got, &len);
  g_autofree char *gs = g_strndup (g, len);
  g_assert_cmpstr (gs, ==, want);
}

static void
test_headers_unchanged (void)
{
  gsize body = 0;
  g_autoptr(SgMilterHeaders) h = headers (&body);
  g_assert_cmpuint (sg_milter_headers_count (h), ==, 5);
  g_assert_cmpstr (MESSAGE + body, ==, "body\r\n");
  g_assert_false (sg_milter_headers_changed (h));
  assert_headers (h, RECEIVED "Subject: hi\r\nTo: a@b,\r\n  c@d\r\nX-Two: 1\r\nx-two: 2\r\n\r\n");
  g_assert_cmpstr (sg_milter_headers_name (h, 0), ==, "Received");
  g_autofree char *to = sg_milter_headers_value (h, 2, FALSE);
  g_assert_cmpstr (to, ==, "a@b,\n  c@d");
  g_autofree char *to_lead = sg_milter_headers_value (h, 2, TRUE);
  g_assert_cmpstr (to_lead, ==, " a@b,\n  c@d");
}

static void
test_headers_edits (void)
{
  gsize body = 0;
  g_autoptr(SgMilterHeaders) h = headers (&body);
  sg_milter_headers_insert (h, 0, "DKIM-Signature", "v=1;\n\tb=x", FALSE);
  sg_milter_headers_add (h, "X-Spam", " yes", TRUE);
  sg_milter_headers_change (h, 2, "X-TWO", "two", FALSE);   /* the second X-Two */
  sg_milter_headers_change (h, 1, "subject", "", FALSE);   /* delete */
  sg_milter_headers_change (h, 3, "X-Two", "three", FALSE); /* past the last: added */
  sg_milter_headers_change (h, 1, "X-None", "", FALSE);    /* nothing to delete */
  sg_milter_headers_insert (h, 99, "X-End", "e", FALSE);
  g_assert_true (sg_milter_headers_changed (h));
  assert_headers (h, "DKIM-Signature: v=1;\r\n\tb=x\r\n" RECEIVED "To: a@b,\r\n  c@d\r\nX-Two: 1\r\n"
                     "X-TWO: two\r\nX-Spam: yes\r\nX-Two: three\r\nX-End: e\r\n\r\n");
}

static void
test_headers_no_body (void)
{
  gsize body = 0;
  static const char msg[] = "Subject: x\r\n";
  g_autoptr(GBytes) b = g_bytes_new_static (msg, strlen (msg));
  g_autoptr(SgMilterHeaders) h = sg_milter_headers_new (NULL, b, &body);
  g_assert_cmpuint (body, ==, strlen (msg));
  sg_milter_headers_add (h, "X", "y", FALSE);
  assert_headers (h, "Subject: x\r\nX: y\r\n");
}

static void
test_header_valid (void)
{
  g_assert_true (sg_milter_header_valid ("X-Spam", "yes"));
  g_assert_true (sg_milter_header_valid ("X", "a\n\tb\r\n c"));
  g_assert_true (sg_milter_header_valid ("X", ""));
  g_assert_false (sg_milter_header_valid ("", "v"));
  g_assert_false (sg_milter_header_valid ("X Y", "v"));
  g_assert_false (sg_milter_header_valid ("X:Y", "v"));
  g_assert_false (sg_milter_header_valid ("X\xc3\xa9", "v"));
  g_assert_false (sg_milter_header_valid ("X", "a\nBcc: evil"));
  g_assert_false (sg_milter_header_valid ("X", "a\n\nbody"));
  g_assert_false (sg_milter_header_valid ("X", "a\rb"));
  g_assert_false (sg_milter_header_valid ("X", "a\n"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/milter/proto/encode-optneg", test_encode_optneg);
  g_test_add_func ("/milter/proto/encode-connect", test_encode_connect);
  g_test_add_func ("/milter/proto/encode-macros", test_encode_macros);
  g_test_add_func ("/milter/proto/encode-strings", test_encode_strings);
  g_test_add_func ("/milter/proto/decode-table", test_decode_table);
  g_test_add_func ("/milter/proto/decode-replycode-bounded", test_decode_replycode_bounded);
  g_test_add_func ("/milter/proto/decode-optneg", test_decode_optneg_fields);
  g_test_add_func ("/milter/proto/decode-stream", test_decode_stream);
  g_test_add_func ("/milter/headers/unchanged", test_headers_unchanged);
  g_test_add_func ("/milter/headers/edits", test_headers_edits);
  g_test_add_func ("/milter/headers/no-body", test_headers_no_body);
  g_test_add_func ("/milter/headers/valid", test_header_valid);
  return g_test_run ();
}
