//! The seeded random generator Ember uses for initialisation and shuffling.

use ndarray_rand::rand::SeedableRng;
use ndarray_rand::rand::rngs::StdRng;

/// A seeded, reproducible generator: the same seed gives the same stream on every run.
pub type SeededRng = StdRng;

/// A generator seeded from `seed` (like `torch.manual_seed(seed)` for Ember's own draws).
pub fn seeded_rng(seed: u64) -> SeededRng {
    StdRng::seed_from_u64(seed)
}
