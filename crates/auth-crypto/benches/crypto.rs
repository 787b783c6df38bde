//! A benchmark, not server code: a failed setup should stop it loudly.
#![allow(clippy::unwrap_used)]
use auth_core::ports::{IdTokenSigner, SecretDigest, TokenCodec};
use auth_core::types::{AccessClaims, ClientId, IdTokenClaims, KeyAlgorithm, Password, Scope};
use auth_crypto::{
    Argon2Hasher, HashCost, KeyRing, PasetoCodec, Sha256Digest, generate_signing_key,
};
use chrono::{Duration, Utc};
use criterion::{Criterion, criterion_group, criterion_main};

fn primitives(c: &mut Criterion) {
    let now = Utc::now();
    let key = generate_signing_key(now, now).unwrap();
    let codec = PasetoCodec::new(KeyRing::load(&[key]).unwrap(), "http://127.0.0.1:8080");
    let claims = AccessClaims {
        issuer: "http://127.0.0.1:8080".into(),
        subject: auth_core::types::Subject::User(auth_core::types::UserId::new(
            uuid::Uuid::parse_str("0190a8f0-0000-7000-8000-000000000000").unwrap(),
        )),
        client_id: ClientId::parse("bench").unwrap(),
        scope: Scope::parse("read write").unwrap(),
        issued_at: now,
        expires_at: now + Duration::hours(1),
        token_id: uuid::Uuid::new_v4(),
        family: None,
        generation: Default::default(),
        groups: None,
    };
    let token = codec.issue(&claims).unwrap();
    c.bench_function("paseto_issue", |b| b.iter(|| codec.issue(&claims).unwrap()));
    c.bench_function("paseto_verify", |b| {
        b.iter(|| codec.verify(&token, now).unwrap())
    });
    // ID tokens: what RS256 costs beside EdDSA.
    let rsa = auth_crypto::generate_jws_key(KeyAlgorithm::Rs256, now, now).unwrap();
    let ed = auth_crypto::generate_jws_key(KeyAlgorithm::EdDsa, now, now).unwrap();
    let ring = auth_crypto::JwsRing::load(&[rsa, ed]).unwrap();
    let id_claims = IdTokenClaims {
        issuer: "http://127.0.0.1:8080".into(),
        subject: auth_core::types::UserId::new(
            uuid::Uuid::parse_str("0190a8f0-0000-7000-8000-000000000000").unwrap(),
        ),
        audience: ClientId::parse("bench").unwrap(),
        issued_at: now,
        expires_at: now + Duration::minutes(5),
        auth_time: Some(now),
        amr: vec![],
        acr: None,
        nonce: Some("n-0S6_WzA2Mj".into()),
        access_token_hash: Some("77QmUPtjPfzWtF2AnpK9RQ".into()),
        profile: Default::default(),
        email: None,
        groups: None,
    };
    for (name, algorithm) in [
        ("id_token_rs256", KeyAlgorithm::Rs256),
        ("id_token_eddsa", KeyAlgorithm::EdDsa),
    ] {
        c.bench_function(name, |b| {
            b.iter(|| ring.sign_id_token(&id_claims, algorithm).unwrap())
        });
    }
    let d = Sha256Digest.digest("secret");
    c.bench_function("sha256_verify", |b| {
        b.iter(|| Sha256Digest.verify("secret", &d))
    });
    // A second step's TOTP check: the sealed secret opened, then the code
    // compared with the steps within the skew (a wrong code: all three).
    let (kek, _) = auth_crypto::KeySealer::generate().unwrap();
    let sealer = kek.session_sealer().unwrap();
    let sealed =
        auth_core::ports::Sealer::seal(&sealer, "totp-secret", b"MTIzNDU2Nzg5MDEyMzQ1Njc4OTA")
            .unwrap();
    c.bench_function("totp_second_step", |b| {
        b.iter(|| {
            let secret = auth_core::ports::Sealer::unseal(&sealer, "totp-secret", &sealed).unwrap();
            auth_core::ports::OneTimePasswords::matching_step(
                &auth_crypto::RfcTotp,
                &secret,
                "000000",
                now,
            )
        })
    });
    let hasher = Argon2Hasher::new(HashCost::OWASP).unwrap();
    let pw = Password::parse("correct horse battery staple").unwrap();
    let hash = hasher.hash_blocking(&pw).unwrap();
    let mut group = c.benchmark_group("argon2id_owasp");
    group.sample_size(20);
    group.bench_function("verify", |b| {
        b.iter(|| hasher.verify_blocking(&pw, Some(&hash)))
    });
    group.finish();
}

criterion_group!(benches, primitives);
criterion_main!(benches);
