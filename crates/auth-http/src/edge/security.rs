//! Security events: one structured log line, under the `security` target,
//! for every refusal or change that an operator may need to trace. The core
//! names what happened (attached to its error); this module adds where the
//! request came from and logs it once, after the response is built.
//! Nothing secret is ever a field: no token, code, password or secret.
use std::future::Future;

use actix_web::HttpRequest;
use actix_web::HttpResponse;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use auth_core::events::SecurityEvent;

/// The address of the connection's peer, as the log names it. A forwarded
/// header is not trusted: any client can write one.
pub(crate) fn peer(req: &HttpRequest) -> String {
    req.peer_addr()
        .map_or_else(|| "unknown".to_owned(), |a| a.ip().to_string())
}

/// An event waiting in a response's extensions to be logged, and the
/// admin client that acted, when one did.
struct Pending(SecurityEvent, Option<auth_core::types::ClientId>);

/// Attaches `event` to `response`; [`logged`] writes it with the peer.
pub(crate) fn attach(response: &mut HttpResponse, event: SecurityEvent) {
    response.extensions_mut().insert(Pending(event, None));
}

/// Attaches `event`, made by the admin client `actor`, to `response`.
pub(crate) fn attach_by(
    response: &mut HttpResponse,
    event: SecurityEvent,
    actor: auth_core::types::ClientId,
) {
    response
        .extensions_mut()
        .insert(Pending(event, Some(actor)));
}

/// `response` with `event` attached, when there is one: what an issue or
/// a success amounts to for the log (`login_succeeded`, ...).
pub(crate) fn with_event(mut response: HttpResponse, event: Option<SecurityEvent>) -> HttpResponse {
    if let Some(event) = event {
        attach(&mut response, event);
    }
    response
}

/// Middleware body for `App::wrap_fn`: logs the event a response carries.
pub fn logged<S, B>(
    req: ServiceRequest,
    service: &S,
) -> impl Future<Output = Result<ServiceResponse<B>, actix_web::Error>> + use<S, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    S::Future: 'static,
{
    let call = service.call(req);
    async move {
        let mut response = call.await?;
        let event = response.response_mut().extensions_mut().remove::<Pending>();
        if let Some(Pending(event, actor)) = event {
            write(&event, actor.as_ref(), response.request());
        }
        Ok(response)
    }
}

/// Writes an event the web layer itself decides on (a form refused for
/// its CSRF token or its origin), which names no client or user.
pub(crate) fn log_refusal(req: &HttpRequest, event: &'static str, message: &'static str) {
    tracing::warn!(
        target: "security",
        event,
        peer = %peer(req),
        path = req.path(),
        "{message}"
    );
}

/// Writes one event.
pub(crate) fn log(event: &SecurityEvent, req: &HttpRequest) {
    write(event, None, req);
}

/// Writes one event, with the admin client that made it where one did
/// (`actor_client_id`).
fn write(event: &SecurityEvent, actor: Option<&auth_core::types::ClientId>, req: &HttpRequest) {
    let client_id = event.client_id().map(|c| c.as_str().to_owned());
    let user_id = event.user_id().map(|u| u.to_string());
    tracing::warn!(
        target: "security",
        event = event.name(),
        client_id = client_id.as_deref(),
        user_id = user_id.as_deref(),
        actor_client_id = actor.map(|c| c.as_str()),
        peer = %peer(req),
        path = req.path(),
        "{event}"
    );
}
