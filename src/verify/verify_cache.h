/* verify_cache.h - the answers of address probes, kept in an LMDB file
 * (<spool>/verify.lmdb, as Postfix's verify(8) can keep its cache in lmdb:)
 * so they survive a restart. Bounded: past its size the expired entries go,
 * then the oldest. Expiry is judged at look-up with the TTLs of the moment,
 * so a reload that shortens a TTL applies at once. The daemon writes it from
 * its probe threads and reads it on its main thread; `spoolgate verify` reads it (and, with --probe, writes
 * it) from another process, which LMDB's lock file makes safe. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

#define SG_VERIFY_CACHE_FILE "verify.lmdb"   /* in [spool] dir */

typedef enum {
  SG_VERIFY_UNKNOWN,        /* never probed, expired, or the next hop could not say */
  SG_VERIFY_DELIVERABLE,    /* the next hop answered 2xx to RCPT */
  SG_VERIFY_UNDELIVERABLE,  /* the next hop answered 5xx */
} SgVerifyStatus;

/* One cached answer. reply is owned. */
typedef struct {
  SgVerifyStatus status;
  gint64         time;      /* epoch seconds of the probe */
  guint          code;      /* the next hop's reply code */
  char          *reply;     /* (nullable) its sanitised reply, "550 5.1.1 ..." */
} SgVerifyEntry;

void sg_verify_entry_clear (SgVerifyEntry *e);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (SgVerifyEntry, sg_verify_entry_clear)

typedef struct _SgVerifyCache SgVerifyCache;

/* sg_verify_cache_open - open (creating unless read_only) the cache file in
 * dir (transfer full). */
SgVerifyCache *sg_verify_cache_open (const char *dir, gboolean read_only, GError **error);
void           sg_verify_cache_free (SgVerifyCache *c);
/* sg_verify_cache_exists - whether dir has a cache file to open read-only. */
gboolean       sg_verify_cache_exists (const char *dir);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SgVerifyCache, sg_verify_cache_free)

/* sg_verify_cache_set_limits - the bound on entries and the TTLs (seconds)
 * that decide what is expired. */
void     sg_verify_cache_set_limits (SgVerifyCache *c, guint max_entries, guint positive_ttl,
                                     guint negative_ttl);
/* sg_verify_cache_get - address's entry (case-insensitive); FALSE when there
 * is none. Expired entries are returned too: see sg_verify_cache_expired. */
gboolean sg_verify_cache_get (SgVerifyCache *c, const char *address, SgVerifyEntry *out);
/* sg_verify_cache_expired - e is older than its TTL at now (epoch seconds). */
gboolean sg_verify_cache_expired (const SgVerifyCache *c, const SgVerifyEntry *e, gint64 now);
/* sg_verify_cache_put - store e for address, making room first if full. */
gboolean sg_verify_cache_put (SgVerifyCache *c, const char *address, const SgVerifyEntry *e,
                              GError **error);
/* sg_verify_cache_count - entries stored. */
guint    sg_verify_cache_count (SgVerifyCache *c);

G_END_DECLS
