//! Loads the real Fashion-MNIST from Debian's `dataset-fashion-mnist` package.
//!
//! Skipped (with a message) when the package is not installed, unless `CI` is set, in which
//! case a missing directory fails the test.

use std::path::Path;

use ember_data::{
    DataLoader, Dataset, DatasetKind, FashionMnist, Split, download::DEBIAN_FASHION_MNIST_DIR,
    verify_dir,
};

/// Returns the directory, or `None` after printing why the test is skipped.
fn fashion_dir() -> Option<&'static Path> {
    let dir = Path::new(DEBIAN_FASHION_MNIST_DIR);
    if dir.is_dir() {
        return Some(dir);
    }
    let in_ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    assert!(
        !in_ci,
        "{DEBIAN_FASHION_MNIST_DIR} not found and CI is set: install Debian's dataset-fashion-mnist"
    );
    eprintln!(
        "SKIPPED: {DEBIAN_FASHION_MNIST_DIR} not found (install Debian's dataset-fashion-mnist)"
    );
    None
}

#[test]
fn debian_fashion_mnist_has_the_published_counts() {
    let Some(dir) = fashion_dir() else { return };
    for (split, n, per_class) in [(Split::Train, 60_000, 6_000), (Split::Test, 10_000, 1_000)] {
        let data = FashionMnist::load(dir, split).unwrap();
        assert_eq!(data.len(), n);
        assert_eq!(data.images().len(), n * 784);
        assert_eq!(data.class_counts(), [per_class; 10], "{split}");
        assert_eq!(data.class_name(0), Some("T-shirt/top"));
    }
}

#[test]
fn debian_fashion_mnist_verifies_and_matches_published_content() {
    let Some(dir) = fashion_dir() else { return };
    let report = verify_dir(DatasetKind::FashionMnist, dir).unwrap();
    assert_eq!((report.train.len, report.test.len), (60_000, 10_000));
    assert_eq!(report.matches_published_content(), Some(true), "{report:?}");
}

#[test]
fn debian_fashion_mnist_batches_cover_the_test_split() {
    let Some(dir) = fashion_dir() else { return };
    let test = FashionMnist::load(dir, Split::Test).unwrap();
    let loader = DataLoader::new(&test, 100).unwrap().shuffle(true).seed(3);
    let mut per_class = [0usize; 10];
    let mut batches = 0;
    for batch in loader.epoch(0) {
        assert_eq!(batch.shape_nchw(), [100, 1, 28, 28]);
        for &l in &batch.labels {
            per_class[l as usize] += 1;
        }
        batches += 1;
    }
    assert_eq!(batches, 100);
    assert_eq!(per_class, [1_000; 10]);
}
