/* smtp_data.h - the DATA phase reader: finds the end of data, removes dot
 * stuffing (RFC 5321 4.5.2) and notes every framing fault on the way.
 *
 * DATA ends only at CRLF "." CRLF. A bare LF or bare CR anywhere (the SMTP
 * smuggling class, CVE-2023-51764) is recorded and makes the session reject
 * the message, but never ends DATA early. The reader keeps at most max_size
 * bytes; past that it only counts. Line length is the validator's rule
 * (RFC 5322 2.1.1), not checked here.
 *
 * Memory: content is kept in memory up to a per-message threshold, and only
 * while all readers and the messages they handed on hold less than a global
 * bound together (sg_data_memory_in_flight); past either, a reader with a
 * spill (sg_data_reader_set_spill) writes its header and content to a spool
 * draft and streams the rest there. */
#pragma once
#include <glib.h>
#include "spool/spool.h"

G_BEGIN_DECLS

typedef enum {
  SG_DATA_LINE_START, /* after CRLF, or at the beginning */
  SG_DATA_DOT,        /* "." at line start */
  SG_DATA_DOT_CR,     /* ".\r" at line start */
  SG_DATA_IN_LINE,
  SG_DATA_CR,         /* "\r" inside a line */
  SG_DATA_DONE,
} SgDataState;

/* Where a reader's content goes once it is too big for memory. */
typedef struct {
  /* open - a fresh draft (transfer full), or NULL with error set. */
  SgSpoolDraft *(*open) (gpointer user_data, GError **error);
  gpointer      user_data;
  GBytes       *header;          /* (nullable) written first: our Received header */
  guint64       threshold;       /* content bytes of this message kept in memory */
  guint64       max_in_flight;   /* content bytes of all messages kept in memory */
} SgDataSpill;

typedef struct {
  SgDataState state;
  GByteArray *content;      /* unstuffed bytes; NULL once over max_size or spilled */
  guint64     max_size;
  guint64     size;         /* unstuffed bytes seen, kept or not */
  guint64     line;         /* current line number, from 1 */
  guint64     bare_lf_line; /* first line with a bare LF, 0 = none */
  guint64     bare_cr_line; /* first line with a bare CR, 0 = none */
  gboolean    too_big;
  SgDataSpill spill;        /* open == NULL: never spills */
  SgSpoolDraft *draft;      /* (nullable) content on disk, header first */
  guint8     *wbuf;         /* (nullable) bytes not yet handed to the draft */
  gsize       wbuf_len;
  GError     *spill_error;  /* (nullable) writing the draft failed; content dropped */
} SgDataReader;

#define SG_DATA_SPILL_BUFFER SG_SPOOL_DRAFT_BUFFER  /* bytes gathered before each append to the draft: all a spilled DATA holds */

void sg_data_reader_init (SgDataReader *r, guint64 max_size);
/* sg_data_reader_set_spill - before the first feed; keeps a reference to
 * spill->header. */
void sg_data_reader_set_spill (SgDataReader *r, const SgDataSpill *spill);
void sg_data_reader_clear (SgDataReader *r);

/* sg_data_reader_feed - consume input up to and including the end-of-data
 * marker; returns the bytes consumed. r->state is SG_DATA_DONE at the end. */
gsize sg_data_reader_feed (SgDataReader *r, const char *data, gsize len);

/* sg_data_reader_steal - the content (transfer full); NULL when too big or
 * spilled. Its bytes stay counted in sg_data_memory_in_flight until freed. */
GBytes *sg_data_reader_steal (SgDataReader *r);
/* sg_data_reader_steal_draft - the draft (header then content, all
 * appended; sg_spool_draft_map waits for the writes) once DONE (transfer
 * full); NULL unless spilled. */
SgSpoolDraft *sg_data_reader_steal_draft (SgDataReader *r);

/* sg_data_memory_in_flight - content bytes held in memory by all readers
 * and by the content they handed on, process-wide. */
guint64 sg_data_memory_in_flight (void);

G_END_DECLS
