//! Shared helpers: a small synthetic data set in MNIST's file layout, and the real
//! Fashion-MNIST when installed.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use ember_data::idx::write_idx;
use ember_tensor::rand::Rng;
use ember_tensor::seeded_rng;
use ember_train::TrainConfig;

/// Writes `train` + `test` samples whose label determines which image rows are bright, plus
/// noise: learnable, but not trivially.
pub fn write_synthetic(dir: &Path, train: usize, test: usize) {
    let mut rng = seeded_rng(5);
    for (prefix, n) in [("train", train), ("t10k", test)] {
        let mut images = vec![0u8; n * 784];
        let mut labels = vec![0u8; n];
        for i in 0..n {
            let label = rng.random_range(0..10u8);
            labels[i] = label;
            for p in 0..784 {
                let row = p / 28;
                let signal = if row / 3 == label as usize { 160 } else { 0 };
                let noise = rng.random_range(0..96u32) as u8;
                images[i * 784 + p] = signal + noise;
            }
        }
        write_idx(
            dir.join(format!("{prefix}-images-idx3-ubyte.gz")),
            &[n, 28, 28],
            &images,
            true,
        )
        .expect("write images");
        write_idx(
            dir.join(format!("{prefix}-labels-idx1-ubyte.gz")),
            &[n],
            &labels,
            true,
        )
        .expect("write labels");
    }
}

/// A quick configuration over `data` writing into `out`.
pub fn quick_config(data: &Path, out: &Path, epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        data_dir: Some(data.to_path_buf()),
        out: Some(out.to_path_buf()),
        ..TrainConfig::default()
    }
}

/// Debian's Fashion-MNIST, if installed. In CI (`CI` set) its absence is a failure; elsewhere
/// the caller skips with a message saying why.
pub fn real_fashion_mnist() -> Option<PathBuf> {
    let dir = PathBuf::from(ember_data::download::DEBIAN_FASHION_MNIST_DIR);
    if dir.join("train-images-idx3-ubyte.gz").exists() {
        return Some(dir);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "{} is missing in CI: .ci/run must install Debian's dataset-fashion-mnist",
            dir.display()
        );
    }
    eprintln!(
        "SKIPPED: {} not found (install Debian's dataset-fashion-mnist to run this test)",
        dir.display()
    );
    None
}

/// Pixels of a series colour (not white, grey or black) inside and outside the plot area.
pub fn coloured_pixels(chart: &ember_train::charts::RenderedChart) -> (usize, usize) {
    let decoder = png::Decoder::new(chart.png.as_slice());
    let mut reader = decoder.read_info().expect("a valid PNG");
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).expect("one frame");
    assert_eq!((info.width, info.height), chart.size);
    let (xs, ys) = &chart.plot_area;
    let (mut inside, mut outside) = (0, 0);
    for (i, rgb) in pixels.chunks_exact(3).enumerate() {
        let (x, y) = (
            (i as u32 % info.width) as i32,
            (i as u32 / info.width) as i32,
        );
        let (lo, hi) = (*rgb.iter().min().unwrap(), *rgb.iter().max().unwrap());
        if hi - lo > 60 {
            if xs.contains(&x) && ys.contains(&y) {
                inside += 1;
            } else {
                outside += 1;
            }
        }
    }
    (inside, outside)
}
