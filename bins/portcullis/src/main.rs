use std::process::ExitCode;

use clap::Parser as _;

/// jemalloc rather than glibc's malloc: glibc keeps one arena per thread
/// that ever allocated and rarely gives their pages back, so the resident
/// memory a load leaves behind stays (measured: 28 MiB idle, 70 MiB under
/// the benchmark's load, still 70 MiB 20 s later). jemalloc's background
/// thread returns pages unused for a while (bench/memory.sh).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = portcullis::cli::Cli::parse();
    portcullis::logging::init(cli.log_format());
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
        tracing::warn!(error = %e, "jemalloc's background thread did not start: memory is returned only on allocation");
    }
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
