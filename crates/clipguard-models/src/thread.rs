//! A model on its own OS thread behind a channel, with one-shot replies (as in
//! text-embeddings-inference): async code never blocks on inference, and requests from many
//! videos are batched together.
//!
//! Dynamic micro-batching: the thread blocks for the first request, then keeps taking requests
//! that are already waiting (or arrive within `max_wait`) until the batch reaches `max_cost`
//! (tokens for text, frames for vision) or `max_items`. Idle, a request runs alone at once;
//! under load, requests pile up while a batch runs and the next batch is bigger, so throughput
//! grows with load. The model is taken from its [`ModelSlot`] once per batch, so a hot swap
//! lands between batches.

use crate::{ModelError, ModelSlot};
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// A model that can run a batch of inputs.
pub trait BatchModel: Send + Sync + 'static {
    type Input: Send + 'static;
    type Output: Send + 'static;
    /// The batching cost of one input (tokens, frames).
    fn cost(&self, input: &Self::Input) -> usize;
    /// One result per input, in order.
    fn run_batch(&self, inputs: Vec<Self::Input>) -> Vec<Result<Self::Output, ModelError>>;
    /// Runs once before the thread accepts work (and before a swapped-in model serves).
    fn warm_up(&self) -> Result<(), ModelError> {
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
pub struct BatchPolicy {
    pub max_cost: usize,
    pub max_items: usize,
    pub max_wait: Duration,
}

impl Default for BatchPolicy {
    fn default() -> Self {
        BatchPolicy {
            max_cost: 8192,
            max_items: 32,
            max_wait: Duration::from_millis(2),
        }
    }
}

type Reply<M> = oneshot::Sender<(Result<<M as BatchModel>::Output, ModelError>, String)>;

struct Job<M: BatchModel> {
    input: M::Input,
    reply: Reply<M>,
}

/// The async side of a model thread. Cheap to clone.
pub struct ModelHandle<M: BatchModel> {
    name: String,
    tx: mpsc::Sender<Job<M>>,
    slot: Arc<ModelSlot<M>>,
}

impl<M: BatchModel> Clone for ModelHandle<M> {
    fn clone(&self) -> Self {
        ModelHandle {
            name: self.name.clone(),
            tx: self.tx.clone(),
            slot: self.slot.clone(),
        }
    }
}

impl<M: BatchModel> std::fmt::Debug for ModelHandle<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelHandle")
            .field("name", &self.name)
            .finish()
    }
}

impl<M: BatchModel> ModelHandle<M> {
    /// Starts the thread after warming the slot's model up; fails if warm-up fails.
    pub fn spawn(
        name: &str,
        slot: Arc<ModelSlot<M>>,
        policy: BatchPolicy,
    ) -> Result<Self, ModelError> {
        slot.get().model.warm_up()?;
        let (tx, rx) = mpsc::channel::<Job<M>>();
        let thread_slot = slot.clone();
        std::thread::Builder::new()
            .name(format!("model-{name}"))
            .spawn(move || serve(rx, thread_slot, policy))
            .map_err(|e| ModelError::runtime(name, format!("cannot start thread: {e}")))?;
        Ok(ModelHandle {
            name: name.to_string(),
            tx,
            slot,
        })
    }

    /// Runs one input; returns its output and the version of the model that produced it.
    pub async fn infer(&self, input: M::Input) -> Result<(M::Output, String), ModelError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job { input, reply })
            .map_err(|_| ModelError::Stopped(self.name.clone()))?;
        let (result, version) = rx
            .await
            .map_err(|_| ModelError::Stopped(self.name.clone()))?;
        result.map(|out| (out, version))
    }

    pub fn slot(&self) -> &Arc<ModelSlot<M>> {
        &self.slot
    }

    /// Warms a new model up, then swaps it in; the thread uses it from its next batch.
    pub fn swap(&self, model: M, version: impl Into<String>) -> Result<(), ModelError> {
        model.warm_up()?;
        self.slot.swap(model, version);
        Ok(())
    }
}

fn serve<M: BatchModel>(rx: mpsc::Receiver<Job<M>>, slot: Arc<ModelSlot<M>>, policy: BatchPolicy) {
    while let Ok(first) = rx.recv() {
        let loaded = slot.get();
        let mut cost = loaded.model.cost(&first.input);
        let mut batch = vec![first];
        let deadline = Instant::now() + policy.max_wait;
        while cost < policy.max_cost && batch.len() < policy.max_items {
            let next = match rx.try_recv() {
                Ok(job) => job,
                Err(_) => match rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
                {
                    Ok(job) => job,
                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                },
            };
            cost += loaded.model.cost(&next.input);
            batch.push(next);
        }
        let (inputs, replies): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|j| (j.input, j.reply)).unzip();
        let n = inputs.len();
        let mut outputs = loaded.model.run_batch(inputs);
        if outputs.len() != n {
            outputs = (0..n)
                .map(|_| {
                    Err(ModelError::runtime(
                        &loaded.version,
                        "batch returned the wrong number of results",
                    ))
                })
                .collect();
        }
        for (reply, out) in replies.into_iter().zip(outputs) {
            // The caller may have gone away (timeout, shutdown): nothing to do then.
            let _ = reply.send((out, loaded.version.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Doubles numbers and records batch sizes (a test double of our own trait).
    struct Doubler {
        batches: Arc<Mutex<Vec<usize>>>,
        factor: i64,
    }

    impl BatchModel for Doubler {
        type Input = i64;
        type Output = i64;
        fn cost(&self, _: &i64) -> usize {
            1
        }
        fn run_batch(&self, inputs: Vec<i64>) -> Vec<Result<i64, ModelError>> {
            self.batches.lock().unwrap().push(inputs.len());
            std::thread::sleep(Duration::from_millis(20));
            inputs.into_iter().map(|i| Ok(i * self.factor)).collect()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batches_grow_under_load_and_swaps_land_between_batches() {
        let batches = Arc::new(Mutex::new(Vec::new()));
        let slot = Arc::new(ModelSlot::new(
            Doubler {
                batches: batches.clone(),
                factor: 2,
            },
            "v1",
        ));
        let policy = BatchPolicy {
            max_cost: 16,
            max_items: 16,
            max_wait: Duration::from_millis(1),
        };
        let handle = ModelHandle::spawn("doubler", slot, policy).unwrap();
        let (out, version) = handle.infer(21).await.unwrap();
        assert_eq!((out, version.as_str()), (42, "v1"));
        let results = futures_join(&handle, 40).await;
        assert!(
            results
                .iter()
                .enumerate()
                .all(|(i, (o, _))| *o == 2 * i as i64)
        );
        let max_batch = *batches.lock().unwrap().iter().max().unwrap();
        assert!(
            max_batch > 1,
            "concurrent requests must be batched: {:?}",
            batches.lock().unwrap()
        );
        assert!(max_batch <= 16);

        handle
            .swap(
                Doubler {
                    batches: batches.clone(),
                    factor: 3,
                },
                "v2",
            )
            .unwrap();
        let (out, version) = handle.infer(5).await.unwrap();
        assert_eq!((out, version.as_str()), (15, "v2"));
    }

    async fn futures_join(handle: &ModelHandle<Doubler>, n: i64) -> Vec<(i64, String)> {
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                let h = handle.clone();
                tokio::spawn(async move { h.infer(i).await.unwrap() })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    }
}
