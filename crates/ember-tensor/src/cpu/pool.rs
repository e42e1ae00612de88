//! Max pooling on the CPU as one direct pass per window (overriding the default body of
//! [`MaxPool2dOp`], which unfolds, transposes, takes the argmax and gathers: four passes over
//! memory). Same results: the first maximum in the window's row-major order, padding never
//! wins. Backward adds each gradient at its window's maximum, windows in order.

use super::{Cpu, CpuStorage};
use crate::ops::{MaxPool2dOp, Window2d};
use crate::{Error, Result};

impl MaxPool2dOp<Cpu> for Cpu {
    fn max_pool2d(
        _backend: &Cpu,
        x: &CpuStorage,
        window: &Window2d,
    ) -> Result<(CpuStorage, CpuStorage)> {
        let src = x.as_slice().ok_or_else(not_contiguous)?;
        let [kh, kw] = window.options.kernel;
        let [h, w] = window.input;
        let [oh, ow] = window.output;
        let planes = window.batch * window.channels;
        let mut values = Vec::with_capacity(planes * oh * ow);
        let mut indices = Vec::with_capacity(planes * oh * ow);
        let o = window.options;
        if o.padding == [0, 0] && o.dilation == [1, 1] {
            // Every tap inside the input (the lab's pools): no bounds to test.
            for plane in src.chunks_exact((h * w).max(1)).take(planes) {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let corner = oy * o.stride[0] * w + ox * o.stride[1];
                        let mut best = plane[corner];
                        let mut best_tap = 0usize;
                        for i in 0..kh {
                            let line = &plane[corner + i * w..][..kw];
                            for (j, &v) in line.iter().enumerate() {
                                if v > best {
                                    best = v;
                                    best_tap = i * kw + j;
                                }
                            }
                        }
                        values.push(best);
                        indices.push(best_tap as f32);
                    }
                }
            }
            return Ok((CpuStorage::from(values), CpuStorage::from(indices)));
        }
        for plane in src.chunks_exact((h * w).max(1)).take(planes) {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut best = f32::NEG_INFINITY;
                    let mut best_tap = 0usize;
                    let mut found = false;
                    for i in 0..kh {
                        for j in 0..kw {
                            if let Some((y, xx)) = window.source(oy, ox, i, j) {
                                let v = plane[y * w + xx];
                                // The reference's argmax: strictly greater replaces; the first
                                // of equal values stays.
                                if !found || v > best {
                                    best = v;
                                    best_tap = i * kw + j;
                                    found = true;
                                }
                            } else if !found {
                                // A padding tap reads −∞: it is the first maximum only until a
                                // real value (> −∞) comes.
                                best_tap = i * kw + j;
                                found = true;
                            }
                        }
                    }
                    values.push(best);
                    indices.push(best_tap as f32);
                }
            }
        }
        Ok((CpuStorage::from(values), CpuStorage::from(indices)))
    }

    fn max_pool2d_backward(
        _backend: &Cpu,
        grad: &CpuStorage,
        indices: &CpuStorage,
        window: &Window2d,
    ) -> Result<CpuStorage> {
        let grad = grad.as_slice().ok_or_else(not_contiguous)?;
        let indices = indices.as_slice().ok_or_else(not_contiguous)?;
        let kw = window.options.kernel[1];
        let [h, w] = window.input;
        let [oh, ow] = window.output;
        let mut out = vec![0.0f32; window.input_len()];
        for (p, plane) in out.chunks_exact_mut((h * w).max(1)).enumerate() {
            for oy in 0..oh {
                for ox in 0..ow {
                    let o = (p * oh + oy) * ow + ox;
                    let tap = indices[o] as usize;
                    if let Some((y, xx)) = window.source(oy, ox, tap / kw, tap % kw) {
                        plane[y * w + xx] += grad[o];
                    }
                }
            }
        }
        Ok(CpuStorage::from(out))
    }
}

fn not_contiguous() -> Error {
    Error::Device {
        op: "max_pool2d",
        message: "storage is not contiguous".to_string(),
    }
}
