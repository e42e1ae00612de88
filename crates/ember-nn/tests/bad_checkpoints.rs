//! Every kind of bad checkpoint gives an error naming the tensor and what was expected; nothing
//! panics and the model is left unchanged.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use ember_cpu::Cpu;
use ember_nn::state_dict::{
    StoredTensor, load_module, load_safetensors, remove_stale_temp_files, save_safetensors,
    write_atomic, write_atomic_with,
};
use ember_nn::{Error, Linear, Module, ReLU, Sequential};
use ember_tensor::{Tensor, seeded_rng};

fn model() -> Sequential<Cpu> {
    let mut rng = seeded_rng(3);
    Sequential::new()
        .append(Linear::new(4, 3, &mut rng, &Cpu).unwrap())
        .append(ReLU)
        .append(Linear::new(3, 2, &mut rng, &Cpu).unwrap())
}

fn save(path: &Path, tensors: Vec<(&str, Tensor<Cpu>)>) {
    let tensors: Vec<(String, Tensor<Cpu>)> = tensors
        .into_iter()
        .map(|(n, t)| (n.to_string(), t))
        .collect();
    save_safetensors(path, &tensors, &BTreeMap::new()).unwrap();
}

fn load_into_model(path: &Path) -> (Sequential<Cpu>, Vec<StoredTensor>, Result<(), Error>) {
    let m = model();
    let before = host_state(&m);
    let result = load_safetensors(path).and_then(|d| load_module(&m, &d));
    (m, before, result)
}

fn host_state(m: &dyn Module<Cpu>) -> Vec<StoredTensor> {
    m.state_dict()
        .iter()
        .map(|(_, t)| t.to_stored().unwrap())
        .collect()
}

fn assert_unchanged(m: &dyn Module<Cpu>, before: &[StoredTensor]) {
    assert_eq!(host_state(m), before, "a failed load changed the model");
}

fn good_tensors() -> Vec<(&'static str, Tensor<Cpu>)> {
    model()
        .state_dict()
        .into_iter()
        .map(|(n, t)| {
            (
                match n.as_str() {
                    "0.weight" => "0.weight",
                    "0.bias" => "0.bias",
                    "2.weight" => "2.weight",
                    _ => "2.bias",
                },
                t.as_f32().expect("Linear has only F32 parameters").clone(),
            )
        })
        .collect()
}

#[test]
fn missing_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.safetensors");
    let mut tensors = good_tensors();
    tensors.retain(|(n, _)| *n != "2.bias");
    save(&path, tensors);
    let (m, before, result) = load_into_model(&path);
    let err = result.unwrap_err();
    assert!(
        matches!(err, Error::MissingTensor { ref name, .. } if name == "2.bias"),
        "{err}"
    );
    assert!(err.to_string().contains("[2]"), "{err}");
    assert_unchanged(&m, &before);
}

#[test]
fn extra_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.safetensors");
    let mut tensors = good_tensors();
    tensors.push(("4.weight", Tensor::zeros([2, 2], &Cpu).unwrap()));
    save(&path, tensors);
    let (m, before, result) = load_into_model(&path);
    let err = result.unwrap_err();
    assert!(
        matches!(err, Error::UnexpectedTensor { ref name, .. } if name == "4.weight"),
        "{err}"
    );
    assert_unchanged(&m, &before);
}

#[test]
fn wrong_shape() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.safetensors");
    let mut tensors = good_tensors();
    tensors[0].1 = Tensor::zeros([4, 3], &Cpu).unwrap();
    save(&path, tensors);
    let (m, before, result) = load_into_model(&path);
    let err = result.unwrap_err();
    assert!(
        matches!(err, Error::ShapeMismatch { ref name, .. } if name == "0.weight"),
        "{err}"
    );
    assert!(
        err.to_string().contains("[3, 4]") && err.to_string().contains("[4, 3]"),
        "{err}"
    );
    assert_unchanged(&m, &before);
}

#[test]
fn wrong_dtype() {
    use safetensors::tensor::{Dtype, TensorView};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.safetensors");
    let bytes = vec![0u8; 8 * 12];
    let view = TensorView::new(Dtype::F64, vec![3, 4], &bytes).unwrap();
    let data = safetensors::serialize(vec![("0.weight", view)], None).unwrap();
    std::fs::write(&path, data).unwrap();
    let (m, before, result) = load_into_model(&path);
    let err = result.unwrap_err();
    assert!(
        matches!(err, Error::DtypeMismatch { ref name, .. } if name == "0.weight"),
        "{err}"
    );
    assert!(err.to_string().contains("F64"), "{err}");
    assert_unchanged(&m, &before);
}

#[test]
fn truncated_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.safetensors");
    save(&path, good_tensors());
    let bytes = std::fs::read(&path).unwrap();
    for cut in [0, 4, 8, 20, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let (m, before, result) = load_into_model(&path);
        let err = result.unwrap_err();
        assert!(
            matches!(err, Error::CorruptCheckpoint { .. }),
            "cut at {cut}: {err}"
        );
        assert_unchanged(&m, &before);
    }
}

#[test]
fn garbage_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.safetensors");
    for garbage in [b"not a checkpoint at all".to_vec(), vec![0xff; 64], {
        let mut v = 16u64.to_le_bytes().to_vec();
        v.extend_from_slice(b"{\"a\": [1, 2, 3]}");
        v
    }] {
        std::fs::write(&path, garbage).unwrap();
        let err = load_safetensors(&path).unwrap_err();
        assert!(matches!(err, Error::CorruptCheckpoint { .. }), "{err}");
        assert!(err.to_string().contains("c.safetensors"), "{err}");
    }
}

#[test]
fn missing_file() {
    let err = load_safetensors("/nonexistent/dir/model.safetensors").unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("/nonexistent/dir/model.safetensors"),
        "{err}"
    );
}

#[test]
fn atomic_write_replaces_whole_files_and_leaves_no_temporaries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.safetensors");
    write_atomic(&path, b"first").unwrap();
    write_atomic(&path, b"second").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"second");
    let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(entries.len(), 1, "temporary files were left behind");
    // A write into a missing directory fails cleanly and leaves the old file alone.
    let err = write_atomic(&dir.path().join("missing/x.safetensors"), b"x").unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
}

#[test]
fn a_failed_write_leaves_the_old_file_and_no_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chart.png");
    write_atomic(&path, b"old and whole").unwrap();
    // The disk fills up halfway through the new file.
    let err = write_atomic_with(&path, |file| {
        file.write_all(b"new but")?;
        Err(std::io::Error::from(std::io::ErrorKind::StorageFull))
    })
    .unwrap_err();
    assert!(err.to_string().contains(".chart.png.tmp-"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"old and whole");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("chart.png")]);
}

#[test]
fn stale_temporaries_of_dead_writers_are_removed_and_live_ones_kept() {
    let dir = tempfile::tempdir().unwrap();
    // A process that has exited: its id names no running process.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let stale = dir
        .path()
        .join(format!(".checkpoint.safetensors.tmp-{dead}"));
    let live = dir
        .path()
        .join(format!(".summary.json.tmp-{}", std::process::id()));
    let unrelated = [".tmp-12", "notes.tmp-12", ".hidden", "model.safetensors"];
    for path in [&stale, &live] {
        std::fs::write(path, b"half").unwrap();
    }
    for name in unrelated {
        std::fs::write(dir.path().join(name), b"keep").unwrap();
    }
    let removed = remove_stale_temp_files(dir.path()).unwrap();
    assert_eq!(removed, vec![stale.clone()]);
    assert!(!stale.exists());
    assert!(live.exists());
    for name in unrelated {
        assert!(dir.path().join(name).exists(), "{name} was removed");
    }
}
