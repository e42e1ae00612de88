//! The seed's point: through a chain of sigmoid layers the gradient reaching the input shrinks
//! layer by layer (sigmoid' ≤ 0.25); through the same chain with ReLU it does not.

use ember_autodiff::Var;
use ember_cpu::Cpu;
use ember_tensor::Tensor;

const WIDTH: usize = 16;
const DEPTH: usize = 8;

/// A deterministic orthogonal-like weight: a scaled signed permutation, so every layer keeps the
/// signal's norm and only the activation's derivative changes it.
fn weight(layer: usize) -> Tensor<Cpu> {
    let mut w = vec![0.0; WIDTH * WIDTH];
    for i in 0..WIDTH {
        let j = (i * 5 + layer) % WIDTH;
        w[i * WIDTH + j] = 1.0;
    }
    Tensor::from_vec(w, [WIDTH, WIDTH], &Cpu).unwrap()
}

/// Norm of d(sum of the output)/d(input of layer l), for each layer l of the chain.
fn gradient_norms_by_depth(activation: fn(&Var<Cpu>) -> Var<Cpu>) -> Vec<f32> {
    let input: Vec<f32> = (0..WIDTH).map(|i| 0.5 + 0.1 * i as f32).collect();
    let mut h = Var::parameter(Tensor::from_vec(input, [1, WIDTH], &Cpu).unwrap());
    let mut layer_inputs = vec![h.clone()];
    for layer in 0..DEPTH {
        let w = Var::constant(weight(layer));
        h = activation(&h.matmul_t(&w, false, true).unwrap());
        h.retain_grad();
        layer_inputs.push(h.clone());
    }
    h.sum_all().unwrap().backward().unwrap();
    layer_inputs
        .iter()
        .map(|v| {
            let g = v.grad().unwrap().to_vec().unwrap();
            g.iter().map(|x| x * x).sum::<f32>().sqrt()
        })
        .collect()
}

#[test]
fn sigmoid_gradients_vanish_towards_the_input() {
    let norms = gradient_norms_by_depth(|x| x.sigmoid().unwrap());
    // norms[0] is at the input, norms[DEPTH] at the output.
    for l in 0..DEPTH {
        assert!(
            norms[l] < norms[l + 1] * 0.26,
            "layer {l}: {} is not below a quarter of {}",
            norms[l],
            norms[l + 1]
        );
    }
    assert!(norms[0] < norms[DEPTH] * 1e-4, "{norms:?}");
}

#[test]
fn relu_gradients_do_not_vanish() {
    let norms = gradient_norms_by_depth(|x| x.relu().unwrap());
    for l in 0..DEPTH {
        assert_eq!(norms[l], norms[DEPTH], "{norms:?}");
    }
}
