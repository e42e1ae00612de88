//! GPU against CPU at the level of training: the gradients of a small MLP, and 50 steps of the
//! seed's `mlp` on a Fashion-MNIST subset, whose loss must agree at every step within 1e-4
//! relative. Both backends start from identical weights (initialised on the host from the seed)
//! and see identical batches.

use std::path::PathBuf;

use ember_autodiff::Var;
use ember_cpu::Cpu;
use ember_data::{DataLoader, IMAGE_BYTES, InMemoryDataset, Split};
use ember_nn::{CrossEntropyLoss, Module};
use ember_optim::{AnyOptimizer, Optimizer};
use ember_tensor::{Backend, Tensor, seeded_rng};
use ember_train::{Experiment, InitScheme};

const STEPS: usize = 50;

/// Debian's Fashion-MNIST: required in CI, skipped with a message elsewhere.
fn fashion_mnist_subset(n: usize) -> Option<InMemoryDataset> {
    let dir = PathBuf::from(ember_data::download::DEBIAN_FASHION_MNIST_DIR);
    if !dir.join("train-images-idx3-ubyte.gz").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{} is missing in CI: .ci/run must install dataset-fashion-mnist",
            dir.display()
        );
        eprintln!(
            "SKIPPED: {} not found (install dataset-fashion-mnist)",
            dir.display()
        );
        return None;
    }
    let data = ember_data::DatasetKind::FashionMnist
        .load(&dir, Split::Train)
        .expect("Fashion-MNIST loads");
    let (mut images, mut labels) = data.into_parts();
    images.truncate(n * IMAGE_BYTES);
    labels.truncate(n);
    Some(InMemoryDataset::new(images, labels).expect("subset"))
}

/// The loss of each of the first `STEPS` Adam steps of `mlp` on `backend`.
fn losses<B: Backend>(
    backend: &B,
    data: &InMemoryDataset,
    experiment: Experiment,
    batch_size: usize,
    steps: usize,
) -> Vec<f32> {
    let model = experiment
        .build(InitScheme::Default, 777, backend)
        .expect("model");
    let mut optimizer =
        AnyOptimizer::by_name("adam", model.named_parameters(), 1e-3).expect("optimizer");
    let loader = DataLoader::new(data, batch_size)
        .expect("loader")
        .shuffle(true)
        .drop_last(true)
        .seed(777);
    let loss_fn = CrossEntropyLoss::default();
    let mut out = Vec::with_capacity(steps);
    for batch in loader.epoch(0).take(steps) {
        let labels: Vec<f32> = batch.labels.iter().map(|&l| l as f32).collect();
        let x = Tensor::from_slice(&batch.images, [batch.len, IMAGE_BYTES], backend).unwrap();
        let y = Tensor::from_slice(&labels, [batch.len], backend).unwrap();
        optimizer.zero_grad();
        let cost = loss_fn
            .forward(&model.forward(&Var::constant(x)).unwrap(), &y)
            .unwrap();
        cost.backward().unwrap();
        optimizer.step().unwrap();
        out.push(cost.value().to_scalar().unwrap());
    }
    out
}

#[test]
fn fifty_training_steps_give_the_same_loss_on_gpu_and_cpu() {
    let Some(gpu) = ember_wgpu::test_device() else {
        return;
    };
    let Some(data) = fashion_mnist_subset(5_000) else {
        return;
    };
    let cpu = losses(&Cpu, &data, Experiment::Mlp, 100, STEPS);
    let gpu_losses = losses(&gpu, &data, Experiment::Mlp, 100, STEPS);
    assert_eq!(cpu.len(), STEPS);
    let worst = assert_losses_agree(&cpu, &gpu_losses);
    eprintln!(
        "{STEPS} steps on {}: losses {} → {}, worst relative difference {worst:e}",
        gpu.name(),
        cpu[0],
        cpu[STEPS - 1]
    );
}

/// The lab's CNN: convolution, pooling and their gradients through a few Adam steps.
#[test]
fn cnn_training_steps_give_the_same_loss_on_gpu_and_cpu() {
    const CNN_STEPS: usize = 8;
    let Some(gpu) = ember_wgpu::test_device() else {
        return;
    };
    let Some(data) = fashion_mnist_subset(1_000) else {
        return;
    };
    let cpu = losses(&Cpu, &data, Experiment::Cnn, 25, CNN_STEPS);
    let gpu_losses = losses(&gpu, &data, Experiment::Cnn, 25, CNN_STEPS);
    assert_eq!(cpu.len(), CNN_STEPS);
    assert!(cpu[CNN_STEPS - 1] < cpu[0], "the CNN learns: {cpu:?}");
    let worst = assert_losses_agree(&cpu, &gpu_losses);
    eprintln!(
        "{CNN_STEPS} cnn steps on {}: losses {} → {}, worst relative difference {worst:e}",
        gpu.name(),
        cpu[0],
        cpu[CNN_STEPS - 1]
    );
}

/// `mlp-batchnorm`: batch statistics and their gradient through Adam steps (evaluation with
/// running statistics is checked on both backends in `ember-nn/tests/pytorch_batchnorm.rs`).
#[test]
fn mlp_batchnorm_training_steps_give_the_same_loss_on_gpu_and_cpu() {
    const BN_STEPS: usize = 20;
    let Some(gpu) = ember_wgpu::test_device() else {
        return;
    };
    let Some(data) = fashion_mnist_subset(2_000) else {
        return;
    };
    let cpu = losses(&Cpu, &data, Experiment::MlpBatchnorm, 100, BN_STEPS);
    let gpu_losses = losses(&gpu, &data, Experiment::MlpBatchnorm, 100, BN_STEPS);
    assert!(cpu[BN_STEPS - 1] < cpu[0], "it learns: {cpu:?}");
    let worst = assert_losses_agree(&cpu, &gpu_losses);
    eprintln!(
        "{BN_STEPS} mlp-batchnorm steps on {}: losses {} → {}, worst relative difference {worst:e}",
        gpu.name(),
        cpu[0],
        cpu[BN_STEPS - 1]
    );
}

/// Asserts the losses agree within 1e-4 relative at every step; returns the worst difference.
fn assert_losses_agree(cpu: &[f32], gpu_losses: &[f32]) -> f32 {
    assert_eq!(cpu.len(), gpu_losses.len());
    let mut worst = 0.0f32;
    for (step, (&c, &g)) in cpu.iter().zip(gpu_losses).enumerate() {
        let rel = (c - g).abs() / c.abs().max(g.abs());
        worst = worst.max(rel);
        assert!(
            rel <= 1e-4,
            "step {}: cpu loss {c} vs gpu loss {g} (relative difference {rel:e})",
            step + 1
        );
    }
    worst
}

#[test]
fn mlp_gradients_agree_on_gpu_and_cpu() {
    let Some(gpu) = ember_wgpu::test_device() else {
        return;
    };
    for experiment in [Experiment::Mlp, Experiment::MlpSigmoid] {
        let mut rng = seeded_rng(3);
        let x = Tensor::<Cpu>::rand_uniform([32, 784], 0.0, 1.0, &mut rng, &Cpu).unwrap();
        let x = x.to_vec().unwrap();
        let labels: Vec<f32> = (0..32).map(|i| (i % 10) as f32).collect();
        let cpu = Cpu.run(experiment, &x, &labels);
        let gpu_grads = gpu.run(experiment, &x, &labels);
        assert_eq!(cpu.len(), gpu_grads.len());
        for ((name, c), (_, g)) in cpu.iter().zip(&gpu_grads) {
            for (i, (&a, &b)) in c.iter().zip(g).enumerate() {
                let tol = 1e-5f32.max(1e-4 * a.abs().max(b.abs()));
                assert!(
                    (a - b).abs() <= tol,
                    "{} {name}[{i}]: cpu {a} vs gpu {b}",
                    experiment.name()
                );
            }
        }
    }
}

/// One forward/backward of an experiment's model, returning every parameter's gradient.
trait BackendRun {
    fn run(&self, experiment: Experiment, x: &[f32], labels: &[f32]) -> Vec<(String, Vec<f32>)>;
}

impl<B: Backend> BackendRun for B {
    fn run(&self, experiment: Experiment, x: &[f32], labels: &[f32]) -> Vec<(String, Vec<f32>)> {
        let model = experiment.build(InitScheme::Default, 777, self).unwrap();
        let n = labels.len();
        let x = Var::constant(Tensor::from_slice(x, [n, 784], self).unwrap());
        let y = Tensor::from_slice(labels, [n], self).unwrap();
        let cost = CrossEntropyLoss::default()
            .forward(&model.forward(&x).unwrap(), &y)
            .unwrap();
        cost.backward().unwrap();
        model
            .named_parameters()
            .into_iter()
            .map(|(name, p)| (name, p.grad().unwrap().to_vec().unwrap()))
            .collect()
    }
}
