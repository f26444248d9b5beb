//! The streaming pass against the whole-file reader it replaced (the
//! oracle): on random CSV and JSON, valid and broken, with random limits,
//! both must give the same verdict, the same error (kind, message, the first
//! 100 problems with their positions, the total, the size details) and the
//! same staged bytes and counts.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

use super::verbatim::RowCopy;
use super::*;

/// Both readers on `data`; panics with the difference.
fn same(format: Format, data: &str, limits: &Limits) -> Result<(), TestCaseError> {
    let new = prepare(format, data, limits);
    let old = oracle::prepare(format, data, limits);
    prop_assert_eq!(&new, &old, "prepare: {:?}", data);
    if let Ok(p) = &new {
        // The size the check pass counts is the size the write pass writes.
        let counted = check(format, data, limits, &mut |_| {}).map(|c| c.staged_bytes);
        prop_assert_eq!(counted, Ok(p.body.len() as u64), "staged bytes: {:?}", data);
    }
    // The check that writes beside it: the same verdict, and when it says
    // it wrote the staged file, exactly its bytes.
    let mut written = Vec::new();
    let writing = check_writing(format, data, limits, &mut |_| {}, &mut |c| {
        written.extend_from_slice(c)
    });
    let summaries = |c: &Checked<'_>| c.summary();
    prop_assert_eq!(
        writing
            .as_ref()
            .map(|(c, _)| summaries(c))
            .map_err(Clone::clone),
        check(format, data, limits, &mut |_| {}).map(|c| summaries(&c)),
        "check_writing: {:?}",
        data
    );
    if let (Ok((_, true)), Ok(p)) = (&writing, &new) {
        prop_assert_eq!(&written, &p.body, "written beside the check: {:?}", data);
    }
    // The write pass after it copies the rows it found verbatim: the same bytes.
    if let (Ok((checked, _)), Ok(p)) = (&writing, &new) {
        let mut again = Vec::new();
        let _ = checked.write_staged(&mut |c: &[u8]| {
            again.extend_from_slice(c);
            Ok::<(), Infallible>(())
        });
        prop_assert_eq!(&again, &p.body, "written with verbatim rows: {:?}", data);
    }
    let new = read(format, data, limits);
    let old = oracle::read(format, data, limits);
    prop_assert_eq!(&new, &old, "read: {:?}", data);
    Ok(())
}

fn limits() -> impl Strategy<Value = Limits> {
    (
        any::<bool>(),
        prop_oneof![
            3 => Just(DEFAULT_MAX_IMPORT_BYTES),
            1 => 0u64..400,
        ],
    )
        .prop_map(|(check_address_format, max_import_bytes)| Limits {
            max_import_bytes,
            check_address_format,
        })
}

const CSV_NAMES: &[&str] = &[
    "ChannelType",
    "Address",
    "Id",
    "RequestId",
    "OptOut",
    "EffectiveDate",
    "User.UserId",
    "User.UserId",
    "Attributes.A",
    "Attributes.A",
    "Attributes.B",
    "User.UserAttributes.U",
    "User.UserAttributes.U",
    "Metrics.m",
    "Metrics.n",
    "Location.Latitude",
    "Location.Longitude",
    "Location.City",
    "Demographic.Platform",
    "channeltype",
    "Adress",
    "Bogus",
    "Attributes.",
    "EndpointStatus",
    "\"Attributes.x,y\"",
    "\"Attributes.\"\"q\"\"\"",
    "Attributes.\u{1b}",
    "\"Metrics.m\"",
    "",
];

const VALUES: &[&str] = &[
    "",
    "",
    "EMAIL",
    "EMAIL",
    "SMS",
    "GCM",
    "FAX",
    "email",
    " ",
    "a@example.com",
    "b@example.com",
    "a b@example.com",
    "+12065550100",
    "212-555-1234",
    "x",
    "1",
    "1.50",
    "1e15",
    "-91",
    "181",
    "abc",
    "0.1",
    "2024-05-01",
    "2024-13-01",
    "ALL",
    "NONE",
    "u1",
    "u1",
    "u2",
    "\"q,\"\"x\"\"\"",
    "\"a,b\"",
    "\"open",
    "\"x\"y",
    "a\"b",
    "a\tb",
    "\"a\nb\"",
    "a\rb",
    "é€",
    "   ",
    "\u{1}",
    "\u{7f}",
    "\u{85}",
    "\"\u{9b}\"",
];

fn long_value() -> impl Strategy<Value = String> {
    (95usize..105, select(&['x', 'é'][..])).prop_map(|(n, c)| c.to_string().repeat(n))
}

/// Values that fit the column `name`.
fn good_values(name: &str) -> &'static [&'static str] {
    match name {
        "ChannelType" => &["GCM", "APNS", "CUSTOM"],
        "Address" => &[
            "tok",
            "a@example.com",
            "+12065550100",
            "\"t,1\"",
            "\"t\"\"1\"",
        ],
        "Id" | "RequestId" => &["", "ep1", "\"e,p\""],
        "OptOut" => &["", "ALL", "NONE"],
        "EffectiveDate" => &["", "2024-05-01", "2024-05-01T12:00:00Z"],
        "User.UserId" => &["", "u1", "u2", "u3"],
        "Metrics.m" | "Metrics.n" | "\"Metrics.m\"" => &[
            "", "1", "1.50", "1e15", "-0", "0.1", "3", "\"2.50\"", "\"2\"", "\"\"", "+1", "1E5",
            ".5",
        ],
        "Location.Latitude" => &["", "47.6", "-90", "\"47.60\"", "\"-90\""],
        "Location.Longitude" => &["", "-122.3", "180", "+1.0"],
        _ => &[
            "",
            "x",
            "y z",
            "\"a,b\"",
            "  ",
            "\"  \"",
            "\"x\"",
            "Köln",
            "\"\"\"q\"\"\"",
        ],
    }
}

/// CSV, valid or (when `faulty`) with a few wrong cells, rows and names.
fn csv_text() -> impl Strategy<Value = String> {
    any::<bool>()
        .prop_flat_map(|faulty| {
            let names = if faulty {
                prop_oneof![6 => select(&CSV_NAMES[2..19]), 1 => select(CSV_NAMES)].boxed()
            } else {
                select(&CSV_NAMES[2..19]).boxed()
            };
            let header = (any::<bool>(), vec(names, 0..6)).prop_map(move |(lacking, mut names)| {
                if !faulty || !lacking {
                    names.splice(0..0, ["ChannelType", "Address"]);
                }
                names
            });
            header.prop_flat_map(move |header| {
                let wrong = if faulty { 20 } else { 0 };
                let long = if faulty { 1 } else { 0 };
                let row = vec(
                    (
                        prop_oneof![400 => Just(None), wrong => select(VALUES).prop_map(Some)],
                        any::<prop::sample::Index>(),
                        prop_oneof![400 => Just(None), long => long_value().prop_map(Some)],
                    ),
                    header.len()..=header.len() + usize::from(faulty && header.len() % 3 == 0),
                );
                (
                    Just(header),
                    vec(row, 0..24),
                    select(&["\n", "\r\n", "\n\n", "\n  \n"][..]),
                    any::<bool>(),
                    any::<bool>(),
                )
            })
        })
        .prop_map(|(header, rows, end, bom, trailing)| {
            let mut lines = vec![header.join(",")];
            for row in rows {
                let cells: Vec<String> = row
                    .into_iter()
                    .enumerate()
                    .map(|(i, (wrong, pick, long))| {
                        if let Some(long) = long {
                            return long;
                        }
                        match wrong {
                            Some(v) => v.to_owned(),
                            None => {
                                let good = good_values(header.get(i).copied().unwrap_or(""));
                                pick.get(good).to_string()
                            }
                        }
                    })
                    .collect();
                lines.push(cells.join(","));
            }
            let mut text = lines.join(end);
            if bom {
                text.insert(0, '\u{feff}');
            }
            if trailing {
                text.push('\n');
            }
            text
        })
}

const JSON_KEYS: &[&str] = &[
    "ChannelType",
    "Address",
    "Id",
    "RequestId",
    "OptOut",
    "EffectiveDate",
    "Attributes",
    "Metrics",
    "Demographic",
    "Location",
    "User",
    "channelType",
    "User.UserId",
    "EndpointStatus",
    "Bogus",
];

const JSON_SCALARS: &[&str] = &[
    "null",
    "true",
    "1",
    "-2.5",
    "1e15",
    "1e400",
    "100",
    "\"EMAIL\"",
    "\"SMS\"",
    "\"FAX\"",
    "\"a@example.com\"",
    "\"+12065550100\"",
    "\"x\"",
    "\"\"",
    "\" \"",
    "\"3.5\"",
    "\"2024-05-01\"",
    "\"ALL\"",
    "\"u1\"",
    "\"\\u001b\"",
    "\"\\u0085x\"",
    "\"a\\\"b\"",
    "\"é\"",
    "[]",
    "[\"a\",\"b\"]",
    "[\"a\",null]",
    "[[\"x\"]]",
    "{}",
];

/// A JSON value, nested as Pinpoint's format nests values, or something
/// wrong in its place.
fn json_value(depth: u32) -> BoxedStrategy<String> {
    let scalar = select(JSON_SCALARS).prop_map(str::to_owned);
    if depth == 0 {
        return scalar.boxed();
    }
    let names = select(
        &[
            "Interests",
            "Plan",
            "A",
            "a",
            "b",
            "m",
            "UserId",
            "UserAttributes",
            "Platform",
            "Locale",
            "City",
            "Latitude",
            "Longitude",
            "Country",
            "x\\u0041",
            "",
            "Tag\\u001b",
            "Nope",
        ][..],
    );
    let entry = (names, json_value(depth - 1)).prop_map(|(k, v)| format!("\"{k}\":{v}"));
    prop_oneof![
        3 => scalar,
        2 => vec(entry, 0..5).prop_map(|e| format!("{{{}}}", e.join(","))),
        1 => vec(json_value(depth - 1), 0..3).prop_map(|e| format!("[{}]", e.join(","))),
    ]
    .boxed()
}

/// A key and value that fit an endpoint.
const GOOD_ENTRIES: &[(&str, &str)] = &[
    ("ChannelType", "\"GCM\""),
    ("Address", "\"tok\""),
    ("Id", "\"ep\""),
    ("RequestId", "\"r\\\"1\""),
    ("OptOut", "\"ALL\""),
    ("EffectiveDate", "\"2024-05-01\""),
    (
        "Attributes",
        "{\"A\":[\"x\",\"y\"],\"B\":\"z\",\"C\":[],\"D\":[1,true]}",
    ),
    ("Attributes", "{\"Note\":[\"a\\nb\",\"\\u00e9\"]}"),
    (
        "Metrics",
        "{\"m\":1,\"n\":2.5,\"o\":1e15,\"p\":-0.0,\"q\":0.1}",
    ),
    (
        "Demographic",
        "{\"Platform\":\"ios\",\"Locale\":\"en\",\"AppVersion\":3}",
    ),
    (
        "Location",
        "{\"Latitude\":47.6,\"City\":\"K\\u00f6ln\",\"Longitude\":null}",
    ),
    (
        "User",
        "{\"UserId\":\"u1\",\"UserAttributes\":{\"F\":[\"a\"],\"G\":\"b\"}}",
    ),
    ("User", "{\"UserId\":42}"),
];

/// An endpoint object, valid or (when `faulty`) with wrong entries.
fn json_object(faulty: bool) -> BoxedStrategy<String> {
    let required = || {
        vec![
            "\"ChannelType\":\"APNS\"".to_owned(),
            "\"Address\":\"t\"".to_owned(),
        ]
    };
    if !faulty {
        // Each key once.
        return proptest::sample::subsequence(&GOOD_ENTRIES[2..], 0..8)
            .prop_shuffle()
            .prop_map(move |entries| {
                let mut fields = required();
                let mut keys = Vec::new();
                for (k, v) in entries {
                    if !keys.contains(&k) {
                        keys.push(k);
                        fields.push(format!("\"{k}\":{v}"));
                    }
                }
                format!("{{{}}}", fields.join(","))
            })
            .boxed();
    }
    let key = prop_oneof![
        8 => select(JSON_KEYS).prop_map(str::to_owned),
        1 => Just("Addr\\u0065ss".to_owned()),
    ];
    let wrong = (key, json_value(2)).prop_map(|(k, v)| format!("\"{k}\":{v}"));
    let good = select(GOOD_ENTRIES).prop_map(|(k, v)| format!("\"{k}\":{v}"));
    let entry = prop_oneof![12 => good, 1 => wrong];
    (any::<bool>(), vec(entry, 0..8))
        .prop_map(move |(lacking, mut fields)| {
            if !lacking {
                fields.splice(0..0, required());
            }
            format!("{{{}}}", fields.join(","))
        })
        .boxed()
}

fn json_text() -> impl Strategy<Value = String> {
    any::<bool>()
        .prop_flat_map(|faulty| {
            let edits = if faulty {
                vec(
                    (
                        any::<prop::sample::Index>(),
                        select(&["", ",", "]", "}", "\n", "{", "\"", " x"][..]),
                    ),
                    0..3,
                )
                .boxed()
            } else {
                Just(Vec::new()).boxed()
            };
            (vec(json_object(faulty), 0..6), 0u8..5, edits, any::<bool>())
        })
        .prop_map(|(objects, layout, edits, bom)| {
            let mut text = match layout {
                0 => format!("[{}]", objects.join(",")),
                1 => objects.join("\n"),
                2 => objects.join(" "),
                3 => {
                    let pretty: Vec<String> = objects
                        .iter()
                        .map(|o| match serde_json::from_str::<serde_json::Value>(o) {
                            Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_default(),
                            Err(_) => o.clone(),
                        })
                        .collect();
                    format!("[\n{}\n]\n", pretty.join(",\n"))
                }
                _ => objects.join("\r\n"),
            };
            for (at, insert) in edits {
                if text.is_empty() {
                    break;
                }
                let mut i = at.index(text.len());
                while !text.is_char_boundary(i) {
                    i -= 1;
                }
                text.insert_str(i, insert);
            }
            if bom {
                text.insert(0, '\u{feff}');
            }
            text
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn csv_streams_as_the_whole_file_reader(text in csv_text(), limits in limits()) {
        same(Format::Csv, &text, &limits)?;
    }

    #[test]
    fn json_streams_as_the_whole_file_reader(text in json_text(), limits in limits()) {
        same(Format::Json, &text, &limits)?;
    }

    #[test]
    fn any_text_streams_as_the_whole_file_reader(
        text in "[\",\r\n\t a-zA-Z.@+0-9{}\\[\\]:\\\\\u{1}\u{85}é\u{feff}]{0,200}",
        limits in limits(),
    ) {
        same(Format::Csv, &text, &limits)?;
        same(Format::Json, &text, &limits)?;
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Many endpoints: more than 100 problems, users over 15 endpoints, and
    /// the first problem of the leading kind far down the list.
    #[test]
    fn long_inputs_stream_as_the_whole_file_reader(
        rows in vec((select(&["EMAIL", "FAX", "", "SMS"][..]), 0u8..4, any::<bool>()), 100..260),
        big_at in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let mut csv = String::from("ChannelType,Address,User.UserId,Attributes.T\n");
        let mut json = Vec::new();
        let big = big_at.map(|i| i.index(rows.len()));
        for (n, (channel, user, tagged)) in rows.iter().enumerate() {
            let tag = if Some(n) == big { "t".repeat(80) } else if *tagged { "x".into() } else { String::new() };
            csv.push_str(&format!("{channel},a{n}@example.com,u{user},{tag}\n"));
            let tags: Vec<String> = if Some(n) == big {
                (0..200).map(|i| format!("\"{i:0>90}\"")).collect()
            } else {
                vec![format!("\"{tag}\"")]
            };
            json.push(format!(
                "{{\"ChannelType\":\"{channel}\",\"Address\":\"a{n}@example.com\",\"User\":{{\"UserId\":\"u{user}\"}},\"Attributes\":{{\"T\":[{}]}}}}",
                tags.join(",")
            ));
        }
        same(Format::Csv, &csv, &Limits::default())?;
        let json = json.join("\n");
        same(Format::Json, &json, &Limits::default())?;
        let small = Limits { max_import_bytes: json.len() as u64 / 2, ..Limits::default() };
        same(Format::Json, &json, &small)?;
    }

    /// Custom attribute names spread over endpoints and kinds, sometimes more
    /// than 250 of them.
    #[test]
    fn many_names_stream_as_the_whole_file_reader(
        endpoints in vec(vec((0u8..3, 0u16..300), 0..120), 1..5),
    ) {
        let mut lines = Vec::new();
        for names in &endpoints {
            let mut attributes = Vec::new();
            let mut metrics = Vec::new();
            let mut user = Vec::new();
            for (kind, n) in names {
                match kind {
                    0 => attributes.push(format!("\"n{n}\":[\"x\"]")),
                    1 => metrics.push(format!("\"n{n}\":1")),
                    _ => user.push(format!("\"n{n}\":[]")),
                }
            }
            lines.push(format!(
                "{{\"ChannelType\":\"GCM\",\"Address\":\"t\",\"Attributes\":{{{}}},\"Metrics\":{{{}}},\"User\":{{\"UserAttributes\":{{{}}}}}}}",
                attributes.join(","), metrics.join(","), user.join(",")
            ));
        }
        same(Format::Json, &lines.join("\n"), &Limits::default())?;
    }
}

/// Plain rows (read at once, straight into the draft) between rows of
/// every kind that is read cell by cell: the same verdict, problems and
/// staged file as the whole-file reader.
#[test]
fn plain_rows_and_rows_read_cell_by_cell_stream_as_the_whole_file_reader() {
    let header = "ChannelType,Address,Id,OptOut,EffectiveDate,Demographic.Locale,Location.City,Location.Latitude,User.UserId,Attributes.Tags,Attributes.Tags,Metrics.score,Bogus";
    let plain = "EMAIL,a@example.com,ep1,NONE,2024-05-01,en_US,\"Washington, D.C.\",47.6,u1,a,\"b,c\",1.5,x";
    let others = [
        "SMS,+12065550100,ep2,ALL,,,Köln,,u2,,,,",
        "EMAIL,\"say \"\"hi\"\"\",ep3,,,,,,,,,,",
        "EMAIL,b@example.com,ep4,NONE,not a date,en_US,City,91,u1,t,t,x,y",
        "EMAIL,c@example.com,\"ep\"5,,,,,,,,,,",
        "EMAIL,d@example.com,ep6,,,,,,",
        "EMAIL,e@example.com,ep7,,,,,,,,,,,extra",
        "EMAIL,f@example.com,e\tp8,,,,,,,,,,",
        "EMAIL,g@example.com,\"e\np9\",,,,,,,,,,",
        "email,h@example.com,ep10,,,,,,,,,,",
        "EMAIL,  ,ep11,,,,,,,,,,",
        "EMAIL,i@example.com,ep\u{7f}12,,,,,,,,,,",
        "EMAIL,j@example.com,,NONE,2024-05-01T12:00:00Z,,,-90,u3,,,,",
    ];
    for limits in [
        Limits::default(),
        Limits {
            check_address_format: false,
            ..Limits::default()
        },
    ] {
        for other in others {
            for end in ["\n", "\r\n"] {
                let data = [header, plain, other, plain, plain, other].join(end);
                same(Format::Csv, &data, &limits).unwrap();
                same(Format::Csv, &format!("{data}{end}"), &limits).unwrap();
            }
        }
        // Without the unknown column, the valid rows make a valid file.
        let valid: Vec<&str> = [header, plain, others[0], others[11], plain]
            .iter()
            .map(|row| row.rsplit_once(',').map_or(*row, |(kept, _)| kept))
            .collect();
        let valid = valid.join("\n");
        same(Format::Csv, &valid, &limits).unwrap();
        let prepared = prepare(Format::Csv, &valid, &limits).unwrap();
        assert_eq!(prepared.endpoint_count, 4);
    }
}

#[test]
fn the_staged_file_comes_in_chunks_and_progress_is_reported() {
    let mut data = String::from("ChannelType,Address,Attributes.Note\n");
    while data.len() < 3 * PROGRESS_STEP {
        data.push_str("EMAIL,someone@example.com,\"a note, with a comma\"\n");
    }
    let mut seen = Vec::new();
    let checked = check(Format::Csv, &data, &Limits::default(), &mut |n| {
        seen.push(n)
    })
    .unwrap();
    assert!(seen.len() >= 3, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    assert_eq!(seen.last(), Some(&(data.len() as u64)));
    let mut chunks = Vec::new();
    checked
        .write_staged(&mut |c: &[u8]| {
            chunks.push(c.to_vec());
            Ok::<(), ()>(())
        })
        .unwrap();
    assert!(chunks.len() > 1);
    assert!(chunks.iter().all(|c| c.len() < 2 * staged::CHUNK_BYTES));
    let body: Vec<u8> = chunks.concat();
    assert_eq!(body.len() as u64, checked.staged_bytes);
    assert_eq!(
        body,
        oracle::prepare(Format::Csv, &data, &Limits::default())
            .unwrap()
            .body
    );
    // A failing sink stops the pass at its first error.
    let mut calls = 0;
    let stopped = checked.write_staged(&mut |_| {
        calls += 1;
        Err("full")
    });
    assert_eq!((stopped, calls), (Err("full"), 1));
}

#[test]
fn rows_found_verbatim_are_copied_and_the_rest_built() {
    // Columns out of the staged order, so no row is a line of the staged file.
    let data = concat!(
        "User.UserAttributes.N,ChannelType,Address,Metrics.m,Attributes.A,Attributes.A\n",
        // Verbatim: every value as the staged file writes it, a quoted one with its quotes.
        "Ann,EMAIL,a@example.com,1.5,\"x, y\",z\n",
        // Verbatim too: a number is written in its shortest form (1.5).
        "Bo,SMS,+12065550100,\"1.50\",,\n",
        // Not: a value quoted for nothing loses its quotes, and an
        // attribute's values close up (x moves to the first column).
        "\"Cy\",EMAIL,c@example.com,2,,\n",
        "Di,EMAIL,d@example.com,3,,x\n",
        // Verbatim, after a row read cell by cell (a doubled quote).
        "\"E\"\"d\",EMAIL,e@example.com,4,,\n",
        "Fa,EMAIL,f@example.com,5,w,\n",
        // Verbatim, numbers rewritten: `6` for `6.0`, nothing for `""`.
        "Gu,EMAIL,g@example.com,6.0,,\n",
        "Ha,EMAIL,h@example.com,\"\",,\n",
    );
    let (checked, complete) = check_writing(
        Format::Csv,
        data,
        &Limits::default(),
        &mut |_| {},
        &mut |_| {},
    )
    .unwrap();
    assert!(complete);
    let noted: Vec<_> = (1..=9).map(|r| checked.verbatim.get(r)).collect();
    let (rewritten, as_is) = (Some(RowCopy::NumbersRewritten), Some(RowCopy::AsIs));
    assert_eq!(
        noted,
        [
            as_is, rewritten, None, None, None, as_is, rewritten, rewritten, None
        ]
    );
    let want = oracle::prepare(Format::Csv, data, &Limits::default())
        .unwrap()
        .body;
    let mut body = Vec::new();
    checked
        .write_staged(&mut |c: &[u8]| {
            body.extend_from_slice(c);
            Ok::<(), ()>(())
        })
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&body),
        String::from_utf8_lossy(&want)
    );
    // A column no row uses leaves the staged file: the rows noted are still
    // copied, without it.
    let unused = "ChannelType,Address,Attributes.A,Metrics.m,Location.City\nEMAIL,a@example.com,x,1,\nSMS,+12065550100,,2,\n";
    let (checked, complete) = check_writing(
        Format::Csv,
        unused,
        &Limits::default(),
        &mut |_| {},
        &mut |_| {},
    )
    .unwrap();
    assert!(!complete);
    assert_eq!(checked.verbatim.count(), (2, 2));
    let mut body = Vec::new();
    let _ = checked.write_staged(&mut |c: &[u8]| {
        body.extend_from_slice(c);
        Ok::<(), ()>(())
    });
    assert_eq!(
        body,
        oracle::prepare(Format::Csv, unused, &Limits::default())
            .unwrap()
            .body
    );
}

#[test]
fn copying_verbatim_rows_stops_at_the_first_error_of_the_sink() {
    let mut data = String::from("ChannelType,Address,Attributes.Note\n");
    while data.len() < 3 * staged::CHUNK_BYTES {
        data.push_str("EMAIL,someone@example.com,\"a note, with a comma\"\n");
    }
    let (checked, _) = check_writing(
        Format::Csv,
        &data,
        &Limits::default(),
        &mut |_| {},
        &mut |_| {},
    )
    .unwrap();
    let rows = checked.endpoint_count;
    assert_eq!(checked.verbatim.count(), (rows, rows));
    let mut calls = 0;
    let stopped = checked.write_staged(&mut |_| {
        calls += 1;
        if calls == 2 { Err("full") } else { Ok(()) }
    });
    assert_eq!((stopped, calls), (Err("full"), 2));
}

/// `check_writing` and what it wrote; panics on a data error.
fn written_beside(format: Format, data: &str) -> (bool, Vec<u8>) {
    let mut written = Vec::new();
    let (_, complete) = check_writing(format, data, &Limits::default(), &mut |_| {}, &mut |c| {
        written.extend_from_slice(c)
    })
    .unwrap();
    (complete, written)
}

#[test]
fn the_check_writes_the_staged_file_when_the_header_says_what_it_is() {
    let staged = |format, data: &str| prepare(format, data, &Limits::default()).unwrap().body;
    // Every column used by some row (each multi-valued one as often as
    // the header names it): the bytes are the staged file's.
    let all = "ChannelType,Address,Attributes.A,Attributes.A,Metrics.m\nEMAIL,a@example.com,x,,1\nSMS,+12065550100,y,z,\n";
    assert_eq!(
        written_beside(Format::Csv, all),
        (true, staged(Format::Csv, all))
    );
    let json = r#"[{"ChannelType":"EMAIL","Address":"a@example.com","Attributes":{"A":["x"]}}]"#;
    assert_eq!(
        written_beside(Format::Json, json),
        (true, staged(Format::Json, json))
    );
    // A column no row uses, or an attribute never given as many values as
    // it has columns: the staged file leaves them out, so what was written
    // is not it, and the check says so.
    for some in [
        "ChannelType,Address,Attributes.A,Metrics.m\nEMAIL,a@example.com,x,\n",
        "ChannelType,Address,Attributes.A,Attributes.A\nEMAIL,a@example.com,x,\n",
        "ChannelType,Address,User.UserId\nEMAIL,a@example.com,\n",
    ] {
        let (complete, written) = written_beside(Format::Csv, some);
        assert!(!complete, "{some:?}");
        assert_ne!(written, staged(Format::Csv, some), "{some:?}");
    }
}

#[test]
fn a_million_bad_rows_keep_a_hundred_problems() {
    let mut data = String::from("ChannelType,Address\n");
    for _ in 0..20_000 {
        data.push_str("FAX,x\n");
    }
    data.push_str(&format!("EMAIL,{}\n", "y".repeat(16_000)));
    let err = prepare(Format::Csv, &data, &Limits::default()).unwrap_err();
    assert_eq!(
        err,
        oracle::prepare(Format::Csv, &data, &Limits::default()).unwrap_err()
    );
    assert_eq!(err.details.problems.len(), MAX_REPORTED_PROBLEMS);
    assert_eq!(err.details.total_problems, 20_002);
    // The leading kind (size) comes from the last row, beyond the list.
    assert_eq!(err.kind, crate::error::ErrorKind::ImportSizeExceeded);
    assert!(err.message.contains("record 20001"), "{}", err.message);
}

// ---- the JSON fast path ([`json_fast`]) --------------------------------

/// An endpoint of the ordinary shape (as the bench's data has them), with
/// an escaped quote, non-ASCII text and every part set.
fn ordinary(n: usize) -> String {
    format!(
        r#"{{"ChannelType":"EMAIL","Address":"a{n}@example.com","OptOut":"NONE","EffectiveDate":"2024-10-01T12:00:00Z","Demographic":{{"Locale":"pt_BR","Platform":"ios"}},"Location":{{"City":"São Paulo","Country":"BR","Latitude":-23.5,"Longitude":-46.625}},"Attributes":{{"Interests":["Music","Travel"],"Plan":["Gold"]}},"Metrics":{{"purchases":{n},"score":12.25}},"User":{{"UserId":"user_{n}","UserAttributes":{{"FirstName":["Jane"],"LastName":["O\"Brien"]}}}}}}"#
    )
}

/// Endpoints that look unusual but have no problem: the fast path reads
/// them too.
const FAST_TOO: &[&str] = &[
    r#"{"ChannelType":"SMS","Address":"+12065550100","Attributes":{"Plan":"Gold","Empty":[]},"Metrics":{"m":-3,"big":1e300},"Location":null,"Demographic":{"Timezone":null},"User":{"UserId":null}}"#,
    r#"{"Id":"ep-1","Attributes":{"Note":["a\tb","\u00e9\n"]},"RequestId":"r\\1"}"#,
    r#"{"User":{"UserAttributes":null,"UserId":"u"},"Id":"x","Attributes":null,"Metrics":null}"#,
    "{ \"ChannelType\" : \"GCM\" ,\n \"Address\" : \"tok\" }",
    // Numbers and true/false where text is expected, written as text.
    r#"{"Id":42,"RequestId":-0.0,"User":{"UserId":18446744073709551615},"Demographic":{"AppVersion":true,"Model":2.50,"Locale":1e21}}"#,
    r#"{"Id":-9223372036854775808,"Attributes":{"A":[1,false,0.1,"x"],"B":7,"C":true,"D":1e-7},"Location":{"City":3,"Latitude":-0}}"#,
];

/// Endpoints the fast path gives up on: the tree path reads each again and
/// reports what it reported before.
fn unusual() -> Vec<String> {
    let g = |rest: &str| format!(r#"{{"ChannelType":"GCM","Address":"t",{rest}}}"#);
    let many = |n: usize, value: &str| {
        let items: Vec<String> = (0..n).map(|i| format!("\"a{i}\":[{value}]")).collect();
        g(&format!("\"Attributes\":{{{}}}", items.join(",")))
    };
    let values: Vec<String> = (0..51).map(|i| format!("\"v{i}\"")).collect();
    vec![
        // Repeated keys, at every level.
        g(r#""Address":"u""#),
        g(r#""Attributes":{"A":["x"],"A":["y"]}"#),
        g(r#""Attributes":{"A":null,"A":["y"]}"#),
        g(r#""Metrics":{"m":1,"m":2}"#),
        g(r#""Demographic":{"Locale":"en","Locale":"fr"}"#),
        g(r#""User":{"UserId":"a","UserId":"b"}"#),
        g(r#""User":{"UserId":"a"},"User":{"UserId":"b"}"#),
        // Escaped keys.
        r#"{"ChannelType":"GCM","Addr\u0065ss":"t"}"#.into(),
        g(r#""Attributes":{"\u0041":["x"]}"#),
        // Control characters, escaped or raw, in values and keys.
        g(r#""Id":"x\u001b""#),
        g("\"Id\":\"x\u{7f}\""),
        g("\"Id\":\"x\u{85}\""),
        g(r#""Attributes":{"A\u0007":["x"]}"#),
        g("\"Attributes\":{\"A\u{9b}\":[\"x\"]}"),
        g(r#""Attributes":{"A":["x\u0000"]}"#),
        // Other types than the plain ones.
        g(r#""Metrics":{"m":"3"}"#),
        g(r#""Metrics":{"m":true}"#),
        g(r#""Location":{"Longitude":false}"#),
        g(r#""Location":{"Latitude":"47.6"}"#),
        g(r#""Attributes":{"A":[null]}"#),
        g(r#""Attributes":{"A":[["x"]]}"#),
        g(r#""Attributes":{"A":{"x":1}}"#),
        g(r#""Attributes":["x"]"#),
        g(r#""Demographic":"x""#),
        g(r#""User":[]"#),
        // Keys the model does not have.
        g(r#""Nope":1"#),
        g(r#""Adress":"u""#),
        g(r#""Location.City":"x""#),
        g(r#""Demographic":{"Colour":"x"}"#),
        g(r#""User":{"Name":"x"}"#),
        // Problems the builder reports.
        r#"{"ChannelType":"email","Address":"t"}"#.into(),
        r#"{"ChannelType":5,"Address":"t"}"#.into(),
        g(r#""OptOut":true"#),
        r#"{"ChannelType":"EMAIL","Address":"not-an-email"}"#.into(),
        r#"{"ChannelType":"GCM"}"#.into(),
        r#"{"Address":"t","ChannelType":"  "}"#.into(),
        g(r#""OptOut":"maybe","EffectiveDate":"yesterday""#),
        g(r#""Location":{"Latitude":91,"Longitude":-181}"#),
        g(&format!(r#""Attributes":{{"A":[{}]}}"#, values.join(","))),
        g(&format!(r#""Attributes":{{"A":["{}"]}}"#, "é".repeat(101))),
        g(&format!(r#""Id":"{}""#, "x".repeat(16_000))),
        g(r#""Attributes":{" ":["x"]}"#),
        g(&format!(r#""Metrics":{{"{}":1}}"#, "n".repeat(51))),
        // More names than the fast path keeps (no problem, read by the tree).
        many(json_fast::MAX_NAMES + 1, "\"x\""),
        // Not an object, or not valid JSON.
        "1".into(),
        "[]".into(),
        r#"{"ChannelType":"GCM","Address":"t",}"#.into(),
        r#"{"ChannelType":"GCM","Address":"t""#.into(),
        r#"{"ChannelType":"GCM","Address":"t","Attributes":{"A":["x"]}"#.into(),
    ]
}

/// How many endpoints the fast and the tree path read during `f`.
fn taken_during(
    f: impl FnOnce() -> Result<(), TestCaseError>,
) -> Result<(u64, u64), TestCaseError> {
    let (fast, tree) = json_fast::taken();
    f()?;
    let (fast_after, tree_after) = json_fast::taken();
    Ok((fast_after - fast, tree_after - tree))
}

#[test]
fn ordinary_endpoints_take_the_fast_path() {
    // As many custom names as the fast path keeps, in one object.
    let names: Vec<String> = (0..json_fast::MAX_NAMES)
        .map(|i| format!("\"n{}\":[\"x\"]", json_fast::MAX_NAMES - i))
        .collect();
    let many = format!(r#"{{"Id":"many","Attributes":{{{}}}}}"#, names.join(","));
    let endpoints: Vec<String> = (0..20)
        .map(ordinary)
        .chain(FAST_TOO.iter().map(|e| (*e).to_owned()))
        .chain([many])
        .collect();
    let layouts = [
        format!("[{}]", endpoints.join(",")),
        format!("[\n  {}\n]\n", endpoints.join(",\n  ")),
        endpoints.join("\n"),
        format!("\u{feff}{}\r\n", endpoints.join("\r\n")),
    ];
    for data in &layouts {
        for check_address_format in [false, true] {
            let limits = Limits {
                check_address_format,
                ..Limits::default()
            };
            let (fast, tree) = taken_during(|| same(Format::Json, data, &limits)).unwrap();
            assert_eq!(tree, 0, "{data}");
            assert!(fast >= endpoints.len() as u64, "{fast}: {data}");
        }
        // Each endpoint read once per pass: the check and the writer beside it.
        let (fast, _) = taken_during(|| {
            check(Format::Json, data, &Limits::default(), &mut |_| {})
                .map(|_| ())
                .map_err(|e| TestCaseError::fail(e.message))
        })
        .unwrap();
        assert_eq!(fast, endpoints.len() as u64);
    }
}

#[test]
fn unusual_endpoints_fall_back_with_the_same_problems() {
    for endpoint in unusual() {
        for data in [format!("[{endpoint}]"), endpoint.clone()] {
            for check_address_format in [false, true] {
                let limits = Limits {
                    check_address_format,
                    ..Limits::default()
                };
                let (fast, tree) = taken_during(|| same(Format::Json, &data, &limits)).unwrap();
                // An address is a problem only when its format is checked.
                if check_address_format || !data.contains("not-an-email") {
                    assert_eq!(fast, 0, "{data}");
                    // Data without an object may have no endpoint to read.
                    assert!(
                        tree > 0 || !data.starts_with(['[', '{']) || data == "[]",
                        "{data}"
                    );
                }
            }
        }
    }
}

/// Ordinary endpoints and unusual ones in any order and layout.
fn mixed_text() -> impl Strategy<Value = String> {
    let unusual = unusual();
    let endpoint = prop_oneof![
        3 => (0usize..1000).prop_map(ordinary),
        1 => select(FAST_TOO).prop_map(str::to_owned),
        2 => select(unusual),
    ];
    (vec(endpoint, 1..8), 0u8..4).prop_map(|(endpoints, layout)| match layout {
        0 => format!("[{}]", endpoints.join(",")),
        1 => format!("[\n  {}\n]", endpoints.join(",\n  ")),
        2 => endpoints.join("\n"),
        _ => endpoints.join(" "),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Fast and fallback endpoints interleaved: the verdict, problems and
    /// staged bytes of the whole-file reader.
    #[test]
    fn mixed_fast_and_tree_endpoints_stream_as_the_whole_file_reader(
        text in mixed_text(),
        limits in limits(),
    ) {
        same(Format::Json, &text, &limits)?;
    }
}
