//! The resource owner password credentials grant (RFC 6749 section 4.3).
use chrono::{DateTime, Utc};

use crate::error::{FlowError, OAuthError};
use crate::types::{Client, IssuedTokens, Password, Scope};

use super::{TokenService, resolve_scope};

pub(super) async fn run(
    service: &TokenService,
    client: &Client,
    login: &str,
    password: String,
    scope: Option<Scope>,
    now: DateTime<Utc>,
) -> Result<IssuedTokens, FlowError> {
    // Scope is checked first: it depends only on the client, and refusing it
    // before touching the user store reveals nothing about accounts.
    let scope = resolve_scope(scope, &client.scope)?;
    let refused = || OAuthError::invalid_grant("the username or password is incorrect");
    let login = login.trim().to_lowercase();
    let user = if login.is_empty() {
        None
    } else {
        service.ports.users.find_by_login(&login).await?
    };
    let password = Password::parse(password).ok();
    // Unknown users, unparsable passwords and disabled accounts all pay one
    // full verification, so neither the answer nor its timing tells them apart.
    let verified = match &password {
        Some(p) => {
            service
                .ports
                .hasher
                .verify(p, user.as_ref().and_then(|u| u.password_hash.as_ref()))
                .await?
        }
        None => {
            let dummy = Password::parse("dummy-password-for-timing").map_err(|_| refused())?;
            service.ports.hasher.verify(&dummy, None).await?;
            false
        }
    };
    let user = match user {
        Some(u) if verified && !u.disabled => u,
        _ => return Err(refused().into()),
    };
    service.tokens_for_user(client, user.id, scope, now).await
}
