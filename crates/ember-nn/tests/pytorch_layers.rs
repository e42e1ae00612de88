//! Conv2d, MaxPool2d and AvgPool2d against PyTorch (`tests/fixtures/pytorch/nn_layers.json`,
//! float64): outputs, input gradients and parameter gradients within 1e-5 relative / 1e-6
//! absolute; and the layers' errors for bad input.

mod common;

use ember_autodiff::Var;
use ember_cpu::Cpu;
use ember_nn::{AvgPool2d, Conv2d, Conv2dConfig, Error, MaxPool2d, Module};
use ember_tensor::{Tensor, seeded_rng};
use serde_json::Value;

fn fixture_cases() -> Value {
    common::json("nn_layers.json")["cases"].take()
}

fn tensor(value: &Value) -> Tensor<Cpu> {
    common::tensor(value, &Cpu)
}

fn pair(value: &Value) -> [usize; 2] {
    match value {
        Value::Array(v) => [
            v[0].as_u64().unwrap() as usize,
            v[1].as_u64().unwrap() as usize,
        ],
        v => [v.as_u64().unwrap() as usize; 2],
    }
}

/// Runs `layer` on the case's input, backpropagates its upstream gradient, and compares.
fn check(name: &str, case: &Value, layer: &dyn Module<Cpu>) {
    common::check_forward_backward(name, case, layer, &Cpu, 1e-6, 1e-5);
}

#[test]
fn conv2d_matches_pytorch() {
    let cases = fixture_cases();
    let mut checked = 0;
    for (name, case) in cases.as_object().unwrap() {
        if case["module"] != "Conv2d" {
            continue;
        }
        let c = &case["config"];
        let mut config = Conv2dConfig::new(
            c["in_channels"].as_u64().unwrap() as usize,
            c["out_channels"].as_u64().unwrap() as usize,
            pair(&c["kernel_size"]),
        )
        .stride(pair(&c["stride"]))
        .padding(pair(&c["padding"]))
        .bias(c["bias"].as_bool().unwrap());
        if let Some(d) = c.get("dilation") {
            config = config.dilation(pair(d));
        }
        let conv = Conv2d::new(config, &mut seeded_rng(0), &Cpu).unwrap();
        conv.weight.set_value(tensor(&case["params"]["weight"]));
        if let Some(b) = &conv.bias {
            b.set_value(tensor(&case["params"]["bias"]));
        }
        check(name, case, &conv);
        checked += 1;
    }
    assert_eq!(checked, 4, "the fixture's four Conv2d cases");
}

#[test]
fn pooling_matches_pytorch_including_padding_and_ties() {
    let cases = fixture_cases();
    let mut checked = Vec::new();
    for (name, case) in cases.as_object().unwrap() {
        if !matches!(case["module"].as_str(), Some("MaxPool2d" | "AvgPool2d")) {
            continue;
        }
        let c = &case["config"];
        let kernel = pair(&c["kernel_size"]);
        let stride = c.get("stride").map_or(kernel, pair);
        let padding = c.get("padding").map_or([0, 0], pair);
        match case["module"].as_str() {
            Some("MaxPool2d") => {
                let layer = MaxPool2d::new(kernel).stride(stride).padding(padding);
                check(name, case, &layer);
            }
            Some("AvgPool2d") => {
                let layer = AvgPool2d::new(kernel).stride(stride).padding(padding);
                check(name, case, &layer);
            }
            _ => continue,
        }
        checked.push(name.clone());
    }
    checked.sort();
    assert_eq!(
        checked,
        [
            "avgpool_2x2",
            "maxpool_2x2",
            "maxpool_3x3_s2_p1",
            "maxpool_ties"
        ]
    );
}

#[test]
fn conv2d_names_its_parameters_as_pytorch_and_inits_within_its_bounds() {
    let conv = Conv2d::new(Conv2dConfig::new(2, 4, [3, 3]), &mut seeded_rng(1), &Cpu).unwrap();
    let names: Vec<String> = conv
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["weight", "bias"]);
    let bound = 1.0 / 18f32.sqrt();
    for (_, p) in conv.named_parameters() {
        let v = p.value().to_vec().unwrap();
        assert!(v.iter().all(|x| x.abs() <= bound), "U(±1/√fan_in)");
        assert!(v.iter().any(|x| x.abs() > bound / 2.0), "not all near zero");
    }
}

#[test]
fn bad_input_names_the_layer_and_the_shapes() {
    let conv = Conv2d::new(
        Conv2dConfig::new(1, 32, [3, 3]).padding([1, 1]),
        &mut seeded_rng(1),
        &Cpu,
    )
    .unwrap();
    let flat = Var::constant(Tensor::zeros([100, 784], &Cpu).unwrap());
    let error = conv.forward(&flat).unwrap_err();
    assert!(matches!(error, Error::InputShape { .. }), "{error}");
    let text = error.to_string();
    assert!(text.contains("Conv2d(1, 32, kernel_size=(3, 3)"), "{text}");
    assert!(
        text.contains("[N, 1, H, W]") && text.contains("[100, 784]"),
        "{text}"
    );

    let big = Conv2d::new(Conv2dConfig::new(1, 1, [5, 5]), &mut seeded_rng(1), &Cpu).unwrap();
    let small = Var::constant(Tensor::zeros([1, 1, 4, 4], &Cpu).unwrap());
    let text = big.forward(&small).unwrap_err().to_string();
    assert!(
        text.starts_with("Conv2d(1, 1, kernel_size=(5, 5)"),
        "{text}"
    );
    assert!(text.contains("does not fit the padded input 4×4"), "{text}");

    let zero_stride = Conv2d::new(
        Conv2dConfig::new(1, 1, [3, 3]).stride([0, 1]),
        &mut seeded_rng(1),
        &Cpu,
    )
    .unwrap_err();
    assert!(matches!(zero_stride, Error::Config { .. }), "{zero_stride}");
    assert!(
        zero_stride.to_string().contains("stride [0, 1]"),
        "{zero_stride}"
    );

    let pool = MaxPool2d::new([2, 2]);
    let text = Module::<Cpu>::forward(&pool, &flat)
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("MaxPool2d") && text.contains("[100, 784]"),
        "{text}"
    );
}
