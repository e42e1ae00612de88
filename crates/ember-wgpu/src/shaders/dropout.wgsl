// Dropout with a counter-based mask: invocation b draws Philox4x32-10 with counter
// [b, 0, step_lo, step_hi] and key [key_lo, key_hi], and decides elements 4b .. 4b + 3, word j
// for element 4b + j: kept (times `scale`) when the draw is at least `threshold`, else times 0.
// The same function as `ember_tensor::philox4x32_10` and `DropoutMask::apply`, so the mask is
// the CPU's bit for bit. WGSL has no 64-bit integers: the 32×32 → 64-bit product is assembled
// from 16-bit halves.

const WORKGROUP_SIZE: u32 = 256u;

struct DropoutParams {
    len: u32,
    threshold: u32,
    scale: f32,
    _padding: u32,
    key: vec2<u32>,
    step: vec2<u32>,
}

@group(0) @binding(0) var<uniform> params: DropoutParams;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;

// The high 32 bits of a · b (the low ones are the wrapping product a * b).
fn mul_hi(a: u32, b: u32) -> u32 {
    let a_lo = a & 0xffffu;
    let a_hi = a >> 16u;
    let b_lo = b & 0xffffu;
    let b_hi = b >> 16u;
    let lo_lo = a_lo * b_lo;
    let hi_lo = a_hi * b_lo;
    let lo_hi = a_lo * b_hi;
    // At most 0xffff + 0xffff + 0xfffe0001: no overflow.
    let middle = (lo_lo >> 16u) + (hi_lo & 0xffffu) + lo_hi;
    return a_hi * b_hi + (hi_lo >> 16u) + (middle >> 16u);
}

fn philox4x32_10(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    var c = counter;
    var k = key;
    for (var r = 0u; r < 10u; r = r + 1u) {
        if (r > 0u) {
            k = k + vec2<u32>(0x9E3779B9u, 0xBB67AE85u);
        }
        let m0 = 0xD2511F53u;
        let m1 = 0xCD9E8D57u;
        let hi0 = mul_hi(m0, c.x);
        let lo0 = m0 * c.x;
        let hi1 = mul_hi(m1, c.z);
        let lo1 = m1 * c.z;
        c = vec4<u32>(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    }
    return c;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn dropout(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
    @builtin(num_workgroups) workgroups: vec3<u32>,
) {
    let block = (workgroup.y * workgroups.x + workgroup.x) * WORKGROUP_SIZE + local;
    let first = block * 4u;
    if (first >= params.len) {
        return;
    }
    let draws = philox4x32_10(vec4<u32>(block, 0u, params.step.x, params.step.y), params.key);
    for (var j = 0u; j < 4u; j = j + 1u) {
        let i = first + j;
        if (i < params.len) {
            output[i] = input[i] * select(0.0, params.scale, draws[j] >= params.threshold);
        }
    }
}
