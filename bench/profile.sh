#!/usr/bin/env bash
# Where the time goes: runs the release server pinned to core 0 with wrk
# pinned to core 1, records it with `perf record` under one scenario, and
# prints its throughput and the functions that took the most of the
# server's time (self time, by symbol, and grouped by crate).
#
#   bash bench/profile.sh SCENARIO [DATABASE_URL]
#
# SCENARIO: client_credentials | password (argon2id at the default cost)
#         | refresh (1,000 seeded families in turn)
#         | introspect (100,000 seeded reference tokens in turn)
# DATABASE_URL: a scratch SQLite file by default; with a postgres:// URL, a
# fresh database on that server. BIN names another build; BENCH_DURATION
# (default 10s) the length of the load.
set -euo pipefail
cd "$(dirname "$0")/.."

SCENARIO=${1:?scenario: client_credentials, password, refresh or introspect}
DB_ARG=${2:-}
DURATION=${BENCH_DURATION:-10s}
PORT=${BENCH_PORT:-18070}
command -v perf >/dev/null || { echo "perf is not installed (apt-get install linux-perf)" >&2; exit 1; }
source bench/common.sh
release_bin
scratch_database "$DB_ARG"
write_settings
ref=$(run client create --name profile-reference --grant-type client_credentials --token-format reference --json 2>/dev/null)
creds=$(run client create --name profile --grant-type client_credentials --grant-type password --grant-type refresh_token \
  --scope read --scope write --audience "$(json "$ref" client_id)" --json 2>/dev/null)
client_id=$(json "$creds" client_id)
printf 'profile-password' | run user create --username profile --password-stdin >/dev/null 2>&1
user_id=$(run user show profile --json 2>/dev/null | json_in id)
python3 bench/seed.py "$db_url" --rows 0 --client "$client_id" --reference-client "$(json "$ref" client_id)" \
  --user "$user_id" --families-out "$work/families" --references-out "$work/references" 2>/dev/null

start_server taskset -c 0
sleep 1

export BENCH_AUTH="Basic $(printf '%s:%s' "$client_id" "$(json "$creds" client_secret)" | base64 -w0)"
case "$SCENARIO" in
  client_credentials) url=/token; load=(-t1 -c32 -s bench/form.lua); export BENCH_BODY="grant_type=client_credentials" ;;
  password) url=/token; load=(-t1 -c16 -s bench/form.lua)
    export BENCH_BODY="grant_type=password&username=profile&password=profile-password" ;;
  refresh) url=/token; load=(-t32 -c32 -s bench/refresh.lua); export BENCH_TOKENS="$work/families" BENCH_THREADS=32 ;;
  introspect) url=/introspect; load=(-t1 -c32 -s bench/introspect.lua); export BENCH_TOKENS="$work/references" BENCH_THREADS=1 ;;
  *) echo "unknown scenario $SCENARIO" >&2; exit 2 ;;
esac
seconds=${DURATION%s}
perf record -q -F 999 -g -p "$server_pid" -o "$work/perf.data" -- sleep "$seconds" 2>/dev/null &
perf_pid=$!
taskset -c 1 wrk "${load[@]}" -d"$DURATION" "http://127.0.0.1:$PORT$url" | grep -E "Requests/sec|inactive|Non-2xx"
wait "$perf_pid" || true
echo "--- self time by function (server, pinned to one core) ---"
perf report -i "$work/perf.data" --no-children --sort symbol --stdio -q --percent-limit 1.2 -g none 2>/dev/null \
  | sed 's/^ *//' | grep -v '^$' | head -40
echo "--- self time by library or crate ---"
perf report -i "$work/perf.data" --no-children --sort dso,symbol --stdio -q -g none 2>/dev/null | python3 -c '
import re, sys, collections
share = collections.Counter()
for line in sys.stdin:
    m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[.\]\s+(.*)", line)
    if not m:
        continue
    pct, dso, sym = float(m[1]), m[2], m[3]
    if dso != "portcullis":
        share[dso] += pct
        continue
    crate = re.match(r"(?:<|_<)?(?:&)?(?:dyn )?([a-z_][a-z0-9_]*)::", sym)
    share["portcullis: " + (crate[1] if crate else "other")] += pct
for name, pct in share.most_common(15):
    print(f"{pct:5.1f}%  {name}")
'
