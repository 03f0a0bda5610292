//! Error classes shared by every layer. Each layer has its own `thiserror` enum; each enum tells
//! which class an error belongs to, and the class alone decides what the worker does with the
//! message (as in Arroyo's User / External / Internal tags):
//!
//! | class      | example                              | the worker…                                  |
//! |------------|--------------------------------------|----------------------------------------------|
//! | `Input`    | corrupt media, zero-byte file        | stores a `failed` verdict, then acks          |
//! | `External` | database locked, S3 down, HTTP 503   | nacks: retried with backoff, then dead letter |
//! | `Internal` | a bug, an invariant broken           | nacks: retried with backoff, then dead letter |

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The input itself is bad: retrying cannot help.
    Input,
    /// Something outside us failed: retrying later may help.
    External,
    /// Our own bug: retry a few times, then park it for a person.
    Internal,
}

impl ErrorClass {
    pub fn is_retryable(self) -> bool {
        !matches!(self, ErrorClass::Input)
    }
}

/// Every layer's error type reports its class.
pub trait Classify {
    fn class(&self) -> ErrorClass;
}

/// A stage error after it crossed a layer boundary: the class and the rendered message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct StageError {
    pub class: ErrorClass,
    pub message: String,
}

impl StageError {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        StageError {
            class,
            message: message.into(),
        }
    }

    pub fn input(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Input, message)
    }

    pub fn external(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::External, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Internal, message)
    }
}

impl Classify for StageError {
    fn class(&self) -> ErrorClass {
        self.class
    }
}
