//! State dicts as safetensors files, readable by `safetensors.torch.load_file` (F32 parameters
//! and buffers, I64 counters, PyTorch's names and shapes), and atomic file writes.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use ember_tensor::{Backend, Shape, Tensor};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::buffer::{Dtype as StateDtype, I64Tensor, StateTensor};
use crate::module::Module;
use crate::{Error, Result};

/// Named tensors read from a file, plus its string metadata.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StateDict {
    /// The file they came from (for error messages).
    pub path: PathBuf,
    /// Tensors by name.
    pub tensors: BTreeMap<String, StoredTensor>,
    /// The file's `__metadata__`.
    pub metadata: BTreeMap<String, String>,
}

/// A tensor on the host, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTensor {
    /// Its shape.
    pub shape: Shape,
    /// Its values, row-major.
    pub data: StoredData,
}

/// The values of a stored tensor, in its dtype.
#[derive(Debug, Clone, PartialEq)]
pub enum StoredData {
    /// F32 values.
    F32(Vec<f32>),
    /// I64 values.
    I64(Vec<i64>),
}

impl StoredTensor {
    /// Its dtype.
    pub fn dtype(&self) -> StateDtype {
        match self.data {
            StoredData::F32(_) => StateDtype::F32,
            StoredData::I64(_) => StateDtype::I64,
        }
    }

    /// As a state-dict value: F32 uploaded to `backend`, I64 kept on the host.
    pub fn upload<B: Backend>(&self, backend: &B) -> Result<StateTensor<B>> {
        Ok(match &self.data {
            StoredData::F32(data) => {
                StateTensor::F32(Tensor::from_slice(data, self.shape.clone(), backend)?)
            }
            StoredData::I64(data) => StateTensor::I64(I64Tensor {
                shape: self.shape.clone(),
                data: data.clone(),
            }),
        })
    }
}

impl<B: Backend> StateTensor<B> {
    /// A host copy, as a file stores it (an F32 tensor is downloaded from its device).
    pub fn to_stored(&self) -> Result<StoredTensor> {
        Ok(StoredTensor {
            shape: self.shape().clone(),
            data: match self {
                StateTensor::F32(t) => StoredData::F32(t.to_vec()?),
                StateTensor::I64(t) => StoredData::I64(t.data.clone()),
            },
        })
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory is written,
/// flushed to disk, then renamed over `path`. A crash leaves either the old file or the new one,
/// never a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |file| file.write_all(bytes))
}

/// [`write_atomic`] with the writing done by `write` (the temporary file is given to it). If
/// `write` fails — a full disk, an injected error — the temporary file is removed and `path` is
/// left as it was.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut File) -> std::io::Result<()>,
) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "checkpoint".into());
    let tmp = dir.join(format!(".{name}{TEMP_MARKER}{}", std::process::id()));
    let result = (|| {
        let mut file = File::create(&tmp).map_err(io_error(&tmp))?;
        write(&mut file).map_err(io_error(&tmp))?;
        file.sync_all().map_err(io_error(&tmp))?;
        drop(file);
        fs::rename(&tmp, path).map_err(io_error(path))?;
        // Make the rename itself durable.
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// What [`write_atomic`] puts between a file's name and the writing process's id.
const TEMP_MARKER: &str = ".tmp-";

/// The id of the process that wrote `name`, if it is one of [`write_atomic`]'s temporary files
/// (`.<file>.tmp-<pid>`).
fn temp_file_owner(name: &str) -> Option<u32> {
    let (stem, pid) = name.rsplit_once(TEMP_MARKER)?;
    if !stem.starts_with('.') || stem.len() < 2 {
        return None;
    }
    pid.parse().ok()
}

/// Whether process `pid` is running (Linux: `/proc/<pid>`); where that cannot be known, only
/// this process counts as running.
fn process_running(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    Path::new("/proc/self").exists() && Path::new("/proc").join(pid.to_string()).exists()
}

/// Removes the temporary files [`write_atomic`] left in `dir` when its process died mid-write
/// (killed, power lost), keeping those of processes still running. Returns the files removed.
pub fn remove_stale_temp_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(temp_file_owner) else {
            continue;
        };
        if process_running(pid) || !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let path = entry.path();
        fs::remove_file(&path).map_err(io_error(&path))?;
        removed.push(path);
    }
    removed.sort();
    Ok(removed)
}

/// Serialises named tensors — [`StateTensor`]s or plain F32 [`Tensor`]s, downloaded from their
/// device — to safetensors bytes.
pub fn to_safetensors_bytes<B: Backend, T: Clone + Into<StateTensor<B>>>(
    tensors: &[(String, T)],
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>> {
    let mut hosted: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        let t: StateTensor<B> = t.clone().into();
        let (dtype, bytes): (Dtype, Vec<u8>) = match &t {
            StateTensor::F32(t) => (
                Dtype::F32,
                t.to_vec()?.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ),
            StateTensor::I64(t) => (
                Dtype::I64,
                t.data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ),
        };
        hosted.push((name.clone(), dtype, t.shape().dims().to_vec(), bytes));
    }
    let mut views = Vec::with_capacity(hosted.len());
    for (name, dtype, shape, bytes) in &hosted {
        let view = TensorView::new(*dtype, shape.clone(), bytes).map_err(|e| {
            Error::CorruptCheckpoint {
                path: PathBuf::from(name),
                message: e.to_string(),
            }
        })?;
        views.push((name.clone(), view));
    }
    let info: HashMap<String, String> = metadata.clone().into_iter().collect();
    safetensors::serialize(views, Some(info)).map_err(|e| Error::CorruptCheckpoint {
        path: PathBuf::from("<memory>"),
        message: e.to_string(),
    })
}

/// Saves named tensors ([`StateTensor`]s or F32 [`Tensor`]s) as a safetensors file, atomically.
pub fn save_safetensors<B: Backend, T: Clone + Into<StateTensor<B>>>(
    path: impl AsRef<Path>,
    tensors: &[(String, T)],
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    let bytes = to_safetensors_bytes(tensors, metadata)?;
    write_atomic(path.as_ref(), &bytes)
}

/// Reads a safetensors file. Every tensor must be F32 or I64 (another dtype is an
/// [`Error::DtypeMismatch`]); a truncated or garbage file is a [`Error::CorruptCheckpoint`].
pub fn load_safetensors(path: impl AsRef<Path>) -> Result<StateDict> {
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(io_error(path))?;
    parse_safetensors(path, &bytes)
}

/// Parses safetensors bytes (see [`load_safetensors`]); `path` is used in messages.
pub fn parse_safetensors(path: &Path, bytes: &[u8]) -> Result<StateDict> {
    let corrupt = |e: safetensors::SafeTensorError| Error::CorruptCheckpoint {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(corrupt)?;
    let metadata = header
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let parsed = SafeTensors::deserialize(bytes).map_err(corrupt)?;
    let mut tensors = BTreeMap::new();
    for (name, view) in parsed.tensors() {
        let data = match view.dtype() {
            Dtype::F32 => StoredData::F32(
                view.data()
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            ),
            Dtype::I64 => StoredData::I64(
                view.data()
                    .chunks_exact(8)
                    .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                    .collect(),
            ),
            other => {
                return Err(Error::DtypeMismatch {
                    path: path.to_path_buf(),
                    name,
                    expected: "F32 or I64".into(),
                    found: format!("{other:?}"),
                });
            }
        };
        tensors.insert(
            name,
            StoredTensor {
                shape: Shape::from(view.shape()),
                data,
            },
        );
    }
    Ok(StateDict {
        path: path.to_path_buf(),
        tensors,
        metadata,
    })
}

impl StateDict {
    /// The tensor `name`, checked to have `expected` shape and `dtype`.
    fn stored(&self, name: &str, expected: &Shape, dtype: StateDtype) -> Result<&StoredTensor> {
        let stored = self.tensors.get(name).ok_or_else(|| Error::MissingTensor {
            path: self.path.clone(),
            name: name.to_string(),
            expected: expected.clone(),
            present: self.names(),
        })?;
        if stored.dtype() != dtype {
            return Err(Error::DtypeMismatch {
                path: self.path.clone(),
                name: name.to_string(),
                expected: dtype.name().into(),
                found: stored.dtype().name().into(),
            });
        }
        if &stored.shape != expected {
            return Err(Error::ShapeMismatch {
                path: self.path.clone(),
                name: name.to_string(),
                expected: expected.clone(),
                found: stored.shape.clone(),
            });
        }
        Ok(stored)
    }

    /// Uploads the F32 tensor `name`, checking it has `expected` shape.
    pub fn tensor<B: Backend>(
        &self,
        name: &str,
        expected: &Shape,
        backend: &B,
    ) -> Result<Tensor<B>> {
        match &self.stored(name, expected, StateDtype::F32)?.data {
            StoredData::F32(data) => Ok(Tensor::from_slice(data, expected.clone(), backend)?),
            StoredData::I64(_) => unreachable!("`stored` checked the dtype"),
        }
    }

    /// The tensor `name` with the dtype and shape of `like` (an F32 one uploaded to `like`'s
    /// backend): what loading a buffer takes.
    pub fn state_tensor<B: Backend>(
        &self,
        name: &str,
        like: &StateTensor<B>,
    ) -> Result<StateTensor<B>> {
        let stored = self.stored(name, like.shape(), like.dtype())?;
        match like {
            StateTensor::F32(like) => stored.upload(like.backend()),
            StateTensor::I64(_) => Ok(StateTensor::I64(I64Tensor {
                shape: stored.shape.clone(),
                data: match &stored.data {
                    StoredData::I64(data) => data.clone(),
                    StoredData::F32(_) => unreachable!("`stored` checked the dtype"),
                },
            })),
        }
    }

    /// The tensor names, comma-separated.
    pub fn names(&self) -> String {
        self.tensors.keys().cloned().collect::<Vec<_>>().join(", ")
    }

    /// Fails on the first name in this dict that is not in `expected`.
    pub fn reject_unexpected<'a>(&self, expected: impl IntoIterator<Item = &'a str>) -> Result<()> {
        let expected: Vec<&str> = expected.into_iter().collect();
        for name in self.tensors.keys() {
            if !expected.contains(&name.as_str()) {
                return Err(Error::UnexpectedTensor {
                    path: self.path.clone(),
                    name: name.clone(),
                    expected: expected.join(", "),
                });
            }
        }
        Ok(())
    }
}

/// Saves a module's state dict — parameters and buffers, with PyTorch's names, dtypes and
/// shapes — as safetensors, atomically.
pub fn save_module<B: Backend, M: Module<B> + ?Sized>(
    module: &M,
    path: impl AsRef<Path>,
) -> Result<()> {
    save_safetensors(path, &module.state_dict(), &BTreeMap::new())
}

/// Loads a state dict into a module, strictly: every parameter and buffer must be present with
/// its dtype and shape, and nothing else may be. On error nothing has been changed.
pub fn load_module<B: Backend, M: Module<B> + ?Sized>(module: &M, dict: &StateDict) -> Result<()> {
    let params = module.named_parameters();
    let buffers = module.named_buffers();
    dict.reject_unexpected(
        params
            .iter()
            .map(|(n, _)| n.as_str())
            .chain(buffers.iter().map(|(n, _)| n.as_str())),
    )?;
    let mut values = Vec::with_capacity(params.len());
    for (name, p) in &params {
        values.push(dict.tensor(name, &p.shape(), &p.backend())?);
    }
    let mut buffer_values = Vec::with_capacity(buffers.len());
    for (name, b) in &buffers {
        buffer_values.push(dict.state_tensor(name, &b.get())?);
    }
    for ((_, p), value) in params.iter().zip(values) {
        p.set_value(value);
    }
    for ((_, b), value) in buffers.iter().zip(buffer_values) {
        b.set(value);
    }
    Ok(())
}
