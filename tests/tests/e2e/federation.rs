//! Sign-in through GitHub (a fake one on 127.0.0.1) and seed 003's
//! external login API, request for request as its document shows, checked
//! field by field; and the account rules: found again by GitHub's id, never
//! linked by email.
use std::collections::BTreeSet;
use std::time::Duration as StdDuration;

use portcullis::settings::{DialectSettings, FileSettings, GitHubFile};
use portcullis_tests::fake_github::{
    Behaviour, CLIENT_ID, CLIENT_SECRET, DeviceStep, FakeEmail, FakeGitHub, FakeUser,
};
use portcullis_tests::{Reply, ScratchDb, TestApp, location, param, scenarios};
use serde_json::json;

/// Every call to a provider counts in the per-address upstream throttle,
/// refused or not, by design: the fingerprints here leave that table out.
const COUNTED: &[&str] = &["throttle_counters"];
/// And where the test starts flows of its own between its two fingerprints,
/// each started flow is a row of its own; every other table is compared.
const STARTED_AND_COUNTED: &[&str] = &["throttle_counters", "upstream_flows"];

const DONE: &str = "https://app.example/signed-in";

fn keys(v: &serde_json::Value) -> BTreeSet<&str> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect()
}

/// Our GitHub OAuth app's registration at the GitHub at `base`.
fn registration(base: &str) -> GitHubFile {
    GitHubFile {
        client_id: Some(CLIENT_ID.into()),
        client_secret: Some(CLIENT_SECRET.into()),
        web_url: Some(base.into()),
        api_url: Some(base.into()),
        scope: None,
    }
}

async fn spawn(db: ScratchDb, github: &FakeGitHub) -> TestApp {
    TestApp::spawn_with(
        db,
        FileSettings {
            github: Some(registration(&github.base)),
            dialects: Some(DialectSettings {
                external_login: Some(true),
                ..Default::default()
            }),
            external_login_redirect_uris: Some(vec![DONE.into()]),
            upstream_timeout_secs: Some(1),
            upstream_device_wait_secs: Some(3),
            ..Default::default()
        },
    )
    .await
}

fn octocat() -> FakeUser {
    FakeUser::new(583231, "octocat", "octocat@github.example")
}

async fn exchange(app: &TestApp, query: &str) -> Reply {
    Reply::from(
        app.http
            .post(app.url(&format!("/v1/oauth2{query}")))
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// A token object exactly as the document shows it; returns (id,
/// accountId, secret).
fn token_object(reply: &Reply) -> (String, String, String) {
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(keys(&reply.body), BTreeSet::from(["data", "secret"]));
    let data = &reply.body["data"];
    assert_eq!(
        keys(data),
        BTreeSet::from(["id", "accountId", "createdAt", "expiresAt"])
    );
    assert_eq!(keys(&reply.body["secret"]), BTreeSet::from(["value"]));
    let id = data["id"].as_str().unwrap();
    uuid::Uuid::parse_str(id).expect("the token id is a UUID");
    for at in ["createdAt", "expiresAt"] {
        let t = data[at].as_str().unwrap();
        assert!(
            t.ends_with('Z') && t.len() == 20,
            "{at} {t} is not like 2019-08-24T14:15:22Z"
        );
        chrono::DateTime::parse_from_rfc3339(t).unwrap();
    }
    assert!(data["createdAt"].as_str() < data["expiresAt"].as_str());
    (
        id.to_owned(),
        data["accountId"].as_str().unwrap().to_owned(),
        reply.body["secret"]["value"].as_str().unwrap().to_owned(),
    )
}

/// The document's 400: `{"errors": [...]}`, each naming an issue.
fn issues(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(
        keys(&reply.body),
        BTreeSet::from(["errors"]),
        "{}",
        reply.text
    );
    reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_owned())
        .collect()
}

/// The document's 401 and 500: `{"error": "..."}`.
fn failure(reply: &Reply, status: u16) -> String {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(
        keys(&reply.body),
        BTreeSet::from(["error"]),
        "{}",
        reply.text
    );
    reply.body["error"].as_str().unwrap().to_owned()
}

/// Follows the authorization URL to the fake GitHub (which approves at
/// once) and returns our callback's path and query.
async fn approve_at_github(app: &TestApp, url: &str) -> String {
    let at_github = app.http.get(url).send().await.unwrap();
    assert_eq!(
        at_github.status(),
        302,
        "GitHub refused the authorization request"
    );
    let back = url::Url::parse(at_github.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(back.origin().ascii_serialization(), "http://issuer.test");
    format!("{}?{}", back.path(), back.query().unwrap_or_default())
}

async fn get(app: &TestApp, path_and_query: &str) -> Reply {
    Reply::from(app.http.get(app.url(path_and_query)).send().await.unwrap()).await
}

async fn start_web(app: &TestApp, query: &str) -> (String, String) {
    let started = get(app, &format!("/v1/login/oauth2/web/authorize{query}")).await;
    assert_eq!(started.status, 200, "{}", started.text);
    assert_eq!(keys(&started.body), BTreeSet::from(["url", "state"]));
    (
        started.str("url").to_owned(),
        started.str("state").to_owned(),
    )
}

fn poll_path(state: &str) -> String {
    format!(
        "/v1/login/oauth2/web/poll?state={}",
        url::form_urlencoded::byte_serialize(state.as_bytes()).collect::<String>()
    )
}

/// Opens seed 003's callback in the browser `b`: the confirmation page.
async fn confirmation_page(app: &TestApp, b: &reqwest::Client, callback: &str) -> Reply {
    let page = app.get_with(b, callback).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    page
}

/// Answers the confirmation page in `b`: `allow` or `deny`.
async fn answer(app: &TestApp, b: &reqwest::Client, page: &Reply, decision: &str) -> Reply {
    let mut form = form_fields(&page.text, "/v1/login/oauth2/web/confirm");
    form.push(("decision".into(), decision.into()));
    app.post_with(b, "/v1/login/oauth2/web/confirm", &form)
        .await
}

async fn complete(app: &TestApp, body: serde_json::Value) -> Reply {
    app.post_json("/login/oauth2/device/complete", &body).await
}

async fn an_access_token_from_github_is_exchanged_for_a_token_of_ours(db: ScratchDb) {
    let github = FakeGitHub::start().await;
    let app = spawn(db, &github).await;
    github.add_token("gho_octo", octocat(), Behaviour::Normal);

    let reply = exchange(&app, "?provider=github&access-token=gho_octo").await;
    let (id, account, secret) = token_object(&reply);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let created = || {
        portcullis_tests::log_lines_with("upstream_account_created")
            .into_iter()
            .filter(|l| l.contains(&account))
            .count()
    };
    assert_eq!(created(), 1, "the new account is a security event");

    // The secret is a bearer token: the document's token endpoint...
    let info = app.get_bearer("/v1/login/token", &secret).await;
    assert_eq!(info.status, 200, "{}", info.text);
    assert_eq!(info.body, reply.body["data"]);
    // ... and OpenID Connect's userinfo name the same account.
    let me = app.get_bearer("/userinfo", &secret).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.str("sub"), account);

    // The account was made from GitHub's identity: its login as the
    // username, its verified primary email.
    let user = app.account(&account).await;
    assert_eq!(user.username.as_str(), "octocat");
    assert_eq!(
        user.email.as_ref().map(|e| e.as_str()),
        Some("octocat@github.example")
    );
    assert!(user.password_hash.is_none());

    // The next sign-in finds it again, by GitHub's id, even after the
    // person renamed themselves on GitHub.
    let renamed = FakeUser {
        login: "octocat-renamed".into(),
        ..octocat()
    };
    github.add_token("gho_octo2", renamed, Behaviour::Normal);
    let again = exchange(&app, "?provider=github&access-token=gho_octo2").await;
    let (id2, account2, second) = token_object(&again);
    assert_eq!(account2, account);
    assert_eq!(created(), 1, "found again, not created");
    assert_ne!(id2, id);

    // A disabled account's token answers nowhere, the document's
    // endpoint included.
    use auth_core::ports::Clock as _;
    let disable = |disabled| {
        auth_core::accounts::set_user_disabled(
            &app.services.roles.accounts,
            &account,
            disabled,
            app.clock.now(),
        )
    };
    disable(true).await.unwrap().unwrap();
    let refused = app.get_bearer("/v1/login/token", &second).await;
    assert_eq!(refused.status, 401, "{}", refused.text);
    assert_eq!(app.get_bearer("/userinfo", &second).await.status, 401);
    disable(false).await.unwrap().unwrap();

    // Revoked, the token stops working on the document's endpoint.
    let revoked = app
        .post_form(
            "/revoke",
            None,
            &[("token", &secret), ("client_id", "external-login-api")],
        )
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    let gone = app.get_bearer("/v1/login/token", &secret).await;
    assert!(failure(&gone, 401).contains("revoked"));
    // A valid token of another client is not one of this API's.
    let (other, other_secret) = app
        .client(portcullis_tests::ClientSetup {
            grants: &["client_credentials"],
            ..Default::default()
        })
        .await;
    let foreign = app
        .post_form(
            "/token",
            Some((&other, other_secret.as_deref().unwrap())),
            &[("grant_type", "client_credentials")],
        )
        .await;
    let foreign = app
        .get_bearer("/v1/login/token", foreign.str("access_token"))
        .await;
    assert!(failure(&foreign, 401).contains("not issued by this API"));
    let none = get(&app, "/v1/login/token").await;
    assert!(failure(&none, 401).contains("bearer token"));
}

async fn the_exchange_answers_every_failure_in_the_documents_shapes_and_creates_nothing(
    db: ScratchDb,
) {
    let github = FakeGitHub::start().await;
    let app = spawn(db, &github).await;
    let before = app.fingerprint_without(COUNTED).await;

    // 400: every issue listed.
    let both = issues(&exchange(&app, "").await);
    assert_eq!(both, ["provider is required", "access-token is required"]);
    assert_eq!(
        issues(&exchange(&app, "?provider=github").await),
        ["access-token is required"]
    );
    let unknown = issues(&exchange(&app, "?provider=gitlab&access-token=x").await);
    assert!(unknown[0].contains("not supported"), "{unknown:?}");
    let twice = issues(&exchange(&app, "?provider=github&provider=github&access-token=x").await);
    assert!(twice[0].contains("more than once"));

    // 401: GitHub does not know the token, or it was revoked.
    assert!(
        failure(
            &exchange(&app, "?provider=github&access-token=gho_unknown").await,
            401
        )
        .contains("not valid")
    );
    github.add_token("gho_revoked", octocat(), Behaviour::Revoked);
    failure(
        &exchange(&app, "?provider=github&access-token=gho_revoked").await,
        401,
    );

    // 500: GitHub failing, slow, redirecting or sending too much.
    for (token, behaviour, says) in [
        ("gho_5xx", Behaviour::ServerError, "502"),
        (
            "gho_slow",
            Behaviour::Slow(StdDuration::from_secs(3)),
            "in time",
        ),
        ("gho_redirect", Behaviour::Redirect, "redirect"),
        ("gho_huge", Behaviour::Huge, "larger"),
    ] {
        github.add_token(token, octocat(), behaviour);
        let started = std::time::Instant::now();
        let reply = exchange(&app, &format!("?provider=github&access-token={token}")).await;
        let error = failure(&reply, 500);
        assert!(error.starts_with("external service call failed"), "{error}");
        assert!(error.contains(says), "{token}: {error}");
        assert!(
            started.elapsed() < StdDuration::from_secs(3),
            "{token} was waited for"
        );
    }
    assert_eq!(
        app.fingerprint_without(COUNTED).await,
        before,
        "a failed sign-in stored something"
    );
}

async fn a_github_token_issued_to_another_app_or_a_person_signs_no_one_in(db: ScratchDb) {
    let github = FakeGitHub::start().await;
    let app = spawn(db, &github).await;
    // The victim has an account here, made by a sign-in through our app.
    github.add_token("gho_ours", octocat(), Behaviour::Normal);
    let (_, victim, _) =
        token_object(&exchange(&app, "?provider=github&access-token=gho_ours").await);
    let checks = github.token_checks();
    assert!(checks >= 1, "GitHub's check was not asked");
    let before = app.fingerprint_without(COUNTED).await;

    // A token of another OAuth app the victim authorized, and their
    // personal access token: GitHub's /user names the victim for both.
    github.add_foreign_token(
        "gho_other_app",
        octocat(),
        portcullis_tests::fake_github::Issuer::OtherApp,
    );
    github.add_foreign_token(
        "ghp_personal",
        octocat(),
        portcullis_tests::fake_github::Issuer::Personal,
    );
    for token in ["gho_other_app", "ghp_personal"] {
        let refused = exchange(&app, &format!("?provider=github&access-token={token}")).await;
        let error = failure(&refused, 401);
        assert!(
            error.contains("not issued to this server"),
            "{token}: {error}"
        );
        assert!(
            !refused.text.contains(&victim),
            "{token}: the account leaked"
        );
    }
    assert_eq!(github.token_checks(), checks + 2);
    assert_eq!(
        app.fingerprint_without(COUNTED).await,
        before,
        "a refused exchange stored something"
    );
    assert!(!portcullis_tests::log_lines_with("upstream_login_refused").is_empty());
}

async fn an_upstream_email_of_an_existing_account_links_and_creates_nothing(db: ScratchDb) {
    let github = FakeGitHub::start().await;
    let app = spawn(db, &github).await;
    app.user(
        "victim",
        Some("victim@example.com"),
        "correct horse battery",
    )
    .await;
    // The victim proved the address (a link was opened, or an operator
    // vouched): it is theirs.
    auth_core::accounts::set_email_verified(&app.services.roles.accounts, "victim", true)
        .await
        .unwrap()
        .unwrap();
    let before = app.fingerprint_without(COUNTED).await;

    // GitHub vouches for the address: still no silent link, no account.
    github.add_token(
        "gho_attacker",
        FakeUser::new(7, "attacker", "Victim@Example.com"),
        Behaviour::Normal,
    );
    let refused = failure(
        &exchange(&app, "?provider=github&access-token=gho_attacker").await,
        401,
    );
    assert!(
        refused.contains("already exists") && refused.contains("link"),
        "{refused}"
    );
    assert_eq!(app.fingerprint_without(COUNTED).await, before);
    assert!(!portcullis_tests::log_lines_with("upstream_email_in_use").is_empty());

    // An unverified or secondary address is not the person's: the
    // account is created without it, and is not the victim's.
    let unverified = FakeUser {
        emails: vec![FakeEmail {
            email: "victim@example.com".into(),
            primary: true,
            verified: false,
        }],
        ..FakeUser::new(8, "someone", "")
    };
    github.add_token("gho_unverified", unverified, Behaviour::Normal);
    let (_, account, _) =
        token_object(&exchange(&app, "?provider=github&access-token=gho_unverified").await);
    let user = app.account(&account).await;
    assert_eq!(user.username.as_str(), "someone");
    assert_eq!(user.email, None);

    // Private emails (the token may not list them): no email either.
    let private = FakeUser {
        emails_visible: false,
        ..FakeUser::new(9, "private", "p@example.com")
    };
    github.add_token("gho_private", private, Behaviour::Normal);
    let (_, account, _) =
        token_object(&exchange(&app, "?provider=github&access-token=gho_private").await);
    let user = app.account(&account).await;
    assert_eq!(user.email, None);

    // A GitHub login equal to a local username gets another name.
    github.add_token(
        "gho_namesake",
        FakeUser::new(10, "victim", "namesake@example.org"),
        Behaviour::Normal,
    );
    let (_, account, _) =
        token_object(&exchange(&app, "?provider=github&access-token=gho_namesake").await);
    let user = app.account(&account).await;
    assert_eq!(user.username.as_str(), "github-victim");
}

/// Registering someone else's address without verifying it blocks nothing:
/// the owner's first sign-in through a provider that vouches for the
/// address creates their account with it, and the squatting account keeps
/// its username but no longer signs in with the address.
async fn an_unverified_local_address_does_not_block_its_owner(db: ScratchDb) {
    let github = FakeGitHub::start().await;
    let app = spawn(db, &github).await;
    let squatter = app
        .user("squatter", Some("owner@example.com"), "squatters-password")
        .await;
    github.add_token(
        "gho_owner",
        FakeUser::new(11, "owner", "owner@example.com"),
        Behaviour::Normal,
    );
    let (_, account, _) =
        token_object(&exchange(&app, "?provider=github&access-token=gho_owner").await);
    assert_ne!(account, squatter);
    let owner = app.account(&account).await;
    assert_eq!(
        owner.email.as_ref().map(|e| e.as_str()),
        Some("owner@example.com")
    );
    assert!(owner.email_verified, "the provider vouched for it");
    let squatter = app.account(&squatter).await;
    assert_eq!(squatter.username.as_str(), "squatter");
    assert_eq!(squatter.email, None);
    assert_eq!(app.account_id("owner@example.com").await, account);
    assert_eq!(app.account_id("squatter").await, squatter.id.to_string());
    let created = portcullis_tests::log_lines_with(&squatter.id.to_string());
    assert!(
        created
            .iter()
            .any(|l| l.contains("upstream_account_created")),
        "{created:?}"
    );
}

async fn the_web_flow_hands_its_token_to_one_poll(db: ScratchDb) {
    let github = FakeGitHub::start().await;
    let app = spawn(db, &github).await;
    github.add_token("gho_octo", octocat(), Behaviour::Normal);
    github.sign_in_next("gho_octo");

    let (url, state) = start_web(&app, "?provider=github").await;
    let authorize = url::Url::parse(&url).unwrap();
    assert!(url.starts_with(&format!("{}/login/oauth/authorize?", github.base)));
    assert_eq!(param(&authorize, "client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(param(&authorize, "state").as_deref(), Some(state.as_str()));
    assert_eq!(
        param(&authorize, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(
        param(&authorize, "redirect_uri").as_deref(),
        Some("http://issuer.test/v1/login/oauth2/web/callback/github")
    );
    // The state is sealed: it does not show the flow's secrets.
    assert!(state.starts_with("v4.local.") && !state.contains("verifier"));

    // Before the person approves, the poll says so.
    let early = get(&app, &poll_path(&state)).await;
    assert!(failure(&early, 401).contains("not finished"));

    let callback = approve_at_github(&app, &url).await;
    // The callback signs no one in: it asks, on our origin, naming the
    // application and the GitHub account.
    let b = portcullis_tests::browser();
    let page = confirmation_page(&app, &b, &callback).await;
    assert!(
        page.text
            .contains("Sign in to <strong>External login API (seed 003)</strong>"),
        "{}",
        page.text
    );
    assert!(
        page.text.contains("<strong>octocat</strong>"),
        "{}",
        page.text
    );
    assert!(failure(&get(&app, &poll_path(&state)).await, 401).contains("not finished"));
    // The callback runs once: GitHub's code is spent.
    failure(&get(&app, &callback).await, 401);

    let signed_in = answer(&app, &b, &page, "allow").await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.text);
    assert!(
        signed_in.text.contains("You are signed in to"),
        "{}",
        signed_in.text
    );
    let (_, account, secret) = token_object(&get(&app, &poll_path(&state)).await);
    assert_eq!(
        app.get_bearer("/v1/login/token", &secret).await.body["accountId"],
        account
    );
    assert_eq!(app.account(&account).await.username.as_str(), "octocat");
    // Handed out once.
    failure(&get(&app, &poll_path(&state)).await, 401);
    // The confirmation counts once.
    let again = answer(&app, &b, &page, "allow").await;
    assert_eq!(again.status, 401, "{}", again.text);
    assert!(again.text.contains("used"), "{}", again.text);
}

async fn a_polled_sign_in_is_finished_only_by_the_button_on_our_page(db: ScratchDb) {
    let github = FakeGitHub::start().await;
    let app = spawn(db, &github).await;
    github.add_token("gho_octo", octocat(), Behaviour::Normal);
    github.sign_in_next("gho_octo");
    // An attacker starts a flow and sends its GitHub URL to the victim.
    let (url, state) = start_web(&app, "?provider=github").await;
    let callback = approve_at_github(&app, &url).await;
    let victim = portcullis_tests::browser();
    let page = confirmation_page(&app, &victim, &callback).await;
    let before = app.fingerprint_without(COUNTED).await;

    // A forged answer: no CSRF token, another browser's, another site.
    let mut no_csrf = form_fields(&page.text, "/v1/login/oauth2/web/confirm");
    no_csrf.retain(|(k, _)| k != "csrf_token");
    no_csrf.push(("decision".into(), "allow".into()));
    assert_eq!(
        app.post_with(&victim, "/v1/login/oauth2/web/confirm", &no_csrf)
            .await
            .status,
        403
    );
    let elsewhere = portcullis_tests::browser();
    assert_eq!(answer(&app, &elsewhere, &page, "allow").await.status, 403);
    let mut form = form_fields(&page.text, "/v1/login/oauth2/web/confirm");
    form.push(("decision".into(), "allow".into()));
    let cross_site = victim
        .post(app.url("/v1/login/oauth2/web/confirm"))
        .header("sec-fetch-site", "cross-site")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    assert!(failure(&get(&app, &poll_path(&state)).await, 401).contains("not finished"));
    assert_eq!(
        app.fingerprint_without(COUNTED).await,
        before,
        "nothing was signed in"
    );

    // The victim refuses: the flow is over, the attacker's poll gets nothing.
    let refused = answer(&app, &victim, &page, "deny").await;
    assert_eq!(refused.status, 200, "{}", refused.text);
    assert!(
        refused.text.contains("Nobody was signed in"),
        "{}",
        refused.text
    );
    assert!(failure(&get(&app, &poll_path(&state)).await, 401).contains("used"));
    let late = answer(&app, &victim, &page, "allow").await;
    assert_eq!(late.status, 401, "{}", late.text);
    assert!(
        app.fingerprint_without(COUNTED)
            .await
            .iter()
            .all(|row| !row.contains("octocat")),
        "no account was made"
    );
}

async fn the_web_flows_state_cannot_be_forged_altered_or_used_elsewhere(db: ScratchDb) {
    let github = FakeGitHub::start().await;
    let app = spawn(db, &github).await;
    github.add_token("gho_octo", octocat(), Behaviour::Normal);
    github.sign_in_next("gho_octo");
    let (url, state) = start_web(&app, "?provider=github").await;
    let callback = approve_at_github(&app, &url).await;
    let code = param(
        &url::Url::parse(&format!("http://x{callback}")).unwrap(),
        "code",
    )
    .unwrap();
    let before = app.fingerprint_without(COUNTED).await;

    let mut altered = state.clone().into_bytes();
    let i = altered.len() - 3;
    altered[i] = if altered[i] == b'a' { b'b' } else { b'a' };
    let altered = String::from_utf8(altered).unwrap();
    for bad in [altered.as_str(), "v4.local.forged", "made-up"] {
        let path = format!(
            "/v1/login/oauth2/web/callback/github?code={code}&state={}",
            url::form_urlencoded::byte_serialize(bad.as_bytes()).collect::<String>()
        );
        assert!(
            failure(&get(&app, &path).await, 401).contains("state"),
            "{bad}"
        );
        failure(&get(&app, &poll_path(bad)).await, 401);
    }
    // Missing parameters are the document's 400.
    let missing = issues(&get(&app, "/v1/login/oauth2/web/callback/github").await);
    assert_eq!(missing, ["code is required", "state is required"]);
    assert_eq!(
        issues(&get(&app, "/v1/login/oauth2/web/poll").await),
        ["state is required"]
    );
    assert_eq!(
        issues(&get(&app, "/v1/login/oauth2/web/authorize").await),
        ["provider is required"]
    );
    // The person refusing at GitHub.
    let denied = get(
        &app,
        "/v1/login/oauth2/web/callback/github?error=access_denied&state=x",
    )
    .await;
    assert!(failure(&denied, 401).contains("declined"));
    // A code GitHub does not know (wrong or used): refused by GitHub.
    let wrong = format!(
        "/v1/login/oauth2/web/callback/github?code=code-999&state={}",
        url::form_urlencoded::byte_serialize(state.as_bytes()).collect::<String>()
    );
    assert!(failure(&get(&app, &wrong).await, 401).contains("code was not valid"));
    assert_eq!(app.fingerprint_without(COUNTED).await, before);

    // A redirect that is not the client's registered one would make us
    // an open redirector: refused. The registered one is where the
    // callback sends the browser.
    let open = issues(
        &get(
            &app,
            "/v1/login/oauth2/web/authorize?provider=github&redirect=https://evil.example/",
        )
        .await,
    );
    assert!(open[0].contains("redirect"), "{open:?}");
    let (url, state) = start_web(&app, &format!("?provider=github&redirect={DONE}")).await;
    github.sign_in_next("gho_octo");
    let callback = approve_at_github(&app, &url).await;
    let b = portcullis_tests::browser();
    let page = confirmation_page(&app, &b, &callback).await;
    let done = answer(&app, &b, &page, "allow").await;
    assert_eq!(done.status, 303, "{}", done.text);
    assert_eq!(location(&done).as_str(), DONE);
    token_object(&get(&app, &poll_path(&state)).await);
}

async fn the_device_flow_waits_for_github_as_often_as_github_allows(db: ScratchDb) {
    let github = FakeGitHub::start().await;
    let app = spawn(db, &github).await;
    github.add_token("gho_octo", octocat(), Behaviour::Normal);
    github.script_device([DeviceStep::Pending, DeviceStep::Token("gho_octo".into())]);

    let started = app
        .post_json("/login/oauth2/device/start", &json!(null))
        .await;
    assert_eq!(started.status, 200, "{}", started.text);
    assert_eq!(
        keys(&started.body),
        BTreeSet::from(["url", "userCode", "expires", "encodedSession"])
    );
    assert!(started.str("url").ends_with("/login/device"));
    assert!(started.str("userCode").starts_with("WDJB-"));
    chrono::DateTime::parse_from_rfc3339(started.str("expires")).unwrap();
    let session = started.str("encodedSession").to_owned();
    assert!(session.starts_with("v4.local.") && !session.contains("device-"));

    let reply = complete(&app, json!(session)).await;
    let (_, account, secret) = token_object(&reply);
    assert_eq!(
        app.get_bearer("/userinfo", &secret).await.str("sub"),
        account
    );
    // Two polls, at least GitHub's interval (1 s) apart.
    let polls = github.device_polls();
    assert_eq!(polls.len(), 2);
    assert!(polls[1] - polls[0] >= StdDuration::from_millis(950));

    // Replayed: the session was used.
    assert!(failure(&complete(&app, json!(session)).await, 401).contains("used"));
}

async fn the_device_flow_refuses_what_it_must(db: ScratchDb) {
    let github = FakeGitHub::start().await;
    let app = spawn(db, &github).await;
    let before = app.fingerprint_without(STARTED_AND_COUNTED).await;

    // Not a JSON string: the document's 400.
    for body in [json!({"encodedSession": "x"}), json!(""), json!(7)] {
        issues(&complete(&app, body).await);
    }
    // Forged or altered sessions.
    github.script_device([DeviceStep::Denied]);
    let session = app
        .post_json("/login/oauth2/device/start", &json!(null))
        .await
        .str("encodedSession")
        .to_owned();
    let mut altered = session.clone().into_bytes();
    let i = altered.len() - 4;
    altered[i] = if altered[i] == b'a' { b'b' } else { b'a' };
    for bad in [
        String::from_utf8(altered).unwrap(),
        "v4.local.forged".into(),
    ] {
        assert!(failure(&complete(&app, json!(bad)).await, 401).contains("not valid"));
    }
    // The person refused at GitHub.
    assert!(failure(&complete(&app, json!(session)).await, 401).contains("refused"));
    // Expired at GitHub.
    github.script_device([DeviceStep::Expired]);
    let session = app
        .post_json("/login/oauth2/device/start", &json!(null))
        .await
        .str("encodedSession")
        .to_owned();
    assert!(failure(&complete(&app, json!(session)).await, 401).contains("expired"));
    assert_eq!(app.fingerprint_without(STARTED_AND_COUNTED).await, before);

    // GitHub asks us to slow down: the next poll waits five seconds
    // more, longer than this server waits (3 s), so the answer is "not
    // yet"; asked again at once, we do not poll GitHub early.
    github.add_token("gho_octo", octocat(), Behaviour::Normal);
    github.script_device([DeviceStep::SlowDown, DeviceStep::Token("gho_octo".into())]);
    let session = app
        .post_json("/login/oauth2/device/start", &json!(null))
        .await
        .str("encodedSession")
        .to_owned();
    let polls_before = github.device_polls().len();
    assert!(failure(&complete(&app, json!(session)).await, 401).contains("not finished"));
    assert!(failure(&complete(&app, json!(session)).await, 401).contains("not finished"));
    assert_eq!(
        github.device_polls().len(),
        polls_before + 1,
        "polled GitHub before the interval"
    );
}

async fn the_external_login_api_is_described_when_it_is_served(db: ScratchDb) {
    let github = FakeGitHub::start().await;
    let app = spawn(db, &github).await;
    let document: serde_json::Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (path, method) in [
        ("/v1/oauth2", "post"),
        ("/v1/login/token", "get"),
        ("/login/oauth2/device/start", "post"),
        ("/login/oauth2/device/complete", "post"),
        ("/v1/login/oauth2/web/authorize", "get"),
        ("/v1/login/oauth2/web/callback/{provider}", "get"),
        ("/v1/login/oauth2/web/poll", "get"),
    ] {
        let operation = &document["paths"][path][method];
        assert_eq!(operation["tags"][0], "external-login", "{method} {path}");
    }
    let token = &document["components"]["schemas"]["TokenObject"]["properties"];
    assert!(token["data"].is_object() && token["secret"].is_object());
}

async fn calls_that_ask_github_or_store_a_flow_are_throttled_per_address(db: ScratchDb) {
    let github = FakeGitHub::start().await;
    github.add_token("gho_octo", octocat(), Behaviour::Normal);
    let app = TestApp::spawn_with(
        db,
        FileSettings {
            github: Some(registration(&github.base)),
            dialects: Some(DialectSettings {
                external_login: Some(true),
                ..Default::default()
            }),
            external_login_max_per_address: Some(3),
            ..Default::default()
        },
    )
    .await;
    token_object(&exchange(&app, "?provider=github&access-token=gho_octo").await);
    start_web(&app, "?provider=github").await;
    assert_eq!(
        app.post_json("/login/oauth2/device/start", &json!(null))
            .await
            .status,
        200
    );
    let before = app.fingerprint_without(COUNTED).await;
    let checks = github.token_checks();
    for refused in [
        exchange(&app, "?provider=github&access-token=gho_octo").await,
        get(&app, "/v1/login/oauth2/web/authorize?provider=github").await,
        app.post_json("/login/oauth2/device/start", &json!(null))
            .await,
    ] {
        assert!(
            failure(&refused, 429).contains("too many"),
            "{}",
            refused.text
        );
    }
    assert_eq!(github.token_checks(), checks, "GitHub was not asked");
    assert_eq!(
        app.fingerprint_without(COUNTED).await,
        before,
        "nothing was stored"
    );
    // The token info endpoint asks no provider: not throttled.
    assert_ne!(get(&app, "/v1/login/token").await.status, 429);
}

async fn the_external_login_api_is_off_until_the_operator_turns_it_on(db: ScratchDb) {
    let github = FakeGitHub::start().await;
    github.add_token("gho_octo", octocat(), Behaviour::Normal);
    let app = TestApp::spawn_with(
        db,
        FileSettings {
            github: Some(registration(&github.base)),
            ..Default::default()
        },
    )
    .await;
    let r = exchange(&app, "?provider=github&access-token=gho_octo").await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(github.token_checks(), 0);
}

async fn the_external_login_api_is_off_without_github(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    for (method, path) in [
        ("POST", "/v1/oauth2?provider=github&access-token=x"),
        ("GET", "/v1/login/token"),
        ("POST", "/login/oauth2/device/start"),
        ("GET", "/v1/login/oauth2/web/authorize?provider=github"),
    ] {
        let r = app
            .http
            .request(method.parse().unwrap(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{method} {path}");
    }
}

/// The hidden fields of the page's form that posts to `action`.
fn form_fields(html: &str, action: &str) -> Vec<(String, String)> {
    let start = html
        .find(&format!("action=\"{action}\""))
        .unwrap_or_else(|| panic!("no form posting to {action} in {html}"));
    let end = html[start..].find("</form>").unwrap() + start;
    portcullis_tests::hidden_fields(&html[start..end])
}

/// The page's CSRF field (every form of a page carries the same).
fn csrf_of(html: &str) -> Vec<(String, String)> {
    portcullis_tests::csrf_field(html)
        .into_iter()
        .take(1)
        .collect()
}

async fn app_client(app: &TestApp) -> String {
    app.client(portcullis_tests::ClientSetup {
        public: true,
        grants: &["authorization_code", "refresh_token"],
        redirect_uris: &["myapp://callback"],
        first_party: true,
        ..Default::default()
    })
    .await
    .0
}

/// Presses "Sign in with GitHub" on the login page of an authorization
/// request in browser `b`, approves at GitHub, and returns our callback.
async fn press_github(
    app: &TestApp,
    b: &reqwest::Client,
    github: &FakeGitHub,
    client: &str,
) -> String {
    let page = app
        .get_with(
            b,
            &crate::browser::authorize_path(client, "myapp://callback", "xyz"),
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("Sign in with GitHub"));
    // The page may lead the browser to GitHub.
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains(&format!("form-action 'self' {}", github.base)),
        "{csp}"
    );
    let form = form_fields(&page.text, "/login/upstream/github");
    let to_github = app.post_with(b, "/login/upstream/github", &form).await;
    assert_eq!(to_github.status, 303, "{}", to_github.text);
    let url = location(&to_github);
    assert!(url.as_str().starts_with(&github.base));
    assert_eq!(
        param(&url, "redirect_uri").as_deref(),
        Some("http://issuer.test/login/upstream/github/callback")
    );
    approve_at_github(app, url.as_str()).await
}

async fn the_login_pages_github_button_signs_in_and_continues_the_authorization(db: ScratchDb) {
    let github = FakeGitHub::start().await;
    let app = spawn(db, &github).await;
    let client = app_client(&app).await;
    github.add_token("gho_octo", octocat(), Behaviour::Normal);
    github.sign_in_next("gho_octo");

    let b = portcullis_tests::browser();
    let callback = press_github(&app, &b, &github, &client).await;
    // Back from GitHub: signed in, and on to the client with a code.
    let back = app.get_with(&b, &callback).await;
    assert_eq!(back.status, 303, "{}", back.text);
    let to_client = location(&back);
    assert!(
        to_client.as_str().starts_with("myapp://callback?"),
        "{to_client}"
    );
    assert_eq!(param(&to_client, "state").as_deref(), Some("xyz"));
    let code = param(&to_client, "code").unwrap();
    let tokens = app
        .redeem_code(&client, &code, "myapp://callback", crate::browser::VERIFIER)
        .await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    let me = app
        .get_bearer("/userinfo", tokens.str("access_token"))
        .await;
    // The same account seed 003's exchange finds for this GitHub user.
    let (_, account, _) =
        token_object(&exchange(&app, "?provider=github&access-token=gho_octo").await);
    assert_eq!(me.str("sub"), account);

    // The SSO session is set: the next authorization needs no login.
    let again = app
        .get_with(
            &b,
            &crate::browser::authorize_path(&client, "myapp://callback", "again"),
        )
        .await;
    assert_eq!(again.status, 302, "{}", again.text);
    assert!(param(&location(&again), "code").is_some());
    // The callback runs once.
    let replayed = app.get_with(&b, &callback).await;
    assert_eq!(replayed.status, 401, "{}", replayed.text);
}

async fn an_upstream_sign_in_is_bound_to_the_browser_and_the_flow_that_began_it(db: ScratchDb) {
    let github = FakeGitHub::start().await;
    let app = spawn(db, &github).await;
    let client = app_client(&app).await;
    github.add_token("gho_octo", octocat(), Behaviour::Normal);
    github.sign_in_next("gho_octo");
    let b = portcullis_tests::browser();
    let callback = press_github(&app, &b, &github, &client).await;
    let before = app.fingerprint_without(STARTED_AND_COUNTED).await;

    // Another browser (an attacker's link to a victim) is refused.
    let other = portcullis_tests::browser();
    let refused = app.get_with(&other, &callback).await;
    assert_eq!(refused.status, 401, "{}", refused.text);
    assert!(refused.text.contains("another browser"));
    // The hosted flow's state is no good at seed 003's callback, and
    // seed 003's is no good here.
    let seed_callback = callback.replace(
        "/login/upstream/github/callback",
        "/v1/login/oauth2/web/callback/github",
    );
    assert!(failure(&get(&app, &seed_callback).await, 401).contains("another flow"));
    let (url, _) = start_web(&app, "?provider=github").await;
    let seed_back = approve_at_github(&app, &url).await;
    let hosted_back = seed_back.replace(
        "/v1/login/oauth2/web/callback/github",
        "/login/upstream/github/callback",
    );
    let crossed = app.get_with(&b, &hosted_back).await;
    assert_eq!(crossed.status, 401);
    assert!(crossed.text.contains("another flow"));
    // A GET cannot start a flow; a post without the CSRF token neither.
    let no_csrf = app
        .post_with(
            &b,
            "/login/upstream/github",
            &[("flow".into(), "authorize".into())],
        )
        .await;
    assert_eq!(no_csrf.status, 403);
    // The provider sending an error back is a refusal, logged.
    let declined = app
        .get_with(
            &b,
            "/login/upstream/github/callback?error=access_denied&state=x",
        )
        .await;
    assert_eq!(declined.status, 401);
    assert!(declined.text.contains("declined"), "{}", declined.text);
    // Whoever crafts a callback link chooses nothing the page says.
    for crafted in [
        "error=access_denied&error_description=Call+0800+SCAM+to+unlock&state=x",
        "error=Call_0800_SCAM&state=x",
    ] {
        let page = app
            .get_with(&b, &format!("/login/upstream/github/callback?{crafted}"))
            .await;
        assert_eq!(page.status, 401);
        assert!(!page.text.contains("0800"), "{}", page.text);
    }
    assert_eq!(app.fingerprint_without(STARTED_AND_COUNTED).await, before);

    // The browser that began it still can, once.
    let back = app.get_with(&b, &callback).await;
    assert_eq!(back.status, 303, "{}", back.text);
}

async fn linking_after_five_minutes_asks_for_the_password_and_a_password_change_shows_the_links(
    db: ScratchDb,
) {
    let github = FakeGitHub::start().await;
    let app = spawn(db, &github).await;
    app.user("michael", None, "correct-horse").await;
    github.add_token("gho_octo", octocat(), Behaviour::Normal);
    let b = portcullis_tests::browser();
    let page = app.get_with(&b, "/login").await;
    let form = crate::browser::with(
        form_fields(&page.text, "/login"),
        &[("username", "michael"), ("password", "correct-horse")],
    );
    assert_eq!(app.post_with(&b, "/login", &form).await.status, 303);
    // Six minutes on, a stolen cookie alone links nothing.
    app.clock.advance(chrono::Duration::minutes(6));
    let page = app.get_with(&b, "/account").await;
    assert!(
        page.text.contains("name=\"password\""),
        "the link form asks for the password"
    );
    let no_password = app
        .post_with(&b, "/account/upstream/github/link", &csrf_of(&page.text))
        .await;
    assert_eq!(no_password.status, 401, "{}", no_password.text);
    assert!(
        no_password.text.contains("enter your password"),
        "{}",
        no_password.text
    );
    let wrong = crate::browser::with(csrf_of(&page.text), &[("password", "wrong-horse")]);
    let refused = app
        .post_with(&b, "/account/upstream/github/link", &wrong)
        .await;
    assert_eq!(refused.status, 401, "{}", refused.text);
    assert!(!portcullis_tests::log_lines_with("login_failed").is_empty());
    // With the password it goes on to GitHub, and the link is logged.
    let right = crate::browser::with(csrf_of(&page.text), &[("password", "correct-horse")]);
    let to_github = app
        .post_with(&b, "/account/upstream/github/link", &right)
        .await;
    assert_eq!(to_github.status, 303, "{}", to_github.text);
    github.sign_in_next("gho_octo");
    let back = approve_at_github(&app, location(&to_github).as_str()).await;
    let linked = app.get_with(&b, &back).await;
    assert_eq!(linked.status, 200, "{}", linked.text);
    assert!(!portcullis_tests::log_lines_with("identity_linked").is_empty());

    // After a password change the page names what else signs in.
    let page = app.get_with(&b, "/account").await;
    let change = crate::browser::with(
        csrf_of(&page.text),
        &[
            ("current_password", "correct-horse"),
            ("new_password", "battery-staple"),
            ("confirm_password", "battery-staple"),
        ],
    );
    let changed = app.post_with(&b, "/account/password", &change).await;
    assert_eq!(changed.status, 303, "{}", changed.text);
    let page = app.get_with(&b, "/account?notice=password").await;
    assert!(
        page.text
            .contains("These identities can also sign in to your account: GitHub"),
        "{}",
        page.text
    );
    assert!(page.text.contains("/account/upstream/github/unlink"));
    // Without the notice, no such line.
    assert!(
        !app.get_with(&b, "/account")
            .await
            .text
            .contains("linked-check")
    );
}

async fn a_signed_in_account_links_github_and_only_so(db: ScratchDb) {
    let github = FakeGitHub::start().await;
    let app = spawn(db, &github).await;
    let client = app_client(&app).await;
    let local = app
        .user("michael", Some("octocat@github.example"), "correct-horse")
        .await;
    // A verified address (an unverified one would be taken by GitHub's
    // identity: `an_unverified_local_address_does_not_block_its_owner`).
    auth_core::accounts::set_email_verified(&app.services.roles.accounts, "michael", true)
        .await
        .unwrap()
        .unwrap();
    github.add_token("gho_octo", octocat(), Behaviour::Normal);

    // Before linking, GitHub's identity with the account's email is
    // refused on the login page, and nothing is created.
    github.sign_in_next("gho_octo");
    let b = portcullis_tests::browser();
    let callback = press_github(&app, &b, &github, &client).await;
    let refused = app.get_with(&b, &callback).await;
    assert_eq!(refused.status, 401, "{}", refused.text);
    assert!(refused.text.contains("already exists"));

    // Not signed in: no linking.
    let page = app.get_with(&b, "/login").await;
    let csrf = csrf_of(&page.text);
    let anonymous = app
        .post_with(&b, "/account/upstream/github/link", &csrf)
        .await;
    assert_eq!(anonymous.status, 401);

    // Signed in with the password, the account links GitHub.
    let form = form_fields(&page.text, "/login");
    let form = crate::browser::with(
        form,
        &[("username", "michael"), ("password", "correct-horse")],
    );
    let signed_in = app.post_with(&b, "/login", &form).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.text);
    let page = app.get_with(&b, "/login").await;
    let csrf = csrf_of(&page.text);
    let to_github = app
        .post_with(&b, "/account/upstream/github/link", &csrf)
        .await;
    assert_eq!(to_github.status, 303, "{}", to_github.text);
    github.sign_in_next("gho_octo");
    let back = approve_at_github(&app, location(&to_github).as_str()).await;
    // The link is finished only in the session that asked for it.
    let elsewhere = app.get_with(&portcullis_tests::browser(), &back).await;
    assert_eq!(elsewhere.status, 401);
    let linked = app.get_with(&b, &back).await;
    assert_eq!(linked.status, 200, "{}", linked.text);
    assert!(linked.text.contains("linked"));

    // Now GitHub signs in to that account.
    let (_, account, _) =
        token_object(&exchange(&app, "?provider=github&access-token=gho_octo").await);
    assert_eq!(account, local);

    // An identity linked to one account cannot be linked to another.
    app.user("other", None, "correct-horse").await;
    let b2 = portcullis_tests::browser();
    let page = app.get_with(&b2, "/login").await;
    let form = crate::browser::with(
        form_fields(&page.text, "/login"),
        &[("username", "other"), ("password", "correct-horse")],
    );
    app.post_with(&b2, "/login", &form).await;
    let page = app.get_with(&b2, "/login").await;
    let to_github = app
        .post_with(&b2, "/account/upstream/github/link", &csrf_of(&page.text))
        .await;
    github.sign_in_next("gho_octo");
    let back = approve_at_github(&app, location(&to_github).as_str()).await;
    let taken = app.get_with(&b2, &back).await;
    assert_eq!(taken.status, 401, "{}", taken.text);
    assert!(taken.text.contains("another account"));

    // The account page shows the link and unlinks it: the password
    // remains a way to sign in. Another account cannot unlink it.
    let others = app.get_with(&b2, "/account").await;
    let refused = app
        .post_with(
            &b2,
            "/account/upstream/github/unlink",
            &csrf_of(&others.text),
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    let page = app.get_with(&b, "/account").await;
    // The page names the GitHub account as its owner knows it, not its id.
    assert!(
        page.text.contains("/account/upstream/github/unlink")
            && page.text.contains("linked as <strong>octocat</strong>"),
        "{}",
        page.text
    );
    assert!(!page.text.contains("583231"), "{}", page.text);
    let unlinked = app
        .post_with(&b, "/account/upstream/github/unlink", &csrf_of(&page.text))
        .await;
    assert_eq!(
        (unlinked.status, unlinked.header("location")),
        (303, Some("/account?notice=unlinked")),
        "{}",
        unlinked.text
    );
    let page = app.get_with(&b, "/account").await;
    assert!(
        page.text.contains("/account/upstream/github/link"),
        "a link button again"
    );
    let r = exchange(&app, "?provider=github&access-token=gho_octo").await;
    assert_eq!(
        r.status, 401,
        "GitHub no longer signs in to the account: {}",
        r.text
    );
}

async fn an_accounts_only_way_to_sign_in_is_not_unlinked(db: ScratchDb) {
    let github = FakeGitHub::start().await;
    let app = spawn(db, &github).await;
    let client = app_client(&app).await;
    github.add_token("gho_octo", octocat(), Behaviour::Normal);
    github.sign_in_next("gho_octo");
    // The first sign-in through GitHub creates an account without a password.
    let b = portcullis_tests::browser();
    let callback = press_github(&app, &b, &github, &client).await;
    assert_eq!(app.get_with(&b, &callback).await.status, 303);
    let (_, account, _) =
        token_object(&exchange(&app, "?provider=github&access-token=gho_octo").await);
    let page = app.get_with(&b, "/account").await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("has no password") && !page.text.contains("/account/password"));
    let refused = app
        .post_with(&b, "/account/upstream/github/unlink", &csrf_of(&page.text))
        .await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.text.contains("only way to sign in"),
        "{}",
        refused.text
    );
    let (_, still, _) =
        token_object(&exchange(&app, "?provider=github&access-token=gho_octo").await);
    assert_eq!(still, account, "the link is kept");
    // Without a password there is none to change either.
    let change = crate::browser::with(
        csrf_of(&page.text),
        &[
            ("current_password", ""),
            ("new_password", "a-long-passphrase"),
            ("confirm_password", "a-long-passphrase"),
        ],
    );
    let r = app.post_with(&b, "/account/password", &change).await;
    assert_eq!(r.status, 400);
    assert!(r.text.contains("has no password"));
}

async fn racing_polls_and_completes_hand_out_one_token(db: ScratchDb) {
    let github = FakeGitHub::start().await;
    let app = spawn(db, &github).await;
    github.add_token("gho_octo", octocat(), Behaviour::Normal);
    github.sign_in_next("gho_octo");
    let (url, _) = start_web(&app, "?provider=github").await;
    let callback = approve_at_github(&app, &url).await;
    // Callbacks racing: one redeems GitHub's code and asks.
    let callbacks = race_get(&app, &callback, 16).await;
    assert_eq!(callbacks.iter().filter(|r| r.status == 200).count(), 1);
    assert!(callbacks.iter().all(|r| r.status == 200 || r.status == 401));
    // Confirmations racing: one signs in.
    github.sign_in_next("gho_octo");
    let (url, state) = start_web(&app, "?provider=github").await;
    let callback = approve_at_github(&app, &url).await;
    let b = portcullis_tests::browser();
    let page = confirmation_page(&app, &b, &callback).await;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (app_b, page_text) = (b.clone(), page.text.clone());
        let url = app.url("/v1/login/oauth2/web/confirm");
        set.spawn(async move {
            let mut form = form_fields(&page_text, "/v1/login/oauth2/web/confirm");
            form.push(("decision".into(), "allow".into()));
            app_b
                .post(url)
                .form(&form)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    let answers = set.join_all().await;
    assert_eq!(
        answers.iter().filter(|s| **s == 200).count(),
        1,
        "{answers:?}"
    );
    // Polls racing: one token.
    let polls = race_get(&app, &poll_path(&state), 16).await;
    assert_eq!(polls.iter().filter(|r| r.status == 200).count(), 1);

    // Completes racing on one device session: one token.
    github.script_device([DeviceStep::Token("gho_octo".into())]);
    let session = app
        .post_json("/login/oauth2/device/start", &json!(null))
        .await
        .str("encodedSession")
        .to_owned();
    let completes = race_post(&app, "/login/oauth2/device/complete", json!(session), 8).await;
    assert_eq!(
        completes.iter().filter(|r| r.status == 200).count(),
        1,
        "{:?}",
        completes.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
}

async fn a_github_that_cannot_be_reached_is_the_documents_500(db: ScratchDb) {
    // Nothing listens on port 9 of the loopback address.
    let app = TestApp::spawn_with(
        db,
        FileSettings {
            github: Some(GitHubFile {
                client_id: Some(CLIENT_ID.into()),
                client_secret: Some(CLIENT_SECRET.into()),
                web_url: Some("http://127.0.0.1:9".into()),
                api_url: Some("http://127.0.0.1:9".into()),
                scope: None,
            }),
            dialects: Some(DialectSettings {
                external_login: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await;
    let before = app.fingerprint_without(COUNTED).await;
    let started = app
        .post_json("/login/oauth2/device/start", &json!(null))
        .await;
    assert!(failure(&started, 500).contains("could not be reached"));
    let exchanged = exchange(&app, "?provider=github&access-token=gho_x").await;
    assert!(failure(&exchanged, 500).contains("could not be reached"));
    assert_eq!(app.fingerprint_without(COUNTED).await, before);
}

/// `n` copies of a GET at once.
async fn race_get(app: &TestApp, path: &str, n: usize) -> Vec<Reply> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (http, url) = (app.http.clone(), app.url(path));
        set.spawn(async move { Reply::from(http.get(url).send().await.unwrap()).await });
    }
    set.join_all().await
}

/// `n` copies of a JSON POST at once.
async fn race_post(app: &TestApp, path: &str, body: serde_json::Value, n: usize) -> Vec<Reply> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (http, url, body) = (app.http.clone(), app.url(path), body.clone());
        set.spawn(
            async move { Reply::from(http.post(url).json(&body).send().await.unwrap()).await },
        );
    }
    set.join_all().await
}

scenarios! {
    an_access_token_from_github_is_exchanged_for_a_token_of_ours,
    the_exchange_answers_every_failure_in_the_documents_shapes_and_creates_nothing,
    a_github_token_issued_to_another_app_or_a_person_signs_no_one_in,
    an_upstream_email_of_an_existing_account_links_and_creates_nothing,
    an_unverified_local_address_does_not_block_its_owner,
    the_web_flow_hands_its_token_to_one_poll,
    a_polled_sign_in_is_finished_only_by_the_button_on_our_page,
    the_web_flows_state_cannot_be_forged_altered_or_used_elsewhere,
    the_device_flow_waits_for_github_as_often_as_github_allows,
    the_device_flow_refuses_what_it_must,
    the_external_login_api_is_described_when_it_is_served,
    calls_that_ask_github_or_store_a_flow_are_throttled_per_address,
    the_external_login_api_is_off_until_the_operator_turns_it_on,
    the_external_login_api_is_off_without_github,
    the_login_pages_github_button_signs_in_and_continues_the_authorization,
    an_upstream_sign_in_is_bound_to_the_browser_and_the_flow_that_began_it,
    linking_after_five_minutes_asks_for_the_password_and_a_password_change_shows_the_links,
    a_signed_in_account_links_github_and_only_so,
    an_accounts_only_way_to_sign_in_is_not_unlinked,
    racing_polls_and_completes_hand_out_one_token,
    a_github_that_cannot_be_reached_is_the_documents_500,
}
