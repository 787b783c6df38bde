//! Keyset pagination: a page ends with a cursor naming where it stopped,
//! sealed so that a caller can neither read nor forge it, and bound to its
//! listing (and search): a cursor of another listing is refused. Opened, it
//! is typed values that the store binds as parameters.
use std::sync::Arc;

use crate::ports::Sealer;

/// The most items a page holds.
pub const MAX_LIMIT: u32 = 200;
/// The items a page holds unless the caller asks otherwise.
pub const DEFAULT_LIMIT: u32 = 50;

/// What a caller asks of a listing.
#[derive(Debug, Clone, Copy, Default)]
pub struct PageRequest<'a> {
    /// The cursor a previous page ended with.
    pub after: Option<&'a str>,
    /// How many items at most (1 to [`MAX_LIMIT`]); [`DEFAULT_LIMIT`]
    /// when not given.
    pub limit: Option<u32>,
}

/// One page of a listing.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items, in the listing's order.
    pub items: Vec<T>,
    /// The cursor of the next page; `None` on the last.
    pub next: Option<String>,
}

/// Why a page was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    /// The limit is out of range.
    #[error("limit must be 1 to {MAX_LIMIT}")]
    Limit,
    /// The cursor was not made by this listing (or this server).
    #[error("the cursor does not belong to this listing")]
    Foreign,
}

/// Seals and opens the cursors of one listing.
pub(crate) struct Cursors<'a> {
    pub(crate) sealer: &'a Arc<dyn Sealer>,
    /// The listing and its search, as the sealer's purpose: a cursor
    /// opens only where it was made.
    pub(crate) purpose: String,
}

impl<'a> Cursors<'a> {
    pub(crate) fn new(sealer: &'a Arc<dyn Sealer>, listing: &str, search: Option<&str>) -> Self {
        Self {
            sealer,
            purpose: format!("admin-cursor {listing} {}", search.unwrap_or("")),
        }
    }

    /// The page size `request` asks for.
    pub(crate) fn limit(request: &PageRequest<'_>) -> Result<u32, CursorError> {
        match request.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(CursorError::Limit),
        }
    }

    /// A cursor holding `position`.
    pub(crate) fn seal(&self, position: &[String]) -> Result<String, crate::error::CryptoError> {
        let text = serde_json::to_vec(position).unwrap_or_default();
        self.sealer.seal(&self.purpose, &text)
    }

    /// The position a cursor holds.
    pub(crate) fn open(&self, cursor: &str) -> Result<Vec<String>, CursorError> {
        let text = self
            .sealer
            .unseal(&self.purpose, cursor)
            .map_err(|_| CursorError::Foreign)?;
        serde_json::from_slice(&text).map_err(|_| CursorError::Foreign)
    }
}

impl Cursors<'_> {
    /// A cursor naming the item created at `at` with the id `id`: where a
    /// page in creation order ended.
    pub(crate) fn seal_position(
        &self,
        at: chrono::DateTime<chrono::Utc>,
        id: &str,
    ) -> Result<String, crate::error::CryptoError> {
        self.seal(&[
            at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            id.to_owned(),
        ])
    }

    /// The creation time and id a cursor of [`Self::seal_position`] holds.
    pub(crate) fn open_position(
        &self,
        cursor: &str,
    ) -> Result<(chrono::DateTime<chrono::Utc>, String), CursorError> {
        let parts = self.open(cursor)?;
        let [at, id] = parts.as_slice() else {
            return Err(CursorError::Foreign);
        };
        let at = chrono::DateTime::parse_from_rfc3339(at)
            .map_err(|_| CursorError::Foreign)?
            .with_timezone(&chrono::Utc);
        Ok((at, id.clone()))
    }
}
