//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::Path;

use ember_data::{IMAGE_BYTES, write_idx};

/// Images whose first three pixels encode the sample index (little-endian), the rest of
/// the pixels `index % 256`; labels `index % 10`.
pub fn synthetic(n: usize) -> (Vec<u8>, Vec<u8>) {
    let mut images = Vec::with_capacity(n * IMAGE_BYTES);
    for i in 0..n {
        let mut image = [(i % 256) as u8; IMAGE_BYTES];
        image[0] = (i & 0xff) as u8;
        image[1] = ((i >> 8) & 0xff) as u8;
        image[2] = ((i >> 16) & 0xff) as u8;
        images.extend_from_slice(&image);
    }
    let labels = (0..n).map(|i| (i % 10) as u8).collect();
    (images, labels)
}

/// Recovers the sample index from the first three (scaled) pixels of a batch image.
pub fn decode_index(pixels: &[f32]) -> usize {
    let byte = |x: f32| (x * 255.0).round() as usize;
    byte(pixels[0]) | (byte(pixels[1]) << 8) | (byte(pixels[2]) << 16)
}

/// Writes a valid pair of files for `split_prefix` ("train" or "t10k") with `n` samples.
pub fn write_split(dir: &Path, split_prefix: &str, n: usize, gzip: bool) {
    let (images, labels) = synthetic(n);
    let ext = if gzip { ".gz" } else { "" };
    write_idx(
        dir.join(format!("{split_prefix}-images-idx3-ubyte{ext}")),
        &[n, 28, 28],
        &images,
        gzip,
    )
    .unwrap();
    write_idx(
        dir.join(format!("{split_prefix}-labels-idx1-ubyte{ext}")),
        &[n],
        &labels,
        gzip,
    )
    .unwrap();
}

/// Names of the entries in `dir`, sorted.
pub fn dir_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
