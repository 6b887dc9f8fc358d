/* admin_util.c - what the administration tests share: running the
 * spoolgate commands, sending mail, reading and crafting spool metadata
 * through the spool API (under the message lock, as the runner would),
 * independent senders, and counting what a smarthost received. */
#include "admin_util.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

static guint message_counter;   /* unique Message-IDs */

/* message - a valid message with a unique Message-ID (transfer full). */
char *
message (const char *subject)
{
  return g_strdup_printf ("Date: Sat, 21 Nov 2026 10:00:00 +0000\r\n"
                          "From: Alice <alice@example.com>\r\n"
                          "To: bob@example.org\r\n"
                          "Subject: %s\r\n"
                          "Message-ID: <admin-%u-%d@example.com>\r\n"
                          "\r\n"
                          "Hello.\r\n", subject, ++message_counter, (int) getpid ());
}

/* send_one - spool one message from alice to rcpts (NULL: bob); its ID (transfer full). */
char *
send_one (SgTestServer *s, const char *const *rcpts)
{
  static const char *const bob[] = { "bob@example.org", NULL };
  g_autofree char *body = message ("admin test");
  char *id = sg_test_send (s->port, "alice@example.com", rcpts ? rcpts : bob, body, -1);
  g_assert_nonnull (id);
  return id;
}

/* sgv - run spoolgate with a NULL-terminated argument vector; exit status. */
int
sgv (const char *const *args, char **out, char **err)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) sg_test_spoolgate ());
  for (guint i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  /* always capture, so nothing the command prints reaches the TAP stream */
  g_autofree char *o = NULL, *e = NULL;
  int status = sg_test_run ((const char *const *) argv->pdata, &o, &e);
  if (out)
    *out = g_steal_pointer (&o);
  if (err)
    *err = g_steal_pointer (&e);
  return status;
}

/* sg - run `spoolgate CMD --spool SPOOL ARGS...` (NULL-terminated). */
int G_GNUC_NULL_TERMINATED
sg (SgTestServer *s, char **out, char **err, const char *cmd, ...)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  va_list ap;
  g_ptr_array_add (args, (gpointer) cmd);
  g_ptr_array_add (args, "--spool");
  g_ptr_array_add (args, s->spool);
  va_start (ap, cmd);
  for (const char *a; (a = va_arg (ap, const char *)) != NULL; )
    g_ptr_array_add (args, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  return sgv ((const char *const *) args->pdata, out, err);
}

/* assert_one_line - err is exactly one non-empty line. */
void
assert_one_line (const char *err)
{
  g_assert_nonnull (err);
  g_assert_cmpuint (strlen (err), >, 1);
  if (strchr (err, '\n') != err + strlen (err) - 1)
    g_error ("want one line on stderr, got:\n%s", err);
}

char *
json_path (SgTestServer *s, const char *id)
{
  return sg_test_queue_file (s, id, ".json");
}

char *
eml_path (SgTestServer *s, const char *id)
{
  return sg_test_queue_file (s, id, ".eml");
}

/* json_of - queue/<ID>.json as stored, "" if gone (transfer full). */
char *
json_of (SgTestServer *s, const char *id)
{
  g_autofree char *p = json_path (s, id);
  return sg_test_read_file (p, NULL);
}

/* meta_of - the parsed metadata, NULL if gone (transfer full). */
SgMeta *
meta_of (SgTestServer *s, const char *id)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SgSpool) spool = sg_spool_open_admin (s->spool, &error);
  g_assert_no_error (error);
  return sg_spool_load_meta (spool, id, NULL);
}


/* craft - change a message's metadata under its lock, as the runner would. */
void
craft (SgTestServer *s, const char *id, CraftFunc func)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SgSpool) spool = sg_spool_open_admin (s->spool, &error);
  g_assert_no_error (error);
  int fd = sg_spool_lock_message (spool, id, TRUE, &error);
  g_assert_no_error (error);
  g_autoptr(SgMeta) meta = sg_spool_load_meta (spool, id, &error);
  g_assert_no_error (error);
  func (meta);
  g_assert_true (sg_spool_update_meta (spool, meta, &error));
  g_assert_no_error (error);
  sg_spool_unlock_message (fd);
}

void
make_deferred (SgMeta *meta)
{
  meta->state = SG_MSG_DEFERRED;
  meta->attempts = 2;
  meta->next_attempt = g_get_real_time () / G_USEC_PER_SEC + FUTURE_SECONDS;
  g_free (meta->last_error);
  meta->last_error = g_strdup ("451 4.3.0 try later");
}

void
make_failed (SgMeta *meta)
{
  SgMetaRecipient *first = g_ptr_array_index (meta->recipients, 0);
  SgMetaRecipient *second = g_ptr_array_index (meta->recipients, 1);
  first->status = SG_RCPT_DELIVERED;
  first->delay_reason = g_strdup ("250 2.0.0 Ok");
  second->status = SG_RCPT_FAILED;
  second->delay_reason = g_strdup ("550 5.1.1 no such user");
  meta->state = SG_MSG_FAILED;
  meta->attempts = 3;
  meta->next_attempt = 0;
  meta->last_error = g_strdup ("550 5.1.1 no such user");
}

typedef struct {
  SgTestServer *s;
  const char   *id;
} Hold;

static gboolean
held_now (gpointer data)
{
  Hold *h = data;
  return sg (h->s, NULL, NULL, "hold", h->id, NULL) == 0;
}

/* hold_retrying - hold id, retrying while the runner has it locked. */
void
hold_retrying (SgTestServer *s, const char *id)
{
  Hold h = { s, id };
  g_assert_true (sg_test_wait_until (held_now, &h, DELIVERY_WAIT_MS, "spoolgate hold %s", id));
}

/* snapshot - every file of queue/ with its contents, for "nothing changed". */
char *
snapshot (SgTestServer *s)
{
  g_autoptr(GPtrArray) files = sg_test_spool_files (s);
  GString *all = g_string_new (NULL);
  for (guint i = 0; i < files->len; i++)
    {
      g_autofree char *p = g_build_filename (s->spool, "queue", g_ptr_array_index (files, i), NULL);
      g_autofree char *c = sg_test_read_file (p, NULL);
      g_string_append_printf (all, "== %s\n%s\n", (char *) g_ptr_array_index (files, i), c);
    }
  return g_string_free (all, FALSE);
}

/* start_swaks_loop - a shell sending one message after another with swaks
 * until stop_file exists (a separate process: independent client, no
 * threads in the test). */
GSubprocess *
start_swaks_loop (SgTestServer *s, const char *stop_file)
{
  g_autofree char *script = g_strdup_printf (
    "while [ ! -e '%s' ]; do swaks --server 127.0.0.1:%u --from alice@example.com "
    "--to bob@example.org --silent 2 || exit 1; done", stop_file, s->port);
  g_autoptr(GError) error = NULL;
  GSubprocess *p = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, &error, "sh", "-c", script, NULL);
  g_assert_no_error (error);
  return p;
}

/* deliveries - how many dumped transactions in dir contain needle. */
guint
deliveries (const char *dir, const char *needle)
{
  guint n = 0;
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  for (const char *name; d && (name = g_dir_read_name (d)); )
    {
      g_autofree char *p = g_build_filename (dir, name, NULL);
      g_autofree char *c = sg_test_read_file (p, NULL);
      if (strstr (c, needle))
        n++;
    }
  return n;
}

typedef struct {
  const char *dir;
  const char *needle;
  guint       count;
} Deliveries;

static gboolean
delivered (gpointer data)
{
  Deliveries *d = data;
  return deliveries (d->dir, d->needle) >= d->count;
}

/* wait_deliveries - wait until count dumped transactions in dir contain needle. */
gboolean
wait_deliveries (const char *dir, const char *needle, guint count, guint timeout_ms)
{
  Deliveries d = { dir, needle, count };
  return sg_test_wait_until (delivered, &d, timeout_ms, "%u deliveries of \"%s\" in %s", count,
                             needle, dir);
}

typedef struct {
  SgTestServer *s;
  const char   *id;
  SgMsgState    state;
} StateWait;

static gboolean
in_state (gpointer data)
{
  StateWait *w = data;
  g_autoptr(SgMeta) m = meta_of (w->s, w->id);
  return (m == NULL && w->state == SG_MSG_DELIVERED) || (m != NULL && m->state == w->state);
}

/* wait_state - wait until the message is in state (or, for delivered, gone). */
gboolean
wait_state (SgTestServer *s, const char *id, SgMsgState state, guint timeout_ms)
{
  StateWait w = { s, id, state };
  return sg_test_wait_until (in_state, &w, timeout_ms, "%s in state %s", id,
                             sg_meta_state_name (state));
}

/* refusable - refused under every policy (header.date.missing is structural). */
char *
refusable (const char *tag, guint n)
{
  return g_strdup_printf ("From: Alice <alice@example.com>\r\n"
                          "To: bob@example.org\r\n"
                          "Subject: %s %04u\r\n"
                          "Message-ID: <%s-%04u@example.com>\r\n"
                          "\r\n"
                          "Hello.\r\n", tag, n, tag, n);
}

/* compare_strings - g_ptr_array_sort hands pointers to the elements. */
static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

GPtrArray *
kept_ids (SgTestServer *s)
{
  g_autofree char *dir = g_build_filename (s->spool, "rejected", NULL);
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  for (const char *n; d && (n = g_dir_read_name (d)); )
    if (g_str_has_suffix (n, ".json") && strlen (n) == 25)
      g_ptr_array_add (ids, g_strndup (n, 20));
  g_ptr_array_sort (ids, compare_strings);
  return ids;
}

/* refuse - one refused transaction; the new ID in rejected/. */
char *
refuse (SgTestServer *s, const char *body)
{
  g_autoptr(GPtrArray) before = kept_ids (s);
  char *id = sg_test_send (s->port, "alice@example.com",
                           (const char *const[]) { "bob@example.org", NULL }, body, -1);
  g_assert_null (id);   /* not 250 */
  g_autoptr(GPtrArray) after = kept_ids (s);
  g_assert_cmpuint (after->len, ==, before->len + 1);
  for (guint i = 0; i < after->len; i++)
    if (!g_ptr_array_find_with_equal_func (before, g_ptr_array_index (after, i), g_str_equal, NULL))
      return g_strdup (g_ptr_array_index (after, i));
  g_assert_not_reached ();
}

/* count_stored - messages in a smarthost.py directory holding needle,
 * reports or not, with action (nullable) for reports. */
static guint
count_stored (const char *dir, const char *needle, gboolean report, const char *action)
{
  guint n = 0;
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  for (const char *name; d && (name = g_dir_read_name (d)); )
    {
      if (!g_str_has_prefix (name, "msg-") || !g_str_has_suffix (name, ".eml"))
        continue;
      g_autofree char *p = g_build_filename (dir, name, NULL);
      g_autofree char *c = sg_test_read_file (p, NULL);
      gboolean is_report = strstr (c, "report-type=delivery-status") != NULL;
      if (strstr (c, needle) == NULL || is_report != report)
        continue;
      g_autofree char *want = action ? g_strdup_printf ("Action: %s", action) : NULL;
      if (want == NULL || strstr (c, want) != NULL)
        n++;
    }
  return n;
}

guint
originals (const char *dir, const char *needle)
{
  return count_stored (dir, needle, FALSE, NULL);
}

guint
reports (const char *dir, const char *needle, const char *action)
{
  return count_stored (dir, needle, TRUE, action);
}

static gboolean
queue_empty (gpointer s)
{
  g_autoptr(GPtrArray) ids = sg_test_spool_ids (s);
  return ids->len == 0;
}

gboolean
wait_queue_empty (SgTestServer *s, guint timeout_ms)
{
  return sg_test_wait_until (queue_empty, s, timeout_ms, "an empty queue in %s", s->spool);
}

void
relay_start (RelayFixture *f, const char *queue, const char *const *replies)
{
  f->port = sg_test_free_port ();
  g_autofree char *conf = g_strdup_printf (
    "[validation]\nkeep_rejected = 10M\n"
    "[smarthost]\nhost = 127.0.0.1\nport = %u\ntls = none\nconnect_timeout = 5\n"
    "[queue]\n%s", f->port, queue);
  sg_test_server_start (&f->s, conf);
  f->out = g_build_filename (f->s.dir, "smarthost", NULL);
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  for (guint i = 0; replies && replies[i]; i++)
    {
      g_ptr_array_add (args, "--reply");
      g_ptr_array_add (args, (gpointer) replies[i]);
    }
  g_ptr_array_add (args, NULL);
  g_autofree char *log = g_strconcat (f->out, ".log", NULL);
  f->host = sg_test_smarthost (f->port, f->out, log, (const char *const *) args->pdata);
}

void
relay_stop (RelayFixture *f)
{
  sg_test_stop_process (f->host);
  sg_test_server_free (&f->s);
  g_free (f->out);
}
