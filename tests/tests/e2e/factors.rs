//! Second factors over HTTP, on both backends: an authenticator app
//! enrolled on the account page (its codes computed here with the
//! `totp-rs` crate from the key the page shows, not by the server's own
//! function), the second step of a sign-in with skew, replay and the
//! throttle, recovery codes, `amr`/`acr` in ID tokens read by the
//! `openidconnect` crate's types, `acr_values` step-up, a client that
//! requires two factors, and the grants without a browser refused.
use auth_core::ports::Clock as _;
use chrono::{DateTime, Duration, Utc};
use portcullis_tests::{
    ClientSetup, Reply, ScratchDb, TestApp, browser, csrf_field, hidden_fields, location, param,
    scenarios,
};

use crate::browser::{VERIFIER, with};

const REDIRECT: &str = "https://rp.example/callback";
const CHALLENGE: &str = "qjrzSW9gMiUgpUvqgEPE4_-8swvyCtfOVvg55o5S_es";

/// The code an authenticator app shows at `at` for the key `secret`
/// (base32, as the enrolment page shows it).
fn code_at(secret: &str, at: DateTime<Utc>) -> String {
    totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(totp_rs::Secret::try_from_base32(secret).unwrap())
        .build()
        .unwrap()
        .generate(u64::try_from(at.timestamp()).unwrap())
        .to_string()
}

/// What is between `start` and the next `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("no {start:?} in {text}"))
        + start.len();
    let to = text[from..].find(end).unwrap() + from;
    &text[from..to]
}

/// A browser signed in with a password alone (an account with no factor).
pub(crate) async fn signed_in(app: &TestApp, username: &str) -> reqwest::Client {
    let b = browser();
    let page = app.get_with(&b, "/login").await;
    let form = with(
        hidden_fields(&page.text),
        &[("username", username), ("password", "correct-horse")],
    );
    let r = app.post_with(&b, "/login", &form).await;
    assert_eq!(r.status, 303, "{}", r.text);
    b
}

/// Posts one of the security page's forms.
async fn security_post(
    app: &TestApp,
    b: &reqwest::Client,
    path: &str,
    fields: &[(&str, &str)],
) -> Reply {
    let page = app.get_with(b, "/account/security").await;
    assert_eq!(page.status, 200, "{}", page.text);
    let form = with(csrf_field(&page.text).into_iter().take(1).collect(), fields);
    app.post_with(b, path, &form).await
}

/// Enrols an authenticator app for the signed-in browser `b`: its key, and
/// the recovery codes shown with the account's first factor.
pub(crate) async fn enrol_totp(app: &TestApp, b: &reqwest::Client) -> (String, Vec<String>) {
    let page = security_post(app, b, "/account/totp", &[("label", "Phone")]).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("<svg"), "a QR code: {}", page.text);
    let uri =
        portcullis_tests::unescape(between(&page.text, "<a href=\"", "\" id=\"otpauth-uri\""));
    assert!(uri.contains("otpauth://totp/issuer.test:"), "{uri}");
    let key = between(&page.text, "<code id=\"manual-key\">", "</code>").to_owned();
    assert_eq!(key.len(), 32, "20 bytes in base32: {key}");
    // A wrong first code enrols nothing.
    let wrong = with(hidden_fields(&page.text), &[("code", "000000")]);
    let r = app.post_with(b, "/account/totp/confirm", &wrong).await;
    assert_eq!(r.status, 401, "{}", r.text);
    let confirm = with(
        hidden_fields(&page.text),
        &[("code", &code_at(&key, app.clock.now()))],
    );
    let r = app.post_with(b, "/account/totp/confirm", &confirm).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let codes: Vec<String> = r
        .text
        .split("<li><code>")
        .skip(1)
        .map(|s| s[..s.find('<').unwrap()].to_owned())
        .collect();
    (key, codes)
}

/// Enrols an authenticator app from the security page `to` that a
/// client's requirement sent the browser to (with a `return_to`): where
/// the page with the recovery codes continues.
async fn enrol_on_the_way(app: &TestApp, b: &reqwest::Client, to: &str) -> String {
    let page = app.get_with(b, to).await;
    assert!(
        page.text.contains("requires a second factor"),
        "{}",
        page.text
    );
    let return_to = param(
        &url::Url::parse(&format!("http://x{to}")).unwrap(),
        "return_to",
    )
    .unwrap();
    let form = with(
        csrf_field(&page.text).into_iter().take(1).collect(),
        &[("label", "Phone"), ("return_to", &return_to)],
    );
    let enrol = app.post_with(b, "/account/totp", &form).await;
    assert_eq!(enrol.status, 200, "{}", enrol.text);
    let key = between(&enrol.text, "<code id=\"manual-key\">", "</code>").to_owned();
    let confirm = with(
        hidden_fields(&enrol.text),
        &[("code", &code_at(&key, app.clock.now()))],
    );
    let codes = app.post_with(b, "/account/totp/confirm", &confirm).await;
    assert_eq!(codes.status, 200, "{}", codes.text);
    portcullis_tests::unescape(between(&codes.text, "<a href=\"", "\""))
}

fn authorize_path(client: &str, extra: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.extend_pairs([
        ("client_id", client),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("code_challenge_method", "S256"),
        ("code_challenge", CHALLENGE),
        ("scope", "openid"),
        ("state", "s1"),
        ("nonce", "n1"),
    ]);
    q.extend_pairs(extra);
    format!("/authorize?{}", q.finish())
}

/// Posts the login page of `path` with the password: the answer (the
/// second step's page, for an account with a factor).
async fn password_step(app: &TestApp, b: &reqwest::Client, path: &str, username: &str) -> Reply {
    let page = app.get_with(b, path).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let form = with(
        hidden_fields(&page.text),
        &[("username", username), ("password", "correct-horse")],
    );
    app.post_with(b, "/login", &form).await
}

/// Answers the second step shown on `page` with `method` and `code`.
async fn second_step(
    app: &TestApp,
    b: &reqwest::Client,
    page: &Reply,
    method: &str,
    code: &str,
) -> Reply {
    // The page has a form per method; they carry the same pending fields.
    let section = between(
        &page.text,
        &format!("name=\"method\" value=\"{method}\""),
        "</form>",
    );
    assert!(!section.is_empty());
    let mut form: Vec<(String, String)> = hidden_fields(&page.text)
        .into_iter()
        .filter(|(k, _)| !["method", "ceremony", "response"].contains(&k.as_str()))
        .collect();
    form.dedup();
    let fields = with(form, &[("method", method), ("code", code)]);
    app.post_with(b, "/login/second-factor", &fields).await
}

/// The claims of the ID token a code redeems to (its payload, decoded).
async fn id_token_claims(app: &TestApp, client: &str, reply: &Reply) -> serde_json::Value {
    let to = location(reply);
    assert!(to.as_str().starts_with(REDIRECT), "{to}");
    let t = app
        .post_form(
            "/token",
            None,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", client),
                ("code", &param(&to, "code").unwrap()),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(t.status, 200, "{}", t.text);
    let id_token = t.str("id_token");
    let payload = id_token.split('.').nth(1).unwrap();
    use base64::Engine as _;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    // The standard claims' types, as a relying-party library reads them.
    let typed: openidconnect::core::CoreIdTokenClaims = serde_json::from_slice(&json).unwrap();
    let amr: Vec<String> = typed
        .auth_method_refs()
        .map(|all| all.iter().map(|a| a.as_str().to_owned()).collect())
        .unwrap_or_default();
    let acr = typed
        .auth_context_ref()
        .map(|a| a.as_str().to_owned())
        .unwrap_or_default();
    serde_json::json!({"amr": amr, "acr": acr})
}

async fn public_client(app: &TestApp, mfa: auth_core::types::ClientMfa) -> String {
    app.client(ClientSetup {
        public: true,
        grants: &["authorization_code", "refresh_token"],
        redirect_uris: &[REDIRECT],
        scope: "openid profile",
        mfa,
        ..Default::default()
    })
    .await
    .0
}

async fn an_authenticator_app_is_a_second_step_used_once(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let client = public_client(&app, Default::default()).await;
    let (password_client, secret) = app
        .client(ClientSetup {
            grants: &["password"],
            ..Default::default()
        })
        .await;
    app.user("michael", Some("michael@example.org"), "correct-horse")
        .await;
    let password_grant = || {
        app.post_form(
            "/token",
            Some((&password_client, secret.as_deref().unwrap())),
            &[
                ("grant_type", "password"),
                ("username", "michael"),
                ("password", "correct-horse"),
            ],
        )
    };
    assert_eq!(password_grant().await.status, 200);

    let b = signed_in(&app, "michael").await;
    let page = app.get_with(&b, "/account/security").await;
    assert!(page.text.contains("None yet"), "{}", page.text);
    let (key, codes) = enrol_totp(&app, &b).await;
    assert_eq!(codes.len(), 10);
    assert!(
        codes
            .iter()
            .all(|c| c.len() == 14 && c.matches('-').count() == 2)
    );
    let page = app.get_with(&b, "/account/security").await;
    assert!(page.text.contains("Phone") && page.text.contains("id=\"codes-left\">10<"));
    // The secret is stored sealed, never as the key the app was given.
    assert!(!app.fingerprint().await.iter().any(|row| row.contains(&key)));

    // The password grant now refuses the account, with a clear error.
    let r = password_grant().await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.str("error"), "invalid_grant");
    assert!(
        r.str("error_description").contains("second factor"),
        "{}",
        r.text
    );

    // A sign-in: the password leads to the second step, not to the client.
    let fresh = browser();
    app.clock.advance(Duration::seconds(60));
    let step = password_step(&app, &fresh, &authorize_path(&client, &[]), "michael").await;
    assert_eq!(step.status, 200, "{}", step.text);
    assert!(step.text.contains("Confirm it is you"), "{}", step.text);
    // Its forms end in a redirect to the client, which Chromium checks
    // against the page's form-action.
    let csp = step.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.contains("form-action 'self' https://rp.example"),
        "{csp}"
    );
    assert!(
        !step
            .headers
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("portcullis_session=")),
        "no session before the second factor"
    );
    let wrong = second_step(&app, &fresh, &step, "totp", "123456").await;
    assert_eq!(wrong.status, 401, "{}", wrong.text);
    // The code of the step before still counts (clock skew).
    let now = app.clock.now();
    let code = code_at(&key, now - Duration::seconds(30));
    let done = second_step(&app, &fresh, &wrong, "totp", &code).await;
    assert_eq!(done.status, 303, "{}", done.text);
    let claims = id_token_claims(&app, &client, &done).await;
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    assert_eq!(claims["acr"], "urn:portcullis:acr:mfa");

    // The same code again (a replay, another browser): refused.
    let other = browser();
    let step = password_step(&app, &other, &authorize_path(&client, &[]), "michael").await;
    let replay = second_step(&app, &other, &step, "totp", &code).await;
    assert_eq!(replay.status, 401, "{}", replay.text);
    // A recovery code works once, typed any way.
    let typed = codes[0].to_uppercase().replace('-', " ");
    let done = second_step(&app, &other, &replay, "recovery", &typed).await;
    assert_eq!(done.status, 303, "{}", done.text);
    let third = browser();
    let step = password_step(&app, &third, &authorize_path(&client, &[]), "michael").await;
    let again = second_step(&app, &third, &step, "recovery", &codes[0]).await;
    assert_eq!(again.status, 401, "{}", again.text);

    // The throttle: five wrong answers per account in the window, then
    // even a right one is refused.
    for _ in 0..4 {
        let r = second_step(&app, &third, &again, "totp", "000000").await;
        assert_eq!(r.status, 401, "{}", r.text);
    }
    let throttled = second_step(
        &app,
        &third,
        &again,
        "totp",
        &code_at(&key, app.clock.now() + Duration::seconds(30)),
    )
    .await;
    assert_eq!(throttled.status, 429, "{}", throttled.text);
    app.clock.advance(Duration::minutes(16));
    let step = password_step(&app, &third, &authorize_path(&client, &[]), "michael").await;
    let ok = second_step(&app, &third, &step, "totp", &code_at(&key, app.clock.now())).await;
    assert_eq!(ok.status, 303, "{}", ok.text);

    // A second step that waited too long starts over at the password.
    let slow = browser();
    let step = password_step(&app, &slow, &authorize_path(&client, &[]), "michael").await;
    app.clock.advance(Duration::minutes(6));
    let late = second_step(&app, &slow, &step, "totp", &code_at(&key, app.clock.now())).await;
    assert_eq!(late.status, 400, "{}", late.text);
    assert!(late.text.contains("Sign in again"), "{}", late.text);

    // Removing the last factor takes the codes with it; the password grant
    // works again.
    let page = app.get_with(&b, "/account/security").await;
    let id = between(&page.text, "name=\"id\" value=\"", "\"").to_owned();
    let r = security_post(&app, &b, "/account/factors/remove", &[("id", &id)]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let page = app.get_with(&b, "/account/security").await;
    assert!(page.text.contains("None yet"), "{}", page.text);
    assert_eq!(password_grant().await.status, 200);
}

async fn a_client_or_a_request_that_needs_two_factors_gets_them(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let strict = public_client(&app, auth_core::types::ClientMfa::Required).await;
    let relaxed = public_client(&app, Default::default()).await;
    app.user("michael", None, "correct-horse").await;
    app.user("dana", None, "correct-horse").await;

    // Without a factor, the strict client sends the person to enrol one,
    // then back to itself.
    let b = browser();
    let r = password_step(&app, &b, &authorize_path(&strict, &[]), "michael").await;
    assert_eq!(r.status, 303, "{}", r.text);
    let to = r.header("location").unwrap().to_owned();
    assert!(
        to.starts_with("/account/security?return_to=%2Fauthorize%3F"),
        "{to}"
    );
    let back = enrol_on_the_way(&app, &b, &to).await;
    assert!(back.starts_with("/authorize?"), "{back}");
    let done = app.get_with(&b, &back).await;
    assert_eq!(done.status, 302, "{}", done.text);
    let claims = id_token_claims(&app, &strict, &done).await;
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));

    // acr_values: a session with a password alone is asked for the second
    // factor it has (step-up); one it cannot meet is refused.
    let dana = signed_in(&app, "dana").await;
    let before = signed_in(&app, "dana").await;
    let (dana_key, _) = enrol_totp(&app, &dana).await;
    let mfa = [("acr_values", "urn:portcullis:acr:mfa")];
    let basic = app
        .get_with(&before, &authorize_path(&relaxed, &[("prompt", "none")]))
        .await;
    assert_eq!(basic.status, 302, "{}", basic.text);
    assert_eq!(
        id_token_claims(&app, &relaxed, &basic).await["acr"],
        "urn:portcullis:acr:basic"
    );
    let none = app
        .get_with(
            &before,
            &authorize_path(&relaxed, &[mfa[0], ("prompt", "none")]),
        )
        .await;
    assert_eq!(
        param(&location(&none), "error").as_deref(),
        Some("login_required")
    );
    let up = app.get_with(&before, &authorize_path(&relaxed, &mfa)).await;
    assert_eq!(up.status, 200, "{}", up.text);
    assert!(up.text.contains("Confirm it is you"), "{}", up.text);
    app.clock.advance(Duration::seconds(30));
    let done = second_step(
        &app,
        &before,
        &up,
        "totp",
        &code_at(&dana_key, app.clock.now()),
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.text);
    assert_eq!(
        id_token_claims(&app, &relaxed, &done).await["amr"],
        serde_json::json!(["pwd", "otp", "mfa"])
    );
    let phr = app
        .get_with(&before, &authorize_path(&relaxed, &[("acr_values", "phr")]))
        .await;
    assert_eq!(
        param(&location(&phr), "error").as_deref(),
        Some("unmet_authentication_requirements")
    );
    let unknown = app
        .get_with(
            &before,
            &authorize_path(&relaxed, &[("acr_values", "gold silver")]),
        )
        .await;
    assert_eq!(
        param(&location(&unknown), "error").as_deref(),
        Some("unmet_authentication_requirements")
    );
    // Discovery lists the levels and the claims.
    let meta = app
        .get_with(&browser(), "/.well-known/openid-configuration")
        .await;
    assert_eq!(
        meta.body["acr_values_supported"],
        serde_json::json!(["urn:portcullis:acr:basic", "urn:portcullis:acr:mfa", "phr"])
    );
    assert!(
        meta.body["claims_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "amr")
    );
}

async fn grants_without_a_browser_refuse_what_needs_a_second_factor(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let (strict, strict_secret) = app
        .client(ClientSetup {
            grants: &["password"],
            mfa: auth_core::types::ClientMfa::Required,
            ..Default::default()
        })
        .await;
    let (legacy, legacy_secret) = app
        .client(ClientSetup {
            grants: &["password"],
            mfa: auth_core::types::ClientMfa::PasswordGrantAllowed,
            ..Default::default()
        })
        .await;
    let (plain, plain_secret) = app
        .client(ClientSetup {
            grants: &["password"],
            ..Default::default()
        })
        .await;
    // Seed 001's JSON sign-in, for an app that signs its users in itself.
    crate::seeds::pkce_client(&app).await;
    let seed_001_sign_in = serde_json::json!({
        "client_id": crate::seeds::DOC_CLIENT, "response_type": "code", "redirect_uri": "myapp://callback",
        "code_challenge_method": "S256", "code_challenge": CHALLENGE, "state": "ahg84hek2n",
        "email": "michael_lee@gmail.com", "password": "correct-horse"
    });
    app.user("michael", Some("michael_lee@gmail.com"), "correct-horse")
        .await;
    let grant = |client: &str, secret: &str| {
        let (client, secret) = (client.to_owned(), secret.to_owned());
        let app = &app;
        async move {
            app.post_form(
                "/token",
                Some((&client, &secret)),
                &[
                    ("grant_type", "password"),
                    ("username", "michael"),
                    ("password", "correct-horse"),
                ],
            )
            .await
        }
    };
    let r = grant(&strict, strict_secret.as_deref().unwrap()).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.str("error_description").contains("browser"), "{}", r.text);
    // Before a factor, both take the password alone.
    let r = grant(&plain, plain_secret.as_deref().unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app.post_json("/sign-in", &seed_001_sign_in).await;
    assert_eq!(r.status, 200, "{}", r.text);

    let b = signed_in(&app, "michael").await;
    enrol_totp(&app, &b).await;
    // With one, a password alone is refused: by the token endpoint, and
    // by seed 001's sign-in in its own error shape, with no code issued.
    let r = grant(&plain, plain_secret.as_deref().unwrap()).await;
    assert_eq!((r.status, r.error()), (400, "invalid_grant"), "{}", r.text);
    assert!(
        r.str("error_description").contains("second factor"),
        "{}",
        r.text
    );
    let r = app.post_json("/sign-in", &seed_001_sign_in).await;
    assert_eq!((r.status, r.error()), (400, "invalid_grant"), "{}", r.text);
    assert!(r.body["authorization_code"].is_null(), "{}", r.text);
    assert!(r.text.contains("second factor"), "{}", r.text);
    // The operator's weaker setting lets a legacy client through.
    let r = grant(&legacy, legacy_secret.as_deref().unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // A wrong password is still just a wrong password.
    let r = app
        .post_form(
            "/token",
            Some((&legacy, legacy_secret.as_deref().unwrap())),
            &[
                ("grant_type", "password"),
                ("username", "michael"),
                ("password", "wrong"),
            ],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.str("error_description").contains("incorrect"),
        "{}",
        r.text
    );
}

/// A software authenticator (the one `auth-passkeys`'s own tests use):
/// real ES256 answers to real ceremonies, with no browser.
#[path = "../../../crates/auth-passkeys/tests/support/soft_key.rs"]
#[allow(clippy::unwrap_used, dead_code)]
mod soft_key;

/// Two nodes on one database under the issuer `soft_key::ORIGIN`: a
/// passkey registered through one node's options and the other's form,
/// then a passkey sign-in begun on one node and finished on the other.
async fn passkey_ceremonies_begun_on_one_node_finish_on_another(db: ScratchDb) {
    let shared = db.share();
    let settings = || portcullis::settings::FileSettings {
        issuer: Some(soft_key::ORIGIN.into()),
        ..Default::default()
    };
    let a = TestApp::spawn_with(db, settings()).await;
    let b = TestApp::spawn_with(shared, settings()).await;
    let client = public_client(&a, Default::default()).await;
    a.user("michael", None, "correct-horse").await;
    // One browser, signed in through node A; its cookies go to both nodes
    // (cookies are per host, not per port).
    let jar = signed_in(&a, "michael").await;
    let page = a.get_with(&jar, "/account/security").await;
    let csrf: Vec<(String, String)> = csrf_field(&page.text).into_iter().take(1).collect();
    let options = a.post_with(&jar, "/account/passkeys/options", &csrf).await;
    assert_eq!(options.status, 200, "{}", options.text);
    let mut key = soft_key::SoftKey::new();
    let answer = key.register(&options.body["options"].to_string());
    let form = with(
        csrf.clone(),
        &[
            ("ceremony", options.str("ceremony")),
            ("response", &answer),
            ("label", "Laptop"),
        ],
    );
    let registered = b.post_with(&jar, "/account/passkeys", &form).await;
    assert_eq!(registered.status, 200, "{}", registered.text);
    assert!(
        registered.text.contains("recovery codes"),
        "{}",
        registered.text
    );
    // The same answer again: its ceremony is used up.
    let again = b.post_with(&jar, "/account/passkeys", &form).await;
    assert_eq!(again.status, 400, "{}", again.text);

    // A credential registered to any account is refused to another (a
    // software key of the same id, as a cloned or shared key would be).
    b.user("anna", None, "correct-horse").await;
    let other = signed_in(&b, "anna").await;
    let page = b.get_with(&other, "/account/security").await;
    let csrf: Vec<(String, String)> = csrf_field(&page.text).into_iter().take(1).collect();
    let options = b
        .post_with(&other, "/account/passkeys/options", &csrf)
        .await;
    assert_eq!(options.status, 200, "{}", options.text);
    let clone = soft_key::SoftKey::new().register(&options.body["options"].to_string());
    let form = with(
        csrf,
        &[
            ("ceremony", options.str("ceremony")),
            ("response", &clone),
            ("label", "Borrowed"),
        ],
    );
    let taken = a.post_with(&other, "/account/passkeys", &form).await;
    assert_eq!(taken.status, 400, "{}", taken.text);
    assert!(taken.text.contains("registered already"), "{}", taken.text);
    let page = b.get_with(&other, "/account/security").await;
    assert!(!page.text.contains("Borrowed"), "{}", page.text);

    // A passkey sign-in, begun on B, finished on A.
    let fresh = browser();
    let login = b.get_with(&fresh, &authorize_path(&client, &[])).await;
    let options = b
        .post_with(
            &fresh,
            "/login/passkey/options",
            &csrf_field(&login.text)
                .into_iter()
                .take(1)
                .collect::<Vec<_>>(),
        )
        .await;
    assert_eq!(options.status, 200, "{}", options.text);
    let answer = key.assert(&options.body["options"].to_string(), 0x05, 1);
    let form = with(
        hidden_fields(&login.text),
        &[("ceremony", options.str("ceremony")), ("response", &answer)],
    );
    let signed = a.post_with(&fresh, "/login/passkey", &form).await;
    assert_eq!(signed.status, 303, "{}", signed.text);
    let claims = id_token_claims(&a, &client, &signed).await;
    assert_eq!(claims["amr"], serde_json::json!(["hwk", "user", "mfa"]));
    assert_eq!(claims["acr"], "phr");

    // A disabled account's passkey signs no one in.
    auth_core::accounts::set_user_disabled(
        &a.services.roles.accounts,
        "michael",
        true,
        a.clock.now(),
    )
    .await
    .unwrap()
    .unwrap();
    let late = browser();
    let login = b.get_with(&late, &authorize_path(&client, &[])).await;
    let options = b
        .post_with(
            &late,
            "/login/passkey/options",
            &csrf_field(&login.text)
                .into_iter()
                .take(1)
                .collect::<Vec<_>>(),
        )
        .await;
    let answer = key.assert(&options.body["options"].to_string(), 0x05, 2);
    let form = with(
        hidden_fields(&login.text),
        &[("ceremony", options.str("ceremony")), ("response", &answer)],
    );
    let refused = a.post_with(&late, "/login/passkey", &form).await;
    assert_eq!(refused.status, 401, "{}", refused.text);
    assert!(refused.text.contains("not accepted"), "{}", refused.text);
}

/// `mfa = "required"`: every client, not only those created with
/// `--require-mfa`, sends a person without a factor to enrol one, and the
/// password grant is refused to everyone.
async fn a_server_that_requires_two_factors_asks_them_of_every_client(db: ScratchDb) {
    let app = TestApp::spawn_with(
        db,
        portcullis::settings::FileSettings {
            mfa: Some("required".into()),
            ..Default::default()
        },
    )
    .await;
    let client = public_client(&app, Default::default()).await;
    let (password_client, secret) = app
        .client(ClientSetup {
            grants: &["password"],
            ..Default::default()
        })
        .await;
    app.user("michael", None, "correct-horse").await;
    let r = password_step(&app, &browser(), &authorize_path(&client, &[]), "michael").await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert!(
        r.header("location")
            .unwrap()
            .starts_with("/account/security?return_to="),
        "{:?}",
        r.header("location")
    );
    let grant = app
        .post_form(
            "/token",
            Some((&password_client, secret.as_deref().unwrap())),
            &[
                ("grant_type", "password"),
                ("username", "michael"),
                ("password", "correct-horse"),
            ],
        )
        .await;
    assert_eq!(grant.status, 400, "{}", grant.text);
    assert_eq!(grant.str("error"), "invalid_grant");
}

/// A WebAuthn ceremony begun on one node is finished (or refused) on
/// another: its state is in the database, and it is used once.
async fn a_ceremony_begun_on_one_node_is_taken_once_on_another(db: ScratchDb) {
    let shared = db.share();
    let a = TestApp::spawn(db).await;
    let b = TestApp::spawn(shared).await;
    let browser_a = browser();
    let page = a.get_with(&browser_a, "/login").await;
    assert!(
        page.text.contains("Sign in with a passkey"),
        "{}",
        page.text
    );
    assert!(page.text.contains("autocomplete=\"username webauthn\""));
    let options = a
        .post_with(
            &browser_a,
            "/login/passkey/options",
            &csrf_field(&page.text)
                .into_iter()
                .take(1)
                .collect::<Vec<_>>(),
        )
        .await;
    assert_eq!(options.status, 200, "{}", options.text);
    assert_eq!(
        options.body["options"]["publicKey"]["userVerification"],
        "required"
    );
    let ceremony = options.str("ceremony").to_owned();
    // The other node knows the ceremony: a forged answer is refused as a
    // wrong key (401), and the ceremony is used up by it.
    let browser_b = browser();
    let login_b = b.get_with(&browser_b, "/login").await;
    let post = |ceremony: &str| {
        with(
            hidden_fields(&login_b.text)
                .into_iter()
                .filter(|(k, _)| k == "csrf_token")
                .take(1)
                .collect(),
            &[("ceremony", ceremony), ("response", "{\"id\":\"x\"}")],
        )
    };
    let forged = b
        .post_with(&browser_b, "/login/passkey", &post(&ceremony))
        .await;
    assert_eq!(forged.status, 401, "{}", forged.text);
    let again = b
        .post_with(&browser_b, "/login/passkey", &post(&ceremony))
        .await;
    assert_eq!(again.status, 400, "{}", again.text);
    let unknown = b
        .post_with(&browser_b, "/login/passkey", &post("nonsense"))
        .await;
    assert_eq!(unknown.status, 400, "{}", unknown.text);
}

/// Where mail is set up, the owner hears of each change to their factors
/// and of each recovery code used.
async fn factor_changes_are_mailed_to_the_owner(db: ScratchDb) {
    let mailbox = portcullis_tests::mailbox::Mailbox::start().await;
    let app = TestApp::spawn_with(
        db,
        portcullis::settings::FileSettings {
            smtp: Some(mailbox.settings()),
            ..Default::default()
        },
    )
    .await;
    let client = public_client(&app, Default::default()).await;
    app.user("michael", Some("michael@example.org"), "correct-horse")
        .await;
    let b = signed_in(&app, "michael").await;
    let (_, codes) = enrol_totp(&app, &b).await;
    let added = mailbox.wait_for("michael@example.org", 1).await.remove(0);
    assert!(added.subject.contains("sign-in methods"), "{added:?}");
    assert!(
        added.text.contains("\"Phone\", was just added"),
        "{added:?}"
    );

    let other = browser();
    let step = password_step(&app, &other, &authorize_path(&client, &[]), "michael").await;
    let done = second_step(&app, &other, &step, "recovery", &codes[1]).await;
    assert_eq!(done.status, 303, "{}", done.text);
    let used = mailbox.wait_for("michael@example.org", 2).await.remove(1);
    assert!(used.subject.contains("recovery code"), "{used:?}");
    assert!(used.text.contains("You have 9 left"), "{used:?}");
    // No code in the letter.
    assert!(!used.text.contains(&codes[1]), "{used:?}");

    let (removed, _) = app
        .services
        .roles
        .accounts
        .reset_mfa(
            auth_core::types::UserId::new(app.account_id("michael").await.parse().unwrap()),
            app.clock.now(),
        )
        .await
        .unwrap();
    assert_eq!(removed, 1);
    let reset = mailbox.wait_for("michael@example.org", 3).await.remove(2);
    assert!(reset.text.contains("an administrator removed"), "{reset:?}");
}

scenarios! {
    mail:
    factor_changes_are_mailed_to_the_owner,
}

/// A device whose client requires two factors: a person signed in with a
/// password alone is sent to enrol one and brought back to the code, and
/// only then is the device approved.
async fn a_device_for_a_client_that_requires_two_factors_waits_for_them(db: ScratchDb) {
    const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
    let app = TestApp::spawn(db).await;
    let (client, _) = app
        .client(ClientSetup {
            public: true,
            grants: &[DEVICE_GRANT],
            scope: "read",
            mfa: auth_core::types::ClientMfa::Required,
            ..Default::default()
        })
        .await;
    app.user("michael", None, "correct-horse").await;
    let started = app
        .post_form("/device_authorization", None, &[("client_id", &client)])
        .await;
    assert_eq!(started.status, 200, "{}", started.text);
    let (user_code, device_code) = (
        started.str("user_code").to_owned(),
        started.str("device_code").to_owned(),
    );
    let poll_form = [
        ("grant_type", DEVICE_GRANT),
        ("client_id", client.as_str()),
        ("device_code", device_code.as_str()),
    ];
    let poll = || app.post_form("/token", None, &poll_form);
    let b = signed_in(&app, "michael").await;
    let page = app
        .get_with(&b, &format!("/device?user_code={user_code}"))
        .await;
    let allow = with(
        csrf_field(&page.text).into_iter().take(1).collect(),
        &[("user_code", &user_code), ("decision", "allow")],
    );
    let r = app.post_with(&b, "/device", &allow).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let to = r.header("location").unwrap().to_owned();
    let return_to = param(
        &url::Url::parse(&format!("http://x{to}")).unwrap(),
        "return_to",
    )
    .unwrap();
    assert_eq!(return_to, format!("/device?user_code={user_code}"));
    assert_eq!(poll().await.error(), "authorization_pending");

    // Enrolled, the browser goes back to the code, and its approval holds.
    let back = enrol_on_the_way(&app, &b, &to).await;
    assert_eq!(back, return_to);
    let page = app.get_with(&b, &back).await;
    assert!(page.text.contains("asks to sign in"), "{}", page.text);
    let allow = with(
        csrf_field(&page.text).into_iter().take(1).collect(),
        &[("user_code", &user_code), ("decision", "allow")],
    );
    let r = app.post_with(&b, "/device", &allow).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("Device connected"), "{}", r.text);
    app.clock.advance(Duration::seconds(10));
    let tokens = poll().await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
}

scenarios! {
    an_authenticator_app_is_a_second_step_used_once,
    a_client_or_a_request_that_needs_two_factors_gets_them,
    grants_without_a_browser_refuse_what_needs_a_second_factor,
    a_ceremony_begun_on_one_node_is_taken_once_on_another,
    passkey_ceremonies_begun_on_one_node_finish_on_another,
    a_server_that_requires_two_factors_asks_them_of_every_client,
    a_device_for_a_client_that_requires_two_factors_waits_for_them,
}
