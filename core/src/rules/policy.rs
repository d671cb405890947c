//! The resident policy: a validated configuration kept in memory so each call pays only for
//! its request (Cedar's lesson: never re-parse the rules per decision).

use crate::config::Config;
use crate::contract::decision::{Decision, Reason, error_json};
use crate::contract::error::InputError;
use crate::contract::request::Request;
use crate::rules::authorize::{self, AuthorizeInput, Presented, Secrets};
use crate::rules::precedence::{
    Verdict, decide, finish_allow, has_fresh_proof, throttled, verdict,
};

/// A policy built once from a configuration and reused for every decision.
#[derive(Clone, Debug)]
pub struct Policy {
    config: Config,
    cohort_rules: Vec<String>,
}

impl Policy {
    /// Wraps a validated configuration.
    pub fn new(config: Config) -> Policy {
        let cohort_rules = config
            .cohorts
            .iter()
            .map(|c| format!("mandatory-2fa.cohort.{}", c.name))
            .collect();
        Policy {
            config,
            cohort_rules,
        }
    }

    /// Parses and validates a configuration document; a bad field is named by its path.
    ///
    /// ```
    /// use stepup_core::Policy;
    /// let policy = Policy::from_json(r#"{"preset":"npmjs-2022","totp":{"digits":7}}"#).unwrap();
    /// assert_eq!(policy.config().totp.digits, 7);
    /// let refused = Policy::from_json(r#"{"totp":{"digits":3}}"#).unwrap_err();
    /// assert_eq!(refused.path, "totp.digits");
    /// ```
    pub fn from_json(text: &str) -> Result<Policy, InputError> {
        Config::parse(text).map(Policy::new)
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Decides a request without a presented code (SPEC §4).
    pub fn evaluate(&self, req: &Request) -> Decision {
        let cfg = &self.config;
        let mut d = match verdict(cfg, &self.cohort_rules, req) {
            Verdict::Final(d) => d,
            Verdict::Free => decide(Reason::Allowed, "default"),
            Verdict::Need(need) => {
                if has_fresh_proof(cfg, req, &need) {
                    decide(Reason::AllowedWithProof, need.rule)
                } else if let Some(t) = throttled(cfg, req) {
                    t
                } else {
                    need.challenge()
                }
            }
        };
        finish_allow(cfg, req, &mut d);
        d
    }

    /// Verifies a presented code (if the decision needs one) and decides (SPEC §8.13). The
    /// decision's effects say what to store: here, the TOTP step the code used, so the same
    /// code is refused as a replay next time.
    ///
    /// ```
    /// use stepup_core::{AuthorizeInput, Effect, Policy};
    /// let policy = Policy::default();
    /// let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    /// let now = 1_767_225_600;
    /// let code = stepup_core::codes::totp::generate(
    ///     &policy.config().totp,
    ///     &stepup_core::wire::encoding::base32_decode(secret).unwrap(),
    ///     now,
    /// );
    /// let input = AuthorizeInput::parse(&format!(
    ///     r#"{{"request":{{"now":{now},"action":{{"kind":"package.publish","package":"left-pad"}},
    ///        "account":{{"id":"alice","tfa":{{"mode":"auth-and-writes","factors":["totp"]}}}},
    ///        "credential":{{"kind":"session"}}}},
    ///       "secrets":{{"totp_secret":"{secret}"}},"present":{{"code":"{code}"}}}}"#
    /// ))
    /// .unwrap();
    /// let d = policy.authorize(&input.request, &input.secrets, input.present.as_ref()).unwrap();
    /// assert_eq!(d.reason.as_str(), "allowed-with-proof");
    /// assert!(matches!(d.effects[0], Effect::ConsumeTotpStep { .. }));
    /// ```
    pub fn authorize(
        &self,
        req: &Request,
        secrets: &Secrets,
        present: Option<&Presented>,
    ) -> Result<Decision, InputError> {
        authorize::authorize(&self.config, &self.cohort_rules, req, secrets, present)
    }

    /// JSON in, decision (or error document) JSON out.
    pub fn evaluate_json(&self, request: &str) -> String {
        match Request::parse(request) {
            Ok(r) => self.evaluate(&r).to_json(),
            Err(e) => error_json(&e),
        }
    }

    /// JSON `{request, secrets, present}` in, decision (or error document) JSON out.
    pub fn authorize_json(&self, input: &str) -> String {
        match AuthorizeInput::parse(input)
            .and_then(|i| self.authorize(&i.request, &i.secrets, i.present.as_ref()))
        {
            Ok(d) => d.to_json(),
            Err(e) => error_json(&e),
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy::new(Config::preset(crate::config::Preset::default()))
    }
}
