#!/usr/bin/env bash
# A/B of refresh with rotation between release binaries (two builds of
# different commits, say): each round runs every binary in turn on a fresh
# database (SQLite, or a new PostgreSQL database when PG_ADMIN is set), 32
# password logins, then 32 refresh chains with wrk -t32 -c32. Prints one
# line per round with each binary's req/s; compare ratios round by round,
# since this machine's speed drifts more than the differences measured.
#
#   bash bench/ab.sh DURATION ROUNDS BIN_A BIN_B [BIN...]
#   PG_ADMIN=postgres://postgres@127.0.0.1:5432/postgres bash bench/ab.sh 8s 5 A B
#
# A binary named BIN+noparent runs with the refresh_tokens_parent index
# dropped first (for builds from before migration 000016).
#
# AB_SCENARIO=introspect measures POST /introspect of one PASETO access
# token instead (wrk -t2 -c32, as bench/run.sh); AB_SCENARIO=password the
# password grant at the default argon2id cost (wrk -t2 -c16);
# AB_SCENARIO=client_credentials the client credentials grant (wrk -t2 -c32).
# AB_SCENARIO=code the authorization code grant: a browser signs in once,
# GET /authorize issues codes to its session for DURATION (wrk -t2 -c32),
# and the redemption of those codes with the PKCE verifier is measured for
# a quarter of DURATION (wrk -t2 -c32; so the codes never run out, which
# would end threads early); the redemption's req/s is printed.
# AB_LOG sets the servers' RUST_LOG (default warn; the server's own default
# is info, where the per-request span is recorded).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
DUR=$1; ROUNDS=$2; shift 2
BINS=("$@")
PORT=18181
# The operations listener on a free port (a variable, so older builds,
# which know no such setting, ignore it).
export PORTCULLIS_METRICS_BIND=127.0.0.1:0
run_one() {
  local bin=$1 work hook=""; work=$(mktemp -d)
  local dburl="sqlite://$work/b.db" pgname=""
  if [ -n "${PG_ADMIN:-}" ]; then pgname="ab_$$_$RANDOM"; psql -q "$PG_ADMIN" -c "CREATE DATABASE $pgname" >/dev/null; dburl="${PG_ADMIN%/*}/$pgname"; fi
  case "$bin" in *+noparent) bin=${bin%+noparent}; hook="DROP INDEX refresh_tokens_parent;";; esac
  cat > "$work/s.toml" <<TOML
bind = "127.0.0.1:$PORT"
database_url = "$dburl"
login_max_attempts = 1000
TOML
  if [ "${AB_SCENARIO:-refresh}" != password ]; then
    printf '[password_hash]\nmemory_kib = 64\niterations = 1\nparallelism = 1\n' >>"$work/s.toml"
  fi
  local run="$bin --config $work/s.toml"
  $run migrate >/dev/null
  local creds; creds=$($run client create --name b --grant-type password --grant-type refresh_token --grant-type client_credentials --scope read --json 2>/dev/null)
  local id secret
  id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["client_id"])' "$creds")
  secret=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["client_secret"])' "$creds")
  printf 'bench-password' | $run user create --username bench --password-stdin >/dev/null 2>&1
  if [ -n "$hook" ]; then python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()' "$work/b.db" "$hook"; fi
  RUST_LOG=${AB_LOG:-warn} $bin --config "$work/s.toml" serve >"$work/log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  local auth; auth="Basic $(printf '%s:%s' "$id" "$secret" | base64 -w0)"
  local base="http://127.0.0.1:$PORT"
  case "${AB_SCENARIO:-refresh}" in
    password)
      BENCH_BODY="grant_type=password&username=bench&password=bench-password" BENCH_AUTH="$auth" \
        wrk -t2 -c16 -d"$DUR" -s bench/form.lua "$base/token" 2>/dev/null | awk '/Requests\/sec/ {print $2}'
      ;;
    client_credentials)
      BENCH_BODY="grant_type=client_credentials" BENCH_AUTH="$auth" \
        wrk -t2 -c32 -d"$DUR" -s bench/form.lua "$base/token" 2>/dev/null | awk '/Requests\/sec/ {print $2}'
      ;;
    code)
      local app verifier challenge path cookie
      app=$($run client create --name app --public --first-party --redirect-uri http://127.0.0.1:9/callback \
        --grant-type authorization_code --scope read --json 2>/dev/null \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
      verifier="bench-verifier-$(head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=')"
      challenge=$(python3 -c 'import base64,hashlib,sys; print(base64.urlsafe_b64encode(hashlib.sha256(sys.argv[1].encode()).digest()).rstrip(b"=").decode())' "$verifier")
      path="/authorize?response_type=code&client_id=$app&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback&scope=read&code_challenge=$challenge&code_challenge_method=S256"
      cookie=$(python3 bench/sign_in.py "$base" "${path#*\?}" bench bench-password)
      BENCH_COOKIE="$cookie" BENCH_AUTHORIZE_PATH="$path" BENCH_CODES="$work/codes" \
        wrk -t2 -c32 -d"$DUR" -s bench/authorize.lua "$base/authorize" >/dev/null 2>&1
      BENCH_CODES="$work/codes" BENCH_CLIENT="$app" BENCH_REDIRECT="http%3A%2F%2F127.0.0.1%3A9%2Fcallback" \
        BENCH_VERIFIER="$verifier" wrk -t2 -c32 -d"$(( ${DUR%s} / 4 ))s" -s bench/code.lua "$base/token" 2>/dev/null \
        | awk '/Requests\/sec/ {print $2}'
      ;;
    introspect)
      local token; token=$(curl -s -u "$id:$secret" "$base/token" -d grant_type=client_credentials \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
      curl -s -H "Authorization: $auth" -d "token=$token" "$base/introspect" | grep -q '"active":true'
      BENCH_BODY="token=$token" BENCH_AUTH="$auth" \
        wrk -t2 -c32 -d"$DUR" -s bench/form.lua "$base/introspect" 2>/dev/null | awk '/Requests\/sec/ {print $2}'
      ;;
    *)
      : > "$work/tokens"
      for _ in $(seq 32); do
        curl -s -u "$id:$secret" "$base/token" -d 'grant_type=password&username=bench&password=bench-password&scope=read' \
          | python3 -c 'import json,sys; print(json.load(sys.stdin)["refresh_token"])' >> "$work/tokens"
      done
      BENCH_TOKENS="$work/tokens" BENCH_THREADS=32 BENCH_AUTH="$auth" \
        wrk -t32 -c32 -d"$DUR" -s bench/refresh.lua "$base/token" 2>/dev/null | awk '/Requests\/sec/ {print $2}'
      ;;
  esac
  kill $pid; wait $pid 2>/dev/null || true
  if [ -n "$pgname" ]; then psql -q "$PG_ADMIN" -c "DROP DATABASE $pgname WITH (FORCE)" >/dev/null; fi
  rm -rf "$work"
}
for r in $(seq "$ROUNDS"); do
  line="round $r:"
  for b in "${BINS[@]}"; do line="$line $(run_one "$b")"; done
  echo "$line"
done
