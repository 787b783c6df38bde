//! Mail through a real SMTP server (aiosmtpd): the recovery of a forgotten
//! password, the verification of an address, invitations, the neutral
//! answers and throttles of recovery, and the outbox that loses nothing to
//! an SMTP outage, a restart, or a second node.
use auth_core::accounts::{Invitation, invite_user};
use auth_core::ports::Clock as _;
use auth_core::types::{Email, LinkPurpose};
use chrono::Duration;
use portcullis::settings::FileSettings;
use portcullis_tests::mailbox::Mailbox;
use portcullis_tests::{ClientSetup, Reply, ScratchDb, TestApp, browser, hidden_fields, scenarios};

use crate::browser::with;

const ISSUER: &str = "http://issuer.test";

async fn spawn_mailing(db: ScratchDb, mailbox: &Mailbox) -> TestApp {
    TestApp::spawn_with(
        db,
        FileSettings {
            smtp: Some(mailbox.settings()),
            ..Default::default()
        },
    )
    .await
}

/// `/password/forgot` posted by a fresh browser for `login`.
async fn ask_for_recovery(app: &TestApp, login: &str) -> Reply {
    let b = browser();
    let page = app.get_with(&b, "/password/forgot").await;
    assert_eq!(page.status, 200, "{}", page.text);
    let form = with(hidden_fields(&page.text), &[("login", login)]);
    app.post_with(&b, "/password/forgot", &form).await
}

/// Opens a link's page and posts its form with `password` and `confirm`.
pub(crate) async fn set_password_through(
    app: &TestApp,
    path: &str,
    password: &str,
    confirm: &str,
) -> Reply {
    let b = browser();
    let page = app.get_with(&b, path).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let action = path.split('?').next().unwrap().to_owned();
    let form = with(
        hidden_fields(&page.text)
            .into_iter()
            .filter(|(k, _)| k != "username")
            .collect(),
        &[("new_password", password), ("confirm_password", confirm)],
    );
    app.post_with(&b, &action, &form).await
}

/// The path of a recovery link for `username`, as the operator prints it.
pub(crate) async fn printed_recovery_path(app: &TestApp, username: &str) -> String {
    let user = app.account(&app.account_id(username).await).await;
    let printed = app
        .services
        .roles
        .accounts
        .print_link(LinkPurpose::Reset, user, app.clock.now())
        .await
        .unwrap()
        .unwrap();
    printed.url.expose()[ISSUER.len()..].to_owned()
}

async fn password_grant(app: &TestApp, client: &(String, String), password: &str) -> Reply {
    password_grant_as(app, client, "alice", password).await
}

async fn password_grant_as(
    app: &TestApp,
    client: &(String, String),
    username: &str,
    password: &str,
) -> Reply {
    app.post_form(
        "/token",
        Some((&client.0, &client.1)),
        &[
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
        ],
    )
    .await
}

async fn outbox_rows(app: &TestApp) -> usize {
    app.fingerprint()
        .await
        .iter()
        .filter(|row| row.starts_with("mail_outbox"))
        .count()
}

async fn a_forgotten_password_is_recovered_through_the_mail(db: ScratchDb) {
    let mailbox = Mailbox::start().await;
    let app = spawn_mailing(db, &mailbox).await;
    let (id, secret) = app.client(ClientSetup::default()).await;
    let client = (id, secret.unwrap());
    app.user("alice", Some("alice@example.org"), "old-password")
        .await;
    let before = password_grant(&app, &client, "old-password").await;
    assert_eq!(before.status, 200, "{}", before.text);
    let old_access = before.str("access_token").to_owned();
    let old_refresh = before.str("refresh_token").to_owned();

    let login = app.get_with(&browser(), "/login").await;
    assert!(login.text.contains("/password/forgot"), "{}", login.text);
    let r = ask_for_recovery(&app, "alice@example.org").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("Check your mail"), "{}", r.text);

    let mail = mailbox.wait_for("alice@example.org", 1).await.remove(0);
    assert!(mail.subject.contains("new password"), "{mail:?}");
    assert!(mail.message_id.ends_with("@issuer.test>"), "{mail:?}");
    assert!(!mail.date.is_empty(), "{mail:?}");
    assert!(mail.html.contains("<a href="), "{mail:?}");
    let path = mail.path_of_link(ISSUER);
    assert!(path.starts_with("/password/reset?token="), "{path}");
    // The token is 32 random bytes, and only its digest is stored.
    let token = path.split('=').nth(1).unwrap();
    assert_eq!(token.len(), 43, "{token}");
    assert!(
        !app.fingerprint()
            .await
            .iter()
            .any(|row| row.contains(token)),
        "the token is stored in the clear"
    );

    // A refused form uses nothing up.
    let r = set_password_through(&app, &path, "new-password", "other-password").await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = set_password_through(&app, &path, "short", "short").await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(
        password_grant(&app, &client, "old-password").await.status,
        200
    );

    let r = set_password_through(&app, &path, "new-password", "new-password").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("Your password is set"), "{}", r.text);
    // Single use.
    let again = app.get_with(&browser(), &path).await;
    assert_eq!(again.status, 400, "{}", again.text);

    // Everything the old password earned ended; the new one signs in.
    assert_eq!(app.get_bearer("/userinfo", &old_access).await.status, 401);
    let refreshed = app
        .post_form(
            "/token",
            Some((&client.0, &client.1)),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &old_refresh),
            ],
        )
        .await;
    assert_eq!(refreshed.status, 400, "{}", refreshed.text);
    assert_eq!(
        password_grant(&app, &client, "old-password").await.status,
        400
    );
    assert_eq!(
        password_grant(&app, &client, "new-password").await.status,
        200
    );
    // The link reached the address: it is verified. And the owner is told.
    let alice = app.account(&app.account_id("alice").await).await;
    assert!(alice.email_verified);
    let mails = mailbox.wait_for("alice@example.org", 2).await;
    assert!(mails[1].subject.contains("was changed"), "{:?}", mails[1]);
    assert!(log_has("password_set_by_link"));
}

fn log_has(event: &str) -> bool {
    !portcullis_tests::log_lines_with(event).is_empty()
}

async fn recovery_answers_alike_and_is_throttled(db: ScratchDb) {
    let mailbox = Mailbox::start().await;
    let app = spawn_mailing(db, &mailbox).await;
    app.user("alice", Some("alice@example.org"), "old-password")
        .await;
    app.user("nomail", None, "old-password").await;
    let known = ask_for_recovery(&app, "alice").await;
    let unknown = ask_for_recovery(&app, "nobody@example.org").await;
    let no_address = ask_for_recovery(&app, "nomail").await;
    assert_eq!(known.status, 200);
    assert_eq!((unknown.status, no_address.status), (200, 200));
    assert_eq!(known.text, unknown.text, "the answers differ");
    assert_eq!(known.text, no_address.text, "the answers differ");
    let first = mailbox.wait_for("alice@example.org", 1).await.remove(0);
    // A newer request supersedes the older link.
    assert_eq!(ask_for_recovery(&app, "alice").await.status, 200);
    let second = mailbox.wait_for("alice@example.org", 2).await.remove(1);
    let (old, new) = (first.path_of_link(ISSUER), second.path_of_link(ISSUER));
    assert_ne!(old, new);
    assert_eq!(app.get_with(&browser(), &old).await.status, 400);
    assert_eq!(app.get_with(&browser(), &new).await.status, 200);
    // Three a name per hour, whether or not it names an account.
    assert_eq!(ask_for_recovery(&app, "alice").await.status, 200);
    let throttled = ask_for_recovery(&app, "alice").await;
    assert_eq!(throttled.status, 429, "{}", throttled.text);
    for _ in 0..2 {
        assert_eq!(
            ask_for_recovery(&app, "nobody@example.org").await.status,
            200
        );
    }
    assert_eq!(
        ask_for_recovery(&app, "nobody@example.org").await.status,
        429
    );
    assert!(log_has("recovery_throttled"));
    // Ten an hour from one client address, whatever the names: this is
    // its tenth, then the eleventh is refused.
    assert_eq!(ask_for_recovery(&app, "fresh-one").await.status, 200);
    assert_eq!(ask_for_recovery(&app, "fresh-two").await.status, 429);
    // Nothing reached anyone else.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(mailbox.all().len(), 3, "{:?}", mailbox.all());
}

async fn registration_mails_a_link_that_verifies_the_address(db: ScratchDb) {
    let mailbox = Mailbox::start().await;
    let app = spawn_mailing(db, &mailbox).await;
    let b = browser();
    let r = crate::accounts::register_on_page(&app, &b, "carol", "carol@example.org").await;
    assert_eq!(r.status, 303, "{}", r.text);
    let created = r.header("location").unwrap().to_owned();
    assert!(created.starts_with("/login?notice=check_mail"), "{created}");
    let carol = app.account_id("carol").await;
    assert!(!app.account(&carol).await.email_verified);

    // Registering her address again answers the same, creates nothing,
    // and tells her instead.
    let before = app
        .fingerprint_without(&["throttle_counters", "mail_outbox"])
        .await;
    let again =
        crate::accounts::register_on_page(&app, &browser(), "mallory", "Carol@Example.org").await;
    assert_eq!(again.status, 303, "{}", again.text);
    assert_eq!(again.header("location"), Some(created.as_str()));
    assert_eq!(
        app.fingerprint_without(&["throttle_counters", "mail_outbox"])
            .await,
        before
    );
    let mails = mailbox.wait_for("carol@example.org", 2).await;
    assert!(
        mails
            .iter()
            .any(|m| m.subject.contains("tried to register")),
        "{mails:?}"
    );
    // A taken username is said to be taken (usernames are not secret).
    let taken =
        crate::accounts::register_on_page(&app, &browser(), "carol", "else@example.org").await;
    assert_eq!(taken.status, 400, "{}", taken.text);

    let mail = mailbox
        .to("carol@example.org")
        .into_iter()
        .find(|m| m.subject.contains("Confirm your email"))
        .expect("the confirmation");
    let path = mail.path_of_link(ISSUER);
    assert!(path.starts_with("/email/verify?token="), "{path}");
    // Opening the link (as a mail scanner would) changes nothing.
    let page = app.get_with(&b, &path).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("carol@example.org"), "{}", page.text);
    assert!(!app.account(&carol).await.email_verified);
    let r = app
        .post_with(&b, "/email/verify", &hidden_fields(&page.text))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(app.account(&carol).await.email_verified);
    // Used once.
    let r = app
        .post_with(&b, "/email/verify", &hidden_fields(&page.text))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(log_has("mail_link_refused"));
}

async fn an_invitation_sets_the_first_password_and_verifies_the_address(db: ScratchDb) {
    let mailbox = Mailbox::start().await;
    let app = spawn_mailing(db, &mailbox).await;
    let (id, secret) = app.client(ClientSetup::default()).await;
    let client = (id, secret.unwrap());
    let invitation = Invitation {
        email: Email::parse("alice@example.org").unwrap(),
        username: Some(auth_core::types::Username::parse("alice").unwrap()),
    };
    let (user, printed) = invite_user(
        &app.services.roles.accounts,
        invitation,
        false,
        app.clock.now(),
    )
    .await
    .unwrap();
    assert!(printed.is_none());
    assert!(user.password_hash.is_none());
    let mail = mailbox.wait_for("alice@example.org", 1).await.remove(0);
    assert!(mail.subject.contains("invited"), "{mail:?}");
    assert!(mail.text.contains("alice"), "{mail:?}");
    let path = mail.path_of_link(ISSUER);
    assert!(path.starts_with("/invitation?token="), "{path}");
    // An invitation link is not a recovery link.
    let wrong = path.replace("/invitation", "/password/reset");
    assert_eq!(app.get_with(&browser(), &wrong).await.status, 400);
    let r = set_password_through(&app, &path, "first-password", "first-password").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        password_grant(&app, &client, "first-password").await.status,
        200
    );
    assert!(app.account(&user.id.to_string()).await.email_verified);
}

async fn the_outbox_keeps_mail_through_an_smtp_outage(db: ScratchDb) {
    let mut mailbox = Mailbox::start().await;
    mailbox.stop();
    let app = spawn_mailing(db, &mailbox).await;
    app.user("alice", Some("alice@example.org"), "old-password")
        .await;
    assert_eq!(ask_for_recovery(&app, "alice").await.status, 200);
    // The sender tried and failed: the letter waits in the outbox.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(outbox_rows(&app).await, 1);
    assert!(mailbox.all().is_empty());
    // An hour later the server is back: the letter goes out, once.
    app.clock.advance(Duration::hours(1));
    mailbox.restart().await;
    let mails = mailbox.wait_for("alice@example.org", 1).await;
    assert!(mails[0].path_of_link(ISSUER).starts_with("/password/reset"));
    tokio::time::sleep(std::time::Duration::from_millis(2000)).await;
    assert_eq!(mailbox.all().len(), 1);
    assert_eq!(outbox_rows(&app).await, 0);
    // The operator sees it: retried while the server was down, then sent.
    let metrics = app
        .http
        .get(app.ops_url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let count = |outcome: &str| -> f64 {
        let prefix = format!("portcullis_mail_letters_total{{outcome=\"{outcome}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {outcome} count in {metrics}"))
    };
    assert!(count("retried") >= 1.0, "{metrics}");
    assert_eq!(count("sent"), 1.0, "{metrics}");
    assert_eq!(count("given_up"), 0.0, "{metrics}");
    // The letter arrived whole, but the link in it was made an hour ago by
    // the test's clock: a recovery link dies after 30 minutes, delivered
    // or not.
    let page = app
        .get_with(&browser(), &mails[0].path_of_link(ISSUER))
        .await;
    assert_eq!(page.status, 400, "{}", page.text);
}

/// A browser signed in as `username` with `password`.
async fn signed_in(app: &TestApp, username: &str, password: &str) -> reqwest::Client {
    let b = browser();
    let page = app.get_with(&b, "/login").await;
    let form = with(
        hidden_fields(&page.text),
        &[("username", username), ("password", password)],
    );
    let r = app.post_with(&b, "/login", &form).await;
    assert_eq!(r.status, 303, "{}", r.text);
    b
}

/// Posts one of the account page's forms.
async fn account_post(
    app: &TestApp,
    b: &reqwest::Client,
    path: &str,
    fields: &[(&str, &str)],
) -> Reply {
    let page = app.get_with(b, "/account").await;
    let form = with(
        portcullis_tests::csrf_field(&page.text)
            .into_iter()
            .take(1)
            .collect(),
        fields,
    );
    app.post_with(b, path, &form).await
}

async fn an_address_changes_only_when_the_new_one_confirms(db: ScratchDb) {
    let mailbox = Mailbox::start().await;
    let app = spawn_mailing(db, &mailbox).await;
    let alice = app
        .user("alice", Some("alice@example.org"), "old-password")
        .await;
    app.user("bob", Some("bob@example.org"), "bobs-password")
        .await;
    let b = signed_in(&app, "alice", "old-password").await;
    let page = app.get_with(&b, "/account").await;
    assert!(
        page.text.contains("Change your email address"),
        "{}",
        page.text
    );

    let before = app.fingerprint_without(&["throttle_counters"]).await;
    let wrong = account_post(
        &app,
        &b,
        "/account/email",
        &[
            ("new_email", "alice@new.example"),
            ("current_password", "wrong"),
        ],
    )
    .await;
    assert_eq!(wrong.status, 401, "{}", wrong.text);
    let not_an_address = account_post(
        &app,
        &b,
        "/account/email",
        &[
            ("new_email", "not an address"),
            ("current_password", "old-password"),
        ],
    )
    .await;
    assert_eq!(not_an_address.status, 400, "{}", not_an_address.text);
    assert_eq!(
        app.fingerprint_without(&["throttle_counters"]).await,
        before
    );

    let asked = account_post(
        &app,
        &b,
        "/account/email",
        &[
            ("new_email", "alice@new.example"),
            ("current_password", "old-password"),
        ],
    )
    .await;
    assert_eq!(asked.status, 303, "{}", asked.text);
    let confirm = mailbox.wait_for("alice@new.example", 1).await.remove(0);
    assert!(confirm.subject.contains("new email"), "{confirm:?}");
    let told = mailbox.wait_for("alice@example.org", 1).await.remove(0);
    assert!(told.subject.contains("being changed"), "{told:?}");
    assert!(told.text.contains("alice@new.example"), "{told:?}");
    assert!(told.link(ISSUER).is_none(), "the notice carries no link");

    // Nothing changes until the new address answers.
    let path = confirm.path_of_link(ISSUER);
    assert!(path.starts_with("/email/change?token="), "{path}");
    let other = browser();
    let page = app.get_with(&other, &path).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("alice@new.example"));
    let find = |login: &'static str| {
        let accounts = app.services.roles.accounts.clone();
        async move {
            auth_core::accounts::find_user(&accounts, login)
                .await
                .unwrap()
                .map(|u| u.id.to_string())
        }
    };
    assert_eq!(find("alice@example.org").await, Some(alice.clone()));
    assert_eq!(find("alice@new.example").await, None);
    let r = app
        .post_with(&other, "/email/change", &hidden_fields(&page.text))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let account = app.account(&alice).await;
    assert_eq!(account.email.unwrap().as_str(), "alice@new.example");
    assert!(account.email_verified);
    assert_eq!(find("alice@new.example").await, Some(alice.clone()));
    assert_eq!(
        find("alice@example.org").await,
        None,
        "the old address still signs in"
    );
    assert_eq!(find("alice").await, Some(alice.clone()));
    assert!(log_has("email_changed"));

    // An address another account has by the time the link is opened
    // stays that account's.
    account_post(
        &app,
        &b,
        "/account/email",
        &[
            ("new_email", "bob@example.org"),
            ("current_password", "old-password"),
        ],
    )
    .await;
    let to_bob = mailbox.wait_for("bob@example.org", 1).await.remove(0);
    let page = app.get_with(&other, &to_bob.path_of_link(ISSUER)).await;
    let r = app
        .post_with(&other, "/email/change", &hidden_fields(&page.text))
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(
        app.account(&alice).await.email.unwrap().as_str(),
        "alice@new.example"
    );
}

async fn an_unconfirmed_address_gets_its_link_again_from_the_account_page(db: ScratchDb) {
    let mailbox = Mailbox::start().await;
    let app = spawn_mailing(db, &mailbox).await;
    app.user("carol", Some("carol@example.org"), "carols-password")
        .await;
    let b = signed_in(&app, "carol", "carols-password").await;
    let page = app.get_with(&b, "/account").await;
    assert!(page.text.contains("not confirmed"), "{}", page.text);
    let r = account_post(&app, &b, "/account/email/verify", &[]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let mail = mailbox.wait_for("carol@example.org", 1).await.remove(0);
    let path = mail.path_of_link(ISSUER);
    let page = app.get_with(&b, &path).await;
    let r = app
        .post_with(&b, "/email/verify", &hidden_fields(&page.text))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let page = app.get_with(&b, "/account").await;
    assert!(page.text.contains("confirmed") && !page.text.contains("not confirmed"));
    assert!(!page.text.contains("/account/email/verify"));
}

/// A client registered with `--require-verified-email` signs in only
/// people whose address is confirmed: the hosted pages ask for it first
/// (and send the link again), `prompt=none` is refused, and so are the
/// password grant and a code for anyone else.
async fn a_client_that_requires_a_confirmed_address_asks_for_it_first(db: ScratchDb) {
    use crate::browser::{authorize_path, log_in};
    use portcullis_tests::{location, param};
    let mailbox = Mailbox::start().await;
    let app = spawn_mailing(db, &mailbox).await;
    const REDIRECT: &str = "http://127.0.0.1/cb";
    let (app_id, _) = app
        .client(ClientSetup {
            public: true,
            first_party: true,
            grants: &["authorization_code", "refresh_token"],
            redirect_uris: &[REDIRECT],
            require_verified_email: true,
            ..Default::default()
        })
        .await;
    let (id, secret) = app
        .client(ClientSetup {
            require_verified_email: true,
            ..Default::default()
        })
        .await;
    let password_client = (id, secret.unwrap());
    app.user("michael", Some("michael@example.org"), "correct-horse")
        .await;

    let b = browser();
    let path = authorize_path(&app_id, REDIRECT, "s1");
    let r = log_in(&app, &b, &path).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(
        r.text.contains("Confirm your email address first"),
        "{}",
        r.text
    );
    assert!(r.text.contains("michael@example.org"), "{}", r.text);
    // Signed in now: prompt=none gets the refusal at the client.
    let r = app.get_with(&b, &format!("{path}&prompt=none")).await;
    assert_eq!(r.status, 302, "{}", r.text);
    assert_eq!(
        param(&location(&r), "error").as_deref(),
        Some("access_denied")
    );
    let grant = password_grant_as(&app, &password_client, "michael", "correct-horse").await;
    assert_eq!(grant.status, 400, "{}", grant.text);
    assert_eq!(grant.error(), "invalid_grant");

    // The page's button mails the link again; the address is confirmed.
    let page = app.get_with(&b, &path).await;
    assert_eq!(page.status, 403, "{}", page.text);
    let r = app
        .post_with(&b, "/account/email/verify", &hidden_fields(&page.text))
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let mail = mailbox.wait_for("michael@example.org", 1).await.remove(0);
    let confirm = app.get_with(&b, &mail.path_of_link(ISSUER)).await;
    let r = app
        .post_with(&b, "/email/verify", &hidden_fields(&confirm.text))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Now the client lets them in.
    let r = app.get_with(&b, &path).await;
    assert_eq!(r.status, 302, "{}", r.text);
    assert!(param(&location(&r), "code").is_some(), "{:?}", location(&r));
    let grant = password_grant_as(&app, &password_client, "michael", "correct-horse").await;
    assert_eq!(grant.status, 200, "{}", grant.text);
}

/// A seed API's registration keeps its documented shapes (200 with a code;
/// 409 for a taken address) and mails the verification link too.
async fn a_seed_apis_registration_keeps_its_shape_and_mails_the_link(db: ScratchDb) {
    let mailbox = Mailbox::start().await;
    let app = spawn_mailing(db, &mailbox).await;
    app.client(ClientSetup {
        id: Some("seed-app"),
        public: true,
        first_party: true,
        grants: &["authorization_code", "refresh_token"],
        redirect_uris: &["myapp://callback"],
        dialects: &["pkce-json"],
        ..Default::default()
    })
    .await;
    let register = serde_json::json!({
        "client_id": "seed-app", "response_type": "code", "redirect_uri": "myapp://callback",
        "code_challenge_method": "S256", "code_challenge": "qjrzSW9gMiUgpUvqgEPE4_-8swvyCtfOVvg55o5S_es",
        "state": "ahg84hek2n", "email": "michael@example.org", "password": "a-long-passphrase",
        "first_name": "Michael", "last_name": "Lee"
    });
    let r = app.post_json("/register", &register).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["authorization_code"].is_string(), "{}", r.text);
    let mail = mailbox.wait_for("michael@example.org", 1).await.remove(0);
    assert!(mail.subject.contains("Confirm your email"), "{mail:?}");
    assert!(
        mail.path_of_link(ISSUER)
            .starts_with("/email/verify?token=")
    );
    // Its documented conflict stays; the owner hears of the attempt.
    let again = app.post_json("/register", &register).await;
    assert_eq!(again.status, 409, "{}", again.text);
    let mails = mailbox.wait_for("michael@example.org", 2).await;
    assert!(
        mails[1].subject.contains("tried to register"),
        "{:?}",
        mails[1]
    );
}

async fn two_nodes_send_each_letter_once(db: ScratchDb) {
    let mailbox = Mailbox::start().await;
    let a = spawn_mailing(db, &mailbox).await;
    let b = spawn_mailing(a.db.share(), &mailbox).await;
    const PEOPLE: usize = 24;
    let mut users = Vec::new();
    for n in 0..PEOPLE {
        let id = a
            .user(
                &format!("user{n}"),
                Some(&format!("user{n}@example.org")),
                "a-password",
            )
            .await;
        users.push(a.account(&id).await);
    }
    // Half the letters written through each node; both nodes' senders
    // race for all of them.
    for (n, user) in users.iter().enumerate() {
        let node = if n % 2 == 0 { &a } else { &b };
        let mailed = node
            .services
            .roles
            .accounts
            .mail_link_to(LinkPurpose::Reset, user, node.clock.now())
            .await
            .unwrap();
        assert!(mailed);
    }
    for _ in 0..300 {
        if mailbox.all().len() >= PEOPLE {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let all = mailbox.all();
    assert_eq!(all.len(), PEOPLE, "{all:?}");
    let ids: std::collections::BTreeSet<_> = all.iter().map(|m| m.message_id.clone()).collect();
    assert_eq!(ids.len(), PEOPLE, "a letter went out twice");
    for n in 0..PEOPLE {
        assert_eq!(mailbox.to(&format!("user{n}@example.org")).len(), 1);
    }
}

async fn without_a_mail_server_links_are_printed(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let (id, secret) = app.client(ClientSetup::default()).await;
    let client = (id, secret.unwrap());
    // No "Forgot password?", and its page says why.
    let login = app.get_with(&browser(), "/login").await;
    assert!(!login.text.contains("/password/forgot"), "{}", login.text);
    assert_eq!(
        app.get_with(&browser(), "/password/forgot").await.status,
        403
    );
    let invitation = |print| {
        invite_user(
            &app.services.roles.accounts,
            Invitation {
                email: Email::parse("alice@example.org").unwrap(),
                username: Some(auth_core::types::Username::parse("alice").unwrap()),
            },
            print,
            app.clock.now(),
        )
    };
    let before = app.fingerprint().await;
    assert!(invitation(false).await.is_err());
    assert_eq!(
        app.fingerprint().await,
        before,
        "a refused invitation wrote"
    );
    let (_, printed) = invitation(true).await.unwrap();
    let url = printed.unwrap().url.expose().to_owned();
    let path = &url[ISSUER.len()..];
    let r = set_password_through(&app, path, "first-password", "first-password").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        password_grant(&app, &client, "first-password").await.status,
        200
    );
    // The operator's recovery link works the same way.
    let path = printed_recovery_path(&app, "alice").await;
    let r = set_password_through(&app, &path, "new-password", "new-password").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        password_grant(&app, &client, "new-password").await.status,
        200
    );
    // A link expires: 30 minutes for a recovery.
    let path = printed_recovery_path(&app, "alice").await;
    app.clock.advance(Duration::minutes(31));
    assert_eq!(app.get_with(&browser(), &path).await.status, 400);
}

scenarios! {
    without_a_mail_server_links_are_printed,
}

scenarios! {
    mail:
    a_forgotten_password_is_recovered_through_the_mail,
    recovery_answers_alike_and_is_throttled,
    registration_mails_a_link_that_verifies_the_address,
    an_invitation_sets_the_first_password_and_verifies_the_address,
    the_outbox_keeps_mail_through_an_smtp_outage,
    two_nodes_send_each_letter_once,
    an_address_changes_only_when_the_new_one_confirms,
    an_unconfirmed_address_gets_its_link_again_from_the_account_page,
    a_client_that_requires_a_confirmed_address_asks_for_it_first,
    a_seed_apis_registration_keeps_its_shape_and_mails_the_link,
}
