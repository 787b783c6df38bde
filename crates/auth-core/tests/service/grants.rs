//! Unit tests of every grant transition over in-memory fakes and a fixed clock.
use chrono::Duration;

use auth_core::error::{ErrorCode, FlowError};
use auth_core::grants::*;
use auth_core::policy::TokenPolicy;
use auth_core::ports::{TokenRepository as _, UserRepository as _};
use auth_core::types::{Scope, UserId};

use crate::check::{Expect, check, code_of};
use crate::doubles::t0;
use crate::world::World;
use auth_core::policy::RefreshMode;
use auth_core::types::{ClientId, GrantType as G, OpaqueToken};

fn creds(id: &str, secret: Option<&str>) -> ClientCredentials {
    ClientCredentials {
        client_id: ClientId::parse(id).unwrap(),
        secret: secret.map(|s| OpaqueToken::new(s.into())),
    }
}

fn password(user: &str, pw: &str, scope: Option<&str>) -> GrantRequest {
    GrantRequest::Password {
        login: Login::Name(user.into()),
        password: pw.into(),
        scope: scope.map(|s| Scope::parse(s).unwrap()),
        from: "203.0.113.7".into(),
    }
}

fn refresh(token: &OpaqueToken, scope: Option<&str>) -> GrantRequest {
    GrantRequest::RefreshToken {
        refresh_token: token.clone(),
        scope: scope.map(|s| Scope::parse(s).unwrap()),
    }
}

#[tokio::test]
async fn client_authentication_cases() {
    let w = World::new(TokenPolicy::default());
    w.add_client("conf", Some("s3cret"), &[G::ClientCredentials], "read")
        .await;
    w.add_client("pub", None, &[G::AuthorizationCode], "read")
        .await;
    let refused = Expect::Refused(ErrorCode::InvalidClient);
    let cases = [
        (creds("conf", Some("s3cret")), Expect::Ok),
        (creds("conf", Some("wrong")), refused),
        (creds("conf", None), refused),
        (creds("nobody", Some("s3cret")), refused),
        (creds("pub", None), Expect::Ok),
        (creds("pub", Some("anything")), refused),
    ];
    check(cases, async |c| w.grants.authenticate_client(&c).await).await;
}

#[tokio::test]
async fn a_login_by_account_id_is_that_accounts_login() {
    use std::sync::atomic::Ordering::SeqCst;
    let w = World::new(TokenPolicy::default());
    let c = w.add_client("app", Some("s"), &[G::Password], "read").await;
    let alice = w.add_user("alice", None, "correct horse").await;
    let by_id = |id: UserId, pw: &str| GrantRequest::Password {
        login: Login::Account(id),
        password: pw.into(),
        scope: None,
        from: "203.0.113.7".into(),
    };
    let issued = w
        .grants
        .exchange(&c, by_id(alice.id, "correct horse"), t0())
        .await;
    assert!(issued.is_ok(), "{issued:?}");
    // An id of no account reads as a wrong password, after one verification.
    let before = w.hasher.verifications.load(SeqCst);
    let nobody = UserId::new(uuid::Uuid::new_v4());
    let r = w
        .grants
        .exchange(&c, by_id(nobody, "correct horse"), t0())
        .await;
    assert_eq!(code_of(r), ErrorCode::InvalidGrant);
    assert_eq!(w.hasher.verifications.load(SeqCst), before + 1);
    // Failures by name and by id count against the same account: once the
    // name has used up the address's attempts, the id is refused too, even
    // with the right password.
    let limit = auth_core::throttle::Throttles::default().login.max_attempts;
    for _ in 0..limit {
        let r = w
            .grants
            .exchange(&c, password("alice", "wrong", None), t0())
            .await;
        assert_eq!(code_of(r), ErrorCode::InvalidGrant);
    }
    let r = w
        .grants
        .exchange(&c, by_id(alice.id, "correct horse"), t0())
        .await;
    match r {
        Err(FlowError::OAuth(e)) => assert!(e.description().contains("too many"), "{e:?}"),
        other => panic!("expected the throttle, got {other:?}"),
    }
}

#[tokio::test]
async fn grant_type_must_be_registered() {
    let w = World::new(TokenPolicy::default());
    let c = w.add_client("c", Some("s"), &[G::Password], "read").await;
    let r = w
        .grants
        .exchange(&c, GrantRequest::ClientCredentials { scope: None }, t0())
        .await;
    assert_eq!(code_of(r), ErrorCode::UnauthorizedClient);
}

#[tokio::test]
async fn client_credentials_scopes_and_no_refresh_token() {
    let w = World::new(TokenPolicy::default());
    let c = w
        .add_client("c", Some("s"), &[G::ClientCredentials], "read write")
        .await;
    let t = w
        .grants
        .exchange(&c, GrantRequest::ClientCredentials { scope: None }, t0())
        .await
        .unwrap();
    assert_eq!(t.scope.to_string(), "read write");
    assert!(t.refresh_token.is_none());
    assert_eq!(t.expires_in, Duration::hours(1));
    assert_eq!(
        t.access_token.expose(),
        format!("c|c|read write|{}", (t0() + Duration::hours(1)).timestamp())
    );
    let narrow = GrantRequest::ClientCredentials {
        scope: Some(Scope::parse("read").unwrap()),
    };
    assert_eq!(
        w.grants
            .exchange(&c, narrow, t0())
            .await
            .unwrap()
            .scope
            .to_string(),
        "read"
    );
    let wide = GrantRequest::ClientCredentials {
        scope: Some(Scope::parse("admin").unwrap()),
    };
    assert_eq!(
        code_of(w.grants.exchange(&c, wide, t0()).await),
        ErrorCode::InvalidScope
    );
}

#[tokio::test]
async fn client_credentials_refused_for_public_clients() {
    let w = World::new(TokenPolicy::default());
    let c = w
        .add_client("p", None, &[G::ClientCredentials], "read")
        .await;
    let r = w
        .grants
        .exchange(&c, GrantRequest::ClientCredentials { scope: None }, t0())
        .await;
    assert_eq!(code_of(r), ErrorCode::UnauthorizedClient);
}

#[tokio::test]
async fn per_client_access_ttl() {
    let w = World::new(TokenPolicy::default());
    let mut c = w
        .add_client("c", Some("s"), &[G::ClientCredentials], "")
        .await;
    c.access_token_ttl = Some(Duration::seconds(42961));
    let t = w
        .grants
        .exchange(&c, GrantRequest::ClientCredentials { scope: None }, t0())
        .await
        .unwrap();
    assert_eq!(t.expires_in, Duration::seconds(42961));
    assert_eq!(t.expires_at, t0() + Duration::seconds(42961));
}

#[tokio::test]
async fn password_grant_by_username_or_email() {
    let w = World::new(TokenPolicy::default());
    let c = w
        .add_client(
            "app",
            Some("s"),
            &[G::Password, G::RefreshToken],
            "read write",
        )
        .await;
    let u = w
        .add_user("admin", Some("admin@break-out.org"), "password")
        .await;
    for login in ["admin", "ADMIN", "admin@break-out.org"] {
        let t = w
            .grants
            .exchange(&c, password(login, "password", Some("read write")), t0())
            .await
            .unwrap();
        assert_eq!(t.user_id, Some(u.id));
        assert!(t.refresh_token.is_some());
        assert!(t.access_token.expose().starts_with(&u.id.to_string()));
    }
    assert_eq!(w.store.refresh_tokens().len(), 3);
}

#[tokio::test]
async fn password_grant_refusals_look_alike_and_cost_alike() {
    let w = World::new(TokenPolicy::default());
    let c = w
        .add_client("app", Some("s"), &[G::Password, G::RefreshToken], "read")
        .await;
    w.add_user("alice", None, "correct horse").await;
    let bob = w.add_user("bob", None, "battery staple").await;
    w.disable(bob.id).await;
    let cases = [
        ("alice", "wrong"),
        ("mallory", "whatever"),
        ("bob", "battery staple"),
        ("alice", ""),
    ];
    let mut descriptions = Vec::new();
    for (i, (user, pw)) in cases.into_iter().enumerate() {
        match w.grants.exchange(&c, password(user, pw, None), t0()).await {
            Err(FlowError::OAuth(e)) => {
                assert_eq!(e.code(), ErrorCode::InvalidGrant);
                descriptions.push(e.description().to_owned());
            }
            other => panic!("{user}: {other:?}"),
        }
        // Each attempt paid exactly one verification, known user or not.
        assert_eq!(
            w.hasher
                .verifications
                .load(std::sync::atomic::Ordering::SeqCst),
            i + 1
        );
    }
    descriptions.dedup();
    assert_eq!(descriptions.len(), 1, "{descriptions:?}");
    assert!(w.store.refresh_tokens().is_empty());
}

#[tokio::test]
async fn password_grant_scope_and_refresh_permission() {
    let w = World::new(TokenPolicy::default());
    let c = w.add_client("app", Some("s"), &[G::Password], "read").await;
    w.add_user("alice", None, "pw").await;
    let t = w
        .grants
        .exchange(&c, password("alice", "pw", None), t0())
        .await
        .unwrap();
    assert!(t.refresh_token.is_none(), "client may not refresh");
    let r = w
        .grants
        .exchange(&c, password("alice", "pw", Some("read write")), t0())
        .await;
    assert_eq!(code_of(r), ErrorCode::InvalidScope);
}

async fn logged_in(
    w: &World,
    policy_client: Option<RefreshMode>,
) -> (auth_core::types::Client, OpaqueToken) {
    let mut c = w
        .add_client(
            "app",
            Some("s"),
            &[G::Password, G::RefreshToken],
            "read write",
        )
        .await;
    c.refresh_mode = policy_client;
    w.add_user("alice", None, "pw").await;
    let t = w
        .grants
        .exchange(&c, password("alice", "pw", None), t0())
        .await
        .unwrap();
    (c, t.refresh_token.unwrap())
}

#[tokio::test]
async fn refresh_rotates_and_replay_revokes_the_family() {
    let w = World::new(TokenPolicy::default());
    let (c, rt1) = logged_in(&w, None).await;
    let later = t0() + Duration::minutes(5);
    let t2 = w
        .grants
        .exchange(&c, refresh(&rt1, None), later)
        .await
        .unwrap();
    let rt2 = t2.refresh_token.unwrap();
    assert_ne!(rt1, rt2);
    assert_eq!(t2.scope.to_string(), "read write");
    // Replaying the retired token after the retry window is refused and
    // kills its successor too.
    let r = w
        .grants
        .exchange(&c, refresh(&rt1, None), later + Duration::seconds(61))
        .await;
    assert_eq!(code_of(r), ErrorCode::InvalidGrant);
    let r = w
        .grants
        .exchange(&c, refresh(&rt2, None), later + Duration::seconds(62))
        .await;
    assert_eq!(code_of(r), ErrorCode::InvalidGrant);
    assert!(
        w.store
            .refresh_tokens()
            .iter()
            .all(|r| r.revoked_at.is_some())
    );
}

#[tokio::test]
async fn refresh_by_another_client_changes_nothing() {
    let w = World::new(TokenPolicy::default());
    let (_, rt) = logged_in(&w, None).await;
    let other = w
        .add_client("other", Some("s"), &[G::RefreshToken], "read write")
        .await;
    let before = w.store.refresh_tokens();
    let r = w.grants.exchange(&other, refresh(&rt, None), t0()).await;
    assert_eq!(code_of(r), ErrorCode::InvalidGrant);
    assert_eq!(w.store.refresh_tokens(), before);
}

#[tokio::test]
async fn refresh_scope_may_narrow_but_not_widen() {
    let w = World::new(TokenPolicy::default());
    let (c, rt) = logged_in(&w, None).await;
    let before = w.store.refresh_tokens();
    let r = w
        .grants
        .exchange(&c, refresh(&rt, Some("read write admin")), t0())
        .await;
    assert_eq!(code_of(r), ErrorCode::InvalidScope);
    assert_eq!(
        w.store.refresh_tokens(),
        before,
        "a refused refresh rotates nothing"
    );
    let t = w
        .grants
        .exchange(&c, refresh(&rt, Some("read")), t0())
        .await
        .unwrap();
    assert_eq!(t.scope.to_string(), "read");
    // RFC 6749 section 6: the narrower scope was for that access token only;
    // the successor keeps the grant's scope.
    let next = t.refresh_token.unwrap();
    let t = w
        .grants
        .exchange(&c, refresh(&next, None), t0())
        .await
        .unwrap();
    assert_eq!(t.scope.to_string(), "read write");
}

#[tokio::test]
async fn a_family_ends_at_its_absolute_lifetime_however_often_it_rotates() {
    let policy = TokenPolicy {
        refresh_token_ttl: Duration::days(10),
        refresh_family_lifetime: Duration::days(25),
        ..TokenPolicy::default()
    };
    let w = World::new(policy);
    let (c, mut rt) = logged_in(&w, None).await;
    // Rotating every 8 days keeps each token alive, until the family's end.
    for day in [8, 16, 24] {
        let t = w
            .grants
            .exchange(&c, refresh(&rt, None), t0() + Duration::days(day))
            .await
            .unwrap();
        rt = t.refresh_token.unwrap();
    }
    let last = w.store.refresh_tokens().last().cloned().unwrap();
    assert_eq!(last.family_expires_at, t0() + Duration::days(25));
    assert_eq!(
        last.expires_at,
        t0() + Duration::days(25),
        "capped, not day 34"
    );
    let r = w
        .grants
        .exchange(&c, refresh(&rt, None), t0() + Duration::days(25))
        .await;
    assert_eq!(code_of(r), ErrorCode::InvalidGrant);
}

#[tokio::test]
async fn refresh_expired_unknown_and_disabled() {
    let w = World::new(TokenPolicy::default());
    let (c, rt) = logged_in(&w, None).await;
    let refused = Expect::Refused(ErrorCode::InvalidGrant);
    let cases = [
        // (token, when)
        ((rt.clone(), t0() + Duration::days(90)), refused),
        ((OpaqueToken::new("nope".into()), t0()), refused),
    ];
    check(cases, async |(token, at)| {
        w.grants.exchange(&c, refresh(&token, None), at).await
    })
    .await;
    let alice = w
        .store
        .find_by_login(&"alice".into())
        .await
        .unwrap()
        .unwrap();
    w.disable(alice.id).await;
    assert_eq!(
        code_of(w.grants.exchange(&c, refresh(&rt, None), t0()).await),
        ErrorCode::InvalidGrant
    );
    assert!(
        w.store
            .refresh_tokens()
            .iter()
            .all(|r| r.rotated_at.is_none())
    );
}

#[tokio::test]
async fn reuse_mode_keeps_the_refresh_token() {
    let w = World::new(TokenPolicy::default());
    let (c, rt) = logged_in(&w, Some(RefreshMode::Reuse)).await;
    for i in 1..=3 {
        let t = w
            .grants
            .exchange(&c, refresh(&rt, None), t0() + Duration::minutes(i))
            .await
            .unwrap();
        assert_eq!(t.refresh_token.as_ref(), Some(&rt));
    }
    assert_eq!(w.store.refresh_tokens().len(), 1);
}

/// A client whose answer was lost presents the token it holds again: within
/// the retry window it gets a fresh pair, the successor it never saw is
/// superseded (one live token at a time), and whoever presents that
/// superseded token later revokes the family.
#[tokio::test]
async fn a_lost_answer_is_retried_not_a_replay() {
    let w = World::new(TokenPolicy::default());
    let (c, rt1) = logged_in(&w, None).await;
    let lost = w
        .grants
        .exchange(&c, refresh(&rt1, None), t0())
        .await
        .unwrap();
    let retried = w
        .grants
        .exchange(&c, refresh(&rt1, None), t0() + Duration::seconds(5))
        .await
        .unwrap();
    assert_ne!(lost.refresh_token, retried.refresh_token);
    assert_eq!(w.live(), 1, "at most one successor is live");
    // The retried pair goes on rotating.
    let next = w
        .grants
        .exchange(
            &c,
            refresh(retried.refresh_token.as_ref().unwrap(), None),
            t0() + Duration::seconds(6),
        )
        .await
        .unwrap();
    // The lost successor comes back: someone else held it.
    let r = w
        .grants
        .exchange(
            &c,
            refresh(lost.refresh_token.as_ref().unwrap(), None),
            t0() + Duration::seconds(7),
        )
        .await;
    assert_eq!(code_of(r), ErrorCode::InvalidGrant);
    assert_eq!(w.live(), 0, "the family is revoked");
    let r = w
        .grants
        .exchange(
            &c,
            refresh(next.refresh_token.as_ref().unwrap(), None),
            t0() + Duration::seconds(8),
        )
        .await;
    assert_eq!(code_of(r), ErrorCode::InvalidGrant);
}

/// Within the window, a token whose successor was already used is a
/// replay; past the window, any rotated token is.
#[tokio::test]
async fn a_retry_after_the_successor_was_used_or_too_late_is_a_replay() {
    let w = World::new(TokenPolicy::default());
    let (c, rt1) = logged_in(&w, None).await;
    let t2 = w
        .grants
        .exchange(&c, refresh(&rt1, None), t0())
        .await
        .unwrap();
    w.grants
        .exchange(
            &c,
            refresh(t2.refresh_token.as_ref().unwrap(), None),
            t0() + Duration::seconds(1),
        )
        .await
        .unwrap();
    let r = w
        .grants
        .exchange(&c, refresh(&rt1, None), t0() + Duration::seconds(2))
        .await;
    assert_eq!(code_of(r), ErrorCode::InvalidGrant);
    assert_eq!(w.live(), 0);

    let w = World::new(TokenPolicy::default());
    let (c, rt1) = logged_in(&w, None).await;
    w.grants
        .exchange(&c, refresh(&rt1, None), t0())
        .await
        .unwrap();
    let r = w
        .grants
        .exchange(&c, refresh(&rt1, None), t0() + Duration::seconds(61))
        .await;
    assert_eq!(code_of(r), ErrorCode::InvalidGrant);
    assert_eq!(w.live(), 0);
}

mod authorization_code {
    use super::*;
    use auth_core::authorize::{AuthorizationRequest, Consent, Refusal, SignedIn};

    /// A user who signed in at `t0()`.
    fn signed_in(user: auth_core::types::UserId) -> SignedIn {
        SignedIn {
            user,
            authenticated_at: t0(),
            methods: Default::default(),
        }
    }
    use auth_core::types::{AuthMethod, AuthMethods, Dialect, RedirectUri};

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    async fn world(public: bool) -> (World, auth_core::types::Client, auth_core::types::UserId) {
        let w = World::new(TokenPolicy::default());
        let mut c = w
            .add_client(
                "app",
                (!public).then_some("s"),
                &[G::AuthorizationCode, G::RefreshToken],
                "read write",
            )
            .await;
        c.redirect_uris = vec![RedirectUri::parse("myapp://callback").unwrap()];
        w.set_client(&c).await;
        let u = w.add_user("alice", None, "pw").await;
        (w, c, u.id)
    }

    fn request(f: impl FnOnce(&mut AuthorizationRequest)) -> AuthorizationRequest {
        let mut r = AuthorizationRequest {
            client_id: Some("app".into()),
            redirect_uri: Some("myapp://callback".into()),
            response_type: Some("code".into()),
            scope: Some("read".into()),
            state: Some("xyz".into()),
            code_challenge: Some(CHALLENGE.into()),
            code_challenge_method: Some("S256".into()),
            nonce: None,
            prompt: None,
            max_age: None,
            id_token_hint: None,
            acr_values: None,
        };
        f(&mut r);
        r
    }

    fn redeem(code: &OpaqueToken, redirect: Option<&str>, verifier: Option<&str>) -> GrantRequest {
        GrantRequest::AuthorizationCode {
            code: code.clone(),
            redirect_uri: redirect.map(str::to_owned),
            code_verifier: verifier.map(str::to_owned),
        }
    }

    #[tokio::test]
    async fn validation_refusals_and_how_they_are_delivered() {
        let (w, _, _) = world(true).await;
        // (request, Some(error code) for a redirect, None for an error page)
        let cases: Vec<(AuthorizationRequest, Option<ErrorCode>)> = vec![
            (request(|r| r.client_id = None), None),
            (request(|r| r.client_id = Some("ghost".into())), None),
            (
                request(|r| r.redirect_uri = Some("myapp://callback/".into())),
                None,
            ),
            (
                request(|r| r.redirect_uri = Some("https://evil.example/cb".into())),
                None,
            ),
            (
                request(|r| r.response_type = Some("token".into())),
                Some(ErrorCode::UnsupportedResponseType),
            ),
            (
                request(|r| r.response_type = None),
                Some(ErrorCode::InvalidRequest),
            ),
            (
                request(|r| r.scope = Some("admin".into())),
                Some(ErrorCode::InvalidScope),
            ),
            (
                request(|r| {
                    r.code_challenge = None;
                    r.code_challenge_method = None;
                }),
                Some(ErrorCode::InvalidRequest),
            ),
            (
                request(|r| r.code_challenge_method = Some("plain".into())),
                Some(ErrorCode::InvalidRequest),
            ),
            (
                request(|r| r.code_challenge_method = None),
                Some(ErrorCode::InvalidRequest),
            ),
            (
                request(|r| r.code_challenge = Some("short".into())),
                Some(ErrorCode::InvalidRequest),
            ),
        ];
        for (req, expect) in cases {
            match (w.sign_in.validate_authorization(&req).await, expect) {
                (Err(Refusal::Untrusted(_)), None) => {}
                (
                    Err(Refusal::Redirect {
                        error,
                        state,
                        redirect_uri,
                    }),
                    Some(code),
                ) => {
                    assert_eq!(error.code(), code, "{req:?}");
                    assert_eq!(state.as_deref(), Some("xyz"));
                    assert_eq!(redirect_uri.as_str(), "myapp://callback");
                }
                (other, _) => panic!("{req:?}: {other:?}"),
            }
        }
        // The one registered URI may be omitted.
        let ok = w
            .sign_in
            .validate_authorization(&request(|r| r.redirect_uri = None))
            .await
            .unwrap();
        assert_eq!(ok.redirect_uri.as_str(), "myapp://callback");
    }

    /// A third-party client gets a code only after consent; a dialect's
    /// request only from a client registered for the dialect.
    #[tokio::test]
    async fn codes_need_consent_for_third_parties_and_dialects_need_registration() {
        let (w, c, user) = world(true).await;
        let mut c = c.clone();
        c.first_party = false;
        w.set_client(&c).await;
        let valid = w
            .sign_in
            .validate_authorization(&request(|_| {}))
            .await
            .unwrap();
        assert!(!valid.client.first_party);
        let refused = w
            .sign_in
            .issue_code(&valid, signed_in(user), Consent::NotAsked, t0())
            .await;
        assert_eq!(code_of(refused), ErrorCode::AccessDenied);
        assert!(w.store.codes().is_empty(), "no code was stored");
        assert!(
            w.sign_in
                .issue_code(&valid, signed_in(user), Consent::Given, t0())
                .await
                .is_ok()
        );
        match w
            .sign_in
            .validate_authorization_in(Dialect::PkceJson, &request(|_| {}))
            .await
        {
            Err(Refusal::Redirect { error, .. }) => {
                assert_eq!(error.code(), ErrorCode::UnauthorizedClient);
                assert!(error.event().is_some(), "a refusal that is logged");
            }
            other => panic!("{other:?}"),
        }
        let mut c = c.clone();
        c.dialects = vec![Dialect::PkceJson];
        w.set_client(&c).await;
        assert!(
            w.sign_in
                .validate_authorization_in(Dialect::PkceJson, &request(|_| {}))
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn code_redeems_once_with_the_right_verifier() {
        let (w, c, user) = world(true).await;
        let valid = w
            .sign_in
            .validate_authorization(&request(|_| {}))
            .await
            .unwrap();
        let (code, ttl) = w
            .sign_in
            .issue_code(&valid, signed_in(user), Consent::Given, t0())
            .await
            .unwrap();
        assert_eq!(ttl, 300);
        // Refusals that leave the code usable: (redirect, verifier).
        let wrong = "x".repeat(43);
        let refused = Expect::Refused(ErrorCode::InvalidGrant);
        let cases = [
            ((Some("myapp://other"), Some(VERIFIER)), refused),
            ((Some("myapp://callback"), Some(&wrong[..])), refused),
            ((Some("myapp://callback"), None), refused),
        ];
        check(cases, async |(redirect, verifier)| {
            let r = w
                .grants
                .exchange(&c, redeem(&code, redirect, verifier), t0())
                .await;
            assert!(w.store.codes()[0].consumed_at.is_none());
            r
        })
        .await;
        let t = w
            .grants
            .exchange(
                &c,
                redeem(&code, Some("myapp://callback"), Some(VERIFIER)),
                t0(),
            )
            .await
            .unwrap();
        assert_eq!(t.user_id, Some(user));
        assert_eq!(t.scope.to_string(), "read");
        let rt = t.refresh_token.clone().unwrap();
        // Replay: refused, and what the first redemption issued is revoked.
        let r = w
            .grants
            .exchange(
                &c,
                redeem(&code, Some("myapp://callback"), Some(VERIFIER)),
                t0(),
            )
            .await;
        assert_eq!(code_of(r), ErrorCode::InvalidGrant);
        assert!(w.store.is_access_revoked(t.token_id, None).await.unwrap());
        let r = w.grants.exchange(&c, refresh(&rt, None), t0()).await;
        assert_eq!(code_of(r), ErrorCode::InvalidGrant);
    }

    #[tokio::test]
    async fn expired_code_and_other_client() {
        let (w, c, user) = world(true).await;
        let other = w
            .add_client("other", None, &[G::AuthorizationCode], "read")
            .await;
        let valid = w
            .sign_in
            .validate_authorization(&request(|_| {}))
            .await
            .unwrap();
        let (code, _) = w
            .sign_in
            .issue_code(&valid, signed_in(user), Consent::Given, t0())
            .await
            .unwrap();
        let r = w
            .grants
            .exchange(&other, redeem(&code, None, Some(VERIFIER)), t0())
            .await;
        assert_eq!(code_of(r), ErrorCode::InvalidGrant);
        let late = t0() + Duration::seconds(300);
        let r = w
            .grants
            .exchange(&c, redeem(&code, None, Some(VERIFIER)), late)
            .await;
        assert_eq!(code_of(r), ErrorCode::InvalidGrant);
        // Within its lifetime, with the redirect URI omitted (PKCE binds it).
        let t = w
            .grants
            .exchange(
                &c,
                redeem(&code, None, Some(VERIFIER)),
                late - Duration::seconds(1),
            )
            .await;
        assert!(t.is_ok(), "{t:?}");
    }

    #[tokio::test]
    async fn confidential_client_without_pkce_must_repeat_the_redirect_uri() {
        let (w, c, user) = world(false).await;
        let req = request(|r| {
            r.code_challenge = None;
            r.code_challenge_method = None;
        });
        let valid = w.sign_in.validate_authorization(&req).await.unwrap();
        let (code, _) = w
            .sign_in
            .issue_code(&valid, signed_in(user), Consent::Given, t0())
            .await
            .unwrap();
        let r = w.grants.exchange(&c, redeem(&code, None, None), t0()).await;
        assert_eq!(code_of(r), ErrorCode::InvalidRequest);
        let r = w
            .grants
            .exchange(
                &c,
                redeem(&code, Some("myapp://callback"), Some(VERIFIER)),
                t0(),
            )
            .await;
        assert_eq!(code_of(r), ErrorCode::InvalidGrant);
        assert!(
            w.grants
                .exchange(&c, redeem(&code, Some("myapp://callback"), None), t0())
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn sessions_expire_when_idle_or_old_and_end_at_logout() {
        let (w, _, user) = world(true).await;
        let policy = w.grants.policy().clone();
        let id = w.session_for(user, t0()).await.unwrap();
        assert_eq!(
            w.sign_in.resume_session(id.expose(), t0()).await.unwrap(),
            Some(auth_core::authorize::SignedIn {
                user,
                authenticated_at: t0(),
                methods: AuthMethods::of(&[AuthMethod::Password]),
            })
        );
        let stored = w.store.sessions()[0].clone();
        assert_ne!(
            stored.digest.as_bytes().to_vec(),
            id.expose().as_bytes().to_vec()
        );
        // Seen regularly, it lives until its absolute lifetime.
        let mut t = t0();
        while t + policy.session_idle_timeout / 2 < t0() + policy.session_lifetime {
            t += policy.session_idle_timeout / 2;
            assert_eq!(
                w.sign_in
                    .resume_session(id.expose(), t)
                    .await
                    .unwrap()
                    .map(|s| s.user),
                Some(user),
                "{t}"
            );
        }
        assert_eq!(
            w.sign_in
                .resume_session(id.expose(), t0() + policy.session_lifetime)
                .await
                .unwrap(),
            None
        );
        // Idle too long.
        let id = w.session_for(user, t0()).await.unwrap();
        assert_eq!(
            w.sign_in
                .resume_session(id.expose(), t0() + policy.session_idle_timeout)
                .await
                .unwrap(),
            None
        );
        // Logout.
        let id = w.session_for(user, t0()).await.unwrap();
        w.sign_in.end_session(id.expose()).await.unwrap();
        assert_eq!(
            w.sign_in.resume_session(id.expose(), t0()).await.unwrap(),
            None
        );
        assert_eq!(
            w.sign_in.resume_session("forged", t0()).await.unwrap(),
            None
        );
    }
}

mod lifecycle {
    use super::*;

    #[tokio::test]
    async fn reference_tokens_are_stored_by_digest_and_checked_by_lookup() {
        let w = World::new(TokenPolicy::default());
        let mut c = w
            .add_client("app", Some("s"), &[G::ClientCredentials], "read")
            .await;
        c.token_format = auth_core::types::TokenFormat::Reference;
        let t = w
            .grants
            .exchange(&c, GrantRequest::ClientCredentials { scope: None }, t0())
            .await
            .unwrap();
        let stored = w.store.access_tokens()[0].clone();
        assert_ne!(
            stored.digest.as_bytes().to_vec(),
            t.access_token.expose().as_bytes().to_vec()
        );
        let bearer = w
            .grants
            .verify_access(t.access_token.expose(), t0())
            .await
            .unwrap();
        assert_eq!(
            (
                bearer.claims.subject.to_string().as_str(),
                bearer.claims.token_id
            ),
            ("app", t.token_id)
        );
        assert!(
            bearer.user.is_none(),
            "a client's own token acts for no one"
        );
        assert!(
            w.grants
                .verify_access(t.access_token.expose(), t0() + Duration::hours(1))
                .await
                .is_err()
        );
        assert!(w.grants.verify_access("unknown", t0()).await.is_err());
    }

    /// A user's access token acts only while the account exists and is
    /// enabled, and only while its client exists: every bearer check
    /// (userinfo, a dialect's token info, an embedder) refuses it otherwise.
    #[tokio::test]
    async fn a_users_token_needs_its_account_and_its_client() {
        let w = World::new(TokenPolicy::default());
        let mut c = w.add_client("app", Some("s"), &[G::Password], "read").await;
        c.token_format = auth_core::types::TokenFormat::Reference;
        w.set_client(&c).await;
        let alice = w.add_user("alice", None, "pw").await;
        let bob = w.add_user("bob", None, "pw").await;
        let token = |user: &'static str| {
            let (w, c) = (&w, &c);
            async move {
                let t = w
                    .grants
                    .exchange(c, password(user, "pw", None), t0())
                    .await
                    .unwrap();
                t.access_token.expose().to_owned()
            }
        };
        let (for_alice, for_bob) = (token("alice").await, token("bob").await);
        let bearer = w.grants.verify_access(&for_alice, t0()).await.unwrap();
        assert_eq!(bearer.user.map(|u| u.id), Some(alice.id));

        w.disable(alice.id).await;
        assert!(
            w.grants.verify_access(&for_alice, t0()).await.is_err(),
            "disabled"
        );
        assert!(w.store.delete(bob.id).await.unwrap());
        assert!(
            w.grants.verify_access(&for_bob, t0()).await.is_err(),
            "deleted"
        );

        w.add_user("carol", None, "pw").await;
        let for_carol = token("carol").await;
        assert!(w.grants.verify_access(&for_carol, t0()).await.is_ok());
        assert!(
            auth_core::ports::ClientRepository::delete(&w.store, &c.id)
                .await
                .unwrap()
        );
        assert!(
            w.grants.verify_access(&for_carol, t0()).await.is_err(),
            "its client deleted"
        );
    }

    #[tokio::test]
    async fn revocation_is_for_the_owner_only() {
        let w = World::new(TokenPolicy::default());
        let mut c = w
            .add_client("app", Some("s"), &[G::Password, G::RefreshToken], "read")
            .await;
        c.token_format = auth_core::types::TokenFormat::Reference;
        let other = w
            .add_client("other", Some("s"), &[G::Password], "read")
            .await;
        w.add_user("alice", None, "pw").await;
        let t = w
            .grants
            .exchange(&c, password("alice", "pw", None), t0())
            .await
            .unwrap();
        let at = t.access_token.expose();
        let rt = t.refresh_token.clone().unwrap();
        assert_eq!(
            code_of(w.grants.revoke(&other, at, None, t0()).await),
            ErrorCode::UnauthorizedClient
        );
        assert_eq!(
            code_of(w.grants.revoke(&other, rt.expose(), None, t0()).await),
            ErrorCode::UnauthorizedClient
        );
        assert!(
            w.grants
                .introspect(&c, at, None, t0())
                .await
                .unwrap()
                .is_some()
        );
        w.grants
            .revoke(&c, at, Some("access_token"), t0())
            .await
            .unwrap();
        assert!(
            w.grants
                .introspect(&c, at, None, t0())
                .await
                .unwrap()
                .is_none()
        );
        let active = w
            .grants
            .introspect(&c, rt.expose(), Some("refresh_token"), t0())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            active.kind,
            auth_core::grants::introspection::TokenKind::Refresh
        );
        w.grants.revoke(&c, rt.expose(), None, t0()).await.unwrap();
        assert!(
            w.grants
                .introspect(&c, rt.expose(), None, t0())
                .await
                .unwrap()
                .is_none()
        );
        // Unknown tokens are not an error.
        w.grants.revoke(&c, "nothing", None, t0()).await.unwrap();
    }
}

mod device {
    use super::*;
    use auth_core::grants::device_code::{DeviceDecision, DeviceHold};
    use auth_core::types::{AuthMethod, AuthMethods, ClientMfa, UserCode};

    fn poll(code: &OpaqueToken) -> GrantRequest {
        GrantRequest::DeviceCode {
            device_code: code.clone(),
        }
    }

    #[tokio::test]
    async fn every_polling_answer_then_tokens_once() {
        let w = World::new(TokenPolicy::default());
        let c = w
            .add_client("tv", None, &[G::DeviceCode, G::RefreshToken], "read")
            .await;
        let u = w.add_user("alice", None, "pw").await;
        let start = w
            .grants
            .start_device_authorization(&c, None, t0())
            .await
            .unwrap();
        assert_eq!(
            (start.expires_in, start.interval),
            (Duration::minutes(10), Duration::seconds(5))
        );
        let at = |s: i64| t0() + Duration::seconds(s);
        assert_eq!(
            code_of(w.grants.exchange(&c, poll(&start.device_code), at(0)).await),
            ErrorCode::AuthorizationPending
        );
        // Too fast: slow_down, and the interval grows by 5 for good.
        assert_eq!(
            code_of(w.grants.exchange(&c, poll(&start.device_code), at(3)).await),
            ErrorCode::SlowDown
        );
        assert_eq!(
            w.store.device_authorizations()[0].interval,
            Duration::seconds(10)
        );
        assert_eq!(
            code_of(w.grants.exchange(&c, poll(&start.device_code), at(9)).await),
            ErrorCode::SlowDown
        );
        assert_eq!(
            code_of(
                w.grants
                    .exchange(&c, poll(&start.device_code), at(30))
                    .await
            ),
            ErrorCode::AuthorizationPending
        );
        // The user approves the code as typed.
        let typed = UserCode::parse(&start.user_code.display().to_lowercase()).unwrap();
        assert!(matches!(
            w.grants
                .look_up_user_code(u.id, &start.user_code.display().to_lowercase(), at(31))
                .await
                .unwrap(),
            auth_core::grants::device_code::UserCodeLookup::Found(..)
        ));
        let who = auth_core::authorize::SignedIn {
            user: u.id,
            authenticated_at: at(31),
            methods: AuthMethods::of(&[AuthMethod::Password]),
        };
        assert_eq!(
            w.grants
                .decide_device(&typed, Some(&who), at(31))
                .await
                .unwrap(),
            DeviceDecision::Decided
        );
        assert_eq!(
            w.grants.decide_device(&typed, None, at(32)).await.unwrap(),
            DeviceDecision::Gone,
            "decided once"
        );
        let t = w
            .grants
            .exchange(&c, poll(&start.device_code), at(45))
            .await
            .unwrap();
        assert_eq!(t.user_id, Some(u.id));
        assert!(t.refresh_token.is_some());
        assert_eq!(
            code_of(
                w.grants
                    .exchange(&c, poll(&start.device_code), at(60))
                    .await
            ),
            ErrorCode::InvalidGrant
        );
    }

    #[tokio::test]
    async fn a_client_that_requires_two_factors_holds_a_one_factor_approval() {
        let w = World::new(TokenPolicy::default());
        let mut c = w.add_client("tv", None, &[G::DeviceCode], "read").await;
        c.mfa = ClientMfa::Required;
        w.set_client(&c).await;
        let u = w.add_user("alice", None, "pw").await;
        let start = w
            .grants
            .start_device_authorization(&c, None, t0())
            .await
            .unwrap();
        let as_signed_in = |methods: &[AuthMethod]| auth_core::authorize::SignedIn {
            user: u.id,
            authenticated_at: t0(),
            methods: AuthMethods::of(methods),
        };
        let password = as_signed_in(&[AuthMethod::Password]);
        assert_eq!(
            w.grants
                .decide_device(&start.user_code, Some(&password), t0())
                .await
                .unwrap(),
            DeviceDecision::Held(DeviceHold::SecondFactorNeeded { enrolled: false })
        );
        // Nothing was decided: the device still waits, and a session with
        // two factors approves it.
        assert_eq!(
            code_of(w.grants.exchange(&c, poll(&start.device_code), t0()).await),
            ErrorCode::AuthorizationPending
        );
        let both = as_signed_in(&[AuthMethod::Password, AuthMethod::OneTimeCode]);
        assert_eq!(
            w.grants
                .decide_device(&start.user_code, Some(&both), t0())
                .await
                .unwrap(),
            DeviceDecision::Decided
        );
        let t = w
            .grants
            .exchange(&c, poll(&start.device_code), t0() + Duration::seconds(10))
            .await
            .unwrap();
        assert_eq!(t.user_id, Some(u.id));
    }

    #[tokio::test]
    async fn denied_expired_unknown_and_foreign() {
        let w = World::new(TokenPolicy::default());
        let c = w.add_client("tv", None, &[G::DeviceCode], "read").await;
        let other = w.add_client("other", None, &[G::DeviceCode], "read").await;
        let denied = w
            .grants
            .start_device_authorization(&c, None, t0())
            .await
            .unwrap();
        w.grants
            .decide_device(&denied.user_code, None, t0())
            .await
            .unwrap();
        assert_eq!(
            code_of(w.grants.exchange(&c, poll(&denied.device_code), t0()).await),
            ErrorCode::AccessDenied
        );
        let late = w
            .grants
            .start_device_authorization(&c, None, t0())
            .await
            .unwrap();
        let after = t0() + Duration::seconds(600);
        assert_eq!(
            code_of(w.grants.exchange(&c, poll(&late.device_code), after).await),
            ErrorCode::ExpiredToken
        );
        assert!(matches!(
            w.grants
                .look_up_user_code(
                    UserId::new(uuid::Uuid::nil()),
                    &late.user_code.display(),
                    after
                )
                .await
                .unwrap(),
            auth_core::grants::device_code::UserCodeLookup::NotFound
        ));
        assert_eq!(
            code_of(
                w.grants
                    .exchange(&other, poll(&late.device_code), t0())
                    .await
            ),
            ErrorCode::InvalidGrant
        );
        let unknown = OpaqueToken::new("nope".into());
        assert_eq!(
            code_of(w.grants.exchange(&c, poll(&unknown), t0()).await),
            ErrorCode::InvalidGrant
        );
        let no_grant = w
            .add_client("web", None, &[G::AuthorizationCode], "read")
            .await;
        assert!(
            w.grants
                .start_device_authorization(&no_grant, None, t0())
                .await
                .is_err()
        );
    }
}

#[tokio::test]
async fn introspection_tells_a_clients_own_token_from_a_users() {
    let w = World::new(TokenPolicy::default());
    // Generated client ids are UUIDs, like user ids.
    let id = "0b5a1c2e-8a51-4f5e-9a3b-2f6f7d9c1e00";
    let mut c = w
        .add_client(id, Some("s"), &[G::ClientCredentials, G::Password], "read")
        .await;
    c.token_format = auth_core::types::TokenFormat::Reference;
    let alice = w.add_user("alice", None, "pw").await;
    let own = w
        .grants
        .exchange(&c, GrantRequest::ClientCredentials { scope: None }, t0())
        .await
        .unwrap();
    let active = w
        .grants
        .introspect(&c, own.access_token.expose(), None, t0())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (active.subject.to_string().as_str(), active.user_id),
        (id, None)
    );
    let users = w
        .grants
        .exchange(&c, password("alice", "pw", None), t0())
        .await
        .unwrap();
    let active = w
        .grants
        .introspect(&c, users.access_token.expose(), None, t0())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(active.user_id, Some(alice.id));
}
