//! The outbox's delivery (`Postman`) over the in-memory store, a sealer
//! double and a mail server that answers as the test says: a letter sent
//! once, a transient refusal retried after its backoff, a permanent one and
//! a letter a day old given up, a letter another sender holds left alone.
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use auth_core::mail::Postman;
use auth_core::ports::{MailRepository, MailTransport, Sealer, SendError};
use auth_core::types::{Letter, Message, OutboxEntry};
use auth_memory::MemoryStore;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::doubles::{Sealed, t0};

/// A mail server that answers each letter to `to` with the next of its
/// answers for that address (250 once they run out), and keeps what it took.
#[derive(Default)]
struct Server {
    answers: Mutex<Vec<(String, VecDeque<SendError>)>>,
    taken: Mutex<Vec<(Uuid, String)>>,
}

impl Server {
    fn refuse(&self, to: &str, answers: Vec<SendError>) {
        self.answers
            .lock()
            .unwrap()
            .push((to.to_owned(), answers.into()));
    }

    fn taken(&self) -> Vec<String> {
        self.taken
            .lock()
            .unwrap()
            .iter()
            .map(|(_, to)| to.clone())
            .collect()
    }
}

#[async_trait]
impl MailTransport for Server {
    async fn send(&self, id: Uuid, letter: &Letter) -> Result<String, SendError> {
        let refusal = self
            .answers
            .lock()
            .unwrap()
            .iter_mut()
            .find(|(to, _)| *to == letter.to)
            .and_then(|(_, answers)| answers.pop_front());
        match refusal {
            Some(refused) => Err(refused),
            None => {
                self.taken.lock().unwrap().push((id, letter.to.clone()));
                Ok("250 2.0.0 OK".into())
            }
        }
    }
}

struct Outbox {
    store: MemoryStore,
    sealer: Arc<Sealed>,
    server: Arc<Server>,
    postman: Postman,
}

fn outbox() -> Outbox {
    let store = MemoryStore::new();
    let sealer = Arc::new(Sealed::default());
    let server = Arc::new(Server::default());
    let postman = Postman::new(Arc::new(store.clone()), sealer.clone(), server.clone());
    Outbox {
        store,
        sealer,
        server,
        postman,
    }
}

impl Outbox {
    /// Puts a test letter to `to` in the outbox at `at`, sealed as the
    /// core seals letters.
    async fn post(&self, to: &str, at: DateTime<Utc>) -> Uuid {
        let letter = Letter {
            to: to.to_owned(),
            username: String::new(),
            message: Message::Test,
        };
        let plain = serde_json::to_vec(&letter).unwrap();
        let entry = OutboxEntry {
            id: Uuid::new_v4(),
            sealed: self
                .sealer
                .seal("portcullis outbox letter", &plain)
                .unwrap(),
            created_at: at,
            next_attempt_at: at,
            attempts: 0,
        };
        self.store.enqueue(&entry).await.unwrap();
        entry.id
    }
}

#[tokio::test]
async fn a_letter_is_sent_once_retried_after_its_backoff_or_given_up() {
    let o = outbox();
    o.post("ok@example.org", t0()).await;
    o.post("busy@example.org", t0()).await;
    let bounced = o.post("nobody@example.org", t0()).await;
    o.server.refuse(
        "busy@example.org",
        vec![SendError::Transient("421 try later".into())],
    );
    o.server.refuse(
        "nobody@example.org",
        vec![SendError::Permanent("550 no such user".into())],
    );

    // The busy server ends the round: the letter behind it waits.
    let first = o.postman.deliver_due(t0(), 10).await.unwrap();
    assert_eq!((first.sent, first.retried), (1, 1));
    assert!(first.given_up.is_empty());
    let busy = o
        .store
        .outbox()
        .into_iter()
        .find(|m| m.attempts == 1)
        .unwrap();
    assert_eq!(busy.next_attempt_at, t0() + Duration::seconds(30));

    // The next round takes the letter behind it (refused for good), not
    // the busy one before its backoff; then the busy one, once.
    let early = o
        .postman
        .deliver_due(t0() + Duration::seconds(20), 10)
        .await
        .unwrap();
    assert_eq!((early.sent, early.retried), (0, 0));
    assert_eq!(early.given_up.len(), 1);
    assert_eq!(early.given_up[0].0, bounced);
    assert_eq!(o.store.outbox().len(), 1);
    let later = o
        .postman
        .deliver_due(t0() + Duration::seconds(31), 10)
        .await
        .unwrap();
    assert_eq!(later.sent, 1);
    assert!(o.store.outbox().is_empty());
    assert_eq!(o.server.taken(), ["ok@example.org", "busy@example.org"]);
}

#[tokio::test]
async fn an_outage_waits_with_growing_backoff_and_a_day_old_letter_is_given_up() {
    let o = outbox();
    let id = o.post("far@example.org", t0()).await;
    o.server.refuse(
        "far@example.org",
        (0..1000)
            .map(|_| SendError::Transient("connection refused".into()))
            .collect(),
    );
    let mut now = t0();
    let mut waits = Vec::new();
    loop {
        let report = o.postman.deliver_due(now, 10).await.unwrap();
        if let Some((gone, why)) = report.given_up.first() {
            assert_eq!(*gone, id);
            assert!(why.contains("within its time"), "{why}");
            break;
        }
        let next = o.store.outbox()[0].next_attempt_at;
        waits.push((next - now).num_seconds());
        now = next;
    }
    assert!(now - t0() > Duration::hours(24));
    assert_eq!(&waits[..6], [30, 60, 120, 240, 480, 600]);
    assert!(waits.iter().all(|w| *w <= 600));
    assert!(o.store.outbox().is_empty());
    assert!(o.server.taken().is_empty());
}

#[tokio::test]
async fn a_letter_another_sender_holds_is_left_to_it() {
    let o = outbox();
    let id = o.post("held@example.org", t0()).await;
    // Another node claimed it (its lease runs two minutes).
    assert!(
        o.store
            .claim_mail(id, 0, t0() + Duration::minutes(2))
            .await
            .unwrap()
    );
    // A claim that read the letter before that one loses.
    assert!(
        !o.store
            .claim_mail(id, 0, t0() + Duration::minutes(2))
            .await
            .unwrap()
    );
    let report = o.postman.deliver_due(t0(), 10).await.unwrap();
    assert_eq!(report.sent, 0);
    assert!(o.server.taken().is_empty());
    // The other node died mid-send: after the lease, this one sends it.
    let report = o
        .postman
        .deliver_due(t0() + Duration::minutes(3), 10)
        .await
        .unwrap();
    assert_eq!(report.sent, 1);
    assert_eq!(o.server.taken(), ["held@example.org"]);
}
