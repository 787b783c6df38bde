//! The authorization endpoint's rules (RFC 6749 section 4.1.1 and 4.1.2.1,
//! RFC 7636 section 4.3): validating a request, and issuing a code once the
//! user is known.
use chrono::{DateTime, Utc};

use crate::error::{FlowError, OAuthError};
use crate::events::SecurityEvent;
use crate::grants::{require_dialect, resolve_scope};
use crate::service::BrowserSignIn;
use crate::types::{AuthLevel, AuthMethods};
use crate::types::{
    AuthorizationCode, ChallengeMethod, Client, ClientId, CodeChallenge, Dialect, GrantType,
    IssuedTokens, OpaqueToken, RedirectUri, Scope, UserId,
};

/// The raw parameters of an authorization request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizationRequest {
    /// `client_id` (RFC 6749 section 4.1.1).
    pub client_id: Option<String>,
    /// `redirect_uri`: optional when the client has exactly one.
    pub redirect_uri: Option<String>,
    /// `response_type`: only `code` is served.
    pub response_type: Option<String>,
    /// `scope`, space-separated.
    pub scope: Option<String>,
    /// `state`, handed back to the client unchanged.
    pub state: Option<String>,
    /// RFC 7636 `code_challenge`.
    pub code_challenge: Option<String>,
    /// RFC 7636 `code_challenge_method`: `S256`, or `plain` where allowed.
    pub code_challenge_method: Option<String>,
    /// OpenID Connect Core section 3.1.2.1: echoed in the ID token.
    pub nonce: Option<String>,
    /// OpenID Connect Core section 3.1.2.1: `none`, or any of `login`,
    /// `consent`, `select_account`, space-separated.
    pub prompt: Option<String>,
    /// OpenID Connect Core section 3.1.2.1: the oldest sign-in accepted, in
    /// seconds.
    pub max_age: Option<String>,
    /// OpenID Connect Core section 3.1.2.1: an ID token this server issued,
    /// naming the user the client expects.
    pub id_token_hint: Option<String>,
    /// OpenID Connect Core section 3.1.2.1: the authentication levels the
    /// client would accept, space-separated, preferred first.
    pub acr_values: Option<String>,
}

/// What the user must be asked, from `prompt` (OpenID Connect Core section
/// 3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    /// `none`: no page may be shown; what needs one is an error.
    pub none: bool,
    /// `login` (or `select_account`): sign in again even with a session.
    pub login: bool,
    /// `consent`: ask for consent even for a first-party client.
    pub consent: bool,
}

impl Prompt {
    fn parse(raw: Option<&str>) -> Result<Self, String> {
        let mut prompt = Self::default();
        for value in raw.unwrap_or_default().split(' ').filter(|v| !v.is_empty()) {
            match value {
                "none" => prompt.none = true,
                "login" | "select_account" => prompt.login = true,
                "consent" => prompt.consent = true,
                other => {
                    return Err(format!(
                        "prompt {:?} is not supported (none, login, consent, select_account)",
                        other.chars().take(32).collect::<String>()
                    ));
                }
            }
        }
        if prompt.none && (prompt.login || prompt.consent) {
            return Err("prompt=none cannot be combined with other values".into());
        }
        Ok(prompt)
    }
}

/// What happens next at the authorization endpoint for a browser that may
/// hold a session.
#[derive(Debug)]
pub enum SignInStep {
    /// The session serves: go on as this user.
    Continue(SignedIn),
    /// Show the login page.
    Login,
    /// Refuse (`prompt=none` when a page would be needed).
    Refuse(Refusal),
}

/// The longest `nonce` accepted: it is stored with the code and echoed.
const MAX_NONCE_CHARS: usize = 512;

/// A request that passed every check.
#[derive(Debug, Clone)]
pub struct ValidRequest {
    /// The client, as registered.
    pub client: Client,
    /// The redirect URI the code and any error go to, matched exactly.
    pub redirect_uri: RedirectUri,
    /// The scope granted: the one asked for, or all the client may have.
    pub scope: Scope,
    /// The client's `state`.
    pub state: Option<String>,
    /// The PKCE challenge the code will be bound to.
    pub challenge: Option<CodeChallenge>,
    /// OpenID Connect's `nonce`, for the ID token.
    pub nonce: Option<String>,
    /// What `prompt` asked for.
    pub prompt: Prompt,
    /// The oldest sign-in the client accepts.
    pub max_age: Option<chrono::Duration>,
    /// The user an `id_token_hint` names: a session of anyone else does not
    /// serve.
    pub expected_subject: Option<crate::types::UserId>,
    /// The lowest authentication level the code may be issued at: the
    /// client's (or the server's) floor, raised by `acr_values`.
    pub required_level: AuthLevel,
}

/// Who is signing in, and since when: a browser session's user and the
/// moment they last authenticated (OpenID Connect's `auth_time`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedIn {
    /// The account.
    pub user: UserId,
    /// When it authenticated (a password, an upstream provider).
    pub authenticated_at: DateTime<Utc>,
    /// How it authenticated.
    pub methods: AuthMethods,
}

/// Why a request was refused, and how the refusal must be delivered.
#[derive(Debug)]
pub enum Refusal {
    /// The client or the redirect URI cannot be trusted: "the authorization
    /// server SHOULD inform the resource owner of the error and MUST NOT
    /// automatically redirect" (RFC 6749 section 4.1.2.1).
    Untrusted(String),
    /// Everything else goes back to the client's redirect URI.
    Redirect {
        /// The client's validated redirect URI.
        redirect_uri: RedirectUri,
        /// The error for the client.
        error: OAuthError,
        /// The client's `state`, echoed.
        state: Option<String>,
    },
    /// Storage or cryptography failed.
    Failed(FlowError),
}

impl From<FlowError> for Refusal {
    fn from(e: FlowError) -> Self {
        Self::Failed(e)
    }
}

impl BrowserSignIn {
    /// Validates an authorization request. Client and redirect URI come
    /// first: until both are trusted, nothing may be redirected anywhere.
    pub async fn validate_authorization(
        &self,
        req: &AuthorizationRequest,
    ) -> Result<ValidRequest, Refusal> {
        let untrusted = |m: &str| Refusal::Untrusted(m.to_owned());
        let client_id = req
            .client_id
            .as_deref()
            .ok_or_else(|| untrusted("The request names no client (client_id is missing)."))?;
        let client_id =
            ClientId::parse(client_id).map_err(|_| untrusted("The client_id is not valid."))?;
        let client = self
            .ports()
            .clients
            .find(&client_id)
            .await
            .map_err(FlowError::from)?
            .ok_or_else(|| untrusted("The client is not registered here."))?;
        let redirect_uri = RedirectUri::resolve(&client.redirect_uris, req.redirect_uri.as_deref())
            .map_err(untrusted)?;
        let state = req.state.clone();
        let refuse = |error: OAuthError| Refusal::Redirect {
            redirect_uri: redirect_uri.clone(),
            error,
            state: state.clone(),
        };
        match req.response_type.as_deref() {
            Some("code") => {}
            Some(_) => {
                return Err(refuse(OAuthError::new(
                    crate::ErrorCode::UnsupportedResponseType,
                    "only response_type=code is supported",
                )));
            }
            None => {
                return Err(refuse(OAuthError::invalid_request(
                    "the parameter response_type is missing",
                )));
            }
        }
        if !client.allows(GrantType::AuthorizationCode) {
            return Err(refuse(OAuthError::unauthorized_client(
                "this client may not use the authorization code flow",
            )));
        }
        let requested = match req.scope.as_deref() {
            None | Some("") => None,
            Some(raw) => Some(
                Scope::parse(raw).map_err(|e| refuse(OAuthError::invalid_scope(e.to_string())))?,
            ),
        };
        let scope = resolve_scope(requested, &client.scope).map_err(refuse)?;
        let challenge = match (
            req.code_challenge.as_deref(),
            req.code_challenge_method.as_deref(),
        ) {
            (None, None) if client.is_public() => {
                return Err(refuse(OAuthError::invalid_request(
                    "a public client must send a PKCE code_challenge (S256)",
                )));
            }
            (None, None) => None,
            (None, Some(_)) => {
                return Err(refuse(OAuthError::invalid_request(
                    "code_challenge_method without code_challenge",
                )));
            }
            // RFC 7636 section 4.3: an omitted method means "plain".
            (Some(value), method) => {
                let method = ChallengeMethod::parse(method.unwrap_or("plain"))
                    .map_err(|e| refuse(OAuthError::invalid_request(e.to_string())))?;
                if method == ChallengeMethod::Plain && !client.allow_plain_pkce {
                    return Err(refuse(OAuthError::invalid_request(
                        "code_challenge_method must be S256",
                    )));
                }
                Some(
                    CodeChallenge::parse(value, method)
                        .map_err(|e| refuse(OAuthError::invalid_request(e.to_string())))?,
                )
            }
        };
        let nonce = match req.nonce.as_deref() {
            None | Some("") => None,
            Some(n) if n.chars().count() > MAX_NONCE_CHARS => {
                return Err(refuse(OAuthError::invalid_request(format!(
                    "the nonce is longer than {MAX_NONCE_CHARS} characters"
                ))));
            }
            Some(n) => Some(n.to_owned()),
        };
        let prompt = Prompt::parse(req.prompt.as_deref())
            .map_err(|e| refuse(OAuthError::invalid_request(e)))?;
        let max_age = match req.max_age.as_deref() {
            None | Some("") => None,
            Some(raw) => match raw.parse::<u32>() {
                Ok(seconds) => Some(chrono::Duration::seconds(i64::from(seconds))),
                Err(_) => {
                    return Err(refuse(OAuthError::invalid_request(
                        "max_age must be a number of seconds",
                    )));
                }
            },
        };
        let expected_subject = match req.id_token_hint.as_deref() {
            None | Some("") => None,
            Some(token) => {
                let hint = self
                    .ports()
                    .id_tokens
                    .read_hint(token)
                    .ok()
                    .filter(|h| {
                        h.issuer.trim_end_matches('/') == self.issuer().trim_end_matches('/')
                    })
                    .ok_or_else(|| {
                        refuse(OAuthError::invalid_request(
                            "the id_token_hint is not an ID token issued by this server",
                        ))
                    })?;
                Some(hint.subject)
            }
        };
        let required_level = self
            .required_level(&client, req.acr_values.as_deref())
            .map_err(refuse)?;
        Ok(ValidRequest {
            client,
            redirect_uri,
            scope,
            state,
            challenge,
            nonce,
            prompt,
            max_age,
            expected_subject,
            required_level,
        })
    }

    /// Validates an authorization request that arrives in a dialect's shape
    /// (seed 001's JSON sign-in and registration): the standard checks, and
    /// the client must be registered for the dialect.
    pub async fn validate_authorization_in(
        &self,
        dialect: Dialect,
        req: &AuthorizationRequest,
    ) -> Result<ValidRequest, Refusal> {
        let valid = self.validate_authorization(req).await?;
        require_dialect(&valid.client, dialect).map_err(|error| Refusal::Redirect {
            redirect_uri: valid.redirect_uri.clone(),
            error,
            state: valid.state.clone(),
        })?;
        Ok(valid)
    }

    /// Issues a single-use code for `user`, bound to the client, the
    /// redirect URI and the PKCE challenge. A third-party client gets one
    /// only after the user consented on the hosted page.
    pub async fn issue_code(
        &self,
        request: &ValidRequest,
        who: SignedIn,
        consent: Consent,
        now: DateTime<Utc>,
    ) -> Result<(OpaqueToken, i64), FlowError> {
        let user = who.user;
        if let Err(Refusal::Redirect { error, .. }) = self.require_hinted_subject(request, &who) {
            return Err(error.into());
        }
        // A consent given before counts when it covers the scope (and the
        // request did not ask to be asked again); one given now is kept.
        let consent = match consent {
            Consent::NotAsked
                if !request.client.first_party
                    && !request.prompt.consent
                    && self.consent_covers(request, user).await? =>
            {
                Consent::Given
            }
            Consent::Given if !request.client.first_party => {
                let sessions = &self.ports().sessions;
                let earlier = sessions.find_consent(user, &request.client.id).await?;
                let scope = match earlier {
                    Some(earlier) => earlier.union(&request.scope),
                    None => request.scope.clone(),
                };
                sessions
                    .remember_consent(user, &request.client.id, &scope, now)
                    .await?;
                Consent::Given
            }
            other => other,
        };
        require_consent(&request.client, consent)?;
        if !self.email_verified_for(&request.client, user).await? {
            return Err(unverified_email().into());
        }
        if !self.admits(&request.client, user).await? {
            return Err(crate::groups::not_admitted().into());
        }
        if who.methods.level() < request.required_level {
            return Err(OAuthError::new(
                crate::ErrorCode::AccessDenied,
                "the sign-in does not meet the authentication level this request requires",
            )
            .into());
        }
        let code = self.ports().random.token();
        let ttl = self.policy().authorization_code_ttl;
        let record = AuthorizationCode {
            digest: self.ports().digest.digest(code.expose()),
            client_id: request.client.id.clone(),
            user_id: user,
            redirect_uri: request.redirect_uri.clone(),
            scope: request.scope.clone(),
            challenge: request.challenge.clone(),
            issued_at: now,
            expires_at: now + ttl,
            consumed_at: None,
            issued: None,
            nonce: request.nonce.clone(),
            auth_time: Some(who.authenticated_at),
            methods: who.methods,
        };
        self.ports().codes.insert_code(&record).await?;
        Ok((code, ttl.num_seconds()))
    }

    /// OpenID Connect Core section 3.1.2.1: a request with an
    /// `id_token_hint` is answered positively only for the user the hint
    /// names; someone else signing in gets `login_required`, not a code.
    pub fn require_hinted_subject(
        &self,
        request: &ValidRequest,
        who: &SignedIn,
    ) -> Result<(), Refusal> {
        match request.expected_subject {
            Some(subject) if subject != who.user => Err(Refusal::Redirect {
                redirect_uri: request.redirect_uri.clone(),
                error: OAuthError::new(
                    crate::ErrorCode::LoginRequired,
                    "the signed-in user is not the one the id_token_hint names",
                ),
                state: request.state.clone(),
            }),
            _ => Ok(()),
        }
    }

    /// Decides, for a valid request and the browser's session (if any),
    /// whether the session serves, the login page must be shown, or the
    /// request is refused: `prompt=login` and a sign-in older than
    /// `max_age` need a new login; `prompt=none` refuses whatever would need
    /// a page (`login_required`, or `consent_required` for a client whose
    /// users are asked).
    pub fn sign_in_step(
        &self,
        request: &ValidRequest,
        session: Option<SignedIn>,
        now: DateTime<Utc>,
    ) -> SignInStep {
        let fresh = session.filter(|who| {
            request
                .max_age
                .is_none_or(|max_age| now - who.authenticated_at <= max_age)
                && request.expected_subject.is_none_or(|sub| sub == who.user)
        });
        let refuse = |code: crate::ErrorCode, description: &'static str| {
            SignInStep::Refuse(Refusal::Redirect {
                redirect_uri: request.redirect_uri.clone(),
                error: OAuthError::new(code, description),
                state: request.state.clone(),
            })
        };
        match (request.prompt, fresh) {
            (p, None) if p.none => refuse(
                crate::ErrorCode::LoginRequired,
                "prompt=none, and the user is not signed in (or not recently enough for max_age)",
            ),
            (p, _) if p.login => SignInStep::Login,
            (_, Some(who)) => SignInStep::Continue(who),
            (_, None) => SignInStep::Login,
        }
    }

    /// Whether `user` must be asked, on the consent page, to let the
    /// request's client act for them: never for a first-party client
    /// unless `prompt=consent`; for a third-party one unless a consent
    /// they gave before covers the scope asked (and `prompt=consent` does
    /// not ask again). With `prompt=none` a needed page is `consent_required`.
    pub async fn consent_step(
        &self,
        request: &ValidRequest,
        user: UserId,
    ) -> Result<ConsentStep, FlowError> {
        let ask = if request.prompt.consent {
            true
        } else if request.client.first_party {
            false
        } else {
            !self.consent_covers(request, user).await?
        };
        Ok(match (ask, request.prompt.none) {
            (false, _) => ConsentStep::Skip,
            (true, false) => ConsentStep::Ask,
            (true, true) => ConsentStep::Refuse(Refusal::Redirect {
                redirect_uri: request.redirect_uri.clone(),
                error: OAuthError::new(
                    crate::ErrorCode::ConsentRequired,
                    "prompt=none, and this client needs the user's consent",
                ),
                state: request.state.clone(),
            }),
        })
    }

    /// Whether `user` may sign in to the request's client as far as their
    /// address goes: a client that requires a verified address gets no code
    /// for anyone else ([`Self::issue_code`] refuses it too); the hosted
    /// pages ask them to confirm it, and `prompt=none` is refused.
    pub async fn verification_step(
        &self,
        request: &ValidRequest,
        user: UserId,
    ) -> Result<VerificationStep, FlowError> {
        if self.email_verified_for(&request.client, user).await? {
            return Ok(VerificationStep::Fine);
        }
        Ok(if request.prompt.none {
            VerificationStep::Refuse(Refusal::Redirect {
                redirect_uri: request.redirect_uri.clone(),
                error: unverified_email(),
                state: request.state.clone(),
            })
        } else {
            VerificationStep::Needed
        })
    }

    /// Whether the request's client lets `user` in as far as its allowed
    /// groups go: a person in none of them gets a page that says so, or
    /// with `prompt=none` `access_denied` ([`Self::issue_code`] refuses
    /// the code too).
    pub async fn admission_step(
        &self,
        request: &ValidRequest,
        user: UserId,
    ) -> Result<AdmissionStep, FlowError> {
        if self.admits(&request.client, user).await? {
            return Ok(AdmissionStep::Fine);
        }
        Ok(if request.prompt.none {
            AdmissionStep::Refuse(Refusal::Redirect {
                redirect_uri: request.redirect_uri.clone(),
                error: crate::groups::not_admitted(),
                state: request.state.clone(),
            })
        } else {
            AdmissionStep::Denied
        })
    }

    /// Whether a remembered consent of `user` covers the request's scope.
    async fn consent_covers(
        &self,
        request: &ValidRequest,
        user: UserId,
    ) -> Result<bool, FlowError> {
        Ok(self
            .ports()
            .sessions
            .find_consent(user, &request.client.id)
            .await?
            .is_some_and(|granted| request.scope.is_subset(&granted)))
    }

    /// Refuses, before anything is stored, a code that [`Self::issue_code`]
    /// would refuse for want of consent: a dialect that creates an account
    /// and answers with a code checks this first, so a refusal leaves no
    /// account behind.
    pub fn check_consent(&self, request: &ValidRequest, consent: Consent) -> Result<(), FlowError> {
        Ok(require_consent(&request.client, consent)?)
    }

    /// Validates seed 000's redirect login: a client registered for it, a
    /// redirect URI of that client, and a scope within its own. The reason
    /// for a refusal is for an error page: nothing may be redirected to an
    /// unverified URI.
    pub async fn validate_redirect_login(
        &self,
        client_id: Option<&str>,
        redirect_uri: Option<&str>,
        scope: Option<Scope>,
    ) -> Result<ValidRedirectLogin, Refusal> {
        let untrusted = |m: &str| Refusal::Untrusted(m.to_owned());
        let not_registered = || untrusted("The client is not registered here for redirect login.");
        let id = client_id
            .and_then(|c| ClientId::parse(c).ok())
            .ok_or_else(not_registered)?;
        let client = self
            .ports()
            .clients
            .find(&id)
            .await
            .map_err(FlowError::from)?
            .filter(|c| c.speaks(Dialect::RedirectLogin))
            .ok_or_else(not_registered)?;
        let redirect_uri =
            RedirectUri::resolve(&client.redirect_uris, redirect_uri).map_err(untrusted)?;
        let scope = resolve_scope(scope, &client.scope)
            .map_err(|_| untrusted("The requested scope exceeds what this client may ask for."))?;
        Ok(ValidRedirectLogin {
            client,
            redirect_uri,
            scope,
        })
    }

    /// Seed 000's redirect login after the user signed in: tokens for the
    /// redirect. Registration allows the dialect to first-party clients
    /// only, since its flow has no consent step; that is checked again here.
    pub async fn redirect_login_tokens(
        &self,
        request: &ValidRedirectLogin,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<IssuedTokens, FlowError> {
        require_dialect(&request.client, Dialect::RedirectLogin)?;
        require_consent(&request.client, Consent::NotAsked)?;
        let owner = match self.ports.users.find_by_id(user).await? {
            Some(u) if !u.disabled => u.token_owner(),
            _ => {
                return Err(OAuthError::access_denied("the account cannot sign in").into());
            }
        };
        self.tokens_for_user(&request.client, owner, request.scope.clone(), None, now)
            .await
    }
}

impl crate::service::Core {
    /// The level a request for `client` needs: the client's (or the
    /// server's) floor, raised to the weakest of the `acr_values` this
    /// server knows (any of them would do). Values it does not know are
    /// passed over; a list of nothing but those cannot be met.
    fn required_level(
        &self,
        client: &Client,
        acr_values: Option<&str>,
    ) -> Result<AuthLevel, OAuthError> {
        let floor = self.client_level(client);
        let values: Vec<&str> = acr_values
            .unwrap_or_default()
            .split(' ')
            .filter(|v| !v.is_empty())
            .collect();
        if values.is_empty() {
            return Ok(floor);
        }
        let asked = values.iter().filter_map(|v| AuthLevel::parse(v)).min();
        match asked {
            Some(level) => Ok(level.max(floor)),
            None => Err(OAuthError::new(
                crate::ErrorCode::UnmetAuthenticationRequirements,
                "none of the acr_values is a level this server offers (see \
                 acr_values_supported)",
            )),
        }
    }

    /// Whether `client` may act for `user` as far as the address goes:
    /// always, unless it requires a verified address the user lacks.
    pub(crate) async fn email_verified_for(
        &self,
        client: &Client,
        user: UserId,
    ) -> Result<bool, FlowError> {
        if !client.require_verified_email {
            return Ok(true);
        }
        Ok(self
            .ports
            .users
            .find_by_id(user)
            .await?
            .is_some_and(|u| client.admits_address_of(&u)))
    }
}

/// Whether a signed-in user's groups let them on to the client.
#[derive(Debug)]
pub enum AdmissionStep {
    /// They do (or the client admits everyone).
    Fine,
    /// They are in none of the client's allowed groups: tell them so.
    Denied,
    /// `prompt=none`, and they are in none of them: refused.
    Refuse(Refusal),
}

/// Whether a signed-in user's address lets them on to the client.
#[derive(Debug)]
pub enum VerificationStep {
    /// It does (or the client does not ask).
    Fine,
    /// Ask them to confirm their address first.
    Needed,
    /// `prompt=none`, and the address is not verified: refused.
    Refuse(Refusal),
}

/// The refusal of a client that signs in only verified addresses.
pub(crate) fn unverified_email() -> OAuthError {
    OAuthError::access_denied("this application requires a confirmed email address")
}

/// What the consent decision for a signed-in user is.
#[derive(Debug)]
pub enum ConsentStep {
    /// No page: a first-party client, or a consent remembered.
    Skip,
    /// Show the consent page.
    Ask,
    /// `prompt=none` and consent is needed: refused.
    Refuse(Refusal),
}

/// Whether the user was asked, on the hosted consent page, to let the
/// client act for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    /// The user allowed it on the consent page.
    Given,
    /// No one asked: enough only for a first-party client.
    NotAsked,
}

fn require_consent(client: &Client, consent: Consent) -> Result<(), OAuthError> {
    if client.first_party || consent == Consent::Given {
        Ok(())
    } else {
        Err(OAuthError::new(
            crate::ErrorCode::AccessDenied,
            "this client needs the user's consent: send the user to GET /authorize",
        )
        .with_event(SecurityEvent::ClientRefused {
            client: client.id.clone(),
        }))
    }
}

/// A valid seed 000 redirect-login request.
#[derive(Debug, Clone)]
pub struct ValidRedirectLogin {
    /// The client (seed 000's redirect login is first-party only).
    pub client: Client,
    /// Where the tokens go, matched exactly.
    pub redirect_uri: RedirectUri,
    /// The scope granted.
    pub scope: Scope,
}
