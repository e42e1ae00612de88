//! MNIST and Fashion-MNIST: file names, class names, loading and validation.
//!
//! Both data sets ship as the same four IDX files; only the pictures and class names differ.
//! A directory is expected to hold, gzipped (preferred) or raw:
//! `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
//! `t10k-labels-idx1-ubyte`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::dataset::{Dataset, IMAGE_COLS, IMAGE_ROWS, InMemoryDataset};
use crate::error::{Error, Result};
use crate::idx::{IdxArray, read_idx};

/// Number of classes in both data sets.
pub const NUM_CLASSES: usize = 10;

/// Class names of MNIST: the digits.
pub const MNIST_CLASSES: [&str; NUM_CLASSES] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

/// Class names of Fashion-MNIST, indexed by label.
pub const FASHION_MNIST_CLASSES: [&str; NUM_CLASSES] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// The four file names (without `.gz`) both data sets use, train split first.
pub const FILE_NAMES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// Which of the two data sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatasetKind {
    /// LeCun et al.'s handwritten digits.
    Mnist,
    /// Zalando's Fashion-MNIST: clothing in MNIST's format.
    FashionMnist,
}

impl DatasetKind {
    /// Every kind, in the order their names are listed.
    pub const ALL: [DatasetKind; 2] = [DatasetKind::Mnist, DatasetKind::FashionMnist];

    /// The name used on command lines: `"mnist"` or `"fashion-mnist"`.
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::Mnist => "mnist",
            DatasetKind::FashionMnist => "fashion-mnist",
        }
    }

    /// The name used in prose: `"MNIST"` or `"Fashion-MNIST"`.
    pub fn display_name(self) -> &'static str {
        match self {
            DatasetKind::Mnist => "MNIST",
            DatasetKind::FashionMnist => "Fashion-MNIST",
        }
    }

    /// The class names, indexed by label.
    pub fn class_names(self) -> &'static [&'static str; NUM_CLASSES] {
        match self {
            DatasetKind::Mnist => &MNIST_CLASSES,
            DatasetKind::FashionMnist => &FASHION_MNIST_CLASSES,
        }
    }

    /// Loads one split of this data set from `root`.
    ///
    /// # Errors
    /// See [`load_split`].
    pub fn load(self, root: impl AsRef<Path>, split: Split) -> Result<MnistData> {
        load_split(self, root.as_ref(), split)
    }
}

impl fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DatasetKind {
    type Err = Error;

    /// Parses `"mnist"` or `"fashion-mnist"` (case-insensitive; `_` accepted for `-`).
    fn from_str(name: &str) -> Result<Self> {
        let normalised = name.trim().to_ascii_lowercase().replace('_', "-");
        DatasetKind::ALL
            .into_iter()
            .find(|kind| kind.name() == normalised)
            .ok_or_else(|| Error::UnknownDataset {
                name: name.to_owned(),
                valid: DatasetKind::ALL.iter().map(|k| k.name()).collect(),
            })
    }
}

/// Which half of a data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// The 60,000 training samples.
    Train,
    /// The 10,000 test samples.
    Test,
}

impl Split {
    /// Both splits, training first.
    pub const ALL: [Split; 2] = [Split::Train, Split::Test];

    /// The image file's name without `.gz`.
    pub fn images_file(self) -> &'static str {
        match self {
            Split::Train => FILE_NAMES[0],
            Split::Test => FILE_NAMES[2],
        }
    }

    /// The label file's name without `.gz`.
    pub fn labels_file(self) -> &'static str {
        match self {
            Split::Train => FILE_NAMES[1],
            Split::Test => FILE_NAMES[3],
        }
    }

    /// The number of samples the published split holds (60,000 or 10,000).
    pub fn published_len(self) -> usize {
        match self {
            Split::Train => 60_000,
            Split::Test => 10_000,
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Split::Train => "train",
            Split::Test => "test",
        })
    }
}

/// Entry point for MNIST.
#[derive(Debug, Clone, Copy)]
pub struct Mnist;

impl Mnist {
    /// Loads one split of MNIST from the four standard files in `root`.
    ///
    /// # Errors
    /// See [`load_split`].
    pub fn load(root: impl AsRef<Path>, split: Split) -> Result<MnistData> {
        load_split(DatasetKind::Mnist, root.as_ref(), split)
    }
}

/// Entry point for Fashion-MNIST.
#[derive(Debug, Clone, Copy)]
pub struct FashionMnist;

impl FashionMnist {
    /// The class names, indexed by label.
    pub const CLASSES: [&'static str; NUM_CLASSES] = FASHION_MNIST_CLASSES;

    /// Loads one split of Fashion-MNIST from the four standard files in `root`.
    ///
    /// # Errors
    /// See [`load_split`].
    pub fn load(root: impl AsRef<Path>, split: Split) -> Result<MnistData> {
        load_split(DatasetKind::FashionMnist, root.as_ref(), split)
    }
}

/// One loaded and validated split: `len() * 784` image bytes and `len()` labels below 10.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MnistData {
    kind: DatasetKind,
    split: Split,
    images: Vec<u8>,
    labels: Vec<u8>,
}

impl MnistData {
    /// Validates decoded image and label arrays and wraps them.
    ///
    /// The paths only name the files in error messages.
    ///
    /// # Errors
    /// - [`Error::WrongShape`] if the images are not `[N, 28, 28]` or the labels not `[N]`;
    /// - [`Error::CountMismatch`] if the two `N` differ;
    /// - [`Error::LabelOutOfRange`] for the first label that is 10 or more.
    pub fn from_idx(
        kind: DatasetKind,
        split: Split,
        images: IdxArray,
        images_path: &Path,
        labels: IdxArray,
        labels_path: &Path,
    ) -> Result<Self> {
        if images.dims.len() != 3 || images.dims[1] != IMAGE_ROWS || images.dims[2] != IMAGE_COLS {
            return Err(Error::WrongShape {
                path: images_path.to_path_buf(),
                expected: "images of shape [N, 28, 28]",
                found: images.dims,
            });
        }
        if labels.dims.len() != 1 {
            return Err(Error::WrongShape {
                path: labels_path.to_path_buf(),
                expected: "labels of shape [N]",
                found: labels.dims,
            });
        }
        let (image_count, label_count) = (images.dims[0], labels.dims[0]);
        if image_count != label_count {
            return Err(Error::CountMismatch {
                images_path: images_path.to_path_buf(),
                images: image_count,
                labels_path: labels_path.to_path_buf(),
                labels: label_count,
            });
        }
        if let Some((index, &value)) = labels
            .data
            .iter()
            .enumerate()
            .find(|&(_, &l)| usize::from(l) >= NUM_CLASSES)
        {
            return Err(Error::LabelOutOfRange {
                path: labels_path.to_path_buf(),
                index,
                value,
                classes: NUM_CLASSES,
            });
        }
        // The IDX reader guarantees data.len() == product(dims); re-check rather than trust.
        crate::dataset::check_consistent(&images.data, &labels.data)?;
        Ok(Self {
            kind,
            split,
            images: images.data,
            labels: labels.data,
        })
    }

    /// Which data set this is.
    pub fn kind(&self) -> DatasetKind {
        self.kind
    }

    /// Which split this is.
    pub fn split(&self) -> Split {
        self.split
    }

    /// The class names, indexed by label.
    pub fn class_names(&self) -> &'static [&'static str; NUM_CLASSES] {
        self.kind.class_names()
    }

    /// The name of class `label`, or `None` if it is not below 10.
    pub fn class_name(&self, label: u8) -> Option<&'static str> {
        self.kind.class_names().get(usize::from(label)).copied()
    }

    /// Number of samples of each class.
    pub fn class_counts(&self) -> [usize; NUM_CLASSES] {
        let mut counts = [0; NUM_CLASSES];
        for &label in &self.labels {
            // Labels were validated below NUM_CLASSES.
            if let Some(c) = counts.get_mut(usize::from(label)) {
                *c += 1;
            }
        }
        counts
    }

    /// Gives the buffers back: `(images, labels)`.
    pub fn into_parts(self) -> (Vec<u8>, Vec<u8>) {
        (self.images, self.labels)
    }

    /// Drops the kind and split, keeping the samples.
    pub fn into_dataset(self) -> InMemoryDataset {
        InMemoryDataset::from_checked(self.images, self.labels)
    }
}

impl Dataset for MnistData {
    fn images(&self) -> &[u8] {
        &self.images
    }

    fn labels(&self) -> &[u8] {
        &self.labels
    }
}

/// Finds `name.gz` (preferred) or `name` in `dir`.
///
/// # Errors
/// [`Error::MissingFile`], advising how to obtain the files, if neither exists.
pub fn locate_file(kind: DatasetKind, dir: &Path, name: &'static str) -> Result<PathBuf> {
    let gz = dir.join(format!("{name}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    let raw = dir.join(name);
    if raw.is_file() {
        return Ok(raw);
    }
    Err(Error::MissingFile {
        kind,
        dir: dir.to_path_buf(),
        file_name: name,
    })
}

/// Loads and validates one split of `kind` from the files in `root`.
///
/// # Errors
/// [`Error::MissingFile`] if a file is absent, any IDX decoding error from
/// [`read_idx`], and the validation errors of [`MnistData::from_idx`].
pub fn load_split(kind: DatasetKind, root: &Path, split: Split) -> Result<MnistData> {
    let images_path = locate_file(kind, root, split.images_file())?;
    let labels_path = locate_file(kind, root, split.labels_file())?;
    let labels = read_idx(&labels_path)?;
    let images = read_idx(&images_path)?;
    MnistData::from_idx(kind, split, images, &images_path, labels, &labels_path)
}
