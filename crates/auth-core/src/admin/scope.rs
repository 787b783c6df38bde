//! The admin scopes: `admin:<area>` reads and writes an area,
//! `admin:<area>:read` only reads it.
use std::fmt;

/// A part of the admin API, each with its own scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdminArea {
    /// Clients: registrations and secrets.
    Clients,
    /// Accounts.
    Users,
    /// Groups and memberships.
    Groups,
    /// Sessions and grants of accounts.
    Sessions,
    /// Signing keys.
    Keys,
    /// The security-event log.
    Events,
}

/// Reading or changing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdminAccess {
    /// `GET`: `admin:<area>` or `admin:<area>:read`.
    Read,
    /// Anything else: `admin:<area>` only.
    Write,
}

/// What a route of the admin API needs of its caller's token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AdminScope {
    /// The area.
    pub area: AdminArea,
    /// Reading or changing.
    pub access: AdminAccess,
}

impl AdminArea {
    /// Every area.
    pub const ALL: [AdminArea; 6] = [
        Self::Clients,
        Self::Users,
        Self::Groups,
        Self::Sessions,
        Self::Keys,
        Self::Events,
    ];

    /// The scope that reads and writes it.
    pub fn write_scope(self) -> &'static str {
        match self {
            Self::Clients => "admin:clients",
            Self::Users => "admin:users",
            Self::Groups => "admin:groups",
            Self::Sessions => "admin:sessions",
            Self::Keys => "admin:keys",
            Self::Events => "admin:events",
        }
    }

    /// The scope that only reads it.
    pub fn read_scope(self) -> &'static str {
        match self {
            Self::Clients => "admin:clients:read",
            Self::Users => "admin:users:read",
            Self::Groups => "admin:groups:read",
            Self::Sessions => "admin:sessions:read",
            Self::Keys => "admin:keys:read",
            Self::Events => "admin:events:read",
        }
    }

    /// Reading this area.
    pub fn read(self) -> AdminScope {
        AdminScope {
            area: self,
            access: AdminAccess::Read,
        }
    }

    /// Changing this area.
    pub fn write(self) -> AdminScope {
        AdminScope {
            area: self,
            access: AdminAccess::Write,
        }
    }
}

/// Every admin scope, writing ones first: an admin client registered
/// without a scope gets them all.
pub const ADMIN_SCOPES: [&str; 12] = [
    "admin:clients",
    "admin:users",
    "admin:groups",
    "admin:sessions",
    "admin:keys",
    "admin:events",
    "admin:clients:read",
    "admin:users:read",
    "admin:groups:read",
    "admin:sessions:read",
    "admin:keys:read",
    "admin:events:read",
];

/// Whether a scope token belongs to the admin API (only an admin client
/// may hold one).
pub fn is_admin_scope(token: &str) -> bool {
    token.starts_with("admin:")
}

impl AdminScope {
    /// Whether a token with `scope` may do this.
    pub fn granted_by(self, scope: &crate::types::Scope) -> bool {
        scope.contains(self.area.write_scope())
            || (self.access == AdminAccess::Read && scope.contains(self.area.read_scope()))
    }
}

impl fmt::Display for AdminScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.access {
            AdminAccess::Read => self.area.read_scope(),
            AdminAccess::Write => self.area.write_scope(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Scope;

    #[test]
    fn a_write_scope_reads_and_a_read_scope_only_reads() {
        let write = Scope::parse("admin:users").unwrap();
        let read = Scope::parse("admin:users:read admin:groups").unwrap();
        assert!(AdminArea::Users.read().granted_by(&write));
        assert!(AdminArea::Users.write().granted_by(&write));
        assert!(AdminArea::Users.read().granted_by(&read));
        assert!(!AdminArea::Users.write().granted_by(&read));
        assert!(!AdminArea::Clients.read().granted_by(&write));
        assert!(AdminArea::Groups.write().granted_by(&read));
    }

    #[test]
    fn every_scope_is_listed_once_and_is_an_admin_scope() {
        for area in AdminArea::ALL {
            assert!(ADMIN_SCOPES.contains(&area.write_scope()));
            assert!(ADMIN_SCOPES.contains(&area.read_scope()));
        }
        assert!(ADMIN_SCOPES.iter().all(|s| is_admin_scope(s)));
        assert!(!is_admin_scope("openid"));
    }
}
