//! `POST /register`: one path for the hosted registration page's form and
//! the seed dialects' JSON bodies, told apart by content type and then by
//! their fields; each shape is handled where it belongs.
use actix_web::web::{Data, Payload};
use actix_web::{HttpRequest, HttpResponse, post};
use auth_core::OAuthError;
use serde_json::{Map, Value};

use crate::dialects::{RegisterJson, key_secret, pkce_json, redirect_login};
use crate::edge::body::{media_type, read_limited};
use crate::edge::error::ApiError;
use crate::edge::responses::RegisterResponses;
use crate::state::AppState;

/// The JSON registration shapes of the dialects switched on, for the 400
/// that names what is accepted.
fn register_shapes(state: &AppState) -> String {
    let mut shapes = Vec::new();
    if state.dialects.redirect_login {
        shapes.push("{\"username\", \"password\"} (redirect login)");
    }
    if state.dialects.pkce_json {
        shapes.push(
            "{\"client_id\", \"response_type\", \"redirect_uri\", \"code_challenge_method\", \
             \"code_challenge\", \"state\", \"email\", \"password\", \"first_name\", \"last_name\"} (PKCE JSON)",
        );
    }
    if state.key_secret_client.is_some() {
        shapes.push("{\"user_id\", \"user_secret\"} (key/secret)");
    }
    shapes.push("a form post from the hosted registration page");
    format!(
        "the registration body matches no accepted shape: {}",
        shapes.join(", or ")
    )
}

/// What a JSON registration answers with 200: seed 001's code or seed
/// 002's account key (seed 000 answers 201).
#[derive(utoipa::ToSchema)]
#[serde(untagged)]
#[expect(
    dead_code,
    reason = "describes what the handler parses, for the OpenAPI document"
)]
pub(crate) enum Registered<'a> {
    PkceJson(pkce_json::CodeResponse<'a>),
    KeySecret(key_secret::UserKey),
}

/// `POST /register`: the hosted page's form, or one of the dialects' JSON
/// bodies, told apart by content type and then by their fields.
#[utoipa::path(
    tag = "pages",
    request_body(content(
        (crate::edge::browser::PagePost<crate::pages::sign_in::RegisterForm> = "application/x-www-form-urlencoded"),
        (RegisterJson = "application/json"),
    )),
    responses(RegisterResponses),
)]
#[post("/register")]
pub(crate) async fn register(
    req: HttpRequest,
    payload: Payload,
    state: Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    match media_type(&req).as_str() {
        "application/x-www-form-urlencoded" => {
            crate::pages::sign_in::register_form(req, payload, state).await
        }
        "application/json" => {
            let body = read_limited(payload, state.limits.max_body_bytes).await?;
            let shape_error =
                || ApiError::OAuth(OAuthError::invalid_request(register_shapes(&state)));
            let fields: Map<String, Value> =
                serde_json::from_slice(&body).map_err(|_| shape_error())?;
            let key_secret_on = state.key_secret_client.is_some();
            let Some(body) = RegisterJson::recognise(fields, state.dialects, key_secret_on) else {
                return Err(shape_error());
            };
            let peer = crate::edge::security::peer(&req);
            let now = crate::edge::now::of(&req, &state);
            match body? {
                RegisterJson::RedirectLogin(body) => {
                    redirect_login::register(&state, &peer, body, now).await
                }
                RegisterJson::PkceJson(body) => {
                    pkce_json::register(&state, &peer, *body, now).await
                }
                RegisterJson::KeySecret(body) => {
                    key_secret::register(&state, &peer, body, now).await
                }
            }
        }
        _ => Err(ApiError::UnsupportedMediaType(
            "POST /register takes application/json or an application/x-www-form-urlencoded form",
        )),
    }
}
