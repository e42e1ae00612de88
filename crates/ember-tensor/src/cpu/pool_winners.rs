//! The gradients of a convolution followed by a max pooling, computed from the pooling's
//! winners alone.
//!
//! The gradient of the convolution's output is zero except where a window's maximum came
//! from: one position in four for the lab's 2×2 pool, and a pooled gradient of zero (half of
//! them behind a ReLU) puts nothing anywhere. The convolution's backward pass is linear in that
//! gradient, so each winner `(o, oy, ox)` with gradient `g` adds, for every tap `(i, j)` and
//! input channel `c`,
//!
//! - `g · x[c, y, x]` to `dW[o, c, i, j]`, and
//! - `g · W[o, c, i, j]` to `dx[c, y, x]`,
//!
//! where `(y, x)` is the input position the tap reads. Walking the winners does a quarter (or
//! less) of the multiplications of the dense product, whose other terms are all zero. Both
//! sums run over channels as vectors, so the image is laid out channel-last and padded
//! (`[H + 2·ph, W + 2·pw, C]`), the weight `[O, kh·kw, C]`, and the input gradient is summed
//! the same way and moved back to `[C, H, W]` at the end.
//!
//! The terms are those of the dense sums (less the zero ones), added in another order: per
//! output channel, per tap, winners in order. The batch is summed in the convolution's fixed
//! parts, so the bits do not depend on the number of threads. A zero pooled gradient adds no
//! term even where the input holds an infinity or a NaN, as the zero terms of the dense sums
//! would spread it.

use std::mem::MaybeUninit;

use super::conv::{WEIGHT_GRADIENT_PARTS, not_contiguous};
use super::simd::multiversion;
use super::{CpuStorage, claim_each};
use crate::Result;
use crate::ops::Window2d;
use crate::ops::conv2d::InputAndWeight;

/// Channels below this many leave the dense product faster (a vector needs eight).
const MIN_CHANNELS: usize = 8;

/// Whether the winners' walk beats the dense product: enough input channels to fill vectors,
/// and a pooling that keeps at most half the convolution's outputs.
pub(super) fn applies(conv: &Window2d, pool: &Window2d) -> bool {
    let outputs = pool.input[0] * pool.input[1];
    let winners = pool.output[0] * pool.output[1];
    conv.channels >= MIN_CHANNELS && 2 * winners <= outputs
}

/// The input gradient (if `input_wanted`) and the weight gradient (if `weight_wanted`) of a
/// convolution (`conv`) followed by a max pooling (`pool`), from the pooled gradient and the
/// pooling's winning taps.
pub(super) fn backward(
    (x, weight): (&CpuStorage, &CpuStorage),
    (grad, taps): (&CpuStorage, &CpuStorage),
    (conv, pool): (&Window2d, &Window2d),
    (input_wanted, weight_wanted): (bool, bool),
) -> Result<InputAndWeight<CpuStorage>> {
    let (x, weight) = (
        x.as_slice().ok_or_else(not_contiguous)?,
        weight.as_slice().ok_or_else(not_contiguous)?,
    );
    let (grad, taps) = (
        grad.as_slice().ok_or_else(not_contiguous)?,
        taps.as_slice().ok_or_else(not_contiguous)?,
    );
    let layout = Layout::of(conv, pool.channels);
    let batch = conv.batch;
    let image_len = conv.input_len() / batch.max(1);
    let pooled_len = pool.channels * pool.output[0] * pool.output[1];
    let weight_len = layout.out_channels * layout.offsets.len() * layout.channels;
    let weight_t = input_wanted.then(|| layout.channel_last_weight(weight));

    let parts = batch.clamp(1, WEIGHT_GRADIENT_PARTS);
    let part_images = |p: usize| p * batch / parts..(p + 1) * batch / parts;
    let dx_len = if input_wanted { conv.input_len() } else { 0 };
    let mut dx = Vec::with_capacity(dx_len);
    let mut items = Vec::with_capacity(parts);
    let mut rest = &mut dx.spare_capacity_mut()[..dx_len];
    for p in 0..parts {
        let len = if input_wanted {
            part_images(p).len() * image_len
        } else {
            0
        };
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(len);
        items.push((Vec::new(), head));
        rest = tail;
    }

    claim_each(&mut items, Scratch::default, |s, p, (sum, dx)| {
        sum.resize(if weight_wanted { weight_len } else { 0 }, 0.0);
        for (i, n) in part_images(p).enumerate() {
            let pooled = n * pooled_len..(n + 1) * pooled_len;
            s.winners
                .collect((&grad[pooled.clone()], &taps[pooled]), pool, &layout);
            if weight_wanted {
                layout.pad_channel_last(&x[n * image_len..][..image_len], &mut s.image);
                add_weight_terms(&s.image, &s.winners, &layout, sum);
            }
            if let Some(weight_t) = &weight_t {
                s.spread.clear();
                s.spread.resize(layout.padded_len(), 0.0);
                add_input_terms(weight_t, &s.winners, &layout, &mut s.spread);
                layout.crop_channel_first(&s.spread, &mut dx[i * image_len..][..image_len]);
            }
        }
    });
    let (sums, _): (Vec<Vec<f32>>, Vec<_>) = items.into_iter().unzip();
    // SAFETY: every part wrote the input gradients of all its images.
    unsafe { dx.set_len(dx_len) };
    let grad_weight = weight_wanted.then(|| layout.sum_channel_first(&sums));
    let grad_input = input_wanted.then(|| CpuStorage::from(dx));
    Ok((grad_input, grad_weight))
}

/// Each thread's buffers.
#[derive(Default)]
struct Scratch {
    winners: Winners,
    /// One image, padded and channel-last.
    image: Vec<f32>,
    /// One image's input gradient, padded and channel-last.
    spread: Vec<f32>,
}

/// The channel-last layouts the winners are walked in.
struct Layout {
    channels: usize,
    out_channels: usize,
    /// `[H, W]` of the input and its padding.
    input: [usize; 2],
    padding: [usize; 2],
    /// Width of the padded input.
    padded_width: usize,
    /// Stride of the convolution's window.
    stride: [usize; 2],
    /// Where each tap `(i, j)` of a window reads, from the window's first tap, in floats of the
    /// padded channel-last image.
    offsets: Vec<usize>,
}

impl Layout {
    fn of(conv: &Window2d, out_channels: usize) -> Self {
        let o = &conv.options;
        let channels = conv.channels;
        let padded_width = conv.input[1] + 2 * o.padding[1];
        let offsets = (0..o.kernel[0])
            .flat_map(|i| {
                (0..o.kernel[1])
                    .map(move |j| (i * o.dilation[0] * padded_width + j * o.dilation[1]) * channels)
            })
            .collect();
        Layout {
            channels,
            out_channels,
            input: conv.input,
            padding: o.padding,
            padded_width,
            stride: o.stride,
            offsets,
        }
    }

    /// Floats of a padded channel-last image.
    fn padded_len(&self) -> usize {
        (self.input[0] + 2 * self.padding[0]) * self.padded_width * self.channels
    }

    /// Where the window of output position `(oy, ox)` starts in the padded channel-last image.
    fn window_start(&self, oy: usize, ox: usize) -> usize {
        (oy * self.stride[0] * self.padded_width + ox * self.stride[1]) * self.channels
    }

    /// Where input position `(y, x)` lies in the padded channel-last image.
    fn pixel(&self, y: usize, x: usize) -> usize {
        ((y + self.padding[0]) * self.padded_width + x + self.padding[1]) * self.channels
    }

    /// `image` (`[C, H, W]`) padded with zeros and laid out `[H + 2·ph, W + 2·pw, C]` in `out`.
    fn pad_channel_last(&self, image: &[f32], out: &mut Vec<f32>) {
        let [h, w] = self.input;
        let channels = self.channels;
        out.clear();
        out.resize(self.padded_len(), 0.0);
        for (c, plane) in image.chunks_exact((h * w).max(1)).enumerate() {
            for (y, row) in plane.chunks_exact(w.max(1)).enumerate() {
                let start = self.pixel(y, 0) + c;
                for (x, &v) in row.iter().enumerate() {
                    out[start + x * channels] = v;
                }
            }
        }
    }

    /// The unpadded part of a padded channel-last image, written `[C, H, W]` into `out`.
    fn crop_channel_first(&self, padded: &[f32], out: &mut [MaybeUninit<f32>]) {
        let [h, w] = self.input;
        let channels = self.channels;
        for (c, plane) in out.chunks_exact_mut((h * w).max(1)).enumerate() {
            for (y, row) in plane.chunks_exact_mut(w.max(1)).enumerate() {
                let start = self.pixel(y, 0) + c;
                for (x, to) in row.iter_mut().enumerate() {
                    *to = MaybeUninit::new(padded[start + x * channels]);
                }
            }
        }
    }

    /// The weight `[O, C, kh, kw]` laid out `[O, kh·kw, C]`.
    fn channel_last_weight(&self, weight: &[f32]) -> Vec<f32> {
        let (channels, taps) = (self.channels, self.offsets.len());
        let mut out = vec![0.0; weight.len()];
        for (to, from) in out
            .chunks_exact_mut((taps * channels).max(1))
            .zip(weight.chunks_exact((taps * channels).max(1)))
        {
            for (c, kernel) in from.chunks_exact(taps.max(1)).enumerate() {
                for (t, &v) in kernel.iter().enumerate() {
                    to[t * channels + c] = v;
                }
            }
        }
        out
    }

    /// The parts' sums (each `[O, kh·kw, C]`) added in order, laid out `[O, C, kh, kw]`.
    fn sum_channel_first(&self, sums: &[Vec<f32>]) -> CpuStorage {
        let (channels, taps) = (self.channels, self.offsets.len());
        let mut out = vec![0.0; self.out_channels * channels * taps];
        let Some((first, rest)) = sums.split_first() else {
            return CpuStorage::from(out);
        };
        for (o, to) in out.chunks_exact_mut((channels * taps).max(1)).enumerate() {
            for (c, kernel) in to.chunks_exact_mut(taps.max(1)).enumerate() {
                for (t, v) in kernel.iter_mut().enumerate() {
                    let at = (o * taps + t) * channels + c;
                    *v = rest.iter().fold(first[at], |total, part| total + part[at]);
                }
            }
        }
        CpuStorage::from(out)
    }
}

/// One image's winners with a non-zero gradient, output channel by output channel: each one's
/// gradient and where its window starts in the padded channel-last image.
#[derive(Default)]
struct Winners {
    grads: Vec<f32>,
    starts: Vec<usize>,
    /// Winners of output channel `o`: `bounds[o]..bounds[o + 1]`.
    bounds: Vec<usize>,
}

impl Winners {
    /// Collects the winners of one image's pooled gradient and taps (`[O, PH, PW]`). A tap that
    /// names no position of the convolution's output (the pooling's padding, or a value no
    /// pooling gives) adds nothing.
    fn collect(&mut self, (grad, taps): (&[f32], &[f32]), pool: &Window2d, layout: &Layout) {
        self.grads.clear();
        self.starts.clear();
        self.bounds.clear();
        self.bounds.push(0);
        let [ph, pw] = pool.output;
        let (kw, pool_taps) = (pool.options.kernel[1].max(1), pool.taps());
        let windows = (ph * pw).max(1);
        for (grad, taps) in grad.chunks_exact(windows).zip(taps.chunks_exact(windows)) {
            let rows = grad
                .chunks_exact(pw.max(1))
                .zip(taps.chunks_exact(pw.max(1)));
            for (py, (grad, taps)) in rows.enumerate() {
                for (px, (&g, &tap)) in grad.iter().zip(taps).enumerate() {
                    let tap = tap as usize;
                    if g == 0.0 || tap >= pool_taps {
                        continue;
                    }
                    if let Some((oy, ox)) = pool.source(py, px, tap / kw, tap % kw) {
                        self.grads.push(g);
                        self.starts.push(layout.window_start(oy, ox));
                    }
                }
            }
            self.bounds.push(self.grads.len());
        }
    }

    /// Each output channel's winners, in order: their gradients and window starts.
    fn per_channel(&self) -> impl Iterator<Item = (&[f32], &[usize])> {
        self.bounds
            .windows(2)
            .map(|b| (&self.grads[b[0]..b[1]], &self.starts[b[0]..b[1]]))
    }
}

/// Channels summed as one vector run: four AVX2 vectors, kept in registers across winners.
const RUN: usize = 32;

/// `sum[o, t, c] += Σ_winners g · image[start + offsets[t] + c]` (`sum` `[O, kh·kw, C]`),
/// output channel by output channel, tap by tap, winners in order.
fn add_weight_terms(image: &[f32], winners: &Winners, layout: &Layout, sum: &mut [f32]) {
    let (channels, offsets) = (layout.channels.max(1), &layout.offsets);
    let kernels = sum.chunks_exact_mut((offsets.len() * channels).max(1));
    for (kernel, (grads, starts)) in kernels.zip(winners.per_channel()) {
        for (row, &offset) in kernel.chunks_exact_mut(channels).zip(offsets) {
            add_window_terms(image, grads, starts, offset, row);
        }
    }
}

multiversion! {
    /// `row[c] += Σ_k grads[k] · image[starts[k] + offset + c]`, `RUN` channels at a time
    /// held in registers: a multiplication and an addition per term (the same bits at every
    /// level).
    fn add_window_terms(
        image: &[f32],
        grads: &[f32],
        starts: &[usize],
        offset: usize,
        row: &mut [f32],
    ) {
        let mut runs = row.chunks_exact_mut(RUN);
        for (r, run) in runs.by_ref().enumerate() {
            let mut acc = [0.0f32; RUN];
            acc.copy_from_slice(run);
            for (&g, &start) in grads.iter().zip(starts) {
                // Every window lies inside the padded image: the fallback is never taken.
                let x = image[start + offset + r * RUN..]
                    .first_chunk::<RUN>()
                    .unwrap_or(&[0.0; RUN]);
                for (a, &x) in acc.iter_mut().zip(x) {
                    *a += g * x;
                }
            }
            run.copy_from_slice(&acc);
        }
        let first = row.len() - row.len() % RUN;
        for (c, v) in row[first..].iter_mut().enumerate() {
            for (&g, &start) in grads.iter().zip(starts) {
                *v += g * image[start + offset + first + c];
            }
        }
    }
}

/// `spread[start + offsets[t] + c] += g · weight[o, t, c]` for every winner of every output
/// channel `o` (`weight` `[O, kh·kw, C]`), output channel by output channel, tap by tap,
/// winners in order.
fn add_input_terms(weight: &[f32], winners: &Winners, layout: &Layout, spread: &mut [f32]) {
    let (channels, offsets) = (layout.channels.max(1), &layout.offsets);
    let kernels = weight.chunks_exact((offsets.len() * channels).max(1));
    for (kernel, (grads, starts)) in kernels.zip(winners.per_channel()) {
        for (row, &offset) in kernel.chunks_exact(channels).zip(offsets) {
            spread_window_terms(row, grads, starts, offset, spread);
        }
    }
}

multiversion! {
    /// `spread[starts[k] + offset + c] += grads[k] · row[c]` for every winner `k`, `RUN`
    /// channels of `row` at a time held in registers: a multiplication and an addition per
    /// term (the same bits at every level).
    fn spread_window_terms(
        row: &[f32],
        grads: &[f32],
        starts: &[usize],
        offset: usize,
        spread: &mut [f32],
    ) {
        let mut runs = row.chunks_exact(RUN);
        for (r, run) in runs.by_ref().enumerate() {
            let mut w = [0.0f32; RUN];
            w.copy_from_slice(run);
            for (&g, &start) in grads.iter().zip(starts) {
                // Every window lies inside the padded image: the fallback is never taken.
                if let Some(to) = spread[start + offset + r * RUN..].first_chunk_mut::<RUN>() {
                    for (t, &w) in to.iter_mut().zip(&w) {
                        *t += g * w;
                    }
                }
            }
        }
        let first = row.len() - row.len() % RUN;
        for (c, &w) in row[first..].iter().enumerate() {
            for (&g, &start) in grads.iter().zip(starts) {
                spread[start + offset + first + c] += g * w;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{add_window_terms, spread_window_terms};
    use crate::cpu::simd::{at_level, runnable_levels};

    fn bits(values: &[f32]) -> Vec<u32> {
        values.iter().map(|v| v.to_bits()).collect()
    }

    /// Both walks give, at every instruction set this CPU runs, the bits of a plain loop that
    /// adds each winner's product in order: 40 channels (one vector run and a tail), and one
    /// window named twice (its terms added in the winners' order).
    #[test]
    fn window_terms_are_the_same_bits_at_every_level() {
        let channels = 40;
        let image: Vec<f32> = (0..channels * 50)
            .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        let row: Vec<f32> = (0..channels).map(|c| c as f32 * 0.1 - 1.5).collect();
        let grads = [0.5f32, -1.25, 3.0];
        let starts = [0, channels * 7, 0];
        let offset = channels * 3;

        let mut want_sum = row.clone();
        let mut want_spread = image.clone();
        for (c, sum) in want_sum.iter_mut().enumerate() {
            for (&g, &start) in grads.iter().zip(&starts) {
                *sum += g * image[start + offset + c];
                want_spread[start + offset + c] += g * row[c];
            }
        }
        for level in runnable_levels() {
            at_level(level, || {
                let mut sum = row.clone();
                add_window_terms(&image, &grads, &starts, offset, &mut sum);
                assert_eq!(bits(&sum), bits(&want_sum), "{level:?}: weight terms");
                let mut spread = image.clone();
                spread_window_terms(&row, &grads, &starts, offset, &mut spread);
                assert_eq!(bits(&spread), bits(&want_spread), "{level:?}: input terms");
            });
        }
    }
}
