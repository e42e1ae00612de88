//! [`RandomStream`]: the key and step of a layer that draws random numbers (dropout).
//!
//! A stream is stateless between steps: the numbers of step `s` are a pure function of
//! `(key, s)` (Philox, see [`ember_tensor::philox4x32_10`]). Where a key comes from, first to
//! last:
//! - a new stream's key is drawn from the order streams are made on this thread, so two layers
//!   never share a mask, and a program that builds its model the same way gets the same keys;
//! - the model's first [`Module::call`](crate::Module::call) keys it by its layer's name
//!   (`stream_key(0, name)`), so the keys no longer depend on what else the program built;
//! - [`Module::seed_random_streams`](crate::Module::seed_random_streams) keys it from a seed
//!   and its name, and [`RandomStream::set_key`] sets it outright; neither is undone by a
//!   later `call`.
//!
//! The trainer keys from the run's seed and sets the step before each training step with
//! [`Module::set_random_step`](crate::Module::set_random_step), so a run resumed from a
//! checkpoint draws exactly the masks an uninterrupted run draws, with nothing saved.

use std::cell::Cell;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use ember_tensor::stream_key;

/// Where a stream's key came from: only an unnamed one is keyed by name on a first `call`.
const UNNAMED: u8 = 0;
const NAMED: u8 = 1;
const SET: u8 = 2;

thread_local! {
    /// Streams made on this thread so far: a new stream's key is `stream_key(0, "#n")`.
    static STREAMS_MADE: Cell<u64> = const { Cell::new(0) };
}

/// The key and the next step of one layer's random numbers. Shared through `&self` (layers
/// are visited immutably), so both live in atomics.
#[derive(Debug)]
pub struct RandomStream {
    key: AtomicU64,
    step: AtomicU64,
    origin: AtomicU8,
}

impl Default for RandomStream {
    /// A stream at step 0 whose key is distinct from every other stream made on this thread
    /// (keyed by its order among them until a name or a key is given).
    fn default() -> Self {
        let made = STREAMS_MADE.with(|made| {
            let n = made.get();
            made.set(n + 1);
            n
        });
        RandomStream {
            key: AtomicU64::new(stream_key(0, &format!("#{made}"))),
            step: AtomicU64::new(0),
            origin: AtomicU8::new(UNNAMED),
        }
    }
}

impl RandomStream {
    /// A stream with `key`, at step 0.
    pub fn new(key: u64) -> Self {
        RandomStream {
            key: AtomicU64::new(key),
            step: AtomicU64::new(0),
            origin: AtomicU8::new(SET),
        }
    }

    /// The key.
    pub fn key(&self) -> u64 {
        self.key.load(Ordering::Relaxed)
    }

    /// Replaces the key (for good: a later [`RandomStream::key_by_name`] keeps it). Two streams
    /// given the same key draw the same masks.
    pub fn set_key(&self, key: u64) {
        self.key.store(key, Ordering::Relaxed);
        self.origin.store(SET, Ordering::Relaxed);
    }

    /// Keys the stream by its layer's full name, `stream_key(0, name)`, unless it was already
    /// named or given a key; [`Module::call`](crate::Module::call) does it for every stream of
    /// a model.
    pub fn key_by_name(&self, name: &str) {
        if self
            .origin
            .compare_exchange(UNNAMED, NAMED, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            self.key.store(stream_key(0, name), Ordering::Relaxed);
        }
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
    /// The same key, step and origin: a cloned layer draws the masks the original draws.
    fn clone(&self) -> Self {
        RandomStream {
            key: AtomicU64::new(self.key()),
            step: AtomicU64::new(self.step()),
            origin: AtomicU8::new(self.origin.load(Ordering::Relaxed)),
        }
    }
}
