//! The hosted pages, rendered with tera from `templates/`. The templates are
//! compiled into the binary, so a deployment is one file. Every value is
//! HTML-escaped by tera's autoescaping of `.html` templates.
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use auth_core::types::RedirectUri;
use serde::Serialize;
use tera::{Context, Tera};

macro_rules! template {
    ($name:literal) => {
        ($name, include_str!(concat!("templates/", $name)))
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
            template!("logout.html"),
            template!("signed_out.html"),
            template!("linked.html"),
            template!("index.html"),
            template!("account.html"),
            template!("confirm_polled.html"),
            template!("polled_done.html"),
            template!("notice.html"),
            template!("forgot.html"),
            template!("set_password.html"),
            template!("verify_email.html"),
            template!("verify_first.html"),
            template!("second_factor.html"),
            template!("security.html"),
            template!("totp_enrol.html"),
            template!("recovery_codes.html"),
        ])?;
        tera.autoescape_on(vec![".html"]);
        Ok(Self { tera })
    }

    /// Renders `name` with `data`; a rendering failure is logged and becomes
    /// a plain 500 (it can only be a bug in a template). Its forms may post
    /// only to this server, and the redirect that answers them may go no
    /// further.
    pub fn render(&self, status: StatusCode, name: &str, data: &impl Serialize) -> HttpResponse {
        self.render_for(status, name, data, None)
    }

    /// Renders a page whose form is answered by a redirect to `redirect_to`
    /// (a client's validated redirect URI). Chromium and Safari apply the
    /// CSP `form-action` directive to every redirect that follows a form
    /// post, so that URI's origin (or, for a native app, its scheme) is
    /// allowed besides `'self'`; without it the browser stops on the page.
    pub fn render_for(
        &self,
        status: StatusCode,
        name: &str,
        data: &impl Serialize,
        redirect_to: Option<&RedirectUri>,
    ) -> HttpResponse {
        let targets: Vec<String> = redirect_to.and_then(csp_source).into_iter().collect();
        self.render_with_targets(status, name, data, &targets)
    }

    /// Renders a page whose forms may end in redirects to the origins
    /// `targets` (CSP source expressions) besides this server: a client's
    /// redirect URI, an upstream provider's authorization endpoint.
    pub fn render_with_targets(
        &self,
        status: StatusCode,
        name: &str,
        data: &impl Serialize,
        targets: &[String],
    ) -> HttpResponse {
        let rendered = Context::from_serialize(data).and_then(|ctx| self.tera.render(name, &ctx));
        match rendered {
            Ok(html) => HttpResponse::build(status)
                .insert_header((
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                ))
                .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
                .insert_header((
                    header::CONTENT_SECURITY_POLICY,
                    content_security_policy(targets),
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

/// The pages load nothing from anywhere but this server's one script (the
/// WebAuthn ceremonies need one; no inline script runs), may not be framed
/// (clickjacking of the consent button), and post their forms only to this
/// server and, where a form ends in a redirect to a client, to that client.
fn content_security_policy(targets: &[String]) -> HeaderValue {
    let mut form_action = String::from("'self'");
    for source in targets {
        form_action.push(' ');
        form_action.push_str(source);
    }
    let policy = format!(
        "default-src 'none'; script-src 'self'; connect-src 'self'; \
         style-src 'unsafe-inline'; form-action {form_action}; frame-ancestors 'none'; \
         base-uri 'none'"
    );
    HeaderValue::from_str(&policy).unwrap_or_else(|_| {
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        )
    })
}

/// The CSP source expression that matches a redirect URI: its origin for
/// http and https, its scheme for a native app's private-use scheme.
pub(crate) fn csp_source(uri: &RedirectUri) -> Option<String> {
    let url = url::Url::parse(uri.as_str()).ok()?;
    match url.scheme() {
        "http" | "https" => {
            let origin = url.origin().ascii_serialization();
            (origin != "null").then_some(origin)
        }
        scheme => Some(format!("{scheme}:")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_action_names_the_redirect_target() {
        let csp = |uri: &str| {
            let uri = RedirectUri::parse(uri).unwrap();
            content_security_policy(&csp_source(&uri).into_iter().collect::<Vec<_>>())
                .to_str()
                .unwrap()
                .to_owned()
        };
        assert!(
            csp("http://127.0.0.1:9000/cb?x=1")
                .contains("form-action 'self' http://127.0.0.1:9000;")
        );
        assert!(csp("https://app.example/cb").contains("form-action 'self' https://app.example;"));
        assert!(csp("com.example.app:/cb").contains("form-action 'self' com.example.app:;"));
        let plain = content_security_policy(&[]);
        assert!(plain.to_str().unwrap().contains("form-action 'self';"));
        assert!(plain.to_str().unwrap().contains("default-src 'none'"));
    }

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
