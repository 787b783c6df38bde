//! Domain types. Each parses its raw input once, at the edge, and is trusted
//! afterwards: a `Scope` in hand is a valid scope.
mod client;
mod code;
mod device;
mod factor;
mod federation;
mod group;
mod id_token;
mod lifetime;
mod mail;
mod pkce;
mod record;
mod redirect_uri;
mod scope;
mod secret;
mod token;
mod user;

pub use client::{
    Client, ClientAuth, ClientId, ClientMfa, Dialect, GrantType, NewClient, ParseGrantTypeError,
    TokenFormat,
};
pub use code::{AuthorizationCode, BrowserSession, IssuedFromCode, SessionOrigin};
pub use device::{DeviceAuthorization, DeviceStatus, USER_CODE_ALPHABET, UserCode};
pub use factor::{
    AuthLevel, AuthMethod, AuthMethods, Ceremony, CeremonyPurpose, Factor, FactorId, FactorKind,
    FactorLabel, PasskeyRecord, TotpRecord,
};
pub use federation::{
    DevicePoll, FederatedLink, ProviderName, UpstreamDevice, UpstreamIdentity, UpstreamSubject,
};
pub use group::{Group, GroupDescription, GroupId, GroupName};
pub use id_token::{IdTokenClaims, IdTokenEmail, IdTokenHint, IdTokenProfile};
pub use lifetime::{LifetimeError, LifetimeRange};
pub use mail::{
    EmailLink, FactorChange, Letter, LinkEffect, LinkPurpose, Message, OutboxEntry, Redeemed,
};
pub use pkce::{ChallengeMethod, CodeChallenge, CodeVerifier, PkceError};
pub use record::{AccountChange, ClientRecord, UserListing, UserRecord, Version, Written};
pub use redirect_uri::{RedirectUri, RedirectUriError, WebOrigin, WebOriginError};
pub use scope::{Scope, ScopeError, describe_scope};
pub use secret::{Digest, OpaqueToken, Password, PasswordAttempt, PasswordError, PasswordHash};
pub use token::{
    AccessClaims, AccessTokenRecord, FamilyId, IssuedAccess, IssuedTokens, KeyAlgorithm,
    RefreshTokenRecord, SigningKey, Subject,
};
pub use user::{
    Email, LoginName, NewUser, TokenGeneration, TokenOwner, User, UserId, Username, ValueError,
    confusable_skeleton,
};
