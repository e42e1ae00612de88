//! Models cross threads: built on one, trained on another, evaluated on a third; two trained at
//! once on two threads give the bits each gives alone.

use std::thread;

use ember_dl::prelude::*;

fn is_send_and_sync<T: Send + Sync>() {}

#[test]
fn models_optimizers_and_tensors_are_send_and_sync() {
    is_send_and_sync::<Tensor>();
    is_send_and_sync::<Var>();
    is_send_and_sync::<Sequential>();
    is_send_and_sync::<Linear>();
    is_send_and_sync::<Conv2d>();
    is_send_and_sync::<BatchNorm1d>();
    is_send_and_sync::<Dropout>();
    is_send_and_sync::<Adam<Cpu>>();
    is_send_and_sync::<Box<dyn Module<Cpu>>>();
    #[cfg(feature = "wgpu")]
    is_send_and_sync::<Sequential<Wgpu>>();
}

/// A small synthetic classification set: 200 images whose class is where their bright pixels
/// are.
fn data() -> InMemoryDataset {
    let mut images = vec![0u8; 200 * 784];
    let labels: Vec<u8> = (0..200).map(|i| (i % 10) as u8).collect();
    for (i, image) in images.chunks_mut(784).enumerate() {
        let class = labels[i] as usize;
        for (j, pixel) in image.iter_mut().enumerate() {
            *pixel = if j / 78 == class {
                200
            } else {
                ((i * 31 + j * 7) % 50) as u8
            };
        }
    }
    InMemoryDataset::new(images, labels).expect("consistent data")
}

/// The lab's `mlp-batchnorm` shape, with dropout: parameters, buffers and random streams.
fn build(seed: u64) -> Sequential {
    let mut rng = seeded_rng(seed);
    let model = Sequential::new()
        .append(Linear::new(784, 32, &mut rng, &Cpu).unwrap())
        .append(BatchNorm1d::new(BatchNormConfig::new(32), &Cpu).unwrap())
        .append(ReLU)
        .append(Dropout::new(0.2).unwrap())
        .append(Linear::new(32, 10, &mut rng, &Cpu).unwrap());
    model.seed_random_streams(seed);
    model
}

/// Two epochs of Adam; the bits of every cost.
fn train(model: &Sequential, data: &InMemoryDataset) -> Vec<u32> {
    let loader = DataLoader::new(data, 20).unwrap().shuffle(true).seed(1);
    let mut optimizer = Adam::new(model.named_parameters(), AdamConfig::default()).unwrap();
    let mut costs = Vec::new();
    for epoch in 0..2 {
        for batch in loader.epoch(epoch) {
            let y = Tensor::from_vec(batch.labels_f32(), [batch.len], &Cpu).unwrap();
            let x = Tensor::from_vec(batch.images, [batch.len, 784], &Cpu).unwrap();
            let cost = CrossEntropyLoss::default()
                .forward(&model.forward(&Var::constant(x)).unwrap(), &y)
                .unwrap();
            optimizer.zero_grad();
            cost.backward().unwrap();
            optimizer.step().unwrap();
            costs.push(cost.value().to_scalar().unwrap().to_bits());
        }
    }
    costs
}

#[test]
fn a_model_is_built_on_one_thread_trained_on_another_and_evaluated_on_a_third() {
    let data = data();
    let model = thread::spawn(|| build(3)).join().unwrap();
    let (model, data, costs) = thread::spawn(move || {
        let costs = train(&model, &data);
        (model, data, costs)
    })
    .join()
    .unwrap();
    let accuracy = thread::spawn(move || {
        let mut model = model;
        evaluate(&mut model, &data, &[784], &Cpu).unwrap()
    })
    .join()
    .unwrap();
    let first = f32::from_bits(costs[0]);
    let last = f32::from_bits(*costs.last().unwrap());
    assert!(last < first, "the cost fell: {first} → {last}");
    assert!(accuracy > 0.5, "trained on separable data: {accuracy}");
}

#[test]
fn two_models_trained_at_once_give_the_bits_each_gives_alone() {
    let data = data();
    let alone = [train(&build(1), &data), train(&build(2), &data)];
    let start = std::sync::Barrier::new(2);
    let together = thread::scope(|scope| {
        let runs = [1, 2].map(|seed| {
            let (data, start) = (&data, &start);
            scope.spawn(move || {
                let model = build(seed);
                start.wait(); // both train at the same time
                train(&model, data)
            })
        });
        runs.map(|run| run.join().unwrap())
    });
    assert_eq!(together, alone);
    assert_ne!(alone[0], alone[1]);
}
