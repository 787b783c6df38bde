//! The account holder's own operations: each acts on the signed-in
//! account only, and each refusal changes nothing.
use auth_core::authorize::SignedIn;
use auth_core::events::SecurityEvent;
use auth_core::grants::GrantRequest;
use auth_core::own_account::{PasswordChangeError, SessionHandle};
use auth_core::policy::TokenPolicy;
use auth_core::ports::{SessionRepository as _, UserRepository as _};
use auth_core::types::*;
use chrono::Duration;

use crate::doubles::t0;
use crate::world::World;

fn me(user: &User) -> SignedIn {
    SignedIn {
        user: user.id,
        authenticated_at: t0(),
        methods: Default::default(),
    }
}

fn password(user: &str, pw: &str) -> GrantRequest {
    GrantRequest::Password {
        login: auth_core::grants::Login::Name(user.into()),
        password: pw.into(),
        scope: None,
        from: "203.0.113.7".into(),
    }
}

#[tokio::test]
async fn the_overview_shows_the_accounts_own_sessions_and_applications() {
    let w = World::new(TokenPolicy::default());
    let app = w
        .add_client(
            "app",
            Some("s"),
            &[GrantType::Password, GrantType::RefreshToken],
            "read",
        )
        .await;
    let other = w
        .add_client(
            "other",
            Some("s"),
            &[GrantType::Password, GrantType::RefreshToken],
            "write",
        )
        .await;
    let alice = w.add_user("alice", None, "pw-alice").await;
    let bob = w.add_user("bob", None, "pw-bob").await;
    let mine = w.session_for(alice.id, t0()).await.unwrap();
    w.session_for(alice.id, t0() + Duration::minutes(1))
        .await
        .unwrap();
    w.session_for(bob.id, t0()).await.unwrap();
    for _ in 0..2 {
        w.grants
            .exchange(&app, password("alice", "pw-alice"), t0())
            .await
            .unwrap();
    }
    w.grants
        .exchange(&other, password("bob", "pw-bob"), t0())
        .await
        .unwrap();

    let view = w
        .accounts
        .account_overview(&me(&alice), mine.expose(), t0())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.user.id, alice.id);
    assert_eq!(view.sessions.len(), 2, "alice's two, not bob's");
    assert_eq!(view.sessions.iter().filter(|s| s.current).count(), 1);
    assert!(!view.sessions[0].current, "newest first: the other browser");
    assert_eq!(view.applications.len(), 1);
    assert_eq!(view.applications[0].client_id, app.id);
    assert_eq!(view.applications[0].grants, 2);
    assert_eq!(view.applications[0].scope.to_string(), "read");

    // Expired and idle sessions are not listed.
    let later = t0() + TokenPolicy::default().session_idle_timeout + Duration::minutes(2);
    let view = w
        .accounts
        .account_overview(&me(&alice), mine.expose(), later)
        .await
        .unwrap()
        .unwrap();
    assert!(view.sessions.is_empty());
}

#[tokio::test]
async fn a_password_change_needs_the_current_password_and_ends_the_rest() {
    let w = World::new(TokenPolicy::default());
    let app = w
        .add_client(
            "app",
            Some("s"),
            &[GrantType::Password, GrantType::RefreshToken],
            "read",
        )
        .await;
    let alice = w.add_user("alice", None, "old-password").await;
    let other_browser = w.session_for(alice.id, t0()).await.unwrap();
    let grant = w
        .grants
        .exchange(&app, password("alice", "old-password"), t0())
        .await
        .unwrap();
    let stored = |w: &World| {
        let w = w.store.clone();
        async move { w.find_by_id(alice.id).await.unwrap().unwrap().password_hash }
    };
    let before = stored(&w).await;

    // Refusals change nothing.
    let wrong = w
        .accounts
        .change_password(
            &me(&alice),
            "guess".into(),
            "new-password-1".into(),
            8,
            "203.0.113.7",
            t0(),
        )
        .await;
    assert!(matches!(
        wrong,
        Err(PasswordChangeError::WrongCurrent(
            SecurityEvent::LoginFailed { .. }
        ))
    ));
    let short = w
        .accounts
        .change_password(
            &me(&alice),
            "old-password".into(),
            "short".into(),
            8,
            "203.0.113.7",
            t0(),
        )
        .await;
    assert!(matches!(short, Err(PasswordChangeError::Invalid(_))));
    assert_eq!(stored(&w).await, before);
    assert!(
        w.sign_in
            .resume_session(other_browser.expose(), t0())
            .await
            .unwrap()
            .is_some()
    );

    let (session, event) = w
        .accounts
        .change_password(
            &me(&alice),
            "old-password".into(),
            "new-password-1".into(),
            8,
            "203.0.113.7",
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(event, SecurityEvent::PasswordChanged { user: alice.id });
    assert_ne!(stored(&w).await, before);
    assert!(
        w.sign_in
            .resume_session(other_browser.expose(), t0())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        w.sign_in
            .resume_session(session.expose(), t0())
            .await
            .unwrap()
            .is_some(),
        "the asking browser keeps a new session"
    );
    let refresh = GrantRequest::RefreshToken {
        refresh_token: grant.refresh_token.unwrap(),
        scope: None,
    };
    assert!(w.grants.exchange(&app, refresh, t0()).await.is_err());
    assert!(
        w.sign_in
            .verify_credentials(
                &auth_core::grants::Login::Name("alice".into()),
                "new-password-1".into(),
                "203.0.113.7",
                t0()
            )
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn wrong_current_passwords_meet_the_login_throttle() {
    let w = World::new(TokenPolicy::default());
    let alice = w.add_user("alice", None, "old-password").await;
    let mut throttled = false;
    for _ in 0..20 {
        let r = w
            .accounts
            .change_password(
                &me(&alice),
                "guess".into(),
                "new-password-1".into(),
                8,
                "203.0.113.7",
                t0(),
            )
            .await;
        if matches!(r, Err(PasswordChangeError::Throttled(_))) {
            throttled = true;
            break;
        }
    }
    assert!(throttled);
    // Throttled: even the right password is not checked now.
    let r = w
        .accounts
        .change_password(
            &me(&alice),
            "old-password".into(),
            "new-password-1".into(),
            8,
            "203.0.113.7",
            t0(),
        )
        .await;
    assert!(matches!(r, Err(PasswordChangeError::Throttled(_))));
}

#[tokio::test]
async fn an_account_without_a_password_has_none_to_change() {
    let w = World::new(TokenPolicy::default());
    let alice = w.add_user("alice", None, "pw").await;
    let hashless = User {
        password_hash: None,
        ..alice.clone()
    };
    assert!(w.store.delete(alice.id).await.unwrap());
    w.store.create(&hashless).await.unwrap();
    let r = w
        .accounts
        .change_password(
            &me(&alice),
            "".into(),
            "new-password-1".into(),
            8,
            "203.0.113.7",
            t0(),
        )
        .await;
    assert!(matches!(r, Err(PasswordChangeError::NoPassword)));
}

#[tokio::test]
async fn only_the_accounts_own_sessions_end() {
    let w = World::new(TokenPolicy::default());
    let alice = w.add_user("alice", None, "pw").await;
    let bob = w.add_user("bob", None, "pw").await;
    let bobs = w.session_for(bob.id, t0()).await.unwrap();
    let alices = w.session_for(alice.id, t0()).await.unwrap();
    let view = |cookie: &OpaqueToken, who: &User| {
        let (w, cookie, who) = (&w, cookie.clone(), who.clone());
        async move {
            w.accounts
                .account_overview(&me(&who), cookie.expose(), t0())
                .await
                .unwrap()
                .unwrap()
        }
    };
    let bobs_handle = view(&bobs, &bob).await.sessions[0].handle.clone();
    assert!(
        !w.accounts
            .end_own_session(&me(&alice), &bobs_handle)
            .await
            .unwrap()
    );
    assert!(
        w.sign_in
            .resume_session(bobs.expose(), t0())
            .await
            .unwrap()
            .is_some()
    );
    assert!(SessionHandle::parse("not a handle").is_none());
    assert_eq!(
        SessionHandle::parse(&bobs_handle.encode()),
        Some(bobs_handle.clone())
    );

    let alices_handle = view(&alices, &alice).await.sessions[0].handle.clone();
    assert!(
        w.accounts
            .end_own_session(&me(&alice), &alices_handle)
            .await
            .unwrap()
    );
    assert!(
        w.sign_in
            .resume_session(alices.expose(), t0())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(w.store.sessions_of(bob.id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn taking_back_an_applications_access_revokes_its_grants_only() {
    let w = World::new(TokenPolicy::default());
    // Reference access tokens: the test codec issues PASETO stand-ins it
    // cannot verify.
    let mut app = w
        .add_client(
            "app",
            Some("s"),
            &[GrantType::Password, GrantType::RefreshToken],
            "read",
        )
        .await;
    app.token_format = TokenFormat::Reference;
    w.set_client(&app).await;
    let other = w
        .add_client(
            "other",
            Some("s"),
            &[GrantType::Password, GrantType::RefreshToken],
            "read",
        )
        .await;
    let alice = w.add_user("alice", None, "pw-alice").await;
    let bob = w.add_user("bob", None, "pw-bob").await;
    let alices = w
        .grants
        .exchange(&app, password("alice", "pw-alice"), t0())
        .await
        .unwrap();
    let alices_other = w
        .grants
        .exchange(&other, password("alice", "pw-alice"), t0())
        .await
        .unwrap();
    let bobs = w
        .grants
        .exchange(&app, password("bob", "pw-bob"), t0())
        .await
        .unwrap();

    assert!(
        w.grants
            .verify_access(bobs.access_token.expose(), t0())
            .await
            .is_ok(),
        "before"
    );
    // Bob cannot take back what alice granted, nor a client he never used.
    let (ended, event) = w
        .accounts
        .revoke_application(&me(&bob), &other.id, t0())
        .await
        .unwrap();
    assert_eq!((ended, event), (0, None));

    let (ended, event) = w
        .accounts
        .revoke_application(&me(&alice), &app.id, t0())
        .await
        .unwrap();
    assert_eq!(ended, 1);
    assert_eq!(
        event,
        Some(SecurityEvent::ApplicationRevoked {
            user: alice.id,
            client: app.id.clone()
        })
    );
    assert!(
        w.grants
            .verify_access(alices.access_token.expose(), t0())
            .await
            .is_err(),
        "its access token too"
    );
    let refresh = |t: &IssuedTokens| GrantRequest::RefreshToken {
        refresh_token: t.refresh_token.clone().unwrap(),
        scope: None,
    };
    assert!(
        w.grants
            .exchange(&app, refresh(&alices), t0())
            .await
            .is_err()
    );
    assert!(
        w.grants
            .exchange(&other, refresh(&alices_other), t0())
            .await
            .is_ok(),
        "another application keeps its access"
    );
    assert!(
        w.grants
            .verify_access(bobs.access_token.expose(), t0())
            .await
            .is_ok(),
        "another account's grant stays"
    );
    assert!(w.grants.exchange(&app, refresh(&bobs), t0()).await.is_ok());
}
