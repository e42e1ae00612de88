//! `--device auto` takes a real GPU and leaves a software rasteriser (lavapipe) to `--device
//! wgpu`; a bad `WGPU_BACKEND` is an error.

use std::process::Command;

use ember_train::{AutoDevice, choose_auto_device};

#[test]
fn auto_prefers_the_cpu_backend_to_a_software_adapter() {
    // What an explicit --device wgpu would open, software adapters included.
    let any = ember_wgpu::Wgpu::new();
    let chosen = choose_auto_device().expect("auto never fails for a missing GPU");
    match (&any, &chosen) {
        (Ok(gpu), AutoDevice::Cpu { reason }) => {
            assert_eq!(
                gpu.adapter_info().device_type,
                wgpu::DeviceType::Cpu,
                "auto passed over a hardware GPU: {reason}"
            );
            assert!(reason.contains("software rasteriser"), "{reason}");
            assert!(reason.contains("--device wgpu"), "{reason}");
        }
        (Ok(_), AutoDevice::Gpu(gpu)) => {
            assert_ne!(gpu.adapter_info().device_type, wgpu::DeviceType::Cpu);
        }
        (Err(e), AutoDevice::Cpu { reason }) => {
            if std::env::var("EMBER_REQUIRE_GPU").as_deref() == Ok("1") {
                panic!("EMBER_REQUIRE_GPU=1 but there is no GPU adapter: {e}");
            }
            assert!(reason.contains("no GPU available"), "{reason}");
        }
        (Err(e), AutoDevice::Gpu(_)) => panic!("auto found a GPU that wgpu did not: {e}"),
    }
}

#[test]
fn an_unknown_wgpu_backend_is_an_error_naming_the_variable() {
    let output = Command::new(env!("CARGO_BIN_EXE_ember-train"))
        .args(["--device", "auto", "--epochs", "1"])
        .env("WGPU_BACKEND", "bogus")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("WGPU_BACKEND"), "{err}");
    assert!(err.contains("`bogus`"), "{err}");
    assert!(err.contains("vulkan"), "{err}");
}

#[test]
fn driver_noise_stays_out_of_the_trainers_output() {
    let output = Command::new(env!("CARGO_BIN_EXE_ember-train"))
        .args([
            "--device",
            "wgpu",
            "--epochs",
            "1",
            "--data-dir",
            "/nonexistent",
        ])
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("NODEVICE_SELECT")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(!err.contains("XDG_RUNTIME_DIR"), "{err}");
    // Every line is Ember's own: the device, a note or the error.
    for line in err.lines() {
        assert!(
            ["device: ", "note: ", "error: "]
                .iter()
                .any(|p| line.starts_with(p)),
            "{line}"
        );
    }
}
