//! One error type for both backends, so callers (CLI, gate, hot-swap watcher) handle "not found"
//! or "MLflow said no" the same way whichever registry is configured.

use clipguard_core::error::{Classify, ErrorClass};
use clipguard_core::stage::MediaError;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The bundle folder handed to `register` is unusable (no manifest, a listed file missing,
    /// a path escaping the folder, …).
    #[error("invalid bundle `{path}`: {message}")]
    InvalidBundle { path: String, message: String },

    /// A model name, alias or version string the registry refuses before asking any backend.
    #[error("invalid {what} `{value}`: {rule}")]
    InvalidName {
        what: &'static str,
        value: String,
        rule: &'static str,
    },

    /// The model, version or alias does not exist.
    #[error("{0} not found")]
    NotFound(String),

    /// Stored data that does not parse or does not match its checksum.
    #[error("corrupt registry data ({what}): {message}")]
    Corrupt { what: String, message: String },

    #[error("registry database: {0}")]
    Database(String),

    #[error(transparent)]
    Media(#[from] MediaError),

    #[error("{path}: {message}")]
    Io { path: String, message: String },

    /// MLflow answered with an error: the HTTP status and MLflow's own code and message.
    #[error("MLflow {endpoint}: HTTP {status} {error_code}: {message}")]
    Mlflow {
        endpoint: String,
        status: u16,
        error_code: String,
        message: String,
    },

    /// MLflow could not be reached or did not answer in time.
    #[error("MLflow {endpoint}: {message}")]
    Transport { endpoint: String, message: String },

    /// Something the backend cannot do with this server (e.g. artifacts not served by it).
    #[error("unsupported: {0}")]
    Unsupported(String),
}

impl RegistryError {
    pub(crate) fn io(path: &std::path::Path, e: std::io::Error) -> Self {
        RegistryError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        }
    }

    pub(crate) fn corrupt(what: impl Into<String>, message: impl ToString) -> Self {
        RegistryError::Corrupt {
            what: what.into(),
            message: message.to_string(),
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, RegistryError::NotFound(_))
    }
}

impl From<sqlx::Error> for RegistryError {
    fn from(e: sqlx::Error) -> Self {
        RegistryError::Database(e.to_string())
    }
}

impl Classify for RegistryError {
    fn class(&self) -> ErrorClass {
        match self {
            RegistryError::InvalidBundle { .. }
            | RegistryError::InvalidName { .. }
            | RegistryError::NotFound(_)
            | RegistryError::Unsupported(_) => ErrorClass::Input,
            // 408 and 429 are "later", every other 4xx is "never".
            RegistryError::Mlflow { status, .. }
                if (400..500).contains(status) && *status != 408 && *status != 429 =>
            {
                ErrorClass::Input
            }
            RegistryError::Corrupt { .. } => ErrorClass::Internal,
            RegistryError::Media(e) => e.class(),
            RegistryError::Database(_)
            | RegistryError::Io { .. }
            | RegistryError::Mlflow { .. }
            | RegistryError::Transport { .. } => ErrorClass::External,
        }
    }
}
