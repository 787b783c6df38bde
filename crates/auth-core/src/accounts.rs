//! Registering clients and users: building the records, generating secrets,
//! and storing them through the ports.
use chrono::{DateTime, Duration, Utc};

use crate::error::{FlowError, OAuthError, StoreError};
use crate::policy::RefreshMode;
use crate::service::Accounts;
use crate::throttle::ThrottleKey;
use crate::types::{
    Client, ClientAuth, ClientId, Dialect, Email, GrantType, KeyAlgorithm, LifetimeRange,
    LoginName, OpaqueToken, Password, RedirectUri, Scope, TokenFormat, User, UserId, Username,
};

/// What an administrator asks for when registering a client.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    /// A chosen id; `None` generates one.
    pub id: Option<ClientId>,
    /// Its display name.
    pub name: String,
    /// A public client (no secret, PKCE required) rather than a confidential one.
    pub public: bool,
    /// Where codes may be sent; each must pass the redirect URI rules.
    pub redirect_uris: Vec<RedirectUri>,
    /// Where RP-initiated logout may send the browser afterwards.
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    /// Empty means [`Client::default_grant_types`].
    pub grant_types: Vec<GrantType>,
    /// The scopes it may ask for.
    pub scope: Scope,
    /// Its own access token lifetime, instead of the policy's.
    pub access_token_ttl: Option<Duration>,
    /// Its own refresh mode (rotate or reuse), instead of the policy's.
    pub refresh_mode: Option<RefreshMode>,
    /// Trusted by the operator: its users are not asked for consent.
    pub first_party: bool,
    /// The seed APIs the client speaks; none unless named. Seed 000's
    /// redirect login ([`Dialect::RedirectLogin`]) also makes one-month
    /// access tokens and a refresh token that stays the same this client's
    /// defaults, as its document says, unless set explicitly.
    pub dialects: Vec<Dialect>,
    /// Accepts `code_challenge_method=plain` (RFC 7636 section 4.2).
    pub allow_plain_pkce: bool,
    /// The JWS algorithm of its ID tokens (`RS256` or `EdDSA`).
    pub id_token_algorithm: KeyAlgorithm,
    /// Its access tokens' format.
    pub token_format: TokenFormat,
    /// As a resource server, the clients whose tokens it may introspect.
    pub audiences: Vec<ClientId>,
    /// The web origins its browser code runs on (CORS); `None` derives them
    /// from its https and loopback redirect URIs.
    pub allowed_origins: Option<Vec<crate::types::WebOrigin>>,
    /// Accepts private-use schemes that are not reverse domain names
    /// (`myapp://callback`, as seed 001's document shows): only for an
    /// existing app that cannot change, since any app may claim such a scheme.
    pub bare_native_schemes: bool,
    /// Signs in only people whose email address is verified.
    pub require_verified_email: bool,
    /// What it asks of second factors.
    pub mfa: crate::types::ClientMfa,
    /// Lets in only members of these groups; empty lets in everyone.
    pub allowed_groups: Vec<crate::types::GroupId>,
    /// May call the admin API: confidential, the client_credentials grant
    /// alone, `admin:*` scopes alone (all of them when none is named).
    pub admin: bool,
}

/// Why a registration was refused.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error("{0}")]
    /// A rule is broken; the message names it.
    Invalid(String),
    #[error("{0} already exists")]
    /// The name (username, email, client id) is taken.
    Conflict(&'static str),
    /// Too many registrations from this address, or in total, just now.
    #[error("too many registrations; try again later")]
    Throttled,
    /// This server does not let people create their own accounts.
    #[error("self-registration is closed on this server")]
    Closed,
    /// The email address belongs to an account already (the username was
    /// free): its owner was told by mail, where mail is set up, so a page
    /// may answer as a success would.
    #[error("email already exists")]
    AddressInUse,
    #[error(transparent)]
    /// A store or crypto failure; nothing was registered.
    Flow(#[from] FlowError),
}

impl From<StoreError> for RegistrationError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => Self::Conflict(what),
            other => Self::Flow(other.into()),
        }
    }
}

impl From<crate::error::CryptoError> for RegistrationError {
    fn from(e: crate::error::CryptoError) -> Self {
        Self::Flow(e.into())
    }
}

/// Registers a client. A confidential client's secret is returned once, in
/// the clear, and stored only as a digest.
pub async fn register_client(
    service: &Accounts,
    spec: ClientSpec,
    now: DateTime<Utc>,
) -> Result<(Client, Option<OpaqueToken>), RegistrationError> {
    let ports = &service.ports;
    let id = match spec.id.clone() {
        Some(id) => id,
        None => ClientId::parse(&ports.random.uuid().simple().to_string())
            .map_err(|e| RegistrationError::Invalid(e.to_string()))?,
    };
    let (auth, secret) = if spec.public {
        (ClientAuth::Public, None)
    } else {
        let (digest, secret) = new_secret(service);
        (
            ClientAuth::Confidential {
                secret_digest: digest,
            },
            Some(secret),
        )
    };
    let client = client_from(spec, id, auth, now, &[])?;
    ports.clients.create(&client).await?;
    Ok((client, secret))
}

/// A fresh client secret and its digest (the only thing stored).
fn new_secret(service: &Accounts) -> (crate::types::Digest, OpaqueToken) {
    let secret = service.ports.random.token();
    (service.ports.digest.digest(secret.expose()), secret)
}

/// The registration `spec` describes, checked against every rule a client
/// must keep, whether it is created or changed. The redirect URIs in
/// `accepted` were accepted before (a change keeps them as they were);
/// every other one meets the reverse-domain rule unless `spec` waives it.
fn client_from(
    spec: ClientSpec,
    id: ClientId,
    auth: ClientAuth,
    created_at: DateTime<Utc>,
    accepted: &[RedirectUri],
) -> Result<Client, RegistrationError> {
    let grant_types = if spec.admin && spec.grant_types.is_empty() {
        vec![GrantType::ClientCredentials]
    } else if spec.grant_types.is_empty() {
        Client::default_grant_types(spec.public)
    } else {
        let mut g = spec.grant_types.clone();
        g.sort();
        g.dedup();
        g
    };
    if spec.public && grant_types.contains(&GrantType::ClientCredentials) {
        return Err(RegistrationError::Invalid(
            "a public client cannot use the client_credentials grant".into(),
        ));
    }
    let scope = admin_scope(&spec, &grant_types)?;
    if !spec.id_token_algorithm.is_jws() {
        return Err(RegistrationError::Invalid(
            "ID tokens are signed with RS256 or EdDSA".into(),
        ));
    }
    let mut dialects = spec.dialects;
    dialects.sort();
    dialects.dedup();
    let redirect_login = dialects.contains(&Dialect::RedirectLogin);
    if redirect_login && !spec.first_party {
        // Its flow sends tokens straight to the client after login: there
        // is no step where a user could be asked to consent.
        return Err(RegistrationError::Invalid(
            "the redirect-login dialect has no consent step: only a first-party client may speak it"
                .into(),
        ));
    }
    if !spec.bare_native_schemes {
        for uri in spec.redirect_uris.iter().filter(|u| !accepted.contains(u)) {
            uri.require_reverse_dns()
                .map_err(|e| RegistrationError::Invalid(format!("{uri}: {e}")))?;
        }
    }
    if let Some(ttl) = spec.access_token_ttl {
        LifetimeRange::ACCESS_TOKEN
            .seconds(ttl.num_seconds())
            .map_err(|e| RegistrationError::Invalid(e.to_string()))?;
    }
    if spec.name.trim().is_empty() || spec.name.len() > 200 {
        return Err(RegistrationError::Invalid(
            "the client name must be 1 to 200 characters".into(),
        ));
    }
    Ok(Client {
        id,
        name: spec.name.trim().to_owned(),
        auth,
        redirect_uris: spec.redirect_uris,
        post_logout_redirect_uris: spec.post_logout_redirect_uris,
        grant_types,
        scope,
        access_token_ttl: spec
            .access_token_ttl
            .or(redirect_login.then(|| Duration::days(30)))
            .or(spec.admin.then(|| Duration::minutes(5))),
        refresh_mode: spec
            .refresh_mode
            .or(redirect_login.then_some(RefreshMode::Reuse)),
        first_party: spec.first_party,
        dialects,
        allow_plain_pkce: spec.allow_plain_pkce,
        id_token_algorithm: spec.id_token_algorithm,
        token_format: spec.token_format,
        audiences: spec.audiences,
        allowed_origins: spec.allowed_origins,
        require_verified_email: spec.require_verified_email,
        mfa: spec.mfa,
        allowed_groups: spec.allowed_groups,
        admin: spec.admin,
        created_at,
    })
}

/// The scope of the client `spec` describes, as the admin API's rules
/// allow: an admin client is confidential, acts only for itself and holds
/// only admin scopes (all of them unless some are named), with tokens of
/// five minutes unless told otherwise; no other client holds an admin
/// scope, so no person's token ever carries one.
fn admin_scope(spec: &ClientSpec, grant_types: &[GrantType]) -> Result<Scope, RegistrationError> {
    use crate::admin::{ADMIN_SCOPES, is_admin_scope};
    let invalid = |m: &str| Err(RegistrationError::Invalid(m.to_owned()));
    if !spec.admin {
        if spec.scope.iter().any(is_admin_scope) {
            return invalid("only an admin client (--admin) may hold admin: scopes");
        }
        return Ok(spec.scope.clone());
    }
    if spec.public {
        return invalid("an admin client is confidential");
    }
    if grant_types != [GrantType::ClientCredentials] {
        return invalid("an admin client uses the client_credentials grant alone");
    }
    if !spec.redirect_uris.is_empty() || !spec.dialects.is_empty() {
        return invalid("an admin client has no redirect URIs and speaks no dialect");
    }
    if spec.scope.iter().next().is_none() {
        return Scope::parse(&ADMIN_SCOPES.join(" "))
            .map_err(|e| RegistrationError::Invalid(e.to_string()));
    }
    if let Some(other) = spec.scope.iter().find(|s| !ADMIN_SCOPES.contains(s)) {
        return Err(RegistrationError::Invalid(format!(
            "{other} is not an admin scope; an admin client holds only these: {}",
            ADMIN_SCOPES.join(" ")
        )));
    }
    Ok(spec.scope.clone())
}

impl ClientSpec {
    /// The registration of `client` as a spec, to change some of it and
    /// [`update_client`] with the rest as it was.
    pub fn of(client: &Client) -> Self {
        Self {
            id: Some(client.id.clone()),
            name: client.name.clone(),
            public: client.is_public(),
            redirect_uris: client.redirect_uris.clone(),
            post_logout_redirect_uris: client.post_logout_redirect_uris.clone(),
            grant_types: client.grant_types.clone(),
            scope: client.scope.clone(),
            access_token_ttl: client.access_token_ttl,
            refresh_mode: client.refresh_mode,
            first_party: client.first_party,
            dialects: client.dialects.clone(),
            allow_plain_pkce: client.allow_plain_pkce,
            id_token_algorithm: client.id_token_algorithm,
            token_format: client.token_format,
            audiences: client.audiences.clone(),
            allowed_origins: client.allowed_origins.clone(),
            bare_native_schemes: false,
            require_verified_email: client.require_verified_email,
            mfa: client.mfa,
            allowed_groups: client.allowed_groups.clone(),
            admin: client.admin,
        }
    }
}

/// Changes a client's registration to `spec` under the same rules as
/// [`register_client`]; its id, secret and creation time stay. Whether it
/// is public cannot change (a new client is registered instead). `None`
/// when there is no such client.
pub async fn update_client(
    service: &Accounts,
    id: &ClientId,
    spec: ClientSpec,
) -> Result<Option<Client>, RegistrationError> {
    let ports = &service.ports;
    let Some(current) = ports.clients.find(id).await? else {
        return Ok(None);
    };
    let client = changed_client(&current, spec)?;
    Ok(ports.clients.update(&client).await?.then_some(client))
}

/// `current` changed to `spec` under [`register_client`]'s rules: its id,
/// secret and creation time stay, and whether it is public cannot change.
pub(crate) fn changed_client(
    current: &Client,
    spec: ClientSpec,
) -> Result<Client, RegistrationError> {
    if spec.public != current.is_public() {
        return Err(RegistrationError::Invalid(
            "a client cannot change between public and confidential; register a new one".into(),
        ));
    }
    if spec.id.as_ref().is_some_and(|new| *new != current.id) {
        return Err(RegistrationError::Invalid(
            "a client's id cannot change".into(),
        ));
    }
    client_from(
        spec,
        current.id.clone(),
        current.auth.clone(),
        current.created_at,
        &current.redirect_uris,
    )
}

/// Deletes a client; everything issued to it stops working at once:
/// stored tokens, codes and device authorizations go with it, and its
/// self-contained access tokens are refused (they name a client that no
/// longer exists). `false` when there is no such client.
pub async fn delete_client(service: &Accounts, id: &ClientId) -> Result<bool, FlowError> {
    Ok(service.ports.clients.delete(id).await?)
}

/// Gives a confidential client a new secret, returned once in the clear;
/// the old one stops working at once. `None` when there is no such client.
pub async fn rotate_client_secret(
    service: &Accounts,
    id: &ClientId,
) -> Result<Option<OpaqueToken>, RegistrationError> {
    let ports = &service.ports;
    let Some(mut client) = ports.clients.find(id).await? else {
        return Ok(None);
    };
    if client.is_public() {
        return Err(RegistrationError::Invalid(
            "a public client has no secret to rotate".into(),
        ));
    }
    let (digest, secret) = new_secret(service);
    client.auth = ClientAuth::Confidential {
        secret_digest: digest,
    };
    Ok(ports.clients.update(&client).await?.then_some(secret))
}

/// Finds an account by username, email or id, as an operator names it.
pub async fn find_user(service: &Accounts, who: &str) -> Result<Option<User>, FlowError> {
    let ports = &service.ports;
    if let Ok(id) = who.parse::<uuid::Uuid>()
        && let Some(user) = ports.users.find_by_id(UserId::new(id)).await?
    {
        return Ok(Some(user));
    }
    Ok(ports
        .users
        .find_by_login(&crate::types::LoginName::lookup(who))
        .await?)
}

/// Disables or enables the account `who` names. A disabled account signs in
/// nowhere: it is signed out everywhere at once (as [`end_user_sessions`]), and
/// every check of its access tokens, codes and device approvals refuses it
/// while it stays disabled. `None` when no account has that name.
pub async fn set_user_disabled(
    service: &Accounts,
    who: &str,
    disabled: bool,
    now: DateTime<Utc>,
) -> Result<Option<User>, FlowError> {
    let ports = &service.ports;
    let Some(user) = find_user(service, who).await? else {
        return Ok(None);
    };
    if !ports.users.set_disabled(user.id, disabled, now).await? {
        return Ok(None);
    }
    Ok(Some(User { disabled, ..user }))
}

/// Sets the password of the account `who` names (username, email or id),
/// as an operator does; in the same step it is signed out everywhere (as
/// [`end_user_sessions`]: sessions, refresh tokens and access tokens of
/// every format), so whoever knew the old password holds nothing. `None`
/// when there is no such account.
pub async fn set_user_password(
    service: &Accounts,
    who: &str,
    password: &Password,
    now: DateTime<Utc>,
) -> Result<Option<User>, FlowError> {
    let ports = &service.ports;
    let Some(user) = find_user(service, who).await? else {
        return Ok(None);
    };
    let hash = ports.hasher.hash(password).await?;
    if !ports.users.set_password(user.id, &hash, now).await? {
        return Ok(None);
    }
    Ok(Some(User {
        password_hash: Some(hash),
        ..user
    }))
}

/// Deletes the account `who` names and everything that is its (sessions,
/// refresh tokens, codes, linked identities); its access tokens are
/// refused from then on (they name an account that no longer exists).
/// `None` when there is no such account.
pub async fn delete_user(service: &Accounts, who: &str) -> Result<Option<User>, FlowError> {
    let Some(user) = find_user(service, who).await? else {
        return Ok(None);
    };
    Ok(service.ports.users.delete(user.id).await?.then_some(user))
}

/// Signs the account `who` names out everywhere, in one step: its browser
/// sessions end, its refresh tokens and reference access tokens are
/// revoked, and its token generation is raised so that every
/// self-contained access token it holds is refused at once. `None` when
/// there is no such account, else the account and how many sessions ended.
pub async fn end_user_sessions(
    service: &Accounts,
    who: &str,
    now: DateTime<Utc>,
) -> Result<Option<(User, u64)>, FlowError> {
    let Some(user) = find_user(service, who).await? else {
        return Ok(None);
    };
    let Some(ended) = service
        .ports
        .users
        .sign_out_everywhere(user.id, now)
        .await?
    else {
        return Ok(None);
    };
    Ok(Some((user, ended)))
}

/// What registering a user takes, already parsed.
#[derive(Debug, Clone)]
pub struct UserSpec {
    /// The login name.
    pub username: Username,
    /// The email, also a login name.
    pub email: Option<Email>,
    /// The password, hashed before it is stored.
    pub password: Password,
    /// First name, for the `profile` scope.
    pub given_name: Option<String>,
    /// Last name, for the `profile` scope.
    pub family_name: Option<String>,
}

/// Registers a user, as an operator does; fails with `Conflict` when the
/// username or email is taken.
pub async fn register_user(
    service: &Accounts,
    spec: UserSpec,
    now: DateTime<Utc>,
) -> Result<User, RegistrationError> {
    check_login_names(&spec.username, spec.email.as_ref())?;
    create_user(service, spec, now).await
}

/// Registers a user who signs themselves up from the client address `from`
/// (a hosted page or a dialect): besides [`register_user`]'s rules, each
/// attempt is reserved against the per-address and the total registration
/// throttles before the password is hashed, so a flood of sign-ups can
/// neither fill the user table nor occupy the hashing threads.
pub async fn register_user_from(
    service: &Accounts,
    from: &str,
    spec: UserSpec,
    now: DateTime<Utc>,
) -> Result<User, RegistrationError> {
    // Before anything is counted or hashed: a closed door costs nothing.
    service.registration.admits(spec.email.as_ref())?;
    check_login_names(&spec.username, spec.email.as_ref())?;
    let throttles = service.throttles;
    for (key, policy) in [
        (
            ThrottleKey::Registration(Some(from.to_owned())),
            throttles.registration_per_address,
        ),
        (
            ThrottleKey::Registration(None),
            throttles.registration_total,
        ),
    ] {
        let allowed = service
            .ports
            .throttles
            .reserve(&key, policy.max_attempts, policy.window, now)
            .await
            .map_err(FlowError::from)?;
        if !allowed {
            return Err(RegistrationError::Throttled);
        }
    }
    let (username, email) = (spec.username.clone(), spec.email.clone());
    let user = match create_user(service, spec, now).await {
        Ok(user) => user,
        Err(RegistrationError::Conflict(what)) if what != crate::error::LOOK_ALIKE => {
            return Err(
                if tell_owner(service, &username, email.as_ref(), now).await? {
                    RegistrationError::AddressInUse
                } else {
                    RegistrationError::Conflict(what)
                },
            );
        }
        Err(e) => return Err(e),
    };
    // The account works at once; its address counts as verified once the
    // link mailed to it is opened.
    service.mail_verification(&user, now).await?;
    Ok(user)
}

/// When a registration's address names an account and its username is
/// free (the address is what conflicted), mails that account's owner that
/// someone tried (where mail is set up). `true` when it was the address.
async fn tell_owner(
    service: &Accounts,
    username: &Username,
    email: Option<&Email>,
    now: DateTime<Utc>,
) -> Result<bool, FlowError> {
    let users = &service.ports.users;
    let Some(email) = email else {
        return Ok(false);
    };
    // A username that is taken is said to be taken, unless it is the
    // address itself (seed 001 registers by address).
    if username.as_str() != email.as_str()
        && users
            .find_by_login(&LoginName::from(username))
            .await?
            .is_some()
    {
        return Ok(false);
    }
    let Some(owner) = users.find_by_login(&LoginName::from(email)).await? else {
        return Ok(false);
    };
    if owner.email.as_ref() != Some(email) {
        return Ok(false);
    }
    service
        .mail_notice(
            &owner,
            email,
            crate::types::Message::RegistrationAttempt,
            now,
        )
        .await?;
    Ok(true)
}

/// Marks the email of the account `who` names verified or not, as an
/// operator vouches. `None` when there is no such account.
pub async fn set_email_verified(
    service: &Accounts,
    who: &str,
    verified: bool,
) -> Result<Option<User>, FlowError> {
    let Some(user) = find_user(service, who).await? else {
        return Ok(None);
    };
    if !service
        .ports
        .users
        .set_email_verified(user.id, verified)
        .await?
    {
        return Ok(None);
    }
    Ok(Some(User {
        email_verified: verified,
        ..user
    }))
}

/// What an operator's invitation names.
#[derive(Debug, Clone)]
pub struct Invitation {
    /// The address the invitation goes to, the account's email.
    pub email: Email,
    /// The username; the address when `None`.
    pub username: Option<Username>,
}

/// Creates the account an operator invites, without a password: its owner
/// sets one through the invitation link, which also verifies the address.
/// The link is mailed (`print: false`, where mail is set up) or returned
/// for the operator to hand over.
pub async fn invite_user(
    service: &Accounts,
    invitation: Invitation,
    print: bool,
    now: DateTime<Utc>,
) -> Result<(User, Option<crate::mail::PrintedLink>), RegistrationError> {
    if !print && !service.mail_enabled() {
        return Err(RegistrationError::Invalid(
            "no mail server is configured: print the link instead".into(),
        ));
    }
    let username = match invitation.username {
        Some(name) => name,
        None => Username::parse(invitation.email.as_str())
            .map_err(|e| RegistrationError::Invalid(e.to_string()))?,
    };
    let ports = &service.ports;
    let user = User {
        id: UserId::new(ports.random.uuid()),
        username,
        email: Some(invitation.email),
        email_verified: false,
        password_hash: None,
        given_name: None,
        family_name: None,
        disabled: false,
        created_at: now,
        token_generation: Default::default(),
    };
    check_login_names(&user.username, user.email.as_ref())?;
    ports.users.create(&user).await?;
    if print {
        let printed = service
            .print_link(crate::types::LinkPurpose::Invite, user.clone(), now)
            .await?;
        return Ok((user, printed));
    }
    service
        .mail_link_to(crate::types::LinkPurpose::Invite, &user, now)
        .await?;
    Ok((user, None))
}

/// Who may create their own account (a hosted page or a dialect's
/// registration); an operator's registrations are not bound by it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationPolicy {
    /// Anyone may; with `domains`, only addresses at these domains (in
    /// IDNA form, lower-cased, as [`Email`] keeps them), and an account
    /// without an email may not.
    Open {
        /// The domains; empty for any address.
        domains: Vec<String>,
    },
    /// Nobody may: accounts come from an operator's invitation.
    InviteOnly,
    /// Nobody may.
    Closed,
}

impl Default for RegistrationPolicy {
    fn default() -> Self {
        Self::Open {
            domains: Vec::new(),
        }
    }
}

impl RegistrationPolicy {
    /// A policy open to the addresses at `domains` (any address when
    /// empty); a domain that no address could have is refused.
    pub fn open_to(domains: &[String]) -> Result<Self, String> {
        let domains = domains
            .iter()
            .map(|d| {
                Email::parse(&format!("x@{}", d.trim()))
                    .map(|e| e.domain().to_owned())
                    .map_err(|_| format!("{d:?} is not an email domain"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self::Open { domains })
    }

    /// Whether a person may create their own account with `email`.
    fn admits(&self, email: Option<&Email>) -> Result<(), RegistrationError> {
        let domains = match self {
            Self::Closed | Self::InviteOnly => return Err(RegistrationError::Closed),
            Self::Open { domains } if domains.is_empty() => return Ok(()),
            Self::Open { domains } => domains,
        };
        match email {
            Some(e) if domains.iter().any(|d| d == e.domain()) => Ok(()),
            _ => Err(RegistrationError::Invalid(format!(
                "only addresses at {} may register here",
                domains.join(", ")
            ))),
        }
    }
}

/// One login name, one account: a username shaped like an email address is
/// allowed only as the account's own email, so it can never be the address
/// another account signs in with.
fn check_login_names(username: &Username, email: Option<&Email>) -> Result<(), RegistrationError> {
    if let Ok(as_email) = Email::parse(username.as_str())
        && email != Some(&as_email)
    {
        return Err(RegistrationError::Invalid(
            "a username cannot be an email address other than the account's own email".into(),
        ));
    }
    Ok(())
}

async fn create_user(
    service: &Accounts,
    spec: UserSpec,
    now: DateTime<Utc>,
) -> Result<User, RegistrationError> {
    create_account(service, spec, false, now).await
}

/// Registers an operator's account whose email address the operator may
/// vouch for (`email_verified`), in one write.
pub(crate) async fn register_vouched_user(
    service: &Accounts,
    spec: UserSpec,
    email_verified: bool,
    now: DateTime<Utc>,
) -> Result<User, RegistrationError> {
    check_login_names(&spec.username, spec.email.as_ref())?;
    let email_verified = email_verified && spec.email.is_some();
    create_account(service, spec, email_verified, now).await
}

async fn create_account(
    service: &Accounts,
    spec: UserSpec,
    email_verified: bool,
    now: DateTime<Utc>,
) -> Result<User, RegistrationError> {
    let ports = &service.ports;
    let hash = ports.hasher.hash(&spec.password).await?;
    let user = User {
        id: UserId::new(ports.random.uuid()),
        username: spec.username,
        email: spec.email,
        password_hash: Some(hash),
        given_name: spec.given_name,
        family_name: spec.family_name,
        disabled: false,
        created_at: now,
        token_generation: Default::default(),
        email_verified,
    };
    ports.users.create(&user).await?;
    Ok(user)
}

impl From<RegistrationError> for FlowError {
    fn from(e: RegistrationError) -> Self {
        match e {
            RegistrationError::Invalid(m) => OAuthError::invalid_request(m).into(),
            RegistrationError::Conflict(what) => {
                OAuthError::invalid_request(format!("{what} already exists")).into()
            }
            RegistrationError::AddressInUse => {
                OAuthError::invalid_request("user already exists").into()
            }
            RegistrationError::Throttled => OAuthError::new(
                crate::ErrorCode::TemporarilyUnavailable,
                "too many registrations; try again later",
            )
            .into(),
            RegistrationError::Closed => OAuthError::new(
                crate::ErrorCode::AccessDenied,
                "self-registration is closed on this server",
            )
            .into(),
            RegistrationError::Flow(f) => f,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registration_policy_admits_by_domain_in_idna_form() {
        let email = |e: &str| Email::parse(e).unwrap();
        let open = RegistrationPolicy::default();
        assert!(open.admits(None).is_ok());
        let kept = RegistrationPolicy::open_to(&[" Bücher.Example ".into()]).unwrap();
        assert_eq!(
            kept,
            RegistrationPolicy::Open {
                domains: vec!["xn--bcher-kva.example".into()]
            }
        );
        assert!(kept.admits(Some(&email("carol@bücher.example"))).is_ok());
        assert!(matches!(
            kept.admits(Some(&email("carol@elsewhere.example"))),
            Err(RegistrationError::Invalid(_))
        ));
        assert!(matches!(
            kept.admits(None),
            Err(RegistrationError::Invalid(_))
        ));
        assert!(RegistrationPolicy::open_to(&["not a domain".into()]).is_err());
        assert!(matches!(
            RegistrationPolicy::Closed.admits(Some(&email("a@b.example"))),
            Err(RegistrationError::Closed)
        ));
    }
}
