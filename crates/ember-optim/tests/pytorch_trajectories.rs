//! Every optimizer replays PyTorch's trajectories step for step, within 1e-5 relative:
//! `optim_trajectories.json` (SGD, Adam, AdamW, RMSprop, Adagrad) and
//! `optim_trajectories_more.json` (Adadelta, Adamax, NAdam with and without decoupled weight
//! decay, RAdam, Adagrad's `lr_decay` and `initial_accumulator_value`, SGD's `maximize`), on the
//! CPU and on the GPU backend.

use std::path::PathBuf;

use ember_autodiff::Var;
use ember_cpu::Cpu;
use ember_optim::*;
use ember_tensor::{Backend, Tensor};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/pytorch")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read PyTorch fixture {}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture json")
}

fn flat(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(items) => items.iter().flat_map(flat).collect(),
        Value::Number(n) => vec![n.as_f64().expect("number")],
        other => panic!("not a number: {other}"),
    }
}

fn hp(h: &Value, name: &str) -> Option<f32> {
    h.get(name).and_then(Value::as_f64).map(|x| x as f32)
}

fn flag(h: &Value, name: &str) -> bool {
    h.get(name).and_then(Value::as_bool).unwrap_or(false)
}

fn betas(h: &Value, default: (f32, f32)) -> (f32, f32) {
    match h.get("betas").and_then(Value::as_array) {
        Some(b) => (b[0].as_f64().unwrap() as f32, b[1].as_f64().unwrap() as f32),
        None => default,
    }
}

/// The optimizer a fixture case names, with its hyperparameters (PyTorch's defaults for the
/// rest). Every key of the case must be understood, so a new option cannot be silently ignored.
fn build<B: Backend + 'static>(
    kind: &str,
    h: &Value,
    params: Vec<(String, Var<B>)>,
) -> Box<dyn Optimizer<B>> {
    const KNOWN: &[&str] = &[
        "lr",
        "weight_decay",
        "momentum",
        "dampening",
        "nesterov",
        "maximize",
        "amsgrad",
        "centered",
        "lr_decay",
        "initial_accumulator_value",
        "rho",
        "betas",
        "decoupled_weight_decay",
    ];
    for key in h.as_object().unwrap().keys() {
        assert!(
            KNOWN.contains(&key.as_str()),
            "fixture option {key} not handled"
        );
    }
    let lr = hp(h, "lr").expect("lr");
    let wd = hp(h, "weight_decay").unwrap_or(0.0);
    let maximize = flag(h, "maximize");
    match kind {
        "SGD" => Box::new(
            Sgd::new(
                params,
                SgdConfig {
                    lr,
                    momentum: hp(h, "momentum").unwrap_or(0.0),
                    dampening: hp(h, "dampening").unwrap_or(0.0),
                    weight_decay: wd,
                    nesterov: flag(h, "nesterov"),
                    maximize,
                },
            )
            .unwrap(),
        ),
        "Adam" => Box::new(
            Adam::new(
                params,
                AdamConfig {
                    lr,
                    weight_decay: wd,
                    amsgrad: flag(h, "amsgrad"),
                    maximize,
                    ..Default::default()
                },
            )
            .unwrap(),
        ),
        "AdamW" => Box::new(
            AdamW::new(
                params,
                AdamWConfig {
                    lr,
                    weight_decay: hp(h, "weight_decay").unwrap_or(1e-2),
                    amsgrad: flag(h, "amsgrad"),
                    maximize,
                    ..Default::default()
                },
            )
            .unwrap(),
        ),
        "RMSprop" => Box::new(
            RmsProp::new(
                params,
                RmsPropConfig {
                    lr,
                    momentum: hp(h, "momentum").unwrap_or(0.0),
                    centered: flag(h, "centered"),
                    weight_decay: wd,
                    maximize,
                    ..Default::default()
                },
            )
            .unwrap(),
        ),
        "Adagrad" => Box::new(
            Adagrad::new(
                params,
                AdagradConfig {
                    lr,
                    weight_decay: wd,
                    lr_decay: hp(h, "lr_decay").unwrap_or(0.0),
                    initial_accumulator_value: hp(h, "initial_accumulator_value").unwrap_or(0.0),
                    maximize,
                    ..Default::default()
                },
            )
            .unwrap(),
        ),
        "Adadelta" => Box::new(
            Adadelta::new(
                params,
                AdadeltaConfig {
                    lr,
                    rho: hp(h, "rho").unwrap_or(0.9),
                    weight_decay: wd,
                    maximize,
                    ..Default::default()
                },
            )
            .unwrap(),
        ),
        "Adamax" => Box::new(
            Adamax::new(
                params,
                AdamaxConfig {
                    lr,
                    betas: betas(h, (0.9, 0.999)),
                    weight_decay: wd,
                    maximize,
                    ..Default::default()
                },
            )
            .unwrap(),
        ),
        "NAdam" => Box::new(
            NAdam::new(
                params,
                NAdamConfig {
                    lr,
                    betas: betas(h, (0.9, 0.999)),
                    weight_decay: wd,
                    decoupled_weight_decay: flag(h, "decoupled_weight_decay"),
                    maximize,
                    ..Default::default()
                },
            )
            .unwrap(),
        ),
        "RAdam" => Box::new(
            RAdam::new(
                params,
                RAdamConfig {
                    lr,
                    betas: betas(h, (0.9, 0.999)),
                    weight_decay: wd,
                    decoupled_weight_decay: flag(h, "decoupled_weight_decay"),
                    maximize,
                    ..Default::default()
                },
            )
            .unwrap(),
        ),
        other => panic!("fixture names an optimizer Ember lacks: {other}"),
    }
}

/// Replays every case of fixture `name` on `backend`; returns how many cases ran.
fn replay<B: Backend + 'static>(name: &str, backend: &B) -> usize {
    let f = fixture(name);
    let initial: Vec<f32> = flat(&f["initial"]).into_iter().map(|x| x as f32).collect();
    let grads: Vec<Vec<f32>> = f["grads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| flat(g).into_iter().map(|x| x as f32).collect())
        .collect();
    let cases = f["cases"].as_object().unwrap();
    for (case_name, case) in cases {
        let p = Var::parameter(Tensor::from_vec(initial.clone(), [3, 4], backend).unwrap());
        let mut opt = build(
            case["optimizer"].as_str().unwrap(),
            &case["hyperparameters"],
            vec![("p".into(), p.clone())],
        );
        let expected = case["params_after_each_step"].as_array().unwrap();
        assert_eq!(expected.len(), grads.len());
        for (step, (g, want)) in grads.iter().zip(expected).enumerate() {
            opt.zero_grad();
            p.set_grad(Some(Tensor::from_vec(g.clone(), [3, 4], backend).unwrap()));
            opt.step().unwrap();
            let got = p.value().to_vec().unwrap();
            for (i, (&a, b)) in got.iter().zip(flat(want)).enumerate() {
                // 1e-5 relative; where a value passes through zero (|b| < 0.1 while the
                // parameters are of order 1) the bound is 1e-6 absolute, since f32 arithmetic
                // of the same algorithm cannot track the f64 reference's digits there (e.g.
                // centered RMSprop's `square_avg - grad_avg²` cancels).
                let tol = 1e-5 * b.abs().max(0.1);
                assert!(
                    (a as f64 - b).abs() <= tol,
                    "{name} {case_name} on {} step {} element {i}: ember {a} vs pytorch {b}",
                    backend.name(),
                    step + 1
                );
            }
        }
    }
    cases.len()
}

#[test]
fn every_case_matches_pytorch_at_every_step() {
    assert_eq!(
        replay("optim_trajectories.json", &Cpu),
        11,
        "all 11 PyTorch cases"
    );
}

#[test]
fn the_newer_optimizers_and_options_match_pytorch_at_every_step() {
    assert_eq!(
        replay("optim_trajectories_more.json", &Cpu),
        8,
        "all 8 PyTorch cases"
    );
}

#[test]
fn every_trajectory_matches_pytorch_on_the_gpu_backend() {
    let Some(gpu) = ember_wgpu::test_device() else {
        return;
    };
    assert_eq!(replay("optim_trajectories.json", &gpu), 11);
    assert_eq!(replay("optim_trajectories_more.json", &gpu), 8);
}
