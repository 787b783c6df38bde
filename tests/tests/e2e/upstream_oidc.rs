//! Sign-in through a generic OpenID provider, played by a second
//! Portcullis node: discovery, the code flow with PKCE, state and nonce,
//! the ID token checked against the provider's JWKS, and RFC 9207's `iss`.
//! The browser keeps one cookie jar per site, as it would for two hosts.
use portcullis::settings::{DialectSettings, FileSettings, GitHubFile, ProviderFile};
use portcullis_tests::fake_github::{CLIENT_ID, CLIENT_SECRET, FakeGitHub};
use portcullis_tests::{
    Backend, ClientSetup, Reply, ScratchDb, TestApp, browser, hidden_fields, location, param,
    scenarios,
};

/// Every call to a provider counts in the per-address upstream throttle,
/// refused or not, by design: the fingerprints here leave that table out.
const COUNTED: &[&str] = &["throttle_counters"];
/// And where the test starts flows of its own between its two fingerprints,
/// each started flow is a row of its own; every other table is compared.
const STARTED_AND_COUNTED: &[&str] = &["throttle_counters", "upstream_flows"];

/// The downstream node's address: chosen before either node starts, so
/// the upstream can register its callback (a loopback URI: plain http is
/// refused for any other host).
fn downstream_port() -> (u16, String) {
    let port = portcullis_tests::unclaimed_port();
    (
        port,
        format!("http://127.0.0.1:{port}/login/upstream/corp/callback"),
    )
}

/// The upstream provider: a Portcullis node on its own port and issuer,
/// with a confidential client for the downstream node and a user.
async fn upstream(callback: &str) -> (TestApp, String, String) {
    let port = portcullis_tests::unclaimed_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let node = TestApp::spawn_with(
        ScratchDb::new(Backend::Sqlite).await.unwrap(),
        FileSettings {
            bind: Some(format!("127.0.0.1:{port}")),
            issuer: Some(issuer.clone()),
            ..Default::default()
        },
    )
    .await;
    let (client, secret) = node
        .client(ClientSetup {
            public: false,
            grants: &["authorization_code", "password", "refresh_token"],
            redirect_uris: &[callback],
            scope: "openid email profile",
            first_party: true,
            ..Default::default()
        })
        .await;
    node.user("alice", Some("alice@corp.example"), "correct-horse")
        .await;
    (node, client, secret.unwrap())
}

/// The downstream node, signing in through `corp` (and GitHub, so the
/// external login API is on).
async fn downstream(db: ScratchDb, port: u16, provider: ProviderFile) -> (TestApp, String) {
    let github = FakeGitHub::start().await;
    let app = TestApp::spawn_with(
        db,
        FileSettings {
            bind: Some(format!("127.0.0.1:{port}")),
            issuer: Some(format!("http://127.0.0.1:{port}")),
            providers: Some([("corp".to_owned(), provider)].into()),
            github: Some(GitHubFile {
                client_id: Some(CLIENT_ID.into()),
                client_secret: Some(CLIENT_SECRET.into()),
                web_url: Some(github.base.clone()),
                api_url: Some(github.base.clone()),
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
    let (client, _) = app
        .client(ClientSetup {
            public: true,
            grants: &["authorization_code"],
            redirect_uris: &["myapp://callback"],
            first_party: true,
            ..Default::default()
        })
        .await;
    (app, client)
}

fn corp(node: &TestApp, client: &str, secret: &str) -> ProviderFile {
    ProviderFile {
        display_name: Some("Corp SSO".into()),
        issuer: Some(node.base.clone()),
        client_id: Some(client.into()),
        client_secret: Some(secret.into()),
        ..Default::default()
    }
}

/// Presses "Sign in with Corp SSO" downstream; returns the browser, and
/// the authorization URL at the upstream node.
async fn press_corp(
    app: &TestApp,
    client: &str,
    upstream_origin: &str,
) -> (reqwest::Client, url::Url) {
    let b = browser();
    let page = app
        .get_with(
            &b,
            &crate::browser::authorize_path(client, "myapp://callback", "s1"),
        )
        .await;
    assert!(page.text.contains("Sign in with Corp SSO"), "{}", page.text);
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains(upstream_origin), "{csp}");
    let start = page.text.find("action=\"/login/upstream/corp\"").unwrap();
    let end = page.text[start..].find("</form>").unwrap() + start;
    let form = hidden_fields(&page.text[start..end]);
    let to_upstream = app.post_with(&b, "/login/upstream/corp", &form).await;
    assert_eq!(to_upstream.status, 303, "{}", to_upstream.text);
    (b, location(&to_upstream))
}

/// Signs alice in at the upstream node (its own cookie jar) and returns
/// where it sends the browser back.
async fn sign_in_upstream(authorize: &url::Url) -> url::Url {
    let b = browser();
    let page = Reply::from(b.get(authorize.as_str()).send().await.unwrap()).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let mut form = hidden_fields(&page.text);
    form.push(("username".into(), "alice".into()));
    form.push(("password".into(), "correct-horse".into()));
    let login = format!("{}/login", authorize.origin().ascii_serialization());
    let done = Reply::from(b.post(login).form(&form).send().await.unwrap()).await;
    assert!(matches!(done.status, 302 | 303), "{}", done.text);
    location(&done)
}

/// Seed 003's exchange of `token` issued by the `corp` provider.
async fn exchange_at(app: &TestApp, token: &str) -> Reply {
    Reply::from(
        app.http
            .post(app.url(&format!("/v1/oauth2?provider=corp&access-token={token}")))
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn path_of(url: &url::Url) -> String {
    format!("{}?{}", url.path(), url.query().unwrap_or_default())
}

/// `url` with query parameter `name` set to `value` (or removed).
fn with_param(url: &url::Url, name: &str, value: Option<&str>) -> url::Url {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .chain(value.map(|v| (name.to_owned(), v.to_owned())))
        .collect();
    let mut out = url.clone();
    out.query_pairs_mut().clear().extend_pairs(pairs);
    out
}

async fn a_second_portcullis_signs_people_in_as_an_openid_provider(db: ScratchDb) {
    let (port, callback) = downstream_port();
    let (node, client_at_node, secret) = upstream(&callback).await;
    let (app, client) = downstream(db, port, corp(&node, &client_at_node, &secret)).await;

    let (b, authorize) = press_corp(&app, &client, &node.base).await;
    assert!(
        authorize
            .as_str()
            .starts_with(&format!("{}/authorize?", node.base))
    );
    for (name, value) in [
        ("response_type", "code"),
        ("client_id", client_at_node.as_str()),
        ("redirect_uri", callback.as_str()),
        ("code_challenge_method", "S256"),
    ] {
        assert_eq!(param(&authorize, name).as_deref(), Some(value), "{name}");
    }
    assert!(
        param(&authorize, "scope")
            .unwrap()
            .split(' ')
            .any(|s| s == "openid")
    );
    assert!(param(&authorize, "nonce").is_some());

    let back = sign_in_upstream(&authorize).await;
    // RFC 9207: the provider says who it is.
    assert_eq!(param(&back, "iss").as_deref(), Some(node.base.as_str()));
    let signed_in = app.get_with(&b, &path_of(&back)).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.text);
    let to_client = location(&signed_in);
    assert_eq!(param(&to_client, "state").as_deref(), Some("s1"));
    let code = param(&to_client, "code").unwrap();
    let tokens = app
        .redeem_code(&client, &code, "myapp://callback", crate::browser::VERIFIER)
        .await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    let me = app
        .get_bearer("/userinfo", tokens.str("access_token"))
        .await;
    let account = me.str("sub").to_owned();
    // The new account took the provider's preferred_username.
    let user = app.account(&account).await;
    assert_eq!(user.username.as_str(), "alice");
    // The upstream says the email is not verified: none is taken.
    assert_eq!(user.email, None);

    // The same person through seed 003's exchange with an access token
    // the provider issued to us (its introspection says so): found again.
    let upstream_token = node
        .post_form(
            "/token",
            Some((&client_at_node, &secret)),
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "correct-horse"),
                ("scope", "openid"),
            ],
        )
        .await;
    assert_eq!(upstream_token.status, 200, "{}", upstream_token.text);
    let exchanged = exchange_at(&app, upstream_token.str("access_token")).await;
    assert_eq!(exchanged.status, 200, "{}", exchanged.text);
    assert_eq!(exchanged.body["data"]["accountId"], account.as_str());
}

async fn only_tokens_the_provider_issued_to_us_are_exchanged(db: ScratchDb) {
    let (port, callback) = downstream_port();
    let (node, client_at_node, secret) = upstream(&callback).await;
    let (app, _) = downstream(db, port, corp(&node, &client_at_node, &secret)).await;
    // Another application at the provider that alice also uses.
    let (other, other_secret) = node
        .client(ClientSetup {
            public: false,
            grants: &["password", "refresh_token"],
            scope: "openid email profile",
            first_party: true,
            ..Default::default()
        })
        .await;
    let other_secret = other_secret.unwrap();
    // Alice's tokens at the provider, for a client: an access token and,
    // through a refresh of an `openid` grant, an ID token.
    let tokens_of = |client: String, secret: String| {
        let node = &node;
        async move {
            let first = node
                .post_form(
                    "/token",
                    Some((&client, &secret)),
                    &[
                        ("grant_type", "password"),
                        ("username", "alice"),
                        ("password", "correct-horse"),
                        ("scope", "openid"),
                    ],
                )
                .await;
            assert_eq!(first.status, 200, "{}", first.text);
            let refreshed = node
                .post_form(
                    "/token",
                    Some((&client, &secret)),
                    &[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", first.str("refresh_token")),
                    ],
                )
                .await;
            assert_eq!(refreshed.status, 200, "{}", refreshed.text);
            (
                refreshed.str("access_token").to_owned(),
                refreshed.str("id_token").to_owned(),
            )
        }
    };
    let exchange = |token: String| {
        let app = &app;
        async move { exchange_at(app, &token).await }
    };
    let (ours_access, ours_id) = tokens_of(client_at_node.clone(), secret.clone()).await;
    let (theirs_access, theirs_id) = tokens_of(other, other_secret).await;

    // Issued to us: the access token (introspection says it is ours) and
    // the ID token (its audience is us) find the same account.
    let by_access = exchange(ours_access).await;
    assert_eq!(by_access.status, 200, "{}", by_access.text);
    let account = by_access.body["data"]["accountId"]
        .as_str()
        .unwrap()
        .to_owned();
    let by_id = exchange(ours_id).await;
    assert_eq!(by_id.status, 200, "{}", by_id.text);
    assert_eq!(by_id.body["data"]["accountId"], account.as_str());

    // Issued to another application: both name alice at the provider's
    // userinfo, and neither signs her in here.
    let before = app.fingerprint_without(COUNTED).await;
    let by_their_access = exchange(theirs_access).await;
    assert_eq!(by_their_access.status, 401, "{}", by_their_access.text);
    assert!(
        by_their_access.text.contains("not issued to this server"),
        "{}",
        by_their_access.text
    );
    let by_their_id = exchange(theirs_id).await;
    assert_eq!(by_their_id.status, 401, "{}", by_their_id.text);
    assert!(
        by_their_id.text.contains("another client"),
        "{}",
        by_their_id.text
    );
    assert_eq!(app.fingerprint_without(COUNTED).await, before);
}

async fn a_provider_without_introspection_exchanges_no_access_token(db: ScratchDb) {
    let (port, callback) = downstream_port();
    let (node, client_at_node, secret) = upstream(&callback).await;
    // Endpoints given one by one: no introspection endpoint among them.
    let endpoint = |path: &str| Some(format!("{}{path}", node.base));
    let provider = ProviderFile {
        authorization_endpoint: endpoint("/authorize"),
        token_endpoint: endpoint("/token"),
        userinfo_endpoint: endpoint("/userinfo"),
        jwks_uri: endpoint("/jwks"),
        ..corp(&node, &client_at_node, &secret)
    };
    let (app, _) = downstream(db, port, provider).await;
    let token = node
        .post_form(
            "/token",
            Some((&client_at_node, &secret)),
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "correct-horse"),
                ("scope", "openid"),
            ],
        )
        .await;
    let before = app.fingerprint_without(COUNTED).await;
    let refused = exchange_at(&app, token.str("access_token")).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(refused.text.contains("introspection"), "{}", refused.text);
    assert_eq!(app.fingerprint_without(COUNTED).await, before);
}

async fn an_id_token_with_another_nonce_or_issuer_is_refused(db: ScratchDb) {
    let (port, callback) = downstream_port();
    let (node, client_at_node, secret) = upstream(&callback).await;
    let (app, client) = downstream(db, port, corp(&node, &client_at_node, &secret)).await;
    let before = app.fingerprint_without(STARTED_AND_COUNTED).await;

    // The nonce changed on the way to the provider: its ID token
    // carries a nonce that is not this sign-in's.
    let (b, authorize) = press_corp(&app, &client, &node.base).await;
    let tampered = with_param(&authorize, "nonce", Some("not-the-nonce"));
    let back = sign_in_upstream(&tampered).await;
    let refused = app.get_with(&b, &path_of(&back)).await;
    assert_eq!(refused.status, 401, "{}", refused.text);
    assert!(refused.text.contains("nonce"), "{}", refused.text);

    // An `iss` naming another issuer (RFC 9207: a mix-up).
    let (b, authorize) = press_corp(&app, &client, &node.base).await;
    let back = sign_in_upstream(&authorize).await;
    let mixed = with_param(&back, "iss", Some("https://evil.example"));
    let refused = app.get_with(&b, &path_of(&mixed)).await;
    assert_eq!(refused.status, 401, "{}", refused.text);
    assert!(refused.text.contains("RFC 9207"), "{}", refused.text);
    assert_eq!(app.fingerprint_without(STARTED_AND_COUNTED).await, before);
}

async fn an_id_token_from_another_issuer_than_configured_is_refused(db: ScratchDb) {
    let (port, callback) = downstream_port();
    let (node, client_at_node, secret) = upstream(&callback).await;
    // Endpoints given one by one, and an issuer that is not the node's.
    let endpoint = |path: &str| Some(format!("{}{path}", node.base));
    let provider = ProviderFile {
        issuer: Some("https://corp.example".into()),
        authorization_endpoint: endpoint("/authorize"),
        token_endpoint: endpoint("/token"),
        jwks_uri: endpoint("/jwks"),
        ..corp(&node, &client_at_node, &secret)
    };
    let (app, client) = downstream(db, port, provider).await;
    let before = app.fingerprint_without(STARTED_AND_COUNTED).await;
    let (b, authorize) = press_corp(&app, &client, &node.base).await;
    let back = sign_in_upstream(&authorize).await;
    // Without the `iss` parameter, the ID token's own `iss` decides.
    let stripped = with_param(&back, "iss", None);
    let refused = app.get_with(&b, &path_of(&stripped)).await;
    assert_eq!(refused.status, 401, "{}", refused.text);
    assert!(refused.text.contains("another issuer"), "{}", refused.text);
    assert_eq!(app.fingerprint_without(STARTED_AND_COUNTED).await, before);
}

scenarios! {
    a_second_portcullis_signs_people_in_as_an_openid_provider,
    only_tokens_the_provider_issued_to_us_are_exchanged,
    a_provider_without_introspection_exchanges_no_access_token,
    an_id_token_with_another_nonce_or_issuer_is_refused,
    an_id_token_from_another_issuer_than_configured_is_refused,
}
