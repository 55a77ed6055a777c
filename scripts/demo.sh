#!/usr/bin/env bash
# The demo: builds the project, makes a keystore, starts `onem2m-psk serve`
# on a free loopback port, connects with TLS 1.2 and 1.3 and KDF versions
# 1 to 3, connects with the stock `openssl s_client` and a derived PSK,
# shows a wrong key being refused, prints a summary and stops the server.
#
#   scripts/demo.sh
#
# For tests (tests/secret_leak_test.cc runs it this way):
#   ONEM2M_DEMO_BUILD_DIR=DIR  use the build in DIR: install and build nothing
#   ONEM2M_DEMO_KEEP=DIR       at the end, copy the keystore and the server's
#                              output (serve.out, serve.log) into DIR
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/lib.sh"

build_dir=${ONEM2M_DEMO_BUILD_DIR:-}
if [ -n "$build_dir" ]; then
  step "using the build in $build_dir (ONEM2M_DEMO_BUILD_DIR)"
else
  install_missing
  build_dir="$ROOT/build"
  build_project "$build_dir"
fi

CLI="$build_dir/tools/onem2m-psk"
export OPENSSL_MODULES="$build_dir/modules"
umask 077
work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ -n "${ONEM2M_DEMO_KEEP:-}" ]; then
    cp "$work/keys" "$work/serve.out" "$work/serve.log" "$work/dtls.out" \
      "$work/dtls.log" "$ONEM2M_DEMO_KEEP/" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

key_id=dev-0001@sp.example.com
step "making a keystore with two fresh Root Keys: onem2m-psk genkey"
"$CLI" genkey --key-id "$key_id" >"$work/keys"
"$CLI" genkey --key-id meter-17@m2m.operator.example --versions 2,3 \
  >>"$work/keys"
echo "   $work/keys (mode $(stat -c %a "$work/keys")); contents stay secret"

step "checking it: onem2m-psk check (fingerprints, never keys)"
"$CLI" check --keystore "$work/keys"

# start_server NAME [serve options...] starts onem2m-psk serve on a free
# loopback port, output in $work/NAME.out and NAME.log; sets server_pid
# and port.
start_server() {
  local name=$1
  shift
  : >"$work/$name.out"
  "$CLI" serve --keystore "$work/keys" --accept 127.0.0.1:0 "$@" \
    >"$work/$name.out" 2>"$work/$name.log" &
  server_pid=$!
  port=
  for _ in $(seq 200); do
    port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' \
      "$work/$name.out")
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ] || { cat "$work/$name.out" "$work/$name.log"; exit 1; }
  cat "$work/$name.out"
}

# stop_server NAME stops it and shows its summary and last log lines.
stop_server() {
  kill "$server_pid"
  wait "$server_pid" || true
  server_pid=
  tail -n 1 "$work/$1.out"
  echo "   the server's last log lines:"
  tail -n 3 "$work/$1.log" | sed 's/^onem2m-psk serve: /   /'
}

step "starting onem2m-psk serve on 127.0.0.1 (a free port)"
start_server serve

results=()
record() { results+=("$(printf '%-34s %-8s %-7s %s' "$1" "$2" "$3" "$4")"); }

step "connecting with onem2m-psk connect: TLS 1.2 and 1.3, versions 1 to 3"
for proto in tls1_2 tls1_3; do
  for v in 1 2 3; do
    if out=$("$CLI" connect --keystore "$work/keys" --key-id "$key_id" \
        --version "$v" --"$proto" "127.0.0.1:$port" 2>&1); then
      suite=$(sed -n 's/^suite: *//p' <<<"$out")
      record "onem2m-psk connect" "$proto" "v$v" "ok ($suite)"
    else
      record "onem2m-psk connect" "$proto" "v$v" "FAILED: $out"
    fi
  done
done
echo "$out"

step "stock openssl s_client with a PSK from onem2m-psk derive"
mapfile -t derived < <("$CLI" derive --keystore "$work/keys" \
  --key-id "$key_id" --version 2)
for proto in tls1_2 tls1_3; do
  out=$(openssl s_client -connect "127.0.0.1:$port" -"$proto" -cipher PSK \
    -psk_identity "${derived[0]}" -psk "${derived[1]}" -ign_eof \
    </dev/null 2>&1 || true)
  if grep -q "^hello $key_id" <<<"$out"; then
    record "openssl s_client -psk" "$proto" "v2" "ok: $(grep "^hello" <<<"$out" | cut -c1-40)..."
  else
    record "openssl s_client -psk" "$proto" "v2" "FAILED"
  fi
done
unset derived

step "a wrong Root Key is refused"
"$CLI" genkey --key-id "$key_id" | cut -d: -f2 >"$work/wrong.key"
if out=$("$CLI" connect --root-key-file "$work/wrong.key" \
    --key-id "$key_id" "127.0.0.1:$port" 2>&1); then
  record "connect with a wrong key" "any" "v3" "ACCEPTED (a bug!)"
else
  echo "$out"
  record "connect with a wrong key" "any" "v3" "refused, as it must be"
fi
# The server's keystore limits meter-17 to versions 2 and 3; a client that
# holds the same Root Key without that limit asks for version 1.
grep '^meter-17@' "$work/keys" | cut -d: -f2 >"$work/meter.key"
if out=$("$CLI" connect --root-key-file "$work/meter.key" \
    --key-id meter-17@m2m.operator.example --version 1 --tls1_2 \
    "127.0.0.1:$port" 2>&1); then
  record "version 1 for a versions=2,3 key" "tls1_2" "v1" "ACCEPTED (a bug!)"
else
  echo "$out"
  record "version 1 for a versions=2,3 key" "tls1_2" "v1" \
    "refused, as it must be"
fi

step "stopping the server (PID $server_pid)"
stop_server serve

step "DTLS 1.2 (CoAP devices): serve --dtls, connect --dtls with a CoAP GET"
start_server dtls --dtls
for v in 1 2 3; do
  if out=$("$CLI" connect --dtls --keystore "$work/keys" --key-id "$key_id" \
      --version "$v" --coap-get / "127.0.0.1:$port" 2>&1) &&
      grep -q "^coap response: ACK 2.05" <<<"$out"; then
    suite=$(sed -n 's/^suite: *//p' <<<"$out")
    record "onem2m-psk connect --dtls" "dtls1_2" "v$v" "ok ($suite, CoAP 2.05)"
  else
    record "onem2m-psk connect --dtls" "dtls1_2" "v$v" "FAILED: $out"
  fi
done
echo "$out"
step "stopping the DTLS server (PID $server_pid)"
stop_server dtls

step "summary"
printf '%-34s %-8s %-7s %s\n' "client" "protocol" "version" "result"
printf '%s\n' "${results[@]}"
failed=$(printf '%s\n' "${results[@]}" | grep -c -E "FAILED|ACCEPTED" || true)
echo
echo "$(( ${#results[@]} - failed )) passed, $failed failed"
[ "$failed" -eq 0 ]
