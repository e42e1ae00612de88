//! The downloader against a small HTTP/1.1 server on 127.0.0.1 started by each test.
#![cfg(feature = "download")]

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ember_data::idx::encode_idx;
use ember_data::{
    DatasetKind, DownloadFailure, DownloadOptions, Error, ExpectedFile, FileOutcome,
    download_dataset, verify_dir,
};
use md5::{Digest, Md5};

/// How the server answers a path.
#[derive(Clone)]
enum Reply {
    /// 200 with the body and a correct Content-Length.
    Ok(Vec<u8>),
    /// 200 announcing `claimed` bytes, sending `body`, then closing.
    Truncated { body: Vec<u8>, claimed: usize },
    /// 200 with chunked encoding; sends the first half of the body, then closes.
    DropMidway(Vec<u8>),
}

/// A one-thread HTTP/1.1 server answering GETs from a fixed table (404 otherwise). It stops
/// when dropped, or by itself after 10 s.
struct TestServer {
    port: u16,
    stop: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    fn start(routes: HashMap<String, Reply>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (stop2, requests2) = (stop.clone(), requests.clone());
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(10);
            while !stop2.load(Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        if let Some(path) = serve(stream, &routes) {
                            requests2.lock().unwrap().push(path);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Self {
            port,
            stop,
            requests,
            thread: Some(thread),
        }
    }

    /// Base URL of a mirror living under `/prefix/`.
    fn mirror(&self, prefix: &str) -> String {
        format!("http://127.0.0.1:{}/{prefix}/", self.port)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one request and answers it; returns the requested path.
fn serve(mut stream: TcpStream, routes: &HashMap<String, Reply>) -> Option<String> {
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        request.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&request);
    let path = text.split_whitespace().nth(1)?.to_owned();
    let _ = match routes.get(&path) {
        None => stream.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found",
        ),
        Some(Reply::Ok(body)) => respond(&mut stream, body, body.len()),
        Some(Reply::Truncated { body, claimed }) => respond(&mut stream, body, *claimed),
        Some(Reply::DropMidway(body)) => {
            let half = &body[..body.len() / 2];
            let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
            stream
                .write_all(head.as_bytes())
                .and_then(|_| stream.write_all(format!("{:x}\r\n", half.len()).as_bytes()))
                .and_then(|_| stream.write_all(half))
                .and_then(|_| stream.write_all(b"\r\n"))
        }
    };
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Both);
    Some(path)
}

fn respond(stream: &mut TcpStream, body: &[u8], content_length: usize) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {content_length}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)
}

fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// The four gzipped files of a tiny data set: (name, bytes).
fn tiny_dataset_files() -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for (prefix, n) in [("train", 30), ("t10k", 10)] {
        let (images, labels) = common::synthetic(n);
        files.push((
            format!("{prefix}-images-idx3-ubyte.gz"),
            encode_idx(&[n, 28, 28], &images, true).unwrap(),
        ));
        files.push((
            format!("{prefix}-labels-idx1-ubyte.gz"),
            encode_idx(&[n], &labels, true).unwrap(),
        ));
    }
    files
}

/// Options for `files` (with their true MD5) and the given mirrors, no progress bar.
fn options(files: &[(String, Vec<u8>)], mirrors: Vec<String>) -> DownloadOptions {
    DownloadOptions::for_dataset(DatasetKind::FashionMnist)
        .with_mirrors(mirrors)
        .with_files(
            files
                .iter()
                .map(|(name, bytes)| ExpectedFile {
                    name: name.clone(),
                    md5: md5_hex(bytes),
                })
                .collect(),
        )
        .with_timeout(Duration::from_secs(2))
        .with_progress(false)
}

/// One gzipped file, large enough to need several reads.
fn one_file() -> Vec<(String, Vec<u8>)> {
    let (images, _) = common::synthetic(200);
    let noisy: Vec<u8> = images
        .iter()
        .enumerate()
        .map(|(i, &p)| p ^ ((i as u32).wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    vec![(
        "train-images-idx3-ubyte.gz".to_owned(),
        encode_idx(&[200, 28, 28], &noisy, true).unwrap(),
    )]
}

/// The single failed attempt of a `DownloadFailed` error.
fn only_failure(err: &Error) -> &DownloadFailure {
    match err {
        Error::DownloadFailed { attempts, .. } => {
            assert_eq!(attempts.len(), 1, "{err}");
            &attempts[0].failure
        }
        other => panic!("expected DownloadFailed, got {other}"),
    }
}

fn assert_nothing_left(dir: &Path) {
    assert_eq!(common::dir_entries(dir), Vec::<String>::new());
}

#[test]
fn downloads_all_files_then_skips_them() {
    let files = tiny_dataset_files();
    let routes = files
        .iter()
        .map(|(name, bytes)| (format!("/m/{name}"), Reply::Ok(bytes.clone())))
        .collect();
    let server = TestServer::start(routes);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("fashion");
    let opts = options(&files, vec![server.mirror("m")]);

    let report = download_dataset(DatasetKind::FashionMnist, &target, &opts).unwrap();
    assert_eq!(report.files.len(), 4);
    for (file, (name, bytes)) in report.files.iter().zip(&files) {
        assert_eq!(&file.name, name);
        assert_eq!(file.bytes, bytes.len() as u64);
        assert_eq!(file.md5, md5_hex(bytes));
        assert_eq!(file.sha256, hex::encode(sha2::Sha256::digest(bytes)));
        assert_eq!(std::fs::read(&file.path).unwrap(), *bytes);
        assert!(
            matches!(&file.outcome, FileOutcome::Downloaded { url, failed_attempts }
            if url.ends_with(name.as_str()) && failed_attempts.is_empty())
        );
    }
    let mut names: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
    names.sort();
    assert_eq!(common::dir_entries(&target), names);
    let verified = verify_dir(DatasetKind::FashionMnist, &target).unwrap();
    assert_eq!((verified.train.len, verified.test.len), (30, 10));

    // Second run: everything is present and valid, nothing is requested.
    let before = server.requests().len();
    let again = download_dataset(DatasetKind::FashionMnist, &target, &opts).unwrap();
    assert!(
        again
            .files
            .iter()
            .all(|f| f.outcome == FileOutcome::AlreadyPresent)
    );
    assert_eq!(server.requests().len(), before);
}

#[test]
fn not_found_on_first_mirror_then_next_mirror() {
    let files = one_file();
    let (name, bytes) = &files[0];
    let server = TestServer::start(HashMap::from([(
        format!("/second/{name}"),
        Reply::Ok(bytes.clone()),
    )]));
    let dir = tempfile::tempdir().unwrap();
    let opts = options(
        &files,
        vec![server.mirror("first"), server.mirror("second")],
    );
    let report = download_dataset(DatasetKind::Mnist, dir.path(), &opts).unwrap();
    match &report.files[0].outcome {
        FileOutcome::Downloaded {
            url,
            failed_attempts,
        } => {
            assert_eq!(url, &format!("{}{name}", server.mirror("second")));
            assert_eq!(failed_attempts.len(), 1);
            assert_eq!(
                failed_attempts[0].failure,
                DownloadFailure::HttpStatus { status: 404 }
            );
            assert!(failed_attempts[0].url.contains("/first/"));
        }
        other => panic!("unexpected outcome {other:?}"),
    }
    assert_eq!(std::fs::read(dir.path().join(name)).unwrap(), *bytes);
    assert_eq!(common::dir_entries(dir.path()), [name.as_str()]);
}

#[test]
fn truncated_body_is_rejected_and_cleaned_up() {
    let files = one_file();
    let (name, bytes) = &files[0];
    let sent = bytes[..bytes.len() / 2].to_vec();
    let server = TestServer::start(HashMap::from([(
        format!("/m/{name}"),
        Reply::Truncated {
            body: sent.clone(),
            claimed: bytes.len(),
        },
    )]));
    let dir = tempfile::tempdir().unwrap();
    let err = download_dataset(
        DatasetKind::Mnist,
        dir.path(),
        &options(&files, vec![server.mirror("m")]),
    )
    .unwrap_err();
    assert_eq!(
        only_failure(&err),
        &DownloadFailure::TruncatedBody {
            expected: bytes.len() as u64,
            received: sent.len() as u64
        }
    );
    assert!(err.to_string().contains("body truncated"), "{err}");
    assert_nothing_left(dir.path());
}

#[test]
fn wrong_checksum_is_rejected_and_cleaned_up() {
    let files = one_file();
    let (name, bytes) = &files[0];
    let server = TestServer::start(HashMap::from([(
        format!("/m/{name}"),
        Reply::Ok(bytes.clone()),
    )]));
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(&files, vec![server.mirror("m")]);
    opts.files[0].md5 = "0123456789abcdef0123456789abcdef".into();
    let err = download_dataset(DatasetKind::Mnist, dir.path(), &opts).unwrap_err();
    assert_eq!(
        only_failure(&err),
        &DownloadFailure::ChecksumMismatch {
            expected: "0123456789abcdef0123456789abcdef".into(),
            actual: md5_hex(bytes),
        }
    );
    assert!(err.to_string().contains("MD5 mismatch"), "{err}");
    assert_nothing_left(dir.path());
}

#[test]
fn connection_dropped_mid_file_is_rejected_and_cleaned_up() {
    let files = one_file();
    let (name, bytes) = &files[0];
    let server = TestServer::start(HashMap::from([(
        format!("/m/{name}"),
        Reply::DropMidway(bytes.clone()),
    )]));
    let dir = tempfile::tempdir().unwrap();
    let err = download_dataset(
        DatasetKind::Mnist,
        dir.path(),
        &options(&files, vec![server.mirror("m")]),
    )
    .unwrap_err();
    match only_failure(&err) {
        DownloadFailure::BodyInterrupted { received, .. } => {
            assert!(*received <= bytes.len() as u64 / 2, "{err}");
        }
        other => panic!("expected BodyInterrupted, got {other}"),
    }
    assert!(err.to_string().contains("connection lost"), "{err}");
    assert_nothing_left(dir.path());
}

#[test]
fn all_mirrors_failing_lists_every_url_and_advice() {
    let files = one_file();
    let (name, bytes) = &files[0];
    let server = TestServer::start(HashMap::from([(
        format!("/bad/{name}"),
        Reply::Truncated {
            body: bytes[..10].to_vec(),
            claimed: bytes.len(),
        },
    )]));
    // A port nobody listens on: connection refused.
    let closed_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let refused = format!("http://127.0.0.1:{closed_port}/x/");
    let mirrors = vec![
        server.mirror("missing"),
        server.mirror("bad"),
        refused.clone(),
    ];
    let dir = tempfile::tempdir().unwrap();
    let err = download_dataset(
        DatasetKind::FashionMnist,
        dir.path(),
        &options(&files, mirrors.clone()),
    )
    .unwrap_err();
    let Error::DownloadFailed { attempts, .. } = &err else {
        panic!("expected DownloadFailed, got {err}");
    };
    assert_eq!(attempts.len(), 3);
    assert_eq!(
        attempts[0].failure,
        DownloadFailure::HttpStatus { status: 404 }
    );
    assert!(matches!(
        attempts[1].failure,
        DownloadFailure::TruncatedBody { .. }
    ));
    assert!(matches!(
        attempts[2].failure,
        DownloadFailure::Request { .. }
    ));
    let msg = err.to_string();
    for mirror in &mirrors {
        assert!(msg.contains(&format!("{mirror}{name}")), "{msg}");
    }
    assert!(
        msg.contains("HTTP 404") && msg.contains("body truncated"),
        "{msg}"
    );
    assert!(
        msg.contains("by hand") && msg.contains("--data-dir"),
        "{msg}"
    );
    assert!(msg.contains("/usr/share/datasets/fashion-mnist"), "{msg}");
    assert_nothing_left(dir.path());
}

#[test]
fn invalid_existing_file_is_replaced() {
    let files = one_file();
    let (name, bytes) = &files[0];
    let server = TestServer::start(HashMap::from([(
        format!("/m/{name}"),
        Reply::Ok(bytes.clone()),
    )]));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(name), b"stale").unwrap();
    let report = download_dataset(
        DatasetKind::Mnist,
        dir.path(),
        &options(&files, vec![server.mirror("m")]),
    )
    .unwrap();
    assert!(matches!(
        report.files[0].outcome,
        FileOutcome::Downloaded { .. }
    ));
    assert_eq!(std::fs::read(dir.path().join(name)).unwrap(), *bytes);
    assert_eq!(common::dir_entries(dir.path()), [name.as_str()]);
}

#[test]
fn invalid_options_are_rejected_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let no_mirrors =
        DownloadOptions::for_dataset(DatasetKind::Mnist).with_mirrors(Vec::<String>::new());
    let err = download_dataset(DatasetKind::Mnist, dir.path(), &no_mirrors).unwrap_err();
    assert!(matches!(err, Error::InvalidDownloadOptions { .. }), "{err}");
    let mut bad_md5 = DownloadOptions::for_dataset(DatasetKind::Mnist);
    bad_md5.files[0].md5 = "xyz".into();
    let err = download_dataset(DatasetKind::Mnist, dir.path(), &bad_md5).unwrap_err();
    assert!(err.to_string().contains("not 32 hex digits"), "{err}");
}

#[test]
fn default_options_use_the_published_mirrors_and_checksums() {
    let opts = DownloadOptions::for_dataset(DatasetKind::Mnist);
    assert_eq!(
        opts.mirrors[0],
        "https://ossci-datasets.s3.amazonaws.com/mnist/"
    );
    assert_eq!(opts.mirrors.len(), 3);
    assert_eq!(opts.files[0].name, "train-images-idx3-ubyte.gz");
    assert_eq!(opts.files[0].md5, "f68b3c2dcbeaaa9fbdd348bbdeb94873");
    let fashion = DownloadOptions::for_dataset(DatasetKind::FashionMnist);
    assert_eq!(
        fashion.mirrors[0],
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
    );
    assert_eq!(fashion.files[3].md5, "bb300cfdad3c16e7a12a480ee83cd310");
}
