//! The crate's error type: one variant per kind of failure.
//!
//! Every message names the file (or URL) involved, says what was expected and what was
//! found, and, where there is something to do about it, says what to do.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::mnist::{DatasetKind, FILE_NAMES};

/// Shorthand for `Result<T, ember_data::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while reading, validating, downloading or batching data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system I/O call on a local file or directory failed.
    #[error("could not {action} {}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// What was being attempted, e.g. "open" or "rename a temporary file onto".
        action: &'static str,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// The file ended inside the IDX header.
    #[error(
        "{}: the IDX header is cut short: expected {expected} header bytes, found {found}; \
         the file is truncated, download or copy it again",
        path.display()
    )]
    TruncatedHeader {
        /// The file involved.
        path: PathBuf,
        /// Header bytes the format requires (4 + 4 per dimension).
        expected: usize,
        /// Header bytes actually present.
        found: usize,
    },

    /// The first two bytes of an IDX file were not zero.
    #[error(
        "{}: not an IDX file: expected the magic number to start with bytes 00 00, found {:02x} {:02x}; \
         check that the path points at an (optionally gzipped) IDX file",
        path.display(), found[0], found[1]
    )]
    BadMagic {
        /// The file involved.
        path: PathBuf,
        /// The first two bytes found.
        found: [u8; 2],
    },

    /// The IDX element type is a valid IDX type, but not the unsigned-byte type this crate reads.
    #[error(
        "{}: IDX element type 0x{code:02x} ({type_name}) is not supported: only 0x08 (unsigned byte) \
         is read, as used by MNIST and Fashion-MNIST",
        path.display()
    )]
    UnsupportedElementType {
        /// The file involved.
        path: PathBuf,
        /// The type code found in the header.
        code: u8,
        /// The IDX name of that type, e.g. "signed byte" or "float".
        type_name: &'static str,
    },

    /// The IDX element type code is not one the IDX format defines.
    #[error(
        "{}: unknown IDX element type code 0x{code:02x}: valid codes are 0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e; \
         the file is corrupt or not an IDX file",
        path.display()
    )]
    UnknownElementType {
        /// The file involved.
        path: PathBuf,
        /// The type code found in the header.
        code: u8,
    },

    /// The number of dimensions in the IDX header is outside `1..=4`.
    #[error(
        "{}: IDX header declares {rank} dimensions, expected 1 to {max}; the file is corrupt",
        path.display()
    )]
    BadRank {
        /// The file involved.
        path: PathBuf,
        /// The rank found.
        rank: u8,
        /// The largest rank accepted.
        max: u8,
    },

    /// The IDX header declares more elements than this reader accepts.
    #[error(
        "{}: IDX header declares dimensions {dims:?} = {elements} elements, more than the limit of {limit}; \
         the header is corrupt",
        path.display()
    )]
    TooLarge {
        /// The file involved.
        path: PathBuf,
        /// The declared dimensions.
        dims: Vec<usize>,
        /// Their product (saturating).
        elements: u128,
        /// The largest element count accepted.
        limit: u64,
    },

    /// The IDX payload is shorter than the header's dimensions require.
    #[error(
        "{}: IDX data is truncated: dimensions {dims:?} need {expected} bytes, found only {found}; \
         download or copy the file again",
        path.display()
    )]
    TruncatedData {
        /// The file involved.
        path: PathBuf,
        /// The declared dimensions.
        dims: Vec<usize>,
        /// Bytes the dimensions require.
        expected: u64,
        /// Bytes actually present.
        found: u64,
    },

    /// There are bytes after the payload the header's dimensions describe.
    #[error(
        "{}: {extra}{} unexpected byte(s) after the {expected} bytes that dimensions {dims:?} describe; \
         the header and the data disagree, so the file is corrupt",
        path.display(), if *more { " or more" } else { "" }
    )]
    TrailingBytes {
        /// The file involved.
        path: PathBuf,
        /// The declared dimensions.
        dims: Vec<usize>,
        /// Bytes the dimensions require.
        expected: u64,
        /// Extra bytes counted after the payload.
        extra: u64,
        /// True when counting stopped at a limit and there are more than `extra`.
        more: bool,
    },

    /// The gzip stream is corrupt or ends early.
    #[error(
        "{}: the gzip stream is corrupt or truncated ({source}); download or copy the file again",
        path.display()
    )]
    Gzip {
        /// The file involved.
        path: PathBuf,
        /// The decoder's error.
        #[source]
        source: io::Error,
    },

    /// An IDX array does not have the shape a data set requires.
    #[error("{}: expected {expected}, found dimensions {found:?}", path.display())]
    WrongShape {
        /// The file involved.
        path: PathBuf,
        /// The shape required, in words, e.g. "images of shape [N, 28, 28]".
        expected: &'static str,
        /// The dimensions found.
        found: Vec<usize>,
    },

    /// The image and label files hold different numbers of samples.
    #[error(
        "{} holds {images} images but {} holds {labels} labels; the two files must come from the same split",
        images_path.display(), labels_path.display()
    )]
    CountMismatch {
        /// The image file.
        images_path: PathBuf,
        /// Images it holds.
        images: usize,
        /// The label file.
        labels_path: PathBuf,
        /// Labels it holds.
        labels: usize,
    },

    /// A label is not a valid class index.
    #[error(
        "{}: label at index {index} is {value}, expected a class index below {classes}; the file is corrupt",
        path.display()
    )]
    LabelOutOfRange {
        /// The label file.
        path: PathBuf,
        /// Position of the bad label.
        index: usize,
        /// Its value.
        value: u8,
        /// Number of classes.
        classes: usize,
    },

    /// A data-set file is not in the directory.
    #[error(
        "{} file {file_name}.gz (or uncompressed {file_name}) not found in {}. \
         Run `cargo xtask download --dataset {} --dir {}`, or place the four files \
         ({}; each gzipped with .gz or raw) in that directory, or point --data-dir at a \
         directory that holds them",
        kind.display_name(), dir.display(), kind.name(), dir.display(), FILE_NAMES.join(", ")
    )]
    MissingFile {
        /// The data set being loaded.
        kind: DatasetKind,
        /// The directory searched.
        dir: PathBuf,
        /// The file's name without `.gz`.
        file_name: &'static str,
    },

    /// A data-set name is not one this crate knows.
    #[error("unknown data set {name:?}: valid names are {}", valid.join(", "))]
    UnknownDataset {
        /// The name given.
        name: String,
        /// The names accepted.
        valid: Vec<&'static str>,
    },

    /// A file could not be fetched from any mirror.
    #[error(
        "could not download {file} for {} into {}: every mirror failed:\n{}\
         Place the files ({}) in {} by hand, or point --data-dir at an existing copy{}",
        kind.display_name(), dir.display(), AttemptList(attempts), all_files.join(", "),
        dir.display(), local_copy_hint(*kind)
    )]
    DownloadFailed {
        /// The data set being downloaded.
        kind: DatasetKind,
        /// The file that could not be fetched.
        file: String,
        /// The target directory.
        dir: PathBuf,
        /// Every URL tried, in order, with its failure.
        attempts: Vec<DownloadAttempt>,
        /// The names of all files the data set needs.
        all_files: Vec<String>,
    },

    /// A file is missing and this build of `ember-data` has no downloader (its `download`
    /// feature is off).
    #[error(
        "{file} of {} is not in {}, and this build cannot download it (ember-data's `download` feature is off): \
         place the four files ({}) there by hand, or build with the `download` feature",
        kind.name(),
        dir.display(),
        all_files.join(", ")
    )]
    DownloaderNotBuilt {
        /// The data set.
        kind: DatasetKind,
        /// The missing file.
        file: String,
        /// Where it was looked for.
        dir: PathBuf,
        /// Every file the data set needs.
        all_files: Vec<String>,
    },
    /// The download options are unusable (no mirrors, malformed checksum, ...).
    #[error("invalid download options: {reason}")]
    InvalidDownloadOptions {
        /// What is wrong.
        reason: String,
    },

    /// A batch size of zero was requested.
    #[error("batch size must be at least 1, got 0")]
    ZeroBatchSize,

    /// A data set's image buffer does not hold 784 bytes per sample.
    #[error(
        "data set is inconsistent: {samples} samples need {expected} image bytes, its buffer holds {found}"
    )]
    InconsistentDataset {
        /// Number of samples (labels) the data set reports.
        samples: usize,
        /// Image bytes those samples need.
        expected: usize,
        /// Image bytes present.
        found: usize,
    },

    /// A sample index passed to the loader is out of range.
    #[error("sample index {index} is out of range for a data set of {len} samples")]
    IndexOutOfRange {
        /// The index requested.
        index: usize,
        /// The data set's length.
        len: usize,
    },
}

/// One URL the downloader tried, and why it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadAttempt {
    /// The full URL requested.
    pub url: String,
    /// What went wrong.
    pub failure: DownloadFailure,
}

impl fmt::Display for DownloadAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.url, self.failure)
    }
}

/// Why a single download attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DownloadFailure {
    /// The server answered with a non-success HTTP status.
    #[error("server answered HTTP {status}")]
    HttpStatus {
        /// The status code.
        status: u16,
    },
    /// No response was obtained: DNS, connection, TLS, timeout or protocol failure.
    #[error("request failed: {message}")]
    Request {
        /// The client's description of the failure.
        message: String,
    },
    /// The body ended before the length announced by `Content-Length`.
    #[error(
        "body truncated: Content-Length announced {expected} bytes but only {received} arrived"
    )]
    TruncatedBody {
        /// Bytes announced.
        expected: u64,
        /// Bytes received.
        received: u64,
    },
    /// The connection failed while the body was being received.
    #[error("connection lost after {received} bytes of the body: {message}")]
    BodyInterrupted {
        /// Bytes received before the failure.
        received: u64,
        /// The client's description of the failure.
        message: String,
    },
    /// The file arrived but its MD5 is not the published one.
    #[error("MD5 mismatch: expected {expected}, received file has {actual}")]
    ChecksumMismatch {
        /// Expected MD5, lowercase hex.
        expected: String,
        /// MD5 of the bytes received, lowercase hex.
        actual: String,
    },
    /// Writing the received bytes to the local disk failed.
    #[error("could not write {path}: {message}")]
    LocalIo {
        /// The local file involved.
        path: String,
        /// The operating system's description.
        message: String,
    },
}

/// Renders a list of attempts, one indented line each.
struct AttemptList<'a>(&'a [DownloadAttempt]);

impl fmt::Display for AttemptList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for attempt in self.0 {
            writeln!(f, "  - {attempt}")?;
        }
        Ok(())
    }
}

/// Where a distribution package puts a ready copy of the data set, if one is known.
fn local_copy_hint(kind: DatasetKind) -> &'static str {
    match kind {
        DatasetKind::FashionMnist => {
            " (Debian's package dataset-fashion-mnist installs one in /usr/share/datasets/fashion-mnist)"
        }
        DatasetKind::Mnist => "",
    }
}

impl Error {
    /// Builds an [`Error::Io`] for `path`.
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            action,
            source,
        }
    }
}
