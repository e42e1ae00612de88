//! `Dropout` as `torch.nn.Dropout`: p in [0, 1), PyTorch's training-mode scaling, the identity
//! in evaluation mode, and masks keyed by the layer's name and the step through containers.

use ember_autodiff::Var;
use ember_cpu::Cpu;
use ember_nn::{Dropout, Error, Linear, Module, RandomStream, ReLU, Sequential, module_fields};
use ember_tensor::{Backend, Tensor, seeded_rng};

fn ones(n: usize) -> Var<Cpu> {
    Var::constant(Tensor::ones([n], &Cpu).unwrap())
}

fn output(model: &impl Module<Cpu>, x: &Var<Cpu>) -> Vec<f32> {
    model.forward(x).unwrap().value().to_vec().unwrap()
}

#[test]
fn p_outside_zero_to_one_is_a_config_error_naming_the_layer() {
    for p in [-0.5f32, 1.0, 2.0, f32::NAN, f32::INFINITY] {
        let err = Dropout::new(p).unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{err:?}");
        let message = err.to_string();
        assert!(
            message.contains("Dropout(p=") && message.contains("[0, 1)"),
            "{message}"
        );
    }
    assert_eq!(Dropout::new(0.0).unwrap().p(), 0.0);
    assert_eq!(Dropout::new(0.999).unwrap().p(), 0.999);
}

#[test]
fn training_mode_zeroes_about_p_and_scales_the_rest_by_one_over_one_minus_p() {
    let mut layer = Dropout::new(0.3).unwrap();
    let x = ones(50_000);
    let y = output(&layer, &x);
    let dropped = y.iter().filter(|&&v| v == 0.0).count() as f64 / y.len() as f64;
    assert!((dropped - 0.3).abs() < 0.01, "dropped {dropped}");
    let scale = 1.0f32 / 0.7;
    assert!(y.iter().all(|&v| v == 0.0 || v == scale));
    // The expectation is kept: mean ≈ 1.
    let mean = y.iter().map(|&v| f64::from(v)).sum::<f64>() / y.len() as f64;
    assert!((mean - 1.0).abs() < 0.02, "mean {mean}");

    Module::<Cpu>::set_training(&mut layer, false);
    assert_eq!(output(&layer, &x), vec![1.0; 50_000]);
    // p = 0 is the identity in training mode too.
    let identity = Dropout::new(0.0).unwrap();
    assert_eq!(output(&identity, &x), vec![1.0; 50_000]);
}

#[test]
fn each_forward_pass_draws_a_new_mask_and_a_set_step_draws_the_same_one_again() {
    let layer = Dropout::new(0.5).unwrap();
    let x = ones(256);
    Module::<Cpu>::set_random_step(&layer, 40);
    let first = output(&layer, &x);
    let second = output(&layer, &x);
    assert_ne!(first, second);
    assert_eq!(layer.stream().step(), 42);
    Module::<Cpu>::set_random_step(&layer, 40);
    assert_eq!(output(&layer, &x), first);
    assert_eq!(output(&layer, &x), second);
}

/// A struct of layers, as a user writes one: `module_fields!` passes streams and modes on.
struct Net<B: Backend> {
    hidden: Linear<B>,
    relu: ReLU,
    drop: Dropout,
    head: Sequential<B>,
}

impl<B: Backend> Module<B> for Net<B> {
    fn forward(&self, x: &Var<B>) -> ember_nn::Result<Var<B>> {
        let h = self
            .drop
            .forward(&self.relu.forward(&self.hidden.forward(x)?)?)?;
        self.head.forward(&h)
    }
    module_fields!(B => hidden, relu, drop, head);
}

#[test]
fn containers_pass_streams_and_modes_on_and_keys_depend_on_seed_and_name() {
    let mut rng = seeded_rng(1);
    let mut net = Net {
        hidden: Linear::new(8, 64, &mut rng, &Cpu).unwrap(),
        relu: ReLU,
        drop: Dropout::new(0.5).unwrap(),
        head: Sequential::new()
            .append(Dropout::new(0.5).unwrap())
            .append(Linear::new(64, 3, &mut rng, &Cpu).unwrap()),
    };
    let streams = |net: &Net<Cpu>| {
        let mut out = Vec::new();
        net.visit_random_streams("", &mut |name: &str, s: &RandomStream| {
            out.push((name.to_string(), s.key(), s.step()))
        });
        out
    };
    assert_eq!(
        streams(&net)
            .iter()
            .map(|s| s.0.as_str())
            .collect::<Vec<_>>(),
        ["drop", "head.0"]
    );
    net.seed_random_streams(777);
    let keyed = streams(&net);
    assert_eq!(keyed[0].1, ember_tensor::stream_key(777, "drop"));
    assert_eq!(keyed[1].1, ember_tensor::stream_key(777, "head.0"));
    assert_ne!(keyed[0].1, keyed[1].1);
    net.seed_random_streams(778);
    assert_ne!(streams(&net)[0].1, keyed[0].1);
    net.set_random_step(9);
    assert!(streams(&net).iter().all(|s| s.2 == 9));

    let x = Var::constant(Tensor::ones([4, 8], &Cpu).unwrap());
    net.set_random_step(3);
    let a = output(&net, &x);
    net.set_random_step(3);
    assert_eq!(output(&net, &x), a, "same step, same masks");
    net.set_training(false);
    let eval = output(&net, &x);
    assert_eq!(output(&net, &x), eval, "evaluation mode draws nothing");
    assert_ne!(eval, a);
}

/// The positions a layer of `Dropout(0.5)` zeroes in a forward pass of ones.
fn zeroed(model: &impl Module<Cpu>, x: &Var<Cpu>, call: bool) -> Vec<bool> {
    let y = if call {
        model.call(x)
    } else {
        model.forward(x)
    };
    y.unwrap()
        .value()
        .to_vec()
        .unwrap()
        .iter()
        .map(|&v| v == 0.0)
        .collect()
}

/// The share of positions both masks zero: about 1/4 for independent masks of p = 0.5, 1/2
/// for one mask drawn twice.
fn both_zeroed(a: &[bool], b: &[bool]) -> f64 {
    a.iter().zip(b).filter(|(a, b)| **a && **b).count() as f64 / a.len() as f64
}

#[test]
fn two_dropout_layers_never_share_a_mask_unless_given_one_key() {
    let x = ones(20_000);
    // Two layers made one after the other, never named or seeded: their own masks.
    let (first, second) = (Dropout::new(0.5).unwrap(), Dropout::new(0.5).unwrap());
    assert_ne!(first.stream().key(), second.stream().key());
    let shared = both_zeroed(&zeroed(&first, &x, false), &zeroed(&second, &x, false));
    assert!((shared - 0.25).abs() < 0.02, "{shared}");

    // In a Sequential, the first call keys each by its name, as `seed_random_streams(0)`.
    let model: Sequential<Cpu> = Sequential::new()
        .append(Dropout::new(0.5).unwrap())
        .append(ReLU)
        .append(Dropout::new(0.5).unwrap());
    let y: Vec<f32> = model.call(&x).unwrap().value().to_vec().unwrap();
    let zeros = y.iter().filter(|&&v| v == 0.0).count() as f64 / y.len() as f64;
    assert!(
        (zeros - 0.75).abs() < 0.02,
        "two Dropout(0.5) zero 3/4, got {zeros}"
    );
    let mut keys = Vec::new();
    model.visit_random_streams("", &mut |name, s| keys.push((name.to_string(), s.key())));
    assert_eq!(
        keys,
        [
            ("0".to_string(), ember_tensor::stream_key(0, "0")),
            ("2".to_string(), ember_tensor::stream_key(0, "2")),
        ]
    );

    // Asked for: one key, one mask.
    let (a, b) = (Dropout::new(0.5).unwrap(), Dropout::new(0.5).unwrap());
    a.stream().set_key(42);
    b.stream().set_key(42);
    assert_eq!(zeroed(&a, &x, true), zeroed(&b, &x, true));
}

#[test]
fn a_seeded_or_set_key_survives_the_first_call() {
    let x = ones(64);
    let model: Sequential<Cpu> = Sequential::new().append(Dropout::new(0.5).unwrap());
    model.seed_random_streams(777);
    model.call(&x).unwrap();
    let mut key = 0;
    model.visit_random_streams("", &mut |_, s| key = s.key());
    assert_eq!(key, ember_tensor::stream_key(777, "0"));

    // Named once: a later call does not rename (the stream keeps drawing from one key).
    let named: Sequential<Cpu> = Sequential::new().append(Dropout::new(0.5).unwrap());
    named.call(&x).unwrap();
    let inner = Sequential::new().append_named("outer", named);
    inner.call(&x).unwrap();
    let mut key = 0;
    inner.visit_random_streams("", &mut |_, s| key = s.key());
    assert_eq!(key, ember_tensor::stream_key(0, "0"));
}
