//! Walking the record backwards from a scalar.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use ember_tensor::{Backend, Tensor};

use crate::var::{Var, lock};
use crate::{Error, Result};

impl<B: Backend> Var<B> {
    /// Computes the gradient of this scalar with respect to every leaf that requires one, and
    /// adds it to the leaf's accumulated gradient (as PyTorch's `loss.backward()`). The values
    /// saved by the recorded ops are freed on the way, so a second backward through the same
    /// graph is an error.
    pub fn backward(&self) -> Result<()> {
        let shape = self.shape();
        if shape.numel() != 1 {
            return Err(Error::NotScalar { shape });
        }
        let seed = Tensor::ones(shape, &self.backend())?;
        self.backward_with(seed)
    }

    /// Backward from this value with an explicit gradient of its shape.
    pub fn backward_with(&self, grad: Tensor<B>) -> Result<()> {
        if !self.requires_grad() {
            return Ok(());
        }
        let order = self.topological_order();
        let mut grads: HashMap<usize, Tensor<B>> = HashMap::new();
        grads.insert(self.id(), grad);
        for var in order.iter().rev() {
            let Some(grad) = grads.remove(&var.id()) else {
                continue;
            };
            let node = &var.node;
            let Some(recorded) = &node.recorded else {
                accumulate_into(&node.grad, grad)?;
                continue;
            };
            if node.retain_grad.load(Ordering::Relaxed) {
                accumulate_into(&node.grad, grad.clone())?;
            }
            let rule = lock(&recorded.rule)
                .take()
                .ok_or(Error::GraphFreed { op: recorded.op })?;
            let input_grads = rule(&grad)?;
            drop(rule);
            if input_grads.len() != recorded.inputs.len() {
                return Err(Error::GradientCount {
                    op: recorded.op,
                    inputs: recorded.inputs.len(),
                    gradients: input_grads.len(),
                });
            }
            for (position, (input, input_grad)) in
                recorded.inputs.iter().zip(input_grads).enumerate()
            {
                let Some(input_grad) = input_grad else {
                    continue;
                };
                if !input.requires_grad() {
                    continue;
                }
                let shape = input.shape();
                if input_grad.shape() != &shape {
                    return Err(Error::GradientShape {
                        op: recorded.op,
                        input: position,
                        expected: shape,
                        got: input_grad.shape().clone(),
                    });
                }
                match grads.remove(&input.id()) {
                    Some(existing) => {
                        grads.insert(input.id(), existing.add(&input_grad)?);
                    }
                    None => {
                        grads.insert(input.id(), input_grad);
                    }
                }
            }
        }
        Ok(())
    }

    /// The nodes that need a gradient, inputs before the ops that use them.
    fn topological_order(&self) -> Vec<Var<B>> {
        let mut order = Vec::new();
        let mut visited = HashSet::new();
        // Iterative depth-first search: (node, inputs already pushed).
        let mut stack = vec![(self.clone(), false)];
        while let Some((var, expanded)) = stack.pop() {
            if expanded {
                order.push(var);
                continue;
            }
            if !var.requires_grad() || !visited.insert(var.id()) {
                continue;
            }
            stack.push((var.clone(), true));
            if let Some(recorded) = &var.node.recorded {
                for input in &recorded.inputs {
                    if input.requires_grad() && !visited.contains(&input.id()) {
                        stack.push((input.clone(), false));
                    }
                }
            }
        }
        order
    }
}

fn accumulate_into<B: Backend>(slot: &Mutex<Option<Tensor<B>>>, grad: Tensor<B>) -> Result<()> {
    let mut slot = lock(slot);
    *slot = Some(match slot.take() {
        Some(existing) => existing.add(&grad)?,
        None => grad,
    });
    Ok(())
}
