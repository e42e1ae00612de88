//! Every op kind declares conformance cases, and each of them runs on the CPU reference.

use ember_cpu::Cpu;
use ember_tensor::conformance::{cases_of, kinds};

#[test]
fn every_kind_declares_cases_that_run_on_the_cpu() {
    for &kind in kinds() {
        let cases = cases_of(kind);
        assert!(!cases.is_empty(), "{kind:?} declares no conformance case");
        for case in cases {
            let data = case.inputs_data(1);
            let outputs = case.run(&Cpu, &data);
            assert!(outputs.is_ok(), "{kind:?} {}: {outputs:?}", case.class);
        }
    }
}
