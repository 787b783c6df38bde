//! The admin API's rules: who may call it (a client marked admin, with the
//! `admin:*` scope for the area, never a person's token), how a listing is
//! paged (a sealed cursor bound to its listing), and the operator's writes
//! on accounts made conditional on the version the caller read. The HTTP
//! layer maps these to routes; the CLI runs the same operations without the
//! conditions (one rule, two doors).
mod caller;
mod clients;
mod holdings;
mod listing;
mod scope;
mod users;

use std::sync::Arc;

pub use caller::{AdminCaller, AdminRefusal};
pub use clients::AdminClientError;
pub use listing::{CursorError, DEFAULT_LIMIT, MAX_LIMIT, Page, PageRequest};
pub use scope::{ADMIN_SCOPES, AdminAccess, AdminArea, AdminScope, is_admin_scope};
pub use users::AdminUserError;

/// What the admin API needs besides the ports: a sealer for its cursors.
#[derive(Clone)]
pub struct AdminApi {
    /// Seals and opens the cursors of listings.
    pub sealer: Arc<dyn crate::ports::Sealer>,
}
