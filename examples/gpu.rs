//! The seed's ReLU network trained on the GPU through wgpu (Vulkan, Metal, DX12 or GL), or on
//! the CPU when this machine has no GPU adapter. The training code is written once, generic
//! over the backend. `cargo run --release --example gpu [-- --train-limit N]`
use ember_dl::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let limit = std::env::args().skip_while(|a| a != "--train-limit").nth(1);
    let data = TrainTest::find(DatasetKind::FashionMnist, limit.map(|n| n.parse()).transpose()?)?;
    match Wgpu::new() {
        Ok(gpu) => {
            println!("Device: {}", gpu.description());
            train(&gpu, &data)
        }
        Err(error) => {
            println!("Device: CPU ({error})");
            train(&Cpu, &data)
        }
    }
}

fn train<B: Backend>(device: &B, data: &TrainTest) -> Result<(), Box<dyn std::error::Error>> {
    let (learning_rate, training_epochs, batch_size, random_seed) = (0.001, 15, 100, 777);
    let mut rng = seeded_rng(random_seed);
    let data_loader =
        DataLoader::new(&data.train, batch_size)?.shuffle(true).drop_last(true).seed(random_seed);

    // Initialised on the host from the seed, then uploaded: the same weights as on the CPU.
    let mut model = Sequential::new()
        .append(Linear::new(784, 256, &mut rng, device)?)
        .append(ReLU)
        .append(Linear::new(256, 256, &mut rng, device)?)
        .append(ReLU)
        .append(Linear::new(256, 10, &mut rng, device)?);
    let criterion = CrossEntropyLoss::default();
    let config = AdamConfig { lr: learning_rate, ..Default::default() };
    let mut optimizer = Adam::new(model.named_parameters(), config)?;

    let total_batch = data_loader.len() as f32;
    for epoch in 0..training_epochs {
        // The epoch's cost is summed on the device and read back once per epoch.
        let mut avg_cost = Tensor::scalar(0.0, device)?;
        for batch in data_loader.epoch(epoch) {
            let y = Tensor::from_vec(batch.labels_f32(), [batch.len], device)?;
            let x = Tensor::from_vec(batch.images, [batch.len, 784], device)?;

            let cost = criterion.forward(&model.forward(&Var::constant(x))?, &y)?;
            optimizer.zero_grad();
            cost.backward()?;
            optimizer.step()?;

            avg_cost = avg_cost.add(&cost.value().mul_scalar(1.0 / total_batch)?)?;
        }
        println!("Epoch: {:04} cost = {:.9}", epoch + 1, avg_cost.to_scalar()?);
    }
    println!("Learning finished");
    println!("Accuracy: {:.4}", evaluate(&mut model, &data.test, &[784], device)?);
    Ok(())
}
