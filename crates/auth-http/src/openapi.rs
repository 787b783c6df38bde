//! The OpenAPI 3.1 document of every route, standard and dialects.
//!
//! Routes are registered only through [`utoipa_actix_web`]'s
//! `ServiceConfig::service`, which accepts a handler only if it carries a
//! `#[utoipa::path]` description: a route cannot exist undocumented, and
//! the document is built by registering the same routes on a throwaway app,
//! so it lists exactly what is served with the dialects switched on.
//! Response bodies are the handlers' own serialized types.
use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::web::Data;
use actix_web::{App, HttpResponse, get};
use utoipa::openapi::schema::{AnyOf, AnyOfBuilder, Schema};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    Content, ContentBuilder, HeaderBuilder, Ref, RefOr, Response, ResponseBuilder,
};
use utoipa::{IntoResponses, Modify, OpenApi};
use utoipa_actix_web::AppExt;

use crate::Dialects;
use crate::error::ErrorBody;

/// The document as served, rendered once per app.
pub(crate) struct Document(String);

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Portcullis",
        description = "OAuth 2.0 authorization server: the standard endpoints, the hosted \
                       pages, and the seed APIs (\"dialects\") switched on for this server. \
                       See docs/api.md for the rules behind each answer.",
    ),
    components(schemas(
        ErrorBody,
        crate::dialects::redirect_login::LegacyTokenResponse,
        crate::dialects::redirect_login::Registered,
        crate::dialects::pkce_json::CodeResponse,
        crate::dialects::key_secret::UserKey,
    )),
    modifiers(&SecuritySchemes),
    tags(
        (name = "oauth", description = "RFC 6749, 7009, 7662, 8414, 8628"),
        (name = "pages", description = "The hosted HTML pages a browser is sent to"),
        (name = "operations", description = "Probes, metrics and this document"),
        (name = "redirect-login", description = "Seed 000: redirect login"),
        (name = "pkce-json", description = "Seed 001: PKCE JSON"),
        (name = "key-secret", description = "Seed 002: key/secret"),
        (name = "external-login", description = "Seed 003: external login through GitHub"),
        (name = "spring-oauth", description = "Seed 004: Spring Security OAuth"),
    ),
)]
struct Base;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi
            .components
            .get_or_insert_with(utoipa::openapi::Components::new);
        components.add_security_scheme(
            "client_basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document describing the routes [`crate::routes`] registers with the
/// same arguments.
pub fn document(dialects: Dialects, key_secret: bool) -> utoipa::openapi::OpenApi {
    let (_, mut api) = App::new()
        .into_utoipa_app()
        .openapi(Base::openapi())
        .configure(|cfg| crate::register(cfg, dialects, key_secret))
        .split_for_parts();
    unions_as_any_of(&mut api);
    api
}

/// An untagged union here (a registration body, a token answer) is told
/// apart by the fields present, and a body with more fields than one shape
/// needs can match several: `anyOf`, not the `oneOf` utoipa derives, is
/// what the handlers accept.
fn unions_as_any_of(api: &mut utoipa::openapi::OpenApi) {
    let Some(components) = api.components.as_mut() else {
        return;
    };
    for schema in components.schemas.values_mut() {
        if let RefOr::T(Schema::OneOf(one_of)) = schema {
            let mut any_of = AnyOf::new();
            any_of.items = std::mem::take(&mut one_of.items);
            any_of.description = one_of.description.take();
            *schema = RefOr::T(Schema::AnyOf(any_of));
        }
    }
}

impl Document {
    pub(crate) fn new(dialects: Dialects, key_secret: bool) -> Self {
        // Serializing a document of plain maps and strings cannot fail; an
        // empty body would make the failure visible rather than a panic.
        Self(document(dialects, key_secret).to_json().unwrap_or_default())
    }
}

/// `GET /openapi.json`.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "This document", content_type = "application/json")),
)]
#[get("/openapi.json")]
pub(crate) async fn serve(document: Data<Document>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(document.0.clone())
}

fn schema(names: &[&str]) -> RefOr<Schema> {
    match names {
        [one] => Ref::from_schema_name(*one).into(),
        many => Schema::AnyOf(
            many.iter()
                .fold(AnyOfBuilder::new(), |b, name| {
                    b.item(Ref::from_schema_name(*name))
                })
                .build(),
        )
        .into(),
    }
}

fn json(names: &[&str]) -> Content {
    ContentBuilder::new().schema(Some(schema(names))).build()
}

fn html() -> Content {
    ContentBuilder::new().build()
}

const HTML: &str = "text/html; charset=utf-8";
const JSON: &str = "application/json";

fn error_response(description: &str) -> RefOr<Response> {
    json_response(description, &["ErrorBody"])
}

fn json_response(description: &str, names: &[&str]) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(JSON, json(names))
        .build()
        .into()
}

fn html_response(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(HTML, html())
        .build()
        .into()
}

fn html_or_json(description: &str, names: &[&str]) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(HTML, html())
        .content(JSON, json(names))
        .build()
        .into()
}

fn redirect_response(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .header(
            "Location",
            HeaderBuilder::new()
                .schema(Some(
                    utoipa::openapi::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::schema::Type::String)
                        .build(),
                ))
                .build(),
        )
        .build()
        .into()
}

fn set(entries: Vec<(&str, RefOr<Response>)>) -> BTreeMap<String, RefOr<Response>> {
    entries
        .into_iter()
        .map(|(status, response)| (status.to_owned(), response))
        .collect()
}

/// The refusals of a JSON endpoint whose errors have the bodies `names`.
fn json_errors(names: &[&str]) -> BTreeMap<String, RefOr<Response>> {
    set(vec![
        (
            "400",
            json_response("The request is invalid or refused", names),
        ),
        (
            "401",
            json_response("Client or token authentication failed", names),
        ),
        (
            "413",
            json_response("The body is larger than the limit", names),
        ),
        (
            "415",
            json_response("The body is not of a media type taken here", names),
        ),
        (
            "429",
            json_response("A throttle refused the request", names),
        ),
        (
            "503",
            json_response("The database cannot be reached just now", names),
        ),
    ])
}

/// The refusals every JSON endpoint can give, in RFC 6749 section 5.2's
/// format: a bad request, a failed client or token authentication, a body
/// too large or of the wrong media type, a throttle, a database outage.
pub(crate) struct ApiErrors;

impl IntoResponses for ApiErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        json_errors(&["ErrorBody"])
    }
}

/// `POST /token`'s refusals: RFC 6749's to a form, seed 000's shape to its
/// JSON request.
pub(crate) struct TokenErrors;

impl IntoResponses for TokenErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        json_errors(&["ErrorBody", "LegacyTokenResponse"])
    }
}

/// `POST /register`'s answers: the hosted page's, and each dialect's.
pub(crate) struct RegisterResponses;

impl IntoResponses for RegisterResponses {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let mut all = PageResponses::responses();
        all.extend(set(vec![
            (
                "200",
                html_or_json(
                    "The next page, or a dialect's answer",
                    &["CodeResponse", "UserKey"],
                ),
            ),
            (
                "201",
                json_response("Seed 000's account was created", &["Registered"]),
            ),
            (
                "409",
                error_response("A dialect's account name is already taken"),
            ),
            (
                "429",
                html_or_json("Too many registrations just now", &["ErrorBody"]),
            ),
        ]));
        all
    }
}

/// What the upstream sign-in pages answer: a hosted page's answers (400
/// also for a provider that is not configured), and a provider that could
/// not be reached.
pub(crate) struct UpstreamPageResponses;

impl IntoResponses for UpstreamPageResponses {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let mut all = PageResponses::responses();
        all.extend(set(vec![
            (
                "404",
                html_response("No provider of that name is configured"),
            ),
            (
                "502",
                html_response("The provider could not be reached; the page says so"),
            ),
        ]));
        all
    }
}

/// What a hosted page answers, to its `GET` and to its form's post: the
/// page (again with a message when something was refused), a redirect
/// onwards, or, for a request the page cannot even be shown for, the JSON
/// error (a malformed query or form, a missing CSRF token, an outage).
pub(crate) struct PageResponses;

impl IntoResponses for PageResponses {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(vec![
            ("200", html_response("The page")),
            (
                "302",
                redirect_response("Back to the client with a code or an error"),
            ),
            (
                "303",
                redirect_response("Back to the client, or to the next page"),
            ),
            (
                "400",
                html_or_json(
                    "The request or the form is not valid; the page says why",
                    &["ErrorBody"],
                ),
            ),
            ("401", html_response("Wrong credentials; the page says so")),
            (
                "403",
                error_response("The form's CSRF token or origin is wrong"),
            ),
            ("413", error_response("The body is larger than the limit")),
            ("415", error_response("The body is not a form")),
            ("429", html_response("Too many attempts; the page says so")),
            (
                "503",
                error_response("The database cannot be reached just now"),
            ),
        ])
    }
}
