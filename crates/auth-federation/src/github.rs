//! GitHub as an upstream identity provider: the OAuth web flow with PKCE
//! S256 and `state`, the device flow, and the identity behind a token
//! (`GET /user` keyed by the numeric `id`, never the login, which its owner
//! can rename and someone else then take; `GET /user/emails` for the
//! primary verified address).
//!
//! The base URLs are settings, so GitHub Enterprise Server or a test
//! double can stand in for github.com.
use async_trait::async_trait;
use auth_core::error::UpstreamError;
use auth_core::ports::{IdentityProvider, UpstreamCallback, UpstreamRequest};
use auth_core::types::{
    DevicePoll, Email, OpaqueToken, ProviderName, UpstreamDevice, UpstreamIdentity, UpstreamSubject,
};
use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use reqwest::header::AUTHORIZATION;
use serde::Deserialize;
use url::Url;

use crate::http::{Answer, UpstreamHttp};

/// What is asked of the person: their profile, and their email addresses
/// (private ones are only visible with `user:email`).
pub const DEFAULT_SCOPE: &str = "read:user user:email";

const WHO: &str = "GitHub";

/// A GitHub OAuth app's registration and where GitHub is.
#[derive(Debug, Clone)]
pub struct GitHubConfig {
    pub client_id: String,
    pub client_secret: OpaqueToken,
    /// `https://github.com`: authorization, token and device endpoints.
    pub web_url: Url,
    /// `https://api.github.com`: the user endpoints.
    pub api_url: Url,
    pub scope: String,
}

/// The GitHub adapter.
pub struct GitHub {
    name: ProviderName,
    config: GitHubConfig,
    http: UpstreamHttp,
}

impl GitHub {
    pub fn new(name: ProviderName, config: GitHubConfig, http: UpstreamHttp) -> Self {
        Self { name, config, http }
    }

    fn web(&self, path: &str) -> Result<Url, UpstreamError> {
        join(&self.config.web_url, path)
    }

    fn api(&self, path: &str) -> Result<Url, UpstreamError> {
        join(&self.config.api_url, path)
    }

    /// `POST /login/oauth/access_token`. GitHub answers errors with 200
    /// and an `error` field.
    async fn token(&self, form: &[(&str, &str)]) -> Result<TokenAnswer, UpstreamError> {
        let url = self.web("login/oauth/access_token")?;
        let answer = self
            .http
            .send(WHO, self.http.post(url.as_str()).form(form))
            .await?;
        if !answer.status.is_success() && !answer.status.is_client_error() {
            return Err(unexpected(&answer));
        }
        answer.json(WHO)
    }

    async fn user(&self, token: &str) -> Result<UpstreamIdentity, UpstreamError> {
        let bearer = format!("Bearer {token}");
        let url = self.api("user")?;
        let answer = self
            .http
            .send(
                WHO,
                self.http.get(url.as_str()).header(AUTHORIZATION, &bearer),
            )
            .await?;
        match answer.status {
            StatusCode::OK => {}
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(UpstreamError::Refused(
                    "the GitHub token is not valid (revoked, expired or not a token)".into(),
                ));
            }
            _ => return Err(unexpected(&answer)),
        }
        let user: User = answer.json(WHO)?;
        let subject = UpstreamSubject::parse(&user.id.to_string())
            .map_err(|e| UpstreamError::Failed(format!("GitHub's user id: {e}")))?;
        let email = self.primary_email(&bearer).await?;
        Ok(UpstreamIdentity {
            provider: self.name.clone(),
            subject,
            email,
            login: Some(user.login),
            given_name: None,
            family_name: None,
        })
    }

    /// GitHub's "check a token" call (`POST /applications/{client_id}/token`,
    /// authenticated as our app): 200 with our `app.client_id` for a token
    /// of our OAuth app, 404 or 422 for anything else, personal access
    /// tokens included.
    async fn check_issued_to_us(&self, token: &str) -> Result<(), UpstreamError> {
        let client_id: String =
            url::form_urlencoded::byte_serialize(self.config.client_id.as_bytes()).collect();
        let url = self.api(&format!("applications/{client_id}/token"))?;
        let request = self
            .http
            .post(url.as_str())
            .basic_auth(
                &self.config.client_id,
                Some(self.config.client_secret.expose()),
            )
            .json(&serde_json::json!({ "access_token": token }));
        let answer = self.http.send(WHO, request).await?;
        match answer.status {
            StatusCode::OK => {
                let check: TokenCheck = answer.json(WHO)?;
                if check.app.client_id == self.config.client_id {
                    Ok(())
                } else {
                    Err(not_ours())
                }
            }
            StatusCode::NOT_FOUND | StatusCode::UNPROCESSABLE_ENTITY => Err(not_ours()),
            // Our own credentials were refused: our configuration, not the person.
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(UpstreamError::Failed(
                "GitHub refused this server's client id or secret".into(),
            )),
            _ => Err(unexpected(&answer)),
        }
    }

    /// The primary address, if GitHub says it is verified. Without the
    /// `user:email` scope GitHub refuses the list: then there is none.
    async fn primary_email(&self, bearer: &str) -> Result<Option<Email>, UpstreamError> {
        let url = self.api("user/emails")?;
        let answer = self
            .http
            .send(
                WHO,
                self.http.get(url.as_str()).header(AUTHORIZATION, bearer),
            )
            .await?;
        match answer.status {
            StatusCode::OK => {}
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => {
                return Ok(None);
            }
            _ => return Err(unexpected(&answer)),
        }
        let emails: Vec<UserEmail> = answer.json(WHO)?;
        Ok(emails
            .into_iter()
            .find(|e| e.primary && e.verified)
            .and_then(|e| Email::parse(&e.email).ok()))
    }
}

fn join(base: &Url, path: &str) -> Result<Url, UpstreamError> {
    let mut base = base.clone();
    if !base.path().ends_with('/') {
        let with_slash = format!("{}/", base.path());
        base.set_path(&with_slash);
    }
    base.join(path)
        .map_err(|e| UpstreamError::Failed(format!("bad GitHub URL: {e}")))
}

fn not_ours() -> UpstreamError {
    UpstreamError::Refused(
        "the GitHub token was not issued to this server's GitHub app (another app's token, \
         a personal access token, or not valid)"
            .into(),
    )
}

fn unexpected(answer: &Answer) -> UpstreamError {
    UpstreamError::Failed(format!("GitHub answered {}", answer.status))
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    error: Option<String>,
}

/// The part of GitHub's "check a token" answer we read.
#[derive(Deserialize)]
struct TokenCheck {
    app: CheckedApp,
}

#[derive(Deserialize)]
struct CheckedApp {
    client_id: String,
}

#[derive(Deserialize)]
struct User {
    id: u64,
    login: String,
}

#[derive(Deserialize)]
struct UserEmail {
    email: String,
    primary: bool,
    verified: bool,
}

#[derive(Deserialize)]
struct DeviceAnswer {
    device_code: String,
    user_code: String,
    verification_uri: String,
    expires_in: i64,
    interval: Option<i64>,
}

#[async_trait]
impl IdentityProvider for GitHub {
    fn display_name(&self) -> &str {
        "GitHub"
    }

    fn browser_origin(&self) -> String {
        self.config.web_url.origin().ascii_serialization()
    }

    fn authorization_url(&self, request: &UpstreamRequest<'_>) -> Result<String, UpstreamError> {
        let mut url = self.web("login/oauth/authorize")?;
        url.query_pairs_mut()
            .append_pair("client_id", &self.config.client_id)
            .append_pair("redirect_uri", request.redirect_uri)
            .append_pair("scope", &self.config.scope)
            .append_pair("state", request.state)
            .append_pair("code_challenge", request.code_challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("allow_signup", "true");
        Ok(url.into())
    }

    async fn finish(
        &self,
        callback: &UpstreamCallback<'_>,
    ) -> Result<UpstreamIdentity, UpstreamError> {
        let answer = self
            .token(&[
                ("client_id", &self.config.client_id),
                ("client_secret", self.config.client_secret.expose()),
                ("code", callback.code),
                ("redirect_uri", callback.redirect_uri),
                ("code_verifier", callback.code_verifier),
            ])
            .await?;
        match (answer.access_token, answer.error) {
            (Some(token), None) => self.user(&token).await,
            // A wrong client secret is our configuration, not the person.
            (_, Some(e)) if e == "incorrect_client_credentials" => Err(UpstreamError::Failed(
                "GitHub refused this server's client id or secret".into(),
            )),
            (_, Some(e)) => Err(UpstreamError::Refused(describe(&e))),
            (None, None) => Err(UpstreamError::Failed(
                "GitHub's token answer has neither a token nor an error".into(),
            )),
        }
    }

    async fn start_device(&self, now: DateTime<Utc>) -> Result<UpstreamDevice, UpstreamError> {
        let url = self.web("login/device/code")?;
        let request = self.http.post(url.as_str()).form(&[
            ("client_id", self.config.client_id.as_str()),
            ("scope", self.config.scope.as_str()),
        ]);
        let answer = self.http.send(WHO, request).await?;
        if !answer.status.is_success() {
            return Err(unexpected(&answer));
        }
        let device: DeviceAnswer = answer.json(WHO)?;
        Ok(UpstreamDevice {
            verification_uri: device.verification_uri,
            user_code: device.user_code,
            device_code: OpaqueToken::new(device.device_code),
            expires_at: now + Duration::seconds(device.expires_in.clamp(1, 3600)),
            interval: Duration::seconds(device.interval.unwrap_or(5).clamp(1, 60)),
        })
    }

    async fn poll_device(&self, device_code: &OpaqueToken) -> Result<DevicePoll, UpstreamError> {
        let answer = self
            .token(&[
                ("client_id", &self.config.client_id),
                ("device_code", device_code.expose()),
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ])
            .await?;
        match (answer.access_token, answer.error.as_deref()) {
            (Some(token), None) => Ok(DevicePoll::Done(self.user(&token).await?)),
            (_, Some("authorization_pending")) => Ok(DevicePoll::Pending),
            (_, Some("slow_down")) => Ok(DevicePoll::SlowDown),
            (_, Some("expired_token")) => Ok(DevicePoll::Expired),
            (_, Some("access_denied")) => Ok(DevicePoll::Denied),
            (_, Some(e)) => Err(UpstreamError::Refused(describe(e))),
            (None, None) => Err(UpstreamError::Failed(
                "GitHub's token answer has neither a token nor an error".into(),
            )),
        }
    }

    /// A token presented to us is trusted only once GitHub says it was
    /// issued to our OAuth app: any other app's token, a GitHub App's, a
    /// CLI's or a personal access token names its holder just as well, and
    /// whoever holds one of those must not sign in as that person here.
    async fn identity(
        &self,
        access_token: &str,
        _now: DateTime<Utc>,
    ) -> Result<UpstreamIdentity, UpstreamError> {
        if access_token.is_empty()
            || access_token
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(UpstreamError::Refused("that is not a GitHub token".into()));
        }
        self.check_issued_to_us(access_token).await?;
        self.user(access_token).await
    }
}

/// GitHub's error code, with its description when it sent one (bounded:
/// it ends up in a client's error body).
/// GitHub's error code as a fixed sentence; its description is never
/// repeated (it ends up on a page and in a client's error body).
fn describe(code: &str) -> String {
    auth_core::error::provider_refusal(code).to_owned()
}
