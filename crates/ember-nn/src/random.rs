//! [`RandomStream`]: the key and step of a layer that draws random numbers (dropout).
//!
//! A stream is stateless between steps: the numbers of step `s` are a pure function of
//! `(key, s)` (Philox, see [`ember_tensor::philox4x32_10`]). A model's streams are keyed by
//! [`Module::seed_random_streams`](crate::Module::seed_random_streams) from the run's seed and
//! each layer's name, and the trainer sets the step before each training step with
//! [`Module::set_random_step`](crate::Module::set_random_step), so a run resumed from a
//! checkpoint draws exactly the masks an uninterrupted run draws, with nothing saved.

use std::sync::atomic::{AtomicU64, Ordering};

/// The key and the next step of one layer's random numbers. Shared through `&self` (layers
/// are visited immutably), so both live in atomics.
#[derive(Debug, Default)]
pub struct RandomStream {
    key: AtomicU64,
    step: AtomicU64,
}

impl RandomStream {
    /// A stream with `key`, at step 0.
    pub fn new(key: u64) -> Self {
        RandomStream {
            key: AtomicU64::new(key),
            step: AtomicU64::new(0),
        }
    }

    /// The key.
    pub fn key(&self) -> u64 {
        self.key.load(Ordering::Relaxed)
    }

    /// Replaces the key.
    pub fn set_key(&self, key: u64) {
        self.key.store(key, Ordering::Relaxed);
    }

    /// The step the next draw uses.
    pub fn step(&self) -> u64 {
        self.step.load(Ordering::Relaxed)
    }

    /// Sets the step the next draw uses.
    pub fn set_step(&self, step: u64) {
        self.step.store(step, Ordering::Relaxed);
    }

    /// The step to draw now; the stream moves on to the next one (so repeated forward passes
    /// outside the trainer draw fresh masks).
    pub fn take_step(&self) -> u64 {
        self.step.fetch_add(1, Ordering::Relaxed)
    }
}

impl Clone for RandomStream {
    fn clone(&self) -> Self {
        RandomStream {
            key: AtomicU64::new(self.key()),
            step: AtomicU64::new(self.step()),
        }
    }
}
