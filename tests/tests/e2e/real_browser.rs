//! A real browser: headless Chromium driven over WebDriver signs in through
//! the hosted page and consents, and lands on the client's callback, served
//! by a second HTTP server on another origin as a real client's is.
//!
//! Needs `chromium` and `chromedriver` (Debian's `chromium` and
//! `chromium-driver`; `.ci/run` installs them). Where no chromedriver was
//! found when the tests were built, they are reported as ignored with that
//! reason (`tests/build.rs`); with `PORTCULLIS_REQUIRE_BROWSER` set, as CI
//! sets it, a missing driver fails them.
//! With `PORTCULLIS_SAVE_SCREENSHOT` set it writes the login page to
//! `docs/img/login.png` and the account page to `docs/img/account.png`.
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use portcullis_tests::scenarios;
use portcullis_tests::{ClientSetup, ScratchDb, TestApp};
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

async fn start_driver() -> Option<(Driver, u16)> {
    let binary = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    // Built to run (see build.rs): a driver gone since, or required by
    // PORTCULLIS_REQUIRE_BROWSER and missing, fails the test.
    let binary = binary.expect("chromedriver is not installed");
    let port = portcullis_tests::unclaimed_port();
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

/// A client's callback on another origin: a second HTTP server on its own
/// port that answers every request with a small page, as a real client's
/// redirect endpoint would.
struct Callback {
    port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl Callback {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = stream.read(&mut buf).await;
                    let body = "<!doctype html><title>Client callback</title><p>signed in";
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(reply.as_bytes()).await;
                });
            }
        });
        Self { port, task }
    }

    fn uri(&self) -> String {
        format!("http://127.0.0.1:{}/cb", self.port)
    }
}

impl Drop for Callback {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn open_browser(port: u16, profile: &tempfile::TempDir) -> fantoccini::Client {
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
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("WebDriver session")
}

fn authorize_query(client_id: &str, callback: &str, state: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", client_id),
            ("response_type", "code"),
            ("redirect_uri", callback),
            ("code_challenge_method", "S256"),
            ("code_challenge", CHALLENGE),
            ("state", state),
            ("scope", "read"),
        ])
        .finish()
}

/// Waits until the browser is on the callback server, and returns the URL
/// it arrived at; fails with the page it is stuck on otherwise.
async fn arrival(browser: &fantoccini::Client, callback: &Callback) -> url::Url {
    for _ in 0..100 {
        // A page between two documents has no URL to give yet.
        if let Ok(url) = browser.current_url().await
            && url.port() == Some(callback.port)
        {
            return url;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stuck = browser.current_url().await.unwrap();
    let html = browser.source().await.unwrap_or_default();
    panic!("the browser never reached the client's callback; it is on {stuck}: {html}");
}

fn query_param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Redeems a code the browser brought back, as the client would.
async fn redeem(app: &TestApp, client: &str, code: &str, callback: &str) {
    let t = app
        .post_form(
            "/token",
            None,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", client),
                ("code", code),
                ("redirect_uri", callback),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(t.status, 200, "{}", t.text);
}

/// Types each text into the field with its id.
async fn type_into(browser: &fantoccini::Client, fields: &[(&str, &str)]) {
    for (id, text) in fields {
        browser
            .find(Locator::Id(id))
            .await
            .unwrap()
            .send_keys(text)
            .await
            .unwrap();
    }
}

async fn click_submit(browser: &fantoccini::Client, selector: &str) {
    browser
        .find(Locator::Css(selector))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn chromium_signs_in_and_consents_for_clients_on_another_origin(db: ScratchDb) {
    let Some((_driver, port)) = start_driver().await else {
        return;
    };
    let app = TestApp::spawn(db).await;
    let callback = Callback::start().await;
    let callback_uri = callback.uri();
    let redirect_uris = [callback_uri.as_str()];
    let (first_party, _) = app
        .client(ClientSetup {
            id: Some("demo-app"),
            public: true,
            grants: &["authorization_code"],
            redirect_uris: &redirect_uris,
            scope: "read",
            ..Default::default()
        })
        .await;
    let (third_party, _) = app
        .client(ClientSetup {
            id: Some("partner-app"),
            public: true,
            grants: &["authorization_code"],
            redirect_uris: &redirect_uris,
            scope: "read",
            first_party: false,
            ..Default::default()
        })
        .await;
    let (legacy, _) = app
        .client(ClientSetup {
            id: Some("legacy-app"),
            public: true,
            grants: &["password", "refresh_token"],
            redirect_uris: &redirect_uris,
            legacy: true,
            ..Default::default()
        })
        .await;
    app.user("michael", Some("michael_lee@gmail.com"), "correct-horse")
        .await;

    let profile = tempfile::tempdir().unwrap();
    let browser = open_browser(port, &profile).await;

    // A first-party client: sign in, then straight to its callback.
    let query = authorize_query(&first_party, &callback_uri, "ahg84hek2n");
    browser
        .goto(&app.url(&format!("/authorize?{query}")))
        .await
        .unwrap();
    assert_eq!(browser.title().await.unwrap(), "Sign in · Portcullis");
    if std::env::var_os("PORTCULLIS_SAVE_SCREENSHOT").is_some() {
        let png = browser.screenshot().await.unwrap();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/img/login.png");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }
    type_into(
        &browser,
        &[("username", "michael"), ("password", "correct-horse")],
    )
    .await;
    click_submit(&browser, "button[type=submit]").await;
    let landed = arrival(&browser, &callback).await;
    assert_eq!(landed.path(), "/cb");
    assert_eq!(query_param(&landed, "state").as_deref(), Some("ahg84hek2n"));
    let code = query_param(&landed, "code").expect("a code");
    redeem(&app, &first_party, &code, &callback_uri).await;

    // A third-party client: the session is there, so the consent page;
    // allowing sends the browser to that client's callback.
    let query = authorize_query(&third_party, &callback_uri, "xyz-third");
    browser
        .goto(&app.url(&format!("/authorize?{query}")))
        .await
        .unwrap();
    assert_eq!(browser.title().await.unwrap(), "Allow access? · Portcullis");
    click_submit(&browser, "button[value=allow]").await;
    let landed = arrival(&browser, &callback).await;
    assert_eq!(query_param(&landed, "state").as_deref(), Some("xyz-third"));
    let code = query_param(&landed, "code").expect("a code after consent");
    redeem(&app, &third_party, &code, &callback_uri).await;

    // Registration on the hosted page, in a browser with no session:
    // the new account lands on the client's callback with a code.
    browser.delete_all_cookies().await.unwrap();
    let query = authorize_query(&first_party, &callback_uri, "new-account");
    browser
        .goto(&app.url(&format!("/authorize?{query}")))
        .await
        .unwrap();
    browser
        .find(Locator::LinkText("Create one"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(
        browser.title().await.unwrap(),
        "Create an account · Portcullis"
    );
    type_into(
        &browser,
        &[
            ("username", "newcomer"),
            ("email", "newcomer@example.org"),
            ("password", "a-long-passphrase"),
        ],
    )
    .await;
    click_submit(&browser, "button[type=submit]").await;
    let landed = arrival(&browser, &callback).await;
    assert_eq!(
        query_param(&landed, "state").as_deref(),
        Some("new-account")
    );
    assert!(query_param(&landed, "code").is_some());

    // Seed 000's redirect login: the tokens arrive in the callback's query.
    browser.delete_all_cookies().await.unwrap();
    let login = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", legacy.as_str()),
            ("scope", "0"),
            ("redirect_uri", callback_uri.as_str()),
        ])
        .finish();
    browser
        .goto(&app.url(&format!("/login?{login}")))
        .await
        .unwrap();
    type_into(
        &browser,
        &[("username", "michael"), ("password", "correct-horse")],
    )
    .await;
    click_submit(&browser, "button[type=submit]").await;
    let landed = arrival(&browser, &callback).await;
    let access = query_param(&landed, "access_token").expect("an access token in the redirect");
    assert_eq!(
        app.get_bearer("/me", &access).await.str("username"),
        "michael"
    );
    browser.close().await.unwrap();
}

async fn chromium_signs_in_through_github_for_a_client_on_another_origin(db: ScratchDb) {
    use portcullis_tests::fake_github::{
        Behaviour, CLIENT_ID, CLIENT_SECRET, FakeGitHub, FakeUser,
    };
    let Some((_driver, port)) = start_driver().await else {
        return;
    };
    let github = FakeGitHub::start().await;
    github.add_token(
        "gho_octo",
        FakeUser::new(583231, "octocat", "octocat@github.example"),
        Behaviour::Normal,
    );
    github.sign_in_next("gho_octo");
    // GitHub sends the browser back to the issuer: the server's own
    // address here.
    let server_port = portcullis_tests::unclaimed_port();
    let app = TestApp::spawn_with(
        db,
        portcullis::settings::FileSettings {
            bind: Some(format!("127.0.0.1:{server_port}")),
            issuer: Some(format!("http://127.0.0.1:{server_port}")),
            github: Some(portcullis::settings::GitHubFile {
                client_id: Some(CLIENT_ID.into()),
                client_secret: Some(CLIENT_SECRET.into()),
                web_url: Some(github.base.clone()),
                api_url: Some(github.base.clone()),
                scope: None,
            }),
            ..Default::default()
        },
    )
    .await;
    let callback = Callback::start().await;
    let callback_uri = callback.uri();
    let (client, _) = app
        .client(ClientSetup {
            public: true,
            grants: &["authorization_code"],
            redirect_uris: &[callback_uri.as_str()],
            scope: "read",
            first_party: true,
            ..Default::default()
        })
        .await;
    let profile = tempfile::tempdir().unwrap();
    let browser = open_browser(port, &profile).await;
    let query = authorize_query(&client, &callback_uri, "via-github");
    browser
        .goto(&app.url(&format!("/authorize?{query}")))
        .await
        .unwrap();
    assert_eq!(browser.title().await.unwrap(), "Sign in · Portcullis");
    // The button posts the form; the answer sends Chromium to GitHub
    // (which the page's CSP must allow), GitHub back to the callback,
    // and the callback on to the client.
    click_submit(&browser, "form[action='/login/upstream/github'] button").await;
    let landed = arrival(&browser, &callback).await;
    assert_eq!(query_param(&landed, "state").as_deref(), Some("via-github"));
    let code = query_param(&landed, "code").expect("a code");
    redeem(&app, &client, &code, &callback_uri).await;
    browser.close().await.unwrap();
}

/// Waits until the page shows a notice containing `text` (a form's answer
/// has loaded), and fails with the page it is on otherwise.
async fn notice(browser: &fantoccini::Client, text: &str) {
    for _ in 0..100 {
        if let Ok(found) = browser.find(Locator::Css("p.notice")).await
            && found.text().await.is_ok_and(|t| t.contains(text))
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let html = browser.source().await.unwrap_or_default();
    panic!("no notice saying {text:?}: {html}");
}

/// Waits until the browser shows a page titled `title` (a link's or a
/// form's answer has loaded).
async fn titled(browser: &fantoccini::Client, title: &str) {
    for _ in 0..100 {
        if browser.title().await.is_ok_and(|t| t == title)
            && browser.find(Locator::Css("main")).await.is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the browser never showed {title:?}");
}

async fn chromium_manages_the_account_on_its_page(db: ScratchDb) {
    let Some((_driver, port)) = start_driver().await else {
        return;
    };
    let app = TestApp::spawn(db).await;
    let callback = Callback::start().await;
    let callback_uri = callback.uri();
    let (client, _) = app
        .client(ClientSetup {
            id: Some("photo-app"),
            public: true,
            grants: &["authorization_code", "refresh_token"],
            redirect_uris: &[callback_uri.as_str()],
            scope: "read",
            ..Default::default()
        })
        .await;
    app.user("michael", Some("michael_lee@gmail.com"), "correct-horse")
        .await;

    // Another browser signed in as the same person (a phone, say).
    let phone = portcullis_tests::browser();
    let page = app.get_with(&phone, "/login").await;
    let mut form = portcullis_tests::hidden_fields(&page.text);
    form.extend([
        ("username".to_owned(), "michael".to_owned()),
        ("password".to_owned(), "correct-horse".to_owned()),
    ]);
    assert_eq!(app.post_with(&phone, "/login", &form).await.status, 303);

    // Chromium signs in for the application, which redeems its code.
    let profile = tempfile::tempdir().unwrap();
    let browser = open_browser(port, &profile).await;
    let query = authorize_query(&client, &callback_uri, "photos");
    browser
        .goto(&app.url(&format!("/authorize?{query}")))
        .await
        .unwrap();
    type_into(
        &browser,
        &[("username", "michael"), ("password", "correct-horse")],
    )
    .await;
    click_submit(&browser, "button[type=submit]").await;
    let landed = arrival(&browser, &callback).await;
    let code = query_param(&landed, "code").expect("a code");
    let tokens = app
        .post_form(
            "/token",
            None,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &client),
                ("code", &code),
                ("redirect_uri", &callback_uri),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    let refresh_token = tokens.str("refresh_token").to_owned();

    // The front door leads to the account page.
    browser.goto(&app.url("/")).await.unwrap();
    browser
        .find(Locator::LinkText("Manage your account"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    titled(&browser, "Your account · Portcullis").await;
    let text = browser
        .find(Locator::Css("main"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("michael_lee@gmail.com") && text.contains("photo-app"),
        "{text}"
    );
    assert_eq!(
        browser
            .find_all(Locator::Css("form[action='/account/sessions/end']"))
            .await
            .unwrap()
            .len(),
        2
    );
    if std::env::var_os("PORTCULLIS_SAVE_SCREENSHOT").is_some() {
        browser.set_window_size(900, 1250).await.unwrap();
        let png = browser.screenshot().await.unwrap();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/img/account.png");
        std::fs::write(path, png).unwrap();
    }

    // On a phone's width the page does not scroll sideways.
    browser.set_window_size(390, 844).await.unwrap();
    let widths = browser
        .execute(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth];",
            vec![],
        )
        .await
        .unwrap();
    let (scroll, visible) = (widths[0].as_u64().unwrap(), widths[1].as_u64().unwrap());
    assert!(
        scroll <= visible,
        "the account page is {scroll} px wide in a {visible} px window"
    );
    browser.set_window_size(720, 820).await.unwrap();

    // End the phone's session: the row that is not this browser's.
    click_submit(
        &browser,
        "tr:not(:has(.tag)) form[action='/account/sessions/end'] button",
    )
    .await;
    notice(&browser, "session was signed out").await;
    assert_eq!(
        app.get_with(&phone, "/account").await.status,
        303,
        "the phone is signed out"
    );
    assert_eq!(
        browser
            .find_all(Locator::Css("form[action='/account/sessions/end']"))
            .await
            .unwrap()
            .len(),
        1
    );

    // Take back the application's access: its refresh token is refused.
    click_submit(
        &browser,
        "form[action='/account/applications/revoke'] button",
    )
    .await;
    notice(&browser, "taken back").await;
    let r = app
        .post_form(
            "/token",
            None,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &client),
                ("refresh_token", &refresh_token),
            ],
        )
        .await;
    assert_eq!((r.status, r.error()), (400, "invalid_grant"), "{}", r.text);

    // Change the password: this browser stays signed in, the old one fails.
    type_into(
        &browser,
        &[
            ("current_password", "correct-horse"),
            ("new_password", "a-new-passphrase"),
            ("confirm_password", "a-new-passphrase"),
        ],
    )
    .await;
    click_submit(&browser, "form[action='/account/password'] button").await;
    notice(&browser, "password was changed").await;
    assert_eq!(browser.title().await.unwrap(), "Your account · Portcullis");
    let fresh = portcullis_tests::browser();
    let page = app.get_with(&fresh, "/login").await;
    let mut old = portcullis_tests::hidden_fields(&page.text);
    old.extend([
        ("username".to_owned(), "michael".to_owned()),
        ("password".to_owned(), "correct-horse".to_owned()),
    ]);
    assert_eq!(
        app.post_with(&fresh, "/login", &old).await.status,
        401,
        "the old password no longer signs in"
    );
    browser.close().await.unwrap();
}

/// A single-page app on its own origin: every path answers one page whose
/// script, back from the authorization server with `?code=...&state=CLIENT`,
/// redeems the code with PKCE through `fetch()` to `/token` and reads
/// `/userinfo` with the access token (a preflighted request), then writes
/// what it read, or why it could not, into `#out`.
struct SinglePageApp {
    port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl SinglePageApp {
    async fn start(issuer: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let page = format!(
            r#"<!doctype html><title>Single-page app</title><pre id="out">working</pre>
<script>
const out = (text) => {{ document.getElementById("out").textContent = text; }};
const params = new URLSearchParams(location.search);
(async () => {{
  try {{
    const answer = await fetch("{issuer}/token", {{
      method: "POST",
      headers: {{ "content-type": "application/x-www-form-urlencoded" }},
      body: new URLSearchParams({{
        grant_type: "authorization_code", code: params.get("code"),
        redirect_uri: location.origin + "/cb", client_id: params.get("state"),
        code_verifier: "{VERIFIER}",
      }}),
    }});
    const tokens = await answer.json();
    const me = await fetch("{issuer}/userinfo", {{
      headers: {{ authorization: "Bearer " + tokens.access_token }},
    }});
    out("userinfo " + JSON.stringify(await me.json()));
  }} catch (e) {{
    out("failed " + e);
  }}
}})();
</script>"#
        );
        let task = tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut stream, _)) = listener.accept().await {
                let page = page.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = stream.read(&mut buf).await;
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                        page.len()
                    );
                    let _ = stream.write_all(reply.as_bytes()).await;
                });
            }
        });
        Self { port, task }
    }

    fn callback(&self) -> String {
        format!("http://127.0.0.1:{}/cb", self.port)
    }
}

impl Drop for SinglePageApp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the single-page app wrote, once it wrote something.
async fn spa_result(browser: &fantoccini::Client) -> String {
    for _ in 0..100 {
        if let Ok(out) = browser.find(Locator::Id("out")).await
            && let Ok(text) = out.text().await
            && text != "working"
        {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the single-page app wrote nothing");
}

async fn a_single_page_app_on_another_origin_runs_the_code_flow_through_fetch(db: ScratchDb) {
    let Some((_driver, port)) = start_driver().await else {
        return;
    };
    let app = TestApp::spawn(db).await;
    let spa = SinglePageApp::start(&app.base).await;
    let callback = spa.callback();
    // Its loopback redirect URI makes its origin (any port) allowed.
    let (allowed, _) = app
        .client(ClientSetup {
            id: Some("spa"),
            public: true,
            grants: &["authorization_code"],
            redirect_uris: &[callback.as_str()],
            scope: "read",
            ..Default::default()
        })
        .await;
    // The same app registered for another origin only: the browser
    // refuses it the answers.
    let (elsewhere, _) = app
        .client(ClientSetup {
            id: Some("spa-elsewhere"),
            public: true,
            grants: &["authorization_code"],
            redirect_uris: &[callback.as_str()],
            scope: "read",
            allowed_origins: &["https://elsewhere.example"],
            ..Default::default()
        })
        .await;
    app.user("michael", None, "correct-horse").await;
    let profile = tempfile::tempdir().unwrap();
    let browser = open_browser(port, &profile).await;

    let query = authorize_query(&allowed, &callback, &allowed);
    browser
        .goto(&app.url(&format!("/authorize?{query}")))
        .await
        .unwrap();
    type_into(
        &browser,
        &[("username", "michael"), ("password", "correct-horse")],
    )
    .await;
    click_submit(&browser, "button[type=submit]").await;
    let read = spa_result(&browser).await;
    assert!(
        read.starts_with("userinfo ") && read.contains("\"username\":\"michael\""),
        "{read}"
    );

    let query = authorize_query(&elsewhere, &callback, &elsewhere);
    browser
        .goto(&app.url(&format!("/authorize?{query}")))
        .await
        .unwrap();
    let read = spa_result(&browser).await;
    assert!(
        read.starts_with("failed TypeError"),
        "the browser let it read: {read}"
    );
    browser.close().await.unwrap();
}

/// The forgot-password walk as a person takes it: the link on the login
/// page, the name, the mail (through a real SMTP server), the link in it,
/// the new password, and a sign-in with it.
async fn chromium_recovers_a_forgotten_password(db: ScratchDb) {
    let Some((_driver, port)) = start_driver().await else {
        return;
    };
    let mailbox = portcullis_tests::mailbox::Mailbox::start().await;
    let app = TestApp::spawn_with(
        db,
        portcullis::settings::FileSettings {
            smtp: Some(mailbox.settings()),
            ..Default::default()
        },
    )
    .await;
    app.user("michael", Some("michael_lee@gmail.com"), "correct-horse")
        .await;
    let profile = tempfile::tempdir().unwrap();
    let browser = open_browser(port, &profile).await;
    browser.goto(&app.url("/login")).await.unwrap();
    browser
        .find(Locator::LinkText("Forgot password?"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    titled(&browser, "Forgot your password? · Portcullis").await;
    type_into(&browser, &[("login", "michael_lee@gmail.com")]).await;
    click_submit(&browser, "button[type=submit]").await;
    titled(&browser, "Check your mail · Portcullis").await;

    let mail = mailbox.wait_for("michael_lee@gmail.com", 1).await.remove(0);
    let path = mail.path_of_link("http://issuer.test");
    browser.goto(&app.url(&path)).await.unwrap();
    titled(&browser, "Choose a new password · Portcullis").await;
    type_into(
        &browser,
        &[
            ("new_password", "a-new-passphrase"),
            ("confirm_password", "a-new-passphrase"),
        ],
    )
    .await;
    click_submit(&browser, "button[type=submit]").await;
    titled(&browser, "Your password is set · Portcullis").await;
    browser
        .find(Locator::LinkText("Sign in"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    type_into(
        &browser,
        &[("username", "michael"), ("password", "a-new-passphrase")],
    )
    .await;
    click_submit(&browser, "button[type=submit]").await;
    for _ in 0..100 {
        if browser
            .current_url()
            .await
            .is_ok_and(|u| u.path() == "/account")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(browser.current_url().await.unwrap().path(), "/account");
    browser.close().await.unwrap();
}

/// The WebDriver virtual authenticator of one browser session (WebAuthn
/// Level 2, section 11: what a test drives instead of a person's key).
struct Authenticator {
    http: reqwest::Client,
    /// `.../session/{id}/webauthn/authenticator/{authenticatorId}`.
    base: String,
}

impl Authenticator {
    /// A platform authenticator with resident keys and user verification
    /// that says yes.
    async fn attach(driver_port: u16, browser: &fantoccini::Client) -> Self {
        let session = browser.session_id().await.unwrap().unwrap();
        let http = reqwest::Client::new();
        let root =
            format!("http://127.0.0.1:{driver_port}/session/{session}/webauthn/authenticator");
        let added: serde_json::Value = http
            .post(&root)
            .json(&json!({
                "protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
                "hasUserVerification": true, "isUserConsenting": true, "isUserVerified": true,
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = added["value"]
            .as_str()
            .expect("an authenticator id")
            .to_owned();
        Self {
            http,
            base: format!("{root}/{id}"),
        }
    }

    async fn credentials(&self) -> Vec<serde_json::Value> {
        let all: serde_json::Value = self
            .http
            .get(format!("{}/credentials", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        all["value"].as_array().cloned().unwrap_or_default()
    }

    /// Takes every credential out of the authenticator.
    async fn remove_all(&self) {
        let r = self
            .http
            .delete(format!("{}/credentials", self.base))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }

    /// Puts `credential` back as a resident (discoverable) key or not,
    /// with the signature counter at `sign_count`.
    async fn replace(&self, credential: &serde_json::Value, resident: bool, sign_count: u64) {
        let r = self
            .http
            .delete(format!("{}/credentials", self.base))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        let mut again = json!({
            "credentialId": credential["credentialId"],
            "isResidentCredential": resident,
            "rpId": credential["rpId"],
            "privateKey": credential["privateKey"],
            "signCount": sign_count,
        });
        if resident {
            again["userHandle"] = credential["userHandle"].clone();
        }
        let r = self
            .http
            .post(format!("{}/credential", self.base))
            .json(&again)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }

    async fn set_user_verified(&self, verified: bool) {
        let r = self
            .http
            .post(format!("{}/uv", self.base))
            .json(&json!({"isUserVerified": verified}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
}

/// Waits until the second step says the key was not used: the script's
/// note (the browser refused) or the server's error (it refused).
async fn key_refused(browser: &fantoccini::Client) -> String {
    for _ in 0..100 {
        for selector in ["p.error", "#key-status"] {
            if let Ok(e) = browser.find(Locator::Css(selector)).await {
                let text = e.text().await.unwrap_or_default();
                if !text.is_empty() && !text.contains("prompt") {
                    return text;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the page never said the key was refused");
}

/// Signs the browser out of the issuer: its cookies there go (WebDriver
/// deletes only the current page's, so the browser goes there first).
async fn forget_the_issuer(browser: &fantoccini::Client, issuer: &str) {
    browser.goto(&format!("{issuer}/healthz")).await.unwrap();
    browser.delete_all_cookies().await.unwrap();
}

/// The `amr` of the ID token a code redeems to.
async fn amr_of(app: &TestApp, client: &str, code: &str, callback: &str) -> Vec<String> {
    let t = app
        .post_form(
            "/token",
            None,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", client),
                ("code", code),
                ("redirect_uri", callback),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(t.status, 200, "{}", t.text);
    use base64::Engine as _;
    let payload = t.str("id_token").split('.').nth(1).unwrap().to_owned();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["amr"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

/// Passkeys in Chromium with the WebDriver virtual authenticator: one is
/// registered on the security page, signs in alone (no username typed),
/// serves as the second step after the password (whose page lets its form
/// end at the client: Chromium checks `form-action` on that redirect), is
/// refused without user verification, and is refused when its signature
/// counter goes back.
async fn chromium_signs_in_with_a_passkey(db: ScratchDb) {
    let Some((_driver, port)) = start_driver().await else {
        return;
    };
    // WebAuthn takes `localhost` as a relying party, not an IP address: the
    // server is reached, and names itself, as localhost.
    let server_port = portcullis_tests::unclaimed_port();
    let issuer = format!("http://localhost:{server_port}");
    let app = TestApp::spawn_with(
        db,
        portcullis::settings::FileSettings {
            bind: Some(format!("127.0.0.1:{server_port}")),
            issuer: Some(issuer.clone()),
            ..Default::default()
        },
    )
    .await;
    let callback = Callback::start().await;
    let callback_uri = callback.uri();
    let (client, _) = app
        .client(ClientSetup {
            public: true,
            grants: &["authorization_code"],
            redirect_uris: &[callback_uri.as_str()],
            scope: "openid",
            ..Default::default()
        })
        .await;
    app.user("michael", Some("michael_lee@gmail.com"), "correct-horse")
        .await;
    let profile = tempfile::tempdir().unwrap();
    let browser = open_browser(port, &profile).await;
    let key = Authenticator::attach(port, &browser).await;
    let authorize = format!(
        "{issuer}/authorize?{}&scope=openid",
        authorize_query(&client, &callback_uri, "pk").replace("&scope=read", "")
    );

    // Signed in with the password, the person adds a passkey.
    browser.goto(&format!("{issuer}/login")).await.unwrap();
    titled(&browser, "Sign in · Portcullis").await;
    type_into(
        &browser,
        &[("username", "michael"), ("password", "correct-horse")],
    )
    .await;
    click_submit(&browser, "form[action='/login'] button[type=submit]").await;
    titled(&browser, "Your account · Portcullis").await;
    browser
        .goto(&format!("{issuer}/account/security"))
        .await
        .unwrap();
    titled(&browser, "Sign-in security · Portcullis").await;
    click_submit(&browser, "#add-passkey").await;
    titled(&browser, "Your recovery codes · Portcullis").await;
    let credentials = key.credentials().await;
    assert_eq!(credentials.len(), 1, "{credentials:?}");
    assert_eq!(credentials[0]["isResidentCredential"], true);
    assert_eq!(credentials[0]["rpId"], "localhost");
    // The user handle is random, not the account's id.
    let account = app.account_id("michael").await;
    assert!(
        !credentials[0]["userHandle"]
            .as_str()
            .unwrap()
            .contains(&account),
        "{credentials:?}"
    );

    // Signed out, the passkey alone signs in: no username typed.
    forget_the_issuer(&browser, &issuer).await;
    browser.goto(&authorize).await.unwrap();
    // Conditional UI may sign in by itself (it resolves at once in
    // automation); else the button does. A click on a page already leaving
    // is no error.
    let mut on_its_own = false;
    for _ in 0..50 {
        if let Ok(url) = browser.current_url().await
            && url.port() == Some(callback.port)
        {
            on_its_own = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if !on_its_own && let Ok(button) = browser.find(Locator::Id("use-passkey")).await {
        let _ = button.click().await;
    }
    let arrived = arrival(&browser, &callback).await;
    let code = query_param(&arrived, "code").expect("a code");
    let amr = amr_of(&app, &client, &code, &callback_uri).await;
    assert!(
        amr.contains(&"user".to_owned()) && amr.contains(&"mfa".to_owned()),
        "{amr:?}"
    );
    assert!(!amr.contains(&"pwd".to_owned()), "{amr:?}");

    // As the second step after the password. The key is out of the
    // authenticator while the login page is open (else its conditional UI
    // would sign in with it at once), and back for the second step.
    let used = key.credentials().await.remove(0);
    let password_then_key = |sign_count: u64| {
        let (browser, key, used) = (&browser, &key, &used);
        let (issuer, authorize) = (&issuer, &authorize);
        async move {
            key.remove_all().await;
            forget_the_issuer(browser, issuer).await;
            browser.goto(authorize).await.unwrap();
            titled(browser, "Sign in · Portcullis").await;
            type_into(
                browser,
                &[("username", "michael"), ("password", "correct-horse")],
            )
            .await;
            click_submit(browser, "form[action='/login'] button[type=submit]").await;
            titled(browser, "Second step · Portcullis").await;
            key.replace(used, true, sign_count).await;
            click_submit(browser, "#use-key").await;
        }
    };
    password_then_key(used["signCount"].as_u64().unwrap()).await;
    let arrived = arrival(&browser, &callback).await;
    let code = query_param(&arrived, "code").expect("a code");
    let amr = amr_of(&app, &client, &code, &callback_uri).await;
    assert!(
        amr.contains(&"pwd".to_owned())
            && amr.contains(&"user".to_owned())
            && amr.contains(&"mfa".to_owned()),
        "{amr:?}"
    );
    // Without user verification the key is no second step either.
    let used = key.credentials().await.remove(0);
    key.set_user_verified(false).await;
    password_then_key(used["signCount"].as_u64().unwrap()).await;
    let said = key_refused(&browser).await;
    assert!(said.contains("not"), "{said}");
    assert_eq!(
        browser.current_url().await.unwrap().host_str(),
        Some("localhost")
    );
    key.set_user_verified(true).await;

    // Without user verification the passkey signs no one in: the browser
    // refuses the request (it requires verification), the page stays.
    key.set_user_verified(false).await;
    forget_the_issuer(&browser, &issuer).await;
    browser.goto(&authorize).await.unwrap();
    titled(&browser, "Sign in · Portcullis").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(browser.current_url().await.unwrap().path(), "/authorize");
    key.set_user_verified(true).await;

    // A signature counter that went back (a cloned key?) is refused and
    // logged; the login page then waits for the person instead of trying
    // the passkey again by itself.
    let used = key.credentials().await.remove(0);
    key.replace(&used, true, 0).await;
    forget_the_issuer(&browser, &issuer).await;
    browser.goto(&authorize).await.unwrap();
    for _ in 0..100 {
        if !portcullis_tests::log_lines_with("passkey_counter_regressed").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    titled(&browser, "Sign in · Portcullis").await;
    let refused = browser.find(Locator::Css("p.error")).await.unwrap();
    assert!(refused.text().await.unwrap().contains("not accepted"));
    assert!(!portcullis_tests::log_lines_with("passkey_counter_regressed").is_empty());
    // The refused page does not start the passkey again by itself.
    let conditional = browser
        .find(Locator::Id("passkey-sign-in"))
        .await
        .unwrap()
        .attr("data-conditional")
        .await
        .unwrap();
    assert_eq!(conditional.as_deref(), Some("off"));
    browser.close().await.unwrap();
}

scenarios! {
    browser_mail:
    chromium_recovers_a_forgotten_password,
}

scenarios! {
    browser:
    chromium_signs_in_and_consents_for_clients_on_another_origin,
    chromium_signs_in_through_github_for_a_client_on_another_origin,
    chromium_manages_the_account_on_its_page,
    a_single_page_app_on_another_origin_runs_the_code_flow_through_fetch,
    chromium_signs_in_with_a_passkey,
}
