// Unfold (im2col) and fold (col2im) of an [N, C, H, W] input over a 2-D sliding window.
//
// unfold2d: one invocation per element of the [C·kh·kw, N·OH·OW] matrix (a row per tap of
// every channel, a column per output position); taps in the padding read `pad_value`.
// fold2d: one invocation per input element, which adds the entries read from it in tap order,
// the order of the CPU reference, so results are bit-identical.

const WORKGROUP_SIZE: u32 = 256u;

struct WindowParams {
    batch: u32,
    channels: u32,
    height: u32,
    width: u32,
    kernel_h: u32,
    kernel_w: u32,
    stride_h: u32,
    stride_w: u32,
    pad_h: u32,
    pad_w: u32,
    dilation_h: u32,
    dilation_w: u32,
    out_h: u32,
    out_w: u32,
    pad_value: f32,
    len: u32,
}

@group(0) @binding(0) var<uniform> params: WindowParams;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;

fn index_of(workgroup: vec3<u32>, local: u32, workgroups: vec3<u32>) -> u32 {
    return (workgroup.y * workgroups.x + workgroup.x) * WORKGROUP_SIZE + local;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn unfold2d(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
    @builtin(num_workgroups) workgroups: vec3<u32>,
) {
    let i = index_of(workgroup, local, workgroups);
    if (i >= params.len) {
        return;
    }
    let pixels = params.out_h * params.out_w;
    let positions = params.batch * pixels;
    let tap_row = i / positions;
    let position = i % positions;
    let taps = params.kernel_h * params.kernel_w;
    let c = tap_row / taps;
    let ky = (tap_row % taps) / params.kernel_w;
    let kx = tap_row % params.kernel_w;
    let n = position / pixels;
    let oy = (position % pixels) / params.out_w;
    let ox = position % params.out_w;
    // Positions are computed shifted by the padding, so they never go below zero.
    let y = oy * params.stride_h + ky * params.dilation_h;
    let x = ox * params.stride_w + kx * params.dilation_w;
    var value = params.pad_value;
    if (y >= params.pad_h && x >= params.pad_w
        && y - params.pad_h < params.height && x - params.pad_w < params.width) {
        let plane = (n * params.channels + c) * params.height * params.width;
        value = input[plane + (y - params.pad_h) * params.width + (x - params.pad_w)];
    }
    output[i] = value;
}

// The output position along one axis whose tap `k` reads padded coordinate `position`, or
// `limit` when there is none.
fn window_at(position: u32, k: u32, stride: u32, dilation: u32, limit: u32) -> u32 {
    let offset = k * dilation;
    if (position < offset || (position - offset) % stride != 0u) {
        return limit;
    }
    return min((position - offset) / stride, limit);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn fold2d(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
    @builtin(num_workgroups) workgroups: vec3<u32>,
) {
    let i = index_of(workgroup, local, workgroups);
    if (i >= params.len) {
        return;
    }
    let plane_len = params.height * params.width;
    let nc = i / plane_len;
    let n = nc / params.channels;
    let c = nc % params.channels;
    let y = (i % plane_len) / params.width + params.pad_h;
    let x = i % params.width + params.pad_w;
    let positions = params.batch * params.out_h * params.out_w;
    var sum = 0.0;
    for (var ky = 0u; ky < params.kernel_h; ky = ky + 1u) {
        let oy = window_at(y, ky, params.stride_h, params.dilation_h, params.out_h);
        if (oy >= params.out_h) {
            continue;
        }
        for (var kx = 0u; kx < params.kernel_w; kx = kx + 1u) {
            let ox = window_at(x, kx, params.stride_w, params.dilation_w, params.out_w);
            if (ox >= params.out_w) {
                continue;
            }
            let tap_row = (c * params.kernel_h + ky) * params.kernel_w + kx;
            let position = (n * params.out_h + oy) * params.out_w + ox;
            sum = sum + input[tap_row * positions + position];
        }
    }
    output[i] = sum;
}
