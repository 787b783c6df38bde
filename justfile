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

# Load benchmark of the token endpoint on an empty database and on one seeded
# with a million users (bench/seed.py), then memory and the criterion
# micro-benchmarks. `just bench` uses a temporary SQLite file;
# `just bench postgres://postgres@127.0.0.1:5432/postgres` a fresh database on
# that server; `just bench "" 100000` seeds fewer users.
bench db="" rows="1000000":
    bash bench/run.sh {{db}}
    bash bench/run.sh --rows {{rows}} {{db}}
    bash bench/memory.sh
    cargo bench -p auth-crypto --bench crypto
