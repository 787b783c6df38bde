//! Races over HTTP: many requests presenting one refresh token at once.
use portcullis_tests::{ClientSetup, ScratchDb, TestApp, on_both_backends};

on_both_backends! {
    thirty_two_racing_refreshes_have_one_winner => |db: ScratchDb| async move {
        let app = TestApp::spawn(db).await;
        let (id, secret) = app.client(ClientSetup::default()).await;
        let secret = secret.unwrap();
        app.user("alice", None, "pw").await;
        let r = app.post_form("/token", Some((&id, &secret)), &[("grant_type", "password"), ("username", "alice"), ("password", "pw")]).await;
        let rt = r.str("refresh_token").to_owned();
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(32));
        let tasks: Vec<_> = (0..32).map(|_| {
            let (http, url, id, secret, rt, barrier) = (app.http.clone(), app.url("/token"), id.clone(), secret.clone(), rt.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                http.post(url).basic_auth(id, Some(secret))
                    .form(&[("grant_type", "refresh_token"), ("refresh_token", rt.as_str())])
                    .send().await.unwrap().status().as_u16()
            })
        }).collect();
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.unwrap());
        }
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
        assert!(statuses.iter().all(|s| *s == 200 || *s == 400), "{statuses:?}");
    };
}
