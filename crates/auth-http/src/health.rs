//! Liveness and readiness probes.
use actix_web::HttpResponse;
use actix_web::web::Data;

use crate::AppState;

/// The process is up and serving.
pub(crate) async fn live() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// The database answers; a load balancer should send traffic.
pub(crate) async fn ready(state: Data<AppState>) -> HttpResponse {
    match state.readiness.ready().await {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({"status": "ready"})),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            HttpResponse::ServiceUnavailable().json(serde_json::json!({"status": "unavailable"}))
        }
    }
}
