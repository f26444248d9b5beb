//! The import flow's steps in order ([`run`]): check, look for the name,
//! stage, create and contest the name, then finish: keep the outcome and
//! clean up, or resume the segment the name already has.

use super::calls::{self, Calls};
use super::cancel_report;
use super::cleanup;
use super::client::Client;
use super::host::{Level, Runtime, Stage, Transport};
use super::job;
use super::name_race::{self, Decision};
use super::outcome::{Outcome, Target};
use super::output::ImportOutput;
use super::run_state::RunState;
use super::staging::{DataKeys, StagedObject, segment_s3_url};
use super::upload_body::{CheckKind, Hashes, UploadBody};
use super::validate::limits;
use crate::aws::pinpoint::{ImportJob, Segment};
use crate::aws::{s3, urls};
use crate::endpoints;
use crate::error::{ErrorKind, NodeError, quote};
use crate::input::{Format, ImportRequest, OnExisting};
use crate::settings::Settings;

/// Runs the whole import.
pub fn run<T: Transport, R: Runtime>(
    request: &ImportRequest,
    settings: &Settings,
    transport: &mut T,
    runtime: &mut R,
) -> Result<ImportOutput, NodeError> {
    let input = &request.input;
    input.check()?;
    let total = input.data.len() as u64;
    runtime.progress(Stage::Validating, 0, Some(total));
    // The staging bucket's URL (its scheme picks the upload's check) does
    // not depend on the key; a URL that does not parse fails below, after
    // the data's problems, as it always did.
    let kind = urls::s3_object_uri(settings, "")
        .map(|uri| CheckKind::for_uri(&uri))
        .unwrap_or(CheckKind::SignedSha256);
    // The check pass writes the staged file into the hashes of the data's
    // staging keys and of the upload's check as it goes, when it can.
    let mut hashes = Hashes::new(kind, DataKeys::hasher(input));
    let (checked, hashed) = endpoints::check_writing(
        input.format,
        &input.data,
        &limits(settings),
        &mut |done| runtime.progress(Stage::Validating, done, Some(total)),
        &mut |chunk| hashes.update(chunk),
    )?;
    runtime.log(
        Level::Info,
        &format!(
            "{} endpoints valid; {} bytes to stage",
            checked.endpoint_count, checked.staged_bytes
        ),
    );
    let (body, key_hasher) = if hashed {
        let (check, keys) = hashes.finish();
        (
            UploadBody {
                checked: &checked,
                check,
            },
            keys,
        )
    } else {
        // Part of the validation as progress goes (stages are reported in
        // order): the staged file is written once more, into the hashes.
        UploadBody::hash(&checked, Hashes::new(kind, DataKeys::hasher(input)))
    };
    let data = DataKeys::from_hasher(settings, input, key_hasher);
    let own = StagedObject::new(settings, &data, &data.key(runtime.random()))?;
    let mut flow = Flow {
        calls: Calls {
            client: Client {
                transport,
                runtime,
                settings,
                secrets: Vec::new(),
                cleaning_up: false,
            },
            input,
            data,
            pinpoint: urls::checked_pinpoint_base(settings)?,
        },
        own,
        endpoints_submitted: checked.endpoint_count,
        state: RunState::NothingMade,
        on_existing: request.on_existing,
    };
    match flow.run(&body) {
        Ok(outcome) => Ok(outcome.output),
        Err(e) if e.kind == ErrorKind::Cancelled => Err(cancel_report::cancelled(&flow.state, e)),
        Err(e) => Err(e),
    }
}

/// How the run's own segment fared.
enum Contest {
    /// It is the one of its name: the outcome.
    Won(Box<Outcome>),
    /// Another segment is.
    Lost(Box<Lost>),
}

/// A run's segment that is not the one of its name.
struct Lost {
    /// The run's job (ended, unless the run does not wait).
    job: ImportJob,
    /// The segment the job made.
    segment: String,
    /// The segment that stays.
    winner: Segment,
}

/// One run under way.
struct Flow<'a, T, R> {
    calls: Calls<'a, T, R>,
    /// This run's own staged object.
    own: StagedObject,
    /// Endpoints in the staged file.
    endpoints_submitted: u64,
    /// What the run has made so far.
    state: RunState,
    /// What to do with a segment of the name made from other data.
    on_existing: OnExisting,
}

impl<T: Transport, R: Runtime> Flow<'_, T, R> {
    fn run(&mut self, body: &UploadBody<'_, '_>) -> Result<Outcome, NodeError> {
        self.calls.progress(Stage::CheckingApplication, 0, None);
        self.calls.get_app()?;

        self.calls.progress(Stage::CheckingSegments, 0, None);
        let named = self.calls.segments_named(Some(Stage::CheckingSegments))?;
        if let Some(oldest) = name_race::oldest(&named).cloned() {
            cleanup::remove_leftovers(&mut self.calls, &named, &oldest.id);
            if let Some(key) = self.calls.data.key_of_segment(&oldest).map(str::to_owned) {
                self.calls.log(
                    Level::Info,
                    &format!(
                        "segment {} of this name was made from this data before; resuming",
                        oldest.id
                    ),
                );
                return self.resume(oldest, &key);
            }
            let target = self.version_target(oldest, "")?;
            let others: Vec<&str> = named
                .iter()
                .filter(|s| s.id != target.id)
                .map(|s| s.id.as_str())
                .collect();
            if !others.is_empty() {
                self.calls.log(
                    Level::Info,
                    &format!(
                        "segments {} also have this name; the oldest, {}, takes the new version",
                        others.join(", "),
                        target.id
                    ),
                );
            }
            // A run of this input stopped while its new version was being
            // made: wait for that one instead of making another.
            if let Some((key, job)) = self.calls.running_job_into(&target.id)? {
                self.calls.log(
                    Level::Info,
                    &format!(
                        "import job {} of this data into segment {} is still running (an earlier run of this input); waiting for it",
                        job.id, target.id
                    ),
                );
                return self.resume(target, &key);
            }
            self.stage(body)?;
            let own = self.own.clone();
            let result = self.new_version(&target);
            return self.finish(&own, result);
        }

        self.stage(body)?;
        let own = self.own.clone();
        match self.contest() {
            Ok(Contest::Won(outcome)) => self.finish(&own, Ok(*outcome)),
            Ok(Contest::Lost(lost)) => self.concede(*lost),
            Err(e) => self.finish(&own, Err(e)),
        }
    }

    /// `PutObject` of the run's own object. A run cancelled while the body
    /// was on its way ends here, through [`Flow::finish`]: S3 may have
    /// stored it.
    fn stage(&mut self, body: &UploadBody<'_, '_>) -> Result<(), NodeError> {
        self.calls
            .progress(Stage::Staging, 0, Some(body.checked.staged_bytes));
        let content_type = match body.checked.format {
            Format::Csv => "text/csv",
            Format::Json => "application/x-ndjson",
        };
        let put = s3::put_object_streamed(&self.own.uri, body.check, content_type);
        self.state.object_sent(&self.own.s3_url);
        let own = self.own.clone();
        match self.calls.client.s3_streaming("PutObject", &put, body) {
            Ok(_) => Ok(()),
            Err(e) if e.kind == ErrorKind::Cancelled => self.finish(&own, Err(e)).map(|_| ()),
            Err(e) => Err(e),
        }
    }

    /// The segment of the name, made from other data, that is to take a
    /// new version: `existing` itself when the input says `new_version` and
    /// it is an imported segment; otherwise `DuplicateSegmentName` (`more`
    /// ends its message).
    fn version_target(&self, existing: Segment, more: &str) -> Result<Segment, NodeError> {
        match self.on_existing {
            OnExisting::Fail => Err(duplicate(self.calls.name(), &existing.id, more)),
            OnExisting::NewVersion if existing.is_imported() => Ok(existing),
            OnExisting::NewVersion => {
                let kind = existing.segment_type.as_deref().unwrap_or("not imported");
                let mut err = duplicate(self.calls.name(), &existing.id, more);
                err.message = format!(
                    "{}; it cannot take a new version: it is a {} segment, defined by its criteria rather than by an imported list (only an imported segment takes an import as a new version)",
                    err.message,
                    quote(kind)
                );
                Err(err)
            }
        }
    }

    /// Imports the run's own (staged) object into `target` as a new
    /// version, waits for the job (if the settings say so), and reads the
    /// version it made. `target` existed before the run: it is never
    /// deleted, whatever the job does.
    fn new_version(&mut self, target: &Segment) -> Result<Outcome, NodeError> {
        let created = job::create(&mut self.calls, &mut self.state, &self.own, Some(&target.id))
            .map_err(|mut e| {
                if calls::is_not_found(&e) {
                    e.message = format!(
                        "segment {} of this name was deleted before its new version could be imported ({}); run again: the name is free now",
                        target.id, e.message
                    );
                    e.details.segment_id = Some(target.id.clone());
                }
                e
            })?;
        // UNCONFIRMED: that the answer names the segment imported into.
        // The job is this run's (its object is), so it is the segment's job
        // whatever the answer says; a different id is only logged.
        if let Some(other) = created
            .definition
            .segment_id
            .as_deref()
            .filter(|id| !id.is_empty() && *id != target.id)
        {
            self.calls.log(
                Level::Warn,
                &format!(
                    "CreateImportJob into segment {} answered with segment {other}; the run reports {}",
                    target.id, target.id
                ),
            );
        }
        self.state.job_known(
            &self.own.s3_url,
            &created.id,
            &target.id,
            created.is_terminal(),
        );
        let ended = if self.calls.settings().wait_for_completion {
            job::wait(&mut self.calls, &mut self.state, created, &target.id)?
        } else {
            created
        };
        let url = self.own.s3_url.clone();
        let outcome = job::outcome(
            &mut self.calls,
            ended,
            target.id.clone(),
            self.endpoints_submitted,
            Target::NewVersion,
        )?;
        Ok(self.with_version(outcome, &url))
    }

    /// `outcome` with the version its import (from `s3_url`) made, read
    /// from `GetSegmentVersions` once the import completed: the segment's
    /// latest version may already be another run's. Without it (the call
    /// failed, or no version names the object yet) the version is left out.
    fn with_version(&mut self, mut outcome: Outcome, s3_url: &str) -> Outcome {
        if !outcome.completed() {
            return outcome;
        }
        let segment = outcome.output.segment_id.clone();
        match self.calls.version_from(&segment, s3_url) {
            Ok(version) => outcome.output.segment_version = version,
            Err(e) => self.calls.log(
                Level::Info,
                &format!(
                    "could not read the versions of segment {segment}, so the result names none: {}",
                    e.message
                ),
            ),
        }
        outcome
    }

    /// Creates the job, waits for it to end (if the settings say so), and
    /// decides whether its segment is the one of its name.
    fn contest(&mut self) -> Result<Contest, NodeError> {
        let created = job::create(&mut self.calls, &mut self.state, &self.own, None)?;
        let segment = job::segment_id_of(&mut self.calls, &created, &self.own)?;
        self.state.job_known(
            &self.own.s3_url,
            &created.id,
            &segment,
            created.is_terminal(),
        );
        let wait = self.calls.settings().wait_for_completion;
        let ended = if wait {
            job::wait(&mut self.calls, &mut self.state, created, &segment)?
        } else {
            created
        };
        // Progress does not go back to `checking-segments` here.
        let named = self.calls.segments_named(None)?;
        let version = named
            .iter()
            .find(|s| s.id == segment)
            .and_then(|s| s.version);
        match name_race::decide(&segment, &named) {
            Decision::Won => self.won(ended, segment, version),
            Decision::Lost(winner) => Ok(Contest::Lost(Box::new(Lost {
                job: ended,
                segment,
                winner,
            }))),
            // Without waiting, a segment may not be listed yet; no other is.
            Decision::Gone if !wait => self.won(ended, segment, None),
            Decision::Gone => {
                let mut err = NodeError::new(
                    ErrorKind::ServiceError,
                    format!(
                        "import job {} ended, but its segment {segment} is no longer in the project: it was deleted while the import ran",
                        ended.id
                    ),
                );
                err.details.import_job_id = Some(ended.id);
                err.details.segment_id = Some(segment);
                Err(err)
            }
        }
    }

    /// The run's segment is the one of its name: the outcome of its job;
    /// `version` as the segment listing gave it.
    fn won(
        &mut self,
        ended: ImportJob,
        segment: String,
        version: Option<u64>,
    ) -> Result<Contest, NodeError> {
        job::outcome(
            &mut self.calls,
            ended,
            segment,
            self.endpoints_submitted,
            Target::NewSegment,
        )
        .map(|mut outcome| {
            outcome.output.segment_version = version;
            Contest::Won(Box::new(outcome))
        })
    }

    /// Deletes `object` where that is safe, and reports on it. After a
    /// completed import, also deletes what other runs of this data left
    /// staged ([`cleanup::sweep`]).
    fn finish(
        &mut self,
        object: &StagedObject,
        result: Result<Outcome, NodeError>,
    ) -> Result<Outcome, NodeError> {
        // A job that is still running (not waited for, timed out, or its
        // polling failed) still needs the object; a re-run deletes it.
        let job_running = match &result {
            Ok(outcome) => !outcome.completed(),
            Err(_) => self.state.job_may_run(),
        };
        let deleted = if self.calls.settings().delete_staged_object && !job_running {
            cleanup::start(&mut self.calls);
            let cleaned = cleanup::delete_staged_object(&mut self.calls, object);
            if object.s3_url == self.own.s3_url {
                self.state.object_cleaned(&cleaned);
            }
            cleaned == Ok(true)
        } else {
            false
        };
        if deleted && result.as_ref().is_ok_and(Outcome::completed) {
            cleanup::sweep(&mut self.calls);
        }
        self.calls.progress(Stage::Done, 1, Some(1));
        result.map(|mut outcome| {
            outcome.output.staged_object = object.s3_url.clone();
            outcome.output.staged_object_deleted = deleted;
            outcome
        })
    }

    /// The run's segment lost its name to the winner: once the run's job has
    /// ended, delete its object and then its segment; then return the
    /// winner if it was made from this data, else `DuplicateSegmentName`.
    fn concede(&mut self, lost: Lost) -> Result<Outcome, NodeError> {
        let Lost {
            job,
            segment,
            winner,
        } = lost;
        self.calls.log(
            Level::Info,
            &format!(
                "segment {} of this name is older than this run's segment {segment}: it stays, and this run removes what it made",
                winner.id
            ),
        );
        if !job.is_terminal() {
            // The job reads the run's object until it ends.
            if let Err(mut e) = job::wait(&mut self.calls, &mut self.state, job, &segment) {
                e.message = format!(
                    "the older segment {} has this name, so this run's segment is to go once its job ends, but: {}; a re-run removes it",
                    winner.id, e.message
                );
                return Err(e);
            }
        }
        cleanup::start(&mut self.calls);
        let own = self.own.clone();
        let same_data = self.calls.data.key_of_segment(&winner).map(str::to_owned);
        // With `new_version`, the run's object is to go into the winner as
        // its new version: it stays (a re-run sweeps it if the run stops).
        let into_winner = self.on_existing == OnExisting::NewVersion
            && same_data.is_none()
            && winner.is_imported();
        if !into_winner {
            let _ = cleanup::delete_staged_object(&mut self.calls, &own);
        }
        let kept = match self.calls.delete_segment(&segment) {
            Ok(()) => String::new(),
            Err(e) => {
                self.calls.log(
                    Level::Warn,
                    &format!(
                        "could not delete this run's segment {segment}: {}",
                        e.message
                    ),
                );
                format!(
                    "; this run's own segment {segment} could not be deleted (a re-run of this data removes it)"
                )
            }
        };
        if let Some(key) = same_data {
            self.calls.log(
                Level::Info,
                &format!(
                    "segment {} was made from this same data; returning it",
                    winner.id
                ),
            );
            return self.resume(winner, &key);
        }
        let target = match self.version_target(winner, &kept) {
            Ok(target) => target,
            Err(e) => {
                self.calls.progress(Stage::Done, 1, Some(1));
                return Err(e);
            }
        };
        self.calls.log(
            Level::Info,
            &format!(
                "this run's data goes into segment {} as a new version",
                target.id
            ),
        );
        let result = self.new_version(&target);
        self.finish(&own, result)
    }

    /// A re-run: `segment` exists and was made from this data, the object
    /// at `key` (by an earlier run, or by a concurrent one this run lost its
    /// name to).
    fn resume(&mut self, segment: Segment, key: &str) -> Result<Outcome, NodeError> {
        let object = self.calls.object(key)?;
        // Until the job is found, it may be running.
        self.state.resuming(&object.s3_url);
        let result = self.resumed(segment, &object.s3_url);
        self.finish(&object, result).map(|mut outcome| {
            outcome.output.reused_existing_segment = true;
            outcome
        })
    }

    /// The outcome of the import that made `segment` (or its latest
    /// version) from `s3_url`. A segment with more than one version
    /// existed before that import: it is never deleted.
    fn resumed(&mut self, segment: Segment, s3_url: &str) -> Result<Outcome, NodeError> {
        let Some(found) = self.calls.job_for(&segment.id, s3_url)? else {
            return Ok(Outcome::of_segment_without_job(
                segment,
                s3_url,
                self.calls.name(),
                self.endpoints_submitted,
            ));
        };
        let target =
            if segment.version.is_some_and(|v| v > 1) || segment_s3_url(&segment) != Some(s3_url) {
                Target::NewVersion
            } else {
                Target::NewSegment
            };
        self.state
            .job_known(s3_url, &found.id, &segment.id, found.is_terminal());
        let ended = if self.calls.settings().wait_for_completion {
            job::wait(&mut self.calls, &mut self.state, found, &segment.id)?
        } else {
            found
        };
        let outcome = job::outcome(
            &mut self.calls,
            ended,
            segment.id,
            self.endpoints_submitted,
            target,
        )?;
        let mut outcome = match target {
            Target::NewSegment => {
                let mut outcome = outcome;
                outcome.output.segment_version = segment.version;
                outcome
            }
            Target::NewVersion => self.with_version(outcome, s3_url),
        };
        // The run made neither the segment nor, here, its version.
        outcome.output.created_segment = false;
        Ok(outcome)
    }
}

/// `DuplicateSegmentName`: `name` is taken by `segment_id`; `more` ends the
/// message.
fn duplicate(name: &str, segment_id: &str, more: &str) -> NodeError {
    let mut err = NodeError::new(
        ErrorKind::DuplicateSegmentName,
        format!(
            "a segment named \"{}\" already exists in this project (id {}); choose another name{more}",
            quote(name),
            quote(segment_id)
        ),
    )
    .with_field("segment_name");
    err.details.segment_id = Some(segment_id.to_owned());
    err
}
