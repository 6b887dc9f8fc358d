/* milter_headers.c - the editable header list of one message under milter
 * review. Each field keeps its original bytes (CRLF line ends, folding as
 * received); only fields a milter adds or changes are rendered anew. */
#include "milter/milter_headers.h"

#include <string.h>

typedef struct {
  char  *name;   /* field name */
  GBytes *raw;   /* the whole field with its final CRLF */
} Field;

struct _SgMilterHeaders {
  GPtrArray *fields;     /* Field*, in order */
  gboolean   separator;  /* the message had a blank line before its body */
  gboolean   changed;
};

static void
field_free (gpointer data)
{
  Field *f = data;
  g_free (f->name);
  g_bytes_unref (f->raw);
  g_free (f);
}

/* split - append the fields of data[0..len) to h; returns where they end
 * (the offset of the blank line, or len). */
static gsize
split (SgMilterHeaders *h, const guint8 *data, gsize len)
{
  gsize pos = 0;
  while (pos < len)
    {
      if (data[pos] == '\r' || data[pos] == '\n')
        return pos;  /* the blank line */
      gsize end = pos;
      /* a field runs to the CRLF not followed by SP or HT */
      for (;;)
        {
          const guint8 *nl = memchr (data + end, '\n', len - end);
          end = nl ? (gsize) (nl - data) + 1 : len;
          if (end >= len || (data[end] != ' ' && data[end] != '\t'))
            break;
        }
      const guint8 *colon = memchr (data + pos, ':', end - pos);
      gsize nlen = colon ? (gsize) (colon - (data + pos)) : 0;
      Field *f = g_new0 (Field, 1);
      f->name = g_strstrip (g_strndup ((const char *) data + pos, nlen));
      f->raw = g_bytes_new (data + pos, end - pos);
      g_ptr_array_add (h->fields, f);
      pos = end;
    }
  return pos;
}

SgMilterHeaders *
sg_milter_headers_new (GBytes *received, GBytes *content, gsize *body_offset)
{
  SgMilterHeaders *h = g_new0 (SgMilterHeaders, 1);
  h->fields = g_ptr_array_new_with_free_func (field_free);
  gsize len = 0;
  const guint8 *data = received ? g_bytes_get_data (received, &len) : NULL;
  if (data)
    split (h, data, len);
  data = content ? g_bytes_get_data (content, &len) : NULL;
  if (!data)
    {
      *body_offset = 0;
      return h;
    }
  gsize end = split (h, data, len);
  if (end < len)
    {
      h->separator = TRUE;
      end += data[end] == '\r' && end + 1 < len && data[end + 1] == '\n' ? 2 : 1;
    }
  *body_offset = end;
  return h;
}

void
sg_milter_headers_free (SgMilterHeaders *h)
{
  if (!h)
    return;
  g_ptr_array_unref (h->fields);
  g_free (h);
}

guint
sg_milter_headers_count (const SgMilterHeaders *h)
{
  return h->fields->len;
}

const char *
sg_milter_headers_name (const SgMilterHeaders *h, guint i)
{
  return ((Field *) g_ptr_array_index (h->fields, i))->name;
}

char *
sg_milter_headers_value (const SgMilterHeaders *h, guint i, gboolean leading_space)
{
  const Field *f = g_ptr_array_index (h->fields, i);
  gsize len = 0;
  const char *raw = g_bytes_get_data (f->raw, &len);
  const char *colon = memchr (raw, ':', len);
  const char *p = colon ? colon + 1 : raw + len;
  const char *end = raw + len;
  if (!leading_space && p < end && *p == ' ')
    p++;
  GString *v = g_string_sized_new ((gsize) (end - p));
  for (; p < end; p++)
    if (*p != '\r')
      g_string_append_c (v, *p);
  while (v->len && v->str[v->len - 1] == '\n')
    g_string_truncate (v, v->len - 1);
  return g_string_free (v, FALSE);
}

gboolean
sg_milter_header_valid (const char *name, const char *value)
{
  if (!name || !*name || !value)
    return FALSE;
  for (const char *c = name; *c; c++)
    if ((guchar) *c <= 32 || (guchar) *c >= 127 || *c == ':')
      return FALSE;
  for (const char *c = value; *c; c++)
    {
      if (*c == '\r' && c[1] != '\n')
        return FALSE;
      if (*c == '\n' && c[1] != ' ' && c[1] != '\t')
        return FALSE;
    }
  return TRUE;
}

/* field_new - render "name: value\r\n" with value's line ends as CRLF. */
static Field *
field_new (const char *name, const char *value, gboolean leading_space)
{
  GString *s = g_string_new (name);
  g_string_append (s, leading_space ? ":" : ": ");
  for (const char *c = value; *c; c++)
    {
      if (*c == '\r')
        continue;
      if (*c == '\n')
        g_string_append_c (s, '\r');
      g_string_append_c (s, *c);
    }
  g_string_append (s, "\r\n");
  Field *f = g_new0 (Field, 1);
  f->name = g_strdup (name);
  f->raw = g_string_free_to_bytes (s);
  return f;
}

void
sg_milter_headers_add (SgMilterHeaders *h, const char *name, const char *value,
                       gboolean leading_space)
{
  g_ptr_array_add (h->fields, field_new (name, value, leading_space));
  h->changed = TRUE;
}

void
sg_milter_headers_insert (SgMilterHeaders *h, guint index, const char *name, const char *value,
                          gboolean leading_space)
{
  g_ptr_array_insert (h->fields, index >= h->fields->len ? -1 : (gint) index,
                      field_new (name, value, leading_space));
  h->changed = TRUE;
}

void
sg_milter_headers_change (SgMilterHeaders *h, guint index, const char *name, const char *value,
                          gboolean leading_space)
{
  guint seen = 0;
  for (guint i = 0; i < h->fields->len; i++)
    {
      Field *f = g_ptr_array_index (h->fields, i);
      if (g_ascii_strcasecmp (f->name, name) != 0 || ++seen != MAX (index, 1u))
        continue;
      if (!*value)
        g_ptr_array_remove_index (h->fields, i);
      else
        {
          field_free (g_ptr_array_index (h->fields, i));
          h->fields->pdata[i] = field_new (name, value, leading_space);
        }
      h->changed = TRUE;
      return;
    }
  if (*value)
    sg_milter_headers_add (h, name, value, leading_space);
}

gboolean
sg_milter_headers_changed (const SgMilterHeaders *h)
{
  return h->changed;
}

GBytes *
sg_milter_headers_bytes (const SgMilterHeaders *h)
{
  GByteArray *out = g_byte_array_new ();
  for (guint i = 0; i < h->fields->len; i++)
    {
      const Field *f = g_ptr_array_index (h->fields, i);
      gsize len = 0;
      const guint8 *d = g_bytes_get_data (f->raw, &len);
      g_byte_array_append (out, d, (guint) len);
    }
  if (h->separator)
    g_byte_array_append (out, (const guint8 *) "\r\n", 2);
  return g_byte_array_free_to_bytes (out);
}
