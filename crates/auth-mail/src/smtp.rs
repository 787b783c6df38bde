//! SMTP delivery with lettre: the core's `MailTransport`.
use std::time::Duration;

use async_trait::async_trait;
use auth_core::ports::{MailTransport, SendError};
use auth_core::types::Letter;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use url::Url;
use uuid::Uuid;

use crate::render::Letters;

/// What the operator configured (`[smtp]`).
#[derive(Clone)]
pub struct SmtpSettings {
    /// `smtps://host[:port]` (implicit TLS, port 465 by default),
    /// `smtp://host[:port]` (STARTTLS required, port 587 by default), or
    /// `smtp://host[:port]?tls=none` (plain text: a loopback host only).
    pub url: String,
    /// The sender, `Name <address>` or an address.
    pub from: String,
    /// AUTH user, when the server wants one.
    pub username: Option<String>,
    /// AUTH password.
    pub password: Option<String>,
    /// Extra trusted root certificates (PEM), for a server whose
    /// certificate a private CA issued.
    pub ca_pem: Option<Vec<u8>>,
    /// How long one SMTP conversation may take.
    pub timeout: Duration,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("url", &self.url)
            .field("from", &self.from)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<set>"))
            .finish_non_exhaustive()
    }
}

/// Why the SMTP settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    /// The URL is not one of the three forms.
    #[error("smtp url: {0}")]
    Url(String),
    /// The sender is not an address.
    #[error("smtp from: {0}")]
    From(String),
    /// The CA certificate cannot be read.
    #[error("smtp ca certificate: {0}")]
    Certificate(String),
    /// A letter's template failed.
    #[error("mail template: {0}")]
    Template(String),
}

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    /// TLS from the first byte.
    Implicit,
    /// Plain, then STARTTLS, which must succeed before anything is sent.
    StartTls,
    /// No TLS: to a loopback host only.
    None,
}

/// The URL taken apart: host, port, security. Credentials never go in
/// the URL (they would end up in logs); they are settings of their own.
fn parse_url(raw: &str) -> Result<(String, u16, Security), SmtpError> {
    let url = Url::parse(raw).map_err(|e| SmtpError::Url(e.to_string()))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(SmtpError::Url(
            "put the user and password in smtp.username and smtp.password, not in the URL".into(),
        ));
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| SmtpError::Url("no host".into()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let tls = url
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned());
    let security = match (url.scheme(), tls.as_deref()) {
        ("smtps", None) => Security::Implicit,
        ("smtp", None | Some("required")) => Security::StartTls,
        ("smtp", Some("none")) => {
            let loopback = host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if !loopback {
                return Err(SmtpError::Url(
                    "tls=none is allowed only to a loopback host (localhost, 127.0.0.1, ::1)"
                        .into(),
                ));
            }
            Security::None
        }
        ("smtp" | "smtps", Some(other)) => {
            return Err(SmtpError::Url(format!(
                "tls={other}: use smtps:// for implicit TLS, smtp:// for STARTTLS, or tls=none to a loopback host"
            )));
        }
        (scheme, _) => {
            return Err(SmtpError::Url(format!(
                "{scheme}:// is not smtp:// or smtps://"
            )));
        }
    };
    let port = url.port().unwrap_or(match security {
        Security::Implicit => 465,
        Security::StartTls => 587,
        Security::None => 25,
    });
    Ok((host, port, security))
}

/// The transport's builder and the sender, from `settings`; nothing runs.
fn prepare(
    settings: &SmtpSettings,
) -> Result<(lettre::transport::smtp::AsyncSmtpTransportBuilder, Mailbox), SmtpError> {
    let (host, port, security) = parse_url(&settings.url)?;
    let from: Mailbox = settings
        .from
        .parse()
        .map_err(|e: lettre::address::AddressError| SmtpError::From(e.to_string()))?;
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
        .port(port)
        .timeout(Some(settings.timeout))
        .pool_config(PoolConfig::new().max_size(4));
    if security != Security::None {
        let mut tls = TlsParameters::builder(host);
        if let Some(pem) = &settings.ca_pem {
            // lettre takes a file with no certificate in it for an empty
            // one; a CA file that trusts nothing is a mistake.
            use rustls_pki_types::pem::PemObject as _;
            let found = rustls_pki_types::CertificateDer::pem_slice_iter(pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| SmtpError::Certificate(e.to_string()))?;
            if found.is_empty() {
                return Err(SmtpError::Certificate(
                    "the file holds no PEM certificate".into(),
                ));
            }
            let cert =
                Certificate::from_pem(pem).map_err(|e| SmtpError::Certificate(e.to_string()))?;
            tls = tls.add_root_certificate(cert);
        }
        let tls = tls
            .build_rustls()
            .map_err(|e| SmtpError::Certificate(e.to_string()))?;
        builder = builder.tls(match security {
            Security::Implicit => Tls::Wrapper(tls),
            _ => Tls::Required(tls),
        });
    }
    if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    Ok((builder, from))
}

/// Delivers letters over SMTP through a small pool of connections.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    letters: Letters,
    /// The domain of every `Message-ID` (the sender's).
    id_domain: String,
}

impl SmtpMailer {
    /// Checks `settings` as [`Self::new`] would use them (the URL, the
    /// sender, the certificate), without starting anything: for settings
    /// validation, which may run outside an async runtime.
    pub fn check(settings: &SmtpSettings) -> Result<(), SmtpError> {
        prepare(settings).map(|_| ())
    }

    /// A mailer for `settings`, writing `letters`. Connects to nothing
    /// until the first letter; its connection pool is a task on the
    /// current Tokio runtime, so this is called inside one.
    pub fn new(settings: &SmtpSettings, letters: Letters) -> Result<Self, SmtpError> {
        let (builder, from) = prepare(settings)?;
        let id_domain = from.email.domain().to_owned();
        Ok(Self {
            transport: builder.build(),
            from,
            letters,
            id_domain,
        })
    }

    /// The message for `letter`, with its `Message-ID` made of `id`.
    fn message(&self, id: Uuid, letter: &Letter) -> Result<Message, SendError> {
        let to: Mailbox = letter
            .to
            .parse()
            .map_err(|e: lettre::address::AddressError| {
                SendError::Permanent(format!("recipient: {e}"))
            })?;
        let words = self
            .letters
            .render(letter)
            .map_err(|e| SendError::Permanent(format!("template: {e}")))?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(words.subject)
            .message_id(Some(format!("<{}@{}>", id.simple(), self.id_domain)))
            .date_now()
            .multipart(MultiPart::alternative_plain_html(words.text, words.html))
            .map_err(|e| SendError::Permanent(format!("message: {e}")))
    }
}

#[async_trait]
impl MailTransport for SmtpMailer {
    async fn send(&self, id: Uuid, letter: &Letter) -> Result<String, SendError> {
        let message = self.message(id, letter)?;
        match self.transport.send(message).await {
            Ok(answer) => Ok(format!(
                "{} {}",
                answer.code(),
                answer.message().collect::<Vec<_>>().join(" ")
            )),
            // A 5xx answer will not change on a retry; anything else (no
            // connection, a timeout, 4xx) may.
            Err(e) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
            Err(e) => Err(SendError::Transient(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_says_how_the_connection_is_secured() {
        let ok = |u: &str| parse_url(u).unwrap();
        assert_eq!(
            ok("smtps://mail.example.com"),
            ("mail.example.com".into(), 465, Security::Implicit)
        );
        assert_eq!(
            ok("smtp://mail.example.com"),
            ("mail.example.com".into(), 587, Security::StartTls)
        );
        assert_eq!(
            ok("smtp://mail.example.com:2525?tls=required"),
            ("mail.example.com".into(), 2525, Security::StartTls)
        );
        assert_eq!(
            ok("smtp://127.0.0.1:2525?tls=none"),
            ("127.0.0.1".into(), 2525, Security::None)
        );
        assert_eq!(
            ok("smtp://[::1]:25?tls=none"),
            ("::1".into(), 25, Security::None)
        );
        assert_eq!(
            ok("smtp://localhost?tls=none"),
            ("localhost".into(), 25, Security::None)
        );
        for bad in [
            "smtp://mail.example.com?tls=none",
            "smtp://10.0.0.1?tls=none",
            "smtps://mail.example.com?tls=none",
            "smtp://mail.example.com?tls=opportunistic",
            "http://mail.example.com",
            "smtp://user:secret@mail.example.com",
            "not a url",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn settings_are_checked_outside_a_runtime() {
        // Settings load before any runtime starts: checking them must not
        // start the pool's task (which would panic there).
        let mut s = SmtpSettings {
            url: "smtp://127.0.0.1:2525?tls=none".into(),
            from: "Portcullis <id@example.com>".into(),
            username: None,
            password: None,
            ca_pem: None,
            timeout: Duration::from_secs(10),
        };
        assert!(SmtpMailer::check(&s).is_ok());
        s.url = "smtps://mail.example.com".into();
        assert!(SmtpMailer::check(&s).is_ok());
        s.from = "not an address".into();
        assert!(matches!(SmtpMailer::check(&s), Err(SmtpError::From(_))));
        s.from = "id@example.com".into();
        s.ca_pem = Some(b"not a certificate".to_vec());
        assert!(matches!(
            SmtpMailer::check(&s),
            Err(SmtpError::Certificate(_))
        ));
    }

    #[test]
    fn debug_shows_no_password() {
        let s = SmtpSettings {
            url: "smtps://mail.example.com".into(),
            from: "id@example.com".into(),
            username: Some("id".into()),
            password: Some("hunter2".into()),
            ca_pem: None,
            timeout: Duration::from_secs(10),
        };
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
