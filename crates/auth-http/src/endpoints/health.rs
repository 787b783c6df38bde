//! Liveness and readiness probes.
use actix_web::web::Data;
use actix_web::{HttpResponse, get};
use serde::Serialize;

use crate::state::AppState;

/// A probe's answer.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Health {
    /// `ok` (live), `ready`, or `unavailable`.
    status: &'static str,
}

/// The process is up and serving.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "Serving", body = Health)),
)]
#[get("/healthz")]
pub(crate) async fn live() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// The database answers; a load balancer should send traffic.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "The database answers", body = Health),
        (status = 503, description = "The database does not answer", body = Health),
    ),
)]
#[get("/readyz")]
pub(crate) async fn ready(state: Data<AppState>) -> HttpResponse {
    match state.readiness.ready().await {
        Ok(()) => HttpResponse::Ok().json(Health { status: "ready" }),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            HttpResponse::ServiceUnavailable().json(Health {
                status: "unavailable",
            })
        }
    }
}
