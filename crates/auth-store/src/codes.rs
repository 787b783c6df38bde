//! `AuthorizationCodeRepository` over Diesel.
use async_trait::async_trait;
use auth_core::error::StoreError;
use auth_core::ports::AuthorizationCodeRepository;
use auth_core::types::{
    AccessTokenRecord, AuthorizationCode, Digest, IssuedFromCode, RefreshTokenRecord,
};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::database::{Database, query_error, store_error};
use crate::rows::{AccessRow, CodeRow, RefreshRow, naive};
use crate::schema::authorization_codes as codes;

/// The conditional UPDATE that consumes a code and records what its
/// redemption issues.
macro_rules! consume {
    ($key:expr, $now:expr, $family:expr, $token_id:expr, $expires:expr) => {
        diesel::update(
            codes::table
                .filter(codes::digest.eq(&$key))
                .filter(codes::consumed_at.is_null()),
        )
        .set((
            codes::consumed_at.eq(Some($now)),
            codes::issued_family_id.eq(&$family),
            codes::issued_access_token_id.eq(Some(&$token_id)),
            codes::issued_access_expires_at.eq(Some($expires)),
        ))
    };
}

#[async_trait]
impl AuthorizationCodeRepository for Database {
    async fn insert_code(&self, code: &AuthorizationCode) -> Result<(), StoreError> {
        let row = CodeRow::from(code);
        with_conn!(writer self, |conn| diesel::insert_into(codes::table)
            .values(&row)
            .execute(conn)
            .await
            .map_err(store_error("authorization code")))?;
        Ok(())
    }

    async fn find_code(&self, digest: &Digest) -> Result<Option<AuthorizationCode>, StoreError> {
        let key = digest.as_bytes().to_vec();
        let row: Option<CodeRow> = with_conn!(self, |conn| codes::table
            .find(&key)
            .select(CodeRow::as_select())
            .first(conn)
            .await
            .optional()
            .map_err(query_error))?;
        row.map(AuthorizationCode::try_from).transpose()
    }

    async fn consume_code<'a>(
        &self,
        digest: &Digest,
        now: DateTime<Utc>,
        issued: &IssuedFromCode,
        refresh: Option<&'a RefreshTokenRecord>,
        access: Option<&'a AccessTokenRecord>,
    ) -> Result<bool, StoreError> {
        let key = digest.as_bytes().to_vec();
        let now = naive(now);
        let family = issued.family.map(|f| f.as_uuid().to_string());
        let token_id = issued.access_token_id.to_string();
        let expires = naive(issued.access_expires_at);
        // Single-use is the conditional UPDATE, which also records what the
        // redemption issues; the tokens are stored in the same step.
        decide_then_store!(
            self,
            "authorization code",
            consume!(key, now, family, token_id, expires),
            refresh.map(RefreshRow::from),
            access.map(AccessRow::from)
        )
    }
}
