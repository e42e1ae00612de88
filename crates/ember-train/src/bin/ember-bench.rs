//! `ember-bench`: the training benchmark behind `cargo xtask bench`. Prints a Markdown report:
//! GEMM throughput on the training shapes, one step split into forward, backward and optimizer,
//! epoch times of `mlp` and `softmax` on 60,000 samples, samples/s, peak RSS, and the ratio of
//! an epoch's time to the time of its GEMMs alone, all measured in the same run.

use std::process::ExitCode;
use std::time::Instant;

use ember_autodiff::Var;
use ember_cpu::Cpu;
use ember_cpu::gemm::{Engine, Kernel, MatRef, fma_peak_gflops, gemm_with};
use ember_data::{
    DataLoader, Dataset, DatasetKind, IMAGE_BYTES, InMemoryDataset, Split, find_local, load_limited,
};
use ember_nn::{CrossEntropyLoss, Module};
use ember_optim::{AnyOptimizer, Optimizer};
use ember_tensor::rand::Rng;
use ember_tensor::{Backend, Tensor, seeded_rng};
use ember_train::{Experiment, InitScheme};

const SAMPLES: usize = 60_000;
const USAGE: &str = "usage: ember-bench [--device cpu|wgpu] [--samples N] [--epochs-only | --gemm-only | --cnn-only]";
const BATCH: usize = 100;

/// Which parts of the report to measure.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Parts {
    All,
    EpochsOnly,
    GemmOnly,
    CnnOnly,
}

fn main() -> ExitCode {
    ember_train::allocator::keep_freed_memory();
    if let Err(e) = ember_cpu::check_environment() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut device = "cpu".to_string();
    let mut samples = None;
    let mut parts = Parts::All;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--epochs-only" => {
                parts = Parts::EpochsOnly;
                continue;
            }
            "--gemm-only" => {
                parts = Parts::GemmOnly;
                continue;
            }
            "--cnn-only" => {
                parts = Parts::CnnOnly;
                continue;
            }
            _ => {}
        }
        match (flag.as_str(), it.next()) {
            ("--device", Some(value)) => device = value.clone(),
            ("--samples", Some(value)) => match value.parse::<usize>() {
                Ok(n) if n >= BATCH => samples = Some(n),
                _ => {
                    eprintln!("--samples takes a number of at least {BATCH}");
                    return ExitCode::from(2);
                }
            },
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let result = match device.as_str() {
        "cpu" => run(&Cpu, samples.unwrap_or(SAMPLES), parts),
        // A software adapter runs at ~1 GFLOP/s: measure 20 steps instead of 600 by default.
        #[cfg(feature = "wgpu")]
        "wgpu" => ember_train::gpu_backend()
            .map_err(|e| e.into())
            .and_then(|gpu| run(&gpu, samples.unwrap_or(2_000), parts)),
        #[cfg(not(feature = "wgpu"))]
        "wgpu" => Err(crate_has_no_gpu().into()),
        other => Err(format!("unknown device `{other}`; choose cpu or wgpu").into()),
    };
    match result {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The `cnn` epoch's data: Fashion-MNIST's first `samples` training images where a copy is on
/// this machine ([`find_local`]: `data/fashion-mnist`, then Debian's), else synthetic pixels,
/// and a phrase for the report saying which. Its backward pass does work only for the pooled
/// gradients that are not zero, and how many are depends on the pixels.
fn cnn_data(samples: usize) -> Result<(InMemoryDataset, String), Box<dyn std::error::Error>> {
    let kind = DatasetKind::FashionMnist;
    let real = find_local(kind).and_then(|dir| {
        let data = load_limited(kind, &dir, Split::Train, Some(samples)).ok()?;
        (data.len() == samples).then_some((data, dir))
    });
    match real {
        Some((data, dir)) => Ok((
            data,
            format!("Fashion-MNIST's training images ({})", dir.display()),
        )),
        None => Ok((
            synthetic(samples)?,
            "synthetic pixels (no copy of Fashion-MNIST found in data/fashion-mnist or \
             /usr/share/datasets/fashion-mnist; the backward pass's time depends on the pixels)"
                .to_string(),
        )),
    }
}

/// Synthetic data of Fashion-MNIST's size (the GEMM-bound epochs do not depend on pixel values).
fn synthetic(samples: usize) -> Result<InMemoryDataset, Box<dyn std::error::Error>> {
    let mut rng = seeded_rng(1);
    let images: Vec<u8> = (0..samples * IMAGE_BYTES)
        .map(|_| rng.random::<u8>())
        .collect();
    let labels: Vec<u8> = (0..samples).map(|_| rng.random_range(0..10)).collect();
    Ok(InMemoryDataset::new(images, labels)?)
}

/// `met`, or by how much a measurement exceeds its target (`ratio` = measured / target).
fn verdict(ratio: f64) -> String {
    if ratio <= 1.0 {
        "met".into()
    } else {
        format!("missed: {ratio:.2}× the target")
    }
}

/// The shortest of `runs` timings of `f`, in seconds.
fn best_seconds(runs: usize, mut f: impl FnMut()) -> f64 {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// Median of `runs` timings of `f`, in seconds.
fn median_seconds(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

struct Shape {
    name: &'static str,
    /// One of the MLP's training products (the ≥ 70 %-of-peak target is measured on these).
    training: bool,
    /// Run on one thread in training (a convolution's products: each thread takes its own
    /// images), so measured against one core's peak.
    one_thread: bool,
    a: [usize; 2],
    b: [usize; 2],
    trans_a: bool,
    trans_b: bool,
}

impl Shape {
    /// `(m, k, n)` of the product.
    fn dims(&self) -> (usize, usize, usize) {
        let m = if self.trans_a { self.a[1] } else { self.a[0] };
        let k = if self.trans_a { self.a[0] } else { self.a[1] };
        let n = if self.trans_b { self.b[0] } else { self.b[1] };
        (m, k, n)
    }

    fn flops(&self) -> f64 {
        let (m, k, n) = self.dims();
        2.0 * (m * n * k) as f64
    }
}

/// The GEMMs of one training step of a model with these layer widths (forward `x·Wᵀ`, backward
/// `dX = dY·W` and `dW = dYᵀ·X`; no `dX` for the first layer).
fn step_gemms(widths: &[usize]) -> Vec<Shape> {
    let mut shapes = Vec::new();
    for (i, pair) in widths.windows(2).enumerate() {
        let (fan_in, fan_out) = (pair[0], pair[1]);
        shapes.push(Shape {
            name: "fwd",
            training: true,
            one_thread: false,
            a: [BATCH, fan_in],
            b: [fan_out, fan_in],
            trans_a: false,
            trans_b: true,
        });
        shapes.push(Shape {
            name: "dW",
            training: true,
            one_thread: false,
            a: [BATCH, fan_out],
            b: [BATCH, fan_in],
            trans_a: true,
            trans_b: false,
        });
        if i > 0 {
            shapes.push(Shape {
                name: "dX",
                training: true,
                one_thread: false,
                a: [BATCH, fan_out],
                b: [fan_out, fan_in],
                trans_a: false,
                trans_b: false,
            });
        }
    }
    shapes
}

fn gemm_seconds<B: Backend>(
    backend: &B,
    shapes: &[Shape],
    repeats: usize,
) -> Result<f64, Box<dyn std::error::Error>> {
    let mut rng = seeded_rng(2);
    let operands: Vec<(Tensor<B>, Tensor<B>)> = shapes
        .iter()
        .map(|s| {
            Ok((
                Tensor::randn(s.a, 0.0, 1.0, &mut rng, backend)?,
                Tensor::randn(s.b, 0.0, 1.0, &mut rng, backend)?,
            ))
        })
        .collect::<Result<_, ember_tensor::Error>>()?;
    Ok(median_seconds(5, || {
        let mut last = None;
        for _ in 0..repeats {
            for (s, (a, b)) in shapes.iter().zip(&operands) {
                last = a.matmul_t(b, s.trans_a, s.trans_b).ok();
            }
        }
        // Wait for the device: a download forces all recorded work to finish.
        if let Some(t) = last {
            let _ = t.to_vec();
        }
    }))
}

struct EpochTiming {
    seconds: f64,
    forward: f64,
    backward: f64,
    optimizer: f64,
    first_cost: f32,
}

fn time_epoch<B: Backend>(
    backend: &B,
    experiment: Experiment,
    data: &InMemoryDataset,
) -> Result<EpochTiming, Box<dyn std::error::Error>> {
    let model = experiment.build(InitScheme::Default, 777, backend)?;
    let mut optimizer = AnyOptimizer::by_name("adam", model.named_parameters(), 1e-3)?;
    let loader = DataLoader::new(data, BATCH)?
        .shuffle(true)
        .drop_last(true)
        .seed(777);
    let loss_fn = CrossEntropyLoss::default();
    let (mut forward, mut backward, mut update) = (0.0, 0.0, 0.0);
    let mut batch = loader.new_batch();
    let mut labels = Vec::with_capacity(BATCH);
    let mut first_cost = f32::NAN;
    let started = Instant::now();
    let mut batches = loader.epoch(0);
    while batches.next_into(&mut batch) {
        labels.clear();
        labels.extend(batch.labels.iter().map(|&l| l as f32));
        let t0 = Instant::now();
        // The batch's pixels move into the tensor (no copy on the CPU); the loader allocates
        // the next batch's.
        let x = Tensor::from_vec(
            std::mem::take(&mut batch.images),
            [batch.len, IMAGE_BYTES],
            backend,
        )?;
        let y = Tensor::from_slice(&labels, [batch.len], backend)?;
        optimizer.zero_grad();
        let cost = loss_fn.forward(&model.forward(&Var::constant(x))?, &y)?;
        let t1 = Instant::now();
        cost.backward()?;
        let t2 = Instant::now();
        optimizer.step()?;
        let t3 = Instant::now();
        if first_cost.is_nan() {
            first_cost = cost.value().to_scalar()?;
        }
        forward += (t1 - t0).as_secs_f64();
        backward += (t2 - t1).as_secs_f64();
        update += (t3 - t2).as_secs_f64();
    }
    Ok(EpochTiming {
        seconds: started.elapsed().as_secs_f64(),
        forward,
        backward,
        optimizer: update,
        first_cost,
    })
}

fn run<B: Backend>(
    backend: &B,
    samples: usize,
    parts: Parts,
) -> Result<String, Box<dyn std::error::Error>> {
    if parts == Parts::CnnOnly {
        return cnn_epoch(backend, &cnn_data(samples)?, samples);
    }
    let mut out = String::new();
    let mut training = TrainingGemm::default();
    if parts == Parts::All || parts == Parts::GemmOnly {
        out.push_str(&format!(
            "Device `{}`, {} logical CPUs; {} samples, batch {BATCH}, Adam; synthetic pixels for `mlp` and `softmax`.\n\n",
            backend.name(),
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            samples
        ));
        let (table, figures) = gemm_table(backend)?;
        out.push_str(&table);
        training = figures;
    }
    let lowest_share = training.shares.iter().copied().reduce(f64::min);
    let mut mlp_epoch = None;
    // One synthetic data set for every epoch measured (47 MB of pixels at full size).
    let data = if parts == Parts::GemmOnly {
        None
    } else {
        Some(synthetic(samples)?)
    };
    if let Some(data) = &data {
        let (table, mlp) = epochs(backend, data, samples, lowest_share)?;
        out.push_str(&table);
        mlp_epoch = Some(mlp);
    }
    if let (Parts::All, Some(_), "cpu") = (parts, &data, backend.name().as_str()) {
        out.push_str(&cnn_epoch(backend, &cnn_data(samples)?, samples)?);
        out.push_str(&format!(
            "\n## This machine's instruction set\n\n| instruction set (kernel) | CPU | GEMM on the training \
             shapes, 2 threads (GFLOP/s) | share of two cores' FMA peak | `mlp` epoch |\n\
             |---|---|---|---|---|\n| `{}` | {} | {} | {} | {} |\n",
            Kernel::selected()?,
            cpu_name(),
            range(&training.rates, |r| format!("{r:.0}")),
            range(&training.shares, |s| format!("{:.0} %", 100.0 * s)),
            mlp_epoch.map_or("—".to_string(), |s| format!("{s:.3} s")),
        ));
    }
    Ok(out)
}

/// The selected kernel on two threads on the MLP's training shapes: GFLOP/s, and shares of the
/// two cores' FMA peak.
#[derive(Default)]
struct TrainingGemm {
    rates: Vec<f64>,
    shares: Vec<f64>,
}

/// `low–high` of `values` formatted by `f`, or `—` if there are none.
fn range(values: &[f64], f: impl Fn(f64) -> String) -> String {
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if values.is_empty() {
        "—".to_string()
    } else {
        format!("{}–{}", f(low), f(high))
    }
}

/// The products measured: the MLP's training shapes, the lab CNN's convolution products as its
/// layers call them (image by image, on the padded grid: `cols = unfold(x_n)` is
/// `[C·3·3, OH·(W + 2)]`, the weights `[O, C·3·3]`, the output gradient `G` `[O, OH·(W + 2)]`),
/// and a square one.
fn named_shapes() -> Vec<Shape> {
    let shape = |training, name: &'static str, a, b, trans_a, trans_b| Shape {
        training,
        one_thread: name.starts_with("conv"),
        name,
        a,
        b,
        trans_a,
        trans_b,
    };
    vec![
        shape(
            true,
            "x·W1ᵀ (100×784)·(256×784)ᵀ",
            [100, 784],
            [256, 784],
            false,
            true,
        ),
        shape(
            true,
            "dW1 = dYᵀ·x (100×256)ᵀ·(100×784)",
            [100, 256],
            [100, 784],
            true,
            false,
        ),
        shape(
            true,
            "h·W2ᵀ (100×256)·(256×256)ᵀ",
            [100, 256],
            [256, 256],
            false,
            true,
        ),
        shape(
            true,
            "dX2 = dY·W2 (100×256)·(256×256)",
            [100, 256],
            [256, 256],
            false,
            false,
        ),
        shape(
            false,
            "conv1 dWᵀ, per image: cols·Gᵀ [9×840]·[32×840]ᵀ",
            [9, 840],
            [32, 840],
            false,
            true,
        ),
        shape(
            false,
            "conv2 fwd, per image: W·cols [64×288]·[288×224]",
            [64, 288],
            [288, 224],
            false,
            false,
        ),
        shape(
            false,
            "conv2 dx, per image: W'·cols(G) [32×576]·[576×224]",
            [32, 576],
            [576, 224],
            false,
            false,
        ),
        shape(
            false,
            "conv2 dWᵀ, per image: cols·Gᵀ [288×224]·[64×224]ᵀ",
            [288, 224],
            [64, 224],
            false,
            true,
        ),
        shape(false, "1024³", [1024, 1024], [1024, 1024], false, false),
    ]
}

/// The CPU's name from `/proc/cpuinfo` (Linux), or the architecture.
fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, name)| name.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

/// Which CPU, which instruction sets the build assumed and which were found at run time, and
/// the kernel that runs.
fn isa_report() -> Result<String, Box<dyn std::error::Error>> {
    let compiled: Vec<&str> = [
        ("avx2", cfg!(target_feature = "avx2")),
        ("fma", cfg!(target_feature = "fma")),
        ("avx512f", cfg!(target_feature = "avx512f")),
        ("neon", cfg!(target_feature = "neon")),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect();
    let runnable: Vec<String> = Kernel::available_kernels()
        .iter()
        .map(|k| format!("`{k}`"))
        .collect();
    Ok(format!(
        "CPU: {} ({}). Kernels this CPU runs (detected at run time): {}; the one that ran: \
         **`{}`**{}. This binary was built like any crate that depends on Ember (`cargo build \
         --release`, no `target-cpu` flag anywhere): vector instruction sets it may assume at \
         compile time: {}.\n\n",
        cpu_name(),
        std::env::consts::ARCH,
        runnable.join(", "),
        Kernel::selected()?,
        if std::env::var_os("EMBER_GEMM").is_some() {
            " (forced by `EMBER_GEMM`)"
        } else {
            ""
        },
        if compiled.is_empty() {
            "none beyond the architecture's baseline".to_string()
        } else {
            compiled.join(", ")
        },
    ))
}

/// The FMA peak (an FMA-only loop) of each packed kernel this CPU runs, on one core and two.
/// Returns the table and the selected kernel's two-core peak.
fn peak_table() -> Result<(String, Option<f64>), Box<dyn std::error::Error>> {
    let mut out = String::from(
        "## FMA peak\n\nGFLOP/s of a loop of independent vector FMAs and nothing else, per \
         kernel's instruction set:\n\n| kernel | 1 core | 2 cores |\n|---|---|---|\n",
    );
    let selected = Kernel::selected()?;
    let mut selected_peak = None;
    for kernel in Kernel::available_kernels() {
        let (Some(one), Some(two)) = (
            fma_peak_gflops(kernel, false),
            fma_peak_gflops(kernel, true),
        ) else {
            continue;
        };
        out.push_str(&format!("| `{kernel}` | {one:.1} | {two:.1} |\n"));
        if kernel == selected {
            // Shares are taken of the higher of the two-core measurement and twice one core's:
            // a second core busy with others' work while it was measured must not lower the
            // peak (and raise every share).
            selected_peak = Some(two.max(2.0 * one));
        }
    }
    Ok((out, selected_peak))
}

/// GEMM throughput on the training and convolution shapes. On the CPU: every packed kernel
/// this CPU runs on two threads and on one, and `matrixmultiply` on one (the engine the kernels
/// replaced), measured side by side; the selected kernel's share of the two cores' FMA peak.
///
/// Also returns the selected kernel's figures on the MLP's training shapes.
fn gemm_table<B: Backend>(
    backend: &B,
) -> Result<(String, TrainingGemm), Box<dyn std::error::Error>> {
    let cpu = backend.name() == "cpu";
    let mut out = String::new();
    let mut columns = Vec::new();
    let mut peak = None;
    let selected = Kernel::selected()?;
    if cpu {
        out.push_str(&isa_report()?);
        let (table, selected_peak) = peak_table()?;
        out.push_str(&table);
        peak = selected_peak;
        for kernel in Kernel::available_kernels() {
            if kernel != Kernel::Matrixmultiply {
                columns.push(Engine {
                    kernel,
                    two_threads: true,
                });
            }
            columns.push(Engine {
                kernel,
                two_threads: false,
            });
        }
    }
    out.push_str("\n## GEMM throughput (training and convolution shapes)\n\n");
    if cpu {
        let names: Vec<String> = columns
            .iter()
            .map(|e| {
                let threads = if e.two_threads { 2 } else { 1 };
                format!(
                    "`{}`, {threads} thread{}",
                    e.kernel,
                    if threads > 1 { "s" } else { "" }
                )
            })
            .collect();
        out.push_str(&format!(
            "GFLOP/s, measured in this run; the last two columns are `{selected}` on two threads \
             as a share of the two cores' FMA peak above (the higher of the two-core figure and \
             twice the one-core one), and over `matrixmultiply` on one. The convolution's \
             products run one image per thread (the threads take different images): their last \
             two columns are `{selected}` on one thread, against half that peak. (The first \
             layer's forward product, 9 taps per output, is a direct loop, not a GEMM; the second \
             layer's input gradient is its output gradient convolved with the flipped weight.)\n\n\
             | product | {} | share of peak | speed-up |\n|---|{}---|---|\n",
            names.join(" | "),
            "---|".repeat(names.len()),
        ));
    } else {
        out.push_str("| product | GFLOP/s |\n|---|---|\n");
    }
    let mut training = TrainingGemm::default();
    for s in named_shapes() {
        let (m, k, n) = s.dims();
        // About 5 ms of work per timing at 100 GFLOP/s (see `engine_seconds`).
        let reps = ((5e8 / s.flops()) as usize).clamp(1, 50);
        if cpu {
            let rates: Vec<f64> = columns
                .iter()
                .map(|&engine| s.flops() / engine_seconds(&s, engine, reps) / 1e9)
                .collect();
            let rate_of = |e: Engine| {
                columns
                    .iter()
                    .position(|&c| c == e)
                    .map_or(f64::NAN, |i| rates[i])
            };
            let best = rate_of(Engine {
                kernel: selected,
                two_threads: selected != Kernel::Matrixmultiply && !s.one_thread,
            });
            let reference = rate_of(Engine {
                kernel: Kernel::Matrixmultiply,
                two_threads: false,
            });
            let cores = if s.one_thread { 2.0 } else { 1.0 };
            let share = peak.map(|p| best * cores / p);
            if s.training {
                training.rates.push(best);
                training.shares.extend(share);
            }
            let cells: Vec<String> = rates.iter().map(|r| format!("{r:.1}")).collect();
            out.push_str(&format!(
                "| {} ({m}×{k}×{n}) | {} | {} | {:.2}× |\n",
                s.name,
                cells.join(" | "),
                share.map_or("—".to_string(), |share| format!("{:.0} %", 100.0 * share)),
                best / reference
            ));
        } else {
            let secs = gemm_seconds(backend, std::slice::from_ref(&s), reps)? / reps as f64;
            out.push_str(&format!("| {} | {:.1} |\n", s.name, s.flops() / secs / 1e9));
        }
    }
    Ok((out, training))
}

/// Seconds per product of shape `s` on `engine` (best of 25 runs of `reps`), into a reused
/// output buffer that starts on a cache line, as the backend's do. On a shared machine the
/// others' work only ever adds time, and comes in bursts longer than a run: many short runs
/// find the quiet moments.
fn engine_seconds(s: &Shape, engine: Engine, reps: usize) -> f64 {
    let mut rng = seeded_rng(3);
    let a: Vec<f32> = (0..s.a[0] * s.a[1])
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let b: Vec<f32> = (0..s.b[0] * s.b[1])
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let (m, k, n) = s.dims();
    let (Ok(a), Ok(b)) = (
        MatRef::stored(&a, m, k, s.trans_a),
        MatRef::stored(&b, k, n, s.trans_b),
    ) else {
        return f64::NAN;
    };
    // The output starts on a cache line, as the CPU backend's products do.
    let len = a.rows() * b.cols();
    let mut buffer = vec![0.0f32; len + 16];
    let start = buffer.as_ptr().align_offset(64).min(16);
    let c = &mut buffer[start..start + len];
    best_seconds(25, || {
        for _ in 0..reps {
            let _ = gemm_with(engine, a, b, c);
        }
    }) / reps as f64
}

/// The epoch table (and the targets it is measured against, for a full-size data set).
fn epochs<B: Backend>(
    backend: &B,
    data: &InMemoryDataset,
    samples: usize,
    gemm_share: Option<f64>,
) -> Result<(String, f64), Box<dyn std::error::Error>> {
    let steps = samples / BATCH;
    let mut out = String::new();

    out.push_str(&format!(
        "\n## Epochs\n\nOne epoch = {steps} steps of {BATCH}; forward/backward/optimizer are host-side times \
         (on a GPU, recorded work may finish later).\n\n"
    ));
    out.push_str("| experiment | epoch (s) | step (ms) | samples/s | forward (s) | backward (s) | optimizer (s) | GEMM-only (s) | epoch / GEMM | first cost |\n|---|---|---|---|---|---|---|---|---|---|\n");
    let mut targets = String::new();
    let mut mlp_epoch = f64::NAN;
    if let Some(share) = gemm_share {
        targets.push_str(&format!(
            "| GEMM on the MLP's training shapes ≥ 70 % of two cores' FMA peak | lowest {:.0} % | {} |\n",
            100.0 * share,
            verdict(0.70 / share),
        ));
    }
    for experiment in [Experiment::Mlp, Experiment::Softmax] {
        // Warm-up epoch, then the measured one.
        time_epoch(backend, experiment, data)?;
        let t = time_epoch(backend, experiment, data)?;
        if experiment == Experiment::Mlp {
            mlp_epoch = t.seconds;
        }
        let gemm = gemm_seconds(backend, &step_gemms(experiment.widths()), steps)?;
        // `mlp`: 0.45 s on the AVX-512 CI machine; elsewhere half of PyTorch's bare loop on
        // the Zen 3 (AVX2) machine of issue 15 (2.3–2.7 s).
        let avx512 = backend.name() == "cpu" && Kernel::selected()? == Kernel::Avx512;
        let epoch_target = match (experiment, avx512) {
            (Experiment::Mlp, true) => 0.45,
            (Experiment::Mlp, false) => 1.2,
            _ => 0.08,
        };
        if steps == SAMPLES / BATCH {
            targets.push_str(&format!(
                "| `{name}` epoch ≤ {epoch_target} s | {:.3} s | {} |\n| `{name}` epoch ≤ 2.5 × its GEMM time | {:.2} × | {} |\n",
                t.seconds,
                verdict(t.seconds / epoch_target),
                t.seconds / gemm,
                verdict(t.seconds / gemm / 2.5),
                name = experiment.name(),
            ));
        }
        out.push_str(&format!(
            "| `{}` | {:.3} | {:.2} | {:.0} | {:.3} | {:.3} | {:.3} | {:.3} | {:.2} | {:.4} |\n",
            experiment.name(),
            t.seconds,
            t.seconds * 1e3 / steps as f64,
            samples as f64 / t.seconds,
            t.forward,
            t.backward,
            t.optimizer,
            gemm,
            t.seconds / gemm,
            t.first_cost,
        ));
    }
    if !targets.is_empty() {
        out.push_str("\n## Targets\n\n| target | measured | verdict |\n|---|---|---|\n");
        out.push_str(&targets);
    }
    let rss = ember_train::metrics::peak_rss_mib();
    if rss > 0.0 {
        out.push_str(&format!(
            "\nPeak RSS of this benchmark process: {rss:.0} MiB\n"
        ));
    }
    Ok((out, mlp_epoch))
}

/// PyTorch 2.15's epoch of the lab's CNN on the Zen 3 (AVX2) machine of issue 12, 2 threads:
/// 35.5–42 s. The target is half of its fast end.
const PYTORCH_CNN_EPOCH: (f64, f64) = (35.5, 42.0);

/// PyTorch's epoch of the lab's CNN as `EMBER_PYTORCH_CNN_EPOCH=fastest,slowest,data` gives it
/// (`cargo xtask bench` measures it in the same run when it can), with where it comes from;
/// otherwise [`PYTORCH_CNN_EPOCH`].
fn pytorch_cnn_epoch() -> ((f64, f64), String) {
    let measured = std::env::var("EMBER_PYTORCH_CNN_EPOCH").ok().and_then(|v| {
        let mut fields = v.split(',').map(str::trim);
        let fastest = fields.next()?.parse().ok()?;
        let slowest = fields.next()?.parse().ok()?;
        let data = fields.next().unwrap_or("unknown").to_string();
        Some(((fastest, slowest), data))
    });
    match measured {
        Some((epoch, data)) => (
            epoch,
            format!(
                "measured in this run on this machine on {data} data (`xtask/pytorch/lab_cnn.py`, \
                 epochs 2–3, 2 threads)"
            ),
        ),
        None => (
            PYTORCH_CNN_EPOCH,
            "on the Zen 3 machine of issue 12".to_string(),
        ),
    }
}

/// One epoch of the lab's CNN, its time split by kind of op ([`ember_cpu::profile`]).
fn cnn_epoch<B: Backend>(
    backend: &B,
    (data, source): &(InMemoryDataset, String),
    samples: usize,
) -> Result<String, Box<dyn std::error::Error>> {
    use ember_cpu::profile::{self, Category};
    let steps = samples / BATCH;
    profile::reset();
    profile::enable(true);
    let t = time_epoch(backend, Experiment::Cnn, data);
    profile::enable(false);
    let t = t?;
    let split = profile::snapshot();
    let mut out = format!(
        "\n## The lab's CNN\n\nOne epoch of `cnn` (conv 1→32, ReLU, max-pool, conv 32→64, ReLU, \
         max-pool, Linear 3136→10; Adam) on {source}, {steps} steps of {BATCH}, measured once (no \
         warm-up epoch), with the time of every op counted by kind (`ember_cpu::profile`).\n\n\
         | epoch (s) | step (ms) | samples/s | forward (s) | backward (s) | optimizer (s) | first cost |\n\
         |---|---|---|---|---|---|---|\n\
         | {:.2} | {:.1} | {:.0} | {:.2} | {:.2} | {:.2} | {:.4} |\n\n\
         Where the epoch went:\n\n| ops | seconds | share of the epoch | calls |\n|---|---|---|---|\n",
        t.seconds,
        t.seconds * 1e3 / steps as f64,
        samples as f64 / t.seconds,
        t.forward,
        t.backward,
        t.optimizer,
        t.first_cost,
    );
    for category in Category::ALL {
        let op = split.get(category);
        out.push_str(&format!(
            "| {} | {:.2} | {:.1} % | {} |\n",
            category.name(),
            op.time.as_secs_f64(),
            100.0 * op.time.as_secs_f64() / t.seconds,
            op.calls,
        ));
    }
    let outside = t.seconds - split.total().as_secs_f64();
    out.push_str(&format!(
        "| outside the ops (autodiff, allocation, batches) | {outside:.2} | {:.1} % | — |\n",
        100.0 * outside / t.seconds
    ));
    if steps == SAMPLES / BATCH && backend.name() == "cpu" {
        let ((fastest, slowest), source) = pytorch_cnn_epoch();
        let target = fastest / 2.0;
        out.push_str(&format!(
            "\n| target | measured | verdict |\n|---|---|---|\n\
             | `cnn` epoch ≤ 0.5 × PyTorch's ({fastest:.1}–{slowest:.1} s, {source}): ≤ {target:.1} s \
             | {:.2} s | {} |\n",
            t.seconds,
            verdict(t.seconds / target),
        ));
    }
    Ok(out)
}

/// Why `--device wgpu` fails in a build without the `wgpu` feature.
#[cfg(not(feature = "wgpu"))]
fn crate_has_no_gpu() -> String {
    ember_train::NO_GPU_BACKEND.to_string()
}
