//! Feeds arbitrary bytes to the IDX reader (raw and gzip paths) and to MNIST validation.
//! Nothing here may panic; every rejection must be a typed error.

#![no_main]

use std::io::Write;

use ember_data::idx::{MAX_ELEMENTS, read_idx_bytes};
use ember_data::{Dataset, DatasetKind, IMAGE_BYTES, MnistData, NUM_CLASSES, Split};
use flate2::Compression;
use flate2::write::GzEncoder;
use libfuzzer_sys::fuzz_target;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder
        .write_all(bytes)
        .expect("writing to a Vec cannot fail");
    encoder.finish().expect("writing to a Vec cannot fail")
}

fuzz_target!(|data: &[u8]| {
    // As given: raw IDX, or gzip if the bytes open with 1f 8b.
    let direct = read_idx_bytes(data, "fuzz-input");
    if let Ok(array) = &direct {
        let elements: u64 = array.dims.iter().map(|&d| d as u64).product();
        assert!(elements <= MAX_ELEMENTS);
        assert_eq!(array.data.len() as u64, elements);
        assert!((1..=4).contains(&array.dims.len()));
    }

    // Through the gzip path: the same bytes wrapped in a valid gzip stream must decode to
    // the same result as the raw bytes (unless they were themselves gzip).
    let via_gzip = read_idx_bytes(&gzip(data), "fuzz-input.gz");
    if !data.starts_with(&[0x1f, 0x8b]) {
        match (&direct, &via_gzip) {
            (Ok(a), Ok(b)) => assert_eq!(a, b),
            (Err(_), Err(_)) => {}
            (a, b) => panic!("raw and gzip paths disagree: {a:?} vs {b:?}"),
        }
    }

    // MNIST validation: the first two bytes (big-endian) say where to split the rest into
    // an image file and a label file.
    let [hi, lo, rest @ ..] = data else {
        return;
    };
    let at = usize::from(u16::from_be_bytes([*hi, *lo])).min(rest.len());
    let (image_bytes, label_bytes) = rest.split_at(at);
    let (Ok(images), Ok(labels)) = (
        read_idx_bytes(image_bytes, "images"),
        read_idx_bytes(label_bytes, "labels"),
    ) else {
        return;
    };
    let images_path = std::path::Path::new("images");
    let labels_path = std::path::Path::new("labels");
    if let Ok(mnist) = MnistData::from_idx(
        DatasetKind::FashionMnist,
        Split::Test,
        images,
        images_path,
        labels,
        labels_path,
    ) {
        assert_eq!(mnist.images().len(), mnist.len() * IMAGE_BYTES);
        assert!(mnist.labels().iter().all(|&l| usize::from(l) < NUM_CLASSES));
        assert_eq!(mnist.class_counts().iter().sum::<usize>(), mnist.len());
        for i in 0..mnist.len() {
            assert!(mnist.get(i).is_some());
        }
        assert!(mnist.get(mnist.len()).is_none());
    }
});
