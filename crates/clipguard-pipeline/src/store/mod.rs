//! Store backends. `sqlite` is the embedded default; PostgreSQL (#6) implements the same
//! `clipguard_core::stage::Store` trait with the same schema.

mod accounts;
mod reviews;
mod search;
mod settings;
pub mod sqlite;

pub use sqlite::SqliteStore;
