//! A differentiable op of your own: SiLU (`x · sigmoid(x)`) written with `Var::custom` (its
//! forward pass, its gradient rule and the values the rule needs), checked against finite
//! differences with `check_gradients`, then used as the activation of a small network trained
//! with Adam. `cargo run --release --example custom_op [-- --train-limit N]`
use ember_dl::prelude::*;

/// SiLU on any backend: the gradient is `s · (1 + x · (1 − s))` with `s = sigmoid(x)`.
fn silu<B: Backend>(x: &Var<B>) -> ember_dl::autodiff::Result<Var<B>> {
    Var::custom(
        "silu",
        &[x],
        |[x]| {
            let s = x.sigmoid()?;
            Ok((x.mul(&s)?, (x.clone(), s))) // the output, and what backward needs
        },
        |grad, (x, s)| {
            let slope = s.mul(&x.mul(&s.neg()?.add_scalar(1.0)?)?.add_scalar(1.0)?)?;
            Ok(vec![Some(grad.mul(&slope)?)]) // one gradient per input
        },
    )
}

/// The activation as a layer, so that it goes into a `Sequential`.
struct Silu;

impl<B: Backend> Module<B> for Silu {
    fn forward(&self, x: &Var<B>) -> ember_dl::nn::Result<Var<B>> {
        Ok(silu(x)?)
    }
    module_fields!(B => );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    use ember_dl::autodiff::gradcheck::{GradCheck, check_gradients};
    let mut rng = seeded_rng(7);
    let x = Tensor::randn([4, 5], 0.0, 2.0, &mut rng, &Cpu)?;
    let report = check_gradients("silu", &[x], |v| silu(&v[0])?.sum_all(), &GradCheck::default())?;
    println!(
        "gradcheck silu: {} elements, largest error {:.2e}",
        report.checked, report.max_abs_error
    );

    let limit = std::env::args().skip_while(|a| a != "--train-limit").nth(1);
    let data = TrainTest::find(DatasetKind::FashionMnist, limit.map(|n| n.parse()).transpose()?)?;
    let loader = DataLoader::new(&data.train, 100)?.shuffle(true).drop_last(true).seed(7);
    let mut model = Sequential::new()
        .append(Linear::new(784, 128, &mut rng, &Cpu)?)
        .append(Silu)
        .append(Linear::new(128, 10, &mut rng, &Cpu)?);
    let mut optimizer = Adam::new(model.named_parameters(), AdamConfig::default())?;
    for epoch in 0..3 {
        let mut cost_sum = 0.0;
        for batch in loader.epoch(epoch) {
            let y = Tensor::from_vec(batch.labels_f32(), [batch.len], &Cpu)?;
            let x = Var::constant(Tensor::from_vec(batch.images, [batch.len, 784], &Cpu)?);
            let cost = CrossEntropyLoss::default().forward(&model.forward(&x)?, &y)?;
            optimizer.zero_grad();
            cost.backward()?;
            optimizer.step()?;
            cost_sum += cost.value().to_scalar()?;
        }
        let accuracy = evaluate(&mut model, &data.test, &[784], &Cpu)?;
        println!(
            "epoch {} cost {:.4} test accuracy {accuracy:.4}",
            epoch + 1,
            cost_sum / loader.len().max(1) as f32
        );
    }
    Ok(())
}
