//! BatchNorm1d and BatchNorm2d against PyTorch (`tests/fixtures/pytorch/nn_layers.json`, float64),
//! on the CPU and on wgpu: the training-mode output, the gradients of the input, weight and
//! bias, the running statistics after two batches, and the evaluation-mode output, within 1e-5.
//! Then the BatchNorm MLP PyTorch saved (`bn_mlp.safetensors`, buffers included), and the errors
//! for bad input.

mod common;

use ember_autodiff::Var;
use ember_cpu::Cpu;
use ember_nn::state_dict::{load_module, load_safetensors, save_module, save_safetensors};
use ember_nn::{
    BatchNorm1d, BatchNorm2d, BatchNormConfig, Error, I64Tensor, Linear, Module, ReLU, Sequential,
    StateTensor, module_fields,
};
use ember_tensor::{Backend, Tensor, seeded_rng};
use safetensors::SafeTensors;
use serde_json::Value;

use common::{fixtures, json, tensor};

/// Within 1e-5 absolute or relative.
fn assert_close<B: Backend>(what: &str, got: &Tensor<B>, want: &Value, tolerance: f64) {
    common::assert_close(what, got, want, tolerance, tolerance);
}

/// One fixture case on `backend`: training forward and backward, a second training batch,
/// then evaluation mode.
fn check_case<B: Backend, M: Module<B>>(
    name: &str,
    case: &Value,
    backend: &B,
    build: impl Fn(BatchNormConfig, &B) -> M,
) {
    let config = &case["config"];
    let layer_config = BatchNormConfig::new(config["num_features"].as_u64().unwrap() as usize)
        .eps(config["eps"].as_f64().unwrap() as f32)
        .momentum(config["momentum"].as_f64().map(|m| m as f32));
    let mut layer = build(layer_config, backend);
    for (param, var) in layer.named_parameters() {
        var.set_value(tensor(&case["params"][&param], backend));
    }
    common::check_forward_backward(name, case, &layer, backend, 1e-5, 1e-5);

    let second = Var::constant(tensor(&case["second_batch"], backend));
    ember_autodiff::no_grad(|| layer.forward(&second)).unwrap();
    let state: Vec<(String, StateTensor<B>)> = layer.state_dict();
    let buffer = |n: &str| state.iter().find(|(k, _)| k == n).unwrap().1.clone();
    assert_close(
        &format!("{name} running_mean"),
        buffer("running_mean").as_f32().unwrap(),
        &case["running_mean_after_two_batches"],
        1e-5,
    );
    assert_close(
        &format!("{name} running_var"),
        buffer("running_var").as_f32().unwrap(),
        &case["running_var_after_two_batches"],
        1e-5,
    );
    assert_eq!(
        buffer("num_batches_tracked").as_i64(),
        Some(&I64Tensor::scalar(
            case["num_batches_tracked"].as_i64().unwrap()
        )),
        "{name} num_batches_tracked"
    );

    layer.set_training(false);
    let eval_input = Var::constant(tensor(&case["eval_input"], backend));
    let eval_output = layer.forward(&eval_input).unwrap();
    assert_close(
        &format!("{name} eval output"),
        &eval_output.value(),
        &case["eval_output"],
        1e-5,
    );
}

fn check_fixtures<B: Backend>(backend: &B) {
    let cases = json("nn_layers.json")["cases"].take();
    check_case(
        "batchnorm1d_train",
        &cases["batchnorm1d_train"],
        backend,
        |c, b| BatchNorm1d::new(c, b).unwrap(),
    );
    check_case(
        "batchnorm2d_train",
        &cases["batchnorm2d_train"],
        backend,
        |c, b| BatchNorm2d::new(c, b).unwrap(),
    );
}

#[test]
fn batchnorm_matches_pytorch_on_the_cpu() {
    check_fixtures(&Cpu);
}

#[test]
fn batchnorm_matches_pytorch_on_wgpu() {
    let Some(gpu) = ember_wgpu::test_device() else {
        return;
    };
    check_fixtures(&gpu);
}

/// The fixture's `Sequential(Linear(784, 32), BatchNorm1d(32), ReLU, Linear(32, 10))`.
fn bn_mlp<B: Backend>(seed: u64, backend: &B) -> Sequential<B> {
    let mut rng = seeded_rng(seed);
    Sequential::new()
        .append(Linear::new(784, 32, &mut rng, backend).unwrap())
        .append(BatchNorm1d::new(BatchNormConfig::new(32), backend).unwrap())
        .append(ReLU)
        .append(Linear::new(32, 10, &mut rng, backend).unwrap())
}

fn check_bn_mlp_logits<B: Backend>(backend: &B) {
    let mut model = bn_mlp(0, backend);
    let dict = load_safetensors(fixtures().join("bn_mlp.safetensors")).unwrap();
    load_module(&model, &dict).unwrap();
    model.set_training(false);
    let expected = json("bn_mlp_expected.json");
    let x = Var::constant(tensor(&expected["inputs"], backend));
    let logits = model.forward(&x).unwrap().value();
    assert_close("bn_mlp logits", &logits, &expected["logits"], 1e-4);
}

#[test]
fn pytorchs_batchnorm_mlp_loads_with_its_buffers_and_gives_its_logits() {
    check_bn_mlp_logits(&Cpu);
    if let Some(gpu) = ember_wgpu::test_device() {
        check_bn_mlp_logits(&gpu);
    }
}

/// The safetensors header: every tensor's name, dtype, shape and byte range.
fn header(bytes: &[u8]) -> Vec<(String, safetensors::Dtype, Vec<usize>, usize)> {
    let file = SafeTensors::deserialize(bytes).unwrap();
    let mut out: Vec<_> = file
        .tensors()
        .into_iter()
        .map(|(name, t)| (name, t.dtype(), t.shape().to_vec(), t.data().len()))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn embers_save_of_the_batchnorm_mlp_has_pytorchs_names_dtypes_and_shapes() {
    let theirs = std::fs::read(fixtures().join("bn_mlp.safetensors")).unwrap();
    let model = bn_mlp(7, &Cpu);
    load_module(
        &model,
        &load_safetensors(fixtures().join("bn_mlp.safetensors")).unwrap(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    save_module(&model, &path).unwrap();
    let ours = std::fs::read(&path).unwrap();
    assert_eq!(header(&ours), header(&theirs));
    // The same values too: `num_batches_tracked` is the I64 PyTorch wrote, not a float.
    let (ours, theirs) = (
        SafeTensors::deserialize(&ours).unwrap(),
        SafeTensors::deserialize(&theirs).unwrap(),
    );
    for (name, tensor) in theirs.tensors() {
        assert_eq!(ours.tensor(&name).unwrap().data(), tensor.data(), "{name}");
    }
    assert_eq!(
        theirs.tensor("1.num_batches_tracked").unwrap().data(),
        3i64.to_le_bytes()
    );
    // A fresh model's own save has the same layout before any training.
    let fresh = bn_mlp(8, &Cpu);
    save_module(&fresh, &path).unwrap();
    let names: Vec<String> = fresh.state_dict().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "0.weight",
            "0.bias",
            "1.weight",
            "1.bias",
            "3.weight",
            "3.bias",
            "1.running_mean",
            "1.running_var",
            "1.num_batches_tracked"
        ]
    );
    let fresh_bytes = std::fs::read(&path).unwrap();
    let fresh_file = SafeTensors::deserialize(&fresh_bytes).unwrap();
    assert_eq!(
        fresh_file.tensor("1.num_batches_tracked").unwrap().data(),
        0i64.to_le_bytes()
    );
}

#[test]
fn a_batch_of_one_in_training_mode_is_an_error_as_in_pytorch() {
    let mut bn = BatchNorm1d::new(BatchNormConfig::new(3), &Cpu).unwrap();
    let one = Var::constant(Tensor::ones([1, 3], &Cpu).unwrap());
    let err = bn.forward(&one).unwrap_err();
    assert!(
        matches!(err, Error::SingleValuePerChannel { ref got, .. } if got.dims() == [1, 3]),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("expected more than 1 value per channel when training"),
        "{err}"
    );
    assert_eq!(bn.num_batches_tracked(), Some(0), "the failed call counted");
    // One sample with a length of two is two values per channel; evaluation mode takes one.
    bn.forward(&Var::constant(Tensor::ones([1, 3, 2], &Cpu).unwrap()))
        .unwrap();
    bn.set_training(false);
    bn.forward(&one).unwrap();
    let bn2 = BatchNorm2d::new(BatchNormConfig::new(2), &Cpu).unwrap();
    let err = bn2
        .forward(&Var::constant(Tensor::ones([1, 2, 1, 1], &Cpu).unwrap()))
        .unwrap_err();
    assert!(matches!(err, Error::SingleValuePerChannel { .. }), "{err}");
}

#[test]
fn a_wrong_input_shape_names_the_layer_and_the_shapes() {
    let bn = BatchNorm1d::new(BatchNormConfig::new(3), &Cpu).unwrap();
    for dims in [vec![4, 2], vec![4, 3, 2, 2], vec![3]] {
        let x = Var::constant(Tensor::ones(dims.clone(), &Cpu).unwrap());
        let err = bn.forward(&x).unwrap_err();
        assert!(matches!(err, Error::InputShape { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.starts_with("BatchNorm1d(3, ") && text.contains("[N, 3] or [N, 3, L]"),
            "{text}"
        );
    }
    let bn2 = BatchNorm2d::new(BatchNormConfig::new(3), &Cpu).unwrap();
    let err = bn2
        .forward(&Var::constant(Tensor::ones([4, 3], &Cpu).unwrap()))
        .unwrap_err();
    assert!(err.to_string().contains("[N, 3, H, W]"), "{err}");
}

/// Saves the fixture model's state dict with one entry replaced (or removed, or added).
fn load_edited(
    edit: impl FnOnce(&mut Vec<(String, StateTensor<Cpu>)>),
) -> (Sequential<Cpu>, Result<(), Error>) {
    let source = bn_mlp(1, &Cpu);
    let mut state = source.state_dict();
    edit(&mut state);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edited.safetensors");
    save_safetensors(&path, &state, &Default::default()).unwrap();
    let target = bn_mlp(2, &Cpu);
    let result = load_safetensors(&path).and_then(|d| load_module(&target, &d));
    (target, result)
}

fn replace(state: &mut [(String, StateTensor<Cpu>)], name: &str, value: StateTensor<Cpu>) {
    state.iter_mut().find(|(n, _)| n == name).unwrap().1 = value;
}

#[test]
fn bad_buffers_in_a_state_dict_are_typed_errors_and_change_nothing() {
    let before: Vec<_> = bn_mlp(2, &Cpu)
        .state_dict()
        .iter()
        .map(|(_, t)| t.to_stored().unwrap())
        .collect();
    let unchanged = |model: &Sequential<Cpu>| {
        let after: Vec<_> = model
            .state_dict()
            .iter()
            .map(|(_, t)| t.to_stored().unwrap())
            .collect();
        assert_eq!(after, before, "a failed load changed the model");
    };

    let (model, result) =
        load_edited(|s| replace(s, "1.running_var", Tensor::ones([31], &Cpu).unwrap().into()));
    let err = result.unwrap_err();
    assert!(
        matches!(err, Error::ShapeMismatch { ref name, .. } if name == "1.running_var"),
        "{err}"
    );
    unchanged(&model);

    // `num_batches_tracked` saved as a float, as an Ember without I64 buffers would have.
    let (model, result) = load_edited(|s| {
        replace(
            s,
            "1.num_batches_tracked",
            Tensor::zeros(Vec::<usize>::new(), &Cpu).unwrap().into(),
        )
    });
    let err = result.unwrap_err();
    assert!(
        matches!(err, Error::DtypeMismatch { ref name, ref expected, ref found, .. }
            if name == "1.num_batches_tracked" && expected == "I64" && found == "F32"),
        "{err}"
    );
    unchanged(&model);

    // A running mean saved as integers.
    let (model, result) = load_edited(|s| {
        replace(
            s,
            "1.running_mean",
            I64Tensor {
                shape: [32].into(),
                data: vec![0; 32],
            }
            .into(),
        )
    });
    let err = result.unwrap_err();
    assert!(
        matches!(err, Error::DtypeMismatch { ref name, .. } if name == "1.running_mean"),
        "{err}"
    );
    unchanged(&model);

    let (model, result) = load_edited(|s| s.retain(|(n, _)| n != "1.running_mean"));
    let err = result.unwrap_err();
    assert!(
        matches!(err, Error::MissingTensor { ref name, .. } if name == "1.running_mean"),
        "{err}"
    );
    unchanged(&model);

    let (model, result) = load_edited(|s| {
        s.push((
            "3.running_mean".into(),
            Tensor::zeros([10], &Cpu).unwrap().into(),
        ))
    });
    let err = result.unwrap_err();
    assert!(
        matches!(err, Error::UnexpectedTensor { ref name, .. } if name == "3.running_mean"),
        "{err}"
    );
    unchanged(&model);
}

/// A user network of fields, one of them a `Sequential` holding a BatchNorm.
struct Net<B: Backend> {
    body: Sequential<B>,
    norm: BatchNorm2d<B>,
}

impl<B: Backend> Module<B> for Net<B> {
    fn forward(&self, x: &Var<B>) -> ember_nn::Result<Var<B>> {
        self.norm.forward(&self.body.forward(x)?)
    }
    module_fields!(B => body, norm);
}

#[test]
fn mode_and_buffers_propagate_through_containers() {
    let mut net = Net {
        body: Sequential::new()
            .append_named(
                "bn",
                BatchNorm2d::new(BatchNormConfig::new(2), &Cpu).unwrap(),
            )
            .append(ReLU),
        norm: BatchNorm2d::new(BatchNormConfig::new(2), &Cpu).unwrap(),
    };
    let buffers: Vec<String> = net.named_buffers().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        buffers,
        [
            "body.bn.running_mean",
            "body.bn.running_var",
            "body.bn.num_batches_tracked",
            "norm.running_mean",
            "norm.running_var",
            "norm.num_batches_tracked"
        ]
    );
    let mut rng = seeded_rng(5);
    let x = Var::constant(Tensor::randn([3, 2, 2, 2], 0.0, 1.0, &mut rng, &Cpu).unwrap());
    net.forward(&x).unwrap();
    assert_eq!(net.norm.num_batches_tracked(), Some(1));
    net.set_training(false);
    assert!(!net.norm.is_training() && !net.body.is_training());
    net.forward(&x).unwrap();
    // Evaluation mode neither counts batches nor moves the statistics, in either layer.
    let counters: Vec<Option<i64>> = net
        .named_buffers()
        .into_iter()
        .filter(|(n, _)| n.ends_with("num_batches_tracked"))
        .map(|(_, b)| b.get().as_i64().map(|t| t.data[0]))
        .collect();
    assert_eq!(counters, [Some(1), Some(1)]);
    net.set_training(true);
    assert!(net.norm.is_training());
}
