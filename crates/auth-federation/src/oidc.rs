//! Any OpenID provider (Google, GitLab, Microsoft, a company's Keycloak,
//! another Portcullis) by configuration alone: its endpoints from
//! discovery (OpenID Connect Discovery 1.0, the document's `issuer` checked
//! against the configured one) or given one by one; the code flow with
//! PKCE S256, `state` and `nonce`; the ID token validated in full
//! (signature against the provider's JWKS, `iss`, `aud`, `azp`, `exp`,
//! `iat`, `nonce`) and RFC 9207's `iss` parameter checked when sent.
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use auth_core::error::UpstreamError;
use auth_core::ports::{IdentityProvider, UpstreamCallback, UpstreamRequest};
use auth_core::types::{
    DevicePoll, Email, OpaqueToken, ProviderName, UpstreamDevice, UpstreamIdentity, UpstreamSubject,
};
use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::JwkSet;
use reqwest::StatusCode;
use reqwest::header::AUTHORIZATION;
use serde::Deserialize;
use url::Url;

use crate::http::UpstreamHttp;

/// Clock skew allowed between us and the provider, in seconds.
const LEEWAY_SECS: i64 = 60;

/// Where a provider's endpoints are: each given, or discovered.
#[derive(Debug, Clone, Default)]
pub struct Endpoints {
    pub authorization: Option<Url>,
    pub token: Option<Url>,
    pub userinfo: Option<Url>,
    pub jwks: Option<Url>,
    /// RFC 7662 introspection, the only way an access token presented to
    /// us is known to be issued to our client.
    pub introspection: Option<Url>,
}

/// An OpenID provider's registration.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The button's label ("Corporate sign-in").
    pub display_name: String,
    /// The provider's issuer identifier, exactly as its ID tokens carry it.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: OpaqueToken,
    /// Space-separated; `openid` is always asked.
    pub scope: String,
    /// Endpoints set here are used as they are; the rest are discovered.
    pub endpoints: Endpoints,
}

/// The endpoints in use, resolved.
#[derive(Debug, Clone)]
struct Resolved {
    authorization: Url,
    token: Url,
    userinfo: Option<Url>,
    jwks: Url,
    introspection: Option<Url>,
}

/// The OpenID provider adapter.
pub struct OpenIdProvider {
    name: ProviderName,
    config: OidcConfig,
    http: UpstreamHttp,
    endpoints: RwLock<Option<Arc<Resolved>>>,
    keys: RwLock<Option<Arc<JwkSet>>>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: Url,
    token_endpoint: Url,
    userinfo_endpoint: Option<Url>,
    jwks_uri: Url,
    introspection_endpoint: Option<Url>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    id_token: Option<String>,
    error: Option<String>,
}

/// The claims read from an ID token or a userinfo answer.
#[derive(Deserialize)]
struct Claims {
    sub: String,
    email: Option<String>,
    email_verified: Option<bool>,
    preferred_username: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
}

impl Claims {
    fn subject_only(sub: String) -> Self {
        Self {
            sub,
            email: None,
            email_verified: None,
            preferred_username: None,
            given_name: None,
            family_name: None,
        }
    }
}

/// The ID token's own claims, checked against the flow.
#[derive(Deserialize)]
struct IdTokenChecks {
    iss: String,
    aud: Audience,
    azp: Option<String>,
    exp: i64,
    iat: i64,
    nonce: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, client: &str) -> bool {
        match self {
            Self::One(a) => a == client,
            Self::Many(all) => all.iter().any(|a| a == client),
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::One(_) => 1,
            Self::Many(all) => all.len(),
        }
    }
}

fn failed(what: impl Into<String>) -> UpstreamError {
    UpstreamError::Failed(what.into())
}

fn refused(what: impl Into<String>) -> UpstreamError {
    UpstreamError::Refused(what.into())
}

impl OpenIdProvider {
    pub fn new(name: ProviderName, config: OidcConfig, http: UpstreamHttp) -> Self {
        Self {
            name,
            config,
            http,
            endpoints: RwLock::new(None),
            keys: RwLock::new(None),
        }
    }

    fn who(&self) -> String {
        format!("the provider {}", self.name)
    }

    /// The endpoints: those configured, the rest from discovery (fetched
    /// once, on first use, so a provider that is down does not stop our
    /// start).
    async fn endpoints(&self) -> Result<Arc<Resolved>, UpstreamError> {
        if let Ok(guard) = self.endpoints.read()
            && let Some(resolved) = guard.as_ref()
        {
            return Ok(resolved.clone());
        }
        let given = &self.config.endpoints;
        let resolved = match (&given.authorization, &given.token, &given.jwks) {
            (Some(authorization), Some(token), Some(jwks)) => Resolved {
                authorization: authorization.clone(),
                token: token.clone(),
                userinfo: given.userinfo.clone(),
                jwks: jwks.clone(),
                introspection: given.introspection.clone(),
            },
            _ => {
                let found = self.discover().await?;
                Resolved {
                    authorization: given
                        .authorization
                        .clone()
                        .unwrap_or(found.authorization_endpoint),
                    token: given.token.clone().unwrap_or(found.token_endpoint),
                    userinfo: given.userinfo.clone().or(found.userinfo_endpoint),
                    jwks: given.jwks.clone().unwrap_or(found.jwks_uri),
                    introspection: given.introspection.clone().or(found.introspection_endpoint),
                }
            }
        };
        let resolved = Arc::new(resolved);
        if let Ok(mut guard) = self.endpoints.write() {
            *guard = Some(resolved.clone());
        }
        Ok(resolved)
    }

    async fn discover(&self) -> Result<Discovery, UpstreamError> {
        let who = self.who();
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.config.issuer.trim_end_matches('/')
        );
        let answer = self.http.send(&who, self.http.get(&url)).await?;
        if answer.status != StatusCode::OK {
            return Err(failed(format!(
                "{who} answered discovery with {}",
                answer.status
            )));
        }
        let found: Discovery = answer.json(&who)?;
        // Discovery section 4.3: the document must be the issuer's own.
        if found.issuer != self.config.issuer {
            return Err(failed(format!(
                "{who}'s discovery document names another issuer"
            )));
        }
        Ok(found)
    }

    /// The provider's keys; fetched again when a token names a key we do
    /// not have (the provider rotated).
    async fn keys(&self, kid: Option<&str>) -> Result<Arc<JwkSet>, UpstreamError> {
        if let Ok(guard) = self.keys.read()
            && let Some(set) = guard.as_ref()
            && kid.is_none_or(|kid| set.find(kid).is_some())
        {
            return Ok(set.clone());
        }
        let who = self.who();
        let url = self.endpoints().await?.jwks.clone();
        let answer = self.http.send(&who, self.http.get(url.as_str())).await?;
        if answer.status != StatusCode::OK {
            return Err(failed(format!(
                "{who} answered its JWKS with {}",
                answer.status
            )));
        }
        let set: Arc<JwkSet> = Arc::new(answer.json(&who)?);
        if let Ok(mut guard) = self.keys.write() {
            *guard = Some(set.clone());
        }
        Ok(set)
    }

    /// Checks an ID token in full and reads who it names.
    /// `nonce` is the sign-in's; `None` for an ID token presented to the
    /// exchange, which no sign-in of ours asked for.
    async fn verify_id_token(
        &self,
        token: &str,
        nonce: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Claims, UpstreamError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| refused("the ID token is not a JWT"))?;
        let keys = self.keys(header.kid.as_deref()).await?;
        let jwk = match header.kid.as_deref() {
            Some(kid) => keys.find(kid),
            None if keys.keys.len() == 1 => keys.keys.first(),
            None => None,
        }
        .ok_or_else(|| {
            refused("the ID token is signed with a key the provider does not publish")
        })?;
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk)
            .map_err(|_| failed("the provider publishes a key that cannot be used"))?;
        // Only asymmetric algorithms: "none" and HMAC keyed with the
        // client secret are not accepted.
        let algorithm = match header.alg {
            a @ (jsonwebtoken::Algorithm::RS256
            | jsonwebtoken::Algorithm::RS384
            | jsonwebtoken::Algorithm::RS512
            | jsonwebtoken::Algorithm::PS256
            | jsonwebtoken::Algorithm::PS384
            | jsonwebtoken::Algorithm::PS512
            | jsonwebtoken::Algorithm::ES256
            | jsonwebtoken::Algorithm::ES384
            | jsonwebtoken::Algorithm::EdDSA) => a,
            other => {
                return Err(refused(format!(
                    "the ID token's algorithm {other:?} is not accepted"
                )));
            }
        };
        // The signature here; the claims below, against the time passed in.
        let mut validation = jsonwebtoken::Validation::new(algorithm);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims = Default::default();
        let data = jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
            .map_err(|_| refused("the ID token's signature does not verify"))?;
        let checks: IdTokenChecks = serde_json::from_value(data.claims.clone())
            .map_err(|_| refused("the ID token lacks iss, aud, exp or iat"))?;
        let client = &self.config.client_id;
        if checks.iss != self.config.issuer {
            return Err(refused("the ID token is from another issuer"));
        }
        if !checks.aud.contains(client) {
            return Err(refused("the ID token is for another client"));
        }
        // Core section 3.1.3.7 (4, 5): with several audiences, azp names us.
        if checks.aud.len() > 1 && checks.azp.as_deref() != Some(client.as_str()) {
            return Err(refused("the ID token is for another authorized party"));
        }
        let now = now.timestamp();
        if checks.exp + LEEWAY_SECS <= now {
            return Err(refused("the ID token has expired"));
        }
        if checks.iat - LEEWAY_SECS > now {
            return Err(refused("the ID token was issued in the future"));
        }
        if let Some(nonce) = nonce
            && checks.nonce.as_deref() != Some(nonce)
        {
            return Err(refused("the ID token's nonce is not this sign-in's"));
        }
        serde_json::from_value(data.claims).map_err(|_| refused("the ID token has no subject"))
    }

    fn identity(&self, claims: Claims) -> Result<UpstreamIdentity, UpstreamError> {
        let subject = UpstreamSubject::parse(&claims.sub)
            .map_err(|e| refused(format!("the provider's subject: {e}")))?;
        let email = match (claims.email, claims.email_verified) {
            (Some(email), Some(true)) => Email::parse(&email).ok(),
            _ => None,
        };
        Ok(UpstreamIdentity {
            provider: self.name.clone(),
            subject,
            email,
            login: claims.preferred_username,
            given_name: claims.given_name,
            family_name: claims.family_name,
        })
    }

    fn scope(&self) -> String {
        let mut scope: Vec<&str> = self.config.scope.split_whitespace().collect();
        if !scope.contains(&"openid") {
            scope.insert(0, "openid");
        }
        scope.join(" ")
    }
}

#[async_trait]
impl IdentityProvider for OpenIdProvider {
    fn display_name(&self) -> &str {
        &self.config.display_name
    }

    fn browser_origin(&self) -> String {
        let configured = self.config.endpoints.authorization.as_ref();
        let cached = self
            .endpoints
            .read()
            .ok()
            .and_then(|g| g.as_ref().map(|r| r.authorization.clone()));
        match configured.cloned().or(cached) {
            Some(url) => url.origin().ascii_serialization(),
            // Not discovered yet: the issuer's origin, where providers
            // almost always keep their authorization endpoint.
            None => Url::parse(&self.config.issuer)
                .map(|u| u.origin().ascii_serialization())
                .unwrap_or_default(),
        }
    }

    fn authorization_url(&self, request: &UpstreamRequest<'_>) -> Result<String, UpstreamError> {
        // Synchronous: the endpoint must be known (configured, or
        // discovered by `prepare`).
        let resolved = self
            .endpoints
            .read()
            .ok()
            .and_then(|g| g.clone())
            .ok_or_else(|| failed(format!("{}'s endpoints are not known yet", self.who())))?;
        let mut url = resolved.authorization.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.config.client_id)
            .append_pair("redirect_uri", request.redirect_uri)
            .append_pair("scope", &self.scope())
            .append_pair("state", request.state)
            .append_pair("nonce", request.nonce)
            .append_pair("code_challenge", request.code_challenge)
            .append_pair("code_challenge_method", "S256");
        Ok(url.into())
    }

    async fn prepare(&self) -> Result<(), UpstreamError> {
        self.endpoints().await.map(|_| ())
    }

    async fn finish(
        &self,
        callback: &UpstreamCallback<'_>,
    ) -> Result<UpstreamIdentity, UpstreamError> {
        // RFC 9207: a provider that says who it is must be the one we asked.
        if let Some(issuer) = callback.issuer
            && issuer != self.config.issuer
        {
            return Err(refused("the answer came from another issuer (RFC 9207)"));
        }
        let who = self.who();
        let endpoints = self.endpoints().await?;
        let request = self
            .http
            .post(endpoints.token.as_str())
            .basic_auth(
                &self.config.client_id,
                Some(self.config.client_secret.expose()),
            )
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", callback.code),
                ("redirect_uri", callback.redirect_uri),
                ("code_verifier", callback.code_verifier),
            ]);
        let answer = self.http.send(&who, request).await?;
        let token: TokenAnswer = answer.json(&who)?;
        if let Some(error) = token.error {
            // A fixed sentence per code: the provider's description is
            // never repeated to the person or a client.
            let text = auth_core::error::provider_refusal(&error);
            return Err(
                if error == "invalid_client" || error == "unauthorized_client" {
                    failed(format!("{who} refused this server's client: {text}"))
                } else {
                    refused(text)
                },
            );
        }
        if !answer.status.is_success() {
            return Err(failed(format!("{who} answered {}", answer.status)));
        }
        let id_token = token
            .id_token
            .ok_or_else(|| failed(format!("{who} sent no ID token")))?;
        let claims = self
            .verify_id_token(&id_token, Some(callback.nonce), callback.now)
            .await?;
        self.identity(claims)
    }

    async fn start_device(&self, _now: DateTime<Utc>) -> Result<UpstreamDevice, UpstreamError> {
        Err(UpstreamError::Unsupported(
            "the device flow is offered for GitHub only",
        ))
    }

    async fn poll_device(&self, _device_code: &OpaqueToken) -> Result<DevicePoll, UpstreamError> {
        Err(UpstreamError::Unsupported(
            "the device flow is offered for GitHub only",
        ))
    }

    /// The identity behind a token presented to the exchange, only if it
    /// was issued to our client: an ID token checked in full (signature,
    /// `iss`, `aud`/`azp` naming our client, `exp`), or an access token the
    /// provider's introspection (RFC 7662) says is active and ours. A
    /// userinfo answer alone proves nothing of the sort: any app's token
    /// gets one.
    async fn identity(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<UpstreamIdentity, UpstreamError> {
        if !crate::http::is_token(token) {
            return Err(refused("that is not a token"));
        }
        let claims = match jsonwebtoken::decode_header(token) {
            // A JWT access token (RFC 9068) says so in its `typ`; any other
            // JWT is taken for an ID token, and must check as one.
            Ok(header) if !is_access_token_typ(header.typ.as_deref()) => {
                self.verify_id_token(token, None, now).await?
            }
            _ => self.introspect_ours(token).await?,
        };
        self.identity(claims)
    }
}

/// Whether a JWT's `typ` names an access token (RFC 9068 section 2.1).
fn is_access_token_typ(typ: Option<&str>) -> bool {
    typ.is_some_and(|t| {
        let t = t.to_ascii_lowercase();
        t == "at+jwt" || t == "application/at+jwt"
    })
}

/// What an introspection answer says of a token.
#[derive(Deserialize)]
struct Introspected {
    active: bool,
    client_id: Option<String>,
    aud: Option<Audience>,
    sub: Option<String>,
}

impl OpenIdProvider {
    /// Asks the provider's introspection endpoint, as our client, whether
    /// `token` is an active access token issued to us; then who it names,
    /// from userinfo when the provider has one (its `sub` must be the
    /// introspected one).
    async fn introspect_ours(&self, token: &str) -> Result<Claims, UpstreamError> {
        let who = self.who();
        let endpoints = self.endpoints().await?;
        let introspection = endpoints
            .introspection
            .clone()
            .ok_or(UpstreamError::Unsupported(
                "this provider offers no token introspection, so its access tokens cannot be \
             exchanged here; exchange an ID token issued to this server instead",
            ))?;
        let request = self
            .http
            .post(introspection.as_str())
            .basic_auth(
                &self.config.client_id,
                Some(self.config.client_secret.expose()),
            )
            .form(&[("token", token), ("token_type_hint", "access_token")]);
        let answer = self.http.send(&who, request).await?;
        match answer.status {
            StatusCode::OK => {}
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(failed(format!("{who} refused this server's client")));
            }
            other => return Err(failed(format!("{who} answered introspection with {other}"))),
        }
        let found: Introspected = answer.json(&who)?;
        let client = self.config.client_id.as_str();
        let ours = found.client_id.as_deref() == Some(client)
            || found.aud.as_ref().is_some_and(|aud| aud.contains(client));
        if !found.active || !ours {
            return Err(refused(
                "the access token is not active or was not issued to this server",
            ));
        }
        let subject = found
            .sub
            .ok_or_else(|| refused("the provider's introspection names no subject"))?;
        let Some(userinfo) = endpoints.userinfo.clone() else {
            return Ok(Claims::subject_only(subject));
        };
        let request = self
            .http
            .get(userinfo.as_str())
            .header(AUTHORIZATION, format!("Bearer {token}"));
        let answer = self.http.send(&who, request).await?;
        match answer.status {
            StatusCode::OK => {}
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(refused("the access token is not valid at the provider"));
            }
            other => return Err(failed(format!("{who} answered {other}"))),
        }
        let claims: Claims = answer.json(&who)?;
        if claims.sub != subject {
            return Err(refused(
                "the provider's userinfo names another subject than its introspection",
            ));
        }
        Ok(claims)
    }
}
