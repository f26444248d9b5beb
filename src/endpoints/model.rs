//! The endpoint model shared by both readers, Pinpoint's attribute names and
//! its channel types.
//!
//! Both readers (CSV and JSON) build the same [`Endpoint`]; the writers turn it
//! back into what Pinpoint imports. Names follow Pinpoint's import format
//! exactly, case included.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};

use crate::error::quote;

/// One of Pinpoint's 13 channel types (the `ChannelType` enum of its API model).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChannelType {
    /// `PUSH`
    Push,
    /// `GCM` (Firebase Cloud Messaging)
    Gcm,
    /// `APNS`
    Apns,
    /// `APNS_SANDBOX`
    ApnsSandbox,
    /// `APNS_VOIP`
    ApnsVoip,
    /// `APNS_VOIP_SANDBOX`
    ApnsVoipSandbox,
    /// `ADM` (Amazon Device Messaging)
    Adm,
    /// `SMS`
    Sms,
    /// `VOICE`
    Voice,
    /// `EMAIL`
    Email,
    /// `BAIDU`
    Baidu,
    /// `CUSTOM`
    Custom,
    /// `IN_APP`
    InApp,
}

impl ChannelType {
    /// Every channel type, in Pinpoint's model order.
    pub const ALL: [ChannelType; 13] = [
        ChannelType::Push,
        ChannelType::Gcm,
        ChannelType::Apns,
        ChannelType::ApnsSandbox,
        ChannelType::ApnsVoip,
        ChannelType::ApnsVoipSandbox,
        ChannelType::Adm,
        ChannelType::Sms,
        ChannelType::Voice,
        ChannelType::Email,
        ChannelType::Baidu,
        ChannelType::Custom,
        ChannelType::InApp,
    ];

    /// The name Pinpoint uses (`"APNS_SANDBOX"`).
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelType::Push => "PUSH",
            ChannelType::Gcm => "GCM",
            ChannelType::Apns => "APNS",
            ChannelType::ApnsSandbox => "APNS_SANDBOX",
            ChannelType::ApnsVoip => "APNS_VOIP",
            ChannelType::ApnsVoipSandbox => "APNS_VOIP_SANDBOX",
            ChannelType::Adm => "ADM",
            ChannelType::Sms => "SMS",
            ChannelType::Voice => "VOICE",
            ChannelType::Email => "EMAIL",
            ChannelType::Baidu => "BAIDU",
            ChannelType::Custom => "CUSTOM",
            ChannelType::InApp => "IN_APP",
        }
    }

    /// The channel type named exactly `name` (case-sensitive, as Pinpoint is).
    pub fn parse(name: &str) -> Option<ChannelType> {
        // A match on the bytes: the length, then the few names of that length.
        let c = match name.as_bytes() {
            b"PUSH" => ChannelType::Push,
            b"GCM" => ChannelType::Gcm,
            b"APNS" => ChannelType::Apns,
            b"APNS_SANDBOX" => ChannelType::ApnsSandbox,
            b"APNS_VOIP" => ChannelType::ApnsVoip,
            b"APNS_VOIP_SANDBOX" => ChannelType::ApnsVoipSandbox,
            b"ADM" => ChannelType::Adm,
            b"SMS" => ChannelType::Sms,
            b"VOICE" => ChannelType::Voice,
            b"EMAIL" => ChannelType::Email,
            b"BAIDU" => ChannelType::Baidu,
            b"CUSTOM" => ChannelType::Custom,
            b"IN_APP" => ChannelType::InApp,
            _ => return None,
        };
        Some(c)
    }

    /// The channel type a wrong `name` most likely meant: the same name in
    /// another case, a common alias (`FCM`, `PHONE`), or a near miss.
    pub fn suggest(name: &str) -> Option<ChannelType> {
        let upper = name.trim().to_ascii_uppercase().replace(['-', ' '], "_");
        if let Some(c) = ChannelType::parse(&upper) {
            return Some(c);
        }
        let alias = match upper.as_str() {
            "FCM" | "ANDROID" | "FIREBASE" => Some(ChannelType::Gcm),
            "PHONE" | "MOBILE" | "TEXT" | "SMS_TEXT" => Some(ChannelType::Sms),
            "MAIL" | "E_MAIL" => Some(ChannelType::Email),
            "IOS" | "APPLE" => Some(ChannelType::Apns),
            "AMAZON" | "KINDLE" => Some(ChannelType::Adm),
            "CALL" | "VOICE_CALL" => Some(ChannelType::Voice),
            "INAPP" => Some(ChannelType::InApp),
            _ => None,
        };
        alias.or_else(|| {
            ChannelType::ALL
                .into_iter()
                .find(|c| edit_distance(c.as_str(), &upper) <= 2 && upper.len() > 2)
        })
    }
}

impl Serialize for ChannelType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The endpoint's `OptOut`: `ALL` (no messages) or `NONE` (opted in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptOut {
    /// `ALL`: the user opted out of all messages.
    All,
    /// `NONE`: the user did not opt out.
    None,
}

impl OptOut {
    /// The name Pinpoint uses.
    pub fn as_str(self) -> &'static str {
        match self {
            OptOut::All => "ALL",
            OptOut::None => "NONE",
        }
    }

    /// `ALL` or `NONE`, exact case.
    pub fn parse(value: &str) -> Option<OptOut> {
        match value {
            "ALL" => Some(OptOut::All),
            "NONE" => Some(OptOut::None),
            _ => None,
        }
    }
}

impl Serialize for OptOut {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// `Demographic.*`: the device and its settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Demographic {
    /// `Demographic.AppVersion`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
    /// `Demographic.Locale` (e.g. `en_US`)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// `Demographic.Make`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub make: Option<String>,
    /// `Demographic.Model`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// `Demographic.ModelVersion`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
    /// `Demographic.Platform`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// `Demographic.PlatformVersion`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform_version: Option<String>,
    /// `Demographic.Timezone` (a tz database name, e.g. `America/Los_Angeles`)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

impl Demographic {
    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        DemographicField::ALL.iter().all(|f| self.get(*f).is_none())
    }

    /// The value of one field.
    pub fn get(&self, field: DemographicField) -> Option<&String> {
        self.slot_ref(field).as_ref()
    }

    fn slot_ref(&self, field: DemographicField) -> &Option<String> {
        match field {
            DemographicField::AppVersion => &self.app_version,
            DemographicField::Locale => &self.locale,
            DemographicField::Make => &self.make,
            DemographicField::Model => &self.model,
            DemographicField::ModelVersion => &self.model_version,
            DemographicField::Platform => &self.platform,
            DemographicField::PlatformVersion => &self.platform_version,
            DemographicField::Timezone => &self.timezone,
        }
    }

    /// The slot of one field, to set it.
    pub fn slot(&mut self, field: DemographicField) -> &mut Option<String> {
        match field {
            DemographicField::AppVersion => &mut self.app_version,
            DemographicField::Locale => &mut self.locale,
            DemographicField::Make => &mut self.make,
            DemographicField::Model => &mut self.model,
            DemographicField::ModelVersion => &mut self.model_version,
            DemographicField::Platform => &mut self.platform,
            DemographicField::PlatformVersion => &mut self.platform_version,
            DemographicField::Timezone => &mut self.timezone,
        }
    }
}

/// `Location.*`: where the endpoint is.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Location {
    /// `Location.City`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// `Location.Country` (ISO 3166-1 alpha-2, e.g. `US`)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// `Location.Latitude`, -90 to 90
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_opt_number"
    )]
    pub latitude: Option<f64>,
    /// `Location.Longitude`, -180 to 180
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_opt_number"
    )]
    pub longitude: Option<f64>,
    /// `Location.PostalCode`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// `Location.Region`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl Location {
    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        self.city.is_none()
            && self.country.is_none()
            && self.latitude.is_none()
            && self.longitude.is_none()
            && self.postal_code.is_none()
            && self.region.is_none()
    }
}

/// `User.*`: the user the endpoint belongs to.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct User {
    /// `User.UserId`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// `User.UserAttributes.<name>`: custom attributes, each a list of strings.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub user_attributes: BTreeMap<String, Vec<String>>,
}

impl User {
    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        self.user_id.is_none() && self.user_attributes.is_empty()
    }
}

/// One endpoint, as Pinpoint imports it. Both readers build this model and
/// both writers start from it, so the same endpoints written as CSV or JSON
/// give equal values.
///
/// Serialising it gives Pinpoint's JSON import format (empty parts left out).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Endpoint {
    /// `ChannelType`: required for a new endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_type: Option<ChannelType>,
    /// `Address`: required for a new endpoint (a phone number, email address or device token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// `Id`: names the endpoint; with it, an existing endpoint is updated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `RequestId`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// `OptOut`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opt_out: Option<OptOut>,
    /// `EffectiveDate`: an ISO 8601 date or date-time (see [`super::rules`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_date: Option<String>,
    /// `Attributes.<name>`: custom endpoint attributes, each a list of strings.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, Vec<String>>,
    /// `Metrics.<name>`: custom numeric attributes.
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        serialize_with = "serialize_metrics"
    )]
    pub metrics: BTreeMap<String, f64>,
    /// `Demographic.*`
    #[serde(skip_serializing_if = "Demographic::is_empty")]
    pub demographic: Demographic,
    /// `Location.*`
    #[serde(skip_serializing_if = "Location::is_empty")]
    pub location: Location,
    /// `User.*`
    #[serde(skip_serializing_if = "User::is_empty")]
    pub user: User,
}

/// A number as the writers print it: whole numbers without a fraction
/// (`3`, not `3.0`), others in the shortest form that reads back exactly.
pub fn format_number(x: f64) -> String {
    let mut text = String::new();
    write_number(&mut text, x);
    text
}

/// Writes `x` as [`format_number`] gives it, without allocating: as the JSON
/// writer writes a [`Number`] (serde_json's own formatters: `itoa` for whole
/// numbers, `zmij`'s shortest round-trip form for others).
pub(crate) fn write_number(out: &mut String, x: f64) {
    if let Some(i) = whole_number(x) {
        out.push_str(itoa::Buffer::new().format(i));
    } else if x.is_finite() {
        out.push_str(zmij::Buffer::new().format_finite(x));
    } else {
        // Never staged (the rules refuse a number out of range); as Rust
        // prints it. Writing into a `String` cannot fail.
        use std::fmt::Write;
        let _ = write!(out, "{x}");
    }
}

/// `x` as an integer when it is one that prints exactly.
pub(crate) fn whole_number(x: f64) -> Option<i64> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    // Below 2^53 in magnitude (so finite), `x` is whole when the integer
    // it truncates to is `x` again (`-0.0` as `0`): a conversion there and
    // back, not `fract`, which is a library call on some targets.
    if x.abs() < EXACT && (x as i64) as f64 == x {
        Some(x as i64)
    } else {
        None
    }
}

fn serialize_number<S: Serializer>(x: f64, s: S) -> Result<S::Ok, S::Error> {
    match whole_number(x) {
        Some(i) => s.serialize_i64(i),
        None => s.serialize_f64(x),
    }
}

fn serialize_opt_number<S: Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match x {
        Some(x) => serialize_number(*x, s),
        None => s.serialize_none(),
    }
}

fn serialize_metrics<S: Serializer>(m: &BTreeMap<String, f64>, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(m.len()))?;
    for (k, v) in m {
        map.serialize_key(k)?;
        map.serialize_value(&Number(*v))?;
    }
    map.end()
}

/// A number as the JSON writer prints it (whole numbers as integers).
pub(crate) struct Number(pub(crate) f64);

impl Serialize for Number {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_number(self.0, s)
    }
}

/// A `Demographic.*` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DemographicField {
    /// `AppVersion`
    AppVersion,
    /// `Locale`
    Locale,
    /// `Make`
    Make,
    /// `Model`
    Model,
    /// `ModelVersion`
    ModelVersion,
    /// `Platform`
    Platform,
    /// `PlatformVersion`
    PlatformVersion,
    /// `Timezone`
    Timezone,
}

impl DemographicField {
    /// Every field, in Pinpoint's documentation order.
    pub const ALL: [DemographicField; 8] = [
        DemographicField::AppVersion,
        DemographicField::Locale,
        DemographicField::Make,
        DemographicField::Model,
        DemographicField::ModelVersion,
        DemographicField::Platform,
        DemographicField::PlatformVersion,
        DemographicField::Timezone,
    ];

    /// The name after `Demographic.`.
    pub fn as_str(self) -> &'static str {
        match self {
            DemographicField::AppVersion => "AppVersion",
            DemographicField::Locale => "Locale",
            DemographicField::Make => "Make",
            DemographicField::Model => "Model",
            DemographicField::ModelVersion => "ModelVersion",
            DemographicField::Platform => "Platform",
            DemographicField::PlatformVersion => "PlatformVersion",
            DemographicField::Timezone => "Timezone",
        }
    }

    /// The field named exactly `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

/// A `Location.*` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LocationField {
    /// `City`
    City,
    /// `Country`
    Country,
    /// `Latitude` (a number)
    Latitude,
    /// `Longitude` (a number)
    Longitude,
    /// `PostalCode`
    PostalCode,
    /// `Region`
    Region,
}

impl LocationField {
    /// Every field, in Pinpoint's documentation order.
    pub const ALL: [LocationField; 6] = [
        LocationField::City,
        LocationField::Country,
        LocationField::Latitude,
        LocationField::Longitude,
        LocationField::PostalCode,
        LocationField::Region,
    ];

    /// The name after `Location.`.
    pub fn as_str(self) -> &'static str {
        match self {
            LocationField::City => "City",
            LocationField::Country => "Country",
            LocationField::Latitude => "Latitude",
            LocationField::Longitude => "Longitude",
            LocationField::PostalCode => "PostalCode",
            LocationField::Region => "Region",
        }
    }

    /// The field named exactly `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

/// An attribute Pinpoint imports, parsed from its dot-notation name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    /// `ChannelType`
    ChannelType,
    /// `Address`
    Address,
    /// `Id`
    Id,
    /// `RequestId`
    RequestId,
    /// `OptOut`
    OptOut,
    /// `EffectiveDate`
    EffectiveDate,
    /// `Demographic.<field>`
    Demographic(DemographicField),
    /// `Location.<field>`
    Location(LocationField),
    /// `User.UserId`
    UserId,
    /// `Attributes.<name>`
    Attribute(String),
    /// `Metrics.<name>`
    Metric(String),
    /// `User.UserAttributes.<name>`
    UserAttribute(String),
}

/// Builds a custom field from its name.
type MakeField = fn(String) -> Field;

/// The prefix of custom endpoint attributes.
pub const ATTRIBUTES_PREFIX: &str = "Attributes.";
/// The prefix of custom metrics.
pub const METRICS_PREFIX: &str = "Metrics.";
/// The prefix of custom user attributes.
pub const USER_ATTRIBUTES_PREFIX: &str = "User.UserAttributes.";

const TOP_LEVEL: [(&str, Field); 6] = [
    ("ChannelType", Field::ChannelType),
    ("Address", Field::Address),
    ("Id", Field::Id),
    ("RequestId", Field::RequestId),
    ("OptOut", Field::OptOut),
    ("EffectiveDate", Field::EffectiveDate),
];

impl Field {
    /// The top-level scalar field named exactly `name` (`ChannelType`, ...).
    pub fn top_level(name: &str) -> Option<Field> {
        TOP_LEVEL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| f.clone())
    }

    /// The name in Pinpoint's dot notation (`User.UserAttributes.FirstName`).
    pub fn dot_name(&self) -> String {
        match self {
            Field::ChannelType => "ChannelType".into(),
            Field::Address => "Address".into(),
            Field::Id => "Id".into(),
            Field::RequestId => "RequestId".into(),
            Field::OptOut => "OptOut".into(),
            Field::EffectiveDate => "EffectiveDate".into(),
            Field::Demographic(f) => format!("Demographic.{}", f.as_str()),
            Field::Location(f) => format!("Location.{}", f.as_str()),
            Field::UserId => "User.UserId".into(),
            Field::Attribute(n) => format!("{ATTRIBUTES_PREFIX}{n}"),
            Field::Metric(n) => format!("{METRICS_PREFIX}{n}"),
            Field::UserAttribute(n) => format!("{USER_ATTRIBUTES_PREFIX}{n}"),
        }
    }

    /// True for the custom attributes that take several values
    /// (`Attributes.*`, `User.UserAttributes.*`).
    pub fn is_multi_valued(&self) -> bool {
        matches!(self, Field::Attribute(_) | Field::UserAttribute(_))
    }

    /// The custom attribute's name, for the three custom kinds.
    pub fn custom_name(&self) -> Option<&str> {
        match self {
            Field::Attribute(n) | Field::Metric(n) | Field::UserAttribute(n) => Some(n),
            _ => None,
        }
    }

    /// Every fixed (non-custom) field, in Pinpoint's documentation order.
    pub fn fixed() -> Vec<Field> {
        let mut all: Vec<Field> = TOP_LEVEL.iter().map(|(_, f)| f.clone()).collect();
        all.extend(DemographicField::ALL.into_iter().map(Field::Demographic));
        all.extend(LocationField::ALL.into_iter().map(Field::Location));
        all.push(Field::UserId);
        all
    }

    /// Parses a dot-notation name exactly as Pinpoint reads a CSV header.
    ///
    /// On failure the message says why and, where it can, what the name
    /// should be (`channeltype` -> `ChannelType`).
    pub fn parse(name: &str) -> Result<Field, String> {
        if let Some(f) = Field::fixed().into_iter().find(|f| f.dot_name() == name) {
            return Ok(f);
        }
        let custom: [(&str, MakeField); 3] = [
            (USER_ATTRIBUTES_PREFIX, Field::UserAttribute),
            (ATTRIBUTES_PREFIX, Field::Attribute),
            (METRICS_PREFIX, Field::Metric),
        ];
        for (prefix, make) in custom {
            if let Some(rest) = name.strip_prefix(prefix) {
                if rest.is_empty() {
                    return Err(format!(
                        "`{name}` has no attribute name after the prefix; write it as `{prefix}Name`"
                    ));
                }
                return Ok(make(rest.to_owned()));
            }
        }
        Err(unknown_field_message(name))
    }
}

/// Why `name` is not an attribute Pinpoint imports, with the likely right name.
pub fn unknown_field_message(name: &str) -> String {
    if name.is_empty() {
        return "the column has no name; every column needs a Pinpoint attribute name".into();
    }
    if let Some(reason) = unsupported_reason(name) {
        return reason;
    }
    let quoted = quote(name);
    match suggest_field(name) {
        Some(s) => format!(
            "`{quoted}` is not an attribute Pinpoint imports; did you mean `{}`? Attribute names are case-sensitive",
            quote(&s)
        ),
        None => format!(
            "`{quoted}` is not an attribute Pinpoint imports; use ChannelType, Address, Id, RequestId, OptOut, EffectiveDate, User.UserId, Demographic.*, Location.*, or a custom attribute: Attributes.<name>, User.UserAttributes.<name> or Metrics.<name>"
        ),
    }
}

/// The reason a name Pinpoint knows cannot be imported.
fn unsupported_reason(name: &str) -> Option<String> {
    let reason = match name {
        "EndpointStatus" => {
            "`EndpointStatus` cannot be imported (Pinpoint's import does not support it; it sets the status itself); remove it"
        }
        "CreationDate" | "CohortId" | "ApplicationId" => {
            "is set by Pinpoint and cannot be imported; remove it"
        }
        "Attributes" | "Metrics" | "User.UserAttributes" => {
            "needs an attribute name after a dot, e.g. `Attributes.Interests`"
        }
        "Demographic" | "Location" | "User" => {
            "is a group; name one of its fields, e.g. `Location.Country` or `User.UserId`"
        }
        _ => return None,
    };
    Some(if reason.starts_with('`') {
        reason.to_owned()
    } else {
        format!("`{name}` {reason}")
    })
}

/// The supported name that `name` most likely meant, if any.
pub fn suggest_field(name: &str) -> Option<String> {
    let fixed: Vec<String> = Field::fixed().iter().map(Field::dot_name).collect();
    let key = normalize(name);
    if let Some(f) = fixed.iter().find(|f| normalize(f) == key) {
        return Some(f.clone());
    }
    if let Some(s) = suggest_custom(name.trim()) {
        return Some(s);
    }
    // A bare last segment: `Country` -> `Location.Country`, `UserId` -> `User.UserId`.
    if let Some(f) = fixed
        .iter()
        .find(|f| f.contains('.') && f.rsplit('.').next().map(normalize) == Some(key.clone()))
    {
        return Some(f.clone());
    }
    if name.chars().count() <= 40 {
        let lower = name.trim().to_ascii_lowercase();
        return fixed
            .iter()
            .map(|f| (edit_distance(&f.to_ascii_lowercase(), &lower), f))
            .filter(|(d, _)| *d <= 2)
            .min_by_key(|(d, _)| *d)
            .map(|(_, f)| f.clone());
    }
    None
}

/// A custom prefix written in the wrong case or slightly wrong:
/// `user.userattributes.FirstName` -> `User.UserAttributes.FirstName`.
fn suggest_custom(name: &str) -> Option<String> {
    let (head, rest) = match name.rsplit_once('.') {
        Some((h, r)) if !r.is_empty() => (h, r),
        _ => return None,
    };
    let head_key = normalize(head);
    let prefixes = [
        (
            "User.UserAttributes",
            ["userattributes", "user.userattribute", "useratributes"],
        ),
        ("Attributes", ["attribute", "attributes", "atributes"]),
        ("Metrics", ["metric", "metrics", "metrix"]),
    ];
    for (prefix, aliases) in prefixes {
        if normalize(prefix) == head_key
            || aliases.iter().any(|a| normalize(a) == head_key)
            || (head_key.len() > 4 && edit_distance(&normalize(prefix), &head_key) <= 2)
        {
            return Some(format!("{prefix}.{rest}"));
        }
    }
    None
}

/// Lower case without spaces, `_` and `-`, for loose comparisons.
fn normalize(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-' | '\t'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Levenshtein distance over characters (inputs here are short).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        if let Some(first) = cur.first_mut() {
            *first = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(usize::MAX - 1) + usize::from(ca != *cb);
            let del = prev.get(j + 1).copied().unwrap_or(usize::MAX - 1) + 1;
            let ins = cur.get(j).copied().unwrap_or(usize::MAX - 1) + 1;
            if let Some(slot) = cur.get_mut(j + 1) {
                *slot = sub.min(del).min(ins);
            }
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The channel type named `name`, as `ChannelType::parse` found it
    /// before it matched on bytes: a linear search of the names.
    fn parse_by_search(name: &str) -> Option<ChannelType> {
        ChannelType::ALL.into_iter().find(|c| c.as_str() == name)
    }

    #[test]
    fn channel_types_parse_as_the_search_of_their_names() {
        let mut names: Vec<String> = Vec::new();
        for c in ChannelType::ALL {
            let n = c.as_str();
            names.push(n.to_owned());
            names.push(n.to_ascii_lowercase());
            names.push(format!("{n} "));
            names.push(format!(" {n}"));
            names.push(n.get(1..).unwrap_or_default().to_owned());
            names.push(n.get(..n.len() - 1).unwrap_or_default().to_owned());
            names.push(format!("{n}_"));
        }
        names.extend(["", "A", "APNS_VOIP_SANDBOXX", "EMAI L", "SMs"].map(String::from));
        for n in &names {
            assert_eq!(ChannelType::parse(n), parse_by_search(n), "{n:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn channel_types_parse_as_the_search_of_any_text(name in "[A-Z_a-z ]{0,18}") {
            proptest::prop_assert_eq!(ChannelType::parse(&name), parse_by_search(&name));
        }
    }

    #[test]
    fn channel_types_are_exact_case() {
        assert_eq!(ChannelType::parse("EMAIL"), Some(ChannelType::Email));
        assert_eq!(ChannelType::parse("email"), None);
        assert_eq!(ChannelType::suggest("email"), Some(ChannelType::Email));
        assert_eq!(ChannelType::suggest("FCM"), Some(ChannelType::Gcm));
        assert_eq!(ChannelType::suggest("in-app"), Some(ChannelType::InApp));
        assert_eq!(ChannelType::suggest("FAX"), None);
        for c in ChannelType::ALL {
            assert_eq!(ChannelType::parse(c.as_str()), Some(c));
        }
    }

    #[test]
    fn field_names_parse_and_round_trip() {
        for f in Field::fixed() {
            assert_eq!(Field::parse(&f.dot_name()), Ok(f));
        }
        assert_eq!(
            Field::parse("User.UserAttributes.FirstName"),
            Ok(Field::UserAttribute("FirstName".into()))
        );
        assert_eq!(
            Field::parse("Attributes.a.b"),
            Ok(Field::Attribute("a.b".into()))
        );
        assert_eq!(
            Field::parse("Metrics.score"),
            Ok(Field::Metric("score".into()))
        );
    }

    #[test]
    fn wrong_names_get_suggestions() {
        let cases = [
            ("channeltype", "ChannelType"),
            ("CHANNEL_TYPE", "ChannelType"),
            ("address", "Address"),
            (" User.UserId", "User.UserId"),
            ("UserId", "User.UserId"),
            ("Country", "Location.Country"),
            ("demographic.locale", "Demographic.Locale"),
            ("ChanelType", "ChannelType"),
            (
                "user.userattributes.FirstName",
                "User.UserAttributes.FirstName",
            ),
            ("UserAttributes.FirstName", "User.UserAttributes.FirstName"),
            ("attributes.Interests", "Attributes.Interests"),
        ];
        for (wrong, right) in cases {
            let msg = Field::parse(wrong).unwrap_err();
            assert!(msg.contains(&format!("`{right}`")), "{wrong}: {msg}");
        }
    }

    #[test]
    fn unsupported_fields_say_why() {
        let msg = Field::parse("EndpointStatus").unwrap_err();
        assert!(msg.contains("does not support"), "{msg}");
        assert!(
            Field::parse("Attributes.")
                .unwrap_err()
                .contains("no attribute name")
        );
        assert!(
            Field::parse("CreationDate")
                .unwrap_err()
                .contains("set by Pinpoint")
        );
        assert!(
            Field::parse("FavouriteColour")
                .unwrap_err()
                .contains("custom attribute")
        );
    }

    #[test]
    fn numbers_print_short_and_exact() {
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(-0.5), "-0.5");
        assert_eq!(format_number(1e300), "1e+300");
        assert_eq!(format_number(0.1).parse::<f64>().unwrap(), 0.1);
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("abc", "abc"), 0);
    }
}
