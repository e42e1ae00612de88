//! Every optimizer replays PyTorch's trajectories (`optim_trajectories.json`) step for step,
//! within 1e-5 relative.

use std::path::PathBuf;

use ember_autodiff::Var;
use ember_optim::*;
use ember_tensor::{Cpu, Tensor};
use serde_json::Value;

fn fixture() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/pytorch/optim_trajectories.json");
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

fn build(kind: &str, h: &Value, params: Vec<(String, Var<Cpu>)>) -> Box<dyn Optimizer<Cpu>> {
    let lr = hp(h, "lr").expect("lr");
    let wd = hp(h, "weight_decay").unwrap_or(0.0);
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
                    ..Default::default()
                },
            )
            .unwrap(),
        ),
        other => panic!("fixture names an optimizer Ember lacks: {other}"),
    }
}

#[test]
fn every_case_matches_pytorch_at_every_step() {
    let f = fixture();
    let initial: Vec<f32> = flat(&f["initial"]).into_iter().map(|x| x as f32).collect();
    let grads: Vec<Vec<f32>> = f["grads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| flat(g).into_iter().map(|x| x as f32).collect())
        .collect();
    let cases = f["cases"].as_object().unwrap();
    assert_eq!(cases.len(), 11, "expected all 11 PyTorch cases");
    for (name, case) in cases {
        let p = Var::parameter(Tensor::from_vec(initial.clone(), [3, 4], &Cpu).unwrap());
        let mut opt = build(
            case["optimizer"].as_str().unwrap(),
            &case["hyperparameters"],
            vec![("p".into(), p.clone())],
        );
        let expected = case["params_after_each_step"].as_array().unwrap();
        assert_eq!(expected.len(), grads.len());
        for (step, (g, want)) in grads.iter().zip(expected).enumerate() {
            opt.zero_grad();
            p.set_grad(Some(Tensor::from_vec(g.clone(), [3, 4], &Cpu).unwrap()));
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
                    "{name} step {} element {i}: ember {a} vs pytorch {b}",
                    step + 1
                );
            }
        }
    }
}
