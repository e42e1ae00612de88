//! Layers, initialisation, losses and the seed's network learning a batch.

use ember_autodiff::Var;
use ember_cpu::Cpu;
use ember_nn::init::{self, FanMode};
use ember_nn::{
    CrossEntropyLoss, Linear, MSELoss, Module, ReLU, Reduction, Sequential, Sigmoid, Tanh,
};
use ember_tensor::{Tensor, seeded_rng};

fn stats(v: &[f32]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

#[test]
fn default_linear_init_lies_in_pytorchs_bounds() {
    let mut rng = seeded_rng(777);
    let layer = Linear::<Cpu>::new(784, 256, &mut rng, &Cpu).unwrap();
    let bound = 1.0 / 784f32.sqrt();
    let w = layer.weight.value().to_vec().unwrap();
    let b = layer.bias.as_ref().unwrap().value().to_vec().unwrap();
    assert!(w.iter().all(|x| x.abs() <= bound));
    assert!(b.iter().all(|x| x.abs() <= bound));
    // Uniform on ±bound: std = bound/√3, and the values fill the range.
    let (mean, std) = stats(&w);
    assert!(mean.abs() < 1e-3, "{mean}");
    assert!((std - bound as f64 / 3f64.sqrt()).abs() < 1e-3, "{std}");
    assert!(w.iter().cloned().fold(0.0f32, f32::max) > 0.99 * bound);
}

#[test]
fn normal_init_has_mean_0_and_std_1() {
    let p = Var::parameter(Tensor::<Cpu>::zeros([1000, 784], &Cpu).unwrap());
    init::normal_(&p, 0.0, 1.0, &mut seeded_rng(777)).unwrap();
    let (mean, std) = stats(&p.value().to_vec().unwrap());
    assert!(mean.abs() < 0.01, "{mean}");
    assert!((std - 1.0).abs() < 0.01, "{std}");
}

#[test]
fn the_other_initialisers_have_their_documented_spread() {
    let p = Var::parameter(Tensor::<Cpu>::zeros([400, 600], &Cpu).unwrap());
    let mut rng = seeded_rng(1);
    let check = |p: &Var<Cpu>, want_std: f64| {
        let (mean, std) = stats(&p.value().to_vec().unwrap());
        // Five standard errors of the mean.
        assert!(mean.abs() < 5.0 * want_std / (240_000f64).sqrt(), "{mean}");
        assert!(
            (std / want_std - 1.0).abs() < 0.02,
            "std {std} vs {want_std}"
        );
    };
    init::xavier_uniform_(&p, 1.0, &mut rng).unwrap();
    check(&p, (2.0f64 / 1000.0).sqrt());
    init::xavier_normal_(&p, 1.0, &mut rng).unwrap();
    check(&p, (2.0f64 / 1000.0).sqrt());
    init::kaiming_uniform_(&p, 0.0, FanMode::FanIn, &mut rng).unwrap();
    check(&p, (2.0f64 / 600.0).sqrt());
    init::kaiming_normal_(&p, 0.0, FanMode::FanOut, &mut rng).unwrap();
    check(&p, (2.0f64 / 400.0).sqrt());
    init::uniform_(&p, -2.0, 2.0, &mut rng).unwrap();
    check(&p, 2.0 / 3f64.sqrt());
    init::zeros_(&p).unwrap();
    assert!(p.value().to_vec().unwrap().iter().all(|&x| x == 0.0));
    // Fans need a matrix.
    let v = Var::parameter(Tensor::<Cpu>::zeros([5], &Cpu).unwrap());
    assert!(init::xavier_uniform_(&v, 1.0, &mut rng).is_err());
}

#[test]
fn same_seed_same_parameters() {
    let build = |seed| {
        let mut rng = seeded_rng(seed);
        Sequential::<Cpu>::new()
            .append(Linear::new(20, 8, &mut rng, &Cpu).unwrap())
            .append(Tanh)
            .append(Linear::new(8, 3, &mut rng, &Cpu).unwrap())
            .state_dict()
            .into_iter()
            .map(|(n, t)| (n, t.to_stored().unwrap()))
            .collect::<Vec<_>>()
    };
    assert_eq!(build(777), build(777));
    assert_ne!(build(777), build(778));
}

#[test]
fn sequential_names_parameters_like_pytorch() {
    let mut rng = seeded_rng(0);
    let model = Sequential::<Cpu>::new()
        .append(Linear::new(6, 4, &mut rng, &Cpu).unwrap())
        .append(Sigmoid)
        .append(Linear::with_bias(4, 3, false, &mut rng, &Cpu).unwrap());
    let names: Vec<String> = model
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["0.weight", "0.bias", "2.weight"]);
    assert_eq!(model.num_parameters(), 24 + 4 + 12);
}

#[test]
fn cross_entropy_is_stable_and_reduces_as_asked() {
    let logits = Var::parameter(
        Tensor::from_vec(
            vec![1000.0, -1000.0, 0.0, -1000.0, 1000.0, 0.0],
            [2, 3],
            &Cpu,
        )
        .unwrap(),
    );
    let labels = Tensor::from_vec(vec![0.0, 0.0], [2], &Cpu).unwrap();
    let none = CrossEntropyLoss::new(Reduction::None)
        .forward(&logits, &labels)
        .unwrap();
    assert_eq!(none.value().to_vec().unwrap(), vec![0.0, 2000.0]);
    let sum = CrossEntropyLoss::new(Reduction::Sum)
        .forward(&logits, &labels)
        .unwrap();
    assert_eq!(sum.value().to_scalar().unwrap(), 2000.0);
    let mean = CrossEntropyLoss::default()
        .forward(&logits, &labels)
        .unwrap();
    assert_eq!(mean.value().to_scalar().unwrap(), 1000.0);
    mean.backward().unwrap();
    let g = logits.grad().unwrap().to_vec().unwrap();
    assert!(g.iter().all(|x| x.is_finite()));
    // Row 2: softmax = [0, 1, 0], target 0 → grad (p - onehot)/2 = [-0.5, 0.5, 0].
    assert_eq!(&g[3..], &[-0.5, 0.5, 0.0]);
}

#[test]
fn mse_matches_hand_computation() {
    let p = Var::parameter(Tensor::from_vec(vec![1.0, 2.0, 4.0], [3], &Cpu).unwrap());
    let t = Var::constant(Tensor::from_vec(vec![0.0, 2.0, 1.0], [3], &Cpu).unwrap());
    let loss = MSELoss::default().forward(&p, &t).unwrap();
    assert_eq!(loss.value().to_scalar().unwrap(), 10.0 / 3.0);
    loss.backward().unwrap();
    let g = p.grad().unwrap().to_vec().unwrap();
    let want = [2.0 / 3.0, 0.0, 2.0];
    for (a, b) in g.iter().zip(want) {
        assert!((a - b).abs() < 1e-6);
    }
    let sum = MSELoss::new(Reduction::Sum).forward(&p, &t).unwrap();
    assert_eq!(sum.value().to_scalar().unwrap(), 10.0);
}

#[test]
fn the_seed_mlp_fits_one_batch_within_200_adam_steps() {
    use ember_optim_free_adam::AdamLoop;
    let mut rng = seeded_rng(777);
    let model = Sequential::<Cpu>::new()
        .append(Linear::new(784, 256, &mut rng, &Cpu).unwrap())
        .append(ReLU)
        .append(Linear::new(256, 256, &mut rng, &Cpu).unwrap())
        .append(ReLU)
        .append(Linear::new(256, 10, &mut rng, &Cpu).unwrap());
    let x = Var::constant(Tensor::rand_uniform([100, 784], 0.0, 1.0, &mut rng, &Cpu).unwrap());
    let labels: Vec<f32> = (0..100).map(|i| ((i * 7) % 10) as f32).collect();
    let y = Tensor::from_vec(labels, [100], &Cpu).unwrap();
    let mut adam = AdamLoop::new(&model);
    let mut last = f32::INFINITY;
    for step in 1..=200 {
        model.zero_grad();
        let cost = CrossEntropyLoss::default()
            .forward(&model.forward(&x).unwrap(), &y)
            .unwrap();
        cost.backward().unwrap();
        adam.step(&model, step);
        last = cost.value().to_scalar().unwrap();
        if last < 0.01 {
            break;
        }
    }
    assert!(last < 0.01, "loss after 200 Adam steps: {last}");
}

/// A plain Adam (lr 0.001) through the backend's fused update, so this crate's test does not
/// depend on `ember-optim` (which depends on this crate).
mod ember_optim_free_adam {
    use ember_cpu::{Cpu, CpuStorage};
    use ember_nn::Module;
    use ember_tensor::Backend;
    use ember_tensor::ops::OptimizerUpdate;

    pub struct AdamLoop {
        state: Vec<Vec<CpuStorage>>,
    }

    impl AdamLoop {
        pub fn new(model: &impl Module<Cpu>) -> Self {
            let state = model
                .parameters()
                .iter()
                .map(|p| vec![Cpu.fill(p.shape().numel(), 0.0).unwrap(); 2])
                .collect();
            AdamLoop { state }
        }

        pub fn step(&mut self, model: &impl Module<Cpu>, step: u64) {
            let update = OptimizerUpdate::Adam {
                lr: 1e-3,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 0.0,
                decoupled: false,
                amsgrad: false,
                step,
                maximize: false,
            };
            for (p, state) in model.parameters().iter().zip(&mut self.state) {
                let g = p.grad().unwrap();
                p.update_value(|v| {
                    Cpu.optimizer_update(&update, v.storage_mut(), g.storage(), state)
                })
                .unwrap();
            }
        }
    }
}

#[test]
fn relu_before_a_max_pool_runs_after_it_with_the_same_values_and_gradients() {
    use ember_nn::{AvgPool2d, MaxPool2d};
    // Few distinct values: ties inside windows, windows with no positive value, zeros.
    let dims = [2, 3, 6, 6];
    let len: usize = dims.iter().product();
    let values: Vec<f32> = (0..len)
        .map(|i| ((i * 7 + i / 5) % 5) as f32 - 2.5)
        .collect();
    let values: Vec<f32> = values.iter().map(|v| v.round()).collect();
    let weights: Vec<f32> = (0..len).map(|i| ((i * 13) % 7) as f32 - 3.0).collect();
    let pools = [
        MaxPool2d::new([2, 2]),
        MaxPool2d::new([3, 3]).stride([1, 1]).padding([1, 1]),
    ];
    for pool in pools {
        // 0: pool(relu(x)); 1: relu(pool(x)); 2: `Sequential` of ReLU and the pool.
        let run = |order: usize| {
            let x = Var::parameter(Tensor::from_vec(values.clone(), dims, &Cpu).unwrap());
            let y = match order {
                0 => pool.forward(&x.relu().unwrap()).unwrap(),
                1 => pool.forward(&x).unwrap().relu().unwrap(),
                _ => {
                    let layers = Sequential::new().append(ReLU).append(pool);
                    layers.forward(&x).unwrap()
                }
            };
            let r = Var::constant(
                Tensor::from_vec(weights[..y.shape().numel()].to_vec(), y.shape(), &Cpu).unwrap(),
            );
            y.mul(&r).unwrap().sum_all().unwrap().backward().unwrap();
            (
                y.value().to_vec().unwrap(),
                x.grad().unwrap().to_vec().unwrap(),
            )
        };
        let (plain, plain_grad) = run(0);
        assert!(plain_grad.iter().any(|&g| g != 0.0));
        for order in [1, 2] {
            let (y, grad) = run(order);
            assert_eq!(y, plain, "{pool:?}, order {order}");
            assert_eq!(grad, plain_grad, "{pool:?}, order {order}");
        }
    }
    // Average pooling does not commute with ReLU: the layers run in order.
    let x =
        Var::constant(Tensor::from_vec(vec![-1.0, 3.0, -1.0, -1.0], [1, 1, 2, 2], &Cpu).unwrap());
    let y = Sequential::new()
        .append(ReLU)
        .append(AvgPool2d::new([2, 2]))
        .forward(&x)
        .unwrap();
    assert_eq!(y.value().to_vec().unwrap(), vec![0.75]);
}

/// A layer of a user's own that records the shapes it sees.
#[derive(Clone, Default)]
struct Recording {
    seen: std::sync::Arc<std::sync::Mutex<Vec<Vec<usize>>>>,
}

impl Module<Cpu> for Recording {
    fn forward(&self, x: &Var<Cpu>) -> ember_nn::Result<Var<Cpu>> {
        if let Ok(mut seen) = self.seen.lock() {
            seen.push(x.shape().dims().to_vec());
        }
        Ok(x.clone())
    }
    fn visit_parameters(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Var<Cpu>)) {}
}

/// A max pooling runs before the ReLUs just before it, which then see the pooled tensor (the
/// same values and gradients as the written order); a layer of one's own is never moved.
#[test]
fn sequential_pools_before_a_relu_and_never_moves_other_layers() {
    use ember_nn::{LayerKind, MaxPool2d};
    let data: Vec<f32> = (0..32).map(|i| ((i * 7) % 11) as f32 - 5.0).collect();
    let layer = Recording::default();
    let layers = Sequential::new()
        .append(layer.clone())
        .append(ReLU)
        .append(MaxPool2d::new([2, 2]))
        .append(layer.clone());
    assert!(matches!(Module::<Cpu>::kind(&layer), LayerKind::Other));
    let x = Var::parameter(Tensor::from_vec(data.clone(), [1, 2, 4, 4], &Cpu).unwrap());
    let y = layers.forward(&x).unwrap();
    assert_eq!(
        *layer.seen.lock().unwrap(),
        vec![vec![1, 2, 4, 4], vec![1, 2, 2, 2]]
    );
    y.sum_all().unwrap().backward().unwrap();

    let written = Var::parameter(Tensor::from_vec(data, [1, 2, 4, 4], &Cpu).unwrap());
    let expected = MaxPool2d::new([2, 2])
        .forward(&written.relu().unwrap())
        .unwrap();
    assert_eq!(
        y.value().to_vec().unwrap(),
        expected.value().to_vec().unwrap()
    );
    expected.sum_all().unwrap().backward().unwrap();
    assert_eq!(
        x.grad().unwrap().to_vec().unwrap(),
        written.grad().unwrap().to_vec().unwrap()
    );
}

/// `Sequential(Conv2d, ReLU, MaxPool2d)` runs the convolution and the pooling as one op, then
/// the ReLU: the same values, to the bit, as the three layers called one by one. The input and
/// weight gradients are the same bits with one input channel (the convolution's own backward
/// pass) and the same sums in another order with 16 (walked from the pooling's winners); the
/// bias gradient is the same sum taken over the pooled gradient.
#[test]
fn sequential_fuses_a_convolution_with_the_max_pooling_after_it() {
    use ember_nn::{Conv2d, Conv2dConfig, MaxPool2d};
    let bits =
        |t: Tensor<Cpu>| -> Vec<u32> { t.to_vec().unwrap().iter().map(|v| v.to_bits()).collect() };
    for channels in [1, 16] {
        let config = Conv2dConfig::new(channels, 8, [3, 3]).padding([1, 1]);
        let conv = Conv2d::<Cpu>::new(config, &mut seeded_rng(7), &Cpu).unwrap();
        let block = Sequential::new()
            .append(conv.clone())
            .append(ReLU)
            .append(MaxPool2d::new([2, 2]));
        let data: Vec<f32> = (0..3 * channels * 10 * 10)
            .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        let input =
            || Var::parameter(Tensor::from_vec(data.clone(), [3, channels, 10, 10], &Cpu).unwrap());
        let (x, x_alone) = (input(), input());
        let y = block.forward(&x).unwrap();
        let y_alone = MaxPool2d::new([2, 2])
            .forward(&ReLU.forward(&conv.forward(&x_alone).unwrap()).unwrap())
            .unwrap();
        assert_eq!(bits(y.value()), bits(y_alone.value()));

        block.zero_grad();
        y.square().unwrap().sum_all().unwrap().backward().unwrap();
        let fused: Vec<Tensor<Cpu>> = block
            .parameters()
            .iter()
            .map(|p| p.grad().unwrap())
            .collect();
        block.zero_grad();
        y_alone
            .square()
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let alone: Vec<Tensor<Cpu>> = block
            .parameters()
            .iter()
            .map(|p| p.grad().unwrap())
            .collect();
        let (dx, dx_alone) = (x.grad().unwrap(), x_alone.grad().unwrap());
        let close = |what: &str, got: Tensor<Cpu>, want: Tensor<Cpu>| {
            for (a, b) in got.to_vec().unwrap().iter().zip(&want.to_vec().unwrap()) {
                assert!(
                    (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                    "{what}: {a} against {b}"
                );
            }
        };
        if channels < 8 {
            // The convolution's own backward pass, image by image: the same bits.
            assert_eq!(bits(dx), bits(dx_alone), "dx");
            assert_eq!(bits(fused[0].clone()), bits(alone[0].clone()), "dW");
        } else {
            // Walked from the pooling's winners: the same terms, summed in another order.
            close("dx", dx, dx_alone);
            close("dW", fused[0].clone(), alone[0].clone());
        }
        close("db", fused[1].clone(), alone[1].clone());
    }

    // A wrong input names the convolution and the pooling it runs with.
    let block = Sequential::new()
        .append(
            Conv2d::<Cpu>::new(Conv2dConfig::new(1, 2, [3, 3]), &mut seeded_rng(7), &Cpu).unwrap(),
        )
        .append(MaxPool2d::new([4, 4]));
    let small = Var::constant(Tensor::<Cpu>::zeros([1, 1, 4, 4], &Cpu).unwrap());
    let message = block.forward(&small).unwrap_err().to_string();
    assert!(
        message.contains("Conv2d") && message.contains("MaxPool2d"),
        "{message}"
    );
    let wrong = Var::constant(Tensor::<Cpu>::zeros([1, 784], &Cpu).unwrap());
    let message = block.forward(&wrong).unwrap_err().to_string();
    assert!(message.contains("[N, 1, H, W]"), "{message}");
}

/// A CPU-only model of a user's own, with a raw parameter, a buffer and a dropout:
/// `module_fields!` names them PyTorch's way (its own first) and passes modes on.
struct Scaled {
    body: Sequential<Cpu>,
    drop: ember_nn::Dropout,
    scale: Var<Cpu>,
    seen: ember_nn::Buffer<Cpu>,
}

impl Module<Cpu> for Scaled {
    fn forward(&self, x: &Var<Cpu>) -> ember_nn::Result<Var<Cpu>> {
        Ok(self
            .drop
            .forward(&self.body.forward(x)?)?
            .mul(&self.scale)?)
    }
    ember_nn::module_fields!(Cpu => body, drop; parameters: scale; buffers: seen);
}

#[test]
fn module_fields_takes_the_backend_type_and_raw_parameter_and_buffer_fields() {
    let mut model = Scaled {
        body: Sequential::new().append(Linear::new(3, 2, &mut seeded_rng(0), &Cpu).unwrap()),
        drop: ember_nn::Dropout::new(0.5).unwrap(),
        scale: Var::parameter(Tensor::ones([2], &Cpu).unwrap()),
        seen: ember_nn::Buffer::new(ember_nn::I64Tensor::scalar(7)),
    };
    let names: Vec<String> = model
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["scale", "body.0.weight", "body.0.bias"]);
    let buffers: Vec<String> = model.named_buffers().into_iter().map(|(n, _)| n).collect();
    assert_eq!(buffers, ["seen"]);
    assert_eq!(model.state_dict().len(), 4);
    assert_eq!(model.training_mode(), Some(true));
    model.set_training(false);
    assert_eq!(model.training_mode(), Some(false));
    let x = Var::constant(Tensor::ones([4, 3], &Cpu).unwrap());
    // Evaluation mode: the dropout is the identity, so two passes agree.
    let once = model.forward(&x).unwrap().value().to_vec().unwrap();
    assert_eq!(model.forward(&x).unwrap().value().to_vec().unwrap(), once);
    let mut streams = Vec::new();
    model.visit_random_streams("", &mut |name, _| streams.push(name.to_string()));
    assert_eq!(streams, ["drop"]);
    // Layers without a mode report none.
    assert_eq!(Module::<Cpu>::training_mode(&ReLU), None);
}
