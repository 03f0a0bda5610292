//! The store: one implementation of `clipguard_core::stage::Store` (and the accounts, reviews
//! and settings traits) over SQLite (embedded default) or PostgreSQL (`[store] url`), see
//! `crate::sql` for why one and how the engines differ.

mod accounts;
mod reviews;
mod search;
mod settings;
pub mod sql;

pub use sql::SqlStore;
