//! `stepup totp enroll` and `stepup totp code`.

use stepup_core::codes::{qr, single_use, totp};
use stepup_core::wire::ffi;

use crate::{Failure, files};

fn entropy() -> Result<[u8; 64], Failure> {
    let mut e = [0u8; 64];
    getrandom::fill(&mut e).map_err(|err| Failure::Io(format!("no OS entropy: {err}")))?;
    Ok(e)
}

/// Groups a recovery code in fives, as the npm prompt accepts it.
fn grouped(code: &str) -> String {
    code.as_bytes()
        .chunks(5)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Prints a new enrolment: URI, QR code, secret and recovery codes.
pub fn enroll(
    config: Option<&str>,
    issuer: &str,
    account: &str,
    json: bool,
) -> Result<(), Failure> {
    let policy = files::load_policy(config)?;
    let cfg = policy.config();
    let e = entropy()?;
    let (t_entropy, r_entropy) = e.split_at(32);
    let enrolment = totp::enroll(&cfg.totp, issuer, account, t_entropy)
        .map_err(|err| Failure::Input(err.to_string()))?;
    let recovery = single_use::issue_recovery_codes(cfg.recovery_codes.count, r_entropy)
        .map_err(|err| Failure::Input(err.to_string()))?;
    if json {
        return files::print_json(&serde_json::json!({
            "secret": enrolment.secret,
            "otpauth_uri": enrolment.otpauth_uri,
            "qr_svg": enrolment.qr_svg,
            "recovery_codes": recovery.codes,
            "recovery_records": recovery.records,
        }));
    }
    let drawing =
        qr::terminal(&enrolment.otpauth_uri).map_err(|err| Failure::Input(err.to_string()))?;
    println!("Scan this with your authenticator app:\n\n{drawing}");
    println!("Or enter the secret: {}\n", enrolment.secret);
    println!("otpauth URI: {}\n", enrolment.otpauth_uri);
    println!("Recovery codes (each works once; store them apart from your authenticator):");
    for c in &recovery.codes {
        println!("\t{}", grouped(c));
    }
    Ok(())
}

/// Prints the current (or given-time) code for a secret.
pub fn code(config: Option<&str>, secret: &str, at: Option<u64>) -> Result<(), Failure> {
    let policy = files::load_policy(config)?;
    let now = match at {
        Some(t) => t,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| Failure::Io(e.to_string()))?
            .as_secs(),
    };
    let input = serde_json::json!({ "secret": secret, "now": now }).to_string();
    let code = ffi::totp_code_json(&policy, &input).map_err(|e| Failure::Input(e.to_string()))?;
    println!("{}", code.trim_matches('"'));
    Ok(())
}
