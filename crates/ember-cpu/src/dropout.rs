//! Dropout on the CPU: the mask of [`DropoutMask::apply`], drawn eight Philox blocks (32
//! elements) at a time in lanes the compiler vectorises (`multiversion!`: AVX2's 32×32→64-bit
//! multiplies), the tail by the reference. A large tensor is split at a block boundary over the
//! two threads. Each element's factor depends only on its index, so the bits are the
//! reference's whichever way the work is cut.

use super::simd::multiversion;
use super::{Cpu, CpuStorage};
use crate::profile::{Category, timed};
use ember_tensor::ops::{DropoutMask, DropoutOp};
use ember_tensor::rng::{PHILOX_M, PHILOX_W};
use ember_tensor::{Error, Result};

use crate::parallel;

/// Below this many elements one thread draws the whole mask (a join costs a few µs).
const SPLIT_MIN_LEN: usize = 1 << 14;
/// Philox blocks drawn side by side.
const LANES: usize = 8;
/// Elements those blocks decide.
const LANE_ELEMENTS: usize = 4 * LANES;

impl DropoutOp<Cpu> for Cpu {
    fn dropout(_backend: &Cpu, x: &CpuStorage, mask: &DropoutMask) -> Result<CpuStorage> {
        timed(Category::Elementwise, || dropout(x, mask))
    }
}

fn dropout(x: &CpuStorage, mask: &DropoutMask) -> Result<CpuStorage> {
    {
        let x = x.as_slice().ok_or_else(|| Error::Device {
            op: "dropout",
            message: "input is not contiguous".to_string(),
        })?;
        let mut out = vec![0.0f32; x.len()];
        if x.len() < SPLIT_MIN_LEN {
            apply(mask, 0, x, &mut out);
            return Ok(CpuStorage::from(out));
        }
        // A multiple of 4, so the second half starts at a block.
        let half = x.len() / 8 * 4;
        let (first_x, second_x) = x.split_at(half);
        let (first_out, second_out) = out.split_at_mut(half);
        let second_block = (half / 4) as u32;
        parallel::join(
            || apply(mask, 0, first_x, first_out),
            move || apply(mask, second_block, second_x, second_out),
        );
        Ok(CpuStorage::from(out))
    }
}

/// `out = x · factor` for the elements from block `first_block` on: whole groups of
/// [`LANES`] blocks in lanes, the rest by [`DropoutMask::apply_from`].
fn apply(mask: &DropoutMask, first_block: u32, x: &[f32], out: &mut [f32]) {
    let lanes_len = x.len() / LANE_ELEMENTS * LANE_ELEMENTS;
    let (lane_x, tail_x) = x.split_at(lanes_len);
    let (lane_out, tail_out) = out.split_at_mut(lanes_len);
    apply_lanes(
        mask.key_words(),
        mask.step_words(),
        mask.threshold,
        mask.scale(),
        first_block,
        lane_x,
        lane_out,
    );
    let tail_block = first_block.wrapping_add((lanes_len / 4) as u32);
    mask.apply_from(tail_block, tail_x, tail_out);
}

multiversion! {
    /// Philox4x32-10 on [`LANES`] consecutive blocks at once, structure of arrays, over `x`
    /// (a multiple of [`LANE_ELEMENTS`] long) from block `first_block`.
    fn apply_lanes(
        key: [u32; 2],
        step: [u32; 2],
        threshold: u32,
        scale: f32,
        first_block: u32,
        x: &[f32],
        out: &mut [f32],
    ) {
        let groups = x.chunks_exact(LANE_ELEMENTS).zip(out.chunks_exact_mut(LANE_ELEMENTS));
        for (group, (x, out)) in groups.enumerate() {
            let base = first_block.wrapping_add((group * LANES) as u32);
            let mut c = [[0u32; LANES]; 4];
            for (lane, c0) in c[0].iter_mut().enumerate() {
                *c0 = base.wrapping_add(lane as u32);
            }
            c[2] = [step[0]; LANES];
            c[3] = [step[1]; LANES];
            let mut k = key;
            for round in 0..10 {
                if round > 0 {
                    k = [k[0].wrapping_add(PHILOX_W[0]), k[1].wrapping_add(PHILOX_W[1])];
                }
                let mut next = [[0u32; LANES]; 4];
                for lane in 0..LANES {
                    let p0 = u64::from(PHILOX_M[0]) * u64::from(c[0][lane]);
                    let p1 = u64::from(PHILOX_M[1]) * u64::from(c[2][lane]);
                    next[0][lane] = (p1 >> 32) as u32 ^ c[1][lane] ^ k[0];
                    next[1][lane] = p1 as u32;
                    next[2][lane] = (p0 >> 32) as u32 ^ c[3][lane] ^ k[1];
                    next[3][lane] = p0 as u32;
                }
                c = next;
            }
            // Element 4·lane + word takes word `word` of its lane's block.
            for (i, (out, &v)) in out.iter_mut().zip(x).enumerate() {
                let factor = if c[i % 4][i / 4] >= threshold { scale } else { 0.0 };
                *out = v * factor;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::{at_level, runnable_levels};

    #[test]
    fn lanes_give_the_references_bits_at_every_level_and_offset() {
        let x: Vec<f32> = (0..1000).map(|i| i as f32 * 0.37 - 100.0).collect();
        for (p, key, step) in [(0.3, 7u64, 0u64), (0.9, u64::MAX, (1 << 40) + 3)] {
            let mask = DropoutMask::new(p, key, step).unwrap();
            for level in runnable_levels() {
                for (first_block, len) in [(0u32, 1000usize), (5, 999), (u32::MAX - 3, 96)] {
                    let mut out = vec![0.0; len];
                    at_level(level, || apply(&mask, first_block, &x[..len], &mut out));
                    let mut expected = vec![0.0; len];
                    mask.apply_from(first_block, &x[..len], &mut expected);
                    assert_eq!(out, expected, "{level:?}, block {first_block}, {len}");
                }
            }
        }
    }

    #[test]
    fn about_p_of_the_elements_are_dropped_and_the_rest_scaled() {
        let x = vec![1.0f32; 100_000];
        for p in [0.1f32, 0.3, 0.5, 0.9] {
            let mask = DropoutMask::new(p, 777, 3).unwrap();
            let y = ember_tensor::Tensor::from_slice(&x, [x.len()], &crate::Cpu)
                .unwrap()
                .dropout(&mask)
                .unwrap()
                .to_vec()
                .unwrap();
            let dropped = y.iter().filter(|&&v| v == 0.0).count() as f64 / x.len() as f64;
            // 100,000 Bernoulli draws: the standard deviation of the share is at most 0.0016.
            assert!(
                (dropped - f64::from(p)).abs() < 0.01,
                "p {p}: dropped {dropped}"
            );
            assert!(y.iter().all(|&v| v == 0.0 || v == 1.0 / (1.0 - p)));
            // The CPU splits a tensor this large over two threads: the same bits as one pass.
            assert_eq!(y, mask.apply(&x));
        }
    }
}
