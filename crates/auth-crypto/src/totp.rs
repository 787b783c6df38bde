//! TOTP (RFC 6238) with the parameters every authenticator app honours:
//! HMAC-SHA-1, six digits, 30-second steps, one step of skew either way.
//! `totp-rs` does the arithmetic and compares codes in constant time.
use auth_core::ports::OneTimePasswords;
use chrono::{DateTime, Utc};
use totp_rs::{Algorithm, Builder, Secret, Totp};

/// The adapter behind [`OneTimePasswords`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RfcTotp;

const DIGITS: u8 = 6;
const STEP_SECONDS: u64 = 30;
const SKEW_STEPS: u16 = 1;

impl RfcTotp {
    fn totp(secret: &[u8], issuer: Option<&str>, account: &str) -> Option<Totp> {
        // The URI's label is `issuer:account`: a colon in either would
        // split it elsewhere, so it is shown as a dash.
        let clean = |s: &str| s.replace(':', "-");
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(DIGITS)
            .with_skew(SKEW_STEPS)
            .with_step_duration(STEP_SECONDS)
            .with_secret(Secret::new(secret.to_vec().into_boxed_slice()))
            .with_issuer(issuer.map(clean))
            .with_account_name(clean(account))
            .build()
            .ok()
    }
}

impl OneTimePasswords for RfcTotp {
    fn matching_step(&self, secret: &[u8], code: &str, at: DateTime<Utc>) -> Option<i64> {
        // Six digits exactly; anything else is no code (and costs no HMAC).
        if code.len() != usize::from(DIGITS) || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let time = u64::try_from(at.timestamp()).ok()?;
        let totp = Self::totp(secret, None, "")?;
        totp.check(code, time)
            .and_then(|step| i64::try_from(step).ok())
    }

    fn provisioning_uri(&self, secret: &[u8], issuer: &str, account: &str) -> String {
        Self::totp(secret, Some(issuer), account)
            .and_then(|t| t.to_url().ok())
            .unwrap_or_default()
    }

    fn manual_key(&self, secret: &[u8]) -> String {
        Secret::new(secret.to_vec().into_boxed_slice()).to_base32()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA-1 vectors, cut to six digits.
    #[test]
    fn rfc_6238_vectors() {
        let secret = b"12345678901234567890";
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            let at = DateTime::from_timestamp(time, 0).unwrap();
            assert_eq!(
                RfcTotp.matching_step(secret, code, at),
                Some(time / 30),
                "{time}"
            );
        }
    }

    #[test]
    fn one_step_of_skew_either_way_and_no_more() {
        let secret = b"12345678901234567890";
        let at = |t: i64| DateTime::from_timestamp(t, 0).unwrap();
        // 287082 is the code of step 1 (30..59).
        assert_eq!(RfcTotp.matching_step(secret, "287082", at(89)), Some(1));
        assert_eq!(RfcTotp.matching_step(secret, "287082", at(0)), Some(1));
        assert_eq!(RfcTotp.matching_step(secret, "287082", at(90)), None);
        assert_eq!(RfcTotp.matching_step(secret, "28708", at(59)), None);
        assert_eq!(RfcTotp.matching_step(secret, "28708x", at(59)), None);
    }

    #[test]
    fn uri_names_issuer_account_and_parameters() {
        let uri = RfcTotp.provisioning_uri(b"12345678901234567890", "id.example", "ali:ce");
        assert!(
            uri.starts_with("otpauth://totp/id.example:ali-ce?"),
            "{uri}"
        );
        assert!(
            uri.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
            "{uri}"
        );
        assert_eq!(
            RfcTotp.manual_key(b"12345678901234567890"),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
    }
}
