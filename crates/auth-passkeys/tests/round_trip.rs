//! The adapter against a software authenticator: a registration, an
//! assertion as a second factor and as a discoverable sign-in, and what is
//! refused (another challenge, no user verification, a counter gone back).
// A benchmark or a test, not server code: a failed setup should stop it loudly.
#![allow(clippy::unwrap_used)]
mod support {
    pub mod soft_key;
}

use auth_core::ports::{PasskeyError, Passkeys as _};
use auth_core::types::{Factor, FactorId, FactorKind, FactorLabel, PasskeyRecord, UserId};
use auth_passkeys::WebauthnPasskeys;
use support::soft_key::{ORIGIN, SoftKey};

fn record(new: auth_core::ports::NewPasskey) -> PasskeyRecord {
    PasskeyRecord {
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
        counter: new.counter,
    }
}

#[test]
fn a_registered_key_signs_as_second_factor_and_alone() {
    let rp = WebauthnPasskeys::new(ORIGIN, "Portcullis", None, &[]).unwrap();
    let handle = uuid::Uuid::new_v4();
    let (options, state) = rp
        .start_registration(handle, "alice", "Alice", &[])
        .unwrap();
    let mut key = SoftKey::new();
    let new = rp
        .finish_registration(&key.register(&options), &state)
        .unwrap();
    assert_eq!(new.credential_id.len(), 43);
    let mut stored = record(new);

    // A second factor: the account's credentials are named.
    let (options, state) = rp.start_authentication(&[stored.clone()]).unwrap();
    let answer = key.assert(&options, 0x05, 1);
    let assertion = rp
        .finish_authentication(&answer, &state, &[stored.clone()])
        .unwrap();
    assert_eq!(assertion.credential_id, stored.credential_id);
    assert_eq!(assertion.counter, 1);
    assert!(assertion.user_verified && !assertion.backed_up);
    stored.record = assertion.record;
    stored.counter = 1;
    // The same answer for another ceremony: refused.
    let (_, other) = rp.start_authentication(&[stored.clone()]).unwrap();
    assert!(matches!(
        rp.finish_authentication(&answer, &other, &[stored.clone()]),
        Err(PasskeyError::Refused(_))
    ));

    // Alone: the answer names its account by the user handle.
    let (options, state) = rp.start_discoverable().unwrap();
    let answer = key.assert(&options, 0x05, 2);
    let claimed = rp.identify(&answer).unwrap();
    assert_eq!(claimed.user_handle, handle);
    assert_eq!(claimed.credential_id, stored.credential_id);
    assert!(
        rp.finish_authentication(&answer, &state, &[stored.clone()])
            .is_ok()
    );

    // Without user verification (the policy requires it): refused.
    let (options, state) = rp.start_authentication(&[stored.clone()]).unwrap();
    assert!(matches!(
        rp.finish_authentication(&key.assert(&options, 0x01, 3), &state, &[stored.clone()]),
        Err(PasskeyError::Refused(_))
    ));
    // A counter not above the stored one: a cloned key, said as such.
    let (options, state) = rp.start_authentication(&[stored.clone()]).unwrap();
    assert!(matches!(
        rp.finish_authentication(&key.assert(&options, 0x05, 1), &state, &[stored.clone()]),
        Err(PasskeyError::CounterRegressed(id)) if id == stored.credential_id
    ));
    // Registering a key the account has: excluded by the options.
    let (options, _) = rp
        .start_registration(handle, "alice", "Alice", &[stored.clone()])
        .unwrap();
    let options: serde_json::Value = serde_json::from_str(&options).unwrap();
    assert_eq!(
        options["publicKey"]["excludeCredentials"][0]["id"],
        stored.credential_id.as_str()
    );
}
