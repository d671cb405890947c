//! The policy, run by the wasmtime host: a few warm component instances (one per worker, so
//! concurrent requests never wait on each other), swapped as a whole on reload. A reload that
//! fails to compile the component or to parse the configuration leaves the running policy in
//! place and says why.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use sha2::{Digest, Sha256};
use stepup_wasmtime::{ComponentPolicy, HostError, Limits, Runtime};

use crate::error::ServeError;

/// Where the component and the configuration come from; read again on every reload.
#[derive(Clone, Debug, Default)]
pub struct PolicySource {
    /// A component file; `None` = the component built into this binary.
    pub component: Option<PathBuf>,
    /// A configuration file (JSON, or TOML by extension); `None` = the default preset.
    pub config: Option<PathBuf>,
    /// Where compiled components are cached.
    pub cache_dir: Option<PathBuf>,
}

/// What is loaded, for health and logs.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Loaded {
    /// SHA-256 of the component bytes (hex, first 16 digits).
    pub component: String,
    /// SHA-256 of the resolved configuration (hex, first 16 digits).
    pub config: String,
    /// The configuration's preset.
    pub preset: String,
    /// How many reloads have succeeded since start.
    pub generation: u64,
    /// `trusted_publishing.audience` when the configuration sets one.
    pub audience: Option<String>,
}

struct Generation {
    slots: Vec<Mutex<ComponentPolicy>>,
    next: AtomicUsize,
    loaded: Loaded,
}

/// The resident policy.
pub struct PolicyHost {
    source: PolicySource,
    current: RwLock<Arc<Generation>>,
    slots: usize,
    last_reload: Mutex<Option<ReloadOutcome>>,
    /// Calls the component could not answer (the `/v1/metrics` counter shares it).
    pub failures: prometheus_client::metrics::counter::Counter,
    /// Instances discarded after a trap and made afresh (the `/v1/metrics` counter shares it).
    pub restarts: prometheus_client::metrics::counter::Counter,
}

/// How the last reload went (readiness shows it: a refused reload is more than a log line).
#[derive(Clone, Debug, serde::Serialize)]
pub struct ReloadOutcome {
    /// Unix seconds.
    pub at: i64,
    /// Whether the new policy is the one running.
    pub ok: bool,
    /// Why it was refused (the running policy stayed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl std::fmt::Debug for PolicyHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyHost")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// A configuration file as JSON text: TOML (by extension) is converted, JSON passed through.
pub fn config_text(path: &std::path::Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if path.extension().is_none_or(|e| e != "toml") {
        return Ok(text);
    }
    let value: serde_json::Value =
        toml::from_str(&text).map_err(|e| format!("{}: not TOML: {e}", path.display()))?;
    Ok(value.to_string())
}

fn short_hash(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    stepup_core::wire::encoding::hex_encode(d.get(..8).unwrap_or_default())
}

impl PolicyHost {
    /// Loads the component and configuration, with `slots` warm instances.
    pub fn load(source: PolicySource, slots: usize) -> Result<PolicyHost, ServeError> {
        let slots = slots.max(1);
        let generation = Self::build(&source, slots, 0)?;
        Ok(PolicyHost {
            source,
            current: RwLock::new(Arc::new(generation)),
            slots,
            last_reload: Mutex::new(None),
            failures: prometheus_client::metrics::counter::Counter::default(),
            restarts: prometheus_client::metrics::counter::Counter::default(),
        })
    }

    fn build(
        source: &PolicySource,
        slots: usize,
        generation: u64,
    ) -> Result<Generation, ServeError> {
        let bytes: std::borrow::Cow<'_, [u8]> = match &source.component {
            Some(p) => std::fs::read(p)
                .map_err(|e| {
                    ServeError::Policy(format!("cannot read component {}: {e}", p.display()))
                })?
                .into(),
            None => stepup_wasmtime::COMPONENT.into(),
        };
        let config = match &source.config {
            Some(p) => config_text(p).map_err(ServeError::Policy)?,
            None => "{}".to_owned(),
        };
        let runtime = Runtime::with(&bytes, source.cache_dir.as_deref(), Limits::default())
            .map_err(|e| ServeError::Policy(e.to_string()))?;
        let mut first = runtime
            .policy(&config)
            .map_err(|e| ServeError::Policy(format!("configuration refused: {e}")))?;
        let resolved = first
            .config_json()
            .map_err(|e| ServeError::Policy(e.to_string()))?;
        let doc = serde_json::from_str::<serde_json::Value>(&resolved).unwrap_or_default();
        let preset = doc
            .get("preset")
            .and_then(|p| p.as_str())
            .map(str::to_owned)
            .unwrap_or_default();
        let audience = doc
            .pointer("/trusted_publishing/audience")
            .and_then(|a| a.as_str())
            .map(str::to_owned);
        let mut list = vec![Mutex::new(first)];
        for _ in 1..slots {
            list.push(Mutex::new(
                runtime
                    .policy(&config)
                    .map_err(|e| ServeError::Policy(e.to_string()))?,
            ));
        }
        Ok(Generation {
            slots: list,
            next: AtomicUsize::new(0),
            loaded: Loaded {
                component: short_hash(&bytes),
                config: short_hash(resolved.as_bytes()),
                preset,
                generation,
                audience,
            },
        })
    }

    /// Reads the component and configuration again; on failure the running policy stays.
    /// The outcome is kept for readiness either way.
    pub fn reload(&self) -> Result<Loaded, ServeError> {
        let generation = self.loaded().generation.saturating_add(1);
        let built = Self::build(&self.source, self.slots, generation);
        let outcome = ReloadOutcome {
            at: crate::now(),
            ok: built.is_ok(),
            error: built.as_ref().err().map(ToString::to_string),
        };
        match self.last_reload.lock() {
            Ok(mut l) => *l = Some(outcome),
            Err(poisoned) => *poisoned.into_inner() = Some(outcome),
        }
        let fresh = built?;
        let loaded = fresh.loaded.clone();
        match self.current.write() {
            Ok(mut g) => *g = Arc::new(fresh),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(fresh),
        }
        Ok(loaded)
    }

    /// How the last reload went; `None` before any.
    pub fn last_reload(&self) -> Option<ReloadOutcome> {
        match self.last_reload.lock() {
            Ok(l) => l.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn generation(&self) -> Arc<Generation> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// What is loaded now.
    pub fn loaded(&self) -> Loaded {
        self.generation().loaded.clone()
    }

    /// Runs `f` on a free warm instance (or waits for one).
    ///
    /// A trap is tried once more on the fresh instance that replaced the trapped one: the 10 ms
    /// deadline is wall-clock time, so a call preempted on a busy machine can trap without any
    /// fault of the guest; a guest that really loops traps again and the error stands.
    pub fn with<T>(
        &self,
        mut f: impl FnMut(&mut ComponentPolicy) -> Result<T, HostError>,
    ) -> Result<T, HostError> {
        let answered = match self.with_once(&mut f) {
            Err(HostError::Trap(first)) => {
                tracing::warn!(error = %first, "policy call trapped; retrying once on a fresh instance");
                self.with_once(&mut f)
            }
            other => other,
        };
        if matches!(&answered, Err(e) if !matches!(e, HostError::Input(_))) {
            self.failures.inc();
        }
        answered
    }

    fn with_once<T>(
        &self,
        f: &mut impl FnMut(&mut ComponentPolicy) -> Result<T, HostError>,
    ) -> Result<T, HostError> {
        let g = self.generation();
        let n = g.slots.len();
        let start = g.next.fetch_add(1, Ordering::Relaxed);
        // Counts the instances a call discarded after a trap.
        let mut counted = |p: &mut ComponentPolicy| {
            let before = p.restarts();
            let answered = f(p);
            self.restarts.inc_by(p.restarts().saturating_sub(before));
            answered
        };
        for i in 0..n {
            if let Some(slot) = g.slots.get(start.wrapping_add(i) % n)
                && let Ok(mut p) = slot.try_lock()
            {
                return counted(&mut p);
            }
        }
        match g.slots.get(start % n.max(1)).map(|s| s.lock()) {
            Some(Ok(mut p)) => counted(&mut p),
            Some(Err(poisoned)) => counted(&mut poisoned.into_inner()),
            None => Err(HostError::Setup("no policy instance".into())),
        }
    }

    /// `evaluate-json` on the component, as a result: the decision, the input error, or the
    /// host's failure, for callers that answer each differently (`/v1/*`).
    pub fn evaluate_result(&self, input: &str) -> Result<String, HostError> {
        self.with(|p| p.evaluate_json(input))
    }

    /// `authorize-json` on the component, as a result.
    pub fn authorize_result(&self, input: &str) -> Result<String, HostError> {
        self.with(|p| p.authorize_json(input))
    }

    /// `authorize_json` on the component; bad input and host failures become error documents.
    pub fn authorize_json(&self, input: &str) -> String {
        stepup_wasmtime::document(self.with(|p| p.authorize_json(input)))
            .unwrap_or_else(|e| host_error(&e))
    }
}

/// A host failure as a SPEC error document (path `.`), so callers always get JSON.
pub fn host_error(e: &HostError) -> String {
    let err = match e {
        HostError::Input(input) => input.clone(),
        other => stepup_core::InputError::new(".", other.to_string()),
    };
    stepup_core::contract::decision::error_json(&err)
}
