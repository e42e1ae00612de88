//! Benchmarks: decoding Fashion-MNIST's training split, and assembling one epoch of batches.
//!
//! Targets: load + decode of the 60,000 training images under 1 s; one epoch of 600 batches
//! of 100 under 50 ms.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ember_data::download::DEBIAN_FASHION_MNIST_DIR;
use ember_data::{DataLoader, Dataset, FashionMnist, IMAGE_BYTES, InMemoryDataset, Split};

fn load_and_decode(c: &mut Criterion) {
    let dir = Path::new(DEBIAN_FASHION_MNIST_DIR);
    if !dir.is_dir() {
        eprintln!(
            "SKIPPED load_and_decode: {DEBIAN_FASHION_MNIST_DIR} not found \
             (install Debian's dataset-fashion-mnist)"
        );
        return;
    }
    let mut group = c.benchmark_group("fashion_mnist");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    group.bench_function("load_decode_train_60k", |b| {
        b.iter(|| {
            let data = FashionMnist::load(dir, Split::Train).expect("Fashion-MNIST loads");
            black_box(data.len())
        })
    });
    group.finish();
}

fn epoch_of_batches(c: &mut Criterion) {
    let n = 60_000;
    let images: Vec<u8> = (0..n * IMAGE_BYTES)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    let data = InMemoryDataset::new(images, labels).expect("consistent synthetic data");
    let loader = DataLoader::new(&data, 100)
        .expect("non-zero batch size")
        .shuffle(true)
        .seed(1);
    assert_eq!(loader.len(), 600);

    let mut group = c.benchmark_group("dataloader");
    group.sample_size(20);
    group.bench_function("epoch_600x100_reused_buffer", |b| {
        let mut batch = loader.new_batch();
        let mut epoch_index = 0u64;
        b.iter(|| {
            let mut epoch = loader.epoch(epoch_index);
            epoch_index += 1;
            let mut checksum = 0.0f32;
            while epoch.next_into(&mut batch) {
                checksum += batch.images[0];
            }
            black_box(checksum)
        })
    });
    group.bench_function("epoch_600x100_iterator", |b| {
        let mut epoch_index = 0u64;
        b.iter(|| {
            let total: usize = loader.epoch(epoch_index).map(|batch| batch.len).sum();
            epoch_index += 1;
            black_box(total)
        })
    });
    group.finish();
}

criterion_group!(benches, load_and_decode, epoch_of_batches);
criterion_main!(benches);
