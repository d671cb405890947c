//! Issuing recovery codes: the engine makes them from fresh entropy, the server stores their
//! hashes sealed for the account and shows the codes once (on enabling 2FA from the profile or
//! with a first security key).

use crate::App;
use crate::error::ServeError;

/// Fresh recovery codes: the codes to show once, and their `(salt, hash)` records to store.
pub(crate) struct IssuedCodes(pub Vec<String>, pub Vec<(String, String)>);

/// Fresh recovery codes from the engine; their hashes are stored sealed for `account`.
pub(crate) fn recovery_codes(app: &App, account: &str) -> Result<IssuedCodes, ServeError> {
    let entropy = super::entropy()?;
    let issued = app
        .policy
        .with(|p| p.issue_recovery_codes(&entropy))
        .map_err(|e| ServeError::Policy(e.to_string()))?;
    let records = issued
        .records
        .iter()
        .filter_map(|r| {
            let v = serde_json::to_value(r).ok()?;
            Some((
                v.get("salt")?.as_str()?.to_owned(),
                v.get("hash")?.as_str()?.to_owned(),
            ))
        })
        .map(|(salt, hash)| {
            app.sealer
                .seal_text(&format!("recovery:{account}"), &hash)
                .map(|h| (salt, h))
        })
        .collect::<Result<_, _>>()?;
    Ok(IssuedCodes(issued.codes, records))
}
