//! A real SMTP server for the tests: aiosmtpd (Python), started per test
//! like chromedriver, writing every message it takes to a Maildir that the
//! test reads.
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// One delivered message, parsed.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub to: String,
    pub subject: String,
    pub message_id: String,
    pub date: String,
    pub text: String,
    pub html: String,
}

impl Delivered {
    /// The first link in the text part that starts with `prefix`.
    pub fn link(&self, prefix: &str) -> Option<String> {
        self.text
            .split_whitespace()
            .find(|w| w.starts_with(prefix))
            .map(str::to_owned)
    }

    /// The path and query of the first link under `issuer`, for a request
    /// to the test server.
    pub fn path_of_link(&self, issuer: &str) -> String {
        let link = self
            .link(issuer)
            .unwrap_or_else(|| panic!("no link to {issuer} in {:?}", self.text));
        link[issuer.trim_end_matches('/').len()..].to_owned()
    }
}

/// An aiosmtpd server on a port of its own.
pub struct Mailbox {
    child: Option<Child>,
    dir: tempfile::TempDir,
    pub port: u16,
}

impl Mailbox {
    /// Starts a server on a free port and waits until it listens.
    pub async fn start() -> Self {
        let port = crate::unclaimed_port();
        Self::start_on(port).await
    }

    /// Starts a server on `port` (a restart after [`Self::stop`]).
    pub async fn start_on(port: u16) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut mailbox = Self {
            child: None,
            dir,
            port,
        };
        mailbox.run().await;
        mailbox
    }

    async fn run(&mut self) {
        let child = Command::new("python3")
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{}", self.port),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(self.maildir())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd starts (pip install aiosmtpd)");
        self.child = Some(child);
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("aiosmtpd did not listen on {}", self.port);
    }

    fn maildir(&self) -> PathBuf {
        self.dir.path().join("Maildir")
    }

    /// The `[smtp]` URL of this server (plain text: it is on loopback).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.port)
    }

    /// The `[smtp]` settings that send here.
    pub fn settings(&self) -> portcullis::settings::SmtpFile {
        portcullis::settings::SmtpFile {
            url: Some(self.url()),
            from: Some("Portcullis <id@issuer.test>".into()),
            timeout_secs: Some(5),
            ..Default::default()
        }
    }

    /// Stops the server (the port refuses connections until a restart).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and Maildir.
    pub async fn restart(&mut self) {
        self.stop();
        self.run().await;
    }

    /// Every message delivered so far, oldest first.
    pub fn all(&self) -> Vec<Delivered> {
        let new = self.maildir().join("new");
        let Ok(entries) = std::fs::read_dir(&new) else {
            return Vec::new();
        };
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
            .filter_map(Result::ok)
            .map(|e| {
                let modified = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                (modified, e.path())
            })
            .collect();
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, path)| std::fs::read(path).ok())
            .map(|raw| parse(&raw))
            .collect()
    }

    /// The messages delivered to `to`.
    pub fn to(&self, to: &str) -> Vec<Delivered> {
        self.all()
            .into_iter()
            .filter(|m| m.to.contains(to))
            .collect()
    }

    /// Waits (up to 15 s) until `count` messages have reached `to`, and
    /// returns them.
    pub async fn wait_for(&self, to: &str, count: usize) -> Vec<Delivered> {
        for _ in 0..300 {
            let found = self.to(to);
            if found.len() >= count {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "{count} messages to {to} did not arrive; {} did: {:?}",
            self.to(to).len(),
            self.all()
        );
    }
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A message as the Maildir holds it.
fn parse(raw: &[u8]) -> Delivered {
    use mailparse::MailHeaderMap;
    let mail = mailparse::parse_mail(raw).expect("a MIME message");
    let header = |name: &str| mail.headers.get_first_value(name).unwrap_or_default();
    let mut text = String::new();
    let mut html = String::new();
    for part in mail.parts() {
        match part.ctype.mimetype.as_str() {
            "text/plain" => text = part.get_body().unwrap_or_default(),
            "text/html" => html = part.get_body().unwrap_or_default(),
            _ => {}
        }
    }
    Delivered {
        to: header("To"),
        subject: header("Subject"),
        message_id: header("Message-ID"),
        date: header("Date"),
        text,
        html,
    }
}
