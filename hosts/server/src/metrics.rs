//! Prometheus metrics, in the OpenMetrics text format of the Prometheus project's own client
//! (`prometheus-client`): one registry per server, so two servers in one process (tests, an
//! embedding) never mix their figures. `/v1/metrics` answers them, behind a bearer token when one
//! is configured. Labels are bounded sets (outcomes, reasons, action classes, status classes),
//! never account or package names.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// A decision: its outcome, reason and the action's class.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    /// `allow`, `challenge`, `deny`.
    pub outcome: String,
    /// SPEC §3 reason.
    pub reason: String,
    /// SPEC §2 action class.
    pub class: String,
}

/// What the store was doing.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OpLabel {
    /// `credential`, `decision-read`, `recovery-codes` or `claim`.
    pub op: String,
}

/// One label naming a result or a class.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    /// The result.
    pub result: String,
}

/// An HTTP answer's status class (`2xx` … `5xx`), or `error` / `timeout` for an upstream call
/// that got none.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    /// The status class.
    pub status: String,
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    decisions: Family<DecisionLabels, Counter>,
    codes: Family<ResultLabel, Counter>,
    upstream: Family<StatusLabel, Histogram>,
    http: Family<StatusLabel, Histogram>,
    reloads: Family<ResultLabel, Counter>,
    store: Family<OpLabel, Histogram>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Latency buckets from 0.5 ms to about 16 s.
fn seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// `2xx` for 204.
pub fn status_class(status: u16) -> String {
    format!("{}xx", status / 100)
}

impl Metrics {
    /// The registry, with `component_failures` (the policy host's own counter) in it.
    pub fn new(component_failures: Counter, component_restarts: Counter) -> Self {
        let mut registry = Registry::with_prefix("stepup");
        let decisions = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "decisions",
            "Decisions the engine made, by outcome, reason and action class",
            decisions.clone(),
        );
        let codes = Family::<ResultLabel, Counter>::default();
        registry.register(
            "code_verifications",
            "Second factors presented (codes, assertions): accepted, or the reason they were not",
            codes.clone(),
        );
        let upstream =
            Family::<StatusLabel, Histogram>::new_with_constructor(seconds as fn() -> Histogram);
        registry.register(
            "upstream_request_duration_seconds",
            "Requests to the registry behind the gateway, by answer status class (error: none; timeout: too late)",
            upstream.clone(),
        );
        let http =
            Family::<StatusLabel, Histogram>::new_with_constructor(seconds as fn() -> Histogram);
        registry.register(
            "http_request_duration_seconds",
            "Requests this server answered, by status class",
            http.clone(),
        );
        let reloads = Family::<ResultLabel, Counter>::default();
        registry.register(
            "policy_reloads",
            "Policy reloads (SIGHUP or the admin API), by result",
            reloads.clone(),
        );
        registry.register(
            "component_failures",
            "Calls the policy component could not answer (a trap after its retry, or a host failure)",
            component_failures,
        );
        registry.register(
            "component_restarts",
            "Policy component instances discarded after a trap and made afresh",
            component_restarts,
        );
        let store =
            Family::<OpLabel, Histogram>::new_with_constructor(seconds as fn() -> Histogram);
        registry.register(
            "store_duration_seconds",
            "Time spent in the store, by what it was doing (credential, decision-read, recovery-codes, claim)",
            store.clone(),
        );
        Metrics {
            registry,
            decisions,
            codes,
            upstream,
            http,
            reloads,
            store,
        }
    }

    /// Times store work: `op` is one of a few fixed names.
    pub fn store(&self, op: &'static str, took: Duration) {
        self.store
            .get_or_create(&OpLabel { op: op.to_owned() })
            .observe(took.as_secs_f64());
    }

    /// Counts a decision; `presented` when it weighed a code or an assertion.
    pub fn decision(&self, outcome: &str, reason: &str, class: &str, presented: bool) {
        self.decisions
            .get_or_create(&DecisionLabels {
                outcome: outcome.to_owned(),
                reason: reason.to_owned(),
                class: class.to_owned(),
            })
            .inc();
        if presented {
            let result = if outcome == "allow" {
                "accepted"
            } else {
                reason
            };
            self.codes
                .get_or_create(&ResultLabel {
                    result: result.to_owned(),
                })
                .inc();
        }
    }

    /// Times an upstream request: its status class, `error` or `timeout`.
    pub fn upstream(&self, status: &str, took: Duration) {
        self.upstream
            .get_or_create(&StatusLabel {
                status: status.to_owned(),
            })
            .observe(took.as_secs_f64());
    }

    /// Times an answered request.
    pub fn http(&self, status: u16, took: Duration) {
        self.http
            .get_or_create(&StatusLabel {
                status: status_class(status),
            })
            .observe(took.as_secs_f64());
    }

    /// Counts a reload.
    pub fn reload(&self, ok: bool) {
        self.reloads
            .get_or_create(&ResultLabel {
                result: if ok { "ok" } else { "refused" }.to_owned(),
            })
            .inc();
    }

    /// The OpenMetrics text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
