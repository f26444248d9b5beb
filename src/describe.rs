//! The node's self-description: what a workflow runtime shows and checks.

use serde_json::json;

use crate::error::ErrorKind;
use crate::settings::KEYS;

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
                "segment_id": {"description": "The id of the segment.", "title": "Segment id", "type": "string"}
            },
            "required": ["segment_id"],
            "title": "ImportPinpointSegmentNodeOutput",
            "type": "object"
        },
        "error_types": errors,
        "settings": settings,
        "hosts": [
            "pinpoint.{region}.amazonaws.com (or the pinpoint-endpoint setting)",
            "{staging-bucket}.s3.{region}.amazonaws.com (or the s3-endpoint setting)"
        ],
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
        assert_eq!(v["error_types"].as_array().unwrap().len(), 13);
        assert!(v["settings"]["region"].is_string());
    }
}
