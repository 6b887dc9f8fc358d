/* limits.h - every limit and default in one place. Each SG_DEF_* has a config
 * key (config.c's key table names it) and is documented in spoolgate.conf(5). */
#pragma once

/* [server] */
#define SG_DEF_LISTEN                 "127.0.0.1:2525"
#define SG_DEF_SPOOL_DIR              "spool"   /* relative to the working directory */
#define SG_DEF_LOG_LEVEL              "info"
#define SG_DEF_PROXY_TRUSTED          "127.0.0.0/8, ::1/128" /* who may send a PROXY header */
#define SG_DEF_PROXY_TIMEOUT          10u       /* seconds for the PROXY header to arrive */

/* [limits] */
#define SG_DEF_MAX_MESSAGE_SIZE       (25u * 1000u * 1000u)  /* 25 MB, SIZE advertised in EHLO */
#define SG_DEF_MAX_RECIPIENTS         100u      /* RFC 5321 4.5.3.1.8 asks for at least 100 */
#define SG_DEF_MAX_COMMAND_LINE       512u      /* octets incl. CRLF, RFC 5321 4.5.3.1.4 */
#define SG_DEF_COMMAND_TIMEOUT        300u      /* seconds, RFC 5321 4.5.3.2.7 */
#define SG_DEF_DATA_TIMEOUT           600u      /* seconds without data during DATA */
#define SG_DEF_MAX_ERRORS             20u       /* bad commands per session, then 421 */
#define SG_DEF_SHUTDOWN_TIMEOUT       30u       /* seconds transactions in flight get at SIGTERM */
#define SG_DEF_MAX_CONNECTIONS        10000u
#define SG_DEF_MAX_CONNECTIONS_PER_IP 50u
#define SG_DEF_MAX_PIPELINE_BUFFER    (64u * 1024u) /* unprocessed input, and unsent replies, held per session */
#define SG_DEF_MAX_JUNK_COMMANDS      100u      /* EHLO/HELO/NOOP/HELP/VRFY/RSET, then each is an error (Postfix smtpd_junk_command_limit) */
#define SG_DEF_MIN_DATA_RATE          500u      /* bytes/s: what extends the DATA deadline (Postfix smtpd_min_data_rate) */
#define SG_DEF_DATA_SPILL_SIZE        (1024u * 1024u) /* message bytes one DATA keeps in memory; the rest streams to tmp/ */
#define SG_DEF_MAX_DATA_STREAMS       8u        /* DATAs past data_spill_size read at once; the rest wait unread; 0 = all */
#define SG_DEF_MAX_MEMORY_IN_FLIGHT   (64u * 1024u * 1024u) /* message bytes all sessions keep in memory; beyond, DATA goes to disk at once */
#define SG_MAX_MAX_MESSAGE_SIZE       (2ull << 30)  /* 2 GiB: the validator's GByteArray holds < 4 GiB */

/* [validation] */
#define SG_DEF_VALIDATION_POLICY      "standard"
#define SG_DEF_MAX_MIME_DEPTH         32u
#define SG_DEF_MAX_MIME_PARTS         1000u
#define SG_DEF_VALIDATION_MODE        "enforce" /* or "monitor": accept, record what enforce would refuse */
#define SG_DEF_KEEP_REJECTED          0u        /* bytes of refused mail kept in rejected/; 0 = off */

/* [smarthost] - client timeouts of RFC 5321 4.5.3.2, in seconds */
#define SG_DEF_SMARTHOST_PORT         25u
#define SG_DEF_SMARTHOST_TLS          "verify"
#define SG_DEF_CONNECT_TIMEOUT        30u
#define SG_DEF_TLS_TIMEOUT            60u       /* STARTTLS handshake */
#define SG_DEF_GREETING_TIMEOUT       300u      /* 4.5.3.2.1 */
#define SG_DEF_MAIL_TIMEOUT           300u      /* 4.5.3.2.2 */
#define SG_DEF_RCPT_TIMEOUT           300u      /* 4.5.3.2.3 */
#define SG_DEF_DATA_INIT_TIMEOUT      120u      /* 4.5.3.2.4 */
#define SG_DEF_DATA_BLOCK_TIMEOUT     180u      /* 4.5.3.2.5 */
#define SG_DEF_DATA_TERM_TIMEOUT      600u      /* 4.5.3.2.6 */
#define SG_DEF_SMARTHOST_IDLE_TIMEOUT 5u        /* idle seconds before a reused session is QUIT */
#define SG_DEF_SMARTHOST_BALANCE      "failover" /* order of the [smarthost] host list */
#define SG_DEF_SMARTHOST_HOST_COOLDOWN 60u      /* seconds a host that failed to connect is skipped */

/* [queue] */
#define SG_DEF_MIN_BACKOFF            300u      /* seconds */
#define SG_DEF_MAX_BACKOFF            4000u
#define SG_DEF_MAX_LIFETIME           (5u * 86400u)
#define SG_DEF_QUEUE_CONCURRENCY      4u        /* parallel smarthost connections */
#define SG_DEF_KEEP_DELIVERED         0u        /* seconds delivered mail is kept */
#define SG_DEF_BOUNCE_SIZE_LIMIT      50000u    /* bytes: a larger original is returned as headers only (Postfix bounce_size_limit) */
#define SG_DEF_DELAY_WARNING          0u        /* seconds before a delay notice (RFC 3464 delayed); 0: none */
#define SG_DEF_SCAN_INTERVAL          60u       /* full rescan of the spool, seconds */
#define SG_DEF_MAX_HISTORY            100u      /* attempt_history entries kept per message */
#define SG_DEF_FAILED_LIFETIME        (7u * 86400u) /* seconds failed mail is kept, then removed; 0: kept */

/* Lower bounds no configuration may go under. */
#define SG_MIN_MAX_COMMAND_LINE       512u

/* [limits], continued */
#define SG_DEF_CONNECTION_RATE_PER_IP 0u        /* connections per minute per address; 0 = off, as in Postfix */
#define SG_RATE_WINDOW                60        /* seconds: the sliding window of connection_rate_per_ip */

/* [spool] */
#define SG_DEF_MIN_FREE               (50u * 1000u * 1000u) /* bytes free below which MAIL gets 452 4.3.1 */
#define SG_DEF_COMMIT_QUEUE_MESSAGES  1024u     /* commits waiting for the committer before 451 */
#define SG_DEF_COMMIT_QUEUE_WAIT      30u       /* seconds a commit waits for room in that queue before 451 */
#define SG_DEF_RECYCLE_FILES          4096u     /* retired files kept in tmp/ for reuse (spool_pool.c) */
#define SG_DEF_COMMIT_QUEUE_BYTES     (256u * 1024u * 1024u) /* message bytes waiting likewise */
#define SG_DEF_SYNC_METHOD            "fdatasync" /* how a commit group reaches the disk: fdatasync | syncfs */

/* [access] */
#define SG_DEF_ALLOWED_NETWORKS       "127.0.0.0/8, ::1/128"
#define SG_DEF_VERIFY_POSITIVE_TTL    (7u * 86400u) /* a deliverable answer (Postfix address_verify_positive_expire_time) */
#define SG_DEF_VERIFY_NEGATIVE_TTL    (3u * 3600u)  /* an undeliverable one (address_verify_negative_expire_time) */
#define SG_DEF_VERIFY_TIMEOUT         10u       /* seconds an RCPT waits for its probe, then 450 4.1.1 */
#define SG_DEF_VERIFY_CACHE_SIZE      100000u   /* answers kept; the oldest go first when full */
#define SG_DEF_VERIFY_PROBE_RATE      10u       /* probes per second to the next hop; more get 450 4.1.1 */
#define SG_DEF_VERIFY_MAX_PROBES      64u       /* probes queued or running at once; more get 450 4.1.1 */
#define SG_DEF_VERIFY_PROBE_THREADS   4u        /* probes running at once */

/* [milter] - Postfix's milter_* defaults (postconf(5)) */
#define SG_DEF_MILTER_DEFAULT_ACTION  "tempfail" /* a milter down or timing out: 451 4.7.1 */
#define SG_DEF_MILTER_CONNECT_TIMEOUT 30u       /* seconds to connect to a milter */
#define SG_DEF_MILTER_COMMAND_TIMEOUT 30u       /* seconds for one command and its reply */
#define SG_DEF_MILTER_CONTENT_TIMEOUT 300u      /* seconds for one body chunk or end of message */
#define SG_DEF_MILTER_PROTOCOL        6u        /* milter protocol version offered */
#define SG_DEF_MILTER_MAX_EDITS       1000u     /* edit requests (header, body, envelope) per message */
#define SG_DEF_MILTER_MAX_CONVERSATIONS 100u    /* messages talking to milters at once (threads) */
