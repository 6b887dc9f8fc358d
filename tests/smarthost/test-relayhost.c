/* test-relayhost.c - the [smarthost] host list: parsing (table-driven),
 * failover and round-robin order, cool-down, and bracketed or address
 * entries skipping the MX look-up. */
#include "smarthost/relayhost.h"

static SgRelayhosts *
relays (const char *host, const char *balance, const char *cooldown, GError **error)
{
  g_autoptr(SgConfig) c = sg_config_new ();
  g_assert_true (sg_config_set (c, "smarthost", "host", host, NULL));
  if (balance)
    g_assert_true (sg_config_set (c, "smarthost", "balance", balance, NULL));
  if (cooldown)
    g_assert_true (sg_config_set (c, "smarthost", "host_cooldown", cooldown, NULL));
  return sg_relayhosts_new (c, error);
}

/* plan_text - "name:port,name:port" of the next plan (transfer full). */
static char *
plan_text (SgRelayhosts *r)
{
  g_autoptr(GPtrArray) plan = sg_relayhosts_plan (r);
  g_autoptr(GString) s = g_string_new (NULL);
  for (guint i = 0; i < plan->len; i++)
    {
      const SgRelayEntry *e = g_ptr_array_index (plan, i);
      g_string_append_printf (s, "%s%s%s:%u", i ? "," : "", e->literal ? "=" : "", e->name, e->port);
    }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static void
test_parse (void)
{
  static const struct { const char *in, *want; } cases[] = {
    { "relay.example.com", "relay.example.com:25" },
    { "relay1.example.com, relay2.example.com:587, [192.0.2.7]",
      "relay1.example.com:25,relay2.example.com:587,=192.0.2.7:25" },
    { "[::1]:2525,127.0.0.1", "=::1:2525,127.0.0.1:25" },
    { " a , ,b ", "a:25,b:25" },
    { "::1", NULL },             /* IPv6 needs brackets */
    { "[relay", NULL },
    { "[]", NULL },
    { "relay:0", NULL },
    { "relay:65536", NULL },
    { "relay:x", NULL },
    { "[relay]x", NULL },
    { ",", NULL },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(SgRelayhosts) r = relays (cases[i].in, NULL, NULL, &error);
      g_autofree char *got = r ? plan_text (r) : NULL;
      if (g_strcmp0 (got, cases[i].want) != 0)
        g_error ("\"%s\": got %s, want %s (%s)", cases[i].in, got ? got : "an error",
                 cases[i].want ? cases[i].want : "an error", error ? error->message : "");
      if (!r)
        g_assert_true (g_str_has_prefix (error->message, "[smarthost] host: "));
    }
}

static void
test_order (void)
{
  g_autoptr(SgRelayhosts) f = relays ("a,b,c", NULL, NULL, NULL);
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *p = plan_text (f);
      g_assert_cmpstr (p, ==, "a:25,b:25,c:25");
    }
  g_autoptr(SgRelayhosts) rr = relays ("a,b,c", "round-robin", NULL, NULL);
  const char *want[] = { "a:25,b:25,c:25", "b:25,c:25,a:25", "c:25,a:25,b:25", "a:25,b:25,c:25" };
  for (guint i = 0; i < G_N_ELEMENTS (want); i++)
    {
      g_autofree char *p = plan_text (rr);
      g_assert_cmpstr (p, ==, want[i]);
    }
}

static void
test_cooldown (void)
{
  g_autoptr(SgRelayhosts) r = relays ("a,b", NULL, "600", NULL);
  g_autoptr(GPtrArray) plan = sg_relayhosts_plan (r);
  sg_relayhosts_cool_down (r, g_ptr_array_index (plan, 0));
  g_autofree char *p1 = plan_text (r);
  g_assert_cmpstr (p1, ==, "b:25");
  sg_relayhosts_cool_down (r, g_ptr_array_index (plan, 1));
  g_autofree char *p2 = plan_text (r);   /* all cooling: all tried */
  g_assert_cmpstr (p2, ==, "a:25,b:25");
  g_autoptr(SgRelayhosts) off = relays ("a,b", NULL, "0", NULL);
  g_autoptr(GPtrArray) plan2 = sg_relayhosts_plan (off);
  sg_relayhosts_cool_down (off, g_ptr_array_index (plan2, 0));
  g_autofree char *p3 = plan_text (off);
  g_assert_cmpstr (p3, ==, "a:25,b:25");
}

static void
test_targets (void)
{
  g_autoptr(SgRelayhosts) r = relays ("[relay.invalid]:587, 192.0.2.7", NULL, NULL, NULL);
  g_autoptr(GPtrArray) plan = sg_relayhosts_plan (r);
  for (guint i = 0; i < plan->len; i++)
    {
      g_autoptr(GPtrArray) t = sg_relay_entry_targets (g_ptr_array_index (plan, i));
      g_assert_cmpuint (t->len, ==, 1);
      SgRelayTarget *x = g_ptr_array_index (t, 0);
      g_assert_cmpstr (x->host, ==, i == 0 ? "relay.invalid" : "192.0.2.7");
      g_assert_cmpuint (x->port, ==, i == 0 ? 587 : 25);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/smarthost/relayhost/parse", test_parse);
  g_test_add_func ("/smarthost/relayhost/order", test_order);
  g_test_add_func ("/smarthost/relayhost/cooldown", test_cooldown);
  g_test_add_func ("/smarthost/relayhost/targets", test_targets);
  return g_test_run ();
}
