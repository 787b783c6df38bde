//! The authorization_code grant (RFC 6749 section 4.1.3) with PKCE
//! (RFC 7636 section 4.6).
//!
//! A code is checked against its record first (a pure function, [`check`]),
//! and consumed only after every check passed, so a request with a wrong
//! verifier or redirect URI leaves the code usable. Consuming is one
//! conditional statement: of two racing redemptions, one wins.
use chrono::{DateTime, Utc};

use crate::error::{FlowError, OAuthError};
use crate::events::SecurityEvent;
use crate::types::{AuthorizationCode, Client, CodeVerifier, IssuedTokens, OpaqueToken};

use super::id_token::SignIn;
use crate::service::Core;

fn not_valid() -> OAuthError {
    OAuthError::invalid_grant("the authorization code is invalid, expired or already used")
}

/// Decides whether `client` may redeem `code` at `now` with these
/// parameters. Pure: no port is called.
pub fn check(
    code: &AuthorizationCode,
    client: &Client,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), OAuthError> {
    // "ensure that the authorization code was issued to the authenticated
    // confidential client, or ... to the public client" (RFC 6749 4.1.3).
    if code.client_id != client.id || code.consumed_at.is_some() || code.expires_at <= now {
        return Err(not_valid());
    }
    // "ensure that the redirect_uri parameter is present if the
    // redirect_uri parameter was included in the initial authorization
    // request ... and if included ensure that their values are identical."
    // With PKCE the binding is proven by the verifier, so, as OAuth 2.1
    // does, an omitted redirect_uri is accepted when a challenge was made.
    match redirect_uri {
        Some(uri) if uri == code.redirect_uri.as_str() => {}
        Some(_) => {
            return Err(OAuthError::invalid_grant(
                "redirect_uri does not match the authorization request",
            ));
        }
        None if code.challenge.is_some() => {}
        None => {
            return Err(OAuthError::invalid_request(
                "the parameter redirect_uri is missing",
            ));
        }
    }
    match (&code.challenge, verifier) {
        (Some(challenge), Some(v)) => {
            let verifier =
                CodeVerifier::parse(v).map_err(|e| OAuthError::invalid_grant(e.to_string()))?;
            if !challenge.verify(&verifier) {
                return Err(OAuthError::invalid_grant(
                    "code_verifier does not match the code_challenge",
                ));
            }
        }
        (Some(_), None) => {
            return Err(OAuthError::invalid_grant(
                "the parameter code_verifier is missing",
            ));
        }
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier was sent but the authorization request had no code_challenge",
            ));
        }
        (None, None) => {}
    }
    Ok(())
}

pub(super) async fn redeem(
    service: &Core,
    client: &Client,
    presented: &OpaqueToken,
    redirect_uri: Option<String>,
    verifier: Option<String>,
    now: DateTime<Utc>,
) -> Result<IssuedTokens, FlowError> {
    let ports = &service.ports;
    let digest = ports.digest.digest(presented.expose());
    let Some(code) = ports.codes.find_code(&digest).await? else {
        return Err(not_valid().into());
    };
    if code.consumed_at.is_some() && code.client_id == client.id {
        // A replay: "the authorization server MUST deny the request and
        // SHOULD revoke (when possible) all tokens previously issued based
        // on that authorization code" (RFC 6749 section 4.1.2).
        if let Some(issued) = code.issued {
            if let Some(family) = issued.family {
                service.revoke_grant(family, client, now).await?;
            }
            ports
                .tokens
                .revoke_access(issued.access_token_id, issued.access_expires_at)
                .await?;
        }
        return Err(not_valid()
            .with_event(SecurityEvent::CodeReplayed {
                client: client.id.clone(),
                user: code.user_id,
            })
            .into());
    }
    check(
        &code,
        client,
        redirect_uri.as_deref(),
        verifier.as_deref(),
        now,
    )?;
    let user = match ports.users.find_by_id(code.user_id).await? {
        Some(u) if !u.disabled => u,
        _ => return Err(not_valid().into()),
    };
    // Signed before anything is committed; the ids are recorded by the
    // consumption itself, and the tokens stored with it.
    let groups = service.groups_claim(user.id, &code.scope).await?;
    let grant = service.prepare_grant(
        client,
        user.token_owner(),
        code.scope.clone(),
        groups.clone(),
        now,
    )?;
    let sign_in = SignIn {
        user: &user,
        scope: &code.scope,
        nonce: code.nonce.clone(),
        auth_time: code.auth_time,
        methods: code.methods,
        groups,
    };
    let id_token = service.id_token(client, sign_in, grant.access_token(), now)?;
    let won = ports
        .codes
        .consume_code(
            &digest,
            now,
            &grant.issued_from_code(),
            grant.refresh_row(),
            grant.access_row(),
        )
        .await?;
    if !won {
        // Another request redeemed it between our read and our write.
        return Err(not_valid().into());
    }
    let mut issued = grant.into_issued();
    issued.id_token = id_token;
    Ok(issued)
}
