//! stepup next to a peer and next to the floor.
//!
//! The peer is Cedar: the npm rules of SPEC §4 that Cedar can express are written as Cedar
//! policies (`npm.cedar`) and decided by the `cedar-policy` crate over the same requests stepup
//! decides (`requests.json`). The agreement test holds both to the same allow/deny on every
//! request, so the benchmark compares two engines answering the same question. The floor is what
//! a TOTP check cannot avoid: HMAC-SHA1 over the 8-byte step counter, three times for ±1 step.

pub mod cedar;
pub mod floor;

use stepup_core::Request;

/// The shared requests, named (stepup's JSON; Cedar's form is derived from each).
pub const REQUESTS: &str = include_str!("../requests.json");

/// One shared request: its name and stepup's parsed form.
pub struct Shared {
    /// A short name for reports.
    pub name: String,
    /// The request as stepup receives it.
    pub request: Request,
}

/// Parses the shared request set; an error names the request that failed.
pub fn shared_requests() -> Result<Vec<Shared>, String> {
    let list: Vec<serde_json::Value> =
        serde_json::from_str(REQUESTS).map_err(|e| format!("requests.json: {e}"))?;
    list.into_iter()
        .map(|entry| {
            let name = entry
                .get("name")
                .and_then(serde_json::Value::as_str)
                .ok_or("requests.json: an entry without a name")?
                .to_owned();
            let body = entry
                .get("request")
                .map(serde_json::Value::to_string)
                .ok_or_else(|| format!("{name}: no request"))?;
            let request = Request::parse(&body).map_err(|e| format!("{name}: {e}"))?;
            Ok(Shared { name, request })
        })
        .collect()
}
