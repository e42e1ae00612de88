//! DataLoader: coverage, determinism, drop_last, shapes, scaling, buffer reuse.

mod common;

use ember_data::{Batch, DataLoader, Dataset, Error, IMAGE_BYTES, InMemoryDataset};
use proptest::prelude::*;

fn dataset(n: usize) -> InMemoryDataset {
    let (images, labels) = common::synthetic(n);
    InMemoryDataset::new(images, labels).unwrap()
}

/// The sample indices of every batch of `epoch`, recovered from the pixels.
fn epoch_indices<D: Dataset + ?Sized>(loader: &DataLoader<'_, D>, epoch: u64) -> Vec<Vec<usize>> {
    loader
        .epoch(epoch)
        .map(|b| {
            assert_eq!(b.images.len(), b.len * IMAGE_BYTES);
            assert_eq!(b.labels.len(), b.len);
            b.images
                .chunks_exact(IMAGE_BYTES)
                .zip(&b.labels)
                .map(|(img, &label)| {
                    let i = common::decode_index(img);
                    assert_eq!(label as usize, i % 10, "label travels with its image");
                    i
                })
                .collect()
        })
        .collect()
}

fn flat(batches: &[Vec<usize>]) -> Vec<usize> {
    batches.concat()
}

#[test]
fn every_sample_once_per_epoch_without_drop_last() {
    let data = dataset(1050);
    let loader = DataLoader::new(&data, 100).unwrap().shuffle(true).seed(1);
    for epoch in 0..3 {
        let mut seen = flat(&epoch_indices(&loader, epoch));
        seen.sort_unstable();
        assert_eq!(seen, (0..1050).collect::<Vec<_>>());
    }
}

#[test]
fn every_kept_sample_once_with_drop_last() {
    let data = dataset(1050);
    let loader = DataLoader::new(&data, 100)
        .unwrap()
        .shuffle(true)
        .drop_last(true)
        .seed(1);
    let batches = epoch_indices(&loader, 0);
    let mut seen = flat(&batches);
    assert_eq!(seen.len(), 1000);
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 1000, "no sample twice");
    assert!(seen.iter().all(|&i| i < 1050));
}

#[test]
fn drop_last_semantics_and_len() {
    let data = dataset(1050);
    let keep = DataLoader::new(&data, 100).unwrap();
    let drop = DataLoader::new(&data, 100).unwrap().drop_last(true);
    assert_eq!(keep.len(), 11);
    assert_eq!(drop.len(), 10);
    let keep_sizes: Vec<usize> = keep.epoch(0).map(|b| b.len).collect();
    let drop_sizes: Vec<usize> = drop.epoch(0).map(|b| b.len).collect();
    assert_eq!(keep_sizes.len(), 11);
    assert_eq!(keep_sizes[10], 50);
    assert!(keep_sizes[..10].iter().all(|&s| s == 100));
    assert_eq!(drop_sizes, [100; 10]);
    assert_eq!(
        keep.epoch(0).len(),
        11,
        "ExactSizeIterator agrees with len()"
    );

    let exact = dataset(1000);
    assert_eq!(DataLoader::new(&exact, 100).unwrap().len(), 10);
    assert_eq!(
        DataLoader::new(&exact, 100).unwrap().drop_last(true).len(),
        10
    );
    let small = dataset(7);
    assert_eq!(DataLoader::new(&small, 10).unwrap().len(), 1);
    let dropped_all = DataLoader::new(&small, 10).unwrap().drop_last(true);
    assert_eq!(dropped_all.len(), 0);
    assert!(dropped_all.is_empty());
    assert_eq!(dropped_all.epoch(0).count(), 0);
}

#[test]
fn unshuffled_order_is_sequential() {
    let data = dataset(25);
    let loader = DataLoader::new(&data, 10).unwrap();
    assert_eq!(
        flat(&epoch_indices(&loader, 0)),
        (0..25).collect::<Vec<_>>()
    );
    assert_eq!(epoch_indices(&loader, 0), epoch_indices(&loader, 5));
}

#[test]
fn shuffle_is_deterministic_per_seed_and_epoch() {
    let data = dataset(500);
    let a = DataLoader::new(&data, 50).unwrap().shuffle(true).seed(42);
    let b = DataLoader::new(&data, 50).unwrap().shuffle(true).seed(42);
    let c = DataLoader::new(&data, 50).unwrap().shuffle(true).seed(43);
    let a0 = epoch_indices(&a, 0);
    assert_eq!(
        a0,
        epoch_indices(&b, 0),
        "same seed, same epoch: same order"
    );
    assert_eq!(epoch_indices(&a, 7), epoch_indices(&b, 7));
    assert_ne!(a0, epoch_indices(&a, 1), "epochs differ");
    assert_ne!(a0, epoch_indices(&c, 0), "seeds differ");
    assert_ne!(flat(&a0), (0..500).collect::<Vec<_>>(), "actually shuffled");
    // Resuming: epoch 3 computed directly equals epoch 3 after iterating 0..3.
    for e in 0..3 {
        let _ = epoch_indices(&a, e);
    }
    assert_eq!(epoch_indices(&a, 3), epoch_indices(&b, 3));
    assert_eq!(a.epoch_order(3), b.epoch_order(3));
}

#[test]
fn batch_shapes_and_pixel_scaling() {
    let mut images = vec![0u8; 3 * IMAGE_BYTES];
    images[IMAGE_BYTES..2 * IMAGE_BYTES].fill(255);
    images[2 * IMAGE_BYTES..].fill(51);
    let data = InMemoryDataset::new(images, vec![0, 9, 5]).unwrap();
    let loader = DataLoader::new(&data, 3).unwrap();
    let batch = loader.epoch(0).next().unwrap();
    assert_eq!(batch.len, 3);
    assert_eq!(batch.shape_flat(), [3, 784]);
    assert_eq!(batch.shape_nchw(), [3, 1, 28, 28]);
    assert_eq!(batch.labels, [0, 9, 5]);
    assert!(batch.images[..IMAGE_BYTES].iter().all(|&x| x == 0.0));
    assert!(
        batch.images[IMAGE_BYTES..2 * IMAGE_BYTES]
            .iter()
            .all(|&x| x == 1.0)
    );
    assert!(
        batch.images[2 * IMAGE_BYTES..]
            .iter()
            .all(|&x| x == 51.0 / 255.0)
    );
    for p in 0..=255u8 {
        let one = InMemoryDataset::new(vec![p; IMAGE_BYTES], vec![0]).unwrap();
        let b = DataLoader::new(&one, 1).unwrap().epoch(0).next().unwrap();
        assert_eq!(b.images[0], f32::from(p) / 255.0);
    }
}

#[test]
fn reused_batch_buffer_is_not_reallocated() {
    let data = dataset(1050);
    let loader = DataLoader::new(&data, 100).unwrap().shuffle(true);
    let mut batch = loader.new_batch();
    let (images_ptr, labels_ptr) = (batch.images.as_ptr(), batch.labels.as_ptr());
    let mut epoch = loader.epoch(0);
    let mut count = 0;
    let mut seen = Vec::new();
    while epoch.next_into(&mut batch) {
        assert_eq!(batch.images.as_ptr(), images_ptr);
        assert_eq!(batch.labels.as_ptr(), labels_ptr);
        seen.extend(
            batch
                .images
                .chunks_exact(IMAGE_BYTES)
                .map(common::decode_index),
        );
        count += 1;
    }
    assert_eq!(count, 11);
    assert!(batch.is_empty(), "exhausted epoch leaves the batch empty");
    assert_eq!(flat(&epoch_indices(&loader, 0)), seen);
}

#[test]
fn fill_batch_by_indices() {
    let data = dataset(20);
    let loader = DataLoader::new(&data, 4).unwrap();
    let mut batch = Batch::default();
    loader.fill_batch(&mut batch, &[19, 0, 7]).unwrap();
    assert_eq!(batch.len, 3);
    assert_eq!(batch.labels, [9, 0, 7]);
    let idx: Vec<usize> = batch
        .images
        .chunks_exact(IMAGE_BYTES)
        .map(common::decode_index)
        .collect();
    assert_eq!(idx, [19, 0, 7]);
    let err = loader.fill_batch(&mut batch, &[1, 20]).unwrap_err();
    assert!(
        matches!(err, Error::IndexOutOfRange { index: 20, len: 20 }),
        "{err}"
    );
    assert!(batch.is_empty());
    let err = loader.fill_batch(&mut batch, &[usize::MAX]).unwrap_err();
    assert!(matches!(err, Error::IndexOutOfRange { .. }), "{err}");
}

#[test]
fn rejects_zero_batch_size_and_inconsistent_datasets() {
    let data = dataset(3);
    assert!(matches!(
        DataLoader::new(&data, 0),
        Err(Error::ZeroBatchSize)
    ));
    assert!(matches!(
        InMemoryDataset::new(vec![0; 100], vec![0]),
        Err(Error::InconsistentDataset {
            samples: 1,
            expected: 784,
            found: 100
        })
    ));

    struct Broken;
    impl Dataset for Broken {
        fn images(&self) -> &[u8] {
            &[0; 10]
        }
        fn labels(&self) -> &[u8] {
            &[1, 2]
        }
    }
    assert!(matches!(
        DataLoader::new(&Broken, 1),
        Err(Error::InconsistentDataset { .. })
    ));
}

#[test]
fn works_over_a_trait_object() {
    let data = dataset(10);
    let dynamic: &dyn Dataset = &data;
    let loader = DataLoader::new(dynamic, 3).unwrap().shuffle(true).seed(9);
    let mut seen = flat(&epoch_indices(&loader, 2));
    seen.sort_unstable();
    assert_eq!(seen, (0..10).collect::<Vec<_>>());
}

#[test]
fn empty_dataset_yields_no_batches() {
    let data = InMemoryDataset::default();
    let loader = DataLoader::new(&data, 8).unwrap().shuffle(true);
    assert_eq!(loader.len(), 0);
    assert_eq!(loader.epoch(0).count(), 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn batches_partition_the_epoch(
        n in 0usize..300,
        batch_size in 1usize..64,
        shuffle: bool,
        drop_last: bool,
        seed: u64,
        epoch in 0u64..1000,
    ) {
        let data = dataset(n);
        let loader = DataLoader::new(&data, batch_size)
            .unwrap()
            .shuffle(shuffle)
            .drop_last(drop_last)
            .seed(seed);
        let batches = epoch_indices(&loader, epoch);
        prop_assert_eq!(batches.len(), loader.len());
        let expected_len = if drop_last { n / batch_size } else { n.div_ceil(batch_size) };
        prop_assert_eq!(loader.len(), expected_len);
        for (i, b) in batches.iter().enumerate() {
            if i + 1 < batches.len() || drop_last {
                prop_assert_eq!(b.len(), batch_size);
            } else {
                prop_assert!(!b.is_empty() && b.len() <= batch_size);
            }
        }
        let mut seen = flat(&batches);
        let covered = if drop_last { n - n % batch_size } else { n };
        prop_assert_eq!(seen.len(), covered);
        seen.sort_unstable();
        seen.dedup();
        prop_assert_eq!(seen.len(), covered);
        prop_assert_eq!(&batches, &epoch_indices(&loader, epoch));
    }
}
