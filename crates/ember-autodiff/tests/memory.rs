//! 10,000 forward/backward steps of a small network do not grow memory: the graph is freed
//! after each step. Measured as the process's resident set (Linux `/proc/self/statm`); this file
//! holds a single test so no other test allocates concurrently.

use ember_autodiff::Var;
use ember_cpu::Cpu;
use ember_tensor::{Tensor, seeded_rng};

fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn step(x: &Var<Cpu>, w1: &Var<Cpu>, b1: &Var<Cpu>, w2: &Var<Cpu>, labels: &Tensor<Cpu>) {
    let h = x
        .matmul_t(w1, false, true)
        .unwrap()
        .add(b1)
        .unwrap()
        .relu()
        .unwrap();
    let logits = h.matmul_t(w2, false, true).unwrap();
    let loss = logits
        .softmax_cross_entropy(labels)
        .unwrap()
        .mean_all()
        .unwrap();
    loss.backward().unwrap();
    for p in [w1, b1, w2] {
        p.zero_grad();
    }
}

#[test]
fn ten_thousand_steps_do_not_grow_memory() {
    let mut rng = seeded_rng(1);
    let x = Var::constant(Tensor::randn([8, 32], 0.0, 1.0, &mut rng, &Cpu).unwrap());
    let w1 = Var::parameter(Tensor::randn([64, 32], 0.0, 0.1, &mut rng, &Cpu).unwrap());
    let b1 = Var::parameter(Tensor::zeros([64], &Cpu).unwrap());
    let w2 = Var::parameter(Tensor::randn([10, 64], 0.0, 0.1, &mut rng, &Cpu).unwrap());
    let labels = Tensor::from_vec((0..8).map(|i| (i % 10) as f32).collect(), [8], &Cpu).unwrap();

    for _ in 0..1_000 {
        step(&x, &w1, &b1, &w2, &labels);
    }
    let Some(before) = resident_bytes() else {
        eprintln!("SKIPPED: /proc/self/statm is not available on this platform");
        return;
    };
    for _ in 0..10_000 {
        step(&x, &w1, &b1, &w2, &labels);
    }
    let after = resident_bytes().unwrap();
    let growth = after.saturating_sub(before);
    eprintln!("resident set: {before} bytes before, {after} after 10,000 steps (+{growth})");
    // One step's graph holds ~20 KB of tensors; a leak of even one tensor per step would add
    // more than 10 MB over 10,000 steps.
    assert!(
        growth < 1 << 20,
        "memory grew by {growth} bytes over 10,000 steps"
    );
}
