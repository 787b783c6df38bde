//! A third-party relying-party library, the `openidconnect` crate, signs a
//! user in: it discovers the server, sends the authorization request with
//! PKCE and a nonce (the user logs in on the hosted page), redeems the code,
//! and validates the ID token against the published JWKS with its own
//! checks (signature, issuer, audience, expiry, nonce, at_hash), then asks
//! userinfo. Nothing of Portcullis's own code is on the relying party's side.
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, CsrfToken, IssuerUrl, JsonWebKey as _, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use portcullis_tests::{
    ClientSetup, ScratchDb, TestApp, browser, hidden_fields, location, param, scenarios,
};

const ISSUER: &str = "http://issuer.test";
const REDIRECT: &str = "https://rp.example/callback";

/// The relying party's HTTP client: every request to the issuer's host goes
/// to the test server instead (the issuer identifier is `http://issuer.test`).
fn http_client(
    base: String,
) -> impl Fn(
    openidconnect::HttpRequest,
) -> std::pin::Pin<
    Box<
        dyn std::future::Future<Output = Result<openidconnect::HttpResponse, reqwest::Error>>
            + Send,
    >,
> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    move |request: openidconnect::HttpRequest| {
        let client = client.clone();
        let url = request.uri().to_string().replacen(ISSUER, &base, 1);
        Box::pin(async move {
            let mut builder = client.request(request.method().clone(), url);
            for (name, value) in request.headers() {
                builder = builder.header(name, value);
            }
            let response = builder.body(request.body().clone()).send().await?;
            let mut out = http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                out = out.header(name, value);
            }
            let body = response.bytes().await?.to_vec();
            Ok(out.body(body).expect("a response"))
        })
    }
}

async fn the_openidconnect_crate_signs_a_user_in(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let (client_id, _) = app
        .client(ClientSetup {
            public: true,
            grants: &["authorization_code", "refresh_token"],
            redirect_uris: &[REDIRECT],
            scope: "openid profile email",
            ..Default::default()
        })
        .await;
    let user = app
        .user("michael", Some("michael_lee@gmail.com"), "correct-horse")
        .await;
    let http = http_client(app.base.clone());

    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(ISSUER.into()).unwrap(), &http)
            .await
            .expect("discovery");
    let rp = CoreClient::from_provider_metadata(metadata, ClientId::new(client_id.clone()), None)
        .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();

    // The user's browser follows the URL and signs in on the hosted page.
    let b = browser();
    let path = url.as_str().trim_start_matches(ISSUER).to_owned();
    let page = app.get_with(&b, &path).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let mut form = hidden_fields(&page.text);
    form.extend([
        ("username".into(), "michael".into()),
        ("password".into(), "correct-horse".into()),
    ]);
    let back = app.post_with(&b, "/login", &form).await;
    assert_eq!(back.status, 303, "{}", back.text);
    let to = location(&back);
    assert!(to.as_str().starts_with(REDIRECT), "{to}");
    assert_eq!(param(&to, "state").as_deref(), Some(csrf.secret().as_str()));
    assert_eq!(param(&to, "iss").as_deref(), Some(ISSUER));

    let tokens = rp
        .exchange_code(AuthorizationCode::new(param(&to, "code").unwrap()))
        .expect("a token endpoint")
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("the code is redeemed");
    let id_token = tokens.id_token().expect("an ID token");
    let id_verifier = rp.id_token_verifier();
    let claims = id_token
        .claims(&id_verifier, &nonce)
        .expect("the ID token is valid for this relying party");
    assert_eq!(claims.subject().as_str(), user);
    assert_eq!(
        claims.preferred_username().map(|u| u.as_str()),
        Some("michael")
    );
    assert_eq!(
        claims.email().map(|e| e.as_str()),
        Some("michael_lee@gmail.com")
    );
    assert!(claims.auth_time().is_some());
    let expected = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&id_verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected));
    // Another nonce: the library refuses the token.
    assert!(
        id_token
            .claims(&id_verifier, &Nonce::new("another".into()))
            .is_err()
    );

    let info: CoreUserInfoClaims = rp
        .user_info(tokens.access_token().clone(), None)
        .expect("a userinfo endpoint")
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.subject().as_str(), user);

    // A refresh: a new ID token the library accepts, same subject.
    let refreshed = rp
        .exchange_refresh_token(tokens.refresh_token().expect("a refresh token"))
        .expect("a token endpoint")
        .request_async(&http)
        .await
        .expect("the refresh");
    let again = refreshed.id_token().expect("a new ID token");
    let again = again
        .claims(&id_verifier, |_: Option<&Nonce>| Ok(()))
        .expect("valid");
    assert_eq!(again.subject().as_str(), user);

    // A key rotation, published ahead of signing: a relying party that
    // fetched the keys while the new one was pending verifies the
    // tokens it signs later.
    let rotated = app
        .services
        .rotate_key(
            auth_core::types::KeyAlgorithm::Rs256,
            auth_core::ports::Clock::now(&app.clock),
            chrono::Duration::minutes(5),
        )
        .await
        .unwrap();
    app.services.reload_keys().await.unwrap();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(ISSUER.into()).unwrap(), &http)
            .await
            .unwrap();
    let fresh =
        CoreClient::from_provider_metadata(metadata, ClientId::new(client_id.clone()), None)
            .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    app.clock.advance(chrono::Duration::minutes(5));
    let refreshed = fresh
        .exchange_refresh_token(refreshed.refresh_token().unwrap())
        .unwrap()
        .request_async(&http)
        .await
        .expect("a refresh after the rotation");
    let token = refreshed.id_token().unwrap();
    assert_eq!(
        token
            .signing_key(&fresh.id_token_verifier())
            .unwrap()
            .key_id()
            .map(|k| k.as_str()),
        Some(rotated.key_id.as_str())
    );
    // The clock moved ahead of the library's, so only the signature,
    // issuer, audience and subject are compared here.
    let verifier = fresh
        .id_token_verifier()
        .set_time_fn(|| auth_core::ports::Clock::now(&app.clock));
    let claims = token
        .claims(&verifier, |_: Option<&Nonce>| Ok(()))
        .expect("signed by the rotated key, known in advance");
    assert_eq!(claims.subject().as_str(), user);
}

scenarios! {
    the_openidconnect_crate_signs_a_user_in,
}
