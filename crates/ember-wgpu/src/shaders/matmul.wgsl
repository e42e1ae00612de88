// Matrix products `op(A) · op(B)` with transpose flags, for any shape (including k = 0).
//
// Two entry points with the same summation order (k ascending, one multiply then one add per
// step), so they give bit-identical results:
// - `matmul_tiled` (the default): a workgroup computes a 64×64 block of the product; A and B are
//   staged through workgroup memory in 64×16 / 16×64 tiles, and each of the 16×16 invocations
//   keeps a 4×4 block of outputs in registers.
// - `matmul_simple`: one invocation per output, reading A and B directly (2.5× slower on
//   lavapipe; kept as a reference and for comparison).
// Rows of workgroups beyond 65,535 spill into the z dimension of the dispatch.
//
// A dispatch sums the products over k in [k_begin, k_end) and writes the block at `out_offset`.
// The backend splits long k into several dispatches and adds their blocks: llvmpipe (lavapipe)
// ends an invocation's loops after 65,535 iterations in total.

const TILE: u32 = 64u;
const TILE_K: u32 = 16u;
const THREADS: u32 = 16u;
const BLOCK: u32 = 4u;
const SIMPLE_SIZE: u32 = 16u;

struct MatmulParams {
    m: u32,
    k: u32,
    n: u32,
    // Non-zero when A is stored as [k, m].
    trans_a: u32,
    // Non-zero when B is stored as [n, k].
    trans_b: u32,
    // Element strides of op(A) along its rows and along k, and of op(B) along k and its columns.
    lhs_row_stride: u32,
    lhs_k_stride: u32,
    rhs_k_stride: u32,
    rhs_col_stride: u32,
    // The range of k this dispatch sums over, and where its [m, n] block of outputs starts.
    k_begin: u32,
    k_end: u32,
    out_offset: u32,
}

@group(0) @binding(0) var<uniform> params: MatmulParams;
@group(0) @binding(1) var<storage, read> lhs: array<f32>;
@group(0) @binding(2) var<storage, read> rhs: array<f32>;
@group(0) @binding(3) var<storage, read_write> product: array<f32>;

// A tile: lhs_tile[kk * TILE + row]; B tile: rhs_tile[kk * TILE + col].
var<workgroup> lhs_tile: array<f32, 1024>;
var<workgroup> rhs_tile: array<f32, 1024>;

// `op(A)[row, kk]`, 0 outside the matrix.
fn lhs_at(row: u32, kk: u32) -> f32 {
    if (row >= params.m || kk >= params.k_end) {
        return 0.0;
    }
    return lhs[row * params.lhs_row_stride + kk * params.lhs_k_stride];
}

// `op(B)[kk, col]`, 0 outside the matrix.
fn rhs_at(kk: u32, col: u32) -> f32 {
    if (kk >= params.k_end || col >= params.n) {
        return 0.0;
    }
    return rhs[kk * params.rhs_k_stride + col * params.rhs_col_stride];
}

@compute @workgroup_size(THREADS, THREADS)
fn matmul_tiled(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(local_invocation_id) local: vec3<u32>,
    @builtin(local_invocation_index) local_index: u32,
    @builtin(num_workgroups) workgroups: vec3<u32>,
) {
    let block_row = (workgroup.z * workgroups.y + workgroup.y) * TILE;
    let block_col = workgroup.x * TILE;
    var acc: array<f32, 16>;
    for (var i = 0u; i < BLOCK * BLOCK; i++) {
        acc[i] = 0.0;
    }
    for (var k0 = params.k_begin; k0 < params.k_end; k0 += TILE_K) {
        // Each invocation stages 4 of the 1024 values of each tile; consecutive invocations
        // read consecutive addresses of the stored matrix.
        for (var e = 0u; e < 4u; e++) {
            let slot = local_index + e * THREADS * THREADS;
            var row: u32;
            var a_kk: u32;
            if (params.trans_a != 0u) {
                a_kk = slot / TILE;
                row = slot % TILE;
            } else {
                row = slot / TILE_K;
                a_kk = slot % TILE_K;
            }
            lhs_tile[a_kk * TILE + row] = lhs_at(block_row + row, k0 + a_kk);
            var col: u32;
            var b_kk: u32;
            if (params.trans_b != 0u) {
                col = slot / TILE_K;
                b_kk = slot % TILE_K;
            } else {
                b_kk = slot / TILE;
                col = slot % TILE;
            }
            rhs_tile[b_kk * TILE + col] = rhs_at(k0 + b_kk, block_col + col);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TILE_K; kk++) {
            var a: array<f32, 4>;
            var b: array<f32, 4>;
            for (var i = 0u; i < BLOCK; i++) {
                a[i] = lhs_tile[kk * TILE + local.y + THREADS * i];
                b[i] = rhs_tile[kk * TILE + local.x + THREADS * i];
            }
            for (var i = 0u; i < BLOCK; i++) {
                for (var j = 0u; j < BLOCK; j++) {
                    acc[i * BLOCK + j] = acc[i * BLOCK + j] + a[i] * b[j];
                }
            }
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < BLOCK; i++) {
        let row = block_row + local.y + THREADS * i;
        if (row >= params.m) {
            continue;
        }
        for (var j = 0u; j < BLOCK; j++) {
            let col = block_col + local.x + THREADS * j;
            if (col < params.n) {
                product[params.out_offset + row * params.n + col] = acc[i * BLOCK + j];
            }
        }
    }
}

@compute @workgroup_size(SIMPLE_SIZE, SIMPLE_SIZE)
fn matmul_simple(
    @builtin(global_invocation_id) global: vec3<u32>,
    @builtin(num_workgroups) workgroups: vec3<u32>,
) {
    let row = global.z * workgroups.y * SIMPLE_SIZE + global.y;
    let col = global.x;
    if (row >= params.m || col >= params.n) {
        return;
    }
    let lhs_start = row * params.lhs_row_stride;
    let rhs_start = col * params.rhs_col_stride;
    var acc = 0.0;
    for (var kk = params.k_begin; kk < params.k_end; kk++) {
        acc = acc + lhs[lhs_start + kk * params.lhs_k_stride]
            * rhs[rhs_start + kk * params.rhs_k_stride];
    }
    product[params.out_offset + row * params.n + col] = acc;
}
