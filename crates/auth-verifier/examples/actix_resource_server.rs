//! Protecting an actix-web route with `auth-verifier`.
//!
//! The key set is fetched by the application (here: read from a file named
//! by `PORTCULLIS_KEYS`, the saved body of `GET /.well-known/paserk`) and
//! shared with the handlers; each request's bearer token is verified
//! offline.
//!
//! `PORTCULLIS_KEYS=paserk.json cargo run -p auth-verifier --example actix_resource_server`
use std::sync::Arc;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use auth_verifier::{Expected, KeySet};

/// Answers with the caller's subject if the token is valid and has `read`.
async fn protected(
    req: HttpRequest,
    keys: web::Data<Arc<KeySet>>,
    expected: web::Data<Expected>,
) -> HttpResponse {
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(token) = token else {
        return HttpResponse::Unauthorized()
            .insert_header(("WWW-Authenticate", "Bearer"))
            .finish();
    };
    match keys.verify(token, &expected, chrono::Utc::now()) {
        Ok(claims) if claims.has_scope("read") => {
            HttpResponse::Ok().body(format!("hello {}", claims.subject))
        }
        Ok(_) => HttpResponse::Forbidden()
            .insert_header((
                "WWW-Authenticate",
                "Bearer error=\"insufficient_scope\", scope=\"read\"",
            ))
            .finish(),
        // UnknownKey: the issuer rotated; a real server refetches the key set
        // here. `Rejection` is non-exhaustive: whatever a later version
        // refuses for is an invalid token too.
        Err(_) => HttpResponse::Unauthorized()
            .insert_header(("WWW-Authenticate", "Bearer error=\"invalid_token\""))
            .finish(),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let path = std::env::var("PORTCULLIS_KEYS").unwrap_or_else(|_| "paserk.json".into());
    let document = std::fs::read_to_string(&path)?;
    let keys = KeySet::from_document(&document).map_err(std::io::Error::other)?;
    let keys = web::Data::new(Arc::new(keys));
    // The issuer this resource server trusts, and (optionally) the client
    // whose tokens it serves.
    let issuer =
        std::env::var("PORTCULLIS_ISSUER").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let mut expected = Expected::issuer(issuer);
    if let Ok(audience) = std::env::var("PORTCULLIS_AUDIENCE") {
        expected = expected.audience(audience);
    }
    let expected = web::Data::new(expected);
    HttpServer::new(move || {
        App::new()
            .app_data(keys.clone())
            .app_data(expected.clone())
            .route("/protected", web::get().to(protected))
    })
    .bind("127.0.0.1:9090")?
    .run()
    .await
}
