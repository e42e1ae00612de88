// Element-wise kernels: unary functions and their backward step, scalar ops and broadcasting
// binary ops.
//
// A template: the backend splices one op's WGSL expressions (from `ember_tensor::ops`) into the
// slots marked with double braces below and compiles one module per op. Every entry point
// handles one element per invocation; dispatches larger than 65,535 workgroups are spread over
// (x, y) and the linear index is rebuilt from `num_workgroups`.

const WORKGROUP_SIZE: u32 = 256u;
const MAX_RANK: u32 = 8u;

struct ElementwiseParams {
    // Number of output elements.
    len: u32,
    // Rank of the (collapsed) broadcast shape used by `binary`.
    rank: u32,
    // The scalar operand of `scalar`.
    scalar: f32,
    _padding: u32,
    // Per dimension of the broadcast output: (size, stride in lhs, stride in rhs, unused);
    // a stride of 0 repeats the operand along that dimension.
    dims: array<vec4<u32>, MAX_RANK>,
}

@group(0) @binding(0) var<uniform> params: ElementwiseParams;
@group(0) @binding(1) var<storage, read> input_x: array<f32>;
@group(0) @binding(2) var<storage, read> input_y: array<f32>;
@group(0) @binding(3) var<storage, read> input_grad: array<f32>;
@group(0) @binding(4) var<storage, read_write> output: array<f32>;

fn unary_op(x: f32) -> f32 {
    return {{unary}};
}

fn unary_derivative(x: f32, y: f32) -> f32 {
    return {{unary_derivative}};
}

fn scalar_op(x: f32, s: f32) -> f32 {
    return {{scalar}};
}

fn binary_op(a: f32, b: f32) -> f32 {
    return {{binary}};
}

// log2(m) for m in [√½, √2), to about 1e-7: (2 / ln 2) · atanh(u) with u = (m - 1) / (m + 1),
// |u| <= 0.172, by its series up to u^13. Written out rather than with `log2`, whose accuracy
// varies between drivers (about 1e-6 relative on lavapipe).
fn log2_near_one(m: f32) -> f32 {
    let u = (m - 1.0) / (m + 1.0);
    let u2 = u * u;
    let series = 1.0 + u2 * (0.33333333 + u2 * (0.2 + u2 * (0.14285714 + u2 * (0.11111111
        + u2 * (0.09090909 + u2 * 0.07692308)))));
    return 2.88539008 * u * series;
}

// 2^t for t in [-0.5, 0.5], to a few ulps: e^y with y = t · ln 2 by its series up to y^8.
fn exp2_near_zero(t: f32) -> f32 {
    let y = t * 0.69314718;
    return 1.0 + y * (1.0 + y * (0.5 + y * (0.16666667 + y * (0.04166667 + y * (0.008333333
        + y * (0.0013888889 + y * (0.00019841270 + y * 0.000024801587)))))));
}

// `x^s` for finite x > 0 and finite s, to a few ulps for any exponent. `exp2(s * log2(x))` in
// f32 loses about |s·log2(x)| ulps (4e-6 relative for 1e-20^-1.5); here x = m·2^e with m in
// [√½, √2), so s·e splits into an integer and a small fraction before the exponential, and the
// power of two is applied exactly with `ldexp`.
fn pow_positive(x: f32, s: f32) -> f32 {
    let parts = frexp(x);
    var m = parts.fract;
    var e = f32(parts.exp);
    if (m < 0.70710678) {
        m = m * 2.0;
        e = e - 1.0;
    }
    // s·e without rounding: s = s_hi + s_lo with s_hi keeping 12 significant bits, so s_hi·e
    // (e has at most 8) is exact and splits exactly into an integer n and a fraction. Shader
    // compilers may reassociate and factor float arithmetic (lavapipe turns s·e + s·log2(m)
    // into s·(e + log2(m))), which this form gives no hold for.
    let s_hi = bitcast<f32>(bitcast<u32>(s) & 0xfffff000u);
    let s_lo = s - s_hi;
    let whole = s_hi * e;
    let n = round(whole);
    let t = (whole - n) + (s_lo * e + s * log2_near_one(m));
    let t_integer = round(t);
    let exponent = n + t_integer;
    if (exponent > 128.0) {
        // Overflows to +inf at run time (WGSL rejects an infinite constant).
        return (3.40282347e38 + x) * 2.0;
    }
    if (exponent < -151.0) {
        return 0.0;
    }
    // Two steps keep each ldexp within the exponent range WGSL defines.
    let half = i32(exponent * 0.5);
    return ldexp(ldexp(exp2_near_zero(t - t_integer), half), i32(exponent) - half);
}

// `x^s` with the semantics of Rust's `f32::powf` where WGSL's `pow` is undefined (x <= 0):
// integer exponents of negative bases keep their sign, other exponents of negative bases give
// NaN, `x^0 = 1` and `1^s = 1` for every operand.
fn pow_with_negative_bases(x: f32, s: f32) -> f32 {
    if (s == 0.0 || x == 1.0) {
        return 1.0;
    }
    if (x != x || s != s) {
        return x + s;
    }
    let s_is_integer = fract(s) == 0.0;
    let s_is_odd = s_is_integer && fract(s * 0.5) != 0.0;
    if (x == 0.0) {
        if (s > 0.0) {
            return select(0.0, x, s_is_odd);
        }
        let infinity = 1.0 / x;
        return select(abs(infinity), infinity, s_is_odd);
    }
    if (abs(x) > 3.40282347e38 || abs(s) > 3.40282347e38) {
        // Infinite operands: WGSL's pow follows IEEE-754 here; a negative base's sign is kept
        // for odd integer exponents.
        let magnitude = pow(abs(x), s);
        return select(magnitude, -magnitude, x < 0.0 && s_is_odd);
    }
    if (x > 0.0) {
        return pow_positive(x, s);
    }
    if (!s_is_integer) {
        // A negative base with a fractional exponent is NaN; sqrt(-1) makes one at run time.
        return sqrt(x);
    }
    let magnitude = pow_positive(-x, s);
    return select(magnitude, -magnitude, s_is_odd);
}

fn linear_index(workgroup: vec3<u32>, local: u32, workgroups: vec3<u32>) -> u32 {
    return (workgroup.y * workgroups.x + workgroup.x) * WORKGROUP_SIZE + local;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn unary(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
    @builtin(num_workgroups) workgroups: vec3<u32>,
) {
    let i = linear_index(workgroup, local, workgroups);
    if (i >= params.len) {
        return;
    }
    output[i] = unary_op(input_x[i]);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn unary_backward(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
    @builtin(num_workgroups) workgroups: vec3<u32>,
) {
    let i = linear_index(workgroup, local, workgroups);
    if (i >= params.len) {
        return;
    }
    output[i] = input_grad[i] * unary_derivative(input_x[i], input_y[i]);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn scalar(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
    @builtin(num_workgroups) workgroups: vec3<u32>,
) {
    let i = linear_index(workgroup, local, workgroups);
    if (i >= params.len) {
        return;
    }
    output[i] = scalar_op(input_x[i], params.scalar);
}

// `input_x` is the left operand, `input_y` the right one; both are read through the broadcast
// strides in `params.dims`.
@compute @workgroup_size(WORKGROUP_SIZE)
fn binary(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
    @builtin(num_workgroups) workgroups: vec3<u32>,
) {
    let i = linear_index(workgroup, local, workgroups);
    if (i >= params.len) {
        return;
    }
    var remaining = i;
    var lhs_index = 0u;
    var rhs_index = 0u;
    for (var d = params.rank; d > 0u; d--) {
        let dim = params.dims[d - 1u];
        let coordinate = remaining % dim.x;
        remaining = remaining / dim.x;
        lhs_index += coordinate * dim.y;
        rhs_index += coordinate * dim.z;
    }
    output[i] = binary_op(input_x[lhs_index], input_y[rhs_index]);
}
