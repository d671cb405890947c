//! Engine, cache, limits and the warm policy instance.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use sha2::{Digest, Sha256};
use stepup_core::{Decision, InputError, Presented, Request, Secrets};
use wasmtime::component::{Component, Linker, ResourceAny};
use wasmtime::{Config, Engine, Store, StoreLimits, StoreLimitsBuilder};

use crate::bindings::exports::stepup::policy::types as w;
use crate::bindings::{Stepup, StepupPre};
use crate::convert;

/// Resource limits applied to every call.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Linear-memory cap per instance.
    pub memory_bytes: usize,
    /// Wall-clock budget of one decision (`evaluate`, `authorize` and their JSON forms).
    pub deadline: Duration,
    /// Wall-clock budget of the other calls: enrolment draws a QR code, and `call-json` may
    /// verify RSA or P-256 signatures (WebAuthn, OIDC), which take milliseconds in wasm.
    pub slow_deadline: Duration,
    /// Epoch tick: the deadline is enforced to within one tick.
    pub tick: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            deadline: Duration::from_millis(10),
            slow_deadline: Duration::from_millis(250),
            tick: Duration::from_millis(1),
        }
    }
}

/// Why a call through the component failed. A trap or setup failure keeps wasmtime's message
/// (with its trap code) as text: the error is `Clone` so a warm instance's failure can be
/// reported to every caller that waited on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// The input was invalid (the same error the native engine gives).
    #[error("invalid input: {0}")]
    Input(#[source] InputError),
    /// The guest trapped: deadline exceeded, memory cap hit, or a bug. The instance is discarded.
    #[error("policy component trapped: {0}")]
    Trap(String),
    /// The component could not be compiled, loaded or instantiated.
    #[error("policy component unavailable: {0}")]
    Setup(String),
}

fn setup(e: impl fmt::Display) -> HostError {
    HostError::Setup(e.to_string())
}

fn trap(e: wasmtime::Error) -> HostError {
    // `{:#}` includes the trap code (e.g. "interrupt", "unreachable") after the context.
    HostError::Trap(format!("{e:#}"))
}

struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Shared {
    engine: Engine,
    pre: StepupPre<HostState>,
    limits: Limits,
    deadline_ticks: u64,
    slow_ticks: u64,
    _ticker: Ticker,
}

/// Per-store state: the memory limiter.
pub struct HostState {
    limits: StoreLimits,
}

/// A compiled, linked stepup component, shared by every [`ComponentPolicy`] made from it.
#[derive(Clone)]
pub struct Runtime {
    shared: Arc<Shared>,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("limits", &self.shared.limits)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// The component shipped with this crate, compiled in memory, default limits.
    pub fn new() -> Result<Runtime, HostError> {
        Runtime::with(crate::COMPONENT, None, Limits::default())
    }

    /// A component from `bytes`, with its `.cwasm` cached in `cache_dir` when given.
    pub fn with(
        bytes: &[u8],
        cache_dir: Option<&Path>,
        limits: Limits,
    ) -> Result<Runtime, HostError> {
        let mut cfg = Config::new();
        cfg.wasm_component_model(true);
        cfg.epoch_interruption(true);
        let engine = Engine::new(&cfg).map_err(setup)?;
        let component = match cache_dir {
            Some(dir) => load_cached(&engine, bytes, dir)?,
            None => Component::new(&engine, bytes).map_err(setup)?,
        };
        let linker: Linker<HostState> = Linker::new(&engine);
        let pre =
            StepupPre::new(linker.instantiate_pre(&component).map_err(setup)?).map_err(setup)?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (engine, stop, tick) = (engine.clone(), stop.clone(), limits.tick);
            std::thread::Builder::new()
                .name("stepup-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(tick);
                        engine.increment_epoch();
                    }
                })
                .map_err(setup)?
        };
        let tick_ns = limits.tick.as_nanos().max(1);
        let ticks = |d: Duration| {
            u64::try_from(d.as_nanos().div_ceil(tick_ns))
                .unwrap_or(u64::MAX)
                .max(1)
        };
        let deadline_ticks = ticks(limits.deadline);
        let slow_ticks = ticks(limits.slow_deadline.max(limits.deadline));
        Ok(Runtime {
            shared: Arc::new(Shared {
                engine,
                pre,
                limits,
                deadline_ticks,
                slow_ticks,
                _ticker: Ticker {
                    stop,
                    thread: Some(thread),
                },
            }),
        })
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.shared.limits
    }

    /// A policy built from `config_json` inside a fresh, warm instance.
    pub fn policy(&self, config_json: &str) -> Result<ComponentPolicy, HostError> {
        let warm = Warm::new(&self.shared, config_json)?;
        Ok(ComponentPolicy {
            shared: self.shared.clone(),
            config_json: config_json.to_owned(),
            warm: Some(warm),
            discarded: 0,
        })
    }

    /// Instantiates without building a policy (for measuring instantiation alone).
    #[doc(hidden)]
    pub fn instantiate_only(&self) -> Result<(), HostError> {
        let mut store = new_store(&self.shared);
        self.shared
            .pre
            .instantiate(&mut store)
            .map(|_| ())
            .map_err(trap)
    }
}

/// The names a component imports (the stepup component must import nothing).
pub fn component_imports(bytes: &[u8]) -> Result<Vec<String>, HostError> {
    let engine = Engine::new(Config::new().wasm_component_model(true)).map_err(setup)?;
    let component = Component::new(&engine, bytes).map_err(setup)?;
    Ok(component
        .component_type()
        .imports(&engine)
        .map(|(name, _)| name.to_owned())
        .collect())
}

/// Loads `<dir>/stepup-<sha256(component)>-<engine hash>.cwasm`, or compiles and writes it.
fn load_cached(engine: &Engine, bytes: &[u8], dir: &Path) -> Result<Component, HostError> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    let key = Sha256::digest(bytes);
    let name: String = key.iter().take(16).map(|b| format!("{b:02x}")).collect();
    let path: PathBuf = dir.join(format!("stepup-{name}-{:016x}.cwasm", h.finish()));
    // Read, not mapped: a mapped file truncated by someone else would SIGBUS the host.
    if let Ok(cached) = std::fs::read(&path) {
        // SAFETY: the file is one this function wrote from a component it compiled with an
        // engine of identical configuration (the name binds both); wasmtime also checks the
        // version and configuration recorded inside it and errors on a mismatch.
        #[expect(unsafe_code, reason = "deserializing a .cwasm we produced ourselves")]
        let loaded = unsafe { Component::deserialize(engine, &cached) };
        if let Ok(c) = loaded {
            return Ok(c);
        }
    }
    let component = Component::new(engine, bytes).map_err(setup)?;
    let serialized = component.serialize().map_err(setup)?;
    // The cache is best effort: the compiled component is in hand either way. Each writer uses
    // its own temporary name (two runtimes in one process may compile at once: with one name per
    // process, the second rename found the file already moved and startup failed), and the
    // rename makes the finished file appear whole.
    static WRITERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
    let written = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&tmp, &serialized))
        .and_then(|()| std::fs::rename(&tmp, &path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    Ok(component)
}

fn new_store(shared: &Shared) -> Store<HostState> {
    let limits = StoreLimitsBuilder::new()
        .memory_size(shared.limits.memory_bytes)
        .instances(4)
        .tables(4)
        .memories(2)
        .trap_on_grow_failure(true)
        .build();
    let mut store = Store::new(&shared.engine, HostState { limits });
    store.limiter(|s| &mut s.limits);
    // Every store starts with a deadline: with epochs on, a store without one would trap at the
    // first tick, and no guest code may ever run unbounded.
    store.set_epoch_deadline(shared.deadline_ticks);
    store
}

struct Warm {
    store: Store<HostState>,
    instance: Stepup,
    policy: ResourceAny,
}

impl Warm {
    fn new(shared: &Shared, config_json: &str) -> Result<Warm, HostError> {
        let mut store = new_store(shared);
        // Instantiating and parsing the configuration is not a decision: it gets the slower
        // budget (under a loaded CI run, a policy reload overran 10 ms and was refused).
        store.set_epoch_deadline(shared.slow_ticks);
        let instance = shared.pre.instantiate(&mut store).map_err(trap)?;
        let created = instance
            .stepup_policy_engine()
            .policy()
            .call_create(&mut store, config_json)
            .map_err(trap)?;
        let policy = created.map_err(|e| HostError::Input(convert::error(e)))?;
        Ok(Warm {
            store,
            instance,
            policy,
        })
    }
}

/// A policy resident in a warm component instance. Not `Sync`: give each worker its own (they
/// are cheap to make from a shared [`Runtime`]).
pub struct ComponentPolicy {
    shared: Arc<Shared>,
    config_json: String,
    warm: Option<Warm>,
    /// Instances thrown away after a trap (the next call makes a fresh one).
    discarded: u64,
}

impl fmt::Debug for ComponentPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ComponentPolicy")
            .field("warm", &self.warm.is_some())
            .finish_non_exhaustive()
    }
}

impl ComponentPolicy {
    /// Runs one decision on the warm instance under the deadline; a trap discards the instance.
    fn call<T>(&mut self, f: impl FnMut(&mut Warm) -> wasmtime::Result<T>) -> Result<T, HostError> {
        let ticks = self.shared.deadline_ticks;
        self.call_within(ticks, f)
    }

    /// Runs one non-decision call under the slower budget.
    fn call_slow<T>(
        &mut self,
        f: impl FnMut(&mut Warm) -> wasmtime::Result<T>,
    ) -> Result<T, HostError> {
        let ticks = self.shared.slow_ticks;
        self.call_within(ticks, f)
    }

    fn call_within<T>(
        &mut self,
        ticks: u64,
        mut f: impl FnMut(&mut Warm) -> wasmtime::Result<T>,
    ) -> Result<T, HostError> {
        for attempt in 0..2 {
            if self.warm.is_none() {
                self.warm = Some(Warm::new(&self.shared, &self.config_json)?);
            }
            let Some(warm) = self.warm.as_mut() else {
                return Err(HostError::Setup("no instance".into()));
            };
            warm.store.set_epoch_deadline(ticks);
            match f(warm) {
                Ok(v) => return Ok(v),
                Err(e) => {
                    self.warm = None;
                    self.discarded = self.discarded.saturating_add(1);
                    // A call that takes microseconds is interrupted at the deadline mostly when
                    // this thread was descheduled past it (seen under load: 1 decision in
                    // tens of thousands on a busy 2-core machine). Calls are pure, so it is
                    // retried once on a fresh instance; a guest that loops is stopped again.
                    let interrupted =
                        e.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::Interrupt);
                    if attempt == 0 && interrupted {
                        continue;
                    }
                    return Err(trap(e));
                }
            }
        }
        Err(HostError::Setup("no instance".into()))
    }

    /// How many instances this policy discarded after a trap and replaced (an operator's
    /// "instance restarts").
    pub fn restarts(&self) -> u64 {
        self.discarded
    }

    /// Decides a request (typed path: records, no JSON).
    pub fn evaluate(&mut self, req: &Request) -> Result<Decision, HostError> {
        let wreq = convert::request(req);
        let out = self.call(|w| {
            w.instance
                .stepup_policy_engine()
                .policy()
                .call_evaluate(&mut w.store, w.policy, &wreq)
        })?;
        out.map(convert::decision)
            .map_err(|e| HostError::Input(convert::error(e)))
    }

    /// Verifies a presented code when needed and decides (typed path).
    pub fn authorize(
        &mut self,
        req: &Request,
        secrets: &Secrets,
        present: Option<&Presented>,
    ) -> Result<Decision, HostError> {
        let (wreq, wsec, wpre) = (
            convert::request(req),
            convert::secrets(secrets),
            present.map(convert::presented),
        );
        let out = self.call(|w| {
            w.instance.stepup_policy_engine().policy().call_authorize(
                &mut w.store,
                w.policy,
                &wreq,
                &wsec,
                wpre.as_ref(),
            )
        })?;
        out.map(convert::decision)
            .map_err(|e| HostError::Input(convert::error(e)))
    }

    /// JSON request in, decision JSON out (byte-identical to every host); bad input is
    /// [`HostError::Input`] ([`document`] writes it as the SPEC error document).
    pub fn evaluate_json(&mut self, request_json: &str) -> Result<String, HostError> {
        self.call(|w| {
            w.instance
                .stepup_policy_engine()
                .policy()
                .call_evaluate_json(&mut w.store, w.policy, request_json)
        })
        .and_then(input)
    }

    /// JSON `{request, secrets, present}` in, decision JSON out; bad input is
    /// [`HostError::Input`].
    pub fn authorize_json(&mut self, input_json: &str) -> Result<String, HostError> {
        self.call(|w| {
            w.instance
                .stepup_policy_engine()
                .policy()
                .call_authorize_json(&mut w.store, w.policy, input_json)
        })
        .and_then(input)
    }

    /// A TOTP enrolment from host entropy.
    pub fn enroll_totp(
        &mut self,
        issuer: &str,
        account: &str,
        entropy: &[u8],
    ) -> Result<stepup_core::codes::totp::TotpEnrollment, HostError> {
        let out = self.call_slow(|w| {
            w.instance.stepup_policy_engine().policy().call_enroll_totp(
                &mut w.store,
                w.policy,
                issuer,
                account,
                entropy,
            )
        })?;
        out.map(convert::enrollment)
            .map_err(|e| HostError::Input(convert::error(e)))
    }

    /// Fresh recovery codes.
    pub fn issue_recovery_codes(
        &mut self,
        entropy: &[u8],
    ) -> Result<stepup_core::codes::single_use::IssuedRecoveryCodes, HostError> {
        let out = self.call_slow(|w| {
            w.instance
                .stepup_policy_engine()
                .policy()
                .call_issue_recovery_codes(&mut w.store, w.policy, entropy)
        })?;
        out.map_err(|e| HostError::Input(convert::error(e)))
            .and_then(|i| convert::issued_recovery(i).map_err(HostError::Input))
    }

    /// A fresh emailed login code.
    pub fn issue_email_code(
        &mut self,
        entropy: &[u8],
        now: u64,
    ) -> Result<stepup_core::codes::single_use::IssuedEmailCode, HostError> {
        let out = self.call_slow(|w| {
            w.instance
                .stepup_policy_engine()
                .policy()
                .call_issue_email_code(&mut w.store, w.policy, entropy, now)
        })?;
        out.map_err(|e| HostError::Input(convert::error(e)))
            .and_then(|i| convert::issued_email(i).map_err(HostError::Input))
    }

    /// The code an authenticator shows for `secret` at `now`.
    pub fn totp_code(&mut self, secret: &[u8], now: u64) -> Result<String, HostError> {
        self.call_slow(|w| {
            w.instance.stepup_policy_engine().policy().call_totp_code(
                &mut w.store,
                w.policy,
                secret,
                now,
            )
        })
    }

    /// The resolved configuration, JSON.
    pub fn config_json(&mut self) -> Result<String, HostError> {
        self.call_slow(|w| {
            w.instance
                .stepup_policy_engine()
                .policy()
                .call_config_json(&mut w.store, w.policy)
        })
    }

    /// `{secret, code, now, last_step?}` → verification result JSON; bad input is
    /// [`HostError::Input`].
    pub fn verify_totp_json(&mut self, input_json: &str) -> Result<String, HostError> {
        self.call_slow(|w| {
            w.instance
                .stepup_policy_engine()
                .policy()
                .call_verify_totp_json(&mut w.store, w.policy, input_json)
        })
        .and_then(input)
    }

    /// `{now, token}` → token-form check JSON; bad input is [`HostError::Input`].
    pub fn token_form_json(&mut self, input_json: &str) -> Result<String, HostError> {
        self.call_slow(|w| {
            w.instance
                .stepup_policy_engine()
                .policy()
                .call_token_form_json(&mut w.store, w.policy, input_json)
        })
        .and_then(input)
    }

    /// Any JSON entry point by name (`webauthn-challenge`, `webauthn-register`,
    /// `oidc-exchange`, ...) → result JSON; bad input is [`HostError::Input`].
    pub fn call_json(&mut self, function: &str, input_json: &str) -> Result<String, HostError> {
        self.call_slow(|w| {
            w.instance.stepup_policy_engine().policy().call_call_json(
                &mut w.store,
                w.policy,
                function,
                input_json,
            )
        })
        .and_then(input)
    }
}

/// A guest's `result<_, input-error>` as the host's result.
fn input<T>(r: Result<T, w::InputError>) -> Result<T, HostError> {
    r.map_err(|e| HostError::Input(convert::error(e)))
}

/// A JSON entry point's answer as a document: bad input becomes the SPEC error document
/// (§8.17), byte for byte what the native engine writes; host failures stay errors.
pub fn document(r: Result<String, HostError>) -> Result<String, HostError> {
    match r {
        Err(HostError::Input(e)) => Ok(stepup_core::contract::decision::error_json(&e)),
        other => other,
    }
}
