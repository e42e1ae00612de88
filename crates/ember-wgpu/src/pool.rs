//! Device buffers: a pool that reuses freed allocations by size class, and the storage handle the
//! backend hands out.
//!
//! A buffer dropped by its last [`WgpuStorage`] is *retired*, not freed: commands recorded but
//! not yet submitted may still use it. Retired buffers become reusable when the pending batch is
//! submitted, so a reused buffer is only ever written by commands (or queue writes) that the
//! device executes after every earlier use.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

/// Usage of every storage buffer: bound to kernels, copied to read-back buffers, cleared.
const STORAGE_USAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

/// Smallest allocation, in bytes.
const MIN_CLASS_BYTES: u64 = 256;

/// The size class of an allocation of `bytes`: the next of 2^k or 1.5·2^k, so at most a third
/// of an allocation is slack, and buffers of similar sizes are interchangeable.
pub(crate) fn size_class(bytes: u64) -> u64 {
    let bytes = bytes.max(MIN_CLASS_BYTES);
    let power = bytes.next_power_of_two();
    let three_quarters = power / 4 * 3;
    if bytes <= three_quarters && three_quarters >= MIN_CLASS_BYTES {
        three_quarters
    } else {
        power
    }
}

/// Counters of the buffer pool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Buffers created on the device.
    pub allocations: u64,
    /// Requests served by a previously freed buffer.
    pub reuses: u64,
    /// Freed buffers held for reuse.
    pub cached_buffers: u64,
    /// Bytes of the freed buffers held for reuse.
    pub cached_bytes: u64,
}

#[derive(Default)]
struct PoolState {
    /// Reusable buffers by size class.
    free: HashMap<u64, Vec<wgpu::Buffer>>,
    /// Buffers dropped since the last submission.
    retired: Vec<wgpu::Buffer>,
    stats: PoolStats,
}

/// Freed storage buffers of one device, by size class.
pub(crate) struct BufferPool {
    state: Mutex<PoolState>,
    /// Identifies the device the buffers belong to.
    context_id: u64,
    /// Freed bytes beyond this are released to the driver instead of being kept.
    capacity_bytes: u64,
}

impl BufferPool {
    pub(crate) fn new(context_id: u64, capacity_bytes: u64) -> Self {
        BufferPool {
            state: Mutex::new(PoolState::default()),
            context_id,
            capacity_bytes,
        }
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        // A panic while holding the lock cannot leave the maps inconsistent (each operation is a
        // single insert or remove), so a poisoned lock is still usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A free buffer of `class` bytes, if one is cached.
    pub(crate) fn take(&self, class: u64) -> Option<wgpu::Buffer> {
        let mut state = self.lock();
        let buffer = state.free.get_mut(&class)?.pop()?;
        state.stats.reuses += 1;
        state.stats.cached_buffers -= 1;
        state.stats.cached_bytes -= class;
        Some(buffer)
    }

    /// Counts a buffer created on the device.
    pub(crate) fn count_allocation(&self) {
        self.lock().stats.allocations += 1;
    }

    /// Takes back a buffer whose last handle was dropped; it is reusable after the next
    /// submission ([`BufferPool::recycle_retired`]).
    fn retire(&self, buffer: wgpu::Buffer) {
        let mut state = self.lock();
        if state.stats.cached_bytes + buffer.size() > self.capacity_bytes {
            // Dropping the last handle releases the memory once the device is done with it.
            return;
        }
        state.stats.cached_buffers += 1;
        state.stats.cached_bytes += buffer.size();
        state.retired.push(buffer);
    }

    /// Makes the buffers retired before a submission reusable; call right after submitting.
    pub(crate) fn recycle_retired(&self) {
        let mut state = self.lock();
        let retired = std::mem::take(&mut state.retired);
        for buffer in retired {
            state.free.entry(buffer.size()).or_default().push(buffer);
        }
    }

    /// Releases every cached buffer to the driver.
    pub(crate) fn clear(&self) {
        let mut state = self.lock();
        state.free.clear();
        let retired_bytes: u64 = state.retired.iter().map(wgpu::Buffer::size).sum();
        state.stats.cached_buffers = state.retired.len() as u64;
        state.stats.cached_bytes = retired_bytes;
    }

    pub(crate) fn stats(&self) -> PoolStats {
        self.lock().stats
    }

    pub(crate) fn context_id(&self) -> u64 {
        self.context_id
    }

    pub(crate) fn usage() -> wgpu::BufferUsages {
        STORAGE_USAGE
    }
}

/// A device buffer that returns to its pool when dropped.
pub(crate) struct PooledBuffer {
    buffer: wgpu::Buffer,
    pool: Arc<BufferPool>,
}

impl PooledBuffer {
    pub(crate) fn new(buffer: wgpu::Buffer, pool: Arc<BufferPool>) -> Self {
        PooledBuffer { buffer, pool }
    }

    pub(crate) fn buffer(&self) -> &wgpu::Buffer {
        &self.buffer
    }

    pub(crate) fn context_id(&self) -> u64 {
        self.pool.context_id()
    }
}

impl Drop for PooledBuffer {
    fn drop(&mut self) {
        self.pool.retire(self.buffer.clone());
    }
}

/// Storage of the [`Wgpu`](crate::Wgpu) backend: a device buffer holding `len` `f32`s.
///
/// Cloning shares the buffer (a reference count). The buffer goes back to the device's pool when
/// the last clone is dropped. An empty tensor has no buffer.
#[derive(Clone)]
pub struct WgpuStorage {
    pub(crate) buffer: Option<Arc<PooledBuffer>>,
    pub(crate) len: usize,
}

impl WgpuStorage {
    /// Number of `f32` elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the storage holds no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of data (`4 * len`).
    pub fn byte_len(&self) -> u64 {
        self.len as u64 * 4
    }

    /// Whether this handle is the only one to its buffer (an in-place update changes no other
    /// tensor).
    pub(crate) fn is_unique(&self) -> bool {
        self.buffer
            .as_ref()
            .is_none_or(|buffer| Arc::strong_count(buffer) == 1)
    }
}

impl fmt::Debug for WgpuStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WgpuStorage")
            .field("len", &self.len)
            .field(
                "buffer_bytes",
                &self.buffer.as_ref().map(|b| b.buffer().size()),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::size_class;

    #[test]
    fn size_classes_leave_at_most_a_third_slack() {
        assert_eq!(size_class(1), 256);
        assert_eq!(size_class(256), 256);
        assert_eq!(size_class(257), 384);
        assert_eq!(size_class(384), 384);
        assert_eq!(size_class(385), 512);
        assert_eq!(size_class(600), 768);
        assert_eq!(size_class(1000), 1024);
        for bytes in [4u64, 999, 4096, 10_000, 1 << 20, 3 << 20, 100_000_000] {
            let class = size_class(bytes);
            assert!(class >= bytes && class & 3 == 0);
            assert!(bytes < 256 || class * 2 <= bytes * 3, "{bytes} -> {class}");
        }
    }
}
