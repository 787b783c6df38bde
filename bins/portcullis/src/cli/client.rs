//! `portcullis client ...`: registering and changing OAuth clients.
use anyhow::Context as _;
use auth_core::accounts::{
    ClientSpec, delete_client, register_client, rotate_client_secret, update_client,
};
use auth_core::policy::RefreshMode;
use auth_core::ports::{ClientRepository, Clock};
use auth_core::types::{
    ClientId, ClientMfa, Dialect, GrantType, LifetimeRange, RedirectUri, Scope, TokenFormat,
};
use clap::{Args, Subcommand};

use crate::startup::Services;

#[derive(Debug, Subcommand)]
pub(crate) enum ClientCommand {
    /// Register a client; prints its id and, once, its secret.
    Create(Box<ClientCreate>),
    /// List registered clients.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Change a client's registration; what is not given stays. A list
    /// given (redirect URIs, grant types, ...) replaces the old one.
    Update(Box<ClientUpdate>),
    /// Delete a client: its tokens, codes and device authorizations stop
    /// working at once.
    Delete {
        client_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Give a confidential client a new secret, shown once; the old one
    /// stops working at once.
    RotateSecret {
        client_id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ClientUpdate {
    client_id: String,
    #[arg(long)]
    name: Option<String>,
    /// Allowed redirect URI (repeatable; replaces the list).
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// Post-logout redirect URI (repeatable; replaces the list).
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// Allowed grant type (repeatable; replaces the list).
    #[arg(long = "grant-type")]
    grant_types: Vec<String>,
    /// Allowed scope token (repeatable or space-separated; replaces the scope).
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// Access token lifetime in seconds.
    #[arg(long = "access-token-ttl")]
    access_token_ttl: Option<i64>,
    /// rotate or reuse.
    #[arg(long = "refresh-mode")]
    refresh_mode: Option<String>,
    /// true: users are not asked for consent; false: they are.
    #[arg(long = "first-party")]
    first_party: Option<bool>,
    /// A seed API the client speaks (repeatable; replaces the list).
    #[arg(long = "dialect")]
    dialects: Vec<String>,
    /// paseto, reference or jwt.
    #[arg(long = "token-format")]
    token_format: Option<String>,
    /// A client whose tokens it may introspect (repeatable; replaces the list).
    #[arg(long = "audience")]
    audiences: Vec<String>,
    /// A web origin its browser code runs on (CORS; repeatable, replaces
    /// the list; `derived` goes back to its redirect URIs' origins).
    #[arg(long = "allowed-origin")]
    allowed_origins: Vec<String>,
    /// Accept new private-use redirect schemes that are not reverse domain names.
    #[arg(long = "bare-native-scheme")]
    bare_native_scheme: bool,
    /// true: only people whose email address is verified sign in to it.
    #[arg(long = "require-verified-email")]
    require_verified_email: Option<bool>,
    /// Second factors: optional, required, or password-grant-allowed.
    #[arg(long = "mfa")]
    mfa: Option<String>,
    /// Admit only members of this group (repeatable; replaces the list).
    #[arg(long = "allowed-group", conflicts_with = "admit_everyone")]
    allowed_groups: Vec<String>,
    /// Admit every account again (clears the allowed groups).
    #[arg(long = "admit-everyone")]
    admit_everyone: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ClientCreate {
    /// Display name.
    #[arg(long)]
    name: String,
    /// Choose the client id (default: generated).
    #[arg(long)]
    id: Option<String>,
    /// A public client (native app, SPA): no secret, PKCE required.
    #[arg(long)]
    public: bool,
    /// Allowed redirect URI, matched exactly (repeatable).
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// Where OpenID Connect RP-initiated logout may send the browser
    /// afterwards, matched exactly (repeatable).
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// Allowed grant type (repeatable): authorization_code, refresh_token,
    /// password, client_credentials, device_code. Default: authorization_code and
    /// refresh_token, plus client_credentials for confidential clients.
    #[arg(long = "grant-type")]
    grant_types: Vec<String>,
    /// Allowed scope token (repeatable, or space-separated).
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// Access token lifetime in seconds for this client.
    #[arg(long = "access-token-ttl")]
    access_token_ttl: Option<i64>,
    /// Refresh token behaviour: rotate (default) or reuse.
    #[arg(long = "refresh-mode")]
    refresh_mode: Option<String>,
    /// Trusted client: users are not asked for consent.
    #[arg(long = "first-party")]
    first_party: bool,
    /// Seed 000's redirect login: after login, send the tokens to the
    /// redirect URI in its query (also defaults to one-month access tokens
    /// and a refresh token that stays the same).
    #[arg(long = "legacy-token-redirect")]
    legacy_token_redirect: bool,
    /// A seed API this client speaks besides standard OAuth 2.0
    /// (repeatable): redirect-login (seed 000, first-party clients only),
    /// pkce-json (001), key-secret (002), spring-oauth (004). None by default.
    #[arg(long = "dialect")]
    dialects: Vec<String>,
    /// Accept PKCE code_challenge_method=plain (S256 is always accepted).
    #[arg(long = "allow-plain-pkce")]
    allow_plain_pkce: bool,
    /// The JWS algorithm of its OpenID Connect ID tokens: RS256 (the
    /// default every relying party supports) or EdDSA.
    #[arg(long = "id-token-alg", default_value = "RS256")]
    id_token_algorithm: auth_core::types::KeyAlgorithm,
    /// Access token format: paseto (self-contained, default), reference
    /// (opaque, checked by lookup, revocable at once) or jwt (RFC 9068,
    /// RS256, verified with GET /jwks by any JWT library).
    #[arg(long = "token-format", default_value = "paseto")]
    token_format: String,
    /// As a resource server, may introspect the tokens of this client too
    /// (repeatable); a client always may introspect its own.
    #[arg(long = "audience")]
    audiences: Vec<String>,
    /// A web origin its browser code runs on, allowed to read the token,
    /// revocation and userinfo answers (CORS; repeatable). Default: the
    /// origins of its https and loopback redirect URIs.
    #[arg(long = "allowed-origin")]
    allowed_origins: Vec<String>,
    /// Accept a private-use redirect scheme that is not a reverse domain
    /// name (myapp://callback), for an existing native app that cannot
    /// change it. Any app may claim such a scheme (RFC 8252 section 7.1).
    #[arg(long = "bare-native-scheme")]
    bare_native_scheme: bool,
    /// Only people whose email address is verified sign in to it; others
    /// are asked to confirm their address first.
    #[arg(long = "require-verified-email")]
    require_verified_email: bool,
    /// Every sign-in to it uses two factors: people without one enrol one
    /// first, and the password grant is refused.
    #[arg(long = "require-mfa", conflicts_with = "allow_password_grant_with_mfa")]
    require_mfa: bool,
    /// Lets the password grant sign in people who have a second factor on
    /// the password alone (weaker: for legacy clients only).
    #[arg(long = "allow-password-grant-with-mfa")]
    allow_password_grant_with_mfa: bool,
    /// Admit only members of this group (repeatable): anyone else is
    /// refused a code, a token and a refresh. Default: everyone.
    #[arg(long = "allowed-group")]
    allowed_groups: Vec<String>,
    /// May call the admin API (docs/admin.md): a confidential client of the
    /// client_credentials grant alone, with admin:* scopes (all of them
    /// unless --scope names some) and five-minute tokens.
    #[arg(long, conflicts_with_all = ["public", "first_party", "redirect_uris", "dialects"])]
    admin: bool,
    /// Print {"client_id": ..., "client_secret": ...}.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(
    cmd: &ClientCommand,
    services: &Services,
    clock: &dyn Clock,
) -> anyhow::Result<()> {
    match cmd {
        ClientCommand::Create(args) => {
            let spec = ClientSpec {
                id: args.id.as_deref().map(client_id).transpose()?,
                name: args.name.clone(),
                public: args.public,
                redirect_uris: redirect_uris(&args.redirect_uris, "--redirect-uri")?,
                post_logout_redirect_uris: redirect_uris(
                    &args.post_logout_redirect_uris,
                    "--post-logout-redirect-uri",
                )?,
                grant_types: grant_types(&args.grant_types)?,
                scope: Scope::parse(&args.scopes.join(" ")).context("invalid --scope")?,
                access_token_ttl: args
                    .access_token_ttl
                    .map(|s| LifetimeRange::ACCESS_TOKEN.seconds(s))
                    .transpose()
                    .context("invalid --access-token-ttl")?,
                refresh_mode: args.refresh_mode.as_deref().map(refresh_mode).transpose()?,
                first_party: args.first_party,
                dialects: dialects(&args.dialects)?
                    .into_iter()
                    .chain(args.legacy_token_redirect.then_some(Dialect::RedirectLogin))
                    .collect(),
                allow_plain_pkce: args.allow_plain_pkce,
                id_token_algorithm: args.id_token_algorithm,
                token_format: token_format(&args.token_format)?,
                bare_native_schemes: args.bare_native_scheme,
                audiences: audiences(&args.audiences)?,
                allowed_origins: allowed_origins(&args.allowed_origins)?,
                require_verified_email: args.require_verified_email,
                allowed_groups: services
                    .roles
                    .accounts
                    .group_ids(&args.allowed_groups)
                    .await?,
                mfa: if args.require_mfa {
                    ClientMfa::Required
                } else if args.allow_password_grant_with_mfa {
                    ClientMfa::PasswordGrantAllowed
                } else {
                    ClientMfa::Optional
                },
                admin: args.admin,
            };
            let (client, secret) =
                register_client(&services.roles.accounts, spec, clock.now()).await?;
            let secret = secret.map(|s| s.into_inner());
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({"client_id": client.id.as_str(), "client_secret": secret})
                );
            } else {
                println!("client_id: {}", client.id);
                match secret {
                    Some(s) => {
                        println!("client_secret: {s}\n(shown once; only its digest is stored)")
                    }
                    None => println!("public client: no secret"),
                }
            }
            Ok(())
        }
        ClientCommand::Update(args) => {
            let id = client_id(&args.client_id)?;
            let current = services
                .roles
                .grants
                .client(&id)
                .await?
                .with_context(|| format!("no client has the id {id}"))?;
            let mut spec = ClientSpec::of(&current);
            if let Some(name) = &args.name {
                spec.name = name.clone();
            }
            if !args.redirect_uris.is_empty() {
                spec.redirect_uris = redirect_uris(&args.redirect_uris, "--redirect-uri")?;
            }
            if !args.post_logout_redirect_uris.is_empty() {
                spec.post_logout_redirect_uris = redirect_uris(
                    &args.post_logout_redirect_uris,
                    "--post-logout-redirect-uri",
                )?;
            }
            if !args.grant_types.is_empty() {
                spec.grant_types = grant_types(&args.grant_types)?;
            }
            if !args.scopes.is_empty() {
                spec.scope = Scope::parse(&args.scopes.join(" ")).context("invalid --scope")?;
            }
            if let Some(ttl) = args.access_token_ttl {
                spec.access_token_ttl = Some(
                    LifetimeRange::ACCESS_TOKEN
                        .seconds(ttl)
                        .context("invalid --access-token-ttl")?,
                );
            }
            if let Some(mode) = &args.refresh_mode {
                spec.refresh_mode = Some(refresh_mode(mode)?);
            }
            if let Some(first_party) = args.first_party {
                spec.first_party = first_party;
            }
            if !args.dialects.is_empty() {
                spec.dialects = dialects(&args.dialects)?;
            }
            if let Some(format) = &args.token_format {
                spec.token_format = token_format(format)?;
            }
            if !args.audiences.is_empty() {
                spec.audiences = audiences(&args.audiences)?;
            }
            if !args.allowed_origins.is_empty() {
                spec.allowed_origins = allowed_origins(&args.allowed_origins)?;
            }
            spec.bare_native_schemes = args.bare_native_scheme;
            if let Some(required) = args.require_verified_email {
                spec.require_verified_email = required;
            }
            if args.admit_everyone {
                spec.allowed_groups = Vec::new();
            } else if !args.allowed_groups.is_empty() {
                spec.allowed_groups = services
                    .roles
                    .accounts
                    .group_ids(&args.allowed_groups)
                    .await?;
            }
            if let Some(mfa) = &args.mfa {
                spec.mfa = ClientMfa::parse(mfa).with_context(|| {
                    format!(
                        "--mfa must be optional, required or password-grant-allowed, not {mfa:?}"
                    )
                })?;
            }
            let client = update_client(&services.roles.accounts, &id, spec)
                .await?
                .with_context(|| format!("no client has the id {id}"))?;
            tracing::warn!(target: "security", event = "client_updated", client_id = %client.id, "an operator changed a client");
            if args.json {
                println!("{}", client_json(&client));
            } else {
                println!("{} updated", client.id);
            }
            Ok(())
        }
        ClientCommand::Delete {
            client_id: raw,
            json,
        } => {
            let id = client_id(raw)?;
            if !delete_client(&services.roles.accounts, &id).await? {
                anyhow::bail!("no client has the id {id}");
            }
            tracing::warn!(target: "security", event = "client_deleted", client_id = %id, "an operator deleted a client");
            if *json {
                println!(
                    "{}",
                    serde_json::json!({"client_id": id.as_str(), "deleted": true})
                );
            } else {
                println!("{id} deleted");
            }
            Ok(())
        }
        ClientCommand::RotateSecret {
            client_id: raw,
            json,
        } => {
            let id = client_id(raw)?;
            let secret = rotate_client_secret(&services.roles.accounts, &id)
                .await?
                .with_context(|| format!("no client has the id {id}"))?
                .into_inner();
            tracing::warn!(target: "security", event = "client_secret_rotated", client_id = %id, "an operator rotated a client secret");
            if *json {
                println!(
                    "{}",
                    serde_json::json!({"client_id": id.as_str(), "client_secret": secret})
                );
            } else {
                println!(
                    "client_id: {id}\nclient_secret: {secret}\n(shown once; the old secret no longer works)"
                );
            }
            Ok(())
        }
        ClientCommand::List { json } => {
            let clients = ClientRepository::list(&services.database).await?;
            for c in clients {
                let grants: Vec<_> = c.grant_types.iter().map(|g| g.as_str()).collect();
                if *json {
                    println!("{}", client_json(&c));
                } else {
                    let kind = if c.is_public() {
                        "public"
                    } else {
                        "confidential"
                    };
                    println!(
                        "{}\t{}\t{kind}\t{}\t{}",
                        c.id,
                        c.name,
                        grants.join(","),
                        c.scope
                    );
                }
            }
            Ok(())
        }
    }
}

/// A client's registration as `client list --json` and `client update
/// --json` print it (never its secret's digest).
fn client_json(c: &auth_core::types::Client) -> serde_json::Value {
    serde_json::json!({
        "client_id": c.id.as_str(), "name": c.name, "public": c.is_public(),
        "grant_types": c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "scope": c.scope.to_string(),
        "redirect_uris": c.redirect_uris.iter().map(|u| u.as_str()).collect::<Vec<_>>(),
        "post_logout_redirect_uris": c.post_logout_redirect_uris.iter().map(|u| u.as_str()).collect::<Vec<_>>(),
        "first_party": c.first_party,
        "legacy_token_redirect": c.speaks(Dialect::RedirectLogin),
        "dialects": c.dialects.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
        "allow_plain_pkce": c.allow_plain_pkce,
        "id_token_algorithm": c.id_token_algorithm.as_str(),
        "access_token_ttl": c.access_token_ttl.map(|d| d.num_seconds()),
        "refresh_mode": c.refresh_mode.map(|m| m.as_str()),
        "token_format": c.token_format.as_str(),
        "audiences": c.audiences.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
        "require_verified_email": c.require_verified_email,
        "mfa": c.mfa.as_str(),
        "allowed_groups": c.allowed_groups.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "admin": c.admin,
        "allowed_origins": match &c.allowed_origins {
            Some(all) => serde_json::json!(all.iter().map(|o| o.as_str()).collect::<Vec<_>>()),
            None => serde_json::json!("derived from the redirect URIs"),
        },
    })
}

fn client_id(raw: &str) -> anyhow::Result<ClientId> {
    ClientId::parse(raw).with_context(|| format!("invalid client id {raw:?}"))
}

fn redirect_uris(raw: &[String], flag: &str) -> anyhow::Result<Vec<RedirectUri>> {
    raw.iter()
        .map(|u| RedirectUri::parse(u).with_context(|| format!("invalid {flag} {u}")))
        .collect()
}

fn grant_types(raw: &[String]) -> anyhow::Result<Vec<GrantType>> {
    raw.iter()
        .map(|g| GrantType::from_operator(g).with_context(|| format!("invalid --grant-type {g}")))
        .collect()
}

fn dialects(raw: &[String]) -> anyhow::Result<Vec<Dialect>> {
    raw.iter()
        .map(|d| {
            Dialect::parse(d).with_context(|| {
                format!(
                    "invalid --dialect {d} (redirect-login, pkce-json, key-secret or spring-oauth)"
                )
            })
        })
        .collect()
}

fn audiences(raw: &[String]) -> anyhow::Result<Vec<ClientId>> {
    raw.iter()
        .map(|a| ClientId::parse(a).with_context(|| format!("invalid --audience {a:?}")))
        .collect()
}

/// `--allowed-origin` values: none given, or `derived`, is `None` (the
/// redirect URIs' origins).
fn allowed_origins(raw: &[String]) -> anyhow::Result<Option<Vec<auth_core::types::WebOrigin>>> {
    if raw.is_empty() || raw == ["derived"] {
        return Ok(None);
    }
    raw.iter()
        .map(|o| auth_core::types::WebOrigin::parse(o).context("invalid --allowed-origin"))
        .collect::<anyhow::Result<Vec<_>>>()
        .map(Some)
}

fn refresh_mode(raw: &str) -> anyhow::Result<RefreshMode> {
    RefreshMode::parse(raw)
        .with_context(|| format!("invalid --refresh-mode {raw} (rotate or reuse)"))
}

fn token_format(raw: &str) -> anyhow::Result<TokenFormat> {
    TokenFormat::parse(raw)
        .with_context(|| format!("invalid --token-format {raw} (paseto, reference or jwt)"))
}
