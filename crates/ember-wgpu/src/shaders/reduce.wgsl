// Reductions along one axis of a tensor viewed as [outer, len, inner]; the result is
// [outer, inner], one invocation per output value.
//
// The order is fixed and is the CPU reference's (ndarray's), so sums are bit-identical to the
// CPU's wherever the device rounds IEEE-754 operations the same way:
// - reducing the last (contiguous) axis: eight interleaved partial sums p0..p7 over blocks of 8,
//   combined as ((((0 + (p0 + p4)) + (p1 + p5)) + (p2 + p6)) + (p3 + p7)), then the remainder
//   in order;
// - any other axis: one running sum, first element to last.
//
// An invocation handles at most `count` elements of its axis per dispatch: llvmpipe (lavapipe)
// ends an invocation's loops after 65,535 iterations in total. A longer axis takes several
// dispatches of the `*_carried` entry points, which keep the running sums (or maximum) in
// `carry` between dispatches, so the order is the same as in one pass. Loop bodies handle 8
// elements per iteration.

const WORKGROUP_SIZE: u32 = 256u;

// Flags of `ReduceParams.flags`.
const CONTINUE_FROM_CARRY: u32 = 1u;
const FINISH: u32 = 2u;

struct ReduceParams {
    outer: u32,
    len: u32,
    inner: u32,
    // Non-zero when the reduced axis is the last one (inner == 1): eight partial sums.
    interleaved: u32,
    // The part of the axis this dispatch covers: elements [first, first + count).
    first: u32,
    count: u32,
    // Non-zero for the mean: the final sum is divided by it (the axis length).
    divisor: f32,
    // CONTINUE_FROM_CARRY and FINISH, for the `*_carried` entry points.
    flags: u32,
}

@group(0) @binding(0) var<uniform> params: ReduceParams;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;
// Eight running values per output between dispatches of the `*_carried` entry points.
@group(0) @binding(3) var<storage, read_write> carry: array<f32>;

fn output_index(workgroup: vec3<u32>, local: u32, workgroups: vec3<u32>) -> u32 {
    return (workgroup.y * workgroups.x + workgroup.x) * WORKGROUP_SIZE + local;
}

// Index of element 0 of output `o`'s axis.
fn axis_start(o: u32) -> u32 {
    return (o / params.inner) * params.len * params.inner + o % params.inner;
}

// Adds `count` elements from `start` (stride `inner`) to `sum`, in order.
fn add_in_order(sum: f32, start: u32, count: u32) -> f32 {
    let stride = params.inner;
    var acc = sum;
    var r = 0u;
    for (; r + 8u <= count; r += 8u) {
        let i = start + r * stride;
        acc = acc + input[i];
        acc = acc + input[i + stride];
        acc = acc + input[i + 2u * stride];
        acc = acc + input[i + 3u * stride];
        acc = acc + input[i + 4u * stride];
        acc = acc + input[i + 5u * stride];
        acc = acc + input[i + 6u * stride];
        acc = acc + input[i + 7u * stride];
    }
    for (; r < count; r++) {
        acc = acc + input[start + r * stride];
    }
    return acc;
}

// Adds the whole blocks of 8 among `count` contiguous elements from `start` to the partial
// sums p[j] (element j of each block goes to p[j]).
fn add_interleaved(p: ptr<function, array<f32, 8>>, start: u32, count: u32) {
    for (var r = 0u; r + 8u <= count; r += 8u) {
        let i = start + r;
        (*p)[0] = (*p)[0] + input[i];
        (*p)[1] = (*p)[1] + input[i + 1u];
        (*p)[2] = (*p)[2] + input[i + 2u];
        (*p)[3] = (*p)[3] + input[i + 3u];
        (*p)[4] = (*p)[4] + input[i + 4u];
        (*p)[5] = (*p)[5] + input[i + 5u];
        (*p)[6] = (*p)[6] + input[i + 6u];
        (*p)[7] = (*p)[7] + input[i + 7u];
    }
}

// ndarray's combination of the partial sums, then the trailing `count % 8` elements.
fn finish_interleaved(p: ptr<function, array<f32, 8>>, tail_start: u32, tail_count: u32) -> f32 {
    var sum = 0.0;
    sum = sum + ((*p)[0] + (*p)[4]);
    sum = sum + ((*p)[1] + (*p)[5]);
    sum = sum + ((*p)[2] + (*p)[6]);
    sum = sum + ((*p)[3] + (*p)[7]);
    for (var r = 0u; r < tail_count; r++) {
        sum = sum + input[tail_start + r];
    }
    return sum;
}

fn divide_for_mean(sum: f32) -> f32 {
    if (params.divisor != 0.0) {
        return sum / params.divisor;
    }
    return sum;
}

// `best`, or `v` when it is larger or NaN: the CPU reference's fold step.
fn max_step(best: f32, v: f32) -> f32 {
    if (v > best || v != v) {
        return v;
    }
    return best;
}

// The largest of `count` elements from `start` (stride `inner`), starting from `best`; a NaN
// anywhere gives NaN, as in the CPU reference.
fn max_in_order(best: f32, start: u32, count: u32) -> f32 {
    let stride = params.inner;
    var result = best;
    var r = 0u;
    for (; r + 8u <= count; r += 8u) {
        let i = start + r * stride;
        result = max_step(result, input[i]);
        result = max_step(result, input[i + stride]);
        result = max_step(result, input[i + 2u * stride]);
        result = max_step(result, input[i + 3u * stride]);
        result = max_step(result, input[i + 4u * stride]);
        result = max_step(result, input[i + 5u * stride]);
        result = max_step(result, input[i + 6u * stride]);
        result = max_step(result, input[i + 7u * stride]);
    }
    for (; r < count; r++) {
        result = max_step(result, input[start + r * stride]);
    }
    return result;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn reduce_sum(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
    @builtin(num_workgroups) workgroups: vec3<u32>,
) {
    let o = output_index(workgroup, local, workgroups);
    if (o >= params.outer * params.inner) {
        return;
    }
    let start = axis_start(o);
    var sum: f32;
    if (params.interleaved != 0u) {
        var p = array<f32, 8>(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        add_interleaved(&p, start, params.len);
        let blocks_end = params.len - params.len % 8u;
        sum = finish_interleaved(&p, start + blocks_end, params.len - blocks_end);
    } else {
        sum = add_in_order(0.0, start, params.len);
    }
    output[o] = divide_for_mean(sum);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn reduce_sum_carried(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
    @builtin(num_workgroups) workgroups: vec3<u32>,
) {
    let o = output_index(workgroup, local, workgroups);
    if (o >= params.outer * params.inner) {
        return;
    }
    let start = axis_start(o) + params.first * params.inner;
    var p = array<f32, 8>(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    if ((params.flags & CONTINUE_FROM_CARRY) != 0u) {
        for (var j = 0u; j < 8u; j++) {
            p[j] = carry[o * 8u + j];
        }
    }
    let finish = (params.flags & FINISH) != 0u;
    if (params.interleaved != 0u) {
        add_interleaved(&p, start, params.count);
        if (finish) {
            let blocks_end = params.count - params.count % 8u;
            output[o] = divide_for_mean(
                finish_interleaved(&p, start + blocks_end, params.count - blocks_end),
            );
            return;
        }
    } else {
        p[0] = add_in_order(p[0], start, params.count);
        if (finish) {
            output[o] = divide_for_mean(p[0]);
            return;
        }
    }
    for (var j = 0u; j < 8u; j++) {
        carry[o * 8u + j] = p[j];
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn reduce_max(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
    @builtin(num_workgroups) workgroups: vec3<u32>,
) {
    let o = output_index(workgroup, local, workgroups);
    if (o >= params.outer * params.inner) {
        return;
    }
    let start = axis_start(o);
    // Starting from the first element is the CPU's fold from -inf (nothing is below -inf), and
    // needs no -inf literal, which WGSL lacks.
    output[o] = max_in_order(input[start], start + params.inner, params.len - 1u);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn reduce_max_carried(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
    @builtin(num_workgroups) workgroups: vec3<u32>,
) {
    let o = output_index(workgroup, local, workgroups);
    if (o >= params.outer * params.inner) {
        return;
    }
    let start = axis_start(o) + params.first * params.inner;
    var best = input[start];
    if ((params.flags & CONTINUE_FROM_CARRY) != 0u) {
        best = carry[o * 8u];
    }
    best = max_in_order(best, start, params.count);
    if ((params.flags & FINISH) != 0u) {
        output[o] = best;
    } else {
        carry[o * 8u] = best;
    }
}
