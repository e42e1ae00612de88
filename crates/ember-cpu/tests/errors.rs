//! Every error the public API reports: the variant, its fields and its message.

mod common;

use common::{scalar, t};
use ember_cpu::Cpu;
use ember_tensor::ops::{ReduceOp, UnaryOp};
use ember_tensor::{Backend, Error, Shape, Tensor, seeded_rng};

fn ones(dims: &[usize]) -> Tensor<Cpu> {
    Tensor::<Cpu>::ones(dims, &Cpu).unwrap()
}

/// Asserts that the message names every one of `needles`.
#[track_caller]
fn says(err: &Error, needles: &[&str]) {
    let text = err.to_string();
    for needle in needles {
        assert!(
            text.contains(needle),
            "{text:?} does not mention {needle:?}"
        );
    }
}

#[test]
fn shape_mismatch() {
    let x = ones(&[2, 3]);
    let y = x.tanh().unwrap();
    let err = x
        .unary_backward(UnaryOp::Tanh, &y, &ones(&[3, 2]))
        .unwrap_err();
    assert_eq!(
        err,
        Error::ShapeMismatch {
            op: "unary_backward",
            lhs: Shape::from([2, 3]),
            rhs: Shape::from([3, 2]),
        }
    );
    says(&err, &["unary_backward", "[2, 3]", "[3, 2]"]);
    // The output must match too, even with as many elements.
    assert!(matches!(
        x.unary_backward(UnaryOp::Tanh, &ones(&[6]), &y),
        Err(Error::ShapeMismatch {
            op: "unary_backward",
            ..
        })
    ));
    // Labels, indices and gradients of the row-wise ops: one per row, rank <= 1.
    let logits = ones(&[4, 3]);
    let labels = t(&[0.0, 1.0, 2.0, 0.0], &[4]);
    for bad in [ones(&[3]), ones(&[5]), ones(&[4, 1]), ones(&[2, 2])] {
        let err = logits.softmax_cross_entropy(&bad).unwrap_err();
        assert_eq!(
            err,
            Error::ShapeMismatch {
                op: "softmax_cross_entropy",
                lhs: Shape::from([4, 3]),
                rhs: bad.shape().clone(),
            }
        );
        assert!(matches!(
            logits.softmax_cross_entropy_backward(&bad, &ones(&[4])),
            Err(Error::ShapeMismatch {
                op: "softmax_cross_entropy_backward",
                ..
            })
        ));
        assert!(matches!(
            logits.softmax_cross_entropy_backward(&labels, &bad),
            Err(Error::ShapeMismatch {
                op: "softmax_cross_entropy_backward",
                ..
            })
        ));
        assert!(matches!(
            logits.gather(&bad),
            Err(Error::ShapeMismatch { op: "gather", .. })
        ));
    }
}

#[test]
fn not_broadcastable() {
    let err = ones(&[3, 4]).sub(&ones(&[3])).unwrap_err();
    assert_eq!(
        err,
        Error::NotBroadcastable {
            op: "sub",
            lhs: Shape::from([3, 4]),
            rhs: Shape::from([3]),
        }
    );
    says(&err, &["sub", "[3, 4]", "[3]"]);
    let err = ones(&[2, 3])
        .sum_to_shape(&Shape::from([3, 3]))
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotBroadcastable {
                op: "sum_to_shape",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn matmul_mismatch_message() {
    let err = ones(&[7, 13])
        .matmul_t(&ones(&[5, 12]), false, true)
        .unwrap_err();
    assert_eq!(
        err,
        Error::MatmulMismatch {
            op: "matmul",
            lhs: Shape::from([7, 13]),
            rhs: Shape::from([5, 12]),
            m: 7,
            k_lhs: 13,
            k_rhs: 12,
            n: 5,
        }
    );
    says(&err, &["matmul", "[7, 13]", "[5, 12]", "[7, 13] x [12, 5]"]);
}

#[test]
fn wrong_rank() {
    let cases: [(Error, &str, &[usize]); 9] = [
        (
            ones(&[3]).matmul(&ones(&[3, 1])).unwrap_err(),
            "matmul",
            &[3],
        ),
        (
            ones(&[2, 2]).matmul(&ones(&[2, 2, 1])).unwrap_err(),
            "matmul",
            &[2, 2, 1],
        ),
        (ones(&[2]).to_scalar().unwrap_err(), "to_scalar", &[2]),
        (ones(&[0]).to_scalar().unwrap_err(), "to_scalar", &[0]),
        (scalar(1.0).log_softmax().unwrap_err(), "log_softmax", &[]),
        (scalar(1.0).argmax().unwrap_err(), "argmax", &[]),
        (
            ones(&[3]).softmax_cross_entropy(&ones(&[1])).unwrap_err(),
            "softmax_cross_entropy",
            &[3],
        ),
        (
            ones(&[2, 0])
                .softmax_cross_entropy(&ones(&[2]))
                .unwrap_err(),
            "softmax_cross_entropy",
            &[2, 0],
        ),
        (
            ones(&[2, 2, 2]).gather(&ones(&[2])).unwrap_err(),
            "gather",
            &[2, 2, 2],
        ),
    ];
    for (err, op, shape) in cases {
        match &err {
            Error::WrongRank {
                op: o, shape: s, ..
            } => {
                assert_eq!(*o, op);
                assert_eq!(s, &Shape::from(shape));
            }
            other => panic!("{op}: {other:?}"),
        }
        says(&err, &[op, &Shape::from(shape).to_string()]);
    }
    assert!(matches!(
        ones(&[2, 3, 4]).softmax_cross_entropy_backward(&ones(&[2]), &ones(&[2])),
        Err(Error::WrongRank {
            op: "softmax_cross_entropy_backward",
            ..
        })
    ));
}

#[test]
fn invalid_axis() {
    let x = ones(&[2, 3]);
    for &op in ReduceOp::ALL {
        let err = x.reduce(op, 2, false).unwrap_err();
        assert_eq!(
            err,
            Error::InvalidAxis {
                op: op.name(),
                axis: 2,
                shape: Shape::from([2, 3]),
            }
        );
        says(&err, &[op.name(), "axis 2", "[2, 3]"]);
        // A scalar has no axis at all.
        assert!(matches!(
            scalar(1.0).reduce(op, 0, true),
            Err(Error::InvalidAxis { axis: 0, .. })
        ));
    }
    assert!(matches!(
        x.sum_axis(usize::MAX, false),
        Err(Error::InvalidAxis { .. })
    ));
}

#[test]
fn data_length() {
    let err = Tensor::from_vec(vec![1.0; 5], [2, 3], &Cpu).unwrap_err();
    assert_eq!(
        err,
        Error::DataLength {
            op: "from_vec",
            shape: Shape::from([2, 3]),
            expected: 6,
            got: 5,
        }
    );
    says(&err, &["[2, 3]", "6", "5"]);
    assert!(matches!(
        Tensor::from_slice(&[], Shape::scalar(), &Cpu),
        Err(Error::DataLength {
            expected: 1,
            got: 0,
            ..
        })
    ));
    assert!(matches!(
        Tensor::from_slice(&[1.0], [0], &Cpu),
        Err(Error::DataLength {
            expected: 0,
            got: 1,
            ..
        })
    ));
    let storage = Cpu.upload(&[1.0, 2.0, 3.0]).unwrap();
    assert_eq!(
        Tensor::from_storage(storage, [2, 2], &Cpu).unwrap_err(),
        Error::DataLength {
            op: "from_storage",
            shape: Shape::from([2, 2]),
            expected: 4,
            got: 3,
        }
    );
}

#[test]
fn reshape() {
    let err = ones(&[2, 3]).reshape([4, 2]).unwrap_err();
    assert_eq!(
        err,
        Error::Reshape {
            from: Shape::from([2, 3]),
            from_numel: 6,
            to: Shape::from([4, 2]),
            to_numel: 8,
        }
    );
    says(&err, &["reshape", "[2, 3]", "[4, 2]"]);
    assert!(matches!(
        ones(&[2]).reshape(Shape::scalar()),
        Err(Error::Reshape { to_numel: 1, .. })
    ));
    assert!(matches!(
        ones(&[0, 2]).reshape([1]),
        Err(Error::Reshape { from_numel: 0, .. })
    ));
}

#[test]
fn label_out_of_range() {
    let logits = ones(&[3, 4]);
    for (label, row) in [(4.0, 2), (-1.0, 0), (0.5, 1), (-0.5, 1)] {
        let mut labels = [1.0, 2.0, 3.0];
        labels[row] = label;
        let err = logits.softmax_cross_entropy(&t(&labels, &[3])).unwrap_err();
        assert_eq!(
            err,
            Error::LabelOutOfRange {
                op: "softmax_cross_entropy",
                row,
                label,
                classes: 4,
            }
        );
        says(
            &err,
            &["softmax_cross_entropy", &format!("row {row}"), "0..4"],
        );
    }
}

#[test]
fn invalid_argument() {
    let err = ones(&[0, 3]).max_axis(0, false).unwrap_err();
    assert!(
        matches!(err, Error::InvalidArgument { op: "max", .. }),
        "{err:?}"
    );
    says(&err, &["max", "[0, 3]"]);
    assert!(matches!(
        ones(&[2, 0]).reduce(ReduceOp::Max, 1, true),
        Err(Error::InvalidArgument { .. })
    ));
    let err = ones(&[3, 0]).argmax().unwrap_err();
    assert!(
        matches!(err, Error::InvalidArgument { op: "argmax", .. }),
        "{err:?}"
    );
    assert!(matches!(
        ones(&[0]).argmax(),
        Err(Error::InvalidArgument { op: "argmax", .. })
    ));
    let mut rng = seeded_rng(3);
    let err = Tensor::<Cpu>::randn([2], 0.0, -0.5, &mut rng, &Cpu).unwrap_err();
    assert!(
        matches!(err, Error::InvalidArgument { op: "randn", .. }),
        "{err:?}"
    );
    says(&err, &["randn", "-0.5"]);
    let err = Tensor::<Cpu>::rand_uniform([2], 2.0, 1.0, &mut rng, &Cpu).unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidArgument {
                op: "rand_uniform",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn optimizer_state() {
    use ember_tensor::ops::OptimizerUpdate;
    let upd = OptimizerUpdate::RmsProp {
        lr: 0.1,
        alpha: 0.9,
        eps: 1e-8,
        weight_decay: 0.0,
        momentum: 0.9,
        centered: true,
        maximize: false,
    };
    let mut param = Cpu.upload(&[1.0, 2.0]).unwrap();
    let grad = Cpu.upload(&[1.0, 2.0]).unwrap();
    let mut state = vec![Cpu.fill(2, 0.0).unwrap(); 2];
    let err = Cpu
        .optimizer_update(&upd, &mut param, &grad, &mut state)
        .unwrap_err();
    assert!(
        matches!(err, Error::OptimizerState { op: "rmsprop", .. }),
        "{err:?}"
    );
    says(&err, &["rmsprop", "3"]);
    let mut state = vec![
        Cpu.fill(2, 0.0).unwrap(),
        Cpu.fill(2, 0.0).unwrap(),
        Cpu.fill(1, 0.0).unwrap(),
    ];
    let err = Cpu
        .optimizer_update(&upd, &mut param, &grad, &mut state)
        .unwrap_err();
    assert!(
        matches!(err, Error::OptimizerState { op: "rmsprop", .. }),
        "{err:?}"
    );
}

#[test]
fn from_vec_keeps_the_values_and_from_slice_names_itself() {
    let t = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3], &Cpu).expect("tensor");
    assert_eq!(
        t.to_vec().expect("values"),
        vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    );
    let err = Tensor::from_slice(&[1.0; 5], [2, 3], &Cpu).unwrap_err();
    assert!(
        matches!(
            err,
            Error::DataLength {
                op: "from_slice",
                ..
            }
        ),
        "{err}"
    );
}
