//! Emailed login codes leave the server as RFC 5322 messages (built by lettre) in an outbox
//! folder, one file per message, written atomically; the operator's mail transfer agent (or a
//! test) picks them up. The code is in the message body only: never in the file name, the logs
//! or the database.

use std::path::PathBuf;

use lettre::Message;
use lettre::message::Mailbox;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};

use crate::error::ServeError;

/// Whether `addr` can go into a message header as one address: `local@domain`, printable
/// ASCII without spaces, quotes, angle brackets or separators, at most 254 characters.
/// Everything else is refused when it is set, so no stored address can add a header line.
pub fn valid_address(addr: &str) -> bool {
    let ok_char = |c: char| {
        c.is_ascii_graphic()
            && !matches!(
                c,
                '<' | '>' | '"' | ',' | ';' | '(' | ')' | '[' | ']' | '\\'
            )
    };
    match addr.split_once('@') {
        Some((local, domain)) => {
            addr.len() <= 254
                && !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
                && addr.chars().all(ok_char)
        }
        None => false,
    }
}

/// The outbox.
#[derive(Clone, Debug)]
pub struct Outbox {
    dir: PathBuf,
    from: Mailbox,
}

/// `X-Stepup-Account`: which account a message is about, for the operator's mail agent and
/// for tests (the address alone may be shared).
#[derive(Clone, Debug)]
struct StepupAccount(String);

impl Header for StepupAccount {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Stepup-Account")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

impl Outbox {
    /// Creates the folder when missing (mode 0700 on Unix); messages come `from` this address.
    pub fn new(dir: PathBuf, from: &str) -> Result<Outbox, ServeError> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| ServeError::Io(format!("--mail-from {from:?} is not an address: {e}")))?;
        std::fs::create_dir_all(&dir).map_err(|e| {
            ServeError::Io(format!(
                "cannot create the mail outbox {}: {e}",
                dir.display()
            ))
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        }
        Ok(Outbox { dir, from })
    }

    /// Writes the login-code message for `account` to its `email`.
    pub fn send_login_code(
        &self,
        account: &str,
        email: &str,
        code: &str,
        now: i64,
        issuer: &str,
    ) -> Result<PathBuf, ServeError> {
        let who = printable(account);
        let issuer = printable_text(issuer);
        self.send(
            account,
            email,
            now,
            "login-code",
            &format!("{issuer} login code"),
            &format!(
                "Someone (hopefully you) is logging in to {issuer} as {who}.\r\n\r\nYour one-time login code: {code}\r\n\r\nIt expires in 10 minutes. If this was not you, change your password.\r\n"
            ),
        )
    }

    /// Tells `account` it was removed from `org` because the org now requires 2FA, and how to
    /// come back.
    pub fn send_org_removal(
        &self,
        account: &str,
        email: &str,
        org: &str,
        now: i64,
        issuer: &str,
    ) -> Result<PathBuf, ServeError> {
        let who = printable(account);
        let org = printable(org);
        let issuer = printable_text(issuer);
        self.send(
            account,
            email,
            now,
            "org-removal",
            &format!("You were removed from the {org} organization on {issuer}"),
            &format!(
                "The {org} organization on {issuer} now requires two-factor authentication, and the account {who} does not have it turned on, so it was removed from {org}.\r\n\r\nTo come back: turn on two-factor authentication (`npm profile enable-2fa auth-and-writes`), then ask an owner of {org} to add you again (`npm org set {org} {who}`).\r\n"
            ),
        )
    }

    /// Tells `account` that `invitation.by` invited it to `invitation.org`, and how to accept or
    /// decline: nobody is made a member of an org (its audit, its enforcement mail) without
    /// saying so.
    pub fn send_org_invitation(
        &self,
        account: &str,
        email: &str,
        invitation: &Invitation<'_>,
        now: i64,
        issuer: &str,
    ) -> Result<PathBuf, ServeError> {
        let who = printable(account);
        let org = printable(invitation.org);
        let role = printable(invitation.role);
        let by = printable(invitation.by);
        let issuer = printable_text(issuer);
        self.send(
            account,
            email,
            now,
            "org-invitation",
            &format!("{by} invited you to the {org} organization on {issuer}"),
            &format!(
                "{by} invited the account {who} to the {org} organization on {issuer} as {role}. Until you accept, you are not a member and {org} sees nothing about your account but its name.\r\n\r\nTo accept, send `POST /-/stepup/orgs/{org}/invitation` to this registry with your npm token and the body {{\"accept\": true}}; to decline, the body {{\"accept\": false}}. If you do not know {by}, decline or ignore this message.\r\n"
            ),
        )
    }

    /// Builds a message with lettre's builder (`Date`, `From`, `Message-ID`, encoded headers)
    /// and writes it atomically, named so two messages never share a file.
    fn send(
        &self,
        account: &str,
        email: &str,
        now: i64,
        kind: &str,
        subject: &str,
        body: &str,
    ) -> Result<PathBuf, ServeError> {
        // The message goes to the account's address; an account without a usable one gets no
        // mail (a user name is not an address).
        if !valid_address(email) {
            return Err(ServeError::Io(format!(
                "account {account:?} has no valid email address; the {kind} message cannot be sent"
            )));
        }
        let to: Mailbox = email
            .parse()
            .map_err(|e| ServeError::Io(format!("cannot address {email:?}: {e}")))?;
        let at =
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(now).unwrap_or(0));
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .date(at)
            .message_id(None)
            .header(StepupAccount(printable(account)))
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_owned())
            .map_err(|e| ServeError::Io(format!("cannot build the {kind} message: {e}")))?;
        let safe: String = account
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let name = format!("{now}-{safe}-{kind}-{}.eml", std::process::id());
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let path = self.dir.join(name);
        std::fs::write(&tmp, message.formatted())
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| ServeError::Io(format!("cannot write to the mail outbox: {e}")))?;
        Ok(path)
    }
}

/// A name as it may appear in a header or a message: printable ASCII only.
/// An org invitation as its mail names it.
#[derive(Clone, Copy, Debug)]
pub struct Invitation<'a> {
    /// The org.
    pub org: &'a str,
    /// The role offered.
    pub role: &'a str,
    /// Who invited.
    pub by: &'a str,
}

fn printable(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_graphic()).collect()
}

/// Free text without control characters.
fn printable_text(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert!(valid_address("alice@example.test"));
        for bad in [
            "alice",
            "a@b",
            "alice@example.test\r\nBcc: x@y.z",
            "a b@c.d",
            "<a@b.c>",
            "a@b@c.d",
            "a@.b",
            "",
        ] {
            assert!(!valid_address(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_message_has_date_from_message_id_and_its_address() {
        let dir = std::env::temp_dir().join(format!("stepup-mail-{}", std::process::id()));
        let outbox = Outbox::new(dir.clone(), "Registry <noreply@registry.example>").unwrap();
        let path = outbox
            .send_login_code(
                "bob\r\nBcc: x@y.z",
                "bob@example.test",
                "12345678",
                1_795_430_695,
                "Reg\r\nBcc: q@r.s",
            )
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        for line in [
            "To: bob@example.test\r\n",
            "From: Registry <noreply@registry.example>\r\n",
            "Date: ",
            "Message-ID: <",
        ] {
            assert!(text.contains(line), "{line:?} missing in {text}");
        }
        assert!(!text.contains("\nBcc:"), "{text}");
        assert!(text.contains("12345678"));
        assert!(outbox.send_login_code("bob", "", "1", 0, "x").is_err());
        // A second message to the same account in the same second is a file of its own.
        let removal = outbox
            .send_org_removal("bob", "bob@example.test", "acme", 1_795_430_695, "Reg")
            .unwrap();
        assert_ne!(removal, path);
        // The body is quoted-printable: soft line breaks joined again.
        let text = std::fs::read_to_string(&removal)
            .unwrap()
            .replace("=\r\n", "");
        assert!(text.contains("npm org set acme bob"), "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
