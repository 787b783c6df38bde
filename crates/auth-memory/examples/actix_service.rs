//! Someone else's actix-web service with the grants mounted in it: the
//! service keeps its own routes (`GET /hello`), adds a token endpoint
//! (`POST /oauth/token`, RFC 6749 form posts) and protects `GET /api/me`
//! with the access tokens the core issues.
//!
//! `cargo run -p auth-memory --example actix_service` serves on
//! 127.0.0.1:8080; with `--check` it serves on a free port, drives itself
//! over HTTP, prints what it saw and exits non-zero if anything was wrong.
mod common;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, http::StatusCode, web};
use auth_core::error::{ErrorCode, FlowError};
use auth_core::grants::{ClientCredentials, GrantRequest, Login};
use auth_core::service::Grants;
use auth_core::types::{ClientId, OpaqueToken, Scope};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

/// The token request's fields (RFC 6749 sections 4.3, 4.4 and 6).
#[derive(Deserialize)]
struct TokenForm {
    grant_type: String,
    client_id: String,
    client_secret: Option<String>,
    scope: Option<String>,
    username: Option<String>,
    password: Option<String>,
    refresh_token: Option<String>,
}

/// An OAuth error body; a fault of the core's adapters is a bare 500.
fn refused(e: FlowError) -> HttpResponse {
    match e {
        FlowError::OAuth(e) => {
            let status = match e.code() {
                ErrorCode::InvalidClient | ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
                _ => StatusCode::BAD_REQUEST,
            };
            HttpResponse::build(status)
                .json(json!({"error": e.code().as_str(), "error_description": e.description()}))
        }
        _ => HttpResponse::InternalServerError().finish(),
    }
}

fn bad_request(description: &str) -> HttpResponse {
    HttpResponse::BadRequest()
        .json(json!({"error": "invalid_request", "error_description": description}))
}

async fn token(
    req: actix_web::HttpRequest,
    tokens: web::Data<Grants>,
    form: web::Form<TokenForm>,
) -> HttpResponse {
    let form = form.into_inner();
    let Ok(client_id) = ClientId::parse(&form.client_id) else {
        return bad_request("client_id is malformed");
    };
    let scope = match form.scope.as_deref().map(Scope::parse).transpose() {
        Ok(scope) => scope,
        Err(_) => return bad_request("scope is malformed"),
    };
    let request = match (
        form.grant_type.as_str(),
        form.username,
        form.password,
        form.refresh_token,
    ) {
        ("client_credentials", ..) => GrantRequest::ClientCredentials { scope },
        ("password", Some(username), Some(password), _) => GrantRequest::Password {
            login: Login::Name(username.as_str().into()),
            password: password.into(),
            scope,
            from: req
                .peer_addr()
                .map(|a| a.ip().to_string())
                .unwrap_or_default(),
        },
        ("refresh_token", _, _, Some(token)) => GrantRequest::RefreshToken {
            refresh_token: OpaqueToken::new(token),
            scope,
        },
        _ => return bad_request("unsupported grant_type or a missing parameter"),
    };
    let credentials = ClientCredentials {
        client_id,
        secret: form.client_secret.map(OpaqueToken::new),
    };
    let client = match tokens.authenticate_client(&credentials).await {
        Ok(client) => client,
        Err(e) => return refused(e),
    };
    match tokens.exchange(&client, request, Utc::now()).await {
        Ok(issued) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(json!({
                "access_token": issued.access_token.expose(),
                "token_type": "Bearer",
                "expires_in": issued.expires_in,
                "refresh_token": issued.refresh_token.as_ref().map(|t| t.expose()),
                "scope": issued.scope.to_string(),
            })),
        Err(e) => refused(e),
    }
}

/// A route of the service, for bearers of a valid access token only.
async fn me(tokens: web::Data<Grants>, request: HttpRequest) -> HttpResponse {
    let bearer = request
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(bearer) = bearer else {
        return HttpResponse::Unauthorized()
            .insert_header(("WWW-Authenticate", "Bearer"))
            .finish();
    };
    match tokens.verify_access(bearer, Utc::now()).await {
        Ok(auth_core::grants::introspection::Bearer { claims, .. }) => {
            HttpResponse::Ok().json(json!({
                "subject": claims.subject.to_string(),
                "client_id": claims.client_id.as_str(),
                "scope": claims.scope.to_string(),
            }))
        }
        Err(e) => refused(e),
    }
}

async fn hello() -> &'static str {
    "the service's own route\n"
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let check = std::env::args().any(|a| a == "--check");
    let embedded = common::embed().await?;
    let tokens = web::Data::new(embedded.grants.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(tokens.clone())
            .route("/hello", web::get().to(hello))
            .route("/oauth/token", web::post().to(token))
            .route("/api/me", web::get().to(me))
    })
    .workers(1)
    .bind(if check {
        "127.0.0.1:0"
    } else {
        "127.0.0.1:8080"
    })?;
    let address = server.addrs()[0];
    let server = server.run();
    if !check {
        println!("serving on http://{address}");
        return Ok(server.await?);
    }
    let handle = server.handle();
    let running = tokio::spawn(server);
    let outcome = drive(&format!("http://{address}"), &embedded).await;
    handle.stop(true).await;
    running.await??;
    outcome
}

/// What a client of the service does, checked step by step.
async fn drive(base: &str, embedded: &common::Embedded) -> Result<(), Box<dyn std::error::Error>> {
    let http = reqwest::Client::new();
    let client_id = embedded.client.id.as_str();
    let secret = embedded.client_secret.expose();
    let hello = http
        .get(format!("{base}/hello"))
        .send()
        .await?
        .text()
        .await?;
    println!("GET /hello: {}", hello.trim());

    let answer: serde_json::Value = http
        .post(format!("{base}/oauth/token"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", client_id),
            ("client_secret", secret),
            ("username", "ada"),
            ("password", "correct horse battery staple"),
        ])
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let access = answer["access_token"].as_str().ok_or("no access token")?;
    println!(
        "POST /oauth/token (password): {} token",
        answer["token_type"]
    );

    let me = http
        .get(format!("{base}/api/me"))
        .bearer_auth(access)
        .send()
        .await?;
    let status = me.status();
    let body: serde_json::Value = me.json().await?;
    if !status.is_success() || body["scope"] != "reports:read reports:write" {
        return Err(format!("GET /api/me answered {status}: {body}").into());
    }
    println!(
        "GET /api/me with the token: {status}, scope {}",
        body["scope"]
    );

    let anonymous = http.get(format!("{base}/api/me")).send().await?.status();
    let forged = http
        .get(format!("{base}/api/me"))
        .bearer_auth(format!("{access}x"))
        .send()
        .await?
        .status();
    if anonymous != 401 || forged != 401 {
        return Err(format!("unauthenticated calls answered {anonymous} and {forged}").into());
    }
    println!("GET /api/me without a token: {anonymous}; with an altered one: {forged}");

    let wrong = http
        .post(format!("{base}/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", "not-the-secret"),
        ])
        .send()
        .await?;
    let status = wrong.status();
    let body: serde_json::Value = wrong.json().await?;
    if status != 401 || body["error"] != "invalid_client" {
        return Err(format!("a wrong secret answered {status}: {body}").into());
    }
    println!(
        "POST /oauth/token with a wrong secret: {status} {}",
        body["error"]
    );
    Ok(())
}
