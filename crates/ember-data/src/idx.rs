//! Reader and writer for the IDX format used by MNIST and Fashion-MNIST.
//!
//! An IDX file is a 4-byte magic number `00 00 TT RR` (element type `TT`, rank `RR`),
//! `RR` big-endian `u32` dimensions, then the elements in row-major order. The files are
//! usually distributed gzipped; [`read_idx`] detects gzip by its `1f 8b` magic and accepts
//! both forms. Only the unsigned-byte element type (`0x08`) is decoded.
//!
//! The reader never trusts the header with memory: the declared element count is capped at
//! [`MAX_ELEMENTS`], and the payload is read incrementally, so a forged header cannot make it
//! allocate more than the data actually present (plus a bounded initial reservation).

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::bufread::MultiGzDecoder;
use flate2::write::GzEncoder;

use crate::error::{Error, Result};

/// IDX element type code for unsigned bytes, the only type decoded.
pub const UNSIGNED_BYTE: u8 = 0x08;

/// Largest rank (number of dimensions) accepted.
pub const MAX_RANK: u8 = 4;

/// Largest number of elements accepted in one file (2^31).
pub const MAX_ELEMENTS: u64 = 1 << 31;

/// Size of the buffer wrapped around files being read.
const READ_BUFFER_BYTES: usize = 1 << 18;

/// Largest allocation made up front for a payload; beyond it the buffer grows as data arrives.
const MAX_INITIAL_RESERVATION: u64 = 64 << 20;

/// Largest expansion ratio of deflate (about 1032:1), used to bound how much a gzip stream of
/// known length can decompress to.
const MAX_DEFLATE_RATIO: u64 = 1032;

/// Trailing bytes counted before giving up and reporting "or more".
const TRAILING_COUNT_LIMIT: u64 = 1 << 20;

/// The two bytes that open every gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// A decoded IDX array of unsigned bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// The dimensions, outermost first (e.g. `[60000, 28, 28]`).
    pub dims: Vec<usize>,
    /// The elements in row-major order; `data.len()` is the product of `dims`.
    pub data: Vec<u8>,
}

impl IdxArray {
    /// Number of elements (the product of the dimensions).
    pub fn element_count(&self) -> usize {
        self.data.len()
    }
}

/// Reads an IDX file, gzipped or raw, from `path`.
///
/// # Errors
/// [`Error::Io`] if the file cannot be opened or read, [`Error::Gzip`] if a gzip stream is
/// corrupt or truncated, and the header/payload variants described on [`read_idx_from`].
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let input_len = file.metadata().ok().map(|m| m.len());
    read_with_len_hint(
        BufReader::with_capacity(READ_BUFFER_BYTES, file),
        path,
        input_len,
    )
}

/// Reads an IDX array from an in-memory buffer, gzipped or raw.
///
/// `source` only names the data in error messages.
///
/// # Errors
/// As [`read_idx_from`].
pub fn read_idx_bytes(bytes: &[u8], source: impl AsRef<Path>) -> Result<IdxArray> {
    read_with_len_hint(bytes, source.as_ref(), Some(bytes.len() as u64))
}

/// Reads an IDX array from a buffered reader, detecting gzip by its magic bytes.
///
/// `source` only names the data in error messages.
///
/// # Errors
/// - [`Error::TruncatedHeader`] if the data ends inside the header;
/// - [`Error::BadMagic`] if the first two bytes are not zero;
/// - [`Error::UnsupportedElementType`] / [`Error::UnknownElementType`] for any type but `0x08`;
/// - [`Error::BadRank`] if the rank is not in `1..=4`;
/// - [`Error::TooLarge`] if the dimensions multiply to more than [`MAX_ELEMENTS`];
/// - [`Error::TruncatedData`] / [`Error::TrailingBytes`] if the payload is shorter or longer
///   than the dimensions say;
/// - [`Error::Gzip`] if a gzip stream is corrupt or truncated, [`Error::Io`] for read errors.
pub fn read_idx_from<R: BufRead>(reader: R, source: &Path) -> Result<IdxArray> {
    read_with_len_hint(reader, source, None)
}

/// [`read_idx_from`], with the input's length (when known) bounding the initial allocation.
fn read_with_len_hint<R: BufRead>(
    mut reader: R,
    source: &Path,
    input_len: Option<u64>,
) -> Result<IdxArray> {
    let is_gzip = starts_with_gzip_magic(&mut reader).map_err(|e| Error::io("read", source, e))?;
    if is_gzip {
        let decoder = MultiGzDecoder::new(reader);
        let max_output = input_len.map(|n| n.saturating_mul(MAX_DEFLATE_RATIO));
        decode(decoder, source, Mode::Gzip, max_output)
    } else {
        decode(reader, source, Mode::Raw, input_len)
    }
}

/// Peeks at the buffered input and tells whether it opens with the gzip magic bytes.
fn starts_with_gzip_magic<R: BufRead>(reader: &mut R) -> io::Result<bool> {
    loop {
        match reader.fill_buf() {
            Ok(buf) => return Ok(buf.starts_with(&GZIP_MAGIC)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Whether the bytes being decoded come straight from the source or through a gzip decoder.
#[derive(Clone, Copy)]
enum Mode {
    Raw,
    Gzip,
}

impl Mode {
    /// Maps a read error to the right variant: decoder errors are gzip errors.
    fn read_error(self, source: &Path, error: io::Error) -> Error {
        match self {
            Mode::Raw => Error::io("read", source, error),
            Mode::Gzip => Error::Gzip {
                path: source.to_path_buf(),
                source: error,
            },
        }
    }
}

/// Decodes header and payload from a byte stream (raw, or the output of a gzip decoder).
///
/// `max_len`, when known, is an upper bound on the stream's length; it only limits the
/// initial allocation, never what is read.
fn decode<R: Read>(
    mut reader: R,
    source: &Path,
    mode: Mode,
    max_len: Option<u64>,
) -> Result<IdxArray> {
    let path = || source.to_path_buf();

    let mut magic = [0u8; 4];
    let got = read_up_to(&mut reader, &mut magic).map_err(|e| mode.read_error(source, e))?;
    let present = &magic[..got.min(2)];
    if present.iter().any(|&b| b != 0) {
        return Err(Error::BadMagic {
            path: path(),
            found: [magic[0], magic[1]],
        });
    }
    if got < magic.len() {
        return Err(Error::TruncatedHeader {
            path: path(),
            expected: magic.len(),
            found: got,
        });
    }
    check_element_type(magic[2], source)?;
    let rank = magic[3];
    if rank == 0 || rank > MAX_RANK {
        return Err(Error::BadRank {
            path: path(),
            rank,
            max: MAX_RANK,
        });
    }

    let mut dim_bytes = [0u8; 4 * MAX_RANK as usize];
    let dim_bytes = &mut dim_bytes[..4 * usize::from(rank)];
    let got = read_up_to(&mut reader, dim_bytes).map_err(|e| mode.read_error(source, e))?;
    if got < dim_bytes.len() {
        return Err(Error::TruncatedHeader {
            path: path(),
            expected: magic.len() + dim_bytes.len(),
            found: magic.len() + got,
        });
    }
    let dims: Vec<usize> = dim_bytes
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .collect();

    let elements: u128 = dims.iter().map(|&d| d as u128).product();
    if elements > u128::from(MAX_ELEMENTS) {
        return Err(Error::TooLarge {
            path: path(),
            dims,
            elements,
            limit: MAX_ELEMENTS,
        });
    }
    // Bounded by MAX_ELEMENTS, so it fits in u64 (and in usize on 64-bit targets).
    let expected = elements as u64;
    let Ok(expected_len) = usize::try_from(expected) else {
        return Err(Error::TooLarge {
            path: path(),
            dims,
            elements,
            limit: usize::MAX as u64,
        });
    };

    let mut data = Vec::new();
    let reservation = expected
        .min(MAX_INITIAL_RESERVATION)
        .min(max_len.unwrap_or(u64::MAX));
    data.try_reserve_exact(reservation as usize)
        .map_err(|_| Error::TooLarge {
            path: path(),
            dims: dims.clone(),
            elements,
            limit: MAX_INITIAL_RESERVATION,
        })?;
    let mut limited = (&mut reader).take(expected);
    limited
        .read_to_end(&mut data)
        .map_err(|e| mode.read_error(source, e))?;
    if data.len() < expected_len {
        return Err(Error::TruncatedData {
            path: path(),
            dims,
            expected,
            found: data.len() as u64,
        });
    }

    let extra = count_remaining(&mut reader, TRAILING_COUNT_LIMIT + 1)
        .map_err(|e| mode.read_error(source, e))?;
    if extra > 0 {
        return Err(Error::TrailingBytes {
            path: path(),
            dims,
            expected,
            extra: extra.min(TRAILING_COUNT_LIMIT),
            more: extra > TRAILING_COUNT_LIMIT,
        });
    }
    Ok(IdxArray { dims, data })
}

/// Accepts type `0x08`; rejects the other IDX types and unknown codes with distinct errors.
fn check_element_type(code: u8, source: &Path) -> Result<()> {
    let type_name = match code {
        UNSIGNED_BYTE => return Ok(()),
        0x09 => "signed byte",
        0x0B => "16-bit integer",
        0x0C => "32-bit integer",
        0x0D => "32-bit float",
        0x0E => "64-bit float",
        _ => {
            return Err(Error::UnknownElementType {
                path: source.to_path_buf(),
                code,
            });
        }
    };
    Err(Error::UnsupportedElementType {
        path: source.to_path_buf(),
        code,
        type_name,
    })
}

/// Reads until `buf` is full or the input ends; returns the number of bytes read.
fn read_up_to<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Counts (and discards) the bytes left in `reader`, stopping after `limit`.
fn count_remaining<R: Read>(reader: &mut R, limit: u64) -> io::Result<u64> {
    io::copy(&mut reader.take(limit), &mut io::sink())
}

/// Encodes an IDX header for unsigned-byte data with the given dimensions.
///
/// # Errors
/// [`Error::BadRank`] if `dims` is empty or longer than 4, [`Error::TooLarge`] if a dimension
/// does not fit in `u32`.
fn encode_header(path: &Path, dims: &[usize]) -> Result<Vec<u8>> {
    let rank = u8::try_from(dims.len()).unwrap_or(u8::MAX);
    if rank == 0 || rank > MAX_RANK {
        return Err(Error::BadRank {
            path: path.to_path_buf(),
            rank,
            max: MAX_RANK,
        });
    }
    let mut header = vec![0, 0, UNSIGNED_BYTE, rank];
    for &d in dims {
        let d32 = u32::try_from(d).map_err(|_| Error::TooLarge {
            path: path.to_path_buf(),
            dims: dims.to_vec(),
            elements: dims.iter().map(|&d| d as u128).product(),
            limit: u64::from(u32::MAX),
        })?;
        header.extend_from_slice(&d32.to_be_bytes());
    }
    Ok(header)
}

/// Encodes `data` with dimensions `dims` as IDX bytes (raw or gzipped) in memory.
///
/// # Errors
/// [`Error::BadRank`], [`Error::TooLarge`], or [`Error::TruncatedData`] /
/// [`Error::TrailingBytes`] if `data.len()` is not the product of `dims`.
pub fn encode_idx(dims: &[usize], data: &[u8], gzip: bool) -> Result<Vec<u8>> {
    let label = Path::new("<in-memory IDX>");
    let header = checked_header(label, dims, data)?;
    if gzip {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        let write = |e: &mut GzEncoder<Vec<u8>>| -> io::Result<()> {
            e.write_all(&header)?;
            e.write_all(data)
        };
        write(&mut encoder).map_err(|e| Error::io("compress", label, e))?;
        encoder
            .finish()
            .map_err(|e| Error::io("compress", label, e))
    } else {
        let mut out = header;
        out.extend_from_slice(data);
        Ok(out)
    }
}

/// Validates that `data` matches `dims` and returns the header bytes.
fn checked_header(path: &Path, dims: &[usize], data: &[u8]) -> Result<Vec<u8>> {
    let header = encode_header(path, dims)?;
    let expected: u128 = dims.iter().map(|&d| d as u128).product();
    let found = data.len() as u128;
    if found < expected {
        return Err(Error::TruncatedData {
            path: path.to_path_buf(),
            dims: dims.to_vec(),
            expected: expected.min(u128::from(u64::MAX)) as u64,
            found: data.len() as u64,
        });
    }
    if found > expected {
        return Err(Error::TrailingBytes {
            path: path.to_path_buf(),
            dims: dims.to_vec(),
            expected: expected as u64,
            extra: (found - expected) as u64,
            more: false,
        });
    }
    Ok(header)
}

/// Writes `data` with dimensions `dims` as an unsigned-byte IDX file at `path`, gzipped if
/// `gzip` is true.
///
/// The write is atomic: the bytes go to a temporary file in the same directory, which is
/// flushed to disk and then renamed onto `path`; on failure the temporary file is removed and
/// `path` is untouched.
///
/// # Errors
/// [`Error::BadRank`], [`Error::TooLarge`], [`Error::TruncatedData`] / [`Error::TrailingBytes`]
/// if `data.len()` is not the product of `dims`, and [`Error::Io`] for file-system failures.
pub fn write_idx(path: impl AsRef<Path>, dims: &[usize], data: &[u8], gzip: bool) -> Result<()> {
    let path = path.as_ref();
    let header = checked_header(path, dims, data)?;
    write_atomically(path, |file| {
        if gzip {
            let mut encoder = GzEncoder::new(io::BufWriter::new(file), Compression::default());
            encoder.write_all(&header)?;
            encoder.write_all(data)?;
            encoder.finish()?.flush()
        } else {
            let mut writer = io::BufWriter::new(file);
            writer.write_all(&header)?;
            writer.write_all(data)?;
            writer.flush()
        }
    })
}

/// Writes a file atomically: temp file in the same directory, `fsync`, rename.
pub(crate) fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> Result<()> {
    let dir = parent_dir(path);
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{file_name}.part-{}-", std::process::id()))
        .tempfile_in(&dir)
        .map_err(|e| Error::io("create a temporary file in", &dir, e))?;
    let temp_path = temp.path().to_path_buf();
    write(temp.as_file_mut()).map_err(|e| Error::io("write", &temp_path, e))?;
    temp.as_file()
        .sync_all()
        .map_err(|e| Error::io("flush to disk", &temp_path, e))?;
    temp.persist(path)
        .map_err(|e| Error::io("rename a temporary file onto", path, e.error))?;
    sync_dir(&dir);
    Ok(())
}

/// The directory holding `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Flushes a directory entry change to disk where the platform allows it (best effort).
pub(crate) fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = fs::File::open(dir) {
        // A failure here leaves the rename durable-on-next-sync; nothing to undo.
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = (dir, fs::metadata(dir));
}
