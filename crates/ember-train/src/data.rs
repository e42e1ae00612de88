//! Finding the data: `--data-dir`, `data/<dataset>`, Debian's copy, or a download.

use std::path::{Path, PathBuf};

use ember_data::mnist::locate_file;
use ember_data::{
    DatasetKind, DownloadOptions, IMAGE_BYTES, InMemoryDataset, MnistData, Split, download_dataset,
};

use crate::Result;

/// Where Debian's `dataset-fashion-mnist` package puts its files.
pub use ember_data::download::DEBIAN_FASHION_MNIST_DIR as DEBIAN_FASHION_MNIST;

/// The training and test splits of a data set.
pub struct TrainingData {
    /// 60,000 samples (or fewer with a limit).
    pub train: InMemoryDataset,
    /// 10,000 samples (or fewer with a limit).
    pub test: InMemoryDataset,
    /// The directory they were read from.
    pub dir: PathBuf,
}

fn has_files(kind: DatasetKind, dir: &Path) -> bool {
    Split::ALL.iter().all(|s| {
        [s.images_file(), s.labels_file()]
            .into_iter()
            .all(|f| locate_file(kind, dir, f).is_ok())
    })
}

/// The directory to read `kind` from. An explicit `--data-dir` is used as given (and must hold
/// the files); otherwise `data/<dataset>` if it holds them, then Debian's copy of
/// Fashion-MNIST, and failing those `data/<dataset>` after downloading into it.
pub fn locate(kind: DatasetKind, data_dir: Option<&Path>, progress: bool) -> Result<PathBuf> {
    if let Some(dir) = data_dir {
        return Ok(dir.to_path_buf());
    }
    let local = PathBuf::from("data").join(kind.name());
    if has_files(kind, &local) {
        return Ok(local);
    }
    if kind == DatasetKind::FashionMnist && has_files(kind, Path::new(DEBIAN_FASHION_MNIST)) {
        return Ok(PathBuf::from(DEBIAN_FASHION_MNIST));
    }
    download_dataset(
        kind,
        &local,
        &DownloadOptions::for_dataset(kind).with_progress(progress),
    )?;
    Ok(local)
}

/// Loads both splits, keeping only the first `train_limit` / `test_limit` samples if given.
pub fn load(
    kind: DatasetKind,
    dir: &Path,
    train_limit: Option<usize>,
    test_limit: Option<usize>,
) -> Result<TrainingData> {
    let train = truncate(kind.load(dir, Split::Train)?, train_limit)?;
    let test = truncate(kind.load(dir, Split::Test)?, test_limit)?;
    Ok(TrainingData {
        train,
        test,
        dir: dir.to_path_buf(),
    })
}

fn truncate(data: MnistData, limit: Option<usize>) -> Result<InMemoryDataset> {
    let (mut images, mut labels) = data.into_parts();
    if let Some(n) = limit.filter(|&n| n < labels.len()) {
        images.truncate(n * IMAGE_BYTES);
        labels.truncate(n);
    }
    Ok(InMemoryDataset::new(images, labels)?)
}
