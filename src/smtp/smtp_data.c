/* smtp_data.c - the DATA phase byte machine: end-of-data detection, dot
 * unstuffing, bare CR/LF and line accounting, size cap. Runs at
 * memory speed: runs of ordinary bytes are copied in one append. */
#include "smtp/smtp_data.h"

#include <string.h>

void
sg_data_reader_init (SgDataReader *r, guint64 max_size)
{
  memset (r, 0, sizeof *r);
  r->state = SG_DATA_LINE_START;
  r->max_size = max_size;
  r->line = 1;
  r->content = g_byte_array_sized_new (MIN (max_size, 64 * 1024));
}

void
sg_data_reader_clear (SgDataReader *r)
{
  g_clear_pointer (&r->content, g_byte_array_unref);
}

/* emit - keep n content bytes, or just count them once over the size cap. */
static inline void
emit (SgDataReader *r, const char *p, gsize n)
{
  r->size += n;
  if (r->content == NULL)
    return;
  if (r->size > r->max_size)
    {
      r->too_big = TRUE;
      g_clear_pointer (&r->content, g_byte_array_unref);
      return;
    }
  g_byte_array_append (r->content, (const guint8 *) p, n);
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
            const char *q = p;
            while (q < end && *q != '\r' && *q != '\n')
              q++;
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
  return p - data;
}

GBytes *
sg_data_reader_steal (SgDataReader *r)
{
  if (r->content == NULL)
    return NULL;
  return g_byte_array_free_to_bytes (g_steal_pointer (&r->content));
}
