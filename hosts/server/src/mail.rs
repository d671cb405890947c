//! Emailed login codes leave the server as RFC 5322 messages in an outbox folder, one file per
//! message, written atomically; the operator's mail transfer agent (or a test) picks them up.
//! The code is in the message body only: never in the file name, the logs or the database.

use std::path::PathBuf;

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
}

impl Outbox {
    /// Creates the folder when missing (mode 0700 on Unix).
    pub fn new(dir: PathBuf) -> Result<Outbox, ServeError> {
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
        Ok(Outbox { dir })
    }

    /// Writes the login-code message for `account` (to `email` when the profile has one).
    pub fn send_login_code(
        &self,
        account: &str,
        email: &str,
        code: &str,
        now: i64,
        issuer: &str,
    ) -> Result<PathBuf, ServeError> {
        // The message goes to the account's address; an account without a usable one gets no
        // mail (a user name is not an address), and nothing from the account reaches a header
        // unchecked.
        if !valid_address(email) {
            return Err(ServeError::Io(format!(
                "account {account:?} has no valid email address; the login code cannot be sent"
            )));
        }
        let to = email;
        let account: String = account.chars().filter(|c| c.is_ascii_graphic()).collect();
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
        let message = format!(
            "To: {to}\r\nSubject: {issuer} login code\r\nX-Stepup-Account: {account}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSomeone (hopefully you) is logging in to {issuer} as {account}.\r\n\r\nYour one-time login code: {code}\r\n\r\nIt expires in 10 minutes. If this was not you, change your password.\r\n"
        );
        let name = format!("{now}-{safe}-{}.eml", std::process::id());
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let path = self.dir.join(name);
        std::fs::write(&tmp, message)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| ServeError::Io(format!("cannot write to the mail outbox: {e}")))?;
        Ok(path)
    }
}
