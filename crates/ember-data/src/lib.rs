//! Data for Ember: MNIST and Fashion-MNIST.
//!
//! - [`idx`]: reading (gzipped or raw) and writing IDX files, defensively;
//! - [`Mnist`] / [`FashionMnist`]: loading and validating a split into one contiguous
//!   `u8` buffer;
//! - [`download_dataset`]: fetching the files from mirrors with checksum verification and
//!   atomic writes, and [`verify_dir`] for checking a local copy;
//! - [`locate`] / [`TrainTest::find`]: a local copy (`data/<dataset>`, Debian's package) or a
//!   download, and both splits loaded;
//! - [`DataLoader`]: deterministic, resumable shuffling into batches of `f32` pixels.
//!
//! **In the stack:** beside the others, depending on none of them: batches are plain `f32`
//! pixels and `u32` labels that the caller moves into tensors; `ember-train` and the examples
//! use it.
//!
//! # Example
//!
//! Write a tiny data set in MNIST's file layout, load it and batch it:
//!
//! ```
//! use ember_data::{idx::write_idx, DataLoader, Dataset, Mnist, Split, IMAGE_BYTES};
//!
//! let dir = tempfile::tempdir()?;
//! let n = 5;
//! let images: Vec<u8> = (0..n * IMAGE_BYTES).map(|i| (i % 256) as u8).collect();
//! let labels: Vec<u8> = vec![0, 1, 2, 3, 9];
//! write_idx(dir.path().join("t10k-images-idx3-ubyte.gz"), &[n, 28, 28], &images, true)?;
//! write_idx(dir.path().join("t10k-labels-idx1-ubyte.gz"), &[n], &labels, true)?;
//!
//! let test = Mnist::load(dir.path(), Split::Test)?;
//! assert_eq!(test.len(), 5);
//! assert_eq!(test.label(4), Some(9));
//!
//! let loader = DataLoader::new(&test, 2)?.shuffle(true).seed(7);
//! assert_eq!(loader.len(), 3);
//! for batch in loader.epoch(0) {
//!     assert_eq!(batch.shape_nchw()[1..], [1, 28, 28]);
//!     assert!(batch.images.iter().all(|&x| (0.0..=1.0).contains(&x)));
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod dataset;
pub mod download;
pub mod error;
#[cfg(feature = "download")]
mod fetch;
pub mod idx;
pub mod loader;
pub mod mnist;
pub mod splits;

pub use dataset::{Dataset, IMAGE_BYTES, IMAGE_COLS, IMAGE_ROWS, InMemoryDataset, Sample};
pub use download::{
    DownloadOptions, DownloadReport, ExpectedFile, FileOutcome, FileReport, SplitSummary,
    VerifyReport, download_dataset, verify_dir,
};
pub use error::{DownloadAttempt, DownloadFailure, Error, Result};
pub use idx::{IdxArray, read_idx, write_idx};
pub use loader::{Batch, DataLoader, EpochBatches};
pub use mnist::{
    DatasetKind, FASHION_MNIST_CLASSES, FashionMnist, Mnist, MnistData, NUM_CLASSES, Split,
    load_split,
};
pub use splits::{TrainTest, find_local, load_limited, load_train_test, locate};
