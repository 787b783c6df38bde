//! Groups over HTTP, on both backends: a client that admits only members
//! of a group shows anyone else a page that says so (and `access_denied`
//! for `prompt=none`), refuses them the password grant and a device
//! approval, and lets them in once they join.
use portcullis_tests::{
    ClientSetup, ScratchDb, TestApp, browser, hidden_fields, location, param, scenarios,
};

use auth_core::ports::Clock as _;

use crate::browser::{VERIFIER, with};

const REDIRECT: &str = "https://rp.example/callback";
const CHALLENGE: &str = "qjrzSW9gMiUgpUvqgEPE4_-8swvyCtfOVvg55o5S_es";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Lets only members of `group` into `client`.
async fn admit_only(app: &TestApp, client: &str, group: &str) {
    use auth_core::accounts::{ClientSpec, update_client};
    let accounts = &app.services.roles.accounts;
    let id = auth_core::types::ClientId::parse(client).unwrap();
    let current = app
        .services
        .roles
        .grants
        .client(&id)
        .await
        .unwrap()
        .unwrap();
    let spec = ClientSpec {
        allowed_groups: accounts.group_ids(&[group.to_owned()]).await.unwrap(),
        ..ClientSpec::of(&current)
    };
    update_client(accounts, &id, spec).await.unwrap().unwrap();
}

fn authorize_path(client: &str, extra: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.extend_pairs([
        ("client_id", client),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("code_challenge_method", "S256"),
        ("code_challenge", CHALLENGE),
        ("scope", "openid groups"),
        ("state", "s1"),
    ]);
    q.extend_pairs(extra);
    format!("/authorize?{}", q.finish())
}

async fn a_client_with_allowed_groups_admits_their_members_only(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let accounts = &app.services.roles.accounts;
    let now = app.clock.now();
    accounts.create_group("staff", "", now).await.unwrap();
    let (web, _) = app
        .client(ClientSetup {
            public: true,
            grants: &["authorization_code"],
            scope: "openid groups",
            redirect_uris: &[REDIRECT],
            first_party: true,
            ..Default::default()
        })
        .await;
    let (legacy, secret) = app
        .client(ClientSetup {
            grants: &["password"],
            ..Default::default()
        })
        .await;
    let (device, _) = app
        .client(ClientSetup {
            public: true,
            grants: &[DEVICE_GRANT],
            scope: "read",
            ..Default::default()
        })
        .await;
    for client in [&web, &legacy, &device] {
        admit_only(&app, client, "staff").await;
    }
    app.user("michael", None, "correct-horse").await;

    // Signed in, but in no allowed group: a page says so, no code.
    let b = browser();
    let login = app.get_with(&b, &authorize_path(&web, &[])).await;
    assert_eq!(login.status, 200, "{}", login.text);
    let form = with(
        hidden_fields(&login.text),
        &[("username", "michael"), ("password", "correct-horse")],
    );
    let r = app.post_with(&b, "/login", &form).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.text.contains("Not for your account"), "{}", r.text);
    // prompt=none: access_denied to the client.
    let r = app
        .get_with(&b, &authorize_path(&web, &[("prompt", "none")]))
        .await;
    assert_eq!(r.status, 302, "{}", r.text);
    assert_eq!(
        param(&location(&r), "error").as_deref(),
        Some("access_denied")
    );
    // The password grant: invalid_grant.
    let grant = || {
        app.post_form(
            "/token",
            Some((&legacy, secret.as_deref().unwrap())),
            &[
                ("grant_type", "password"),
                ("username", "michael"),
                ("password", "correct-horse"),
            ],
        )
    };
    let r = grant().await;
    assert_eq!((r.status, r.error()), (400, "invalid_grant"), "{}", r.text);
    // A device approval: held, with a page that says so.
    let started = app
        .post_form("/device_authorization", None, &[("client_id", &device)])
        .await;
    let user_code = started.str("user_code").to_owned();
    let page = app
        .get_with(&b, &format!("/device?user_code={user_code}"))
        .await;
    let allow = with(
        portcullis_tests::csrf_field(&page.text)
            .into_iter()
            .take(1)
            .collect(),
        &[("user_code", &user_code), ("decision", "allow")],
    );
    let r = app.post_with(&b, "/device", &allow).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.text.contains("Not for your account"), "{}", r.text);

    // A member gets in everywhere, and the groups scope names the groups
    // (sorted) in the ID token and at userinfo.
    accounts.create_group("admins", "", now).await.unwrap();
    for group in ["staff", "admins"] {
        accounts
            .add_to_group(group, "michael", app.clock.now())
            .await
            .unwrap();
    }
    let r = app.get_with(&b, &authorize_path(&web, &[])).await;
    assert_eq!(r.status, 302, "{}", r.text);
    let code = param(&location(&r), "code").expect("a code");
    let t = app
        .post_form(
            "/token",
            None,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &web),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(t.status, 200, "{}", t.text);
    let payload = t.str("id_token").split('.').nth(1).unwrap().to_owned();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["groups"], serde_json::json!(["admins", "staff"]));
    let info = app.get_bearer("/userinfo", t.str("access_token")).await;
    assert_eq!(info.body["groups"], serde_json::json!(["admins", "staff"]));
    // The PASETO access token carries them (its payload is readable: the
    // message, then a 64-byte signature) ...
    let body = t.str("access_token").trim_start_matches("v4.public.");
    let body = body.split('.').next().unwrap();
    let signed =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, body).unwrap();
    let message: serde_json::Value = serde_json::from_slice(&signed[..signed.len() - 64]).unwrap();
    assert_eq!(message["groups"], serde_json::json!(["admins", "staff"]));
    // ... and introspection answers the groups as they are now.
    let (api, api_secret) = app
        .client(ClientSetup {
            audiences: &[web.as_str()],
            ..Default::default()
        })
        .await;
    accounts
        .remove_from_group("admins", "michael", app.clock.now())
        .await
        .unwrap();
    let facts = app
        .post_form(
            "/introspect",
            Some((&api, api_secret.as_deref().unwrap())),
            &[("token", t.str("access_token"))],
        )
        .await;
    assert_eq!(facts.body["active"], true, "{}", facts.text);
    assert_eq!(facts.body["groups"], serde_json::json!(["staff"]));
    assert_eq!(grant().await.status, 200);
    let r = app.post_with(&b, "/device", &allow).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("Device connected"), "{}", r.text);
}

scenarios! {
    a_client_with_allowed_groups_admits_their_members_only,
}
