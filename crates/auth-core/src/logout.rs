//! OpenID Connect RP-Initiated Logout 1.0: who asks to end the session,
//! where the browser may go afterwards, and whether the user must confirm.
use crate::authorize::{Refusal, SignedIn};
use crate::error::FlowError;
use crate::service::BrowserSignIn;
use crate::types::{ClientId, RedirectUri};

/// The raw parameters of a logout request (section 2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogoutRequest {
    /// An ID token this server issued, naming who is logging out.
    pub id_token_hint: Option<String>,
    /// The client asking, when no hint names it.
    pub client_id: Option<String>,
    /// Where to send the browser afterwards; must be registered exactly.
    pub post_logout_redirect_uri: Option<String>,
    /// Handed back on that redirect.
    pub state: Option<String>,
}

/// What a valid logout request leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutPlan {
    /// A registered post-logout redirect URI of the client, and the state
    /// to give it back.
    pub redirect: Option<(RedirectUri, Option<String>)>,
    /// The user must confirm first: the request cannot be tied to the
    /// browser's session (no hint, or a hint for someone else), so another
    /// site could have sent it (section 2: "SHOULD ask the End-User").
    pub confirm: bool,
    /// The client's name, for the confirmation page.
    pub client_name: Option<String>,
}

impl BrowserSignIn {
    /// Checks a logout request against the browser's `session`. Every
    /// refusal is for an error page: nothing may be redirected to a URI
    /// that was not verified.
    pub async fn plan_logout(
        &self,
        request: &LogoutRequest,
        session: Option<SignedIn>,
    ) -> Result<LogoutPlan, Refusal> {
        let untrusted = |m: &str| Refusal::Untrusted(m.to_owned());
        let hint = match request.id_token_hint.as_deref().filter(|h| !h.is_empty()) {
            Some(token) => {
                let hint = self.ports.id_tokens.read_hint(token).map_err(|_| {
                    untrusted("The id_token_hint is not an ID token issued by this server.")
                })?;
                if hint.issuer.trim_end_matches('/') != self.issuer().trim_end_matches('/') {
                    return Err(untrusted("The id_token_hint was issued by another server."));
                }
                Some(hint)
            }
            None => None,
        };
        let client_id = match (request.client_id.as_deref(), &hint) {
            (Some(id), Some(hint)) if id != hint.audience => {
                return Err(untrusted(
                    "The client_id is not the client the id_token_hint was issued to.",
                ));
            }
            (Some(id), _) => Some(id.to_owned()),
            (None, Some(hint)) => Some(hint.audience.clone()),
            (None, None) => None,
        };
        let client = match client_id {
            Some(id) => {
                let id =
                    ClientId::parse(&id).map_err(|_| untrusted("The client_id is not valid."))?;
                Some(
                    self.ports
                        .clients
                        .find(&id)
                        .await
                        .map_err(FlowError::from)?
                        .ok_or_else(|| untrusted("The client is not registered here."))?,
                )
            }
            None => None,
        };
        let redirect = match request.post_logout_redirect_uri.as_deref() {
            None | Some("") => None,
            Some(uri) => {
                let client = client.as_ref().ok_or_else(|| {
                    untrusted(
                        "A post_logout_redirect_uri needs the client: send client_id or id_token_hint.",
                    )
                })?;
                let registered = client
                    .post_logout_redirect_uris
                    .iter()
                    .find(|r| r.as_str() == uri)
                    .ok_or_else(|| {
                        untrusted("The post_logout_redirect_uri is not registered for this client.")
                    })?;
                Some((registered.clone(), request.state.clone()))
            }
        };
        let tied_to_session = match (&session, &hint) {
            (Some(who), Some(hint)) => hint.subject == who.user,
            _ => false,
        };
        Ok(LogoutPlan {
            redirect,
            confirm: session.is_some() && !tied_to_session,
            client_name: client.map(|c| c.name),
        })
    }
}
