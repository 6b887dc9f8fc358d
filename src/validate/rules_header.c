/* rules_header.c - the header section of any entity: splitting it into fields
 * (RFC 5322 2.2, 3.6.8), field-name syntax, 8-bit octets (RFC 6532) and
 * encoded-words (RFC 2047); and for the message itself the RFC 5322 3.6
 * field counts and the syntax of Date, the address fields and Message-ID.
 * The grammar of those values is in rfc5322.c; MIME fields are rules_mime.c's.
 */
#include "validate/validate-private.h"

#include <string.h>

/* sg_field_is - whether field f is named name (case-insensitive). */
gboolean
sg_field_is (const SgVctx *c, const SgField *f, const char *name)
{
  gsize n = strlen (name);
  return f->name_len == n &&
         g_ascii_strncasecmp ((const char *) c->data + f->name, name, n) == 0;
}

/* sg_field_name - printable copy of the field's name (transfer full). */
char *
sg_field_name (const SgVctx *c, const SgField *f)
{
  return sg_quote (c->data + f->name, f->name_len, SG_VALIDATE_MAX_QUOTE);
}

static gboolean
is_wsp (guint8 ch)
{
  return ch == ' ' || ch == '\t';
}

/* Per-field checks that apply to every entity's header: 8-bit octets and
 * RFC 2047 encoded-words. */
static void
check_field_text (SgVctx *c, const SgEntity *e, const SgField *f)
{
  const guint8 *p = c->data + f->name;
  gsize len = f->value_end - f->name;
  gsize at;
  g_autofree char *name = sg_field_name (c, f);

  if (sg_has_8bit (p, len, &at))
    {
      /* RFC 6532 3.2: UTF-8 in header fields only with SMTPUTF8 (RFC 6531).
       * Without it, valid UTF-8 is a deviation GMime, Python's email and
       * MIME-tools read alike (git send-email writes it in a cover letter's
       * Subject; a strict-level rule); octets that are not UTF-8 leave each
       * reader to guess a charset, with or without SMTPUTF8. */
      if (!c->smtputf8)
        sg_vctx_report (c, SG_RULE_HEADER_8BIT, e, name, (gssize) (f->name + at),
                        "8-bit octet in a header without SMTPUTF8");
      if (!g_utf8_validate_len ((const char *) p, len, NULL))
        sg_vctx_report (c, SG_RULE_HEADER_UTF8_INVALID, e, name, (gssize) f->name,
                        "header is not valid UTF-8");
    }

  gsize bad_len = 0;
  g_autofree char *why = NULL;
  const char *bad = sg_rfc2047_check ((const char *) c->data + f->value,
                                      f->value_end - f->value, &bad_len, &why);
  if (bad != NULL)
    {
      g_autofree char *q = sg_quote ((const guint8 *) bad, bad_len, SG_VALIDATE_MAX_QUOTE);
      sg_vctx_report (c, SG_RULE_HEADER_RFC2047_INVALID, e, name, -1,
                      "%s: \"%s\"", why, q);
    }
}

/* Check the name part of a field line [line, colon); RFC 5322 3.6.8:
 * field-name = 1*ftext, ftext = %d33-57 / %d59-126. */
static void
check_field_name (SgVctx *c, const SgEntity *e, gsize line, gsize colon, gsize *name_len)
{
  const guint8 *p = c->data + line;
  gsize n = colon - line;

  while (n > 0 && is_wsp (p[n - 1]))
    n--;
  *name_len = n;
  g_autofree char *name = sg_quote (p, n, SG_VALIDATE_MAX_QUOTE);
  if (n < colon - line)
    /* Obsolete syntax (4.5) allowed WSP here; parsers disagree on it
     * (some see no field at all), so it is treated as ambiguous. */
    sg_vctx_report (c, SG_RULE_HEADER_NAME_SPACE, e, n ? name : NULL, (gssize) line,
                    "whitespace between field name and colon");
  if (n == 0)
    {
      sg_vctx_report (c, SG_RULE_HEADER_NAME_INVALID, e, NULL, (gssize) line,
                      "empty field name");
      return;
    }
  for (gsize i = 0; i < n; i++)
    if (p[i] < 33 || p[i] > 126)
      {
        sg_vctx_report (c, SG_RULE_HEADER_NAME_INVALID, e, name, (gssize) line,
                        "invalid octet 0x%02X in field name", p[i]);
        return;
      }
}

/* A line that ends the header section without being the empty line before
 * the body (RFC 5322 2.1, 2.2): where it is, and why it is not a field. */
typedef struct {
  gssize offset;      /* -1: the section ended normally */
  const char *why;
} SgStray;

/* split_fields - delimit the fields of [start,end) (RFC 5322 2.2: a field,
 * or a continuation starting with WSP) into fields; returns the offset where
 * the body starts (end when there is none). It judges nothing: every check
 * runs afterwards over the whole array, so no field escapes one by where it
 * stands (issue 20: the last field used to be dropped at the empty line). */
static gsize
split_fields (SgVctx *c, gsize start, gsize end, GArray *fields, SgStray *stray)
{
  gsize pos = start;

  stray->offset = -1;
  while (pos < end)
    {
      const guint8 *line = c->data + pos;
      const guint8 *nl = memchr (line, '\n', end - pos);
      gsize next = nl != NULL ? (gsize) (nl - c->data) + 1 : end;
      gsize content_end = nl != NULL ? (gsize) (nl - c->data) : end;
      if (content_end > pos && c->data[content_end - 1] == '\r')
        content_end--;

      if (content_end == pos)
        return next;                       /* the empty line before the body */
      if (is_wsp (line[0]))
        {
          if (fields->len == 0)
            {
              stray->offset = (gssize) pos;
              stray->why = "continuation line without a field before it";
              return pos;
            }
          g_array_index (fields, SgField, fields->len - 1).value_end = content_end;
          pos = next;
          continue;
        }

      const guint8 *colon = memchr (line, ':', content_end - pos);
      if (colon == NULL)
        {
          /* RFC 5322 2.1: fields, then an empty line, then the body. */
          stray->offset = (gssize) pos;
          stray->why = "line is neither a header field nor a continuation "
                       "(missing empty line before the body?)";
          return pos;
        }
      SgField f = { 0 };
      f.name = pos;
      f.name_len = (gsize) (colon - line);   /* check_field_name trims it */
      f.value = (gsize) (colon - c->data) + 1;
      f.value_end = content_end;
      g_array_append_val (fields, f);
      pos = next;
    }
  return end;
}

/* sg_scan_headers - split the header section starting at start into fields
 * and run the per-field checks (name, 8-bit octets, encoded-words) on each
 * of them; returns the offset where the body starts (end when there is none). */
gsize
sg_scan_headers (SgVctx *c, const SgEntity *e, gsize start, gsize end, GArray *fields)
{
  SgStray stray;
  gsize body = split_fields (c, start, end, fields, &stray);

  for (guint i = 0; i < fields->len; i++)
    {
      SgField *f = &g_array_index (fields, SgField, i);
      check_field_name (c, e, f->name, f->name + f->name_len, &f->name_len);
      check_field_text (c, e, f);
    }
  if (stray.offset >= 0)
    sg_vctx_report (c, SG_RULE_HEADER_SEPARATOR_MISSING, e, NULL, stray.offset, "%s", stray.why);
  return body;
}

/* RFC 5322 3.6: fields that may occur at most once (Date and From exactly once). */
static const char *const single_fields[] = {
  "Sender", "Reply-To", "To", "Cc", "Bcc", "Message-ID", "In-Reply-To",
  "References", "Subject",
};

static void
check_addresses (SgVctx *c, const SgEntity *e, const SgField *f, int kind, SgRule rule,
                 guint *mailboxes)
{
  g_autofree char *name = sg_field_name (c, f);
  guint n = 0;
  if (!sg_rfc5322_addresses ((const char *) c->data + f->value, f->value_end - f->value,
                             kind, &n))
    sg_vctx_report (c, rule, e, name, (gssize) f->name, "%s",
                    kind == 2 ? "not a single mailbox" :
                    kind == 1 ? "not a valid mailbox list" : "not a valid address list");
  if (mailboxes != NULL)
    *mailboxes = n;
}

/* sg_check_message_headers - RFC 5322 3.6 rules on the message's own header. */
void
sg_check_message_headers (SgVctx *c, const SgEntity *e, GArray *fields)
{
  guint ndate = 0, nfrom = 0, nsender = 0, nmsgid = 0, from_mailboxes = 0;
  guint counts[G_N_ELEMENTS (single_fields)] = { 0 };

  for (guint i = 0; i < fields->len; i++)
    {
      const SgField *f = &g_array_index (fields, SgField, i);
      const char *v = (const char *) c->data + f->value;
      gsize vlen = f->value_end - f->value;

      if (sg_field_is (c, f, "Date"))
        {
          if (++ndate == 2)
            sg_vctx_report (c, SG_RULE_HEADER_DATE_DUPLICATE, e, "Date", (gssize) f->name,
                            "more than one Date header");
          /* RFC 5322 3.3 date-time, with the obsolete forms of 4.3 */
          if (!sg_rfc5322_date (v, vlen))
            {
              g_autofree char *q = sg_quote ((const guint8 *) v, vlen, SG_VALIDATE_MAX_QUOTE);
              sg_vctx_report (c, SG_RULE_HEADER_DATE_INVALID, e, "Date", (gssize) f->name,
                              "invalid date-time \"%s\"", g_strstrip (q));
            }
          continue;
        }
      if (sg_field_is (c, f, "From"))
        {
          if (++nfrom == 2)
            sg_vctx_report (c, SG_RULE_HEADER_FROM_DUPLICATE, e, "From", (gssize) f->name,
                            "more than one From header");
          guint n = 0;
          check_addresses (c, e, f, 1, SG_RULE_HEADER_FROM_INVALID, &n);
          if (nfrom == 1)
            from_mailboxes = n;
          continue;
        }
      for (guint k = 0; k < G_N_ELEMENTS (single_fields); k++)
        {
          if (!sg_field_is (c, f, single_fields[k]))
            continue;
          if (++counts[k] == 2)
            sg_vctx_report (c, SG_RULE_HEADER_DUPLICATE, e, single_fields[k], (gssize) f->name,
                            "more than one %s header", single_fields[k]);
          break;
        }
      if (sg_field_is (c, f, "Sender"))
        {
          nsender++;
          check_addresses (c, e, f, 2, SG_RULE_HEADER_ADDRESS_INVALID, NULL);
        }
      else if (sg_field_is (c, f, "Reply-To") || sg_field_is (c, f, "To") ||
               sg_field_is (c, f, "Cc"))
        check_addresses (c, e, f, 0, SG_RULE_HEADER_ADDRESS_INVALID, NULL);
      else if (sg_field_is (c, f, "Bcc"))
        check_addresses (c, e, f, 3, SG_RULE_HEADER_ADDRESS_INVALID, NULL);
      else if (sg_field_is (c, f, "Message-ID"))
        {
          nmsgid++;
          if (nmsgid == 1 && e->kind == SG_ENTITY_ROOT && c->message_id == NULL)
            {
              /* unfolded: folding CRLFs dropped, the rest as written */
              GString *id = g_string_sized_new (vlen);
              for (gsize k = 0; k < vlen; k++)
                if (v[k] != '\r' && v[k] != '\n')
                  g_string_append_c (id, v[k]);
              c->message_id = g_strstrip (g_string_free (id, FALSE));
            }
          if (!sg_rfc5322_msg_id (v, vlen))
            sg_vctx_report (c, SG_RULE_HEADER_MESSAGE_ID_INVALID, e, "Message-ID",
                            (gssize) f->name, "invalid msg-id");
        }
    }

  if (ndate == 0)
    sg_vctx_report (c, SG_RULE_HEADER_DATE_MISSING, e, NULL, -1, "no Date header");
  if (nfrom == 0)
    sg_vctx_report (c, SG_RULE_HEADER_FROM_MISSING, e, NULL, -1, "no From header");
  /* RFC 5322 3.6.2: more than one author requires a Sender. */
  if (from_mailboxes > 1 && nsender == 0)
    sg_vctx_report (c, SG_RULE_HEADER_SENDER_REQUIRED, e, "From", -1,
                    "%u mailboxes in From but no Sender header", from_mailboxes);
  /* RFC 5322 3.6.4: Message-ID SHOULD be present; recorded, not rejected. */
  if (nmsgid == 0)
    sg_vctx_report (c, SG_RULE_HEADER_MESSAGE_ID_MISSING, e, NULL, -1, "no Message-ID header");
}
