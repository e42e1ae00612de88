//! Layout primitives, unfold/fold, convolution and pooling on the CPU, against direct
//! (naive) definitions and hand-computed values; and their errors.

use ember_cpu::Cpu;
use ember_tensor::conformance::SplitMix64;
use ember_tensor::ops::unfold::{fold_reference, unfold_reference};
use ember_tensor::ops::{Conv2dGradients, Window2d, WindowOptions};
use ember_tensor::{Error, Shape, Tensor};

fn random(dims: &[usize], seed: u64) -> Tensor<Cpu> {
    let mut rng = SplitMix64(seed);
    let len = dims.iter().product();
    let data = (0..len).map(|_| rng.uniform(-1.0, 1.0)).collect();
    Tensor::from_vec(data, dims, &Cpu).unwrap()
}

/// `y[n, o, oy, ox] = Σ x[n, c, y, x] · w[o, c, i, j]`, written out.
fn naive_conv(x: &Tensor<Cpu>, w: &Tensor<Cpu>, options: WindowOptions) -> Vec<f64> {
    let window = Window2d::new(
        "naive",
        x.shape(),
        WindowOptions {
            kernel: [w.dims()[2], w.dims()[3]],
            ..options
        },
    )
    .unwrap();
    let (xv, wv) = (x.to_vec().unwrap(), w.to_vec().unwrap());
    let [n, c, h, wd] = [x.dims()[0], x.dims()[1], x.dims()[2], x.dims()[3]];
    let [o, kh, kw] = [w.dims()[0], w.dims()[2], w.dims()[3]];
    let [oh, ow] = window.output;
    let mut out = vec![0.0f64; n * o * oh * ow];
    for b in 0..n {
        for oc in 0..o {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut sum = 0.0f64;
                    for ic in 0..c {
                        for i in 0..kh {
                            for j in 0..kw {
                                if let Some((y, xx)) = window.source(oy, ox, i, j) {
                                    sum += xv[((b * c + ic) * h + y) * wd + xx] as f64
                                        * wv[((oc * c + ic) * kh + i) * kw + j] as f64;
                                }
                            }
                        }
                    }
                    out[((b * o + oc) * oh + oy) * ow + ox] = sum;
                }
            }
        }
    }
    out
}

fn assert_close(got: &[f32], want: &[f64], tolerance: f64) {
    assert_eq!(got.len(), want.len());
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g as f64 - w).abs() <= tolerance * (1.0 + w.abs()),
            "element {i}: {g} vs {w}"
        );
    }
}

fn configurations() -> Vec<(Vec<usize>, Vec<usize>, WindowOptions)> {
    vec![
        (
            vec![2, 3, 7, 6],
            vec![4, 3, 3, 3],
            WindowOptions::new([3, 3]).padding([1, 1]),
        ),
        (
            vec![1, 2, 9, 8],
            vec![3, 2, 3, 3],
            WindowOptions::new([3, 3]).stride([2, 2]),
        ),
        (
            vec![2, 2, 9, 7],
            vec![3, 2, 2, 3],
            WindowOptions::new([2, 3])
                .stride([2, 1])
                .padding([1, 0])
                .dilation([2, 1]),
        ),
        (
            vec![3, 1, 5, 5],
            vec![2, 1, 5, 5],
            WindowOptions::new([5, 5]),
        ),
    ]
}

#[test]
fn conv2d_matches_the_direct_definition() {
    for (seed, (input, weight, options)) in configurations().into_iter().enumerate() {
        let x = random(&input, seed as u64);
        let w = random(&weight, 100 + seed as u64);
        let y = x.conv2d(&w, None, options).unwrap();
        assert_close(&y.to_vec().unwrap(), &naive_conv(&x, &w, options), 1e-5);
    }
}

#[test]
fn conv2d_bias_is_added_per_channel() {
    let x = Tensor::ones([1, 1, 3, 3], &Cpu).unwrap();
    let w = Tensor::ones([2, 1, 3, 3], &Cpu).unwrap();
    let b = Tensor::from_vec(vec![10.0, -1.0], [2], &Cpu).unwrap();
    let y = x.conv2d(&w, Some(&b), WindowOptions::new([3, 3])).unwrap();
    assert_eq!(y.dims(), &[1, 2, 1, 1]);
    assert_eq!(y.to_vec().unwrap(), vec![19.0, 8.0]);
}

/// The gradients agree with `<dy, conv(x, w)>` differentiated: for a random upstream `g`,
/// `<g, conv(x + e, w)> - <g, conv(x, w)> = <dx, e>` exactly (convolution is linear).
#[test]
fn conv2d_gradients_are_the_adjoints_of_the_forward_pass() {
    let dot = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(&p, &q)| p as f64 * q as f64)
            .sum::<f64>()
    };
    for (seed, (input, weight, options)) in configurations().into_iter().enumerate() {
        let x = random(&input, seed as u64);
        let w = random(&weight, 100 + seed as u64);
        let y = x.conv2d(&w, None, options).unwrap();
        let g = random(y.dims(), 200 + seed as u64);
        let wanted = Conv2dGradients {
            input: true,
            weight: true,
        };
        let (dx, dw) = x.conv2d_backward(&w, &g, options, wanted).unwrap();
        let (dx, dw) = (dx.unwrap().to_vec().unwrap(), dw.unwrap().to_vec().unwrap());
        let e = random(&input, 300 + seed as u64);
        let ye = naive_conv(&e, &w, options);
        let lhs: f64 = g
            .to_vec()
            .unwrap()
            .iter()
            .zip(&ye)
            .map(|(&a, &b)| a as f64 * b)
            .sum();
        let rhs = dot(&dx, &e.to_vec().unwrap());
        assert!(
            (lhs - rhs).abs() < 1e-4 * (1.0 + lhs.abs()),
            "dx: {lhs} vs {rhs}"
        );
        let f = random(&weight, 400 + seed as u64);
        let yf = naive_conv(&x, &f, options);
        let lhs: f64 = g
            .to_vec()
            .unwrap()
            .iter()
            .zip(&yf)
            .map(|(&a, &b)| a as f64 * b)
            .sum();
        let rhs = dot(&dw, &f.to_vec().unwrap());
        assert!(
            (lhs - rhs).abs() < 1e-4 * (1.0 + lhs.abs()),
            "dw: {lhs} vs {rhs}"
        );
    }
}

#[test]
fn only_the_wanted_gradients_are_computed() {
    let (input, weight, options) = configurations().remove(0);
    let x = random(&input, 1);
    let w = random(&weight, 2);
    let g = x.conv2d(&w, None, options).unwrap();
    let weight_only = Conv2dGradients {
        input: false,
        weight: true,
    };
    let (dx, dw) = x.conv2d_backward(&w, &g, options, weight_only).unwrap();
    assert!(dx.is_none());
    assert_eq!(dw.unwrap().dims(), weight.as_slice());
}

#[test]
fn unfold_and_fold_match_the_reference_and_are_adjoint() {
    for (seed, (input, weight, options)) in configurations().into_iter().enumerate() {
        let options = WindowOptions {
            kernel: [weight[2], weight[3]],
            ..options
        };
        let x = random(&input, seed as u64);
        let window = Window2d::new("test", x.shape(), options).unwrap();
        let cols = x.unfold2d(options, -7.0).unwrap();
        assert_eq!(cols.dims(), &[window.patch_len(), window.positions()]);
        assert_eq!(
            cols.to_vec().unwrap(),
            unfold_reference(&x.to_vec().unwrap(), &window, -7.0)
        );
        let c = random(cols.dims(), 50 + seed as u64);
        let folded = c.fold2d(x.shape(), options).unwrap();
        assert_eq!(
            folded.to_vec().unwrap(),
            fold_reference(&c.to_vec().unwrap(), &window)
        );
        // <unfold(x), c> = <x, fold(c)> with zero padding.
        let zero_padded = x.unfold2d(options, 0.0).unwrap().to_vec().unwrap();
        let lhs: f64 = zero_padded
            .iter()
            .zip(c.to_vec().unwrap())
            .map(|(&a, b)| a as f64 * b as f64)
            .sum();
        let rhs: f64 = x
            .to_vec()
            .unwrap()
            .iter()
            .zip(folded.to_vec().unwrap())
            .map(|(&a, b)| a as f64 * b as f64)
            .sum();
        assert!((lhs - rhs).abs() < 1e-4 * (1.0 + lhs.abs()));
    }
}

#[test]
fn max_pool_takes_the_first_maximum_and_sends_the_gradient_there() {
    // One 4×4 channel with ties in every 2×2 window.
    let x = Tensor::from_vec(
        vec![
            1.0, 3.0, 2.0, 2.0, //
            3.0, 0.0, 2.0, 2.0, //
            5.0, 5.0, -1.0, -2.0, //
            5.0, 4.0, -3.0, -1.0,
        ],
        [1, 1, 4, 4],
        &Cpu,
    )
    .unwrap();
    let options = WindowOptions::new([2, 2]).stride([2, 2]);
    let (y, indices) = x.max_pool2d(options).unwrap();
    assert_eq!(y.to_vec().unwrap(), vec![3.0, 2.0, 5.0, -1.0]);
    assert_eq!(indices.to_vec().unwrap(), vec![1.0, 0.0, 0.0, 0.0]);
    let g = Tensor::from_vec(vec![10.0, 20.0, 30.0, 40.0], [1, 1, 2, 2], &Cpu).unwrap();
    let dx = g.max_pool2d_backward(&indices, x.shape(), options).unwrap();
    assert_eq!(
        dx.to_vec().unwrap(),
        vec![
            0.0, 10.0, 20.0, 0.0, //
            0.0, 0.0, 0.0, 0.0, //
            30.0, 0.0, 40.0, 0.0, //
            0.0, 0.0, 0.0, 0.0,
        ]
    );
}

#[test]
fn padding_never_wins_a_max_pool_and_counts_as_zero_in_an_average() {
    let x = Tensor::full([1, 1, 2, 2], -5.0, &Cpu).unwrap();
    let options = WindowOptions::new([2, 2]).stride([2, 2]).padding([1, 1]);
    let (y, _) = x.max_pool2d(options).unwrap();
    assert_eq!(y.to_vec().unwrap(), vec![-5.0; 4]);
    let avg = x.avg_pool2d(options).unwrap();
    assert_eq!(avg.to_vec().unwrap(), vec![-1.25; 4]);
    let g = Tensor::ones([1, 1, 2, 2], &Cpu).unwrap();
    let dx = g.avg_pool2d_backward(x.shape(), options).unwrap();
    assert_eq!(dx.to_vec().unwrap(), vec![0.25; 4]);
}

#[test]
fn permute_transpose_narrow_and_expand() {
    let x = Tensor::from_vec((0..24).map(|v| v as f32).collect(), [2, 3, 4], &Cpu).unwrap();
    let p = x.permute(&[2, 0, 1]).unwrap();
    assert_eq!(p.dims(), &[4, 2, 3]);
    let pv = p.to_vec().unwrap();
    for a in 0..2 {
        for b in 0..3 {
            for c in 0..4 {
                assert_eq!(pv[(c * 2 + a) * 3 + b], (a * 12 + b * 4 + c) as f32);
            }
        }
    }
    let t = x.transpose(0, 2).unwrap();
    assert_eq!(t.dims(), &[4, 3, 2]);
    assert_eq!(t.to_vec().unwrap()[..4], [0.0, 12.0, 4.0, 16.0]);
    let n = x.narrow(2, 1, 2).unwrap();
    assert_eq!(n.dims(), &[2, 3, 2]);
    assert_eq!(n.to_vec().unwrap()[..4], [1.0, 2.0, 5.0, 6.0]);
    let row = Tensor::from_vec(vec![1.0, 2.0], [2, 1], &Cpu).unwrap();
    let e = row.expand([3, 2, 2]).unwrap();
    assert_eq!(e.to_vec().unwrap(), [1.0, 1.0, 2.0, 2.0].repeat(3));
    assert_eq!(x.flatten_from(1).unwrap().dims(), &[2, 12]);
}

#[test]
fn bad_windows_and_shapes_are_typed_errors_naming_the_shapes() {
    let x = Tensor::zeros([100, 784], &Cpu).unwrap();
    let w = Tensor::zeros([32, 1, 3, 3], &Cpu).unwrap();
    let error = x.conv2d(&w, None, WindowOptions::new([3, 3])).unwrap_err();
    assert!(matches!(error, Error::WrongRank { .. }), "{error}");
    assert!(error.to_string().contains("[100, 784]"), "{error}");

    let image = Tensor::zeros([1, 1, 4, 4], &Cpu).unwrap();
    let big = Tensor::zeros([1, 1, 5, 5], &Cpu).unwrap();
    let error = image
        .conv2d(&big, None, WindowOptions::new([5, 5]))
        .unwrap_err();
    assert!(error.to_string().contains("does not fit"), "{error}");

    let error = image
        .conv2d(&w, None, WindowOptions::new([3, 3]).stride([0, 1]))
        .unwrap_err();
    assert!(error.to_string().contains("stride"), "{error}");

    let rgb = Tensor::zeros([1, 3, 8, 8], &Cpu).unwrap();
    let error = rgb
        .conv2d(&w, None, WindowOptions::new([3, 3]))
        .unwrap_err();
    assert!(error.to_string().contains("3 channels"), "{error}");

    let error = image
        .max_pool2d(WindowOptions::new([2, 2]).padding([2, 2]))
        .unwrap_err();
    assert!(error.to_string().contains("half the kernel"), "{error}");

    assert!(x.permute(&[0, 0]).is_err());
    assert!(x.narrow(1, 780, 5).is_err());
    assert!(x.expand(Shape::new([3, 784])).is_err());
}

/// Max pooling written out: the first strictly greater value of each window wins, padding
/// never does; backward adds each gradient at its window's winner, windows in order.
fn naive_max_pool(x: &[f32], window: &Window2d, grad: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let [kh, kw] = window.options.kernel;
    let [h, w] = window.input;
    let [oh, ow] = window.output;
    let planes = window.batch * window.channels;
    let mut values = Vec::new();
    let mut dx = vec![0.0f32; x.len()];
    for p in 0..planes {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut best: Option<(f32, usize)> = None;
                for i in 0..kh {
                    for j in 0..kw {
                        if let Some((y, xx)) = window.source(oy, ox, i, j) {
                            let at = (p * h + y) * w + xx;
                            if best.is_none_or(|(b, _)| x[at] > b) {
                                best = Some((x[at], at));
                            }
                        }
                    }
                }
                let (value, at) = best.expect("every window holds an input value");
                values.push(value);
                dx[at] += grad[(p * oh + oy) * ow + ox];
            }
        }
    }
    (values, dx)
}

#[test]
fn max_pool_on_planes_split_between_threads_matches_the_direct_definition() {
    // Large enough for the CPU backend to split the planes between its two threads; the lab's
    // 2×2 pool, overlapping windows and padding. Values are rounded so windows hold ties.
    let options = [
        WindowOptions::new([2, 2]).stride([2, 2]),
        WindowOptions::new([3, 3]).stride([2, 2]).padding([1, 1]),
        WindowOptions::new([3, 2]).stride([1, 2]),
    ];
    for (seed, options) in options.into_iter().enumerate() {
        let x = random(&[8, 20, 30, 31], 90 + seed as u64);
        let x = Tensor::from_vec(
            x.to_vec()
                .unwrap()
                .iter()
                .map(|v| (v * 4.0).round())
                .collect(),
            x.dims(),
            &Cpu,
        )
        .unwrap();
        let window = Window2d::new("test", x.shape(), options).unwrap();
        let (y, indices) = x.max_pool2d(options).unwrap();
        let g = random(y.dims(), 99);
        let dx = g.max_pool2d_backward(&indices, x.shape(), options).unwrap();
        let (values, grad) = naive_max_pool(&x.to_vec().unwrap(), &window, &g.to_vec().unwrap());
        assert!(values.len() >= 1 << 15, "{} outputs", values.len());
        assert_eq!(y.to_vec().unwrap(), values, "{options:?}");
        assert_eq!(dx.to_vec().unwrap(), grad, "{options:?}");
    }
}

#[test]
fn fold_split_between_threads_matches_the_reference() {
    // The lab CNN's second convolution on a small batch: enough channels for two threads.
    for options in [
        WindowOptions::new([3, 3]).padding([1, 1]),
        WindowOptions::new([3, 3]).stride([2, 2]).padding([1, 1]),
    ] {
        let x = random(&[3, 32, 14, 14], 5);
        let window = Window2d::new("test", x.shape(), options).unwrap();
        let cols = random(&[window.patch_len(), window.positions()], 6);
        assert!(cols.shape().numel() >= 1 << 15);
        let folded = cols.fold2d(x.shape(), options).unwrap();
        assert_eq!(
            folded.to_vec().unwrap(),
            fold_reference(&cols.to_vec().unwrap(), &window)
        );
    }
}

/// `[A, B, P]` → `[B, A, P]` of a flat buffer.
fn swap_outer(v: &[f32], a: usize, b: usize) -> Vec<f32> {
    let p = v.len() / (a * b);
    let mut out = Vec::with_capacity(v.len());
    for j in 0..b {
        for i in 0..a {
            out.extend_from_slice(&v[(i * b + j) * p..][..p]);
        }
    }
    out
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// `dx[n, c, y, x] = Σ w[o, c, i, j] · g[n, o, oy, ox]` over the outputs that read `(y, x)`, in
/// f64, with the sum of the terms' magnitudes.
fn naive_input_gradient(
    x: &Tensor<Cpu>,
    w: &Tensor<Cpu>,
    g: &Tensor<Cpu>,
    options: WindowOptions,
) -> (Vec<f64>, Vec<f64>) {
    let (xd, wd) = (x.dims().to_vec(), w.dims().to_vec());
    let (o_n, kh, kw) = (wd[0], wd[2], wd[3]);
    let (n_n, c_n, h, wid) = (xd[0], xd[1], xd[2], xd[3]);
    let (oh, ow) = (g.dims()[2], g.dims()[3]);
    let (w, g) = (w.to_vec().unwrap(), g.to_vec().unwrap());
    let (mut sums, mut sizes) = (vec![0.0; x.numel()], vec![0.0; x.numel()]);
    let o = options;
    for n in 0..n_n {
        for oc in 0..o_n {
            for (oy, ox) in (0..oh).flat_map(|oy| (0..ow).map(move |ox| (oy, ox))) {
                let grad = g[((n * o_n + oc) * oh + oy) * ow + ox] as f64;
                for (c, i, j) in (0..c_n)
                    .flat_map(|c| (0..kh).flat_map(move |i| (0..kw).map(move |j| (c, i, j))))
                {
                    let y = (oy * o.stride[0] + i * o.dilation[0]).checked_sub(o.padding[0]);
                    let xx = (ox * o.stride[1] + j * o.dilation[1]).checked_sub(o.padding[1]);
                    if let (Some(y), Some(xx)) = (y, xx)
                        && y < h
                        && xx < wid
                    {
                        let term = w[((oc * c_n + c) * kh + i) * kw + j] as f64 * grad;
                        let at = ((n * c_n + c) * h + y) * wid + xx;
                        sums[at] += term;
                        sizes[at] += term.abs();
                    }
                }
            }
        }
    }
    (sums, sizes)
}

/// Taps per output up to which the CPU's stride-1 forward pass is a direct loop, not the GEMM
/// (`cpu/conv.rs`).
const FEW_TAPS: usize = 9;

#[test]
fn the_cpu_convolution_matches_unfold_matmul_and_fold() {
    let mut cases = configurations();
    cases.extend([
        // Stride 1 with uneven padding, dilation and a rectangular kernel.
        (
            vec![2, 3, 9, 8],
            vec![5, 3, 3, 2],
            WindowOptions::new([3, 2]).padding([2, 1]).dilation([2, 1]),
        ),
        // The lab CNN's layers, on fewer images and channels: several small images per piece
        // of the batch, and one large image per piece.
        (
            vec![20, 1, 28, 28],
            vec![4, 1, 3, 3],
            WindowOptions::new([3, 3]).padding([1, 1]),
        ),
        (
            vec![3, 32, 14, 14],
            vec![8, 32, 3, 3],
            WindowOptions::new([3, 3]).padding([1, 1]),
        ),
    ]);
    for (seed, (input, weight, options)) in cases.into_iter().enumerate() {
        let seed = seed as u64;
        let options = WindowOptions {
            kernel: [weight[2], weight[3]],
            ..options
        };
        let (x, w) = (random(&input, seed), random(&weight, 100 + seed));
        let b = random(&weight[..1], 150 + seed);
        let (batch, out_channels) = (input[0], weight[0]);
        let rows = w.reshape([out_channels, w.numel() / out_channels]).unwrap();

        let y = x.conv2d(&w, Some(&b), options).unwrap();
        let product = rows.matmul(&x.unfold2d(options, 0.0).unwrap()).unwrap();
        let mut want = swap_outer(&product.to_vec().unwrap(), out_channels, batch);
        let bias = b.to_vec().unwrap();
        let plane = want.len() / (batch * out_channels);
        if options.stride == [1, 1] && rows.dims()[1] <= FEW_TAPS {
            // Few taps: a multiplication and an addition per tap, in order (no FMA).
            let (unfolded, weights) = (x.unfold2d(options, 0.0).unwrap(), w.to_vec().unwrap());
            let (unfolded, taps) = (unfolded.to_vec().unwrap(), rows.dims()[1]);
            let columns = unfolded.len() / taps;
            want = (0..batch * out_channels * plane)
                .map(|i| {
                    let (n, o, p) = (
                        i / (out_channels * plane),
                        i / plane % out_channels,
                        i % plane,
                    );
                    let tap =
                        |t: usize| weights[o * taps + t] * unfolded[t * columns + n * plane + p];
                    (1..taps).fold(tap(0), |sum, t| sum + tap(t))
                })
                .collect();
        }
        for (i, v) in want.iter_mut().enumerate() {
            *v += bias[i / plane % out_channels];
        }
        assert_eq!(
            bits(&y.to_vec().unwrap()),
            bits(&want),
            "forward, case {seed}"
        );

        let g = random(y.dims(), 200 + seed);
        let wanted = Conv2dGradients {
            input: true,
            weight: false,
        };
        let (dx, _) = x.conv2d_backward(&w, &g, options, wanted).unwrap();
        let g_rows = swap_outer(&g.to_vec().unwrap(), batch, out_channels);
        let g_rows = Tensor::from_vec(g_rows, [out_channels, batch * plane], &Cpu).unwrap();
        let columns = rows.matmul_t(&g_rows, true, false).unwrap();
        let want = columns
            .fold2d(x.shape(), options)
            .unwrap()
            .to_vec()
            .unwrap();
        let dx = dx.unwrap().to_vec().unwrap();
        if options.stride == [1, 1] {
            // Computed as a convolution of the output gradient by the flipped weight: the
            // same terms summed in another order.
            let (sums, sizes) = naive_input_gradient(&x, &w, &g, options);
            for (i, &got) in dx.iter().enumerate() {
                assert!(
                    (got as f64 - sums[i]).abs() <= 1e-6 * (1.0 + sizes[i]),
                    "input gradient, case {seed}, element {i}: {got} vs {}",
                    sums[i]
                );
            }
        } else {
            assert_eq!(bits(&dx), bits(&want), "input gradient, case {seed}");
        }

        // The weight gradient sums the batch in another order (image by image for a stride-1
        // window): within rounding of the sum of |terms|, in f64.
        let wanted = Conv2dGradients {
            input: false,
            weight: true,
        };
        let (_, dw) = x.conv2d_backward(&w, &g, options, wanted).unwrap();
        let dw = dw.unwrap().to_vec().unwrap();
        let cols = x.unfold2d(options, 0.0).unwrap().to_vec().unwrap();
        let g_rows = g_rows.to_vec().unwrap();
        let positions = batch * plane;
        for (i, &got) in dw.iter().enumerate() {
            let (o, tap) = (i / (dw.len() / out_channels), i % (dw.len() / out_channels));
            let terms = (0..positions)
                .map(|p| g_rows[o * positions + p] as f64 * cols[tap * positions + p] as f64);
            let (sum, size) = terms.fold((0.0, 0.0), |(s, a), t| (s + t, a + t.abs()));
            assert!(
                (got as f64 - sum).abs() <= 1e-6 * (1.0 + size),
                "weight gradient, case {seed}, element {i}: {got} vs {sum}"
            );
        }
    }
}

#[test]
fn the_weight_gradient_has_the_same_bits_on_every_thread() {
    // Concurrent calls find the helper thread busy and sum both halves of the batch on their
    // own thread: the halves, and their sum, must not change.
    let (x, w) = (random(&[6, 4, 9, 9], 1), random(&[5, 4, 3, 3], 2));
    let options = WindowOptions::new([3, 3]).padding([1, 1]);
    let g = random(&[6, 5, 9, 9], 3);
    let wanted = Conv2dGradients {
        input: false,
        weight: true,
    };
    let weight_gradient = || {
        let (_, dw) = x.conv2d_backward(&w, &g, options, wanted).unwrap();
        bits(&dw.unwrap().to_vec().unwrap())
    };
    let alone = weight_gradient();
    std::thread::scope(|s| {
        let runs: Vec<_> = (0..3)
            .map(|_| s.spawn(|| (0..20).map(|_| weight_gradient()).collect::<Vec<_>>()))
            .collect();
        for run in runs {
            for got in run.join().unwrap() {
                assert_eq!(got, alone);
            }
        }
    });
}
