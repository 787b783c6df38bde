# Shortcuts; every one is a plain cargo or script command, so `just` is optional.

# Run the server on the embedded SQLite default.
serve:
    cargo run --release -p portcullis -- serve

# The whole test suite (PostgreSQL variants run when PORTCULLIS_TEST_POSTGRES is set).
test:
    cargo test --workspace

# What CI runs.
ci:
    bash .ci/run

# Load benchmark of the token endpoint, then the criterion micro-benchmarks.
# `just bench` uses a temporary SQLite file; `just bench postgres://postgres@127.0.0.1:5432/postgres`
# uses a fresh database on that server.
bench db="":
    bash bench/run.sh {{db}}
    bash bench/memory.sh
    cargo bench -p auth-crypto --bench crypto
