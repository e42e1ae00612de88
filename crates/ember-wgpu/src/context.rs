//! The device context shared by every clone of a [`Wgpu`](crate::Wgpu): adapter, device, queue,
//! the pipeline cache, the buffer pool and the command batch being recorded.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};

use crate::error::{Error, Result};
use crate::kernels::{Kernel, MatmulKernel};
use crate::pool::{BufferPool, PoolStats, PooledBuffer, WgpuStorage, size_class};

/// Dispatches recorded before the batch is submitted without being asked to.
const MAX_BATCH_DISPATCHES: usize = 128;

/// Submitted batches the device may be behind by; submitting one more first waits for the
/// oldest, so recording cannot run arbitrarily far ahead of the device (and hold the memory of
/// every pending upload).
const MAX_BATCHES_IN_FLIGHT: usize = 8;

/// Bytes of one dispatch's uniform parameters in the batch's uniform buffer (at least the
/// device's offset alignment).
const UNIFORM_SLOT_BYTES: u64 = 256;

/// k per matmul dispatch on CPU adapters (see `Context::matmul_k_chunk`). Measured on lavapipe:
/// the simple kernel counts one loop iteration per k, the tiled one about 1.13 (its loop over
/// the 16 values of a tile is not unrolled), and an invocation stops after 65,535.
const MATMUL_K_CHUNK_ON_CPU: usize = 32_768;

/// Distinguishes devices, so storage from one is never bound on another.
static NEXT_CONTEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Options for [`Wgpu::with_options`](crate::Wgpu::with_options).
#[derive(Debug, Clone)]
pub struct WgpuOptions {
    /// Backends to look for an adapter on. `None`: `WGPU_BACKEND` if set (an unknown name is
    /// [`Error::InvalidBackendList`]), else Vulkan and GL.
    pub backends: Option<wgpu::Backends>,
    /// Adapter preference.
    pub power_preference: wgpu::PowerPreference,
    /// Which matrix-product kernel to run.
    pub matmul_kernel: MatmulKernel,
    /// Freed buffer bytes kept for reuse; beyond this, freed buffers go back to the driver.
    pub pool_capacity_bytes: u64,
    /// Whether an adapter that runs on the CPU (Mesa's lavapipe, llvmpipe) may be used. With
    /// `false`, opening fails with [`Error::CpuAdapterOnly`] when no other adapter exists.
    pub allow_cpu_adapter: bool,
}

impl Default for WgpuOptions {
    fn default() -> Self {
        WgpuOptions {
            backends: None,
            power_preference: wgpu::PowerPreference::HighPerformance,
            matmul_kernel: MatmulKernel::Auto,
            pool_capacity_bytes: 1 << 30,
            allow_cpu_adapter: true,
        }
    }
}

/// A compiled pipeline and the layout of its bind group 0.
pub(crate) struct Pipeline {
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
}

/// Commands recorded since the last submission.
struct Batch {
    encoder: Option<wgpu::CommandEncoder>,
    /// Uniform parameters of the recorded dispatches, one slot each, written to
    /// `uniform_buffer` just before the batch is submitted.
    uniform_bytes: Vec<u8>,
    uniform_buffer: wgpu::Buffer,
    dispatches: usize,
    /// Submissions the device may not have finished, oldest first.
    in_flight: VecDeque<wgpu::SubmissionIndex>,
}

/// How many workgroups to launch, already spread over dimensions within the device's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Workgroups(pub u32, pub u32, pub u32);

/// A storage buffer bound to a kernel: binding index, buffer, bytes bound.
pub(crate) struct Bound<'a> {
    pub binding: u32,
    pub buffer: &'a wgpu::Buffer,
    pub bytes: u64,
}

pub(crate) struct Context {
    id: u64,
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    limits: wgpu::Limits,
    matmul_kernel: MatmulKernel,
    uniform_slot: u64,
    pipelines: Mutex<HashMap<Kernel, Arc<Pipeline>>>,
    pool: Arc<BufferPool>,
    batch: Mutex<Batch>,
    /// The first error wgpu reported outside an error scope (validation, out of memory, device
    /// lost), surfaced by the next submission or read-back.
    device_error: Arc<Mutex<Option<String>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves its data consistent before anything can panic, so a poisoned
    // lock is still usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Context {
    pub(crate) fn new(options: &WgpuOptions) -> Result<Context> {
        let backends = match options.backends {
            Some(backends) => backends,
            None => crate::adapter::backends_from_env()?
                .unwrap_or(wgpu::Backends::VULKAN | wgpu::Backends::GL),
        };
        let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle();
        descriptor.backends = backends;
        let instance = wgpu::Instance::new(descriptor);
        let adapter = crate::adapter::choose(
            &instance,
            backends,
            options.power_preference,
            options.allow_cpu_adapter,
        )?;
        let info = adapter.get_info();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("ember"),
            required_features: wgpu::Features::empty(),
            required_limits: adapter.limits(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        }))
        .map_err(|e| Error::RequestDevice {
            adapter: info.name.clone(),
            message: e.to_string(),
        })?;

        let device_error = Arc::new(Mutex::new(None::<String>));
        let slot = Arc::clone(&device_error);
        device.on_uncaptured_error(Arc::new(move |error: wgpu::Error| {
            lock(&slot).get_or_insert_with(|| error.to_string());
        }));
        let slot = Arc::clone(&device_error);
        device.set_device_lost_callback(move |reason, message| {
            lock(&slot).get_or_insert_with(|| format!("device lost ({reason:?}): {message}"));
        });

        let limits = device.limits();
        let uniform_slot =
            UNIFORM_SLOT_BYTES.max(u64::from(limits.min_uniform_buffer_offset_alignment));
        let uniform_buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("ember uniforms"),
            size: uniform_slot * MAX_BATCH_DISPATCHES as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let matmul_kernel = match options.matmul_kernel {
            MatmulKernel::Auto => MatmulKernel::Tiled,
            chosen => chosen,
        };
        let id = NEXT_CONTEXT_ID.fetch_add(1, Ordering::Relaxed);
        Ok(Context {
            id,
            device,
            queue,
            info,
            limits,
            matmul_kernel,
            uniform_slot,
            pipelines: Mutex::new(HashMap::new()),
            pool: Arc::new(BufferPool::new(id, options.pool_capacity_bytes)),
            batch: Mutex::new(Batch {
                encoder: None,
                uniform_bytes: Vec::new(),
                uniform_buffer,
                dispatches: 0,
                in_flight: VecDeque::new(),
            }),
            device_error,
        })
    }

    pub(crate) fn info(&self) -> &wgpu::AdapterInfo {
        &self.info
    }

    pub(crate) fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }

    pub(crate) fn matmul_kernel(&self) -> MatmulKernel {
        self.matmul_kernel
    }

    /// Elements of the reduced axis one reduction dispatch covers (a multiple of 8); longer axes
    /// take several dispatches that carry the running sums. Each loop iteration of
    /// `reduce.wgsl` handles 8 elements, so on CPU adapters this stays at 32,768 iterations.
    pub(crate) fn reduce_chunk(&self) -> usize {
        if self.info.device_type == wgpu::DeviceType::Cpu {
            8 * 32_768
        } else {
            1 << 22
        }
    }

    /// Whether the adapter is a CPU rasterizer (llvmpipe, lavapipe, WARP), whose invocations
    /// stop after 65,535 loop iterations in total.
    pub(crate) fn is_cpu_adapter(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// The longest k one matmul dispatch sums over. CPU adapters (llvmpipe) end an invocation's
    /// loops after 65,535 iterations in total, so k is cut to stay below that; GPUs get long
    /// pieces, which only bound the running time of one dispatch.
    pub(crate) fn matmul_k_chunk(&self, kernel: MatmulKernel) -> usize {
        match (self.info.device_type, kernel) {
            (wgpu::DeviceType::Cpu, MatmulKernel::Simple | MatmulKernel::Tiled) => {
                MATMUL_K_CHUNK_ON_CPU
            }
            _ => 1 << 20,
        }
    }

    pub(crate) fn pool_stats(&self) -> PoolStats {
        self.pool.stats()
    }

    pub(crate) fn clear_pool(&self) {
        self.pool.clear();
    }

    /// The first error wgpu reported outside an error scope, if any, as an error of `op`.
    fn check_device_error(&self, op: &'static str) -> Result<()> {
        match lock(&self.device_error).clone() {
            Some(message) => Err(Error::Device { op, message }),
            None => Ok(()),
        }
    }

    /// Largest tensor (in elements) one storage binding can hold.
    pub(crate) fn max_elements(&self) -> u64 {
        self.limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size)
            / 4
    }

    /// A storage buffer for `len` elements (contents undefined), from the pool when one of the
    /// right size class is free.
    pub(crate) fn allocate(&self, op: &'static str, len: usize) -> Result<WgpuStorage> {
        if len == 0 {
            return Ok(WgpuStorage { buffer: None, len });
        }
        let bytes = len as u64 * 4;
        if len as u64 > self.max_elements() {
            return Err(Error::TooLarge {
                op,
                elements: len,
                bytes,
                limit: self.limits.max_storage_buffer_binding_size,
            });
        }
        let class = size_class(bytes).min(self.limits.max_buffer_size.max(bytes));
        let buffer = match self.pool.take(class) {
            Some(buffer) => buffer,
            None => {
                let memory_scope = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
                let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("ember tensor"),
                    size: class,
                    usage: BufferPool::usage(),
                    mapped_at_creation: false,
                });
                if let Some(error) = pollster::block_on(memory_scope.pop()) {
                    return Err(Error::Device {
                        op,
                        message: format!("allocating {class} bytes: {error}"),
                    });
                }
                self.pool.count_allocation();
                buffer
            }
        };
        Ok(WgpuStorage {
            buffer: Some(Arc::new(PooledBuffer::new(buffer, Arc::clone(&self.pool)))),
            len,
        })
    }

    /// The device buffer of `storage`, checking that it belongs to this device; `None` when the
    /// storage is empty.
    pub(crate) fn buffer_of<'a>(
        &self,
        op: &'static str,
        storage: &'a WgpuStorage,
    ) -> Result<Option<&'a wgpu::Buffer>> {
        match &storage.buffer {
            None => Ok(None),
            Some(pooled) if pooled.context_id() == self.id => Ok(Some(pooled.buffer())),
            Some(_) => Err(Error::ForeignStorage { op }),
        }
    }

    /// Queues a copy of host data into `buffer`; it lands before any command recorded after
    /// this call.
    pub(crate) fn write(&self, buffer: &wgpu::Buffer, data: &[f32]) {
        self.queue
            .write_buffer(buffer, 0, bytemuck::cast_slice(data));
    }

    /// The compiled pipeline of `kernel`, compiling it on first use. Compilation and validation
    /// errors are captured in an error scope and returned.
    pub(crate) fn pipeline(&self, kernel: Kernel) -> Result<Arc<Pipeline>> {
        if let Some(pipeline) = lock(&self.pipelines).get(&kernel) {
            return Ok(Arc::clone(pipeline));
        }
        let pipeline = self.compile(&kernel.label(), &kernel.source(), kernel.entry_point())?;
        let pipeline = Arc::new(pipeline);
        lock(&self.pipelines).insert(kernel, Arc::clone(&pipeline));
        Ok(pipeline)
    }

    /// Compiles `entry_point` of a WGSL module inside a validation error scope, so a shader
    /// error comes back as [`Error::Shader`] instead of reaching the uncaptured-error handler.
    pub(crate) fn compile(&self, label: &str, source: &str, entry_point: &str) -> Result<Pipeline> {
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(label),
                source: wgpu::ShaderSource::Wgsl(source.into()),
            });
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(label),
                layout: None,
                module: &module,
                entry_point: Some(entry_point),
                compilation_options: wgpu::PipelineCompilationOptions::default(),
                cache: None,
            });
        let layout = pipeline.get_bind_group_layout(0);
        if let Some(error) = pollster::block_on(scope.pop()) {
            return Err(Error::Shader {
                kernel: label.to_string(),
                message: error.to_string(),
            });
        }
        Ok(Pipeline { pipeline, layout })
    }

    /// Spreads `groups` workgroups over x and y within the per-dimension limit; kernels rebuild
    /// the linear index from `num_workgroups`.
    pub(crate) fn spread(&self, op: &'static str, groups: u64) -> Result<Workgroups> {
        let max = u64::from(self.limits.max_compute_workgroups_per_dimension);
        if groups <= max {
            return Ok(Workgroups(groups as u32, 1, 1));
        }
        let rows = groups.div_ceil(max);
        if rows > max {
            return Err(Error::DispatchTooLarge {
                op,
                message: format!("{groups} workgroups exceed {max}x{max}"),
            });
        }
        Ok(Workgroups(max as u32, rows as u32, 1))
    }

    /// `columns` workgroups along x and `rows` spread over y and z.
    pub(crate) fn spread_grid(
        &self,
        op: &'static str,
        columns: u64,
        rows: u64,
    ) -> Result<Workgroups> {
        let max = u64::from(self.limits.max_compute_workgroups_per_dimension);
        let Workgroups(y, z, _) = self.spread(op, rows)?;
        if columns > max {
            return Err(Error::DispatchTooLarge {
                op,
                message: format!("{columns} workgroup columns exceed the limit of {max}"),
            });
        }
        Ok(Workgroups(columns as u32, y, z))
    }

    fn encoder<'a>(&self, batch: &'a mut Batch) -> &'a mut wgpu::CommandEncoder {
        batch.encoder.get_or_insert_with(|| {
            self.device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("ember batch"),
                })
        })
    }

    /// Records one dispatch of `kernel` with its uniform `params` (binding 0) and `storage`
    /// bindings. Submits the batch first when it is full.
    pub(crate) fn dispatch(
        &self,
        kernel: Kernel,
        params: &[u8],
        storage: &[Bound<'_>],
        workgroups: Workgroups,
    ) -> Result<()> {
        debug_assert!(params.len() as u64 <= self.uniform_slot);
        let pipeline = self.pipeline(kernel)?;
        let mut batch = lock(&self.batch);
        if batch.dispatches == MAX_BATCH_DISPATCHES {
            self.submit(&mut batch);
        }
        let offset = batch.dispatches as u64 * self.uniform_slot;
        batch.uniform_bytes.resize(offset as usize, 0);
        batch.uniform_bytes.extend_from_slice(params);
        batch
            .uniform_bytes
            .resize((offset + self.uniform_slot) as usize, 0);

        let mut entries = Vec::with_capacity(storage.len() + 1);
        entries.push(wgpu::BindGroupEntry {
            binding: 0,
            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: &batch.uniform_buffer,
                offset,
                size: NonZeroU64::new(self.uniform_slot),
            }),
        });
        for bound in storage {
            entries.push(wgpu::BindGroupEntry {
                binding: bound.binding,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: bound.buffer,
                    offset: 0,
                    size: NonZeroU64::new(bound.bytes),
                }),
            });
        }
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.layout,
            entries: &entries,
        });
        let encoder = self.encoder(&mut batch);
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: None,
                timestamp_writes: None,
            });
            pass.set_pipeline(&pipeline.pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(workgroups.0, workgroups.1, workgroups.2);
        }
        batch.dispatches += 1;
        Ok(())
    }

    /// Records `bytes` of zeros into `buffer`.
    pub(crate) fn clear(&self, buffer: &wgpu::Buffer, bytes: u64) {
        let mut batch = lock(&self.batch);
        self.encoder(&mut batch)
            .clear_buffer(buffer, 0, Some(bytes));
    }

    /// Records a copy of `bytes` from `source` to `destination`.
    pub(crate) fn copy(&self, source: &wgpu::Buffer, destination: &wgpu::Buffer, bytes: u64) {
        let mut batch = lock(&self.batch);
        self.encoder(&mut batch)
            .copy_buffer_to_buffer(source, 0, destination, 0, bytes);
    }

    /// Submits the recorded batch (writing its uniform parameters first) and makes the buffers
    /// retired before it reusable.
    fn submit(&self, batch: &mut Batch) {
        if let Some(encoder) = batch.encoder.take() {
            if !batch.uniform_bytes.is_empty() {
                self.queue
                    .write_buffer(&batch.uniform_buffer, 0, &batch.uniform_bytes);
                batch.uniform_bytes.clear();
            }
            let index = self.queue.submit([encoder.finish()]);
            batch.dispatches = 0;
            batch.in_flight.push_back(index);
        }
        self.pool.recycle_retired();
        while batch.in_flight.len() > MAX_BATCHES_IN_FLIGHT {
            if let Some(oldest) = batch.in_flight.pop_front() {
                // A failed wait (device lost) is reported by the next read-back.
                let _ = self.device.poll(wgpu::PollType::Wait {
                    submission_index: Some(oldest),
                    timeout: None,
                });
            }
        }
        // Lets wgpu release resources of finished submissions; never blocks.
        let _ = self.device.poll(wgpu::PollType::Poll);
    }

    /// Submits everything recorded so far.
    pub(crate) fn flush(&self, op: &'static str) -> Result<()> {
        {
            let mut batch = lock(&self.batch);
            self.submit(&mut batch);
        }
        self.check_device_error(op)
    }

    /// Submits everything recorded so far and waits until the device has finished it.
    pub(crate) fn synchronize(&self, op: &'static str) -> Result<()> {
        self.flush(op)?;
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Device {
                op,
                message: e.to_string(),
            })?;
        lock(&self.batch).in_flight.clear();
        self.check_device_error(op)
    }

    /// Copies `len` f32s of `buffer` to the host, after every command recorded before.
    pub(crate) fn read(
        &self,
        op: &'static str,
        buffer: &wgpu::Buffer,
        len: usize,
    ) -> Result<Vec<f32>> {
        let bytes = len as u64 * 4;
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("ember read-back"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.copy(buffer, &staging, bytes);
        self.flush(op)?;
        let (sender, receiver) = mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |result| {
            // The receiver outlives the wait below; a failed send means nobody listens.
            let _ = sender.send(result);
        });
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Device {
                op,
                message: format!("waiting for the read-back: {e}"),
            })?;
        self.check_device_error(op)?;
        let mapped = receiver.recv().map_err(|_| Error::Device {
            op,
            message: "the read-back was never completed".to_string(),
        })?;
        mapped.map_err(|e| Error::Device {
            op,
            message: format!("mapping the read-back buffer: {e}"),
        })?;
        let data = {
            let view = staging.get_mapped_range(..).map_err(|e| Error::Device {
                op,
                message: format!("reading the mapped buffer: {e}"),
            })?;
            bytemuck::pod_collect_to_vec::<u8, f32>(&view)
        };
        staging.unmap();
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use crate::Error;

    #[test]
    fn a_shader_error_is_returned_not_raised() {
        let Some(gpu) = crate::test_device() else {
            return;
        };
        let source = "@compute @workgroup_size(1) fn main() { let x: f32 = 1u; }";
        match gpu.context.compile("broken", source, "main") {
            Err(Error::Shader { kernel, message }) => {
                assert_eq!(kernel, "broken");
                assert!(message.contains("broken"), "{message}");
            }
            Err(other) => panic!("expected a shader error, got {other}"),
            Ok(_) => panic!("a broken shader compiled"),
        }
        // The device is still usable and no error leaked to the uncaptured handler.
        gpu.synchronize().expect("device still healthy");
    }

    #[test]
    fn a_missing_entry_point_is_a_shader_error() {
        let Some(gpu) = crate::test_device() else {
            return;
        };
        let source = "@compute @workgroup_size(1) fn main() {}";
        assert!(matches!(
            gpu.context.compile("no_entry", source, "absent"),
            Err(Error::Shader { .. })
        ));
        gpu.synchronize().expect("device still healthy");
    }
}
