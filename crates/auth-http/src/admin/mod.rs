//! `/admin/v1`: the admin API. JSON resources for operators' automation,
//! called with tokens Portcullis issues to admin clients (client_credentials,
//! `admin:*` scopes); refusals are RFC 9457 problems; a write names the
//! version it changes (`If-Match`); listings page by sealed cursors. Every
//! rule is the core's (`auth_core::admin`); these handlers map HTTP to it.
//! Until an admin client exists every route answers 404, as though it did
//! not exist.
mod clients;
mod groups;
mod guard;
mod holdings;
mod precondition;
pub(crate) mod problem;
mod users;

use utoipa_actix_web::service_config::ServiceConfig;

/// Registers the admin API's routes.
pub(crate) fn routes(cfg: &mut ServiceConfig) {
    cfg.service(clients::list)
        .service(clients::create)
        .service(clients::read)
        .service(clients::change)
        .service(clients::delete)
        .service(clients::rotate_secret)
        .service(users::list)
        .service(users::create)
        .service(users::read)
        .service(users::change)
        .service(users::delete)
        .service(users::set_password)
        .service(users::sign_out)
        .service(holdings::sessions)
        .service(holdings::grants)
        .service(holdings::revoke_grants)
        .service(holdings::credentials)
        .service(holdings::remove_credential)
        .service(holdings::reset_credentials)
        .service(holdings::identities)
        .service(holdings::unlink)
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

/// The `limit` of a listing's query, as given.
pub(crate) fn limit(raw: Option<&str>) -> Result<Option<u32>, problem::Problem> {
    raw.map(|raw| {
        raw.parse::<u32>()
            .map_err(|_| problem::Problem::bad_request("limit must be 1 to 200"))
    })
    .transpose()
}

/// A page's answer: the items, the next cursor, and the `Link` to the next
/// page (with the same `limit` and `search`) while there is one.
pub(crate) fn page_answer<T: serde::Serialize>(
    state: &crate::state::AppState,
    path: &str,
    limit: Option<u32>,
    search: Option<&str>,
    items: Vec<T>,
    next: Option<String>,
) -> actix_web::HttpResponse {
    use actix_web::http::header;
    let mut response = actix_web::HttpResponse::Ok();
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    if let Some(next) = &next {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if let Some(limit) = limit {
            query.append_pair("limit", &limit.to_string());
        }
        if let Some(search) = search {
            query.append_pair("search", search);
        }
        query.append_pair("after", next);
        response.insert_header((
            header::LINK,
            format!(
                "<{}{path}?{}>; rel=\"next\"",
                state.issuer(),
                query.finish()
            ),
        ));
    }
    response.json(Listing { items, next })
}
