//! `ember-bench`: the training benchmark behind `cargo xtask bench`. Prints a Markdown report:
//! GEMM throughput on the training shapes, one step split into forward, backward and optimizer,
//! epoch times of `mlp` and `softmax` on 60,000 samples, samples/s, peak RSS, and the ratio of
//! an epoch's time to the time of its GEMMs alone, all measured in the same run.

use std::process::ExitCode;
use std::time::Instant;

use ember_autodiff::Var;
use ember_data::{DataLoader, IMAGE_BYTES, InMemoryDataset};
use ember_nn::{CrossEntropyLoss, Module};
use ember_optim::{AnyOptimizer, Optimizer};
use ember_tensor::gemm::{Engine, MatRef, gemm_with};
use ember_tensor::rand::Rng;
use ember_tensor::{Backend, Cpu, Tensor, seeded_rng};
use ember_train::{Experiment, InitScheme};

const SAMPLES: usize = 60_000;
const USAGE: &str = "usage: ember-bench [--device cpu|wgpu] [--samples N] [--epochs-only]";
const BATCH: usize = 100;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut device = "cpu".to_string();
    let mut samples = None;
    let mut epochs_only = false;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--epochs-only" {
            epochs_only = true;
            continue;
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
        "cpu" => run(&Cpu, samples.unwrap_or(SAMPLES), epochs_only),
        // A software adapter runs at ~1 GFLOP/s: measure 20 steps instead of 600 by default.
        "wgpu" => ember_train::gpu_backend()
            .map_err(|e| e.into())
            .and_then(|gpu| run(&gpu, samples.unwrap_or(2_000), epochs_only)),
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

/// Synthetic data of Fashion-MNIST's size (the timings do not depend on pixel values).
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
            a: [BATCH, fan_in],
            b: [fan_out, fan_in],
            trans_a: false,
            trans_b: true,
        });
        shapes.push(Shape {
            name: "dW",
            a: [BATCH, fan_out],
            b: [BATCH, fan_in],
            trans_a: true,
            trans_b: false,
        });
        if i > 0 {
            shapes.push(Shape {
                name: "dX",
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
    epochs_only: bool,
) -> Result<String, Box<dyn std::error::Error>> {
    let data = synthetic(samples)?;
    let mut out = String::new();
    if !epochs_only {
        out.push_str(&format!(
            "Device `{}`, {} logical CPUs; {} samples, batch {BATCH}, Adam; synthetic pixels.\n\n",
            backend.name(),
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            samples
        ));
        out.push_str(&gemm_table(backend)?);
    }
    out.push_str(&epochs(backend, &data, samples)?);
    Ok(out)
}

/// GEMM throughput on the training shapes. On the CPU, Ember's kernel on two threads and on
/// one, and `matrixmultiply` on one (the engine it replaced), measured side by side.
fn gemm_table<B: Backend>(backend: &B) -> Result<String, Box<dyn std::error::Error>> {
    let cpu = backend.name() == "cpu";
    let mut out = String::from("## GEMM throughput (training shapes)\n\n");
    if cpu {
        out.push_str(
            "GFLOP/s; the last column is Ember's kernel on two threads over `matrixmultiply` on \
             one, measured in this run.\n\n\
             | product | Ember, 2 threads | Ember, 1 thread | matrixmultiply, 1 thread | speed-up |\n\
             |---|---|---|---|---|\n",
        );
    } else {
        out.push_str("| product | GFLOP/s |\n|---|---|\n");
    }
    let named = [
        Shape {
            name: "x·W1ᵀ (100×784)·(256×784)ᵀ",
            a: [100, 784],
            b: [256, 784],
            trans_a: false,
            trans_b: true,
        },
        Shape {
            name: "dW1 = dYᵀ·x (100×256)ᵀ·(100×784)",
            a: [100, 256],
            b: [100, 784],
            trans_a: true,
            trans_b: false,
        },
        Shape {
            name: "h·W2ᵀ (100×256)·(256×256)ᵀ",
            a: [100, 256],
            b: [256, 256],
            trans_a: false,
            trans_b: true,
        },
        Shape {
            name: "dX2 = dY·W2 (100×256)·(256×256)",
            a: [100, 256],
            b: [256, 256],
            trans_a: false,
            trans_b: false,
        },
        Shape {
            name: "1024³",
            a: [1024, 1024],
            b: [1024, 1024],
            trans_a: false,
            trans_b: false,
        },
    ];
    for s in named {
        let reps = if s.a[0] == 1024 { 3 } else { 50 };
        if cpu {
            let rates = [Engine::Auto, Engine::SingleThread, Engine::Matrixmultiply]
                .map(|engine| s.flops() / engine_seconds(&s, engine, reps) / 1e9);
            out.push_str(&format!(
                "| {} | {:.1} | {:.1} | {:.1} | {:.2}× |\n",
                s.name,
                rates[0],
                rates[1],
                rates[2],
                rates[0] / rates[2]
            ));
        } else {
            let secs = gemm_seconds(backend, std::slice::from_ref(&s), reps)? / reps as f64;
            out.push_str(&format!("| {} | {:.1} |\n", s.name, s.flops() / secs / 1e9));
        }
    }
    Ok(out)
}

/// Seconds per product of shape `s` on `engine` (median of 5 runs of `reps`), into a reused
/// output buffer.
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
    let mut c = vec![0.0; a.rows() * b.cols()];
    median_seconds(5, || {
        for _ in 0..reps {
            let _ = gemm_with(engine, a, b, &mut c);
        }
    }) / reps as f64
}

/// The epoch table (and the targets it is measured against, for a full-size data set).
fn epochs<B: Backend>(
    backend: &B,
    data: &InMemoryDataset,
    samples: usize,
) -> Result<String, Box<dyn std::error::Error>> {
    let steps = samples / BATCH;
    let mut out = String::new();

    out.push_str(&format!(
        "\n## Epochs\n\nOne epoch = {steps} steps of {BATCH}; forward/backward/optimizer are host-side times \
         (on a GPU, recorded work may finish later).\n\n"
    ));
    out.push_str("| experiment | epoch (s) | step (ms) | samples/s | forward (s) | backward (s) | optimizer (s) | GEMM-only (s) | epoch / GEMM | first cost |\n|---|---|---|---|---|---|---|---|---|---|\n");
    let mut targets = String::new();
    for experiment in [Experiment::Mlp, Experiment::Softmax] {
        // Warm-up epoch, then the measured one.
        time_epoch(backend, experiment, data)?;
        let t = time_epoch(backend, experiment, data)?;
        let gemm = gemm_seconds(backend, &step_gemms(experiment.widths()), steps)?;
        let epoch_target = if experiment == Experiment::Mlp {
            0.45
        } else {
            0.08
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
    Ok(out)
}
