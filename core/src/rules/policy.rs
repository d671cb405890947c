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

    /// Parses and validates a configuration document.
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

    /// Verifies a presented code (if the decision needs one) and decides (SPEC §8.13).
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
