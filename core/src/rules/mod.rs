//! The rules: what a request needs (SPEC §4, in precedence order), the resident policy that
//! applies them, verifying a presented factor and deciding in one call (`authorize`), and the
//! rules' neighbours — throttling, the login-verification rollout, org enforcement, the token
//! form, and the messages decisions carry.

pub mod authorize;
pub(crate) mod messages;
pub mod org;
pub mod policy;
pub(crate) mod precedence;
pub(crate) mod rollout;
pub(crate) mod throttle;
pub mod token_form;
