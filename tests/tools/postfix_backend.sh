#!/bin/bash
# postfix_backend.sh - a throwaway Postfix as spoolgate's next hop, with its
# own relay recipient table, for the issue-22 tests (the same set-up as
# /work/shared/anchors/postfix.sh, plus relay_domains and
# relay_recipient_maps). Needs root and the Debian package postfix.
#
#   postfix_backend.sh start DIR PORT RELAY_PORT USER...
#       listen on 127.0.0.1:PORT, relay example.org for the USERs listed to
#       [127.0.0.1]:RELAY_PORT; any other recipient gets Postfix's own
#       "550 5.1.1 <x>: Recipient address rejected: User unknown in relay
#       recipient table". Logs to DIR/log.
#   postfix_backend.sh stop DIR
set -euo pipefail
cmd=$1; dir=$2
case $cmd in
start)
  port=$3; relay=$4; shift 4
  mkdir -p "$dir/etc" "$dir/queue" "$dir/data"
  chown postfix:postfix "$dir/data"
  cp /usr/share/postfix/master.cf.dist "$dir/etc/master.cf.orig" 2>/dev/null || cp /etc/postfix/master.cf "$dir/etc/master.cf.orig"
  cp /etc/postfix/dynamicmaps.cf "$dir/etc/" 2>/dev/null || true
  awk -v port="$port" '
    /^#?postlog[ \t]/ { sub(/^#/, "") }
    /^smtp[ \t]+inet/ { $1 = "127.0.0.1:" port }
    /^[a-z0-9]/ && NF >= 8 { $5 = "n" }
    { print }' "$dir/etc/master.cf.orig" > "$dir/etc/master.cf"
  : > "$dir/etc/relay_recipients"
  for user in "$@"; do printf '%s x\n' "$user" >> "$dir/etc/relay_recipients"; done
  cat > "$dir/etc/main.cf" <<CF
compatibility_level = 3.6
myhostname = backend.example.test
queue_directory = $dir/queue
data_directory = $dir/data
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination =
relay_domains = example.org
relay_recipient_maps = hash:$dir/etc/relay_recipients
relayhost = [127.0.0.1]:$relay
smtpd_relay_restrictions = permit_mynetworks, reject
maillog_file = /dev/stdout
CF
  postmap -c "$dir/etc" "$dir/etc/relay_recipients"
  postfix -c "$dir/etc" check
  setsid postfix -c "$dir/etc" start-fg >"$dir/log" 2>&1 < /dev/null &
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then exit 0; fi
    sleep 0.1
  done
  echo "postfix did not start; see $dir/log" >&2; exit 1 ;;
stop)
  postfix -c "$dir/etc" stop >/dev/null 2>&1 || true ;;
*)
  sed -n '2,15p' "$0"; exit 2 ;;
esac
