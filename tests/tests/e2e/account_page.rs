//! The front door and the account holder's page over HTTP: what a
//! signed-in person sees and may do, and what is refused to everyone else.
use portcullis_tests::{
    ClientSetup, Reply, ScratchDb, TestApp, browser, csrf_field, hidden_fields, scenarios,
};

use crate::browser::with;

/// Signs `b` in through the login page with no client: it lands on the
/// account page.
async fn sign_in(app: &TestApp, b: &reqwest::Client, user: &str, password: &str) {
    let page = app.get_with(b, "/login").await;
    let form = with(
        hidden_fields(&page.text),
        &[("username", user), ("password", password)],
    );
    let r = app.post_with(b, "/login", &form).await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.header("location"), Some("/account"));
}

async fn account(app: &TestApp, b: &reqwest::Client) -> Reply {
    app.get_with(b, "/account").await
}

/// A form of the page: its CSRF token (every form carries the same one)
/// and `fields`.
fn form(page: &str, fields: &[(&str, &str)]) -> Vec<(String, String)> {
    with(csrf_field(page).into_iter().take(1).collect(), fields)
}

/// The session handles the page lists: (handle, is this browser).
fn sessions(page: &str) -> Vec<(String, bool)> {
    page.split("<tr>")
        .filter_map(|row| {
            let handle = hidden_fields(row)
                .into_iter()
                .find(|(k, _)| k == "session")?
                .1;
            Some((handle, row.contains("this browser")))
        })
        .collect()
}

/// A client allowed the password and refresh grants, and a user's tokens from it.
async fn app_with_tokens(app: &TestApp) -> (String, String, Reply) {
    let (id, secret) = app
        .client(ClientSetup {
            id: Some("photos"),
            grants: &["password", "refresh_token"],
            ..Default::default()
        })
        .await;
    let secret = secret.unwrap();
    let t = app
        .post_form(
            "/token",
            Some((&id, &secret)),
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "old-password"),
            ],
        )
        .await;
    assert_eq!(t.status, 200, "{}", t.text);
    (id, secret, t)
}

async fn refresh(app: &TestApp, id: &str, secret: &str, token: &str) -> Reply {
    app.post_form(
        "/token",
        Some((id, secret)),
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await
}

async fn the_front_door_leads_to_the_account_page(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    app.user("alice", Some("alice@example.com"), "old-password")
        .await;
    let b = browser();
    let door = app.get_with(&b, "/").await;
    assert_eq!(door.status, 200);
    assert!(
        door.text.contains("href=\"/login\"") && door.text.contains("href=\"/register\""),
        "{}",
        door.text
    );
    assert!(
        door.header("content-security-policy")
            .unwrap()
            .contains("default-src 'none'")
    );
    let r = account(&app, &b).await;
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some("/login")),
        "signed out: to the login page"
    );

    sign_in(&app, &b, "alice", "old-password").await;
    let page = account(&app, &b).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("alice@example.com"));
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert_eq!(
        sessions(&page.text),
        vec![(sessions(&page.text)[0].0.clone(), true)]
    );
    assert!(page.text.contains("No application holds access"));
    assert!(
        app.get_with(&b, "/")
            .await
            .text
            .contains("href=\"/account\"")
    );
}

async fn a_password_change_needs_the_current_one_and_signs_out_everything_else(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    app.user("alice", None, "old-password").await;
    let (id, secret, tokens) = app_with_tokens(&app).await;
    let (here, elsewhere) = (browser(), browser());
    sign_in(&app, &here, "alice", "old-password").await;
    sign_in(&app, &elsewhere, "alice", "old-password").await;
    let page = account(&app, &here).await.text;
    let before = app.fingerprint().await;

    // Refused: wrong current password, mismatched confirmation, too short,
    // no CSRF token, another site. Nothing changes.
    let change = |current: &str, new: &str, confirm: &str| {
        form(
            &page,
            &[
                ("current_password", current),
                ("new_password", new),
                ("confirm_password", confirm),
            ],
        )
    };
    let r = app
        .post_with(
            &here,
            "/account/password",
            &change("wrong", "new-password", "new-password"),
        )
        .await;
    assert_eq!(r.status, 401);
    assert!(
        r.text.contains("current password is incorrect"),
        "{}",
        r.text
    );
    let r = app
        .post_with(
            &here,
            "/account/password",
            &change("old-password", "new-password", "other-password"),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = app
        .post_with(
            &here,
            "/account/password",
            &change("old-password", "short", "short"),
        )
        .await;
    assert_eq!(r.status, 400);
    let no_csrf: Vec<(String, String)> = change("old-password", "new-password", "new-password")
        .into_iter()
        .filter(|(k, _)| k != "csrf_token")
        .collect();
    assert_eq!(
        app.post_with(&here, "/account/password", &no_csrf)
            .await
            .status,
        403
    );
    let cross_site = here
        .post(app.url("/account/password"))
        .header("sec-fetch-site", "cross-site")
        .form(&change("old-password", "new-password", "new-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    // The wrong attempt counted against the login throttle (a row), nothing else.
    let after: Vec<String> = app
        .fingerprint()
        .await
        .into_iter()
        .filter(|r| !r.starts_with("throttle"))
        .collect();
    let before_rest: Vec<String> = before
        .into_iter()
        .filter(|r| !r.starts_with("throttle"))
        .collect();
    assert_eq!(after, before_rest, "a refused change changes nothing");
    assert_eq!(account(&app, &elsewhere).await.status, 200);

    let r = app
        .post_with(
            &here,
            "/account/password",
            &change("old-password", "new-password", "new-password"),
        )
        .await;
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some("/account?notice=password")),
        "{}",
        r.text
    );
    let page = app.get_with(&here, "/account?notice=password").await;
    assert_eq!(page.status, 200, "this browser stays signed in");
    assert!(page.text.contains("Your password was changed"));
    let made_up = app
        .get_with(&here, "/account?notice=%3Cb%3Eyou+won%3C%2Fb%3E")
        .await;
    assert!(
        made_up.status == 200 && !made_up.text.contains("you won"),
        "a notice is one of the page's own"
    );
    assert_eq!(sessions(&page.text).len(), 1);
    assert_eq!(
        account(&app, &elsewhere).await.status,
        303,
        "the other browser is signed out"
    );
    let r = refresh(&app, &id, &secret, tokens.str("refresh_token")).await;
    assert_eq!(
        (r.status, r.error()),
        (400, "invalid_grant"),
        "the application must sign in again"
    );
    let old = app
        .post_form(
            "/token",
            Some((&id, &secret)),
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "old-password"),
            ],
        )
        .await;
    assert_eq!(old.status, 400);
    let new = app
        .post_form(
            "/token",
            Some((&id, &secret)),
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "new-password"),
            ],
        )
        .await;
    assert_eq!(new.status, 200);
}

async fn another_session_is_signed_out_from_the_page_and_no_one_elses(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    app.user("alice", None, "old-password").await;
    app.user("carol", None, "carols-password").await;
    let (here, elsewhere, carols) = (browser(), browser(), browser());
    sign_in(&app, &here, "alice", "old-password").await;
    sign_in(&app, &elsewhere, "alice", "old-password").await;
    sign_in(&app, &carols, "carol", "carols-password").await;
    let page = account(&app, &here).await.text;
    let listed = sessions(&page);
    assert_eq!(listed.len(), 2, "{page}");
    let other = listed
        .iter()
        .find(|(_, current)| !current)
        .unwrap()
        .0
        .clone();

    // Carol's session cannot be ended from alice's page.
    let carols_handle = sessions(&account(&app, &carols).await.text)[0].0.clone();
    let r = app
        .post_with(
            &here,
            "/account/sessions/end",
            &form(&page, &[("session", &carols_handle)]),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = app
        .post_with(
            &here,
            "/account/sessions/end",
            &form(&page, &[("session", "not-a-handle")]),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(account(&app, &carols).await.status, 200);

    let r = app
        .post_with(
            &here,
            "/account/sessions/end",
            &form(&page, &[("session", &other)]),
        )
        .await;
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some("/account?notice=session"))
    );
    assert_eq!(account(&app, &elsewhere).await.status, 303);
    assert_eq!(account(&app, &here).await.status, 200);

    // Ending its own session signs this browser out.
    let page = account(&app, &here).await.text;
    let mine = sessions(&page)[0].0.clone();
    let r = app
        .post_with(
            &here,
            "/account/sessions/end",
            &form(&page, &[("session", &mine)]),
        )
        .await;
    assert_eq!((r.status, r.header("location")), (303, Some("/login")));
    assert_eq!(account(&app, &here).await.status, 303);
}

async fn an_applications_access_is_taken_back(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    app.user("alice", None, "old-password").await;
    app.user("bob", None, "bobs-password").await;
    let (id, secret, tokens) = app_with_tokens(&app).await;
    let b = browser();
    sign_in(&app, &b, "alice", "old-password").await;
    let page = account(&app, &b).await.text;
    assert!(
        page.contains("photos") && page.contains("Remove access"),
        "{page}"
    );

    // Bob holds nothing of this client: his post changes nothing.
    let bobs = browser();
    sign_in(&app, &bobs, "bob", "bobs-password").await;
    let bobs_page = account(&app, &bobs).await.text;
    let r = app
        .post_with(
            &bobs,
            "/account/applications/revoke",
            &form(&bobs_page, &[("client_id", &id)]),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        app.get_bearer("/userinfo", tokens.str("access_token"))
            .await
            .status,
        200
    );

    let r = app
        .post_with(
            &b,
            "/account/applications/revoke",
            &form(&page, &[("client_id", &id)]),
        )
        .await;
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some("/account?notice=application"))
    );
    assert_eq!(
        app.get_bearer("/userinfo", tokens.str("access_token"))
            .await
            .status,
        401,
        "its access token too"
    );
    let r = refresh(&app, &id, &secret, tokens.str("refresh_token")).await;
    assert_eq!((r.status, r.error()), (400, "invalid_grant"));
    assert!(
        account(&app, &b)
            .await
            .text
            .contains("No application holds access")
    );
    let r = app
        .post_with(
            &b,
            "/account/applications/revoke",
            &form(&page, &[("client_id", &id)]),
        )
        .await;
    assert_eq!(r.status, 400, "nothing left to take back");
}

async fn two_applications_of_one_name_are_told_apart_by_where_they_run(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    app.user("alice", None, "old-password").await;
    for host in ["one.example", "two.example"] {
        let uri = format!("https://{host}/cb");
        let (id, secret) = app
            .client(ClientSetup {
                grants: &["password", "refresh_token"],
                redirect_uris: &[uri.as_str()],
                ..Default::default()
            })
            .await;
        let t = app
            .post_form(
                "/token",
                Some((&id, &secret.unwrap())),
                &[
                    ("grant_type", "password"),
                    ("username", "alice"),
                    ("password", "old-password"),
                ],
            )
            .await;
        assert_eq!(t.status, 200, "{}", t.text);
    }
    let b = browser();
    sign_in(&app, &b, "alice", "old-password").await;
    let page = account(&app, &b).await.text;
    for host in ["one.example", "two.example"] {
        assert!(
            page.contains(&format!(
                "test client <span class=\"hint\">at {host}</span>"
            )),
            "{page}"
        );
    }
}

async fn sessions_are_told_apart_by_browser_address_and_method(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    app.user("alice", None, "old-password").await;
    let browser_at = |user_agent: &str, from: &str| {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(user_agent)
            .local_address(from.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap()
    };
    let laptop = browser_at(
        "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "127.0.0.3",
    );
    let office = browser_at(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        "127.0.0.4",
    );
    sign_in(&app, &laptop, "alice", "old-password").await;
    sign_in(&app, &office, "alice", "old-password").await;
    let page = account(&app, &laptop).await.text;
    let rows: Vec<&str> = page
        .split("<tr>")
        .filter(|r| r.contains("/account/sessions/end"))
        .collect();
    assert_eq!(rows.len(), 2, "{page}");
    let laptop_row = rows
        .iter()
        .find(|r| r.contains("Firefox"))
        .unwrap_or_else(|| panic!("{page}"));
    assert!(
        laptop_row.contains("on Linux")
            && laptop_row.contains("from 127.0.0.3")
            && laptop_row.contains("with password")
            && laptop_row.contains("this browser"),
        "{laptop_row}"
    );
    let office_row = rows
        .iter()
        .find(|r| r.contains("Chrome"))
        .unwrap_or_else(|| panic!("{page}"));
    assert!(
        office_row.contains("Windows")
            && office_row.contains("from 127.0.0.4")
            && !office_row.contains("this browser"),
        "{office_row}"
    );
}

scenarios! {
    the_front_door_leads_to_the_account_page,
    a_password_change_needs_the_current_one_and_signs_out_everything_else,
    another_session_is_signed_out_from_the_page_and_no_one_elses,
    an_applications_access_is_taken_back,
    two_applications_of_one_name_are_told_apart_by_where_they_run,
    sessions_are_told_apart_by_browser_address_and_method,
}
