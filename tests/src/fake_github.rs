//! A fake GitHub on 127.0.0.1: the OAuth web flow (with PKCE S256), the
//! device flow, `GET /user` and `GET /user/emails`, and the ways GitHub
//! fails (wrong codes, revoked tokens, unverified and private emails, 5xx,
//! slow answers, redirects, oversized bodies). The tests point the GitHub
//! adapter at it; the network never reaches the real one.
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::web::{Data, Form, Query};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, get, post};
use base64::Engine as _;
use serde_json::json;
use sha2::Digest as _;

pub const CLIENT_ID: &str = "fake-github-app";
pub const CLIENT_SECRET: &str = "fake-github-secret";

/// One of a fake user's email addresses.
#[derive(Debug, Clone)]
pub struct FakeEmail {
    pub email: String,
    pub primary: bool,
    pub verified: bool,
}

/// A GitHub account.
#[derive(Debug, Clone)]
pub struct FakeUser {
    pub id: u64,
    pub login: String,
    pub emails: Vec<FakeEmail>,
    /// Whether the token may list the emails (the `user:email` scope);
    /// without it GitHub answers 404.
    pub emails_visible: bool,
}

impl FakeUser {
    /// An account with one verified primary address.
    pub fn new(id: u64, login: &str, email: &str) -> Self {
        Self {
            id,
            login: login.into(),
            emails: vec![FakeEmail {
                email: email.into(),
                primary: true,
                verified: true,
            }],
            emails_visible: true,
        }
    }
}

/// How `GET /user` answers for a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Normal,
    ServerError,
    Slow(Duration),
    Redirect,
    Huge,
    Revoked,
}

/// Who a token was issued to, besides our OAuth app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Issuer {
    /// Another OAuth app the person authorized (or a GitHub App, a CLI).
    OtherApp,
    /// A personal access token.
    Personal,
}

/// What the device flow's polls answer, in order; `Token(t)` ends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceStep {
    Pending,
    SlowDown,
    Expired,
    Denied,
    Token(String),
}

struct Code {
    token: String,
    challenge: String,
    redirect_uri: String,
}

#[derive(Default)]
struct State {
    tokens: HashMap<String, (FakeUser, Behaviour)>,
    /// Tokens not issued to our app; the rest are ours.
    foreign: HashMap<String, Issuer>,
    /// How many "check a token" calls came.
    checks: usize,
    next_login: Option<String>,
    codes: HashMap<String, Code>,
    next_device: VecDeque<DeviceStep>,
    devices: HashMap<String, VecDeque<DeviceStep>>,
    polls: Vec<Instant>,
    counter: u64,
}

/// The running fake.
#[derive(Clone)]
pub struct FakeGitHub {
    pub base: String,
    state: Arc<Mutex<State>>,
}

impl FakeGitHub {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let data = Data::new(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .service(authorize)
                .service(access_token)
                .service(device_code)
                .service(user_endpoint)
                .service(emails_endpoint)
                .service(check_token)
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .expect("bind the fake GitHub");
        let port = server.addrs()[0].port();
        tokio::spawn(server.run());
        Self {
            base: format!("http://127.0.0.1:{port}"),
            state,
        }
    }

    /// `token` is an access token of `user`, answered as `behaviour` says.
    pub fn add_token(&self, token: &str, user: FakeUser, behaviour: Behaviour) {
        self.lock().tokens.insert(token.into(), (user, behaviour));
    }

    /// `token` names `user` at `GET /user` as any token does, but was issued
    /// by `issuer`, not to our app: GitHub's "check a token" says 404.
    pub fn add_foreign_token(&self, token: &str, user: FakeUser, issuer: Issuer) {
        let mut s = self.lock();
        s.tokens.insert(token.into(), (user, Behaviour::Normal));
        s.foreign.insert(token.into(), issuer);
    }

    /// How many "check a token" calls GitHub has answered.
    pub fn token_checks(&self) -> usize {
        self.lock().checks
    }

    /// The next person to approve at `/login/oauth/authorize` holds `token`.
    pub fn sign_in_next(&self, token: &str) {
        self.lock().next_login = Some(token.into());
    }

    /// The next device flow's polls answer `steps`.
    pub fn script_device(&self, steps: impl IntoIterator<Item = DeviceStep>) {
        self.lock().next_device = steps.into_iter().collect();
    }

    /// When each device poll arrived.
    pub fn device_polls(&self) -> Vec<Instant> {
        self.lock().polls.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }
}

type Shared = Data<Arc<Mutex<State>>>;

#[get("/login/oauth/authorize")]
async fn authorize(state: Shared, query: Query<HashMap<String, String>>) -> HttpResponse {
    let q = query.into_inner();
    if q.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || q.get("code_challenge_method").map(String::as_str) != Some("S256")
    {
        return HttpResponse::BadRequest().body("bad client_id or no PKCE S256");
    }
    let mut s = state.lock().unwrap();
    let Some(token) = s.next_login.clone() else {
        return HttpResponse::BadRequest().body("nobody is signing in");
    };
    s.counter += 1;
    let code = format!("code-{}", s.counter);
    let redirect_uri = q.get("redirect_uri").cloned().unwrap_or_default();
    s.codes.insert(
        code.clone(),
        Code {
            token,
            challenge: q.get("code_challenge").cloned().unwrap_or_default(),
            redirect_uri: redirect_uri.clone(),
        },
    );
    let mut location = url::Url::parse(&redirect_uri).unwrap();
    location
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair(
            "state",
            q.get("state").map(String::as_str).unwrap_or_default(),
        );
    HttpResponse::Found()
        .insert_header(("location", location.as_str()))
        .finish()
}

fn error(code: &str) -> HttpResponse {
    // GitHub answers token errors with 200.
    HttpResponse::Ok().json(json!({"error": code, "error_description": format!("fake: {code}")}))
}

fn token_answer(token: &str) -> HttpResponse {
    HttpResponse::Ok().json(
        json!({"access_token": token, "token_type": "bearer", "scope": "read:user,user:email"}),
    )
}

#[post("/login/oauth/access_token")]
async fn access_token(
    req: HttpRequest,
    state: Shared,
    form: Form<HashMap<String, String>>,
) -> HttpResponse {
    if req.headers().get("accept").and_then(|v| v.to_str().ok()) != Some("application/json") {
        return HttpResponse::Ok().body("access_token=form-encoded-because-no-accept-header");
    }
    let f = form.into_inner();
    let mut s = state.lock().unwrap();
    if f.get("grant_type").map(String::as_str)
        == Some("urn:ietf:params:oauth:grant-type:device_code")
    {
        s.polls.push(Instant::now());
        let device = f.get("device_code").cloned().unwrap_or_default();
        let Some(steps) = s.devices.get_mut(&device) else {
            return error("incorrect_device_code");
        };
        return match steps.pop_front() {
            Some(DeviceStep::Pending) => error("authorization_pending"),
            Some(DeviceStep::SlowDown) => error("slow_down"),
            Some(DeviceStep::Expired) | None => error("expired_token"),
            Some(DeviceStep::Denied) => error("access_denied"),
            Some(DeviceStep::Token(t)) => {
                // A device code works once.
                s.devices.remove(&device);
                token_answer(&t)
            }
        };
    }
    if f.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || f.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        return error("incorrect_client_credentials");
    }
    let Some(code) = f.get("code").and_then(|c| s.codes.remove(c)) else {
        return error("bad_verification_code");
    };
    let verifier = f.get("code_verifier").cloned().unwrap_or_default();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    if challenge != code.challenge {
        return error("bad_verification_code");
    }
    if f.get("redirect_uri") != Some(&code.redirect_uri) {
        return error("redirect_uri_mismatch");
    }
    token_answer(&code.token)
}

#[post("/login/device/code")]
async fn device_code(
    req: HttpRequest,
    state: Shared,
    form: Form<HashMap<String, String>>,
) -> HttpResponse {
    if form.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return HttpResponse::UnprocessableEntity().json(json!({"error": "Not Found"}));
    }
    let mut s = state.lock().unwrap();
    s.counter += 1;
    let device = format!("device-{}", s.counter);
    let steps = std::mem::take(&mut s.next_device);
    s.devices.insert(device.clone(), steps);
    let host = req.connection_info().host().to_owned();
    HttpResponse::Ok().json(json!({
        "device_code": device,
        "user_code": format!("WDJB-{:04}", s.counter),
        "verification_uri": format!("http://{host}/login/device"),
        "expires_in": 900,
        "interval": 1,
    }))
}

/// The token of a request, and how to answer for it.
fn holder(req: &HttpRequest, state: &Shared) -> Option<(FakeUser, Behaviour)> {
    let token = req
        .headers()
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    state.lock().unwrap().tokens.get(token).cloned()
}

async fn misbehave(behaviour: Behaviour) -> Option<HttpResponse> {
    match behaviour {
        Behaviour::Normal => None,
        Behaviour::ServerError => Some(HttpResponse::BadGateway().body("upstream exploded")),
        Behaviour::Slow(d) => {
            actix_web::rt::time::sleep(d).await;
            None
        }
        Behaviour::Redirect => Some(
            HttpResponse::MovedPermanently()
                .insert_header(("location", "http://127.0.0.1:9/elsewhere"))
                .finish(),
        ),
        Behaviour::Huge => Some(
            HttpResponse::Ok()
                .content_type("application/json")
                .body(format!(
                    "{{\"id\": 1, \"login\": \"{}\"}}",
                    "x".repeat(2 * 1024 * 1024)
                )),
        ),
        Behaviour::Revoked => Some(unauthorized()),
    }
}

fn unauthorized() -> HttpResponse {
    HttpResponse::Unauthorized().json(json!({"message": "Bad credentials"}))
}

#[get("/user")]
async fn user_endpoint(req: HttpRequest, state: Shared) -> HttpResponse {
    let Some((user, behaviour)) = holder(&req, &state) else {
        return unauthorized();
    };
    if let Some(answer) = misbehave(behaviour).await {
        return answer;
    }
    HttpResponse::Ok()
        .json(json!({"id": user.id, "login": user.login, "name": "The Octocat", "email": null}))
}

#[get("/user/emails")]
async fn emails_endpoint(req: HttpRequest, state: Shared) -> HttpResponse {
    let Some((user, _)) = holder(&req, &state) else {
        return unauthorized();
    };
    if !user.emails_visible {
        return HttpResponse::NotFound().json(json!({"message": "Not Found"}));
    }
    HttpResponse::Ok().json(
        user.emails
            .iter()
            .map(|e| json!({"email": e.email, "primary": e.primary, "verified": e.verified, "visibility": "private"}))
            .collect::<Vec<_>>(),
    )
}

/// GitHub's "check a token": `POST /applications/{client_id}/token` with
/// Basic `client_id:client_secret` and `{"access_token": ...}`; 200 with
/// the app for a token of that OAuth app, 404 for anything else.
#[post("/applications/{client_id}/token")]
async fn check_token(
    req: HttpRequest,
    state: Shared,
    path: actix_web::web::Path<String>,
    body: actix_web::web::Json<serde_json::Value>,
) -> HttpResponse {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    let authorized = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        == Some(&expected);
    let mut s = state.lock().unwrap();
    s.checks += 1;
    if !authorized || path.into_inner() != CLIENT_ID {
        return HttpResponse::NotFound().json(json!({"message": "Not Found"}));
    }
    let token = body
        .get("access_token")
        .and_then(|t| t.as_str())
        .unwrap_or_default();
    match s.tokens.get(token) {
        Some((user, behaviour))
            if *behaviour != Behaviour::Revoked && !s.foreign.contains_key(token) =>
        {
            HttpResponse::Ok().json(json!({
                "id": 1,
                "token": token,
                "app": {"client_id": CLIENT_ID, "name": "Portcullis", "url": "http://issuer.test"},
                "user": {"login": user.login, "id": user.id},
                "scopes": ["read:user", "user:email"],
            }))
        }
        _ => HttpResponse::NotFound().json(json!({"message": "Not Found"})),
    }
}
