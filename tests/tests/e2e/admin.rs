//! The admin API over HTTP, on both backends: absent until an admin client
//! exists; an admin client's token with the right scope only (never a
//! person's, whatever it holds); accounts paged by sealed cursors; writes
//! conditional on the version read (428, 412, and one winner of two racing
//! writes); RFC 9457 problems; groups and their members.
use portcullis_tests::{ClientSetup, Reply, ScratchDb, TestApp, scenarios};
use serde_json::{Value, json};

use auth_core::ports::Clock as _;

/// Registers an admin client with `scope` (all admin scopes when empty)
/// and returns a fresh token of it.
pub(crate) async fn admin_token(app: &TestApp, id: &str, scope: &str) -> String {
    use auth_core::accounts::{ClientSpec, register_client};
    use auth_core::types::{ClientId, ClientMfa, KeyAlgorithm, Scope, TokenFormat};
    let spec = ClientSpec {
        id: Some(ClientId::parse(id).unwrap()),
        name: id.into(),
        public: false,
        redirect_uris: Vec::new(),
        post_logout_redirect_uris: Vec::new(),
        grant_types: Vec::new(),
        scope: Scope::parse(scope).unwrap(),
        access_token_ttl: None,
        refresh_mode: None,
        first_party: false,
        dialects: Vec::new(),
        allow_plain_pkce: false,
        id_token_algorithm: KeyAlgorithm::Rs256,
        token_format: TokenFormat::Paseto,
        audiences: Vec::new(),
        allowed_origins: None,
        bare_native_schemes: false,
        require_verified_email: false,
        mfa: ClientMfa::Optional,
        allowed_groups: Vec::new(),
        admin: true,
    };
    let (client, secret) = register_client(&app.services.roles.accounts, spec, app.clock.now())
        .await
        .unwrap();
    assert_eq!(
        client.access_token_ttl,
        Some(chrono::Duration::minutes(5)),
        "short-lived"
    );
    client_token(app, id, &secret.unwrap().into_inner()).await
}

async fn client_token(app: &TestApp, id: &str, secret: &str) -> String {
    let r = app
        .post_form(
            "/token",
            Some((id, secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["access_token"].as_str().unwrap().to_owned()
}

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    if_match: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let mut request = app.http.request(method, app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(tag) = if_match {
        request = request.header("if-match", tag);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    Reply::from(request.send().await.unwrap()).await
}

fn is_problem(r: &Reply, status: u16) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(
        r.headers["content-type"], "application/problem+json",
        "{}",
        r.text
    );
    assert_eq!(r.body["status"], status, "{}", r.text);
    assert!(r.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
}

fn etag(r: &Reply) -> String {
    r.headers["etag"].to_str().unwrap().to_owned()
}

use reqwest::Method;

async fn only_an_admin_clients_token_with_the_scope_gets_in(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let (api, api_secret) = app.client(ClientSetup::default()).await;
    let plain = client_token(&app, &api, api_secret.as_deref().unwrap()).await;
    // No admin client yet: the API is not there, whoever asks.
    let r = call(&app, Method::GET, "/admin/v1/users", None, None, None).await;
    is_problem(&r, 404);
    let r = call(
        &app,
        Method::GET,
        "/admin/v1/users",
        Some(&plain),
        None,
        None,
    )
    .await;
    is_problem(&r, 404);

    // No other client may hold an admin scope.
    let refused = app.services.roles.accounts.clone();
    let spec = auth_core::accounts::ClientSpec {
        scope: auth_core::types::Scope::parse("read admin:users").unwrap(),
        ..auth_core::accounts::ClientSpec::of(
            &app.services
                .roles
                .grants
                .client(&auth_core::types::ClientId::parse(&api).unwrap())
                .await
                .unwrap()
                .unwrap(),
        )
    };
    let id = auth_core::types::ClientId::parse(&api).unwrap();
    assert!(
        auth_core::accounts::update_client(&refused, &id, spec)
            .await
            .is_err()
    );

    let reader = admin_token(&app, "reader", "admin:users:read").await;
    let r = call(&app, Method::GET, "/admin/v1/users", None, None, None).await;
    is_problem(&r, 401);
    assert!(r.headers.contains_key("www-authenticate"));
    let r = call(
        &app,
        Method::GET,
        "/admin/v1/users",
        Some("garbage"),
        None,
        None,
    )
    .await;
    is_problem(&r, 401);
    let r = call(
        &app,
        Method::GET,
        "/admin/v1/users",
        Some(&plain),
        None,
        None,
    )
    .await;
    is_problem(&r, 403);
    // A person's token, even one from an admin-minded first-party client.
    app.user("alice", Some("alice@example.com"), "correct horse battery")
        .await;
    let r = app
        .post_form(
            "/token",
            Some((&api, api_secret.as_deref().unwrap())),
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    let persons = r.body["access_token"].as_str().unwrap().to_owned();
    let r = call(
        &app,
        Method::GET,
        "/admin/v1/users",
        Some(&persons),
        None,
        None,
    )
    .await;
    is_problem(&r, 403);

    // A read scope reads, and writes nothing.
    let r = call(
        &app,
        Method::GET,
        "/admin/v1/users",
        Some(&reader),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["items"][0]["userName"], "alice");
    let r = call(
        &app,
        Method::POST,
        "/admin/v1/users",
        Some(&reader),
        None,
        Some(json!({"userName": "bob", "password": "correct horse battery"})),
    )
    .await;
    is_problem(&r, 403);
    assert!(
        r.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );
    let r = call(
        &app,
        Method::GET,
        "/admin/v1/groups",
        Some(&reader),
        None,
        None,
    )
    .await;
    is_problem(&r, 403);
}

async fn accounts_page_by_sealed_cursors_and_change_by_version(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let admin = admin_token(&app, "ops", "").await;
    let names = ["ann", "ben", "cat", "dan", "eve"];
    let mut ids = Vec::new();
    for (i, name) in names.iter().enumerate() {
        app.clock.advance(chrono::Duration::seconds(1));
        let r = call(
            &app,
            Method::POST,
            "/admin/v1/users",
            Some(&admin),
            None,
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": name,
                "emails": [{"value": format!("{name}@example.com")}],
                "password": "correct horse battery",
                "name": {"givenName": name.to_uppercase()},
                "emailVerified": i == 0,
            })),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["userName"], *name);
        assert_eq!(r.body["emails"][0]["value"], format!("{name}@example.com"));
        assert_eq!(r.body["emailVerified"], i == 0);
        assert_eq!(r.body["active"], true);
        assert_eq!(r.body["meta"]["version"], etag(&r));
        let id = r.body["id"].as_str().unwrap().to_owned();
        assert!(r.headers["location"].to_str().unwrap().ends_with(&id));
        ids.push(id);
    }
    // A taken name: 409, nothing created.
    let r = call(
        &app,
        Method::POST,
        "/admin/v1/users",
        Some(&admin),
        None,
        Some(json!({"userName": "ANN", "password": "correct horse battery"})),
    )
    .await;
    is_problem(&r, 409);
    let r = call(
        &app,
        Method::POST,
        "/admin/v1/users",
        Some(&admin),
        None,
        Some(json!({"userName": "x y z", "password": "correct horse battery"})),
    )
    .await;
    is_problem(&r, 400);

    // Pages of two, in creation order, to the end.
    let mut seen = Vec::new();
    let mut path = "/admin/v1/users?limit=2".to_owned();
    loop {
        let r = call(&app, Method::GET, &path, Some(&admin), None, None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let items = r.body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|u| u["id"].as_str().unwrap().to_owned()));
        match r.body["next"].as_str() {
            Some(next) => {
                let link = r.headers["link"].to_str().unwrap();
                assert!(link.ends_with("rel=\"next\""), "{link}");
                path = format!(
                    "/admin/v1/users?limit=2&after={}",
                    url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                );
                assert!(
                    link.contains(&path[path.find('?').unwrap()..]),
                    "{link} {path}"
                );
            }
            None => {
                assert!(!r.headers.contains_key("link"));
                break;
            }
        }
    }
    assert_eq!(seen, ids);

    // A cursor opens only on its own listing and search; a forged one, nowhere.
    let r = call(
        &app,
        Method::GET,
        "/admin/v1/users?limit=2",
        Some(&admin),
        None,
        None,
    )
    .await;
    let cursor: String =
        url::form_urlencoded::byte_serialize(r.body["next"].as_str().unwrap().as_bytes()).collect();
    let other = format!("/admin/v1/users?limit=2&search=a&after={cursor}");
    is_problem(
        &call(&app, Method::GET, &other, Some(&admin), None, None).await,
        400,
    );
    let forged = "/admin/v1/users?after=v4.local.AAAA";
    is_problem(
        &call(&app, Method::GET, forged, Some(&admin), None, None).await,
        400,
    );
    for bad in ["0", "201", "x", "-1"] {
        let path = format!("/admin/v1/users?limit={bad}");
        is_problem(
            &call(&app, Method::GET, &path, Some(&admin), None, None).await,
            400,
        );
    }
    // Search by a prefix of the username or the email, in any case; a
    // wildcard is a character like any other.
    let r = call(
        &app,
        Method::GET,
        "/admin/v1/users?search=EV",
        Some(&admin),
        None,
        None,
    )
    .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "{}", r.text);
    assert_eq!(r.body["items"][0]["userName"], "eve");
    let r = call(
        &app,
        Method::GET,
        "/admin/v1/users?search=%25",
        Some(&admin),
        None,
        None,
    )
    .await;
    assert_eq!(r.body["items"], json!([]), "{}", r.text);

    // A change names the version it changes.
    let ben = format!("/admin/v1/users/{}", ids[1]);
    let r = call(&app, Method::GET, &ben, Some(&admin), None, None).await;
    let first = etag(&r);
    let patch = json!({"name": {"familyName": "Bennett", "givenName": null}});
    let r = call(
        &app,
        Method::PATCH,
        &ben,
        Some(&admin),
        None,
        Some(patch.clone()),
    )
    .await;
    is_problem(&r, 428);
    let r = call(
        &app,
        Method::PATCH,
        &ben,
        Some(&admin),
        Some("\"0\""),
        Some(patch.clone()),
    )
    .await;
    is_problem(&r, 412);
    let r = call(
        &app,
        Method::PATCH,
        &ben,
        Some(&admin),
        Some(&first),
        Some(patch.clone()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], json!({"familyName": "Bennett"}));
    let second = etag(&r);
    assert_ne!(first, second);
    let r = call(
        &app,
        Method::PATCH,
        &ben,
        Some(&admin),
        Some(&first),
        Some(patch),
    )
    .await;
    is_problem(&r, 412);
    let r = call(
        &app,
        Method::PATCH,
        &ben,
        Some(&admin),
        Some(&second),
        Some(json!({"userName": "benjamin"})),
    )
    .await;
    is_problem(&r, 400);

    // A change through another door (the person's own password) is a new
    // version too.
    let person = app.client(ClientSetup::default()).await;
    let signed_in = app
        .post_form(
            "/token",
            Some((&person.0, person.1.as_deref().unwrap())),
            &[
                ("grant_type", "password"),
                ("username", "ben"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.text);
    let token = signed_in.body["access_token"].as_str().unwrap().to_owned();
    let r = call(
        &app,
        Method::POST,
        &format!("{ben}/password"),
        Some(&admin),
        None,
        Some(json!({"password": "another horse battery"})),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = call(&app, Method::GET, "/userinfo", Some(&token), None, None).await;
    assert_eq!(r.status, 401, "a new password signs the account out");
    let r = call(&app, Method::GET, &ben, Some(&admin), None, None).await;
    let third = etag(&r);
    assert_ne!(third, second);

    // Disabling: the account signs in nowhere.
    let r = call(
        &app,
        Method::PATCH,
        &ben,
        Some(&admin),
        Some(&third),
        Some(json!({"active": false})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["active"], false);
    let refused = app
        .post_form(
            "/token",
            Some((&person.0, person.1.as_deref().unwrap())),
            &[
                ("grant_type", "password"),
                ("username", "ben"),
                ("password", "another horse battery"),
            ],
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text);

    // Two writes naming the same version: one wins, the other is told.
    let cat = format!("/admin/v1/users/{}", ids[2]);
    let tag = etag(&call(&app, Method::GET, &cat, Some(&admin), None, None).await);
    let (a, b) = tokio::join!(
        call(
            &app,
            Method::PATCH,
            &cat,
            Some(&admin),
            Some(&tag),
            Some(json!({"name": {"familyName": "A"}}))
        ),
        call(
            &app,
            Method::PATCH,
            &cat,
            Some(&admin),
            Some(&tag),
            Some(json!({"name": {"familyName": "B"}}))
        ),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [200, 412], "{} {}", a.text, b.text);

    // Signing out, and deleting by version.
    let sessions = format!("{cat}/sessions");
    is_problem(
        &call(&app, Method::DELETE, &sessions, Some(&admin), None, None).await,
        428,
    );
    let r = call(
        &app,
        Method::DELETE,
        &sessions,
        Some(&admin),
        Some("*"),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = call(&app, Method::DELETE, &cat, Some(&admin), None, None).await;
    is_problem(&r, 428);
    let r = call(&app, Method::DELETE, &cat, Some(&admin), Some("*"), None).await;
    assert_eq!(r.status, 204, "{}", r.text);
    is_problem(
        &call(&app, Method::GET, &cat, Some(&admin), None, None).await,
        404,
    );
    is_problem(
        &call(
            &app,
            Method::GET,
            "/admin/v1/users/not-an-id",
            Some(&admin),
            None,
            None,
        )
        .await,
        404,
    );
    // Not JSON: 415.
    let r = Reply::from(
        app.http
            .post(app.url("/admin/v1/users"))
            .bearer_auth(&admin)
            .header("content-type", "text/plain")
            .body("userName=x")
            .send()
            .await
            .unwrap(),
    )
    .await;
    is_problem(&r, 415);
}

async fn groups_and_members_are_managed_by_version(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let admin = admin_token(&app, "ops", "admin:groups admin:users:read").await;
    let ann = app.user("ann", None, "correct horse battery").await;
    let r = call(
        &app,
        Method::POST,
        "/admin/v1/groups",
        Some(&admin),
        None,
        Some(json!({"name": "Staff", "description": "Everyone on the payroll"})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["name"], "staff");
    let group = format!("/admin/v1/groups/{}", r.body["id"].as_str().unwrap());
    // docs/admin.md: every write is a security event naming the admin
    // client that made it.
    let group_id = r.body["id"].as_str().unwrap().to_owned();
    let logged = portcullis_tests::log_lines_with(&format!("group {group_id} was created"));
    assert!(
        logged
            .iter()
            .any(|l| l.contains("group_created") && l.contains("actor_client_id=\"ops\"")),
        "{logged:?}"
    );
    let first = etag(&r);
    let r = call(
        &app,
        Method::POST,
        "/admin/v1/groups",
        Some(&admin),
        None,
        Some(json!({"name": "STAFF"})),
    )
    .await;
    is_problem(&r, 409);

    let rename = json!({"name": "employees"});
    is_problem(
        &call(
            &app,
            Method::PATCH,
            &group,
            Some(&admin),
            None,
            Some(rename.clone()),
        )
        .await,
        428,
    );
    let r = call(
        &app,
        Method::PATCH,
        &group,
        Some(&admin),
        Some(&first),
        Some(rename.clone()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "employees");
    let second = etag(&r);
    assert_ne!(first, second);
    is_problem(
        &call(
            &app,
            Method::PATCH,
            &group,
            Some(&admin),
            Some(&first),
            Some(rename),
        )
        .await,
        412,
    );

    let members = format!("{group}/members");
    let r = call(
        &app,
        Method::POST,
        &members,
        Some(&admin),
        None,
        Some(json!({"id": ann})),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = call(
        &app,
        Method::POST,
        &members,
        Some(&admin),
        None,
        Some(json!({"id": "ann"})),
    )
    .await;
    is_problem(&r, 400);
    let r = call(&app, Method::GET, &members, Some(&admin), None, None).await;
    assert_eq!(
        r.body["items"],
        json!([{"id": ann, "userName": "ann"}]),
        "{}",
        r.text
    );
    let member = format!("{members}/{ann}");
    is_problem(
        &call(&app, Method::DELETE, &member, Some(&admin), None, None).await,
        428,
    );
    let r = call(&app, Method::DELETE, &member, Some(&admin), Some("*"), None).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = call(&app, Method::GET, &members, Some(&admin), None, None).await;
    assert_eq!(r.body["items"], json!([]));

    is_problem(
        &call(
            &app,
            Method::DELETE,
            &group,
            Some(&admin),
            Some(&first),
            None,
        )
        .await,
        412,
    );
    let r = call(
        &app,
        Method::DELETE,
        &group,
        Some(&admin),
        Some(&second),
        None,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    is_problem(
        &call(&app, Method::GET, &group, Some(&admin), None, None).await,
        404,
    );
    let r = call(
        &app,
        Method::GET,
        "/admin/v1/groups",
        Some(&admin),
        None,
        None,
    )
    .await;
    assert_eq!(r.body, json!({"items": [], "next": null}));
}

async fn clients_are_registered_changed_and_deleted_by_version(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let admin = admin_token(&app, "ops", "admin:clients admin:users:read").await;
    // Registered after the admin client, so listed after it.
    app.clock.advance(chrono::Duration::seconds(1));
    app.services
        .roles
        .accounts
        .create_group("staff", "", app.clock.now())
        .await
        .unwrap();
    // Registered under the CLI's rules: a bad redirect URI is a 400 and
    // registers nothing; an admin scope for a client that is none, too.
    for (body, why) in [
        (
            json!({"name": "web", "redirectUris": ["http://rp.example/cb"]}),
            "http",
        ),
        (
            json!({"name": "web", "scope": "admin:users"}),
            "admin scope",
        ),
        (json!({"name": "web", "grantTypes": ["magic"]}), "grant"),
        (json!({"name": "web", "colour": "blue"}), "unknown field"),
    ] {
        let r = call(
            &app,
            Method::POST,
            "/admin/v1/clients",
            Some(&admin),
            None,
            Some(body),
        )
        .await;
        is_problem(&r, 400);
        assert!(!r.text.is_empty(), "{why}");
    }
    let r = call(
        &app,
        Method::POST,
        "/admin/v1/clients",
        Some(&admin),
        None,
        Some(json!({
            "id": "grafana",
            "name": "Grafana",
            "redirectUris": ["https://grafana.example/login/generic_oauth"],
            "grantTypes": ["authorization_code", "refresh_token"],
            "scope": "openid profile groups",
            "allowedGroups": ["staff"],
        })),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let secret = r.body["clientSecret"].as_str().unwrap().to_owned();
    assert_eq!(r.body["allowedGroups"].as_array().unwrap().len(), 1);
    assert!(
        r.headers["location"]
            .to_str()
            .unwrap()
            .ends_with("/admin/v1/clients/grafana")
    );
    let first = etag(&r);
    let r = call(
        &app,
        Method::POST,
        "/admin/v1/clients",
        Some(&admin),
        None,
        Some(json!({"id": "grafana", "name": "Again"})),
    )
    .await;
    is_problem(&r, 409);
    // Its secret works, and is never shown again.
    let r = call(
        &app,
        Method::GET,
        "/admin/v1/clients/grafana",
        Some(&admin),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body.get("clientSecret").is_none());
    assert_eq!(etag(&r), first);
    let check = |secret: String| {
        let app = &app;
        async move {
            app.post_form(
                "/token",
                Some(("grafana", &secret)),
                &[("grant_type", "refresh_token"), ("refresh_token", "x")],
            )
            .await
            .status
        }
    };
    assert_eq!(
        check(secret.clone()).await,
        400,
        "authenticated, then a bad grant"
    );

    // Changed by version; what cannot change is a 400.
    let path = "/admin/v1/clients/grafana";
    let patch = json!({"name": "Grafana (ops)", "allowedGroups": [], "accessTokenTtl": 600});
    is_problem(
        &call(
            &app,
            Method::PATCH,
            path,
            Some(&admin),
            None,
            Some(patch.clone()),
        )
        .await,
        428,
    );
    let r = call(
        &app,
        Method::PATCH,
        path,
        Some(&admin),
        Some(&first),
        Some(patch.clone()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Grafana (ops)");
    assert_eq!(r.body["allowedGroups"], json!([]));
    assert_eq!(r.body["accessTokenTtl"], 600);
    let second = etag(&r);
    assert_ne!(first, second);
    is_problem(
        &call(
            &app,
            Method::PATCH,
            path,
            Some(&admin),
            Some(&first),
            Some(patch),
        )
        .await,
        412,
    );
    let r = call(
        &app,
        Method::PATCH,
        path,
        Some(&admin),
        Some(&second),
        Some(json!({"public": true})),
    )
    .await;
    is_problem(&r, 400);

    // A new secret: the old one stops working, the new one works, and the
    // registration has a new version.
    let r = call(
        &app,
        Method::POST,
        &format!("{path}/secret"),
        Some(&admin),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rotated = r.body["clientSecret"].as_str().unwrap().to_owned();
    assert_ne!(etag(&r), second);
    assert_eq!(check(secret).await, 401);
    assert_eq!(check(rotated).await, 400);

    // Pages in registration order: the server's own clients, then the
    // admin client, then the new one.
    let (mut ids, mut cursors) = (Vec::new(), Vec::new());
    let mut path_now = "/admin/v1/clients?limit=1".to_owned();
    loop {
        let r = call(&app, Method::GET, &path_now, Some(&admin), None, None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "{}", r.text);
        ids.push(r.body["items"][0]["id"].as_str().unwrap().to_owned());
        let Some(next) = r.body["next"].as_str() else {
            break;
        };
        let next: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
        path_now = format!("/admin/v1/clients?limit=1&after={next}");
        cursors.push(next);
    }
    assert_eq!(ids[ids.len() - 2..], ["ops", "grafana"], "{ids:?}");
    let next = &cursors[0];
    // A clients cursor is no users cursor.
    let r = call(
        &app,
        Method::GET,
        &format!("/admin/v1/users?after={next}"),
        Some(&admin),
        None,
        None,
    )
    .await;
    is_problem(&r, 400);

    // Deleted by version.
    let current = etag(&call(&app, Method::GET, path, Some(&admin), None, None).await);
    is_problem(
        &call(
            &app,
            Method::DELETE,
            path,
            Some(&admin),
            Some(&second),
            None,
        )
        .await,
        412,
    );
    let r = call(
        &app,
        Method::DELETE,
        path,
        Some(&admin),
        Some(&current),
        None,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    is_problem(
        &call(&app, Method::GET, path, Some(&admin), None, None).await,
        404,
    );
}

async fn what_an_account_holds_is_listed_and_ended(db: ScratchDb) {
    let app = TestApp::spawn(db).await;
    let admin = admin_token(&app, "ops", "").await;
    let id = app
        .user("michael", Some("michael@example.com"), "correct-horse")
        .await;
    let user = format!("/admin/v1/users/{id}");
    // A grant (the password grant's refresh token), a browser session, and
    // then an authenticator app.
    let (client, secret) = app.client(ClientSetup::default()).await;
    let secret = secret.unwrap();
    let r = app
        .post_form(
            "/token",
            Some((&client, &secret)),
            &[
                ("grant_type", "password"),
                ("username", "michael"),
                ("password", "correct-horse"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let refresh = r.body["refresh_token"].as_str().unwrap().to_owned();
    let b = crate::factors::signed_in(&app, "michael").await;
    crate::factors::enrol_totp(&app, &b).await;

    let r = call(
        &app,
        Method::GET,
        &format!("{user}/sessions"),
        Some(&admin),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sessions = r.body["items"].as_array().unwrap();
    assert!(!sessions.is_empty(), "{}", r.text);
    assert_eq!(sessions[0]["method"], "password", "{}", r.text);

    let r = call(
        &app,
        Method::GET,
        &format!("{user}/grants"),
        Some(&admin),
        None,
        None,
    )
    .await;
    assert_eq!(
        r.body["items"][0]["clientId"],
        client.as_str(),
        "{}",
        r.text
    );
    let grant = format!("{user}/grants/{client}");
    is_problem(
        &call(&app, Method::DELETE, &grant, Some(&admin), None, None).await,
        428,
    );
    let r = call(&app, Method::DELETE, &grant, Some(&admin), Some("*"), None).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = call(
        &app,
        Method::GET,
        &format!("{user}/grants"),
        Some(&admin),
        None,
        None,
    )
    .await;
    assert_eq!(r.body["items"], json!([]), "{}", r.text);
    let r = app
        .post_form(
            "/token",
            Some((&client, &secret)),
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(r.status, 400, "the grant is gone: {}", r.text);

    let credentials = format!("{user}/credentials");
    let r = call(&app, Method::GET, &credentials, Some(&admin), None, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["items"][0]["kind"], "totp", "{}", r.text);
    assert_eq!(r.body["recoveryCodesLeft"], 10);
    let factor = r.body["items"][0]["id"].as_str().unwrap().to_owned();
    let one = format!("{credentials}/{factor}");
    is_problem(
        &call(
            &app,
            Method::DELETE,
            &one,
            Some(&admin),
            Some("\"1\""),
            None,
        )
        .await,
        412,
    );
    let r = call(&app, Method::DELETE, &one, Some(&admin), Some("*"), None).await;
    assert_eq!(r.status, 204, "{}", r.text);
    is_problem(
        &call(&app, Method::DELETE, &one, Some(&admin), Some("*"), None).await,
        404,
    );
    let r = call(&app, Method::GET, &credentials, Some(&admin), None, None).await;
    assert_eq!(r.body["items"], json!([]), "{}", r.text);
    let r = call(
        &app,
        Method::POST,
        &format!("{credentials}/reset"),
        Some(&admin),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["removed"], 0);

    let r = call(
        &app,
        Method::GET,
        &format!("{user}/identities"),
        Some(&admin),
        None,
        None,
    )
    .await;
    assert_eq!(r.body["items"], json!([]), "{}", r.text);
    let r = call(
        &app,
        Method::DELETE,
        &format!("{user}/identities/github"),
        Some(&admin),
        Some("*"),
        None,
    )
    .await;
    is_problem(&r, 404);

    // Someone who does not exist holds nothing.
    let nobody = format!("/admin/v1/users/{}", uuid::Uuid::new_v4());
    for path in ["sessions", "grants", "credentials", "identities"] {
        let r = call(
            &app,
            Method::GET,
            &format!("{nobody}/{path}"),
            Some(&admin),
            None,
            None,
        )
        .await;
        is_problem(&r, 404);
    }
}

scenarios! {
    what_an_account_holds_is_listed_and_ended,
    clients_are_registered_changed_and_deleted_by_version,
    only_an_admin_clients_token_with_the_scope_gets_in,
    accounts_page_by_sealed_cursors_and_change_by_version,
    groups_and_members_are_managed_by_version,
}
