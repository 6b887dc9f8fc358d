/* test-admin-race.c - the administration commands racing the daemon: mail
 * arriving during --all, a message whose lock is taken (as the queue runner
 * takes it for a delivery attempt), and, when the runner is built in,
 * delivery to smtp-sink while messages are held, released and retried:
 * nothing held is delivered, nothing is delivered twice or lost. */
#include "admin_util.h"

#include <string.h>

#define RACE_SECONDS 8

/* ---- --all while mail keeps arriving ---- */

static void
test_all_while_receiving (void)
{
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  for (int i = 0; i < 5; i++)
    g_free (send_one (&s, NULL));
  g_autofree char *stop = g_build_filename (s.dir, "stop-sending", NULL);
  GSubprocess *sender = start_swaks_loop (&s, stop);

  for (int round = 0; round < 3; round++)
    {
      g_autofree char *out = NULL, *err = NULL, *listing = NULL, *out2 = NULL;
      g_assert_cmpint (sg (&s, &out, &err, "hold", "--all", NULL), ==, 0);
      g_assert_cmpstr (err, ==, "");
      g_assert_true (g_str_has_prefix (out, "spoolgate: held "));
      g_assert_cmpint (sg (&s, &listing, NULL, "queue", "--json", NULL), ==, 0);
      g_assert_cmpint (sg (&s, &out2, NULL, "release", "--all", NULL), ==, 0);
      g_assert_true (g_str_has_prefix (out2, "spoolgate: released "));
    }
  g_assert_true (g_file_set_contents (stop, "", 0, NULL));
  g_assert_true (g_subprocess_wait_check (sender, NULL, NULL));
  g_object_unref (sender);

  /* quiet now: every message is held by hold --all, then all deleted */
  g_autofree char *out = NULL;
  g_autoptr(GPtrArray) ids = sg_test_spool_ids (&s);
  g_assert_cmpuint (ids->len, >, 5);
  g_assert_cmpint (sg (&s, &out, NULL, "hold", "--all", NULL), ==, 0);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (sg (&s, &out, NULL, "queue", "--state", "queued", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "-- no messages in state queued\n");
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (sg (&s, &out, NULL, "delete", "--all", NULL), ==, 0);
  g_autofree char *want = g_strdup_printf ("spoolgate: deleted %u messages\n", ids->len);
  g_assert_cmpstr (out, ==, want);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (sg (&s, &out, NULL, "queue", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "-- queue is empty\n");
  /* the daemon is still fine */
  g_free (send_one (&s, NULL));
  g_assert_cmpint (sg_test_server_stop (&s), ==, 0);
  sg_test_server_free (&s);
}

/* ---- the message lock ---- */

/* locked - flock(1) cannot take file's lock without waiting. */
static gboolean
locked (gpointer file)
{
  const char *probe[] = { "flock", "-n", "-x", file, "true", NULL };
  return sg_test_run (probe, NULL, NULL) != 0;
}

/* lock_externally - a process that holds an exclusive flock on file, as the
 * queue runner does during a delivery attempt, until it is killed: a shell
 * opens file as fd 9, flock(1) locks that open file, and the shell becomes
 * `sleep`, so killing it frees the lock and leaves nothing behind. Waits
 * until the lock is held. */
static GSubprocess *
lock_externally (const char *file)
{
  g_autoptr(GError) error = NULL;
  GSubprocess *p = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error, "sh", "-c",
                                     "exec 9<\"$1\" && flock -x 9 && exec sleep 60", "sh", file,
                                     NULL);
  g_assert_no_error (error);
  g_assert_true (sg_test_wait_until (locked, (gpointer) file, SG_TEST_WAIT_MS,
                                     "flock to take %s", file));
  return p;
}

static void
test_busy (void)
{
  SgTestServer s;
  sg_test_server_start (&s, NULL);
  g_autofree char *a = send_one (&s, NULL);
  g_autofree char *b = send_one (&s, NULL);
  g_autofree char *eml = eml_path (&s, a);
  GSubprocess *locker = lock_externally (eml);
  g_autofree char *before = json_of (&s, a);
  static const char *const ops[] = { "hold", "retry", "delete" };

  for (guint i = 0; i < G_N_ELEMENTS (ops); i++)
    {
      g_autofree char *out = NULL, *err = NULL;
      g_assert_cmpint (sg (&s, &out, &err, ops[i], a, b, NULL), ==, 1);
      assert_one_line (err);
      g_assert_nonnull (strstr (err, "being delivered right now"));
      g_assert_cmpstr (out, ==, "");
      g_autofree char *after = json_of (&s, a);
      g_assert_cmpstr (before, ==, after);
      g_autoptr(SgMeta) mb = meta_of (&s, b);
      g_assert_cmpint (mb->state, ==, SG_MSG_QUEUED);   /* all or nothing */
    }
  /* --all skips the busy one, changes the rest, and exits non-zero */
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (sg (&s, &out, &err, "hold", "--all", NULL), ==, 1);
  assert_one_line (err);
  g_assert_nonnull (strstr (err, a));
  g_assert_cmpstr (out, ==, "spoolgate: held 1 message, 1 failed\n");
  g_autofree char *after = json_of (&s, a);
  g_assert_cmpstr (before, ==, after);

  g_subprocess_force_exit (locker);
  g_subprocess_wait (locker, NULL, NULL);
  g_object_unref (locker);
  g_assert_cmpint (sg (&s, NULL, NULL, "hold", a, NULL), ==, 0);
  g_autoptr(SgMeta) ma = meta_of (&s, a);
  g_assert_cmpint (ma->state, ==, SG_MSG_HELD);
  sg_test_server_free (&s);
}

/* ---- with the queue runner delivering to smtp-sink ---- */

static void
make_due (SgMeta *meta)
{
  meta->next_attempt = 0;
}

/* delivery_hold - held and witness are deferred (the smarthost was down).
 * Hold one, make both due, bring the smarthost up: the runner's rescan
 * delivers the witness and others but not the held one, and delivers that
 * exactly once after release. */
static void
delivery_hold (SgTestServer *s, const char *dump, guint16 sink_port, const char *held,
               const char *witness)
{
  hold_retrying (s, held);
  craft (s, held, make_due);   /* due now: only "held" keeps the runner away */
  GSubprocess *sink = sg_test_smtp_sink (sink_port, dump, "root", NULL);
  craft (s, witness, make_due);   /* only a rescan finds it: it went due unannounced */
  g_autofree char *held_needle = g_strdup_printf ("id %s", held);   /* our Received header */
  g_autofree char *witness_needle = g_strdup_printf ("id %s", witness);

  g_autofree char *x = send_one (s, NULL);
  g_autofree char *y = send_one (s, NULL);
  g_assert_true (wait_state (s, x, SG_MSG_DELIVERED, DELIVERY_WAIT_MS));
  g_assert_true (wait_state (s, y, SG_MSG_DELIVERED, DELIVERY_WAIT_MS));
  /* a rescan that saw both due messages delivered the witness */
  g_assert_true (wait_state (s, witness, SG_MSG_DELIVERED, DELIVERY_WAIT_MS));
  g_assert_true (wait_deliveries (dump, witness_needle, 1, DELIVERY_WAIT_MS));
  g_assert_cmpuint (deliveries (dump, held_needle), ==, 0);
  g_autoptr(SgMeta) still = meta_of (s, held);
  g_assert_nonnull (still);
  g_assert_cmpint (still->state, ==, SG_MSG_HELD);

  /* Released: delivered once, without a restart. */
  g_assert_cmpint (sg (s, NULL, NULL, "release", held, NULL), ==, 0);
  g_assert_true (wait_state (s, held, SG_MSG_DELIVERED, DELIVERY_WAIT_MS));
  g_assert_true (wait_deliveries (dump, held_needle, 1, DELIVERY_WAIT_MS));
  g_assert_cmpuint (deliveries (dump, held_needle), ==, 1);
  const char *ids[] = { x, y, witness };
  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      g_autofree char *needle = g_strdup_printf ("id %s", ids[i]);
      g_assert_true (wait_deliveries (dump, needle, 1, DELIVERY_WAIT_MS));
      g_assert_cmpuint (deliveries (dump, needle), ==, 1);
    }
  g_subprocess_force_exit (sink);
  g_subprocess_wait (sink, NULL, NULL);
  g_object_unref (sink);
}

static void
test_delivery_hold (void)
{
  if (!g_file_test (SMTP_SINK, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("no " SMTP_SINK " (Debian package postfix)");
      return;
    }
  g_autofree char *root = g_dir_make_tmp ("sg-admin-sink-XXXXXX", NULL);
  g_autofree char *dump = g_build_filename (root, "dump", NULL);
  guint16 sink_port = sg_test_free_port ();
  /* Nobody listens on sink_port yet: the first attempt defers, and the long
   * backoff keeps the runner from trying again on its own. */
  g_autofree char *conf = g_strdup_printf ("[smarthost]\nhost = 127.0.0.1\nport = %u\ntls = none\n"
                                           "[queue]\nmin_backoff = 1h\nmax_backoff = 2h\n"
                                           "scan_interval = 1s\n", sink_port);
  SgTestServer s;
  sg_test_server_start (&s, conf);
  g_autofree char *held = send_one (&s, NULL);
  g_autofree char *witness = send_one (&s, NULL);
  if (wait_state (&s, held, SG_MSG_DEFERRED, DELIVERY_WAIT_MS))
    {
      g_assert_true (wait_state (&s, witness, SG_MSG_DEFERRED, DELIVERY_WAIT_MS));
      delivery_hold (&s, dump, sink_port, held, witness);
    }
  else
    g_test_skip ("the daemon does not try [smarthost] (no queue runner built in); "
                 "hold during delivery not tested");
  sg_test_server_free (&s);
  const char *rm[] = { "rm", "-rf", root, NULL };
  sg_test_run (rm, NULL, NULL);
}

/* accepted_ids - queue IDs of every "ID: from=<...>" line in the server log (transfer full). */
static GPtrArray *
accepted_ids (SgTestServer *s)
{
  g_autofree char *log = sg_test_server_log (s);
  g_auto(GStrv) lines = g_strsplit (log, "\n", -1);
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; lines[i]; i++)
    {
      const char *p = strstr (lines[i], ": from=<");
      if (p != NULL && p - lines[i] >= 20)
        g_ptr_array_add (ids, g_strndup (p - 20, 20));
    }
  return ids;
}

/* delivery_race - see test_delivery_race; the runner is known to deliver. */
static void
delivery_race (SgTestServer *s, const char *dump)
{
  g_autofree char *stop = g_build_filename (s->dir, "stop-sending", NULL);
  GSubprocess *sender = start_swaks_loop (s, stop);
  static const char *const cmds[] = { "hold", "retry", "release", "queue" };
  guint busy = 0;
  gint64 end = g_get_monotonic_time () + RACE_SECONDS * G_USEC_PER_SEC;
  for (guint round = 0; g_get_monotonic_time () < end; round++)
    {
      const char *cmd = cmds[round % G_N_ELEMENTS (cmds)];
      g_autofree char *out = NULL, *err = NULL;
      int rc = sg (s, &out, &err, cmd, strcmp (cmd, "queue") == 0 ? "--json" : "--all", NULL);
      /* the only acceptable failure: a message the runner was delivering */
      if (rc != 0)
        {
          g_auto(GStrv) lines = g_strsplit (g_strchomp (err), "\n", -1);
          for (guint i = 0; lines[i]; i++)
            if (strstr (lines[i], "being delivered right now"))
              busy++;
            else
              g_error ("%s --all: %s", cmd, lines[i]);
        }
    }
  g_assert_true (g_file_set_contents (stop, "", 0, NULL));
  g_assert_true (g_subprocess_wait_check (sender, NULL, NULL));
  g_object_unref (sender);
  /* held messages are never being delivered, so this cannot be busy */
  g_autofree char *err = NULL;
  if (sg (s, NULL, &err, "release", "--all", NULL) != 0)
    g_error ("release --all: %s", err);

  g_autoptr(GPtrArray) accepted = accepted_ids (s);
  g_assert_cmpuint (accepted->len, >, 1);
  for (guint i = 0; i < accepted->len; i++)
    g_assert_true (wait_state (s, g_ptr_array_index (accepted, i), SG_MSG_DELIVERED,
                               DELIVERY_WAIT_MS));
  for (guint i = 0; i < accepted->len; i++)
    {
      const char *id = g_ptr_array_index (accepted, i);
      g_autofree char *needle = g_strdup_printf ("id %s", id);
      g_assert_true (wait_deliveries (dump, needle, 1, DELIVERY_WAIT_MS));
      guint n = deliveries (dump, needle);
      if (n != 1)
        g_error ("%s reached the smarthost %u times", id, n);
    }
  g_test_message ("%u messages, each delivered once; %u busy refusals", accepted->len, busy);
}

/* test_delivery_race - mail keeps arriving and being delivered while hold,
 * retry and release --all and queue run again and again: in the end every
 * accepted message has reached the smarthost exactly once. */
static void
test_delivery_race (void)
{
  if (!g_file_test (SMTP_SINK, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("no " SMTP_SINK " (Debian package postfix)");
      return;
    }
  g_autofree char *root = g_dir_make_tmp ("sg-admin-race-XXXXXX", NULL);
  g_autofree char *dump = g_build_filename (root, "dump", NULL);
  guint16 sink_port = sg_test_free_port ();
  GSubprocess *sink = sg_test_smtp_sink (sink_port, dump, "root", NULL);
  g_autofree char *conf = g_strdup_printf ("[smarthost]\nhost = 127.0.0.1\nport = %u\ntls = none\n"
                                           "[queue]\nscan_interval = 1s\n", sink_port);
  SgTestServer s;
  sg_test_server_start (&s, conf);
  g_autofree char *probe = send_one (&s, NULL);
  if (wait_state (&s, probe, SG_MSG_DELIVERED, DELIVERY_WAIT_MS))
    delivery_race (&s, dump);
  else
    g_test_skip ("the daemon does not deliver to [smarthost] (no queue runner built in)");
  sg_test_server_free (&s);
  g_subprocess_force_exit (sink);
  g_subprocess_wait (sink, NULL, NULL);
  g_object_unref (sink);
  const char *rm[] = { "rm", "-rf", root, NULL };
  sg_test_run (rm, NULL, NULL);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/admin/all-while-receiving", test_all_while_receiving);
  g_test_add_func ("/admin/busy", test_busy);
  g_test_add_func ("/admin/delivery/hold", test_delivery_hold);
  g_test_add_func ("/admin/delivery/race", test_delivery_race);
  return g_test_run ();
}
