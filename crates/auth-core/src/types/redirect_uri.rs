//! Redirection endpoints (RFC 6749 section 3.1.2), vetted at registration by
//! the rules of RFC 8252 (native apps) and RFC 9700 section 4.1.
use std::fmt;
use std::net::IpAddr;

/// Which rule a refused redirect URI breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriError {
    #[error("a redirect URI must be an absolute URI")]
    /// Not an absolute URI.
    NotAbsolute,
    #[error("a redirect URI must not contain a fragment (RFC 6749 section 3.1.2)")]
    /// It has a `#fragment`.
    Fragment,
    #[error("a redirect URI must not contain whitespace or control characters")]
    /// It has whitespace or control characters.
    Whitespace,
    #[error("the {0}: scheme can run code or read files in a browser: it is never a redirect URI")]
    /// `javascript:`, `data:`, `file:` and the like.
    DangerousScheme(String),
    #[error("a redirect URI must not carry a user name or password (user@host)")]
    /// It carries `user@` or `user:password@`.
    UserInfo,
    #[error(
        "plain http is allowed only to a loopback IP literal such as http://127.0.0.1/cb or \
         http://[::1]/cb (RFC 8252 section 7.3; not \"localhost\", section 8.3); use https"
    )]
    /// Plain http to something other than a loopback IP.
    PlainHttp,
    #[error("an https redirect URI must name a host")]
    /// An https URI without a host.
    NoHost,
    #[error(
        "the private-use scheme {0:?} is not a reverse domain name such as com.example.app \
         (RFC 8252 section 7.1)"
    )]
    /// A private-use scheme that is not a reverse domain name.
    BareScheme(String),
    #[error(
        "a redirect URI is matched exactly as registered, so it must be written in its normal \
         form: {0} (lower-case scheme and host, no default port, a path, percent-encoding as \
         the URL standard writes it)"
    )]
    /// Not written as the URL standard writes it; carries the normal form.
    NotNormal(String),
}

/// What kind of redirection endpoint a URI is (RFC 8252 section 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectKind {
    /// `https://host/...`.
    Https,
    /// `http://127.0.0.1:PORT/...` or `http://[::1]:PORT/...`: a native app's
    /// loopback listener, whose port may change from run to run.
    Loopback,
    /// A native app's private-use scheme, `com.example.app:/cb`.
    PrivateUse,
}

/// A registered or requested redirect URI. Comparison is exact string
/// equality of what was registered (RFC 9700 section 4.1.3), except that a
/// loopback URI's port may vary (RFC 8252 section 7.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUri(String);

impl RedirectUri {
    /// Parses a redirect URI by every rule registration applies, except
    /// that a private-use scheme need not be a reverse domain name: that
    /// rule is [`RedirectUri::require_reverse_dns`], which registration
    /// applies unless the operator names the exception.
    pub fn parse(raw: &str) -> Result<Self, RedirectUriError> {
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(RedirectUriError::Whitespace);
        }
        let url = url::Url::parse(raw).map_err(|_| RedirectUriError::NotAbsolute)?;
        if url.fragment().is_some() || raw.contains('#') {
            return Err(RedirectUriError::Fragment);
        }
        let scheme = url.scheme();
        if matches!(
            scheme,
            "javascript" | "data" | "file" | "vbscript" | "blob" | "about" | "filesystem"
        ) {
            return Err(RedirectUriError::DangerousScheme(scheme.to_owned()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(RedirectUriError::UserInfo);
        }
        // Registered and requested URIs are compared as strings: one that a
        // parser would write differently (`HTTPS://App.Example:443`) would
        // match what its author did not mean, or nothing at all.
        if url.as_str() != raw {
            return Err(RedirectUriError::NotNormal(url.as_str().to_owned()));
        }
        match scheme {
            "https" if url.host_str().is_none_or(str::is_empty) => Err(RedirectUriError::NoHost),
            "http" if loopback_ip(&url).is_none() => Err(RedirectUriError::PlainHttp),
            _ => Ok(Self(raw.to_owned())),
        }
    }

    /// A URI as it was stored by an earlier registration, trusted as it is:
    /// a rule added later must not make an existing client unusable
    /// (`portcullis migrate` reports such URIs instead).
    pub fn from_stored(raw: &str) -> Self {
        Self(raw.to_owned())
    }

    /// RFC 8252 section 7.1: a private-use scheme is a domain name the app's
    /// publisher controls, reversed (`com.example.app`), so two apps cannot
    /// claim the same one by accident.
    pub fn require_reverse_dns(&self) -> Result<(), RedirectUriError> {
        match (self.kind(), self.scheme()) {
            (Some(RedirectKind::PrivateUse), Some(scheme)) if !scheme.contains('.') => {
                Err(RedirectUriError::BareScheme(scheme.to_owned()))
            }
            _ => Ok(()),
        }
    }

    fn scheme(&self) -> Option<&str> {
        self.0.split_once(':').map(|(s, _)| s)
    }

    /// The kind of endpoint, or `None` for a stored URI that no longer
    /// passes the rules.
    pub fn kind(&self) -> Option<RedirectKind> {
        let url = url::Url::parse(&self.0).ok()?;
        match url.scheme() {
            "https" => Some(RedirectKind::Https),
            "http" => loopback_ip(&url).map(|_| RedirectKind::Loopback),
            _ => Some(RedirectKind::PrivateUse),
        }
    }

    /// Whether a requested redirect URI matches this registered one: the
    /// same string, or for a loopback URI the same string but for the port
    /// (RFC 8252 section 7.3).
    pub fn matches(&self, requested: &str) -> bool {
        if self.0 == requested {
            return true;
        }
        if self.kind() != Some(RedirectKind::Loopback) {
            return false;
        }
        let (Ok(mut registered), Ok(mut asked)) =
            (url::Url::parse(&self.0), url::Url::parse(requested))
        else {
            return false;
        };
        if asked.as_str() != requested || registered.as_str() != self.0 {
            // Only URIs in their normal form are compared part by part.
            return false;
        }
        let (Ok(()), Ok(())) = (registered.set_port(None), asked.set_port(None)) else {
            return false;
        };
        registered == asked && asked.username().is_empty() && asked.fragment().is_none()
    }

    /// The URI as registered.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The redirect URI a request names, checked against a client's
    /// registered ones: the URI to redirect to (the requested one, whose
    /// loopback port may differ from the registration), or why there is
    /// none. Without `redirect_uri` the request may rely on the only
    /// registered one (RFC 6749 section 3.1.2.3).
    pub fn resolve(
        registered: &[RedirectUri],
        requested: Option<&str>,
    ) -> Result<RedirectUri, &'static str> {
        match requested {
            Some(uri) => registered
                .iter()
                .find(|r| r.matches(uri))
                .map(|_| Self(uri.to_owned()))
                .ok_or("The redirect_uri is not registered for this client."),
            None => match registered {
                [only] => Ok(only.clone()),
                _ => Err("The request has no redirect_uri."),
            },
        }
    }
}

/// A web origin (`https://app.example`, `http://127.0.0.1:5173`): where a
/// browser app runs, allowed to read our answers across origins (CORS).
/// https, or http to a loopback IP, as redirect URIs; scheme, host and
/// port only, written as the URL standard serializes an origin.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WebOrigin(String);

/// Why a web origin was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "an allowed origin is a scheme, a host and an optional port, written as \
     https://app.example or http://127.0.0.1:5173 (https, or http to a loopback IP), \
     with no path: {0:?}"
)]
pub struct WebOriginError(pub String);

impl WebOrigin {
    /// Parses an origin as an operator registers it.
    pub fn parse(raw: &str) -> Result<Self, WebOriginError> {
        let bad = || WebOriginError(raw.chars().take(100).collect());
        let url = url::Url::parse(raw).map_err(|_| bad())?;
        let origin = url.origin().ascii_serialization();
        let secure = match url.scheme() {
            "https" => url.host_str().is_some_and(|h| !h.is_empty()),
            "http" => loopback_ip(&url).is_some(),
            _ => false,
        };
        if !secure || origin != raw {
            return Err(bad());
        }
        Ok(Self(origin))
    }

    /// The origin as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl RedirectUri {
    /// Where the app behind this URI runs, as a person recognizes it: the
    /// host of an https or loopback URI, or a native app's scheme.
    pub fn runs_at(&self) -> Option<String> {
        let url = url::Url::parse(&self.0).ok()?;
        match url.host_str() {
            Some(host) if !host.is_empty() => Some(host.to_owned()),
            _ => Some(url.scheme().to_owned()),
        }
    }

    /// The origin a browser app redirected to here runs on: for an https
    /// or loopback redirect URI, its scheme, host and port; none for a
    /// native app's private-use scheme.
    pub fn web_origin(&self) -> Option<WebOrigin> {
        self.kind()
            .filter(|k| *k != RedirectKind::PrivateUse)
            .and_then(|_| url::Url::parse(&self.0).ok())
            .map(|url| WebOrigin(url.origin().ascii_serialization()))
    }
}

/// Whether `origin` (as a browser sends it) is `allowed`; a loopback
/// origin on any port, as loopback redirect URIs are (RFC 8252 section 7.3).
pub(crate) fn origin_matches(allowed: &WebOrigin, origin: &str) -> bool {
    if allowed.0 == origin {
        return true;
    }
    let (Ok(mut a), Ok(mut b)) = (url::Url::parse(&allowed.0), url::Url::parse(origin)) else {
        return false;
    };
    if loopback_ip(&a).is_none() || b.origin().ascii_serialization() != origin {
        return false;
    }
    let (Ok(()), Ok(())) = (a.set_port(None), b.set_port(None)) else {
        return false;
    };
    a == b
}

fn loopback_ip(url: &url::Url) -> Option<IpAddr> {
    let ip = match url.host()? {
        url::Host::Ipv4(v4) => IpAddr::V4(v4),
        url::Host::Ipv6(v6) => IpAddr::V6(v6),
        url::Host::Domain(_) => return None,
    };
    ip.is_loopback().then_some(ip)
}

impl fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: &str, expect: Result<(), RedirectUriError>) {
        assert_eq!(RedirectUri::parse(raw).map(|_| ()), expect, "{raw}");
    }

    #[test]
    fn accepted_kinds() {
        for ok in [
            "https://app.example/cb",
            "https://app.example:8443/cb?x=1",
            "http://127.0.0.1:9000/cb",
            "http://127.0.0.1/cb",
            "http://[::1]:9000/cb",
            "com.example.app:/oauth2redirect",
            "com.example.app://callback",
            "myapp://callback",
        ] {
            check(ok, Ok(()));
        }
    }

    #[test]
    fn refused_kinds_name_their_rule() {
        use RedirectUriError as E;
        check("/relative", Err(E::NotAbsolute));
        check("https://a.example/cb#x", Err(E::Fragment));
        check("https://a.example/cb#", Err(E::Fragment));
        check("https://a.example/a b", Err(E::Whitespace));
        check("https://a.example/a\tb", Err(E::Whitespace));
        check("https://a.example/a\u{7f}", Err(E::Whitespace));
        check(
            "javascript:alert(1)",
            Err(E::DangerousScheme("javascript".into())),
        );
        check("data:text/html,hi", Err(E::DangerousScheme("data".into())));
        check("file:///etc/passwd", Err(E::DangerousScheme("file".into())));
        check("https://a@evil.example/cb", Err(E::UserInfo));
        check("https://a:b@evil.example/cb", Err(E::UserInfo));
        check("http://app.example/cb", Err(E::PlainHttp));
        check("http://localhost:9000/cb", Err(E::PlainHttp));
        check("http://10.0.0.1/cb", Err(E::PlainHttp));
        // Written otherwise than it is compared: the normal form is named.
        for (typed, normal) in [
            ("HTTPS://App.Example/cb", "https://app.example/cb"),
            ("https://app.example", "https://app.example/"),
            ("https://app.example:443/cb", "https://app.example/cb"),
            ("https://app.example/a/../cb", "https://app.example/cb"),
            ("http://127.0.0.1:80/cb", "http://127.0.0.1/cb"),
        ] {
            check(typed, Err(E::NotNormal(normal.into())));
        }
    }

    #[test]
    fn private_use_schemes_must_be_reverse_dns() {
        let bare = RedirectUri::parse("myapp://callback").unwrap();
        assert_eq!(
            bare.require_reverse_dns(),
            Err(RedirectUriError::BareScheme("myapp".into()))
        );
        for ok in [
            "com.example.app:/cb",
            "https://a.example/cb",
            "http://127.0.0.1/cb",
        ] {
            assert_eq!(
                RedirectUri::parse(ok).unwrap().require_reverse_dns(),
                Ok(())
            );
        }
    }

    #[test]
    fn comparison_is_exact_but_for_a_loopback_port() {
        let a = RedirectUri::parse("https://app.example/cb").unwrap();
        assert!(a.matches("https://app.example/cb"));
        assert!(!a.matches("https://app.example/cb/"));
        assert!(!a.matches("https://app.example:444/cb"));
        let l = RedirectUri::parse("http://127.0.0.1/cb").unwrap();
        assert!(l.matches("http://127.0.0.1:51234/cb"));
        assert!(l.matches("http://127.0.0.1/cb"));
        assert!(!l.matches("http://127.0.0.1:51234/cb/other"));
        assert!(!l.matches("http://127.0.0.2:51234/cb"));
        assert!(!l.matches("http://127.0.0.1:51234/cb?x=1"));
        assert!(!l.matches("http://u@127.0.0.1:51234/cb"));
        assert!(!l.matches("https://127.0.0.1:51234/cb"));
        let v6 = RedirectUri::parse("http://[::1]:8000/cb").unwrap();
        assert!(v6.matches("http://[::1]:9/cb"));
    }
}
