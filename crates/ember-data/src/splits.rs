//! Finding a data set on this machine (or downloading it) and loading both of its splits: what
//! a training program does first.

use std::path::{Path, PathBuf};

use crate::dataset::{IMAGE_BYTES, InMemoryDataset};
use crate::download::{DEBIAN_FASHION_MNIST_DIR, DownloadOptions, download_dataset};
use crate::error::Result;
use crate::mnist::{DatasetKind, MnistData, Split, locate_file};

/// The training and test splits of a data set.
#[derive(Debug, Clone)]
pub struct TrainTest {
    /// The training split (60,000 samples, or fewer with a limit).
    pub train: InMemoryDataset,
    /// The test split (10,000 samples, or fewer with a limit).
    pub test: InMemoryDataset,
    /// The directory they were read from.
    pub dir: PathBuf,
}

impl TrainTest {
    /// Finds `kind` with [`locate`] (downloading it if needs be, with a progress bar) and loads
    /// both splits, keeping only the first `train_limit` training samples if given.
    ///
    /// ```no_run
    /// use ember_data::{Dataset, DatasetKind, TrainTest};
    ///
    /// let data = TrainTest::find(DatasetKind::FashionMnist, Some(500))?;
    /// assert_eq!(data.train.len(), 500);
    /// # Ok::<(), ember_data::Error>(())
    /// ```
    pub fn find(kind: DatasetKind, train_limit: Option<usize>) -> Result<TrainTest> {
        let dir = locate(kind, None, true)?;
        load_train_test(kind, &dir, train_limit, None)
    }
}

/// True if `dir` holds all four files of `kind` (gzipped or raw).
fn has_files(kind: DatasetKind, dir: &Path) -> bool {
    Split::ALL.iter().all(|s| {
        [s.images_file(), s.labels_file()]
            .into_iter()
            .all(|f| locate_file(kind, dir, f).is_ok())
    })
}

/// The directory to read `kind` from. An explicit `data_dir` is used as given (and must hold
/// the files); otherwise `data/<dataset>` (relative to the working directory) if it holds them,
/// then Debian's copy of Fashion-MNIST ([`DEBIAN_FASHION_MNIST_DIR`], package
/// `dataset-fashion-mnist`), and failing those `data/<dataset>` after downloading into it
/// from the canonical mirrors (checksums verified; a progress bar on stderr if `progress`).
///
/// # Errors
/// The downloader's, when neither copy exists and the download fails.
pub fn locate(kind: DatasetKind, data_dir: Option<&Path>, progress: bool) -> Result<PathBuf> {
    if let Some(dir) = data_dir {
        return Ok(dir.to_path_buf());
    }
    if let Some(dir) = find_local(kind) {
        return Ok(dir);
    }
    let local = PathBuf::from("data").join(kind.name());
    download_dataset(
        kind,
        &local,
        &DownloadOptions::for_dataset(kind).with_progress(progress),
    )?;
    Ok(local)
}

/// A copy of `kind` already on this machine, where [`locate`] looks first: `data/<dataset>`
/// (relative to the working directory), then Debian's copy of Fashion-MNIST. Never downloads.
pub fn find_local(kind: DatasetKind) -> Option<PathBuf> {
    let local = PathBuf::from("data").join(kind.name());
    if has_files(kind, &local) {
        return Some(local);
    }
    let debian = Path::new(DEBIAN_FASHION_MNIST_DIR);
    (kind == DatasetKind::FashionMnist && has_files(kind, debian)).then(|| debian.to_path_buf())
}

/// Loads one split of `kind` from `dir`, keeping only the first `limit` samples if given.
///
/// # Errors
/// The loader's: a missing or malformed file, named with its path.
pub fn load_limited(
    kind: DatasetKind,
    dir: &Path,
    split: Split,
    limit: Option<usize>,
) -> Result<InMemoryDataset> {
    truncate(kind.load(dir, split)?, limit)
}

/// Loads both splits of `kind` from `dir`, keeping only the first `train_limit` /
/// `test_limit` samples if given.
///
/// # Errors
/// The loader's: a missing or malformed file, named with its path.
pub fn load_train_test(
    kind: DatasetKind,
    dir: &Path,
    train_limit: Option<usize>,
    test_limit: Option<usize>,
) -> Result<TrainTest> {
    Ok(TrainTest {
        train: load_limited(kind, dir, Split::Train, train_limit)?,
        test: load_limited(kind, dir, Split::Test, test_limit)?,
        dir: dir.to_path_buf(),
    })
}

fn truncate(data: MnistData, limit: Option<usize>) -> Result<InMemoryDataset> {
    let (mut images, mut labels) = data.into_parts();
    if let Some(n) = limit.filter(|&n| n < labels.len()) {
        images.truncate(n * IMAGE_BYTES);
        labels.truncate(n);
    }
    InMemoryDataset::new(images, labels)
}
