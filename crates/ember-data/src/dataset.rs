//! The [`Dataset`] trait: labelled 28×28 grey-scale images stored contiguously.

use crate::error::{Error, Result};

/// Rows in one image.
pub const IMAGE_ROWS: usize = 28;
/// Columns in one image.
pub const IMAGE_COLS: usize = 28;
/// Bytes (pixels) in one image: 28 × 28 = 784.
pub const IMAGE_BYTES: usize = IMAGE_ROWS * IMAGE_COLS;

/// One labelled image, borrowed from a [`Dataset`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample<'a> {
    /// The 784 pixels, row-major, 0 = background.
    pub image: &'a [u8],
    /// The class index.
    pub label: u8,
}

/// A data set of labelled 28×28 `u8` images held in two contiguous buffers.
///
/// Implementors provide the buffers; sample access, `len` and `is_empty` come for free. Sample
/// `i` is `images()[i * 784..(i + 1) * 784]` with label `labels()[i]`, so a
/// [`DataLoader`](crate::DataLoader) copies straight out of the image buffer with no per-sample
/// indirection. Implementations must keep `images().len() == labels().len() * 784`; the loader
/// checks it and refuses a data set that does not.
///
/// # Example
///
/// ```
/// use ember_data::{Dataset, IMAGE_BYTES};
///
/// /// Three images, each filled with its own index.
/// struct Tiny {
///     images: Vec<u8>,
///     labels: Vec<u8>,
/// }
///
/// impl Dataset for Tiny {
///     fn images(&self) -> &[u8] {
///         &self.images
///     }
///     fn labels(&self) -> &[u8] {
///         &self.labels
///     }
/// }
///
/// let tiny = Tiny {
///     images: (0..3u8).flat_map(|i| [i; IMAGE_BYTES]).collect(),
///     labels: vec![7, 1, 4],
/// };
/// assert_eq!(tiny.len(), 3);
/// assert!(!tiny.is_empty());
/// let sample = tiny.get(2).unwrap();
/// assert_eq!(sample.label, 4);
/// assert_eq!(sample.image.len(), IMAGE_BYTES);
/// assert!(sample.image.iter().all(|&p| p == 2));
/// assert!(tiny.get(3).is_none());
/// ```
pub trait Dataset {
    /// All images, back to back: `len() * 784` bytes.
    fn images(&self) -> &[u8];

    /// All labels, one byte per sample.
    fn labels(&self) -> &[u8];

    /// Number of samples.
    fn len(&self) -> usize {
        self.labels().len()
    }

    /// True if the data set holds no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The 784 pixels of sample `index`, or `None` if out of range.
    fn image(&self, index: usize) -> Option<&[u8]> {
        let start = index.checked_mul(IMAGE_BYTES)?;
        self.images().get(start..start.checked_add(IMAGE_BYTES)?)
    }

    /// The label of sample `index`, or `None` if out of range.
    fn label(&self, index: usize) -> Option<u8> {
        self.labels().get(index).copied()
    }

    /// Sample `index` (image and label), or `None` if out of range.
    fn get(&self, index: usize) -> Option<Sample<'_>> {
        Some(Sample {
            image: self.image(index)?,
            label: self.label(index)?,
        })
    }
}

/// A [`Dataset`] that owns its buffers, built from any images and labels of matching length.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InMemoryDataset {
    images: Vec<u8>,
    labels: Vec<u8>,
}

impl InMemoryDataset {
    /// Wraps `images` (`n * 784` bytes) and `labels` (`n` bytes).
    ///
    /// # Errors
    /// [`Error::InconsistentDataset`] if `images.len() != labels.len() * 784`.
    pub fn new(images: Vec<u8>, labels: Vec<u8>) -> Result<Self> {
        check_consistent(&images, &labels)?;
        Ok(Self { images, labels })
    }

    /// Wraps buffers whose consistency the caller has already checked.
    pub(crate) fn from_checked(images: Vec<u8>, labels: Vec<u8>) -> Self {
        debug_assert_eq!(Some(images.len()), labels.len().checked_mul(IMAGE_BYTES));
        Self { images, labels }
    }

    /// Gives the buffers back: `(images, labels)`.
    pub fn into_parts(self) -> (Vec<u8>, Vec<u8>) {
        (self.images, self.labels)
    }
}

impl Dataset for InMemoryDataset {
    fn images(&self) -> &[u8] {
        &self.images
    }

    fn labels(&self) -> &[u8] {
        &self.labels
    }
}

/// Checks that `images` holds exactly 784 bytes per label.
pub(crate) fn check_consistent(images: &[u8], labels: &[u8]) -> Result<()> {
    let expected = labels.len().checked_mul(IMAGE_BYTES);
    if expected != Some(images.len()) {
        return Err(Error::InconsistentDataset {
            samples: labels.len(),
            expected: expected.unwrap_or(usize::MAX),
            found: images.len(),
        });
    }
    Ok(())
}
