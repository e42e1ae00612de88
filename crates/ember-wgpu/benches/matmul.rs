//! Matrix-product throughput of the Wgpu backend, reported as GFLOP/s (criterion's "elements"
//! are floating-point operations here: `Gelem/s` = GFLOP/s). Each iteration records one product
//! and waits for the device to finish it (no read-back).
//!
//! `cargo bench -p ember-wgpu --bench matmul`; `EMBER_BENCH_4096=1` adds 4096³, and
//! `EMBER_BENCH_KERNELS=all` times both the tiled and the simple kernel instead of the one the
//! adapter uses by default. Without a GPU adapter the benchmark prints why and does nothing.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ember_tensor::Backend;
use ember_tensor::ops::MatmulDims;
use ember_wgpu::{MatmulKernel, Wgpu, WgpuOptions};

/// (name, m, k, n, trans_a, trans_b): the seed MLP's products and a square one.
type Shape = (&'static str, usize, usize, usize, bool, bool);

const SHAPES: &[Shape] = &[
    ("fwd_100x784_x_256x784T", 100, 784, 256, false, true),
    ("dW_256x100_x_100x784", 256, 100, 784, false, false),
    ("hidden_100x256_x_256x256", 100, 256, 256, false, false),
    ("square_1024", 1024, 1024, 1024, false, false),
];

const LARGE: Shape = ("square_4096", 4096, 4096, 4096, false, false);

/// Reproducible values in [-1, 1).
fn values(len: usize, seed: u64) -> Vec<f32> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

fn devices() -> Result<Vec<Wgpu>, ember_wgpu::Error> {
    let all = std::env::var("EMBER_BENCH_KERNELS").as_deref() == Ok("all");
    let kernels: &[MatmulKernel] = if all {
        &[MatmulKernel::Tiled, MatmulKernel::Simple]
    } else {
        &[MatmulKernel::Auto]
    };
    kernels
        .iter()
        .map(|&matmul_kernel| {
            Wgpu::with_options(&WgpuOptions {
                matmul_kernel,
                ..WgpuOptions::default()
            })
        })
        .collect()
}

fn matmul(c: &mut Criterion) {
    let devices = match devices() {
        Ok(devices) => devices,
        Err(error) => {
            eprintln!("SKIPPED: {error}; the Wgpu matmul benchmark did not run");
            return;
        }
    };
    let mut shapes = SHAPES.to_vec();
    if std::env::var("EMBER_BENCH_4096").as_deref() == Ok("1") {
        shapes.push(LARGE);
    }
    for gpu in &devices {
        eprintln!(
            "wgpu matmul on {} with the {:?} kernel",
            gpu.description(),
            gpu.matmul_kernel()
        );
        let mut group = c.benchmark_group(format!("wgpu_matmul_gflops_{:?}", gpu.matmul_kernel()));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(5));
        for &(name, m, k, n, trans_a, trans_b) in &shapes {
            let dims = MatmulDims {
                m,
                k,
                n,
                trans_a,
                trans_b,
            };
            let a = gpu.upload(&values(m * k, 1)).expect("upload A");
            let b = gpu.upload(&values(k * n, 2)).expect("upload B");
            gpu.compile_kernels().expect("kernels compile");
            group.throughput(Throughput::Elements(dims.flops()));
            group.bench_with_input(
                BenchmarkId::from_parameter(name),
                &dims,
                |bencher, &dims| {
                    bencher.iter(|| {
                        let product = gpu.matmul(&a, &b, dims).expect("matmul");
                        gpu.synchronize().expect("device finished");
                        product
                    });
                },
            );
        }
        group.finish();
    }
}

criterion_group!(benches, matmul);
criterion_main!(benches);
