//! Signing key lifecycle: which key signs, and which retired keys may go.
use chrono::{DateTime, Duration, Utc};

use crate::types::{KeyAlgorithm, SigningKey};

/// The ids of keys that may be deleted at `now`: a key retires when a newer
/// key becomes active, and it must keep verifying until every token it
/// signed has expired, so it may go `retention` (the longest access token
/// lifetime) after it retired. Pending keys and the current signer stay.
/// Each algorithm's keys retire only in favour of a newer key of the same
/// algorithm.
pub fn prunable(keys: &[SigningKey], retention: Duration, now: DateTime<Utc>) -> Vec<String> {
    KeyAlgorithm::ALL
        .into_iter()
        .flat_map(|algorithm| {
            let mut active: Vec<&SigningKey> = keys
                .iter()
                .filter(|k| k.algorithm == algorithm && k.is_active(now))
                .collect();
            active.sort_by_key(|k| std::cmp::Reverse(k.activates_at));
            // active[0] signs; active[i] retired when active[i - 1] took over.
            active
                .windows(2)
                .filter(|pair| pair[0].activates_at + retention <= now)
                .map(|pair| pair[1].key_id.clone())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::OpaqueToken;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
    }

    fn key(id: &str, activates: DateTime<Utc>) -> SigningKey {
        SigningKey {
            key_id: id.into(),
            algorithm: KeyAlgorithm::PasetoV4Public,
            public_key: String::new(),
            secret_key: OpaqueToken::new(String::new()),
            created_at: activates,
            activates_at: activates,
        }
    }

    #[test]
    fn only_keys_retired_longer_than_the_retention_go() {
        let keys = [
            key("a", t0()),
            key("b", t0() + Duration::days(10)),
            key("c", t0() + Duration::days(20)),
            key("pending", t0() + Duration::days(40)),
        ];
        let hour = Duration::hours(1);
        // "a" retired at day 10, "b" at day 20.
        assert!(prunable(&keys, hour, t0() + Duration::days(10)).is_empty());
        assert_eq!(
            prunable(&keys, hour, t0() + Duration::days(10) + hour),
            ["a"]
        );
        assert_eq!(prunable(&keys, hour, t0() + Duration::days(30)), ["b", "a"]);
        // The signer and the pending key never go.
        assert!(prunable(&keys[2..], hour, t0() + Duration::days(100)).len() == 1);
        assert!(prunable(&keys[2..3], hour, t0() + Duration::days(100)).is_empty());
    }

    #[test]
    fn a_key_retires_only_behind_a_newer_key_of_its_algorithm() {
        let rsa = SigningKey {
            algorithm: KeyAlgorithm::Rs256,
            ..key("rsa", t0())
        };
        let keys = [
            rsa,
            key("paseto-a", t0()),
            key("paseto-b", t0() + Duration::days(1)),
        ];
        let later = t0() + Duration::days(30);
        assert_eq!(prunable(&keys, Duration::hours(1), later), ["paseto-a"]);
    }
}
