/* verify_cache.c - the probe answers in LMDB. A value is a small fixed
 * header (format version, status, reply code, probe time) followed by the
 * reply text; the key is the lower-cased address. Making room is a scan:
 * expired entries first, then everything older than the tenth oldest
 * part, so a flood of invented addresses costs one scan per tenth of the
 * cache, never unbounded growth. LMDB errors become GErrors here only. */
#include "verify/verify_cache.h"

#include <lmdb.h>
#include <string.h>

#define CACHE_FORMAT      1u
#define CACHE_MAP_SIZE    (G_GUINT64_CONSTANT (1) << 30)  /* address space; the file grows as used */
#define CACHE_KEY_MAX     480u     /* LMDB keys are at most 511 bytes */
#define CACHE_REPLY_MAX   512u
#define CACHE_PRUNE_PART  10u      /* when full, drop at least 1/10 of the entries */

typedef struct {
  guint8  format;
  guint8  status;
  guint16 code;
  guint32 pad;
  gint64  time;
} ValueHead;

/* The limits are set on the main thread and read by probe threads: atomics. */
struct _SgVerifyCache {
  MDB_env *env;
  MDB_dbi  dbi;
  gint     max_entries;
  gint     positive_ttl;
  gint     negative_ttl;
};

G_DEFINE_QUARK (sg-verify-cache-error-quark, verify_cache_error)

/* lmdb_error - "what: LMDB's reason" (always FALSE). */
static gboolean
lmdb_error (GError **error, const char *what, int rc)
{
  g_set_error (error, verify_cache_error_quark (), rc, "%s: %s", what, mdb_strerror (rc));
  return FALSE;
}

void
sg_verify_entry_clear (SgVerifyEntry *e)
{
  g_clear_pointer (&e->reply, g_free);
}

gboolean
sg_verify_cache_exists (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, SG_VERIFY_CACHE_FILE, NULL);
  return g_file_test (path, G_FILE_TEST_EXISTS);
}

SgVerifyCache *
sg_verify_cache_open (const char *dir, gboolean read_only, GError **error)
{
  g_autofree char *path = g_build_filename (dir, SG_VERIFY_CACHE_FILE, NULL);
  g_autoptr(SgVerifyCache) c = g_new0 (SgVerifyCache, 1);
  c->max_entries = G_MAXINT;
  int rc = mdb_env_create (&c->env);
  if (rc == 0)
    rc = mdb_env_set_mapsize (c->env, CACHE_MAP_SIZE);
  /* NOMETASYNC: a crash may lose the last answer, never the file's
   * consistency; NOTLS: read transactions are not tied to a thread (the
   * main thread reads, probe threads write, one writer at a time). */
  if (rc == 0)
    rc = mdb_env_open (c->env, path, MDB_NOSUBDIR | MDB_NOTLS | MDB_NOMETASYNC
                       | (read_only ? MDB_RDONLY : 0), 0600);
  if (rc != 0)
    {
      g_autofree char *what = g_strdup_printf ("address verification cache %s", path);
      lmdb_error (error, what, rc);
      return NULL;
    }
  /* reader slots left by a `spoolgate verify` that was killed mid-read */
  int dead = 0;
  mdb_reader_check (c->env, &dead);
  MDB_txn *txn = NULL;
  rc = mdb_txn_begin (c->env, NULL, read_only ? MDB_RDONLY : 0, &txn);
  if (rc == 0)
    rc = mdb_dbi_open (txn, NULL, 0, &c->dbi);
  if (rc == 0)
    rc = mdb_txn_commit (txn);
  else if (txn)
    mdb_txn_abort (txn);
  if (rc != 0)
    {
      g_autofree char *what = g_strdup_printf ("address verification cache %s", path);
      lmdb_error (error, what, rc);
      return NULL;
    }
  return g_steal_pointer (&c);
}

void
sg_verify_cache_free (SgVerifyCache *c)
{
  if (!c)
    return;
  if (c->env)
    mdb_env_close (c->env);
  g_free (c);
}

void
sg_verify_cache_set_limits (SgVerifyCache *c, guint max_entries, guint positive_ttl,
                            guint negative_ttl)
{
  g_atomic_int_set (&c->max_entries, (gint) MIN (max_entries, (guint) G_MAXINT));
  g_atomic_int_set (&c->positive_ttl, (gint) MIN (positive_ttl, (guint) G_MAXINT));
  g_atomic_int_set (&c->negative_ttl, (gint) MIN (negative_ttl, (guint) G_MAXINT));
}

/* make_key - the lower-cased address; FALSE if too long to be a key. */
static gboolean
make_key (const char *address, char buf[CACHE_KEY_MAX + 1], MDB_val *key)
{
  gsize len = strlen (address);
  if (len == 0 || len > CACHE_KEY_MAX)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    buf[i] = g_ascii_tolower (address[i]);
  key->mv_data = buf;
  key->mv_size = len;
  return TRUE;
}

/* decode - a stored value into out; FALSE if it is not ours. */
static gboolean
decode (const MDB_val *v, SgVerifyEntry *out)
{
  ValueHead h;
  if (v->mv_size < sizeof h)
    return FALSE;
  memcpy (&h, v->mv_data, sizeof h);
  if (h.format != CACHE_FORMAT || h.status > SG_VERIFY_UNDELIVERABLE)
    return FALSE;
  out->status = h.status;
  out->code = h.code;
  out->time = h.time;
  out->reply = v->mv_size > sizeof h
             ? g_strndup ((const char *) v->mv_data + sizeof h, v->mv_size - sizeof h) : NULL;
  return TRUE;
}

gboolean
sg_verify_cache_get (SgVerifyCache *c, const char *address, SgVerifyEntry *out)
{
  char buf[CACHE_KEY_MAX + 1];
  MDB_val key, val;
  MDB_txn *txn = NULL;
  memset (out, 0, sizeof *out);
  if (!make_key (address, buf, &key) || mdb_txn_begin (c->env, NULL, MDB_RDONLY, &txn) != 0)
    return FALSE;
  gboolean found = mdb_get (txn, c->dbi, &key, &val) == 0 && decode (&val, out);
  mdb_txn_abort (txn);
  return found;
}

gboolean
sg_verify_cache_expired (const SgVerifyCache *c, const SgVerifyEntry *e, gint64 now)
{
  gint ttl = g_atomic_int_get (e->status == SG_VERIFY_DELIVERABLE ? &c->positive_ttl : &c->negative_ttl);
  return e->status == SG_VERIFY_UNKNOWN || now - e->time >= (gint64) ttl || e->time > now + 60;
}

guint
sg_verify_cache_count (SgVerifyCache *c)
{
  MDB_txn *txn = NULL;
  MDB_stat st = { 0 };
  if (mdb_txn_begin (c->env, NULL, MDB_RDONLY, &txn) != 0)
    return 0;
  mdb_stat (txn, c->dbi, &st);
  mdb_txn_abort (txn);
  return (guint) st.ms_entries;
}

static int
compare_time (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

/* prune - in txn, delete what is expired; if that frees less than a tenth,
 * also the oldest tenth. */
static int
prune (SgVerifyCache *c, MDB_txn *txn, guint entries)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autoptr(GArray) times = g_array_sized_new (FALSE, FALSE, sizeof (gint64), entries);
  MDB_cursor *cur = NULL;
  MDB_val k, v;
  guint removed = 0;
  int rc = mdb_cursor_open (txn, c->dbi, &cur);
  if (rc != 0)
    return rc;
  for (rc = mdb_cursor_get (cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get (cur, &k, &v, MDB_NEXT))
    {
      g_auto(SgVerifyEntry) e = { 0 };
      if (!decode (&v, &e) || sg_verify_cache_expired (c, &e, now))
        {
          if ((rc = mdb_cursor_del (cur, 0)) != 0)
            break;
          removed++;
          continue;
        }
      g_array_append_val (times, e.time);
    }
  if (rc != MDB_NOTFOUND && rc != 0)
    {
      mdb_cursor_close (cur);
      return rc;
    }
  guint part = MAX (1u, entries / CACHE_PRUNE_PART);
  if (removed < part && times->len > 0)
    {
      g_array_sort (times, compare_time);
      gint64 cut = g_array_index (times, gint64, MIN (part - removed, times->len) - 1);
      for (rc = mdb_cursor_get (cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get (cur, &k, &v, MDB_NEXT))
        {
          g_auto(SgVerifyEntry) e = { 0 };
          if (decode (&v, &e) && e.time <= cut && (rc = mdb_cursor_del (cur, 0)) != 0)
            break;
        }
    }
  mdb_cursor_close (cur);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

gboolean
sg_verify_cache_put (SgVerifyCache *c, const char *address, const SgVerifyEntry *e, GError **error)
{
  char buf[CACHE_KEY_MAX + 1];
  MDB_val key, val;
  if (!make_key (address, buf, &key))
    return TRUE;   /* not cacheable: probed again next time */
  gsize rlen = e->reply ? MIN (strlen (e->reply), CACHE_REPLY_MAX) : 0;
  ValueHead h = { .format = CACHE_FORMAT, .status = (guint8) e->status,
                  .code = (guint16) MIN (e->code, 999u), .time = e->time };
  g_autofree guint8 *data = g_malloc (sizeof h + rlen);
  memcpy (data, &h, sizeof h);
  if (rlen)
    memcpy (data + sizeof h, e->reply, rlen);
  val.mv_data = data;
  val.mv_size = sizeof h + rlen;

  MDB_txn *txn = NULL;
  int rc = mdb_txn_begin (c->env, NULL, 0, &txn);
  if (rc != 0)
    return lmdb_error (error, "address verification cache", rc);
  MDB_stat st = { 0 };
  MDB_val old;
  mdb_stat (txn, c->dbi, &st);
  if (st.ms_entries >= (gsize) g_atomic_int_get (&c->max_entries) && mdb_get (txn, c->dbi, &key, &old) == MDB_NOTFOUND)
    rc = prune (c, txn, (guint) st.ms_entries);
  if (rc == 0)
    rc = mdb_put (txn, c->dbi, &key, &val, 0);
  if (rc != 0)
    {
      mdb_txn_abort (txn);
      return lmdb_error (error, "address verification cache", rc);
    }
  rc = mdb_txn_commit (txn);
  if (rc != 0)
    return lmdb_error (error, "address verification cache", rc);
  return TRUE;
}
