#!/usr/bin/env bash
# Fuzzes the running server's HTTP surface with schemathesis, driven by the
# server's own GET /openapi.json: no input may produce a 5xx (other than the
# documented 503 of an outage, which cannot happen here), and every answer
# must conform to the document (status, media type, headers, body schema).
#
#   bash tests/fuzz/schemathesis.sh [SECONDS_PER_BACKEND]
#
# Runs against a fresh SQLite file and, when PORTCULLIS_TEST_POSTGRES is
# set, a fresh PostgreSQL database. Needs target/debug/portcullis (built by
# `cargo test --workspace`) and schemathesis (installed here from PyPI).
set -euo pipefail
cd "$(dirname "$0")/../.."

SECONDS_PER_BACKEND=${1:-60}
# The admin API gets a run of its own, with an admin client's token.
ADMIN_SECONDS=${ADMIN_SECONDS:-30}
SCHEMATHESIS_VERSION=4.32.5
BIN=${CARGO_TARGET_DIR:-target}/debug/portcullis
[ -x "$BIN" ] || cargo build -p portcullis --locked
BIN=$(realpath "$BIN")

if ! st --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  python3 -m pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

WORK=$(mktemp -d)
SERVER_PID=
GITHUB_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  [ -n "$GITHUB_PID" ] && kill "$GITHUB_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A GitHub stand-in, so seed 003's external login API is served and fuzzed.
github_port=$(free_port)
python3 tests/fuzz/fake_github.py "$github_port" &
GITHUB_PID=$!
export PORTCULLIS_GITHUB_CLIENT_ID=fuzz-app PORTCULLIS_GITHUB_CLIENT_SECRET=fuzz-secret
export PORTCULLIS_GITHUB_WEB_URL=http://127.0.0.1:$github_port PORTCULLIS_GITHUB_API_URL=http://127.0.0.1:$github_port
# Seed 003's API is off unless the operator turns it on.
printf 'metrics_bind = "127.0.0.1:0"\n[dialects]\nexternal_login = true\n' >"$WORK/portcullis.toml"
export PORTCULLIS_CONFIG=$WORK/portcullis.toml

fuzz() {
  local name=$1 database=$2
  local port; port=$(free_port)
  local base="http://127.0.0.1:$port"
  export PORTCULLIS_DATABASE_URL=$database
  local setup_log="$WORK/$name.setup.log"
  (cd "$WORK" && "$BIN" migrate >/dev/null 2>>"$setup_log")
  # A confidential client whose credentials every request carries, so the
  # fuzzer reaches past client authentication, and a public one for the
  # browser flows.
  local secret
  secret=$(cd "$WORK" && "$BIN" client create --name fuzz --id fuzz \
    --grant-type client_credentials --grant-type refresh_token --grant-type password \
    --grant-type urn:ietf:params:oauth:grant-type:device_code --scope read --json 2>>"$setup_log" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
  (cd "$WORK" && "$BIN" client create --name app --id app --public --first-party \
    --redirect-uri http://127.0.0.1:9/callback --grant-type authorization_code \
    --scope read >/dev/null 2>>"$setup_log")
  # An admin client, whose token the admin API's run carries.
  local admin_secret
  admin_secret=$(cd "$WORK" && "$BIN" client create --name admin --id admin --admin --json 2>>"$setup_log" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
  (cd "$WORK" && printf 'fuzz-password-1\n' |
    "$BIN" user create --username alice --email alice@example.com --password-stdin >/dev/null 2>>"$setup_log")

  (cd "$WORK" && exec "$BIN" serve --bind "127.0.0.1:$port" --issuer "$base" \
    >"$WORK/$name.log" 2>&1) &
  SERVER_PID=$!
  for _ in $(seq 100); do
    curl -fsS "$base/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done

  echo "schemathesis against $name for ${SECONDS_PER_BACKEND}s"
  # One worker: with several, schemathesis parses lambdas' source in
  # threads, which CPython 3.11's ast.parse does not survive ("AST
  # constructor recursion depth mismatch", fixed in 3.12).
  local status=0
  st run "$base/openapi.json" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --auth "fuzz:$secret" \
    --max-time "$SECONDS_PER_BACKEND" --workers 1 --no-shrink \
    --request-timeout 10 --warnings off --seed 1 --exclude-path-regex '^/admin/' || status=$?

  # The admin API, with an admin token (five minutes: longer than the run).
  # Without the stateful phase: the links schemathesis infers from the
  # Location headers reach into operations this run leaves out, which it
  # counts as an error of the document.
  local admin_token
  admin_token=$(curl -fsS -u "admin:$admin_secret" -d grant_type=client_credentials "$base/token" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  echo "schemathesis against $name's admin API for ${ADMIN_SECONDS}s"
  st run "$base/openapi.json" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    -H "Authorization: Bearer $admin_token" --include-path-regex '^/admin/' \
    --phases examples,coverage,fuzzing \
    --max-time "$ADMIN_SECONDS" --workers 1 --no-shrink \
    --request-timeout 10 --warnings off --seed 1 || status=$?

  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "the server died during the run" >&2
    status=1
  fi
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
  if grep -q "panicked" "$WORK/$name.log"; then
    echo "the server panicked:" >&2
    grep -A5 "panicked" "$WORK/$name.log" >&2
    status=1
  fi
  return $status
}

fuzz sqlite "sqlite://$WORK/fuzz.db"

if [ -n "${PORTCULLIS_TEST_POSTGRES:-}" ]; then
  db="portcullis_fuzz_$$"
  admin=$PORTCULLIS_TEST_POSTGRES
  psql "$admin" -qc "DROP DATABASE IF EXISTS $db" >/dev/null
  psql "$admin" -qc "CREATE DATABASE $db" >/dev/null
  trap 'cleanup; psql "$admin" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true' EXIT
  fuzz postgres "${admin%/*}/$db"
fi
