/* fuzz-smtp-session.c - libFuzzer target: arbitrary client bytes into an
 * SMTP session (command parser, verb table, DATA framing, pipelining). The
 * input is cut into chunks at 0xFF bytes, each fed as one read. Submitted
 * messages are answered at once, alternating 250 and 550. A chunk of the
 * single byte 0xFE toggles a client that stops reading its replies (the
 * reply bound and held input); 0xFD drains the session as a stopping
 * server does. At the end the client half-closes and reads everything. */
#include "smtp/session.h"

#include <gmime/gmime.h>
#include <string.h>

static guint submits;

static void
submit (SgSession *session, SgEnvelope *env, gpointer user_data)
{
  g_auto(SgReply) r = { 0 };
  sg_envelope_free (env);
  if (submits++ & 1)
    sg_reply_set (&r, 550, "5.6.0", NULL, "rejected");
  else
    sg_reply_set (&r, 250, "2.0.0", NULL, "Ok");
  sg_session_submit_done (session, &r);
}

static const SgSessionHooks hooks = { .submit = submit };

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  static SgConfig *config;
  if (!config)
    {
      config = sg_config_new ();
      sg_config_set (config, "server", "hostname", "fuzz.test", NULL);
      sg_config_set (config, "limits", "max_message_size", "65536", NULL);
      sg_config_set (config, "limits", "max_recipients", "5", NULL);
    }
  SgSession *s = sg_session_new (config, "192.0.2.1", 1, &hooks, NULL);
  sg_session_start (s);
  gsize start = 0;
  gboolean reading = TRUE;
  for (gsize i = 0; i <= size; i++)
    if (i == size || data[i] == 0xFF)
      {
        if (i - start == 1 && data[start] == 0xFE)
          reading = !reading;
        else if (i - start == 1 && data[start] == 0xFD)
          sg_session_drain (s);
        else if (sg_session_wants_input (s))
          sg_session_input (s, (const char *) data + start, i - start);
        if (reading)
          g_string_truncate (sg_session_output (s), 0);
        start = i + 1;
      }
  sg_session_eof (s);
  for (guint rounds = 0; rounds < 100000 && sg_session_has_held_input (s); rounds++)
    {
      g_string_truncate (sg_session_output (s), 0);
      sg_session_input (s, NULL, 0);
    }
  sg_session_free (s);
  return 0;
}
