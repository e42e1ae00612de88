// Fills a buffer with one value.

const WORKGROUP_SIZE: u32 = 256u;

struct FillParams {
    len: u32,
    value: f32,
    _padding0: u32,
    _padding1: u32,
}

@group(0) @binding(0) var<uniform> params: FillParams;
@group(0) @binding(1) var<storage, read_write> output: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn fill(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
    @builtin(num_workgroups) workgroups: vec3<u32>,
) {
    let i = (workgroup.y * workgroups.x + workgroup.x) * WORKGROUP_SIZE + local;
    if (i >= params.len) {
        return;
    }
    output[i] = params.value;
}
