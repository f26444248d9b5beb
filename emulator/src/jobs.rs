//! Import jobs: the status sequence, the background runner and the reading of the
//! staged objects.
//!
//! A job moves one step at a time:
//! CREATED -> PREPARING_FOR_INITIALIZATION -> INITIALIZING -> PROCESSING -> COMPLETING ->
//! COMPLETED (or, from the processing step, FAILING -> FAILED). As in Pinpoint, jobs run
//! in the background: one runner task per emulator moves every job that has stayed
//! [`EmulatorConfig::job_step`](crate::EmulatorConfig::job_step) in its status, whether
//! or not anyone asks about it, and stops with the emulator. A `GetImportJob` poll also
//! moves the polled job one step (the emulator's time compression: a client that polls
//! often sees every status without waiting for the clock); either way the step timer
//! starts again. On the step into PROCESSING the job reads every object the `S3Url` selects
//! (prefix semantics: the key, or every key starting with it, skipping objects whose
//! extension names the other format), and counts endpoints as Pinpoint would:
//! - CSV: a header row of attribute names, then one endpoint per row;
//! - JSON: newline-delimited JSON, one object per non-empty line.
//!
//! A row lacking `ChannelType` or `Address`, with a `ChannelType` outside Pinpoint's 13
//! values, with the wrong number of fields, with a line break or tab inside a CSV value,
//! or a line that is not a JSON object, is a row failure: the job still completes, with
//! `TotalFailures` counting it and `Failures` listing the first 100.
//! An object that cannot be read at all (no bucket or no object, not UTF-8, no rows, a
//! CSV without a header) is a failed piece: the job goes FAILING, then FAILED.
//!
//! Counts: `TotalPieces` = objects read, `CompletedPieces`/`FailedPieces` likewise,
//! `TotalProcessed` = endpoints imported successfully, `TotalFailures` = rows that were
//! not (the model's "processed"/"weren't processed" wording); the segment's
//! `ImportDefinition.Size` = `TotalProcessed`, `ChannelCounts` per channel.
//!
//! A job changes its segment only when it COMPLETES: the segment it created
//! (`DefineSegment`) gets its counts in version 1; an existing segment it imported into
//! (`SegmentId`) gets a new version (`Version` + 1, a new `LastModifiedDate` and the
//! job's `ImportDefinition`). A job that FAILS leaves every segment as it was.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::Shared;
use super::s3::Store;
use super::state::{
    App, ImportDefinition, ImportJob, JobStatus, PinpointState, SegmentClock, SegmentDefinition,
    SegmentEffect,
};
use super::util::{lock, now_iso8601};

/// Pinpoint's `ChannelType` values (case-sensitive).
pub(crate) const CHANNEL_TYPES: [&str; 13] = [
    "PUSH",
    "GCM",
    "APNS",
    "APNS_SANDBOX",
    "APNS_VOIP",
    "APNS_VOIP_SANDBOX",
    "ADM",
    "SMS",
    "VOICE",
    "EMAIL",
    "BAIDU",
    "CUSTOM",
    "IN_APP",
];

/// How many failure strings a job keeps.
pub(crate) const MAX_FAILURES: usize = 100;

/// The outcome of reading the objects of one job.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ImportOutcome {
    pub total_pieces: u64,
    pub completed_pieces: u64,
    pub failed_pieces: u64,
    pub imported: u64,
    pub row_failures: u64,
    pub failures: Vec<String>,
    pub channel_counts: BTreeMap<String, u64>,
}

impl ImportOutcome {
    fn fail(&mut self, message: String) {
        if self.failures.len() < MAX_FAILURES {
            self.failures.push(message);
        }
    }

    fn row_failure(&mut self, message: String) {
        self.row_failures += 1;
        self.fail(message);
    }

    fn endpoint(&mut self, channel: &str) {
        self.imported += 1;
        *self.channel_counts.entry(channel.to_owned()).or_default() += 1;
    }
}

/// Splits `s3://bucket/prefix`.
pub(crate) fn parse_s3_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then_some((bucket, key))
}

fn other_format_extension(key: &str, format: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    match format {
        "CSV" => [".json", ".jsonl", ".ndjson"]
            .iter()
            .any(|e| lower.ends_with(e)),
        _ => lower.ends_with(".csv"),
    }
}

/// Reads and counts the objects selected by `s3_url` in `format`.
pub(crate) fn run_import(store: &Store, s3_url: &str, format: &str) -> ImportOutcome {
    let mut out = ImportOutcome::default();
    let Some((bucket, prefix)) = parse_s3_url(s3_url) else {
        out.total_pieces = 1;
        out.failed_pieces = 1;
        out.fail(format!("Invalid S3 URL: {s3_url}"));
        return out;
    };
    let Some(keys) = store.list(bucket, prefix) else {
        out.total_pieces = 1;
        out.failed_pieces = 1;
        out.fail(format!(
            "Unable to read {s3_url}: the bucket {bucket} does not exist"
        ));
        return out;
    };
    let keys: Vec<String> = keys
        .into_iter()
        .filter(|k| !other_format_extension(k, format))
        .collect();
    if keys.is_empty() {
        out.total_pieces = 1;
        out.failed_pieces = 1;
        out.fail(format!("Unable to read {s3_url}: no {format} files found"));
        return out;
    }
    for key in keys {
        out.total_pieces += 1;
        let url = format!("s3://{bucket}/{key}");
        // Read from the file as a stream (a 1 GiB object is not loaded).
        let ok = match store.open(bucket, &key) {
            None => {
                out.fail(format!("Unable to read {url}: object not found"));
                false
            }
            Some(mut file) => match is_utf8(&mut file) {
                Ok(false) => {
                    out.fail(format!("Unable to read {url}: the file is not valid UTF-8"));
                    false
                }
                Err(e) => {
                    out.fail(format!("Unable to read {url}: {e}"));
                    false
                }
                Ok(true) => {
                    let reader = BufReader::new(file);
                    if format == "CSV" {
                        read_csv(reader, &url, &mut out)
                    } else {
                        read_ndjson(reader, &url, &mut out)
                    }
                }
            },
        };
        if ok {
            out.completed_pieces += 1;
        } else {
            out.failed_pieces += 1;
        }
    }
    out
}

fn check_endpoint(
    channel: Option<&str>,
    address: Option<&str>,
    url: &str,
    line: u64,
    out: &mut ImportOutcome,
) {
    let channel = channel.filter(|c| !c.is_empty());
    let address = address.filter(|a| !a.is_empty());
    match (channel, address) {
        (None, _) => out.row_failure(format!(
            "{url} line {line}: missing required attribute ChannelType"
        )),
        (_, None) => out.row_failure(format!(
            "{url} line {line}: missing required attribute Address"
        )),
        (Some(c), Some(_)) if !CHANNEL_TYPES.contains(&c) => {
            out.row_failure(format!("{url} line {line}: invalid ChannelType '{c}'"))
        }
        (Some(c), Some(_)) => out.endpoint(c),
    }
}

/// Whether the whole of `file` is UTF-8, read in chunks; leaves it rewound.
fn is_utf8(file: &mut File) -> io::Result<bool> {
    let mut buf = vec![0u8; 1 << 20];
    // Bytes of a character cut by the end of the last chunk.
    let mut carried = 0;
    let valid = loop {
        let n = file.read(buf.get_mut(carried..).unwrap_or_default())?;
        let filled = carried + n;
        let chunk = buf.get(..filled).unwrap_or_default();
        if n == 0 {
            break carried == 0;
        }
        let checked = std::str::from_utf8(chunk).map(|_| ());
        match checked {
            Ok(()) => carried = 0,
            // A character cut by the end of the chunk: carry it over.
            Err(e) if e.error_len().is_none() => {
                let cut = e.valid_up_to();
                buf.copy_within(cut..filled, 0);
                carried = filled - cut;
            }
            Err(_) => break false,
        }
    };
    file.seek(SeekFrom::Start(0))?;
    Ok(valid)
}

/// Counts a CSV piece; `false` if the piece cannot be read at all.
fn read_csv(text: impl Read, url: &str, out: &mut ImportOutcome) -> bool {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text);
    let headers = match reader.headers() {
        Ok(h) if !(h.is_empty() || h.len() == 1 && h[0].is_empty()) => h.clone(),
        Ok(_) => {
            out.fail(format!(
                "Unable to read {url}: the CSV file has no header row"
            ));
            return false;
        }
        Err(e) => {
            out.fail(format!("Unable to read {url}: {e}"));
            return false;
        }
    };
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (channel_col, address_col) = (col("ChannelType"), col("Address"));
    let mut rows = 0u64;
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                rows += 1;
                let line = e.position().map_or(0, csv::Position::line);
                out.row_failure(format!("{url} line {line}: {e}"));
                continue;
            }
        };
        rows += 1;
        let line = record.position().map_or(0, csv::Position::line);
        if record.len() != headers.len() {
            out.row_failure(format!(
                "{url} line {line}: expected {} fields, found {}",
                headers.len(),
                record.len()
            ));
            continue;
        }
        if record.iter().any(|v| v.contains(['\r', '\n', '\t'])) {
            out.row_failure(format!(
                "{url} line {line}: CSV values can't contain line breaks or tabs"
            ));
            continue;
        }
        check_endpoint(
            channel_col.and_then(|i| record.get(i)),
            address_col.and_then(|i| record.get(i)),
            url,
            line,
            out,
        );
    }
    if rows == 0 {
        out.fail(format!(
            "Unable to read {url}: the file holds no endpoint definitions"
        ));
        return false;
    }
    true
}

/// Counts an NDJSON piece; `false` if the piece cannot be read at all.
fn read_ndjson(text: impl BufRead, url: &str, out: &mut ImportOutcome) -> bool {
    let mut rows = 0u64;
    for (i, line) in text.split(b'\n').enumerate() {
        let line_no = i as u64 + 1;
        let line = match line.map(String::from_utf8) {
            Ok(Ok(line)) => line,
            Ok(Err(_)) => {
                out.fail(format!("Unable to read {url}: the file is not valid UTF-8"));
                return false;
            }
            Err(e) => {
                out.fail(format!("Unable to read {url}: {e}"));
                return false;
            }
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        rows += 1;
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(obj)) => check_endpoint(
                obj.get("ChannelType").and_then(Value::as_str),
                obj.get("Address").and_then(Value::as_str),
                url,
                line_no,
                out,
            ),
            Ok(_) => out.row_failure(format!(
                "{url} line {line_no}: each line must be a JSON object"
            )),
            Err(e) => out.row_failure(format!("{url} line {line_no}: invalid JSON: {e}")),
        }
    }
    if rows == 0 {
        out.fail(format!(
            "Unable to read {url}: the file holds no endpoint definitions"
        ));
        return false;
    }
    true
}

/// Moves job `job_index` of `app` one step, reading the staged objects on the way into
/// PROCESSING, and applying the job to its segment when it completes ([`complete`]).
/// `clock` dates the segment versions it modifies.
pub(crate) fn advance(app: &mut App, job_index: usize, store: &Store, clock: &mut SegmentClock) {
    let job = &mut app.jobs[job_index];
    let next = match job.status {
        JobStatus::Created => JobStatus::PreparingForInitialization,
        JobStatus::PreparingForInitialization => JobStatus::Initializing,
        JobStatus::Initializing | JobStatus::PendingJob => process(job, store),
        JobStatus::Processing => JobStatus::Completing,
        JobStatus::Completing => JobStatus::Completed,
        JobStatus::Failing => JobStatus::Failed,
        s @ (JobStatus::Completed | JobStatus::Failed) => s,
    };
    let job = &mut app.jobs[job_index];
    if next.is_terminal() && job.completion_date.is_none() {
        job.completion_date = Some(now_iso8601());
    }
    let completed = next == JobStatus::Completed && job.status != JobStatus::Completed;
    job.status = next;
    job.last_step = Instant::now();
    if completed {
        complete(app, job_index, clock);
    }
}

/// What a completed job does to its segment: the segment it created gets the job's
/// counts in its version 1 (which a new segment's answers show as `Size` 0 until then); an existing segment it imported into gets a new version
/// with the job's definition and counts (so a FAILED job never changes a segment).
/// A segment deleted meanwhile stays deleted.
fn complete(app: &mut App, job_index: usize, clock: &mut SegmentClock) {
    let job = &app.jobs[job_index];
    let Some(seg_id) = job.definition.segment_id.as_deref() else {
        return;
    };
    let Some(seg) = app.segments.iter_mut().find(|s| s.id == seg_id) else {
        return;
    };
    let d = &job.definition;
    let import = ImportDefinition {
        format: d.format.clone(),
        s3_url: d.s3_url.clone(),
        role_arn: d.role_arn.clone(),
        external_id: d.external_id.clone(),
        size: job.total_processed.unwrap_or(0),
        channel_counts: job.channel_counts.clone(),
    };
    match job.effect {
        SegmentEffect::None => {}
        // Version 1, even when a later import into the segment ended first.
        SegmentEffect::FillsCreated => {
            if let Some(first) = seg.version_mut(1) {
                first.definition = SegmentDefinition::Import(import);
                first.last_modified_date = clock.next();
            }
        }
        SegmentEffect::NewVersion => seg.add_version(import, clock.next()),
    }
}

/// When the next job of `state` is due to move on by itself, `step` after its last step
/// (`None` when every job has ended, or `step` is too long to reach).
fn next_due(state: &PinpointState, step: Duration) -> Option<Instant> {
    state
        .apps
        .values()
        .flat_map(|app| &app.jobs)
        .filter(|job| !job.status.is_terminal())
        .filter_map(|job| job.last_step.checked_add(step))
        .min()
}

/// Moves every job that is due (`step` or longer in its status) one step.
fn advance_due(shared: &Shared, step: Duration) {
    let now = Instant::now();
    let mut guard = lock(&shared.pinpoint);
    let state = &mut *guard;
    for app in state.apps.values_mut() {
        for i in 0..app.jobs.len() {
            let job = &app.jobs[i];
            let due = job.last_step.checked_add(step).is_some_and(|at| at <= now);
            if !job.status.is_terminal() && due {
                advance(app, i, &shared.store, &mut state.segment_clock);
            }
        }
    }
}

/// Spawns the background runner: one task that moves each job one step every
/// `step` until the job ends, waking when a job is due or created, and returning when
/// `shutdown` turns true or its sender is gone. Reading the staged objects is file I/O,
/// so each pass runs on the blocking pool.
pub(crate) fn spawn_runner(
    shared: Arc<Shared>,
    step: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if *shutdown.borrow() {
                break;
            }
            let due = next_due(&lock(&shared.pinpoint), step);
            let wait = async {
                match due {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
                () = shared.jobs_changed.notified() => {}
                () = wait => {
                    let shared = shared.clone();
                    let pass = tokio::task::spawn_blocking(move || advance_due(&shared, step));
                    if pass.await.is_err() {
                        // The pass panicked (a bug); the state lock recovers from it, and
                        // the next pass tries again.
                        tokio::time::sleep(step.max(Duration::from_millis(10))).await;
                    }
                }
            }
        }
    })
}

/// Makes a job fail now (`Fault::FailJob`): it goes FAILING with `failures`, and FAILED
/// on the next poll. A job that already ended is left alone.
pub(crate) fn force_fail(job: &mut ImportJob, failures: Vec<String>) {
    if job.status.is_terminal() {
        return;
    }
    job.total_pieces = Some(1);
    job.completed_pieces = Some(0);
    job.failed_pieces = Some(1);
    job.total_processed = Some(0);
    job.total_failures = Some(0);
    job.failures = failures.into_iter().take(MAX_FAILURES).collect();
    job.status = JobStatus::Failing;
    job.last_step = Instant::now();
}

/// Reads the objects; returns PROCESSING or FAILING and records the counts.
fn process(job: &mut ImportJob, store: &Store) -> JobStatus {
    if let Some(failures) = job.forced_failures.take() {
        force_fail(job, failures);
        return JobStatus::Failing;
    }
    let out = run_import(store, &job.definition.s3_url, &job.definition.format);
    job.total_pieces = Some(out.total_pieces);
    job.completed_pieces = Some(out.completed_pieces);
    job.failed_pieces = Some(out.failed_pieces);
    job.total_processed = Some(out.imported);
    job.total_failures = Some(out.row_failures);
    job.failures = out.failures;
    job.channel_counts = out.channel_counts;
    if out.failed_pieces > 0 {
        JobStatus::Failing
    } else {
        JobStatus::Processing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with(files: &[(&str, &str)]) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        store.create_bucket("b").unwrap();
        for (k, v) in files {
            store.write("b", k, v.as_bytes()).unwrap();
        }
        (dir, store)
    }

    #[test]
    fn counts_csv_rows_and_failures() {
        let csv = "ChannelType,Address,Location.Country\nSMS,+12065550100,US\nEMAIL,a@example.com,US\n,x@example.com,US\nFAX,+1,US\nSMS,\"+1206\",US,extra\n";
        let (_d, store) = store_with(&[("p/e.csv", csv)]);
        let out = run_import(&store, "s3://b/p/e.csv", "CSV");
        assert_eq!(out.total_pieces, 1);
        assert_eq!(out.completed_pieces, 1);
        assert_eq!(out.imported, 2);
        assert_eq!(out.row_failures, 3);
        assert_eq!(out.failures.len(), 3);
        assert!(out.failures[0].contains("line 4"), "{:?}", out.failures);
        assert_eq!(out.channel_counts.get("SMS"), Some(&1));
    }

    #[test]
    fn objects_are_read_as_streams_with_utf8_checked_across_chunks() {
        // "é" is cut by the end of the first 1 MiB chunk.
        let mut csv = String::from("ChannelType,Address,Location.City\n");
        let row = "EMAIL,a@example.com,x\n";
        while csv.len() + row.len() < (1 << 20) - 27 {
            csv.push_str(row);
        }
        let padding = (1 << 20) - 1 - csv.len() - "EMAIL,b@example.com,".len();
        csv.push_str(&format!("EMAIL,b@example.com,{}é\n", "y".repeat(padding)));
        assert!(!csv.is_char_boundary(1 << 20));
        let rows = csv.lines().count() as u64 - 1;
        let (_d, store) = store_with(&[("big.csv", &csv)]);
        let out = run_import(&store, "s3://b/big.csv", "CSV");
        assert_eq!(
            (out.imported, out.failed_pieces),
            (rows, 0),
            "{:?}",
            out.failures
        );
        let (dir, store) = store_with(&[]);
        let path = dir.path().join("b").join("bad.csv");
        let mut bytes = csv.into_bytes();
        bytes.push(0xff);
        std::fs::write(path, bytes).unwrap();
        let out = run_import(&store, "s3://b/bad.csv", "CSV");
        assert_eq!(out.failed_pieces, 1);
        assert!(out.failures[0].contains("UTF-8"), "{:?}", out.failures);
    }

    #[test]
    fn counts_ndjson_lines() {
        let nd = "{\"ChannelType\":\"SMS\",\"Address\":\"+12065550100\"}\n\n[1]\n{\"ChannelType\":\"EMAIL\"}\nnot json\n{\"ChannelType\":\"EMAIL\",\"Address\":\"a@b.c\"}\n";
        let (_d, store) = store_with(&[("e.json", nd)]);
        let out = run_import(&store, "s3://b/e.json", "JSON");
        assert_eq!(
            (out.imported, out.row_failures, out.failed_pieces),
            (2, 3, 0)
        );
    }

    #[test]
    fn prefix_semantics_and_unreadable_pieces() {
        let (_d, store) = store_with(&[
            ("imports/job1/a.csv", "ChannelType,Address\nSMS,+1\n"),
            ("imports/job10/b.csv", "ChannelType,Address\nSMS,+2\n"),
            ("imports/job1/c.json", "{}\n"),
        ]);
        let out = run_import(&store, "s3://b/imports/job1", "CSV");
        assert_eq!((out.total_pieces, out.imported), (2, 2));
        let out = run_import(&store, "s3://b/missing.csv", "CSV");
        assert_eq!(out.failed_pieces, 1);
        let out = run_import(&store, "s3://nobucket/x.csv", "CSV");
        assert_eq!(out.failed_pieces, 1);
        let (_d, store) = store_with(&[("empty.csv", "")]);
        assert_eq!(
            run_import(&store, "s3://b/empty.csv", "CSV").failed_pieces,
            1
        );
    }
}
