//! The hot-swap slot. A model thread takes the current model once per batch (`get`), so a swap
//! never changes the model in the middle of a batch, and the old model is freed when the last
//! batch using it finishes. #4's registry watcher calls `swap` after warming the new model up.

use arc_swap::ArcSwap;
use std::sync::Arc;

/// A model with the version string verdicts record.
#[derive(Debug)]
pub struct Loaded<T> {
    pub model: T,
    pub version: String,
}

#[derive(Debug)]
pub struct ModelSlot<T> {
    current: ArcSwap<Loaded<T>>,
}

impl<T> ModelSlot<T> {
    pub fn new(model: T, version: impl Into<String>) -> Self {
        ModelSlot {
            current: ArcSwap::from_pointee(Loaded {
                model,
                version: version.into(),
            }),
        }
    }

    /// The model to use for one whole batch.
    pub fn get(&self) -> Arc<Loaded<T>> {
        self.current.load_full()
    }

    pub fn version(&self) -> String {
        self.current.load().version.clone()
    }

    /// Installs a new (already warmed-up) model; returns the previous one (for rollback).
    pub fn swap(&self, model: T, version: impl Into<String>) -> Arc<Loaded<T>> {
        self.current.swap(Arc::new(Loaded {
            model,
            version: version.into(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_keeps_its_model_across_a_swap() {
        let slot = ModelSlot::new(1u32, "v1");
        let batch = slot.get();
        let old = slot.swap(2, "v2");
        assert_eq!((batch.model, batch.version.as_str()), (1, "v1"));
        assert_eq!(old.version, "v1");
        assert_eq!(slot.get().model, 2);
        assert_eq!(slot.version(), "v2");
    }
}
