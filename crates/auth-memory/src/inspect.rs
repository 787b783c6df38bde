//! What the store holds, for a test's assertions. Ports answer the
//! questions a service asks; a test also wants to see every row.
use auth_core::ports::UpstreamFlow;
use auth_core::types::{
    AccessTokenRecord, AuthorizationCode, BrowserSession, DeviceAuthorization, FederatedLink,
    RefreshTokenRecord,
};

use crate::MemoryStore;

impl MemoryStore {
    /// Every refresh token, oldest issue first.
    pub fn refresh_tokens(&self) -> Vec<RefreshTokenRecord> {
        let mut all: Vec<_> = self.tables().refresh.values().cloned().collect();
        all.sort_by_key(|r| (r.issued_at, *r.digest.as_bytes()));
        all
    }

    /// Every stored reference access token, oldest issue first.
    pub fn access_tokens(&self) -> Vec<AccessTokenRecord> {
        let mut all: Vec<_> = self.tables().access.values().cloned().collect();
        all.sort_by_key(|a| (a.issued_at, a.token_id));
        all
    }

    /// Every authorization code, oldest issue first.
    pub fn codes(&self) -> Vec<AuthorizationCode> {
        let mut all: Vec<_> = self.tables().codes.values().cloned().collect();
        all.sort_by_key(|c| (c.issued_at, *c.digest.as_bytes()));
        all
    }

    /// Every browser session, oldest first.
    pub fn sessions(&self) -> Vec<BrowserSession> {
        let mut all: Vec<_> = self.tables().sessions.values().cloned().collect();
        all.sort_by_key(|s| (s.created_at, *s.digest.as_bytes()));
        all
    }

    /// Every device authorization, oldest first.
    pub fn device_authorizations(&self) -> Vec<DeviceAuthorization> {
        let mut all: Vec<_> = self.tables().devices.values().cloned().collect();
        all.sort_by_key(|d| (d.issued_at, *d.device_digest.as_bytes()));
        all
    }

    /// Every upstream sign-in under way.
    pub fn upstream_flows(&self) -> Vec<UpstreamFlow> {
        let mut all: Vec<_> = self.tables().flows.values().cloned().collect();
        all.sort_by_key(|f| (f.created_at, f.id));
        all
    }

    /// Every link of an upstream identity to an account.
    pub fn links(&self) -> Vec<FederatedLink> {
        self.tables().links.clone()
    }

    /// Every live or expired mail link not yet used or swept.
    pub fn email_links(&self) -> Vec<auth_core::types::EmailLink> {
        let mut all: Vec<_> = self.tables().email_links.values().cloned().collect();
        all.sort_by_key(|l| l.created_at);
        all
    }

    /// Every letter in the outbox, in the order written.
    pub fn outbox(&self) -> Vec<auth_core::types::OutboxEntry> {
        self.tables().outbox.clone()
    }
}
