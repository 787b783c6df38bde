//! Groups in the core: a client's allowed groups let in their members and
//! no one else at every grant, leaving the group ends the refresh tokens
//! held at such a client, and the operator's operations keep names unique
//! and refuse to delete a group a client admits.
use auth_core::error::ErrorCode;
use auth_core::events::SecurityEvent;
use auth_core::grants::{GrantRequest, Login};
use auth_core::groups::{GroupError, GroupUpdate};
use auth_core::policy::TokenPolicy;
use auth_core::types::{GrantType as G, OpaqueToken};

use crate::check::code_of;
use crate::doubles::t0;
use crate::world::World;

fn password() -> GrantRequest {
    GrantRequest::Password {
        login: Login::Name("alice".into()),
        password: "pw".into(),
        scope: None,
        from: "203.0.113.7".into(),
    }
}

fn refresh(token: &OpaqueToken) -> GrantRequest {
    GrantRequest::RefreshToken {
        refresh_token: token.clone(),
        scope: None,
    }
}

#[tokio::test]
async fn a_client_with_allowed_groups_admits_their_members_only() {
    let w = World::new(TokenPolicy::default());
    let (ops, _) = w
        .accounts
        .create_group("Ops", "On call", t0())
        .await
        .unwrap();
    assert_eq!(ops.name.as_str(), "ops");
    let mut c = w
        .add_client("app", Some("s"), &[G::Password, G::RefreshToken], "read")
        .await;
    c.allowed_groups = vec![ops.id];
    w.set_client(&c).await;
    w.add_user("alice", None, "pw").await;

    assert_eq!(
        code_of(w.grants.exchange(&c, password(), t0()).await),
        ErrorCode::InvalidGrant
    );
    w.accounts.add_to_group("ops", "alice", t0()).await.unwrap();
    let issued = w.grants.exchange(&c, password(), t0()).await.unwrap();
    let token = issued.refresh_token.unwrap();
    let issued = w.grants.exchange(&c, refresh(&token), t0()).await.unwrap();
    let token = issued.refresh_token.unwrap();

    // Leaving the group ends the grant held at the client.
    let left = w
        .accounts
        .remove_from_group("OPS", "alice", t0())
        .await
        .unwrap();
    assert!(
        matches!(left, SecurityEvent::GroupMembershipChanged { added: false, revoked, .. } if revoked >= 1),
        "{left:?}"
    );
    assert_eq!(
        code_of(w.grants.exchange(&c, refresh(&token), t0()).await),
        ErrorCode::InvalidGrant
    );
    assert_eq!(
        code_of(w.grants.exchange(&c, password(), t0()).await),
        ErrorCode::InvalidGrant
    );
}

#[tokio::test]
async fn group_names_are_unique_and_a_group_a_client_admits_stays() {
    let w = World::new(TokenPolicy::default());
    let (ops, _) = w.accounts.create_group("ops", "", t0()).await.unwrap();
    assert!(matches!(
        w.accounts.create_group("ＯＰＳ", "", t0()).await,
        Err(GroupError::Taken(_))
    ));
    assert!(matches!(
        w.accounts.create_group("no spaces", "", t0()).await,
        Err(GroupError::Invalid(_))
    ));
    let mut c = w.add_client("app", Some("s"), &[G::Password], "read").await;
    c.allowed_groups = vec![ops.id];
    w.set_client(&c).await;
    w.add_user("alice", None, "pw").await;
    w.accounts.add_to_group("ops", "alice", t0()).await.unwrap();

    // A rename keeps the id: the client admits the renamed group.
    let (renamed, _) = w
        .accounts
        .update_group(
            "ops",
            GroupUpdate {
                name: Some("operations"),
                description: Some("Runs things"),
                seen: None,
            },
            t0(),
        )
        .await
        .unwrap();
    assert_eq!((renamed.id, renamed.name.as_str()), (ops.id, "operations"));
    assert!(w.grants.exchange(&c, password(), t0()).await.is_ok());
    assert!(matches!(
        w.accounts.find_group("ops").await,
        Err(GroupError::NotFound(_))
    ));

    // Deleting it while the client admits it is refused, naming the client.
    match w.accounts.delete_group("operations", None).await {
        Err(GroupError::InUse(clients)) => assert_eq!(clients, vec!["app".to_owned()]),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        w.accounts.add_to_group("operations", "nobody", t0()).await,
        Err(GroupError::NoSuchUser(_))
    ));
    c.allowed_groups = vec![];
    w.set_client(&c).await;
    w.accounts.delete_group("operations", None).await.unwrap();
    assert!(w.accounts.list_groups().await.unwrap().is_empty());
}
