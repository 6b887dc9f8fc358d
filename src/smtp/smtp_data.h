/* smtp_data.h - the DATA phase reader: finds the end of data, removes dot
 * stuffing (RFC 5321 4.5.2) and notes every framing fault on the way.
 *
 * DATA ends only at CRLF "." CRLF. A bare LF or bare CR anywhere (the SMTP
 * smuggling class, CVE-2023-51764) is recorded and makes the session reject
 * the message, but never ends DATA early. The reader keeps at most max_size
 * bytes; past that it only counts, so memory stays bounded. Line length
 * is the validator's rule (RFC 5322 2.1.1), not checked here. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  SG_DATA_LINE_START, /* after CRLF, or at the beginning */
  SG_DATA_DOT,        /* "." at line start */
  SG_DATA_DOT_CR,     /* ".\r" at line start */
  SG_DATA_IN_LINE,
  SG_DATA_CR,         /* "\r" inside a line */
  SG_DATA_DONE,
} SgDataState;

typedef struct {
  SgDataState state;
  GByteArray *content;      /* unstuffed bytes; NULL once over max_size */
  guint64     max_size;
  guint64     size;         /* unstuffed bytes seen, kept or not */
  guint64     line;         /* current line number, from 1 */
  guint64     bare_lf_line; /* first line with a bare LF, 0 = none */
  guint64     bare_cr_line; /* first line with a bare CR, 0 = none */
  gboolean    too_big;
} SgDataReader;

void sg_data_reader_init (SgDataReader *r, guint64 max_size);
void sg_data_reader_clear (SgDataReader *r);

/* sg_data_reader_feed - consume input up to and including the end-of-data
 * marker; returns the bytes consumed. r->state is SG_DATA_DONE at the end. */
gsize sg_data_reader_feed (SgDataReader *r, const char *data, gsize len);

/* sg_data_reader_steal - the content (transfer full); NULL when too big. */
GBytes *sg_data_reader_steal (SgDataReader *r);

G_END_DECLS
