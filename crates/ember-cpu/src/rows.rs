//! Row-wise ops over `[rows, cols]` matrices: log-softmax, the fused softmax-cross-entropy and
//! its gradient, argmax and gather.

use ndarray::ArcArray1;

use super::CpuStorage;
use ember_tensor::{Error, Result};

fn row_slices(x: &CpuStorage, cols: usize) -> impl Iterator<Item = &[f32]> {
    x.as_slice().unwrap_or(&[]).chunks_exact(cols.max(1))
}

/// `(max, ln Σ exp(x - max))` of a row.
fn max_and_log_sum_exp(row: &[f32]) -> (f32, f32) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let max = if max.is_finite() { max } else { 0.0 };
    let sum: f32 = row.iter().map(|&v| (v - max).exp()).sum();
    (max, sum.ln())
}

pub(super) fn log_softmax(x: &CpuStorage, rows: usize, cols: usize) -> CpuStorage {
    let mut out = Vec::with_capacity(rows * cols);
    for row in row_slices(x, cols) {
        let (max, lse) = max_and_log_sum_exp(row);
        out.extend(row.iter().map(|&v| v - max - lse));
    }
    ArcArray1::from(out)
}

fn label_index(label: f32, row: usize, cols: usize, op: &'static str) -> Result<usize> {
    if label >= 0.0 && label.fract() == 0.0 && (label as usize) < cols {
        Ok(label as usize)
    } else {
        Err(Error::LabelOutOfRange {
            op,
            row,
            label,
            classes: cols,
        })
    }
}

pub(super) fn softmax_cross_entropy(
    logits: &CpuStorage,
    labels: &CpuStorage,
    rows: usize,
    cols: usize,
) -> Result<CpuStorage> {
    let mut out = Vec::with_capacity(rows);
    for (r, (row, &label)) in row_slices(logits, cols).zip(labels.iter()).enumerate() {
        let class = label_index(label, r, cols, "softmax_cross_entropy")?;
        let (max, lse) = max_and_log_sum_exp(row);
        out.push(max + lse - row[class]);
    }
    Ok(ArcArray1::from(out))
}

pub(super) fn softmax_cross_entropy_backward(
    logits: &CpuStorage,
    labels: &CpuStorage,
    grad: &CpuStorage,
    rows: usize,
    cols: usize,
) -> Result<CpuStorage> {
    let mut out = Vec::with_capacity(rows * cols);
    for (r, ((row, &label), &g)) in row_slices(logits, cols)
        .zip(labels.iter())
        .zip(grad.iter())
        .enumerate()
    {
        let class = label_index(label, r, cols, "softmax_cross_entropy_backward")?;
        let (max, lse) = max_and_log_sum_exp(row);
        let shift = max + lse;
        out.extend(row.iter().enumerate().map(|(c, &v)| {
            let p = (v - shift).exp();
            let target = if c == class { 1.0 } else { 0.0 };
            (p - target) * g
        }));
    }
    Ok(ArcArray1::from(out))
}

pub(super) fn argmax(x: &CpuStorage, rows: usize, cols: usize) -> CpuStorage {
    let mut out = Vec::with_capacity(rows);
    for row in row_slices(x, cols) {
        let mut best = 0;
        for (i, &v) in row.iter().enumerate() {
            if v > row[best] || (v.is_nan() && !row[best].is_nan()) {
                best = i;
            }
        }
        out.push(best as f32);
    }
    ArcArray1::from(out)
}

pub(super) fn gather(
    x: &CpuStorage,
    indices: &CpuStorage,
    rows: usize,
    cols: usize,
) -> Result<CpuStorage> {
    let mut out = Vec::with_capacity(rows);
    for (r, (row, &index)) in row_slices(x, cols).zip(indices.iter()).enumerate() {
        out.push(row[label_index(index, r, cols, "gather")?]);
    }
    Ok(ArcArray1::from(out))
}
