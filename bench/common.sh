# Shared by the benchmark scripts, which source it after `cd` to the
# repository: a scratch directory, a scratch database, the release binary,
# the server's start and JSON fields. Everything it starts or creates is
# removed when the script exits.

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }

work=$(mktemp -d)
server_pid=""
# Other processes the script starts in the background, stopped at exit.
background_pids=()
pg_admin=""
pg_name=""
bench_cleanup() {
  local pid
  for pid in "${background_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  if [ -n "$pg_name" ]; then psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS $pg_name WITH (FORCE)" >/dev/null || true; fi
  rm -rf "$work"
}
trap bench_cleanup EXIT

# Sets BIN to the release server, building it unless BIN names a build.
release_bin() {
  if [ -z "${BIN:-}" ]; then
    cargo build --release -p portcullis
    BIN=${CARGO_TARGET_DIR:-target}/release/portcullis
  fi
}

# Sets `backend` and `db_url` from $1: empty for a SQLite file in the scratch
# directory, sqlite://FILE, or postgres://URL for a fresh database on that
# server (dropped at exit).
scratch_database() {
  case "$1" in
    "") backend=sqlite; db_url="sqlite://$work/bench.db" ;;
    sqlite://*) backend=sqlite; db_url=$1 ;;
    postgres://*|postgresql://*)
      backend=postgres
      pg_admin=$1
      pg_name="portcullis_bench_$$"
      psql -q "$pg_admin" -c "CREATE DATABASE $pg_name" >/dev/null
      db_url="${pg_admin%/*}/$pg_name"
      ;;
    *) echo "a database is sqlite://FILE or postgres://URL, not $1" >&2; exit 2 ;;
  esac
}

# Writes the server's settings for `db_url` on $PORT. One account signs in
# from many connections at once: every attempt in flight holds a throttle
# reservation until it succeeds, so the limit is raised.
write_settings() {
  cat > "$work/settings.toml" <<TOML
bind = "127.0.0.1:$PORT"
# A name, not an address: WebAuthn needs one (passkeys are off under an IP
# issuer). As long as 127.0.0.1, so tokens are as long as before.
issuer = "http://localhost:$PORT"
metrics_bind = "127.0.0.1:0"
database_url = "$db_url"
login_max_attempts = 1000
second_factor_max_attempts = 1000
# The TOTP figure registers its accounts through the hosted pages.
registration_max_per_address = 100000
registration_max_total = 100000
TOML
  # The operator's commands open an existing database only.
  "$BIN" --config "$work/settings.toml" migrate >/dev/null
}

# The binary's commands with those settings.
run() { "$BIN" --config "$work/settings.toml" "$@"; }

# Starts `serve` (its arguments run before the binary: `start_server taskset
# -c 0`) and waits until it answers.
start_server() {
  RUST_LOG=warn "$@" "$BIN" --config "$work/settings.toml" serve >"$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && return
    sleep 0.1
  done
  echo "the server did not start:" >&2; tail -5 "$work/server.log" >&2; exit 1
}

# Field $2 of the JSON object $1.
json() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$@"; }
# Field $1 of the JSON object on standard input.
json_in() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
