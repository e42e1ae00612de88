// Row-wise kernels over a [rows, cols] matrix: log-softmax, the fused softmax-cross-entropy and
// its gradient, argmax and gather. The row maximum is subtracted before exponentiating.
//
// Two layouts:
// - `*_per_invocation`: one invocation per row, reading the row in order with the same
//   arithmetic and order as the CPU reference. For rows of up to a few thousand columns.
// - `*_per_workgroup`: one workgroup of 256 invocations per row; invocation t handles columns
//   t, t + 256, ... and the partial results are combined by a fixed tree, so results are
//   identical from run to run. For long rows: an invocation's loops stay short (llvmpipe ends
//   an invocation's loops after 65,535 iterations in total) and the row is read in parallel.
//
// Labels and indices are stored as f32. A label that is not an integer in 0..cols gives the
// value `params.invalid` (NaN) for its row instead of an error, so no read-back is needed.

const WORKGROUP_SIZE: u32 = 256u;

struct RowsParams {
    rows: u32,
    cols: u32,
    // Written where a label is out of range: NaN, supplied by the host (WGSL has no NaN literal).
    invalid: f32,
    _padding: u32,
}

@group(0) @binding(0) var<uniform> params: RowsParams;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<f32>;
@group(0) @binding(3) var<storage, read> row_grad: array<f32>;
@group(0) @binding(4) var<storage, read_write> output: array<f32>;

// Partial results of the invocations of a workgroup.
var<workgroup> partial_values: array<f32, WORKGROUP_SIZE>;
var<workgroup> partial_indices: array<u32, WORKGROUP_SIZE>;

fn linear_workgroup(workgroup: vec3<u32>, workgroups: vec3<u32>) -> u32 {
    return workgroup.y * workgroups.x + workgroup.x;
}

// The class of a stored label, or `cols` when it is not an integer in 0..cols.
fn class_index(label: f32) -> u32 {
    if (label >= 0.0 && fract(label) == 0.0 && label < f32(params.cols)) {
        return u32(label);
    }
    return params.cols;
}

// The larger of two values as the CPU's `f32::max` fold sees it: a NaN on one side gives the
// other side. (GPUs may assume no value is NaN; the NaN tests only matter where they hold.)
fn max_ignoring_nan(a: f32, b: f32) -> f32 {
    if (b > a || a != a) {
        return b;
    }
    return a;
}

// The CPU's rule for the row maximum that is subtracted: 0 when it is not finite (±inf, or
// NaN when every value is NaN).
fn finite_or_zero(max_value: f32) -> f32 {
    if (max_value != max_value || abs(max_value) > 3.40282347e38) {
        return 0.0;
    }
    return max_value;
}

// ---- One invocation per row ----

fn row_index(workgroup: vec3<u32>, local: u32, workgroups: vec3<u32>) -> u32 {
    return linear_workgroup(workgroup, workgroups) * WORKGROUP_SIZE + local;
}

// The row maximum (ignoring NaN; 0 when it is not finite) and ln Σ exp(x - max).
fn max_and_log_sum_exp(start: u32) -> vec2<f32> {
    var max_value = input[start];
    for (var c = 1u; c < params.cols; c++) {
        max_value = max_ignoring_nan(max_value, input[start + c]);
    }
    max_value = finite_or_zero(max_value);
    var sum = 0.0;
    for (var c = 0u; c < params.cols; c++) {
        sum = sum + exp(input[start + c] - max_value);
    }
    return vec2<f32>(max_value, log(sum));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn log_softmax_per_invocation(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
    @builtin(num_workgroups) workgroups: vec3<u32>,
) {
    let row = row_index(workgroup, local, workgroups);
    if (row >= params.rows) {
        return;
    }
    let start = row * params.cols;
    let stats = max_and_log_sum_exp(start);
    for (var c = 0u; c < params.cols; c++) {
        output[start + c] = input[start + c] - stats.x - stats.y;
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn softmax_cross_entropy_per_invocation(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
    @builtin(num_workgroups) workgroups: vec3<u32>,
) {
    let row = row_index(workgroup, local, workgroups);
    if (row >= params.rows) {
        return;
    }
    let label_class = class_index(labels[row]);
    if (label_class >= params.cols) {
        output[row] = params.invalid;
        return;
    }
    let start = row * params.cols;
    let stats = max_and_log_sum_exp(start);
    output[row] = stats.x + stats.y - input[start + label_class];
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn softmax_cross_entropy_backward_per_invocation(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
    @builtin(num_workgroups) workgroups: vec3<u32>,
) {
    let row = row_index(workgroup, local, workgroups);
    if (row >= params.rows) {
        return;
    }
    let start = row * params.cols;
    let label_class = class_index(labels[row]);
    if (label_class >= params.cols) {
        for (var c = 0u; c < params.cols; c++) {
            output[start + c] = params.invalid;
        }
        return;
    }
    let stats = max_and_log_sum_exp(start);
    let shift = stats.x + stats.y;
    let g = row_grad[row];
    for (var c = 0u; c < params.cols; c++) {
        let p = exp(input[start + c] - shift);
        let target_value = select(0.0, 1.0, c == label_class);
        output[start + c] = (p - target_value) * g;
    }
}

// Index of the first largest value (the first NaN, if there is one, as on the CPU), as f32.
@compute @workgroup_size(WORKGROUP_SIZE)
fn argmax_per_invocation(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
    @builtin(num_workgroups) workgroups: vec3<u32>,
) {
    let row = row_index(workgroup, local, workgroups);
    if (row >= params.rows) {
        return;
    }
    let start = row * params.cols;
    var best = 0u;
    var best_value = input[start];
    for (var c = 1u; c < params.cols; c++) {
        let v = input[start + c];
        if (v > best_value || (v != v && best_value == best_value)) {
            best = c;
            best_value = v;
        }
    }
    output[row] = f32(best);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn gather(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
    @builtin(num_workgroups) workgroups: vec3<u32>,
) {
    let row = row_index(workgroup, local, workgroups);
    if (row >= params.rows) {
        return;
    }
    let label_class = class_index(labels[row]);
    if (label_class >= params.cols) {
        output[row] = params.invalid;
        return;
    }
    output[row] = input[row * params.cols + label_class];
}

// The adjoint of gather: one invocation per element of the [rows, cols] output, which holds
// `input[row]` where the column is the row's index, else 0. (An out-of-range index leaves its
// row zero; the CPU reports it as an error.)
@compute @workgroup_size(WORKGROUP_SIZE)
fn scatter(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
    @builtin(num_workgroups) workgroups: vec3<u32>,
) {
    let i = row_index(workgroup, local, workgroups);
    if (i >= params.rows * params.cols) {
        return;
    }
    let row = i / params.cols;
    let column = i % params.cols;
    var value = 0.0;
    if (class_index(labels[row]) == column) {
        value = input[row];
    }
    output[i] = value;
}

// ---- One workgroup per row ----

// Combines `partial_values` by a fixed tree with `max_ignoring_nan` (`use_max`) or `+`; every
// invocation must call it. Returns the combined value.
fn combine_partials(local: u32, use_max: bool) -> f32 {
    for (var stride = WORKGROUP_SIZE / 2u; stride > 0u; stride = stride / 2u) {
        if (local < stride) {
            let a = partial_values[local];
            let b = partial_values[local + stride];
            if (use_max) {
                partial_values[local] = max_ignoring_nan(a, b);
            } else {
                partial_values[local] = a + b;
            }
        }
        workgroupBarrier();
    }
    return partial_values[0];
}

// The row maximum (as `max_and_log_sum_exp`) and ln Σ exp(x - max), computed by the whole
// workgroup; every invocation gets the result.
fn row_statistics(start: u32, local: u32) -> vec2<f32> {
    // Each invocation starts from one of its own values (or, past the row's end, from the
    // first value: a repeated value does not change a maximum). No NaN sentinel: GPUs may
    // assume values are never NaN.
    var max_value = input[start + select(0u, local, local < params.cols)];
    for (var c = local + WORKGROUP_SIZE; c < params.cols; c += WORKGROUP_SIZE) {
        max_value = max_ignoring_nan(max_value, input[start + c]);
    }
    partial_values[local] = max_value;
    workgroupBarrier();
    let row_max = finite_or_zero(combine_partials(local, true));
    // Everyone has read the maximum before the partials are overwritten.
    workgroupBarrier();
    var sum = 0.0;
    for (var c = local; c < params.cols; c += WORKGROUP_SIZE) {
        sum = sum + exp(input[start + c] - row_max);
    }
    partial_values[local] = sum;
    workgroupBarrier();
    let total = combine_partials(local, false);
    return vec2<f32>(row_max, log(total));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn log_softmax_per_workgroup(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
    @builtin(num_workgroups) workgroups: vec3<u32>,
) {
    let row = linear_workgroup(workgroup, workgroups);
    if (row >= params.rows) {
        return;
    }
    let start = row * params.cols;
    let stats = row_statistics(start, local);
    for (var c = local; c < params.cols; c += WORKGROUP_SIZE) {
        output[start + c] = input[start + c] - stats.x - stats.y;
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn softmax_cross_entropy_per_workgroup(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
    @builtin(num_workgroups) workgroups: vec3<u32>,
) {
    let row = linear_workgroup(workgroup, workgroups);
    if (row >= params.rows) {
        return;
    }
    let start = row * params.cols;
    let stats = row_statistics(start, local);
    if (local == 0u) {
        let label_class = class_index(labels[row]);
        if (label_class >= params.cols) {
            output[row] = params.invalid;
        } else {
            output[row] = stats.x + stats.y - input[start + label_class];
        }
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn softmax_cross_entropy_backward_per_workgroup(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
    @builtin(num_workgroups) workgroups: vec3<u32>,
) {
    let row = linear_workgroup(workgroup, workgroups);
    if (row >= params.rows) {
        return;
    }
    let start = row * params.cols;
    let stats = row_statistics(start, local);
    let label_class = class_index(labels[row]);
    let shift = stats.x + stats.y;
    let g = row_grad[row];
    for (var c = local; c < params.cols; c += WORKGROUP_SIZE) {
        if (label_class >= params.cols) {
            output[start + c] = params.invalid;
        } else {
            let p = exp(input[start + c] - shift);
            let target_value = select(0.0, 1.0, c == label_class);
            output[start + c] = (p - target_value) * g;
        }
    }
}

// Whether candidate (value b, index ib) beats (a, ia) under the CPU's rule: the first NaN wins,
// otherwise the larger value, and on ties the smaller index.
fn argmax_prefers(a: f32, ia: u32, b: f32, ib: u32) -> bool {
    let a_nan = a != a;
    let b_nan = b != b;
    if (a_nan || b_nan) {
        return b_nan && (!a_nan || ib < ia);
    }
    return b > a || (b == a && ib < ia);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn argmax_per_workgroup(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
    @builtin(num_workgroups) workgroups: vec3<u32>,
) {
    let row = linear_workgroup(workgroup, workgroups);
    if (row >= params.rows) {
        return;
    }
    let start = row * params.cols;
    // Invocations past the row's end hold a candidate that never wins: index `cols`.
    var best = params.cols;
    var best_value = 0.0;
    for (var c = local; c < params.cols; c += WORKGROUP_SIZE) {
        let v = input[start + c];
        if (best == params.cols || argmax_prefers(best_value, best, v, c)) {
            best = c;
            best_value = v;
        }
    }
    partial_values[local] = best_value;
    partial_indices[local] = best;
    workgroupBarrier();
    for (var stride = WORKGROUP_SIZE / 2u; stride > 0u; stride = stride / 2u) {
        if (local < stride) {
            let ia = partial_indices[local];
            let ib = partial_indices[local + stride];
            let b = partial_values[local + stride];
            if (ib < params.cols && (ia >= params.cols || argmax_prefers(partial_values[local], ia, b, ib))) {
                partial_values[local] = b;
                partial_indices[local] = ib;
            }
        }
        workgroupBarrier();
    }
    if (local == 0u) {
        output[row] = f32(partial_indices[0]);
    }
}
