#!/usr/bin/env bash
# The admin API's account listing at scale:
#   bash bench/admin_pages.sh [--rows N] [DATABASE_URL]
# Seeds N accounts (bench/seed.py, 1,000,000 by default) into a scratch
# database (SQLite by default; a postgres:// URL for a fresh database on
# that server), starts the release server, and times the listing with an
# admin client's token (bench/admin_pages.py): a walk through every page,
# pages of 50 from the start and after cursors all along, and a search.
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=1000000
if [ "${1:-}" = "--rows" ]; then
  ROWS=${2:?--rows needs a number}
  shift 2
fi
case "$ROWS" in ''|*[!0-9]*) echo "--rows takes a number of accounts" >&2; exit 2 ;; esac
PORT=${BENCH_PORT:-18081}

source bench/common.sh
release_bin
scratch_database "${1:-}"
write_settings

client_id=$(run client create --name bench --grant-type client_credentials --json 2>/dev/null | json_in client_id)
ref_id=$(run client create --name bench-reference --grant-type client_credentials --token-format reference --json 2>/dev/null | json_in client_id)
admin=$(run client create --name bench-admin --admin --json 2>/dev/null)
printf 'bench-password' | run user create --username bench --password-stdin >/dev/null 2>&1
user_id=$(run user show bench --json 2>/dev/null | json_in id)
seed_started=$(date +%s)
python3 bench/seed.py "$db_url" --rows "$ROWS" --client "$client_id" --reference-client "$ref_id" \
  --user "$user_id" --families 0 --references 0 \
  --families-out "$work/families" --references-out "$work/references"
echo "seeded $ROWS accounts ($backend) in $(( $(date +%s) - seed_started )) s"

# The seeded login names have no confusable skeleton yet: the server fills
# them in as it opens the database (one write each, minutes for a million
# accounts), before it listens. Wait for it here.
RUST_LOG=warn "$BIN" --config "$work/settings.toml" serve >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 6000); do
  curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break
  sleep 0.2
done
curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null || { tail -5 "$work/server.log" >&2; exit 1; }
python3 bench/admin_pages.py "http://127.0.0.1:$PORT" "$(json "$admin" client_id)" "$(json "$admin" client_secret)"
