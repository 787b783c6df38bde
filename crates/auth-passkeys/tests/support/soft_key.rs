//! A software authenticator for tests and benchmarks: an ES256 key made
//! with aws-lc-rs, and the browser's JSON answers to a registration and an
//! assertion, built as WebAuthn Level 3 section 6 lays them out (the
//! CBOR by `serde_cbor_2`, the crate webauthn-rs itself reads it with).
use std::collections::BTreeMap;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_cbor_2::Value;
use sha2::{Digest as _, Sha256};

pub const ORIGIN: &str = "http://localhost:8080";
const RP_ID: &str = "localhost";
/// UP, UV and AT (attested credential data).
const REGISTERED: u8 = 0x01 | 0x04 | 0x40;

pub struct SoftKey {
    key: EcdsaKeyPair,
    /// The page's origin the browser would name.
    origin: String,
    pub id: Vec<u8>,
    /// The user handle the registration named (base64url).
    pub user_handle: String,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn client_data(kind: &str, options: &serde_json::Value, origin: &str) -> Vec<u8> {
    serde_json::json!({
        "type": kind,
        "challenge": options["publicKey"]["challenge"],
        "origin": origin,
        "crossOrigin": false,
    })
    .to_string()
    .into_bytes()
}

impl SoftKey {
    pub fn new() -> Self {
        Self::for_origin(ORIGIN)
    }

    /// A key answering pages of `origin`.
    pub fn for_origin(origin: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).unwrap();
        Self {
            key,
            origin: origin.to_owned(),
            id: (0..32u8).map(|i| i.wrapping_mul(7)).collect(),
            user_handle: String::new(),
        }
    }

    /// The browser's answer to registration `options`, user verified.
    pub fn register(&mut self, options: &str) -> String {
        let options: serde_json::Value = serde_json::from_str(options).unwrap();
        self.user_handle = options["publicKey"]["user"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let point = self.key.public_key().as_ref();
        let cose = Value::Map(BTreeMap::from([
            (Value::Integer(1), Value::Integer(2)),
            (Value::Integer(3), Value::Integer(-7)),
            (Value::Integer(-1), Value::Integer(1)),
            (Value::Integer(-2), Value::Bytes(point[1..33].to_vec())),
            (Value::Integer(-3), Value::Bytes(point[33..65].to_vec())),
        ]));
        let mut auth_data = Sha256::digest(RP_ID.as_bytes()).to_vec();
        auth_data.push(REGISTERED);
        auth_data.extend_from_slice(&0u32.to_be_bytes());
        auth_data.extend_from_slice(&[0; 16]);
        auth_data.extend_from_slice(&u16::try_from(self.id.len()).unwrap().to_be_bytes());
        auth_data.extend_from_slice(&self.id);
        auth_data.extend(serde_cbor_2::to_vec(&cose).unwrap());
        let attestation = Value::Map(BTreeMap::from([
            (Value::Text("fmt".into()), Value::Text("none".into())),
            (Value::Text("attStmt".into()), Value::Map(BTreeMap::new())),
            (Value::Text("authData".into()), Value::Bytes(auth_data)),
        ]));
        serde_json::json!({
            "id": b64(&self.id),
            "rawId": b64(&self.id),
            "type": "public-key",
            "response": {
                "attestationObject": b64(&serde_cbor_2::to_vec(&attestation).unwrap()),
                "clientDataJSON": b64(&client_data("webauthn.create", &options, &self.origin)),
            },
        })
        .to_string()
    }

    /// The browser's answer to assertion `options`, with `flags` (UP = 1,
    /// UV = 4) and the signature counter at `counter`.
    pub fn assert(&self, options: &str, flags: u8, counter: u32) -> String {
        let options: serde_json::Value = serde_json::from_str(options).unwrap();
        let client_data = client_data("webauthn.get", &options, &self.origin);
        let mut auth_data = Sha256::digest(RP_ID.as_bytes()).to_vec();
        auth_data.push(flags);
        auth_data.extend_from_slice(&counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(&client_data));
        let signature = self.key.sign(&SystemRandom::new(), &signed).unwrap();
        serde_json::json!({
            "id": b64(&self.id),
            "rawId": b64(&self.id),
            "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth_data),
                "clientDataJSON": b64(&client_data),
                "signature": b64(signature.as_ref()),
                "userHandle": self.user_handle,
            },
        })
        .to_string()
    }
}
