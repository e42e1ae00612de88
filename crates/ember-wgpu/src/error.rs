//! The error type of `ember-wgpu`.

/// Everything that can go wrong on the GPU backend. At the [`ember_tensor::Backend`] boundary
/// each error becomes [`ember_tensor::Error::Device`], naming the operation and carrying this
/// error's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No adapter matched the requested backends; `message` is wgpu's own explanation (e.g.
    /// "vulkan drivers/libraries could not be loaded").
    #[error(
        "no GPU adapter found: {message} (select backends with WGPU_BACKEND=vulkan|gl|metal|dx12)"
    )]
    NoAdapter {
        /// wgpu's message.
        message: String,
    },
    /// The only adapter found runs on the CPU (a software rasteriser such as lavapipe), and the
    /// caller asked for a hardware one.
    #[error("the only GPU adapter is {adapter}, a software rasteriser running on the CPU")]
    CpuAdapterOnly {
        /// Name and backend of the adapter.
        adapter: String,
    },
    /// `WGPU_BACKEND` names a backend that does not exist.
    #[error(
        "{variable}={value:?}: unknown backend `{name}`; use a comma-separated list of: {known}"
    )]
    InvalidBackendList {
        /// The environment variable.
        variable: &'static str,
        /// Its whole value.
        value: String,
        /// The name that is not a backend.
        name: String,
        /// The accepted names.
        known: String,
    },
    /// The adapter exists but refused to open a device.
    #[error("the adapter {adapter} could not open a device: {message}")]
    RequestDevice {
        /// Name of the adapter.
        adapter: String,
        /// wgpu's message.
        message: String,
    },
    /// A tensor does not fit in one storage binding of this device.
    #[error(
        "{op}: a tensor of {elements} f32 elements ({bytes} bytes) exceeds this device's largest \
         storage binding ({limit} bytes); split it into smaller tensors"
    )]
    TooLarge {
        /// The operation that needed the buffer.
        op: &'static str,
        /// Elements asked for.
        elements: usize,
        /// Bytes asked for.
        bytes: u64,
        /// `max_storage_buffer_binding_size` of the device.
        limit: u64,
    },
    /// A dispatch needs more workgroups than the device allows, even spread over two dimensions.
    #[error("{op}: {message}")]
    DispatchTooLarge {
        /// The operation that was asked for.
        op: &'static str,
        /// The sizes involved and the limit.
        message: String,
    },
    /// A broadcast whose shapes still have more than the kernel's maximum rank after merging
    /// contiguous dimensions.
    #[error("{op}: broadcasting needs {rank} dimensions after merging, the kernel supports {max}")]
    BroadcastRank {
        /// The operation that was asked for.
        op: &'static str,
        /// Rank after merging.
        rank: usize,
        /// The kernel's maximum.
        max: usize,
    },
    /// A WGSL kernel failed to compile or its pipeline failed validation.
    #[error("kernel {kernel} failed to compile: {message}")]
    Shader {
        /// The kernel (family, op and entry point).
        kernel: String,
        /// wgpu's (naga's) message.
        message: String,
    },
    /// A storage buffer that another `Wgpu` device created was passed to this one.
    #[error("{op}: the storage belongs to another Wgpu device; download and upload it to move it")]
    ForeignStorage {
        /// The operation that was asked for.
        op: &'static str,
    },
    /// wgpu reported an error (validation, out of memory, device lost, a failed read-back).
    #[error("{op}: {message}")]
    Device {
        /// The operation during which it was noticed.
        op: &'static str,
        /// wgpu's message.
        message: String,
    },
}

impl Error {
    /// The operation the error belongs to, as named at the `Backend` boundary.
    pub fn op(&self) -> &'static str {
        match self {
            Error::NoAdapter { .. }
            | Error::CpuAdapterOnly { .. }
            | Error::InvalidBackendList { .. }
            | Error::RequestDevice { .. } => "wgpu_init",
            Error::Shader { .. } => "compile_kernel",
            Error::TooLarge { op, .. }
            | Error::DispatchTooLarge { op, .. }
            | Error::BroadcastRank { op, .. }
            | Error::ForeignStorage { op }
            | Error::Device { op, .. } => op,
        }
    }
}

impl From<Error> for ember_tensor::Error {
    fn from(error: Error) -> Self {
        ember_tensor::Error::Device {
            op: error.op(),
            message: error.to_string(),
        }
    }
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
