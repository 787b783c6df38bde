//! The hosted pages, rendered with tera from `templates/`. The templates are
//! compiled into the binary, so a deployment is one file. Every value is
//! HTML-escaped by tera's autoescaping of `.html` templates.
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use serde::Serialize;
use tera::{Context, Tera};

macro_rules! template {
    ($name:literal) => {
        ($name, include_str!(concat!("../../../templates/", $name)))
    };
}

#[derive(Debug, thiserror::Error)]
#[error("templates failed to load: {0}")]
pub struct TemplateError(#[from] tera::Error);

/// The compiled templates.
pub struct Pages {
    tera: Tera,
}

impl Pages {
    pub fn load() -> Result<Self, TemplateError> {
        let mut tera = Tera::default();
        tera.add_raw_templates(vec![
            template!("base.html"),
            template!("pending.html"),
            template!("login.html"),
            template!("register.html"),
            template!("consent.html"),
            template!("error.html"),
            template!("signed_in.html"),
            template!("device.html"),
        ])?;
        tera.autoescape_on(vec![".html"]);
        Ok(Self { tera })
    }

    /// Renders `name` with `data`; a rendering failure is logged and becomes
    /// a plain 500 (it can only be a bug in a template).
    pub fn render(&self, status: StatusCode, name: &str, data: &impl Serialize) -> HttpResponse {
        let rendered = Context::from_serialize(data).and_then(|ctx| self.tera.render(name, &ctx));
        match rendered {
            Ok(html) => HttpResponse::build(status)
                .insert_header((header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")))
                .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
                // The pages load nothing from anywhere and may not be framed
                // (clickjacking of the consent button).
                .insert_header((
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(
                        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
                    ),
                ))
                .insert_header((header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
                .body(html),
            Err(e) => {
                tracing::error!(template = name, error = ?e, "template rendering failed");
                HttpResponse::InternalServerError().finish()
            }
        }
    }

    pub fn error(&self, status: StatusCode, title: &str, message: &str) -> HttpResponse {
        #[derive(Serialize)]
        struct Data<'a> {
            title: &'a str,
            message: &'a str,
        }
        self.render(status, "error.html", &Data { title, message })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_compile_and_escape() {
        let pages = Pages::load().unwrap();
        let resp = pages.error(
            StatusCode::BAD_REQUEST,
            "<b>t</b>",
            "<script>alert(1)</script>",
        );
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let body = actix_web::body::to_bytes(resp.into_body());
        let body = futures_lite(body);
        assert!(
            body.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;"),
            "{body}"
        );
        assert!(!body.contains("<script>"));
    }

    /// Drives a ready future without pulling in an executor crate.
    fn futures_lite<
        F: std::future::Future<Output = Result<actix_web::web::Bytes, E>>,
        E: std::fmt::Debug,
    >(
        f: F,
    ) -> String {
        let rt = tokio_rt();
        String::from_utf8(rt.block_on(f).unwrap().to_vec()).unwrap()
    }

    fn tokio_rt() -> actix_web::rt::Runtime {
        actix_web::rt::Runtime::new().unwrap()
    }
}
