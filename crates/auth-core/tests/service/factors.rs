//! Second factors in the core: an authenticator's code is accepted once,
//! recovery codes once each, wrong answers count against the account, a
//! sign-in waiting for its second step is sealed and expires, a code is
//! issued only at the level the request needs, and the password grant
//! refuses an account with a second factor.
use auth_core::authorize::{AuthorizationRequest, Consent, Refusal, SignedIn};
use auth_core::factors::{FactorAnswer, FactorError, FactorStep};
use auth_core::grants::GrantRequest;
use auth_core::policy::TokenPolicy;
use auth_core::types::*;
use chrono::Duration;

use crate::doubles::{StepCodes, t0};
use crate::world::World;

fn signed_in(user: UserId, methods: &[AuthMethod]) -> SignedIn {
    SignedIn {
        user,
        authenticated_at: t0(),
        methods: AuthMethods::of(methods),
    }
}

/// Alice with an authenticator enrolled at `t0()`: her recovery codes.
async fn enrolled(w: &World) -> (User, Vec<String>) {
    let alice = w.add_user("alice", None, "pw").await;
    let me = signed_in(alice.id, &[AuthMethod::Password]);
    let enrolment = w.accounts.begin_totp(&me, " Phone ", t0()).await.unwrap();
    assert!(enrolment.uri.starts_with("otpauth://totp/"));
    assert!(matches!(
        w.accounts
            .confirm_totp(&me, enrolment.id, "nope", t0())
            .await,
        Err(FactorError::Wrong(_))
    ));
    let done = w
        .accounts
        .confirm_totp(&me, enrolment.id, &StepCodes::code_at(t0()), t0())
        .await
        .unwrap();
    assert_eq!(done.proved, AuthMethods::of(&[AuthMethod::OneTimeCode]));
    let codes = done.recovery_codes.unwrap();
    assert_eq!(codes.len(), 10);
    (alice, codes)
}

#[tokio::test]
async fn a_code_is_accepted_once_and_recovery_codes_once_each() {
    let w = World::new(TokenPolicy::default());
    let (alice, codes) = enrolled(&w).await;
    let overview = w.accounts.factor_overview(alice.id).await.unwrap();
    assert_eq!(overview.factors.len(), 1);
    assert_eq!(overview.factors[0].label.as_str(), "Phone");
    assert_eq!(overview.recovery_codes_left, 10);

    let at = t0() + Duration::seconds(30);
    let sealed = w
        .sign_in
        .begin_second_step(alice.id, AuthMethods::of(&[AuthMethod::Password]), at)
        .unwrap();
    let pending = w.sign_in.pending_second_step(&sealed, at).unwrap();
    assert_eq!(pending.user, alice.id);
    // Five minutes later the pending sign-in is gone; a forged one is none.
    assert!(
        w.sign_in
            .pending_second_step(&sealed, at + Duration::minutes(5))
            .is_none()
    );
    assert!(w.sign_in.pending_second_step("sealed-99", at).is_none());

    // The enrolment's own code was its step: it is not accepted again.
    let replay = w
        .sign_in
        .verify_second_factor(pending, FactorAnswer::Totp(&StepCodes::code_at(t0())), at)
        .await;
    assert!(matches!(replay, Err(FactorError::Wrong(_))), "{replay:?}");
    let (methods, _) = w
        .sign_in
        .verify_second_factor(pending, FactorAnswer::Totp(&StepCodes::code_at(at)), at)
        .await
        .unwrap();
    assert_eq!(methods.amr(), ["pwd", "otp", "mfa"]);
    assert_eq!(methods.level(), AuthLevel::MultiFactor);

    let (_, event) = w
        .sign_in
        .verify_second_factor(pending, FactorAnswer::RecoveryCode(&codes[3]), at)
        .await
        .unwrap();
    assert!(matches!(
        event,
        Some(auth_core::events::SecurityEvent::RecoveryCodeUsed { left: 9, .. })
    ));
    assert!(matches!(
        w.sign_in
            .verify_second_factor(pending, FactorAnswer::RecoveryCode(&codes[3]), at)
            .await,
        Err(FactorError::Wrong(_))
    ));
    // New codes void the old ones.
    let me = signed_in(alice.id, &[AuthMethod::Password, AuthMethod::OneTimeCode]);
    let fresh = w.accounts.regenerate_recovery_codes(&me).await.unwrap();
    assert!(matches!(
        w.sign_in
            .verify_second_factor(pending, FactorAnswer::RecoveryCode(&codes[4]), at)
            .await,
        Err(FactorError::Wrong(_))
    ));
    assert!(
        w.sign_in
            .verify_second_factor(pending, FactorAnswer::RecoveryCode(&fresh[0]), at)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn wrong_second_factors_are_throttled_per_account() {
    let w = World::new(TokenPolicy::default());
    let (alice, _) = enrolled(&w).await;
    let at = t0() + Duration::minutes(1);
    let sealed = w
        .sign_in
        .begin_second_step(alice.id, AuthMethods::of(&[AuthMethod::Password]), at)
        .unwrap();
    let pending = w.sign_in.pending_second_step(&sealed, at).unwrap();
    for _ in 0..5 {
        assert!(matches!(
            w.sign_in
                .verify_second_factor(pending, FactorAnswer::Totp("000000"), at)
                .await,
            Err(FactorError::Wrong(_))
        ));
    }
    // The right code waits for the window too.
    assert!(matches!(
        w.sign_in
            .verify_second_factor(pending, FactorAnswer::Totp(&StepCodes::code_at(at)), at)
            .await,
        Err(FactorError::Throttled(_))
    ));
    let later = at + Duration::minutes(15);
    assert!(
        w.sign_in
            .verify_second_factor(
                pending,
                FactorAnswer::Totp(&StepCodes::code_at(later)),
                later
            )
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn codes_are_issued_only_at_the_level_asked_for() {
    let w = World::new(TokenPolicy::default());
    let mut client = w
        .add_client("app", None, &[GrantType::AuthorizationCode], "read")
        .await;
    client.redirect_uris = vec![RedirectUri::parse("myapp://callback").unwrap()];
    w.set_client(&client).await;
    let request = |acr: Option<&str>| AuthorizationRequest {
        client_id: Some("app".into()),
        redirect_uri: Some("myapp://callback".into()),
        response_type: Some("code".into()),
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
        code_challenge_method: Some("S256".into()),
        acr_values: acr.map(Into::into),
        ..Default::default()
    };
    let (alice, _) = enrolled(&w).await;
    let password_only = signed_in(alice.id, &[AuthMethod::Password]);
    let valid = w
        .sign_in
        .validate_authorization(&request(Some("phr urn:portcullis:acr:mfa")))
        .await
        .unwrap();
    // The weakest level asked for that this server knows.
    assert_eq!(valid.required_level, AuthLevel::MultiFactor);
    assert!(
        w.sign_in
            .issue_code(&valid, password_only, Consent::NotAsked, t0())
            .await
            .is_err()
    );
    assert!(matches!(
        w.sign_in.factor_step(&valid, &password_only).await.unwrap(),
        FactorStep::Ask
    ));
    let both = signed_in(alice.id, &[AuthMethod::Password, AuthMethod::OneTimeCode]);
    assert!(matches!(
        w.sign_in.factor_step(&valid, &both).await.unwrap(),
        FactorStep::Fine
    ));
    assert!(
        w.sign_in
            .issue_code(&valid, both, Consent::NotAsked, t0())
            .await
            .is_ok()
    );
    // A passkey level with no passkey cannot be met.
    let phr = w
        .sign_in
        .validate_authorization(&request(Some("phr")))
        .await
        .unwrap();
    assert!(matches!(
        w.sign_in.factor_step(&phr, &both).await.unwrap(),
        FactorStep::Refuse(Refusal::Redirect { error, .. })
            if error.code() == auth_core::ErrorCode::UnmetAuthenticationRequirements
    ));
    // Only levels this server does not know: refused at once.
    assert!(matches!(
        w.sign_in.validate_authorization(&request(Some("gold"))).await,
        Err(Refusal::Redirect { error, .. })
            if error.code() == auth_core::ErrorCode::UnmetAuthenticationRequirements
    ));
    // A client that requires two factors sends a person without one to enrol.
    client.mfa = ClientMfa::Required;
    w.set_client(&client).await;
    let bob = w.add_user("bob", None, "pw").await;
    let valid = w
        .sign_in
        .validate_authorization(&request(None))
        .await
        .unwrap();
    assert!(matches!(
        w.sign_in
            .factor_step(&valid, &signed_in(bob.id, &[AuthMethod::Password]))
            .await
            .unwrap(),
        FactorStep::Enrol
    ));
}

#[tokio::test]
async fn the_password_grant_refuses_an_account_with_a_second_factor() {
    let w = World::new(TokenPolicy::default());
    let mut client = w
        .add_client("app", Some("s"), &[GrantType::Password], "read")
        .await;
    let (_alice, _) = enrolled(&w).await;
    let grant = || GrantRequest::Password {
        login: auth_core::grants::Login::Name("alice".into()),
        password: "pw".into(),
        scope: None,
        from: "203.0.113.7".into(),
    };
    let refused = w.grants.exchange(&client, grant(), t0()).await.unwrap_err();
    assert!(refused.to_string().contains("second factor"), "{refused}");
    client.mfa = ClientMfa::PasswordGrantAllowed;
    w.set_client(&client).await;
    assert!(w.grants.exchange(&client, grant(), t0()).await.is_ok());
    // The operator's reset: the password alone again, everywhere.
    let (removed, _) = w.accounts.reset_mfa(_alice.id, t0()).await.unwrap();
    assert_eq!(removed, 1);
    client.mfa = ClientMfa::Optional;
    w.set_client(&client).await;
    assert!(w.grants.exchange(&client, grant(), t0()).await.is_ok());
}

#[tokio::test]
async fn a_password_sign_in_waits_for_the_second_factor_and_no_other_sign_in_does() {
    use auth_core::ports::SessionRepository as _;
    use auth_core::sessions::BrowserStart;
    let w = World::new(TokenPolicy::default());
    let bob = w.add_user("bob", None, "pw").await;
    assert!(
        w.session_for(bob.id, t0()).await.is_some(),
        "an account without a factor is signed in at once"
    );
    let (alice, _) = enrolled(&w).await;
    let start = |methods: &[AuthMethod]| {
        w.sign_in.begin_browser_session(
            alice.id,
            SessionOrigin::default(),
            AuthMethods::of(methods),
            t0(),
        )
    };

    let password = AuthMethods::of(&[AuthMethod::Password]);
    let BrowserStart::SecondStep { sealed, factors } =
        start(&[AuthMethod::Password]).await.unwrap()
    else {
        panic!("a password alone signed in an account with a second factor");
    };
    assert!(w.store.sessions_of(alice.id).await.unwrap().is_empty());
    assert_eq!(factors.len(), 1, "the factors to offer: {factors:?}");
    let waiting = w.sign_in.pending_second_step(&sealed, t0()).unwrap();
    assert_eq!((waiting.user, waiting.methods), (alice.id, password));

    // Two factors, an upstream provider's word, or a verified passkey: a session.
    for methods in [
        &[AuthMethod::Password, AuthMethod::OneTimeCode][..],
        &[AuthMethod::Federated],
        &[AuthMethod::HardwareKey, AuthMethod::UserVerified],
    ] {
        let started = start(methods).await.unwrap();
        assert!(matches!(started, BrowserStart::Session(_)), "{methods:?}");
    }
    assert_eq!(w.store.sessions_of(alice.id).await.unwrap().len(), 3);
}

#[tokio::test]
async fn an_enrolment_renews_the_session_with_what_it_proved() {
    let w = World::new(TokenPolicy::default());
    let bob = w.add_user("bob", None, "pw").await;
    let old = w.session_for(bob.id, t0()).await.unwrap();
    let later = t0() + Duration::minutes(1);
    let renewed = w
        .sign_in
        .upgrade_session(
            old.expose(),
            AuthMethods::of(&[AuthMethod::OneTimeCode]),
            later,
        )
        .await
        .unwrap()
        .unwrap();
    assert!(
        w.sign_in
            .resume_session(old.expose(), later)
            .await
            .unwrap()
            .is_none()
    );
    let now = w
        .sign_in
        .resume_session(renewed.expose(), later)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (now.user, now.methods, now.authenticated_at),
        (
            bob.id,
            AuthMethods::of(&[AuthMethod::Password, AuthMethod::OneTimeCode]),
            later
        )
    );
    // A session that is gone is not brought back.
    let gone = w
        .sign_in
        .upgrade_session(
            old.expose(),
            AuthMethods::of(&[AuthMethod::OneTimeCode]),
            later,
        )
        .await
        .unwrap();
    assert!(gone.is_none());
}
