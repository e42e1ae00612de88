//! `MaxPool2d` and `AvgPool2d`: pooling over `[N, C, H, W]`, as PyTorch's (`ceil_mode =
//! False`; average pooling counts padding as zeros).

use ember_autodiff::Var;
use ember_tensor::Backend;
use ember_tensor::ops::WindowOptions;

use crate::module::{LayerKind, Module};
use crate::{Error, Result};

macro_rules! pool_layer {
    ($(#[$doc:meta])* $name:ident, $method:ident, $kind:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name {
            /// Kernel, stride (the kernel size unless set), padding, dilation.
            pub window: WindowOptions,
        }

        impl $name {
            /// A `kernel` window whose stride is the kernel size, as PyTorch's default.
            pub fn new(kernel: [usize; 2]) -> Self {
                $name {
                    window: WindowOptions::new(kernel).stride(kernel),
                }
            }

            /// With this stride.
            pub fn stride(mut self, stride: [usize; 2]) -> Self {
                self.window.stride = stride;
                self
            }

            /// With this padding (at most half the kernel).
            pub fn padding(mut self, padding: [usize; 2]) -> Self {
                self.window.padding = padding;
                self
            }

            /// The layer as PyTorch prints it.
            pub fn describe(&self) -> String {
                let w = &self.window;
                format!(
                    "{}(kernel_size={:?}, stride={:?}, padding={:?})",
                    stringify!($name),
                    w.kernel,
                    w.stride,
                    w.padding
                )
            }
        }

        impl<B: Backend> Module<B> for $name {
            fn forward(&self, x: &Var<B>) -> Result<Var<B>> {
                let shape = x.shape();
                if shape.rank() != 4 {
                    return Err(Error::InputShape {
                        layer: self.describe(),
                        expected: "[N, C, H, W]".to_string(),
                        got: shape,
                    });
                }
                x.$method(self.window).map_err(|source| Error::Layer {
                    layer: self.describe(),
                    source: Box::new(source),
                })
            }

            fn visit_parameters(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Var<B>)) {}

            fn kind(&self) -> LayerKind<'_, B> {
                $kind(self)
            }
        }
    };
}

pool_layer!(
    /// The maximum of each window, as `nn.MaxPool2d`; the gradient goes to the first maximum
    /// of each window.
    ///
    /// ```
    /// use ember_autodiff::Var;
    /// use ember_nn::{MaxPool2d, Module};
    /// use ember_cpu::Cpu;
    /// use ember_tensor::Tensor;
    ///
    /// let x = Var::constant(Tensor::from_vec((0..16).map(|v| v as f32).collect(), [1, 1, 4, 4], &Cpu)?);
    /// let y = MaxPool2d::new([2, 2]).forward(&x)?;
    /// assert_eq!(y.value().to_vec()?, vec![5.0, 7.0, 13.0, 15.0]);
    /// # Ok::<(), ember_nn::Error>(())
    /// ```
    MaxPool2d,
    max_pool2d,
    LayerKind::MaxPool2d
);

pool_layer!(
    /// The mean of each window, as `nn.AvgPool2d` (padding counts as zeros).
    AvgPool2d,
    avg_pool2d,
    |_| LayerKind::Other
);
