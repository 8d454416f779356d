//! Rendering notices: a topic's template in the recipient's language (a studio's override, or
//! the built-in one) filled with the notice's variables, formatted for that language — times in
//! the studio's zone with its UTC offset, money in its currency. minijinja renders with HTML
//! auto-escaping for the email's HTML part, and with fuel so no template runs unbounded.
//!
//! Overrides are checked when saved: the syntax, and every variable against the topic's list,
//! so a bad template is a 422 that names the line, never a notice that fails at send time.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use atelier_domain::Invalid;
use atelier_domain::ids::StudioId;
use atelier_domain::language::Language;
use atelier_domain::money::Currency;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::topics::Topic;
use atelier_platform::store::{Item, Key, Query, SortKey, WriteOp};
use atelier_platform::{AppError, Platform};

/// Most characters of an override's subject.
pub const SUBJECT_MAX: usize = 200;
/// Most characters of an override's body.
pub const BODY_MAX: usize = 4000;
/// Template instructions one render may run (a loop over nothing big stays far below).
const FUEL: u64 = 50_000;

/// A value a notice carries, formatted per language when rendered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Var {
    /// Text as it is.
    Text(String),
    /// A count.
    Number(i64),
    /// An instant, shown in the studio's zone.
    Instant(Timestamp),
    /// An amount.
    Money {
        /// Minor units.
        minor: i64,
        /// Currency.
        currency: Currency,
    },
}

/// A notice's text in one language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Subject (the inbox title).
    pub subject: String,
    /// Plain text.
    pub text: String,
    /// HTML, escaped.
    pub html: String,
}

/// A studio's own subject and body for a topic in a language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateText {
    /// Subject line (a template too; at most 200 characters).
    pub subject: String,
    /// Body (at most 4000 characters).
    pub body: String,
}

/// Key of a studio's override of `topic` in `language`.
pub fn override_key(studio_id: &StudioId, topic: Topic, language: Language) -> Key {
    Key::new(format!("STUDIO#{studio_id}"), format!("TEMPLATE#{}#{}", topic.as_str(), language.tag()))
}

/// A studio's overrides: (topic, language, text).
pub async fn overrides(
    platform: &Platform,
    studio_id: &StudioId,
) -> Result<Vec<(Topic, Language, TemplateText)>, AppError> {
    let query = Query::partition(format!("STUDIO#{studio_id}")).sort(SortKey::BeginsWith("TEMPLATE#".into()));
    let mut found = Vec::new();
    for item in platform.store.query_all(query, Topic::ALL.len() * Language::ALL.len()).await? {
        let Some(key) = item.key() else { continue };
        let mut parts = key.sk.splitn(3, '#').skip(1);
        if let (Some(Some(topic)), Some(Some(language))) =
            (parts.next().map(Topic::parse), parts.next().map(Language::parse))
        {
            found.push((topic, language, item.to_record()?));
        }
    }
    Ok(found)
}

/// Saves a studio's override after checking it.
pub async fn set_override(
    platform: &Platform,
    studio_id: &StudioId,
    topic: Topic,
    language: Language,
    text: &TemplateText,
) -> Result<(), AppError> {
    validate(topic, text)?;
    let item = Item::from_record(&override_key(studio_id, topic, language), text)?;
    platform.store.write(WriteOp::put(item)).await?;
    Ok(())
}

/// Removes a studio's override (none: nothing changes).
pub async fn remove_override(
    platform: &Platform,
    studio_id: &StudioId,
    topic: Topic,
    language: Language,
) -> Result<(), AppError> {
    platform.store.write(WriteOp::delete(override_key(studio_id, topic, language))).await?;
    Ok(())
}

fn environment(escape: AutoEscape) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    env.set_fuel(Some(FUEL));
    env.set_auto_escape_callback(move |_| escape);
    env
}

fn text_env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| environment(AutoEscape::None))
}

fn html_env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| environment(AutoEscape::Html))
}

/// The variables formatted for `language` in `zone`.
pub fn context(
    vars: &BTreeMap<String, Var>,
    language: Language,
    zone: &str,
) -> BTreeMap<String, minijinja::Value> {
    vars.iter()
        .map(|(name, var)| {
            let value = match var {
                Var::Text(text) => minijinja::Value::from(text.clone()),
                Var::Number(n) => minijinja::Value::from(*n),
                Var::Instant(at) => minijinja::Value::from(format_instant(*at, zone, language)),
                Var::Money { minor, currency } => {
                    minijinja::Value::from(format_money(*minor, currency, language))
                }
            };
            (name.clone(), value)
        })
        .collect()
}

/// Renders `template` with `ctx`: the subject and text unescaped, the HTML escaped.
pub fn render(
    template: &TemplateText,
    ctx: &BTreeMap<String, minijinja::Value>,
) -> Result<Rendered, minijinja::Error> {
    let subject = text_env().render_str(&template.subject, ctx)?;
    let text = text_env().render_str(&template.body, ctx)?;
    let html_body = html_env().render_str(&template.body, ctx)?;
    let html = html_body
        .split("\n\n")
        .map(|paragraph| format!("<p>{}</p>", paragraph.replace('\n', "<br>")))
        .collect::<Vec<_>>()
        .join("\n");
    // One line of subject, whatever the variables held.
    let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
    Ok(Rendered { subject, text, html: format!("<!doctype html>\n<html><body>\n{html}\n</body></html>\n") })
}

/// The built-in template of `topic` in `language`.
pub fn builtin(topic: Topic, language: Language) -> TemplateText {
    let (subject, body) = topic.builtin(language);
    TemplateText { subject: subject.to_owned(), body: body.to_owned() }
}

/// Checks an override of `topic`: sizes, syntax, and only the topic's variables. Errors name
/// the field and, for syntax, the line.
pub fn validate(topic: Topic, template: &TemplateText) -> Result<(), Invalid> {
    let mut errors = Invalid::default();
    for (field, source, max) in
        [("subject", &template.subject, SUBJECT_MAX), ("body", &template.body, BODY_MAX)]
    {
        if source.trim().is_empty() {
            errors.0.extend(Invalid::field(field, "must not be empty").0);
            continue;
        }
        if source.chars().count() > max {
            errors.0.extend(Invalid::field(field, format!("must be at most {max} characters")).0);
            continue;
        }
        if let Err(e) = check_subset(source) {
            errors.0.extend(Invalid::field(field, e).0);
            continue;
        }
        match text_env().template_from_str(source) {
            Err(e) => {
                let line = e.line().map(|l| format!(" (line {l})")).unwrap_or_default();
                errors.0.extend(
                    Invalid::field(
                        field,
                        format!("is not a valid template{line}: {}", e.detail().unwrap_or("syntax error")),
                    )
                    .0,
                );
            }
            Ok(compiled) => {
                let mut unknown: Vec<String> = compiled
                    .undeclared_variables(false)
                    .into_iter()
                    .filter(|name| !topic.variables().contains(&name.as_str()))
                    .collect();
                unknown.sort();
                if !unknown.is_empty() {
                    errors.0.extend(
                        Invalid::field(
                            field,
                            format!(
                                "uses unknown variables {}; {} has {}",
                                unknown.join(", "),
                                topic.as_str(),
                                topic.variables().join(", ")
                            ),
                        )
                        .0,
                    );
                }
            }
        }
    }
    if errors.0.is_empty() {
        // A dry run with every variable set catches what only shows when rendering (a filter
        // on the wrong type, running out of fuel).
        let sample: BTreeMap<String, minijinja::Value> = topic
            .variables()
            .iter()
            .map(|name| ((*name).to_owned(), minijinja::Value::from("sample")))
            .collect();
        if let Err(e) = render(template, &sample) {
            errors.0.extend(Invalid::field("body", format!("cannot be rendered: {e}")).0);
        }
    }
    errors.into_result()
}

/// Filters an override may apply to a variable.
const FILTERS: [&str; 5] = ["upper", "lower", "title", "capitalize", "trim"];

/// Checks that a template uses only what notices need: `{{ name }}` (with simple filters),
/// `{% if name %}`/`{% if not name %}`, `{% elif … %}`, `{% else %}`, `{% endif %}` and
/// comments. No loops, arithmetic or calls: a template a studio saves can neither run long nor
/// blow up in size (`{{ name * 100000000 }}` is one instruction to the engine's fuel).
fn check_subset(source: &str) -> Result<(), String> {
    let name_ok = |n: &str| !n.is_empty() && n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    let mut rest = source;
    let mut line = 1;
    while let Some(open) = rest.find('{') {
        line += rest[..open].matches('\n').count();
        let after = &rest[open..];
        let (close, kind) = match after.as_bytes().get(1) {
            Some(b'{') => ("}}", 'v'),
            Some(b'%') => ("%}", 's'),
            Some(b'#') => ("#}", 'c'),
            _ => {
                rest = &after[1..];
                continue;
            }
        };
        let Some(end) = after.find(close) else {
            return Err(format!("is not a valid template (line {line}): a tag is never closed"));
        };
        let inner = after[2..end].trim_matches(|c: char| c == '-' || c.is_whitespace());
        let ok = match kind {
            'v' => {
                let mut parts = inner.split('|').map(str::trim);
                parts.next().is_some_and(name_ok) && parts.all(|f| FILTERS.contains(&f))
            }
            's' => {
                let words: Vec<&str> = inner.split_whitespace().collect();
                match words.as_slice() {
                    ["else"] | ["endif"] => true,
                    ["if" | "elif", name] => name_ok(name),
                    ["if" | "elif", "not", name] => name_ok(name),
                    _ => false,
                }
            }
            _ => true,
        };
        if !ok {
            return Err(format!(
                "uses `{}` (line {line}): templates take {{{{ name }}}}, filters {}, and if/elif/else/endif on a name",
                &after[..end + 2],
                FILTERS.join(", ")
            ));
        }
        line += after[..end].matches('\n').count();
        rest = &after[end + 2..];
    }
    Ok(())
}

const WEEKDAYS_EN: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const WEEKDAYS_PT: [&str; 7] = ["seg", "ter", "qua", "qui", "sex", "sáb", "dom"];
const MONTHS_EN: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// `at` in `zone` for people: `Tue 10 Mar 2026, 10:00 (UTC-03:00)` or
/// `ter 10/03/2026, 10:00 (UTC-03:00)`.
pub fn format_instant(at: Timestamp, zone: &str, language: Language) -> String {
    let tz = TimeZone::get(zone).unwrap_or(TimeZone::UTC);
    let local = at.to_zoned_datetime(tz);
    let weekday = usize::try_from(local.weekday().to_monday_zero_offset()).unwrap_or(0);
    let month = usize::try_from(local.month() - 1).unwrap_or(0);
    let offset = local.strftime("%:z");
    match language {
        Language::En => format!(
            "{} {} {} {}, {:02}:{:02} (UTC{offset})",
            WEEKDAYS_EN[weekday % 7],
            local.day(),
            MONTHS_EN[month % 12],
            local.year(),
            local.hour(),
            local.minute()
        ),
        Language::PtBr => format!(
            "{} {:02}/{:02}/{}, {:02}:{:02} (UTC{offset})",
            WEEKDAYS_PT[weekday % 7],
            local.day(),
            local.month(),
            local.year(),
            local.hour(),
            local.minute()
        ),
    }
}

/// An amount for people: `€1,234.50` / `R$ 1.234,50`; the currency's own number of decimals.
pub fn format_money(minor: i64, currency: &Currency, language: Language) -> String {
    let decimals = u32::from(currency.minor_units());
    let scale = 10_u64.pow(decimals);
    let abs = minor.unsigned_abs();
    let (whole, fraction) = (abs / scale, abs % scale);
    let (group, point) = match language {
        Language::En => (',', '.'),
        Language::PtBr => ('.', ','),
    };
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(group);
        }
        grouped.push(c);
    }
    let number = if decimals == 0 {
        grouped
    } else {
        format!("{grouped}{point}{fraction:0width$}", width = decimals as usize)
    };
    let sign = if minor < 0 { "-" } else { "" };
    let symbol = match (currency.code(), language) {
        ("BRL", _) => Some("R$"),
        ("EUR", _) => Some("€"),
        ("GBP", _) => Some("£"),
        ("USD", Language::En) => Some("$"),
        ("USD", Language::PtBr) => Some("US$"),
        _ => None,
    };
    match (symbol, language) {
        (Some(symbol), Language::En) => format!("{sign}{symbol}{number}"),
        (Some(symbol), Language::PtBr) => format!("{sign}{symbol} {number}"),
        (None, _) => format!("{sign}{} {number}", currency.code()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn currency(code: &str) -> Currency {
        Currency::parse(code, "c").expect("currency")
    }

    #[test]
    fn money_per_language_and_exponent() {
        assert_eq!(format_money(123_450, &currency("EUR"), Language::En), "€1,234.50");
        assert_eq!(format_money(123_450, &currency("BRL"), Language::PtBr), "R$ 1.234,50");
        assert_eq!(format_money(1200, &currency("JPY"), Language::En), "JPY 1,200");
        assert_eq!(format_money(1250, &currency("KWD"), Language::PtBr), "KWD 1,250");
        assert_eq!(format_money(-5, &currency("USD"), Language::En), "-$0.05");
        assert_eq!(format_money(0, &currency("USD"), Language::PtBr), "US$ 0,00");
    }

    #[test]
    fn instants_in_the_studio_zone_with_offset() {
        let at: Timestamp = "2026-03-10T13:00:00Z".parse().expect("ts");
        assert_eq!(
            format_instant(at, "America/Sao_Paulo", Language::En),
            "Tue 10 Mar 2026, 10:00 (UTC-03:00)"
        );
        assert_eq!(
            format_instant(at, "America/Sao_Paulo", Language::PtBr),
            "ter 10/03/2026, 10:00 (UTC-03:00)"
        );
        // Summer time in Lisbon.
        let summer: Timestamp = "2026-07-01T09:30:00Z".parse().expect("ts");
        assert_eq!(
            format_instant(summer, "Europe/Lisbon", Language::En),
            "Wed 1 Jul 2026, 10:30 (UTC+01:00)"
        );
    }

    #[test]
    fn every_builtin_template_is_valid_and_renders_in_both_languages() {
        for topic in Topic::ALL {
            for language in Language::ALL {
                let template = builtin(topic, language);
                validate(topic, &template).unwrap_or_else(|e| panic!("{topic:?} {language:?}: {e:?}"));
            }
        }
    }

    #[test]
    fn html_is_escaped_and_text_is_not() {
        let template =
            TemplateText { subject: "Hi {{ recipient }}".into(), body: "For {{ recipient }}".into() };
        let ctx = BTreeMap::from([("recipient".to_owned(), minijinja::Value::from("<Ana & Bia>"))]);
        let out = render(&template, &ctx).expect("render");
        assert_eq!(out.subject, "Hi <Ana & Bia>");
        assert_eq!(out.text, "For <Ana & Bia>");
        assert!(out.html.contains("For &lt;Ana &amp; Bia&gt;"), "{}", out.html);
    }

    #[test]
    fn overrides_with_bad_syntax_or_unknown_variables_are_refused_with_where() {
        let bad = TemplateText { subject: "ok".into(), body: "line one\n{% if fee %}never closed".into() };
        let e = validate(Topic::BookingCancelled, &bad).expect_err("syntax");
        assert_eq!(e.0[0].field, "body");
        assert!(e.0[0].message.contains("line"), "{:?}", e.0);
        let unknown = TemplateText { subject: "{{ secret_key }}".into(), body: "{{ start }}".into() };
        let e = validate(Topic::BookingReminder, &unknown).expect_err("unknown");
        assert_eq!(e.0[0].field, "subject");
        assert!(e.0[0].message.contains("secret_key"), "{:?}", e.0);
        // Loops, arithmetic, calls: refused before the engine sees them.
        for body in [
            "{% for i in range(100000) %}{{ i }}{% endfor %}",
            "{{ service * 16000000 }}",
            "{{ service ~ service }}",
            "{{ service|replace('a', 'bb') }}",
            "{% set x = 1 %}",
        ] {
            let bad = TemplateText { subject: "x".into(), body: body.into() };
            let e = validate(Topic::BookingReminder, &bad).expect_err(body);
            assert!(e.0[0].message.contains("uses"), "{body}: {:?}", e.0);
        }
        let fine = TemplateText {
            subject: "{{ service|upper }}".into(),
            body: "{# note #}{% if not fee %}no fee{% elif fee %}{{ fee }}{% else %}x{% endif %}".into(),
        };
        assert!(validate(Topic::BookingCancelled, &fine).is_ok());
    }
}
