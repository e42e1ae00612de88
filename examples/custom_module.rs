//! A module of your own: a struct of layers made a `Module` by `module_fields!`, with its own
//! forward pass (a skip connection), trained by a hand-written loop: SGD with momentum, the
//! learning rate halved every other epoch, the gradient norm watched, and the weights saved
//! under PyTorch's names. `cargo run --release --example custom_module [-- --train-limit N]`
use ember_dl::prelude::*;

/// `logits = out(h + relu(mix(h)))` with `h = relu(input(x))`.
struct SkipNet {
    input: Linear,
    mix: Linear,
    out: Linear,
}

impl Module<Cpu> for SkipNet {
    fn forward(&self, x: &Var) -> ember_dl::nn::Result<Var> {
        let h = self.input.forward(x)?.relu()?;
        let h = h.add(&self.mix.forward(&h)?.relu()?)?;
        self.out.forward(&h)
    }
    module_fields!(Cpu => input, mix, out); // parameters input.weight, input.bias, mix.weight, ...
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = seeded_rng(1);
    let mut model = SkipNet {
        input: Linear::new(784, 128, &mut rng, &Cpu)?,
        mix: Linear::new(128, 128, &mut rng, &Cpu)?,
        out: Linear::new(128, 10, &mut rng, &Cpu)?,
    };
    let config = SgdConfig { lr: 0.1, momentum: 0.9, ..Default::default() };
    let mut optimizer = Sgd::new(model.named_parameters(), config)?;

    let limit = std::env::args().skip_while(|a| a != "--train-limit").nth(1);
    let data = TrainTest::find(DatasetKind::FashionMnist, limit.map(|n| n.parse()).transpose()?)?;
    let loader = DataLoader::new(&data.train, 64)?.shuffle(true).seed(1);
    for epoch in 0..4 {
        let (mut cost_sum, mut max_grad_norm) = (0.0, 0.0f32);
        for batch in loader.epoch(epoch) {
            let y = Tensor::from_vec(batch.labels_f32(), [batch.len], &Cpu)?;
            let x = Var::constant(Tensor::from_vec(batch.images, [batch.len, 784], &Cpu)?);
            model.zero_grad();
            let cost = CrossEntropyLoss::default().forward(&model.forward(&x)?, &y)?;
            cost.backward()?;
            let mut squares = 0.0;
            for g in model.parameters().iter().filter_map(Var::grad) {
                squares += g.sum_squares()?.to_scalar()?;
            }
            max_grad_norm = max_grad_norm.max(squares.sqrt());
            optimizer.step()?;
            cost_sum += cost.value().to_scalar()?;
        }
        let accuracy = evaluate(&mut model, &data.test, &[784], &Cpu)?;
        println!(
            "epoch {} lr {:.3} cost {:.4} max grad norm {max_grad_norm:.3} test accuracy {accuracy:.4}",
            epoch + 1,
            optimizer.lr(),
            cost_sum / loader.len() as f32,
        );
        if epoch % 2 == 1 {
            optimizer.set_lr(optimizer.lr() / 2.0);
        }
    }
    let path = std::env::temp_dir().join("ember_skipnet.safetensors");
    save_module(&model, &path)?; // safetensors.torch.load_file reads it
    println!("saved {}", path.display());
    Ok(())
}
