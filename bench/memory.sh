#!/usr/bin/env bash
# Resident memory of the release server: idle after start-up, the peak
# under the benchmark's load (client_credentials, refresh with rotation and
# introspection, 32 connections each, and the password grant with 16), and
# what is left a while after the
# load stops. `bash bench/memory.sh [SECONDS_OF_LOAD] [SECONDS_AFTER]`;
# BIN names another build to compare (an allocator experiment).
set -euo pipefail
cd "$(dirname "$0")/.."

LOAD=${1:-10}
AFTER=${2:-20}
PORT=${BENCH_PORT:-18090}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
if [ -z "${BIN:-}" ]; then
  cargo build --release -p portcullis
  BIN=${CARGO_TARGET_DIR:-target}/release/portcullis
fi

work=$(mktemp -d)
server_pid=""
sampler_pid=""
cleanup() {
  [ -n "$sampler_pid" ] && kill "$sampler_pid" 2>/dev/null || true
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/settings.toml" <<TOML
bind = "127.0.0.1:$PORT"
database_url = "sqlite://$work/bench.db"
login_max_attempts = 1000
TOML
run() { "$BIN" --config "$work/settings.toml" "$@"; }
creds=$(run client create --name bench --grant-type client_credentials --grant-type password \
  --grant-type refresh_token --scope read --json 2>/dev/null)
client_id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["client_id"])' "$creds")
client_secret=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["client_secret"])' "$creds")
printf 'bench-password' | run user create --username bench --password-stdin >/dev/null 2>&1

RUST_LOG=warn "$BIN" --config "$work/settings.toml" serve >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break
  sleep 0.1
done
sleep 2
rss() { awk '/VmRSS/ {print $2}' "/proc/$server_pid/status"; }
idle=$(rss)

# The peak, sampled every 100 ms while the load runs.
(peak=0; while kill -0 "$server_pid" 2>/dev/null; do
   now=$(rss); [ "$now" -gt "$peak" ] && peak=$now && echo "$peak" >"$work/peak"; sleep 0.1
 done) &
sampler_pid=$!

export BENCH_AUTH="Basic $(printf '%s:%s' "$client_id" "$client_secret" | base64 -w0)"
url="http://127.0.0.1:$PORT/token"
BENCH_BODY="grant_type=client_credentials" wrk -t2 -c32 -d"${LOAD}s" -s bench/form.lua "$url" >/dev/null
: >"$work/tokens"
for _ in $(seq 1 32); do
  curl -fs -H "Authorization: $BENCH_AUTH" -d "grant_type=password&username=bench&password=bench-password" "$url" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["refresh_token"])' >>"$work/tokens"
done
BENCH_TOKENS="$work/tokens" BENCH_THREADS=32 wrk -t32 -c32 -d"${LOAD}s" -s bench/refresh.lua "$url" >/dev/null
token=$(curl -fs -H "Authorization: $BENCH_AUTH" -d grant_type=client_credentials "$url" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
BENCH_BODY="token=$token" wrk -t2 -c32 -d"${LOAD}s" -s bench/form.lua "http://127.0.0.1:$PORT/introspect" >/dev/null
BENCH_BODY="grant_type=password&username=bench&password=bench-password" \
  wrk -t2 -c16 -d"${LOAD}s" -s bench/form.lua "$url" >/dev/null

sleep "$AFTER"
after=$(rss)
kill "$sampler_pid" 2>/dev/null || true; sampler_pid=""
peak=$(cat "$work/peak")
echo "idle $((idle / 1024)) MiB, peak under load $((peak / 1024)) MiB, ${AFTER} s after $((after / 1024)) MiB"
