//! IDX codec: round trips, and one error variant per kind of corruption.

mod common;

use std::path::Path;

use ember_data::idx::{MAX_ELEMENTS, encode_idx, read_idx_bytes};
use ember_data::{Error, IdxArray, read_idx, write_idx};

fn sample_array() -> IdxArray {
    IdxArray {
        dims: vec![3, 4, 5],
        data: (0..60).collect(),
    }
}

/// Writes the sample array raw, applies `mutate` to the bytes, and reads them back.
fn read_mutated_raw(mutate: impl FnOnce(&mut Vec<u8>)) -> Result<IdxArray, Error> {
    let a = sample_array();
    let mut bytes = encode_idx(&a.dims, &a.data, false).unwrap();
    mutate(&mut bytes);
    read_idx_bytes(&bytes, "mutated.idx")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn round_trip_raw_and_gzip_files() {
    let dir = tempfile::tempdir().unwrap();
    let a = sample_array();
    for (name, gz) in [("a.idx", false), ("a.idx.gz", true)] {
        let path = dir.path().join(name);
        write_idx(&path, &a.dims, &a.data, gz).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.starts_with(&[0x1f, 0x8b]), gz);
        assert_eq!(read_idx(&path).unwrap(), a);
    }
    // Atomic writes leave no temporary files behind.
    assert_eq!(common::dir_entries(dir.path()), ["a.idx", "a.idx.gz"]);
}

#[test]
fn write_replaces_existing_file_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.idx");
    write_idx(&path, &[2], &[1, 2], false).unwrap();
    write_idx(&path, &[3], &[7, 8, 9], true).unwrap();
    assert_eq!(read_idx(&path).unwrap().data, [7, 8, 9]);
    assert_eq!(common::dir_entries(dir.path()), ["x.idx"]);
}

#[test]
fn writer_rejects_data_that_disagrees_with_dims() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.idx");
    let short = write_idx(&path, &[2, 3], &[0; 5], false).unwrap_err();
    assert!(
        matches!(
            short,
            Error::TruncatedData {
                expected: 6,
                found: 5,
                ..
            }
        ),
        "{short}"
    );
    let long = write_idx(&path, &[2, 3], &[0; 7], false).unwrap_err();
    assert!(
        matches!(long, Error::TrailingBytes { extra: 1, .. }),
        "{long}"
    );
    let rank = write_idx(&path, &[], &[], false).unwrap_err();
    assert!(matches!(rank, Error::BadRank { rank: 0, .. }), "{rank}");
    assert!(!path.exists());
    assert!(common::dir_entries(dir.path()).is_empty());
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let err = read_idx("/nonexistent/dir/file.idx").unwrap_err();
    assert!(matches!(err, Error::Io { action: "open", .. }), "{err}");
    assert!(
        err.to_string().contains("/nonexistent/dir/file.idx"),
        "{err}"
    );
}

#[test]
fn bad_magic() {
    let err = read_mutated_raw(|b| b[0] = 0x12).unwrap_err();
    assert!(
        matches!(
            err,
            Error::BadMagic {
                found: [0x12, 0x00],
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("mutated.idx"), "{err}");
    let err = read_mutated_raw(|b| b[1] = 0xff).unwrap_err();
    assert!(
        matches!(
            err,
            Error::BadMagic {
                found: [0x00, 0xff],
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn valid_but_unsupported_element_type() {
    for (code, name) in [
        (0x09, "signed byte"),
        (0x0D, "32-bit float"),
        (0x0E, "64-bit float"),
    ] {
        let err = read_mutated_raw(|b| b[2] = code).unwrap_err();
        match &err {
            Error::UnsupportedElementType {
                code: c, type_name, ..
            } => {
                assert_eq!(*c, code);
                assert_eq!(*type_name, name);
            }
            other => panic!("expected UnsupportedElementType, got {other}"),
        }
        assert!(err.to_string().contains("only 0x08"), "{err}");
    }
}

#[test]
fn unknown_element_type() {
    for code in [0x00, 0x07, 0x0A, 0x0F, 0xFF] {
        let err = read_mutated_raw(|b| b[2] = code).unwrap_err();
        assert!(
            matches!(err, Error::UnknownElementType { code: c, .. } if c == code),
            "{err}"
        );
    }
}

#[test]
fn rank_out_of_range() {
    for rank in [0u8, 5, 255] {
        let err = read_mutated_raw(|b| b[3] = rank).unwrap_err();
        assert!(
            matches!(err, Error::BadRank { rank: r, max: 4, .. } if r == rank),
            "{err}"
        );
    }
}

#[test]
fn truncated_header() {
    for keep in [0, 1, 3, 4, 7, 15] {
        let err = read_mutated_raw(|b| b.truncate(keep)).unwrap_err();
        assert!(
            matches!(err, Error::TruncatedHeader { .. }),
            "keep {keep}: {err}"
        );
    }
}

#[test]
fn payload_shorter_than_dims() {
    let err = read_mutated_raw(|b| {
        b.pop();
    })
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::TruncatedData {
                expected: 60,
                found: 59,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("truncated"), "{err}");
}

#[test]
fn payload_longer_than_dims() {
    let err = read_mutated_raw(|b| b.extend_from_slice(&[1, 2, 3])).unwrap_err();
    assert!(
        matches!(
            err,
            Error::TrailingBytes {
                expected: 60,
                extra: 3,
                more: false,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn dims_disagreeing_with_length_inside_gzip() {
    let a = sample_array();
    let raw = encode_idx(&a.dims, &a.data, false).unwrap();
    let short = gzip(&raw[..raw.len() - 10]);
    let err = read_idx_bytes(&short, "short.gz").unwrap_err();
    assert!(
        matches!(err, Error::TruncatedData { found: 50, .. }),
        "{err}"
    );
    let mut long_raw = raw.clone();
    long_raw.push(0);
    let err = read_idx_bytes(&gzip(&long_raw), "long.gz").unwrap_err();
    assert!(
        matches!(err, Error::TrailingBytes { extra: 1, .. }),
        "{err}"
    );
}

#[test]
fn truncated_gzip_stream() {
    let a = IdxArray {
        dims: vec![100, 28, 28],
        data: (0..78_400u32).map(|i| (i * 7 % 251) as u8).collect(),
    };
    let gz = encode_idx(&a.dims, &a.data, true).unwrap();
    assert_eq!(read_idx_bytes(&gz, "whole.gz").unwrap(), a);
    for cut in [4, gz.len() / 2, gz.len() - 1] {
        let err = read_idx_bytes(&gz[..cut], "cut.gz").unwrap_err();
        assert!(matches!(err, Error::Gzip { .. }), "cut at {cut}: {err}");
        assert!(err.to_string().contains("cut.gz"), "{err}");
    }
}

#[test]
fn corrupted_gzip_stream() {
    let a = sample_array();
    let mut gz = encode_idx(&a.dims, &a.data, true).unwrap();
    let len = gz.len();
    gz[len - 6] ^= 0xff; // inside the CRC-32 / size trailer
    let err = read_idx_bytes(&gz, "crc.gz").unwrap_err();
    assert!(matches!(err, Error::Gzip { .. }), "{err}");
}

#[test]
fn header_declaring_too_many_elements() {
    // 65536 * 65536 * 2 = 2^33 elements > 2^31.
    let mut bytes = vec![0, 0, 0x08, 3];
    for d in [65_536u32, 65_536, 2] {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    let err = read_idx_bytes(&bytes, "huge.idx").unwrap_err();
    assert!(
        matches!(err, Error::TooLarge { limit, .. } if limit == MAX_ELEMENTS),
        "{err}"
    );
}

#[test]
fn huge_claim_with_little_data_is_truncated_not_allocated() {
    // 2^31 elements declared, 10 present: must fail fast with TruncatedData.
    let mut bytes = vec![0, 0, 0x08, 1];
    bytes.extend_from_slice(&(1u32 << 31).to_be_bytes());
    bytes.extend_from_slice(&[0; 10]);
    let err = read_idx_bytes(&bytes, "claim.idx").unwrap_err();
    assert!(
        matches!(err, Error::TruncatedData { found: 10, .. }),
        "{err}"
    );
}

#[test]
fn zero_sized_dimension_is_valid_and_empty() {
    let bytes = encode_idx(&[0, 28, 28], &[], false).unwrap();
    let a = read_idx_bytes(&bytes, Path::new("empty.idx")).unwrap();
    assert_eq!(a.dims, [0, 28, 28]);
    assert!(a.data.is_empty());
}
