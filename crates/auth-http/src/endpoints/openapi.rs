//! `GET /openapi.json`: the document the route table builds, served as
//! rendered once per app.
use actix_web::http::header;
use actix_web::web::Data;
use actix_web::{HttpResponse, get};

/// The document as served, rendered once per app.
pub(crate) struct Document(pub(crate) String);

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
