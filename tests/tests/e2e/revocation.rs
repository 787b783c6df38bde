//! Ending a user's access ends every access token of that user, of every
//! format, at once: a password change on the account page or by the
//! operator, disabling the account, and the operator's sign-out
//! everywhere. Each token is shown to work first; afterwards it is refused
//! by userinfo, introspection and a dialect's `/me/`, while a client's own
//! client-credentials token keeps working, and a new sign-in works at once
//! (within the same second: a token generation, not a time, decides).
use auth_core::accounts::{end_user_sessions, set_user_disabled, set_user_password};
use auth_core::ports::Clock as _;
use auth_core::types::Password;
use portcullis_tests::{
    ClientSetup, ScratchDb, TestApp, browser, csrf_field, hidden_fields, scenarios,
};

use crate::browser::with;

#[derive(Clone, Copy, Debug)]
enum Trigger {
    AccountPage,
    OperatorPassword,
    Disable,
    SignOutEverywhere,
    RecoveryLink,
}

/// One client per token format, each speaking the spring-oauth dialect.
struct Format {
    name: &'static str,
    id: String,
    secret: String,
}

async fn formats(app: &TestApp) -> Vec<Format> {
    let mut out = Vec::new();
    for (name, jwt, reference) in [
        ("paseto", false, false),
        ("jwt", true, false),
        ("reference", false, true),
    ] {
        let (id, secret) = app
            .client(ClientSetup {
                id: Some(name),
                jwt_tokens: jwt,
                reference_tokens: reference,
                dialects: &["spring-oauth"],
                ..Default::default()
            })
            .await;
        out.push(Format {
            name,
            id,
            secret: secret.unwrap(),
        });
    }
    out
}

async fn password_grant(app: &TestApp, f: &Format, password: &str) -> String {
    let r = app
        .post_form(
            "/token",
            Some((&f.id, &f.secret)),
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", password),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}: {}", f.name, r.text);
    r.str("access_token").to_owned()
}

/// Whether `token` works at userinfo, introspection (asked by a resource
/// server serving every client) and spring-oauth's `/me/`; all three must
/// agree.
async fn works(app: &TestApp, resource: &(String, String), token: &str, user_token: bool) -> bool {
    let introspected = app
        .post_form(
            "/introspect",
            Some((&resource.0, &resource.1)),
            &[("token", token)],
        )
        .await;
    let active = introspected.body["active"].as_bool().unwrap();
    if !user_token {
        return active;
    }
    let userinfo = app.get_bearer("/userinfo", token).await.status == 200;
    let me = app.get_bearer("/me/", token).await.status == 200;
    assert_eq!((userinfo, me), (active, active), "the endpoints disagree");
    active
}

async fn change_password_on_the_page(app: &TestApp) {
    let b = browser();
    let page = app.get_with(&b, "/login").await;
    let form = with(
        hidden_fields(&page.text),
        &[("username", "alice"), ("password", "old-password")],
    );
    let r = app.post_with(&b, "/login", &form).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let page = app.get_with(&b, "/account").await;
    let change = with(
        csrf_field(&page.text).into_iter().take(1).collect(),
        &[
            ("current_password", "old-password"),
            ("new_password", "new-password"),
            ("confirm_password", "new-password"),
        ],
    );
    let r = app.post_with(&b, "/account/password", &change).await;
    assert_eq!(r.status, 303, "{}", r.text);
}

/// A recovery link (as the operator prints it; mail carries the same)
/// opened in a browser, and the new password set through its page.
async fn reset_through_a_link(app: &TestApp) {
    let path = crate::mail::printed_recovery_path(app, "alice").await;
    let r = crate::mail::set_password_through(app, &path, "new-password", "new-password").await;
    assert_eq!(r.status, 200, "{}", r.text);
}

async fn every_access_token_ends(db: ScratchDb, trigger: Trigger) {
    let app = TestApp::spawn(db).await;
    app.user("alice", Some("alice@example.org"), "old-password")
        .await;
    let formats = formats(&app).await;
    let ids: Vec<&str> = formats.iter().map(|f| f.id.as_str()).collect();
    let (rs, rs_secret) = app
        .client(ClientSetup {
            audiences: &ids,
            ..Default::default()
        })
        .await;
    let resource = (rs, rs_secret.unwrap());
    let mut tokens = Vec::new();
    for f in &formats {
        tokens.push((f.name, password_grant(&app, f, "old-password").await));
    }
    let own = app
        .post_form(
            "/token",
            Some((&formats[0].id, &formats[0].secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(own.status, 200, "{}", own.text);
    let own = own.str("access_token").to_owned();

    // The precondition: every token works.
    for (name, token) in &tokens {
        assert!(
            works(&app, &resource, token, true).await,
            "{name} did not work before"
        );
    }
    assert!(works(&app, &resource, &own, false).await);

    let now = app.clock.now();
    let password = match trigger {
        Trigger::AccountPage => {
            change_password_on_the_page(&app).await;
            "new-password"
        }
        Trigger::OperatorPassword => {
            let new = Password::parse("new-password").unwrap();
            set_user_password(&app.services.roles.accounts, "alice", &new, now)
                .await
                .unwrap()
                .unwrap();
            "new-password"
        }
        Trigger::Disable => {
            // Enabling the account again brings none of its tokens back.
            for disabled in [true, false] {
                set_user_disabled(&app.services.roles.accounts, "alice", disabled, now)
                    .await
                    .unwrap()
                    .unwrap();
            }
            "old-password"
        }
        Trigger::SignOutEverywhere => {
            end_user_sessions(&app.services.roles.accounts, "alice", now)
                .await
                .unwrap()
                .unwrap();
            "old-password"
        }
        Trigger::RecoveryLink => {
            reset_through_a_link(&app).await;
            "new-password"
        }
    };

    for (name, token) in &tokens {
        assert!(
            !works(&app, &resource, token, true).await,
            "{trigger:?}: the {name} access token still works"
        );
    }
    assert!(
        works(&app, &resource, &own, false).await,
        "{trigger:?}: the client's own token was ended too"
    );
    // A new sign-in works at once, on the same (unmoved) clock.
    for f in &formats {
        let fresh = password_grant(&app, f, password).await;
        assert!(
            works(&app, &resource, &fresh, true).await,
            "{trigger:?}: a new {} token is refused",
            f.name
        );
    }
}

async fn a_password_changed_on_the_account_page_ends_every_access_token(db: ScratchDb) {
    every_access_token_ends(db, Trigger::AccountPage).await
}

async fn a_password_set_by_the_operator_ends_every_access_token(db: ScratchDb) {
    every_access_token_ends(db, Trigger::OperatorPassword).await
}

async fn disabling_an_account_ends_every_access_token_for_good(db: ScratchDb) {
    every_access_token_ends(db, Trigger::Disable).await
}

async fn signing_out_everywhere_ends_every_access_token(db: ScratchDb) {
    every_access_token_ends(db, Trigger::SignOutEverywhere).await
}

async fn a_password_set_through_a_recovery_link_ends_every_access_token(db: ScratchDb) {
    every_access_token_ends(db, Trigger::RecoveryLink).await
}

scenarios! {
    a_password_set_through_a_recovery_link_ends_every_access_token,
    a_password_changed_on_the_account_page_ends_every_access_token,
    a_password_set_by_the_operator_ends_every_access_token,
    disabling_an_account_ends_every_access_token_for_good,
    signing_out_everywhere_ends_every_access_token,
}
