//! The grants in a plain `main`: no database, no HTTP. Runs the
//! client-credentials, password and refresh grants against the core, checks
//! each token the way a resource server would, and exits non-zero if any
//! step does not do what it should.
//!
//! `cargo run -p auth-memory --example embedded_grants`
mod common;

use auth_core::grants::{ClientCredentials, GrantRequest, Login};
use auth_core::types::Scope;
use chrono::Utc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let common::Embedded {
        grants: tokens,
        client,
        client_secret,
    } = common::embed().await?;
    let now = Utc::now();

    // Every grant starts by authenticating the client.
    let client = tokens
        .authenticate_client(&ClientCredentials {
            client_id: client.id.clone(),
            secret: Some(client_secret),
        })
        .await?;

    let service = tokens
        .exchange(
            &client,
            GrantRequest::ClientCredentials {
                scope: Some(Scope::parse("reports:read")?),
            },
            now,
        )
        .await?;
    let claims = tokens
        .verify_access(service.access_token.expose(), now)
        .await?
        .claims;
    println!(
        "client_credentials: subject {} scope {}",
        claims.subject, claims.scope
    );

    let signed_in = tokens
        .exchange(
            &client,
            GrantRequest::Password {
                login: Login::Name("ada".into()),
                password: "correct horse battery staple".into(),
                scope: None,
                // Where the attempt came from: failures count per address.
                from: "192.0.2.10".into(),
            },
            now,
        )
        .await?;
    let refresh_token = signed_in
        .refresh_token
        .clone()
        .ok_or("the password grant issues a refresh token")?;
    println!(
        "password: user {} scope {}",
        signed_in.user_id.ok_or("a user token names its user")?,
        signed_in.scope
    );

    let rotated = tokens
        .exchange(
            &client,
            GrantRequest::RefreshToken {
                refresh_token: refresh_token.clone(),
                scope: None,
            },
            now,
        )
        .await?;
    if rotated.refresh_token.as_ref() == Some(&refresh_token) {
        return Err("the refresh token was not rotated".into());
    }
    tokens
        .verify_access(rotated.access_token.expose(), now)
        .await?;
    println!("refresh_token: rotated, new access token verified");

    // Presenting the rotated token again, after the retry window, is a
    // replay: the grant is revoked, the new tokens with it.
    let later = now + chrono::Duration::minutes(5);
    let replay = tokens
        .exchange(
            &client,
            GrantRequest::RefreshToken {
                refresh_token,
                scope: None,
            },
            later,
        )
        .await;
    if replay.is_ok() {
        return Err("a replayed refresh token was accepted".into());
    }
    if tokens
        .verify_access(rotated.access_token.expose(), later)
        .await
        .is_ok()
    {
        return Err("the replay did not revoke the grant's access token".into());
    }
    println!("replay: refused, grant revoked");
    Ok(())
}
