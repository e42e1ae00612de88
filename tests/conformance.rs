//! GPU-vs-CPU conformance: every case of the table in `ember_tests::conformance` runs on `Cpu`
//! and on `Wgpu` with the same inputs and must agree within the op's tolerance, and give the
//! same bits when run twice. One test per op family, so they run in parallel.
//!
//! Without a GPU adapter the GPU tests print `SKIPPED: ...` and pass, unless
//! `EMBER_REQUIRE_GPU=1`. `cargo xtask conformance` runs `conformance_report` with
//! `EMBER_CONFORMANCE_REPORT=<path>` to write `docs/CONFORMANCE.md` from the same results.

use ember_cpu::Cpu;
use ember_tensor::conformance::OpKind;
use ember_tensor::ops::{BinaryOp, MatmulDims, OptimizerUpdate, ReduceOp, ScalarOp, UnaryOp};
use ember_tensor::{Backend, Shape};
use ember_tests::conformance::{
    Family, OPTIMIZER_VARIANTS, Op, cases, failures, optimizer_configs, optimizer_variant,
    run_cases, run_family, write_report,
};

/// Runs the cases of `family` below [`LARGE`] elements.
fn check_family(family: Family) {
    let Some(gpu) = ember_wgpu::test_device() else {
        return;
    };
    let results = run_cases(&gpu, |case| case.family == family && case.size() < LARGE);
    assert!(!results.is_empty(), "{family:?} has no cases");
    if let Some(report) = failures(&results) {
        panic!("{family:?} on {}: {report}", gpu.description());
    }
}

/// Cases with this many elements or more (the 2-D dispatch class) run in `large_tensors`, in
/// parallel with the families.
const LARGE: usize = 1_000_000;

#[test]
fn large_tensors() {
    let Some(gpu) = ember_wgpu::test_device() else {
        return;
    };
    let results = run_cases(&gpu, |case| case.size() >= LARGE);
    assert!(!results.is_empty());
    if let Some(report) = failures(&results) {
        panic!("large tensors on {}: {report}", gpu.description());
    }
}

#[test]
fn memory() {
    check_family(Family::Memory);
}

#[test]
fn elementwise() {
    check_family(Family::Elementwise);
}

#[test]
fn binary() {
    check_family(Family::Binary);
}

#[test]
fn matmul() {
    check_family(Family::Matmul);
}

#[test]
fn reduce() {
    check_family(Family::Reduce);
}

#[test]
fn rows() {
    check_family(Family::Rows);
}

#[test]
fn optimizer() {
    check_family(Family::Optimizer);
}

#[test]
fn declared() {
    check_family(Family::Declared);
}

/// Writes the report when `EMBER_CONFORMANCE_REPORT` names a file (see `cargo xtask
/// conformance`); does nothing otherwise.
#[test]
fn conformance_report() {
    let Some(path) = std::env::var_os("EMBER_CONFORMANCE_REPORT") else {
        return;
    };
    let Some(gpu) = ember_wgpu::test_device() else {
        panic!("a conformance report needs a GPU adapter");
    };
    let results = run_family(&gpu, None);
    write_report(std::path::Path::new(&path), &gpu.description(), &results)
        .expect("the report is written");
    if let Some(report) = failures(&results) {
        panic!("the report was written, but: {report}");
    }
}

/// The table covers every variant of every op enum, so a new variant cannot skip it.
#[test]
fn every_op_variant_has_cases() {
    let table = cases();
    let has = |wanted: &dyn Fn(&Op) -> bool| table.iter().any(|case| wanted(&case.op));
    for &op in UnaryOp::ALL {
        assert!(has(&|o| *o == Op::Unary(op)), "{op:?}");
        assert!(has(&|o| *o == Op::UnaryBackward(op)), "{op:?} backward");
    }
    for &op in ScalarOp::ALL {
        assert!(
            has(&|o| matches!(o, Op::Scalar(x, _) if *x == op)),
            "{op:?}"
        );
    }
    for &op in BinaryOp::ALL {
        assert!(has(&|o| *o == Op::Binary(op)), "{op:?}");
    }
    for &op in ReduceOp::ALL {
        assert!(has(&|o| *o == Op::Reduce(op)), "{op:?}");
    }
    for (trans_a, trans_b) in [(false, false), (true, false), (false, true), (true, true)] {
        assert!(has(&|o| *o == Op::Matmul { trans_a, trans_b }));
    }
    let mut variants = [false; OPTIMIZER_VARIANTS];
    for (_, update) in optimizer_configs() {
        variants[optimizer_variant(&update)] = true;
    }
    assert!(
        variants.iter().all(|&v| v),
        "every OptimizerUpdate variant has a config"
    );
    for family in Family::ALL {
        assert!(table.iter().any(|case| case.family == family), "{family:?}");
    }
    for &kind in ember_tensor::conformance::kinds() {
        assert!(
            has(&|o| matches!(o, Op::Declared(c) if OpKind::from(&c.call) == kind)),
            "{kind:?}"
        );
    }
}

/// The runner itself: the CPU against itself is bit-exact on every case (but the largest,
/// which only the GPU tests need).
#[test]
fn the_cpu_conforms_to_itself() {
    let results = run_cases(&Cpu, |case| case.size() < LARGE);
    if let Some(report) = failures(&results) {
        panic!("{report}");
    }
    let inexact: Vec<String> = results
        .iter()
        .filter(|r| !r.bit_exact)
        .map(|r| format!("{} {}", r.op, r.shape_class))
        .collect();
    assert!(inexact.is_empty(), "{inexact:?}");
}

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

/// The same ops twice on the GPU give bit-identical results, through separate uploads and a
/// full training-like sequence (matmul, bias, activation, loss, gradients, optimizer step).
#[test]
fn the_same_ops_twice_give_identical_bits() {
    let Some(gpu) = ember_wgpu::test_device() else {
        return;
    };
    let run = || -> ember_tensor::Result<Vec<Vec<u32>>> {
        let (rows, inputs, outputs) = (64, 300, 10);
        let x: Vec<f32> = (0..rows * inputs)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0)
            .collect();
        let w: Vec<f32> = (0..outputs * inputs)
            .map(|i| ((i * 53 % 97) as f32 - 48.0) / 500.0)
            .collect();
        let labels: Vec<f32> = (0..rows).map(|i| (i % outputs) as f32).collect();
        let (x, mut w, labels) = (gpu.upload(&x)?, gpu.upload(&w)?, gpu.upload(&labels)?);
        let bias = gpu.fill(outputs, 0.1)?;
        let dims = MatmulDims {
            m: rows,
            k: inputs,
            n: outputs,
            trans_a: false,
            trans_b: true,
        };
        let logits = gpu.matmul(&x, &w, dims)?;
        let out_shape = Shape::from([rows, outputs]);
        let logits = gpu.binary(
            BinaryOp::Add,
            &logits,
            &out_shape,
            &bias,
            &Shape::from([outputs]),
            &out_shape,
        )?;
        let activated = gpu.unary(UnaryOp::Tanh, &logits)?;
        let loss = gpu.softmax_cross_entropy(&activated, &labels, rows, outputs)?;
        let mean_loss = gpu.reduce(ReduceOp::Mean, &loss, &Shape::from([rows]), 0)?;
        let ones = gpu.fill(rows, 1.0 / rows as f32)?;
        let grad_logits =
            gpu.softmax_cross_entropy_backward(&activated, &labels, &ones, rows, outputs)?;
        let grad_pre = gpu.unary_backward(UnaryOp::Tanh, &logits, &activated, &grad_logits)?;
        let grad_w = gpu.matmul(
            &grad_pre,
            &x,
            MatmulDims {
                m: outputs,
                k: rows,
                n: inputs,
                trans_a: true,
                trans_b: false,
            },
        )?;
        let grad_bias = gpu.reduce(ReduceOp::Sum, &grad_pre, &out_shape, 0)?;
        let mut state = vec![
            gpu.fill(outputs * inputs, 0.0)?,
            gpu.fill(outputs * inputs, 0.0)?,
        ];
        let adam = OptimizerUpdate::Adam {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled: false,
            amsgrad: false,
            step: 1,
            maximize: false,
        };
        gpu.optimizer_update(&adam, &mut w, &grad_w, &mut state)?;
        let log_probs = gpu.log_softmax(&activated, rows, outputs)?;
        let predictions = gpu.argmax(&log_probs, rows, outputs)?;
        [mean_loss, grad_bias, w, predictions, log_probs]
            .iter()
            .map(|s| gpu.download(s).map(|v| bits(&v)))
            .collect()
    };
    let first = run().expect("first run");
    let second = run().expect("second run");
    assert_eq!(first, second);
}
