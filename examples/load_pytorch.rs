//! Loads a state dict that PyTorch saved (`safetensors.torch.save_file(model.state_dict(), ...)`)
//! into the same architecture and predicts Fashion-MNIST test images with it.
//! `cargo run --release --example load_pytorch [-- PATH.safetensors]`. The default, the project's
//! PyTorch fixture, holds freshly initialised weights, so its guesses are chance; the
//! `model.safetensors` of a `cargo xtask train` run (PyTorch's names too) predicts for real.
use ember_dl::prelude::*;

const FIXTURE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/pytorch/seed_mlp.safetensors");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| FIXTURE.to_string());

    // PyTorch's `Sequential(Linear(784,256), ReLU(), Linear(256,256), ReLU(), Linear(256,10))`:
    // its parameters are named 0.weight, 0.bias, 2.weight, ... in both frameworks.
    let mut rng = seeded_rng(0);
    let mut model = Sequential::new()
        .append(Linear::new(784, 256, &mut rng, &Cpu)?)
        .append(ReLU)
        .append(Linear::new(256, 256, &mut rng, &Cpu)?)
        .append(ReLU)
        .append(Linear::new(256, 10, &mut rng, &Cpu)?);
    load_module(&model, &load_safetensors(&path)?)?; // strict: names and shapes must match
    println!(
        "Loaded {path}: {}",
        model.state_dict().iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
    );

    let data = TrainTest::find(DatasetKind::FashionMnist, Some(0))?;
    let batch = DataLoader::new(&data.test, 8)?.epoch(0).next().ok_or("empty test set")?;
    let x = Tensor::from_vec(batch.images, [batch.len, 784], &Cpu)?;
    let predicted = no_grad(|| model.forward(&Var::constant(x)))?.value().argmax()?.to_vec()?;
    for (p, label) in predicted.iter().zip(&batch.labels) {
        let (p, label) = (*p as usize, *label as usize);
        println!(
            "predicted {:<12} label {}",
            ember_dl::data::FASHION_MNIST_CLASSES[p],
            ember_dl::data::FASHION_MNIST_CLASSES[label]
        );
    }
    println!("Accuracy: {:.4}", evaluate(&mut model, &data.test, &[784], &Cpu)?);
    Ok(())
}
