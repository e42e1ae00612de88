// Fused optimizer updates (SGD, Adam(W), RMSprop, Adagrad, Adadelta, Adamax, NAdam, RAdam): one
// invocation per parameter element reads the parameter, its gradient and its state slots once,
// applies the update of `ember_tensor::ops::OptimizerUpdate` (the same f32 operations in the
// same order, with the same flushing of subnormal state), and writes them back.
//
// The entry point is chosen by the number of state buffers (0 to 3), since each binding an entry
// point uses must be bound; `params.algorithm` selects the update. Constants that the CPU
// computes once per step (bias corrections, 1 - β, the decayed learning rate, NAdam's step
// sizes, RAdam's rectification) come from the host.

const WORKGROUP_SIZE: u32 = 256u;

const SGD: u32 = 0u;
const ADAM: u32 = 1u;
const RMSPROP: u32 = 2u;
const ADAGRAD: u32 = 3u;
const ADADELTA: u32 = 4u;
const ADAMAX: u32 = 5u;
const NADAM: u32 = 6u;
const RADAM: u32 = 7u;

struct OptimizerParams {
    len: u32,
    algorithm: u32,
    // SGD: Nesterov momentum. Adam, NAdam, RAdam: decoupled (AdamW) weight decay.
    // RMSprop: centered.
    variant: u32,
    // SGD: first step (the momentum buffer is set to the gradient). Adam: amsgrad.
    // RAdam: rectified (ρ_t > 5).
    first_step_or_amsgrad: u32,
    lr: f32,
    weight_decay: f32,
    // SGD and RMSprop momentum.
    momentum: f32,
    // SGD: 1 - dampening. Adam, Adamax, NAdam, RAdam: 1 - β1. RMSprop: 1 - α. Adadelta: 1 - ρ.
    one_minus_decay: f32,
    // Adam, Adamax, NAdam, RAdam: β2. RMSprop: α. Adadelta: ρ.
    beta2_or_alpha: f32,
    // Adam, NAdam, RAdam: 1 - β2.
    one_minus_beta2: f32,
    eps: f32,
    // Adam, RAdam: sqrt(1 - β2^t). NAdam: 1 - β2^t.
    bias2_sqrt: f32,
    // Adam, Adamax: -(lr / (1 - β1^t)). Adagrad: the decayed learning rate. NAdam: the first
    // moment's step size. RAdam: the rectification r_t.
    step_size: f32,
    // AdamW, NAdam, RAdam: 1 - lr * weight_decay.
    decay_factor: f32,
    // NAdam: the gradient's step size. RAdam: 1 - β1^t.
    extra: f32,
    // Negate the gradient first.
    maximize: u32,
}

@group(0) @binding(0) var<uniform> params: OptimizerParams;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> state0: array<f32>;
@group(0) @binding(4) var<storage, read_write> state1: array<f32>;
@group(0) @binding(5) var<storage, read_write> state2: array<f32>;

// Flushes a subnormal to zero, as the CPU reference does for decaying optimizer state
// (`ember_tensor::ops::flush_subnormal`).
fn flush_subnormal(x: f32) -> f32 {
    if (abs(x) < 1.17549435e-38) {
        return 0.0;
    }
    return x;
}

fn element_index(workgroup: vec3<u32>, local: u32, workgroups: vec3<u32>) -> u32 {
    return (workgroup.y * workgroups.x + workgroup.x) * WORKGROUP_SIZE + local;
}

fn sgd(p: ptr<function, f32>, grad_value: f32, state: ptr<function, array<f32, 3>>) {
    var g = grad_value;
    if (params.weight_decay != 0.0) {
        g += params.weight_decay * *p;
    }
    if (params.momentum != 0.0) {
        if (params.first_step_or_amsgrad != 0u) {
            (*state)[0] = g;
        } else {
            (*state)[0] = (*state)[0] * params.momentum + params.one_minus_decay * g;
        }
        if (params.variant != 0u) {
            g = g + params.momentum * (*state)[0];
        } else {
            g = (*state)[0];
        }
    }
    *p -= params.lr * g;
}

fn adam(p: ptr<function, f32>, grad_value: f32, state: ptr<function, array<f32, 3>>) {
    var g = grad_value;
    if (params.weight_decay != 0.0) {
        if (params.variant != 0u) {
            *p *= params.decay_factor;
        } else {
            g += params.weight_decay * *p;
        }
    }
    (*state)[0] = flush_subnormal((*state)[0] + (g - (*state)[0]) * params.one_minus_decay);
    let m = (*state)[0];
    (*state)[1] = flush_subnormal(
        (*state)[1] * params.beta2_or_alpha + params.one_minus_beta2 * g * g,
    );
    var v = (*state)[1];
    if (params.first_step_or_amsgrad != 0u) {
        // max(), as the CPU's f32::max: a NaN on one side gives the other.
        if (v > (*state)[2] || (*state)[2] != (*state)[2]) {
            (*state)[2] = v;
        }
        v = (*state)[2];
    }
    let denom = sqrt(v) / params.bias2_sqrt + params.eps;
    *p += params.step_size * (m / denom);
}

fn rmsprop(p: ptr<function, f32>, grad_value: f32, state: ptr<function, array<f32, 3>>) {
    var g = grad_value;
    if (params.weight_decay != 0.0) {
        g += params.weight_decay * *p;
    }
    (*state)[0] = flush_subnormal(
        (*state)[0] * params.beta2_or_alpha + params.one_minus_decay * g * g,
    );
    let square_avg = (*state)[0];
    var grad_avg_slot = 1u;
    if (params.momentum != 0.0) {
        grad_avg_slot = 2u;
    }
    var avg: f32;
    if (params.variant != 0u) {
        (*state)[grad_avg_slot] = flush_subnormal(
            (*state)[grad_avg_slot] + (g - (*state)[grad_avg_slot]) * params.one_minus_decay,
        );
        let grad_avg = (*state)[grad_avg_slot];
        avg = sqrt(square_avg - grad_avg * grad_avg) + params.eps;
    } else {
        avg = sqrt(square_avg) + params.eps;
    }
    if (params.momentum != 0.0) {
        (*state)[1] = (*state)[1] * params.momentum + g / avg;
        *p -= params.lr * (*state)[1];
    } else {
        *p -= params.lr * (g / avg);
    }
}

fn adagrad(p: ptr<function, f32>, grad_value: f32, state: ptr<function, array<f32, 3>>) {
    var g = grad_value;
    if (params.weight_decay != 0.0) {
        g += params.weight_decay * *p;
    }
    (*state)[0] += g * g;
    let std_dev = sqrt((*state)[0]) + params.eps;
    *p -= params.step_size * (g / std_dev);
}

fn adadelta(p: ptr<function, f32>, grad_value: f32, state: ptr<function, array<f32, 3>>) {
    var g = grad_value;
    if (params.weight_decay != 0.0) {
        g += params.weight_decay * *p;
    }
    (*state)[0] = flush_subnormal(
        (*state)[0] * params.beta2_or_alpha + params.one_minus_decay * g * g,
    );
    let std_dev = sqrt((*state)[0] + params.eps);
    let delta = sqrt((*state)[1] + params.eps) / std_dev * g;
    (*state)[1] = flush_subnormal(
        (*state)[1] * params.beta2_or_alpha + params.one_minus_decay * delta * delta,
    );
    *p -= params.lr * delta;
}

fn adamax(p: ptr<function, f32>, grad_value: f32, state: ptr<function, array<f32, 3>>) {
    var g = grad_value;
    if (params.weight_decay != 0.0) {
        g += params.weight_decay * *p;
    }
    (*state)[0] = flush_subnormal((*state)[0] + (g - (*state)[0]) * params.one_minus_decay);
    let decayed = (*state)[1] * params.beta2_or_alpha;
    let magnitude = abs(g) + params.eps;
    // As the CPU writes it: a NaN magnitude propagates.
    var u = magnitude;
    if (decayed > magnitude) {
        u = decayed;
    }
    (*state)[1] = flush_subnormal(u);
    *p += params.step_size * ((*state)[0] / (*state)[1]);
}

// Adam-style moments shared by NAdam and RAdam, after the weight decay; returns the gradient.
fn decayed_gradient(p: ptr<function, f32>, grad_value: f32) -> f32 {
    var g = grad_value;
    if (params.weight_decay != 0.0) {
        if (params.variant != 0u) {
            *p *= params.decay_factor;
        } else {
            g += params.weight_decay * *p;
        }
    }
    return g;
}

fn update_moments(g: f32, state: ptr<function, array<f32, 3>>) {
    (*state)[0] = flush_subnormal((*state)[0] + (g - (*state)[0]) * params.one_minus_decay);
    (*state)[1] = flush_subnormal(
        (*state)[1] * params.beta2_or_alpha + params.one_minus_beta2 * g * g,
    );
}

fn nadam(p: ptr<function, f32>, grad_value: f32, state: ptr<function, array<f32, 3>>) {
    let g = decayed_gradient(p, grad_value);
    update_moments(g, state);
    let denom = sqrt((*state)[1] / params.bias2_sqrt) + params.eps;
    *p += params.extra * (g / denom);
    *p += params.step_size * ((*state)[0] / denom);
}

fn radam(p: ptr<function, f32>, grad_value: f32, state: ptr<function, array<f32, 3>>) {
    let g = decayed_gradient(p, grad_value);
    update_moments(g, state);
    let m_hat = (*state)[0] / params.extra;
    if (params.first_step_or_amsgrad != 0u) {
        let adaptive = params.bias2_sqrt / (sqrt((*state)[1]) + params.eps);
        *p -= m_hat * params.lr * adaptive * params.step_size;
    } else {
        *p -= m_hat * params.lr;
    }
}

fn apply_update(p: ptr<function, f32>, raw_grad: f32, state: ptr<function, array<f32, 3>>) {
    var grad_value = raw_grad;
    if (params.maximize != 0u) {
        grad_value = -raw_grad;
    }
    switch params.algorithm {
        case SGD: {
            sgd(p, grad_value, state);
        }
        case ADAM: {
            adam(p, grad_value, state);
        }
        case RMSPROP: {
            rmsprop(p, grad_value, state);
        }
        case ADADELTA: {
            adadelta(p, grad_value, state);
        }
        case ADAMAX: {
            adamax(p, grad_value, state);
        }
        case NADAM: {
            nadam(p, grad_value, state);
        }
        case RADAM: {
            radam(p, grad_value, state);
        }
        default: {
            adagrad(p, grad_value, state);
        }
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn update_without_state(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
    @builtin(num_workgroups) workgroups: vec3<u32>,
) {
    let i = element_index(workgroup, local, workgroups);
    if (i >= params.len) {
        return;
    }
    var p = param[i];
    var state = array<f32, 3>(0.0, 0.0, 0.0);
    apply_update(&p, grad[i], &state);
    param[i] = p;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn update_with_one_state(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
    @builtin(num_workgroups) workgroups: vec3<u32>,
) {
    let i = element_index(workgroup, local, workgroups);
    if (i >= params.len) {
        return;
    }
    var p = param[i];
    var state = array<f32, 3>(state0[i], 0.0, 0.0);
    apply_update(&p, grad[i], &state);
    param[i] = p;
    state0[i] = state[0];
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn update_with_two_states(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
    @builtin(num_workgroups) workgroups: vec3<u32>,
) {
    let i = element_index(workgroup, local, workgroups);
    if (i >= params.len) {
        return;
    }
    var p = param[i];
    var state = array<f32, 3>(state0[i], state1[i], 0.0);
    apply_update(&p, grad[i], &state);
    param[i] = p;
    state0[i] = state[0];
    state1[i] = state[1];
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn update_with_three_states(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
    @builtin(num_workgroups) workgroups: vec3<u32>,
) {
    let i = element_index(workgroup, local, workgroups);
    if (i >= params.len) {
        return;
    }
    var p = param[i];
    var state = array<f32, 3>(state0[i], state1[i], state2[i]);
    apply_update(&p, grad[i], &state);
    param[i] = p;
    state0[i] = state[0];
    state1[i] = state[1];
    state2[i] = state[2];
}
