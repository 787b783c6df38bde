use std::process::ExitCode;

use clap::Parser as _;

/// jemalloc rather than glibc's malloc: glibc keeps an arena per thread that
/// ever allocated and rarely gives their pages back, so what a load grew
/// stays resident (bench/memory.sh: 168 MiB under load, still 168 MiB
/// after), where jemalloc's background thread returns pages left unused for
/// its decay time. Its settings are built in (`JEMALLOC_SYS_WITH_MALLOC_CONF`
/// in .cargo/config.toml, which says why each is there). Built unprefixed,
/// it is also the `malloc` of the C code in the process (SQLite's
/// allocations were 12 % of an introspection profile in glibc's).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = portcullis::cli::Cli::parse();
    portcullis::logging::init(cli.log_format());
    // Blocking work is bounded by its own limits (one connection per pooled
    // SQLite query, one argon2 hash per core), so a small blocking pool is
    // enough; tokio's default of 512 threads only costs memory under load.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(64)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(portcullis::cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
