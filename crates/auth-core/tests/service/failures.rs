//! A port failing or losing a race at a given call, scripted with mockall:
//! the grant answers an error and makes no other call (a mock with no
//! expectation for a method fails the test if it is called).
use auth_core::error::{ErrorCode, FlowError, StoreError};
use auth_core::grants::GrantRequest;
use auth_core::policy::TokenPolicy;
use auth_core::ports::{
    MockAuthorizationCodeRepository, MockTokenRepository, RotateOutcome, SecretDigest as _,
    Superseded,
};
use auth_core::types::*;
use chrono::Duration;
use mockall::predicate::eq;
use uuid::Uuid;

use crate::doubles::{Digests, t0};
use crate::world::World;

fn outage() -> StoreError {
    StoreError::unavailable(std::io::Error::other("connection refused"))
}

fn refresh_record(client: &Client, presented: &OpaqueToken) -> RefreshTokenRecord {
    RefreshTokenRecord {
        digest: Digests.digest(presented.expose()),
        family: FamilyId::new(Uuid::from_u128(7)),
        client_id: client.id.clone(),
        user_id: None,
        scope: Scope::parse("read").unwrap(),
        issued_at: t0(),
        expires_at: t0() + Duration::days(1),
        family_expires_at: t0() + Duration::days(30),
        rotated_at: None,
        revoked_at: None,
        parent: None,
        superseded_at: None,
        issued_with: None,
    }
}

fn refresh(token: &OpaqueToken) -> GrantRequest {
    GrantRequest::RefreshToken {
        refresh_token: token.clone(),
        scope: None,
    }
}

/// The store fails the rotation's write after the presented token was
/// read: the client is told of a server fault; nothing is revoked and no
/// second write is tried.
#[tokio::test]
async fn a_failed_rotation_write_is_a_store_error_and_nothing_else() {
    let presented = OpaqueToken::new("rt-held".into());
    let mut tokens = MockTokenRepository::new();
    let w = World::new(TokenPolicy::default());
    let c = w
        .add_client("app", Some("s"), &[GrantType::RefreshToken], "read")
        .await;
    let record = refresh_record(&c, &presented);
    tokens
        .expect_find_refresh_with_owner()
        .with(eq(record.digest))
        .times(1)
        .returning(move |_| {
            Ok(Some((
                record.clone(),
                auth_core::ports::RefreshOwner::Client,
            )))
        });
    tokens
        .expect_rotate_refresh()
        .times(1)
        .returning(|_, _, _, _| Err(outage()));
    let w = w.replacing_tokens(tokens);
    let r = w.grants.exchange(&c, refresh(&presented), t0()).await;
    assert!(
        matches!(r, Err(FlowError::Store(StoreError::Unavailable(_)))),
        "{r:?}"
    );
}

/// Another request rotated the token between this one's read and write,
/// and its successor was used: the loser reads the token again, finds it
/// rotated, tries to supersede the successor (refused: it was presented)
/// and revokes the family exactly once.
#[tokio::test]
async fn a_lost_rotation_race_whose_successor_was_used_revokes_the_family_once() {
    let presented = OpaqueToken::new("rt-held".into());
    let w = World::new(TokenPolicy::default());
    let c = w
        .add_client("app", Some("s"), &[GrantType::RefreshToken], "read")
        .await;
    let record = refresh_record(&c, &presented);
    let family = record.family;
    let rotated = RefreshTokenRecord {
        rotated_at: Some(t0()),
        ..record.clone()
    };
    let mut tokens = MockTokenRepository::new();
    tokens
        .expect_find_refresh_with_owner()
        .times(1)
        .returning(move |_| {
            Ok(Some((
                record.clone(),
                auth_core::ports::RefreshOwner::Client,
            )))
        });
    tokens
        .expect_rotate_refresh()
        .times(1)
        .returning(|_, _, _, _| Ok(RotateOutcome::NotActive));
    tokens
        .expect_find_refresh()
        .times(1)
        .returning(move |_| Ok(Some(rotated.clone())));
    tokens
        .expect_supersede_refresh()
        .returning(|_, _, _, _| Ok(Superseded::NotActive));
    tokens
        .expect_revoke_family()
        .with(eq(family), eq(t0()), mockall::predicate::always())
        .times(1)
        .returning(|_, _, _| Ok(1));
    let w = w.replacing_tokens(tokens);
    match w.grants.exchange(&c, refresh(&presented), t0()).await {
        Err(FlowError::OAuth(e)) => assert_eq!(e.code(), ErrorCode::InvalidGrant),
        other => panic!("expected invalid_grant, got {other:?}"),
    }
}

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

async fn code_world(consume: StoreOutcome) -> (World, Client, OpaqueToken) {
    let w = World::new(TokenPolicy::default());
    let mut c = w
        .add_client("app", None, &[GrantType::AuthorizationCode], "read")
        .await;
    c.redirect_uris = vec![RedirectUri::parse("myapp://callback").unwrap()];
    w.set_client(&c).await;
    let user = w.add_user("alice", None, "pw").await;
    let presented = OpaqueToken::new("code-1".into());
    let code = AuthorizationCode {
        digest: Digests.digest(presented.expose()),
        client_id: c.id.clone(),
        user_id: user.id,
        redirect_uri: RedirectUri::parse("myapp://callback").unwrap(),
        scope: Scope::parse("read").unwrap(),
        challenge: Some(CodeChallenge::parse(CHALLENGE, ChallengeMethod::S256).unwrap()),
        issued_at: t0(),
        expires_at: t0() + Duration::minutes(1),
        consumed_at: None,
        issued: None,
        nonce: None,
        auth_time: Some(t0()),
        methods: Default::default(),
    };
    let mut codes = MockAuthorizationCodeRepository::new();
    codes
        .expect_find_code()
        .times(1)
        .returning(move |_| Ok(Some(code.clone())));
    codes
        .expect_consume_code()
        .times(1)
        .returning(move |_, _, _, _, _| match consume {
            StoreOutcome::Fails => Err(outage()),
            StoreOutcome::LosesRace => Ok(false),
        });
    (w.replacing_codes(codes), c, presented)
}

#[derive(Clone, Copy)]
enum StoreOutcome {
    Fails,
    LosesRace,
}

fn redeem(code: &OpaqueToken) -> GrantRequest {
    GrantRequest::AuthorizationCode {
        code: code.clone(),
        redirect_uri: Some("myapp://callback".into()),
        code_verifier: Some(VERIFIER.into()),
    }
}

/// The store refuses the code's consumption: a server fault, and since
/// the tokens are stored only by the consumption, none exists.
#[tokio::test]
async fn a_refused_code_consumption_issues_nothing() {
    let (w, c, code) = code_world(StoreOutcome::Fails).await;
    let r = w.grants.exchange(&c, redeem(&code), t0()).await;
    assert!(matches!(r, Err(FlowError::Store(_))), "{r:?}");
    assert!(w.store.refresh_tokens().is_empty());
    assert!(w.store.access_tokens().is_empty());
}

/// Another request consumed the code between this one's read and write:
/// `invalid_grant`, nothing issued.
#[tokio::test]
async fn a_code_consumed_meanwhile_is_invalid_and_issues_nothing() {
    let (w, c, code) = code_world(StoreOutcome::LosesRace).await;
    match w.grants.exchange(&c, redeem(&code), t0()).await {
        Err(FlowError::OAuth(e)) => assert_eq!(e.code(), ErrorCode::InvalidGrant),
        other => panic!("expected invalid_grant, got {other:?}"),
    }
    assert!(w.store.refresh_tokens().is_empty());
}
