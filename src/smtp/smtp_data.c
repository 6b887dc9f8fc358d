/* smtp_data.c - the DATA phase byte machine: end-of-data detection, dot
 * unstuffing, bare CR/LF and line accounting, size cap, and where the
 * content goes: memory, or a spool draft once memory is not the place for
 * it. Runs at memory speed: runs of ordinary lines are found with memchr
 * and kept in one append. */
#include "smtp/smtp_data.h"

#include <stdatomic.h>
#include <string.h>

/* Content bytes in memory: readers' buffers plus the GBytes they handed on,
 * until those are freed (from any thread). */
static atomic_uint_fast64_t memory_in_flight;

guint64
sg_data_memory_in_flight (void)
{
  return atomic_load (&memory_in_flight);
}

/* Handed-on content: released from whichever thread frees the GBytes. */
typedef struct {
  guint8 *data;
  gsize   len;
} Held;

static void
held_free (gpointer p)
{
  Held *h = p;
  atomic_fetch_sub (&memory_in_flight, h->len);
  g_free (h->data);
  g_free (h);
}

/* drop_content - free the in-memory content and uncount it. */
static void
drop_content (SgDataReader *r)
{
  if (r->content == NULL)
    return;
  atomic_fetch_sub (&memory_in_flight, r->content->len);
  g_clear_pointer (&r->content, g_byte_array_unref);
}

/* drop_draft - forget the draft (unlinking its file) and its buffer. */
static void
drop_draft (SgDataReader *r)
{
  g_clear_pointer (&r->draft, sg_spool_draft_free);
  g_clear_pointer (&r->wbuf, g_free);
  r->wbuf_len = 0;
}

/* draft_append - hand buf (transfer full) to the draft's writer, or give up
 * on the draft: the message is then only counted, and finish reports
 * spill_error (451/452). */
static gboolean
draft_append (SgDataReader *r, guint8 *buf, gsize n)
{
  if (sg_spool_draft_append (r->draft, buf, n, &r->spill_error))
    return TRUE;
  drop_draft (r);
  return FALSE;
}

/* draft_flush - hand the write buffer over; the next byte gets a new one. */
static gboolean
draft_flush (SgDataReader *r)
{
  if (r->draft == NULL || r->wbuf_len == 0)
    return TRUE;
  gsize n = r->wbuf_len;
  r->wbuf_len = 0;
  if (sg_spool_draft_append_buffer (r->draft, g_steal_pointer (&r->wbuf), n, &r->spill_error))
    return TRUE;
  drop_draft (r);
  return FALSE;
}

/* spill - move header and content so far into a fresh draft. */
static void
spill (SgDataReader *r)
{
  gsize hlen = 0;
  const guint8 *h = r->spill.header ? g_bytes_get_data (r->spill.header, &hlen) : NULL;

  r->draft = r->spill.open (r->spill.user_data, &r->spill_error);
  if (r->draft != NULL && draft_append (r, g_memdup2 (h, hlen), hlen))
    {
      gsize n = r->content->len;
      atomic_fetch_sub (&memory_in_flight, n);
      draft_append (r, g_byte_array_steal (r->content, NULL), n);
    }
  drop_content (r);
}

/* keep - n content bytes to memory or, through a SG_DATA_SPILL_BUFFER
 * buffer, to the draft. */
static void
keep (SgDataReader *r, const char *p, gsize n)
{
  if (r->content != NULL && r->spill.open != NULL
      && ((guint64) r->content->len + n > r->spill.threshold
          || sg_data_memory_in_flight () + n > r->spill.max_in_flight))
    spill (r);
  if (r->content != NULL)
    {
      g_byte_array_append (r->content, (const guint8 *) p, n);
      atomic_fetch_add (&memory_in_flight, n);
      return;
    }
  while (n > 0 && r->draft != NULL)   /* no draft: it failed, counting only */
    {
      if (r->wbuf == NULL)
        r->wbuf = sg_spool_draft_buffer (r->draft);
      gsize k = MIN (n, SG_DATA_SPILL_BUFFER - r->wbuf_len);
      memcpy (r->wbuf + r->wbuf_len, p, k);
      r->wbuf_len += k;
      p += k;
      n -= k;
      if (r->wbuf_len == SG_DATA_SPILL_BUFFER)
        draft_flush (r);
    }
}

void
sg_data_reader_init (SgDataReader *r, guint64 max_size)
{
  memset (r, 0, sizeof *r);
  r->state = SG_DATA_LINE_START;
  r->max_size = max_size;
  r->line = 1;
  r->content = g_byte_array_sized_new (MIN (max_size, 64 * 1024));
  r->spill.threshold = G_MAXUINT64;
  r->spill.max_in_flight = G_MAXUINT64;
}

void
sg_data_reader_set_spill (SgDataReader *r, const SgDataSpill *spill)
{
  g_clear_pointer (&r->spill.header, g_bytes_unref);
  r->spill = *spill;
  if (r->spill.header)
    g_bytes_ref (r->spill.header);
}

void
sg_data_reader_clear (SgDataReader *r)
{
  drop_content (r);
  drop_draft (r);
  g_clear_pointer (&r->spill.header, g_bytes_unref);
  g_clear_error (&r->spill_error);
}

/* emit - keep n content bytes, or just count them once over the size cap
 * or after the draft failed. */
static inline void
emit (SgDataReader *r, const char *p, gsize n)
{
  r->size += n;
  if (r->too_big || r->spill_error)
    return;
  if (r->size > r->max_size)
    {
      r->too_big = TRUE;
      drop_content (r);
      drop_draft (r);
      return;
    }
  keep (r, p, n);
}

static inline void
end_line (SgDataReader *r)
{
  r->line++;
}

static inline void
bare_lf (SgDataReader *r)
{
  if (r->bare_lf_line == 0)
    r->bare_lf_line = r->line;
  emit (r, "\n", 1);
  end_line (r);
}

static inline void
bare_cr (SgDataReader *r)
{
  if (r->bare_cr_line == 0)
    r->bare_cr_line = r->line;
  emit (r, "\r", 1);
}

gsize
sg_data_reader_feed (SgDataReader *r, const char *data, gsize len)
{
  const char *p = data, *end = data + len;

  while (p < end && r->state != SG_DATA_DONE)
    {
      char c = *p;
      switch (r->state)
        {
        case SG_DATA_LINE_START:
          if (c == '.')
            {
              r->state = SG_DATA_DOT;
              p++;
              continue;
            }
          r->state = SG_DATA_IN_LINE;
          continue;
        case SG_DATA_DOT:
          /* The leading dot was stuffing, unless CRLF follows (4.5.2). A
           * ".\n" is not an end: the dot is dropped and the LF is bare. */
          if (c == '\r')
            {
              r->state = SG_DATA_DOT_CR;
              p++;
              continue;
            }
          r->state = SG_DATA_IN_LINE;
          continue;
        case SG_DATA_DOT_CR:
          if (c == '\n')
            {
              r->state = SG_DATA_DONE;
              p++;
              continue;
            }
          bare_cr (r);
          r->state = SG_DATA_IN_LINE;
          continue;
        case SG_DATA_CR:
          if (c == '\n')
            {
              emit (r, "\r\n", 2);
              end_line (r);
              r->state = SG_DATA_LINE_START;
              p++;
              continue;
            }
          bare_cr (r);
          r->state = SG_DATA_IN_LINE;
          continue;
        case SG_DATA_IN_LINE:
          {
            /* Fast path: a run of whole ordinary lines (CRLF-terminated,
             * no bare CR, the next one not starting with a dot) is content
             * as it stands, so it is found with memchr and kept in one go. */
            const char *q = p;
            for (;;)
              {
                const char *lf = memchr (q, '\n', end - q);
                const char *cr = memchr (q, '\r', (lf ? lf : end) - q);
                if (lf == NULL || cr == NULL || cr + 1 != lf)
                  {
                    q = cr ? cr : lf ? lf : end;   /* the per-byte machine takes over there */
                    break;
                  }
                end_line (r);
                q = lf + 1;
                if (q == end || *q == '.')
                  {
                    r->state = SG_DATA_LINE_START;
                    break;
                  }
              }
            if (q > p)
              {
                emit (r, p, q - p);
                p = q;
                continue;
              }
            if (c == '\r')
              r->state = SG_DATA_CR;
            else
              bare_lf (r); /* stays IN_LINE: a bare LF never starts a line */
            p++;
            continue;
          }
        case SG_DATA_DONE:
          break;
        }
    }
  if (r->state == SG_DATA_DONE)
    draft_flush (r);
  return p - data;
}

GBytes *
sg_data_reader_steal (SgDataReader *r)
{
  if (r->content == NULL)
    return NULL;
  Held *h = g_new (Held, 1);
  h->data = g_byte_array_steal (r->content, &h->len);
  g_clear_pointer (&r->content, g_byte_array_unref);
  /* Still counted: the bytes live on in the GBytes until held_free. */
  return g_bytes_new_with_free_func (h->data, h->len, held_free, h);
}

SgSpoolDraft *
sg_data_reader_steal_draft (SgDataReader *r)
{
  g_return_val_if_fail (r->state == SG_DATA_DONE, NULL);
  return g_steal_pointer (&r->draft);
}
