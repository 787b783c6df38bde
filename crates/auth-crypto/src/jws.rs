//! JWS signing keys for ID tokens: RS256 (2048-bit RSA, which OpenID
//! Connect Core section 15.1 requires a provider to offer) and EdDSA
//! (Ed25519, RFC 8037).
//!
//! Keys are made and used through aws-lc-rs, whose RSA private-key
//! operations are constant time (the `rsa` crate's are not, and its
//! advisory RUSTSEC-2023-0071 has no fix). A key is loaded once when the
//! ring is (re)loaded, not parsed again for every signature. The public
//! keys are published as JWKs (jsonwebtoken's types) named by their RFC
//! 7638 thumbprint, which is also the `kid` of every token they sign.
use std::sync::{Arc, RwLock};

use auth_core::error::CryptoError;
use auth_core::ports::{IdTokenSigner, TokenCodec, TokenRejection};
use auth_core::types::{
    AccessClaims, ClientId, FamilyId, IdTokenClaims, IdTokenHint, KeyAlgorithm, OpaqueToken, Scope,
    SigningKey, Subject, TokenGeneration, UserId,
};
use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, KeyAlgorithm as JwkAlgorithm,
    OctetKeyPairParameters, OctetKeyPairType, PublicKeyUse, RSAKeyParameters, RSAKeyType,
    ThumbprintHash,
};

fn failed(e: impl std::fmt::Display) -> CryptoError {
    CryptoError::Failed(e.to_string())
}

/// The public JWK of a key pair, without its id.
fn public_jwk(algorithm: KeyAlgorithm, signer: &Signer) -> Result<Jwk, CryptoError> {
    let parameters = match signer {
        Signer::Rsa(pair) => {
            let public = pair.public_key();
            AlgorithmParameters::RSA(RSAKeyParameters {
                key_type: RSAKeyType::RSA,
                n: URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
                e: URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
            })
        }
        Signer::Ed(pair) => AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
            key_type: OctetKeyPairType::OctetKeyPair,
            curve: EllipticCurve::Ed25519,
            x: URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
        }),
    };
    let key_algorithm = match algorithm {
        KeyAlgorithm::Rs256 => JwkAlgorithm::RS256,
        KeyAlgorithm::EdDsa => JwkAlgorithm::EdDSA,
        KeyAlgorithm::PasetoV4Public => {
            return Err(CryptoError::Failed("a PASETO key is not a JWS key".into()));
        }
    };
    Ok(Jwk {
        common: CommonParameters {
            public_key_use: Some(PublicKeyUse::Signature),
            key_algorithm: Some(key_algorithm),
            ..CommonParameters::default()
        },
        algorithm: parameters,
    })
}

/// The private half, ready to sign.
enum Signer {
    Rsa(RsaKeyPair),
    Ed(Ed25519KeyPair),
}

impl Signer {
    fn from_pkcs8(algorithm: KeyAlgorithm, der: &[u8]) -> Result<Self, CryptoError> {
        match algorithm {
            KeyAlgorithm::Rs256 => Ok(Self::Rsa(RsaKeyPair::from_pkcs8(der).map_err(failed)?)),
            KeyAlgorithm::EdDsa => Ok(Self::Ed(Ed25519KeyPair::from_pkcs8(der).map_err(failed)?)),
            KeyAlgorithm::PasetoV4Public => {
                Err(CryptoError::Failed("a PASETO key is not a JWS key".into()))
            }
        }
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match self {
            Self::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                let rng = aws_lc_rs::rand::SystemRandom::new();
                pair.sign(&RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .map_err(failed)?;
                Ok(signature)
            }
            Self::Ed(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }
}

/// Makes a new JWS key pair of `algorithm`, signing from `activates_at`.
pub fn generate_jws_key(
    algorithm: KeyAlgorithm,
    now: DateTime<Utc>,
    activates_at: DateTime<Utc>,
) -> Result<SigningKey, CryptoError> {
    let pkcs8 = match algorithm {
        KeyAlgorithm::Rs256 => RsaKeyPair::generate(KeySize::Rsa2048)
            .and_then(|pair| pair.as_der())
            .map(|der| der.as_ref().to_vec())
            .map_err(failed)?,
        KeyAlgorithm::EdDsa => Ed25519KeyPair::generate()
            .and_then(|pair| pair.to_pkcs8v1())
            .map(|doc| doc.as_ref().to_vec())
            .map_err(failed)?,
        KeyAlgorithm::PasetoV4Public => {
            return Err(CryptoError::Failed(
                "PASETO keys are made by generate_signing_key".into(),
            ));
        }
    };
    let signer = Signer::from_pkcs8(algorithm, &pkcs8)?;
    let mut jwk = public_jwk(algorithm, &signer)?;
    let key_id = jwk.thumbprint(ThumbprintHash::SHA256).map_err(failed)?;
    jwk.common.key_id = Some(key_id.clone());
    Ok(SigningKey {
        key_id,
        algorithm,
        public_key: serde_json::to_string(&jwk).map_err(failed)?,
        secret_key: OpaqueToken::new(URL_SAFE_NO_PAD.encode(&pkcs8)),
        created_at: now,
        activates_at,
    })
}

struct LoadedKey {
    algorithm: KeyAlgorithm,
    activates_at: DateTime<Utc>,
    signer: Signer,
    /// The JWS header naming this key, base64url-encoded once.
    header: String,
    /// The same for JWT access tokens (`typ: at+jwt`, RFC 9068 section 2.1).
    access_header: String,
    /// The public JWK as published.
    jwk: Jwk,
}

impl LoadedKey {
    fn load(stored: &SigningKey) -> Result<Self, CryptoError> {
        let der = URL_SAFE_NO_PAD
            .decode(stored.secret_key.expose())
            .map_err(|_| CryptoError::Failed(format!("key {} is not base64url", stored.key_id)))?;
        let signer = Signer::from_pkcs8(stored.algorithm, &der)?;
        let jwk = public_jwk(stored.algorithm, &signer)?;
        let thumbprint = jwk.thumbprint(ThumbprintHash::SHA256).map_err(failed)?;
        if thumbprint != stored.key_id {
            return Err(CryptoError::Failed(format!(
                "stored key id {} does not match its key",
                stored.key_id
            )));
        }
        let header = |typ: &str| {
            let json = serde_json::json!({
                "alg": stored.algorithm.as_str(),
                "kid": stored.key_id,
                "typ": typ,
            });
            URL_SAFE_NO_PAD.encode(json.to_string())
        };
        Ok(Self {
            algorithm: stored.algorithm,
            activates_at: stored.activates_at,
            signer,
            header: header("JWT"),
            access_header: header("at+jwt"),
            jwk: Jwk {
                common: CommonParameters {
                    key_id: Some(thumbprint),
                    ..jwk.common
                },
                ..jwk
            },
        })
    }
}

/// The JWS keys in use, latest activation first; replaced whole on reload,
/// like the PASETO [`crate::KeyRing`].
#[derive(Clone, Default)]
pub struct JwsRing {
    keys: Arc<RwLock<Arc<Vec<LoadedKey>>>>,
}

impl JwsRing {
    /// Loads the JWS keys among `stored` (secrets unsealed); other keys are
    /// left to their own ring.
    pub fn load(stored: &[SigningKey]) -> Result<Self, CryptoError> {
        let ring = Self::default();
        ring.replace(stored)?;
        Ok(ring)
    }

    /// Swaps in a new set of keys.
    pub fn replace(&self, stored: &[SigningKey]) -> Result<(), CryptoError> {
        let mut keys = stored
            .iter()
            .filter(|k| k.algorithm.is_jws())
            .map(LoadedKey::load)
            .collect::<Result<Vec<_>, _>>()?;
        keys.sort_by_key(|k| std::cmp::Reverse(k.activates_at));
        let mut guard = self
            .keys
            .write()
            .map_err(|_| CryptoError::Failed("JWS key ring lock poisoned".into()))?;
        *guard = Arc::new(keys);
        Ok(())
    }

    fn snapshot(&self) -> Arc<Vec<LoadedKey>> {
        match self.keys.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// A compact JWS of `payload` by the newest key of `algorithm` active at
    /// `at` (RFC 7515 section 7.1), with the header `typ` given.
    fn sign(
        &self,
        algorithm: KeyAlgorithm,
        payload: &[u8],
        at: DateTime<Utc>,
        typ: Typ,
    ) -> Result<String, CryptoError> {
        let keys = self.snapshot();
        let key = keys
            .iter()
            .find(|k| k.algorithm == algorithm && k.activates_at <= at)
            .ok_or(CryptoError::NoSigningKey)?;
        let header = match typ {
            Typ::Jwt => &key.header,
            Typ::AccessToken => &key.access_header,
        };
        let signing_input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(payload));
        let signature = key.signer.sign(signing_input.as_bytes())?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }
}

impl IdTokenSigner for JwsRing {
    fn sign_id_token(
        &self,
        claims: &IdTokenClaims,
        algorithm: KeyAlgorithm,
    ) -> Result<String, CryptoError> {
        let payload = serde_json::to_vec(&id_token_payload(claims)).map_err(failed)?;
        self.sign(algorithm, &payload, claims.issued_at, Typ::Jwt)
    }

    fn public_jwks(&self) -> Vec<String> {
        self.snapshot()
            .iter()
            .filter_map(|k| serde_json::to_string(&k.jwk).ok())
            .collect()
    }

    fn read_hint(&self, token: &str) -> Result<IdTokenHint, TokenRejection> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenRejection::Malformed)?;
        // JWT access tokens are signed with the same keys: one of them is
        // no ID token, whatever its claims (RFC 9068 section 2.1's `typ`).
        if header.typ.as_deref().is_some_and(|t| {
            t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
        }) {
            return Err(TokenRejection::Invalid);
        }
        let kid = header.kid.ok_or(TokenRejection::Malformed)?;
        let keys = self.snapshot();
        let key = keys
            .iter()
            .find(|k| k.jwk.common.key_id.as_deref() == Some(kid.as_str()))
            .ok_or(TokenRejection::UnknownKey)?;
        let algorithm = match key.algorithm {
            KeyAlgorithm::Rs256 => jsonwebtoken::Algorithm::RS256,
            KeyAlgorithm::EdDsa => jsonwebtoken::Algorithm::EdDSA,
            KeyAlgorithm::PasetoV4Public => return Err(TokenRejection::UnknownKey),
        };
        let decoding = jsonwebtoken::DecodingKey::from_jwk(&key.jwk)
            .map_err(|_| TokenRejection::UnknownKey)?;
        let mut validation = jsonwebtoken::Validation::new(algorithm);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims = ["iss", "sub", "aud"].map(String::from).into();
        let hint = jsonwebtoken::decode::<serde_json::Value>(token, &decoding, &validation)
            .map_err(|_| TokenRejection::Invalid)?
            .claims;
        let text = |name: &str| {
            hint[name]
                .as_str()
                .map(str::to_owned)
                .ok_or(TokenRejection::Invalid)
        };
        Ok(IdTokenHint {
            issuer: text("iss")?,
            subject: text("sub")?
                .parse()
                .map(UserId::new)
                .map_err(|_| TokenRejection::Invalid)?,
            audience: text("aud")?,
        })
    }

    fn algorithms(&self) -> Vec<KeyAlgorithm> {
        let mut all: Vec<KeyAlgorithm> = self.snapshot().iter().map(|k| k.algorithm).collect();
        all.sort_by_key(|a| a.as_str());
        all.dedup();
        all
    }
}

/// Which JWS a key signs: an ID token or an access token.
#[derive(Clone, Copy)]
enum Typ {
    Jwt,
    AccessToken,
}

/// JWT access tokens (RFC 9068), signed RS256 with the ID tokens' keys so
/// that any JWT library verifies them against `GET /jwks`.
#[derive(Clone)]
pub struct JwtCodec {
    ring: JwsRing,
    issuer: String,
}

impl JwtCodec {
    pub fn new(ring: JwsRing, issuer: &str) -> Self {
        Self {
            ring,
            issuer: issuer.to_owned(),
        }
    }
}

impl TokenCodec for JwtCodec {
    /// A compact JWS: the base64url of a JSON header (`eyJ`) and three
    /// dot-separated parts. A reference or refresh token is one base64url
    /// string without dots, which may itself begin with `eyJ` (one in 64³),
    /// so the prefix alone would misread it.
    fn recognises(&self, token: &str) -> bool {
        token.starts_with("eyJ") && token.split('.').count() == 3
    }

    fn issue(&self, c: &AccessClaims) -> Result<String, CryptoError> {
        let mut payload = serde_json::json!({
            "iss": c.issuer,
            "sub": c.subject.to_string(),
            "aud": c.client_id.as_str(),
            "client_id": c.client_id.as_str(),
            "exp": c.expires_at.timestamp(),
            "iat": c.issued_at.timestamp(),
            "jti": c.token_id.to_string(),
            "scope": c.scope.to_string(),
        });
        if let (Some(family), Some(object)) = (c.family, payload.as_object_mut()) {
            object.insert("fid".into(), family.as_uuid().to_string().into());
        }
        if let (true, Some(object)) = (
            c.generation != TokenGeneration::default(),
            payload.as_object_mut(),
        ) {
            object.insert("gen".into(), c.generation.get().into());
        }
        if let (Some(groups), Some(object)) = (&c.groups, payload.as_object_mut()) {
            object.insert("groups".into(), serde_json::json!(groups));
        }
        let payload = serde_json::to_vec(&payload).map_err(failed)?;
        self.ring
            .sign(KeyAlgorithm::Rs256, &payload, c.issued_at, Typ::AccessToken)
    }

    /// The signature by a published key, `typ: at+jwt`, the issuer, and the
    /// expiry against `now` (not the system clock).
    fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, TokenRejection> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenRejection::Malformed)?;
        if header.typ.as_deref() != Some("at+jwt") {
            return Err(TokenRejection::Invalid);
        }
        let kid = header.kid.ok_or(TokenRejection::Malformed)?;
        let keys = self.ring.snapshot();
        let key = keys
            .iter()
            .find(|k| k.jwk.common.key_id.as_deref() == Some(kid.as_str()))
            .ok_or(TokenRejection::UnknownKey)?;
        if key.algorithm != KeyAlgorithm::Rs256 {
            return Err(TokenRejection::Invalid);
        }
        let decoding = jsonwebtoken::DecodingKey::from_jwk(&key.jwk)
            .map_err(|_| TokenRejection::UnknownKey)?;
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.set_issuer(&[self.issuer.as_str()]);
        let claims = jsonwebtoken::decode::<serde_json::Value>(token, &decoding, &validation)
            .map_err(|_| TokenRejection::Invalid)?
            .claims;
        let text = |name: &str| claims[name].as_str().ok_or(TokenRejection::Invalid);
        let time = |name: &str| {
            claims[name]
                .as_i64()
                .and_then(|t| DateTime::from_timestamp(t, 0))
                .ok_or(TokenRejection::Invalid)
        };
        let expires_at = time("exp")?;
        if expires_at <= now {
            return Err(TokenRejection::Expired);
        }
        let client_id = ClientId::parse(text("client_id")?).map_err(|_| TokenRejection::Invalid)?;
        Ok(AccessClaims {
            issuer: text("iss")?.to_owned(),
            subject: Subject::from_claim(text("sub")?, &client_id)
                .ok_or(TokenRejection::Invalid)?,
            client_id,
            scope: Scope::parse(text("scope")?).map_err(|_| TokenRejection::Invalid)?,
            issued_at: time("iat")?,
            expires_at,
            token_id: uuid::Uuid::parse_str(text("jti")?).map_err(|_| TokenRejection::Invalid)?,
            family: match claims.get("fid").and_then(|f| f.as_str()) {
                Some(f) => Some(FamilyId::new(
                    uuid::Uuid::parse_str(f).map_err(|_| TokenRejection::Invalid)?,
                )),
                None => None,
            },
            generation: match claims.get("gen") {
                None => TokenGeneration::default(),
                Some(g) => TokenGeneration::new(
                    g.as_u64()
                        .and_then(|g| u32::try_from(g).ok())
                        .ok_or(TokenRejection::Invalid)?,
                ),
            },
            groups: match claims.get("groups") {
                None => None,
                Some(serde_json::Value::Array(names)) => Some(
                    names
                        .iter()
                        .map(|n| n.as_str().map(str::to_owned).ok_or(TokenRejection::Invalid))
                        .collect::<Result<_, _>>()?,
                ),
                Some(_) => return Err(TokenRejection::Invalid),
            },
        })
    }

    /// JWT access tokens are verified with `GET /jwks`, not the PASERK set.
    fn public_keys(&self) -> Vec<auth_core::ports::PublicKey> {
        Vec::new()
    }
}

/// OpenID Connect Core section 2 and 5.1: the registered claims, then the
/// standard claims the granted scopes release.
fn id_token_payload(c: &IdTokenClaims) -> serde_json::Value {
    let mut payload = serde_json::json!({
        "iss": c.issuer,
        "sub": c.subject.to_string(),
        "aud": c.audience.as_str(),
        "exp": c.expires_at.timestamp(),
        "iat": c.issued_at.timestamp(),
    });
    let extra = [
        ("auth_time", c.auth_time.map(|t| t.timestamp().into())),
        ("nonce", c.nonce.clone().map(Into::into)),
        ("amr", (!c.amr.is_empty()).then(|| serde_json::json!(c.amr))),
        ("acr", c.acr.map(Into::into)),
        ("azp", Some(c.audience.as_str().into())),
        ("at_hash", c.access_token_hash.clone().map(Into::into)),
        ("name", c.profile.name.clone().map(Into::into)),
        ("given_name", c.profile.given_name.clone().map(Into::into)),
        ("family_name", c.profile.family_name.clone().map(Into::into)),
        (
            "preferred_username",
            c.profile.preferred_username.clone().map(Into::into),
        ),
        (
            "updated_at",
            c.profile.updated_at.map(|t| t.timestamp().into()),
        ),
        ("email", c.email.as_ref().map(|e| e.address.clone().into())),
        (
            "email_verified",
            c.email.as_ref().map(|e| e.verified.into()),
        ),
        ("groups", c.groups.as_ref().map(|g| serde_json::json!(g))),
    ];
    if let Some(object) = payload.as_object_mut() {
        for (name, value) in extra {
            if let Some(value) = value {
                object.insert(name.to_owned(), value);
            }
        }
    }
    payload
}

#[cfg(test)]
mod tests {
    use super::*;
    use auth_core::types::{ClientId, IdTokenEmail, IdTokenProfile};
    use chrono::Duration;
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};

    fn claims(now: DateTime<Utc>) -> IdTokenClaims {
        IdTokenClaims {
            issuer: "https://issuer.test".into(),
            subject: auth_core::types::UserId::new(
                uuid::Uuid::parse_str("0191c1d2-0000-7000-8000-000000000001").unwrap(),
            ),
            audience: ClientId::parse("app").unwrap(),
            issued_at: now,
            expires_at: now + Duration::minutes(5),
            auth_time: Some(now - Duration::minutes(1)),
            amr: vec![],
            acr: None,
            nonce: Some("n-0S6_WzA2Mj".into()),
            access_token_hash: Some("77QmUPtjPfzWtF2AnpK9RQ".into()),
            profile: IdTokenProfile {
                preferred_username: Some("michael".into()),
                ..IdTokenProfile::default()
            },
            email: Some(IdTokenEmail {
                address: "michael@example.com".into(),
                verified: false,
            }),
            groups: Some(vec!["admins".into(), "staff".into()]),
        }
    }

    /// Each algorithm's tokens verify with an independent JOSE library
    /// against the published JWK, and name their key.
    #[test]
    fn a_reference_token_that_happens_to_begin_like_a_jwt_is_not_one() {
        let now = Utc::now();
        let key = generate_jws_key(KeyAlgorithm::EdDsa, now, now).unwrap();
        let codec = JwtCodec::new(JwsRing::load(&[key]).unwrap(), "https://issuer.test");
        // 43 base64url characters, no dot: what OsRandom draws.
        assert!(!codec.recognises("eyJhbGciOiJSUzI1NiJ9abcdefghijklmnopqrstuvw"));
        assert!(codec.recognises("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"));
        assert!(!codec.recognises("eyJa.b"));
        assert!(!codec.recognises("v4.public.payload"));
    }

    #[test]
    fn tokens_verify_with_jsonwebtoken_against_the_published_jwk() {
        let now = Utc::now();
        for (algorithm, alg) in [
            (KeyAlgorithm::Rs256, Algorithm::RS256),
            (KeyAlgorithm::EdDsa, Algorithm::EdDSA),
        ] {
            let key = generate_jws_key(algorithm, now, now).unwrap();
            let ring = JwsRing::load(std::slice::from_ref(&key)).unwrap();
            let token = ring.sign_id_token(&claims(now), algorithm).unwrap();
            let header = decode_header(&token).unwrap();
            assert_eq!(header.alg, alg);
            assert_eq!(header.kid.as_deref(), Some(key.key_id.as_str()));
            let jwks = ring.public_jwks();
            let jwk: Jwk = serde_json::from_str(&jwks[0]).unwrap();
            assert_eq!(jwk.common.key_id.as_deref(), Some(key.key_id.as_str()));
            let mut validation = Validation::new(alg);
            validation.set_audience(&["app"]);
            validation.set_issuer(&["https://issuer.test"]);
            let data = decode::<serde_json::Value>(
                &token,
                &DecodingKey::from_jwk(&jwk).unwrap(),
                &validation,
            )
            .unwrap();
            assert_eq!(data.claims["nonce"], "n-0S6_WzA2Mj");
            assert_eq!(data.claims["preferred_username"], "michael");
            assert_eq!(data.claims["email_verified"], false);
            assert_eq!(
                data.claims["groups"],
                serde_json::json!(["admins", "staff"])
            );
            assert!(
                data.claims.get("name").is_none(),
                "absent claims are left out"
            );
            // A tampered payload fails.
            let mut parts: Vec<&str> = token.split('.').collect();
            let forged = URL_SAFE_NO_PAD.encode(br#"{"sub":"admin"}"#);
            parts[1] = &forged;
            assert!(
                decode::<serde_json::Value>(
                    &parts.join("."),
                    &DecodingKey::from_jwk(&jwk).unwrap(),
                    &validation
                )
                .is_err()
            );
        }
    }

    #[test]
    fn a_pending_key_is_published_but_does_not_sign() {
        let now = Utc::now();
        let current = generate_jws_key(KeyAlgorithm::Rs256, now, now).unwrap();
        let pending = generate_jws_key(KeyAlgorithm::Rs256, now, now + Duration::hours(1)).unwrap();
        let ring = JwsRing::load(&[current.clone(), pending.clone()]).unwrap();
        assert_eq!(ring.public_jwks().len(), 2);
        let token = ring
            .sign_id_token(&claims(now), KeyAlgorithm::Rs256)
            .unwrap();
        assert_eq!(decode_header(&token).unwrap().kid, Some(current.key_id));
        let later = claims(now + Duration::hours(2));
        let token = ring.sign_id_token(&later, KeyAlgorithm::Rs256).unwrap();
        assert_eq!(decode_header(&token).unwrap().kid, Some(pending.key_id));
        // No key of the algorithm: no token.
        assert!(matches!(
            ring.sign_id_token(&claims(now), KeyAlgorithm::EdDsa),
            Err(CryptoError::NoSigningKey)
        ));
    }

    #[test]
    fn a_key_whose_id_does_not_match_is_refused() {
        let now = Utc::now();
        let key = generate_jws_key(KeyAlgorithm::EdDsa, now, now).unwrap();
        let moved = SigningKey {
            key_id: "another".into(),
            ..key
        };
        assert!(JwsRing::load(&[moved]).is_err());
    }
}
