//! Letters from templates: `{kind}.txt` (its first line is the subject)
//! and `{kind}.html`, inside `layout.html`, with the deployer's name.
use auth_core::types::{FactorChange, Letter, Message};
use tera::{Context, Tera};

/// Every template, compiled into the binary.
const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("../templates/layout.html")),
    (
        "factor-notice.txt",
        include_str!("../templates/factor-notice.txt"),
    ),
    (
        "factor-notice.html",
        include_str!("../templates/factor-notice.html"),
    ),
    (
        "verify-address.txt",
        include_str!("../templates/verify-address.txt"),
    ),
    (
        "verify-address.html",
        include_str!("../templates/verify-address.html"),
    ),
    (
        "change-address.txt",
        include_str!("../templates/change-address.txt"),
    ),
    (
        "change-address.html",
        include_str!("../templates/change-address.html"),
    ),
    (
        "address-changing.txt",
        include_str!("../templates/address-changing.txt"),
    ),
    (
        "address-changing.html",
        include_str!("../templates/address-changing.html"),
    ),
    (
        "reset-password.txt",
        include_str!("../templates/reset-password.txt"),
    ),
    (
        "reset-password.html",
        include_str!("../templates/reset-password.html"),
    ),
    (
        "invitation.txt",
        include_str!("../templates/invitation.txt"),
    ),
    (
        "invitation.html",
        include_str!("../templates/invitation.html"),
    ),
    (
        "password-changed.txt",
        include_str!("../templates/password-changed.txt"),
    ),
    (
        "password-changed.html",
        include_str!("../templates/password-changed.html"),
    ),
    (
        "registration-attempt.txt",
        include_str!("../templates/registration-attempt.txt"),
    ),
    (
        "registration-attempt.html",
        include_str!("../templates/registration-attempt.html"),
    ),
    ("test.txt", include_str!("../templates/test.txt")),
    ("test.html", include_str!("../templates/test.html")),
];

/// A letter in words.
#[derive(Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The subject line.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

impl std::fmt::Debug for Rendered {
    // Its parts may hold a link, which is a credential.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rendered")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// The templates, compiled once.
#[derive(Clone)]
pub struct Letters {
    tera: Tera,
    /// The name letters are signed with (the deployer's, or "Portcullis").
    site_name: String,
    /// The issuer, where the person can find the account page.
    issuer: String,
}

impl Letters {
    /// Compiles the templates. Fails only if a template shipped broken.
    pub fn new(site_name: &str, issuer: &str) -> Result<Self, tera::Error> {
        let mut tera = Tera::default();
        tera.add_raw_templates(TEMPLATES.iter().copied())?;
        // HTML parts escape what they are filled with; text parts must not.
        tera.autoescape_on(vec![".html"]);
        Ok(Self {
            tera,
            site_name: site_name.to_owned(),
            issuer: issuer.trim_end_matches('/').to_owned(),
        })
    }

    /// The letter in words.
    pub fn render(&self, letter: &Letter) -> Result<Rendered, tera::Error> {
        let mut context = Context::new();
        context.insert("site_name", &self.site_name);
        context.insert("issuer", &self.issuer);
        context.insert("username", &letter.username);
        context.insert("address", &letter.to);
        match &letter.message {
            Message::VerifyAddress { link } | Message::ChangeAddress { link } => {
                context.insert("link", link);
            }
            Message::AddressChanging { new_address } => {
                context.insert("new_address", new_address);
            }
            Message::ResetPassword { link, minutes } => {
                context.insert("link", link);
                context.insert("minutes", minutes);
            }
            Message::Invitation { link, days } => {
                context.insert("link", link);
                context.insert("days", days);
            }
            Message::FactorNotice { change } => {
                let (what, label, left) = match change {
                    FactorChange::Added { label } => ("added", Some(label), None),
                    FactorChange::Removed { label } => ("removed", Some(label), None),
                    FactorChange::RecoveryCodeUsed { left } => ("recovery", None, Some(left)),
                    FactorChange::Reset => ("reset", None, None),
                };
                context.insert("change", what);
                context.insert("label", &label);
                context.insert("left", &left);
            }
            Message::PasswordChanged | Message::RegistrationAttempt | Message::Test => {}
        }
        let kind = letter.message.kind();
        let text = self.tera.render(&format!("{kind}.txt"), &context)?;
        let html = self.tera.render(&format!("{kind}.html"), &context)?;
        let (subject, body) = text.split_once('\n').unwrap_or((text.as_str(), ""));
        let subject = subject
            .strip_prefix("Subject:")
            .unwrap_or(subject)
            .trim()
            .to_owned();
        Ok(Rendered {
            subject,
            text: body.trim_start_matches('\n').to_owned(),
            html,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(message: Message) -> Letter {
        Letter {
            to: "carol@example.com".into(),
            username: "carol<b>".into(),
            message,
        }
    }

    #[test]
    fn every_kind_renders_with_a_subject_and_both_parts() {
        let letters = Letters::new("Example & Co", "https://id.example.com/").unwrap();
        let link = "https://id.example.com/email/verify?token=abc".to_owned();
        for message in [
            Message::VerifyAddress { link: link.clone() },
            Message::ChangeAddress { link: link.clone() },
            Message::AddressChanging {
                new_address: "new@example.com".into(),
            },
            Message::ResetPassword {
                link: link.clone(),
                minutes: 30,
            },
            Message::Invitation {
                link: link.clone(),
                days: 7,
            },
            Message::PasswordChanged,
            Message::RegistrationAttempt,
            Message::Test,
            Message::FactorNotice {
                change: FactorChange::Added {
                    label: "Phone".into(),
                },
            },
            Message::FactorNotice {
                change: FactorChange::Removed {
                    label: "Key".into(),
                },
            },
            Message::FactorNotice {
                change: FactorChange::RecoveryCodeUsed { left: 9 },
            },
            Message::FactorNotice {
                change: FactorChange::Reset,
            },
        ] {
            let kind = message.kind();
            let has_link = matches!(
                message,
                Message::VerifyAddress { .. }
                    | Message::ChangeAddress { .. }
                    | Message::ResetPassword { .. }
                    | Message::Invitation { .. }
            );
            let r = letters.render(&letter(message)).unwrap();
            assert!(!r.subject.is_empty() && !r.subject.contains('\n'), "{kind}");
            assert!(!r.text.starts_with("Subject"), "{kind}");
            assert_eq!(r.text.contains(&link), has_link, "{kind}");
            assert_eq!(
                r.html.contains(&tera::escape_html(&link)),
                has_link,
                "{kind}"
            );
            // The HTML part escapes what it is filled with; the text part
            // carries it as it is.
            assert!(r.html.contains("Example &amp; Co"), "{kind}");
            assert!(!r.html.contains("carol<b>"), "{kind}");
            assert!(r.text.contains("Example & Co"), "{kind}");
        }
    }
}
