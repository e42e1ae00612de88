//! The 2-D sliding window that convolution, pooling and unfold/fold share: an `NCHW` input, a
//! kernel, stride, zero padding and dilation, and the output size they give.

use crate::{Error, Result, Shape};

/// Kernel size, stride, padding and dilation of a 2-D window, each as `[height, width]`, as
/// PyTorch's `Conv2d`/`MaxPool2d` arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WindowOptions {
    /// Window size `[kh, kw]`.
    pub kernel: [usize; 2],
    /// Step between windows.
    pub stride: [usize; 2],
    /// Implicit padding on both sides.
    pub padding: [usize; 2],
    /// Spacing between the window's taps.
    pub dilation: [usize; 2],
}

impl WindowOptions {
    /// A `kh × kw` window with stride 1, no padding and no dilation.
    pub fn new(kernel: [usize; 2]) -> Self {
        WindowOptions {
            kernel,
            stride: [1, 1],
            padding: [0, 0],
            dilation: [1, 1],
        }
    }

    /// With this stride.
    pub fn stride(mut self, stride: [usize; 2]) -> Self {
        self.stride = stride;
        self
    }

    /// With this padding.
    pub fn padding(mut self, padding: [usize; 2]) -> Self {
        self.padding = padding;
        self
    }

    /// With this dilation.
    pub fn dilation(mut self, dilation: [usize; 2]) -> Self {
        self.dilation = dilation;
        self
    }
}

/// A window placed over a concrete `[N, C, H, W]` input: everything a kernel needs to map
/// output positions to input positions. Built by [`Window2d::new`], which checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window2d {
    /// `N`
    pub batch: usize,
    /// `C`
    pub channels: usize,
    /// `[H, W]` of the input.
    pub input: [usize; 2],
    /// Kernel, stride, padding, dilation.
    pub options: WindowOptions,
    /// `[OH, OW]`: windows along each axis.
    pub output: [usize; 2],
}

impl Window2d {
    /// Places `options` over an input of `shape` (`[N, C, H, W]`), for `op` (named in errors).
    /// Fails on another rank, a zero kernel, stride or dilation, or a window larger than the
    /// padded input.
    pub fn new(op: &'static str, shape: &Shape, options: WindowOptions) -> Result<Self> {
        let &[batch, channels, height, width] = shape.dims() else {
            return Err(Error::WrongRank {
                op,
                expected: "an input of shape [N, C, H, W]",
                shape: shape.clone(),
            });
        };
        let WindowOptions {
            kernel,
            stride,
            padding,
            dilation,
        } = options;
        for (what, value) in [
            ("kernel size", kernel),
            ("stride", stride),
            ("dilation", dilation),
        ] {
            if value.contains(&0) {
                return Err(Error::InvalidArgument {
                    op,
                    message: format!("{what} {value:?} must be at least 1 in both dimensions"),
                });
            }
        }
        let input = [height, width];
        let mut output = [0; 2];
        for axis in 0..2 {
            let span = dilation[axis] * (kernel[axis] - 1) + 1;
            let padded = input[axis] + 2 * padding[axis];
            if span > padded {
                return Err(Error::InvalidArgument {
                    op,
                    message: format!(
                        "a window of {}×{} (dilation {:?}) does not fit the padded input {}×{} \
                         (input {shape}, padding {:?})",
                        dilation[0] * (kernel[0] - 1) + 1,
                        dilation[1] * (kernel[1] - 1) + 1,
                        dilation,
                        height + 2 * padding[0],
                        width + 2 * padding[1],
                        padding
                    ),
                });
            }
            output[axis] = (padded - span) / stride[axis] + 1;
        }
        Ok(Window2d {
            batch,
            channels,
            input,
            options,
            output,
        })
    }

    /// Columns of the unfolded matrix: one per output position, `N · OH · OW`.
    pub fn positions(&self) -> usize {
        self.batch * self.output[0] * self.output[1]
    }

    /// Rows of the unfolded matrix: one per window tap of every channel, `C · kh · kw`.
    pub fn patch_len(&self) -> usize {
        self.channels * self.taps()
    }

    /// Taps of one channel's window, `kh · kw`.
    pub fn taps(&self) -> usize {
        self.options.kernel[0] * self.options.kernel[1]
    }

    /// Elements of the input, `N · C · H · W`.
    pub fn input_len(&self) -> usize {
        self.batch * self.channels * self.input[0] * self.input[1]
    }

    /// The input's shape.
    pub fn input_shape(&self) -> Shape {
        Shape::new([self.batch, self.channels, self.input[0], self.input[1]])
    }

    /// `[N, C', OH, OW]`: the shape of an output with `channels` channels.
    pub fn output_shape(&self, channels: usize) -> Shape {
        Shape::new([self.batch, channels, self.output[0], self.output[1]])
    }

    /// The same window over each channel as its own image (`[N·C, 1, H, W]`): how pooling
    /// unfolds, so each column of the unfolded matrix is one channel's window.
    pub fn per_channel(&self) -> Window2d {
        Window2d {
            batch: self.batch * self.channels,
            channels: 1,
            ..*self
        }
    }

    /// The input position `(y, x)` read by output position `(oy, ox)` at tap `(i, j)`, or
    /// `None` where it falls in the padding.
    #[inline]
    pub fn source(&self, oy: usize, ox: usize, i: usize, j: usize) -> Option<(usize, usize)> {
        let o = &self.options;
        let y = (oy * o.stride[0] + i * o.dilation[0]).checked_sub(o.padding[0])?;
        let x = (ox * o.stride[1] + j * o.dilation[1]).checked_sub(o.padding[1])?;
        (y < self.input[0] && x < self.input[1]).then_some((y, x))
    }
}
