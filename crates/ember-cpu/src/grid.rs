//! The padded grid of a stride-1 convolution: its images zero-padded, and its outputs computed
//! at every column of the padded width, not only the valid ones.
//!
//! With stride 1, tap `(c, i, j)` of output `(y, x)` reads padded pixel `(y + i·dh, x + j·dw)`
//! of channel `c`. Numbered along rows of the padded width `Wp`, output `y·Wp + x` reads padded
//! pixel `y·Wp + x + (i·dh·Wp + j·dw)`: each tap's row of the unfolded matrix is one
//! contiguous run of the padded plane. The forward product and the weight gradient's read it
//! where it lies ([`crate::gemm::RowsAt`]) instead of an unfolded copy built line by line with
//! its padding filled around it. The `Wp - OW` extra columns of each output row (read across a
//! row's end) are dropped by the forward pass and given a zero gradient ([`Grid::spread`]) by
//! the weight gradient.
//!
//! Every valid output of the forward pass is the same sum as with
//! [`super::layout::unfold_rows`], in the same order: the padding is the same `0.0`.

use super::copy_floats;
use ember_tensor::ops::Window2d;

/// A stride-1 window laid on its zero-padded input (see the module documentation).
pub(super) struct Grid {
    channels: usize,
    input: [usize; 2],
    padding: [usize; 2],
    /// Padded height and width.
    padded: [usize; 2],
    /// Output rows.
    rows: usize,
    /// Valid outputs per row.
    cols: usize,
    /// Floats past the last padded image that the last tap's run reads (for outputs that are
    /// dropped): the last tap's offset along a row, `(kw - 1)·dw`.
    slack: usize,
    /// Where each row `(c, i, j)` of the unfolded matrix starts in a padded image.
    starts: Vec<usize>,
}

impl Grid {
    /// The grid of `window`, if its stride is 1 along both axes.
    pub(super) fn of(window: &Window2d) -> Option<Grid> {
        let o = window.options;
        if o.stride != [1, 1] {
            return None;
        }
        let padded = [
            window.input[0] + 2 * o.padding[0],
            window.input[1] + 2 * o.padding[1],
        ];
        let taps: Vec<usize> = (0..o.kernel[0])
            .flat_map(|i| {
                (0..o.kernel[1]).map(move |j| i * o.dilation[0] * padded[1] + j * o.dilation[1])
            })
            .collect();
        let plane_len = padded[0] * padded[1];
        let starts = (0..window.channels)
            .flat_map(|c| taps.iter().map(move |&tap| c * plane_len + tap))
            .collect();
        Some(Grid {
            channels: window.channels,
            input: window.input,
            padding: o.padding,
            padded,
            rows: window.output[0],
            cols: window.output[1],
            slack: (o.kernel[1] - 1) * o.dilation[1],
            starts,
        })
    }

    /// Output positions of one image on the grid: every column of the padded width.
    pub(super) fn positions(&self) -> usize {
        self.rows * self.padded[1]
    }

    /// Columns per output row on the grid (the padded width): `positions() / output rows`.
    pub(super) fn pitch(&self) -> usize {
        self.padded[1]
    }

    fn plane_len(&self) -> usize {
        self.padded[0] * self.padded[1]
    }

    /// Floats of one padded image.
    fn image_len(&self) -> usize {
        self.channels * self.plane_len()
    }

    /// One image of `source` (`[C, H, W]`) zero-padded into `padded`, followed by the slack
    /// the last runs read. `padded` is empty or holds an image this grid padded before: its
    /// padding is still zero, and only the image is written.
    pub(super) fn pad(&self, source: &[f32], padded: &mut Vec<f32>) {
        let [h, w] = self.input;
        let [ph, pw] = self.padding;
        reset(padded, self.image_len() + self.slack);
        let planes = padded.chunks_exact_mut(self.plane_len().max(1));
        for (plane, input) in planes.zip(source.chunks_exact((h * w).max(1))) {
            for (row, line) in input.chunks_exact(w.max(1)).enumerate() {
                copy_floats(
                    &mut plane[(row + ph) * self.padded[1] + pw..][..w],
                    line,
                    |v| v,
                );
            }
        }
    }

    /// Where each row `(c, i, j)` of the unfolded matrix on the grid starts in a padded image
    /// (from [`Grid::pad`]): the row is the run of [`Grid::positions`] floats from there.
    pub(super) fn row_starts(&self) -> &[usize] {
        &self.starts
    }

    /// One image's output gradient (`[O, OH·OW]`) spread over the grid's positions
    /// (`[O, OH·Wp]`) into `spread`, zero at the extra columns. `spread` is empty or holds a
    /// gradient this grid spread before for `out_channels`: only the valid columns are written.
    pub(super) fn spread(&self, grad: &[f32], out_channels: usize, spread: &mut Vec<f32>) {
        reset(spread, out_channels * self.positions());
        let rows = spread.chunks_exact_mut(self.padded[1]);
        for (row, line) in rows.zip(grad.chunks_exact(self.cols.max(1))) {
            copy_floats(&mut row[..self.cols], line, |v| v);
        }
    }

    /// `spread` as [`Grid::spread`] leaves it for `out_channels` output gradients, cut into
    /// its planes (`OH` rows of [`Grid::pitch`] floats) for the caller to write the valid
    /// columns of: the extra columns are zero.
    pub(super) fn spread_planes<'a>(
        &self,
        out_channels: usize,
        spread: &'a mut Vec<f32>,
    ) -> std::slice::ChunksExactMut<'a, f32> {
        reset(spread, out_channels * self.positions());
        spread.chunks_exact_mut(self.positions().max(1))
    }
}

/// `buffer` as `len` zeros, unless it already has that length (then it is left as it is).
fn reset(buffer: &mut Vec<f32>, len: usize) {
    if buffer.len() != len {
        buffer.clear();
        buffer.resize(len, 0.0);
    }
}

#[cfg(test)]
mod tests {
    use std::mem::MaybeUninit;

    use super::Grid;
    use crate::layout::unfold_rows;
    use crate::test_values;
    use ember_tensor::Shape;
    use ember_tensor::ops::{Window2d, WindowOptions};

    fn windows() -> Vec<Window2d> {
        let options = [
            WindowOptions::new([3, 3]).padding([1, 1]),
            WindowOptions::new([3, 2]).padding([2, 0]).dilation([1, 3]),
            WindowOptions::new([1, 1]),
            WindowOptions::new([5, 5]).padding([2, 2]),
        ];
        options
            .into_iter()
            .map(|o| Window2d::new("grid", &Shape::from([2, 3, 9, 11]), o).unwrap())
            .collect()
    }

    #[test]
    fn other_strides_have_no_grid() {
        let o = WindowOptions::new([3, 3]).stride([1, 2]);
        let window = Window2d::new("grid", &Shape::from([1, 1, 8, 8]), o).unwrap();
        assert!(Grid::of(&window).is_none());
    }

    #[test]
    fn the_grid_unfolds_the_bits_of_the_line_by_line_pass() {
        for (seed, window) in windows().into_iter().enumerate() {
            let grid = Grid::of(&window).unwrap();
            let (rows, pixels) = (window.patch_len(), window.output[0] * window.output[1]);
            let [oh, ow] = window.output;
            let x = test_values(window.input_len(), seed);
            let mut want = vec![MaybeUninit::new(0.0); rows * window.positions()];
            unfold_rows(&x, &window, 0.0, 0, &mut want);
            let (mut padded, starts) = (Vec::new(), grid.row_starts());
            let image_len = window.input_len() / window.batch;
            for r in 0..rows {
                for n in 0..window.batch {
                    grid.pad(&x[n * image_len..][..image_len], &mut padded);
                    let run = &padded[starts[r]..][..grid.positions()];
                    for (y, x) in (0..oh).flat_map(|y| (0..ow).map(move |x| (y, x))) {
                        let got = run[y * grid.pitch() + x];
                        // SAFETY: `unfold_rows` wrote every element.
                        let want = unsafe {
                            want[r * window.positions() + n * pixels + y * ow + x].assume_init()
                        };
                        assert_eq!(got.to_bits(), want.to_bits(), "window {seed}, row {r}");
                    }
                }
            }

            // Output gradients spread over the grid, into a fresh buffer and then into the
            // same one again: zero at the extra columns.
            let mut spread = vec![f32::NAN; 3];
            for round in 0..2 {
                let g = test_values(2 * pixels, 10 + seed + round);
                grid.spread(&g, 2, &mut spread);
                for (row, line) in spread.chunks_exact(grid.pitch()).enumerate() {
                    assert_eq!(&line[..ow], &g[row * ow..][..ow]);
                    assert!(line[ow..].iter().all(|&v| v == 0.0));
                }
            }
        }
    }
}
