//! The data view: how a person's events appear to CertLogic rules.
//!
//! Rules never see raw events. For an instant `now`, the events that happened
//! at or before `now` are folded, in time order, into one small JSON object
//! of current facts (the latest temperature, the current quarantine episode,
//! ...), with times as CertLogic date-time strings and temperatures as
//! integer tenths of a degree (CertLogic compares integers only). Events
//! after `now` do not exist yet for the evaluation: that is what makes a
//! colour a function of time without anything being stored or mutated.
//!
//! Every field remembers the one event it came from (its provenance). When a
//! rule fires, the evaluator reports which paths it actually read on the way
//! (lazy `if`/`and` branches it skipped are not counted), and the evidence is
//! the events behind those paths: exactly the facts the decision depended on.
//! The `now` field has no event behind it: it is the clock.

use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use crate::certlogic::CertDateTime;
use crate::facts::{Event, EventId, Fact, RiskLevel, TestKind, TestOutcome};

/// One field of the data view, documented for rule authors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewField {
    pub path: &'static str,
    pub en: &'static str,
    pub zh: &'static str,
}

/// Every field a rule may read. Absent facts read as `null`.
pub const VIEW_FIELDS: &[ViewField] = &[
    ViewField { path: "now", en: "the evaluation instant (date-time string)", zh: "评估时刻（日期时间字符串）" },
    ViewField { path: "declaration.at", en: "time of the latest self-declaration", zh: "最近一次健康申报的时间" },
    ViewField { path: "declaration.fever", en: "the latest self-declaration reports fever", zh: "最近一次申报有发热" },
    ViewField { path: "declaration.symptoms", en: "the latest self-declaration reports respiratory or other symptoms", zh: "最近一次申报有呼吸道等症状" },
    ViewField { path: "temperature.at", en: "time of the latest on-site temperature measurement", zh: "最近一次现场体温测量的时间" },
    ViewField { path: "temperature.tenths", en: "latest on-site temperature in tenths of a degree Celsius (37.3 ℃ = 373)", zh: "最近一次现场体温，单位为 0.1 ℃（37.3 ℃ 记为 373）" },
    ViewField { path: "test.at", en: "sampling time of the latest test", zh: "最近一次检测的采样时间" },
    ViewField { path: "test.kind", en: "kind of the latest test: pcr or antigen", zh: "最近一次检测的类型：pcr（核酸）或 antigen（抗原）" },
    ViewField { path: "test.result", en: "result of the latest test: negative or positive", zh: "最近一次检测的结果：negative（阴性）或 positive（阳性）" },
    ViewField { path: "diagnosis.at", en: "time of the latest diagnosis", zh: "最近一次诊断的时间" },
    ViewField { path: "diagnosis.status", en: "latest diagnosis: confirmed, suspected, excluded or recovered", zh: "最近一次诊断：confirmed（确诊）、suspected（疑似）、excluded（排除）或 recovered（治愈）" },
    ViewField { path: "contact.at", en: "time of the latest close-contact designation", zh: "最近一次判定为密切接触者的时间" },
    ViewField { path: "quarantine.started_at", en: "start of the latest quarantine", zh: "最近一次隔离的开始时间" },
    ViewField { path: "quarantine.place", en: "where: home or centralised", zh: "隔离地点：home（居家）或 centralised（集中）" },
    ViewField { path: "quarantine.ended_at", en: "end of that quarantine (absent while it lasts)", zh: "该次隔离的解除时间（隔离期间不存在）" },
    ViewField { path: "quarantine.ended_with_symptoms", en: "symptoms were present when it ended", zh: "解除隔离时有症状" },
    ViewField { path: "itinerary.at", en: "time of the latest stay in a medium- or high-risk area", zh: "最近一次在中高风险地区停留的时间" },
    ViewField { path: "itinerary.level", en: "that area's risk level: medium or high", zh: "该地区的风险等级：medium（中）或 high（高）" },
    ViewField { path: "itinerary.area", en: "that area's name", zh: "该地区名称" },
    ViewField { path: "itinerary.first_negative_at", en: "first negative PCR sample since that stay (reset by a positive)", zh: "该次停留后首次核酸阴性的采样时间（阳性后重新计算）" },
    ViewField { path: "itinerary.last_negative_at", en: "latest negative PCR sample since that stay", zh: "该次停留后最近一次核酸阴性的采样时间" },
    ViewField { path: "override.at", en: "time of the latest official override", zh: "最近一次人工改码的时间" },
    ViewField { path: "override.colour", en: "the colour it sets", zh: "改码指定的颜色" },
    ViewField { path: "override.until", en: "when it lapses (absent: until replaced)", zh: "改码失效时间（不存在表示直至被替代）" },
];

/// Whether a rule's `var` path reads something the view can hold: a field,
/// a whole section, or the whole view (`""`).
pub fn is_known_path(path: &str) -> bool {
    path.is_empty()
        || VIEW_FIELDS.iter().any(|f| {
            f.path == path
                || f.path
                    .strip_prefix(path)
                    .is_some_and(|rest| rest.starts_with('.'))
        })
}

/// Whether reading `read` reads (part of) the field or section `key`.
fn reads_into(read: &str, key: &str) -> bool {
    read.is_empty()
        || read == key
        || key
            .strip_prefix(read)
            .is_some_and(|rest| rest.starts_with('.'))
        || read
            .strip_prefix(key)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// A person's facts as of one instant, ready for CertLogic.
#[derive(Debug, Clone)]
pub struct DataView<'e> {
    data: Value,
    events: &'e [Event],
    /// (field path, index into `events`) for every field that came from an event.
    provenance: Vec<(&'static str, usize)>,
    has_information: bool,
}

/// Renders an instant the way CertLogic's `plusTime` reads it back.
pub fn certlogic_time(t: OffsetDateTime) -> String {
    CertDateTime::from_offset_date_time(t).to_string()
}

#[derive(Default)]
struct Latest {
    declaration: Option<usize>,
    temperature: Option<usize>,
    test: Option<usize>,
    diagnosis: Option<usize>,
    contact: Option<usize>,
    quarantine_start: Option<usize>,
    quarantine_end: Option<usize>,
    itinerary: Option<usize>,
    first_negative: Option<usize>,
    last_negative: Option<usize>,
    override_: Option<usize>,
}

impl<'e> DataView<'e> {
    /// Folds the events that happened at or before `now` (in any order in
    /// the slice) into the view.
    pub fn build(events: &'e [Event], now: OffsetDateTime) -> DataView<'e> {
        let mut order: Vec<usize> = (0..events.len())
            .filter(|&i| events.get(i).is_some_and(|e| e.at() <= now))
            .collect();
        order.sort_by_key(|&i| (events.get(i).map(Event::at), i));

        let mut latest = Latest::default();
        for &i in &order {
            let Some(event) = events.get(i) else { continue };
            match event.fact() {
                Fact::SelfDeclaration { .. } => latest.declaration = Some(i),
                Fact::Temperature { .. } => latest.temperature = Some(i),
                Fact::TestResult { test, outcome } => {
                    latest.test = Some(i);
                    if *test == TestKind::Pcr && latest.itinerary.is_some() {
                        match outcome {
                            TestOutcome::Negative => {
                                latest.first_negative.get_or_insert(i);
                                latest.last_negative = Some(i);
                            }
                            TestOutcome::Positive => {
                                latest.first_negative = None;
                                latest.last_negative = None;
                            }
                        }
                    }
                }
                Fact::Diagnosis { .. } => latest.diagnosis = Some(i),
                Fact::CloseContact { .. } => latest.contact = Some(i),
                Fact::QuarantineStarted { .. } => {
                    latest.quarantine_start = Some(i);
                    latest.quarantine_end = None;
                }
                // The latest assessment at the end of the current episode counts.
                Fact::QuarantineEnded { .. } => latest.quarantine_end = Some(i),
                Fact::ItineraryRisk { level, .. } => {
                    // A later low-risk stay does not undo an earlier risky one.
                    if *level != RiskLevel::Low {
                        latest.itinerary = Some(i);
                        latest.first_negative = None;
                        latest.last_negative = None;
                    }
                }
                Fact::Override(_) => latest.override_ = Some(i),
            }
        }

        let mut view = DataView {
            data: Value::Null,
            events,
            provenance: Vec::with_capacity(16),
            has_information: !order.is_empty(),
        };
        let mut root = Map::new();
        root.insert("now".into(), Value::String(certlogic_time(now)));
        view.fill(&mut root, &latest);
        view.data = Value::Object(root);
        view
    }

    fn fill(&mut self, root: &mut Map<String, Value>, latest: &Latest) {
        let events = self.events;
        let at = |i: usize| {
            events
                .get(i)
                .map_or(Value::Null, |e| Value::String(certlogic_time(e.at())))
        };
        let fact = |i: Option<usize>| i.and_then(|i| events.get(i).map(|e| (i, e.fact())));

        if let Some((
            i,
            Fact::SelfDeclaration {
                fever, symptoms, ..
            },
        )) = fact(latest.declaration)
        {
            root.insert(
                "declaration".into(),
                json!({"at": at(i), "fever": fever, "symptoms": symptoms}),
            );
            self.provenance.push(("declaration", i));
        }
        if let Some((i, Fact::Temperature { reading })) = fact(latest.temperature) {
            root.insert(
                "temperature".into(),
                json!({"at": at(i), "tenths": reading.tenths()}),
            );
            self.provenance.push(("temperature", i));
        }
        if let Some((i, Fact::TestResult { test, outcome })) = fact(latest.test) {
            root.insert(
                "test".into(),
                json!({"at": at(i), "kind": test.as_str(), "result": outcome.as_str()}),
            );
            self.provenance.push(("test", i));
        }
        if let Some((i, Fact::Diagnosis { status })) = fact(latest.diagnosis) {
            root.insert(
                "diagnosis".into(),
                json!({"at": at(i), "status": status.as_str()}),
            );
            self.provenance.push(("diagnosis", i));
        }
        if let Some((i, Fact::CloseContact { .. })) = fact(latest.contact) {
            root.insert("contact".into(), json!({"at": at(i)}));
            self.provenance.push(("contact", i));
        }
        let mut quarantine = Map::new();
        if let Some((i, Fact::QuarantineStarted { place })) = fact(latest.quarantine_start) {
            quarantine.insert("started_at".into(), at(i));
            quarantine.insert("place".into(), place.as_str().into());
            self.provenance.push(("quarantine.started_at", i));
            self.provenance.push(("quarantine.place", i));
        }
        if let Some((i, Fact::QuarantineEnded { symptoms })) = fact(latest.quarantine_end) {
            quarantine.insert("ended_at".into(), at(i));
            quarantine.insert("ended_with_symptoms".into(), (*symptoms).into());
            self.provenance.push(("quarantine.ended_at", i));
            self.provenance.push(("quarantine.ended_with_symptoms", i));
        }
        if !quarantine.is_empty() {
            root.insert("quarantine".into(), Value::Object(quarantine));
        }
        if let Some((i, Fact::ItineraryRisk { level, area })) = fact(latest.itinerary) {
            let mut itinerary = Map::new();
            itinerary.insert("at".into(), at(i));
            itinerary.insert("level".into(), level.as_str().into());
            itinerary.insert("area".into(), area.as_str().into());
            self.provenance.extend([
                ("itinerary.at", i),
                ("itinerary.level", i),
                ("itinerary.area", i),
            ]);
            if let (Some(first), Some(last)) = (latest.first_negative, latest.last_negative) {
                itinerary.insert("first_negative_at".into(), at(first));
                itinerary.insert("last_negative_at".into(), at(last));
                self.provenance.push(("itinerary.first_negative_at", first));
                self.provenance.push(("itinerary.last_negative_at", last));
            }
            root.insert("itinerary".into(), Value::Object(itinerary));
        }
        if let Some((i, Fact::Override(o))) = fact(latest.override_) {
            let mut section = Map::new();
            section.insert("at".into(), at(i));
            section.insert("colour".into(), o.colour().as_str().into());
            if let Some(until) = o.until() {
                section.insert("until".into(), Value::String(certlogic_time(until)));
            }
            root.insert("override".into(), Value::Object(section));
            self.provenance.push(("override", i));
        }
    }

    /// The JSON object rules are evaluated against.
    pub fn data(&self) -> &Value {
        &self.data
    }

    /// False when no event happened at or before `now`: the code is pending.
    pub fn has_health_information(&self) -> bool {
        self.has_information
    }

    /// The value at a `var` path (`null` when absent).
    pub fn value_at(&self, path: &str) -> &Value {
        if path.is_empty() {
            return &self.data;
        }
        path.split('.')
            .try_fold(&self.data, |value, key| value.get(key))
            .unwrap_or(&Value::Null)
    }

    /// The events behind the fields that reading `path` touches.
    pub fn events_behind<'v>(&'v self, path: &'v str) -> impl Iterator<Item = &'e Event> + 'v {
        self.provenance
            .iter()
            .filter(move |(key, _)| reads_into(path, key))
            .filter_map(|&(_, i)| self.events.get(i))
    }

    /// Ids of the events behind `path`, deduplicated, in view order.
    pub fn event_ids_behind(&self, path: &str) -> Vec<EventId> {
        let mut ids: Vec<EventId> = Vec::new();
        for event in self.events_behind(path) {
            if !ids.contains(event.id()) {
                ids.push(event.id().clone());
            }
        }
        ids
    }
}
