//! Matrix products with transpose flags.

use ember_tensor::Backend;

use crate::Result;
use crate::var::Var;

impl<B: Backend> Var<B> {
    /// Matrix product of two 2-D values.
    pub fn matmul(&self, other: &Var<B>) -> Result<Var<B>> {
        self.matmul_t(other, false, false)
    }

    /// `op(A) · op(B)`, where `op` transposes when its flag is set.
    ///
    /// With `C = A'B'`: `dA' = G·B'ᵀ` and `dB' = A'ᵀ·G`; each is computed with transpose flags,
    /// so no transpose is ever materialised.
    pub fn matmul_t(&self, other: &Var<B>, trans_a: bool, trans_b: bool) -> Result<Var<B>> {
        let a = self.value();
        let b = other.value();
        let y = a.matmul_t(&b, trans_a, trans_b)?;
        let (needs_a, needs_b) = (self.requires_grad(), other.requires_grad());
        Ok(Var::from_op(y, "matmul", &[self, other], move |g| {
            let grad_a = needs_a
                .then(|| {
                    if trans_a {
                        b.matmul_t(g, trans_b, true)
                    } else {
                        g.matmul_t(&b, false, !trans_b)
                    }
                })
                .transpose()?;
            let grad_b = needs_b
                .then(|| {
                    if trans_b {
                        g.matmul_t(&a, true, trans_a)
                    } else {
                        a.matmul_t(g, !trans_a, false)
                    }
                })
                .transpose()?;
            Ok(vec![grad_a, grad_b])
        }))
    }
}
