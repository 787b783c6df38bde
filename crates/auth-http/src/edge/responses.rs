//! The OpenAPI descriptions of the answers the handlers give, shared by
//! the endpoints, the pages and the dialects (their bodies are the handlers'
//! own serialized types).
use std::collections::BTreeMap;

use utoipa::IntoResponses;
use utoipa::openapi::schema::{AnyOfBuilder, Schema};
use utoipa::openapi::{
    Content, ContentBuilder, HeaderBuilder, Ref, RefOr, Response, ResponseBuilder,
};

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

/// `POST /email/change`'s answers: a hosted page's, and the address
/// taken by another account since the link was sent.
pub(crate) struct AddressChangeResponses;

impl IntoResponses for AddressChangeResponses {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let mut all = PageResponses::responses();
        all.extend(set(vec![(
            "409",
            html_response("Another account has the address by now; the page says so"),
        )]));
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
                html_or_json(
                    "The form's CSRF token or origin is wrong (the JSON error), or what \
                     the page offers is off here (no mail server, a client that wants a \
                     confirmed address; the page says so)",
                    &["ErrorBody"],
                ),
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
