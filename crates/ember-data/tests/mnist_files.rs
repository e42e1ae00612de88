//! Loading MNIST-format directories: validation errors, file lookup, kind parsing.

mod common;

use ember_data::{
    Dataset, DatasetKind, Error, FashionMnist, Mnist, NUM_CLASSES, Split, verify_dir, write_idx,
};

#[test]
fn loads_both_splits_gzipped_and_raw() {
    let dir = tempfile::tempdir().unwrap();
    common::write_split(dir.path(), "train", 30, true);
    common::write_split(dir.path(), "t10k", 12, false);
    let train = Mnist::load(dir.path(), Split::Train).unwrap();
    let test = FashionMnist::load(dir.path(), Split::Test).unwrap();
    assert_eq!((train.len(), test.len()), (30, 12));
    assert_eq!(train.images().len(), 30 * 784);
    assert_eq!(train.kind(), DatasetKind::Mnist);
    assert_eq!(test.kind(), DatasetKind::FashionMnist);
    assert_eq!(test.split(), Split::Test);
    let (images, labels) = common::synthetic(12);
    assert_eq!(test.images(), &images[..]);
    assert_eq!(test.labels(), &labels[..]);
    assert_eq!(train.class_counts().iter().sum::<usize>(), 30);
    assert_eq!(test.class_name(9), Some("Ankle boot"));
    assert_eq!(test.class_name(10), None);
    assert_eq!(train.class_name(3), Some("3"));
}

#[test]
fn gzipped_file_is_preferred_over_raw() {
    let dir = tempfile::tempdir().unwrap();
    common::write_split(dir.path(), "t10k", 4, true);
    common::write_split(dir.path(), "t10k", 6, false);
    assert_eq!(Mnist::load(dir.path(), Split::Test).unwrap().len(), 4);
}

#[test]
fn label_out_of_range_names_index_and_value() {
    let dir = tempfile::tempdir().unwrap();
    common::write_split(dir.path(), "t10k", 5, true);
    write_idx(
        dir.path().join("t10k-labels-idx1-ubyte.gz"),
        &[5],
        &[1, 2, 3, 10, 4],
        true,
    )
    .unwrap();
    let err = Mnist::load(dir.path(), Split::Test).unwrap_err();
    assert!(
        matches!(
            err,
            Error::LabelOutOfRange {
                index: 3,
                value: 10,
                classes: NUM_CLASSES,
                ..
            }
        ),
        "{err}"
    );
    let msg = err.to_string();
    assert!(msg.contains("index 3") && msg.contains("is 10"), "{msg}");
}

#[test]
fn count_mismatch_names_both_counts() {
    let dir = tempfile::tempdir().unwrap();
    common::write_split(dir.path(), "train", 5, true);
    write_idx(
        dir.path().join("train-labels-idx1-ubyte.gz"),
        &[4],
        &[0; 4],
        true,
    )
    .unwrap();
    let err = Mnist::load(dir.path(), Split::Train).unwrap_err();
    assert!(
        matches!(
            err,
            Error::CountMismatch {
                images: 5,
                labels: 4,
                ..
            }
        ),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("5 images") && msg.contains("4 labels"),
        "{msg}"
    );
}

#[test]
fn wrong_image_dims() {
    let dir = tempfile::tempdir().unwrap();
    common::write_split(dir.path(), "train", 2, true);
    let images = dir.path().join("train-images-idx3-ubyte.gz");
    for dims in [
        vec![2, 27, 28],
        vec![2, 28, 27],
        vec![2, 784],
        vec![2, 1, 28, 28],
    ] {
        write_idx(
            &images,
            &dims,
            &[0; 2 * 27 * 28 + 56][..dims.iter().product()],
            true,
        )
        .unwrap();
        let err = Mnist::load(dir.path(), Split::Train).unwrap_err();
        match &err {
            Error::WrongShape { found, .. } => assert_eq!(found, &dims),
            other => panic!("expected WrongShape for {dims:?}, got {other}"),
        }
        assert!(err.to_string().contains("[N, 28, 28]"), "{err}");
    }
}

#[test]
fn wrong_label_dims() {
    let dir = tempfile::tempdir().unwrap();
    common::write_split(dir.path(), "train", 2, true);
    write_idx(
        dir.path().join("train-labels-idx1-ubyte.gz"),
        &[2, 1],
        &[0, 1],
        true,
    )
    .unwrap();
    let err = Mnist::load(dir.path(), Split::Train).unwrap_err();
    assert!(
        matches!(err, Error::WrongShape { ref found, .. } if found == &[2, 1]),
        "{err}"
    );
}

#[test]
fn missing_file_says_which_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    common::write_split(dir.path(), "t10k", 3, true);
    std::fs::remove_file(dir.path().join("t10k-labels-idx1-ubyte.gz")).unwrap();
    let err = FashionMnist::load(dir.path(), Split::Test).unwrap_err();
    assert!(
        matches!(
            err,
            Error::MissingFile {
                file_name: "t10k-labels-idx1-ubyte",
                ..
            }
        ),
        "{err}"
    );
    let msg = err.to_string();
    let d = dir.path().display().to_string();
    assert!(msg.contains("t10k-labels-idx1-ubyte.gz"), "{msg}");
    assert!(
        msg.contains(&format!(
            "cargo xtask download --dataset fashion-mnist --dir {d}"
        )),
        "{msg}"
    );
    assert!(msg.contains("--data-dir"), "{msg}");
}

#[test]
fn corrupt_file_inside_a_split_reports_that_file() {
    let dir = tempfile::tempdir().unwrap();
    common::write_split(dir.path(), "t10k", 3, true);
    let path = dir.path().join("t10k-images-idx3-ubyte.gz");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = Mnist::load(dir.path(), Split::Test).unwrap_err();
    assert!(matches!(err, Error::Gzip { .. }), "{err}");
    assert!(
        err.to_string().contains("t10k-images-idx3-ubyte.gz"),
        "{err}"
    );
}

#[test]
fn verify_dir_checks_both_splits() {
    let dir = tempfile::tempdir().unwrap();
    common::write_split(dir.path(), "train", 20, true);
    common::write_split(dir.path(), "t10k", 10, true);
    let report = verify_dir(DatasetKind::FashionMnist, dir.path()).unwrap();
    assert_eq!((report.train.len, report.test.len), (20, 10));
    assert_eq!(report.test.class_counts, [1; 10]);
    assert_eq!(report.matches_published_content(), Some(false));
    std::fs::remove_file(dir.path().join("train-images-idx3-ubyte.gz")).unwrap();
    let err = verify_dir(DatasetKind::FashionMnist, dir.path()).unwrap_err();
    assert!(matches!(err, Error::MissingFile { .. }), "{err}");
}

#[test]
fn dataset_kind_names() {
    assert_eq!("mnist".parse::<DatasetKind>().unwrap(), DatasetKind::Mnist);
    assert_eq!(
        "fashion-mnist".parse::<DatasetKind>().unwrap(),
        DatasetKind::FashionMnist
    );
    assert_eq!(
        "Fashion_MNIST".parse::<DatasetKind>().unwrap(),
        DatasetKind::FashionMnist
    );
    for kind in DatasetKind::ALL {
        assert_eq!(kind.to_string().parse::<DatasetKind>().unwrap(), kind);
    }
    let err = "cifar10".parse::<DatasetKind>().unwrap_err();
    assert!(matches!(err, Error::UnknownDataset { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("cifar10") && msg.contains("mnist, fashion-mnist"),
        "{msg}"
    );
}

#[test]
fn class_names() {
    assert_eq!(FashionMnist::CLASSES[0], "T-shirt/top");
    assert_eq!(DatasetKind::FashionMnist.class_names()[9], "Ankle boot");
    assert_eq!(DatasetKind::Mnist.class_names()[7], "7");
}
