/* milter_proto.h - the Sendmail milter wire protocol (version 2 to 6, as
 * Postfix's milter8 speaks it), sans I/O: commands are encoded into a byte
 * array and replies decoded from one; sockets, timeouts and what a reply
 * means for a message belong to milter_client.c. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

/* Largest packet accepted from a milter: its length field (command byte plus
 * data). Postfix and libmilter cap data at 1 MB (SMFIP_MDS_1M); anything
 * larger is a protocol error, never an allocation. */
#define SG_MILTER_MAX_PACKET   (1024u * 1024u)
/* The most of a REPLYCODE's text kept: it becomes our SMTP reply, whose
 * line is at most 512 octets with "NNN X.YYY.ZZZ " and CRLF (RFC 5321
 * 4.5.3.1.5). */
#define SG_MILTER_REPLY_TEXT_MAX 480u
/* Largest body chunk we send (SMFIC_BODY), as libmilter's MILTER_CHUNK_SIZE. */
#define SG_MILTER_CHUNK        65535u

/* Commands, MTA to milter (SMFIC_*). */
#define SG_SMFIC_ABORT   'A'
#define SG_SMFIC_BODY    'B'
#define SG_SMFIC_CONNECT 'C'
#define SG_SMFIC_MACRO   'D'
#define SG_SMFIC_BODYEOB 'E'
#define SG_SMFIC_HELO    'H'
#define SG_SMFIC_HEADER  'L'
#define SG_SMFIC_MAIL    'M'
#define SG_SMFIC_EOH     'N'
#define SG_SMFIC_OPTNEG  'O'
#define SG_SMFIC_QUIT    'Q'
#define SG_SMFIC_RCPT    'R'
#define SG_SMFIC_DATA    'T'

/* Replies, milter to MTA (SMFIR_*). */
#define SG_SMFIR_ADDRCPT     '+'
#define SG_SMFIR_DELRCPT     '-'
#define SG_SMFIR_ADDRCPT_PAR '2'
#define SG_SMFIR_SHUTDOWN    '4'
#define SG_SMFIR_ACCEPT      'a'
#define SG_SMFIR_REPLBODY    'b'
#define SG_SMFIR_CONTINUE    'c'
#define SG_SMFIR_DISCARD     'd'
#define SG_SMFIR_CHGFROM     'e'
#define SG_SMFIR_CONN_FAIL   'f'
#define SG_SMFIR_ADDHEADER   'h'
#define SG_SMFIR_INSHEADER   'i'
#define SG_SMFIR_SETSYMLIST  'l'
#define SG_SMFIR_CHGHEADER   'm'
#define SG_SMFIR_PROGRESS    'p'
#define SG_SMFIR_QUARANTINE  'q'
#define SG_SMFIR_REJECT      'r'
#define SG_SMFIR_SKIP        's'
#define SG_SMFIR_TEMPFAIL    't'
#define SG_SMFIR_REPLYCODE   'y'
#define SG_SMFIR_OPTNEG      'O'

/* Actions a milter may take (SMFIF_*), offered in option negotiation. */
#define SG_SMFIF_ADDHDRS     0x001u
#define SG_SMFIF_CHGBODY     0x002u
#define SG_SMFIF_ADDRCPT     0x004u
#define SG_SMFIF_DELRCPT     0x008u
#define SG_SMFIF_CHGHDRS     0x010u
#define SG_SMFIF_QUARANTINE  0x020u
#define SG_SMFIF_CHGFROM     0x040u
#define SG_SMFIF_ADDRCPT_PAR 0x080u
#define SG_SMFIF_SETSYMLIST  0x100u
#define SG_SMFIF_ALL_V6      0x1ffu
#define SG_SMFIF_ALL_V2      0x03fu

/* Protocol steps a milter may skip or not answer (SMFIP_*). */
#define SG_SMFIP_NOCONNECT   0x000001u
#define SG_SMFIP_NOHELO      0x000002u
#define SG_SMFIP_NOMAIL      0x000004u
#define SG_SMFIP_NORCPT      0x000008u
#define SG_SMFIP_NOBODY      0x000010u
#define SG_SMFIP_NOHDRS      0x000020u
#define SG_SMFIP_NOEOH       0x000040u
#define SG_SMFIP_NR_HDR      0x000080u
#define SG_SMFIP_NOUNKNOWN   0x000100u
#define SG_SMFIP_NODATA      0x000200u
#define SG_SMFIP_SKIP        0x000400u
#define SG_SMFIP_RCPT_REJ    0x000800u
#define SG_SMFIP_NR_CONN     0x001000u
#define SG_SMFIP_NR_HELO     0x002000u
#define SG_SMFIP_NR_MAIL     0x004000u
#define SG_SMFIP_NR_RCPT     0x008000u
#define SG_SMFIP_NR_DATA     0x010000u
#define SG_SMFIP_NR_UNKN     0x020000u
#define SG_SMFIP_NR_EOH      0x040000u
#define SG_SMFIP_NR_BODY     0x080000u
#define SG_SMFIP_HDR_LEADSPC 0x100000u
#define SG_SMFIP_MDS_256K    0x10000000u
#define SG_SMFIP_MDS_1M      0x20000000u
/* What we offer: every step may be skipped or left unanswered (except
 * RCPT_REJ: we never send rejected recipients); older versions know only
 * the first seven bits. */
#define SG_SMFIP_OFFER_V6    (0x1fffffu & ~SG_SMFIP_RCPT_REJ)
#define SG_SMFIP_OFFER_V2    0x7fu
#define SG_SMFIP_MDS_MASK    (SG_SMFIP_MDS_256K | SG_SMFIP_MDS_1M)

#define SG_MILTER_ERROR (sg_milter_error_quark ())
GQuark sg_milter_error_quark (void);
typedef enum {
  SG_MILTER_ERROR_PROTOCOL,  /* a malformed or unexpected packet */
  SG_MILTER_ERROR_IO,        /* connect, read or write failed; the milter closed */
  SG_MILTER_ERROR_TIMEOUT,   /* connect_, command_ or content_timeout ran out */
} SgMilterError;

/* One decoded reply; strings point into owned copies (sg_milter_reply_clear). */
typedef struct {
  char     cmd;            /* SG_SMFIR_* */
  guint32  version;        /* OPTNEG */
  guint32  actions;        /* OPTNEG */
  guint32  flags;          /* OPTNEG */
  guint32  index;          /* INSHEADER, CHGHEADER */
  char    *name;           /* (nullable) header name: ADDHEADER, INSHEADER, CHGHEADER */
  char    *value;          /* (nullable) header value; ADDRCPT/DELRCPT/CHGFROM address;
                            * QUARANTINE reason; REPLYCODE text after the codes */
  char    *args;           /* (nullable) ESMTP arguments: ADDRCPT_PAR, CHGFROM */
  guint    code;           /* REPLYCODE: 4xx or 5xx */
  char     enhanced[16];   /* REPLYCODE: "X.Y.Z", defaulted from the class when absent */
  gsize    body_len;       /* REPLBODY: bytes of replacement offered (never kept) */
} SgMilterReply;

void sg_milter_reply_clear (SgMilterReply *reply);
/* sg_milter_reply_free - clear and free a reply made with g_new0 (NULL is fine). */
void sg_milter_reply_free (SgMilterReply *reply);

typedef enum {
  SG_MILTER_NEED_MORE,     /* no whole packet yet; nothing consumed */
  SG_MILTER_PACKET,        /* *reply filled, *consumed bytes used */
  SG_MILTER_BAD,           /* error set; the connection is unusable */
} SgMilterStatus;

/* sg_milter_decode - decode the first packet in buf. */
SgMilterStatus sg_milter_decode (const guint8 *buf, gsize len, gsize *consumed,
                                 SgMilterReply *reply, GError **error);

/* sg_milter_encode - append one packet: cmd and len bytes of data. */
void sg_milter_encode (GByteArray *out, char cmd, const void *data, gsize len);
/* sg_milter_encode_optneg - SMFIC_OPTNEG with version, actions and step flags. */
void sg_milter_encode_optneg (GByteArray *out, guint32 version, guint32 actions, guint32 flags);
/* sg_milter_encode_strings - cmd followed by NUL-terminated strings (NULL-terminated list):
 * HELO, MAIL, RCPT, HEADER (name, value). */
void sg_milter_encode_strings (GByteArray *out, char cmd, const char *const *strings);
/* sg_milter_encode_macros - SMFIC_MACRO for the command stage: name, value
 * pairs (NULL-terminated list); pairs whose value is NULL are left out. */
void sg_milter_encode_macros (GByteArray *out, char stage, const char *const *pairs);
/* sg_milter_encode_connect - SMFIC_CONNECT: hostname, family from address
 * ('4', '6', or 'U' for unknown), port and address. */
void sg_milter_encode_connect (GByteArray *out, const char *hostname, const char *address,
                               guint16 port);

/* sg_milter_reply_name - "accept", "reject", ... for logs (static). */
const char *sg_milter_reply_name (char cmd);

G_END_DECLS
