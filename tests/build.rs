//! Which tests can run here (this script also builds `auth-store` and the
//! binary, whose tests share the PostgreSQL rule), decided when they are built, so that a test
//! that cannot run is reported as ignored with its reason, never as passed:
//! - the PostgreSQL variants need `PORTCULLIS_TEST_POSTGRES` (CI sets it);
//!   with it, a server that cannot be reached fails them;
//! - the real-browser tests need Debian's `chromedriver`, or
//!   `PORTCULLIS_REQUIRE_BROWSER` (CI sets it), with which a missing driver
//!   fails them;
//! - the mail tests need `aiosmtpd` importable by `python3` (a real SMTP
//!   server), or `PORTCULLIS_REQUIRE_MAIL` (CI sets it), with which a
//!   missing one fails them.
fn main() {
    println!("cargo::rerun-if-env-changed=PORTCULLIS_TEST_POSTGRES");
    println!("cargo::rerun-if-env-changed=PORTCULLIS_REQUIRE_BROWSER");
    println!("cargo::rustc-check-cfg=cfg(postgres_tests)");
    println!("cargo::rustc-check-cfg=cfg(browser_tests)");
    println!("cargo::rerun-if-env-changed=PORTCULLIS_REQUIRE_MAIL");
    println!("cargo::rustc-check-cfg=cfg(mail_tests)");
    let aiosmtpd = std::process::Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if aiosmtpd || std::env::var_os("PORTCULLIS_REQUIRE_MAIL").is_some() {
        println!("cargo::rustc-cfg=mail_tests");
    }
    if std::env::var("PORTCULLIS_TEST_POSTGRES").is_ok_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=postgres_tests");
    }
    let driver = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .iter()
        .any(|p| std::path::Path::new(p).exists());
    if driver || std::env::var_os("PORTCULLIS_REQUIRE_BROWSER").is_some() {
        println!("cargo::rustc-cfg=browser_tests");
    }
}
