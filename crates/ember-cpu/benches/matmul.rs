//! GEMM throughput on the shapes the seed's MLP trains with, reported as GFLOP/s
//! (criterion's "elements" are floating-point operations here).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ember_cpu::Cpu;
use ember_tensor::{Tensor, seeded_rng};

/// (name, stored A, stored B, trans_a, trans_b)
type Case = (&'static str, [usize; 2], [usize; 2], bool, bool);

const SHAPES: &[Case] = &[
    (
        "fwd_100x784_x_256x784T",
        [100, 784],
        [256, 784],
        false,
        true,
    ),
    ("dW_256x100_x_100x784", [256, 100], [100, 784], false, false),
    ("dW_100x256T_x_100x784", [100, 256], [100, 784], true, false),
    (
        "hidden_100x256_x_256x256",
        [100, 256],
        [256, 256],
        false,
        false,
    ),
    ("square_1024", [1024, 1024], [1024, 1024], false, false),
];

fn matmul(c: &mut Criterion) {
    let mut rng = seeded_rng(777);
    let mut group = c.benchmark_group("matmul_gflops");
    for &(name, a_dims, b_dims, ta, tb) in SHAPES {
        let a = Tensor::<Cpu>::randn(a_dims, 0.0, 1.0, &mut rng, &Cpu).expect("random A");
        let b = Tensor::<Cpu>::randn(b_dims, 0.0, 1.0, &mut rng, &Cpu).expect("random B");
        let m = if ta { a_dims[1] } else { a_dims[0] };
        let k = if ta { a_dims[0] } else { a_dims[1] };
        let n = if tb { b_dims[0] } else { b_dims[1] };
        group.throughput(Throughput::Elements(2 * (m * n * k) as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(name),
            &(a, b),
            |bench, (a, b)| bench.iter(|| a.matmul_t(b, ta, tb).expect("matmul")),
        );
    }
    group.finish();
}

criterion_group!(benches, matmul);
criterion_main!(benches);
