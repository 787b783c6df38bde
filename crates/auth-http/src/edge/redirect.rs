//! Sending a browser back to a client with parameters in the query.
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;
use auth_core::types::RedirectUri;

/// A redirect to a client's URI with `params` added to its query.
pub(crate) fn redirect_with(
    uri: &RedirectUri,
    params: &[(&str, &str)],
    status: StatusCode,
) -> HttpResponse {
    let location = match url::Url::parse(uri.as_str()) {
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
            }
            url.to_string()
        }
        Err(_) => uri.as_str().to_owned(),
    };
    HttpResponse::build(status)
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}
