//! Portcullis's WebAuthn adapter: the relying party's side of the
//! ceremonies, done by `webauthn-rs` (pure Rust since 0.6), behind the
//! core's [`Passkeys`] port. Its types stay here: the core sees the
//! browser's JSON, opaque states and opaque credential records.
//!
//! Every credential is registered as a passkey: user verification
//! required, and a discoverable ("resident") key asked for, so the same
//! credential serves as a second factor and as a sign-in on its own.
#![deny(missing_docs)]

use auth_core::ports::{Assertion, Claimed, NewPasskey, PasskeyError, Passkeys};
use auth_core::types::PasskeyRecord;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use url::Url;
use webauthn_rs::prelude::{
    CredentialID, DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Webauthn, WebauthnBuilder, WebauthnError,
};

/// Why the relying party could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The issuer is not an absolute URL with a domain name.
    #[error("the issuer {0:?} has no domain name to be the WebAuthn relying party")]
    NoHost(String),
    /// The relying-party id is not the issuer's host or a parent of it.
    #[error("the WebAuthn relying-party id {rp_id:?} is not {host:?} or a parent domain of it")]
    NotParent {
        /// The id asked for.
        rp_id: String,
        /// The issuer's host.
        host: String,
    },
    /// webauthn-rs refused the configuration.
    #[error("WebAuthn configuration refused: {0}")]
    Refused(String),
}

/// The WebAuthn relying party: the issuer's origin (and any other allowed
/// origins) under one relying-party id.
pub struct WebauthnPasskeys {
    webauthn: Webauthn,
}

impl std::fmt::Debug for WebauthnPasskeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebauthnPasskeys")
            .field("origins", &self.webauthn.get_allowed_origins())
            .finish()
    }
}

impl WebauthnPasskeys {
    /// The relying party of `issuer`: its id is the issuer's host, or
    /// `parent_domain` (a parent of that host, so that passkeys work on
    /// every site under it); `origins` are further origins allowed to run
    /// the ceremonies (the issuer's own always is).
    pub fn new(
        issuer: &str,
        name: &str,
        parent_domain: Option<&str>,
        origins: &[Url],
    ) -> Result<Self, SetupError> {
        let origin = Url::parse(issuer).map_err(|_| SetupError::NoHost(issuer.to_owned()))?;
        // A relying party is a domain name; browsers refuse an IP address.
        let host = match origin.host() {
            Some(url::Host::Domain(host)) => host.to_owned(),
            _ => return Err(SetupError::NoHost(issuer.to_owned())),
        };
        let rp_id = match parent_domain {
            Some(parent) => {
                let parent = parent.trim().trim_matches('.').to_ascii_lowercase();
                if host != parent && !host.ends_with(&format!(".{parent}")) {
                    return Err(SetupError::NotParent {
                        rp_id: parent,
                        host,
                    });
                }
                parent
            }
            None => host,
        };
        let mut builder = WebauthnBuilder::new(&rp_id, &origin)
            .map_err(|e| SetupError::Refused(e.to_string()))?
            .rp_name(name)
            .allow_subdomains(parent_domain.is_some());
        for extra in origins {
            builder = builder.append_allowed_origin(extra);
        }
        let webauthn = builder
            .build()
            .map_err(|e| SetupError::Refused(e.to_string()))?;
        Ok(Self { webauthn })
    }
}

fn failed(e: impl std::error::Error + Send + Sync + 'static) -> PasskeyError {
    PasskeyError::Failed(Box::new(e))
}

fn refused(e: impl std::fmt::Display) -> PasskeyError {
    PasskeyError::Refused(e.to_string())
}

fn to_json(value: &impl serde::Serialize) -> Result<String, PasskeyError> {
    serde_json::to_string(value).map_err(failed)
}

/// A credential id as the core keeps it: base64url without padding, as
/// WebAuthn's JSON forms write it.
fn credential_id(id: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(id)
}

fn passkeys_of(records: &[PasskeyRecord]) -> Result<Vec<Passkey>, PasskeyError> {
    records
        .iter()
        .map(|r| serde_json::from_str::<Passkey>(&r.record).map_err(failed))
        .collect()
}

/// An assertion's state, tagged: the two kinds have the same shape, so
/// only the tag tells a second factor's from a discoverable sign-in's.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "state", rename_all = "kebab-case")]
enum AssertionState {
    /// For one of the account's credentials (a second factor).
    Known(PasskeyAuthentication),
    /// For any discoverable credential (a passkey sign-in).
    Discoverable(DiscoverableAuthentication),
}

/// What `start_passkey_registration` asks for, with a discoverable key
/// required: a passkey sign-in finds the account by it, with no username.
fn require_resident_key(options: &mut serde_json::Value) {
    if let Some(selection) = options
        .pointer_mut("/publicKey/authenticatorSelection")
        .and_then(serde_json::Value::as_object_mut)
    {
        selection.insert("residentKey".into(), "required".into());
        selection.insert("requireResidentKey".into(), true.into());
    }
}

impl Passkeys for WebauthnPasskeys {
    fn start_registration(
        &self,
        handle: uuid::Uuid,
        name: &str,
        display_name: &str,
        exclude: &[PasskeyRecord],
    ) -> Result<(String, String), PasskeyError> {
        let exclude: Vec<CredentialID> = passkeys_of(exclude)?
            .iter()
            .map(|p| p.cred_id().clone())
            .collect();
        let (options, state) = self
            .webauthn
            .start_passkey_registration(handle, name, display_name, Some(exclude))
            .map_err(refused)?;
        let mut options = serde_json::to_value(&options).map_err(failed)?;
        require_resident_key(&mut options);
        Ok((options.to_string(), to_json(&state)?))
    }

    fn finish_registration(&self, response: &str, state: &str) -> Result<NewPasskey, PasskeyError> {
        let response: RegisterPublicKeyCredential =
            serde_json::from_str(response).map_err(refused)?;
        let state: PasskeyRegistration = serde_json::from_str(state).map_err(failed)?;
        let passkey = self
            .webauthn
            .finish_passkey_registration(&response, &state)
            .map_err(refused)?;
        Ok(NewPasskey {
            credential_id: credential_id(passkey.cred_id()),
            record: to_json(&passkey)?,
            // The first assertion's counter is compared with this one.
            counter: 0,
        })
    }

    fn start_authentication(
        &self,
        credentials: &[PasskeyRecord],
    ) -> Result<(String, String), PasskeyError> {
        let (options, state) = self
            .webauthn
            .start_passkey_authentication(&passkeys_of(credentials)?)
            .map_err(refused)?;
        Ok((to_json(&options)?, to_json(&AssertionState::Known(state))?))
    }

    fn start_discoverable(&self) -> Result<(String, String), PasskeyError> {
        let (options, state) = self
            .webauthn
            .start_discoverable_authentication()
            .map_err(refused)?;
        Ok((
            to_json(&options)?,
            to_json(&AssertionState::Discoverable(state))?,
        ))
    }

    fn identify(&self, response: &str) -> Result<Claimed, PasskeyError> {
        let response: PublicKeyCredential = serde_json::from_str(response).map_err(refused)?;
        let (handle, _) = self
            .webauthn
            .identify_discoverable_authentication(&response)
            .map_err(refused)?;
        Ok(Claimed {
            user_handle: handle,
            credential_id: credential_id(&response.raw_id),
        })
    }

    fn finish_authentication(
        &self,
        response: &str,
        state: &str,
        credentials: &[PasskeyRecord],
    ) -> Result<Assertion, PasskeyError> {
        let response: PublicKeyCredential = serde_json::from_str(response).map_err(refused)?;
        let mut passkeys = passkeys_of(credentials)?;
        // A second-factor state names its credentials; a discoverable one
        // is given the account's now.
        let checked = match serde_json::from_str::<AssertionState>(state).map_err(failed)? {
            AssertionState::Known(state) => self
                .webauthn
                .finish_passkey_authentication(&response, &state),
            AssertionState::Discoverable(state) => {
                let passkey = passkeys
                    .iter()
                    .find(|p| *p.cred_id() == response.raw_id)
                    .ok_or_else(|| refused("the credential is not one of the account's"))?;
                self.webauthn
                    .finish_discoverable_authentication_v2(&response, state, passkey)
            }
        };
        let result = match checked {
            Ok(result) => result,
            // webauthn-rs compares the counter with the stored one itself.
            Err(WebauthnError::CredentialPossibleCompromise) => {
                return Err(PasskeyError::CounterRegressed(credential_id(
                    &response.raw_id,
                )));
            }
            Err(e) => return Err(refused(e)),
        };
        let passkey = passkeys
            .iter_mut()
            .find(|p| p.cred_id() == result.cred_id())
            .ok_or_else(|| refused("the credential is not one of the account's"))?;
        passkey.update_credential(&result);
        Ok(Assertion {
            credential_id: credential_id(result.cred_id()),
            counter: result.counter(),
            record: to_json(passkey)?,
            user_verified: result.user_verified(),
            backed_up: result.backup_eligible(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relying_party_is_the_issuers_host_or_a_parent_of_it() {
        assert!(WebauthnPasskeys::new("http://localhost:8080", "P", None, &[]).is_ok());
        assert!(
            WebauthnPasskeys::new("https://id.example.com", "P", Some("example.com"), &[]).is_ok()
        );
        assert!(matches!(
            WebauthnPasskeys::new("https://id.example.com", "P", Some("other.com"), &[]),
            Err(SetupError::NotParent { .. })
        ));
        assert!(matches!(
            WebauthnPasskeys::new("not a url", "P", None, &[]),
            Err(SetupError::NoHost(_))
        ));
        assert!(matches!(
            WebauthnPasskeys::new("http://127.0.0.1:8080", "P", None, &[]),
            Err(SetupError::NoHost(_))
        ));
    }

    #[test]
    fn registration_options_ask_for_a_discoverable_key_with_user_verification() {
        let rp = WebauthnPasskeys::new("http://localhost:8080", "P", None, &[]).unwrap();
        let (options, state) = rp
            .start_registration(uuid::Uuid::new_v4(), "alice", "Alice", &[])
            .unwrap();
        let options: serde_json::Value = serde_json::from_str(&options).unwrap();
        let selection = &options["publicKey"]["authenticatorSelection"];
        assert_eq!(selection["residentKey"], "required");
        assert_eq!(selection["userVerification"], "required");
        assert_eq!(options["publicKey"]["rp"]["id"], "localhost");
        // A forged answer is refused, not a fault.
        assert!(matches!(
            rp.finish_registration("{}", &state),
            Err(PasskeyError::Refused(_))
        ));
    }

    #[test]
    fn a_discoverable_sign_in_names_no_credentials() {
        let rp = WebauthnPasskeys::new("http://localhost:8080", "P", None, &[]).unwrap();
        let (options, _) = rp.start_discoverable().unwrap();
        let options: serde_json::Value = serde_json::from_str(&options).unwrap();
        assert_eq!(options["publicKey"]["userVerification"], "required");
        assert!(
            options["publicKey"]["allowCredentials"]
                .as_array()
                .is_none_or(Vec::is_empty)
        );
        assert!(matches!(
            rp.identify("not json"),
            Err(PasskeyError::Refused(_))
        ));
    }
}
