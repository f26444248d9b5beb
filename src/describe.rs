//! The node's self-description: what a workflow runtime shows and checks.

use serde_json::json;

use crate::error::ErrorKind;
use crate::input::OnExisting;
use crate::settings::KEYS;
use crate::settings::environment::variables_for;

/// The world this build of the component exports.
pub const WORLD: &str = if cfg!(feature = "portable") {
    "node-portable"
} else {
    "node-component"
};

/// The credential variables the portable component reads before every
/// signature (the session token only for temporary credentials).
pub const CREDENTIAL_VARIABLES: [&str; 3] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];

/// What each world needs from its runtime: where settings and credentials
/// come from (per setting, the `wasi:config` key or environment variables),
/// and the hosts it connects to.
fn worlds() -> serde_json::Value {
    let environment: serde_json::Map<String, serde_json::Value> = KEYS
        .iter()
        .map(|(key, _)| {
            let mut variables = variables_for(key);
            variables.reverse(); // most specific first
            (key.to_string(), json!(variables))
        })
        .collect();
    let keys: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
    json!({
        "node-component": {
            "settings_from": "wasi:config/store",
            "settings": keys,
            "credentials_from": "pinpoint:segment-import/host.get-credentials",
            "reports_to": "pinpoint:segment-import/host (log, progress)",
            "hosts": HOSTS,
        },
        "node-portable": {
            "settings_from": "wasi:cli/environment",
            "environment": environment,
            "credentials_from": "wasi:cli/environment",
            "credential_variables": CREDENTIAL_VARIABLES,
            "required_variables": ["AWS_REGION (or AWS_DEFAULT_REGION)", "PINPOINT_IMPORT_BUCKET", "PINPOINT_IMPORT_ROLE_ARN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
            "reports_to": "wasi:cli/stderr (one line each)",
            "hosts": HOSTS,
        }
    })
}

/// The hosts a run connects to (and nothing else): what an egress policy
/// must allow.
const HOSTS: [&str; 3] = [
    "pinpoint.{region}.amazonaws.com (or the pinpoint-endpoint setting)",
    "s3.{region}.amazonaws.com for path-style staging (or the s3-endpoint setting)",
    "{staging-bucket}.s3.{region}.amazonaws.com for virtual-hosted staging",
];

/// The node's input beyond the description's (`input_schema` stays exactly
/// the description's, four required fields): options, each optional, whose
/// default behaves as the described node does. A runtime that sends only
/// the described input gets the described behaviour; the full input is one
/// object with the properties of both schemas
/// ([`ImportRequest`](crate::input::ImportRequest)).
fn options_schema() -> serde_json::Value {
    json!({
        "description": "Options beyond the described input, in the same object; each is optional and its default is the described behaviour.",
        "properties": {
            "on_existing": {
                "description": "What to do when the project already has a segment of this name made from other data: fail (DuplicateSegmentName, as described) or new_version (import into that segment as a new version of it, keeping its id; only an imported segment can take one).",
                "enum": [OnExisting::Fail.as_str(), OnExisting::NewVersion.as_str()],
                "default": OnExisting::default().as_str(),
                "title": "On existing segment",
                "type": "string"
            }
        },
        "required": [],
        "title": "ImportPinPointSegmentNodeOptions",
        "type": "object"
    })
}

/// The action id, as workflow catalogues know the node.
pub const ACTION_ID: &str = "import_pinpoint_segment";
/// The date AWS ended support for Pinpoint's engagement features.
pub const UPSTREAM_END_OF_SUPPORT: &str = "2026-10-30";

/// The descriptor as a JSON document: action id, title, version, the seed's
/// input and output schemas, settings, hosts contacted, hints, error types
/// and the upstream end-of-support date.
pub fn descriptor() -> String {
    let settings: serde_json::Map<String, serde_json::Value> = KEYS
        .iter()
        .map(|(k, d)| (k.to_string(), json!(d)))
        .collect();
    let errors: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.name()).collect();
    json!({
        "action_id": ACTION_ID,
        "title": "Import PinPoint Segment",
        "description": "Import PinPoint segment: validates endpoint data (CSV or JSON) as Amazon Pinpoint will, stages it in S3 and imports it as a new segment, returning the segment id.",
        "version": env!("CARGO_PKG_VERSION"),
        "input_schema": {
            "description": "Import PinPoint segment node input.",
            "properties": {
                "application_id": {"description": "The ID of the application to import the segment to.", "title": "Application ID", "type": "string"},
                "segment_name": {"description": "Segment name.", "title": "Segment Name", "type": "string"},
                "format": {"description": "The format of the files that contain the endpoint definitions to import.", "enum": ["CSV", "JSON"], "title": "Format", "type": "string"},
                "data": {"description": "The data to import.", "title": "Data", "type": "string"}
            },
            "required": ["application_id", "segment_name", "format", "data"],
            "title": "ImportPinPointSegmentNodeInput",
            "type": "object"
        },
        "output_schema": {
            "description": "Import pinpoint node output.",
            "properties": {
                "segment_id": {"description": "The id of the segment.", "title": "Segment id", "type": "string"},
                "segment_version": {"description": "The segment's version after the run, when Pinpoint reports it: 1 for a new segment, one more for each new version (on_existing: new_version).", "title": "Segment version", "type": "integer", "minimum": 1},
                "created_segment": {"description": "True when this run made the segment; false when it found it made from the same data, or gave it a new version.", "title": "Created segment", "type": "boolean"}
            },
            "required": ["segment_id"],
            "title": "ImportPinpointSegmentNodeOutput",
            "type": "object"
        },
        "options_schema": options_schema(),
        "error_types": errors,
        "settings": settings,
        "hosts": HOSTS,
        "world": WORLD,
        "worlds": worlds(),
        "hints": {"read_only": false, "destructive": false, "idempotent": true, "open_world": true},
        "upstream": {
            "service": "Amazon Pinpoint",
            "end_of_support": UPSTREAM_END_OF_SUPPORT,
            "note": "Amazon Pinpoint's engagement features (endpoints, segments, imports) reached AWS end of support on 2026-10-30. The node speaks the real wire protocol and is tested against emulators; AWS recommends Amazon Connect outbound campaigns and Customer Profiles instead."
        }
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_names_the_action_schemas_and_end_of_support() {
        let v: serde_json::Value = serde_json::from_str(&descriptor()).unwrap();
        assert_eq!(v["action_id"], "import_pinpoint_segment");
        assert_eq!(v["input_schema"]["required"].as_array().unwrap().len(), 4);
        assert_eq!(v["output_schema"]["required"][0], "segment_id");
        assert_eq!(v["upstream"]["end_of_support"], "2026-10-30");
        let types = v["error_types"].as_array().unwrap();
        assert_eq!(types.len(), 15);
        assert_eq!(types[13], "Cancelled");
        assert_eq!(types[14], "OutOfMemory");
        assert!(v["settings"]["region"].is_string());
    }

    #[test]
    fn each_world_lists_the_variables_and_hosts_it_needs() {
        let v: serde_json::Value = serde_json::from_str(&descriptor()).unwrap();
        assert_eq!(v["world"], WORLD);
        let portable = &v["worlds"]["node-portable"];
        assert_eq!(portable["settings_from"], "wasi:cli/environment");
        assert_eq!(
            portable["environment"]["region"],
            json!(["AWS_REGION", "AWS_DEFAULT_REGION"])
        );
        assert_eq!(
            portable["environment"]["poll-interval-ms"],
            json!(["PINPOINT_IMPORT_POLL_INTERVAL_MS"])
        );
        assert_eq!(
            portable["environment"].as_object().unwrap().len(),
            KEYS.len(),
            "every setting has its variables"
        );
        assert_eq!(portable["credential_variables"][1], "AWS_SECRET_ACCESS_KEY");
        let full = &v["worlds"]["node-component"];
        assert_eq!(full["settings_from"], "wasi:config/store");
        assert_eq!(full["settings"].as_array().unwrap().len(), KEYS.len());
        for world in [portable, full] {
            assert_eq!(world["hosts"].as_array().unwrap().len(), 3);
        }
    }

    /// The description's two JSON schemas, vendored in
    /// `tests/data/node-description-schemas.json`.
    fn description_schemas() -> serde_json::Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/node-description-schemas.json");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).expect("the vendored schemas are JSON")
    }

    /// Collects, as `path: reason`, every part of `expected` that `actual`
    /// lacks or has differently: each key of an object (recursively), each
    /// element of an array (in any order), each scalar's value.
    fn missing_from(
        expected: &serde_json::Value,
        actual: &serde_json::Value,
        path: &str,
        out: &mut Vec<String>,
    ) {
        use serde_json::Value;
        match (expected, actual) {
            (Value::Object(e), Value::Object(a)) => {
                for (key, value) in e {
                    let at = format!("{path}/{key}");
                    match a.get(key) {
                        Some(found) => missing_from(value, found, &at, out),
                        None => out.push(format!("{at}: missing")),
                    }
                }
            }
            (Value::Array(e), Value::Array(a)) => {
                for item in e {
                    if !a.contains(item) {
                        out.push(format!("{path}: {item} missing from {actual}"));
                    }
                }
            }
            _ if expected == actual => {}
            _ => out.push(format!("{path}: {actual} instead of {expected}")),
        }
    }

    fn differences(expected: &serde_json::Value, actual: &serde_json::Value) -> Vec<String> {
        let mut out = Vec::new();
        missing_from(expected, actual, "", &mut out);
        out
    }

    #[test]
    fn the_input_schema_is_the_descriptions() {
        let ours: serde_json::Value = serde_json::from_str(&descriptor()).unwrap();
        let theirs = &description_schemas()["input_schema"];
        let ours = &ours["input_schema"];
        // Every property, type, enum value, required entry, title and
        // description of the description's schema, unchanged ...
        let lacking = differences(theirs, ours);
        assert!(lacking.is_empty(), "describe() differs: {lacking:#?}");
        // ... and nothing more: the node takes exactly the described input.
        let extra = differences(ours, theirs);
        assert!(extra.is_empty(), "describe() adds to the input: {extra:#?}");
    }

    #[test]
    fn the_output_schema_keeps_all_of_the_descriptions() {
        let ours: serde_json::Value = serde_json::from_str(&descriptor()).unwrap();
        let theirs = &description_schemas()["output_schema"];
        // The node may describe more output fields; it never changes or drops
        // what the description has.
        let lacking = differences(theirs, &ours["output_schema"]);
        assert!(lacking.is_empty(), "describe() differs: {lacking:#?}");
    }

    #[test]
    fn the_checker_sees_a_changed_title_a_dropped_enum_value_and_an_extra_field() {
        let theirs = description_schemas()["input_schema"].clone();
        let mut changed = theirs.clone();
        changed["properties"]["segment_name"]["title"] = "Segment name".into();
        changed["properties"]["format"]["enum"] = serde_json::json!(["CSV"]);
        assert_eq!(differences(&theirs, &changed).len(), 2);
        let mut more = theirs.clone();
        more["properties"]["extra"] = serde_json::json!({"type": "string"});
        assert!(differences(&theirs, &more).is_empty());
        assert_eq!(differences(&more, &theirs), ["/properties/extra: missing"]);
    }

    #[test]
    fn the_keys_the_input_accepts_are_the_schemas_properties() {
        let v: serde_json::Value = serde_json::from_str(&descriptor()).unwrap();
        let mut described: Vec<&str> = ["input_schema", "options_schema"]
            .iter()
            .flat_map(|schema| v[schema]["properties"].as_object().unwrap().keys())
            .map(String::as_str)
            .collect();
        let mut accepted = crate::input::ImportRequest::KEYS.to_vec();
        described.sort_unstable();
        accepted.sort_unstable();
        assert_eq!(described, accepted);
    }

    #[test]
    fn options_are_optional_defaults_that_the_input_reads() {
        let v: serde_json::Value = serde_json::from_str(&descriptor()).unwrap();
        let options = &v["options_schema"];
        assert_eq!(options["required"], json!([]));
        let seed =
            json!({"application_id": "a", "segment_name": "s", "format": "CSV", "data": "x"});
        let properties = options["properties"].as_object().unwrap();
        assert!(!properties.is_empty());
        for (name, schema) in properties {
            // No option is a described field, and each value the schema
            // lists (its default among them) is one the input reads.
            assert!(
                v["input_schema"]["properties"].get(name).is_none(),
                "{name}"
            );
            let values = schema["enum"].as_array().unwrap();
            assert!(values.contains(&schema["default"]), "{name}");
            for value in values {
                let mut input = seed.clone();
                input[name] = value.clone();
                let read: crate::input::ImportRequest = serde_json::from_value(input).unwrap();
                assert_eq!(serde_json::to_value(read.on_existing).unwrap(), *value);
            }
            let mut bad = seed.clone();
            bad[name] = "no such value".into();
            assert!(serde_json::from_value::<crate::input::ImportRequest>(bad).is_err());
        }
        // Left out, each is its default.
        let read: crate::input::ImportRequest = serde_json::from_value(seed).unwrap();
        assert_eq!(
            serde_json::to_value(read.on_existing).unwrap(),
            properties["on_existing"]["default"]
        );
    }

    #[test]
    fn the_output_schema_names_the_fields_of_a_recurring_run() {
        let v: serde_json::Value = serde_json::from_str(&descriptor()).unwrap();
        let properties = &v["output_schema"]["properties"];
        assert_eq!(properties["segment_version"]["type"], "integer");
        assert_eq!(properties["created_segment"]["type"], "boolean");
        // Each property is a field of the output the node returns.
        let output = crate::import::ImportOutput {
            segment_id: "s".into(),
            import_job_id: "j".into(),
            segment_name: "n".into(),
            job_status: crate::aws::job_status::JobStatus::Completed,
            endpoints_submitted: 1,
            endpoints_imported: Some(1),
            endpoints_failed: Some(0),
            failures: Vec::new(),
            staged_object: "s3://b/k".into(),
            staged_object_deleted: true,
            reused_existing_segment: false,
            segment_version: Some(2),
            created_segment: false,
        };
        let returned = serde_json::to_value(output).unwrap();
        for name in properties.as_object().unwrap().keys() {
            assert!(returned.get(name).is_some(), "{name}");
        }
    }

    #[test]
    fn title_and_description_begin_as_the_descriptions() {
        let v: serde_json::Value = serde_json::from_str(&descriptor()).unwrap();
        assert_eq!(v["title"], "Import PinPoint Segment");
        let description = v["description"].as_str().unwrap();
        assert!(
            description.starts_with("Import PinPoint segment"),
            "{description}"
        );
    }
}
