//! The run directory: a new one for every run, never a directory that holds another run's
//! files unless the user asked to overwrite it (and then the old run is cleared first, so the
//! two never mix).

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::checkpoint::{CHECKPOINT_FILE, MODEL_FILE};
use crate::{Error, Result, io_at};

/// Every file a training run writes into its directory.
pub const RUN_FILES: &[&str] = &[
    CHECKPOINT_FILE,
    MODEL_FILE,
    crate::metrics::METRICS_FILE,
    crate::metrics::SUMMARY_FILE,
    crate::charts::LOSS_CHART,
    crate::charts::GRAD_NORMS_CHART,
];

/// Whether `dir` holds a file of a training run.
pub fn holds_run(dir: &Path) -> bool {
    RUN_FILES.iter().any(|f| dir.join(f).exists())
}

/// Creates and returns a directory `runs/<experiment>-<UTC time to the millisecond>` that did
/// not exist before: the creation itself is the check, so runs started in the same millisecond,
/// or in parallel, still get a directory each (`-2`, `-3`, … is appended).
pub fn create_unique(parent: &Path, prefix: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(parent).map_err(io_at(parent))?;
    let base = format!("{prefix}-{}", utc_timestamp(SystemTime::now()));
    for n in 1u32.. {
        let dir = match n {
            1 => parent.join(&base),
            _ => parent.join(format!("{base}-{n}")),
        };
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_at(&dir)(e)),
        }
    }
    unreachable!("u32 ran out of run directory suffixes")
}

/// Makes `dir` ready for a new run: created if missing; if it holds another run, an error
/// unless `overwrite`, in which case that run's files are removed first.
pub fn prepare_fresh(dir: &Path, overwrite: bool) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io_at(dir))?;
    if holds_run(dir) {
        if !overwrite {
            return Err(Error::RunExists {
                dir: dir.to_path_buf(),
            });
        }
        for file in RUN_FILES {
            let path = dir.join(file);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_at(&path)(e)),
            }
        }
    }
    remove_stale_temp_files(dir)
}

/// Removes the temporary files an interrupted write of this trainer left in `dir`.
pub fn remove_stale_temp_files(dir: &Path) -> Result<()> {
    ember_nn::state_dict::remove_stale_temp_files(dir)?;
    Ok(())
}

/// `YYYYMMDD-HHMMSS.mmm` in UTC.
fn utc_timestamp(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}.{:03}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_utc_to_the_millisecond() {
        let t = UNIX_EPOCH + Duration::from_millis(1_764_615_370_042);
        assert_eq!(utc_timestamp(t), "20251201-185610.042");
    }

    #[test]
    fn directories_created_in_the_same_instant_are_distinct() {
        let parent = tempfile::tempdir().unwrap();
        let dirs: Vec<PathBuf> = (0..5)
            .map(|_| create_unique(parent.path(), "mlp").unwrap())
            .collect();
        let mut unique = dirs.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 5, "{dirs:?}");
    }
}
