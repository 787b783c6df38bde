//! The route table, and the OpenAPI 3.1 document built from it.
//!
//! Routes are registered only through [`utoipa_actix_web`]'s
//! `ServiceConfig::service`, which accepts a handler only if it carries a
//! `#[utoipa::path]` description: a route cannot exist undocumented, and
//! the document is built by registering the same routes on a throwaway app,
//! so it lists exactly what is served with the dialects switched on.
//! Response bodies are the handlers' own serialized types.
use actix_web::{App, web};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AnyOf, Schema};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

use crate::dialects;
use crate::edge::error::ErrorBody;
use crate::endpoints::openapi::Document;
use crate::endpoints::{
    device, health, introspection, logout, metadata, metrics, openapi, token, userinfo,
};
use crate::pages::{account, factors, mail_links, register, sign_in, upstream};
use crate::state::Dialects;

/// The operations listener's routes (`metrics_bind`, kept off the public
/// one): `GET /metrics`, `GET /healthz` and `GET /readyz`.
pub fn operations_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(metrics::export)
        .service(health::live)
        .service(health::ready);
}

/// Registers every route of the standard endpoints and of the dialects
/// switched on in `dialects` (a switched-off dialect's own paths are not
/// routed at all: 404), and `GET /openapi.json` describing exactly those.
/// The caller adds `web::Data<AppState>` with the same `dialects`, which the
/// routes shared between dialects consult.
pub fn routes(cfg: &mut web::ServiceConfig, dialects: Dialects, key_secret: bool) {
    cfg.app_data(web::Data::new(openapi::Document::new(dialects, key_secret)));
    register(
        &mut utoipa_actix_web::service_config::ServiceConfig::new(cfg),
        dialects,
        key_secret,
    );
}

/// The routes, each through `service`, which takes only a handler with a
/// `#[utoipa::path]` description (see [`openapi`]).
fn register(
    cfg: &mut utoipa_actix_web::service_config::ServiceConfig,
    dialects: Dialects,
    key_secret: bool,
) {
    cfg.service(account::front_door)
        .service(account::account_page)
        .service(account::change_password)
        .service(account::change_email)
        .service(account::resend_verification)
        .service(account::end_session)
        .service(account::revoke_application)
        .service(account::unlink)
        .service(sign_in::authorize)
        .service(sign_in::authorize_post)
        .service(sign_in::login_page)
        .service(sign_in::login)
        .service(factors::second_factor)
        .service(factors::second_factor_options)
        .service(factors::passkey_options)
        .service(factors::passkey_sign_in)
        .service(factors::security)
        .service(factors::begin_totp)
        .service(factors::confirm_totp)
        .service(factors::remove_factor)
        .service(factors::regenerate_codes)
        .service(factors::passkey_registration_options)
        .service(factors::register_passkey)
        .service(factors::script)
        .service(sign_in::register_page)
        .service(register::register)
        .service(mail_links::forgot_page)
        .service(mail_links::forgot)
        .service(mail_links::reset_page)
        .service(mail_links::reset)
        .service(mail_links::invitation_page)
        .service(mail_links::accept_invitation)
        .service(mail_links::verify_page)
        .service(mail_links::verify)
        .service(mail_links::change_page)
        .service(mail_links::change)
        .service(sign_in::consent)
        .service(sign_in::logout)
        .service(upstream::start)
        .service(upstream::link)
        .service(upstream::callback)
        .service(logout::end_session)
        .service(logout::end_session_post)
        .service(logout::confirm)
        .service(token::standard)
        .service(device::start)
        .service(crate::pages::device::page_get)
        .service(crate::pages::device::page_post)
        .service(introspection::introspect)
        .service(introspection::revoke)
        .service(userinfo::userinfo)
        .service(userinfo::userinfo_post)
        .service(userinfo::me)
        .service(metadata::authorization_server)
        .service(metadata::key_set)
        .service(metadata::openid_configuration)
        .service(metadata::jwks)
        .service(health::live)
        .service(health::ready)
        .service(openapi::serve);
    crate::admin::routes(cfg);
    if dialects.pkce_json {
        cfg.service(dialects::pkce_json::sign_in)
            .service(dialects::pkce_json::token);
    }
    if key_secret {
        cfg.service(dialects::key_secret::authenticate)
            .service(dialects::key_secret::refresh);
    }
    if dialects.spring_oauth {
        cfg.service(token::spring).service(userinfo::me_slash);
    }
    if dialects.external_login {
        use dialects::external_login as seed003;
        cfg.service(seed003::exchange)
            .service(seed003::token_info)
            .service(seed003::device_start)
            .service(seed003::device_complete)
            .service(seed003::web_authorize)
            .service(seed003::web_callback)
            .service(seed003::web_confirm)
            .service(seed003::web_poll);
    }
}

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
        crate::admin::problem::ProblemBody,
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
        (name = "admin", description = "The admin API (docs/admin.md): admin clients' tokens only"),
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
        .configure(|cfg| register(cfg, dialects, key_secret))
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
