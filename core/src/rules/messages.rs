//! Human messages and the npm `error` strings, per reason (SPEC §3, §8.7).
//!
//! Where npm's public registry has a known string (the wire-protocol reference), it is used
//! verbatim so users see what they already know. Every challenge text contains "one-time
//! pass", which the npm CLI also uses to recognise an OTP challenge.

use std::borrow::Cow;

use crate::contract::decision::{NpmAnswer, Reason};

/// The `message` of a decision with this reason (static reasons only).
pub const fn message(r: Reason) -> &'static str {
    use Reason::*;
    match r {
        Allowed => "No additional verification is needed.",
        AllowedWithProof => "Allowed: a recent second factor was verified.",
        AllowedBypassToken => {
            "Allowed: this granular access token bypasses two-factor authentication for this action."
        }
        AllowedTrustedPublisher => "Allowed: trusted publishing credential for this package.",
        OtpRequired => "This operation requires a one-time password from your authenticator.",
        LoginVerificationRequired => {
            "We emailed you a one-time login code; enter it to finish signing in."
        }
        OtpInvalid => "The one-time password you provided is not valid. Please try again.",
        OtpMalformed => "The one-time password you provided is not in the expected format.",
        OtpReplayed => {
            "That one-time password has already been used. Wait for your authenticator to show a new code."
        }
        OtpClockDrift => {
            "The one-time password matches a different time: your device clock is off."
        }
        TokenExpired => "This access token has expired. Create a new token.",
        IpNotAllowed => "This access token may not be used from your IP address.",
        TokenReadOnly => "This access token is read-only and cannot perform this action.",
        TokenScope => "This access token does not cover this package or organization.",
        OidcScope => "OIDC permission denied for this action",
        BypassTokenForbidden => {
            "Granular access tokens that bypass two-factor authentication may not perform this action."
        }
        TokensDisallowed => {
            "This package requires two-factor authentication and disallows tokens: publish interactively with a one-time password."
        }
        PackageRequiresTfa => {
            "This package requires that publishers enable TFA and provide an OTP to publish. For more info, visit: https://go.npm.me/2fa-guide"
        }
        TfaRequiredToPublish => {
            "Two-factor authentication or granular access token with bypass 2fa enabled is required to publish packages."
        }
        TfaEnforced => {
            "Two-factor authentication is required for this account: enable 2FA before performing this action."
        }
        SafeguardReadOnly => {
            "This account is temporarily read-only after a security-sensitive change. Reading and installing still work."
        }
        Throttled => "Too many failed one-time passwords. Try again later.",
    }
}

/// The `error` string the npm CLI prints for a challenge with this reason.
const fn challenge_error(r: Reason) -> &'static str {
    use Reason::*;
    match r {
        LoginVerificationRequired => {
            "You must provide a one-time pass. Check your email for the login verification code."
        }
        OtpInvalid => {
            "The one-time pass you provided is not valid. You must provide a one-time pass."
        }
        OtpMalformed => {
            "The one-time pass you provided is malformed. You must provide a one-time pass."
        }
        OtpReplayed => {
            "The one-time pass you provided was already used. You must provide a one-time pass."
        }
        OtpClockDrift => {
            "The one-time pass you provided is for a different time: check your device clock. You must provide a one-time pass."
        }
        _ => {
            "You must provide a one-time pass. Upgrade your client to npm@latest in order to use 2FA."
        }
    }
}

/// The npm answer for a reason (SPEC §8.7): allow 200; challenge 401 + OTP; `ip-not-allowed`
/// 401 + ipaddress; `token-expired` 401; `throttled` 429; other denials 403.
pub fn npm_answer(r: Reason, message: Cow<'static, str>) -> NpmAnswer {
    use Reason::*;
    let (status, header) = match r.outcome() {
        crate::contract::decision::Outcome::Allow => {
            return NpmAnswer {
                status: 200,
                www_authenticate: None,
                error: None,
            };
        }
        crate::contract::decision::Outcome::Challenge => {
            return NpmAnswer {
                status: 401,
                www_authenticate: Some(Cow::Borrowed("OTP")),
                error: Some(Cow::Borrowed(challenge_error(r))),
            };
        }
        crate::contract::decision::Outcome::Deny => match r {
            IpNotAllowed => (401, Some(Cow::Borrowed("ipaddress"))),
            TokenExpired => (401, None),
            Throttled => (429, None),
            _ => (403, None),
        },
    };
    NpmAnswer {
        status,
        www_authenticate: header,
        error: Some(message.clone()),
    }
}
