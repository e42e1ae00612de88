//! Every `OptimizerUpdate` variant, stepped a few times on the CPU backend, against values
//! computed by hand from torch.optim's documented algorithms.

mod common;

use common::{assert_close, t, vals};
use ember_cpu::{Cpu, CpuStorage};
use ember_tensor::ops::OptimizerUpdate;
use ember_tensor::{Backend, Error};

const P0: [f32; 3] = [1.0, -2.0, 0.5];
const GRADS: [[f32; 3]; 3] = [[0.1, -0.2, 0.3], [-0.4, 0.5, 0.05], [0.2, 0.2, -0.1]];
const TOL: f64 = 2e-6;

/// Runs `expected_params.len()` steps from [`P0`] with gradients [`GRADS`]; `update(step)` gives
/// the update of each step (counted from 1). State buffers start at `state_init` (one value per
/// buffer). Checks the parameter after every step and the state after the last.
#[track_caller]
fn check(
    update: impl Fn(u64) -> OptimizerUpdate,
    state_init: &[f32],
    expected_params: &[[f64; 3]],
    expected_state: &[[f64; 3]],
) {
    let mut param = t(&P0, &[3]);
    let mut state: Vec<CpuStorage> = state_init
        .iter()
        .map(|&v| Cpu.fill(3, v).unwrap())
        .collect();
    for (i, expected) in expected_params.iter().enumerate() {
        let step = i as u64 + 1;
        let upd = update(step);
        assert_eq!(upd.state_len(), state.len(), "{}", upd.name());
        let grad = t(&GRADS[i], &[3]);
        Cpu.optimizer_update(&upd, param.storage_mut(), grad.storage(), &mut state)
            .unwrap();
        assert_close(&vals(&param), expected, TOL);
        // The gradient is read, never written.
        assert_eq!(vals(&grad), GRADS[i].to_vec());
    }
    assert_eq!(state.len(), expected_state.len());
    for (buffer, expected) in state.iter().zip(expected_state) {
        assert_close(&Cpu.download(buffer).unwrap(), expected, TOL);
    }
}

fn sgd(
    step: u64,
    lr: f32,
    momentum: f32,
    dampening: f32,
    weight_decay: f32,
    nesterov: bool,
) -> OptimizerUpdate {
    OptimizerUpdate::Sgd {
        lr,
        momentum,
        dampening,
        weight_decay,
        nesterov,
        first_step: step == 1,
        maximize: false,
    }
}

#[test]
fn sgd_plain_with_weight_decay() {
    check(
        |s| sgd(s, 0.1, 0.0, 0.0, 0.1, false),
        &[],
        &[
            [0.98, -1.96, 0.465],
            [1.0102, -1.9904, 0.45535000000000003],
            [0.980098, -1.990496, 0.46079650000000005],
        ],
        &[],
    );
}

#[test]
fn sgd_momentum_with_dampening_and_weight_decay() {
    // The buffer starts as garbage: on the first step it is set to the gradient, undampened.
    check(
        |s| sgd(s, 0.1, 0.9, 0.1, 0.01, false),
        &[123.0],
        &[
            [0.989, -1.978, 0.46950000000000003],
            [1.0142099, -2.0014198, 0.43712745000000003],
            [1.01798602109, -2.0386963421799997, 0.41659874029500005],
        ],
        &[[
            -0.03776121089999998,
            0.37276542179999994,
            0.20528709704999998,
        ]],
    );
}

#[test]
fn sgd_first_step_flag_decides_between_copy_and_dampened_accumulation() {
    // Without `first_step`, a zero buffer accumulates (1 - dampening)·g: a different result.
    let upd = OptimizerUpdate::Sgd {
        lr: 0.1,
        momentum: 0.9,
        dampening: 0.1,
        weight_decay: 0.01,
        nesterov: false,
        first_step: false,
        maximize: false,
    };
    let mut param = t(&P0, &[3]);
    let grad = t(&GRADS[0], &[3]);
    let mut state = vec![Cpu.fill(3, 0.0).unwrap()];
    Cpu.optimizer_update(&upd, param.storage_mut(), grad.storage(), &mut state)
        .unwrap();
    assert_close(&vals(&param), &[0.9901, -1.9802, 0.47255], TOL);
    assert_close(
        &Cpu.download(&state[0]).unwrap(),
        &[0.099, -0.198, 0.2745],
        TOL,
    );
}

#[test]
fn sgd_nesterov() {
    check(
        |s| sgd(s, 0.05, 0.8, 0.0, 0.0, true),
        &[0.0],
        &[
            [0.991, -1.982, 0.473],
            [1.0238, -2.0206, 0.4589],
            [1.01604, -2.04948, 0.45861999999999997],
        ],
        &[[-0.055999999999999994, 0.472, 0.13199999999999998]],
    );
}

fn adam(
    step: u64,
    lr: f32,
    beta2: f32,
    weight_decay: f32,
    decoupled: bool,
    amsgrad: bool,
) -> OptimizerUpdate {
    OptimizerUpdate::Adam {
        lr,
        beta1: 0.9,
        beta2,
        eps: 1e-8,
        weight_decay,
        decoupled,
        amsgrad,
        step,
        maximize: false,
    }
}

const ADAM_STATE: [[f64; 3]; 2] = [
    [
        -0.007899999999999997,
        0.04879999999999998,
        0.018799999999999997,
    ],
    [
        0.00020982001000000022,
        0.0003296700400000003,
        0.0001023175900000001,
    ],
];

#[test]
fn adam_plain() {
    assert_eq!(adam(1, 0.01, 0.999, 0.0, false, false).name(), "adam");
    check(
        |s| adam(s, 0.01, 0.999, 0.0, false, false),
        &[0.0, 0.0],
        &[
            [0.9900000009999999, -1.9900000005, 0.4900000003333333],
            [0.9955950357485128, -1.9944221530217234, 0.4821667272150606],
            [0.9966967723464267, -1.9998515828128194, 0.4784121864182727],
        ],
        &ADAM_STATE,
    );
}

#[test]
fn adam_with_l2_weight_decay() {
    check(
        |s| adam(s, 0.01, 0.999, 0.1, false, false),
        &[0.0, 0.0],
        &[
            [0.9900000004999999, -1.99000000025, 0.4900000002857143],
            [0.9924919051207348, -1.9891226922673022, 0.48152630757313364],
            [0.9898993197733098, -1.988458424079249, 0.4759441126353258],
        ],
        &[
            [
                0.019034919055707342,
                -0.005201226924923026,
                0.03207526307830276,
            ],
            [
                0.00021998051699206162,
                0.00025019174214320044,
                0.00013473447120303909,
            ],
        ],
    );
}

#[test]
fn adamw_decoupled_weight_decay() {
    assert_eq!(adam(1, 0.01, 0.999, 0.1, true, false).name(), "adamw");
    // The moments see the raw gradient: the same state as plain Adam.
    check(
        |s| adam(s, 0.01, 0.999, 0.1, true, false),
        &[0.0, 0.0],
        &[
            [0.9890000009999999, -1.9880000005, 0.4895000003333333],
            [0.9936060357475128, -1.9904341530212235, 0.4811772272147273],
            [0.9937141663096792, -1.9938731486592982, 0.47694150919072464],
        ],
        &ADAM_STATE,
    );
}

/// Moments of the AMSGrad runs (β2 = 0.9): the third element's second moment falls on step 3
/// while its running maximum does not.
const AMSGRAD_STATE: [[f64; 3]; 3] = [
    [
        -0.007899999999999997,
        0.04879999999999998,
        0.018799999999999997,
    ],
    [
        0.019209999999999998,
        0.029739999999999996,
        0.008514999999999998,
    ],
    [
        0.019209999999999998,
        0.029739999999999996,
        0.008999999999999998,
    ],
];

#[test]
fn amsgrad_keeps_the_running_maximum() {
    check(
        |s| adam(s, 0.01, 0.9, 0.0, false, true),
        &[0.0, 0.0, 0.0],
        &[
            [0.9900000009999999, -1.9900000005, 0.4900000003333333],
            [0.9954706837011736, -1.994341004140835, 0.48226158735438207],
            [0.9965655945201312, -1.999776819311398, 0.4784548586640914],
        ],
        &AMSGRAD_STATE,
    );
}

#[test]
fn adamw_with_amsgrad() {
    check(
        |s| adam(s, 0.01, 0.9, 0.5, true, true),
        &[0.0, 0.0, 0.0],
        &[
            [0.9850000009999998, -1.9800000005, 0.4875000003333333],
            [0.9855456836961737, -1.974441004138335, 0.47732408735271536],
            [0.9817128660966503, -1.9700046142882064, 0.4711307382256611],
        ],
        &AMSGRAD_STATE,
    );
}

fn rmsprop(alpha: f32, weight_decay: f32, momentum: f32, centered: bool) -> OptimizerUpdate {
    OptimizerUpdate::RmsProp {
        lr: 0.01,
        alpha,
        eps: 1e-8,
        weight_decay,
        momentum,
        centered,
        maximize: false,
    }
}

const RMS_SQUARE_AVG: [f64; 3] = [
    0.002082010000000002,
    0.003267040000000003,
    0.0010068400000000008,
];

#[test]
fn rmsprop_plain() {
    check(
        |_| rmsprop(0.99, 0.0, 0.0, false),
        &[0.0],
        &[
            [0.9000000999999, -1.900000049999975, 0.40000003333332224],
            [0.9970428726686518, -1.9929118010156806, 0.3834795737804585],
            [0.9532111545062486, -2.0279025060930334, 0.41499474221946947],
        ],
        &[RMS_SQUARE_AVG],
    );
}

#[test]
fn rmsprop_momentum() {
    check(
        |_| rmsprop(0.99, 0.0, 0.9, false),
        &[0.0, 0.0],
        &[
            [0.9000000999999, -1.900000049999975, 0.40000003333332224],
            [0.9070429626685618, -1.902911846015658, 0.2934796037804485],
            [0.8695498209079542, -1.9405231675071257, 0.22912638562187315],
        ],
        &[
            RMS_SQUARE_AVG,
            [3.749314176060757, 3.7611321491467833, 6.435321815857536],
        ],
    );
}

#[test]
fn rmsprop_centered() {
    check(
        |_| rmsprop(0.99, 0.0, 0.0, true),
        &[0.0, 0.0],
        &[
            [0.8994963194840784, -1.899496268979104, 0.3994962521441012],
            [0.9967988770556198, -1.9925546703692436, 0.3828661288386479],
            [0.9529570480038229, -2.027679474427759, 0.4144745277319332],
        ],
        &[
            RMS_SQUARE_AVG,
            [
                -0.000979900000000001,
                0.004989800000000004,
                0.0024353000000000022,
            ],
        ],
    );
}

#[test]
fn rmsprop_centered_with_momentum_and_weight_decay() {
    // State order: square_avg, momentum_buffer, grad_avg.
    check(
        |_| rmsprop(0.9, 0.1, 0.9, true),
        &[0.0, 0.0, 0.0],
        &[
            [0.9666666722222212, -1.9666666694444441, 0.46666666984126953],
            [0.9636373638168669, -1.9564249699253387, 0.42712548337761463],
            [0.9399342080097879, -1.9475065657456343, 0.3972357224942359],
        ],
        &[
            [
                0.02030414639387806,
                0.021242898768079336,
                0.011091685217319137,
            ],
            [2.3703155807079006, -0.8918404179704461, 2.9889760883378718],
            [
                0.018536373688168663,
                -0.004664249724253394,
                0.03132125486234756,
            ],
        ],
    );
}

fn adagrad(step: u64, lr_decay: f32, weight_decay: f32) -> OptimizerUpdate {
    OptimizerUpdate::Adagrad {
        lr: 0.1,
        lr_decay,
        weight_decay,
        eps: 1e-10,
        step,
        maximize: false,
    }
}

#[test]
fn adagrad_with_lr_decay() {
    check(
        |s| adagrad(s, 0.5, 0.0),
        &[0.0],
        &[
            [0.9000000000999999, -1.90000000005, 0.40000000003333336],
            [0.9646761667606691, -1.9618984460975228, 0.38904006754991316],
            [0.9428543777418318, -1.9793062116900624, 0.4046574437338957],
        ],
        &[[
            0.21000000000000005,
            0.33000000000000007,
            0.10250000000000001,
        ]],
    );
}

#[test]
fn adagrad_with_weight_decay_and_initial_accumulator() {
    check(
        |s| adagrad(s, 0.0, 0.1),
        &[0.1],
        &[
            [0.9465477516318008, -1.921553545960111, 0.42580014841528513],
            [1.0097734468743667, -1.973237910941365, 0.40654067234672686],
            [0.9568826738443419, -1.973687217966039, 0.4187934185147926],
        ],
        &[[0.3238230683457482, 0.35477548779801554, 0.23459299888384436]],
    );
}

#[test]
fn state_len_follows_the_variant() {
    assert_eq!(sgd(1, 0.1, 0.0, 0.0, 0.0, false).state_len(), 0);
    assert_eq!(sgd(1, 0.1, 0.9, 0.0, 0.0, true).state_len(), 1);
    assert_eq!(adam(1, 0.1, 0.9, 0.0, false, false).state_len(), 2);
    assert_eq!(adam(1, 0.1, 0.9, 0.0, true, true).state_len(), 3);
    assert_eq!(rmsprop(0.9, 0.0, 0.0, false).state_len(), 1);
    assert_eq!(rmsprop(0.9, 0.0, 0.5, false).state_len(), 2);
    assert_eq!(rmsprop(0.9, 0.0, 0.0, true).state_len(), 2);
    assert_eq!(rmsprop(0.9, 0.0, 0.5, true).state_len(), 3);
    assert_eq!(adagrad(1, 0.0, 0.0).state_len(), 1);
}

#[test]
fn an_empty_parameter_is_a_no_op() {
    let mut param = Cpu.upload(&[]).unwrap();
    let grad = Cpu.upload(&[]).unwrap();
    let mut state = vec![Cpu.upload(&[]).unwrap(), Cpu.upload(&[]).unwrap()];
    Cpu.optimizer_update(
        &adam(1, 0.1, 0.9, 0.0, false, false),
        &mut param,
        &grad,
        &mut state,
    )
    .unwrap();
    assert_eq!(Cpu.len(&param), 0);
}

#[test]
fn wrong_state_is_rejected_and_nothing_changes() {
    let grad = Cpu.upload(&[0.5, 0.5, 0.5]).unwrap();
    let fill = |n: usize, len: usize| -> Vec<CpuStorage> {
        (0..n).map(|_| Cpu.fill(len, 0.0).unwrap()).collect()
    };
    let cases: [(OptimizerUpdate, Vec<CpuStorage>); 7] = [
        // Too few / too many buffers.
        (adam(1, 0.1, 0.9, 0.0, false, true), fill(2, 3)),
        (adam(1, 0.1, 0.9, 0.0, false, false), fill(3, 3)),
        (sgd(1, 0.1, 0.0, 0.0, 0.0, false), fill(1, 3)),
        (sgd(1, 0.1, 0.9, 0.0, 0.0, false), fill(0, 3)),
        (rmsprop(0.9, 0.0, 0.5, true), fill(2, 3)),
        // Buffers of the wrong length.
        (adagrad(1, 0.0, 0.0), fill(1, 2)),
        (
            rmsprop(0.9, 0.0, 0.5, false),
            vec![Cpu.fill(3, 0.0).unwrap(), Cpu.fill(4, 0.0).unwrap()],
        ),
    ];
    for (upd, mut state) in cases {
        let mut param = Cpu.upload(&P0).unwrap();
        let err = Cpu
            .optimizer_update(&upd, &mut param, &grad, &mut state)
            .unwrap_err();
        match &err {
            Error::OptimizerState { op, .. } => assert_eq!(*op, upd.name()),
            other => panic!("{}: {other:?}", upd.name()),
        }
        assert!(err.to_string().starts_with(upd.name()), "{err}");
        assert_eq!(Cpu.download(&param).unwrap(), P0.to_vec());
    }
    // A gradient of another length.
    let mut param = Cpu.upload(&P0).unwrap();
    let short = Cpu.upload(&[1.0, 2.0]).unwrap();
    let err = Cpu
        .optimizer_update(&adagrad(1, 0.0, 0.0), &mut param, &short, &mut fill(1, 3))
        .unwrap_err();
    assert!(
        matches!(err, Error::OptimizerState { op: "adagrad", .. }),
        "{err:?}"
    );
    assert_eq!(Cpu.download(&param).unwrap(), P0.to_vec());
}
