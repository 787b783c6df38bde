//! The scenarios of the contract, one `async fn` each, taking the store
//! under test. Each states, in its name, the rule it holds the store to.
#![allow(clippy::unwrap_used, reason = "a failed step is a failed test")]
use auth_core::types::{LoginName, Subject};
use std::sync::Arc;

use auth_core::error::StoreError;
use auth_core::ports::{
    ClientRepository, KeyRepository, RefreshOwner, RotateOutcome, UserRepository,
};
use auth_core::types::*;
use chrono::Duration;
use uuid::Uuid;

use crate::Repositories;
use crate::fixtures::*;

pub async fn throttle_windows_start_at_the_first_counted_attempt(d: Arc<dyn Repositories>) {
    let window = Duration::minutes(15);
    let at = |minutes| t0() + Duration::minutes(minutes);
    let reserve = |key: &'static str, minutes| {
        let d = d.clone();
        async move {
            d.reserve(&throttle(key), 2, window, at(minutes))
                .await
                .unwrap()
        }
    };
    // Two within the window, then refused until it has passed.
    assert!(reserve("a", 0).await && reserve("a", 1).await);
    assert!(!reserve("a", 14).await);
    assert!(reserve("a", 15).await, "the window ended");
    // A cleared count starts a new window at the next attempt, not at the
    // old one's start: at minute 14 and 16 (past minute 15) both count in
    // one window, so a third is refused.
    assert!(reserve("b", 0).await);
    d.clear(&throttle("b")).await.unwrap();
    assert!(reserve("b", 14).await && reserve("b", 16).await);
    assert!(!reserve("b", 16).await, "one window from minute 14");
    // A count given back to zero does the same.
    assert!(reserve("c", 0).await);
    d.release(&throttle("c")).await.unwrap();
    assert!(reserve("c", 14).await && reserve("c", 16).await);
    assert!(!reserve("c", 16).await, "one window from minute 14");
    // A count given back above zero keeps its window.
    assert!(reserve("e", 0).await && reserve("e", 1).await);
    d.release(&throttle("e")).await.unwrap();
    assert!(reserve("e", 2).await && !reserve("e", 3).await);
    assert!(reserve("e", 15).await, "the window of minute 0 ended");
    // Other keys have budgets of their own.
    assert!(reserve("f", 14).await);
}

pub async fn a_burst_of_reservations_is_counted_one_by_one(d: Arc<dyn Repositories>) {
    let allowed = allowed_in_burst(40, || {
        let d = d.clone();
        async move {
            d.reserve(&throttle("burst"), 5, Duration::minutes(15), t0())
                .await
                .unwrap()
        }
    })
    .await;
    assert_eq!(allowed, 5);
}

pub async fn a_login_finds_its_account_and_counts_against_it(d: Arc<dyn Repositories>) {
    use auth_core::throttle::login_key;
    let alice = user("alice", Some("alice@example.org"));
    UserRepository::create(&*d, &alice).await.unwrap();
    let window = Duration::minutes(15);
    let attempt = |login: &'static str| {
        let d = d.clone();
        async move {
            d.reserve_login(&LoginName::lookup(login), from_address(), 3, window, t0())
                .await
                .unwrap()
        }
    };
    // Either name finds the account, with its row, and counts against
    // one key: the account's.
    let first = attempt("alice").await;
    assert!(first.allowed);
    assert_eq!(
        first
            .user
            .as_ref()
            .map(|u| (u.id, u.username.as_str(), u.given_name.as_deref())),
        Some((alice.id, "alice", Some("Given")))
    );
    assert!(attempt("alice@example.org").await.allowed);
    assert!(attempt("alice").await.allowed);
    let refused = attempt("alice@example.org").await;
    assert!(!refused.allowed, "three attempts, by either name");
    assert_eq!(
        refused.user.map(|u| u.id),
        Some(alice.id),
        "a refusal still names the account"
    );
    // The key is the one the core clears on success.
    d.clear(&login_key(Some(alice.id), &"alice".into(), from_address()))
        .await
        .unwrap();
    assert!(attempt("alice").await.allowed);
    // A name of no account counts against the name.
    for _ in 0..3 {
        let r = attempt("nobody").await;
        assert!(r.allowed && r.user.is_none());
    }
    assert!(!attempt("nobody").await.allowed);
    assert!(
        !d.reserve(
            &login_key(None, &"nobody".into(), from_address()),
            3,
            window,
            t0()
        )
        .await
        .unwrap()
    );
    // A burst counts one by one.
    let bob = user("bob", None);
    UserRepository::create(&*d, &bob).await.unwrap();
    let allowed = allowed_in_burst(40, || {
        let d = d.clone();
        async move {
            d.reserve_login(&LoginName::lookup("bob"), from_address(), 5, window, t0())
                .await
                .unwrap()
                .allowed
        }
    })
    .await;
    assert_eq!(allowed, 5);
}

pub async fn a_login_grant_resets_its_throttle_in_the_same_write(d: Arc<dyn Repositories>) {
    ClientRepository::create(&*d, &client("app")).await.unwrap();
    let window = Duration::minutes(15);
    let exhaust = |key: &'static str| {
        let d = d.clone();
        async move {
            assert!(d.reserve(&throttle(key), 1, window, t0()).await.unwrap());
            assert!(!d.reserve(&throttle(key), 1, window, t0()).await.unwrap());
        }
    };
    let may_try = |key: &'static str| {
        let d = d.clone();
        async move { d.reserve(&throttle(key), 1, window, t0()).await.unwrap() }
    };
    let access = |byte: u8| AccessTokenRecord {
        digest: Digest::from_bytes([byte; 32]),
        token_id: Uuid::new_v4(),
        client_id: ClientId::parse("app").unwrap(),
        subject: Subject::Client(ClientId::parse("app").unwrap()),
        scope: Scope::default(),
        issued_at: t0(),
        expires_at: t0() + Duration::hours(1),
        family: None,
        generation: Default::default(),
    };
    let family = || FamilyId::new(Uuid::new_v4());
    // A grant that cannot be stored (its digest is taken) resets nothing.
    d.insert_refresh(&refresh(1, family(), "app", None))
        .await
        .unwrap();
    exhaust("taken").await;
    let clash = d
        .insert_grant(
            Some(&refresh(1, family(), "app", None)),
            None,
            Some(&throttle("taken")),
        )
        .await;
    assert!(matches!(clash, Err(StoreError::Conflict(_))), "{clash:?}");
    assert!(
        !may_try("taken").await,
        "the failed grant left the attempts counted"
    );
    // Whatever the grant's rows, the reset commits with them.
    let (with_refresh, with_access) = (refresh(2, family(), "app", None), access(3));
    let both = (refresh(4, family(), "app", None), access(5));
    let cases: [(
        &'static str,
        Option<&RefreshTokenRecord>,
        Option<&AccessTokenRecord>,
    ); 4] = [
        ("refresh", Some(&with_refresh), None),
        ("access", None, Some(&with_access)),
        ("both", Some(&both.0), Some(&both.1)),
        ("none", None, None),
    ];
    for (key, refresh, access) in cases {
        exhaust(key).await;
        d.insert_grant(refresh, access, Some(&throttle(key)))
            .await
            .unwrap();
        assert!(
            may_try(key).await,
            "{key}: the login's attempts were forgotten"
        );
        if let Some(r) = refresh {
            assert!(d.find_refresh(&r.digest).await.unwrap().is_some(), "{key}");
        }
        if let Some(a) = access {
            assert!(d.find_access(&a.digest).await.unwrap().is_some(), "{key}");
        }
    }
    // Without a key, no counter is touched.
    exhaust("kept").await;
    d.insert_grant(Some(&refresh(6, family(), "app", None)), None, None)
        .await
        .unwrap();
    assert!(!may_try("kept").await);
}

pub async fn users_round_trip_and_conflict(d: Arc<dyn Repositories>) {
    let u = user("John", Some("John@Example.org"));
    UserRepository::create(&*d, &u).await.unwrap();
    let by_name = d
        .find_by_login(&LoginName::lookup("john"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_name.id, u.id);
    assert_eq!(by_name.given_name.as_deref(), Some("Given"));
    assert_eq!(
        d.find_by_login(&LoginName::lookup("john@example.org"))
            .await
            .unwrap()
            .unwrap()
            .id,
        u.id
    );
    assert!(
        d.find_by_login(&LoginName::lookup("nobody"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        d.find_by_id(u.id).await.unwrap().unwrap().username.as_str(),
        "john"
    );
    let dup = UserRepository::create(&*d, &user("john", None)).await;
    assert!(matches!(dup, Err(StoreError::Conflict("user"))), "{dup:?}");
    let dup_email = UserRepository::create(&*d, &user("other", Some("john@example.org"))).await;
    assert!(matches!(dup_email, Err(StoreError::Conflict("user"))));
    // A look-alike of a name (Cyrillic о in john), as a username or an
    // email, is a conflict of its own kind; the names that came with it
    // are not stored either.
    for (name, email) in [("jоhn", None), ("other", Some("jоhn@example.org"))] {
        let alike = UserRepository::create(&*d, &user(name, email)).await;
        assert!(
            matches!(
                alike,
                Err(StoreError::Conflict(auth_core::error::LOOK_ALIKE))
            ),
            "{name}: {alike:?}"
        );
    }
    assert!(
        d.find_by_login(&LoginName::lookup("other"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(UserRepository::list(&*d).await.unwrap().len(), 1);
}

pub async fn clients_round_trip(d: Arc<dyn Repositories>) {
    let c = client("breakout_app");
    ClientRepository::create(&*d, &c).await.unwrap();
    let back = d.find(&c.id).await.unwrap().unwrap();
    assert_eq!(back.auth, c.auth);
    assert_eq!(back.redirect_uris, c.redirect_uris);
    assert_eq!(back.grant_types, c.grant_types);
    assert_eq!(back.scope, c.scope);
    assert_eq!(back.access_token_ttl, c.access_token_ttl);
    assert_eq!(back.refresh_mode, c.refresh_mode);
    assert_eq!(
        (
            back.first_party,
            back.dialects.as_slice(),
            back.allow_plain_pkce
        ),
        (
            true,
            [Dialect::RedirectLogin, Dialect::SpringOauth].as_slice(),
            false
        )
    );
    assert_eq!(back.token_format, TokenFormat::Reference);
    assert!(matches!(
        ClientRepository::create(&*d, &c).await,
        Err(StoreError::Conflict("client"))
    ));
    assert!(
        d.find(&ClientId::parse("nope").unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn clients_update_and_delete_with_what_was_issued_to_them(d: Arc<dyn Repositories>) {
    let c = client("app");
    ClientRepository::create(&*d, &c).await.unwrap();
    ClientRepository::create(&*d, &client("other"))
        .await
        .unwrap();
    let changed = Client {
        name: "renamed".into(),
        redirect_uris: vec![RedirectUri::parse("https://b.example/cb").unwrap()],
        scope: Scope::parse("read").unwrap(),
        access_token_ttl: None,
        created_at: t0() + Duration::days(9),
        ..c.clone()
    };
    assert!(ClientRepository::update(&*d, &changed).await.unwrap());
    let back = d.find(&c.id).await.unwrap().unwrap();
    assert_eq!(
        (
            back.name.as_str(),
            back.redirect_uris.len(),
            back.access_token_ttl
        ),
        ("renamed", 1, None)
    );
    assert_eq!(back.created_at, c.created_at, "the creation time is kept");
    let unknown = Client {
        id: ClientId::parse("nope").unwrap(),
        ..c.clone()
    };
    assert!(!ClientRepository::update(&*d, &unknown).await.unwrap());

    let family = FamilyId::new(Uuid::new_v4());
    d.insert_refresh(&refresh(1, family, "app", None))
        .await
        .unwrap();
    d.insert_refresh(&refresh(2, FamilyId::new(Uuid::new_v4()), "other", None))
        .await
        .unwrap();
    let access = AccessTokenRecord {
        digest: Digest::from_bytes([3; 32]),
        token_id: Uuid::new_v4(),
        client_id: c.id.clone(),
        subject: Subject::Client(ClientId::parse("app").unwrap()),
        scope: Scope::default(),
        issued_at: t0(),
        expires_at: t0() + Duration::hours(1),
        family: None,
        generation: Default::default(),
    };
    d.insert_access(&access).await.unwrap();
    assert!(ClientRepository::delete(&*d, &c.id).await.unwrap());
    assert!(!ClientRepository::delete(&*d, &c.id).await.unwrap());
    assert!(d.find(&c.id).await.unwrap().is_none());
    assert!(
        d.find_refresh(&Digest::from_bytes([1; 32]))
            .await
            .unwrap()
            .is_none()
    );
    assert!(d.find_access(&access.digest).await.unwrap().is_none());
    assert!(
        d.find_refresh(&Digest::from_bytes([2; 32]))
            .await
            .unwrap()
            .is_some(),
        "another client's token stays"
    );
}

pub async fn refresh_rotation_is_conditional(d: Arc<dyn Repositories>) {
    ClientRepository::create(&*d, &client("app")).await.unwrap();
    let u = user("alice", None);
    UserRepository::create(&*d, &u).await.unwrap();
    let family = FamilyId::new(Uuid::new_v4());
    let first = refresh(1, family, "app", Some(u.id));
    d.insert_refresh(&first).await.unwrap();
    assert_eq!(d.find_refresh(&first.digest).await.unwrap().unwrap(), first);
    assert_eq!(
        d.find_refresh_with_owner(&first.digest).await.unwrap(),
        Some((
            first.clone(),
            RefreshOwner::User(TokenGeneration::default())
        ))
    );
    let second = refresh(2, family, "app", Some(u.id));
    let now = t0() + Duration::minutes(1);
    assert_eq!(
        d.rotate_refresh(&first.digest, &second, None, now)
            .await
            .unwrap(),
        RotateOutcome::Rotated
    );
    assert_eq!(
        d.find_refresh(&first.digest)
            .await
            .unwrap()
            .unwrap()
            .rotated_at,
        Some(now)
    );
    // A second rotation of the same token changes nothing.
    let third = refresh(3, family, "app", Some(u.id));
    assert_eq!(
        d.rotate_refresh(&first.digest, &third, None, now)
            .await
            .unwrap(),
        RotateOutcome::NotActive
    );
    assert!(d.find_refresh(&third.digest).await.unwrap().is_none());
    // Expired tokens do not rotate either.
    let late = t0() + Duration::days(2);
    assert_eq!(
        d.rotate_refresh(&second.digest, &third, None, late)
            .await
            .unwrap(),
        RotateOutcome::NotActive
    );
    // Family revocation touches the family only.
    let other = refresh(4, FamilyId::new(Uuid::new_v4()), "app", None);
    d.insert_refresh(&other).await.unwrap();
    // A client's own token has no owner to check; a disabled owner's
    // token may not act for them.
    assert_eq!(
        d.find_refresh_with_owner(&other.digest).await.unwrap(),
        Some((other.clone(), RefreshOwner::Client))
    );
    let carol = User {
        disabled: true,
        ..user("carol", None)
    };
    UserRepository::create(&*d, &carol).await.unwrap();
    let disabled = refresh(5, FamilyId::new(Uuid::new_v4()), "app", Some(carol.id));
    d.insert_refresh(&disabled).await.unwrap();
    assert_eq!(
        d.find_refresh_with_owner(&disabled.digest).await.unwrap(),
        Some((disabled.clone(), RefreshOwner::Unusable))
    );
    assert_eq!(
        d.find_refresh_with_owner(&refresh(6, family, "app", None).digest)
            .await
            .unwrap(),
        None
    );
    ClientRepository::create(&*d, &client("app")).await.ok();
    let of_family = AccessTokenRecord {
        digest: Digest::from_bytes([9; 32]),
        token_id: Uuid::new_v4(),
        client_id: ClientId::parse("app").unwrap(),
        subject: Subject::Client(ClientId::parse("app").unwrap()),
        scope: Scope::default(),
        issued_at: now,
        expires_at: now + Duration::hours(1),
        family: Some(family),
        generation: Default::default(),
    };
    d.insert_access(&of_family).await.unwrap();
    let listed_until = now + Duration::hours(1);
    assert_eq!(d.revoke_family(family, now, listed_until).await.unwrap(), 2);
    assert_eq!(d.revoke_family(family, now, listed_until).await.unwrap(), 0);
    // The grant's access tokens go with it: the reference one is
    // deleted, and any self-contained one of the family is listed.
    assert!(d.find_access(&of_family.digest).await.unwrap().is_none());
    assert!(
        d.is_access_revoked(Uuid::new_v4(), Some(family))
            .await
            .unwrap()
    );
    assert!(
        !d.is_access_revoked(Uuid::new_v4(), Some(FamilyId::new(Uuid::new_v4())))
            .await
            .unwrap()
    );
    assert!(
        d.find_refresh(&second.digest)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
    assert!(
        d.find_refresh(&other.digest)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );
    assert_eq!(
        d.rotate_refresh(&second.digest, &third, None, now)
            .await
            .unwrap(),
        RotateOutcome::NotActive
    );
}

pub async fn a_failed_rotation_insert_rolls_back(d: Arc<dyn Repositories>) {
    ClientRepository::create(&*d, &client("app")).await.unwrap();
    let family = FamilyId::new(Uuid::new_v4());
    let first = refresh(1, family, "app", None);
    let taken = refresh(2, family, "app", None);
    d.insert_refresh(&first).await.unwrap();
    d.insert_refresh(&taken).await.unwrap();
    // The successor's digest collides: the insert fails, so the
    // retirement of the old token must roll back with it.
    assert!(
        d.rotate_refresh(&first.digest, &taken, None, t0())
            .await
            .is_err()
    );
    assert!(
        d.find_refresh(&first.digest)
            .await
            .unwrap()
            .unwrap()
            .rotated_at
            .is_none()
    );
}

pub async fn concurrent_rotations_have_one_winner(d: Arc<dyn Repositories>) {
    ClientRepository::create(&*d, &client("app")).await.unwrap();
    let family = FamilyId::new(Uuid::new_v4());
    let first = refresh(0, family, "app", None);
    d.insert_refresh(&first).await.unwrap();
    let tasks: Vec<_> = (1..=32u8)
        .map(|i| {
            let d = d.clone();
            let digest = first.digest;
            tokio::spawn(async move {
                d.rotate_refresh(&digest, &refresh(i, family, "app", None), None, t0())
                    .await
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        if t.await.unwrap().unwrap() == RotateOutcome::Rotated {
            won += 1;
        }
    }
    assert_eq!(won, 1);
}

pub async fn access_revocation_list(d: Arc<dyn Repositories>) {
    let id = Uuid::new_v4();
    assert!(!d.is_access_revoked(id, None).await.unwrap());
    d.revoke_access(id, t0()).await.unwrap();
    d.revoke_access(id, t0()).await.unwrap();
    assert!(d.is_access_revoked(id, None).await.unwrap());
    // Revoking the id of a stored reference token deletes the token.
    ClientRepository::create(&*d, &client("app")).await.unwrap();
    let reference = AccessTokenRecord {
        digest: Digest::from_bytes([3; 32]),
        token_id: Uuid::new_v4(),
        client_id: ClientId::parse("app").unwrap(),
        subject: Subject::Client(ClientId::parse("app").unwrap()),
        scope: Scope::default(),
        issued_at: t0(),
        expires_at: t0() + Duration::hours(1),
        family: None,
        generation: Default::default(),
    };
    d.insert_access(&reference).await.unwrap();
    assert!(d.find_access(&reference.digest).await.unwrap().is_some());
    d.revoke_access(reference.token_id, reference.expires_at)
        .await
        .unwrap();
    assert!(d.find_access(&reference.digest).await.unwrap().is_none());
}

pub async fn signing_keys_newest_first(d: Arc<dyn Repositories>) {
    let old = signing_key(1, t0());
    let new = signing_key(2, t0() + Duration::days(1));
    d.insert(&old).await.unwrap();
    d.insert(&new).await.unwrap();
    let keys = KeyRepository::list(&*d).await.unwrap();
    assert_eq!(
        keys.iter().map(|k| k.key_id.clone()).collect::<Vec<_>>(),
        vec![new.key_id.clone(), old.key_id.clone()]
    );
    assert_eq!(keys[1].secret_key, old.secret_key);
    assert_eq!(keys[0].activates_at, t0() + Duration::days(1));
    assert!(KeyRepository::delete(&*d, &old.key_id).await.unwrap());
    assert!(!KeyRepository::delete(&*d, &old.key_id).await.unwrap());
    assert_eq!(KeyRepository::list(&*d).await.unwrap().len(), 1);
}

pub async fn codes_round_trip_and_are_consumed_once(d: Arc<dyn Repositories>) {
    ClientRepository::create(&*d, &client("app")).await.unwrap();
    let u = user("alice", None);
    UserRepository::create(&*d, &u).await.unwrap();
    let code = AuthorizationCode {
        digest: Digest::from_bytes([5; 32]),
        client_id: ClientId::parse("app").unwrap(),
        user_id: u.id,
        redirect_uri: RedirectUri::parse("myapp://callback").unwrap(),
        scope: Scope::parse("read").unwrap(),
        challenge: Some(
            CodeChallenge::parse(
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                ChallengeMethod::S256,
            )
            .unwrap(),
        ),
        issued_at: t0(),
        expires_at: t0() + Duration::seconds(300),
        consumed_at: None,
        issued: None,
        nonce: Some("n-0S6".into()),
        auth_time: Some(t0()),
        methods: auth_core::types::AuthMethods::of(&[
            auth_core::types::AuthMethod::Password,
            auth_core::types::AuthMethod::OneTimeCode,
        ]),
    };
    d.insert_code(&code).await.unwrap();
    assert_eq!(d.find_code(&code.digest).await.unwrap().unwrap(), code);
    // Sixteen redemptions at once, each with its own tokens: one wins,
    // and only its ids and its refresh token are stored.
    let tasks: Vec<_> = (0..16u8)
        .map(|i| {
            let d = d.clone();
            tokio::spawn(async move {
                let family = FamilyId::new(Uuid::new_v4());
                let issued = IssuedFromCode {
                    family: Some(family),
                    access_token_id: Uuid::new_v4(),
                    access_expires_at: t0(),
                };
                let rt = refresh(200 + i, family, "app", None);
                let won = d
                    .consume_code(&Digest::from_bytes([5; 32]), t0(), &issued, Some(&rt), None)
                    .await
                    .unwrap();
                (won, issued, rt)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        let (won, issued, rt) = t.await.unwrap();
        let stored = d.find_refresh(&rt.digest).await.unwrap().is_some();
        assert_eq!(
            won, stored,
            "tokens are stored exactly with the winning consumption"
        );
        if won {
            winners.push(issued);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one consumer wins");
    let issued = winners[0];
    let back = d.find_code(&code.digest).await.unwrap().unwrap();
    assert_eq!(back.consumed_at, Some(t0()));
    assert_eq!(back.issued, Some(issued));
}

pub async fn sessions_round_trip(d: Arc<dyn Repositories>) {
    let u = user("alice", None);
    UserRepository::create(&*d, &u).await.unwrap();
    let s = BrowserSession {
        digest: Digest::from_bytes([6; 32]),
        user_id: u.id,
        created_at: t0(),
        expires_at: t0() + Duration::hours(1),
        last_seen_at: t0(),
        origin: Default::default(),
        methods: Default::default(),
    };
    d.create_session(&s).await.unwrap();
    assert_eq!(d.find_session(&s.digest).await.unwrap().unwrap(), s);
    d.touch_session(&s.digest, t0() + Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(
        d.find_session(&s.digest)
            .await
            .unwrap()
            .unwrap()
            .last_seen_at,
        t0() + Duration::minutes(5)
    );
    d.delete_session(&s.digest).await.unwrap();
    assert!(d.find_session(&s.digest).await.unwrap().is_none());
}

pub async fn a_new_password_or_a_deletion_signs_the_account_out(d: Arc<dyn Repositories>) {
    ClientRepository::create(&*d, &client("app")).await.unwrap();
    let (alice, bob) = (user("alice", None), user("bob", None));
    UserRepository::create(&*d, &alice).await.unwrap();
    UserRepository::create(&*d, &bob).await.unwrap();
    let session = |b: u8, user: UserId| BrowserSession {
        digest: Digest::from_bytes([b; 32]),
        user_id: user,
        created_at: t0(),
        expires_at: t0() + Duration::hours(1),
        last_seen_at: t0(),
        origin: Default::default(),
        methods: Default::default(),
    };
    for (b, u) in [(1, alice.id), (2, alice.id), (3, bob.id)] {
        d.create_session(&session(b, u)).await.unwrap();
    }
    let (alices, bobs) = (
        refresh(10, FamilyId::new(Uuid::new_v4()), "app", Some(alice.id)),
        refresh(11, FamilyId::new(Uuid::new_v4()), "app", Some(bob.id)),
    );
    d.insert_refresh(&alices).await.unwrap();
    d.insert_refresh(&bobs).await.unwrap();
    let link = FederatedLink {
        provider: ProviderName::parse("github").unwrap(),
        subject: UpstreamSubject::parse("42").unwrap(),
        user_id: alice.id,
        created_at: t0(),
        login: None,
    };
    d.link(&link).await.unwrap();

    // Ending sessions ends the account's own, and says how many.
    assert_eq!(d.delete_user_sessions(bob.id).await.unwrap(), 1);
    assert!(
        d.find_session(&Digest::from_bytes([1; 32]))
            .await
            .unwrap()
            .is_some()
    );

    let hash = PasswordHash::new("$argon2id$v=19$m=8,t=1,p=1$new$hash".into());
    let now = t0() + Duration::minutes(1);
    assert!(d.set_password(alice.id, &hash, now).await.unwrap());
    assert!(
        !d.set_password(UserId::new(Uuid::new_v4()), &hash, now)
            .await
            .unwrap()
    );
    assert_eq!(
        d.find_by_id(alice.id).await.unwrap().unwrap().password_hash,
        Some(hash)
    );
    assert!(
        d.find_session(&Digest::from_bytes([1; 32]))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        d.find_session(&Digest::from_bytes([2; 32]))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        d.find_refresh(&alices.digest)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(now)
    );
    assert_eq!(
        d.find_refresh(&bobs.digest)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        None,
        "another account's token stays"
    );

    assert!(UserRepository::delete(&*d, alice.id).await.unwrap());
    assert!(!UserRepository::delete(&*d, alice.id).await.unwrap());
    assert!(
        d.find_by_login(&LoginName::lookup("alice"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(d.find_refresh(&alices.digest).await.unwrap().is_none());
    assert!(d.links_of(alice.id).await.unwrap().is_empty());
    assert!(
        d.find_linked_user(&link.provider, &link.subject)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        d.find_by_login(&LoginName::lookup("bob"))
            .await
            .unwrap()
            .is_some()
    );
}

pub async fn signing_out_everywhere_ends_what_the_account_holds_and_raises_its_generation(
    d: Arc<dyn Repositories>,
) {
    ClientRepository::create(&*d, &client("app")).await.unwrap();
    let (alice, bob) = (user("alice", None), user("bob", None));
    UserRepository::create(&*d, &alice).await.unwrap();
    UserRepository::create(&*d, &bob).await.unwrap();
    let session = |b: u8, user: UserId| BrowserSession {
        digest: Digest::from_bytes([b; 32]),
        user_id: user,
        created_at: t0(),
        expires_at: t0() + Duration::hours(1),
        last_seen_at: t0(),
        origin: Default::default(),
        methods: Default::default(),
    };
    for (b, u) in [(1, alice.id), (2, alice.id), (3, bob.id)] {
        d.create_session(&session(b, u)).await.unwrap();
    }
    let (alices, bobs) = (
        refresh(10, FamilyId::new(Uuid::new_v4()), "app", Some(alice.id)),
        refresh(11, FamilyId::new(Uuid::new_v4()), "app", Some(bob.id)),
    );
    d.insert_refresh(&alices).await.unwrap();
    d.insert_refresh(&bobs).await.unwrap();
    let access = |b: u8, subject: Subject| AccessTokenRecord {
        digest: Digest::from_bytes([b; 32]),
        token_id: Uuid::new_v4(),
        client_id: ClientId::parse("app").unwrap(),
        subject,
        scope: Scope::default(),
        issued_at: t0(),
        expires_at: t0() + Duration::hours(1),
        family: None,
        generation: Default::default(),
    };
    let (alices_access, bobs_access, apps_own) = (
        access(20, Subject::User(alice.id)),
        access(21, Subject::User(bob.id)),
        access(22, Subject::Client(ClientId::parse("app").unwrap())),
    );
    for a in [&alices_access, &bobs_access, &apps_own] {
        d.insert_access(a).await.unwrap();
    }
    let generation = |u: UserId| {
        let d = d.clone();
        async move { d.find_by_id(u).await.unwrap().unwrap().token_generation }
    };
    assert_eq!(generation(alice.id).await, TokenGeneration::default());

    let now = t0() + Duration::minutes(1);
    assert_eq!(d.sign_out_everywhere(alice.id, now).await.unwrap(), Some(2));
    assert_eq!(
        d.sign_out_everywhere(UserId::new(Uuid::new_v4()), now)
            .await
            .unwrap(),
        None
    );
    assert!(
        d.find_session(&Digest::from_bytes([1; 32]))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        d.find_session(&Digest::from_bytes([3; 32]))
            .await
            .unwrap()
            .is_some(),
        "another account's session stays"
    );
    assert_eq!(
        d.find_refresh(&alices.digest)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(now)
    );
    assert_eq!(
        d.find_refresh(&bobs.digest)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        None
    );
    assert!(
        d.find_access(&alices_access.digest)
            .await
            .unwrap()
            .is_none()
    );
    assert!(d.find_access(&bobs_access.digest).await.unwrap().is_some());
    assert!(
        d.find_access(&apps_own.digest).await.unwrap().is_some(),
        "a client's own token stays"
    );
    assert_eq!(generation(alice.id).await, TokenGeneration::new(1));
    assert_eq!(generation(bob.id).await, TokenGeneration::default());
    // The refresh grant's lookup sees the raised generation.
    let later = refresh(12, FamilyId::new(Uuid::new_v4()), "app", Some(alice.id));
    d.insert_refresh(&later).await.unwrap();
    assert_eq!(
        d.find_refresh_with_owner(&later.digest).await.unwrap(),
        Some((later.clone(), RefreshOwner::User(TokenGeneration::new(1))))
    );

    // A new password and disabling raise it too; enabling does not.
    let hash = PasswordHash::new("$argon2id$v=19$m=8,t=1,p=1$new$hash".into());
    assert!(d.set_password(alice.id, &hash, now).await.unwrap());
    assert_eq!(generation(alice.id).await, TokenGeneration::new(2));
    assert!(d.set_disabled(alice.id, true, now).await.unwrap());
    assert!(d.set_disabled(alice.id, false, now).await.unwrap());
    assert_eq!(generation(alice.id).await, TokenGeneration::new(3));
    // A reference token remembers the generation it was issued in.
    let stamped = AccessTokenRecord {
        generation: TokenGeneration::new(3),
        ..access(23, Subject::User(alice.id))
    };
    d.insert_access(&stamped).await.unwrap();
    assert_eq!(d.find_access(&stamped.digest).await.unwrap(), Some(stamped));
}

pub async fn consents_are_remembered_replaced_forgotten_and_go_with_the_account(
    d: Arc<dyn Repositories>,
) {
    ClientRepository::create(&*d, &client("app")).await.unwrap();
    let (alice, bob) = (user("alice", None), user("bob", None));
    UserRepository::create(&*d, &alice).await.unwrap();
    UserRepository::create(&*d, &bob).await.unwrap();
    let app = ClientId::parse("app").unwrap();
    assert_eq!(d.find_consent(alice.id, &app).await.unwrap(), None);
    d.remember_consent(alice.id, &app, &Scope::parse("openid read").unwrap(), t0())
        .await
        .unwrap();
    d.remember_consent(bob.id, &app, &Scope::parse("read").unwrap(), t0())
        .await
        .unwrap();
    assert_eq!(
        d.find_consent(alice.id, &app).await.unwrap(),
        Some(Scope::parse("openid read").unwrap())
    );
    d.remember_consent(
        alice.id,
        &app,
        &Scope::parse("openid read write").unwrap(),
        t0(),
    )
    .await
    .unwrap();
    assert_eq!(
        d.find_consent(alice.id, &app).await.unwrap(),
        Some(Scope::parse("openid read write").unwrap())
    );
    d.forget_consent(alice.id, &app).await.unwrap();
    d.forget_consent(alice.id, &app).await.unwrap();
    assert_eq!(d.find_consent(alice.id, &app).await.unwrap(), None);
    assert!(
        d.find_consent(bob.id, &app).await.unwrap().is_some(),
        "another account's stays"
    );
    assert!(UserRepository::delete(&*d, bob.id).await.unwrap());
    assert_eq!(d.find_consent(bob.id, &app).await.unwrap(), None);
}

pub async fn an_accounts_own_sessions_and_live_grants(d: Arc<dyn Repositories>) {
    ClientRepository::create(&*d, &client("app")).await.unwrap();
    let (alice, bob) = (user("alice", None), user("bob", None));
    UserRepository::create(&*d, &alice).await.unwrap();
    UserRepository::create(&*d, &bob).await.unwrap();
    let session = |b: u8, user: UserId, minutes: i64| BrowserSession {
        digest: Digest::from_bytes([b; 32]),
        user_id: user,
        created_at: t0() + Duration::minutes(minutes),
        expires_at: t0() + Duration::hours(1),
        last_seen_at: t0(),
        origin: Default::default(),
        methods: Default::default(),
    };
    for (b, u, m) in [(1, alice.id, 0), (2, alice.id, 5), (3, bob.id, 1)] {
        d.create_session(&session(b, u, m)).await.unwrap();
    }
    let alices: Vec<Digest> = d
        .sessions_of(alice.id)
        .await
        .unwrap()
        .iter()
        .map(|s| s.digest)
        .collect();
    assert_eq!(
        alices,
        vec![Digest::from_bytes([2; 32]), Digest::from_bytes([1; 32])],
        "alice's only, newest first"
    );
    // Another account's session is never ended through this account.
    assert!(
        !d.delete_session_of(alice.id, &Digest::from_bytes([3; 32]))
            .await
            .unwrap()
    );
    assert!(
        d.find_session(&Digest::from_bytes([3; 32]))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        d.delete_session_of(alice.id, &Digest::from_bytes([1; 32]))
            .await
            .unwrap()
    );
    assert!(
        !d.delete_session_of(alice.id, &Digest::from_bytes([1; 32]))
            .await
            .unwrap(),
        "once"
    );
    assert_eq!(d.sessions_of(alice.id).await.unwrap().len(), 1);

    // Live grants: not rotated, not revoked, not expired; the account's own.
    let live = refresh(20, FamilyId::new(Uuid::new_v4()), "app", Some(alice.id));
    let rotated = refresh(21, FamilyId::new(Uuid::new_v4()), "app", Some(alice.id));
    let successor = RefreshTokenRecord {
        digest: Digest::from_bytes([22; 32]),
        parent: Some(rotated.digest),
        ..rotated.clone()
    };
    let expired = RefreshTokenRecord {
        expires_at: t0() + Duration::minutes(1),
        ..refresh(23, FamilyId::new(Uuid::new_v4()), "app", Some(alice.id))
    };
    let revoked = refresh(24, FamilyId::new(Uuid::new_v4()), "app", Some(alice.id));
    let bobs = refresh(25, FamilyId::new(Uuid::new_v4()), "app", Some(bob.id));
    for t in [&live, &rotated, &expired, &revoked, &bobs] {
        d.insert_refresh(t).await.unwrap();
    }
    let now = t0() + Duration::minutes(2);
    assert!(matches!(
        d.rotate_refresh(&rotated.digest, &successor, None, now)
            .await
            .unwrap(),
        RotateOutcome::Rotated
    ));
    d.revoke_family(revoked.family, now, now).await.unwrap();
    let mut found: Vec<Digest> = d
        .live_refresh_of(alice.id, now)
        .await
        .unwrap()
        .iter()
        .map(|t| t.digest)
        .collect();
    found.sort_by_key(|d| d.as_bytes()[0]);
    assert_eq!(found, vec![live.digest, successor.digest]);
    assert_eq!(d.live_refresh_of(bob.id, now).await.unwrap().len(), 1);
}

pub async fn unlinking_keeps_a_way_to_sign_in(d: Arc<dyn Repositories>) {
    use auth_core::ports::Unlinked;
    let github = ProviderName::parse("github").unwrap();
    let other = ProviderName::parse("corp").unwrap();
    let with_password = user("alice", None);
    let without = User {
        password_hash: None,
        ..user("bob", None)
    };
    UserRepository::create(&*d, &with_password).await.unwrap();
    UserRepository::create(&*d, &without).await.unwrap();
    let link = |p: &ProviderName, subject: &str, user: UserId| FederatedLink {
        provider: p.clone(),
        subject: UpstreamSubject::parse(subject).unwrap(),
        user_id: user,
        created_at: t0(),
        login: Some("someone".into()),
    };
    d.link(&link(&github, "1", with_password.id)).await.unwrap();
    d.link(&link(&github, "2", without.id)).await.unwrap();
    d.link(&link(&other, "3", without.id)).await.unwrap();

    assert_eq!(
        d.unlink(with_password.id, &other).await.unwrap(),
        Unlinked::NotLinked
    );
    assert_eq!(
        d.unlink(with_password.id, &github).await.unwrap(),
        Unlinked::Removed,
        "a password remains"
    );
    assert!(d.links_of(with_password.id).await.unwrap().is_empty());
    assert_eq!(
        d.unlink(without.id, &github).await.unwrap(),
        Unlinked::Removed,
        "another link remains"
    );
    assert_eq!(
        d.unlink(without.id, &other).await.unwrap(),
        Unlinked::LastSignIn
    );
    assert_eq!(
        d.links_of(without.id).await.unwrap().len(),
        1,
        "the last one is kept"
    );
    assert_eq!(
        d.unlink(UserId::new(Uuid::new_v4()), &github)
            .await
            .unwrap(),
        Unlinked::NotLinked
    );
}

pub async fn racing_unlinks_leave_a_way_to_sign_in(d: Arc<dyn Repositories>) {
    use auth_core::ports::Unlinked;
    let without = User {
        password_hash: None,
        ..user("bob", None)
    };
    UserRepository::create(&*d, &without).await.unwrap();
    let providers: Vec<ProviderName> = ["a", "b", "c", "d"]
        .iter()
        .map(|p| ProviderName::parse(p).unwrap())
        .collect();
    for (i, p) in providers.iter().enumerate() {
        d.link(&FederatedLink {
            provider: p.clone(),
            subject: UpstreamSubject::parse(&i.to_string()).unwrap(),
            user_id: without.id,
            created_at: t0(),
            login: None,
        })
        .await
        .unwrap();
    }
    let tasks: Vec<_> = providers
        .iter()
        .map(|p| {
            let (d, p) = (d.clone(), p.clone());
            tokio::spawn(async move { d.unlink(without.id, &p).await.unwrap() })
        })
        .collect();
    let mut removed = 0;
    for t in tasks {
        if t.await.unwrap() == Unlinked::Removed {
            removed += 1;
        }
    }
    assert_eq!(removed, 3, "all but one");
    assert_eq!(d.links_of(without.id).await.unwrap().len(), 1);
}

pub async fn sweep_deletes_only_expired_rows(d: Arc<dyn Repositories>) {
    ClientRepository::create(&*d, &client("app")).await.unwrap();
    let u = user("alice", None);
    UserRepository::create(&*d, &u).await.unwrap();
    let family = FamilyId::new(Uuid::new_v4());
    // Seven expired refresh tokens (more than one batch of 3) and one live one.
    for i in 0..7u8 {
        let mut r = refresh(i, family, "app", None);
        r.expires_at = t0() - Duration::seconds(1);
        d.insert_refresh(&r).await.unwrap();
    }
    d.insert_refresh(&refresh(100, family, "app", None))
        .await
        .unwrap();
    d.revoke_access(Uuid::new_v4(), t0() - Duration::seconds(1))
        .await
        .unwrap();
    let live_revocation = Uuid::new_v4();
    d.revoke_access(live_revocation, t0() + Duration::hours(1))
        .await
        .unwrap();
    let session = |b: u8, expires| BrowserSession {
        digest: Digest::from_bytes([b; 32]),
        user_id: u.id,
        created_at: t0(),
        expires_at: expires,
        last_seen_at: t0(),
        origin: Default::default(),
        methods: Default::default(),
    };
    d.create_session(&session(1, t0() - Duration::seconds(1)))
        .await
        .unwrap();
    d.create_session(&session(2, t0() + Duration::hours(1)))
        .await
        .unwrap();
    let access = |b: u8, expires| AccessTokenRecord {
        digest: Digest::from_bytes([b; 32]),
        token_id: Uuid::new_v4(),
        client_id: ClientId::parse("app").unwrap(),
        subject: Subject::Client(ClientId::parse("app").unwrap()),
        scope: Scope::default(),
        issued_at: t0(),
        expires_at: expires,
        family: None,
        generation: Default::default(),
    };
    d.insert_access(&access(1, t0())).await.unwrap();
    d.insert_access(&access(2, t0() + Duration::seconds(1)))
        .await
        .unwrap();
    // Remembered browsers: one past its lifetime, one not.
    d.remember_device(
        &Digest::from_bytes([31; 32]),
        u.id,
        t0() - Duration::days(90),
        t0() - Duration::seconds(1),
    )
    .await
    .unwrap();
    d.remember_device(
        &Digest::from_bytes([32; 32]),
        u.id,
        t0(),
        t0() + Duration::days(90),
    )
    .await
    .unwrap();

    let report = d.sweep_expired(t0(), 3).await.unwrap();
    assert_eq!(
        (
            report.refresh_tokens,
            report.revoked_access_tokens,
            report.sessions,
            report.access_tokens,
            report.known_devices
        ),
        (7, 1, 1, 1, 1)
    );
    assert!(
        d.is_known_device(&Digest::from_bytes([32; 32]), u.id, t0())
            .await
            .unwrap()
    );
    assert!(
        !d.is_known_device(
            &Digest::from_bytes([31; 32]),
            u.id,
            t0() - Duration::days(1)
        )
        .await
        .unwrap(),
        "swept"
    );
    assert!(
        d.find_refresh(&Digest::from_bytes([100; 32]))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        d.find_refresh(&Digest::from_bytes([0; 32]))
            .await
            .unwrap()
            .is_none()
    );
    assert!(d.is_access_revoked(live_revocation, None).await.unwrap());
    assert!(
        d.find_session(&Digest::from_bytes([2; 32]))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        d.find_access(&Digest::from_bytes([2; 32]))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(d.sweep_expired(t0(), 3).await.unwrap().total(), 0);
}

pub async fn second_factors_are_used_once_and_go_with_the_account(d: Arc<dyn Repositories>) {
    let u = user("alice", None);
    UserRepository::create(&*d, &u).await.unwrap();
    let factor = |kind: FactorKind, minutes: i64| Factor {
        id: FactorId::new(Uuid::new_v4()),
        user_id: u.id,
        kind,
        label: FactorLabel::parse("Phone").unwrap(),
        created_at: t0() + Duration::minutes(minutes),
        last_used_at: None,
    };
    // An unconfirmed authenticator is no factor; a second one replaces it.
    let first = TotpRecord {
        factor: factor(FactorKind::Totp, 0),
        sealed_secret: "sealed".into(),
        last_step: None,
        confirmed: false,
    };
    d.add_totp(&first).await.unwrap();
    let totp = TotpRecord {
        factor: factor(FactorKind::Totp, 1),
        ..first.clone()
    };
    d.add_totp(&totp).await.unwrap();
    assert_eq!(d.totp_of(u.id).await.unwrap().len(), 1);
    assert!(!d.has_factors(u.id).await.unwrap());
    // A step is accepted once; sixteen racing acceptances of one step, one wins.
    let codes = [Digest::from_bytes([1; 32]), Digest::from_bytes([2; 32])];
    let id = totp.factor.id;
    let racers = (0..16).map(|_| {
        let d = d.clone();
        tokio::spawn(async move {
            d.accept_totp_step(u.id, id, 100, &codes, None, t0())
                .await
                .unwrap()
        })
    });
    let mut won = 0;
    for r in racers {
        won += usize::from(r.await.unwrap());
    }
    assert_eq!(won, 1);
    // A refused step leaves the sign-in's throttle as it was; an accepted
    // one forgets its attempts in the same write.
    let key = auth_core::throttle::ThrottleKey::SecondFactor(u.id);
    let window = Duration::minutes(15);
    for _ in 0..2 {
        assert!(d.reserve(&key, 2, window, t0()).await.unwrap());
    }
    assert!(
        !d.accept_totp_step(u.id, id, 99, &[], Some(&key), t0())
            .await
            .unwrap()
    );
    assert!(!d.reserve(&key, 2, window, t0()).await.unwrap());
    assert!(
        d.accept_totp_step(u.id, id, 101, &[], Some(&key), t0())
            .await
            .unwrap()
    );
    assert!(d.reserve(&key, 2, window, t0()).await.unwrap());
    assert!(d.has_factors(u.id).await.unwrap());
    assert_eq!(d.totp_of(u.id).await.unwrap()[0].last_step, Some(101));
    // Recovery codes: each once, only the owner's.
    assert_eq!(d.recovery_codes_left(u.id).await.unwrap(), 2);
    let other = user("bob", None);
    UserRepository::create(&*d, &other).await.unwrap();
    assert!(!d.use_recovery_code(other.id, &codes[0]).await.unwrap());
    assert!(d.use_recovery_code(u.id, &codes[0]).await.unwrap());
    assert!(!d.use_recovery_code(u.id, &codes[0]).await.unwrap());
    assert_eq!(d.recovery_codes_left(u.id).await.unwrap(), 1);
    // A credential id is one account's; its counter moves conditionally.
    let key = PasskeyRecord {
        factor: factor(FactorKind::Passkey, 2),
        credential_id: "Y3JlZA".into(),
        record: "{}".into(),
        counter: 0,
    };
    d.add_passkey(&key, &[]).await.unwrap();
    let stolen = PasskeyRecord {
        factor: Factor {
            user_id: other.id,
            ..factor(FactorKind::Passkey, 3)
        },
        ..key.clone()
    };
    assert!(matches!(
        d.add_passkey(&stolen, &[]).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        d.find_passkey("Y3JlZA")
            .await
            .unwrap()
            .unwrap()
            .factor
            .user_id,
        u.id
    );
    assert!(
        d.record_passkey_use(key.factor.id, 0, 5, "{\"n\":5}", t0())
            .await
            .unwrap()
    );
    assert!(
        !d.record_passkey_use(key.factor.id, 0, 6, "{}", t0())
            .await
            .unwrap()
    );
    let stored = d.passkeys_of(u.id).await.unwrap();
    assert_eq!(
        (stored[0].counter, stored[0].record.as_str()),
        (5, "{\"n\":5}")
    );
    assert_eq!(
        d.factors_of(u.id)
            .await
            .unwrap()
            .iter()
            .map(|f| f.kind)
            .collect::<Vec<_>>(),
        [FactorKind::Totp, FactorKind::Passkey]
    );
    // Removing one keeps the codes; removing the last takes them.
    assert!(d.remove_factor(other.id, id).await.unwrap().is_none());
    assert_eq!(d.remove_factor(u.id, id).await.unwrap().unwrap().id, id);
    assert_eq!(d.recovery_codes_left(u.id).await.unwrap(), 1);
    assert!(
        d.remove_factor(u.id, key.factor.id)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(d.recovery_codes_left(u.id).await.unwrap(), 0);
    assert!(!d.has_factors(u.id).await.unwrap());
    // The user handle is made once and found again.
    let handle = d.user_handle(u.id, Uuid::new_v4()).await.unwrap();
    assert_eq!(d.user_handle(u.id, Uuid::new_v4()).await.unwrap(), handle);
    assert_eq!(d.user_of_handle(handle).await.unwrap(), Some(u.id));
    assert_eq!(d.user_of_handle(Uuid::new_v4()).await.unwrap(), None);
    // A ceremony is taken once, and not after it expired.
    let ceremony = |b: u8, minutes: i64| Ceremony {
        digest: Digest::from_bytes([b; 32]),
        purpose: CeremonyPurpose::Passwordless,
        user_id: None,
        state: "state".into(),
        expires_at: t0() + Duration::minutes(minutes),
    };
    d.store_ceremony(&ceremony(7, 5)).await.unwrap();
    d.store_ceremony(&ceremony(8, 5)).await.unwrap();
    assert_eq!(
        d.take_ceremony(&Digest::from_bytes([7; 32]), t0())
            .await
            .unwrap(),
        Some(ceremony(7, 5))
    );
    assert_eq!(
        d.take_ceremony(&Digest::from_bytes([7; 32]), t0())
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        d.take_ceremony(&Digest::from_bytes([8; 32]), t0() + Duration::minutes(6))
            .await
            .unwrap(),
        None
    );
    // The operator's reset takes everything; so does deleting the account.
    d.add_totp(&TotpRecord {
        factor: factor(FactorKind::Totp, 4),
        ..totp.clone()
    })
    .await
    .unwrap();
    d.replace_recovery_codes(u.id, &codes).await.unwrap();
    assert_eq!(d.remove_all_factors(u.id).await.unwrap(), 0);
    assert_eq!(d.recovery_codes_left(u.id).await.unwrap(), 0);
    d.add_passkey(
        &PasskeyRecord {
            factor: factor(FactorKind::Passkey, 5),
            ..key.clone()
        },
        &codes,
    )
    .await
    .unwrap();
    assert!(UserRepository::delete(&*d, u.id).await.unwrap());
    assert!(d.find_passkey("Y3JlZA").await.unwrap().is_none());
    assert_eq!(d.recovery_codes_left(u.id).await.unwrap(), 0);
}

pub async fn groups_have_unique_names_and_go_with_their_members(d: Arc<dyn Repositories>) {
    let (alice, bob) = (user("alice", None), user("bob", None));
    UserRepository::create(&*d, &alice).await.unwrap();
    UserRepository::create(&*d, &bob).await.unwrap();
    let group = |name: &str| Group {
        id: GroupId::new(Uuid::new_v4()),
        name: GroupName::parse(name).unwrap(),
        description: GroupDescription::parse("").unwrap(),
        created_at: t0(),
        updated_at: t0(),
    };
    let (ops, admins) = (group("ops"), group("admins"));
    d.create_group(&ops).await.unwrap();
    d.create_group(&admins).await.unwrap();
    // A name is unique: a second group of that name, or a rename to it, is
    // a conflict that changes nothing.
    assert!(matches!(
        d.create_group(&group("OPS")).await,
        Err(StoreError::Conflict(_))
    ));
    let renamed = Group {
        name: GroupName::parse("ops").unwrap(),
        ..admins.clone()
    };
    assert!(matches!(
        d.update_group(&renamed, t0()).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        d.list_groups().await.unwrap(),
        vec![admins.clone(), ops.clone()]
    );
    let found = d
        .find_group(&GroupName::parse("Ops").unwrap())
        .await
        .unwrap();
    assert_eq!(found, Some(ops.clone()));
    let described = Group {
        description: GroupDescription::parse("On call").unwrap(),
        updated_at: t0() + Duration::minutes(1),
        ..ops.clone()
    };
    // A change names the version it changes (its last `updated_at`): a
    // write over a version that is gone changes nothing.
    assert!(d.update_group(&described, t0()).await.unwrap());
    assert!(
        !d.update_group(&described, t0()).await.unwrap(),
        "a stale version"
    );
    assert_eq!(
        d.groups_by_id(&[ops.id]).await.unwrap(),
        vec![described.clone()]
    );

    // Memberships: once each, listed oldest first, found in one lookup.
    assert!(d.add_member(ops.id, alice.id, t0()).await.unwrap());
    assert!(!d.add_member(ops.id, alice.id, t0()).await.unwrap());
    assert!(
        d.add_member(ops.id, bob.id, t0() + Duration::seconds(1))
            .await
            .unwrap()
    );
    assert!(d.add_member(admins.id, alice.id, t0()).await.unwrap());
    assert_eq!(d.members_of(ops.id).await.unwrap(), vec![alice.id, bob.id]);
    let names = |groups: Vec<Group>| groups.into_iter().map(|g| g.name).collect::<Vec<_>>();
    assert_eq!(
        names(d.groups_of(alice.id).await.unwrap()),
        vec![admins.name.clone(), ops.name.clone()]
    );
    assert!(d.in_any_group(bob.id, &[admins.id, ops.id]).await.unwrap());
    assert!(!d.in_any_group(bob.id, &[admins.id]).await.unwrap());
    assert!(!d.in_any_group(bob.id, &[]).await.unwrap());
    assert!(d.remove_member(ops.id, bob.id).await.unwrap());
    assert!(!d.remove_member(ops.id, bob.id).await.unwrap());
    assert!(!d.in_any_group(bob.id, &[ops.id]).await.unwrap());

    // A deleted account leaves its groups; a deleted group takes its
    // memberships.
    assert!(UserRepository::delete(&*d, alice.id).await.unwrap());
    assert!(d.members_of(admins.id).await.unwrap().is_empty());
    d.add_member(ops.id, bob.id, t0()).await.unwrap();
    assert!(!d.delete_group(ops.id, Some(t0())).await.unwrap(), "stale");
    assert!(
        d.delete_group(ops.id, Some(described.updated_at))
            .await
            .unwrap()
    );
    assert!(!d.delete_group(ops.id, None).await.unwrap());
    assert!(d.groups_of(bob.id).await.unwrap().is_empty());
    assert_eq!(d.list_groups().await.unwrap(), vec![admins]);
}

pub async fn accounts_page_by_key_and_change_only_at_the_version_read(d: Arc<dyn Repositories>) {
    let mut made = Vec::new();
    for (i, (name, email)) in [
        ("ann", "ann@example.com"),
        ("ben", "a_b@example.com"),
        ("cat", "cat@example.com"),
        ("dan", "dan@example.org"),
    ]
    .into_iter()
    .enumerate()
    {
        // Two accounts created in the same instant: the id orders them.
        let at = t0() + Duration::seconds(i64::try_from(i / 2).unwrap());
        let u = User {
            created_at: at,
            ..user(name, Some(email))
        };
        UserRepository::create(&*d, &u).await.unwrap();
        made.push(u);
    }
    made.sort_by_key(|u| (u.created_at, u.id));
    let ids = |records: &[UserRecord]| records.iter().map(|r| r.user.id).collect::<Vec<_>>();
    let listing = |after: Option<&User>, limit: u32, search: Option<&str>| UserListing {
        after: after.map(|u| (u.created_at, u.id)),
        limit,
        search: search.map(str::to_owned),
    };
    // Pages by key: each starts after the last one seen, however many
    // share its creation time.
    let first = d.page(&listing(None, 3, None)).await.unwrap();
    assert_eq!(ids(&first), ids_of(&made[..3]));
    let rest = d.page(&listing(Some(&made[2]), 3, None)).await.unwrap();
    assert_eq!(ids(&rest), ids_of(&made[3..]));
    let between = d.page(&listing(Some(&made[0]), 1, None)).await.unwrap();
    assert_eq!(ids(&between), ids_of(&made[1..2]));
    // A search is a prefix of a login name; `_` and `%` are characters.
    let found = d.page(&listing(None, 10, Some("da"))).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].user.username.as_str(), "dan");
    let found = d.page(&listing(None, 10, Some("a_"))).await.unwrap();
    assert_eq!(found.len(), 1, "a_ is not a wildcard");
    assert_eq!(found[0].user.username.as_str(), "ben");
    assert!(
        d.page(&listing(None, 10, Some("%")))
            .await
            .unwrap()
            .is_empty()
    );

    // A change holds only at the version read, and makes a new one.
    let ann = made.iter().find(|u| u.username.as_str() == "ann").unwrap();
    let read = d.record(ann.id).await.unwrap().unwrap();
    let change = AccountChange {
        family_name: Some(Some("Lee".into())),
        given_name: Some(None),
        ..Default::default()
    };
    let now = t0() + Duration::minutes(5);
    let changed = done(d.change(ann.id, read.version, &change, now).await.unwrap()).unwrap();
    assert_eq!(changed.user.family_name.as_deref(), Some("Lee"));
    assert_eq!(changed.user.given_name, None);
    assert_ne!(changed.version, read.version);
    assert_eq!(changed.updated_at, Some(now));
    assert!(matches!(
        d.change(ann.id, read.version, &change, now).await.unwrap(),
        Written::Stale
    ));
    // A change through another port is a new version too.
    assert!(d.set_email_verified(ann.id, true).await.unwrap());
    let after = d.record(ann.id).await.unwrap().unwrap();
    assert_ne!(after.version, changed.version);
    assert_eq!(
        d.delete_version(ann.id, changed.version).await.unwrap(),
        Written::Stale
    );
    // Disabling ends the account's sessions in the same write.
    let disable = AccountChange {
        disabled: Some(true),
        ..Default::default()
    };
    let disabled = done(
        d.change(ann.id, after.version, &disable, now)
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(disabled.user.disabled);
    assert!(disabled.user.token_generation > after.user.token_generation);
    assert_eq!(
        d.delete_version(ann.id, disabled.version).await.unwrap(),
        Written::Done(())
    );
    assert!(d.record(ann.id).await.unwrap().is_none());
    assert_eq!(
        d.delete_version(ann.id, disabled.version).await.unwrap(),
        Written::Missing
    );
    assert!(matches!(
        d.change(ann.id, disabled.version, &disable, now)
            .await
            .unwrap(),
        Written::Missing
    ));
}

/// What a conditional write made, if it held.
fn done<T>(written: Written<T>) -> Option<T> {
    match written {
        Written::Done(t) => Some(t),
        Written::Stale | Written::Missing => None,
    }
}

fn ids_of(users: &[User]) -> Vec<UserId> {
    users.iter().map(|u| u.id).collect()
}

pub async fn clients_change_only_at_the_version_read(d: Arc<dyn Repositories>) {
    let (a, b) = (client("b-app"), client("a-app"));
    ClientRepository::create(&*d, &a).await.unwrap();
    ClientRepository::create(&*d, &b).await.unwrap();
    // Creation order, then the id.
    let ids: Vec<String> = d
        .client_records()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.client.id.as_str().to_owned())
        .collect();
    assert_eq!(ids, ["a-app", "b-app"]);
    let read = d.client_record(&a.id).await.unwrap().unwrap();
    let renamed = Client {
        name: "Renamed".into(),
        ..a.clone()
    };
    assert_eq!(
        d.update_client_version(&renamed, read.version)
            .await
            .unwrap(),
        Written::Done(())
    );
    let after = d.client_record(&a.id).await.unwrap().unwrap();
    assert_eq!(after.client.name, "Renamed");
    assert_ne!(after.version, read.version);
    assert_eq!(
        d.update_client_version(&a, read.version).await.unwrap(),
        Written::Stale
    );
    // A change through the plain update is a new version too.
    assert!(ClientRepository::update(&*d, &a).await.unwrap());
    let later = d.client_record(&a.id).await.unwrap().unwrap();
    assert_ne!(later.version, after.version);
    assert_eq!(
        d.delete_client_version(&a.id, after.version).await.unwrap(),
        Written::Stale
    );
    assert_eq!(
        d.delete_client_version(&a.id, later.version).await.unwrap(),
        Written::Done(())
    );
    assert!(d.client_record(&a.id).await.unwrap().is_none());
    assert_eq!(
        d.delete_client_version(&a.id, later.version).await.unwrap(),
        Written::Missing
    );
}
