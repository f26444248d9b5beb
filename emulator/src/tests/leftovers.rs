//! Leftovers (issue 20, item 6): the data directory keeps nothing of deleted objects,
//! and goes with its emulator. (Exits without destructors and dead processes:
//! `tests/exit_paths.rs`, in processes of their own.)

use std::collections::BTreeSet;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::body::Frame;
use tokio::sync::mpsc;

use super::*;

/// Every file and directory under `root`, relative, directories with a trailing `/`.
fn tree(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let rel = entry
                .path()
                .strip_prefix(root)
                .unwrap()
                .display()
                .to_string();
            if entry.file_type().unwrap().is_dir() {
                out.insert(format!("{rel}/"));
                stack.push(entry.path());
            } else {
                out.insert(rel);
            }
        }
    }
    out
}

/// A signed S3 request with a query.
async fn s3_query(
    emu: &Emulator,
    signer: &Signer,
    method: &str,
    path: &str,
    query: &str,
    body: &[u8],
) -> Answer {
    let host = emu.local_addr().to_string();
    let headers = signer.sign("s3", method, path, query, &host, body);
    let target = if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    };
    send(emu.local_addr(), method, &target, &headers, body)
        .await
        .unwrap()
}

fn sidecars(t: &BTreeSet<String>) -> usize {
    t.iter().filter(|p| p.starts_with(".bucket-")).count()
}

#[tokio::test]
async fn deleted_objects_leave_nothing_in_the_data_directory() {
    let emu = start().await;
    let signer = Signer::default_creds();
    let root = emu.data_dir().to_owned();
    let baseline = tree(&root);
    assert_eq!(
        baseline,
        BTreeSet::from([OWNER_LOCK.to_owned(), format!("{DEFAULT_BUCKET}/")])
    );
    let csv = b"ChannelType,Address\nEMAIL,a@example.com\n";
    for run in 0..6 {
        let key = format!("pinpoint-imports/run{run}/endpoints.csv");
        let path = format!("/{DEFAULT_BUCKET}/{key}");
        let put = s3(&emu, &signer, "PUT", &path, csv).await.unwrap();
        assert_eq!(put.status, 200, "{}", put.text());
        // s3s-fs keeps two sidecars per object (what used to stay behind).
        assert_eq!(sidecars(&tree(&root)), 2, "{:?}", tree(&root));
        let deleted = if run % 2 == 0 {
            s3(&emu, &signer, "DELETE", &path, b"").await.unwrap()
        } else {
            let body =
                format!("<Delete><Object><Key>{key}</Key></Object><Quiet>true</Quiet></Delete>");
            s3_query(
                &emu,
                &signer,
                "POST",
                &format!("/{DEFAULT_BUCKET}"),
                "delete",
                body.as_bytes(),
            )
            .await
        };
        assert!(deleted.status < 300, "{}", deleted.text());
        assert_eq!(tree(&root), baseline, "after run {run}");
    }

    // A multipart upload, aborted.
    let path = format!("/{DEFAULT_BUCKET}/big/endpoints.csv");
    let created = s3_query(&emu, &signer, "POST", &path, "uploads", b"").await;
    assert_eq!(created.status, 200, "{}", created.text());
    let text = created.text();
    let upload_id = text
        .split("<UploadId>")
        .nth(1)
        .and_then(|t| t.split("</UploadId>").next())
        .unwrap()
        .to_owned();
    let part = s3_query(
        &emu,
        &signer,
        "PUT",
        &path,
        &format!("partNumber=1&uploadId={upload_id}"),
        csv,
    )
    .await;
    assert_eq!(part.status, 200, "{}", part.text());
    assert_ne!(tree(&root), baseline);
    let aborted = s3_query(
        &emu,
        &signer,
        "DELETE",
        &path,
        &format!("uploadId={upload_id}"),
        b"",
    )
    .await;
    assert!(aborted.status < 300, "{}", aborted.text());
    assert_eq!(tree(&root), baseline);

    // A bucket deleted with the objects it held (s3s-fs removes a bucket that is
    // not empty).
    let made = s3(&emu, &signer, "PUT", "/scratch", b"").await.unwrap();
    assert_eq!(made.status, 200, "{}", made.text());
    let put = s3(&emu, &signer, "PUT", "/scratch/a/b.csv", csv)
        .await
        .unwrap();
    assert_eq!(put.status, 200, "{}", put.text());
    let del = s3(&emu, &signer, "DELETE", "/scratch/a/b.csv", b"")
        .await
        .unwrap();
    assert_eq!(del.status, 204, "{}", del.text());
    let put = s3(&emu, &signer, "PUT", "/scratch/c.csv", csv)
        .await
        .unwrap();
    assert_eq!(put.status, 200, "{}", put.text());
    let gone = s3(&emu, &signer, "DELETE", "/scratch", b"").await.unwrap();
    assert!(gone.status < 300, "{}", gone.text());
    assert_eq!(tree(&root), baseline);
    emu.shutdown().await;
}

/// A request body sent in pieces, when the test says so.
struct Trickle(mpsc::Receiver<Bytes>);

impl hyper::body::Body for Trickle {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.0.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

/// A delete while another S3 request is in flight: the sweep waits for the request
/// in flight (it never removes a directory a write may need), and happens when it ends.
#[tokio::test]
async fn the_sweep_waits_for_requests_in_flight() {
    let emu = start().await;
    let signer = Signer::default_creds();
    let root = emu.data_dir().to_owned();
    let baseline = tree(&root);
    let a = format!("/{DEFAULT_BUCKET}/a/endpoints.csv");
    let put = s3(&emu, &signer, "PUT", &a, b"ChannelType,Address\n")
        .await
        .unwrap();
    assert_eq!(put.status, 200, "{}", put.text());

    // A slow upload of b: headers and half the body now, the rest later.
    let body = b"ChannelType,Address\nSMS,+12065550100\n";
    let b = format!("/{DEFAULT_BUCKET}/b/endpoints.csv");
    let host = emu.local_addr().to_string();
    let mut headers = signer.sign("s3", "PUT", &b, "", &host, body);
    headers.push(("content-length".into(), body.len().to_string()));
    let (tx, rx) = mpsc::channel(2);
    let stream = TcpStream::connect(emu.local_addr()).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut request = Request::builder().method("PUT").uri(&b);
    for (n, v) in &headers {
        request = request.header(n, v);
    }
    let upload = tokio::spawn(sender.send_request(request.body(Trickle(rx)).unwrap()));
    tx.send(Bytes::copy_from_slice(&body[..10])).await.unwrap();
    let in_flight = tokio::time::timeout(Duration::from_secs(5), async {
        while emu.shared.s3_gate.try_write().is_ok() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    assert!(in_flight.is_ok(), "the upload never reached s3s");

    let del = s3(&emu, &signer, "DELETE", &a, b"").await.unwrap();
    assert_eq!(del.status, 204, "{}", del.text());
    // Not swept yet: a's sidecars and directory wait for the upload.
    let waiting = tree(&root);
    assert!(
        waiting.contains(&format!("{DEFAULT_BUCKET}/a/")),
        "{waiting:?}"
    );
    assert!(sidecars(&waiting) >= 2, "{waiting:?}");

    tx.send(Bytes::copy_from_slice(&body[10..])).await.unwrap();
    drop(tx);
    let answer = upload.await.unwrap().unwrap();
    assert_eq!(answer.status(), 200);
    let mut expected = baseline;
    expected.insert(format!("{DEFAULT_BUCKET}/b/"));
    expected.insert(format!("{DEFAULT_BUCKET}/b/endpoints.csv"));
    let after = tree(&root);
    assert_eq!(sidecars(&after), 2, "b's own: {after:?}");
    let after: BTreeSet<String> = after
        .into_iter()
        .filter(|p| !p.starts_with(".bucket-"))
        .collect();
    assert_eq!(after, expected);
    assert_eq!(emu.object(DEFAULT_BUCKET, "b/endpoints.csv").unwrap(), body);
    emu.shutdown().await;
}

/// The data directory is made where the config says, locked by its owner, and goes
/// the moment the emulator is dropped or shut down, whatever its tasks are doing.
#[tokio::test]
async fn the_data_directory_goes_with_its_emulator() {
    let parent = tempfile::tempdir().unwrap();
    let parent_path = parent.path().canonicalize().unwrap();
    let start_in = || async {
        let config = EmulatorConfig {
            data_parent: Some(parent_path.clone()),
            job_step: Duration::from_secs(3600),
            ..EmulatorConfig::default()
        };
        let emu = Emulator::start(config, loopback()).await.unwrap();
        emu.put_object(DEFAULT_BUCKET, "k.csv", b"ChannelType,Address\nSMS,+1\n")
            .unwrap();
        emu
    };
    let signer = Signer::default_creds();

    let emu = start_in().await;
    let dir = emu.data_dir().to_owned();
    assert_eq!(dir.parent(), Some(parent_path.as_path()));
    assert!(
        dir.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with(DATA_DIR_PREFIX)
    );
    // A live owner: a stale-directory sweep leaves it alone.
    assert!(remove_stale_dirs_in(&parent_path).unwrap().is_empty());
    assert!(dir.join(DEFAULT_BUCKET).join("k.csv").is_file());
    // Dropped with a job running: gone at once.
    let created = pinpoint(
        &emu,
        &signer,
        "POST",
        &app_path("/jobs/import"),
        "",
        Some(&import_request("k.csv", "s", "CSV")),
    )
    .await
    .unwrap();
    assert_eq!(created.status, 201, "{}", created.text());
    drop(emu);
    assert!(!dir.exists(), "{} is still there", dir.display());

    let emu = start_in().await;
    let dir = emu.data_dir().to_owned();
    emu.shutdown().await;
    assert!(!dir.exists(), "{} is still there", dir.display());
    assert_eq!(std::fs::read_dir(&parent_path).unwrap().count(), 0);
}
