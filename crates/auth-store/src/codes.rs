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
use crate::statements::ConsumeCode;

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
            ConsumeCode {
                digest: &key,
                now,
                family: family.as_deref(),
                access_token_id: &token_id,
                access_expires_at: expires,
            },
            refresh.map(RefreshRow::from),
            access.map(AccessRow::from)
        )
    }
}
