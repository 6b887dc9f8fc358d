/* milter_edits.h - the edit requests one milter sends at the end of one
 * message (milter_edits.c), private to the milter module: what each costs
 * against the message's budget, which are kept to be applied (header edits
 * we allow) and which are only counted as refused and logged once per kind.
 * milter_client.c reads the packets and decides the verdict. */
#pragma once
#include <glib.h>
#include "milter/milter_headers.h"
#include "milter/milter_proto.h"

G_BEGIN_DECLS

/* What an edit request costs besides its bytes: about the bookkeeping of
 * one kept edit, so that a flood of empty ones is not free. */
#define SG_MILTER_EDIT_COST 64u

/* The edit budget of one message, all its milters together; lives for
 * sg_milter_run(). The caller sets the limits. */
typedef struct {
  guint   max_edits;  /* [milter] max_edits */
  guint64 max_size;   /* [limits] max_message_size, for the error */
  guint64 room;       /* what the message may grow: max_size less its size as received */
  guint   edits;      /* edit requests taken */
  guint64 cost;       /* their bytes as they would be written, plus SG_MILTER_EDIT_COST each */
} SgMilterBudget;

/* Why an edit request is refused. */
typedef enum {
  SG_MILTER_REFUSE_ACTION,     /* an action the milter did not negotiate */
  SG_MILTER_REFUSE_MALFORMED,  /* a header field that could break the header section */
  SG_MILTER_REFUSE_BODY,       /* body replacement */
  SG_MILTER_REFUSE_ENVELOPE,   /* recipients or sender */
  SG_MILTER_REFUSE_KINDS,
} SgMilterRefusal;

/* One milter's edits for one message; lives for that milter's turn. */
typedef struct {
  GPtrArray *kept;                                  /* SgMilterReply*, header edits to apply */
  guint      added, changed, refused;               /* for the metadata */
  guint      refusals[SG_MILTER_REFUSE_KINDS];      /* refused, by kind */
  char      *refused_first[SG_MILTER_REFUSE_KINDS]; /* (nullable) the first of each, for the log */
} SgMilterEdits;

void sg_milter_edits_init (SgMilterEdits *e);
void sg_milter_edits_clear (SgMilterEdits *e);

/* sg_milter_edits_take - count edit request r (transfer full) against b;
 * keep it when it is a header edit that actions allow and that is well
 * formed, else only count the refusal. FALSE with error set past
 * b->max_edits or once the edits could make the message larger than
 * b->max_size: the milter is to be treated as failed. */
gboolean sg_milter_edits_take (SgMilterEdits *e, SgMilterBudget *b, guint32 actions,
                               SgMilterReply *r, GError **error);

/* sg_milter_edits_apply - make the kept edits on h, in order. */
void sg_milter_edits_apply (SgMilterEdits *e, SgMilterHeaders *h, gboolean leading_space);

/* sg_milter_edits_log - one warning per kind of edit refused: the first
 * of them and how many there were. */
void sg_milter_edits_log (const SgMilterEdits *e, const char *queue_id, const char *milter);

G_END_DECLS
