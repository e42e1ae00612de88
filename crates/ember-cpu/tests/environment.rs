//! `EMBER_THREADS` and `EMBER_GEMM`: accepted values, and typed errors naming the variable, the
//! value and what is allowed for every other one, from `check_environment` and from a product.

use std::process::Command;

use ember_cpu::gemm::{Kernel, MatRef, gemm};
use ember_cpu::{Settings, check_environment};
use ember_tensor::Error;

#[test]
fn unset_and_empty_mean_the_defaults() {
    let defaults = Settings {
        threads: None,
        gemm: None,
    };
    assert_eq!(Settings::parse(None, None), Ok(defaults));
    assert_eq!(Settings::parse(Some(""), Some(" ")), Ok(defaults));
}

#[test]
fn thread_counts_and_runnable_kernels_are_accepted() {
    for (value, threads) in [("1", 1), ("2", 2), (" 8 ", 8)] {
        let settings = Settings::parse(Some(value), None).expect(value);
        assert_eq!(settings.threads, Some(threads));
    }
    for kernel in Kernel::available_kernels() {
        let name = kernel.name();
        let settings = Settings::parse(None, Some(name)).expect(name);
        assert_eq!(settings.gemm, Some(kernel));
    }
}

#[test]
fn a_bad_thread_count_names_the_variable_the_value_and_what_is_allowed() {
    for value in ["abc", "0", "-1", "1.5", "two"] {
        let err = Settings::parse(Some(value), None).expect_err(value);
        assert!(
            matches!(&err, Error::Environment { variable: "EMBER_THREADS", value: v, .. } if v == value),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(
            message.contains(&format!("EMBER_THREADS=\"{value}\""))
                && message.contains("use 1 (one thread) or 2"),
            "{message}"
        );
    }
}

#[test]
fn an_unknown_or_unrunnable_kernel_names_the_variable_the_value_and_the_kernels() {
    let runnable: Vec<&str> = Kernel::available_kernels()
        .iter()
        .map(|k| k.name())
        .collect();
    let unrunnable = Kernel::ALL.into_iter().filter(|k| !k.available());
    let names = ["foo".to_string(), "AVX2".to_string()]
        .into_iter()
        .chain(unrunnable.map(|k| k.name().to_string()));
    for value in names {
        let err = Settings::parse(None, Some(&value)).expect_err(&value);
        let message = err.to_string();
        assert!(
            matches!(
                &err,
                Error::Environment {
                    variable: "EMBER_GEMM",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            message.contains(&format!("EMBER_GEMM=\"{value}\""))
                && message.contains(&runnable.join(", ")),
            "{message}"
        );
    }
}

/// Runs `test` of this binary again in a child process with `variable=value`.
fn child(test: &str, variable: &str, value: &str) -> std::process::Output {
    let exe = std::env::current_exe().expect("test binary");
    // Cross-tested under qemu (`cargo xtask test-aarch64`), the child goes through it too.
    let runner = std::env::var("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER")
        .ok()
        .filter(|_| cfg!(target_arch = "aarch64"));
    let mut command = match runner.as_deref().map(str::split_whitespace) {
        Some(mut words) => {
            let mut command = Command::new(words.next().unwrap_or("qemu-aarch64"));
            command.args(words).arg(exe);
            command
        }
        None => Command::new(exe),
    };
    command
        .args([test, "--exact", "--nocapture"])
        .env(variable, value)
        .env("EMBER_ENVIRONMENT_CHILD", "1")
        .output()
        .expect("child test")
}

/// In a child with a bad variable: `check_environment` and a product fail with its error.
#[test]
fn a_bad_value_fails_check_environment_and_every_product() {
    if std::env::var_os("EMBER_ENVIRONMENT_CHILD").is_some() {
        let err = check_environment().expect_err("a bad value");
        assert!(matches!(err, Error::Environment { .. }), "{err:?}");
        let data = [1.0; 4];
        let a = MatRef::row_major(&data, 2, 2).expect("a");
        let mut c = [0.0; 4];
        assert_eq!(gemm(a, a, &mut c), Err(err));
        return;
    }
    check_environment().expect("this test runs without bad variables");
    for (variable, value) in [("EMBER_THREADS", "abc"), ("EMBER_GEMM", "foo")] {
        let out = child(
            "a_bad_value_fails_check_environment_and_every_product",
            variable,
            value,
        );
        assert!(
            out.status.success(),
            "{variable}={value}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        // The child ran the test (a filter matching nothing would also succeed).
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("1 passed"),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}
