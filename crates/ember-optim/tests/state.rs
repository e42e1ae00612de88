//! Saving and restoring optimizer state; hyperparameter validation.

use ember_autodiff::Var;
use ember_cpu::Cpu;
use ember_nn::state_dict::{load_safetensors, save_safetensors};
use ember_optim::*;
use ember_tensor::Tensor;

fn param(values: &[f32]) -> Var<Cpu> {
    Var::parameter(Tensor::from_vec(values.to_vec(), [values.len()], &Cpu).unwrap())
}

fn step_with_grad(opt: &mut dyn Optimizer<Cpu>, p: &Var<Cpu>, g: &[f32]) {
    opt.zero_grad();
    p.set_grad(Some(Tensor::from_vec(g.to_vec(), [g.len()], &Cpu).unwrap()));
    opt.step().unwrap();
}

#[test]
fn a_restored_adam_continues_exactly_like_an_uninterrupted_one() {
    let grads: [[f32; 3]; 4] = [
        [0.1, -0.2, 0.3],
        [0.5, 0.1, -0.4],
        [-0.3, 0.2, 0.2],
        [0.0, 1.0, -1.0],
    ];
    let config = AdamConfig {
        lr: 0.1,
        amsgrad: true,
        ..Default::default()
    };

    let p_ref = param(&[1.0, 2.0, 3.0]);
    let mut reference = Adam::new(vec![("w".into(), p_ref.clone())], config).unwrap();
    for g in &grads {
        step_with_grad(&mut reference, &p_ref, g);
    }

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("optim.safetensors");
    let p = param(&[1.0, 2.0, 3.0]);
    let mut first = Adam::new(vec![("w".into(), p.clone())], config).unwrap();
    for g in &grads[..2] {
        step_with_grad(&mut first, &p, g);
    }
    let (tensors, metadata) = first.state_tensors();
    let names: Vec<&str> = tensors.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["w.exp_avg", "w.exp_avg_sq", "w.max_exp_avg_sq"]);
    save_safetensors(&path, &tensors, &metadata).unwrap();

    let p2 = Var::parameter(p.value());
    let mut resumed = Adam::new(vec![("w".into(), p2.clone())], config).unwrap();
    resumed
        .load_state(&load_safetensors(&path).unwrap())
        .unwrap();
    assert_eq!(resumed.steps(), 2);
    for g in &grads[2..] {
        step_with_grad(&mut resumed, &p2, g);
    }
    assert_eq!(
        p2.value().to_vec().unwrap(),
        p_ref.value().to_vec().unwrap()
    );
}

#[test]
fn state_of_another_optimizer_is_rejected() {
    let p = param(&[1.0]);
    let mut sgd = Sgd::new(
        vec![("w".into(), p.clone())],
        SgdConfig {
            momentum: 0.9,
            ..Default::default()
        },
    )
    .unwrap();
    step_with_grad(&mut sgd, &p, &[1.0]);
    let (tensors, metadata) = sgd.state_tensors();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.safetensors");
    save_safetensors(&path, &tensors, &metadata).unwrap();
    let mut adam = Adam::new(vec![("w".into(), p)], AdamConfig::default()).unwrap();
    let err = adam
        .load_state(&load_safetensors(&path).unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("SGD"), "{err}");
    // The name is quoted as written, not as Rust's debug form of an Option.
    assert!(!err.to_string().contains("Some("), "{err}");

    let mut unnamed = load_safetensors(&path).unwrap();
    unnamed.metadata.remove("optimizer");
    let err = adam.load_state(&unnamed).unwrap_err().to_string();
    assert!(!err.contains("None"), "{err}");
    assert!(err.contains("does not name its optimizer"), "{err}");
}

#[test]
fn state_with_a_wrong_shape_names_the_buffer() {
    let p = param(&[1.0, 2.0]);
    let mut adam = Adam::new(vec![("w".into(), p.clone())], AdamConfig::default()).unwrap();
    step_with_grad(&mut adam, &p, &[1.0, 1.0]);
    let (_, metadata) = adam.state_tensors();
    let wrong = vec![
        (
            "w.exp_avg".to_string(),
            Tensor::<Cpu>::zeros([3], &Cpu).unwrap(),
        ),
        (
            "w.exp_avg_sq".to_string(),
            Tensor::<Cpu>::zeros([3], &Cpu).unwrap(),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.safetensors");
    save_safetensors(&path, &wrong, &metadata).unwrap();
    let err = adam
        .load_state(&load_safetensors(&path).unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("w.exp_avg"), "{err}");
}

#[test]
fn invalid_hyperparameters_are_errors() {
    let p = || vec![("w".to_string(), param(&[1.0]))];
    assert!(
        Adam::new(
            p(),
            AdamConfig {
                lr: -1.0,
                ..Default::default()
            }
        )
        .is_err()
    );
    assert!(
        Adam::new(
            p(),
            AdamConfig {
                betas: (1.0, 0.999),
                ..Default::default()
            }
        )
        .is_err()
    );
    assert!(
        Sgd::new(
            p(),
            SgdConfig {
                nesterov: true,
                ..Default::default()
            }
        )
        .is_err()
    );
    assert!(
        RmsProp::new(
            p(),
            RmsPropConfig {
                alpha: f32::NAN,
                ..Default::default()
            }
        )
        .is_err()
    );
    assert!(
        Adagrad::new(
            p(),
            AdagradConfig {
                lr_decay: -0.1,
                ..Default::default()
            }
        )
        .is_err()
    );
    let err = AnyOptimizer::by_name("adamq", p(), 0.1).err().unwrap();
    assert!(err.to_string().contains("adamw"), "{err}");
}

#[test]
fn parameters_without_gradients_are_skipped() {
    let a = param(&[1.0]);
    let b = param(&[5.0]);
    let mut opt = AnyOptimizer::by_name(
        "sgd",
        vec![("a".into(), a.clone()), ("b".into(), b.clone())],
        0.5,
    )
    .unwrap();
    a.set_grad(Some(Tensor::from_vec(vec![1.0], [1], &Cpu).unwrap()));
    opt.step().unwrap();
    assert_eq!(a.value().to_vec().unwrap(), vec![0.5]);
    assert_eq!(b.value().to_vec().unwrap(), vec![5.0]);
}
