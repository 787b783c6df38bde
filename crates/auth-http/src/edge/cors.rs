//! Cross-origin reads (the Fetch standard's CORS) for browser apps: a
//! single-page app on its own origin reads the metadata documents and key
//! sets (anyone may), and its own client's answers at the token,
//! revocation, userinfo and introspection endpoints (only when that client
//! allows its origin: the core's `Client::allows_origin`). Never in
//! credentials mode: no cookie of ours is sent or read across origins.
use std::future::Future;
use std::pin::Pin;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpMessage as _, HttpRequest, HttpResponse};
use auth_core::types::Client;

/// Which reads a path allows across origins.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// Public documents: any origin.
    Anyone,
    /// A client's answers: origins that client allows.
    ClientsOwn,
}

fn reach(path: &str) -> Option<Reach> {
    match path {
        "/.well-known/openid-configuration"
        | "/.well-known/oauth-authorization-server"
        | "/.well-known/paserk"
        | "/jwks" => Some(Reach::Anyone),
        "/token" | "/revoke" | "/userinfo" | "/introspect" => Some(Reach::ClientsOwn),
        _ => None,
    }
}

/// Set on a request by a handler once it knows the client and the client
/// allows the request's origin.
struct OriginAllowed;

/// Marks `req`'s answer readable by its origin if `client` allows it
/// ([`Client::allows_origin`], or with `by_name_only` only an origin the
/// operator named for it, as introspection wants).
pub(crate) fn allow_for(req: &HttpRequest, client: &Client, by_name_only: bool) {
    let Some(origin) = origin_of(req.headers()) else {
        return;
    };
    let allowed = if by_name_only {
        client.allows_origin_by_name(origin)
    } else {
        client.allows_origin(origin)
    };
    if allowed {
        req.extensions_mut().insert(OriginAllowed);
    }
}

/// [`allow_for`] the client a bearer token was issued to; looked up only
/// when the request came from another origin.
pub(crate) async fn allow_for_bearer(
    req: &HttpRequest,
    state: &crate::state::AppState,
    client_id: &auth_core::types::ClientId,
) -> Result<(), crate::ApiError> {
    if origin_of(req.headers()).is_some()
        && let Some(client) = state.grants.client(client_id).await?
    {
        allow_for(req, &client, false);
    }
    Ok(())
}

fn origin_of(headers: &header::HeaderMap) -> Option<&str> {
    headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| !o.is_empty() && *o != "null")
}

/// A preflight's answer: any origin may ask (the answer's own headers
/// decide who reads it); the methods and request headers these endpoints
/// take; cached ten minutes.
fn preflight(reach: Reach, origin: &str) -> HttpResponse {
    let methods = match reach {
        Reach::Anyone => "GET",
        Reach::ClientsOwn => "GET, POST",
    };
    let mut response = HttpResponse::build(StatusCode::NO_CONTENT);
    response
        .insert_header((
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            allow_origin_value(reach, origin),
        ))
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, methods))
        .insert_header((
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            "authorization, content-type",
        ))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
        .insert_header((header::VARY, "Origin"));
    response.finish()
}

fn allow_origin_value(reach: Reach, origin: &str) -> HeaderValue {
    match reach {
        Reach::Anyone => HeaderValue::from_static("*"),
        Reach::ClientsOwn => {
            HeaderValue::from_str(origin).unwrap_or_else(|_| HeaderValue::from_static("null"))
        }
    }
}

type Answer<B> = Result<ServiceResponse<EitherBody<B>>, actix_web::Error>;

/// Middleware body for `App::wrap_fn`: answers preflights of the paths
/// above, and adds `Access-Control-Allow-Origin` to their answers where
/// allowed (`*` for public documents; the origin itself, with
/// `Vary: Origin`, for a client's answers its handler marked).
pub fn cors<S, B>(req: ServiceRequest, service: &S) -> Pin<Box<dyn Future<Output = Answer<B>>>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    let Some(reach) = reach(req.path()) else {
        let call = service.call(req);
        return Box::pin(async move { Ok(call.await?.map_into_left_body()) });
    };
    let origin = origin_of(req.headers()).map(str::to_owned);
    if req.method() == Method::OPTIONS
        && let Some(origin) = &origin
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        let answer = preflight(reach, origin);
        let response = req.into_response(answer).map_into_right_body();
        return Box::pin(async move { Ok(response) });
    }
    let call = service.call(req);
    Box::pin(async move {
        let mut response = call.await?;
        if let Some(origin) = origin {
            let allowed = reach == Reach::Anyone
                || response.request().extensions().contains::<OriginAllowed>();
            let headers = response.headers_mut();
            if reach == Reach::ClientsOwn {
                headers.append(header::VARY, HeaderValue::from_static("Origin"));
            }
            if allowed {
                headers.insert(
                    header::ACCESS_CONTROL_ALLOW_ORIGIN,
                    allow_origin_value(reach, &origin),
                );
            }
        }
        Ok(response.map_into_left_body())
    })
}
