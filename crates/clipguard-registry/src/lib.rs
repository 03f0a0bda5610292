//! ClipGuard's model registry and promotion gate.
//!
//! - [`Registry`] (`registry.rs`): register a bundle folder, list and get versions, aliases
//!   (`champion` serves, `challenger` is evaluated), fetch a version into a local cache, the
//!   audit log. Object-safe: callers hold an `Arc<dyn Registry>`.
//! - Backends: [`BuiltinRegistry`] (SQLite tables in `<data>/clipguard.db`, files in the media
//!   store) for `clipguard run`; [`MlflowRegistry`] (REST) for the scale-out setup.
//! - [`gate`]: `promote` (floor + margin on the same frozen eval set), `force` (audited operator
//!   override), `rollback` (replays the audit log); [`GatePolicy`] holds the floors.
//! - [`ChampionWatcher`] (`watch.rs`): what a worker polls to hot-swap the champion.
//!
//! The seed's updater compared "the first metric containing f1", polled names that did not
//! exist, used deprecated stages and never reloaded anything; here the metric, the names and
//! the aliases are explicit, and every decision is on record.

pub mod audit;
pub mod builtin;
pub mod bundle;
mod cache;
pub mod error;
pub mod gate;
pub mod mlflow;
pub mod names;
pub mod policy;
pub mod registry;
pub mod version;
pub mod watch;

pub use audit::{Action, Decision};
pub use builtin::BuiltinRegistry;
pub use bundle::{BundleFile, BundleIndex};
pub use error::RegistryError;
pub use gate::{GateError, force, promote, rollback};
pub use mlflow::{MlflowConfig, MlflowRegistry};
pub use names::{CHALLENGER, CHAMPION};
pub use policy::GatePolicy;
pub use registry::Registry;
pub use version::RegisteredVersion;
pub use watch::{ChampionChange, ChampionWatcher};
