//! Every WGSL kernel, and every per-op variant spliced from the templates, parses and validates
//! with naga. Needs no GPU driver, so a shader error fails the build's tests on any machine.

use std::path::Path;

use ember_wgpu::kernels::Kernel;

/// Parses and validates one module; the error text carries naga's annotated source excerpt.
fn validate(label: &str, source: &str) -> Result<naga::Module, String> {
    let module = naga::front::wgsl::parse_str(source)
        .map_err(|e| format!("{label}: parse error\n{}", e.emit_to_string(source)))?;
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::empty(),
    )
    .validate(&module)
    .map_err(|e| format!("{label}: validation error\n{}", e.emit_to_string(source)))?;
    Ok(module)
}

#[test]
fn every_kernel_variant_parses_and_validates() {
    let mut failures = Vec::new();
    for kernel in Kernel::all() {
        let label = kernel.label();
        match validate(&label, &kernel.source()) {
            Ok(module) => {
                let entry = module
                    .entry_points
                    .iter()
                    .find(|e| e.name == kernel.entry_point());
                match entry {
                    Some(entry) if entry.stage == naga::ShaderStage::Compute => {}
                    _ => failures.push(format!("{label}: no compute entry point")),
                }
            }
            Err(message) => failures.push(message),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_shader_file_is_used_by_some_kernel() {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/shaders");
    let files: Vec<String> = std::fs::read_dir(&directory)
        .expect("src/shaders exists")
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".wgsl"))
        .collect();
    assert!(!files.is_empty());
    for file in files {
        assert!(
            Kernel::all().iter().any(|k| k.file() == file),
            "{file} is not compiled by any kernel"
        );
    }
}

#[test]
fn templates_without_slots_validate_as_written() {
    // The files without `{{slot}}` markers are complete modules; check them from disk too, so
    // an edit is caught even before it is wired to a kernel.
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/shaders");
    for entry in std::fs::read_dir(&directory).expect("src/shaders exists") {
        let path = entry.expect("readable directory").path();
        if path.extension().and_then(|e| e.to_str()) != Some("wgsl") {
            continue;
        }
        let source = std::fs::read_to_string(&path).expect("readable shader");
        if source.contains("{{") {
            continue;
        }
        if let Err(message) = validate(&path.display().to_string(), &source) {
            panic!("{message}");
        }
    }
}
