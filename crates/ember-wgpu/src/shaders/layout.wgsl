// The strided copy behind permute, transpose, narrow and expand: output element i (row-major
// over `dims`) is input[offset + Σ index_d · stride_d]. A stride of 0 repeats a value.

const WORKGROUP_SIZE: u32 = 256u;
const MAX_RANK: u32 = 8u;

struct StridedParams {
    len: u32,
    rank: u32,
    offset: u32,
    _padding: u32,
    // Per output dimension: size, source stride, unused, unused.
    dims: array<vec4<u32>, MAX_RANK>,
}

@group(0) @binding(0) var<uniform> params: StridedParams;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn strided_copy(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
    @builtin(num_workgroups) workgroups: vec3<u32>,
) {
    let i = (workgroup.y * workgroups.x + workgroup.x) * WORKGROUP_SIZE + local;
    if (i >= params.len) {
        return;
    }
    var rest = i;
    var source = params.offset;
    for (var d = params.rank; d > 0u; d = d - 1u) {
        let dim = params.dims[d - 1u];
        source = source + (rest % dim.x) * dim.y;
        rest = rest / dim.x;
    }
    output[i] = input[source];
}
