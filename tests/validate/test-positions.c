/* test-positions.c - a header field is judged alike wherever it stands
 * (issue 20): every header field of the evasion and near-miss corpora and of
 * the per-rule samples, plus the probes below, goes first, in the middle and
 * last into the message's header, a MIME part's and an attached message's
 * (field-positions.h builds the messages); each policy level must give the
 * same rule ids and verdict in every position, and the same verdict when a
 * second field of the same name stays beside it.
 */
#include "test-common.h"
#include "field-positions.h"

/* Probes written for this test: the issue's reproductions and the ways a
 * field can end (folded, 8-bit or a bad word on a continuation line). */
static const char *const own_probes[] = {
  "Subject: x\xff\xfe",
  "Subject: caf\xc3\xa9",
  "Subject: =?utf-8?B?***?=",
  "Subject: =?utf-8?Q?a=ZZ?=",
  "Subject: folded\r\n =?utf-8?B?***?=",
  "Subject: folded\r\n x\xff\xfe",
  "Subject: folded\r\n\tcaf\xc3\xa9",
  "X-Note: =?utf-8?q?unterminated",
  "Content-Disposition: attachment; filename=\"a\xff.txt\"",
  "Content-Disposition: attachment;\r\n filename=\"invoice\xff.pdf\"",
  "Content-Disposition: attachment; filename=\"=?utf-8?B?aW52b2ljZS5leGU=?=\"",
  "Content-Type: application/octet-stream; name=\"a.txt\xff\"",
  "Content-Type: text/plain; charset = utf-8",
  "Content-Type: text/plain;\r\n charset=\"utf-8\" (comment)",
  "Content-Transfer-Encoding: base64 (really)",
  "Content-Transfer-Encoding: x-unknown",
  "Content-Transfer-Encoding: ",
  "Subject : space before the colon",
  "Bad Name: space in the name",
  "X-\x01: control in the name",
  ": empty name",
  "From: not an address",
  "Date: yesterday",
  "Message-ID: no-angle@example.com",
  "To: <<<",
  "X-Bare: a\rb",
  "X-Bare-LF: a\n b",
  "X-Nul: a\0b",
};

/* extract_fields - every header field of every header-like block of
 * [data,len): the top of the file, and after an empty line or a line
 * starting with "--". An independent splitter, so a bug in the validator's
 * own cannot hide probes; extra probes (body lines with a colon) only cost
 * time. Each field without its final line end. */
static void
extract_fields (const guint8 *data, gsize len, GHashTable *probes)
{
  gsize pos = 0;
  gboolean section_start = TRUE;
  gssize field = -1;
  gsize field_end = 0;

  while (pos <= len)
    {
      const guint8 *nl = pos < len ? memchr (data + pos, '\n', len - pos) : NULL;
      gsize next = nl != NULL ? (gsize) (nl - data) + 1 : len + 1;
      gsize end = nl != NULL ? (gsize) (nl - data) : len;
      gsize cend = end > pos && data[end - 1] == '\r' ? end - 1 : end;
      gboolean cont = cend > pos && (data[pos] == ' ' || data[pos] == '\t');

      if (field >= 0 && cont)
        {
          field_end = cend;
          pos = next;
          continue;
        }
      if (field >= 0)
        {
          g_hash_table_add (probes, g_bytes_new (data + field, field_end - (gsize) field));
          field = -1;
        }
      /* An mbox "From " separator (RFC 4155) is no field: it is what it is
       * only atop a message (header.mbox-from), so it is positional by
       * definition and not a probe; its colons are the time's. */
      gboolean is_field = cend > pos && !cont && memchr (data + pos, ':', cend - pos) != NULL &&
                          !(cend - pos >= 2 && data[pos] == '-' && data[pos + 1] == '-') &&
                          !(cend - pos >= 5 && memcmp (data + pos, "From ", 5) == 0);
      if (section_start && is_field)
        {
          field = (gssize) pos;
          field_end = cend;
        }
      else
        section_start = cend == pos || (cend - pos >= 2 && data[pos] == '-' && data[pos + 1] == '-');
      pos = next;
    }
}

static GHashTable *
new_probe_set (void)
{
  return g_hash_table_new_full (g_bytes_hash, g_bytes_equal, (GDestroyNotify) g_bytes_unref, NULL);
}

static void
add_dir (GHashTable *probes, const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  g_assert_nonnull (d);
  const char *name;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      if (!g_str_has_suffix (name, ".eml"))
        continue;
      g_autofree char *file = g_build_filename (dir, name, NULL);
      g_autoptr(GBytes) msg = load_message (file);
      gsize len = 0;
      const guint8 *data = g_bytes_get_data (msg, &len);
      extract_fields (data, len, probes);
    }
}

/* The options each probe is checked under: every level, with and without
 * the client's SMTPUTF8 and 8BITMIME. */
typedef struct {
  const char *level;
  gboolean utf8;
} PosConfig;

static const PosConfig configs[] = {
  { "standard", FALSE }, { "strict", FALSE }, { "permissive", FALSE },
  { "standard", TRUE }, { "strict", TRUE },
};

/* check_probes - every probe in every position under every config; fails
 * with the first few disagreements and their count. */
static void
check_probes (GHashTable *probes, guint min_probes)
{
  g_autoptr(GString) failures = g_string_new (NULL);
  guint nfail = 0, nprobes = 0, nskipped = 0;
  GHashTableIter it;
  gpointer key;

  for (gsize k = 0; k < G_N_ELEMENTS (configs); k++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(SgPolicy) policy = sg_policy_new (configs[k].level, NULL, NULL, &error);
      g_assert_no_error (error);
      SgValidateOptions o = { .smtputf8 = configs[k].utf8, .eightbitmime = configs[k].utf8,
                              .policy = policy };
      g_hash_table_iter_init (&it, probes);
      while (g_hash_table_iter_next (&it, &key, NULL))
        {
          gsize len = 0;
          const guint8 *probe = g_bytes_get_data (key, &len);
          if (!sg_pos_probe_ok (probe, len))
            {
              nskipped += k == 0;
              continue;
            }
          nprobes += k == 0;
          for (int dup = 0; dup < 2; dup++)
            {
              g_autofree char *diff = sg_pos_check (probe, len, &o, dup);
              if (diff == NULL)
                continue;
              if (nfail++ < 8)
                {
                  g_autofree char *shown = g_strndup ((const char *) probe, len);
                  g_autofree char *esc = g_strescape (shown, NULL);
                  g_string_append_printf (failures, "\nprobe \"%s\" (%s%s):\n  %s", esc,
                                          configs[k].level, configs[k].utf8 ? ", SMTPUTF8" : "",
                                          diff);
                }
            }
        }
    }
  g_test_message ("%u probes in %u sections x %u positions x %" G_GSIZE_FORMAT
                  " configs (%u not one field, skipped)", nprobes, SG_POS_N_SECTIONS,
                  SG_POS_N_VARIANTS, G_N_ELEMENTS (configs), nskipped);
  if (nfail > 0)
    g_error ("%u disagreements between positions:%s", nfail, failures->str);
  g_assert_cmpuint (nprobes, >=, min_probes);
}

static void
test_own_probes (void)
{
  g_autoptr(GHashTable) probes = new_probe_set ();
  for (gsize i = 0; i < G_N_ELEMENTS (own_probes); i++)
    {
      gsize len = strlen (own_probes[i]);
      if (strncmp (own_probes[i], "X-Nul", 5) == 0)
        len = strlen ("X-Nul: a") + 2;
      g_hash_table_add (probes, g_bytes_new (own_probes[i], len));
    }
  check_probes (probes, G_N_ELEMENTS (own_probes) - 4);
}

static void
test_dir_probes (gconstpointer data)
{
  g_autofree char *dir = g_build_filename (g_test_get_dir (G_TEST_DIST), data, NULL);
  g_autoptr(GHashTable) probes = new_probe_set ();
  add_dir (probes, dir);
  check_probes (probes, 15);
}

/* The issue's reproductions, with the verdict each must get: the offending
 * field last in the message's header, in a part's, and an encoded-word that
 * must at least be recorded. */
static void
test_issue_reproductions (void)
{
  static const struct {
    const char *probe;
    SgPosSection section;
    const char *level;
    const char *rule;
    gboolean reject;
  } cases[] = {
    { "Subject: x\xff\xfe", SG_POS_ROOT, "standard", "header.utf8.invalid", TRUE },
    { "Subject: x\xff\xfe", SG_POS_ROOT, "strict", "header.utf8.invalid", TRUE },
    { "Content-Disposition: attachment; filename=\"a\xff.txt\"", SG_POS_PART, "standard",
      "header.utf8.invalid", TRUE },
    { "Content-Disposition: attachment; filename=\"a\xff.txt\"", SG_POS_PART, "strict",
      "header.8bit", TRUE },
    { "Subject: x\xff\xfe", SG_POS_ATTACHED, "standard", "header.utf8.invalid", TRUE },
    { "Subject: =?utf-8?B?***?=", SG_POS_ROOT, "standard", "header.rfc2047.invalid", FALSE },
    { "Subject: =?utf-8?B?***?=", SG_POS_ROOT, "strict", "header.rfc2047.invalid", TRUE },
    { "Subject: =?utf-8?B?***?=", SG_POS_PART, "strict", "header.rfc2047.invalid", TRUE },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    for (SgPosVariant v = SG_POS_LAST; v < SG_POS_N_VARIANTS; v++)
      {
        g_autoptr(SgPolicy) policy = sg_policy_new (cases[i].level, NULL, NULL, NULL);
        SgValidateOptions o = { .policy = policy };
        g_autoptr(GBytes) msg = sg_pos_build ((const guint8 *) cases[i].probe,
                                              strlen (cases[i].probe), cases[i].section, v, FALSE);
        g_autoptr(SgValidation) r = validate_bytes (msg, &o);
        g_autofree char *dump = dump_violations (r);
        const SgViolation *found = find_violation (r, cases[i].rule);
        if (found == NULL || (r->first_reject != NULL) != cases[i].reject)
          g_error ("case %" G_GSIZE_FORMAT " (%s, %s, %s): got%s\nwant %s%s", i,
                   sg_pos_section_names[cases[i].section], sg_pos_variant_names[v],
                   cases[i].level, *dump ? dump : " nothing", cases[i].rule,
                   cases[i].reject ? " rejecting" : " recorded");
      }
}

/* A message's violations are capped; a rejecting one after the cap must
 * still decide the verdict, wherever the fault stands. Under permissive
 * none of the 64-odd findings before the last part rejects (the empty
 * string is an empty part); the last part's fault does. */
static void
test_after_recorded_findings (void)
{
  static const char *const parts[] = {
    "Content-Transfer-Encoding: x-unknown\r\n\r\nx\r\n",
    "Content-Transfer-Encoding: \r\n\r\nx\r\n",
    "Content-Type: text/plain; name=\"=?utf-8?B?w6k=?=\"\r\n\r\nx\r\n",
    "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=ZZ\r\n",
    "Content-Type: text/plain\r\n\r\ncaf\xc3\xa9\r\n",
    "Content-Disposition: attachment; filename*=\"utf-8''a\"\r\n\r\nx\r\n",
    "Content-Disposition: attachment; filename=\"a\"; filename*=utf-8''b\r\n\r\nx\r\n",
    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    "=41=42=43=44=45=46=47=48=49=4A=4B=4C=4D=4E=4F=50=51=52\r\n",
    "",
  };
  GString *m = g_string_new ("From: a@example.com, b@example.com\r\n"
                             "MIME-Version: 1.0\r\n"
                             "Content-Type: multipart/mixed; boundary=\"b\"\r\n");
  for (int i = 0; i < 5; i++)
    g_string_append (m, "Subject: =?utf-8?B?***?=\r\nDate: yesterday\r\n");
  for (int i = 0; i < 4; i++)
    g_string_append (m, "To: <<<\r\nMessage-ID: junk\r\nX-A: caf\xc3\xa9\r\nX-B: \xff\r\n");
  g_string_append (m, "\r\n");
  for (gsize k = 0; k < G_N_ELEMENTS (parts); k++)
    for (int i = 0; i < 4; i++)
      g_string_append_printf (m, "--b\r\n%s", parts[k]);
  g_string_append (m, "--b\r\nContent-Type: text/plain; charset = utf-8\r\n\r\nx\r\n--b--\r\n");

  g_autoptr(SgPolicy) policy = sg_policy_new ("permissive", NULL, NULL, NULL);
  SgValidateOptions o = { .policy = policy };
  g_autoptr(SgValidation) r = sg_validate ((const guint8 *) m->str, m->len, &o);
  g_autofree char *dump = dump_violations (r);
  g_string_free (m, TRUE);
  if (r->first_reject == NULL || strcmp (r->first_reject->rule, "mime.param.cfws") != 0)
    g_error ("got%s\nwant a rejection for mime.param.cfws", dump);
  g_assert_cmpuint (r->violations->len, >, 64);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/validate/positions/issue-20", test_issue_reproductions);
  g_test_add_func ("/validate/positions/after-recorded-findings", test_after_recorded_findings);
  g_test_add_func ("/validate/positions/own-probes", test_own_probes);
  g_test_add_data_func ("/validate/positions/corpus/evasion", "data/corpus/evasion", test_dir_probes);
  g_test_add_data_func ("/validate/positions/corpus/near-miss", "data/corpus/near-miss", test_dir_probes);
  g_test_add_data_func ("/validate/positions/corpus/legit", "data/corpus/legit", test_dir_probes);
  g_test_add_data_func ("/validate/positions/samples/bad", "data/validate/bad", test_dir_probes);
  g_test_add_data_func ("/validate/positions/samples/good", "data/validate/good", test_dir_probes);
  return g_test_run ();
}
