#!/usr/bin/env bash
# Stock `openssl s_server` and `openssl s_client`, with a oneM2M PSK that
# `openssl kdf` derives through the onem2m provider: no project code takes
# part in the handshake, only the provider in the derivation.
#
#   examples/stock_openssl.sh [MODULES_DIR] [VERSION]
#
# MODULES_DIR holds onem2m.so (default: $OPENSSL_MODULES or build/modules);
# VERSION is the KDF version, 1 or 2 (stock tools use SHA-256 PSKs in
# TLS 1.3; version 3 needs a session file: see onem2m-psk derive).
#
# The Root Key here is a throwaway made for this run. It is passed on
# command lines only because the stock tools take it that way: never do
# that with a real Root Key on a shared machine (`ps` shows arguments).
set -euo pipefail

modules=${1:-${OPENSSL_MODULES:-build/modules}}
version=${2:-2}
key_id=dev-0001@sp.example.com
work=$(mktemp -d)
server_pid=
cleanup() {
  exec 3>&- 2>/dev/null || true
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ ! -f "$modules/onem2m.so" ]; then
  echo "no onem2m.so in $modules: build first, or pass the modules folder" >&2
  exit 1
fi
case "$version" in
  1 | 2) ;;
  *) echo "VERSION must be 1 or 2 here (see the comment at the top)" >&2
     exit 2 ;;
esac

root_key=$(openssl rand -hex 32)
echo "1. derive the PSK: openssl kdf ... ONEM2M-PSK (version $version)"
psk=$(openssl kdf -provider-path "$modules" -provider onem2m \
  -provider default -keylen 32 -kdfopt "version:$version" \
  -kdfopt "key-id:$key_id" -kdfopt "hexkey:$root_key" ONEM2M-PSK | tr -d ':')
identity="v$version:$key_id"
echo "   identity: $identity"

echo "2. start openssl s_server -nocert -psk ... on 127.0.0.1 (any free port)"
# s_server quits when its standard input ends: give it a pipe that stays
# open (and empty) until the end of this script.
mkfifo "$work/stdin"
openssl s_server -accept 127.0.0.1:0 -nocert \
  -psk_identity "$identity" -psk "$psk" -naccept 2 \
  <"$work/stdin" >"$work/server.log" 2>&1 &
server_pid=$!
exec 3>"$work/stdin"
port=
for _ in $(seq 100); do
  port=$(sed -n 's/^ACCEPT 127.0.0.1:\([0-9]*\)$/\1/p' "$work/server.log")
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || { echo "s_server did not start" >&2; exit 1; }
echo "   listening on port $port"

for proto in tls1_2 tls1_3; do
  echo "3. openssl s_client -$proto -psk_identity $identity -psk ..."
  out=$(echo "hello from s_client over $proto" | openssl s_client -brief \
    -connect "127.0.0.1:$port" -"$proto" -cipher PSK \
    -psk_identity "$identity" -psk "$psk" 2>&1 || true)
  if ! grep -q "CONNECTION ESTABLISHED" <<<"$out"; then
    echo "   FAILED:" >&2
    echo "$out" >&2
    exit 1
  fi
  echo "   $(grep -m1 'Protocol version' <<<"$out")," \
    "$(grep -m1 'Ciphersuite' <<<"$out")"
done

echo "4. s_server received:"
for _ in $(seq 100); do
  grep -q "over tls1_3" "$work/server.log" && break
  sleep 0.05
done
grep "hello from s_client" "$work/server.log" | sed 's/^/   /'
