//! Row-wise ops along the last axis: log-softmax, softmax, the fused softmax cross-entropy and
//! its gradient, argmax and gather.

mod common;

use common::{assert_tensor, scalar, t, vals};
use ember_cpu::Cpu;
use ember_tensor::{Error, Tensor};

/// Rows of ordinary, extreme (±1000) and equal logits.
const LOGITS: [f32; 15] = [
    1.0, 2.0, 3.0, //
    1000.0, 0.0, -1000.0, //
    0.0, 0.0, 0.0, //
    -1000.0, -1000.0, -999.0, //
    -0.5, 2.25, 0.0,
];

const LOG_SOFTMAX: [f64; 15] = [
    -2.4076059644443806,
    -1.4076059644443806,
    -0.4076059644443806,
    0.0,
    -1000.0,
    -2000.0,
    -1.0986122886681098,
    -1.0986122886681098,
    -1.0986122886681098,
    -1.5514447139320282,
    -1.5514447139320282,
    -0.5514447139320282,
    -2.9064284429842573,
    -0.1564284429842573,
    -2.4064284429842573,
];

const SOFTMAX: [f64; 15] = [
    0.09003057317038043,
    0.24472847105479759,
    0.6652409557748217,
    1.0,
    0.0,
    0.0,
    0.3333333333333333,
    0.3333333333333333,
    0.3333333333333333,
    0.2119415576170903,
    0.2119415576170903,
    0.5761168847658423,
    0.05467064090514012,
    0.855192710551747,
    0.09013664854311303,
];

#[test]
fn log_softmax_matches_hand_values_including_extreme_rows() {
    let x = t(&LOGITS, &[5, 3]);
    let y = x.log_softmax().unwrap();
    assert_tensor(&y, &[5, 3], &LOG_SOFTMAX, 1e-6);
    assert!(vals(&y).iter().all(|v| v.is_finite()));
    let p = x.softmax().unwrap();
    assert_tensor(&p, &[5, 3], &SOFTMAX, 1e-6);
    for row in vals(&p).chunks(3) {
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6, "{row:?}");
    }
}

#[test]
fn log_softmax_works_along_the_last_axis_of_any_rank() {
    let data = [
        0.5, -1.0, 2.0, 3.0, 3.0, -3.0, 0.0, 1.0, 0.0, 10.0, -10.0, 5.0,
    ];
    let expected = [
        -1.7413112966571571,
        -3.241311296657157,
        -0.24131129665715711,
        -0.6943857892557275,
        -0.6943857892557275,
        -6.694385789255728,
        -1.551444713932051,
        -0.5514447139320511,
        -1.551444713932051,
        -0.006715350536476095,
        -20.006715350536474,
        -5.006715350536476,
    ];
    assert_tensor(
        &t(&data, &[2, 2, 3]).log_softmax().unwrap(),
        &[2, 2, 3],
        &expected,
        1e-6,
    );
    assert_tensor(
        &t(&data[..3], &[3]).log_softmax().unwrap(),
        &[3],
        &expected[..3],
        1e-6,
    );
    // One column: every log-probability is 0; one row of one element as well.
    assert_tensor(
        &t(&[5.0, -7.0], &[2, 1]).log_softmax().unwrap(),
        &[2, 1],
        &[0.0, 0.0],
        0.0,
    );
    assert_tensor(
        &t(&[1e30], &[1, 1]).softmax().unwrap(),
        &[1, 1],
        &[1.0],
        0.0,
    );
    // No rows.
    let empty = Tensor::<Cpu>::zeros([0, 4], &Cpu)
        .unwrap()
        .log_softmax()
        .unwrap();
    assert_eq!(empty.dims(), &[0, 4]);
}

#[test]
fn softmax_cross_entropy_is_stable_and_matches_hand_values() {
    let logits = t(
        &[
            1.0, 2.0, 3.0, //
            1000.0, 0.0, -1000.0, //
            1000.0, 0.0, -1000.0, //
            -1000.0, 1000.0, 0.0, //
            0.5, -0.5, 0.25,
        ],
        &[5, 3],
    );
    let labels = t(&[2.0, 0.0, 2.0, 0.0, 1.0], &[5]);
    let loss = logits.softmax_cross_entropy(&labels).unwrap();
    assert_tensor(
        &loss,
        &[5],
        &[0.4076059644443806, 0.0, 2000.0, 2000.0, 1.763922567069287],
        1e-6,
    );
    let grad = t(&[1.0, 0.5, 2.0, -1.0, 0.25], &[5]);
    let dx = logits
        .softmax_cross_entropy_backward(&labels, &grad)
        .unwrap();
    assert_tensor(
        &dx,
        &[5, 3],
        &[
            0.09003057317038043,
            0.24472847105479759,
            -0.3347590442251783,
            0.0,
            0.0,
            0.0,
            2.0,
            0.0,
            -2.0,
            1.0,
            -1.0,
            0.0,
            0.11645889181663148,
            -0.20715716795905215,
            0.09069827614242063,
        ],
        1e-6,
    );
    assert!(vals(&dx).iter().all(|v| v.is_finite()));
}

#[test]
fn cross_entropy_of_one_class_and_no_rows() {
    // With one class the loss and its gradient are 0.
    let logits = t(&[123.0, -4.0], &[2, 1]);
    let labels = t(&[0.0, 0.0], &[2]);
    assert_tensor(
        &logits.softmax_cross_entropy(&labels).unwrap(),
        &[2],
        &[0.0, 0.0],
        0.0,
    );
    let dx = logits
        .softmax_cross_entropy_backward(&labels, &t(&[1.0, 1.0], &[2]))
        .unwrap();
    assert_tensor(&dx, &[2, 1], &[0.0, 0.0], 0.0);
    // A batch of one with a scalar-shaped label is accepted.
    let one = t(&[0.0, 0.0], &[1, 2]);
    let loss = one.softmax_cross_entropy(&scalar(1.0)).unwrap();
    assert_tensor(&loss, &[1], &[std::f64::consts::LN_2], 1e-6);
    // No rows.
    let empty = Tensor::<Cpu>::zeros([0, 3], &Cpu).unwrap();
    let none = Tensor::<Cpu>::zeros([0], &Cpu).unwrap();
    assert_eq!(empty.softmax_cross_entropy(&none).unwrap().dims(), &[0]);
    assert_eq!(
        empty
            .softmax_cross_entropy_backward(&none, &none)
            .unwrap()
            .dims(),
        &[0, 3]
    );
}

#[test]
fn cross_entropy_labels_must_be_class_indices() {
    let logits = t(&[0.1, 0.2, 0.3, 0.4, 0.5, 0.6], &[2, 3]);
    let ones = t(&[1.0, 1.0], &[2]);
    for (bad, row) in [
        (3.0, 1),
        (-1.0, 1),
        (1.5, 1),
        (f32::NAN, 1),
        (1e9, 0),
        (f32::INFINITY, 0),
    ] {
        let mut labels = [0.0, 2.0];
        labels[row] = bad;
        let labels = t(&labels, &[2]);
        for err in [
            logits.softmax_cross_entropy(&labels).unwrap_err(),
            logits
                .softmax_cross_entropy_backward(&labels, &ones)
                .unwrap_err(),
            logits.gather(&labels).unwrap_err(),
        ] {
            match err {
                Error::LabelOutOfRange {
                    row: r,
                    label,
                    classes: 3,
                    ..
                } => {
                    assert_eq!(r, row);
                    assert!(label.to_bits() == bad.to_bits(), "{label} vs {bad}");
                }
                other => panic!("label {bad}: {other:?}"),
            }
        }
    }
    let err = logits
        .softmax_cross_entropy(&t(&[0.0, 3.0], &[2]))
        .unwrap_err();
    assert_eq!(
        err,
        Error::LabelOutOfRange {
            op: "softmax_cross_entropy",
            row: 1,
            label: 3.0,
            classes: 3
        }
    );
    assert!(err.to_string().contains("softmax_cross_entropy"), "{err}");
    // -0.0 is the class 0.
    assert!(logits.softmax_cross_entropy(&t(&[-0.0, 2.0], &[2])).is_ok());
}

#[test]
fn argmax_takes_the_first_index_on_ties() {
    let x = t(
        &[
            1.0, 3.0, 3.0, 5.0, 5.0, 5.0, -1.0, -2.0, -3.0, 0.0, 0.0, 7.0,
        ],
        &[4, 3],
    );
    assert_tensor(&x.argmax().unwrap(), &[4], &[1.0, 0.0, 0.0, 2.0], 0.0);
    // Rank 1 gives a scalar; 1×N and N×1.
    let v = t(&[-5.0, 2.0, 9.0, 9.0, 1.0], &[5]);
    let a = v.argmax().unwrap();
    assert_eq!(a.dims(), &[] as &[usize]);
    assert_eq!(a.to_scalar().unwrap(), 2.0);
    assert_tensor(
        &v.reshape([1, 5]).unwrap().argmax().unwrap(),
        &[1],
        &[2.0],
        0.0,
    );
    assert_tensor(
        &v.reshape([5, 1]).unwrap().argmax().unwrap(),
        &[5],
        &[0.0; 5],
        0.0,
    );
    // Rank 3: along the last axis.
    let c = t(
        &[
            0.0, 1.0, 2.0, 2.0, 1.0, 0.0, -1.0, -1.0, -1.0, 4.0, 8.0, 8.0,
        ],
        &[2, 2, 3],
    );
    assert_tensor(&c.argmax().unwrap(), &[2, 2], &[2.0, 0.0, 0.0, 1.0], 0.0);
    // -inf entries are smaller than everything else.
    let inf = t(&[f32::NEG_INFINITY, -1e30, f32::NEG_INFINITY], &[3]);
    assert_eq!(inf.argmax().unwrap().to_scalar().unwrap(), 1.0);
    // No rows.
    assert_eq!(
        Tensor::<Cpu>::zeros([0, 3], &Cpu)
            .unwrap()
            .argmax()
            .unwrap()
            .dims(),
        &[0]
    );
}

#[test]
fn gather_picks_one_column_per_row() {
    let x = t(
        &[
            0.0, 1.0, 2.0, 3.0, //
            10.0, 11.0, 12.0, 13.0, //
            20.0, 21.0, 22.0, 23.0,
        ],
        &[3, 4],
    );
    assert_tensor(
        &x.gather(&t(&[3.0, 0.0, 1.0], &[3])).unwrap(),
        &[3],
        &[3.0, 10.0, 21.0],
        0.0,
    );
    assert_tensor(
        &x.gather(&t(&[2.0, 2.0, 2.0], &[3])).unwrap(),
        &[3],
        &[2.0, 12.0, 22.0],
        0.0,
    );
    assert_tensor(
        &t(&[7.5], &[1, 1]).gather(&t(&[0.0], &[1])).unwrap(),
        &[1],
        &[7.5],
        0.0,
    );
    // Index 4 is past the last of 4 columns.
    assert!(matches!(
        x.gather(&t(&[0.0, 4.0, 0.0], &[3])),
        Err(Error::LabelOutOfRange {
            op: "gather",
            row: 1,
            classes: 4,
            ..
        })
    ));
}
