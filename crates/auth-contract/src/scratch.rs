//! Databases that exist for one test and are removed after it: a SQLite
//! file in a temporary directory, or a PostgreSQL database with a random
//! name on the server `PORTCULLIS_TEST_POSTGRES` names; and ports for test
//! servers that must be named before they listen.
#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "a scratch database that cannot be made fails its test"
)]
use diesel_async::RunQueryDsl;

/// The environment variable naming the PostgreSQL server tests use.
pub const POSTGRES_ENV: &str = "PORTCULLIS_TEST_POSTGRES";

/// Which database a scratch one is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database that exists for one test and is removed after it.
pub enum ScratchDb {
    Sqlite {
        _dir: tempfile::TempDir,
        url: String,
    },
    Postgres {
        admin_url: String,
        name: String,
        url: String,
    },
    /// Another handle on a database a different `ScratchDb` owns (a second
    /// node); dropping it removes nothing.
    Shared { url: String },
}

impl ScratchDb {
    /// A fresh database, or `None` for PostgreSQL when no server is
    /// configured. A configured but unreachable server fails the test.
    pub async fn new(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("portcullis.db").display());
                Some(Self::Sqlite { _dir: dir, url })
            }
            Backend::Postgres => {
                let admin_url = std::env::var(POSTGRES_ENV).ok().filter(|s| !s.is_empty())?;
                let name = format!("portcullis_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn =
                    <diesel_async::AsyncPgConnection as diesel_async::AsyncConnection>::establish(
                        &admin_url,
                    )
                    .await
                    .unwrap_or_else(|e| {
                        panic!("{POSTGRES_ENV} is set but PostgreSQL is unreachable: {e}")
                    });
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("create scratch database");
                let mut url = url::Url::parse(&admin_url).expect("valid PostgreSQL URL");
                url.set_path(&name);
                Some(Self::Postgres {
                    admin_url,
                    name,
                    url: url.to_string(),
                })
            }
        }
    }

    pub fn url(&self) -> &str {
        match self {
            Self::Sqlite { url, .. } | Self::Postgres { url, .. } | Self::Shared { url } => url,
        }
    }

    /// A handle for a second server on the same database.
    pub fn share(&self) -> Self {
        Self::Shared {
            url: self.url().to_owned(),
        }
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        if let Self::Postgres {
            admin_url, name, ..
        } = self
        {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs inside the test's runtime; a thread with its own
            // runtime can block on the DROP without stalling it.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    let mut conn = <diesel_async::AsyncPgConnection as diesel_async::AsyncConnection>::establish(&admin_url).await.ok()?;
                    diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await
                        .ok()
                })
            })
            .join();
        }
    }
}

/// A port that was free a moment ago, for a server that must be named
/// before it listens (a callback registered upstream first, a driver
/// started with a port). Drawn below the kernel's ephemeral range
/// (32768-60999 here), so the outgoing connections of the tests running
/// beside this one cannot take it between the check and the bind, as they
/// could a port the kernel handed out for `:0`.
pub fn unclaimed_port() -> u16 {
    loop {
        let port = 20_000 + (uuid::Uuid::new_v4().as_u128() % 12_000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}
