//! Whether the PostgreSQL variants of the tests run: they need
//! `PORTCULLIS_TEST_POSTGRES` (CI sets it). Without it they are built
//! ignored, with that reason, so a run reports them as ignored instead of
//! passing without having run; with it a server that cannot be reached
//! fails them.
fn main() {
    println!("cargo::rerun-if-env-changed=PORTCULLIS_TEST_POSTGRES");
    println!("cargo::rustc-check-cfg=cfg(postgres_tests)");
    if std::env::var("PORTCULLIS_TEST_POSTGRES").is_ok_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=postgres_tests");
    }
}
