//! Facts about a registry's packages that the rules read, derived the same way by every host:
//! package impact (weekly downloads, dependents, rank) from what the registry itself counts
//! and stores.

pub mod impact;
