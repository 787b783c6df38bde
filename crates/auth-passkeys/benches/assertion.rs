//! What checking a WebAuthn assertion costs the server (an ES256 signature
//! and the checks around it): docs/benchmarks.md.
// A benchmark or a test, not server code: a failed setup should stop it loudly.
#![allow(clippy::unwrap_used)]
use auth_core::ports::Passkeys as _;
use auth_core::types::{Factor, FactorId, FactorKind, FactorLabel, PasskeyRecord, UserId};
use auth_passkeys::WebauthnPasskeys;
use criterion::{Criterion, criterion_group, criterion_main};

#[path = "../tests/support/soft_key.rs"]
mod soft_key;

fn assertion(c: &mut Criterion) {
    let rp = WebauthnPasskeys::new(soft_key::ORIGIN, "Portcullis", None, &[]).unwrap();
    let (options, state) = rp
        .start_registration(uuid::Uuid::new_v4(), "alice", "Alice", &[])
        .unwrap();
    let mut key = soft_key::SoftKey::new();
    let new = rp
        .finish_registration(&key.register(&options), &state)
        .unwrap();
    let stored = PasskeyRecord {
        factor: Factor {
            id: FactorId::new(uuid::Uuid::new_v4()),
            user_id: UserId::new(uuid::Uuid::new_v4()),
            kind: FactorKind::Passkey,
            label: FactorLabel::parse("key").unwrap(),
            created_at: chrono::Utc::now(),
            last_used_at: None,
        },
        credential_id: new.credential_id,
        record: new.record,
        counter: 0,
    };
    let credentials = [stored];
    let (options, state) = rp.start_authentication(&credentials).unwrap();
    let answer = key.assert(&options, 0x05, 1);
    c.bench_function("webauthn_assertion_verify", |b| {
        b.iter(|| {
            rp.finish_authentication(&answer, &state, &credentials)
                .unwrap()
        })
    });
}

criterion_group!(benches, assertion);
criterion_main!(benches);
