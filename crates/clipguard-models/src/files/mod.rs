//! Readers of the model file formats, validating every length before use.

pub mod ct2;
pub mod e5s1;
