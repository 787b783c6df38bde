//! The refresh_token grant (RFC 6749 section 6) with rotation and replay
//! detection (OAuth 2.0 Security BCP section 4.14.2).
//!
//! A stored refresh token is in one of four states ([`RefreshState`]);
//! [`present`] is the pure transition function that decides what presenting
//! it in that state must do ([`RefreshStep`]). `run` carries the step out
//! through the ports.
use chrono::{DateTime, Utc};

use crate::error::{FlowError, OAuthError};
use crate::events::SecurityEvent;
use crate::policy::{RefreshMode, TokenPolicy};
use crate::ports::{RefreshOwner, RotateOutcome, Superseded};
use crate::types::{Client, IssuedTokens, OpaqueToken, RefreshTokenRecord, Scope, TokenOwner};

use super::TokenFor;
use crate::service::Core;

/// The state of a stored refresh token at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshState {
    /// Presentable: not rotated, revoked or expired.
    Active,
    /// Exchanged for a successor at `at`.
    Rotated {
        /// When it was rotated.
        at: DateTime<Utc>,
    },
    /// Replaced, unseen, by a retry of its parent's rotation: the client
    /// that retried never received it, so whoever presents it held a copy.
    Superseded,
    /// Revoked (by a client, a replay, the account's holder or an operator).
    Revoked,
    /// Past its expiry.
    Expired,
}

impl RefreshState {
    /// The state of `record` at `now`.
    pub fn of(record: &RefreshTokenRecord, now: DateTime<Utc>) -> Self {
        if record.superseded_at.is_some() {
            Self::Superseded
        } else if record.revoked_at.is_some() {
            Self::Revoked
        } else if record.expires_at <= now {
            Self::Expired
        } else if let Some(at) = record.rotated_at {
            Self::Rotated { at }
        } else {
            Self::Active
        }
    }
}

/// What presenting a refresh token leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshStep {
    /// Retire the token and issue a successor in the same family.
    Rotate {
        /// The scope of the grant, kept for the successor.
        scope: Scope,
    },
    /// Keep the token (reuse mode) and issue only a new access token.
    Keep {
        /// The scope of the grant.
        scope: Scope,
    },
    /// The token was rotated moments ago (within the retry window) and is
    /// presented again: the client most likely never received the answer
    /// (a crash, a timeout, a reset connection). Replace the unseen
    /// successor with a new one, if it is still unseen.
    Supersede {
        /// The scope of the grant, kept for the new successor.
        scope: Scope,
    },
    /// A retired token came back: someone holds a copy. Revoke the family.
    RevokeFamily,
}

/// The transition function: decides what presenting `record` by `client` at
/// `now` must do, or why it is refused.
pub fn present(
    record: &RefreshTokenRecord,
    client: &Client,
    requested: Option<&Scope>,
    now: DateTime<Utc>,
    policy: &TokenPolicy,
) -> Result<RefreshStep, OAuthError> {
    // "The authorization server MUST ... validate the refresh token" and
    // "ensure that the refresh token was issued to the authenticated client"
    // (RFC 6749 section 6). Another client's token is refused as unknown.
    if record.client_id != client.id {
        return Err(OAuthError::invalid_grant(
            "the refresh token is invalid, expired or revoked",
        ));
    }
    // "The requested scope MUST NOT include any scope not originally granted
    // by the resource owner, and if omitted is treated as equal to the scope
    // originally granted" (RFC 6749 section 6). A narrower scope applies to
    // this access token only: the successor keeps the grant's scope.
    let scope = || match requested {
        None => Ok(record.scope.clone()),
        Some(s) if s.is_subset(&record.scope) => Ok(s.clone()),
        Some(_) => Err(OAuthError::invalid_scope(
            "the requested scope exceeds the scope originally granted",
        )),
    };
    match RefreshState::of(record, now) {
        RefreshState::Revoked | RefreshState::Expired => Err(OAuthError::invalid_grant(
            "the refresh token is invalid, expired or revoked",
        )),
        RefreshState::Rotated { at } => {
            let window = policy.refresh_grace;
            if window > chrono::Duration::zero() && now - at <= window {
                Ok(RefreshStep::Supersede { scope: scope()? })
            } else {
                Ok(RefreshStep::RevokeFamily)
            }
        }
        // Someone else held the token the retry replaced.
        RefreshState::Superseded => Ok(RefreshStep::RevokeFamily),
        RefreshState::Active => match policy.refresh_mode_for(client) {
            RefreshMode::Rotate => Ok(RefreshStep::Rotate { scope: scope()? }),
            RefreshMode::Reuse => Ok(RefreshStep::Keep { scope: scope()? }),
        },
    }
}

fn replayed() -> OAuthError {
    OAuthError::invalid_grant(
        "the refresh token was already used; every token issued from it has been revoked",
    )
}

fn not_valid() -> OAuthError {
    OAuthError::invalid_grant("the refresh token is invalid, expired or revoked")
}

pub(super) async fn run(
    service: &Core,
    client: &Client,
    presented: &OpaqueToken,
    requested: Option<Scope>,
    now: DateTime<Utc>,
) -> Result<IssuedTokens, FlowError> {
    let ports = &service.ports;
    let digest = ports.digest.digest(presented.expose());
    // The account must still exist and be enabled; its tokens are issued
    // in its current token generation.
    let Some((record, owner)) = ports.tokens.find_refresh_with_owner(&digest).await? else {
        return Err(not_valid().into());
    };
    let subject = match (record.user_id, owner) {
        (None, RefreshOwner::Client) => TokenFor::Client,
        (Some(id), RefreshOwner::User(generation)) => TokenFor::User(TokenOwner { id, generation }),
        _ => return Err(not_valid().into()),
    };
    // A person who left the client's groups: no new tokens (leaving
    // revokes these too; this holds for one that raced the revocation).
    if let TokenFor::User(owner) = subject
        && !service.admits(client, owner.id).await?
    {
        return Err(crate::groups::not_admitted_to_grant().into());
    }
    let mut step = present(&record, client, requested.as_ref(), now, &service.policy)?;
    // OpenID Connect Core section 12.2: a refresh of a grant with `openid`
    // returns a new ID token for the same subject (without a nonce, and
    // without auth_time, which this grant does not know).
    let owner = match record.user_id {
        Some(id) if record.scope.contains(super::id_token::OPENID) => {
            ports.users.find_by_id(id).await?
        }
        _ => None,
    };
    // Read once; released only where the (perhaps narrowed) scope asks.
    let groups = match record.user_id {
        Some(user) => service.groups_claim(user, &record.scope).await?,
        None => None,
    };
    let groups_for = |scope: &Scope| {
        groups
            .clone()
            .filter(|_| scope.contains(crate::groups::GROUPS_SCOPE))
    };
    let id_token = |access: &super::PreparedAccess, scope: &Scope| match &owner {
        Some(user) => service.id_token(
            client,
            super::id_token::SignIn {
                user,
                scope,
                nonce: None,
                auth_time: None,
                methods: crate::types::AuthMethods::default(),
                groups: groups_for(scope),
            },
            &access.signed.token,
            now,
        ),
        None => Ok(None),
    };
    // A few rounds: a lost rotation race is decided again, and a retry
    // that lost to a concurrent retry tries once more.
    for attempt in 0..5 {
        match step {
            RefreshStep::RevokeFamily => {
                let revoked = service.revoke_grant(record.family, client, now).await?;
                return Err(replayed()
                    .with_event(SecurityEvent::RefreshReplayed {
                        client: record.client_id.clone(),
                        user: record.user_id,
                        family: record.family,
                        revoked,
                    })
                    .into());
            }
            RefreshStep::Keep { scope } => {
                let mut issued = finish(
                    service,
                    client,
                    &record,
                    subject,
                    scope,
                    Some(presented.clone()),
                    now,
                )
                .await?;
                if let Some(user) = &owner {
                    let sign_in = super::id_token::SignIn {
                        user,
                        scope: &issued.scope,
                        nonce: None,
                        auth_time: None,
                        methods: crate::types::AuthMethods::default(),
                        groups: groups_for(&issued.scope),
                    };
                    issued.id_token =
                        service.id_token(client, sign_in, &issued.access_token, now)?;
                }
                return Ok(issued);
            }
            RefreshStep::Supersede { scope } => {
                let (access, token, successor) = signed_successor(
                    service,
                    client,
                    &record,
                    subject,
                    &scope,
                    groups_for(&scope),
                    now,
                )?;
                let id_token = id_token(&access, &scope)?;
                match ports
                    .tokens
                    .supersede_refresh(&digest, &successor, access.record.as_ref(), now)
                    .await?
                {
                    Superseded::Replaced { .. } => {
                        return Ok(issue(&record, access, scope, token, id_token));
                    }
                    // Another retry superseded it first (racing copies of
                    // one request): try again against the newer successor.
                    Superseded::NotActive if attempt < 3 => step = RefreshStep::Supersede { scope },
                    // The successor was presented: this is a replay.
                    Superseded::NotActive => step = RefreshStep::RevokeFamily,
                }
            }
            RefreshStep::Rotate { scope } => {
                let (access, token, successor) = signed_successor(
                    service,
                    client,
                    &record,
                    subject,
                    &scope,
                    groups_for(&scope),
                    now,
                )?;
                let id_token = id_token(&access, &scope)?;
                match ports
                    .tokens
                    .rotate_refresh(&digest, &successor, access.record.as_ref(), now)
                    .await?
                {
                    RotateOutcome::Rotated => {
                        return Ok(issue(&record, access, scope, token, id_token));
                    }
                    RotateOutcome::NotActive if attempt == 0 => {
                        let Some(current) = ports.tokens.find_refresh(&digest).await? else {
                            return Err(not_valid().into());
                        };
                        step = present(&current, client, requested.as_ref(), now, &service.policy)?;
                    }
                    RotateOutcome::NotActive => return Err(not_valid().into()),
                }
            }
        }
    }
    Err(not_valid().into())
}

/// The access token and the successor of `record`, signed before anything
/// is committed; the successor records the access token issued with it.
fn signed_successor(
    service: &Core,
    client: &Client,
    record: &RefreshTokenRecord,
    subject: TokenFor,
    scope: &Scope,
    groups: Option<Vec<String>>,
    now: DateTime<Utc>,
) -> Result<(super::PreparedAccess, OpaqueToken, RefreshTokenRecord), FlowError> {
    let access =
        service.prepare_access(client, subject, scope, Some(record.family), groups, now)?;
    let (token, mut successor) =
        service.new_refresh(client, record.user_id, scope, Some(record), now);
    successor.issued_with = Some(access.issued());
    Ok((access, token, successor))
}

/// The answer, once the rotation committed with the access token in it.
fn issue(
    record: &RefreshTokenRecord,
    access: super::PreparedAccess,
    scope: Scope,
    refresh_token: OpaqueToken,
    id_token: Option<OpaqueToken>,
) -> IssuedTokens {
    let mut issued = access.signed.into_issued(
        Some(refresh_token),
        Some(record.family),
        scope,
        record.user_id,
    );
    issued.id_token = id_token;
    issued
}

async fn finish(
    service: &Core,
    client: &Client,
    record: &RefreshTokenRecord,
    subject: TokenFor,
    scope: Scope,
    refresh_token: Option<OpaqueToken>,
    now: DateTime<Utc>,
) -> Result<IssuedTokens, FlowError> {
    let access = service
        .access_token(client, subject, &scope, Some(record.family), now)
        .await?;
    Ok(access.into_issued(refresh_token, Some(record.family), scope, record.user_id))
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::types::{ClientAuth, ClientId, Digest, FamilyId, KeyAlgorithm, TokenFormat};

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
    }

    fn client() -> Client {
        Client {
            id: ClientId::parse("app").unwrap(),
            name: "app".into(),
            auth: ClientAuth::Public,
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            grant_types: vec![crate::types::GrantType::RefreshToken],
            scope: Scope::parse("read").unwrap(),
            access_token_ttl: None,
            refresh_mode: None,
            first_party: true,
            dialects: vec![],
            allow_plain_pkce: false,
            id_token_algorithm: KeyAlgorithm::Rs256,
            token_format: TokenFormat::Paseto,
            audiences: vec![],
            require_verified_email: false,
            allowed_groups: Vec::new(),
            admin: false,
            mfa: crate::types::ClientMfa::Optional,
            allowed_origins: None,
            created_at: t0(),
        }
    }

    #[test]
    fn refresh_state_of_each_record() {
        let c = client();
        let base = RefreshTokenRecord {
            digest: Digest::from_bytes([1; 32]),
            family: FamilyId::new(uuid::Uuid::nil()),
            client_id: c.id.clone(),
            user_id: None,
            scope: Scope::parse("read").unwrap(),
            issued_at: t0(),
            expires_at: t0() + Duration::days(1),
            family_expires_at: t0() + Duration::days(30),
            rotated_at: None,
            revoked_at: None,
            parent: None,
            superseded_at: None,
            issued_with: None,
        };
        let with = |f: &dyn Fn(&mut RefreshTokenRecord)| {
            let mut r = base.clone();
            f(&mut r);
            r
        };
        let cases = [
            (base.clone(), t0(), RefreshState::Active),
            (
                with(&|r| r.rotated_at = Some(t0())),
                t0(),
                RefreshState::Rotated { at: t0() },
            ),
            (
                with(&|r| r.revoked_at = Some(t0())),
                t0(),
                RefreshState::Revoked,
            ),
            (
                base.clone(),
                t0() + Duration::days(1),
                RefreshState::Expired,
            ),
            // Revocation wins over everything else.
            (
                with(&|r| {
                    r.revoked_at = Some(t0());
                    r.rotated_at = Some(t0())
                }),
                t0(),
                RefreshState::Revoked,
            ),
        ];
        for (record, now, expect) in cases {
            assert_eq!(RefreshState::of(&record, now), expect);
        }
        let policy = TokenPolicy::default();
        let rotated = with(&|r| r.rotated_at = Some(t0()));
        // Within the retry window a rotated token is retried; after it, a replay.
        let window = policy.refresh_grace;
        assert_eq!(window, Duration::seconds(10), "the default retry window");
        assert!(matches!(
            present(&rotated, &c, None, t0() + window, &policy).unwrap(),
            RefreshStep::Supersede { .. }
        ));
        assert_eq!(
            present(
                &rotated,
                &c,
                None,
                t0() + window + Duration::seconds(1),
                &policy
            )
            .unwrap(),
            RefreshStep::RevokeFamily
        );
        let superseded = with(&|r| {
            r.revoked_at = Some(t0());
            r.superseded_at = Some(t0())
        });
        assert_eq!(
            RefreshState::of(&superseded, t0()),
            RefreshState::Superseded
        );
        assert_eq!(
            present(&superseded, &c, None, t0(), &policy).unwrap(),
            RefreshStep::RevokeFamily
        );
    }
}
