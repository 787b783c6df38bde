//! A real browser: headless Chromium driven over WebDriver signs in through
//! the hosted page and lands on the client's redirect with a code.
//!
//! Needs `chromium` and `chromedriver` (Debian's `chromium` and
//! `chromium-driver`; `.ci/run` installs them). Without them the test says
//! so and passes, unless `PORTCULLIS_REQUIRE_BROWSER` is set, as CI sets it.
//! With `PORTCULLIS_SAVE_SCREENSHOT` set it writes the login page to
//! `docs/img/login.png`.
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use portcullis_tests::{Backend, ClientSetup, ScratchDb, TestApp};
use serde_json::json;

const VERIFIER: &str = "M25iVXpKU3puUjFaYWg3T1NDTDQtcW1ROUY5YXlwalNoc0hhakxifmZHag";
const CHALLENGE: &str = "qjrzSW9gMiUgpUvqgEPE4_-8swvyCtfOVvg55o5S_es";

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_driver() -> Option<(Driver, u16)> {
    let binary = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let Some(binary) = binary else {
        assert!(
            std::env::var_os("PORTCULLIS_REQUIRE_BROWSER").is_none(),
            "chromedriver is not installed"
        );
        eprintln!("chromedriver is not installed: real-browser test not run");
        return None;
    };
    let port = free_port();
    let child = Command::new(binary)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let driver = Driver(child);
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Some((driver, port));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("chromedriver did not start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chromium_signs_in_through_the_hosted_page() {
    let Some((_driver, port)) = start_driver().await else {
        return;
    };
    let app = TestApp::spawn(ScratchDb::new(Backend::Sqlite).await.unwrap()).await;
    // The client's redirect URI is a page of this server, so the browser
    // lands somewhere real and the test can read the URL it landed on.
    let callback = app.url("/healthz");
    let redirect_uris = [callback.as_str()];
    let (client_id, _) = app
        .client(ClientSetup {
            id: Some("demo-app"),
            public: true,
            grants: &["authorization_code"],
            redirect_uris: &redirect_uris,
            scope: "read",
            ..Default::default()
        })
        .await;
    app.user("michael", Some("michael_lee@gmail.com"), "correct-horse")
        .await;

    let profile = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=720,820", format!("--user-data-dir={}", profile.path().display()),
            ]
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let browser = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("WebDriver session");

    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", client_id.as_str()),
            ("response_type", "code"),
            ("redirect_uri", callback.as_str()),
            ("code_challenge_method", "S256"),
            ("code_challenge", CHALLENGE),
            ("state", "ahg84hek2n"),
            ("scope", "read"),
        ])
        .finish();
    browser
        .goto(&app.url(&format!("/authorize?{query}")))
        .await
        .unwrap();
    let title = browser.title().await.unwrap();
    assert_eq!(title, "Sign in · Portcullis");
    if std::env::var_os("PORTCULLIS_SAVE_SCREENSHOT").is_some() {
        let png = browser.screenshot().await.unwrap();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/img/login.png");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }
    browser
        .find(Locator::Id("username"))
        .await
        .unwrap()
        .send_keys("michael")
        .await
        .unwrap();
    browser
        .find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys("correct-horse")
        .await
        .unwrap();
    browser
        .find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    let mut landed = None;
    for _ in 0..100 {
        let url = browser.current_url().await.unwrap();
        if url.path() == "/healthz" {
            landed = Some(url);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let landed = landed.expect("the browser reached the client's redirect URI");
    let param = |name: &str| {
        landed
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("state").as_deref(), Some("ahg84hek2n"));
    let code = param("code").expect("a code");
    let t = app
        .post_form(
            "/token",
            None,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &client_id),
                ("code", &code),
                ("redirect_uri", &callback),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(t.status, 200, "{}", t.text);
    browser.close().await.unwrap();
}
