//! Model errors. A missing or corrupt model is an operator problem with a fix, so every
//! message says which file and what to do.

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model file `{what}` is missing ({hint})")]
    Missing { what: String, hint: String },
    #[error("model file `{what}` is corrupt: {message}")]
    Corrupt { what: String, message: String },
    #[error("model runtime ({model}): {message}")]
    Runtime { model: String, message: String },
    #[error("model thread `{0}` has stopped")]
    Stopped(String),
    #[error("cannot fetch models: {0}")]
    Fetch(String),
}

impl ModelError {
    pub fn runtime(model: impl Into<String>, message: impl std::fmt::Display) -> Self {
        ModelError::Runtime {
            model: model.into(),
            message: message.to_string(),
        }
    }

    pub fn corrupt(what: impl Into<String>, message: impl std::fmt::Display) -> Self {
        ModelError::Corrupt {
            what: what.into(),
            message: message.to_string(),
        }
    }
}
