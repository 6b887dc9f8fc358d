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
  sg_session_submit_done (session, d->code, d->enhanced, d->text);
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

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
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
