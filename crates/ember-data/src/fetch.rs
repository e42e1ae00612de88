//! The HTTP half of the downloader (the `download` feature): one file fetched from one mirror
//! into a temporary file beside its final path, hashed as it arrives, checked and renamed into
//! place.

use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tempfile::NamedTempFile;

use crate::download::{CHUNK_BYTES, Digests, Hasher};
use crate::error::{DownloadFailure, Error, Result};

/// HTTP agents: one honouring proxy settings from the environment, one without a proxy for
/// loopback hosts.
pub(crate) struct Client {
    agent: ureq::Agent,
    direct: ureq::Agent,
}

impl Client {
    pub(crate) fn new(timeout: Duration) -> Self {
        let config = |proxy: bool| {
            let builder = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_connect(Some(timeout))
                .timeout_recv_response(Some(timeout))
                .timeout_per_read(Some(timeout))
                .user_agent(concat!("ember-data/", env!("CARGO_PKG_VERSION")));
            if proxy {
                builder.build()
            } else {
                builder.proxy(None).build()
            }
        };
        Self {
            agent: ureq::Agent::new_with_config(config(true)),
            direct: ureq::Agent::new_with_config(config(false)),
        }
    }

    fn agent_for(&self, url: &str) -> &ureq::Agent {
        let host = url
            .parse::<ureq::http::Uri>()
            .ok()
            .and_then(|uri| uri.host().map(str::to_owned));
        let is_loopback = host.is_some_and(|h| {
            let h = h.trim_start_matches('[').trim_end_matches(']');
            h.eq_ignore_ascii_case("localhost")
                || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        });
        if is_loopback {
            &self.direct
        } else {
            &self.agent
        }
    }
}

/// Fetches `url` into a temporary file beside `final_path`, checks it and renames it into
/// place.
///
/// The outer `Result` carries local failures, which abort the whole download; the inner one
/// carries failures of this mirror, after which the next mirror is tried. Either way the
/// temporary file is gone afterwards (`NamedTempFile` removes it when dropped).
pub(crate) fn fetch_to_final(
    client: &Client,
    url: &str,
    final_path: &Path,
    expected_md5: &str,
    progress: bool,
) -> Result<Result<Digests, DownloadFailure>> {
    let response = match client.agent_for(url).get(url).call() {
        Ok(response) => response,
        Err(e) => {
            return Ok(Err(DownloadFailure::Request {
                message: e.to_string(),
            }));
        }
    };
    let status = response.status();
    if !status.is_success() {
        return Ok(Err(DownloadFailure::HttpStatus {
            status: status.as_u16(),
        }));
    }
    let content_length = response.body().content_length();
    let mut body = response.into_body().into_reader();

    let dir = crate::idx::parent_dir(final_path);
    let name = final_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = tempfile::Builder::new()
        .prefix(&format!(".{name}.part-{}-", std::process::id()))
        .tempfile_in(&dir)
        .map_err(|e| Error::io("create a temporary file in", &dir, e))?;
    let temp_path = temp.path().to_path_buf();
    let mut writer = BufWriter::with_capacity(CHUNK_BYTES, temp);
    let bar = progress_bar(progress, &name, content_length);

    let mut hasher = Hasher::default();
    let mut chunk = vec![0u8; CHUNK_BYTES];
    let read_failure = loop {
        match body.read(&mut chunk) {
            Ok(0) => break None,
            Ok(n) => {
                hasher.update(&chunk[..n]);
                bar.inc(n as u64);
                writer
                    .write_all(&chunk[..n])
                    .map_err(|e| Error::io("write", &temp_path, e))?;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break Some(e),
        }
    };
    bar.finish_and_clear();
    let received = hasher.bytes;
    if let Some(expected) = content_length.filter(|&len| received < len) {
        return Ok(Err(DownloadFailure::TruncatedBody { expected, received }));
    }
    if let Some(e) = read_failure {
        return Ok(Err(DownloadFailure::BodyInterrupted {
            received,
            message: e.to_string(),
        }));
    }

    let digests = hasher.finish();
    if digests.md5 != expected_md5 {
        return Ok(Err(DownloadFailure::ChecksumMismatch {
            expected: expected_md5.to_owned(),
            actual: digests.md5,
        }));
    }
    let temp = writer
        .into_inner()
        .map_err(|e| Error::io("write", &temp_path, e.into_error()))?;
    persist(temp, &temp_path, final_path, &dir)?;
    Ok(Ok(digests))
}

/// Flushes the temporary file to disk and renames it onto `final_path`.
fn persist(temp: NamedTempFile, temp_path: &Path, final_path: &Path, dir: &Path) -> Result<()> {
    temp.as_file()
        .sync_all()
        .map_err(|e| Error::io("flush to disk", temp_path, e))?;
    temp.persist(final_path)
        .map_err(|e| Error::io("rename a temporary file onto", final_path, e.error))?;
    crate::idx::sync_dir(dir);
    Ok(())
}

/// A byte-count progress bar on stderr, or a hidden one.
fn progress_bar(enabled: bool, name: &str, len: Option<u64>) -> ProgressBar {
    if !enabled || !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
    let template = if len.is_some() {
        "{msg:28} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"
    } else {
        "{msg:28} {spinner} {bytes} {bytes_per_sec}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(name.to_owned());
    bar
}
