//! The client_credentials grant (RFC 6749 section 4.4).
use chrono::{DateTime, Utc};

use crate::error::{FlowError, OAuthError};
use crate::types::{Client, IssuedTokens, Scope};

use super::resolve_scope;
use crate::service::Core;

pub(super) async fn run(
    service: &Core,
    client: &Client,
    scope: Option<Scope>,
    now: DateTime<Utc>,
) -> Result<IssuedTokens, FlowError> {
    // "The client credentials grant type MUST only be used by confidential
    // clients." (RFC 6749 section 4.4)
    if client.is_public() {
        return Err(OAuthError::unauthorized_client(
            "a public client cannot use the client_credentials grant",
        )
        .into());
    }
    let scope = resolve_scope(scope, &client.scope)?;
    let access = service
        .access_token(client, super::TokenFor::Client, &scope, None, now)
        .await?;
    // "A refresh token SHOULD NOT be included." (RFC 6749 section 4.4.3)
    Ok(access.into_issued(None, None, scope, None))
}
