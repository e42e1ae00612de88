//! Dropout with a counter-based mask (as `torch.nn.functional.dropout` in training mode):
//! the mask's parameters ([`DropoutMask`]), the reference mask, the `Tensor` method, the
//! [`DropoutOp`] family and the op's conformance cases.
//!
//! Element `i` of the mask for step `s` under key `k` is decided by word `i % 4` of
//! [`philox4x32_10`] with counter `[i / 4, 0, s_low, s_high]` and key `[k_low, k_high]`: the
//! element is kept when that 32-bit draw is at least `round(p · 2³²)`, a threshold computed
//! once on the host, so the decision is made in integers and is the same bit for bit on every
//! backend. A kept element is multiplied by `1 / (1 − p)` (one `f32` multiplication, exact
//! to the last bit everywhere), a dropped one by 0, as PyTorch's `input * noise`. Nothing but
//! these few numbers reaches a device per step; the backward pass applies the same mask to the
//! gradient.

use crate::conformance::{CaseInput, CaseValues, OpCall, OpCase};
use crate::rng::philox4x32_10;
use crate::{Backend, Error, Result, Tensor};

/// Which elements a dropout keeps and how it scales them: everything a backend needs to draw
/// the mask of one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DropoutMask {
    /// The stream's key (e.g. [`crate::stream_key`] of the run's seed and the layer's name).
    pub key: u64,
    /// The step: the high half of Philox's counter, so each step draws a fresh mask.
    pub step: u64,
    /// An element is kept when its 32-bit draw is at least this: `round(p · 2³²)`.
    pub threshold: u32,
    /// The bits of `1 / (1 − p)` as `f32`, the factor of a kept element.
    scale_bits: u32,
}

impl DropoutMask {
    /// The mask dropping each element with probability `p` (in `[0, 1)`) for `step` of the
    /// stream `key`; any other `p` is [`Error::InvalidArgument`].
    pub fn new(p: f32, key: u64, step: u64) -> Result<Self> {
        if !(0.0..1.0).contains(&p) {
            return Err(Error::InvalidArgument {
                op: "dropout",
                message: format!("probability p = {p} is outside [0, 1); p = 0 keeps everything"),
            });
        }
        let threshold = (f64::from(p) * 4_294_967_296.0)
            .round()
            .min(f64::from(u32::MAX)) as u32;
        Ok(DropoutMask {
            key,
            step,
            threshold,
            scale_bits: (1.0f32 / (1.0f32 - p)).to_bits(),
        })
    }

    /// The factor of a kept element, `1 / (1 − p)`.
    pub fn scale(&self) -> f32 {
        f32::from_bits(self.scale_bits)
    }

    /// The key as Philox's two 32-bit words (low first).
    pub fn key_words(&self) -> [u32; 2] {
        [self.key as u32, (self.key >> 32) as u32]
    }

    /// The step as the counter's two high words (low first).
    pub fn step_words(&self) -> [u32; 2] {
        [self.step as u32, (self.step >> 32) as u32]
    }

    /// The factors of elements `4·block .. 4·block + 4`: `1 / (1 − p)` or 0.
    pub fn factors(&self, block: u32) -> [f32; 4] {
        let [s0, s1] = self.step_words();
        let draws = philox4x32_10([block, 0, s0, s1], self.key_words());
        draws.map(|draw| {
            if draw >= self.threshold {
                self.scale()
            } else {
                0.0
            }
        })
    }

    /// The reference: `x · factor` for each element, as every backend must compute it.
    pub fn apply(&self, x: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0; x.len()];
        self.apply_from(0, x, &mut out);
        out
    }

    /// [`DropoutMask::apply`] on a part of a tensor that starts at element `4 · first_block`:
    /// `out[i] = x[i] · factor`, so parts computed apart give the whole's bits.
    pub fn apply_from(&self, first_block: u32, x: &[f32], out: &mut [f32]) {
        let blocks = x.chunks(4).zip(out.chunks_mut(4));
        for (i, (x, out)) in blocks.enumerate() {
            let block = first_block.wrapping_add(i as u32);
            let factors = self.factors(block);
            for ((out, &v), f) in out.iter_mut().zip(x).zip(factors) {
                *out = v * f;
            }
        }
    }
}

/// The largest number of elements a mask covers: four per 32-bit block index.
pub const MAX_DROPOUT_LEN: usize = 4 * (u32::MAX as usize + 1);

/// Dropout on a backend. There is no default body: the draw is a primitive each backend
/// computes (`cpu/dropout.rs`, `ember-wgpu`'s `dropout.wgsl`).
pub trait DropoutOp<B: Backend> {
    /// `x · factor` element-wise, the factors of `mask` (see [`DropoutMask::factors`]).
    fn dropout(backend: &B, x: &B::Storage, mask: &DropoutMask) -> Result<B::Storage>;
}

impl<B: Backend> Tensor<B> {
    /// Dropout in training mode: each element zeroed or scaled by `1 / (1 − p)` as `mask`
    /// draws it. Its gradient is the same op on the output gradient.
    pub fn dropout(&self, mask: &DropoutMask) -> Result<Self> {
        if self.numel() > MAX_DROPOUT_LEN {
            return Err(Error::InvalidArgument {
                op: "dropout",
                message: format!(
                    "a tensor of shape {} has more than {MAX_DROPOUT_LEN} elements, the most one \
                     mask covers",
                    self.shape()
                ),
            });
        }
        let y = B::dropout(self.backend(), self.storage(), mask)?;
        Tensor::from_storage(y, self.shape().clone(), self.backend())
    }
}

/// Dropout cases: probabilities 0 to 0.9, lengths that end mid-block, a million elements, and
/// steps and keys with both halves set.
pub(crate) fn conformance_cases() -> Vec<OpCase> {
    let mask = |p: f32, key: u64, step: u64| {
        DropoutMask::new(p, key, step).expect("a probability in [0, 1)")
    };
    let cases: [(&'static str, Vec<usize>, DropoutMask); 7] = [
        ("p 0.3, 1 element", vec![1], mask(0.3, 7, 0)),
        ("p 0.3, 7 elements", vec![7], mask(0.3, 7, 1)),
        ("p 0, keeps all", vec![33, 5], mask(0.0, 1, 2)),
        (
            "p 0.5, 100x512",
            vec![100, 512],
            mask(0.5, 0xDEAD_BEEF_0123_4567, 9),
        ),
        (
            "p 0.9, high step and key",
            vec![4099],
            mask(0.9, u64::MAX, (1 << 40) + 3),
        ),
        ("p 0.3, 1000x1001", vec![1000, 1001], mask(0.3, 777, 12_345)),
        ("p 0.5, 100x625 (fc1)", vec![100, 625], mask(0.5, 42, 599)),
    ];
    cases
        .into_iter()
        .map(|(class, dims, mask)| OpCase {
            call: OpCall::Dropout(mask),
            class,
            inputs: vec![CaseInput::new(&dims, CaseValues::Uniform(-3.0, 3.0))],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p_outside_zero_to_one_is_an_error_naming_it() {
        for p in [-0.1, 1.0, 1.5, f32::NAN] {
            let err = DropoutMask::new(p, 0, 0).unwrap_err().to_string();
            assert!(err.contains("dropout") && err.contains("[0, 1)"), "{err}");
        }
    }

    #[test]
    fn the_threshold_and_scale_follow_p() {
        let half = DropoutMask::new(0.5, 0, 0).unwrap();
        assert_eq!(half.threshold, 1 << 31);
        assert_eq!(half.scale(), 2.0);
        let none = DropoutMask::new(0.0, 0, 0).unwrap();
        assert_eq!((none.threshold, none.scale()), (0, 1.0));
        let x = [1.5f32; 9];
        assert_eq!(none.apply(&x), x);
    }

    #[test]
    fn masks_differ_by_step_and_key_and_repeat_for_the_same_ones() {
        let x = vec![1.0f32; 1000];
        let draw = |key, step| DropoutMask::new(0.5, key, step).unwrap().apply(&x);
        assert_eq!(draw(1, 5), draw(1, 5));
        assert_ne!(draw(1, 5), draw(1, 6));
        assert_ne!(draw(1, 5), draw(2, 5));
        // The step's high word matters too.
        assert_ne!(draw(1, 5), draw(1, 5 + (1 << 32)));
    }

    #[test]
    fn element_i_uses_word_i_mod_4_of_block_i_div_4() {
        let mask = DropoutMask::new(0.5, 0xA409_3822_299F_31D0, 0x0370_7344_1319_8A2E).unwrap();
        let draws = philox4x32_10([5, 0, 0x1319_8A2E, 0x0370_7344], [0x299F_31D0, 0xA409_3822]);
        let expected: Vec<f32> = draws
            .iter()
            .map(|&d| if d >= 1 << 31 { 2.0 } else { 0.0 })
            .collect();
        assert_eq!(mask.factors(5).to_vec(), expected);
        let x = vec![1.0f32; 24];
        assert_eq!(mask.apply(&x)[20..24], expected[..]);
    }

    #[test]
    fn nan_and_infinity_propagate_through_a_dropped_element_as_in_pytorch() {
        // PyTorch multiplies by a noise tensor: NaN · 0 is NaN.
        let mask = DropoutMask::new(0.5, 3, 0).unwrap();
        let y = mask.apply(&[f32::NAN; 8]);
        assert!(y.iter().all(|v| v.is_nan()));
    }
}
