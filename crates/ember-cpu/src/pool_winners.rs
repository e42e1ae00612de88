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
//! the same way and moved back to `[C, H, W]` at the end. In those layouts a row of a window
//! (`kw · C` floats, 96 for the lab CNN's second layer) lies in one run, which is held in
//! registers while the terms are added into it:
//!
//! - dW, output channel by output channel: each kernel row of `o` sums its winners in order;
//! - dx, position by position (the winners grouped by where their window starts): each row
//!   of the window sums the terms of the output channels that won there, in order, and is
//!   written back once.
//!
//! The terms are those of the dense sums (less the zero ones), added in another order. The
//! batch is summed in the convolution's fixed parts, so the bits do not depend on the number
//! of threads. A zero pooled gradient adds no term even where the input holds an infinity or
//! a NaN, as the zero terms of the dense sums would spread it.

use std::mem::MaybeUninit;

use super::conv::not_contiguous;
use super::conv_max_pool::BatchParts;
use super::simd::multiversion;
use super::{CpuStorage, claim_each};
use ember_tensor::Result;
use ember_tensor::ops::Window2d;
use ember_tensor::ops::conv2d::InputAndWeight;

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
    let weight_len = layout.out_channels * layout.kernel_len();
    let weight_t = input_wanted.then(|| layout.channel_last_weight(weight));
    let targets = Targets::of(pool, &layout);

    let parts = BatchParts::of(batch);
    let dx_len = if input_wanted { conv.input_len() } else { 0 };
    let mut dx = Vec::with_capacity(dx_len);
    let spare = &mut dx.spare_capacity_mut()[..dx_len];
    let mut items: Vec<_> = parts
        .split(spare, image_len)
        .into_iter()
        .map(|dx| (Vec::new(), dx))
        .collect();

    claim_each(&mut items, Scratch::default, |s, p, (sum, dx)| {
        sum.resize(if weight_wanted { weight_len } else { 0 }, 0.0);
        for (i, n) in parts.images(p).enumerate() {
            let pooled = n * pooled_len..(n + 1) * pooled_len;
            s.winners
                .collect((&grad[pooled.clone()], &taps[pooled]), &targets);
            if weight_wanted {
                layout.pad_channel_last(&x[n * image_len..][..image_len], &mut s.image);
                add_weight_terms(&s.image, &s.winners, &layout, sum);
            }
            if let Some(weight_t) = &weight_t {
                s.spread.clear();
                s.spread.resize(layout.padded_len(), 0.0);
                add_input_terms(weight_t, &s.winners, &targets, &layout, &mut s.spread);
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
    /// Taps of a window, `kh · kw`.
    taps: usize,
    /// A window's taps in runs that lie together in the padded channel-last image: a row of
    /// the kernel (`kw · C` floats) when the window is not dilated along the width, else one
    /// tap (`C` floats). `segments[k]` is where run `k` starts, from the window's first tap;
    /// in a weight or weight gradient laid out `[O, kh·kw, C]` it is floats
    /// `k·segment_len..(k+1)·segment_len` of an output channel's kernel.
    segments: Vec<usize>,
    segment_len: usize,
}

impl Layout {
    fn of(conv: &Window2d, out_channels: usize) -> Self {
        let o = &conv.options;
        let channels = conv.channels;
        let padded_width = conv.input[1] + 2 * o.padding[1];
        let [kh, kw] = o.kernel;
        let tap = |i: usize, j: usize| i * o.dilation[0] * padded_width + j * o.dilation[1];
        let (segments, segment_len) = if o.dilation[1] == 1 {
            let rows = (0..kh).map(|i| tap(i, 0) * channels).collect();
            (rows, kw * channels)
        } else {
            let taps = (0..kh).flat_map(|i| (0..kw).map(move |j| tap(i, j) * channels));
            (taps.collect(), channels)
        };
        Layout {
            channels,
            out_channels,
            input: conv.input,
            padding: o.padding,
            padded_width,
            stride: o.stride,
            taps: kh * kw,
            segments,
            segment_len,
        }
    }

    /// Floats of one output channel's kernel, `kh · kw · C`.
    fn kernel_len(&self) -> usize {
        self.taps * self.channels
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
        let (channels, taps) = (self.channels, self.taps);
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
        let (channels, taps) = (self.channels, self.taps);
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
    /// Each winner's position in the convolution's output (`oy · OW + ox`).
    positions: Vec<usize>,
    /// The same winners position by position.
    by_position: Positions,
}

/// Where the pooling's windows took their maxima from, worked out once per call.
struct Targets {
    /// Windows of one plane of the pooling, and taps of each.
    windows: usize,
    taps: usize,
    /// The convolution's output position (`oy · OW + ox`) read by tap `t` of window `w`, at
    /// `w · taps + t`, or `usize::MAX` for a padding tap.
    positions: Vec<usize>,
    /// Where each output position's window starts in the padded channel-last image.
    starts: Vec<usize>,
    /// Floats of one output channel's kernel (see [`Layout::kernel_len`]).
    kernel_len: usize,
}

impl Targets {
    fn of(pool: &Window2d, layout: &Layout) -> Self {
        let [ph, pw] = pool.output;
        let [kh, kw] = pool.options.kernel;
        let ow = pool.input[1];
        let positions = (0..ph * pw)
            .flat_map(|w| {
                (0..kh * kw).map(move |t| {
                    pool.source(w / pw.max(1), w % pw.max(1), t / kw, t % kw)
                        .map_or(usize::MAX, |(oy, ox)| oy * ow + ox)
                })
            })
            .collect();
        let starts = (0..pool.input[0] * ow)
            .map(|p| layout.window_start(p / ow.max(1), p % ow.max(1)))
            .collect();
        Targets {
            windows: ph * pw,
            taps: kh * kw,
            positions,
            starts,
            kernel_len: layout.kernel_len(),
        }
    }

    /// The output position window `window`'s tap `tap` (as the pooling gives it, an `f32`)
    /// names: `None` for a padding tap or a value no pooling gives.
    #[inline]
    fn position(&self, window: usize, tap: f32) -> Option<usize> {
        let tap = tap as usize;
        if tap >= self.taps {
            return None;
        }
        let p = *self.positions.get(window * self.taps + tap)?;
        (p != usize::MAX).then_some(p)
    }
}

/// Winners grouped by their position in the convolution's output, output channels in order
/// within a position.
#[derive(Default)]
struct Positions {
    /// Each winner's gradient, and where its output channel's kernel starts in a weight laid
    /// out `[O, kh·kw, C]`.
    grads: Vec<f32>,
    kernels: Vec<usize>,
    /// Winners at position `p`: `bounds[p]..bounds[p + 1]`.
    bounds: Vec<usize>,
    /// The next free slot of each position, while filling.
    next: Vec<usize>,
}

impl Positions {
    /// The positions that won at least one window: where each one's window starts (from
    /// `starts`, one per position), and its winners' gradients and kernels.
    fn groups<'a>(
        &'a self,
        starts: &'a [usize],
    ) -> impl Iterator<Item = (usize, &'a [f32], &'a [usize])> {
        self.bounds
            .windows(2)
            .zip(starts)
            .filter(|(b, _)| b[0] < b[1])
            .map(|(b, &start)| (start, &self.grads[b[0]..b[1]], &self.kernels[b[0]..b[1]]))
    }
}

impl Winners {
    /// Collects the winners of one image's pooled gradient and taps (`[O, PH, PW]`). A tap that
    /// names no position of the convolution's output (the pooling's padding, or a value no
    /// pooling gives) adds nothing.
    fn collect(&mut self, (grad, taps): (&[f32], &[f32]), targets: &Targets) {
        let windows = targets.windows.max(1);
        let cap = grad.len();
        self.grads.resize(cap, 0.0);
        self.starts.resize(cap, 0);
        self.positions.resize(cap, 0);
        self.bounds.clear();
        self.bounds.push(0);
        let (grads, starts, positions) = (
            &mut self.grads[..],
            &mut self.starts[..],
            &mut self.positions[..],
        );
        // Every pooled value written in place, kept (`len` moved on) when its gradient is not
        // zero: no branch on the gradient, which a ReLU makes zero at random.
        let mut len = 0;
        for (grad, taps) in grad.chunks_exact(windows).zip(taps.chunks_exact(windows)) {
            for (window, (&g, &tap)) in grad.iter().zip(taps).enumerate() {
                let Some(p) = targets.position(window, tap) else {
                    continue;
                };
                grads[len] = g;
                starts[len] = targets.starts[p];
                positions[len] = p;
                len += usize::from(g != 0.0);
            }
            self.bounds.push(len);
        }
        self.grads.truncate(len);
        self.starts.truncate(len);
        self.positions.truncate(len);
        self.group_by_position(targets.starts.len(), targets.kernel_len);
    }

    /// Fills `by_position` from the winners (a counting sort: channels stay in order).
    fn group_by_position(&mut self, positions: usize, kernel_len: usize) {
        let Winners {
            grads,
            bounds,
            positions: winner_positions,
            by_position: to,
            ..
        } = self;
        to.bounds.clear();
        to.bounds.resize(positions + 1, 0);
        for &p in winner_positions.iter() {
            to.bounds[p + 1] += 1;
        }
        for p in 0..positions {
            to.bounds[p + 1] += to.bounds[p];
        }
        let len = grads.len();
        to.grads.clear();
        to.grads.resize(len, 0.0);
        to.kernels.clear();
        to.kernels.resize(len, 0);
        // The next free slot of each position.
        to.next.clear();
        to.next.extend_from_slice(&to.bounds[..positions]);
        let (to_grads, to_kernels, next) =
            (&mut to.grads[..], &mut to.kernels[..], &mut to.next[..]);
        for (o, b) in bounds.windows(2).enumerate() {
            let winners = winner_positions[b[0]..b[1]].iter().zip(&grads[b[0]..b[1]]);
            for (&p, &g) in winners {
                let slot = next[p];
                next[p] += 1;
                to_grads[slot] = g;
                to_kernels[slot] = o * kernel_len;
            }
        }
    }

    /// Each output channel's winners, in order: their gradients and window starts.
    fn per_channel(&self) -> impl Iterator<Item = (&[f32], &[usize])> {
        self.bounds
            .windows(2)
            .map(|b| (&self.grads[b[0]..b[1]], &self.starts[b[0]..b[1]]))
    }
}

multiversion! {
    /// `sum[o, k·S + s] += Σ_winners g · image[start + segments[k] + s]` (`sum` `[O, kh·kw, C]`
    /// read as `[O, segments, S]`, `S` the segment length), output channel by output channel,
    /// segment by segment, winners in order.
    fn add_weight_terms(image: &[f32], winners: &Winners, layout: &Layout, sum: &mut [f32]) {
        let len = layout.segment_len.max(1);
        let kernels = sum.chunks_exact_mut(layout.kernel_len().max(1));
        for (kernel, (grads, starts)) in kernels.zip(winners.per_channel()) {
            for (row, &offset) in kernel.chunks_exact_mut(len).zip(&layout.segments) {
                add_terms(row, (image, offset), grads, starts);
            }
        }
    }
}

multiversion! {
    /// `spread[start + segments[k] + s] += Σ_winners g · weight[kernel + k·S + s]` for every
    /// position that won a window (`weight` `[O, kh·kw, C]`; `start` from `targets`), segment
    /// by segment, position by position, the position's winners (output channels) in order.
    fn add_input_terms(
        weight: &[f32],
        winners: &Winners,
        targets: &Targets,
        layout: &Layout,
        spread: &mut [f32],
    ) {
        let len = layout.segment_len;
        for (k, &offset) in layout.segments.iter().enumerate() {
            for (start, grads, kernels) in winners.by_position.groups(&targets.starts) {
                let row = &mut spread[start + offset..][..len];
                add_terms(row, (weight, k * len), grads, kernels);
            }
        }
    }
}

/// `row[s] += Σ_i grads[i] · source[starts[i] + at + s]`, in runs of up to 96 floats (twelve
/// AVX2 vectors) held in registers across the terms: a multiplication and an addition per
/// term, terms in order (the same bits at every level).
#[inline(always)]
fn add_terms(row: &mut [f32], (source, at): (&[f32], usize), grads: &[f32], starts: &[usize]) {
    let mut done = 0;
    while row.len() - done >= 96 {
        add_run::<96>(&mut row[done..], (source, at + done), grads, starts);
        done += 96;
    }
    while row.len() - done >= 32 {
        add_run::<32>(&mut row[done..], (source, at + done), grads, starts);
        done += 32;
    }
    while row.len() - done >= 8 {
        add_run::<8>(&mut row[done..], (source, at + done), grads, starts);
        done += 8;
    }
    while row.len() > done {
        add_run::<1>(&mut row[done..], (source, at + done), grads, starts);
        done += 1;
    }
}

/// The first `N` floats of `row` of [`add_terms`].
#[inline(always)]
fn add_run<const N: usize>(
    row: &mut [f32],
    (source, at): (&[f32], usize),
    grads: &[f32],
    starts: &[usize],
) {
    let Some(run) = row.first_chunk_mut::<N>() else {
        return;
    };
    let mut sum = *run;
    for (&g, &start) in grads.iter().zip(starts) {
        // Every window (and kernel) lies inside its buffer: the fallback is never taken.
        let x = source
            .get(start + at..)
            .and_then(<[f32]>::first_chunk::<N>)
            .unwrap_or(&[0.0; N]);
        for (s, &x) in sum.iter_mut().zip(x) {
            *s += g * x;
        }
    }
    *run = sum;
}

#[cfg(test)]
mod tests {
    use super::{Layout, Targets, Winners, add_input_terms, add_weight_terms};
    use crate::simd::{at_level, runnable_levels};
    use crate::test_values;
    use ember_tensor::Shape;
    use ember_tensor::ops::{Window2d, WindowOptions};

    fn bits(values: &[f32]) -> Vec<u32> {
        values.iter().map(|v| v.to_bits()).collect()
    }

    /// Both walks give, at every instruction set this CPU runs, the bits of plain loops that
    /// add the winners' terms in the documented order. 47 channels and 3-wide kernel rows
    /// make runs of 141 floats: one of each length the walks hold in registers (96, 32, 8)
    /// and a scalar tail; a third of the pooled gradients are zero.
    #[test]
    fn walks_are_the_same_bits_at_every_level() {
        let (channels, out_channels) = (47, 5);
        let conv = WindowOptions::new([3, 3]).padding([1, 1]);
        let conv = Window2d::new("test", &Shape::new([1, channels, 6, 8]), conv).unwrap();
        let pool = WindowOptions::new([2, 2]).stride([2, 2]);
        let pool = Window2d::new("test", &Shape::new([1, out_channels, 6, 8]), pool).unwrap();
        let layout = Layout::of(&conv, out_channels);
        let targets = Targets::of(&pool, &layout);
        let pooled = out_channels * 3 * 4;
        let grad: Vec<f32> = test_values(pooled, 1)
            .iter()
            .enumerate()
            .map(|(i, &g)| if i % 3 == 0 { 0.0 } else { g })
            .collect();
        let taps: Vec<f32> = (0..pooled).map(|i| ((i * 7) % 4) as f32).collect();
        let mut winners = Winners::default();
        winners.collect((&grad, &taps), &targets);
        assert_eq!(winners.grads.len(), pooled - pooled.div_ceil(3));

        let mut image = Vec::new();
        layout.pad_channel_last(&test_values(channels * 6 * 8, 2), &mut image);
        let weight = test_values(out_channels * layout.kernel_len(), 3);
        let (len, kernel_len) = (layout.segment_len, layout.kernel_len());

        // dW: output channel by output channel, segment by segment, winners in order.
        let mut want_sum = test_values(out_channels * kernel_len, 4);
        for (o, b) in winners.bounds.windows(2).enumerate() {
            for (k, &offset) in layout.segments.iter().enumerate() {
                for w in b[0]..b[1] {
                    let (g, start) = (winners.grads[w], winners.starts[w]);
                    for s in 0..len {
                        want_sum[o * kernel_len + k * len + s] += g * image[start + offset + s];
                    }
                }
            }
        }
        // dx: segment by segment, position by position, output channels in order.
        let mut want_spread = test_values(layout.padded_len(), 5);
        for (k, &offset) in layout.segments.iter().enumerate() {
            for p in 0..targets.starts.len() {
                for o in 0..out_channels {
                    let b = &winners.bounds[o..o + 2];
                    let Some(w) = (b[0]..b[1]).find(|&w| winners.positions[w] == p) else {
                        continue;
                    };
                    let (g, start) = (winners.grads[w], targets.starts[p]);
                    for s in 0..len {
                        let x = weight[o * kernel_len + k * len + s];
                        want_spread[start + offset + s] += g * x;
                    }
                }
            }
        }
        for level in runnable_levels() {
            at_level(level, || {
                let mut sum = test_values(out_channels * kernel_len, 4);
                add_weight_terms(&image, &winners, &layout, &mut sum);
                assert_eq!(bits(&sum), bits(&want_sum), "{level:?}: weight terms");
                let mut spread = test_values(layout.padded_len(), 5);
                add_input_terms(&weight, &winners, &targets, &layout, &mut spread);
                assert_eq!(bits(&spread), bits(&want_spread), "{level:?}: input terms");
            });
        }
    }
}
