//! Removing what a run no longer needs: its staged object once no job reads
//! it, a failed job's segment, and what other runs of the same data left.
//! Best effort: what cannot be removed is logged (and reported by the step
//! that asked).

use super::calls::Calls;
use super::host::{Level, Runtime, Stage, Transport};
use super::outcome::Target;
use super::staging::StagedObject;
use crate::aws::pinpoint::{ImportJob, Segment};
use crate::aws::{s3, urls};
use crate::error::{ErrorKind, NodeError};

/// Keys asked of the one `ListObjectsV2` page that finds objects left
/// under the data's stem.
const LIST_KEYS: u32 = 1000;

/// Reports the clean-up stage. A cancelled run still sends its clean-up
/// requests, each in one short try
/// ([`Client::cleaning_up`](super::client::Client::cleaning_up)).
pub fn start<T: Transport, R: Runtime>(calls: &mut Calls<'_, T, R>) {
    calls.progress(Stage::CleaningUp, 0, None);
    calls.client.cleaning_up = calls.client.runtime.cancelled();
}

/// Deletes `object` if the settings allow; whether it is gone, or why it
/// could not be deleted (also logged).
pub fn delete_staged_object<T: Transport, R: Runtime>(
    calls: &mut Calls<'_, T, R>,
    object: &StagedObject,
) -> Result<bool, String> {
    if !calls.settings().delete_staged_object {
        return Ok(false);
    }
    match calls.delete_object(object) {
        Ok(()) => Ok(true),
        Err(e) => {
            calls.log(
                Level::Warn,
                &format!(
                    "could not delete the staged file {}: {}",
                    object.s3_url, e.message
                ),
            );
            Err(e.message)
        }
    }
}

/// A FAILED job: delete its segment (best effort) if the run made it, and
/// report the failures. A segment the job was to give a new version
/// (`target` [`Target::NewVersion`]) existed before the run: it is never
/// deleted.
pub fn failed_job<T: Transport, R: Runtime>(
    calls: &mut Calls<'_, T, R>,
    job: ImportJob,
    segment_id: String,
    target: Target,
) -> NodeError {
    let fate = match target {
        Target::NewSegment => {
            start(calls);
            if calls.delete_segment(&segment_id).is_ok() {
                "was deleted"
            } else {
                "could not be deleted and may remain"
            }
        }
        Target::NewVersion => {
            "existed before this run and is kept: its earlier version stays what campaigns target"
        }
    };
    let first = job
        .failures
        .first()
        .cloned()
        .unwrap_or_else(|| "no reason given".to_owned());
    let mut err = NodeError::new(
        ErrorKind::ImportJobFailed,
        format!(
            "Pinpoint's import job {} failed: {first}; the segment {segment_id} {fate}",
            job.id
        ),
    );
    err.details.import_job_id = Some(job.id);
    err.details.segment_id = Some(segment_id);
    err.details.failures = job.failures;
    err
}

/// Deletes the objects of this data that no running import job reads:
/// left by runs that stopped after `PutObject` and before their job (or
/// before deleting). Called once this data's segment has its import
/// completed, so a run that could still use one loses its name to that
/// segment. Best effort: one page of `ListObjectsV2`; failures are
/// logged (without `s3:ListBucket` nothing is swept).
pub fn sweep<T: Transport, R: Runtime>(calls: &mut Calls<'_, T, R>) {
    let Ok(uri) = urls::s3_list_uri(calls.settings(), calls.data.stem(), LIST_KEYS) else {
        return;
    };
    let listed = match calls.client.s3("ListObjectsV2", &s3::list_objects(&uri)) {
        Ok(response) => s3::listed_keys(response.body()),
        Err(e) => {
            calls.log(
                Level::Info,
                &format!(
                    "could not list the staging prefix for objects that earlier runs of this data left ({}); they stay",
                    e.message
                ),
            );
            return;
        }
    };
    let left: Vec<String> = listed.into_iter().filter(|k| calls.data.holds(k)).collect();
    if left.is_empty() {
        return;
    }
    let running = match calls.objects_of_running_jobs() {
        Ok(running) => running,
        Err(e) => {
            calls.log(
                Level::Info,
                &format!(
                    "could not list the import jobs, so objects that earlier runs of this data left stay: {}",
                    e.message
                ),
            );
            return;
        }
    };
    for key in left {
        if running.contains(&calls.data.s3_url(&key)) {
            continue;
        }
        if let Ok(object) = calls.object(&key)
            && delete_staged_object(calls, &object) == Ok(true)
        {
            calls.log(
                Level::Info,
                &format!(
                    "deleted {}, staged by an earlier run of this data that did not finish",
                    object.s3_url
                ),
            );
        }
    }
}

/// Removes, besides `winner`, the segments of the name made from this
/// data whose job has ended: a run of this data lost the name and did
/// not finish removing them (object, then segment). Best effort: failures
/// are logged.
pub fn remove_leftovers<T: Transport, R: Runtime>(
    calls: &mut Calls<'_, T, R>,
    named: &[Segment],
    winner: &str,
) {
    let leftovers: Vec<(String, String)> = named
        .iter()
        .filter(|s| s.id != winner)
        .filter_map(|s| {
            let key = calls.data.key_of_segment(s)?;
            Some((s.id.clone(), key.to_owned()))
        })
        .collect();
    for (id, key) in leftovers {
        let url = calls.data.s3_url(&key);
        match calls.job_for(&id, &url) {
            Ok(Some(job)) if job.is_terminal() => {}
            // Still running (its run removes it when it ends), or not found.
            Ok(_) => continue,
            Err(e) => {
                calls.log(
                    Level::Warn,
                    &format!("could not look up the job of segment {id}: {}", e.message),
                );
                continue;
            }
        }
        calls.progress(Stage::CleaningUp, 0, None);
        let Ok(object) = calls.object(&key) else {
            continue;
        };
        let _ = delete_staged_object(calls, &object);
        match calls.delete_segment(&id) {
            Ok(()) => calls.log(
                Level::Info,
                &format!("removed segment {id}, left by a run of this data that lost the name"),
            ),
            Err(e) => calls.log(
                Level::Warn,
                &format!(
                    "could not remove segment {id}, left by a run of this data that lost the name: {}",
                    e.message
                ),
            ),
        }
    }
}
