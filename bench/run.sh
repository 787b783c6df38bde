#!/usr/bin/env bash
# Load benchmark of the token endpoint: `bash bench/run.sh [--rows N] [DATABASE_URL]`.
#
# Builds release, starts the server on a scratch database (a temporary
# SQLite file by default; with a postgres:// URL, a fresh database created on
# that server and dropped afterwards), creates clients and a user, seeds the
# database (bench/seed.py: N users with 5N refresh tokens, N reference
# tokens, sessions and codes, 0 by default, and always the working set the
# benchmark presents: 1,000 refresh families and 100,000 reference tokens),
# drives the client_credentials, password, refresh_token and
# authorization_code grants (codes issued by GET /authorize to a signed-in
# browser's session) and introspection with wrk, then passkey sign-ins with
# a software authenticator (tests/examples/passkey_sign_ins.rs), measures the argon2id
# ceiling by timing the hasher alone, and writes the figures to
# docs/benchmarks.md (and bench/results.json, from which the side-by-side
# table of empty and seeded databases is drawn). CARGO_TARGET_DIR is
# honoured.
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=0
if [ "${1:-}" = "--rows" ]; then
  ROWS=${2:?--rows needs a number}
  shift 2
fi
case "$ROWS" in ''|*[!0-9]*) echo "--rows takes a number of users" >&2; exit 2 ;; esac
DB_ARG=${1:-}
DURATION=${BENCH_DURATION:-10s}
PORT=${BENCH_PORT:-18080}

source bench/common.sh
release_bin
cargo build --release -p auth-crypto --example hash_rate
scratch_database "$DB_ARG"
write_settings

ref_creds=$(run client create --name bench-reference --grant-type client_credentials --token-format reference --json 2>/dev/null)
ref_id=$(json "$ref_creds" client_id)
ref_secret=$(json "$ref_creds" client_secret)
# The bench client also introspects: as a resource server it serves the
# reference client's tokens too (introspection answers only about those).
creds=$(run client create --name bench --grant-type client_credentials --grant-type password \
  --grant-type refresh_token --scope read --scope write --audience "$ref_id" --json 2>/dev/null)
client_id=$(json "$creds" client_id)
client_secret=$(json "$creds" client_secret)
app_id=$(run client create --name bench-app --public --first-party \
  --redirect-uri http://127.0.0.1:9/callback --grant-type authorization_code --scope read --json 2>/dev/null \
  | json_in client_id)
# Relying parties of OpenID Connect, one per ID token algorithm.
oidc_client() {
  run client create --name "bench-$1" --public --first-party --id-token-alg "$1" \
    --redirect-uri http://127.0.0.1:9/callback --grant-type authorization_code --scope openid --json 2>/dev/null \
    | json_in client_id
}
rs256_id=$(oidc_client RS256)
eddsa_id=$(oidc_client EdDSA)
printf 'bench-password' | run user create --username bench --password-stdin >/dev/null 2>&1
user_id=$(run user show bench --json 2>/dev/null | json_in id)
seed_started=$(date +%s)
python3 bench/seed.py "$db_url" --rows "$ROWS" --client "$client_id" --reference-client "$ref_id" \
  --user "$user_id" --families-out "$work/families" --references-out "$work/references"
seed_seconds=$(( $(date +%s) - seed_started ))

start_server
sleep 1
idle_kib=$(awk '/VmRSS/ {print $2}' "/proc/$server_pid/status")

export BENCH_AUTH="Basic $(printf '%s:%s' "$client_id" "$client_secret" | base64 -w0)"
url="http://127.0.0.1:$PORT/token"

# Prints "req/s p50 p99" from a wrk report.
measure() {
  local out
  out=$(wrk --latency "$@" "$url")
  echo "$out" >&2
  [ -n "${BENCH_REPORT:-}" ] && echo "$out" >"$BENCH_REPORT"
  local rps p50 p99
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  echo "$rps $p50 $p99"
}

read -r cc_rps cc_p50 cc_p99 < <(BENCH_BODY="grant_type=client_credentials" \
  measure -t2 -c32 -d"$DURATION" -s bench/form.lua)

# One refresh chain per connection: 32 logins give 32 independent families.
: >"$work/tokens"
for _ in $(seq 1 32); do
  curl -fs -H "Authorization: $BENCH_AUTH" -d "grant_type=password&username=bench&password=bench-password" "$url" \
    | json_in refresh_token >>"$work/tokens"
done
read -r rt_rps rt_p50 rt_p99 < <(BENCH_TOKENS="$work/tokens" BENCH_THREADS=32 \
  measure -t32 -c32 -d"$DURATION" -s bench/refresh.lua)
# The same over the 1,000 seeded families: each connection refreshes its
# share of them in turn.
read -r rf_rps rf_p50 rf_p99 < <(BENCH_TOKENS="$work/families" BENCH_THREADS=32 \
  measure -t32 -c32 -d"$DURATION" -s bench/refresh.lua)
# The code grant. A browser signs in once through the hosted page; codes are
# then issued by GET /authorize to its SSO session (a 302, no page, no
# hash), collected by wrk into one file per thread, and redeemed once each
# with the PKCE verifier. Redemption runs half as long as collection, so
# the codes last.
verifier="bench-verifier-$(head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=')"
challenge=$(python3 -c 'import base64,hashlib,sys; print(base64.urlsafe_b64encode(hashlib.sha256(sys.argv[1].encode()).digest()).rstrip(b"=").decode())' "$verifier")
code_seconds=$(( ${DURATION%s} / 2 ))
# Prints "issue_rps issue_p50 issue_p99 redeem_rps redeem_p50 redeem_p99"
# for client $1 asking for scope $2.
code_grant() {
  local client=$1 scope=$2 path cookie az cg
  path="/authorize?response_type=code&client_id=$client&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback&scope=$scope&code_challenge=$challenge&code_challenge_method=S256"
  cookie=$(python3 bench/sign_in.py "http://localhost:$PORT" "${path#*\?}" bench bench-password)
  rm -f "$work"/codes.*
  az=$(url="http://127.0.0.1:$PORT/authorize" BENCH_COOKIE="$cookie" \
    BENCH_AUTHORIZE_PATH="$path" BENCH_CODES="$work/codes" \
    measure -t2 -c32 -d"$DURATION" -s bench/authorize.lua)
  cg=$(BENCH_CODES="$work/codes" BENCH_CLIENT="$client" \
    BENCH_REDIRECT="http%3A%2F%2F127.0.0.1%3A9%2Fcallback" BENCH_VERIFIER="$verifier" \
    BENCH_REPORT="$work/code-report" measure -t2 -c32 -d"${code_seconds}s" -s bench/code.lua)
  if grep -q "Non-2xx" "$work/code-report"; then
    echo "some code redemptions failed (or the codes ran out):" >&2
    grep "Non-2xx" "$work/code-report" >&2
  fi
  echo "$az $cg"
}
read -r az_rps az_p50 az_p99 cg_rps cg_p50 cg_p99 < <(code_grant "$app_id" read)
# The same with OpenID Connect: an ID token signed RS256, then EdDSA.
read -r _ _ _ rs_rps rs_p50 rs_p99 < <(code_grant "$rs256_id" openid)
read -r _ _ _ ed_rps ed_p50 ed_p99 < <(code_grant "$eddsa_id" openid)

# Introspection of one PASETO and one reference token, by the bench client.
paseto_token=$(curl -fs -H "Authorization: $BENCH_AUTH" -d grant_type=client_credentials "$url" \
  | json_in access_token)
reference_token=$(curl -fs -u "$ref_id:$ref_secret" -d grant_type=client_credentials "$url" \
  | json_in access_token)
introspect_url="http://127.0.0.1:$PORT/introspect"
# A benchmark of "active": false answers would flatter the figures.
for t in "$paseto_token" "$reference_token"; do
  curl -fs -H "Authorization: $BENCH_AUTH" -d "token=$t" "$introspect_url" | grep -q '"active":true' \
    || { echo "introspection did not find the benchmark token active" >&2; exit 1; }
done
read -r ip_rps ip_p50 ip_p99 < <(url=$introspect_url BENCH_BODY="token=$paseto_token" \
  measure -t2 -c32 -d"$DURATION" -s bench/form.lua)
read -r ir_rps ir_p50 ir_p99 < <(url=$introspect_url BENCH_BODY="token=$reference_token" \
  measure -t2 -c32 -d"$DURATION" -s bench/form.lua)
# Over the 100,000 seeded reference tokens, each asked about in turn.
read -r id_rps id_p50 id_p99 < <(url=$introspect_url BENCH_TOKENS="$work/references" BENCH_THREADS=2 \
  BENCH_REPORT="$work/introspect-report" measure -t2 -c32 -d"$DURATION" -s bench/introspect.lua)
grep -q '^inactive answers: 0$' "$work/introspect-report" \
  || { echo "introspection found seeded tokens inactive:" >&2; grep '^inactive' "$work/introspect-report" >&2; exit 1; }

# The password grant against the argon2id ceiling. The machine's speed
# drifts by more than the gap being measured (the hasher alone has moved
# from 116 to 153 verifications/s within a minute here), so the two are
# interleaved: the hasher alone while the server idles, then the grant,
# then the hasher again, eight times, and each grant round is set against
# the mean of the hasher rounds on either side of it. The median ratio is
# reported, with the spread.
# Each round also records the CPU time the server's argon2 threads got
# against the machine's whole CPU time (user, system and stolen), over the
# same seconds: a figure the machine's drift cannot move, and what is left
# of it is what the rest of a login costs (HTTP, the database, signing).
argon2_ticks() {
  local t total=0
  for t in /proc/"$server_pid"/task/*; do
    case $(cat "$t/comm" 2>/dev/null) in argon2-*)
      total=$((total + $(awk '{print $14 + $15}' "$t/stat" 2>/dev/null || echo 0)));; esac
  done
  echo "$total"
}
machine_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }
hash_rate() { "${CARGO_TARGET_DIR:-target}"/release/examples/hash_rate 2>/dev/null; }
pw_rounds=()
before=$(hash_rate)
for _ in $(seq 1 8); do
  a0=$(argon2_ticks); m0=$(machine_ticks)
  read -r rps p50 p99 < <(BENCH_BODY="grant_type=password&username=bench&password=bench-password" \
    measure -t2 -c16 -d"$DURATION" -s bench/form.lua)
  a1=$(argon2_ticks); m1=$(machine_ticks)
  after=$(hash_rate)
  pw_rounds+=("$before $after $rps $p50 $p99 $(( 1000 * (a1 - a0) / (m1 - m0) ))")
  before=$after
done
read -r hash_rate pw_rps pw_p50 pw_p99 pw_share pw_spread pw_cpu pw_cpu_spread < <(python3 - "${pw_rounds[@]}" <<'PY'
import sys
rounds = [r.split() for r in sys.argv[1:]]
ratios = sorted(
    (100 * float(rps) / ((float(h0) + float(h1)) / 2), (float(h0) + float(h1)) / 2, rps, p50, p99)
    for h0, h1, rps, p50, p99, _ in rounds
)
share, rate, rps, p50, p99 = ratios[len(ratios) // 2]
cpu = sorted(int(r[5]) / 10 for r in rounds)
print(f"{rate:.1f}", rps, p50, p99, f"{share:.0f}", f"{ratios[0][0]:.0f}-{ratios[-1][0]:.0f}",
      f"{cpu[len(cpu) // 2]:.1f}", f"{cpu[0]:.1f}-{cpu[-1]:.1f}")
PY
)

# Passkey sign-ins, last: the bench user gets a passkey, and with it a
# second factor that the password grant above would refuse. Each is a
# browser's whole sign-in (login page, options, an ES256 answer from a
# software authenticator, the session); tests/examples/passkey_sign_ins.rs.
cargo build --release -q -p portcullis-tests --example passkey_sign_ins
pk_line=$("${CARGO_TARGET_DIR:-target}/release/examples/passkey_sign_ins" \
  "http://localhost:$PORT" bench bench-password 16 "${DURATION%s}")

# What an authenticator app's code adds to a browser sign-in: password
# sign-ins and password + TOTP sign-ins in alternating blocks, one at a
# time, with the server's CPU time per sign-in; tests/examples/totp_sign_ins.rs.
cargo build --release -q -p portcullis-tests --example totp_sign_ins
mapfile -t totp_lines < <("${CARGO_TARGET_DIR:-target}/release/examples/totp_sign_ins" \
  "http://localhost:$PORT" "$server_pid" 400 8)

if grep -q '"error"' "$work/server.log"; then echo "server logged errors:" >&2; tail -5 "$work/server.log" >&2; fi

kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""

rows_label=$([ "$ROWS" = 0 ] && echo "empty database" || echo "$ROWS users seeded in ${seed_seconds} s")
python3 bench/report.py "$backend" "$ROWS" \
  "heading=$backend, $rows_label ($(date -u +%Y-%m-%d), $(nproc) cores, wrk on the same machine)" \
  "note=argon2id alone on all cores (measured before and after each of eight rounds of the password grant; the median round): $hash_rate verifications/s; the password grant reached $pw_share% of it (rounds: $pw_spread%). During the grant the hashing threads had $pw_cpu% of the machine's CPU time (rounds: $pw_cpu_spread%); the rest is what the rest of a login costs." \
  "note=Idle resident memory after start-up: $((idle_kib / 1024)) MiB." \
  "client_credentials|client_credentials|32|$cc_rps|$cc_p50|$cc_p99" \
  "password|password (argon2id 12 MiB, t=3, p=1)|16|$pw_rps|$pw_p50|$pw_p99" \
  "refresh|refresh_token (rotation), 32 families|32|$rt_rps|$rt_p50|$rt_p99" \
  "refresh_many|refresh_token (rotation), 1,000 families in turn|32|$rf_rps|$rf_p50|$rf_p99" \
  "authorize|GET /authorize with an SSO session (code issued)|32|$az_rps|$az_p50|$az_p99" \
  "code|authorization_code with PKCE (codes prepared above)|32|$cg_rps|$cg_p50|$cg_p99" \
  "code_rs256|the same with \`openid\`: ID token RS256|32|$rs_rps|$rs_p50|$rs_p99" \
  "code_eddsa|the same with \`openid\`: ID token EdDSA|32|$ed_rps|$ed_p50|$ed_p99" \
  "introspect_paseto|introspection, PASETO token|32|$ip_rps|$ip_p50|$ip_p99" \
  "introspect_reference|introspection, one reference token (cached)|32|$ir_rps|$ir_p50|$ir_p99" \
  "$pk_line" \
  "${totp_lines[@]}" \
  "introspect_distinct|introspection, 100,000 distinct reference tokens in turn|32|$id_rps|$id_p50|$id_p99"
