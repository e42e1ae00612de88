//! Verified, atomic downloads of the data sets, and structural checks of local copies.
//!
//! [`download_dataset`] fetches the four `.gz` files from a list of mirrors, checking each
//! against its published MD5. A file is streamed to a temporary file next to its final path,
//! checked, flushed to disk and renamed into place, so a file at the final path is always
//! complete; on any failure the temporary file is removed and the next mirror is tried.
//!
//! [`verify_dir`] checks a directory supplied by the user (for instance Debian's
//! `dataset-fashion-mnist`, whose `.gz` bytes differ from upstream's) by decoding and
//! validating both splits instead of comparing checksums of the compressed files.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use md5::{Digest, Md5};
use sha2::Sha256;

use crate::dataset::Dataset;
use crate::error::{DownloadAttempt, Error, Result};
#[cfg(feature = "download")]
use crate::fetch::{Client, fetch_to_final};

/// Without the `download` feature there is no HTTP client.
#[cfg(not(feature = "download"))]
struct Client;

#[cfg(not(feature = "download"))]
impl Client {
    fn new(_timeout: Duration) -> Self {
        Client
    }
}
use crate::mnist::{DatasetKind, MnistData, NUM_CLASSES, Split, load_split};

/// MNIST mirrors, in the order torchvision tries them.
pub const MNIST_MIRRORS: [&str; 3] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
];

/// Fashion-MNIST mirrors: torchvision's, then the project's GitHub repository.
pub const FASHION_MNIST_MIRRORS: [&str; 2] = [
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
];

/// Published MD5 of MNIST's gzipped files (torchvision's `MNIST.resources`).
pub const MNIST_MD5: [(&str, &str); 4] = [
    (
        "train-images-idx3-ubyte.gz",
        "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    ),
    (
        "train-labels-idx1-ubyte.gz",
        "d53e105ee54ea40749a09fcbcd1e9432",
    ),
    (
        "t10k-images-idx3-ubyte.gz",
        "9fb629c4189551a2d022fa330f9573f3",
    ),
    (
        "t10k-labels-idx1-ubyte.gz",
        "ec29112dd5afa0611ce80d1b7f02629c",
    ),
];

/// Published MD5 of Fashion-MNIST's gzipped files (torchvision's `FashionMNIST.resources`).
pub const FASHION_MNIST_MD5: [(&str, &str); 4] = [
    (
        "train-images-idx3-ubyte.gz",
        "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    ),
    (
        "train-labels-idx1-ubyte.gz",
        "25c81989df183df01b3e8a0aad5dffbe",
    ),
    (
        "t10k-images-idx3-ubyte.gz",
        "bef4ecab320f06d8554ea6380940ec79",
    ),
    (
        "t10k-labels-idx1-ubyte.gz",
        "bb300cfdad3c16e7a12a480ee83cd310",
    ),
];

/// SHA-256 of Fashion-MNIST's *decompressed* files, in [`FILE_NAMES`](crate::mnist::FILE_NAMES) order.
pub const FASHION_MNIST_DECOMPRESSED_SHA256: [&str; 4] = [
    "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
];

/// Where Debian's `dataset-fashion-mnist` package installs Fashion-MNIST.
pub const DEBIAN_FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Default timeout for connecting, for the response headers, and for each read of the body.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Size of the chunks the body is streamed in.
pub(crate) const CHUNK_BYTES: usize = 1 << 16;

impl DatasetKind {
    /// The canonical mirrors, in the order they are tried.
    pub fn mirrors(self) -> &'static [&'static str] {
        match self {
            DatasetKind::Mnist => &MNIST_MIRRORS,
            DatasetKind::FashionMnist => &FASHION_MNIST_MIRRORS,
        }
    }

    /// The published MD5 of each gzipped file: `(file name, md5)`.
    pub fn published_md5(self) -> &'static [(&'static str, &'static str); 4] {
        match self {
            DatasetKind::Mnist => &MNIST_MD5,
            DatasetKind::FashionMnist => &FASHION_MNIST_MD5,
        }
    }
}

/// A file to fetch and the MD5 it must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedFile {
    /// File name, appended to each mirror's base URL and used in the target directory.
    pub name: String,
    /// Expected MD5 of the file's bytes, hex.
    pub md5: String,
}

/// How [`download_dataset`] fetches files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadOptions {
    /// Base URLs tried in order; each file's URL is the base followed by its name.
    pub mirrors: Vec<String>,
    /// The files to fetch, with their expected MD5.
    pub files: Vec<ExpectedFile>,
    /// Limit for connecting, for receiving the response headers, and for each read of the
    /// body (a stalled transfer fails after this long without data).
    pub timeout: Duration,
    /// Whether to draw a progress bar on stderr (never drawn when stderr is not a terminal).
    pub progress: bool,
}

impl DownloadOptions {
    /// The canonical mirrors and published checksums of `kind`, [`DEFAULT_TIMEOUT`], with a
    /// progress bar.
    pub fn for_dataset(kind: DatasetKind) -> Self {
        Self {
            mirrors: kind.mirrors().iter().map(|m| (*m).to_owned()).collect(),
            files: kind
                .published_md5()
                .iter()
                .map(|(name, md5)| ExpectedFile {
                    name: (*name).to_owned(),
                    md5: (*md5).to_owned(),
                })
                .collect(),
            timeout: DEFAULT_TIMEOUT,
            progress: true,
        }
    }

    /// Replaces the mirror list.
    #[must_use]
    pub fn with_mirrors<I, S>(mut self, mirrors: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.mirrors = mirrors.into_iter().map(Into::into).collect();
        self
    }

    /// Replaces the expected files and checksums.
    #[must_use]
    pub fn with_files(mut self, files: Vec<ExpectedFile>) -> Self {
        self.files = files;
        self
    }

    /// Sets the timeout.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Turns the progress bar on or off.
    #[must_use]
    pub fn with_progress(mut self, progress: bool) -> Self {
        self.progress = progress;
        self
    }

    /// Checks that there is something to fetch, somewhere to fetch it from, and well-formed
    /// checksums.
    fn validate(&self) -> Result<()> {
        let invalid = |reason: String| Err(Error::InvalidDownloadOptions { reason });
        if self.mirrors.is_empty() {
            return invalid("the mirror list is empty".into());
        }
        if self.files.is_empty() {
            return invalid("the list of files is empty".into());
        }
        for file in &self.files {
            if file.name.is_empty() || file.name.contains(['/', '\\']) || file.name.starts_with('.')
            {
                return invalid(format!(
                    "file name {:?} must be a plain, non-hidden name",
                    file.name
                ));
            }
            if file.md5.len() != 32 || !file.md5.bytes().all(|b| b.is_ascii_hexdigit()) {
                return invalid(format!(
                    "MD5 {:?} for {} is not 32 hex digits",
                    file.md5, file.name
                ));
            }
        }
        Ok(())
    }
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOutcome {
    /// A file with the expected checksum was already at the final path; nothing was fetched.
    AlreadyPresent,
    /// The file was fetched from `url` (after the listed failed attempts, if any).
    Downloaded {
        /// The URL that served the file.
        url: String,
        /// Mirrors tried before it, with their failures.
        failed_attempts: Vec<DownloadAttempt>,
    },
}

/// The result for one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    /// The file's name.
    pub name: String,
    /// Where it is stored.
    pub path: PathBuf,
    /// Whether it was fetched or already there.
    pub outcome: FileOutcome,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its MD5, lowercase hex (equal to the expected one).
    pub md5: String,
    /// Its SHA-256, lowercase hex.
    pub sha256: String,
}

/// The result of [`download_dataset`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadReport {
    /// The data set.
    pub kind: DatasetKind,
    /// The directory the files are in.
    pub dir: PathBuf,
    /// One entry per file, in the order of [`DownloadOptions::files`].
    pub files: Vec<FileReport>,
}

/// Fetches the files of `options` into `dir` (created if needed), skipping files already
/// present with the right checksum.
///
/// # Errors
/// - [`Error::InvalidDownloadOptions`] for an empty mirror or file list or a malformed MD5;
/// - [`Error::Io`] if the directory or a temporary file cannot be created or written;
/// - [`Error::DownloadFailed`] if a file could not be fetched from any mirror: it lists every
///   URL tried with its failure and says how to provide the files by hand.
///
/// After an error, no temporary file is left and nothing partial sits at a final path.
pub fn download_dataset(
    kind: DatasetKind,
    dir: impl AsRef<Path>,
    options: &DownloadOptions,
) -> Result<DownloadReport> {
    let dir = dir.as_ref();
    options.validate()?;
    fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
    let client = Client::new(options.timeout);
    let mut files = Vec::with_capacity(options.files.len());
    for expected in &options.files {
        files.push(fetch_file(kind, dir, expected, options, &client)?);
    }
    Ok(DownloadReport {
        kind,
        dir: dir.to_path_buf(),
        files,
    })
}

/// Ensures one file is at its final path with the expected MD5.
fn fetch_file(
    kind: DatasetKind,
    dir: &Path,
    expected: &ExpectedFile,
    options: &DownloadOptions,
    client: &Client,
) -> Result<FileReport> {
    let final_path = dir.join(&expected.name);
    if final_path.is_file() {
        let digests = hash_file(&final_path)?;
        if digests.md5 == expected.md5.to_ascii_lowercase() {
            return Ok(digests.into_report(expected, final_path, FileOutcome::AlreadyPresent));
        }
    }

    fetch_from_mirrors(kind, dir, expected, options, client, final_path)
}

/// Fetches one file from the first mirror that serves it whole with the right MD5.
#[cfg(feature = "download")]
fn fetch_from_mirrors(
    kind: DatasetKind,
    dir: &Path,
    expected: &ExpectedFile,
    options: &DownloadOptions,
    client: &Client,
    final_path: PathBuf,
) -> Result<FileReport> {
    let expected_md5 = expected.md5.to_ascii_lowercase();
    let mut failed_attempts = Vec::new();
    for mirror in &options.mirrors {
        let url = join_url(mirror, &expected.name);
        match fetch_to_final(client, &url, &final_path, &expected_md5, options.progress)? {
            Ok(digests) => {
                let outcome = FileOutcome::Downloaded {
                    url,
                    failed_attempts,
                };
                return Ok(digests.into_report(expected, final_path, outcome));
            }
            Err(failure) => failed_attempts.push(DownloadAttempt { url, failure }),
        }
    }

    Err(Error::DownloadFailed {
        kind,
        file: expected.name.clone(),
        dir: dir.to_path_buf(),
        attempts: failed_attempts,
        all_files: options.files.iter().map(|f| f.name.clone()).collect(),
    })
}

/// Without the `download` feature there is no HTTP client: a missing file is an error that
/// says where to put it.
#[cfg(not(feature = "download"))]
fn fetch_from_mirrors(
    kind: DatasetKind,
    dir: &Path,
    expected: &ExpectedFile,
    options: &DownloadOptions,
    _client: &Client,
    _final_path: PathBuf,
) -> Result<FileReport> {
    Err(Error::DownloaderNotBuilt {
        kind,
        file: expected.name.clone(),
        dir: dir.to_path_buf(),
        all_files: options.files.iter().map(|f| f.name.clone()).collect(),
    })
}

/// `base` + `name`, with exactly one `/` between them.
#[cfg(feature = "download")]
fn join_url(base: &str, name: &str) -> String {
    if base.ends_with('/') {
        format!("{base}{name}")
    } else {
        format!("{base}/{name}")
    }
}

/// MD5, SHA-256 and size of some bytes.
pub(crate) struct Digests {
    pub(crate) md5: String,
    sha256: String,
    bytes: u64,
}

impl Digests {
    fn into_report(
        self,
        expected: &ExpectedFile,
        path: PathBuf,
        outcome: FileOutcome,
    ) -> FileReport {
        FileReport {
            name: expected.name.clone(),
            path,
            outcome,
            bytes: self.bytes,
            md5: self.md5,
            sha256: self.sha256,
        }
    }
}

/// Running MD5 and SHA-256 of a stream.
#[derive(Default)]
pub(crate) struct Hasher {
    md5: Md5,
    sha256: Sha256,
    pub(crate) bytes: u64,
}

impl Hasher {
    pub(crate) fn update(&mut self, chunk: &[u8]) {
        self.md5.update(chunk);
        self.sha256.update(chunk);
        self.bytes += chunk.len() as u64;
    }

    pub(crate) fn finish(self) -> Digests {
        Digests {
            md5: hex::encode(self.md5.finalize()),
            sha256: hex::encode(self.sha256.finalize()),
            bytes: self.bytes,
        }
    }
}

/// Hashes a local file.
fn hash_file(path: &Path) -> Result<Digests> {
    let mut file = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut hasher = Hasher::default();
    let mut chunk = vec![0u8; CHUNK_BYTES];
    loop {
        match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => hasher.update(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io("read", path, e)),
        }
    }
    Ok(hasher.finish())
}

/// Sample counts and content hashes of one validated split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitSummary {
    /// Which split.
    pub split: Split,
    /// Number of samples.
    pub len: usize,
    /// Samples per class.
    pub class_counts: [usize; NUM_CLASSES],
    /// SHA-256 of the decompressed image file (header and data), lowercase hex.
    pub images_sha256: String,
    /// SHA-256 of the decompressed label file (header and data), lowercase hex.
    pub labels_sha256: String,
}

/// The result of [`verify_dir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// The data set.
    pub kind: DatasetKind,
    /// The directory checked.
    pub dir: PathBuf,
    /// The training split.
    pub train: SplitSummary,
    /// The test split.
    pub test: SplitSummary,
}

impl VerifyReport {
    /// Whether the decompressed content is byte-for-byte the published data set: `Some` for
    /// Fashion-MNIST, whose decompressed hashes are known, `None` otherwise.
    pub fn matches_published_content(&self) -> Option<bool> {
        match self.kind {
            DatasetKind::FashionMnist => {
                let found = [
                    &self.train.images_sha256,
                    &self.train.labels_sha256,
                    &self.test.images_sha256,
                    &self.test.labels_sha256,
                ];
                Some(
                    found
                        .iter()
                        .zip(FASHION_MNIST_DECOMPRESSED_SHA256)
                        .all(|(f, k)| f.as_str() == k),
                )
            }
            DatasetKind::Mnist => None,
        }
    }
}

/// Checks a directory of data-set files structurally: decodes both splits and validates
/// magic numbers, element types, shapes, counts and label ranges.
///
/// Use this for copies whose compressed bytes differ from the published ones (such as
/// Debian's re-compressed files), where the gz MD5 cannot be compared.
///
/// # Errors
/// Any error of [`load_split`] for either split.
pub fn verify_dir(kind: DatasetKind, dir: impl AsRef<Path>) -> Result<VerifyReport> {
    let dir = dir.as_ref();
    let summarise = |split: Split| -> Result<SplitSummary> {
        let data = load_split(kind, dir, split)?;
        Ok(summary(&data))
    };
    Ok(VerifyReport {
        kind,
        dir: dir.to_path_buf(),
        train: summarise(Split::Train)?,
        test: summarise(Split::Test)?,
    })
}

/// Counts and hashes a loaded split; the hashes cover the IDX header as stored on disk.
fn summary(data: &MnistData) -> SplitSummary {
    let n = data.len();
    let n_be = u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes();
    let mut images = Sha256::new();
    images.update([0, 0, 0x08, 3]);
    images.update(n_be);
    images.update(28u32.to_be_bytes());
    images.update(28u32.to_be_bytes());
    images.update(data.images());
    let mut labels = Sha256::new();
    labels.update([0, 0, 0x08, 1]);
    labels.update(n_be);
    labels.update(data.labels());
    SplitSummary {
        split: data.split(),
        len: n,
        class_counts: data.class_counts(),
        images_sha256: hex::encode(images.finalize()),
        labels_sha256: hex::encode(labels.finalize()),
    }
}

#[cfg(all(test, not(feature = "download")))]
mod without_the_downloader {
    use super::*;

    #[test]
    fn a_missing_file_says_to_place_it_by_hand_and_a_present_one_is_verified() {
        let dir = tempfile::tempdir().unwrap();
        let present = b"already here";
        std::fs::write(dir.path().join("a.gz"), present).unwrap();
        let options = DownloadOptions::for_dataset(DatasetKind::FashionMnist).with_files(vec![
            ExpectedFile {
                name: "a.gz".into(),
                md5: hex::encode(Md5::digest(present)),
            },
            ExpectedFile {
                name: "b.gz".into(),
                md5: "0".repeat(32),
            },
        ]);
        let err = download_dataset(DatasetKind::FashionMnist, dir.path(), &options).unwrap_err();
        assert!(
            matches!(&err, Error::DownloaderNotBuilt { file, .. } if file == "b.gz"),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(message.contains("by hand") && message.contains("`download` feature"));
        let only_present = options.with_files(vec![ExpectedFile {
            name: "a.gz".into(),
            md5: hex::encode(Md5::digest(present)),
        }]);
        let report =
            download_dataset(DatasetKind::FashionMnist, dir.path(), &only_present).unwrap();
        assert_eq!(report.files[0].outcome, FileOutcome::AlreadyPresent);
    }
}
