//! Tests of `prepare` and the rules, through both readers.

use super::*;
use crate::error::{ErrorKind, Problem, ProblemKind};

const SEED_CSV: &str =
    "ChannelType,Address,User.UserId,User.UserAttributes.FirstName,User.UserAttributes.LastName
EMAIL,john.doe@example.com,user_001,John,Doe
SMS,+12125551234,user_002,Jane,Smith
EMAIL,alice.johnson@example.com,user_003,Alice,Johnson";

const SEED_JSON: &str = r#"[
  {
    "ChannelType": "APNS",
    "Address": "device_token_abc123",
    "User": {
      "UserId": "user_101",
      "UserAttributes": {
        "AppVersion": ["2.0.0-beta"],
        "BetaTester": ["true"]
      }
    }
  },
  {
    "ChannelType": "GCM",
    "Address": "device_token_xyz789",
    "User": {
      "UserId": "user_102",
      "UserAttributes": {
        "AppVersion": ["2.0.0-beta"],
        "BetaTester": ["true"]
      }
    }
  }
]"#;

fn csv(data: &str) -> Result<Prepared, NodeError> {
    prepare(Format::Csv, data, &Limits::default())
}

fn json(data: &str) -> Result<Prepared, NodeError> {
    prepare(Format::Json, data, &Limits::default())
}

#[test]
fn seed_csv_passes() {
    let p = csv(SEED_CSV).unwrap();
    assert_eq!(p.endpoint_count, 3);
    assert_eq!(p.channel_counts.get("EMAIL"), Some(&2));
    assert_eq!(p.channel_counts.get("SMS"), Some(&1));
    let body = String::from_utf8(p.body).unwrap();
    assert_eq!(body, format!("{SEED_CSV}\n"));
}

#[test]
fn seed_json_becomes_two_compact_lines() {
    let p = json(SEED_JSON).unwrap();
    assert_eq!(p.endpoint_count, 2);
    assert_eq!(p.format, Format::Json);
    let body = String::from_utf8(p.body).unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0],
        r#"{"ChannelType":"APNS","Address":"device_token_abc123","User":{"UserId":"user_101","UserAttributes":{"AppVersion":["2.0.0-beta"],"BetaTester":["true"]}}}"#
    );
    for l in lines {
        assert!(
            serde_json::from_str::<serde_json::Value>(l)
                .unwrap()
                .is_object()
        );
    }
}

fn problems_of(r: Result<Prepared, NodeError>) -> (ErrorKind, Vec<Problem>) {
    match r {
        Ok(p) => panic!("expected an error, got {} endpoints", p.endpoint_count),
        Err(e) => (e.kind, e.details.problems),
    }
}

fn one_problem(r: Result<Prepared, NodeError>) -> Problem {
    let (_, p) = problems_of(r);
    assert_eq!(p.len(), 1, "{p:#?}");
    p.into_iter().next().unwrap()
}

// ---- CSV structure ----

#[test]
fn csv_bom_and_crlf_give_the_same_body() {
    let plain = csv(SEED_CSV).unwrap().body;
    let windows = format!("\u{feff}{}\r\n", SEED_CSV.replace('\n', "\r\n"));
    assert_eq!(csv(&windows).unwrap().body, plain);
}

#[test]
fn csv_blank_lines_are_skipped_and_lines_still_counted() {
    let data = "ChannelType,Address\n\nEMAIL,a@example.com\n   \nFAX,b@example.com\n\n";
    let p = one_problem(csv(data));
    assert_eq!(p.record, Some(2));
    assert_eq!(p.line, Some(5));
    assert_eq!(p.column, Some(1));
    let ok = csv("ChannelType,Address\n\nEMAIL,a@example.com\n\n").unwrap();
    assert_eq!(ok.endpoint_count, 1);
    assert_eq!(ok.body, b"ChannelType,Address\nEMAIL,a@example.com\n");
}

#[test]
fn csv_empty_file_and_header_only() {
    for empty in ["", "\u{feff}", "\n\n", "  \r\n"] {
        let p = one_problem(csv(empty));
        assert_eq!(p.kind, ProblemKind::MalformedData);
        assert!(p.message.contains("empty"), "{p:?}");
    }
    let p = one_problem(csv("ChannelType,Address\n"));
    assert!(p.message.contains("no endpoints"), "{p:?}");
    assert_eq!(p.record, None);
}

#[test]
fn csv_quoted_commas_and_quotes_are_values() {
    let data = "ChannelType,Address,Attributes.Note\nEMAIL,a@example.com,\"one, \"\"two\"\"\"\n";
    let endpoints = read(Format::Csv, data, &Limits::default()).unwrap();
    assert_eq!(
        endpoints[0].attributes["Note"],
        vec!["one, \"two\"".to_string()]
    );
    let body = csv(data).unwrap().body;
    assert_eq!(String::from_utf8(body).unwrap(), data);
}

#[test]
fn csv_tab_or_line_break_in_a_value_is_rejected() {
    let p = one_problem(csv("ChannelType,Address\nEMAIL,a\t@example.com\n"));
    assert_eq!((p.record, p.line, p.column), (Some(1), Some(2), Some(2)));
    assert!(p.message.contains("tab"));
    let (kind, p) = problems_of(csv(
        "ChannelType,Address,User.UserId\nEMAIL,\"a@example.com\nx\",u1\nSMS,+12065550100,u2\nFAX,x,u3\n",
    ));
    assert_eq!(kind, ErrorKind::MalformedData);
    assert!(p[0].message.contains("line break"), "{p:?}");
    // Reading goes on: the FAX row on line 5 is still found.
    assert!(
        p.iter()
            .any(|p| p.line == Some(5) && p.kind == ProblemKind::InvalidChannelType),
        "{p:#?}"
    );
}

#[test]
fn csv_ragged_rows_are_reported() {
    let (_, p) = problems_of(csv("ChannelType,Address\nEMAIL,a@example.com,extra\nSMS\n"));
    assert!(
        p[0].message.contains("3 values but the header has 2"),
        "{p:?}"
    );
    assert_eq!(p[0].record, Some(1));
    assert!(
        p.iter()
            .any(|x| x.record == Some(2) && x.message.contains("1 values")),
        "{p:?}"
    );
    assert!(csv("ChannelType,Address\nEMAIL,a@example.com\n").is_ok());
}

#[test]
fn csv_bad_quoting_is_reported() {
    let p = one_problem(csv("ChannelType,Address\nEMAIL,a\"b@example.com\n"));
    assert!(p.message.contains("double quote"), "{p:?}");
    let p = one_problem(csv("ChannelType,Address\nEMAIL,\"a@example.com\"x\n"));
    assert!(p.message.contains("after the closing"), "{p:?}");
    let p = one_problem(csv("ChannelType,Address\nEMAIL,\"a@example.com\n"));
    assert!(p.message.contains("never closed"), "{p:?}");
    assert!(csv("ChannelType,Address\nEMAIL,\"a@example.com\"\n").is_ok());
}

#[test]
fn csv_header_without_required_columns_is_one_problem() {
    let data = "Address,User.UserId\na@example.com,u1\nb@example.com,u2\nc@example.com,u3\n";
    let (kind, p) = problems_of(csv(data));
    assert_eq!(kind, ErrorKind::MissingRequiredFields);
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!(p[0].record, None);
    assert_eq!(p[0].line, Some(1));
    assert!(p[0].message.contains("ChannelType"));
    let p = one_problem(csv("User.UserId\nu1\nu2\n"));
    assert!(p.message.contains("ChannelType or Address"), "{p:?}");
}

#[test]
fn csv_repeated_columns_are_multi_valued_attributes() {
    let data = "ChannelType,Address,User.UserAttributes.Interests,User.UserAttributes.Interests\nEMAIL,a@example.com,Music,Travel\nEMAIL,b@example.com,Art,\n";
    let e = read(Format::Csv, data, &Limits::default()).unwrap();
    assert_eq!(
        e[0].user.user_attributes["Interests"],
        vec!["Music", "Travel"]
    );
    assert_eq!(e[1].user.user_attributes["Interests"], vec!["Art"]);
    let p = one_problem(csv(
        "ChannelType,Address,Address\nEMAIL,a@example.com,b@example.com\n",
    ));
    assert!(p.message.contains("more than once"), "{p:?}");
    assert_eq!(p.column, Some(3));
}

// ---- field names ----

#[test]
fn wrongly_cased_names_are_reported_with_the_right_name() {
    let (kind, p) = problems_of(csv("channeltype,Address\nEMAIL,a@example.com\n"));
    assert_eq!(kind, ErrorKind::MalformedData);
    assert_eq!(p.len(), 1, "{p:#?}");
    assert!(p[0].message.contains("did you mean `ChannelType`"), "{p:?}");
    assert_eq!(p[0].field.as_deref(), Some("channeltype"));
    let (_, p) = problems_of(json(r#"{"channelType":"EMAIL","Address":"a@example.com"}"#));
    assert!(p[0].message.contains("`ChannelType`"), "{p:?}");
    let (_, p) = problems_of(json(
        r#"{"ChannelType":"EMAIL","Address":"a@example.com","User":{"userId":"u"}}"#,
    ));
    assert!(p[0].message.contains("`User.UserId`"), "{p:?}");
    assert!(
        csv("ChannelType,Address,User.UserAttributes.firstname\nEMAIL,a@example.com,x\n").is_ok()
    );
}

#[test]
fn unsupported_fields_are_rejected_with_a_reason() {
    let p = one_problem(csv(
        "ChannelType,Address,EndpointStatus\nEMAIL,a@example.com,ACTIVE\n",
    ));
    assert!(p.message.contains("EndpointStatus"), "{p:?}");
    assert!(p.message.contains("does not support"), "{p:?}");
    let p = one_problem(json(
        r#"{"ChannelType":"EMAIL","Address":"a@example.com","EndpointStatus":"ACTIVE"}"#,
    ));
    assert!(p.message.contains("does not support"), "{p:?}");
}

#[test]
fn json_dot_names_are_told_to_nest() {
    let p = one_problem(json(
        r#"{"ChannelType":"EMAIL","Address":"a@example.com","User.UserId":"u"}"#,
    ));
    assert!(p.message.contains("{\"User\":{\"UserId\":...}}"), "{p:?}");
}

// ---- required fields ----

#[test]
fn rows_without_channel_type_or_address_are_reported() {
    let (kind, p) = problems_of(csv("ChannelType,Address\nEMAIL,\n,+12065550100\n ,x\n"));
    assert_eq!(kind, ErrorKind::MissingRequiredFields);
    let got: Vec<_> = p.iter().map(|p| (p.record, p.field.as_deref())).collect();
    assert_eq!(
        got,
        vec![
            (Some(1), Some("Address")),
            (Some(2), Some("ChannelType")),
            (Some(3), Some("ChannelType"))
        ]
    );
    let p = one_problem(json(r#"{"ChannelType":"EMAIL"}"#));
    assert_eq!(
        (p.kind, p.field.as_deref()),
        (ProblemKind::MissingRequiredFields, Some("Address"))
    );
    let p = one_problem(json(r#"{"ChannelType":"EMAIL","Address":null}"#));
    assert_eq!(p.field.as_deref(), Some("Address"));
}

#[test]
fn id_alone_updates_an_existing_endpoint() {
    let p = csv("Id,Attributes.Plan\nep-1,Gold\n").unwrap();
    assert_eq!(p.endpoint_count, 1);
    assert!(p.channel_counts.is_empty());
    assert!(json(r#"{"Id":"ep-1","Attributes":{"Plan":["Gold"]}}"#).is_ok());
    // With an Id column, a row without an Id is still a new endpoint.
    let p = one_problem(csv("Id,ChannelType,Address\n,EMAIL,\n"));
    assert_eq!(p.field.as_deref(), Some("Address"));
}

// ---- values ----

#[test]
fn channel_types_are_the_thirteen_in_exact_case() {
    for c in ChannelType::ALL {
        let data = format!("ChannelType,Address\n{},x\n", c.as_str());
        let limits = Limits {
            check_address_format: false,
            ..Limits::default()
        };
        assert!(prepare(Format::Csv, &data, &limits).is_ok(), "{c:?}");
    }
    let (kind, p) = problems_of(csv("ChannelType,Address\nFAX,x\n"));
    assert_eq!(kind, ErrorKind::InvalidChannelType);
    assert!(p[0].message.contains("IN_APP"), "{p:?}");
    let p = one_problem(csv("ChannelType,Address\nemail,a@example.com\n"));
    assert!(p.message.contains("did you mean EMAIL"), "{p:?}");
    assert_eq!(p.kind, ProblemKind::InvalidChannelType);
}

#[test]
fn opt_out_is_all_or_none() {
    assert!(
        csv("ChannelType,Address,OptOut\nEMAIL,a@example.com,ALL\nEMAIL,b@example.com,NONE\n")
            .is_ok()
    );
    let p = one_problem(csv("ChannelType,Address,OptOut\nEMAIL,a@example.com,yes\n"));
    assert_eq!(p.field.as_deref(), Some("OptOut"));
}

#[test]
fn metrics_are_numbers() {
    let e = read(
        Format::Csv,
        "ChannelType,Address,Metrics.Score\nEMAIL,a@example.com,3.5\n",
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(e[0].metrics["Score"], 3.5);
    let p = one_problem(csv(
        "ChannelType,Address,Metrics.Score\nEMAIL,a@example.com,high\n",
    ));
    assert!(p.message.contains("not a number"), "{p:?}");
    assert!(
        json(r#"{"ChannelType":"EMAIL","Address":"a@example.com","Metrics":{"Score":3.5}}"#)
            .is_ok()
    );
    let p = one_problem(json(
        r#"{"ChannelType":"EMAIL","Address":"a@example.com","Metrics":{"Score":"3.5"}}"#,
    ));
    assert!(p.message.contains("not text in quotes"), "{p:?}");
    assert_eq!(p.field.as_deref(), Some("Metrics.Score"));
}

#[test]
fn latitude_and_longitude_are_in_range() {
    assert!(csv("ChannelType,Address,Location.Latitude,Location.Longitude\nEMAIL,a@example.com,47.6,-122.3\n").is_ok());
    let (_, p) = problems_of(csv(
        "ChannelType,Address,Location.Latitude,Location.Longitude\nEMAIL,a@example.com,91,-181\n",
    ));
    assert_eq!(p.len(), 2);
    assert_eq!(p[0].field.as_deref(), Some("Location.Latitude"));
    assert_eq!(p[1].field.as_deref(), Some("Location.Longitude"));
    let p = one_problem(json(
        r#"{"ChannelType":"EMAIL","Address":"a@example.com","Location":{"Latitude":"north"}}"#,
    ));
    assert_eq!(p.field.as_deref(), Some("Location.Latitude"));
}

#[test]
fn attribute_names_and_values_have_length_limits() {
    let name50 = "n".repeat(50);
    let name51 = "n".repeat(51);
    assert!(
        csv(&format!(
            "ChannelType,Address,Attributes.{name50}\nEMAIL,a@example.com,x\n"
        ))
        .is_ok()
    );
    let p = one_problem(csv(&format!(
        "ChannelType,Address,Attributes.{name51}\nEMAIL,a@example.com,x\n"
    )));
    assert!(p.message.contains("51 characters"), "{p:?}");
    let v100 = "é".repeat(100);
    let v101 = "é".repeat(101);
    assert!(
        csv(&format!(
            "ChannelType,Address,Attributes.A\nEMAIL,a@example.com,{v100}\n"
        ))
        .is_ok()
    );
    let p = one_problem(csv(&format!(
        "ChannelType,Address,Attributes.A\nEMAIL,a@example.com,{v101}\n"
    )));
    assert!(p.message.contains("101 characters"), "{p:?}");
    let p = one_problem(json(&format!(
        r#"{{"ChannelType":"EMAIL","Address":"a@example.com","User":{{"UserAttributes":{{"{name51}":["x"]}}}}}}"#
    )));
    assert!(p.message.contains("51 characters"), "{p:?}");
}

fn json_with_values(n: usize) -> String {
    let values: Vec<String> = (0..n).map(|i| format!("\"v{i}\"")).collect();
    format!(
        r#"{{"ChannelType":"EMAIL","Address":"a@example.com","Attributes":{{"Tags":[{}]}}}}"#,
        values.join(",")
    )
}

#[test]
fn at_most_fifty_values_per_attribute() {
    assert!(json(&json_with_values(50)).is_ok());
    let p = one_problem(json(&json_with_values(51)));
    assert!(p.message.contains("51 values"), "{p:?}");
    let header = vec!["Attributes.Tags"; 51].join(",");
    let row = vec!["x"; 51].join(",");
    let p = one_problem(csv(&format!(
        "ChannelType,Address,{header}\nEMAIL,a@example.com,{row}\n"
    )));
    assert_eq!(p.field.as_deref(), Some("Attributes.Tags"));
}

fn json_with_names(n: usize) -> String {
    let attrs: Vec<String> = (0..n).map(|i| format!("\"a{i}\":[\"x\"]")).collect();
    format!(
        r#"{{"ChannelType":"EMAIL","Address":"a@example.com","Attributes":{{{}}}}}"#,
        attrs.join(",")
    )
}

#[test]
fn at_most_250_custom_attribute_names_per_import() {
    assert!(json(&json_with_names(250)).is_ok());
    let p = one_problem(json(&json_with_names(251)));
    assert!(p.message.contains("more than 250"), "{p:?}");
    // Spread over endpoints and kinds, the names still add up.
    let mut lines = Vec::new();
    for i in 0..126 {
        lines.push(format!(
            r#"{{"ChannelType":"EMAIL","Address":"a@example.com","Metrics":{{"m{i}":1}},"User":{{"UserAttributes":{{"u{i}":["x"]}}}}}}"#
        ));
    }
    let p = one_problem(json(&lines.join("\n")));
    assert_eq!(p.record, Some(126));
}

#[test]
fn endpoints_larger_than_15_kb_are_rejected() {
    let values: Vec<String> = (0..50)
        .map(|_| format!("\"{}\"", "x".repeat(100)))
        .collect();
    let list = values.join(",");
    let attrs: Vec<String> = (0..3).map(|i| format!("\"a{i}\":[{list}]")).collect();
    let big = format!(
        r#"{{"ChannelType":"EMAIL","Address":"a@example.com","Attributes":{{{}}}}}"#,
        attrs.join(",")
    );
    let (kind, p) = problems_of(json(&big));
    assert_eq!(kind, ErrorKind::ImportSizeExceeded);
    assert!(p[0].message.contains("15 KB"), "{p:?}");
    let attrs: Vec<String> = (0..2).map(|i| format!("\"a{i}\":[{list}]")).collect();
    let fits = format!(
        r#"{{"ChannelType":"EMAIL","Address":"a@example.com","Attributes":{{{}}}}}"#,
        attrs.join(",")
    );
    assert!(json(&fits).is_ok());
}

#[test]
fn at_most_15_endpoints_per_user() {
    let rows = |n: usize| {
        let mut s = String::from("ChannelType,Address,User.UserId\n");
        for i in 0..n {
            s.push_str(&format!("EMAIL,u{i}@example.com,same-user\n"));
        }
        s.push_str("EMAIL,other@example.com,other-user\n");
        s
    };
    assert!(csv(&rows(15)).is_ok());
    let p = one_problem(csv(&rows(17)));
    assert_eq!(p.record, Some(16));
    assert!(p.message.contains("17 endpoints"), "{p:?}");
}

#[test]
fn address_shapes_are_checked_unless_switched_off() {
    let data = "ChannelType,Address\nSMS,212-555-1234\nEMAIL,john.example.com\nVOICE,+12125551234\nGCM,any-token\n";
    let (_, p) = problems_of(csv(data));
    assert_eq!(p.len(), 2, "{p:#?}");
    assert!(p[0].message.contains("E.164"));
    assert!(p[1].message.contains("email"));
    let off = Limits {
        check_address_format: false,
        ..Limits::default()
    };
    assert!(prepare(Format::Csv, data, &off).is_ok());
}

#[test]
fn effective_date_is_iso_8601() {
    assert!(
        csv("ChannelType,Address,EffectiveDate\nEMAIL,a@example.com,2024-05-01T12:00:00Z\n")
            .is_ok()
    );
    let p = one_problem(csv(
        "ChannelType,Address,EffectiveDate\nEMAIL,a@example.com,05/01/2024\n",
    ));
    assert_eq!(p.field.as_deref(), Some("EffectiveDate"));
}

// ---- JSON layouts and syntax ----

#[test]
fn json_accepts_ndjson_and_single_objects() {
    let nd = "{\"ChannelType\":\"EMAIL\",\"Address\":\"a@example.com\"}\r\n\n{\"ChannelType\":\"SMS\",\"Address\":\"+12065550100\"}\n";
    assert_eq!(json(nd).unwrap().endpoint_count, 2);
    let one = "{\n  \"ChannelType\": \"EMAIL\",\n  \"Address\": \"a@example.com\"\n}\n";
    let p = json(one).unwrap();
    assert_eq!(
        p.body,
        b"{\"ChannelType\":\"EMAIL\",\"Address\":\"a@example.com\"}\n"
    );
    assert!(json("\u{feff}[{\"ChannelType\":\"EMAIL\",\"Address\":\"a@example.com\"}]").is_ok());
}

#[test]
fn json_bare_strings_and_numbers_become_lists_of_text() {
    let e = read(
        Format::Json,
        r#"{"ChannelType":"EMAIL","Address":"a@example.com","Attributes":{"Plan":"Gold","Ids":[1,true]},"User":{"UserId":42}}"#,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(e[0].attributes["Plan"], vec!["Gold"]);
    assert_eq!(e[0].attributes["Ids"], vec!["1", "true"]);
    assert_eq!(e[0].user.user_id.as_deref(), Some("42"));
    let p = one_problem(json(
        r#"{"ChannelType":"EMAIL","Address":"a@example.com","Attributes":{"Plan":[["x"]]}}"#,
    ));
    assert!(p.message.contains("must contain strings"), "{p:?}");
    let p = one_problem(json(
        r#"{"ChannelType":"EMAIL","Address":"a@example.com","Attributes":["x"]}"#,
    ));
    assert!(p.message.contains("must be an object"), "{p:?}");
}

#[test]
fn json_syntax_errors_have_positions_and_ndjson_reading_goes_on() {
    let nd = "{\"ChannelType\":\"EMAIL\",\"Address\":\"a@example.com\"}\n{\"ChannelType\":\"EMAIL\" \"Address\":\"b@example.com\"}\n{\"ChannelType\":\"FAX\",\"Address\":\"c\"}\n";
    let (kind, p) = problems_of(json(nd));
    assert_eq!(kind, ErrorKind::MalformedData);
    assert_eq!(p.len(), 2, "{p:#?}");
    assert_eq!((p[0].record, p[0].line), (Some(2), Some(2)));
    assert!(p[0].message.contains("not valid"), "{p:?}");
    assert_eq!(
        (p[1].record, p[1].line, p[1].kind),
        (Some(3), Some(3), ProblemKind::InvalidChannelType)
    );
}

#[test]
fn json_array_problems() {
    let p = one_problem(json(
        "[{\"ChannelType\":\"EMAIL\",\"Address\":\"a@example.com\"},]",
    ));
    assert!(p.message.contains("comma after the last"), "{p:?}");
    let p = one_problem(json(
        "[{\"ChannelType\":\"EMAIL\",\"Address\":\"a@example.com\"}",
    ));
    assert!(p.message.contains("not closed"), "{p:?}");
    let p = one_problem(json("[]"));
    assert!(p.message.contains("no endpoints"), "{p:?}");
    let p = one_problem(json("[\"EMAIL\"]"));
    assert!(p.message.contains("must be a JSON object"), "{p:?}");
    let p = one_problem(json(
        "[{\"ChannelType\":\"EMAIL\",\"Address\":\"a@example.com\"}] x",
    ));
    assert!(p.message.contains("after the closing ]"), "{p:?}");
    let p = one_problem(json(
        "[\n  {\n    \"ChannelType\": \"EMAIL\",\n    \"Address\": \"a@example.com\"\n  \n]",
    ));
    assert!(p.message.contains("not valid"), "{p:?}");
    assert_eq!(p.line, Some(6));
}

#[test]
fn json_empty_or_not_json() {
    for data in ["", "  \n", "\u{feff}"] {
        assert!(one_problem(json(data)).message.contains("empty"));
    }
    let p = one_problem(json("ChannelType,Address\nEMAIL,a@example.com"));
    assert!(p.message.contains("must be an array"), "{p:?}");
    let p = one_problem(json("{\"ChannelType\":\"EMAIL\",\"Address\":\"a@"));
    assert!(p.message.contains("ends in the middle"), "{p:?}");
}

#[test]
fn json_field_problems_point_at_the_key() {
    let data = "[\n  {\n    \"ChannelType\": \"EMAIL\",\n    \"Address\": \"a@example.com\",\n    \"OptOut\": \"never\"\n  }\n]";
    let p = one_problem(json(data));
    assert_eq!((p.record, p.line, p.column), (Some(1), Some(5), Some(5)));
    assert_eq!(p.field.as_deref(), Some("OptOut"));
}

#[test]
fn json_duplicate_keys_are_reported() {
    let p = one_problem(json(
        r#"{"ChannelType":"EMAIL","Address":"a@example.com","Address":"b@example.com"}"#,
    ));
    assert!(p.message.contains("appears twice"), "{p:?}");
}

// ---- the report ----

#[test]
fn import_size_limit_sets_the_details() {
    let limits = Limits {
        max_import_bytes: 50,
        ..Limits::default()
    };
    let err = prepare(Format::Csv, SEED_CSV, &limits).unwrap_err();
    assert_eq!(err.kind, ErrorKind::ImportSizeExceeded);
    assert_eq!(err.details.limit_bytes, Some(50));
    assert_eq!(err.details.actual_bytes, Some(SEED_CSV.len() as u64 + 1));
    let exact = Limits {
        max_import_bytes: SEED_CSV.len() as u64 + 1,
        ..Limits::default()
    };
    assert!(prepare(Format::Csv, SEED_CSV, &exact).is_ok());
}

#[test]
fn problems_are_ordered_by_position_and_kinds_follow_precedence() {
    let data = "ChannelType,Address,OptOut\nFAX,a@example.com,NONE\nEMAIL,,NONE\nEMAIL,b@example.com,maybe\n";
    let (kind, p) = problems_of(csv(data));
    assert_eq!(kind, ErrorKind::MalformedData);
    let lines: Vec<_> = p.iter().map(|p| p.line).collect();
    assert_eq!(lines, vec![Some(2), Some(3), Some(4)]);
}

#[test]
fn long_reports_are_capped_with_the_total() {
    let mut data = String::from("ChannelType,Address\n");
    for _ in 0..250 {
        data.push_str("FAX,x\n");
    }
    let err = csv(&data).unwrap_err();
    assert_eq!(err.details.problems.len(), MAX_REPORTED_PROBLEMS);
    assert_eq!(err.details.total_problems, 250);
    assert_eq!(err.details.problems[0].record, Some(1));
}

#[test]
fn summary_counts_bytes_to_stage() {
    let p = json(SEED_JSON).unwrap();
    let s = p.summary();
    assert_eq!(s.endpoint_count, 2);
    assert_eq!(s.staged_bytes, p.body.len() as u64);
    assert_eq!(s.channel_counts.get("APNS"), Some(&1));
}

// ---- one model behind both readers ----

#[test]
fn the_same_endpoints_as_csv_and_json_give_the_same_model() {
    let csv_data = "ChannelType,Address,Id,OptOut,EffectiveDate,Attributes.Interests,Attributes.Interests,Metrics.Score,Demographic.Platform,Demographic.Locale,Location.Country,Location.Latitude,Location.Longitude,User.UserId,User.UserAttributes.FirstName\n\
EMAIL,jane@example.com,ep-1,NONE,2024-05-01T00:00:00Z,Music,\"Travel, far\",42.5,iOS,en_US,US,47.6,-122.3,u1,Jane\n\
SMS,+12065550100,,ALL,,Art,,0,,,,,,u2,\n";
    let json_data = r#"[
 {"ChannelType":"EMAIL","Address":"jane@example.com","Id":"ep-1","OptOut":"NONE","EffectiveDate":"2024-05-01T00:00:00Z",
  "Attributes":{"Interests":["Music","Travel, far"]},"Metrics":{"Score":42.5},
  "Demographic":{"Platform":"iOS","Locale":"en_US"},"Location":{"Country":"US","Latitude":47.6,"Longitude":-122.3},
  "User":{"UserId":"u1","UserAttributes":{"FirstName":["Jane"]}}},
 {"ChannelType":"SMS","Address":"+12065550100","OptOut":"ALL","Attributes":{"Interests":"Art"},"Metrics":{"Score":0},"User":{"UserId":"u2"}}
]"#;
    let from_csv = read(Format::Csv, csv_data, &Limits::default()).unwrap();
    let from_json = read(Format::Json, json_data, &Limits::default()).unwrap();
    assert_eq!(from_csv, from_json);
    assert_eq!(from_csv.len(), 2);
}

// ---- properties ----

mod props {
    use super::*;
    use proptest::collection::{btree_map, vec};
    use proptest::option;
    use proptest::prelude::*;

    /// Text Pinpoint accepts in a value: anything but control characters
    /// (CR, LF, TAB, NUL, ESC, DEL, C1...).
    fn text(max: usize) -> impl Strategy<Value = String> {
        proptest::string::string_regex(&format!("[^\\p{{Cc}}]{{1,{max}}}")).unwrap()
    }

    fn custom_name() -> impl Strategy<Value = String> {
        "[^\\p{Cc}]{0,12}[a-zA-Z0-9]"
    }

    fn list() -> impl Strategy<Value = Vec<String>> {
        vec(text(30), 1..4)
    }

    fn number() -> impl Strategy<Value = f64> {
        prop_oneof![
            -1e6f64..1e6,
            any::<i32>().prop_map(f64::from),
            proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO,
        ]
    }

    fn channel_and_address() -> impl Strategy<Value = (ChannelType, String)> {
        (0..ChannelType::ALL.len()).prop_flat_map(|i| {
            let c = ChannelType::ALL[i];
            let address = match c {
                ChannelType::Sms | ChannelType::Voice => "\\+[1-9][0-9]{6,13}".boxed(),
                ChannelType::Email => "[a-z0-9._+\"-]{1,20}@[a-z0-9.-]{1,20}".boxed(),
                _ => "[A-Za-z0-9_:-]{1,64}".boxed(),
            };
            address.prop_map(move |a| (c, a))
        })
    }

    fn date() -> impl Strategy<Value = String> {
        (1970u32..2100, 1u32..13, 1u32..29, 0u32..24, 0u32..60)
            .prop_map(|(y, m, d, h, min)| format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:00Z"))
    }

    fn demographic() -> impl Strategy<Value = Demographic> {
        vec(option::of(text(20)), 8).prop_map(|v| {
            let mut d = Demographic::default();
            for (f, value) in model::DemographicField::ALL.into_iter().zip(v) {
                *d.slot(f) = value;
            }
            d
        })
    }

    fn location() -> impl Strategy<Value = Location> {
        (
            option::of(text(20)),
            option::of("[A-Z]{2}"),
            option::of(-90.0f64..=90.0),
            option::of(-180.0f64..=180.0),
            option::of(text(10)),
            option::of(text(20)),
        )
            .prop_map(
                |(city, country, latitude, longitude, postal_code, region)| Location {
                    city,
                    country,
                    latitude,
                    longitude,
                    postal_code,
                    region,
                },
            )
    }

    prop_compose! {
        fn endpoint()(
            (channel, address) in channel_and_address(),
            id in option::of(text(20)),
            request_id in option::of(text(20)),
            opt_out in option::of(prop_oneof![Just(OptOut::All), Just(OptOut::None)]),
            effective_date in option::of(date()),
            attributes in btree_map(custom_name(), list(), 0..3),
            metrics in btree_map(custom_name(), number(), 0..3),
            demographic in demographic(),
            location in location(),
            user_id in option::of(text(20)),
            user_attributes in btree_map(custom_name(), list(), 0..3),
        ) -> Endpoint {
            Endpoint {
                channel_type: Some(channel),
                address: Some(address),
                id,
                request_id,
                opt_out,
                effective_date,
                attributes,
                metrics,
                demographic,
                location,
                user: User { user_id, user_attributes },
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn valid_endpoints_survive_csv(endpoints in vec(endpoint(), 1..6)) {
            let body = writer::to_csv(&endpoints);
            let text = String::from_utf8(body.clone()).unwrap();
            let back = read(Format::Csv, &text, &Limits::default());
            prop_assert_eq!(back.as_ref().ok(), Some(&endpoints), "{:?}\n{}", back.as_ref().err(), text);
            // Normalising normalised CSV changes nothing.
            let again = prepare(Format::Csv, &text, &Limits::default()).unwrap();
            prop_assert_eq!(&again.body, &body);
            prop_assert_eq!(again.endpoint_count, endpoints.len() as u64);
            // Standard CSV readers agree on the shape.
            let mut standard = csv::ReaderBuilder::new().has_headers(false).from_reader(body.as_slice());
            let widths: Vec<usize> = standard.records().map(|r| r.unwrap().len()).collect();
            prop_assert_eq!(widths.len(), endpoints.len() + 1);
            prop_assert!(widths.iter().all(|w| *w == widths[0]));
        }

        #[test]
        fn valid_endpoints_survive_json(endpoints in vec(endpoint(), 1..6)) {
            let body = writer::to_ndjson(&endpoints).unwrap();
            let text = String::from_utf8(body.clone()).unwrap();
            let back = read(Format::Json, &text, &Limits::default());
            prop_assert_eq!(back.as_ref().ok(), Some(&endpoints), "{:?}\n{}", back.as_ref().err(), text);
            prop_assert_eq!(text.lines().count(), endpoints.len());
            let again = prepare(Format::Json, &text, &Limits::default()).unwrap();
            prop_assert_eq!(&again.body, &body);
            // The same endpoints as a pretty-printed array read the same.
            let pretty = serde_json::to_string_pretty(&endpoints).unwrap();
            let back = read(Format::Json, &pretty, &Limits::default());
            prop_assert_eq!(back.ok(), Some(endpoints));
        }

        #[test]
        fn csv_and_json_give_the_same_model(endpoints in vec(endpoint(), 1..4)) {
            let csv_text = String::from_utf8(writer::to_csv(&endpoints)).unwrap();
            let json_text = String::from_utf8(writer::to_ndjson(&endpoints).unwrap()).unwrap();
            let a = read(Format::Csv, &csv_text, &Limits::default()).ok();
            let b = read(Format::Json, &json_text, &Limits::default()).ok();
            prop_assert!(a.is_some());
            prop_assert_eq!(a, b);
        }

        #[test]
        fn random_bytes_never_panic(bytes in vec(any::<u8>(), 0..400)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = prepare(Format::Csv, &text, &Limits::default());
            let _ = prepare(Format::Json, &text, &Limits::default());
        }

        #[test]
        fn random_csv_like_text_never_panics(text in "[\",\r\n\t a-zA-Z.\u{feff}é]{0,300}") {
            let _ = prepare(Format::Csv, &text, &Limits::default());
            let data = format!("ChannelType,Address,Attributes.A\n{text}");
            let _ = prepare(Format::Csv, &data, &Limits::default());
        }

        #[test]
        fn random_json_like_text_never_panics(text in "[\\[\\]{}\",: \r\n\ta-zA-Z0-9.\\\\e+-]{0,300}") {
            let _ = prepare(Format::Json, &text, &Limits::default());
        }

        #[test]
        fn mutated_seeds_never_panic(
            which in 0..2usize,
            edits in vec((any::<prop::sample::Index>(), any::<char>(), 0..3u8), 1..8),
        ) {
            let (format, seed) = if which == 0 { (Format::Csv, SEED_CSV) } else { (Format::Json, SEED_JSON) };
            let mut chars: Vec<char> = seed.chars().collect();
            for (at, c, op) in edits {
                let i = at.index(chars.len() + 1);
                match op {
                    0 => chars.insert(i, c),
                    1 if i < chars.len() => { chars.remove(i); }
                    _ if i < chars.len() => chars[i] = c,
                    _ => {}
                }
            }
            let text: String = chars.into_iter().collect();
            let _ = prepare(format, &text, &Limits::default());
        }
    }
}

#[test]
fn json_columns_count_characters_not_bytes() {
    let data = r#"{"Address":"é@example.com","ChannelType":"email"}"#;
    let p = one_problem(json(data));
    let key = data.find("\"ChannelType").unwrap();
    assert_eq!(p.column, Some(data[..key].chars().count() as u64 + 1));
    assert_eq!(p.column, Some(28));
}

#[test]
fn a_minified_one_line_array_is_read() {
    let one = r#"{"ChannelType":"EMAIL","Address":"a@example.com"}"#;
    let data = format!("[{}]", vec![one; 20_000].join(","));
    assert_eq!(json(&data).unwrap().endpoint_count, 20_000);
}

/// A multi-megabyte name or value in any place a message quotes it: the
/// error stays small, and says how long the quoted text was.
#[test]
fn huge_names_and_values_are_quoted_short() {
    let name = "N".repeat(2 << 20);
    let ok = "ChannelType,Address";
    let cases = [
        (
            Format::Csv,
            format!("{ok},Attributes.{name}\nEMAIL,a@example.com,x\n"),
        ),
        (
            Format::Csv,
            format!("{ok},Metrics.{name}\nEMAIL,a@example.com,1\n"),
        ),
        (Format::Csv, format!("{ok},{name}\nEMAIL,a@example.com,x\n")),
        (
            Format::Csv,
            format!(
                "{ok},User.UserAttributes.{name},User.UserAttributes.{name}\nEMAIL,a@example.com,x,y\n"
            ),
        ),
        (Format::Csv, format!("{ok}\n{name},a@example.com\n")),
        (Format::Csv, format!("{ok}\nEMAIL,{name}\n")),
        (
            Format::Csv,
            format!(
                "{ok},OptOut,EffectiveDate,Metrics.m\nEMAIL,a@example.com,{name},{name},{name}\n"
            ),
        ),
        (
            Format::Json,
            format!(
                r#"{{"ChannelType":"EMAIL","Address":"a@example.com","Attributes":{{"{name}":["x"]}}}}"#
            ),
        ),
        (
            Format::Json,
            format!(
                r#"{{"ChannelType":"EMAIL","Address":"a@example.com","User":{{"UserAttributes":{{"{name}":["x"]}}}}}}"#
            ),
        ),
        (
            Format::Json,
            format!(r#"{{"ChannelType":"EMAIL","Address":"a@example.com","{name}":"x"}}"#),
        ),
        (
            Format::Json,
            format!(
                r#"{{"ChannelType":"EMAIL","Address":"a@example.com","Attributes.{name}":"x"}}"#
            ),
        ),
        (
            Format::Json,
            format!(
                r#"{{"ChannelType":"EMAIL","Address":"a@example.com","Metrics":{{"m":"{name}"}}}}"#
            ),
        ),
        (
            Format::Json,
            format!(
                r#"{{"ChannelType":"EMAIL","Address":"a@example.com","Demographic":{{"{name}":"x"}}}}"#
            ),
        ),
        (
            Format::Json,
            format!(
                r#"{{"ChannelType":"EMAIL","Address":"a@example.com","Metrics":{{"{name}":1,"{name}":2}}}}"#
            ),
        ),
    ];
    for (i, (format, data)) in cases.iter().enumerate() {
        let err = prepare(*format, data, &Limits::default()).unwrap_err();
        let text = serde_json::to_string(&err).unwrap();
        assert!(
            text.len() < 4096,
            "case {i}: {} bytes: {}",
            text.len(),
            &text[..2000.min(text.len())]
        );
        assert!(text.contains("characters)"), "case {i}: {text}");
    }
}

#[test]
fn two_json_objects_on_one_line_are_a_problem() {
    let a = r#"{"ChannelType":"EMAIL","Address":"a@example.com"}"#;
    let b = r#"{"ChannelType":"SMS","Address":"+12065550100"}"#;
    for (data, record, line, column) in [
        (format!("{a}{b}\n"), 2, 1, 50),
        (format!("{a}\n{a} {b}\n"), 3, 2, 51),
        (
            format!("{{\n \"ChannelType\": \"EMAIL\",\n \"Address\": \"é@example.com\"\n}} {b}"),
            2,
            4,
            3,
        ),
    ] {
        let p = one_problem(json(&data));
        assert_eq!(p.kind, ProblemKind::MalformedData, "{data}");
        assert_eq!(
            (p.record, p.line, p.column),
            (Some(record), Some(line), Some(column)),
            "{data}: {p:?}"
        );
        assert!(p.message.contains("line of its own"), "{p:?}");
    }
    // On lines of their own (pretty-printed or not) they are two endpoints.
    let pretty =
        format!("{{\n \"ChannelType\": \"EMAIL\",\n \"Address\": \"a@example.com\"\n}}\n{b}\n");
    assert_eq!(json(&pretty).unwrap().endpoint_count, 2);
    assert_eq!(json(&format!("{a}\n{b}")).unwrap().endpoint_count, 2);
}

/// NUL, ESC (and whole terminal escape sequences), DEL and C1 controls.
const CONTROLS: [(char, &str); 7] = [
    ('\u{0}', "U+0000"),
    ('\u{1}', "U+0001"),
    ('\u{1b}', "U+001B"),
    ('\u{b}', "U+000B"),
    ('\u{7f}', "U+007F"),
    ('\u{85}', "U+0085"),
    ('\u{9b}', "U+009B"),
];

#[test]
fn control_characters_in_csv_names_and_values_are_rejected() {
    for (c, name) in CONTROLS {
        let cases = [
            (
                format!("ChannelType,Address,Attributes.a{c}b\nEMAIL,a@example.com,x\n"),
                1,
            ),
            (
                format!("ChannelType,Address,Attributes.A\nEMAIL,a@example.com,x{c}[31my\n"),
                2,
            ),
            (
                format!("ChannelType,Address,Attributes.A\nEMAIL,a@example.com,\"x,{c}y\"\n"),
                2,
            ),
            (
                format!("ChannelType,Address,User.UserId\nEMAIL,a@example.com,{c}\n"),
                2,
            ),
        ];
        for (data, line) in cases {
            let p = one_problem(csv(&data));
            assert_eq!(p.kind, ProblemKind::MalformedData, "{data:?}");
            assert_eq!((p.line, p.column), (Some(line), Some(3)), "{data:?}: {p:?}");
            assert!(p.message.contains(name), "{data:?}: {p:?}");
            assert!(!p.message.contains(c), "the message does not carry it");
        }
    }
    // TAB, CR and LF keep their own messages; é and other text pass.
    let p = one_problem(csv("ChannelType,Address\nEMAIL,a\tb@example.com\n"));
    assert!(p.message.contains("tab"), "{p:?}");
    assert!(
        csv("ChannelType,Address,Attributes.Ünï\nEMAIL,a@example.com,caf\u{e9} \u{2014}\n").is_ok()
    );
}

#[test]
fn control_characters_in_json_keys_and_strings_are_rejected() {
    for (c, name) in CONTROLS {
        let escaped = format!("\\u{:04x}", u32::from(c));
        let cases = [
            format!(
                r#"{{"ChannelType":"EMAIL","Address":"a@example.com","Attributes":{{"A":["x{escaped}y"]}}}}"#
            ),
            format!(
                r#"{{"ChannelType":"EMAIL","Address":"a@example.com","Attributes":{{"A{escaped}":["x"]}}}}"#
            ),
            format!(
                r#"{{"ChannelType":"EMAIL","Address":"a@example.com","User":{{"UserId":"u{escaped}"}}}}"#
            ),
        ];
        for data in cases {
            let (kind, problems) = problems_of(json(&data));
            assert_eq!(kind, ErrorKind::MalformedData, "{data}");
            let p = problems
                .iter()
                .find(|p| p.message.contains(name))
                .unwrap_or_else(|| panic!("{data}: {problems:?}"));
            assert_eq!(p.line, Some(1), "{p:?}");
            assert!(p.column.unwrap() > 40, "points at the key: {p:?}");
        }
        if c >= '\u{7f}' {
            // Raw (unescaped) DEL and C1 are valid JSON text, and still rejected.
            let raw = format!(
                r#"{{"ChannelType":"EMAIL","Address":"a@example.com","Location":{{"City":"x{c}"}}}}"#
            );
            let p = one_problem(json(&raw));
            assert!(p.message.contains(name), "{p:?}");
            assert_eq!(p.field.as_deref(), Some("Location.City"));
        }
    }
    // Escaped TAB and line breaks stay accepted in JSON strings.
    assert!(
        json(r#"{"ChannelType":"EMAIL","Address":"a@example.com","Location":{"City":"a\tb\nc"}}"#)
            .is_ok()
    );
}
