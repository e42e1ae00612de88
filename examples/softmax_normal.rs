//! The seed's first program: softmax regression (Linear 784→10) whose weights are
//! re-initialised with `normal_`, trained with Adam on Fashion-MNIST.
//! `cargo run --release --example softmax_normal [-- --train-limit N]`
use ember_dl::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // for reproducibility
    let random_seed = 777;
    let mut rng = seeded_rng(random_seed);

    // parameters
    let (learning_rate, training_epochs, batch_size) = (0.001, 15, 100);

    let limit = std::env::args().skip_while(|a| a != "--train-limit").nth(1);
    let data = TrainTest::find(DatasetKind::FashionMnist, limit.map(|n| n.parse()).transpose()?)?;
    let data_loader =
        DataLoader::new(&data.train, batch_size)?.shuffle(true).drop_last(true).seed(random_seed);

    let mut linear = Linear::new(784, 10, &mut rng, &Cpu)?;
    init::normal_(&linear.weight, 0.0, 1.0, &mut rng)?;

    let criterion = CrossEntropyLoss::default(); // softmax is computed inside
    let config = AdamConfig { lr: learning_rate, ..Default::default() };
    let mut optimizer = Adam::new(linear.named_parameters(), config)?;

    let total_batch = data_loader.len() as f64;
    for epoch in 0..training_epochs {
        let mut avg_cost = 0.0;
        for batch in data_loader.epoch(epoch) {
            let y = Tensor::from_vec(batch.labels_f32(), [batch.len], &Cpu)?;
            let x = Tensor::from_vec(batch.images, [batch.len, 784], &Cpu)?;

            optimizer.zero_grad();
            let hypothesis = linear.forward(&Var::constant(x))?;
            let cost = criterion.forward(&hypothesis, &y)?;
            cost.backward()?;
            optimizer.step()?;

            avg_cost += f64::from(cost.value().to_scalar()?) / total_batch;
        }
        println!("Epoch: {:04} cost = {avg_cost:.9}", epoch + 1);
    }
    println!("Learning finished");
    println!("Accuracy: {:.4}", evaluate(&mut linear, &data.test, &[784], &Cpu)?);
    Ok(())
}
