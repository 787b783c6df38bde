#!/usr/bin/env bash
# Resident memory of the release server: idle after start-up, the peak
# under the benchmark's load (client_credentials, refresh with rotation and
# introspection, 32 connections each, and the password grant with 16), and
# what is left a while after the load stops.
# `bash bench/memory.sh [SECONDS_OF_LOAD] [SECONDS_AFTER] [DATABASE_URL]` (a
# scratch SQLite file by default, or a fresh database on a postgres:// server);
# BIN names another build to compare (an allocator experiment).
set -euo pipefail
cd "$(dirname "$0")/.."

LOAD=${1:-10}
AFTER=${2:-20}
PORT=${BENCH_PORT:-18090}
source bench/common.sh
release_bin
scratch_database "${3:-}"
write_settings
creds=$(run client create --name bench --grant-type client_credentials --grant-type password \
  --grant-type refresh_token --scope read --json 2>/dev/null)
client_id=$(json "$creds" client_id)
client_secret=$(json "$creds" client_secret)
printf 'bench-password' | run user create --username bench --password-stdin >/dev/null 2>&1

start_server
sleep 2
rss() { awk '/VmRSS/ {print $2}' "/proc/$server_pid/status"; }
idle=$(rss)

# The peak, sampled every 100 ms while the load runs.
(peak=0; while kill -0 "$server_pid" 2>/dev/null; do
   now=$(rss); [ "$now" -gt "$peak" ] && peak=$now && echo "$peak" >"$work/peak"; sleep 0.1
 done) &
sampler_pid=$!
background_pids+=("$sampler_pid")

export BENCH_AUTH="Basic $(printf '%s:%s' "$client_id" "$client_secret" | base64 -w0)"
url="http://127.0.0.1:$PORT/token"
BENCH_BODY="grant_type=client_credentials" wrk -t2 -c32 -d"${LOAD}s" -s bench/form.lua "$url" >/dev/null
: >"$work/tokens"
for _ in $(seq 1 32); do
  curl -fs -H "Authorization: $BENCH_AUTH" -d "grant_type=password&username=bench&password=bench-password" "$url" \
    | json_in refresh_token >>"$work/tokens"
done
BENCH_TOKENS="$work/tokens" BENCH_THREADS=32 wrk -t32 -c32 -d"${LOAD}s" -s bench/refresh.lua "$url" >/dev/null
token=$(curl -fs -H "Authorization: $BENCH_AUTH" -d grant_type=client_credentials "$url" \
  | json_in access_token)
BENCH_BODY="token=$token" wrk -t2 -c32 -d"${LOAD}s" -s bench/form.lua "http://127.0.0.1:$PORT/introspect" >/dev/null
BENCH_BODY="grant_type=password&username=bench&password=bench-password" \
  wrk -t2 -c16 -d"${LOAD}s" -s bench/form.lua "$url" >/dev/null

sleep "$AFTER"
after=$(rss)
kill "$sampler_pid" 2>/dev/null || true
peak=$(cat "$work/peak")
echo "idle $((idle / 1024)) MiB, peak under load $((peak / 1024)) MiB, ${AFTER} s after $((after / 1024)) MiB"
