//! The seed's `mlp` on the real Fashion-MNIST: two epochs reach at least 0.85 test accuracy.

mod common;

use ember_cpu::Cpu;
use ember_train::{OutputOptions, TrainConfig, train_on};

#[test]
fn mlp_reaches_85_percent_on_fashion_mnist_in_two_epochs() {
    let Some(data) = common::real_fashion_mnist() else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let config = TrainConfig {
        epochs: 2,
        data_dir: Some(data),
        out: Some(out.path().to_path_buf()),
        ..TrainConfig::default()
    };
    let summary = train_on(
        &Cpu,
        config,
        None,
        OutputOptions {
            quiet: true,
            json: false,
        },
    )
    .unwrap();
    eprintln!(
        "costs {:?}, accuracy {}",
        summary.epochs.iter().map(|m| m.cost).collect::<Vec<_>>(),
        summary.test_accuracy
    );
    assert!(
        summary.test_accuracy >= 0.85,
        "test accuracy {}",
        summary.test_accuracy
    );
}
