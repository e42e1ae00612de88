// Unfold (im2col) and fold (col2im) of an [N, C, H, W] input over a 2-D sliding window.
//
// unfold2d: one invocation per element of the [N·OH·OW, C·kh·kw] matrix; taps in the padding
// read `pad_value`.
// fold2d: one invocation per input element, which adds the entries read from it in row order
// (output positions ascending), the order of the CPU reference, so results are bit-identical.

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
    let taps = params.kernel_h * params.kernel_w;
    let cols = params.channels * taps;
    let row = i / cols;
    let col = i % cols;
    let pixels = params.out_h * params.out_w;
    let n = row / pixels;
    let pixel = row % pixels;
    let oy = pixel / params.out_w;
    let ox = pixel % params.out_w;
    let c = col / taps;
    let tap = col % taps;
    let ky = tap / params.kernel_w;
    let kx = tap % params.kernel_w;
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

// The first output position along one axis whose window reaches `position` (padded
// coordinates), i.e. the smallest o with o·stride + (kernel - 1)·dilation >= position.
fn first_window(position: u32, kernel: u32, stride: u32, dilation: u32) -> u32 {
    let reach = (kernel - 1u) * dilation;
    if (position <= reach) {
        return 0u;
    }
    return (position - reach + stride - 1u) / stride;
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
    let taps = params.kernel_h * params.kernel_w;
    let cols = params.channels * taps;
    let first_oy = first_window(y, params.kernel_h, params.stride_h, params.dilation_h);
    let first_ox = first_window(x, params.kernel_w, params.stride_w, params.dilation_w);
    let last_oy = min(y / params.stride_h + 1u, params.out_h);
    let last_ox = min(x / params.stride_w + 1u, params.out_w);
    var sum = 0.0;
    for (var oy = first_oy; oy < last_oy; oy = oy + 1u) {
        let dy = y - oy * params.stride_h;
        if (dy % params.dilation_h != 0u) {
            continue;
        }
        let ky = dy / params.dilation_h;
        for (var ox = first_ox; ox < last_ox; ox = ox + 1u) {
            let dx = x - ox * params.stride_w;
            if (dx % params.dilation_w != 0u) {
                continue;
            }
            let kx = dx / params.dilation_w;
            let row = (n * params.out_h + oy) * params.out_w + ox;
            sum = sum + input[row * cols + c * taps + ky * params.kernel_w + kx];
        }
    }
    output[i] = sum;
}
