//! Behaviour of the Wgpu backend beyond per-op agreement with the CPU (that is the conformance
//! suite in the workspace's `tests/`): buffer reuse, limits, batching, in-place updates, empty
//! tensors, errors. Each test skips (or fails with `EMBER_REQUIRE_GPU=1`) without an adapter.

use ember_cpu::Cpu;
use ember_tensor::ops::{MatmulDims, OptimizerUpdate, ReduceOp, UnaryOp};
use ember_tensor::{Backend, Shape, Tensor};
use ember_wgpu::{MatmulKernel, Wgpu, WgpuOptions, test_device};

fn values(len: usize, seed: u32) -> Vec<f32> {
    // A small LCG: reproducible values in [-1, 1).
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(12_345);
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) as f32 / (1u32 << 23) as f32 - 1.0
        })
        .collect()
}

#[test]
fn upload_download_round_trip_is_exact() {
    let Some(gpu) = test_device() else { return };
    let data = vec![
        0.0,
        -0.0,
        1.5,
        -1e-30,
        1e30,
        f32::INFINITY,
        f32::MIN_POSITIVE,
    ];
    let x = gpu.upload(&data).expect("upload");
    let back = gpu.download(&x).expect("download");
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&back), bits(&data));
}

#[test]
fn freed_buffers_are_reused() {
    let Some(gpu) = test_device() else { return };
    // A size class of its own, so other tests running in parallel do not interfere.
    let len = 12_345;
    let before = gpu.pool_stats();
    for _ in 0..10 {
        let x = gpu.fill(len, 2.0).expect("fill");
        let y = gpu.unary(UnaryOp::Square, &x).expect("square");
        assert_eq!(gpu.download(&y).expect("download")[len - 1], 4.0);
    }
    let after = gpu.pool_stats();
    assert!(after.reuses > before.reuses, "{before:?} -> {after:?}");
}

#[test]
fn more_dispatches_than_one_batch_holds() {
    let Some(gpu) = test_device() else { return };
    let mut x = gpu.fill(1000, 0.0).expect("fill");
    for _ in 0..300 {
        x = gpu
            .scalar(ember_tensor::ops::ScalarOp::Add, &x, 1.0)
            .expect("add");
    }
    assert!(
        gpu.download(&x)
            .expect("download")
            .iter()
            .all(|&v| v == 300.0)
    );
}

#[test]
fn a_tensor_larger_than_a_storage_binding_is_a_typed_error() {
    let Some(gpu) = test_device() else { return };
    let too_many = usize::try_from(gpu.max_tensor_elements()).expect("fits usize") + 1;
    let error = gpu.fill(too_many, 1.0).expect_err("too large");
    match error {
        ember_tensor::Error::Device { op, message } => {
            assert_eq!(op, "fill");
            assert!(message.contains("largest storage binding"), "{message}");
        }
        other => panic!("expected a device error, got {other}"),
    }
}

#[test]
fn storage_from_another_device_is_rejected() {
    let Some(gpu) = test_device() else { return };
    let other = Wgpu::new().expect("a second device on the same adapter");
    let x = other.upload(&[1.0, 2.0]).expect("upload");
    assert!(matches!(
        gpu.unary(UnaryOp::Neg, &x),
        Err(ember_tensor::Error::Device { .. })
    ));
}

#[test]
fn empty_tensors_need_no_buffer() {
    let Some(gpu) = test_device() else { return };
    let empty = gpu.upload(&[]).expect("upload");
    assert!(gpu.download(&empty).expect("download").is_empty());
    let y = gpu.unary(UnaryOp::Exp, &empty).expect("exp");
    assert_eq!(gpu.len(&y), 0);
    // k = 0: a product of zeros.
    let dims = MatmulDims {
        m: 2,
        k: 0,
        n: 3,
        trans_a: false,
        trans_b: false,
    };
    let product = gpu.matmul(&empty, &empty, dims).expect("matmul");
    assert_eq!(gpu.download(&product).expect("download"), vec![0.0; 6]);
    // Reducing an empty axis: sum 0, mean NaN, as on the CPU.
    let shape = Shape::from([3, 0]);
    let sum = gpu.reduce(ReduceOp::Sum, &empty, &shape, 1).expect("sum");
    assert_eq!(gpu.download(&sum).expect("download"), vec![0.0; 3]);
    let mean = gpu.reduce(ReduceOp::Mean, &empty, &shape, 1).expect("mean");
    assert!(
        gpu.download(&mean)
            .expect("download")
            .iter()
            .all(|v| v.is_nan())
    );
}

#[test]
fn out_of_range_labels_give_nan_rows() {
    let Some(gpu) = test_device() else { return };
    let logits = gpu.upload(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).expect("upload");
    let labels = gpu.upload(&[2.0, 3.0]).expect("upload");
    let loss = gpu
        .softmax_cross_entropy(&logits, &labels, 2, 3)
        .expect("sce");
    let loss = gpu.download(&loss).expect("download");
    assert!(loss[0].is_finite() && loss[1].is_nan(), "{loss:?}");
    let gathered = gpu.gather(&logits, &labels, 2, 3).expect("gather");
    let gathered = gpu.download(&gathered).expect("download");
    assert_eq!(gathered[0], 3.0);
    assert!(gathered[1].is_nan());
}

#[test]
fn an_optimizer_update_leaves_other_handles_untouched() {
    let Some(gpu) = test_device() else { return };
    let update = OptimizerUpdate::Sgd {
        lr: 0.5,
        momentum: 0.0,
        dampening: 0.0,
        weight_decay: 0.0,
        nesterov: false,
        first_step: true,
        maximize: false,
    };
    let mut param = gpu.upload(&[1.0, 2.0]).expect("upload");
    let snapshot = param.clone();
    // The gradient shares the parameter's buffer: copy-on-write must separate them.
    let grad = param.clone();
    gpu.optimizer_update(&update, &mut param, &grad, &mut [])
        .expect("update");
    assert_eq!(gpu.download(&param).expect("download"), vec![0.5, 1.0]);
    assert_eq!(gpu.download(&snapshot).expect("download"), vec![1.0, 2.0]);
}

#[test]
fn optimizer_state_mismatches_are_the_cpu_errors() {
    let Some(gpu) = test_device() else { return };
    let update = OptimizerUpdate::Adagrad {
        lr: 0.1,
        lr_decay: 0.0,
        weight_decay: 0.0,
        eps: 1e-10,
        step: 1,
        maximize: false,
    };
    let mut param = gpu.upload(&[1.0, 2.0]).expect("upload");
    let grad = gpu.upload(&[1.0, 2.0]).expect("upload");
    let result = gpu.optimizer_update(&update, &mut param, &grad, &mut []);
    assert!(matches!(
        result,
        Err(ember_tensor::Error::OptimizerState { op: "adagrad", .. })
    ));
}

#[test]
fn tiled_and_simple_matmul_kernels_agree_bit_for_bit() {
    let Some(_) = test_device() else { return };
    let open = |kernel| {
        Wgpu::with_options(&WgpuOptions {
            matmul_kernel: kernel,
            ..WgpuOptions::default()
        })
        .expect("device")
    };
    let tiled = open(MatmulKernel::Tiled);
    let simple = open(MatmulKernel::Simple);
    assert_eq!(tiled.matmul_kernel(), MatmulKernel::Tiled);
    assert_eq!(simple.matmul_kernel(), MatmulKernel::Simple);
    for (m, k, n) in [(1, 1, 1), (17, 33, 9), (70, 130, 65), (128, 64, 64)] {
        for (trans_a, trans_b) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = values(m * k, 1);
            let b = values(k * n, 2);
            let dims = MatmulDims {
                m,
                k,
                n,
                trans_a,
                trans_b,
            };
            let run = |gpu: &Wgpu| {
                let product = gpu
                    .matmul(
                        &gpu.upload(&a).expect("a"),
                        &gpu.upload(&b).expect("b"),
                        dims,
                    )
                    .expect("matmul");
                gpu.download(&product).expect("download")
            };
            let (t, s) = (run(&tiled), run(&simple));
            let same = t.iter().zip(&s).all(|(x, y)| x.to_bits() == y.to_bits());
            assert!(same, "{dims:?}");
        }
    }
}

#[test]
fn tensors_work_from_several_threads() {
    let Some(gpu) = test_device() else { return };
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let gpu = gpu.clone();
            std::thread::spawn(move || {
                let data = values(513, t);
                let x = Tensor::from_vec(data.clone(), [27, 19], &gpu).expect("upload");
                let cpu = Tensor::from_vec(data, [27, 19], &Cpu).expect("upload");
                for _ in 0..20 {
                    let g = x.matmul_t(&x, false, true).expect("gpu").sum_axis(1, false);
                    let c = cpu
                        .matmul_t(&cpu, false, true)
                        .expect("cpu")
                        .sum_axis(1, false);
                    let (g, c) = (g.expect("sum").to_vec(), c.expect("sum").to_vec());
                    let (g, c) = (g.expect("download"), c.expect("download"));
                    for (a, b) in g.iter().zip(&c) {
                        assert!((a - b).abs() <= 1e-4 * b.abs().max(1.0), "{a} vs {b}");
                    }
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().expect("thread finished");
    }
}
