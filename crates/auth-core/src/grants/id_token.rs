//! OpenID Connect ID tokens (Core section 2, 3.1.3.6 and 5.4): issued with
//! the tokens of a grant whose scope includes `openid`.
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest as _, Sha256, Sha512};

use crate::error::FlowError;
use crate::types::{
    Client, IdTokenClaims, IdTokenEmail, IdTokenProfile, KeyAlgorithm, OpaqueToken, User,
};

use crate::service::Core;

/// The scope value that makes a request an OpenID Connect request.
pub const OPENID: &str = "openid";

/// How long an ID token is valid: it proves a sign-in to the client at
/// once and is not a session (relying parties check `exp` on receipt).
const ID_TOKEN_LIFETIME: Duration = Duration::minutes(5);

/// `at_hash` (Core section 3.1.3.6): the left half of the hash of the
/// access token's ASCII octets, base64url, with the hash of the ID token's
/// `alg`: SHA-256 for RS256; SHA-512 for EdDSA with Ed25519, as other
/// providers (panva's oidc-provider among them) and relying parties do.
fn access_token_hash(access_token: &str, algorithm: KeyAlgorithm) -> String {
    let half = |digest: &[u8]| URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2]);
    match algorithm {
        KeyAlgorithm::EdDsa => half(&Sha512::digest(access_token.as_bytes())),
        KeyAlgorithm::Rs256 | KeyAlgorithm::PasetoV4Public => {
            half(&Sha256::digest(access_token.as_bytes()))
        }
    }
}

/// The standard claims of `user` that `scope` releases (OpenID Connect Core
/// section 5.4), for ID tokens and userinfo alike: `profile` releases the
/// names, `email` the address.
pub fn released_claims(
    user: &User,
    scope: &crate::types::Scope,
) -> (IdTokenProfile, Option<IdTokenEmail>) {
    let profile = if scope.contains("profile") {
        let name = match (&user.given_name, &user.family_name) {
            (Some(g), Some(f)) => Some(format!("{g} {f}")),
            (Some(one), None) | (None, Some(one)) => Some(one.clone()),
            (None, None) => None,
        };
        IdTokenProfile {
            name,
            given_name: user.given_name.clone(),
            family_name: user.family_name.clone(),
            preferred_username: Some(user.username.as_str().to_owned()),
            // Nothing changes a profile after registration yet (the account
            // page will): it was last updated when it was created.
            updated_at: Some(user.created_at),
        }
    } else {
        IdTokenProfile::default()
    };
    let email = match (&user.email, scope.contains("email")) {
        (Some(address), true) => Some(IdTokenEmail {
            address: address.as_str().to_owned(),
            verified: user.email_verified,
        }),
        _ => None,
    };
    (profile, email)
}

/// What an ID token says of one sign-in.
pub(crate) struct SignIn<'a> {
    pub user: &'a User,
    pub scope: &'a crate::types::Scope,
    pub nonce: Option<String>,
    pub auth_time: Option<DateTime<Utc>>,
    /// How the sign-in authenticated; empty where it is not known.
    pub methods: crate::types::AuthMethods,
    /// The `groups` claim, where the scope releases it
    /// ([`Core::groups_claim`]).
    pub groups: Option<Vec<String>>,
}

impl Core {
    /// A signed ID token for `sign_in` to `client`, issued with
    /// `access_token`; `None` unless the scope includes `openid`.
    pub(crate) fn id_token(
        &self,
        client: &Client,
        sign_in: SignIn<'_>,
        access_token: &OpaqueToken,
        now: DateTime<Utc>,
    ) -> Result<Option<OpaqueToken>, FlowError> {
        if !sign_in.scope.contains(OPENID) {
            return Ok(None);
        }
        let user = sign_in.user;
        let (profile, email) = released_claims(user, sign_in.scope);
        let claims = IdTokenClaims {
            issuer: self.issuer.clone(),
            subject: user.id,
            audience: client.id.clone(),
            issued_at: now,
            expires_at: now + ID_TOKEN_LIFETIME,
            auth_time: sign_in.auth_time,
            amr: sign_in.methods.amr(),
            acr: (!sign_in.methods.is_empty()).then(|| sign_in.methods.level().acr()),
            nonce: sign_in.nonce,
            access_token_hash: Some(access_token_hash(
                access_token.expose(),
                client.id_token_algorithm,
            )),
            profile,
            email,
            groups: sign_in.groups,
        };
        let token = self
            .ports
            .id_tokens
            .sign_id_token(&claims, client.id_token_algorithm)?;
        Ok(Some(OpaqueToken::new(token)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of OpenID Connect Core section A.3 (`at_hash` of
    /// `jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y`).
    #[test]
    fn at_hash_is_the_left_half_of_the_sha256() {
        assert_eq!(
            access_token_hash(
                "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y",
                KeyAlgorithm::Rs256
            ),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
        // SHA-512's left half is 32 octets: 43 base64url characters.
        assert_eq!(access_token_hash("x", KeyAlgorithm::EdDsa).len(), 43);
    }
}
