//! Every scheduler against PyTorch's `lr_schedulers.json` (the lr of each of 30 epochs, and
//! OneCycleLR's momentum), a restored scheduler continuing exactly, parameter groups, and bad
//! input.

use std::path::PathBuf;

use ember_autodiff::Var;
use ember_cpu::Cpu;
use ember_optim::*;
use ember_tensor::Tensor;
use serde_json::Value;

fn fixture() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/pytorch/lr_schedulers.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read PyTorch fixture {}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture json")
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

/// The fixture's hyperparameters as a `--scheduler` specification.
fn spec(case: &str, h: &Value) -> String {
    let name = match case {
        "step_lr" => "step",
        "multistep_lr" => "multistep",
        "exponential_lr" => "exponential",
        "cosine_annealing_lr" => "cosine",
        "linear_lr" => "linear",
        "one_cycle_lr" => "onecycle",
        "reduce_lr_on_plateau" => "plateau",
        other => panic!("fixture names a scheduler Ember lacks: {other}"),
    };
    let options: Vec<String> = h
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| match v {
            Value::Array(items) => format!(
                "{k}={}",
                items
                    .iter()
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
                    .join(";")
            ),
            Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect();
    format!("{name}:{}", options.join(","))
}

fn sgd(lr: f32) -> (Var<Cpu>, Sgd<Cpu>) {
    let p = Var::parameter(Tensor::from_vec(vec![0.0], [1], &Cpu).unwrap());
    let opt = Sgd::new(
        vec![("p".into(), p.clone())],
        SgdConfig {
            lr,
            momentum: 0.9,
            ..Default::default()
        },
    )
    .unwrap();
    (p, opt)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-5 * b.abs().max(1e-3)
}

#[test]
fn every_scheduler_matches_pytorch_in_every_epoch() {
    let f = fixture();
    let base_lr = f["base_lr"].as_f64().unwrap() as f32;
    let cases = f["cases"].as_object().unwrap();
    assert_eq!(cases.len(), 7, "all 7 PyTorch schedulers");
    for (case, data) in cases {
        let (_, mut opt) = sgd(base_lr);
        let kind = SchedulerKind::parse(&spec(case, &data["hyperparameters"])).unwrap();
        let mut scheduler = LrScheduler::new(kind, &mut opt).unwrap();
        let lrs = numbers(&data["lrs"]);
        let momenta = data.get("momentum").map(numbers);
        let metric = data.get("metric").map(numbers);
        for (epoch, &want) in lrs.iter().enumerate() {
            let got = f64::from(opt.lr());
            assert!(
                close(got, want),
                "{case} epoch {epoch}: lr {got} vs pytorch {want}"
            );
            if let Some(momenta) = &momenta {
                let got = f64::from(opt.group_options(0).unwrap().momentum.unwrap());
                let want = momenta[epoch];
                assert!(
                    close(got, want),
                    "{case} epoch {epoch}: momentum {got} vs {want}"
                );
            }
            let m = metric.as_ref().map(|m| m[epoch]);
            scheduler.step(&mut opt, m).unwrap();
        }
    }
}

#[test]
fn one_cycle_past_its_total_steps_is_an_error_as_in_pytorch() {
    let (_, mut opt) = sgd(0.1);
    let kind = SchedulerKind::parse("onecycle:max_lr=1,total_steps=3").unwrap();
    let mut scheduler = LrScheduler::new(kind, &mut opt).unwrap();
    for _ in 0..3 {
        scheduler.step(&mut opt, None).unwrap();
    }
    let err = scheduler.step(&mut opt, None).unwrap_err();
    assert!(matches!(
        err,
        Error::SteppedPastEnd {
            step: 4,
            total_steps: 3,
            ..
        }
    ));
    assert!(err.to_string().contains("total_steps is 3"), "{err}");
}

#[test]
fn a_restored_scheduler_continues_exactly() {
    for spec in [
        "plateau:factor=0.5,patience=1",
        "cosine:t_max=4,eta_min=0.001",
        "onecycle:max_lr=0.5,total_steps=10",
    ] {
        let metric = |e: usize| [1.0, 0.9, 0.95, 0.95, 0.97, 0.8, 0.85, 0.85, 0.9, 0.9][e];
        let (_, mut reference) = sgd(0.1);
        let mut s = LrScheduler::new(SchedulerKind::parse(spec).unwrap(), &mut reference).unwrap();
        let mut want = Vec::new();
        for e in 0..10 {
            want.push(reference.lr().to_bits());
            s.step(&mut reference, Some(metric(e))).unwrap();
        }

        let (_, mut first) = sgd(0.1);
        let mut s = LrScheduler::new(SchedulerKind::parse(spec).unwrap(), &mut first).unwrap();
        let mut got = Vec::new();
        for e in 0..4 {
            got.push(first.lr().to_bits());
            s.step(&mut first, Some(metric(e))).unwrap();
        }
        let saved = s.state();
        let (_, mut second) = sgd(0.1);
        let mut s = LrScheduler::new(SchedulerKind::parse(spec).unwrap(), &mut second).unwrap();
        s.load_state(&saved, &mut second).unwrap();
        for e in 4..10 {
            got.push(second.lr().to_bits());
            s.step(&mut second, Some(metric(e))).unwrap();
        }
        assert_eq!(got, want, "{spec}");
    }
}

#[test]
fn schedulers_scale_each_parameter_group_from_its_own_lr() {
    let w = Var::parameter(Tensor::from_vec(vec![1.0, 2.0], [2], &Cpu).unwrap());
    let b = Var::parameter(Tensor::from_vec(vec![0.5], [1], &Cpu).unwrap());
    let decayed = AdamWConfig {
        lr: 0.1,
        weight_decay: 0.5,
        ..Default::default()
    };
    let mut opt = AdamW::with_groups(vec![
        (vec![("w".into(), w.clone())], decayed),
        (
            vec![("b".into(), b.clone())],
            AdamWConfig {
                lr: 0.01,
                weight_decay: 0.0,
                ..decayed
            },
        ),
    ])
    .unwrap();
    let mut s = LrScheduler::new(
        SchedulerKind::parse("exponential:gamma=0.5").unwrap(),
        &mut opt,
    )
    .unwrap();
    s.step(&mut opt, None).unwrap();
    assert_eq!(opt.group_options(0).unwrap().lr, 0.05);
    assert_eq!(opt.group_options(1).unwrap().lr, 0.005);
    // The bias's group has no weight decay: with a zero gradient its value stays put, while
    // the weight decays.
    opt.zero_grad();
    w.set_grad(Some(Tensor::zeros([2], &Cpu).unwrap()));
    b.set_grad(Some(Tensor::zeros([1], &Cpu).unwrap()));
    opt.step().unwrap();
    assert_eq!(b.value().to_vec().unwrap(), vec![0.5]);
    assert_eq!(
        w.value().to_vec().unwrap(),
        vec![1.0 * (1.0 - 0.05 * 0.5), 2.0 * (1.0 - 0.05 * 0.5)]
    );
    assert!(matches!(
        opt.set_group_options(2, opt.group_options(0).unwrap()),
        Err(Error::NoSuchGroup {
            group: 2,
            groups: 2,
            ..
        })
    ));
}

#[test]
fn bad_scheduler_input_is_a_typed_error_naming_it() {
    let cases: &[(&str, &str)] = &[
        ("warmup", "unknown scheduler `warmup`"),
        ("step:step_size=0", "step_size=0"),
        ("step:stepsize=2", "stepsize=2: is not an option"),
        ("step:gamma=abc", "gamma=abc: must be a number"),
        ("exponential", "gamma=missing"),
        ("cosine:eta_min=0", "t_max=missing"),
        (
            "linear:start_factor=1.5",
            "start_factor=1.5: must be in (0, 1]",
        ),
        ("multistep:milestones=5;3", "must be strictly increasing"),
        ("onecycle:total_steps=10", "max_lr=missing"),
        (
            "onecycle:max_lr=1,pct_start=2",
            "pct_start=2: must be in [0, 1]",
        ),
        ("plateau:factor=1.5", "factor=1.5: must be in (0, 1)"),
        ("plateau:mode=up", "mode=up: must be one of min, max"),
    ];
    for (spec, message) in cases {
        let err = SchedulerKind::parse(spec).unwrap_err().to_string();
        assert!(err.contains(message), "{spec}: {err}");
    }
    // OneCycleLR cycles a momentum: Adagrad has none.
    let p = Var::parameter(Tensor::from_vec(vec![0.0], [1], &Cpu).unwrap());
    let mut adagrad = Adagrad::new(vec![("p".into(), p)], AdagradConfig::default()).unwrap();
    let err = LrScheduler::new(
        SchedulerKind::parse("onecycle:max_lr=1,total_steps=5").unwrap(),
        &mut adagrad,
    )
    .unwrap_err();
    assert!(err.to_string().contains("cycle_momentum"), "{err}");
}

#[test]
fn bad_optimizer_input_is_a_typed_error_naming_value_and_range() {
    let p = || {
        vec![(
            "p".to_string(),
            Var::parameter(Tensor::zeros([1], &Cpu).unwrap()),
        )]
    };
    let err = |r: Result<AnyOptimizer<Cpu>>| r.err().expect("an error").to_string();
    assert!(
        err(AnyOptimizer::by_name("adam", p(), -0.1)).contains("invalid lr -0.1: must be >= 0")
    );
    assert!(
        err(AnyOptimizer::by_name("lion", p(), 0.1))
            .contains("unknown optimizer `lion`; choose one of sgd, momentum")
    );
    let e = NAdam::new(
        p(),
        NAdamConfig {
            betas: (1.0, 0.999),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("NAdam: invalid beta1 1: must be in [0, 1)"),
        "{e}"
    );
    let e = Adadelta::new(
        p(),
        AdadeltaConfig {
            rho: 1.5,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("Adadelta: invalid rho 1.5: must be in [0, 1]"),
        "{e}"
    );
    let e = Sgd::new(
        p(),
        SgdConfig {
            momentum: -0.5,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("SGD: invalid momentum -0.5: must be >= 0"),
        "{e}"
    );
    // A schedule may not switch SGD's momentum on after the buffers were sized without it.
    let mut sgd = Sgd::new(p(), SgdConfig::default()).unwrap();
    let options = sgd.group_options(0).unwrap();
    let e = sgd
        .set_group_options(
            0,
            GroupOptions {
                momentum: Some(0.9),
                ..options
            },
        )
        .unwrap_err();
    assert!(e.to_string().contains("invalid momentum 0.9"), "{e}");
    let e = sgd
        .set_group_options(
            0,
            GroupOptions {
                lr: -1.0,
                ..options
            },
        )
        .unwrap_err();
    assert!(e.to_string().contains("invalid lr -1"), "{e}");
}

#[test]
fn every_optimizer_name_builds_and_steps() {
    for name in OPTIMIZER_NAMES {
        let p = Var::parameter(Tensor::from_vec(vec![1.0, -1.0], [2], &Cpu).unwrap());
        let mut opt = AnyOptimizer::by_name(name, vec![("p".into(), p.clone())], 0.01).unwrap();
        opt.zero_grad();
        p.set_grad(Some(Tensor::from_vec(vec![0.5, -0.5], [2], &Cpu).unwrap()));
        opt.step().unwrap();
        let v = p.value().to_vec().unwrap();
        assert!(
            v[0] < 1.0 && v[1] > -1.0,
            "{name} moved against the gradient: {v:?}"
        );
    }
}
