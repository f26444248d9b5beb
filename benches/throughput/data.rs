//! The bench data: realistic endpoints (mixed channels, user ids, custom
//! attributes, multi-valued columns, nested JSON) from a fixed seed, so every
//! run (and `benches/profile.rs`) measures the same bytes.

use pinpoint_segment_import::input::Format;
use serde_json::{Map, Value, json};

/// A small deterministic generator (xorshift64*), so every run measures the
/// same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const FIRST: &[&str] = &[
    "John", "Jane", "Alice", "María", "Li", "Sam", "Zoë", "Omar", "Priya", "Lukas", "Aiko",
    "O'Neil",
];
const LAST: &[&str] = &[
    "Doe", "Smith", "Johnson", "García", "Wei", "Taylor", "Müller", "Haddad", "Patel", "Kowalski",
];
const DOMAINS: &[&str] = &["example.com", "example.org", "mail.example.net"];
const INTERESTS: &[&str] = &[
    "Travel",
    "Food",
    "Technology",
    "Sports",
    "Music",
    "Books",
    "Outdoors",
    "Fashion",
    "Gaming",
    "Film",
    "Art, Design",
    "Finance",
];
const PLANS: &[&str] = &["free", "pro", "enterprise"];
const PLACES: &[(&str, &str, &str)] = &[
    ("US", "New York", "en_US"),
    ("US", "Washington, D.C.", "en_US"),
    ("ES", "Madrid", "es_ES"),
    ("CN", "Shanghai", "zh_CN"),
    ("DE", "München", "de_DE"),
    ("JP", "Tokyo", "ja_JP"),
    ("IN", "Bengaluru", "en_IN"),
    ("BR", "São Paulo", "pt_BR"),
];

/// One endpoint in Pinpoint's JSON shape.
fn endpoint(rng: &mut Rng, i: u64) -> Value {
    let first = rng.pick(FIRST);
    let last = rng.pick(LAST);
    let (channel, address) = match rng.below(20) {
        0..=9 => (
            "EMAIL",
            format!(
                "{}.{}{i}@{}",
                first.to_lowercase().replace('\'', ""),
                last.to_lowercase(),
                rng.pick(DOMAINS)
            ),
        ),
        10..=14 => (
            "SMS",
            format!("+1{}", 2_000_000_000 + rng.below(7_999_999_999)),
        ),
        15..=16 => ("APNS", format!("{:016x}{:016x}", rng.next(), rng.next())),
        17..=18 => ("GCM", format!("{:016x}{:016x}", rng.next(), rng.next())),
        _ => (
            "VOICE",
            format!("+44{}", 7_000_000_000 + rng.below(999_999_999)),
        ),
    };
    let (country, city, locale) = PLACES[rng.below(PLACES.len() as u64) as usize];
    let mut e = Map::new();
    e.insert("ChannelType".into(), json!(channel));
    e.insert("Address".into(), json!(address));
    e.insert(
        "OptOut".into(),
        json!(if rng.below(10) == 0 { "ALL" } else { "NONE" }),
    );
    if rng.below(4) == 0 {
        e.insert("EffectiveDate".into(), json!("2024-10-01T12:00:00Z"));
    }
    let mut demographic = Map::new();
    demographic.insert("Locale".into(), json!(locale));
    if matches!(channel, "APNS" | "GCM") {
        let platform = if channel == "APNS" { "ios" } else { "android" };
        demographic.insert("Platform".into(), json!(platform));
    }
    e.insert("Demographic".into(), Value::Object(demographic));
    e.insert(
        "Location".into(),
        json!({ "City": city, "Country": country }),
    );
    let interests: Vec<&str> = (0..rng.below(4)).map(|_| rng.pick(INTERESTS)).collect();
    let mut attributes = Map::new();
    if !interests.is_empty() {
        attributes.insert("Interests".into(), json!(interests));
    }
    attributes.insert("Plan".into(), json!([rng.pick(PLANS)]));
    e.insert("Attributes".into(), Value::Object(attributes));
    e.insert(
        "Metrics".into(),
        json!({ "purchases": rng.below(200), "score": rng.below(400) as f64 / 4.0 }),
    );
    e.insert(
        "User".into(),
        json!({
            // At most 3 endpoints per user (Pinpoint allows 15).
            "UserId": format!("user_{:07}", i / 3),
            "UserAttributes": { "FirstName": [first], "LastName": [last] },
        }),
    );
    Value::Object(e)
}

/// About `target` bytes of endpoint data in `format`.
pub fn generate(format: Format, target: usize) -> String {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    match format {
        Format::Json => {
            let mut out = String::with_capacity(target + 4096);
            out.push_str("[\n");
            let mut i = 0;
            while out.len() < target {
                if i > 0 {
                    out.push_str(",\n");
                }
                let text = serde_json::to_string_pretty(&endpoint(&mut rng, i)).expect("JSON");
                // Indent the object as an element of the pretty array.
                for (n, line) in text.lines().enumerate() {
                    if n > 0 {
                        out.push('\n');
                    }
                    out.push_str("  ");
                    out.push_str(line);
                }
                i += 1;
            }
            out.push_str("\n]\n");
            out
        }
        Format::Csv => {
            let header = [
                "ChannelType",
                "Address",
                "OptOut",
                "EffectiveDate",
                "Demographic.Locale",
                "Demographic.Platform",
                "Location.City",
                "Location.Country",
                "User.UserId",
                "User.UserAttributes.FirstName",
                "User.UserAttributes.LastName",
                "Attributes.Interests",
                "Attributes.Interests",
                "Attributes.Interests",
                "Attributes.Plan",
                "Metrics.purchases",
                "Metrics.score",
            ];
            let mut out = String::with_capacity(target + 4096);
            out.push_str(&header.join(","));
            out.push('\n');
            let mut i = 0;
            while out.len() < target {
                let e = endpoint(&mut rng, i);
                let text = |v: &Value| match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                let interests = e["Attributes"]["Interests"].as_array();
                let interest = |n: usize| {
                    interests
                        .and_then(|l| l.get(n))
                        .map(text)
                        .unwrap_or_default()
                };
                let cells = [
                    text(&e["ChannelType"]),
                    text(&e["Address"]),
                    text(&e["OptOut"]),
                    text(&e["EffectiveDate"]),
                    text(&e["Demographic"]["Locale"]),
                    text(&e["Demographic"]["Platform"]),
                    text(&e["Location"]["City"]),
                    text(&e["Location"]["Country"]),
                    text(&e["User"]["UserId"]),
                    text(&e["User"]["UserAttributes"]["FirstName"][0]),
                    text(&e["User"]["UserAttributes"]["LastName"][0]),
                    interest(0),
                    interest(1),
                    interest(2),
                    text(&e["Attributes"]["Plan"][0]),
                    text(&e["Metrics"]["purchases"]),
                    text(&e["Metrics"]["score"]),
                ];
                for (n, cell) in cells.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    if cell.contains([',', '"']) {
                        out.push('"');
                        out.push_str(&cell.replace('"', "\"\""));
                        out.push('"');
                    } else {
                        out.push_str(cell);
                    }
                }
                out.push('\n');
                i += 1;
            }
            out
        }
    }
}

/// CSV of exactly `target` bytes (at least a header and a row): generated
/// rows, then one row whose city is padded to make up the rest.
pub fn exact_csv(target: usize) -> String {
    let mut data = generate(Format::Csv, target.saturating_sub(400));
    // Cut back to whole rows below `target - 300`, leaving room for the last.
    while data.len() > target.saturating_sub(300) {
        let end = data.trim_end_matches('\n').rfind('\n').map_or(0, |i| i + 1);
        if end == 0 {
            break;
        }
        data.truncate(end);
    }
    let row = "EMAIL,last.row@example.com,NONE,,en_US,,{city},US,user_last,Last,Row,,,,free,1,2\n";
    let fixed = row.len() - "{city}".len();
    let pad = target.saturating_sub(data.len() + fixed).max(1);
    data.push_str(&row.replace("{city}", &"x".repeat(pad)));
    data
}
