use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use auth_core::error::StoreError;
use auth_core::events::SecurityEvent;
use auth_core::federation::*;
use auth_core::policy::TokenPolicy;
use auth_core::ports::{FederationRepository, IdentityProvider, MockFederationRepository};
use auth_core::types::*;
use chrono::Duration;
use uuid::Uuid;

use crate::doubles::{Sealed, Upstream, t0};
use crate::world::World;

fn identity(login: Option<&str>) -> UpstreamIdentity {
    UpstreamIdentity {
        provider: ProviderName::parse("github").unwrap(),
        subject: UpstreamSubject::parse("583231").unwrap(),
        email: None,
        login: login.map(str::to_owned),
        given_name: None,
        family_name: None,
    }
}

struct Setup {
    world: World,
    upstream: Arc<Upstream>,
    federation: Federation,
    client: Client,
}

/// A federation over `repository`, with one scripted provider.
fn federation(repository: Arc<dyn FederationRepository>) -> (Federation, Arc<Upstream>) {
    let upstream = Arc::new(Upstream::default());
    let federation = Federation::new(
        repository,
        Arc::new(Sealed::default()),
        [(
            ProviderName::parse("github").unwrap(),
            upstream.clone() as Arc<dyn IdentityProvider>,
        )],
    );
    (federation, upstream)
}

async fn setup() -> Setup {
    let world = World::new(TokenPolicy::default());
    let (federation, upstream) = federation(Arc::new(world.store.clone()));
    let mut client = world
        .add_client("seed-003", None, &[GrantType::AuthorizationCode], "read")
        .await;
    client.dialects = vec![auth_core::types::Dialect::ExternalLogin];
    Setup {
        world,
        upstream,
        federation,
        client,
    }
}

#[tokio::test]
async fn the_first_sign_in_creates_the_account_and_the_next_finds_it() {
    let s = setup().await;
    let mut first = identity(Some("Octocat"));
    first.email = Some(Email::parse("octo@example.org").unwrap());
    let user = s
        .federation
        .account_for(&s.world.accounts, &first, t0())
        .await
        .unwrap();
    assert_eq!(user.username.as_str(), "octocat");
    assert_eq!(user.email, first.email);
    assert!(user.password_hash.is_none());
    // Renamed upstream, the same identity finds the same account.
    let renamed = identity(Some("someone-else"));
    let again = s
        .federation
        .account_for(&s.world.accounts, &renamed, t0())
        .await
        .unwrap();
    assert_eq!(again.id, user.id);
    assert_eq!(users(&s.world).await, 1);
}

#[tokio::test]
async fn an_email_of_another_account_links_and_creates_nothing() {
    let s = setup().await;
    let owner = s
        .world
        .add_user("victim", Some("victim@example.org"), "pw")
        .await;
    // The victim confirmed the address: it is theirs.
    auth_core::ports::UserRepository::set_email_verified(&s.world.store, owner.id, true)
        .await
        .unwrap();
    let mut attacker = identity(Some("attacker"));
    attacker.email = Some(Email::parse("victim@example.org").unwrap());
    let refused = s
        .federation
        .account_for(&s.world.accounts, &attacker, t0())
        .await;
    let Err(FederationError::Refused(e)) = refused else {
        panic!("not refused: {refused:?}");
    };
    assert_eq!(
        e.event(),
        Some(&SecurityEvent::UpstreamEmailInUse { user: owner.id })
    );
    assert_eq!(users(&s.world).await, 1);
    assert!(s.world.store.links().is_empty());
    // Linked from the account's side, the identity signs in to it.
    s.federation.link(owner.id, &attacker, t0()).await.unwrap();
    let found = s
        .federation
        .account_for(&s.world.accounts, &attacker, t0())
        .await
        .unwrap();
    assert_eq!(found.id, owner.id);
}

/// An address registered without being confirmed is no claim on it: the
/// identity whose provider vouches for it gets its account with it, and
/// the squatting account keeps its username without the address.
#[tokio::test]
async fn an_unverified_email_of_another_account_goes_to_its_owner() {
    let s = setup().await;
    let squatter = s
        .world
        .add_user("squatter", Some("victim@example.org"), "pw")
        .await;
    let mut owner = identity(Some("owner"));
    owner.email = Some(Email::parse("victim@example.org").unwrap());
    let created = s
        .federation
        .account_for(&s.world.accounts, &owner, t0())
        .await
        .unwrap();
    assert_ne!(created.id, squatter.id);
    assert_eq!(created.email, owner.email);
    assert!(created.email_verified);
    let squatter = auth_core::ports::UserRepository::find_by_id(&s.world.store, squatter.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(squatter.username.as_str(), "squatter");
    assert_eq!(squatter.email, None);
    assert_eq!(users(&s.world).await, 2);
}

/// The creation loses to a concurrent first sign-in of the same identity
/// (the store says the link exists): the account is looked up again and
/// the winner's is used, nothing else is created.
#[tokio::test]
async fn a_first_sign_in_that_loses_a_race_finds_the_winners_account() {
    let world = World::new(TokenPolicy::default());
    let winner = User {
        id: UserId::new(Uuid::new_v4()),
        username: Username::parse("octocat").unwrap(),
        email: None,
        password_hash: None,
        given_name: None,
        family_name: None,
        disabled: false,
        created_at: t0(),
        token_generation: Default::default(),
        email_verified: false,
    };
    // Until the creation is tried, nobody is linked; then the winner is.
    let created = Arc::new(AtomicBool::new(false));
    let mut repository = MockFederationRepository::new();
    let (seen, found) = (created.clone(), winner.clone());
    repository
        .expect_find_linked_user()
        .returning(move |_, _| Ok(seen.load(Ordering::SeqCst).then(|| found.clone())));
    repository
        .expect_create_linked_user()
        .times(1..)
        .returning(move |_, _| {
            created.store(true, Ordering::SeqCst);
            Err(StoreError::Conflict("federated identity"))
        });
    let (federation, _) = federation(Arc::new(repository));
    let user = federation
        .account_for(&world.accounts, &identity(Some("octocat")), t0())
        .await
        .unwrap();
    assert_eq!(user.id, winner.id);
}

#[tokio::test]
async fn a_disabled_account_does_not_sign_in_upstream_either() {
    let s = setup().await;
    let user = s
        .federation
        .account_for(&s.world.accounts, &identity(None), t0())
        .await
        .unwrap();
    s.world.disable(user.id).await;
    let refused = s
        .federation
        .account_for(&s.world.accounts, &identity(None), t0())
        .await;
    assert!(matches!(refused, Err(FederationError::Refused(e))
        if e.event() == Some(&SecurityEvent::UpstreamLoginRefused { user: Some(user.id) })));
}

#[tokio::test]
async fn a_poll_flows_state_serves_its_own_callback_and_poll_once() {
    let s = setup().await;
    *s.upstream.identity.lock().unwrap() = Some(identity(Some("octocat")));
    let service = &s.world.accounts;
    let start = s
        .federation
        .begin_web(
            service,
            "github",
            WebPurpose::Poll,
            "https://id.test/cb",
            None,
            t0(),
        )
        .await
        .unwrap();
    assert!(start.binding.is_none());
    assert!(matches!(
        s.federation
            .poll_web(service, &s.client, &start.state, t0())
            .await,
        Err(FederationError::Pending)
    ));
    let answer = ProviderAnswer {
        provider: "github",
        state: &start.state,
        code: "c",
        issuer: None,
    };
    let browser = CallbackContext {
        browser: true,
        binding: None,
        signed_in: None,
    };
    let api = CallbackContext {
        browser: false,
        ..browser
    };
    // Not at the hosted pages' callback.
    assert!(
        s.federation
            .finish_web(service, answer, browser, t0())
            .await
            .is_err()
    );
    // The callback signs no one in: it asks the person first.
    let WebOutcome::Confirm(asked) = s
        .federation
        .finish_web(service, answer, api, t0())
        .await
        .unwrap()
    else {
        panic!("a polled callback must ask for confirmation");
    };
    assert_eq!(asked.account, "octocat");
    assert!(matches!(
        s.federation
            .poll_web(service, &s.client, &start.state, t0())
            .await,
        Err(FederationError::Pending)
    ));
    assert!(matches!(
        s.federation
            .confirm_polled(service, &asked.sealed, true, t0())
            .await
            .unwrap(),
        Confirmed::SignedIn { .. }
    ));
    // Once: neither the confirmation nor the callback counts again.
    assert!(
        s.federation
            .confirm_polled(service, &asked.sealed, true, t0())
            .await
            .is_err()
    );
    assert!(
        s.federation
            .finish_web(service, answer, api, t0())
            .await
            .is_err()
    );
    let issued = s
        .federation
        .poll_web(service, &s.client, &start.state, t0())
        .await
        .unwrap();
    assert!(issued.refresh_token.is_none());
    assert!(
        s.federation
            .poll_web(service, &s.client, &start.state, t0())
            .await
            .is_err()
    );
    // Expired states are refused alike.
    let late = s
        .federation
        .begin_web(
            service,
            "github",
            WebPurpose::Poll,
            "https://id.test/cb",
            None,
            t0(),
        )
        .await
        .unwrap();
    let later = t0() + WEB_FLOW_LIFETIME;
    assert!(
        s.federation
            .poll_web(service, &s.client, &late.state, later)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_polled_flow_redirects_only_to_a_registered_uri() {
    let mut s = setup().await;
    s.client.redirect_uris = vec![RedirectUri::parse("https://app.example/done").unwrap()];
    let service = &s.world.accounts;
    let cb = "https://id.test/cb";
    for bad in [
        "https://evil.example/",
        "https://app.example/done/x",
        "https://app.example/",
    ] {
        let refused = s
            .federation
            .begin_polled_web(service, &s.client, "github", cb, Some(bad), t0())
            .await;
        assert!(matches!(refused, Err(FederationError::Invalid(_))), "{bad}");
    }
    assert!(
        s.world.store.upstream_flows().is_empty(),
        "a refused start stored a flow"
    );
    let start = s
        .federation
        .begin_polled_web(
            service,
            &s.client,
            "github",
            cb,
            Some("https://app.example/done"),
            t0(),
        )
        .await
        .unwrap();
    *s.upstream.identity.lock().unwrap() = Some(identity(None));
    let asked = polled_callback(&s, &start.state).await;
    let done = s
        .federation
        .confirm_polled(service, &asked.sealed, true, t0())
        .await
        .unwrap();
    assert!(
        matches!(done, Confirmed::SignedIn { return_to: Some(t), .. } if t == "https://app.example/done")
    );
}

/// Runs a polled flow's callback for `state` (seed 003's API, not a
/// browser's): it must ask for confirmation; the question.
async fn polled_callback(s: &Setup, state: &str) -> PolledConfirmation {
    let answer = ProviderAnswer {
        provider: "github",
        state,
        code: "c",
        issuer: None,
    };
    let api = CallbackContext {
        browser: false,
        binding: None,
        signed_in: None,
    };
    match s
        .federation
        .finish_web(&s.world.accounts, answer, api, t0())
        .await
        .unwrap()
    {
        WebOutcome::Confirm(asked) => asked,
        other => panic!("a polled callback must ask for confirmation, not {other:?}"),
    }
}

#[tokio::test]
async fn a_refused_confirmation_ends_the_polled_flow_and_signs_no_one_in() {
    let s = setup().await;
    *s.upstream.identity.lock().unwrap() = Some(identity(Some("octocat")));
    let service = &s.world.accounts;
    let start = s
        .federation
        .begin_polled_web(
            service,
            &s.client,
            "github",
            "https://id.example/cb",
            None,
            t0(),
        )
        .await
        .unwrap();
    let asked = polled_callback(&s, &start.state).await;
    assert!(matches!(
        s.federation
            .confirm_polled(service, &asked.sealed, false, t0())
            .await
            .unwrap(),
        Confirmed::Declined
    ));
    assert!(s.world.store.links().is_empty(), "no account was made");
    assert!(
        s.federation
            .poll_web(service, &s.client, &start.state, t0())
            .await
            .is_err()
    );
    assert!(
        s.federation
            .confirm_polled(service, &asked.sealed, true, t0())
            .await
            .is_err()
    );
    // A confirmation altered by one character is not ours.
    let mut forged = asked.sealed.clone().into_bytes();
    let i = forged.len() - 2;
    forged[i] = if forged[i] == b'a' { b'b' } else { b'a' };
    let forged = String::from_utf8(forged).unwrap();
    assert!(
        s.federation
            .confirm_polled(service, &forged, true, t0())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn linking_needs_a_sign_in_of_the_last_five_minutes_or_the_password() {
    let s = setup().await;
    let service = &s.world.accounts;
    let owner = s.world.add_user("michael", None, "pw").await;
    let link = |authenticated_at, password: Option<&'static str>| {
        let who = auth_core::authorize::SignedIn {
            user: owner.id,
            authenticated_at,
            methods: Default::default(),
        };
        let federation = &s.federation;
        async move {
            federation
                .begin_link(
                    service,
                    &who,
                    Reauthentication {
                        password: password.map(Into::into),
                        from: "203.0.113.7",
                    },
                    "github",
                    "https://id.test/cb",
                    t0(),
                )
                .await
        }
    };
    let stale = t0() - LINK_REAUTHENTICATION - Duration::seconds(1);
    assert!(link(t0() - LINK_REAUTHENTICATION, None).await.is_ok());
    // A stolen cookie of an older session alone links nothing.
    let Err(FederationError::Refused(e)) = link(stale, None).await else {
        panic!("a stale session linked without the password");
    };
    assert!(e.description().contains("password"), "{}", e.description());
    // A wrong password is a failed login, counted and logged.
    let Err(FederationError::Refused(e)) = link(stale, Some("wrong")).await else {
        panic!("a wrong password linked");
    };
    assert!(matches!(e.event(), Some(SecurityEvent::LoginFailed { .. })));
    assert!(link(stale, Some("pw")).await.is_ok());
    // An account without a password signs in again first.
    let passwordless = User {
        id: UserId::new(Uuid::new_v4()),
        username: Username::parse("octo").unwrap(),
        email: None,
        password_hash: None,
        given_name: None,
        family_name: None,
        disabled: false,
        created_at: t0(),
        token_generation: Default::default(),
        email_verified: false,
    };
    auth_core::ports::UserRepository::create(&s.world.store, &passwordless)
        .await
        .unwrap();
    let Err(FederationError::Refused(e)) = s
        .federation
        .begin_link(
            service,
            &auth_core::authorize::SignedIn {
                user: passwordless.id,
                authenticated_at: stale,
                methods: Default::default(),
            },
            Reauthentication {
                password: Some("pw".into()),
                from: "203.0.113.7",
            },
            "github",
            "https://id.test/cb",
            t0(),
        )
        .await
    else {
        panic!("a passwordless account linked from a stale session");
    };
    assert!(
        e.description().contains("sign in again"),
        "{}",
        e.description()
    );
    // Linking starts nowhere else.
    assert!(matches!(
        s.federation
            .begin_web(
                service,
                "github",
                WebPurpose::Link(owner.id),
                "https://id.test/cb",
                None,
                t0()
            )
            .await,
        Err(FederationError::Invalid(_))
    ));
}

#[tokio::test]
async fn a_browser_flow_finishes_only_in_its_browser_and_a_link_only_in_its_session() {
    let s = setup().await;
    *s.upstream.identity.lock().unwrap() = Some(identity(Some("octocat")));
    let service = &s.world.accounts;
    let owner = s.world.add_user("michael", None, "pw").await;
    let fresh = auth_core::authorize::SignedIn {
        user: owner.id,
        authenticated_at: t0(),
        methods: Default::default(),
    };
    let start = s
        .federation
        .begin_link(
            service,
            &fresh,
            Reauthentication {
                password: None,
                from: "203.0.113.7",
            },
            "github",
            "https://id.test/cb",
            t0(),
        )
        .await
        .unwrap();
    let binding = start.binding.clone().unwrap();
    let answer = ProviderAnswer {
        provider: "github",
        state: &start.state,
        code: "c",
        issuer: None,
    };
    let here = CallbackContext {
        browser: true,
        binding: Some(binding.expose()),
        signed_in: Some(owner.id),
    };
    for wrong in [
        CallbackContext {
            binding: None,
            ..here
        },
        CallbackContext {
            binding: Some("another-browser"),
            ..here
        },
        CallbackContext {
            signed_in: None,
            ..here
        },
    ] {
        assert!(
            s.federation
                .finish_web(service, answer, wrong, t0())
                .await
                .is_err()
        );
    }
    let linked = s
        .federation
        .finish_web(service, answer, here, t0())
        .await
        .unwrap();
    assert!(matches!(linked, WebOutcome::Linked { user, .. } if user == owner.id));
    assert_eq!(s.federation.links_of(owner.id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn device_polls_keep_the_providers_pace() {
    let s = setup().await;
    let service = &s.world.accounts;
    s.upstream.polls.lock().unwrap().extend([
        DevicePoll::Pending,
        DevicePoll::SlowDown,
        DevicePoll::Done(identity(Some("octocat"))),
    ]);
    let started = s
        .federation
        .start_device(service, "github", t0())
        .await
        .unwrap();
    let step = |at| {
        s.federation
            .complete_device(service, &s.client, &started.session, at)
    };
    let five = Duration::seconds(5);
    assert!(
        matches!(step(t0()).await.unwrap(), DeviceStep::Pending { interval } if interval == five)
    );
    // Asked again at once: no poll, the wait that is left.
    let soon = t0() + Duration::seconds(2);
    assert!(
        matches!(step(soon).await.unwrap(), DeviceStep::Pending { interval } if interval == Duration::seconds(3))
    );
    assert_eq!(
        s.upstream.polled.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    // slow_down: five seconds more from then on.
    let slowed = step(t0() + five).await.unwrap();
    assert!(
        matches!(slowed, DeviceStep::Pending { interval } if interval == Duration::seconds(10))
    );
    assert!(matches!(
        step(t0() + five + five).await.unwrap(),
        DeviceStep::Pending { .. }
    ));
    let done = step(t0() + Duration::seconds(15)).await.unwrap();
    assert!(matches!(done, DeviceStep::Issued(_)));
    // The session is used.
    assert!(step(t0() + Duration::seconds(30)).await.is_err());
    assert_eq!(
        s.upstream.polled.load(std::sync::atomic::Ordering::SeqCst),
        3
    );
}

async fn users(world: &World) -> usize {
    use auth_core::ports::UserRepository as _;
    world.store.list().await.unwrap().len()
}
