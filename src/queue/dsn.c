/* dsn.c - the bounce and delay messages: RFC 3464 delivery status in an RFC 6522
 * multipart/report with a human-readable part, a message/delivery-status
 * part and the original header section as text/rfc822-headers. It is sent
 * from <> (RFC 5321 4.5.5), so it can never itself bounce. The sender's
 * RFC 3461 wishes are honoured: NOTIFY (who is reported, and whether as
 * failed, delayed or relayed), ENVID and ORCPT
 * (echoed as Original-Envelope-Id and Original-Recipient) and RET: a
 * failure report returns the whole original as message/rfc822 for RET=FULL
 * when it is at most [queue] bounce_size_limit, and otherwise (RET=HDRS, no
 * RET, a delay or relay notice, or a larger message) its header section as
 * text/rfc822-headers. Reports to, about or quoting SMTPUTF8 mail use the
 * RFC 6533 forms (utf-8 address type, message/global-delivery-status,
 * message/global-headers, message/global), each 8-bit part declared 8bit, so
 * that a report passes our own strict policy (issue 20). */
#include "queue/dsn.h"

#include <string.h>

#define DSN_REASON_MAX  700   /* keep each header line well under 998 octets */

static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
                                      "Aug", "Sep", "Oct", "Nov", "Dec" };

/* rfc5322_date - "Sat, 21 Nov 2026 10:00:00 +0000" (RFC 5322 3.3), locale-free. */
static char *
rfc5322_date (gint64 t)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (t);
  return g_strdup_printf ("%s, %d %s %d %02d:%02d:%02d +0000",
                          days[g_date_time_get_day_of_week (dt) % 7],
                          g_date_time_get_day_of_month (dt),
                          months[g_date_time_get_month (dt) - 1], g_date_time_get_year (dt),
                          g_date_time_get_hour (dt), g_date_time_get_minute (dt),
                          g_date_time_get_second (dt));
}

/* status_of - the RFC 3463 code for a failure reason: the one the smarthost
 * gave, 4.4.7 for an expiry, else 5.0.0. */
static char *
status_of (const char *reason)
{
  if (!reason)
    return g_strdup ("5.0.0");
  if (g_str_has_prefix (reason, "expired"))
    return g_strdup ("4.4.7");   /* RFC 3463: delivery time expired */
  if (g_ascii_isdigit (reason[0]) && strlen (reason) > 9 && reason[3] == ' '
      && (reason[4] == '4' || reason[4] == '5') && reason[5] == '.')
    {
      const char *p = reason + 6;
      gsize n = strspn (p, "0123456789");
      if (n >= 1 && n <= 3 && p[n] == '.')
        {
          gsize m = strspn (p + n + 1, "0123456789");
          if (m >= 1 && m <= 3)
            return g_strndup (reason + 4, 2 + n + 1 + m);
        }
    }
  return g_strdup (reason[0] == '4' ? "4.0.0" : "5.0.0");
}

gboolean
sg_dsn_wants_failure (const SgMetaRecipient *r)
{
  if (!r->dsn_notify)
    return TRUE;
  g_auto(GStrv) words = g_strsplit (r->dsn_notify, ",", -1);
  return g_strv_contains ((const char *const *) words, "FAILURE");
}

gboolean
sg_dsn_wants_delay (const SgMetaRecipient *r)
{
  if (!r->dsn_notify)
    return TRUE;
  g_auto(GStrv) words = g_strsplit (r->dsn_notify, ",", -1);
  return g_strv_contains ((const char *const *) words, "DELAY");
}

gboolean
sg_dsn_wants_success (const SgMetaRecipient *r)
{
  if (!r->dsn_notify)
    return FALSE;
  g_auto(GStrv) words = g_strsplit (r->dsn_notify, ",", -1);
  return g_strv_contains ((const char *const *) words, "SUCCESS");
}

/* reported - r is in a report of kind: failed, or still deferred, and
 * wants to hear about it. */
static gboolean
reported (const SgMetaRecipient *r, SgDsnKind kind)
{
  if (kind == SG_DSN_RELAYED)
    return r->status == SG_RCPT_DELIVERED && r->relay_notice == SG_RELAY_NOTICE_DUE;
  if (kind == SG_DSN_DELAY)
    return (r->status == SG_RCPT_DEFERRED || r->status == SG_RCPT_PENDING) && sg_dsn_wants_delay (r);
  return r->status == SG_RCPT_FAILED && sg_dsn_wants_failure (r) && r->bounced == 0;
}

/* printable - c, or "?" for anything but printable US-ASCII and space. */
static char
printable (char c)
{
  return (guchar) c >= 0x20 && (guchar) c < 0x7f ? c : '?';
}

/* xtext_decode - RFC 3461 4: "+XX" back to its byte, for the report's fields.
 * RFC 3461 4.4 allows only printable US-ASCII there (the session refuses
 * anything else with 501 5.5.4); whatever else an older spool file holds
 * becomes "?", so it can break neither a header line nor the 7-bit part. */
static char *
xtext_decode (const char *xtext)
{
  GString *out = g_string_new (NULL);
  for (const char *p = xtext; *p; p++)
    {
      char c = *p;
      if (p[0] == '+' && g_ascii_isxdigit (p[1]) && g_ascii_isxdigit (p[2]))
        {
          c = (char) (g_ascii_xdigit_value (p[1]) * 16 + g_ascii_xdigit_value (p[2]));
          p += 2;
        }
      g_string_append_c (out, printable (c));
    }
  return g_string_free (out, FALSE);
}

/* clip - a copy of s, at most DSN_REASON_MAX bytes, on one line of
 * printable US-ASCII: a smarthost's reply is untrusted text, and RFC 3464
 * 2.3.6 gives Diagnostic-Code no charset (a tab becomes a space). */
static char *
clip (const char *s)
{
  char *c = g_strndup (s ? s : "unknown error", DSN_REASON_MAX);
  for (char *p = c; *p; p++)
    *p = *p == '\t' ? ' ' : printable (*p);
  return c;
}

static gboolean
has_8bit (const char *s, gsize len)
{
  for (gsize i = 0; i < len; i++)
    if ((guchar) s[i] >= 0x80)
      return TRUE;
  return FALSE;
}

GBytes *
sg_dsn_build (const SgMeta *meta, const char *hostname, const char *header, gsize header_len,
              gint64 now)
{
  return sg_dsn_build_kind (meta, SG_DSN_FAILURE, hostname, header, header_len, now);
}

GBytes *
sg_dsn_build_kind (const SgMeta *meta, SgDsnKind kind, const char *hostname, const char *header,
                   gsize header_len, gint64 now)
{
  return sg_dsn_build_original (meta, kind, hostname, header, header_len, FALSE, now);
}

GBytes *
sg_dsn_build_original (const SgMeta *meta, SgDsnKind kind, const char *hostname,
                       const char *header, gsize header_len, gboolean full, gint64 now)
{
  gboolean delay = kind == SG_DSN_DELAY, relayed = kind == SG_DSN_RELAYED;
  GString *m = g_string_new (NULL);
  g_autofree char *date = rfc5322_date (now);
  g_autofree char *arrival = rfc5322_date (meta->arrival_time_us / G_USEC_PER_SEC);
  g_autofree char *uuid = g_uuid_string_random ();
  g_autofree char *boundary = g_strdup_printf ("=_%s/%s", meta->queue_id, uuid);
  gboolean eightbit = has_8bit (header, header_len);
  /* RFC 6533 3: a recipient address that is not ASCII (SMTPUTF8) is of the
   * utf-8 type, reported in message/global-delivery-status (6.1). */
  gboolean utf8_rcpt = FALSE;
  for (guint i = 0; i < meta->recipients->len; i++)
    {
      const SgMetaRecipient *r = g_ptr_array_index (meta->recipients, i);
      if (reported (r, kind) && has_8bit (r->address, strlen (r->address)))
        utf8_rcpt = TRUE;
    }

  /* RFC 5322 3.6 header, RFC 3834 Auto-Submitted, RFC 6522 multipart/report. */
  g_string_append_printf (m, "Date: %s\r\n", date);
  g_string_append_printf (m, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", hostname);
  g_string_append_printf (m, "To: <%s>\r\n", meta->sender);
  g_string_append (m, relayed ? "Subject: Successful Mail Delivery Report\r\n"
                     : delay ? "Subject: Delayed Mail (still being retried)\r\n"
                     : "Subject: Undelivered Mail Returned to Sender\r\n");
  g_string_append_printf (m, "Message-ID: <%s.%s@%s>\r\n", meta->queue_id, uuid, hostname);
  g_string_append (m, "Auto-Submitted: auto-replied\r\n");
  g_string_append (m, "MIME-Version: 1.0\r\n");
  g_string_append_printf (m, "Content-Type: multipart/report; report-type=delivery-status;\r\n"
                          "\tboundary=\"%s\"\r\n", boundary);
  g_string_append (m, "\r\nThis is a MIME-encapsulated message.\r\n\r\n");

  /* Part 1: for people. */
  g_string_append_printf (m, "--%s\r\nContent-Type: text/plain; charset=%s\r\n%s"
                          "Content-Description: Notification\r\n\r\n", boundary,
                          utf8_rcpt ? "utf-8" : "us-ascii",
                          utf8_rcpt ? "Content-Transfer-Encoding: 8bit\r\n" : "");
  g_string_append_printf (m, "This is the mail system at host %s.\r\n\r\n"
                          "Your message (queue ID %s, received %s) %s\r\n"
                          "to one or more recipients. The mail system said:\r\n\r\n",
                          hostname, meta->queue_id, arrival,
                          relayed ? "was relayed to a mail system that sends no\r\n"
                                    "further delivery notifications. It was relayed"
                          : delay ? "has not yet been delivered; it is still being retried,\r\n"
                                  "so you need not send it again. It waits for delivery"
                                : "could not be delivered");
  for (guint i = 0; i < meta->recipients->len; i++)
    {
      const SgMetaRecipient *r = g_ptr_array_index (meta->recipients, i);
      if (!reported (r, kind))
        continue;
      g_autofree char *why = clip (r->delay_reason);
      g_string_append_printf (m, "<%s>: %s\r\n", r->address, why);
    }
  g_string_append (m, "\r\n");

  /* Part 2: RFC 3464 section 2.2 per-message, 2.3 per-recipient fields. */
  g_string_append_printf (m, "--%s\r\nContent-Type: message/%s\r\n%s"
                          "Content-Description: Delivery report\r\n\r\n", boundary,
                          utf8_rcpt ? "global-delivery-status" : "delivery-status",
                          utf8_rcpt ? "Content-Transfer-Encoding: 8bit\r\n" : "");
  if (meta->dsn_envid)
    {
      g_autofree char *envid = xtext_decode (meta->dsn_envid);
      g_string_append_printf (m, "Original-Envelope-Id: %s\r\n", envid);   /* 3464 2.2.1 */
    }
  g_string_append_printf (m, "Reporting-MTA: dns; %s\r\n", hostname);
  g_string_append_printf (m, "X-Spoolgate-Queue-ID: %s\r\n", meta->queue_id);
  g_string_append_printf (m, "Arrival-Date: %s\r\n", arrival);
  for (guint i = 0; i < meta->recipients->len; i++)
    {
      const SgMetaRecipient *r = g_ptr_array_index (meta->recipients, i);
      if (!reported (r, kind))
        continue;
      g_autofree char *status = status_of (r->delay_reason);
      if (delay && status[0] != '4')
        status[0] = '4';   /* RFC 3464 2.3.4: a delayed recipient's status is transient */
      if (relayed)
        {
          g_free (status);
          status = g_strdup ("2.0.0");
        }
      g_autofree char *why = clip (r->delay_reason);
      gboolean smtp = r->delay_reason && g_ascii_isdigit (r->delay_reason[0]);
      g_autofree char *when = rfc5322_date (r->updated ? r->updated : now);
      if (r->dsn_orcpt)
        {
          /* RFC 3464 2.3.1: Original-Recipient: addr-type; the decoded address */
          const char *semi = strchr (r->dsn_orcpt, ';');
          g_autofree char *type = g_strndup (r->dsn_orcpt, semi ? (gsize) (semi - r->dsn_orcpt) : 0);
          g_autofree char *addr = xtext_decode (semi ? semi + 1 : r->dsn_orcpt);
          g_string_append_printf (m, "\r\nOriginal-Recipient: %s; %s", type, addr);
        }
      g_string_append_printf (m, "\r\nFinal-Recipient: %s; %s\r\n",
                              has_8bit (r->address, strlen (r->address)) ? "utf-8" : "rfc822",
                              r->address);
      g_string_append (m, relayed ? "Action: relayed\r\n" : delay ? "Action: delayed\r\n"
                          : "Action: failed\r\n");
      g_string_append_printf (m, "Status: %s\r\n", status);
      g_string_append_printf (m, "Diagnostic-Code: %s; %s\r\n", smtp ? "smtp" : "X-Spoolgate", why);
      g_string_append_printf (m, "Last-Attempt-Date: %s\r\n", when);
    }
  g_string_append (m, "\r\n");

  /* Part 3: RFC 6522 section 4, the original message (RFC 2046 5.2.1 allows
   * it 8bit) or its header section; RFC 6533 6.3 and RFC 6532 3.7 for one
   * with UTF-8 in its header. */
  g_string_append_printf (m, "--%s\r\nContent-Type: %s\r\n", boundary,
                          full ? (eightbit ? "message/global" : "message/rfc822")
                               : (eightbit ? "message/global-headers" : "text/rfc822-headers"));
  if (eightbit)
    g_string_append (m, "Content-Transfer-Encoding: 8bit\r\n");
  g_string_append_printf (m, "Content-Description: %s\r\n\r\n",
                          full ? "Undelivered Message" : "Undelivered Message Headers");
  g_string_append_len (m, header, (gssize) header_len);
  if (header_len < 2 || header[header_len - 1] != '\n')
    g_string_append (m, "\r\n");
  g_string_append_printf (m, "\r\n--%s--\r\n", boundary);
  return g_string_free_to_bytes (m);
}

/* header_section - cut buf (len bytes, NUL-terminated, at most
 * SG_DSN_MAX_HEADER_BYTES of a message) back to its header section, blank
 * line excluded; returns the new length. */
static gsize
header_section (char *buf, gsize got)
{
  /* RFC 5322 2.1: the header section ends at the first empty line. */
  char *end = g_strstr_len (buf, (gssize) got, "\r\n\r\n");
  gsize len = end ? (gsize) (end - buf) + 2 : got;
  /* cut a truncated section back to its last whole line */
  if (!end)
    {
      char *last = g_strrstr_len (buf, (gssize) got, "\r\n");
      len = last ? (gsize) (last - buf) + 2 : 0;
    }
  buf[len] = '\0';
  return len;
}

char *
sg_dsn_queue (SgSpool *spool, const SgMeta *meta, const char *hostname, guint64 full_limit,
              gint64 now, GError **error)
{
  return sg_dsn_queue_original (spool, meta, SG_DSN_FAILURE, hostname, full_limit, now, error);
}

char *
sg_dsn_queue_kind (SgSpool *spool, const SgMeta *meta, SgDsnKind kind, const char *hostname,
                   gint64 now, GError **error)
{
  return sg_dsn_queue_original (spool, meta, kind, hostname, 0, now, error);
}

char *
sg_dsn_queue_original (SgSpool *spool, const SgMeta *meta, SgDsnKind kind, const char *hostname,
                       guint64 full_limit, gint64 now, GError **error)
{
  /* RFC 3461 4.3: RET=FULL returns the whole message on a failure report,
   * when it is no larger than full_limit; else the header section. The
   * file may have been recycled under us only if the message was retired,
   * which cannot happen while the runner holds it. */
  gboolean ret_full = kind == SG_DSN_FAILURE && meta->dsn_ret
                      && g_ascii_strcasecmp (meta->dsn_ret, "FULL") == 0;
  gsize hlen = 0;
  guint64 size = 0;
  g_autofree char *original = sg_spool_read_message (spool, meta->queue_id,
                                                     ret_full ? full_limit : 0,
                                                     SG_DSN_MAX_HEADER_BYTES, &hlen, &size, error);
  if (!original)
    return NULL;
  gboolean full = ret_full && size <= full_limit;
  if (!full)
    hlen = header_section (original, hlen);
  g_autoptr(GBytes) body = sg_dsn_build_original (meta, kind, hostname, original, hlen, full, now);
  g_autoptr(SgMeta) dsn = sg_meta_new ();
  dsn->sender = g_strdup ("");                  /* RFC 5321 4.5.5: bounces come from <> */
  sg_meta_add_recipient (dsn, meta->sender);
  dsn->esmtp_size = -1;
  gsize blen = 0;
  const guchar *b = g_bytes_get_data (body, &blen);
  gboolean eightbit = FALSE;
  for (gsize i = 0; i < blen && !eightbit; i++)
    eightbit = b[i] >= 0x80;
  dsn->esmtp_body = g_strdup (eightbit ? "8BITMIME" : "7BIT");
  dsn->eightbit = eightbit ? SG_EIGHTBIT_YES : SG_EIGHTBIT_NO;   /* no header: the .eml is body */
  for (const char *p = meta->sender; *p; p++)
    dsn->smtputf8 |= (guchar) *p >= 0x80;
  dsn->client_address = g_strdup ("127.0.0.1");
  dsn->helo_name = g_strdup (hostname);
  dsn->protocol = g_strdup (dsn->smtputf8 ? "UTF8SMTP" : "ESMTP");
  dsn->state = SG_MSG_QUEUED;
  for (guint tries = 0; ; tries++)
    {
      g_autoptr(GError) local = NULL;
      g_clear_pointer (&dsn->queue_id, g_free);
      dsn->arrival_time_us = 0;
      if (sg_spool_commit (spool, dsn, NULL, body, &local))
        return g_strdup (dsn->queue_id);
      if (!g_error_matches (local, SG_SPOOL_ERROR, SG_SPOOL_ERROR_EXISTS) || tries >= 3)
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&local),
                                      "queue non-delivery report: ");
          return NULL;
        }
    }
}
