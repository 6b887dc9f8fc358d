/* smtp-load.c - the SMTP load generator of bench/run. N sessions on one epoll
 * loop send M messages of S bytes (valid RFC 5322, unique Message-ID, bodies
 * generated once) and time each from the last byte of ".\r\n" to the reply.
 * --idle N instead holds N idle sessions open and times transactions on new
 * connections meanwhile. Results go to stdout as one "RESULT k=v ..." line;
 * what the server refused goes to stderr. Measuring servers is left to run. */
#include <glib.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define LOAD_MAX_ERRORS_SHOWN   5u      /* refusals printed to stderr */
#define LOAD_IN_BUF             4096u   /* reply bytes held per session */
#define LOAD_TEXT_LIMIT         (64u * 1024u) /* up to this size: text/plain; above: a base64 attachment */
#define LOAD_B64_LINE           76u     /* RFC 2045 6.8 */
#define LOAD_SPREAD_FIRST       2u      /* --src-spread uses 127.0.0.2 ... */
#define LOAD_SPREAD_LAST        250u    /* ... 127.0.0.250 */
#define LOAD_MAX_CONN_FAILURES  100u    /* plus one per session: then give up */
#define LOAD_BOUNDARY           "=_smtp-load_7f3a9c"
#define LOAD_PROBE_GIVE_UP      2u      /* consecutive failed probes end the probing */
#define LOAD_MAX_MESSAGES       G_GINT64_CONSTANT (100000000) /* --min-seconds never goes past this */

typedef enum {
  ST_CONNECTING, ST_GREETING, ST_EHLO, ST_MAIL, ST_RCPT, ST_DATA, ST_BODY, ST_DOT,
  ST_RSET, ST_QUIT, ST_IDLE, ST_CLOSED
} State;

static const char *const state_names[] = {
  "connect", "greeting", "EHLO", "MAIL", "RCPT", "DATA", "body", "end of data",
  "RSET", "QUIT", "idle", "closed"
};

typedef struct {
  int fd;
  guint idx;
  State state;
  guint replies_due;            /* pipelined group: replies still to come */
  gboolean group_failed;        /* pipelined group: MAIL or RCPT refused */
  gint64 deadline;              /* reply (or write) must come before this */
  gint64 t_dot;                 /* the terminator's last byte went out */
  gint64 msg;                   /* current message, -1 for none */
  char in[LOAD_IN_BUF];
  gsize in_len;
  char *out;                    /* commands being sent (owned) */
  struct iovec iov[4];          /* pending output */
  int iovcnt;
  char hdr[640];
  gsize hdr_len;
} Session;

/* Options. */
static int opt_sessions = 1;
static gint64 opt_messages = 1000;
static char *opt_size = NULL;
static char *opt_from = NULL, *opt_to = NULL, *opt_helo = NULL, *opt_label = NULL;
static char *opt_progress = NULL;
static gboolean opt_pipelining = FALSE, opt_spread = FALSE, opt_no_spread = FALSE;
static int opt_timeout = 120;
static double opt_min_seconds = 0;     /* keep sending past M until this long has passed */
static int opt_idle = 0, opt_idle_hold = 600, opt_idle_probes = 5, opt_idle_batch = 256;
static int opt_idle_open_timeout = 120;

/* The run. */
static struct sockaddr_storage target;
static socklen_t target_len;
static gboolean target_loopback;
static int epfd = -1;
static Session *sessions;
static guint n_sessions;
static gint64 next_msg, msg_size;
static char *body;                      /* shared by every message: header is per message */
static gsize body_len;
static char date_hdr[64];
static gint64 run_id;
static guint32 *latency_us;             /* per message, UINT32_MAX = no final reply */
static gint64 latency_cap;              /* entries allocated in latency_us */
static gint64 run_start;                /* monotonic start of the load */
static gboolean give_up;                /* too many connection failures: start nothing new */
static guint64 n_ok, n_err, n_conn_fail, bytes_ok;
static guint errors_shown;
static volatile sig_atomic_t stop_requested;

/* now_us - monotonic clock in microseconds. */
static gint64
now_us (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

/* parse_size - "4096", "4K", "100KB", "10M" (powers of 1000; KiB/MiB for 1024). */
static gint64
parse_size (const char *s)
{
  char *end;
  gint64 v = g_ascii_strtoll (s, &end, 10);
  if (end == s || v <= 0)
    return -1;
  if (*end == '\0')
    return v;
  gint64 unit = 0;
  if (g_ascii_toupper (*end) == 'K')
    unit = 1000;
  else if (g_ascii_toupper (*end) == 'M')
    unit = 1000 * 1000;
  else
    return -1;
  end++;
  if (g_ascii_strcasecmp (end, "iB") == 0)
    unit = unit == 1000 ? 1024 : 1024 * 1024;
  else if (*end != '\0' && g_ascii_strcasecmp (end, "B") != 0)
    return -1;
  return v * unit;
}

/* header_for - the per-message header (unique Message-ID) into buf. */
static gsize
header_for (char *buf, gsize size, gint64 msg)
{
  const char *ctype = msg_size > LOAD_TEXT_LIMIT
    ? "Content-Type: multipart/mixed; boundary=\"" LOAD_BOUNDARY "\"\r\n"
    : "Content-Type: text/plain; charset=us-ascii\r\n"
      "Content-Transfer-Encoding: 7bit\r\n";
  int n = g_snprintf (buf, size,
                      "Date: %s\r\n"
                      "From: Load Generator <%s>\r\n"
                      "To: <%s>\r\n"
                      "Subject: smtp-load message %" G_GINT64_FORMAT "\r\n"
                      "Message-ID: <%" G_GINT64_FORMAT ".%d.%" G_GINT64_FORMAT "@smtp-load.example.test>\r\n"
                      "MIME-Version: 1.0\r\n"
                      "%s"
                      "\r\n",
                      date_hdr, opt_from, opt_to, msg, run_id, (int) getpid (), msg, ctype);
  return (gsize) n;
}

/* make_body - the body shared by every message, so that header + body = S:
 * 78-octet text lines up to LOAD_TEXT_LIMIT, above it a short text part and a
 * base64 attachment (random data in 76-character lines). */
static void
make_body (void)
{
  char probe[640];
  gsize hlen = header_for (probe, sizeof probe, opt_messages / 2);
  gsize want = msg_size > (gint64) hlen + 80 ? (gsize) msg_size - hlen : 80;
  GString *b = g_string_sized_new (want + 256);
  guint32 x = 2463534242u;      /* xorshift32: the same filler every run */

  if (msg_size <= LOAD_TEXT_LIMIT)
    {
      static const char text[] = "The quick brown fox jumps over the lazy dog; pack my box with five dozen";
      for (guint line = 1; b->len + 2 < want; line++)
        {
          gsize n = MIN (want - b->len - 2, 76);
          g_autofree char *l = g_strdup_printf ("%06u %s", line, text);
          g_string_append_len (b, l, (gssize) MIN (n, strlen (l)));
          g_string_append (b, "\r\n");
        }
    }
  else
    {
      static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
      static const char tail[] = "--" LOAD_BOUNDARY "--\r\n";
      g_string_append (b, "This is a multi-part message in MIME format.\r\n"
                          "--" LOAD_BOUNDARY "\r\n"
                          "Content-Type: text/plain; charset=us-ascii\r\n"
                          "Content-Transfer-Encoding: 7bit\r\n"
                          "\r\n"
                          "Hello, the data you asked for is attached.\r\n"
                          "\r\n"
                          "--" LOAD_BOUNDARY "\r\n"
                          "Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
                          "Content-Disposition: attachment; filename=\"data.bin\"\r\n"
                          "Content-Transfer-Encoding: base64\r\n"
                          "\r\n");
      gsize end = want > b->len + strlen (tail) + 6 ? want - strlen (tail) : b->len + 6;
      while (b->len + 6 <= end)
        {
          gsize n = MIN ((end - b->len - 2) / 4 * 4, LOAD_B64_LINE);
          for (gsize i = 0; i < n; i++)
            {
              x ^= x << 13, x ^= x >> 17, x ^= x << 5;
              g_string_append_c (b, alphabet[x & 63]);
            }
          g_string_append (b, "\r\n");
        }
      g_string_append (b, tail);
    }
  body_len = b->len;
  body = g_string_free (b, FALSE);
}

/* show_error - count a refused or failed message, and print the first few. */
static void
show_error (Session *s, const char *what)
{
  n_err++;
  if (errors_shown++ < LOAD_MAX_ERRORS_SHOWN)
    g_printerr ("smtp-load: session %u, message %" G_GINT64_FORMAT ", at %s: %s\n",
                s->idx, s->msg, state_names[s->state], what);
}

static void session_connect (Session *s);
static gint64 now_us (void);

/* more_to_send - whether another message should be started: until M have
 * been, and with --min-seconds until that long has passed as well. */
static gboolean
more_to_send (void)
{
  if (give_up || stop_requested)
    return FALSE;
  if (next_msg < opt_messages)
    return TRUE;
  return opt_min_seconds > 0 && next_msg < LOAD_MAX_MESSAGES
         && now_us () - run_start < (gint64) (opt_min_seconds * G_USEC_PER_SEC);
}

/* latency_room - make latency_us hold message msg. */
static void
latency_room (gint64 msg)
{
  if (msg < latency_cap)
    return;
  gint64 cap = MAX (latency_cap * 2, msg + 1);
  latency_us = g_renew (guint32, latency_us, cap);
  for (gint64 i = latency_cap; i < cap; i++)
    latency_us[i] = G_MAXUINT32;
  latency_cap = cap;
}

/* session_close - drop the connection; start another while messages remain. */
static void
session_close (Session *s, gboolean reconnect)
{
  if (s->fd >= 0)
    close (s->fd);
  s->fd = -1;
  g_clear_pointer (&s->out, g_free);
  s->iovcnt = 0;
  s->in_len = 0;
  s->state = ST_CLOSED;
  if (reconnect && !opt_idle && more_to_send ())
    {
      if (++n_conn_fail > LOAD_MAX_CONN_FAILURES + n_sessions)
        {
          g_printerr ("smtp-load: %" G_GUINT64_FORMAT " connection failures, giving up\n", n_conn_fail);
          give_up = TRUE;               /* let the others finish */
          return;
        }
      session_connect (s);
    }
}

/* session_broken - the connection failed: count it against the message in
 * flight (or the connection), then close and maybe reconnect. */
static void
session_broken (Session *s, const char *why)
{
  if (s->msg >= 0 && s->state >= ST_MAIL && s->state <= ST_DOT)
    show_error (s, why);
  else if (s->state != ST_QUIT && s->state != ST_IDLE)
    {
      n_conn_fail++;
      if (errors_shown++ < LOAD_MAX_ERRORS_SHOWN)
        g_printerr ("smtp-load: session %u at %s: %s\n", s->idx, state_names[s->state], why);
    }
  session_close (s, s->state != ST_QUIT && s->state != ST_IDLE);
}

/* session_flush - write pending output; FALSE (errno set) if the connection broke. */
static gboolean
session_flush (Session *s)
{
  while (s->iovcnt > 0)
    {
      ssize_t n = writev (s->fd, s->iov, s->iovcnt);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          if (errno == EAGAIN)
            return TRUE;
          return FALSE;
        }
      while (n > 0 && s->iovcnt > 0)
        {
          if ((size_t) n >= s->iov[0].iov_len)
            {
              n -= (ssize_t) s->iov[0].iov_len;
              memmove (s->iov, s->iov + 1, sizeof s->iov[0] * (size_t) --s->iovcnt);
            }
          else
            {
              s->iov[0].iov_base = (char *) s->iov[0].iov_base + n;
              s->iov[0].iov_len -= (size_t) n;
              n = 0;
            }
        }
    }
  g_clear_pointer (&s->out, g_free);
  if (s->state == ST_BODY)
    {
      s->t_dot = now_us ();
      s->state = ST_DOT;
    }
  s->deadline = now_us () + (gint64) opt_timeout * G_USEC_PER_SEC;
  return TRUE;
}

/* session_send - queue a command string (transfer full) and start sending it;
 * FALSE if the session broke (and was closed). */
static gboolean
session_send (Session *s, char *cmd)
{
  s->out = cmd;
  s->iov[0].iov_base = cmd;
  s->iov[0].iov_len = strlen (cmd);
  s->iovcnt = 1;
  if (session_flush (s))
    return TRUE;
  session_broken (s, g_strerror (errno));
  return FALSE;
}

/* session_next - start the next transaction, or QUIT when none is left. */
static gboolean
session_next (Session *s)
{
  if (!more_to_send ())
    {
      s->msg = -1;
      s->state = ST_QUIT;
      return session_send (s, g_strdup ("QUIT\r\n"));
    }
  s->msg = next_msg++;
  latency_room (s->msg);
  s->state = ST_MAIL;
  if (opt_pipelining)
    {
      s->replies_due = 3;
      s->group_failed = FALSE;
      return session_send (s, g_strdup_printf ("MAIL FROM:<%s> SIZE=%" G_GINT64_FORMAT "\r\n"
                                               "RCPT TO:<%s>\r\nDATA\r\n",
                                               opt_from, msg_size, opt_to));
    }
  return session_send (s, g_strdup_printf ("MAIL FROM:<%s> SIZE=%" G_GINT64_FORMAT "\r\n",
                                           opt_from, msg_size));
}

/* session_body - send header, shared body and the terminator. */
static gboolean
session_body (Session *s)
{
  s->hdr_len = header_for (s->hdr, sizeof s->hdr, s->msg);
  s->iov[0] = (struct iovec) { s->hdr, s->hdr_len };
  s->iov[1] = (struct iovec) { body, body_len };
  s->iov[2] = (struct iovec) { (char *) ".\r\n", 3 };
  s->iovcnt = 3;
  s->state = ST_BODY;
  if (session_flush (s))
    return TRUE;
  session_broken (s, g_strerror (errno));
  return FALSE;
}

/* session_reply - one complete reply; FALSE if the session is gone. */
static gboolean
session_reply (Session *s, int code, const char *text)
{
  switch (s->state)
    {
    case ST_GREETING:
      if (code != 220)
        {
          n_conn_fail++;
          if (errors_shown++ < LOAD_MAX_ERRORS_SHOWN)
            g_printerr ("smtp-load: session %u greeting: %s\n", s->idx, text);
          session_close (s, TRUE);
          return FALSE;
        }
      s->state = ST_EHLO;
      return session_send (s, g_strdup_printf ("EHLO %s\r\n", opt_helo));
    case ST_EHLO:
      if (code != 250)
        {
          n_conn_fail++;
          if (errors_shown++ < LOAD_MAX_ERRORS_SHOWN)
            g_printerr ("smtp-load: session %u EHLO: %s\n", s->idx, text);
          session_close (s, TRUE);
          return FALSE;
        }
      if (opt_idle)
        {
          s->state = ST_IDLE;
          return TRUE;
        }
      return session_next (s);
    case ST_MAIL:
    case ST_RCPT:
    case ST_DATA:
      if (opt_pipelining)
        {
          s->replies_due--;
          if (s->replies_due > 0)               /* MAIL or RCPT */
            {
              if (code != 250 && !s->group_failed)
                {
                  s->group_failed = TRUE;
                  show_error (s, text);
                }
              s->state = s->replies_due == 2 ? ST_RCPT : ST_DATA;
              return TRUE;
            }
          if (code == 354 && !s->group_failed)
            return session_body (s);
          if (!s->group_failed)
            show_error (s, text);
          if (code == 354)                      /* empty message, then RSET */
            {
              s->state = ST_RSET;
              s->replies_due = 2;
              return session_send (s, g_strdup (".\r\nRSET\r\n"));
            }
          s->state = ST_RSET;
          s->replies_due = 1;
          return session_send (s, g_strdup ("RSET\r\n"));
        }
      if (code != (s->state == ST_DATA ? 354 : 250))
        {
          show_error (s, text);
          s->state = ST_RSET;
          s->replies_due = 1;
          return session_send (s, g_strdup ("RSET\r\n"));
        }
      if (s->state == ST_MAIL)
        {
          s->state = ST_RCPT;
          return session_send (s, g_strdup_printf ("RCPT TO:<%s>\r\n", opt_to));
        }
      if (s->state == ST_RCPT)
        {
          s->state = ST_DATA;
          return session_send (s, g_strdup ("DATA\r\n"));
        }
      return session_body (s);
    case ST_DOT:
      {
        gint64 lat = now_us () - s->t_dot;
        if (code == 250)
          {
            latency_us[s->msg] = (guint32) MIN (lat, (gint64) G_MAXUINT32 - 1);
            n_ok++;
            bytes_ok += s->hdr_len + body_len;
          }
        else
          show_error (s, text);
        return session_next (s);
      }
    case ST_RSET:
      if (s->replies_due > 1)
        {
          s->replies_due--;
          return TRUE;
        }
      return session_next (s);
    case ST_QUIT:
      session_close (s, FALSE);
      return FALSE;
    case ST_IDLE:
      if (code == 421)                          /* the server timed us out */
        {
          session_close (s, FALSE);
          return FALSE;
        }
      return TRUE;
    case ST_BODY:
    case ST_CONNECTING:
    case ST_CLOSED:
    default:
      show_error (s, "reply out of turn");
      session_close (s, TRUE);
      return FALSE;
    }
}

/* session_read - read and dispatch complete replies; FALSE if it is gone. */
static gboolean
session_read (Session *s)
{
  for (;;)
    {
      ssize_t n = read (s->fd, s->in + s->in_len, sizeof s->in - 1 - s->in_len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return TRUE;
      if (n <= 0)
        {
          session_broken (s, n == 0 ? "connection closed by server" : g_strerror (errno));
          return FALSE;
        }
      s->in_len += (gsize) n;
      s->in[s->in_len] = '\0';

      /* Complete lines; a reply ends at "DDD " or "DDD\r\n" (RFC 5321 4.2.1). */
      char *line = s->in, *eol;
      while ((eol = strstr (line, "\r\n")) != NULL)
        {
          *eol = '\0';
          gboolean last = strlen (line) < 4 || line[3] == ' ';
          if (last)
            {
              int code = g_ascii_isdigit (line[0]) ? atoi (line) : 0;
              if (!session_reply (s, code, line))
                return FALSE;
            }
          line = eol + 2;
        }
      gsize rest = s->in_len - (gsize) (line - s->in);
      memmove (s->in, line, rest);
      s->in_len = rest;
      if (s->in_len >= sizeof s->in - 1)         /* an absurd line: keep the tail */
        s->in_len = 0;
    }
}

/* spread_source - bind to 127.0.0.(2..250) by index, to stay under per-IP limits. */
static void
spread_source (int fd, guint idx)
{
  struct sockaddr_in src = { .sin_family = AF_INET };
  int one = 1;
  src.sin_addr.s_addr = htonl ((127u << 24) | (LOAD_SPREAD_FIRST + idx % (LOAD_SPREAD_LAST - LOAD_SPREAD_FIRST + 1)));
  setsockopt (fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  if (bind (fd, (struct sockaddr *) &src, sizeof src) < 0)
    g_printerr ("smtp-load: bind source: %s\n", g_strerror (errno));
}

/* session_connect - start a non-blocking connect; the loop sees it finish. */
static void
session_connect (Session *s)
{
  int one = 1;
  s->fd = socket (target.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s->fd < 0)
    {
      g_printerr ("smtp-load: socket: %s\n", g_strerror (errno));
      n_conn_fail++;
      s->state = ST_CLOSED;
      return;
    }
  setsockopt (s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if ((opt_spread || (opt_idle && !opt_no_spread)) && target_loopback)
    spread_source (s->fd, s->idx);
  s->state = ST_CONNECTING;
  s->msg = -1;
  s->in_len = 0;
  s->deadline = now_us () + (gint64) opt_timeout * G_USEC_PER_SEC;
  if (connect (s->fd, (struct sockaddr *) &target, target_len) < 0 && errno != EINPROGRESS)
    {
      if (errors_shown++ < LOAD_MAX_ERRORS_SHOWN)
        g_printerr ("smtp-load: connect: %s\n", g_strerror (errno));
      n_conn_fail++;
      close (s->fd);
      s->fd = -1;
      s->state = ST_CLOSED;
      return;
    }
  struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = s };
  epoll_ctl (epfd, EPOLL_CTL_ADD, s->fd, &ev);
}

/* session_event - one epoll event for s. */
static void
session_event (Session *s, guint32 events)
{
  if (s->fd < 0)
    return;
  if (s->state == ST_CONNECTING)
    {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt (s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0 || (events & (EPOLLERR | EPOLLHUP)))
        {
          if (errors_shown++ < LOAD_MAX_ERRORS_SHOWN)
            g_printerr ("smtp-load: connect: %s\n", g_strerror (err ? err : ECONNRESET));
          n_conn_fail++;
          session_close (s, TRUE);
          return;
        }
      if (!(events & (EPOLLOUT | EPOLLIN)))
        return;
      s->state = ST_GREETING;
    }
  if ((events & EPOLLOUT) && s->iovcnt > 0 && !session_flush (s))
    {
      session_broken (s, g_strerror (errno));
      return;
    }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))
    session_read (s);
}

/* check_deadlines - time out sessions waiting too long. */
static void
check_deadlines (gint64 now)
{
  for (guint i = 0; i < n_sessions; i++)
    {
      Session *s = &sessions[i];
      if (s->fd < 0 || s->state == ST_IDLE || now < s->deadline)
        continue;
      if (s->msg >= 0)
        show_error (s, "timed out");
      else
        {
          n_conn_fail++;
          if (errors_shown++ < LOAD_MAX_ERRORS_SHOWN)
            g_printerr ("smtp-load: session %u timed out at %s\n", s->idx, state_names[s->state]);
        }
      session_close (s, TRUE);
    }
}

/* write_progress - "seconds done ok errors" into --progress FILE, atomically. */
static void
write_progress (gint64 start)
{
  if (opt_progress == NULL)
    return;
  g_autofree char *tmp = g_strconcat (opt_progress, ".tmp", NULL);
  g_autofree char *text = g_strdup_printf ("%.1f %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT "\n",
                                           (now_us () - start) / 1e6, n_ok + n_err, n_ok, n_err);
  if (g_file_set_contents (tmp, text, -1, NULL))
    rename (tmp, opt_progress);
}

static int
cmp_u32 (const void *a, const void *b)
{
  guint32 x = *(const guint32 *) a, y = *(const guint32 *) b;
  return x < y ? -1 : x > y;
}

/* percentile - p-th percentile (nearest rank) of sorted v[0..n), in ms. */
static double
percentile (const guint32 *v, gsize n, double p)
{
  if (n == 0)
    return 0;
  gsize rank = (gsize) (p / 100.0 * (double) n + 0.999999);
  rank = CLAMP (rank, 1, n);
  return v[rank - 1] / 1000.0;
}

/* run_load - the message load; returns the exit status. */
static int
run_load (void)
{
  latency_room (opt_messages - 1);
  struct rusage ru0, ru1;
  getrusage (RUSAGE_SELF, &ru0);
  gint64 start = now_us (), last_progress = start;
  run_start = start;

  for (guint i = 0; i < n_sessions; i++)
    session_connect (&sessions[i]);

  struct epoll_event events[256];
  for (;;)
    {
      guint live = 0;
      for (guint i = 0; i < n_sessions; i++)
        live += sessions[i].fd >= 0;
      if (live == 0)
        break;
      int n = epoll_wait (epfd, events, G_N_ELEMENTS (events), 100);
      for (int i = 0; i < n; i++)
        session_event (events[i].data.ptr, events[i].events);
      gint64 now = now_us ();
      check_deadlines (now);
      if (now - last_progress >= G_USEC_PER_SEC)
        {
          write_progress (start);
          last_progress = now;
        }
    }
  double secs = (now_us () - start) / 1e6;
  getrusage (RUSAGE_SELF, &ru1);
  write_progress (start);
  double cpu = (ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) + (ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6
             + (ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) + (ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;

  gsize n = 0;
  gint64 sent = next_msg;
  for (gint64 i = 0; i < sent; i++)
    if (latency_us[i] != G_MAXUINT32)
      latency_us[n++] = latency_us[i];
  qsort (latency_us, n, sizeof latency_us[0], cmp_u32);
  double mean = 0;
  for (gsize i = 0; i < n; i++)
    mean += latency_us[i] / 1000.0;
  mean = n ? mean / (double) n : 0;

  g_print ("RESULT mode=load label=%s sessions=%u size=%" G_GINT64_FORMAT " pipelining=%d messages=%" G_GINT64_FORMAT
           " ok=%" G_GUINT64_FORMAT " errors=%" G_GUINT64_FORMAT " conn_failures=%" G_GUINT64_FORMAT
           " seconds=%.3f msgs_per_s=%.1f mb_per_s=%.2f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f"
           " mean_ms=%.3f client_cpu_s=%.2f bytes_per_msg=%.0f\n",
           opt_label ? opt_label : "-", n_sessions, msg_size, opt_pipelining, sent,
           n_ok, n_err, n_conn_fail, secs, n_ok / secs, bytes_ok / 1e6 / secs,
           percentile (latency_us, n, 50), percentile (latency_us, n, 90),
           percentile (latency_us, n, 99), n ? latency_us[n - 1] / 1000.0 : 0.0, mean, cpu,
           n_ok ? (double) bytes_ok / n_ok : 0.0);
  return n_err == 0 && n_ok == (guint64) sent && sent >= opt_messages ? 0 : 1;
}

/* probe_reply - read one whole reply on a blocking socket: its code, or -1;
 * the last line goes into last. */
static int
probe_reply (int fd, char *buf, gsize size, gsize *len, char *last, gsize last_size)
{
  for (;;)
    {
      char *line = buf, *eol;
      buf[*len] = '\0';
      while ((eol = strstr (line, "\r\n")) != NULL)
        {
          if (eol - line < 4 || line[3] == ' ')
            {
              *eol = '\0';
              g_strlcpy (last, line, last_size);
              int code = atoi (line);
              gsize used = (gsize) (eol + 2 - buf);
              memmove (buf, eol + 2, *len - used);
              *len -= used;
              return code;
            }
          line = eol + 2;
        }
      if (*len >= size - 1)
        *len = 0;
      ssize_t n = read (fd, buf + *len, size - 1 - *len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          g_strlcpy (last, n == 0 ? "connection closed" : errno == EAGAIN ? "timed out" : g_strerror (errno),
                     last_size);
          return -1;
        }
      *len += (gsize) n;
    }
}

/* probe_write - write all of buf on a blocking socket. */
static gboolean
probe_write (int fd, const char *buf, gsize len, char *last, gsize last_size)
{
  while (len > 0)
    {
      ssize_t n = write (fd, buf, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          g_strlcpy (last, errno == EAGAIN ? "write timed out" : g_strerror (errno), last_size);
          return FALSE;
        }
      buf += n;
      len -= (gsize) n;
    }
  return TRUE;
}

/* probe_once - one whole transaction on a new connection, timed from connect
 * and from the end of data; FALSE with why set if it did not get its 250. */
static gboolean
probe_once (gint64 msg, double *total_ms, double *dot_ms, char *why, gsize why_size)
{
  char buf[4096], last[512] = "", cmd[640];
  gsize len = 0, hlen;
  struct timeval tv = { .tv_sec = opt_timeout };
  gint64 t0 = now_us (), t_dot;
  int fd = socket (target.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
  const char *stage = "connect";

  if (fd < 0)
    {
      g_snprintf (why, why_size, "socket: %s", g_strerror (errno));
      return FALSE;
    }
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);   /* or Nagle holds back ".\r\n" */
  if (connect (fd, (struct sockaddr *) &target, target_len) < 0)
    {
      g_strlcpy (last, errno == EINPROGRESS ? "timed out" : g_strerror (errno), sizeof last);
      goto fail;
    }
  stage = "greeting";
  if (probe_reply (fd, buf, sizeof buf, &len, last, sizeof last) != 220)
    goto fail;
  stage = "EHLO";
  g_snprintf (cmd, sizeof cmd, "EHLO %s\r\n", opt_helo);
  if (!probe_write (fd, cmd, strlen (cmd), last, sizeof last)
      || probe_reply (fd, buf, sizeof buf, &len, last, sizeof last) != 250)
    goto fail;
  stage = "MAIL";
  g_snprintf (cmd, sizeof cmd, "MAIL FROM:<%s>\r\n", opt_from);
  if (!probe_write (fd, cmd, strlen (cmd), last, sizeof last)
      || probe_reply (fd, buf, sizeof buf, &len, last, sizeof last) != 250)
    goto fail;
  stage = "RCPT";
  g_snprintf (cmd, sizeof cmd, "RCPT TO:<%s>\r\n", opt_to);
  if (!probe_write (fd, cmd, strlen (cmd), last, sizeof last)
      || probe_reply (fd, buf, sizeof buf, &len, last, sizeof last) != 250)
    goto fail;
  stage = "DATA";
  if (!probe_write (fd, "DATA\r\n", 6, last, sizeof last)
      || probe_reply (fd, buf, sizeof buf, &len, last, sizeof last) != 354)
    goto fail;
  stage = "end of data";
  hlen = header_for (cmd, sizeof cmd, msg);
  if (!probe_write (fd, cmd, hlen, last, sizeof last) || !probe_write (fd, body, body_len, last, sizeof last)
      || !probe_write (fd, ".\r\n", 3, last, sizeof last))
    goto fail;
  t_dot = now_us ();
  if (probe_reply (fd, buf, sizeof buf, &len, last, sizeof last) != 250)
    goto fail;
  *dot_ms = (now_us () - t_dot) / 1000.0;
  *total_ms = (now_us () - t0) / 1000.0;
  probe_write (fd, "QUIT\r\n", 6, last, sizeof last);
  close (fd);
  return TRUE;

fail:
  g_snprintf (why, why_size, "%s after %.1f ms: %s", stage, (now_us () - t0) / 1000.0, last);
  close (fd);
  return FALSE;
}

static void
on_signal (int sig)
{
  stop_requested = 1;
}

/* run_idle - open --idle sessions, probe, hold them; returns the exit status. */
static int
run_idle (void)
{
  struct epoll_event events[256];
  gint64 start = now_us (), open_deadline = start + (gint64) opt_idle_open_timeout * G_USEC_PER_SEC;
  guint started = 0;
  gboolean gave_up = FALSE;

  /* Open phase: at most --idle-batch sessions between connect and EHLO reply. */
  for (;;)
    {
      guint pending = 0, idle = 0;
      for (guint i = 0; i < started; i++)
        {
          pending += sessions[i].fd >= 0 && sessions[i].state != ST_IDLE;
          idle += sessions[i].state == ST_IDLE;
        }
      while (started < n_sessions && pending < (guint) opt_idle_batch && !stop_requested && !gave_up)
        {
          session_connect (&sessions[started++]);
          pending++;
        }
      if ((started == n_sessions || gave_up) && pending == 0)
        break;
      if (stop_requested)
        break;
      gint64 now = now_us ();
      if (now > open_deadline && !gave_up)
        {
          g_printerr ("smtp-load: open phase over after %d s: %u idle, %u pending\n",
                      opt_idle_open_timeout, idle, pending);
          gave_up = TRUE;
          for (guint i = 0; i < started; i++)
            if (sessions[i].fd >= 0 && sessions[i].state != ST_IDLE)
              {
                n_conn_fail++;
                session_close (&sessions[i], FALSE);
              }
          continue;
        }
      int n = epoll_wait (epfd, events, G_N_ELEMENTS (events), 100);
      for (int i = 0; i < n; i++)
        session_event (events[i].data.ptr, events[i].events);
      check_deadlines (now_us ());
    }
  double open_secs = (now_us () - start) / 1e6;
  guint idle = 0;
  for (guint i = 0; i < n_sessions; i++)
    idle += sessions[i].state == ST_IDLE;
  g_print ("IDLE-OPEN requested=%u idle=%u failed=%" G_GUINT64_FORMAT " not_tried=%u seconds=%.2f\n",
           n_sessions, idle, n_conn_fail, n_sessions - started, open_secs);

  /* Probes: whole transactions on new connections while the idle ones stay open. */
  GArray *total = g_array_new (FALSE, FALSE, sizeof (double));
  GArray *dot = g_array_new (FALSE, FALSE, sizeof (double));
  guint probe_fail = 0, fail_run = 0;
  for (int p = 0; p < opt_idle_probes && !stop_requested && fail_run < LOAD_PROBE_GIVE_UP; p++)
    {
      double t_ms = 0, d_ms = 0;
      char why[512];
      if (probe_once (opt_messages + p, &t_ms, &d_ms, why, sizeof why))
        {
          g_array_append_val (total, t_ms);
          g_array_append_val (dot, d_ms);
          fail_run = 0;
        }
      else
        {
          probe_fail++;
          fail_run++;
          g_printerr ("smtp-load: probe %d: %s\n", p, why);
        }
    }
  double tsum = 0, tmax = 0, dmax = 0, dsum = 0;
  for (guint i = 0; i < total->len; i++)
    {
      tsum += g_array_index (total, double, i);
      dsum += g_array_index (dot, double, i);
      tmax = MAX (tmax, g_array_index (total, double, i));
      dmax = MAX (dmax, g_array_index (dot, double, i));
    }
  /* Sessions still idle after the probes (the server may have dropped some). */
  idle = 0;
  for (guint i = 0; i < n_sessions; i++)
    {
      if (sessions[i].state == ST_IDLE)
        session_read (&sessions[i]);
      idle += sessions[i].state == ST_IDLE;
    }
  g_print ("RESULT mode=idle label=%s requested=%u idle=%u open_seconds=%.2f probes=%d probe_ok=%u"
           " probe_failed=%u probe_mean_ms=%.2f probe_max_ms=%.2f probe_dot_mean_ms=%.2f probe_dot_max_ms=%.2f\n",
           opt_label ? opt_label : "-", n_sessions, idle, open_secs, total->len + probe_fail, total->len, probe_fail,
           total->len ? tsum / total->len : -1.0, total->len ? tmax : -1.0,
           total->len ? dsum / total->len : -1.0, total->len ? dmax : -1.0);
  g_print ("READY\n");
  fflush (stdout);

  /* Hold until a signal, stdin closing, or --idle-hold seconds. */
  gint64 hold_start = now_us (), hold_end = hold_start + (gint64) opt_idle_hold * G_USEC_PER_SEC;
  struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = NULL };
  gboolean watch_stdin = epoll_ctl (epfd, EPOLL_CTL_ADD, 0, &ev) == 0;
  while (!stop_requested && now_us () < hold_end)
    {
      int n = epoll_wait (epfd, events, G_N_ELEMENTS (events), 500);
      for (int i = 0; i < n; i++)
        {
          if (events[i].data.ptr == NULL)
            {
              char c[256];
              if (read (0, c, sizeof c) <= 0 && watch_stdin)
                stop_requested = 1;
              continue;
            }
          session_event (events[i].data.ptr, events[i].events);
        }
    }
  idle = 0;
  for (guint i = 0; i < n_sessions; i++)
    idle += sessions[i].state == ST_IDLE;
  g_print ("IDLE-END still_idle=%u held_seconds=%.1f\n", idle, (now_us () - hold_start) / 1e6);
  g_array_free (total, TRUE);
  g_array_free (dot, TRUE);
  return probe_fail == 0 && idle == n_sessions ? 0 : 1;
}

/* resolve - HOST:PORT (or [v6]:PORT) into target. */
static gboolean
resolve (const char *spec)
{
  g_autofree char *host = NULL;
  const char *colon = strrchr (spec, ':');
  if (colon == NULL)
    return FALSE;
  host = spec[0] == '[' ? g_strndup (spec + 1, (gsize) (colon - spec - 2)) : g_strndup (spec, (gsize) (colon - spec));
  struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
  if (getaddrinfo (host, colon + 1, &hints, &res) != 0)
    return FALSE;
  memcpy (&target, res->ai_addr, res->ai_addrlen);
  target_len = res->ai_addrlen;
  target_loopback = res->ai_family == AF_INET
    && (ntohl (((struct sockaddr_in *) res->ai_addr)->sin_addr.s_addr) >> 24) == 127;
  freeaddrinfo (res);
  return TRUE;
}

int
main (int argc, char **argv)
{
  const GOptionEntry entries[] = {
    { "sessions", 's', 0, G_OPTION_ARG_INT, &opt_sessions, "Concurrent sessions (default 1)", "N" },
    { "messages", 'm', 0, G_OPTION_ARG_INT64, &opt_messages, "Messages in all (default 1000); with --min-seconds at least this many", "M" },
    { "min-seconds", 'D', 0, G_OPTION_ARG_DOUBLE, &opt_min_seconds, "Keep starting messages until this many seconds have passed too", "S" },
    { "size", 'z', 0, G_OPTION_ARG_STRING, &opt_size, "Message size, header included: 4096, 4K, 100K, 10M (default 4K)", "S" },
    { "pipelining", 'P', 0, G_OPTION_ARG_NONE, &opt_pipelining, "Send MAIL, RCPT and DATA as one group (RFC 2920)", NULL },
    { "from", 'f', 0, G_OPTION_ARG_STRING, &opt_from, "Envelope and header sender", "ADDR" },
    { "to", 't', 0, G_OPTION_ARG_STRING, &opt_to, "Envelope and header recipient", "ADDR" },
    { "helo", 0, 0, G_OPTION_ARG_STRING, &opt_helo, "EHLO name", "NAME" },
    { "label", 'L', 0, G_OPTION_ARG_STRING, &opt_label, "Label copied into the RESULT line", "WORD" },
    { "src-spread", 0, 0, G_OPTION_ARG_NONE, &opt_spread, "Bind sessions to 127.0.0.2-250 (loopback targets)", NULL },
    { "no-src-spread", 0, 0, G_OPTION_ARG_NONE, &opt_no_spread, "In --idle mode, do not spread source addresses", NULL },
    { "timeout", 'T', 0, G_OPTION_ARG_INT, &opt_timeout, "Seconds to wait for any reply (default 120)", "SECS" },
    { "progress", 0, 0, G_OPTION_ARG_FILENAME, &opt_progress, "Write \"seconds done ok errors\" here every second", "FILE" },
    { "idle", 0, 0, G_OPTION_ARG_INT, &opt_idle, "Open N idle sessions (greeting, EHLO), then probe", "N" },
    { "idle-hold", 0, 0, G_OPTION_ARG_INT, &opt_idle_hold, "Keep idle sessions this long at most (default 600)", "SECS" },
    { "idle-probes", 0, 0, G_OPTION_ARG_INT, &opt_idle_probes, "Transactions timed on new connections (default 5)", "K" },
    { "idle-batch", 0, 0, G_OPTION_ARG_INT, &opt_idle_batch, "Sessions opening at once (default 256)", "N" },
    { "idle-open-timeout", 0, 0, G_OPTION_ARG_INT, &opt_idle_open_timeout, "Give up opening after this (default 120)", "SECS" },
    { NULL }
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(GOptionContext) ctx = g_option_context_new ("HOST:PORT - SMTP load generator");
  g_option_context_set_summary (ctx, "Prints one line: RESULT mode=load|idle key=value ...; refusals go to stderr.\n"
                                     "Latency: from writing the last byte of \".\\r\\n\" to reading the final reply.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 2)
    {
      g_printerr ("smtp-load: %s\n", error ? error->message : "need exactly one HOST:PORT");
      return 2;
    }
  if (!resolve (argv[1]))
    {
      g_printerr ("smtp-load: cannot resolve %s\n", argv[1]);
      return 2;
    }
  msg_size = parse_size (opt_size ? opt_size : "4K");
  if (msg_size <= 0 || opt_sessions <= 0 || opt_messages <= 0 || opt_timeout <= 0)
    {
      g_printerr ("smtp-load: bad --size, --sessions, --messages or --timeout\n");
      return 2;
    }
  if (opt_from == NULL)
    opt_from = g_strdup ("load@example.test");
  if (opt_to == NULL)
    opt_to = g_strdup ("sink@example.test");
  if (opt_helo == NULL)
    opt_helo = g_strdup ("smtp-load.example.test");

  /* More descriptors than sessions; root may raise the hard limit too. */
  struct rlimit rl;
  rlim_t want = (rlim_t) (opt_idle > 0 ? opt_idle : opt_sessions) + 64;
  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want)
    {
      rl.rlim_cur = rl.rlim_max < want ? want : rl.rlim_max;
      if (rl.rlim_max < want)
        rl.rlim_max = want;
      if (setrlimit (RLIMIT_NOFILE, &rl) != 0)
        g_printerr ("smtp-load: cannot raise RLIMIT_NOFILE to %lu: %s\n", (unsigned long) want, g_strerror (errno));
    }

  signal (SIGPIPE, SIG_IGN);
  struct sigaction sa = { .sa_handler = on_signal };
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGINT, &sa, NULL);

  time_t t = time (NULL);
  struct tm tm;
  gmtime_r (&t, &tm);
  static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
  static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
  g_snprintf (date_hdr, sizeof date_hdr, "%s, %02d %s %04d %02d:%02d:%02d +0000",   /* RFC 5322 3.3 */
              days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
              tm.tm_hour, tm.tm_min, tm.tm_sec);
  run_id = g_get_real_time ();
  if (opt_idle > 0)
    msg_size = MIN (msg_size, 4096);
  make_body ();

  epfd = epoll_create1 (EPOLL_CLOEXEC);
  n_sessions = (guint) (opt_idle > 0 ? opt_idle : opt_sessions);
  sessions = g_new0 (Session, n_sessions);
  for (guint i = 0; i < n_sessions; i++)
    {
      sessions[i].fd = -1;
      sessions[i].idx = i;
      sessions[i].msg = -1;
      sessions[i].state = ST_CLOSED;
    }
  return opt_idle > 0 ? run_idle () : run_load ();
}
