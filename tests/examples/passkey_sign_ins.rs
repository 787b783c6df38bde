//! Load of passkey sign-ins against a running server, for `bench/run.sh`:
//! `cargo run --release -p portcullis-tests --example passkey_sign_ins --
//! BASE USERNAME PASSWORD CONNECTIONS SECONDS`.
//!
//! Signs USERNAME in with its password once, registers a passkey made by a
//! software authenticator (ES256; the one `auth-passkeys`'s tests use),
//! then runs CONNECTIONS loops for SECONDS, each a whole passkey sign-in as
//! a browser makes it: the login page (its CSRF cookie), the options, the
//! signed answer, the session. Prints one `report.py` line:
//! `passkey|passkey sign-in|CONNECTIONS|sign-ins/s|p50|p99`.
//!
//! The authenticator keeps no signature counter (as synced passkeys do):
//! parallel sign-ins with one key are then all valid.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::time::{Duration, Instant};

#[path = "../../crates/auth-passkeys/tests/support/soft_key.rs"]
#[allow(dead_code)]
mod soft_key;

/// The first `csrf_token` value of a page.
fn csrf(html: &str) -> String {
    let at = html
        .find("name=\"csrf_token\" value=\"")
        .expect("a CSRF field")
        + 25;
    html[at..at + html[at..].find('"').unwrap()].to_owned()
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn sign_in(base: &str, key: &soft_key::SoftKey) -> Duration {
    let started = Instant::now();
    let b = browser();
    let page = b.get(format!("{base}/login")).send().await.unwrap();
    let token = csrf(&page.text().await.unwrap());
    let options: serde_json::Value = b
        .post(format!("{base}/login/passkey/options"))
        .form(&[("csrf_token", &token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let answer = key.assert(&options["options"].to_string(), 0x05, 0);
    let done = b
        .post(format!("{base}/login/passkey"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("ceremony", options["ceremony"].as_str().unwrap()),
            ("response", &answer),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303, "a passkey sign-in was refused");
    started.elapsed()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base, username, password, connections, seconds] = &args[..] else {
        panic!("BASE USERNAME PASSWORD CONNECTIONS SECONDS");
    };
    let connections: usize = connections.parse().unwrap();
    let seconds: u64 = seconds.parse().unwrap();

    // Register the passkey from a signed-in browser.
    let b = browser();
    let page = b.get(format!("{base}/login")).send().await.unwrap();
    let token = csrf(&page.text().await.unwrap());
    let r = b
        .post(format!("{base}/login"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "the password sign-in failed");
    let page = b
        .get(format!("{base}/account/security"))
        .send()
        .await
        .unwrap();
    let token = csrf(&page.text().await.unwrap());
    let options: serde_json::Value = b
        .post(format!("{base}/account/passkeys/options"))
        .form(&[("csrf_token", &token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .expect("passkeys are on (the issuer needs a domain name, such as localhost)");
    let mut key = soft_key::SoftKey::for_origin(base);
    let answer = key.register(&options["options"].to_string());
    let r = b
        .post(format!("{base}/account/passkeys"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("ceremony", options["ceremony"].as_str().unwrap()),
            ("response", &answer),
            ("label", "bench"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the passkey was not registered");

    let key = std::sync::Arc::new(key);
    let until = Instant::now() + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (key, base) = (key.clone(), base.clone());
            tokio::spawn(async move {
                let mut times = Vec::new();
                while Instant::now() < until {
                    times.push(sign_in(&base, &key).await);
                }
                times
            })
        })
        .collect();
    let mut times = Vec::new();
    for w in workers {
        times.extend(w.await.unwrap());
    }
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    let ms = |d: Duration| format!("{:.2}ms", d.as_secs_f64() * 1000.0);
    println!(
        "passkey|passkey sign-in (login page, options, ES256 answer, session)|{connections}|{:.2}|{}|{}",
        times.len() as f64 / seconds as f64,
        ms(at(0.5)),
        ms(at(0.99))
    );
}
