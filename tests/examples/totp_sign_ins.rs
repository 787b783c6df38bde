//! What an authenticator app's code adds to a browser sign-in, for
//! `bench/run.sh`: `cargo run --release -p portcullis-tests --example
//! totp_sign_ins -- BASE SERVER_PID ACCOUNTS BLOCKS`.
//!
//! Registers one account that signs in with a password alone and ACCOUNTS
//! accounts with an authenticator app (through the hosted pages, as people
//! do), then signs in BLOCKS times in turn a block of password sign-ins
//! and a block of password + TOTP sign-ins, ACCOUNTS / BLOCKS of each, one
//! at a time. Each is a whole browser sign-in: the login page, the
//! password, and for the second kind the second step with a code. A code
//! is accepted once per account (its time step must advance), so each
//! TOTP sign-in is another account's, answered with the code of the next
//! time step (within the one step of skew every server allows).
//!
//! Measures each kind's latency and the server's CPU time per sign-in
//! (summed over its threads from `/proc/SERVER_PID/task/*/schedstat`, in
//! nanoseconds): the cost of the second step is the CPU difference.
//! Prints two `report.py` lines and a note.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::time::{Duration, Instant};

use portcullis_tests::{browser, hidden_fields};

const PASSWORD: &str = "totp-bench-password";

/// The server's CPU time so far, over all its threads.
fn server_cpu(pid: &str) -> Duration {
    let mut total = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let stat = std::fs::read_to_string(task.unwrap().path().join("schedstat"));
        // A thread that ended between the listing and the read is skipped.
        if let Ok(stat) = stat {
            total += stat
                .split_whitespace()
                .next()
                .unwrap()
                .parse::<u64>()
                .unwrap();
        }
    }
    Duration::from_nanos(total)
}

/// What is between `start` and the next `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).unwrap_or_else(|| panic!("no {start:?}")) + start.len();
    &text[from..from + text[from..].find(end).unwrap()]
}

/// The code an authenticator app shows for `key` (base32) `steps` time
/// steps from now.
fn code(key: &str, steps: i64) -> String {
    let now = chrono::Utc::now().timestamp() + steps * 30;
    totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(totp_rs::Secret::try_from_base32(key).unwrap())
        .build()
        .unwrap()
        .generate(u64::try_from(now).unwrap())
        .to_string()
}

/// Posts `fields` and the page's own hidden fields (its CSRF token and the
/// pending request) to `path`.
async fn post(
    b: &reqwest::Client,
    base: &str,
    path: &str,
    page: &str,
    fields: &[(&str, &str)],
) -> (u16, String) {
    let mut form: Vec<(String, String)> = hidden_fields(page)
        .into_iter()
        .filter(|(k, _)| !["method", "ceremony", "response"].contains(&k.as_str()))
        .collect();
    form.dedup();
    form.extend(
        fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let r = b
        .post(format!("{base}{path}"))
        .form(&form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn get(b: &reqwest::Client, base: &str, path: &str) -> String {
    b.get(format!("{base}{path}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// A new account, signed in: its browser.
async fn register(base: &str, username: &str) -> reqwest::Client {
    let b = browser();
    let page = get(&b, base, "/register").await;
    let email = format!("{username}@bench.example");
    let fields = [
        ("username", username),
        ("email", &email),
        ("password", PASSWORD),
    ];
    let (status, text) = post(&b, base, "/register", &page, &fields).await;
    assert_eq!(status, 303, "registration refused (its throttle?): {text}");
    b
}

/// Enrols an authenticator app for the signed-in `b`: its key.
async fn enrol(b: &reqwest::Client, base: &str) -> String {
    let page = get(b, base, "/account/security").await;
    let (status, page) = post(b, base, "/account/totp", &page, &[("label", "app")]).await;
    assert_eq!(status, 200, "{page}");
    let key = between(&page, "<code id=\"manual-key\">", "</code>").to_owned();
    let (status, text) = post(
        b,
        base,
        "/account/totp/confirm",
        &page,
        &[("code", &code(&key, 0))],
    )
    .await;
    assert_eq!(status, 200, "{text}");
    key
}

/// The login page and the password: the answer.
async fn password_step(b: &reqwest::Client, base: &str, username: &str) -> (u16, String) {
    let page = get(b, base, "/login").await;
    let fields = [("username", username), ("password", PASSWORD)];
    post(b, base, "/login", &page, &fields).await
}

async fn password_sign_in(base: &str, username: &str) -> Duration {
    let started = Instant::now();
    let (status, text) = password_step(&browser(), base, username).await;
    assert_eq!(status, 303, "a password sign-in was refused: {text}");
    started.elapsed()
}

/// One password + TOTP sign-in: how long it took, and the server CPU time
/// of its second step's request alone.
async fn totp_sign_in(base: &str, pid: &str, username: &str, key: &str) -> (Duration, Duration) {
    let started = Instant::now();
    let b = browser();
    let (status, page) = password_step(&b, base, username).await;
    assert_eq!(status, 200, "no second step: {page}");
    let answer = [("method", "totp"), ("code", &code(key, 1))];
    let before = server_cpu(pid);
    let (status, text) = post(&b, base, "/login/second-factor", &page, &answer).await;
    let step = server_cpu(pid) - before;
    assert_eq!(status, 303, "a TOTP second step was refused: {text}");
    (started.elapsed(), step)
}

/// Sign-ins per second of one connection, p50 and p99.
fn summary(times: &mut [Duration]) -> (f64, String, String) {
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    let ms = |d: Duration| format!("{:.2}ms", d.as_secs_f64() * 1000.0);
    let total: Duration = times.iter().sum();
    (
        times.len() as f64 / total.as_secs_f64(),
        ms(at(0.5)),
        ms(at(0.99)),
    )
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base, pid, accounts, blocks] = &args[..] else {
        panic!("BASE SERVER_PID ACCOUNTS BLOCKS");
    };
    let accounts: usize = accounts.parse().unwrap();
    let blocks: usize = blocks.parse().unwrap();
    let per_block = accounts / blocks;
    assert!(per_block > 0, "fewer accounts than blocks");
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();

    let plain = format!("pw-{run}");
    register(base, &plain).await;
    let mut enrolled = Vec::with_capacity(accounts);
    for i in 0..accounts {
        let username = format!("totp-{run}-{i}");
        let b = register(base, &username).await;
        enrolled.push((username, enrol(&b, base).await));
    }

    let (mut password_times, mut totp_times) = (Vec::new(), Vec::new());
    let (mut password_cpu, mut totp_cpu, mut step_cpu) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut next = enrolled.iter();
    for _ in 0..blocks {
        let before = server_cpu(pid);
        for _ in 0..per_block {
            password_times.push(password_sign_in(base, &plain).await);
        }
        let between = server_cpu(pid);
        for (username, key) in next.by_ref().take(per_block) {
            let (took, step) = totp_sign_in(base, pid, username, key).await;
            totp_times.push(took);
            step_cpu += step;
        }
        let after = server_cpu(pid);
        password_cpu += between - before;
        totp_cpu += after - between;
    }

    let n = password_times.len() as u32;
    let (password_cpu, totp_cpu, step_cpu) = (password_cpu / n, totp_cpu / n, step_cpu / n);
    let (pw_rate, pw_p50, pw_p99) = summary(&mut password_times);
    let (totp_rate, totp_p50, totp_p99) = summary(&mut totp_times);
    println!(
        "password_page|password sign-in (login page, password), one at a time|1|{pw_rate:.2}|{pw_p50}|{pw_p99}"
    );
    println!(
        "totp_page|password + TOTP sign-in (login page, password, second step), one at a time|1|{totp_rate:.2}|{totp_p50}|{totp_p99}"
    );
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "note=Server CPU time per browser sign-in ({n} of each, in {blocks} alternating blocks, one at a time): password {:.2} ms, password + TOTP {:.2} ms ({:+.1} %; argon2id's spread moves this by a few points from run to run). The second step's own request took {:.2} ms ({:.1} % of a password sign-in); latency p50 {pw_p50} and {totp_p50}.",
        ms(password_cpu),
        ms(totp_cpu),
        (ms(totp_cpu) / ms(password_cpu) - 1.0) * 100.0,
        ms(step_cpu),
        ms(step_cpu) / ms(password_cpu) * 100.0
    );
}
