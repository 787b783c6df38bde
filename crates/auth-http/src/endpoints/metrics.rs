//! `GET /metrics`, on the operations listener: what `Metrics` recorded,
//! in the OpenMetrics text format Prometheus scrapes.
use actix_web::http::header;
use actix_web::web::Data;
use actix_web::{HttpResponse, get};

use crate::edge::metrics::CONTENT_TYPE;
use crate::state::AppState;

/// `GET /metrics`: Prometheus' text format.
#[utoipa::path(
    tag = "operations",
    responses((
        status = 200,
        description = "Request counts and latencies by route",
        content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8",
    )),
)]
#[get("/metrics")]
pub(crate) async fn export(state: Data<AppState>) -> HttpResponse {
    match state.metrics.render() {
        Ok(text) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, CONTENT_TYPE))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(text),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}
