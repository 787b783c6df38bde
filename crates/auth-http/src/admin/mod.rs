//! `/admin/v1`: the admin API. JSON resources for operators' automation,
//! called with tokens Portcullis issues to admin clients (client_credentials,
//! `admin:*` scopes); refusals are RFC 9457 problems; a write names the
//! version it changes (`If-Match`); listings page by sealed cursors. Every
//! rule is the core's (`auth_core::admin`); these handlers map HTTP to it.
//! Until an admin client exists every route answers 404, as though it did
//! not exist.
mod groups;
mod guard;
mod precondition;
pub(crate) mod problem;
mod users;

use utoipa_actix_web::service_config::ServiceConfig;

/// Registers the admin API's routes.
pub(crate) fn routes(cfg: &mut ServiceConfig) {
    cfg.service(users::list)
        .service(users::create)
        .service(users::read)
        .service(users::change)
        .service(users::delete)
        .service(users::set_password)
        .service(users::sign_out)
        .service(groups::list)
        .service(groups::create)
        .service(groups::read)
        .service(groups::change)
        .service(groups::delete)
        .service(groups::members)
        .service(groups::add_member)
        .service(groups::remove_member);
}

/// The `{"items": [...], "next": CURSOR|null}` of a listing.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Listing<T> {
    /// This page's items.
    items: Vec<T>,
    /// The cursor of the next page (`?after=`), or `null` on the last.
    next: Option<String>,
}
