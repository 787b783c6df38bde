//! OpenID Connect: discovery, the JWKS, and ID tokens from the code flow
//! through the hosted pages, verified with an independent JOSE library
//! (jsonwebtoken) against the published keys, as a relying party would.
use auth_core::ports::Clock as _;
use auth_core::types::KeyAlgorithm;
use base64::Engine as _;
use chrono::Duration;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use portcullis_tests::{
    ClientSetup, Reply, ScratchDb, TestApp, browser, location, param, scenarios,
};
use sha2::Digest as _;

use crate::browser::{VERIFIER, authorize_path, log_in};

const REDIRECT: &str = "myapp://callback";

async fn relying_party(app: &TestApp, algorithm: KeyAlgorithm) -> String {
    let (id, _) = app
        .client(ClientSetup {
            public: true,
            grants: &["authorization_code", "refresh_token"],
            redirect_uris: &[REDIRECT],
            scope: "openid profile email read",
            id_token_algorithm: algorithm,
            ..Default::default()
        })
        .await;
    id
}

async fn redeem(app: &TestApp, client: &str, code: &str) -> Reply {
    app.post_form(
        "/token",
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", client),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

fn with_scope_and_nonce(path: &str, scope: &str, nonce: Option<&str>) -> String {
    let mut path = path.replace("scope=read", &format!("scope={}", scope.replace(' ', "+")));
    if let Some(n) = nonce {
        path.push_str(&format!("&nonce={n}"));
    }
    path
}

/// Verifies `token` with the key its header names from the published set.
async fn verify(app: &TestApp, token: &str, audience: &str) -> serde_json::Value {
    let header = decode_header(token).unwrap();
    let set: JwkSet = app
        .http
        .get(app.url("/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwk = set
        .find(header.kid.as_deref().unwrap())
        .expect("the signing key is published");
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&["http://issuer.test"]);
    // The test clock runs behind the system clock's notion of `exp`.
    validation.validate_exp = false;
    decode::<serde_json::Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .unwrap_or_else(|e| panic!("{e}: {token}"))
        .claims
}

async fn discovery_names_the_same_endpoints_as_rfc_8414_and_the_keys(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let oidc: serde_json::Value = app
        .http
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let oauth: serde_json::Value = app
        .http
        .get(app.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for field in [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "revocation_endpoint",
        "introspection_endpoint",
    ] {
        assert_eq!(oidc[field], oauth[field], "{field}");
    }
    assert_eq!(oidc["issuer"], "http://issuer.test");
    assert_eq!(oidc["jwks_uri"], "http://issuer.test/jwks");
    assert_eq!(
        oidc["subject_types_supported"],
        serde_json::json!(["public"])
    );
    assert_eq!(
        oidc["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256", "EdDSA"])
    );
    assert_eq!(
        oidc["response_types_supported"],
        serde_json::json!(["code"])
    );
    assert_eq!(oidc["authorization_response_iss_parameter_supported"], true);
    let set: JwkSet = app
        .http
        .get(app.url("/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let algs: Vec<_> = set
        .keys
        .iter()
        .map(|k| k.common.key_algorithm.map(|a| a.to_string()))
        .collect();
    assert_eq!(set.keys.len(), 2, "{algs:?}");
    for key in &set.keys {
        assert!(key.common.key_id.is_some());
        assert!(DecodingKey::from_jwk(key).is_ok());
    }
}

async fn the_code_flow_issues_an_id_token_a_relying_party_can_verify(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let client = relying_party(&app, KeyAlgorithm::Rs256).await;
    let user = app
        .user("michael", Some("michael_lee@gmail.com"), "correct-horse")
        .await;
    let b = browser();
    let signed_in_at = app.clock.now();
    let path = with_scope_and_nonce(
        &authorize_path(&client, REDIRECT, "s1"),
        "openid profile email",
        Some("n-0S6_WzA2Mj"),
    );
    let r = log_in(&app, &b, &path).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let t = redeem(&app, &client, &param(&location(&r), "code").unwrap()).await;
    assert_eq!(t.status, 200, "{}", t.text);
    let id_token = t.str("id_token");
    assert_eq!(decode_header(id_token).unwrap().alg, Algorithm::RS256);
    let claims = verify(&app, id_token, &client).await;
    assert_eq!(claims["sub"], user);
    assert_eq!(claims["aud"], client);
    assert_eq!(claims["azp"], client);
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(claims["auth_time"], signed_in_at.timestamp());
    assert_eq!(claims["preferred_username"], "michael");
    assert!(claims["updated_at"].as_i64().is_some(), "{claims}");
    assert_eq!(claims["email"], "michael_lee@gmail.com");
    assert_eq!(claims["email_verified"], false);
    let exp = claims["exp"].as_i64().unwrap();
    assert!(
        exp > app.clock.now().timestamp()
            && exp <= (app.clock.now() + Duration::minutes(5)).timestamp()
    );
    // at_hash: the left half of the SHA-256 of the access token.
    let digest = sha2::Sha256::digest(t.str("access_token").as_bytes());
    let at_hash = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16]);
    assert_eq!(claims["at_hash"], at_hash);
    // The same subject in userinfo.
    let me = app.get_bearer("/userinfo", t.str("access_token")).await;
    assert_eq!(me.body["sub"], claims["sub"]);
    // Userinfo releases what the token's scopes release, as the ID token does.
    assert_eq!(me.body["preferred_username"], "michael");
    assert_eq!(me.body["email"], "michael_lee@gmail.com");
    assert_eq!(me.body["email_verified"], false);
    // An operator vouches for the address: userinfo says so at once, as
    // the next ID token does (both from the same claims).
    auth_core::accounts::set_email_verified(&app.services.roles.accounts, "michael", true)
        .await
        .unwrap()
        .unwrap();
    let me = app.get_bearer("/userinfo", t.str("access_token")).await;
    assert_eq!(me.body["email_verified"], true);
    assert!(
        me.body.get("scope").is_none() && me.body.get("username").is_none(),
        "{}",
        me.text
    );

    // Single sign-on later: auth_time is the original sign-in, and a
    // request without a nonce gets an ID token without one.
    app.clock.advance(Duration::minutes(10));
    let path = with_scope_and_nonce(&authorize_path(&client, REDIRECT, "s2"), "openid", None);
    let r = app.get_with(&b, &path).await;
    assert_eq!(r.status, 302, "{}", r.text);
    let t = redeem(&app, &client, &param(&location(&r), "code").unwrap()).await;
    let claims = verify(&app, t.str("id_token"), &client).await;
    assert_eq!(claims["auth_time"], signed_in_at.timestamp());
    assert!(
        claims.get("nonce").is_none(),
        "no nonce is invented: {claims}"
    );
    assert!(
        claims.get("email").is_none() && claims.get("preferred_username").is_none(),
        "only the scopes granted release claims: {claims}"
    );
    let me = app.get_bearer("/userinfo", t.str("access_token")).await;
    assert_eq!(
        me.body,
        serde_json::json!({"sub": claims["sub"]}),
        "openid alone releases only sub"
    );

    // Without openid there is no ID token.
    let r = app
        .get_with(&b, &authorize_path(&client, REDIRECT, "s3"))
        .await;
    let t = redeem(&app, &client, &param(&location(&r), "code").unwrap()).await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert!(t.body.get("id_token").is_none(), "{}", t.text);
}

async fn a_client_registered_for_eddsa_gets_eddsa_id_tokens_and_tampering_fails(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let client = relying_party(&app, KeyAlgorithm::EdDsa).await;
    app.user("michael", None, "correct-horse").await;
    let b = browser();
    let path = with_scope_and_nonce(
        &authorize_path(&client, REDIRECT, "e1"),
        "openid",
        Some("abc"),
    );
    let r = log_in(&app, &b, &path).await;
    let t = redeem(&app, &client, &param(&location(&r), "code").unwrap()).await;
    let id_token = t.str("id_token").to_owned();
    assert_eq!(decode_header(&id_token).unwrap().alg, Algorithm::EdDSA);
    let claims = verify(&app, &id_token, &client).await;
    assert_eq!(claims["nonce"], "abc");
    // at_hash with EdDSA (Ed25519) is the left half of the SHA-512.
    let digest = sha2::Sha512::digest(t.str("access_token").as_bytes());
    assert_eq!(
        claims["at_hash"],
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..32])
    );
    // Another subject in the payload: the signature no longer holds.
    let mut parts: Vec<String> = id_token.split('.').map(str::to_owned).collect();
    let mut payload: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&parts[1])
            .unwrap(),
    )
    .unwrap();
    payload["sub"] = "someone-else".into();
    parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload.to_string());
    let forged = parts.join(".");
    let set: JwkSet = app
        .http
        .get(app.url("/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwk = set
        .find(decode_header(&forged).unwrap().kid.as_deref().unwrap())
        .unwrap();
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&[&client]);
    validation.validate_exp = false;
    assert!(
        decode::<serde_json::Value>(&forged, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
            .is_err()
    );
}

async fn a_nonce_too_long_is_refused_by_redirect(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let client = relying_party(&app, KeyAlgorithm::Rs256).await;
    let long = "n".repeat(513);
    let path = with_scope_and_nonce(
        &authorize_path(&client, REDIRECT, "l1"),
        "openid",
        Some(&long),
    );
    let r = app.get_with(&browser(), &path).await;
    assert_eq!(r.status, 302, "{}", r.text);
    assert_eq!(
        param(&location(&r), "error").as_deref(),
        Some("invalid_request")
    );
}

/// Sends a browser through the hosted login once (the session it gets is
/// used by the requests after).
async fn signed_in_browser(app: &TestApp, client: &str) -> reqwest::Client {
    let b = browser();
    let r = log_in(app, &b, &authorize_path(client, REDIRECT, "setup")).await;
    assert_eq!(r.status, 303, "{}", r.text);
    b
}

fn with(path: &str, extra: &str) -> String {
    format!("{path}&{extra}")
}

async fn prompt_none_answers_by_redirect_and_never_shows_a_page(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let client = relying_party(&app, KeyAlgorithm::Rs256).await;
    app.user("michael", None, "correct-horse").await;
    let (third, _) = app
        .client(ClientSetup {
            public: true,
            grants: &["authorization_code"],
            redirect_uris: &[REDIRECT],
            scope: "openid",
            first_party: false,
            ..Default::default()
        })
        .await;
    // No session: login_required, with state and iss.
    let r = app
        .get_with(
            &browser(),
            &with(&authorize_path(&client, REDIRECT, "n1"), "prompt=none"),
        )
        .await;
    assert_eq!(r.status, 302, "{}", r.text);
    let to = location(&r);
    assert_eq!(param(&to, "error").as_deref(), Some("login_required"));
    assert_eq!(param(&to, "state").as_deref(), Some("n1"));
    assert_eq!(param(&to, "iss").as_deref(), Some("http://issuer.test"));
    // A session: the code at once.
    let b = signed_in_browser(&app, &client).await;
    let r = app
        .get_with(
            &b,
            &with(&authorize_path(&client, REDIRECT, "n2"), "prompt=none"),
        )
        .await;
    assert_eq!(r.status, 302, "{}", r.text);
    assert!(param(&location(&r), "code").is_some());
    // A client whose users are asked for consent: consent_required.
    let r = app
        .get_with(
            &b,
            &with(
                &authorize_path(&third, REDIRECT, "n3").replace("scope=read", "scope=openid"),
                "prompt=none",
            ),
        )
        .await;
    assert_eq!(
        param(&location(&r), "error").as_deref(),
        Some("consent_required"),
        "{}",
        r.text
    );
    // A sign-in older than max_age: login_required too.
    app.clock.advance(Duration::minutes(2));
    let r = app
        .get_with(
            &b,
            &with(
                &authorize_path(&client, REDIRECT, "n4"),
                "prompt=none&max_age=60",
            ),
        )
        .await;
    assert_eq!(
        param(&location(&r), "error").as_deref(),
        Some("login_required")
    );
    // Malformed values are invalid requests.
    for extra in [
        "prompt=none+login",
        "prompt=sometimes",
        "max_age=-1",
        "max_age=soon",
    ] {
        let r = app
            .get_with(&b, &with(&authorize_path(&client, REDIRECT, "n5"), extra))
            .await;
        assert_eq!(
            param(&location(&r), "error").as_deref(),
            Some("invalid_request"),
            "{extra}"
        );
    }
}

async fn max_age_and_prompt_login_ask_again_and_auth_time_says_when(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let client = relying_party(&app, KeyAlgorithm::Rs256).await;
    app.user("michael", None, "correct-horse").await;
    let b = signed_in_browser(&app, &client).await;
    let first_sign_in = app.clock.now();
    app.clock.advance(Duration::minutes(10));
    // Within max_age the session serves, and auth_time is the sign-in.
    let path = with_scope_and_nonce(
        &with(&authorize_path(&client, REDIRECT, "m1"), "max_age=3600"),
        "openid",
        None,
    );
    let r = app.get_with(&b, &path).await;
    assert_eq!(r.status, 302, "{}", r.text);
    let t = redeem(&app, &client, &param(&location(&r), "code").unwrap()).await;
    assert_eq!(
        verify(&app, t.str("id_token"), &client).await["auth_time"],
        first_sign_in.timestamp()
    );
    // max_age=0 and prompt=login: the login page, whatever the session.
    for extra in ["max_age=0", "prompt=login"] {
        let path = with_scope_and_nonce(
            &with(&authorize_path(&client, REDIRECT, "m2"), extra),
            "openid",
            None,
        );
        let page = app.get_with(&b, &path).await;
        assert_eq!(page.status, 200, "{extra}: {}", page.text);
        assert!(page.text.contains("name=\"password\""), "{extra}");
    }
    // Signing in again: auth_time is now.
    let path = with_scope_and_nonce(
        &with(&authorize_path(&client, REDIRECT, "m3"), "max_age=0"),
        "openid",
        None,
    );
    let r = log_in(&app, &b, &path).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let t = redeem(&app, &client, &param(&location(&r), "code").unwrap()).await;
    assert_eq!(
        verify(&app, t.str("id_token"), &client).await["auth_time"],
        app.clock.now().timestamp()
    );
    // prompt=consent asks even for a first-party client.
    let r = app
        .get_with(
            &b,
            &with(&authorize_path(&client, REDIRECT, "m4"), "prompt=consent"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("name=\"decision\""), "{}", r.text);
}

async fn a_refresh_returns_a_new_id_token_for_the_same_subject(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let client = relying_party(&app, KeyAlgorithm::Rs256).await;
    app.user("michael", None, "correct-horse").await;
    let b = browser();
    let path = with_scope_and_nonce(
        &authorize_path(&client, REDIRECT, "r1"),
        "openid profile",
        Some("first-nonce"),
    );
    let r = log_in(&app, &b, &path).await;
    let t = redeem(&app, &client, &param(&location(&r), "code").unwrap()).await;
    let first = verify(&app, t.str("id_token"), &client).await;
    app.clock.advance(Duration::minutes(1));
    let r = app
        .post_form(
            "/token",
            None,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &client),
                ("refresh_token", t.str("refresh_token")),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let again = verify(&app, r.str("id_token"), &client).await;
    assert_eq!(again["sub"], first["sub"]);
    assert_eq!(again["preferred_username"], "michael");
    assert!(
        again.get("nonce").is_none(),
        "a refreshed ID token has no nonce: {again}"
    );
    assert!(again["iat"].as_i64() > first["iat"].as_i64());
    // Narrowed to a scope without openid: no ID token.
    let r2 = app
        .post_form(
            "/token",
            None,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &client),
                ("refresh_token", r.str("refresh_token")),
                ("scope", "profile"),
            ],
        )
        .await;
    assert_eq!(r2.status, 200, "{}", r2.text);
    assert!(r2.body.get("id_token").is_none(), "{}", r2.text);
}

const BYE: &str = "https://app.example/bye";

/// A relying party registered for logout, a user signed in through it, and
/// the ID token the sign-in gave.
async fn signed_in_with_id_token(app: &TestApp) -> (String, reqwest::Client, String) {
    let (client, _) = app
        .client(ClientSetup {
            public: true,
            grants: &["authorization_code", "refresh_token"],
            redirect_uris: &[REDIRECT],
            post_logout_redirect_uris: &[BYE],
            scope: "openid",
            ..Default::default()
        })
        .await;
    app.user("michael", None, "correct-horse").await;
    let b = browser();
    let path = with_scope_and_nonce(&authorize_path(&client, REDIRECT, "l0"), "openid", None);
    let r = log_in(app, &b, &path).await;
    let t = redeem(app, &client, &param(&location(&r), "code").unwrap()).await;
    (client, b, t.str("id_token").to_owned())
}

/// Whether the browser still has a session: `prompt=none` answers with a
/// code, or with `login_required`.
async fn has_session(app: &TestApp, b: &reqwest::Client, client: &str) -> bool {
    let path = with_scope_and_nonce(
        &with(&authorize_path(client, REDIRECT, "probe"), "prompt=none"),
        "openid",
        None,
    );
    let r = app.get_with(b, &path).await;
    param(&location(&r), "code").is_some()
}

fn logout_path(pairs: &[(&str, &str)]) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("/end_session?{query}")
}

async fn logout_with_the_sessions_id_token_ends_it_and_returns_with_state(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let (client, b, id_token) = signed_in_with_id_token(&app).await;
    assert!(has_session(&app, &b, &client).await);
    let r = app
        .get_with(
            &b,
            &logout_path(&[
                ("id_token_hint", &id_token),
                ("post_logout_redirect_uri", BYE),
                ("state", "af0ifjsldkj"),
            ]),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let to = location(&r);
    assert_eq!(to.as_str(), format!("{BYE}?state=af0ifjsldkj"));
    assert!(
        !has_session(&app, &b, &client).await,
        "the SSO session ended"
    );
    // Discovery names the endpoint.
    let oidc: serde_json::Value = app
        .http
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        oidc["end_session_endpoint"],
        "http://issuer.test/end_session"
    );
}

async fn logout_without_a_hint_is_confirmed_on_a_page_first(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let (client, b, _) = signed_in_with_id_token(&app).await;
    let page = app
        .get_with(
            &b,
            &logout_path(&[
                ("client_id", &client),
                ("post_logout_redirect_uri", BYE),
                ("state", "s9"),
            ]),
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text.contains("action=\"/end_session/confirm\""),
        "{}",
        page.text
    );
    assert!(
        has_session(&app, &b, &client).await,
        "nothing ends before the user confirms"
    );
    // Without the CSRF token the confirmation is refused.
    let fields = portcullis_tests::hidden_fields(&page.text);
    let without: Vec<_> = fields
        .iter()
        .filter(|(k, _)| k != "csrf_token")
        .cloned()
        .collect();
    assert_eq!(
        app.post_with(&b, "/end_session/confirm", &without)
            .await
            .status,
        403
    );
    assert!(has_session(&app, &b, &client).await);
    let r = app.post_with(&b, "/end_session/confirm", &fields).await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(location(&r).as_str(), format!("{BYE}?state=s9"));
    assert!(!has_session(&app, &b, &client).await);
    // With no session and no redirect: a page saying so.
    let r = app.get_with(&b, "/end_session").await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("Signed out"));
}

async fn logout_refusals_show_a_page_and_end_nothing(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let (client, b, id_token) = signed_in_with_id_token(&app).await;
    // An ID token signed by a key this server never had, for the same
    // subject and audience: not a hint from here.
    let payload: serde_json::Value = {
        use base64::Engine as _;
        let part = id_token.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .unwrap(),
        )
        .unwrap()
    };
    let stranger =
        auth_crypto::generate_jws_key(KeyAlgorithm::Rs256, app.clock.now(), app.clock.now())
            .unwrap();
    let foreign = auth_crypto::JwsRing::load(&[stranger]).unwrap();
    let claims = auth_core::types::IdTokenClaims {
        issuer: "https://other.example".into(),
        subject: auth_core::types::UserId::new(payload["sub"].as_str().unwrap().parse().unwrap()),
        audience: auth_core::types::ClientId::parse(&client).unwrap(),
        issued_at: app.clock.now(),
        expires_at: app.clock.now() + Duration::minutes(5),
        auth_time: None,
        amr: vec![],
        acr: None,
        nonce: None,
        access_token_hash: None,
        profile: Default::default(),
        email: None,
        groups: None,
    };
    let forged =
        auth_core::ports::IdTokenSigner::sign_id_token(&foreign, &claims, KeyAlgorithm::Rs256)
            .unwrap();
    let (other_client, _) = app
        .client(ClientSetup {
            public: true,
            grants: &["authorization_code"],
            redirect_uris: &[REDIRECT],
            ..Default::default()
        })
        .await;
    for (why, pairs) in [
        (
            "unregistered redirect",
            vec![
                ("id_token_hint", id_token.as_str()),
                ("post_logout_redirect_uri", "https://evil.example/bye"),
            ],
        ),
        (
            "a redirect of another client",
            vec![
                ("client_id", other_client.as_str()),
                ("post_logout_redirect_uri", BYE),
            ],
        ),
        (
            "a redirect without a client",
            vec![("post_logout_redirect_uri", BYE)],
        ),
        (
            "a hint from elsewhere",
            vec![
                ("id_token_hint", forged.as_str()),
                ("post_logout_redirect_uri", BYE),
            ],
        ),
        (
            "a hint that is no token",
            vec![("id_token_hint", "eyJhbGciOiJub25lIn0.e30.")],
        ),
        (
            "a client_id the hint was not for",
            vec![
                ("id_token_hint", id_token.as_str()),
                ("client_id", other_client.as_str()),
            ],
        ),
    ] {
        let r = app.get_with(&b, &logout_path(&pairs)).await;
        assert_eq!(r.status, 400, "{why}: {}", r.text);
        assert!(r.header("location").is_none(), "{why}");
        assert!(
            has_session(&app, &b, &client).await,
            "{why}: the session is intact"
        );
    }
}

async fn an_id_token_hint_for_someone_else_needs_a_new_login(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let (client, b, id_token) = signed_in_with_id_token(&app).await;
    // The hint names the signed-in user: the session serves.
    let path = with(
        &authorize_path(&client, REDIRECT, "h1").replace("scope=read", "scope=openid"),
        &format!("prompt=none&id_token_hint={id_token}"),
    );
    let r = app.get_with(&b, &path).await;
    assert!(param(&location(&r), "code").is_some(), "{}", r.text);
    // Another user signs in on another browser; their hint with the
    // first browser's session is not this user: login_required.
    app.user("dana", None, "correct-horse-2").await;
    let other = browser();
    let page = app
        .get_with(
            &other,
            &authorize_path(&client, REDIRECT, "h2").replace("scope=read", "scope=openid"),
        )
        .await;
    let form = crate::browser::with(
        portcullis_tests::hidden_fields(&page.text),
        &[("username", "dana"), ("password", "correct-horse-2")],
    );
    let r = app.post_with(&other, "/login", &form).await;
    let t = redeem(&app, &client, &param(&location(&r), "code").unwrap()).await;
    let danas = t.str("id_token");
    let path = with(
        &authorize_path(&client, REDIRECT, "h3").replace("scope=read", "scope=openid"),
        &format!("prompt=none&id_token_hint={danas}"),
    );
    let r = app.get_with(&b, &path).await;
    assert_eq!(
        param(&location(&r), "error").as_deref(),
        Some("login_required"),
        "{}",
        r.text
    );
    // A hint that is not one of ours: invalid_request.
    let path = with(
        &authorize_path(&client, REDIRECT, "h4").replace("scope=read", "scope=openid"),
        "id_token_hint=eyJhbGciOiJub25lIn0.e30.",
    );
    let r = app.get_with(&b, &path).await;
    assert_eq!(
        param(&location(&r), "error").as_deref(),
        Some("invalid_request")
    );
    // Dana signs in afresh on a browser with no session, answering a
    // request whose hint names the first user: no code, login_required
    // (OpenID Connect Core 3.1.2.1).
    let fresh = browser();
    let path = with(
        &authorize_path(&client, REDIRECT, "h5").replace("scope=read", "scope=openid"),
        &format!("id_token_hint={id_token}"),
    );
    let page = app.get_with(&fresh, &path).await;
    assert_eq!(page.status, 200, "the login page");
    let form = crate::browser::with(
        portcullis_tests::hidden_fields(&page.text),
        &[("username", "dana"), ("password", "correct-horse-2")],
    );
    let r = app.post_with(&fresh, "/login", &form).await;
    let back = location(&r);
    assert!(param(&back, "code").is_none(), "{back}");
    assert_eq!(
        param(&back, "error").as_deref(),
        Some("login_required"),
        "{back}"
    );
    assert_eq!(param(&back, "state").as_deref(), Some("h5"));
}

async fn a_jwt_access_token_is_no_id_token_hint(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let (client, b, _) = signed_in_with_id_token(&app).await;
    let (jwt_client, secret) = app
        .client(ClientSetup {
            jwt_tokens: true,
            ..Default::default()
        })
        .await;
    app.user("erin", None, "correct-horse-3").await;
    let t = app
        .post_form(
            "/token",
            Some((&jwt_client, &secret.unwrap())),
            &[
                ("grant_type", "password"),
                ("username", "erin"),
                ("password", "correct-horse-3"),
            ],
        )
        .await;
    let access = t.str("access_token").to_owned();
    assert_eq!(access.split('.').count(), 3, "a JWT");
    // At logout: refused, the session intact (no silent sign-out).
    let r = app
        .get_with(&b, &logout_path(&[("id_token_hint", &access)]))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(has_session(&app, &b, &client).await);
    // At authorization: refused as not an ID token of ours.
    let path = with(
        &authorize_path(&client, REDIRECT, "j1").replace("scope=read", "scope=openid"),
        &format!("id_token_hint={access}"),
    );
    let r = app.get_with(&b, &path).await;
    assert_eq!(
        param(&location(&r), "error").as_deref(),
        Some("invalid_request"),
        "{}",
        r.text
    );
}

async fn jwt_access_tokens_verify_anywhere_and_revoke_like_paseto(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let (id, secret) = app
        .client(ClientSetup {
            jwt_tokens: true,
            ..Default::default()
        })
        .await;
    let secret = secret.unwrap();
    let basic = Some((id.as_str(), secret.as_str()));
    let user = app.user("michael", None, "correct-horse").await;
    let t = app
        .post_form(
            "/token",
            basic,
            &[
                ("grant_type", "password"),
                ("username", "michael"),
                ("password", "correct-horse"),
            ],
        )
        .await;
    assert_eq!(t.status, 200, "{}", t.text);
    let at = t.str("access_token").to_owned();
    // RFC 9068: a JWT of type at+jwt, verified by a JWT library against the JWKS.
    let header = decode_header(&at).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.alg, Algorithm::RS256);
    let claims = verify(&app, &at, &id).await;
    assert_eq!(claims["sub"], user);
    assert_eq!(claims["client_id"], id);
    assert_eq!(claims["scope"], "read write");
    assert!(claims["jti"].as_str().is_some());
    // This server accepts it as it does PASETO tokens.
    assert_eq!(app.get_bearer("/userinfo", &at).await.status, 200);
    let i = app.post_form("/introspect", basic, &[("token", &at)]).await;
    assert_eq!(i.body["active"], true, "{}", i.text);
    assert_eq!(i.body["sub"], user);
    // Another signature: refused.
    let mut forged: Vec<&str> = at.split('.').collect();
    let other = t.str("refresh_token");
    forged[2] = other;
    assert_eq!(
        app.get_bearer("/userinfo", &forged.join(".")).await.status,
        401
    );
    // Revoking the refresh token revokes its grant's JWTs too (RFC 7009 section 2.1).
    let r = app
        .post_form("/revoke", basic, &[("token", t.str("refresh_token"))])
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(app.get_bearer("/userinfo", &at).await.status, 401);
    let i = app.post_form("/introspect", basic, &[("token", &at)]).await;
    assert_eq!(i.body, serde_json::json!({"active": false}));
    // A client_credentials JWT, revoked by itself.
    let c = app
        .post_form("/token", basic, &[("grant_type", "client_credentials")])
        .await;
    let cc = c.str("access_token").to_owned();
    assert_eq!(
        app.post_form("/introspect", basic, &[("token", &cc)])
            .await
            .body["active"],
        true
    );
    app.post_form("/revoke", basic, &[("token", &cc)]).await;
    assert_eq!(
        app.post_form("/introspect", basic, &[("token", &cc)])
            .await
            .body["active"],
        false
    );
    // Expired by the server's clock.
    let c = app
        .post_form("/token", basic, &[("grant_type", "client_credentials")])
        .await;
    app.clock.advance(Duration::hours(2));
    assert_eq!(
        app.post_form("/introspect", basic, &[("token", c.str("access_token"))])
            .await
            .body["active"],
        false
    );
}

scenarios! {
    discovery_names_the_same_endpoints_as_rfc_8414_and_the_keys,
    the_code_flow_issues_an_id_token_a_relying_party_can_verify,
    a_client_registered_for_eddsa_gets_eddsa_id_tokens_and_tampering_fails,
    a_nonce_too_long_is_refused_by_redirect,
    prompt_none_answers_by_redirect_and_never_shows_a_page,
    max_age_and_prompt_login_ask_again_and_auth_time_says_when,
    a_refresh_returns_a_new_id_token_for_the_same_subject,
    logout_with_the_sessions_id_token_ends_it_and_returns_with_state,
    logout_without_a_hint_is_confirmed_on_a_page_first,
    logout_refusals_show_a_page_and_end_nothing,
    an_id_token_hint_for_someone_else_needs_a_new_login,
    a_jwt_access_token_is_no_id_token_hint,
    jwt_access_tokens_verify_anywhere_and_revoke_like_paseto,
}
