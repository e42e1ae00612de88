//! Splitting a pass over the two threads, and copying short runs: the helpers every CPU pass
//! shares. Every output element is computed by one thread in one order, so the splits change
//! no bit.

/// Below this many output elements a split pass stays on one thread.
pub(crate) const PARALLEL_MIN_LEN: usize = 1 << 15;

/// Runs `per_block(first, chunk)` over `out` split between the two threads at a multiple of
/// `block_len` (the work of `blocks` independent blocks: rows of an unfolded matrix, channels
/// of a folded image, planes of a pooled one). Each block is computed whole by one thread, so
/// the result does not depend on the split.
pub(crate) fn split_blocks<T: Send>(
    out: &mut [T],
    blocks: usize,
    block_len: usize,
    per_block: impl Fn(usize, &mut [T]) + Sync,
) {
    if out.len() < PARALLEL_MIN_LEN || blocks < 2 {
        per_block(0, out);
        return;
    }
    let half = blocks / 2;
    let (first, second) = out.split_at_mut(half * block_len);
    let per_block = &per_block;
    crate::parallel::join(|| per_block(0, first), move || per_block(half, second));
}

/// Calls `per_item(state, index, item)` for every item, the two threads claiming items one at
/// a time from a counter: a thread slowed down (a busy machine) simply takes fewer. Each thread
/// makes its own `state` (scratch buffers) with `init` once it claims its first item. The
/// items are disjoint, so what is written does not depend on which thread wrote it.
pub(crate) fn claim_each<T: Send, S>(
    items: &mut [T],
    init: impl Fn() -> S + Sync,
    per_item: impl Fn(&mut S, usize, &mut T) + Sync,
) {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let base = crate::parallel::SendPtr::new(items.as_mut_ptr());
    let count = items.len();
    let work = || {
        let mut state = None;
        loop {
            let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if index >= count {
                break;
            }
            let state = state.get_or_insert_with(&init);
            // SAFETY: `index < count` lies inside `items`, and the counter hands each index to
            // one thread only, so no two threads hold the same item.
            let item = unsafe { &mut *base.get().add(index) };
            per_item(state, index, item);
        }
    };
    if count >= 2 {
        crate::parallel::join(work, work);
    } else {
        work();
    }
}

/// `blocks · block_len` floats written by `per_block` as [`split_blocks`] splits them, without
/// zeroing them first (a pass over memory as long as the writing itself).
///
/// # Safety
/// `per_block(first, chunk)` must write every element of `chunk`.
pub(crate) unsafe fn written_in_blocks(
    blocks: usize,
    block_len: usize,
    per_block: impl Fn(usize, &mut [std::mem::MaybeUninit<f32>]) + Sync,
) -> Vec<f32> {
    let len = blocks * block_len;
    let mut out = Vec::with_capacity(len);
    split_blocks(
        &mut out.spare_capacity_mut()[..len],
        blocks,
        block_len,
        per_block,
    );
    // SAFETY: the caller's `per_block` wrote every one of the `len` elements.
    unsafe { out.set_len(len) };
    out
}

/// Element-wise passes shorter than this stay on one thread (below it the hand-off costs more
/// than a second core's share of the memory traffic saves).
const ELEMENTWISE_PARALLEL_MIN_LEN: usize = 1 << 16;

/// `len` floats written by `fill(range, out)`, which computes the elements `range` of the result
/// into `out`: long results in two halves, one per thread (split at a cache line), short ones
/// whole. Each element is computed alone, so the split changes no bit.
///
/// # Safety
/// `fill(range, out)` must write every element of `out` (which holds `range.len()`).
pub(crate) unsafe fn written_in_halves(
    len: usize,
    fill: impl Fn(std::ops::Range<usize>, &mut [std::mem::MaybeUninit<f32>]) + Sync,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(len);
    let spare = &mut out.spare_capacity_mut()[..len];
    if len < ELEMENTWISE_PARALLEL_MIN_LEN {
        fill(0..len, spare);
    } else {
        let half = len / 2 / 16 * 16;
        let (first, second) = spare.split_at_mut(half);
        let fill = &fill;
        crate::parallel::join(|| fill(0..half, first), move || fill(half..len, second));
    }
    // SAFETY: the caller's `fill` wrote every one of the `len` elements.
    unsafe { out.set_len(len) };
    out
}

/// `dst[k] = wrap(src[k])` for equal lengths. Short runs (a 14-pixel line of an image, the
/// last columns of a packed strip) are at most two overlapping fixed-size moves, inline: a loop
/// of copies compiles to a call to `memcpy`, which costs more than such a copy.
#[inline(always)]
pub(crate) fn copy_floats<T: Copy>(dst: &mut [T], src: &[f32], wrap: impl Fn(f32) -> T) {
    /// Copies `B` elements at `at`.
    #[inline(always)]
    fn block<const B: usize, T: Copy>(
        dst: &mut [T],
        src: &[f32],
        at: usize,
        wrap: &impl Fn(f32) -> T,
    ) {
        if let (Some(dst), Some(src)) = (
            dst[at..].first_chunk_mut::<B>(),
            src[at..].first_chunk::<B>(),
        ) {
            *dst = src.map(wrap);
        }
    }
    let n = src.len().min(dst.len());
    match n {
        0 => {}
        1..4 => {
            dst[0] = wrap(src[0]);
            dst[n / 2] = wrap(src[n / 2]);
            dst[n - 1] = wrap(src[n - 1]);
        }
        4..8 => {
            block::<4, T>(dst, src, 0, &wrap);
            block::<4, T>(dst, src, n - 4, &wrap);
        }
        8..=16 => {
            block::<8, T>(dst, src, 0, &wrap);
            block::<8, T>(dst, src, n - 8, &wrap);
        }
        _ => {
            for (d, &s) in dst.iter_mut().zip(src) {
                *d = wrap(s);
            }
        }
    }
}

/// Deterministic values in `[-1, 1)` for the CPU passes' tests: `len` of them, a different
/// sequence per `seed`.
#[cfg(test)]
pub(crate) fn test_values(len: usize, seed: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919 + seed * 104_729) % 1000) as f32 / 500.0 - 1.0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::copy_floats;

    #[test]
    fn copy_floats_copies_every_length() {
        let src: Vec<f32> = (0..40).map(|i| i as f32 + 0.5).collect();
        for n in 0..=40 {
            let mut dst = vec![-1.0f32; n + 1];
            copy_floats(&mut dst[..n], &src[..n], |v| v);
            assert_eq!(&dst[..n], &src[..n], "length {n}");
            assert_eq!(dst[n], -1.0, "length {n} wrote past the end");
        }
    }
}
