//! The repository contract every storage adapter of Portcullis passes, as a
//! kit: the scenarios ([`scenarios`]), the bound they need
//! ([`Repositories`]), a macro that turns them into one test each
//! ([`store_contract!`]), and scratch databases ([`scratch`]) for the
//! adapters that need one. `auth-store` runs it on SQLite and PostgreSQL,
//! `auth-memory` in memory; a new backend runs it by importing it:
//!
//! ```ignore
//! // tests/contract.rs of a new adapter crate
//! auth_contract::store_contract!([] || async {
//!     let store = MyStore::connect("...").await.unwrap();
//!     (std::sync::Arc::new(store) as std::sync::Arc<dyn auth_contract::Repositories>, ())
//! });
//! ```
//!
//! The first argument is a bracketed list of attributes put on every test
//! (for one that may not run here: `#[ignore = "why"]`); the second makes
//! a fresh store and whatever must live as long as the test (a scratch
//! database's guard).
pub mod fixtures;
pub mod scenarios;
pub mod scratch;

use auth_core::ports::{
    AuthorizationCodeRepository, ClientRepository, DeviceAuthorizationRepository, FactorRepository,
    FederationRepository, GroupRepository, KeyRepository, Readiness, SessionRepository, Sweeper,
    ThrottleRepository, TokenRepository, UserRepository,
};

/// Every repository port at once: what a store adapter implements.
pub trait Repositories:
    UserRepository
    + ClientRepository
    + TokenRepository
    + AuthorizationCodeRepository
    + SessionRepository
    + KeyRepository
    + DeviceAuthorizationRepository
    + ThrottleRepository
    + FederationRepository
    + FactorRepository
    + GroupRepository
    + Sweeper
    + Readiness
{
}

impl<T> Repositories for T where
    T: UserRepository
        + ClientRepository
        + TokenRepository
        + AuthorizationCodeRepository
        + SessionRepository
        + KeyRepository
        + DeviceAuthorizationRepository
        + ThrottleRepository
        + FederationRepository
        + FactorRepository
        + GroupRepository
        + Sweeper
        + Readiness
{
}

/// One `#[tokio::test]` per scenario of the contract, each on a fresh store
/// from `$make` (see the crate's documentation). The caller depends on
/// `tokio` with its `macros` and `rt-multi-thread` features. The list
/// below is the table of scenarios: one added to [`scenarios`] is run by
/// every backend once it is named here.
#[macro_export]
macro_rules! store_contract {
    // The inner rules come first: `@each` would otherwise be taken for the
    // attributes and the expression after it.
    (@each $attrs:tt $make:expr; $($name:ident,)*) => {$(
        $crate::store_contract!(@one $attrs $make; $name);
    )*};
    (@one [$(#[$attr:meta])*] $make:expr; $name:ident) => {
        $(#[$attr])*
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            let (store, _keep) = ($make)().await;
            $crate::scenarios::$name(store).await;
        }
    };
    ($attrs:tt $make:expr) => {
        $crate::store_contract!(@each $attrs $make;
            throttle_windows_start_at_the_first_counted_attempt,
            a_burst_of_reservations_is_counted_one_by_one,
            a_login_finds_its_account_and_counts_against_it,
            a_login_grant_resets_its_throttle_in_the_same_write,
            users_round_trip_and_conflict,
            clients_round_trip,
            clients_update_and_delete_with_what_was_issued_to_them,
            refresh_rotation_is_conditional,
            a_failed_rotation_insert_rolls_back,
            concurrent_rotations_have_one_winner,
            access_revocation_list,
            signing_keys_newest_first,
            codes_round_trip_and_are_consumed_once,
            sessions_round_trip,
            a_new_password_or_a_deletion_signs_the_account_out,
            signing_out_everywhere_ends_what_the_account_holds_and_raises_its_generation,
            consents_are_remembered_replaced_forgotten_and_go_with_the_account,
            an_accounts_own_sessions_and_live_grants,
            unlinking_keeps_a_way_to_sign_in,
            racing_unlinks_leave_a_way_to_sign_in,
            sweep_deletes_only_expired_rows,
            second_factors_are_used_once_and_go_with_the_account,
            groups_have_unique_names_and_go_with_their_members,
            accounts_page_by_key_and_change_only_at_the_version_read,
            clients_change_only_at_the_version_read,
        );
    };
}
