/* show.c - `spoolgate show [--json] [--body] ID`: one message in depth, like
 * postcat(1): its metadata in readable form, its MIME structure as a tree of
 * RFC 3501 part specifiers, and its header section; or the raw .eml
 * (--body) or the raw .json (--json). The .eml is read under a shared lock
 * (a delivered message's files are recycled, spool_pool.c); the .json is
 * only ever replaced by a rename and its reads are checked (spool_file.c). */
#include "cli/cli.h"
#include "cli/cli_spool.h"
#include "cli/rejected.h"

#include <errno.h>
#include <fcntl.h>
#include <gmime/gmime.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LABEL_WIDTH     12   /* "  label:" column of the metadata */
#define PATH_WIDTH      12   /* part specifier column of the MIME tree */
#define TREE_INDENT     2    /* spaces per nesting level */
#define MAX_TREE_DEPTH  64   /* deeper parts are summarised, not walked */
#define OUT_CHUNK       (64 * 1024)

/* field - "  label:     value\n" with value made terminal-safe. */
static void
field (GString *out, const char *label, const char *value)
{
  sg_cli_append_field (out, LABEL_WIDTH, label, value);
}

/* append_envelope - sender, recipients and ESMTP parameters. */
static void
append_envelope (GString *out, const SgMeta *meta)
{
  g_autofree char *from = g_strdup_printf ("<%s>", meta->sender);
  g_string_append (out, "Envelope\n");
  field (out, "from", from);
  for (guint i = 0; i < meta->recipients->len; i++)
    {
      const SgMetaRecipient *r = g_ptr_array_index (meta->recipients, i);
      g_autofree char *line = g_strdup_printf ("<%s> %s%s%s%s", r->address,
                                               sg_meta_rcpt_status_name (r->status),
                                               r->bounced > 0 ? " (non-delivery report sent)" : "",
                                               r->delay_reason ? ": " : "",
                                               r->delay_reason ? r->delay_reason : "");
      field (out, i == 0 ? "to" : "", line);
    }
  g_autoptr(GString) esmtp = g_string_new (NULL);
  if (meta->esmtp_size >= 0)
    g_string_append_printf (esmtp, " SIZE=%" G_GINT64_FORMAT, meta->esmtp_size);
  if (meta->esmtp_body != NULL)
    g_string_append_printf (esmtp, " BODY=%s", meta->esmtp_body);
  if (meta->smtputf8)
    g_string_append (esmtp, " SMTPUTF8");
  field (out, "esmtp", esmtp->len > 0 ? esmtp->str + 1 : "none");
}

/* append_client - where the message came from and how. */
static void
append_client (GString *out, const SgMeta *meta)
{
  g_autofree char *addr = g_strdup_printf ("%s port %u", meta->client_address, meta->client_port);
  g_autofree char *tls = meta->tls_protocol
    ? g_strdup_printf ("%s %s", meta->tls_protocol, meta->tls_cipher ? meta->tls_cipher : "")
    : g_strdup ("none");
  g_string_append (out, "Client\n");
  field (out, "address", addr);
  field (out, "helo", meta->helo_name ? meta->helo_name : "(none given)");
  field (out, "protocol", meta->protocol);
  field (out, "tls", tls);
}

/* append_validation - the verdict recorded at intake and each violation. */
static void
append_validation (GString *out, const SgMeta *meta)
{
  g_string_append (out, "Validation\n");
  if (meta->validation == NULL || !JSON_NODE_HOLDS_OBJECT (meta->validation))
    {
      field (out, "result", "not recorded");
      return;
    }
  JsonObject *v = json_node_get_object (meta->validation);
  JsonNode *viols_node = json_object_get_member (v, "violations");
  JsonArray *viols = viols_node && JSON_NODE_HOLDS_ARRAY (viols_node)
                     ? json_node_get_array (viols_node) : NULL;
  guint n = viols ? json_array_get_length (viols) : 0;
  g_autofree char *result = g_strdup_printf ("%s (policy %s), %u violation%s",
    json_object_get_string_member_with_default (v, "verdict", "?"),
    json_object_get_string_member_with_default (v, "policy", "?"), n, n == 1 ? "" : "s");
  field (out, "result", result);
  for (guint i = 0; i < n; i++)
    {
      JsonNode *node = json_array_get_element (viols, i);
      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      JsonObject *o = json_node_get_object (node);
      const char *loc = json_object_get_string_member_with_default (o, "location", NULL);
      g_autofree char *line = g_strdup_printf ("%s %s%s%s%s: %s (%s)",
        json_object_get_string_member_with_default (o, "action", "?"),
        json_object_get_string_member_with_default (o, "rule", "?"),
        loc ? " [" : "", loc ? loc : "", loc ? "]" : "",
        json_object_get_string_member_with_default (o, "text", ""),
        json_object_get_string_member_with_default (o, "rfc", ""));
      field (out, "", line);
    }
}

/* append_milter - the milters' verdict at intake and what each one did;
 * nothing when no milter saw the message. */
static void
append_milter (GString *out, const SgMeta *meta)
{
  if (meta->milter == NULL || !JSON_NODE_HOLDS_OBJECT (meta->milter))
    return;
  JsonObject *m = json_node_get_object (meta->milter);
  g_string_append (out, "Milters\n");
  const char *reason = json_object_get_string_member_with_default (m, "quarantine_reason", NULL);
  g_autofree char *verdict = g_strdup_printf ("%s%s%s%s",
    json_object_get_string_member_with_default (m, "verdict", "?"),
    reason ? " (" : "", reason ? reason : "", reason ? ")" : "");
  field (out, "verdict", verdict);
  JsonNode *list = json_object_get_member (m, "milters");
  JsonArray *a = list && JSON_NODE_HOLDS_ARRAY (list) ? json_node_get_array (list) : NULL;
  for (guint i = 0; a && i < json_array_get_length (a); i++)
    {
      JsonNode *node = json_array_get_element (a, i);
      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      JsonObject *o = json_node_get_object (node);
      const char *why = json_object_get_string_member_with_default (o, "reason", NULL);
      g_autofree char *line = g_strdup_printf ("%s: %s, %" G_GINT64_FORMAT " header(s) added, %"
        G_GINT64_FORMAT " changed, %" G_GINT64_FORMAT " edit(s) refused%s%s",
        json_object_get_string_member_with_default (o, "server", "?"),
        json_object_get_string_member_with_default (o, "action", "?"),
        json_object_get_int_member_with_default (o, "headers_added", 0),
        json_object_get_int_member_with_default (o, "headers_changed", 0),
        json_object_get_int_member_with_default (o, "refused", 0),
        why ? "; " : "", why ? why : "");
      field (out, "", line);
    }
}

/* member_string - a string member, or NULL if absent, null or not a string. */
static const char *
member_string (JsonObject *o, const char *name)
{
  JsonNode *n = json_object_get_member (o, name);
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (n);
}

/* append_attempt - one attempt_history entry, labelled "#n", like the rest
 * of show: when and how it ended, where it went and over what TLS, the
 * session's error, then each recipient's outcome:
 *   #2:          2026-12-01 10:00:00 +0000 deferred, relay mx[192.0.2.1]:25,
 *                TLSv1.3 TLS_AES_256_GCM_SHA384 (verified)
 *                <bob@example.org> deferred: 451 4.3.0 try later */
static void
append_attempt (GString *out, guint n, JsonNode *node)
{
  g_autofree char *label = g_strdup_printf ("#%u", n);
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      field (out, label, "(not an attempt record)");
      return;
    }
  JsonObject *o = json_node_get_object (node);
  gint64 t = json_object_get_int_member_with_default (o, "time", 0);
  g_autofree char *when = t > 0 ? sg_cli_format_time (t) : g_strdup ("(no time)");
  const char *result = member_string (o, "result");
  const char *relay = member_string (o, "relay");
  const char *proto = member_string (o, "tls_protocol");
  const char *cipher = member_string (o, "tls_cipher");
  g_autoptr(GString) line = g_string_new (when);
  g_string_append_printf (line, " %s, relay %s", result ? result : "?",
                          relay ? relay : "none (no connection)");
  field (out, label, line->str);
  if (proto != NULL)
    {
      JsonNode *v = json_object_get_member (o, "tls_verified");
      gboolean known = v != NULL && JSON_NODE_HOLDS_VALUE (v)
                       && json_node_get_value_type (v) == G_TYPE_BOOLEAN;
      g_autofree char *tls = g_strdup_printf ("TLS %s %s%s", proto, cipher ? cipher : "",
        !known ? "" : json_node_get_boolean (v) ? " (verified)" : " (untrusted)");
      field (out, "", tls);
    }
  else if (relay != NULL)
    field (out, "", "no TLS");
  const char *reply = member_string (o, "reply");
  if (reply != NULL)
    {
      g_autofree char *err = g_strdup_printf ("error: %s", reply);
      field (out, "", err);
    }
  JsonNode *rn = json_object_get_member (o, "recipients");
  JsonArray *rcpts = rn && JSON_NODE_HOLDS_ARRAY (rn) ? json_node_get_array (rn) : NULL;
  for (guint i = 0; rcpts != NULL && i < json_array_get_length (rcpts); i++)
    {
      JsonNode *e = json_array_get_element (rcpts, i);
      if (!JSON_NODE_HOLDS_OBJECT (e))
        continue;
      JsonObject *r = json_node_get_object (e);
      const char *rr = member_string (r, "reply");
      const char *address = member_string (r, "address");
      const char *status = member_string (r, "status");
      g_autofree char *text = g_strdup_printf ("<%s> %s%s%s", address ? address : "?",
                                               status ? status : "?", rr ? ": " : "", rr ? rr : "");
      field (out, "", text);
    }
}

/* append_meta - everything in the metadata, in sections. */
static void
append_meta (GString *out, const SgMeta *meta, gint64 now)
{
  g_autofree char *arrival = sg_cli_format_time (meta->arrival_time_us / G_USEC_PER_SEC);
  g_autofree char *arrival_line = g_strdup_printf ("%s (%" G_GINT64_FORMAT ")", arrival,
                                                   meta->arrival_time_us / G_USEC_PER_SEC);
  g_autofree char *next = NULL;
  if (meta->state == SG_MSG_QUEUED || meta->state == SG_MSG_DEFERRED)
    next = meta->next_attempt <= now ? g_strdup ("now") : sg_cli_format_time (meta->next_attempt);
  else
    next = g_strdup (meta->state == SG_MSG_HELD ? "none until released" : "none");
  g_autofree char *size = g_strdup_printf ("%" G_GUINT64_FORMAT " bytes, sha256 %s",
                                           meta->message_size, meta->sha256);
  g_autofree char *attempts = g_strdup_printf ("%u", meta->attempts);

  g_string_append_printf (out, "Message %s\n", meta->queue_id);
  field (out, "state", sg_meta_state_name (meta->state));
  field (out, "arrival", arrival_line);
  if (meta->lifetime_start > 0)
    {
      /* requeued or released: max_lifetime counts from then */
      g_autofree char *since = sg_cli_format_time (meta->lifetime_start);
      g_autofree char *line = g_strdup_printf ("from %s (requeued or released)", since);
      field (out, "lifetime", line);
    }
  field (out, "size", size);
  field (out, "attempts", attempts);
  field (out, "next", next);
  field (out, "last error", meta->last_error ? meta->last_error : "none");
  append_envelope (out, meta);
  append_client (out, meta);
  append_validation (out, meta);
  append_milter (out, meta);
  g_string_append (out, "Attempts\n");
  JsonArray *history = meta->attempt_history && JSON_NODE_HOLDS_ARRAY (meta->attempt_history)
                       ? json_node_get_array (meta->attempt_history) : NULL;
  guint n = history != NULL ? json_array_get_length (history) : 0;
  if (n == 0)
    field (out, "history", "none");
  /* attempt_history keeps the last [queue] max_history: number them so
   * that the last is #attempts */
  guint first = meta->attempts >= n ? meta->attempts - n + 1 : 1;
  for (guint i = 0; i < n; i++)
    append_attempt (out, first + i, json_array_get_element (history, i));
}

/* part_size - "N bytes" of an entity's body as encoded in the message, or
 * "N parts" for a multipart (whose serialised size GMime may not reproduce
 * to the byte; IMAP's BODYSTRUCTURE gives none either) (transfer full). */
static char *
part_size (GMimeObject *obj, GMimeFormatOptions *format)
{
  gint64 n = 0;

  if (GMIME_IS_MULTIPART (obj))
    {
      int parts = g_mime_multipart_get_count (GMIME_MULTIPART (obj));
      return g_strdup_printf ("%d part%s", parts, parts == 1 ? "" : "s");
    }
  if (GMIME_IS_PART (obj))
    {
      GMimeDataWrapper *content = g_mime_part_get_content (GMIME_PART (obj));
      GMimeStream *stream = content ? g_mime_data_wrapper_get_stream (content) : NULL;
      n = stream ? g_mime_stream_length (stream) : 0;
    }
  else
    {
      GMimeStream *null = g_mime_stream_null_new ();
      n = g_mime_object_write_content_to_stream (obj, format, null);
      g_object_unref (null);
    }
  return n < 0 ? g_strdup ("? bytes") : g_strdup_printf ("%" G_GINT64_FORMAT " bytes", n);
}

/* append_part_line - "  PATH  <indent>type/subtype; charset  encoding  N bytes  "name"". */
static void
append_part_line (GString *out, GMimeObject *obj, const char *path, guint depth,
                  GMimeFormatOptions *format)
{
  GMimeContentType *ct = g_mime_object_get_content_type (obj);
  g_autofree char *type = ct ? g_mime_content_type_get_mime_type (ct) : g_strdup ("text/plain");
  const char *charset = ct ? g_mime_content_type_get_parameter (ct, "charset") : NULL;
  const char *cte = g_mime_object_get_header (obj, "Content-Transfer-Encoding");
  const char *name = GMIME_IS_PART (obj) ? g_mime_part_get_filename (GMIME_PART (obj)) : NULL;
  g_autofree char *enc = cte ? g_strstrip (g_ascii_strdown (cte, -1)) : g_strdup ("-");

  g_string_append_printf (out, "  %-*s %*s", PATH_WIDTH, path, (int) (depth * TREE_INDENT), "");
  sg_cli_append_safe (out, type, -1, FALSE);
  if (charset != NULL)
    {
      g_string_append (out, "; charset=");
      sg_cli_append_safe (out, charset, -1, FALSE);
    }
  g_string_append (out, "  ");
  sg_cli_append_safe (out, enc, -1, FALSE);
  g_autofree char *size = part_size (obj, format);
  g_string_append_printf (out, "  %s", size);
  if (name != NULL)
    {
      g_string_append (out, "  \"");
      sg_cli_append_safe (out, name, -1, FALSE);
      g_string_append_c (out, '"');
    }
  g_string_append_c (out, '\n');
}

/* join_path - "prefix.n", or "n" at the top (transfer full). */
static char *
join_path (const char *prefix, const char *n)
{
  return *prefix ? g_strconcat (prefix, ".", n, NULL) : g_strdup (n);
}

/* walk - print obj as path, then its children. RFC 3501 6.4.5: a multipart's
 * children are prefix.1, prefix.2, ...; the body of an encapsulated message
 * at path P is P.TEXT if multipart (children P.1, ...), else P.1. */
static void
walk (GString *out, GMimeObject *obj, const char *path, const char *prefix, guint depth,
      GMimeFormatOptions *format)
{
  append_part_line (out, obj, path, depth, format);
  if (depth >= MAX_TREE_DEPTH)
    {
      g_string_append_printf (out, "  %-*s %*s(deeper parts not shown)\n", PATH_WIDTH, "",
                              (int) ((depth + 1) * TREE_INDENT), "");
      return;
    }
  if (GMIME_IS_MULTIPART (obj))
    {
      GMimeMultipart *mp = GMIME_MULTIPART (obj);
      for (int i = 0; i < g_mime_multipart_get_count (mp); i++)
        {
          g_autofree char *n = g_strdup_printf ("%d", i + 1);
          g_autofree char *child = join_path (prefix, n);
          walk (out, g_mime_multipart_get_part (mp, i), child, child, depth + 1, format);
        }
    }
  else if (GMIME_IS_MESSAGE_PART (obj))
    {
      GMimeMessage *inner = g_mime_message_part_get_message (GMIME_MESSAGE_PART (obj));
      GMimeObject *body = inner ? g_mime_message_get_mime_part (inner) : NULL;
      if (body == NULL)
        return;
      if (GMIME_IS_MULTIPART (body))
        {
          g_autofree char *text = join_path (path, "TEXT");
          walk (out, body, text, path, depth + 1, format);
        }
      else
        {
          g_autofree char *one = join_path (path, "1");
          walk (out, body, one, one, depth + 1, format);
        }
    }
}

/* append_mime_tree - parse the .eml (fd, borrowed) and print its structure. */
static void
append_mime_tree (GString *out, int fd)
{
  int parse_fd = dup (fd);
  g_string_append (out, "MIME structure (part, type, transfer encoding, encoded size, file name)\n");
  if (parse_fd < 0 || lseek (parse_fd, 0, SEEK_SET) < 0)
    {
      g_string_append_printf (out, "  cannot read the message: %s\n", g_strerror (errno));
      if (parse_fd >= 0)
        close (parse_fd);
      return;
    }
  GMimeStream *stream = g_mime_stream_fs_new (parse_fd);   /* owns parse_fd */
  GMimeParser *parser = g_mime_parser_new_with_stream (stream);
  GMimeMessage *message = g_mime_parser_construct_message (parser, NULL);
  GMimeObject *body = message ? g_mime_message_get_mime_part (message) : NULL;
  if (body == NULL)
    g_string_append (out, "  (no MIME body could be parsed)\n");
  else
    {
      GMimeFormatOptions *format = g_mime_format_options_new ();
      g_mime_format_options_set_newline_format (format, GMIME_NEWLINE_FORMAT_DOS);
      if (GMIME_IS_MULTIPART (body))
        walk (out, body, "TEXT", "", 0, format);
      else
        walk (out, body, "1", "1", 0, format);
      g_mime_format_options_free (format);
    }
  g_clear_object (&message);
  g_object_unref (parser);
  g_object_unref (stream);
}

/* write_all - all of data to stdout; FALSE with errno set on failure. */
static gboolean
write_all (const char *data, gsize len)
{
  while (len > 0)
    {
      gsize n = fwrite (data, 1, MIN (len, OUT_CHUNK), stdout);
      if (n == 0)
        return FALSE;
      data += n;
      len -= n;
    }
  return fflush (stdout) == 0;
}

/* open_message - open queue/<ID>.eml under a shared lock and map it; -1
 * with error if impossible. */
static int
open_message (SgSpool *spool, const char *id, GMappedFile **map, GError **error)
{
  int fd = sg_spool_open_message (spool, id, error);
  if (fd < 0)
    return -1;
  *map = g_mapped_file_new_from_fd (fd, FALSE, error);
  if (*map == NULL)
    {
      close (fd);
      return -1;
    }
  return fd;
}

/* show_raw_json - print queue/<ID>.json exactly as stored, once it parses. */
static gboolean
show_raw_json (SgSpool *spool, const char *id, GError **error)
{
  gsize len = 0;
  g_autoptr(GError) local = NULL;
  g_autofree char *data = sg_spool_read_meta_text (spool, id, &len, &local);

  if (data == NULL)
    {
      sg_cli_meta_error (spool, id, local, error);
      return FALSE;
    }
  if (!write_all (data, len))
    {
      int e = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "write: %s", g_strerror (e));
      return FALSE;
    }
  return TRUE;
}

/* show_message - the readable view, or the raw .eml with body. */
static gboolean
show_message (SgSpool *spool, const char *id, gboolean body, GError **error)
{
  g_autoptr(SgMeta) meta = NULL;
  if (body)
    {
      if (!sg_spool_has_message (spool, id))
        {
          g_set_error (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND, "no message %s in %s",
                       id, sg_spool_dir (spool));
          return FALSE;
        }
    }
  else
    {
      g_autoptr(GError) local = NULL;
      if ((meta = sg_spool_load_meta (spool, id, &local)) == NULL)
        {
          sg_cli_meta_error (spool, id, local, error);
          return FALSE;
        }
    }

  g_autoptr(GMappedFile) map = NULL;
  int fd = open_message (spool, id, &map, error);
  if (fd < 0)
    return FALSE;
  const char *data = g_mapped_file_get_contents (map);
  gsize len = g_mapped_file_get_length (map);
  gboolean ok;
  if (body)
    ok = write_all (data ? data : "", len);
  else
    {
      g_autoptr(GString) out = g_string_new (NULL);
      append_meta (out, meta, g_get_real_time () / G_USEC_PER_SEC);
      append_mime_tree (out, fd);
      g_string_append (out, "Header\n");
      sg_cli_append_safe (out, data ? data : "", (gssize) sg_cli_header_length (data, len), TRUE);
      ok = write_all (out->str, out->len);
    }
  int e = errno;
  close (fd);
  if (!ok)
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "write: %s", g_strerror (e));
  return ok;
}

/* sg_cli_show - show one message. */
int
sg_cli_show (int argc, char **argv)
{
  g_auto(SgCliSpoolArgs) spool_args = { NULL };
  gboolean json = FALSE, body = FALSE;
  g_auto(GStrv) rest = NULL;
  const GOptionEntry entries[] = {
    { "json", 'j', 0, G_OPTION_ARG_NONE, &json, "Print the raw metadata (<ID>.json)", NULL },
    { "body", 'b', 0, G_OPTION_ARG_NONE, &body, "Print the whole message (<ID>.eml) byte for byte", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &rest, NULL, NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = sg_cli_spool_context_new ("show", "ID",
    "Shows one message: its metadata (envelope, client, TLS, validation, attempts),\n"
    "its MIME structure with RFC 3501 part numbers, and its header section.",
    entries, &spool_args);
  g_autoptr(GError) error = NULL;

  if (!sg_cli_parse_options (context, entries, &argc, &argv, &error))
    {
      g_printerr ("spoolgate show: %s\n", error->message);
      return SG_CLI_EXIT_USAGE;
    }
  if (rest == NULL || rest[0] == NULL || rest[1] != NULL || (json && body))
    {
      g_printerr ("spoolgate show: %s\n", json && body ? "--json and --body exclude each other"
                                                      : "give exactly one queue ID");
      return SG_CLI_EXIT_USAGE;
    }
  g_autofree char *id = sg_cli_parse_id (rest[0], &error);
  if (id == NULL)
    {
      g_printerr ("spoolgate show: %s\n", error->message);
      return SG_CLI_EXIT_USAGE;
    }
  g_autoptr(SgSpool) spool = sg_cli_spool_open (&spool_args, &error);
  if (spool != NULL)
    {
      g_mime_init ();
      gboolean ok = json ? show_raw_json (spool, id, &error) : show_message (spool, id, body, &error);
      if (!ok && g_error_matches (error, SG_SPOOL_ERROR, SG_SPOOL_ERROR_NOT_FOUND))
        {
          g_clear_error (&error);   /* not queued: perhaps a refused message kept in rejected/ */
          ok = sg_cli_rejected_show (spool, id, json, body, &error);
        }
      if (ok)
        return SG_CLI_EXIT_OK;
    }
  g_printerr ("spoolgate show: %s\n", error->message);
  return SG_CLI_EXIT_FAILED;
}
