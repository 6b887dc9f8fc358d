/* access_table.c - reading and indexing one table file. The file is read
 * whole into one buffer; each key is lower-cased and each key and value is
 * NUL-terminated in place, and an open-addressing index of 32-bit offsets
 * points into that buffer: a million-line table costs the file's size plus
 * 16 MB, with no allocation per line. Lookups never allocate for keys of
 * ordinary length. */
#include "access/access_table.h"

#include <string.h>

G_DEFINE_QUARK (sg-access-error-quark, sg_access_error)

#define TABLE_MAX_FILE   (G_MAXUINT32 - 1u) /* offsets are 32-bit */
#define TABLE_KEY_MAX    512                /* longer keys are refused: an address is at most 256 */
#define EMPTY            0u                 /* slot.key: offsets are stored plus one */

typedef struct {
  guint32 key;    /* offset + 1 into buf, or EMPTY */
  guint32 value;  /* offset + 1 into buf, or 0 for none */
} Slot;

struct _SgAccessTable {
  char       *path;
  SgTableKind kind;
  char       *buf;       /* the file, keys and values NUL-terminated in place */
  Slot       *slots;
  guint32     mask;      /* slots - 1, a power of two minus one */
  guint       size;
};

/* key_hash - FNV-1a over a lower-cased key. */
static guint32
key_hash (const char *key)
{
  guint32 h = 2166136261u;
  for (const guchar *p = (const guchar *) key; *p; p++)
    h = (h ^ *p) * 16777619u;
  return h;
}

/* find - the slot for key (lower-cased), empty if absent. */
static Slot *
find (const SgAccessTable *t, const char *key)
{
  for (guint32 i = key_hash (key) & t->mask;; i = (i + 1) & t->mask)
    {
      Slot *s = &t->slots[i];
      if (s->key == EMPTY || strcmp (t->buf + s->key - 1, key) == 0)
        return s;
    }
}

/* action_parse - the action word at the start of value; *text: what follows. */
static gboolean
action_parse (const char *value, SgAccessAction *action, const char **text)
{
  static const struct { const char *word; SgAccessAction action; } words[] = {
    { "OK", SG_ACCESS_OK }, { "REJECT", SG_ACCESS_REJECT }, { "DEFER", SG_ACCESS_DEFER },
    { "HOLD", SG_ACCESS_HOLD },
  };
  gsize n = strcspn (value, " \t");
  for (guint i = 0; i < G_N_ELEMENTS (words); i++)
    if (n == strlen (words[i].word) && g_ascii_strncasecmp (value, words[i].word, n) == 0)
      {
        const char *rest = value + n + strspn (value + n, " \t");
        *action = words[i].action;
        if (text)
          *text = *rest ? rest : NULL;
        return TRUE;
      }
  return FALSE;
}

/* line_error - "PATH:LINE: why" (always FALSE). */
static gboolean G_GNUC_PRINTF (4, 5)
line_error (GError **error, const char *path, guint line, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *why = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, SG_ACCESS_ERROR, SG_ACCESS_ERROR_SYNTAX, "%s:%u: %s", path, line, why);
  return FALSE;
}

/* parse_line - one line [start, end) in place; FALSE with error if bad.
 * *key and *value get offsets (0: nothing on this line). */
static gboolean
parse_line (SgAccessTable *t, char *start, char *end, guint line, guint32 *key, guint32 *value,
            GError **error)
{
  *key = *value = 0;
  if (end > start && end[-1] == '\r')
    end--;
  char *p = start;
  while (p < end && (*p == ' ' || *p == '\t'))
    p++;
  if (p == end || *p == '#')
    return TRUE;
  char *k = p;
  while (p < end && *p != ' ' && *p != '\t')
    {
      *p = g_ascii_tolower (*p);
      p++;
    }
  gsize klen = (gsize) (p - k);
  char *v = p;
  while (v < end && (*v == ' ' || *v == '\t'))
    v++;
  char *vend = end;
  while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
    vend--;
  if (klen > TABLE_KEY_MAX)
    return line_error (error, t->path, line, "key longer than %u characters", TABLE_KEY_MAX);
  *p = '\0';   /* the key ends at the first blank, or at the line end */
  if (t->kind == SG_TABLE_RECIPIENTS)
    {
      const char *at = strchr (k, '@');
      if (!at || at[1] == '\0' || strchr (at + 1, '@'))
        return line_error (error, t->path, line, "\"%s\" is not an address or @domain", k);
      *key = (guint32) (k - t->buf) + 1;
      return TRUE;
    }
  if (v == vend || *v == '#')
    return line_error (error, t->path, line, "\"%s\" has no action (OK, REJECT, DEFER or HOLD)", k);
  *vend = '\0';
  SgAccessAction action;
  if (!action_parse (v, &action, NULL))
    {
      gsize n = strcspn (v, " \t");
      return line_error (error, t->path, line, "unknown action \"%.*s\" (OK, REJECT, DEFER or HOLD)",
                         (int) MIN (n, 64), v);
    }
  *key = (guint32) (k - t->buf) + 1;
  *value = (guint32) (v - t->buf) + 1;
  return TRUE;
}

/* count_lines - an upper bound on the entries, to size the index once. */
static gsize
count_lines (const char *buf, gsize len)
{
  gsize n = 1;
  for (const char *p = buf; (p = memchr (p, '\n', (gsize) (buf + len - p))) != NULL; p++)
    n++;
  return n;
}

SgAccessTable *
sg_access_table_load (const char *path, SgTableKind kind, GError **error)
{
  g_autoptr(GError) local = NULL;
  gsize len = 0;
  g_autoptr(SgAccessTable) t = g_new0 (SgAccessTable, 1);
  t->path = g_strdup (path);
  t->kind = kind;
  if (!g_file_get_contents (path, &t->buf, &len, &local))
    {
      g_set_error (error, SG_ACCESS_ERROR, SG_ACCESS_ERROR_FILE, "%s", local->message);
      return NULL;
    }
  if (len >= TABLE_MAX_FILE)
    {
      g_set_error (error, SG_ACCESS_ERROR, SG_ACCESS_ERROR_FILE, "%s: larger than 4 GB", path);
      return NULL;
    }
  if (memchr (t->buf, '\0', len))
    {
      guint line = 1;
      for (const char *p = t->buf; *p; p++)
        line += *p == '\n';
      line_error (error, path, line, "NUL character (not a text file?)");
      return NULL;
    }
  gsize slots = 16;
  for (gsize want = count_lines (t->buf, len) * 2; slots < want; slots <<= 1)
    ;
  t->slots = g_new0 (Slot, slots);
  t->mask = (guint32) (slots - 1);

  guint line = 0, duplicates = 0, first_duplicate = 0;
  char *p = t->buf, *stop = t->buf + len;
  while (p < stop)
    {
      char *nl = memchr (p, '\n', (gsize) (stop - p));
      char *end = nl ? nl : stop;
      guint32 key, value;
      line++;
      if (!parse_line (t, p, end, line, &key, &value, error))
        return NULL;
      p = nl ? nl + 1 : stop;
      if (!key)
        continue;
      Slot *s = find (t, t->buf + key - 1);
      if (s->key != EMPTY)
        {
          /* postmap(1) warns and keeps one; so do we, the first. */
          if (duplicates++ == 0)
            first_duplicate = line;
          continue;
        }
      s->key = key;
      s->value = value;
      t->size++;
    }
  if (duplicates)
    g_warning ("%s: %u duplicate key(s), the first at line %u; the first entry of each is used",
               path, duplicates, first_duplicate);
  return g_steal_pointer (&t);
}

void
sg_access_table_free (SgAccessTable *t)
{
  if (!t)
    return;
  g_free (t->slots);
  g_free (t->buf);
  g_free (t->path);
  g_free (t);
}

guint
sg_access_table_size (const SgAccessTable *t)
{
  return t->size;
}

const char *
sg_access_table_path (const SgAccessTable *t)
{
  return t->path;
}

/* lookup - the slot's value for key (any case); *found says whether it is there. */
static const char *
lookup (const SgAccessTable *t, const char *key, gsize len, gboolean *found)
{
  char small[TABLE_KEY_MAX + 1];
  *found = FALSE;
  if (len == 0 || len > TABLE_KEY_MAX)
    return NULL;
  for (gsize i = 0; i < len; i++)
    small[i] = g_ascii_tolower (key[i]);
  small[len] = '\0';
  Slot *s = find (t, small);
  if (s->key == EMPTY)
    return NULL;
  *found = TRUE;
  return s->value ? t->buf + s->value - 1 : NULL;
}

gboolean
sg_access_table_has_recipient (const SgAccessTable *t, const char *address)
{
  gboolean found;
  const char *at = strrchr (address, '@');
  lookup (t, address, strlen (address), &found);
  if (!found && at)
    lookup (t, at, strlen (at), &found);
  return found;
}

SgAccessAction
sg_access_table_check (const SgAccessTable *t, const char *address, const char **text)
{
  gboolean found = FALSE;
  const char *value = NULL;
  const char *at = strrchr (address, '@');
  if (text)
    *text = NULL;
  if (*address == '\0')
    value = lookup (t, "<>", 2, &found);
  else
    value = lookup (t, address, strlen (address), &found);
  /* the domain, then each parent: a.b.example.com, b.example.com, ... */
  for (const char *d = at ? at + 1 : NULL; !found && d && *d; )
    {
      value = lookup (t, d, strlen (d), &found);
      d = strchr (d, '.');
      d = d ? d + 1 : NULL;
    }
  if (!found && at && at > address)
    value = lookup (t, address, (gsize) (at - address) + 1, &found);
  SgAccessAction action = SG_ACCESS_NONE;
  if (found && value && !action_parse (value, &action, text))
    action = SG_ACCESS_NONE;   /* cannot happen: checked at load */
  return action;
}
