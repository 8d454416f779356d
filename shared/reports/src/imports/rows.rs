//! Reading an import file and checking its rows, without touching the store: the header and
//! its mapping to fields (automatic by name, overridable), each row turned into the fields it
//! sets, and every problem named by row and column (`row 17, column phone: not a valid
//! number`). Rows count as a spreadsheet shows them: the header is row 1.

use std::collections::{BTreeMap, HashMap};

use atelier_domain::Invalid;
use atelier_domain::clients::{ClientDetails, phone_digits};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

/// Largest file accepted, in bytes.
pub const MAX_BYTES: usize = 5 * 1024 * 1024;
/// Most data rows in a file.
pub const MAX_ROWS: usize = 10_000;
/// Most columns in a file.
pub const MAX_COLUMNS: usize = 50;
/// Longest cell, in characters.
pub const MAX_CELL: usize = 10_000;

/// What an import creates or updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    /// Clients, matched by email, then phone.
    Clients,
    /// Products, matched by SKU.
    Products,
}

impl ImportKind {
    /// The fields a column can fill, and the header names each is recognised by.
    pub fn fields(self) -> &'static [(&'static str, &'static [&'static str])] {
        match self {
            ImportKind::Clients => &[
                ("name", &["name", "fullname", "clientname", "client", "nome", "nomecompleto"]),
                ("email", &["email", "emailaddress", "mail"]),
                (
                    "phone",
                    &[
                        "phone",
                        "phonenumber",
                        "mobile",
                        "telephone",
                        "tel",
                        "telefone",
                        "celular",
                        "telemovel",
                    ],
                ),
                ("notes", &["notes", "note", "comments", "observacoes", "notas"]),
                ("tags", &["tags", "tag", "labels", "etiquetas"]),
                ("marketing_consent", &["marketingconsent", "consent", "optin", "marketing"]),
            ],
            ImportKind::Products => &[
                ("title", &["title", "name", "product", "productname", "titulo", "nome", "produto"]),
                ("sku", &["sku", "code", "productcode", "codigo", "ref", "reference"]),
                ("serial_number", &["serialnumber", "serial", "numerodeserie"]),
                ("unit", &["unit", "unidade"]),
                ("cost_price", &["costprice", "cost", "custo", "precodecusto"]),
                ("sell_price", &["sellprice", "price", "saleprice", "preco", "precodevenda"]),
                ("minimum_quantity", &["minimumquantity", "minimum", "min", "minqty", "estoqueminimo"]),
                ("active", &["active", "ativo"]),
            ],
        }
    }

    /// Fields a file must map.
    pub fn required(self) -> &'static [&'static str] {
        match self {
            ImportKind::Clients => &["name"],
            ImportKind::Products => &["title", "sku"],
        }
    }
}

/// A problem with one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RowIssue {
    /// The row as a spreadsheet numbers it (the header is row 1).
    pub row: u32,
    /// The column's header, when one column is at fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for RowIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.column {
            Some(c) => write!(f, "row {}, column {c}: {}", self.row, self.message),
            None => write!(f, "row {}: {}", self.row, self.message),
        }
    }
}

/// Why a file cannot be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileProblem {
    /// Nothing in it, not even a header.
    #[error("the file is empty: it needs a header row")]
    Empty,
    /// More than [`MAX_ROWS`] rows.
    #[error("the file has more than {MAX_ROWS} rows; split it")]
    TooManyRows,
    /// More than [`MAX_COLUMNS`] columns.
    #[error("the file has more than {MAX_COLUMNS} columns")]
    TooManyColumns,
    /// The header is not CSV that can be read.
    #[error("the header row cannot be read: {0}")]
    BadHeader(String),
    /// Two columns with one name.
    #[error("two columns are named {0:?}")]
    DuplicateHeader(String),
    /// A header and nothing under it.
    #[error("the file has a header row but no rows to import")]
    NoRows,
}

/// A parsed file: the header and each data row's cells (or why the row cannot be read), with
/// the line the row starts on (what a spreadsheet calls its row: blank lines count).
#[derive(Debug, Clone)]
pub struct Sheet {
    /// Column names, as written.
    pub headers: Vec<String>,
    /// Data rows, in order: the row's number and its cells.
    pub rows: Vec<(u32, Result<Vec<String>, String>)>,
}

/// Reads CSV bytes: a UTF-8 byte-order mark is dropped; a row that is not UTF-8 or not CSV is
/// kept as a row problem, so one bad line does not hide the others.
pub fn parse(bytes: &[u8]) -> Result<Sheet, FileProblem> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
    let mut records = reader.byte_records();
    let header = match records.next() {
        None => return Err(FileProblem::Empty),
        Some(Err(e)) => return Err(FileProblem::BadHeader(e.to_string())),
        Some(Ok(h)) => h,
    };
    if header.len() > MAX_COLUMNS {
        return Err(FileProblem::TooManyColumns);
    }
    let headers: Vec<String> = header
        .iter()
        .map(|h| String::from_utf8(h.to_vec()).map(|h| h.trim().to_owned()))
        .collect::<Result<_, _>>()
        .map_err(|_| FileProblem::BadHeader("it is not UTF-8 (save the file as CSV UTF-8)".into()))?;
    if headers.iter().all(String::is_empty) {
        return Err(FileProblem::Empty);
    }
    let mut seen = std::collections::HashSet::new();
    for h in headers.iter().filter(|h| !h.is_empty()) {
        if !seen.insert(normalised(h)) {
            return Err(FileProblem::DuplicateHeader(h.clone()));
        }
    }
    let mut rows = Vec::new();
    let (mut counted, mut newlines) = (0usize, 0usize);
    for record in records {
        if rows.len() >= MAX_ROWS {
            return Err(FileProblem::TooManyRows);
        }
        // The reader's own line count skips blank lines; counting newlines before the record's
        // first byte gives the row a spreadsheet shows.
        let start = match &record {
            Ok(r) => r.position().map(|p| p.byte()),
            Err(e) => e.position().map(|p| p.byte()),
        };
        let line = start.and_then(|b| usize::try_from(b).ok()).map(|b| {
            // The reported start may be the blank lines before the record: step over them.
            let mut b = b.min(bytes.len());
            while b < bytes.len() && matches!(bytes[b], b'\n' | b'\r') {
                b += 1;
            }
            newlines += bytes[counted.min(b)..b].iter().filter(|c| **c == b'\n').count();
            counted = counted.max(b);
            newlines + 1
        });
        let fallback = u32::try_from(rows.len() + 2).unwrap_or(u32::MAX);
        let number = line.and_then(|l| u32::try_from(l).ok()).unwrap_or(fallback);
        rows.push((
            number,
            match record {
                Err(e) => Err(format!("cannot be read as CSV: {e}")),
                Ok(r) if r.iter().all(|c| c.iter().all(u8::is_ascii_whitespace)) => continue,
                Ok(r) => r
                    .iter()
                    .map(|c| String::from_utf8(c.to_vec()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| "is not UTF-8 text (save the file as CSV UTF-8)".to_owned()),
            },
        ));
    }
    if rows.is_empty() {
        return Err(FileProblem::NoRows);
    }
    Ok(Sheet { headers, rows })
}

/// A header as matched against field names: lower case, letters and digits only, accents off.
fn normalised(header: &str) -> String {
    atelier_domain::clients::search_key(header).chars().filter(char::is_ascii_alphanumeric).collect()
}

/// Field → header, found by the headers' names.
pub fn automatic_mapping(kind: ImportKind, headers: &[String]) -> BTreeMap<String, String> {
    let mut mapping = BTreeMap::new();
    for (field, names) in kind.fields() {
        if let Some(h) = headers.iter().find(|h| names.contains(&normalised(h).as_str()))
            && !mapping.values().any(|taken| taken == h)
        {
            mapping.insert((*field).to_owned(), h.clone());
        }
    }
    mapping
}

/// The mapping a caller asked for, over the automatic one, checked against the file.
pub fn mapping(
    kind: ImportKind,
    headers: &[String],
    overrides: &BTreeMap<String, Option<String>>,
) -> Result<BTreeMap<String, String>, Invalid> {
    let mut mapping = automatic_mapping(kind, headers);
    let mut errors = Invalid::default();
    for (field, header) in overrides {
        if !kind.fields().iter().any(|(f, _)| f == field) {
            errors.check(false, &format!("mapping.{field}"), "is not a field of this import");
            continue;
        }
        match header {
            None => {
                mapping.remove(field);
            }
            Some(h) if headers.contains(h) => {
                mapping.insert(field.clone(), h.clone());
            }
            Some(h) => {
                errors.check(false, &format!("mapping.{field}"), format!("the file has no column {h:?}"));
            }
        }
    }
    for field in kind.required() {
        errors.check(
            mapping.contains_key(*field),
            &format!("mapping.{field}"),
            format!("no column holds {field}; columns: {}", headers.join(", ")),
        );
    }
    errors.into_result().map(|()| mapping)
}

/// A checked row: the fields it sets (a merge patch for an existing record, the whole
/// definition for a new one) and the key it is matched by.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedRow {
    /// The row number (header = 1).
    pub row: u32,
    /// The fields the file sets, as the record's JSON names them.
    pub fields: Map<String, Value>,
    /// How it is matched to an existing record, in order: `email:…`, then `phone:…`; `sku:…`.
    pub match_keys: Vec<String>,
}

/// Text a spreadsheet would run: starts with `=` or `@`, a tab or a carriage return, or `+`/`-`
/// followed by something that is not a number (a phone `+351…` or `-5` is fine).
fn looks_like_formula(text: &str) -> bool {
    let mut chars = text.chars();
    match chars.next() {
        Some('=' | '@' | '\t' | '\r') => true,
        Some('+' | '-') => {
            chars.next().is_some_and(|c| !(c.is_ascii_digit() || c == ' ' || c == '(' || c == '.'))
        }
        _ => false,
    }
}

fn boolean(text: &str) -> Option<bool> {
    match text.trim().to_lowercase().as_str() {
        "true" | "yes" | "y" | "1" | "sim" | "s" | "x" => Some(true),
        "false" | "no" | "n" | "0" | "nao" | "não" | "" => Some(false),
        _ => None,
    }
}

/// A decimal amount (`12.50`, `12,50`, `1200`) in minor units of a currency with `digits`.
fn amount(text: &str, digits: u8) -> Option<i64> {
    let text = text.trim().replace(',', ".");
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    if whole.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || fraction.len() > usize::from(digits)
        || !fraction.chars().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let scale = 10_i64.checked_pow(u32::from(digits))?;
    let fraction: i64 = format!("{fraction:0<width$}", width = usize::from(digits)).parse().unwrap_or(0);
    whole.parse::<i64>().ok()?.checked_mul(scale)?.checked_add(fraction)
}

/// Checks every row: a row with any problem gets every problem it has; rows that repeat an
/// earlier row's email, phone or SKU are refused as duplicates.
pub fn check(
    kind: ImportKind,
    sheet: &Sheet,
    mapping: &BTreeMap<String, String>,
    currency_digits: u8,
) -> Vec<Result<ParsedRow, Vec<RowIssue>>> {
    let index: HashMap<&str, usize> =
        sheet.headers.iter().enumerate().map(|(i, h)| (h.as_str(), i)).collect();
    let mut first_seen: HashMap<String, u32> = HashMap::new();
    sheet
        .rows
        .iter()
        .map(|(number, row)| {
            let number = *number;
            let cells =
                row.as_ref().map_err(|m| vec![RowIssue { row: number, column: None, message: m.clone() }])?;
            let parsed = check_row(kind, number, cells, &index, mapping, currency_digits)?;
            for key in &parsed.match_keys {
                if let Some(earlier) = first_seen.get(key) {
                    let (column, what) = key.split_once(':').unwrap_or(("", ""));
                    return Err(vec![RowIssue {
                        row: number,
                        column: mapping.get(column).cloned(),
                        message: format!("the same {column} as row {earlier} ({what})"),
                    }]);
                }
            }
            for key in &parsed.match_keys {
                first_seen.insert(key.clone(), number);
            }
            Ok(parsed)
        })
        .collect()
}

fn check_row(
    kind: ImportKind,
    row: u32,
    cells: &[String],
    index: &HashMap<&str, usize>,
    mapping: &BTreeMap<String, String>,
    currency_digits: u8,
) -> Result<ParsedRow, Vec<RowIssue>> {
    let mut issues = Vec::new();
    let mut issue = |column: &str, message: String| {
        issues.push(RowIssue { row, column: Some(column.to_owned()), message });
    };
    let mut values: BTreeMap<&str, String> = BTreeMap::new();
    for (field, header) in mapping {
        let text = index.get(header.as_str()).and_then(|i| cells.get(*i)).map(|c| c.trim()).unwrap_or("");
        if text.chars().count() > MAX_CELL {
            issue(header, format!("is longer than {MAX_CELL} characters"));
        } else if looks_like_formula(text) {
            issue(header, "looks like a spreadsheet formula; only values are imported".into());
        } else {
            values.insert(field.as_str(), text.to_owned());
        }
    }
    let header = |field: &str| mapping.get(field).cloned().unwrap_or_else(|| field.to_owned());
    let mut fields = Map::new();
    let mut match_keys = Vec::new();
    match kind {
        ImportKind::Clients => {
            let text = |f: &str| values.get(f).cloned().unwrap_or_default();
            let consent = match values.get("marketing_consent") {
                Some(v) => boolean(v).unwrap_or_else(|| {
                    issue(&header("marketing_consent"), "is not yes or no".into());
                    false
                }),
                None => false,
            };
            let tags: Vec<String> = text("tags")
                .split([';', ','])
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect();
            let details = ClientDetails {
                name: text("name"),
                phone: Some(text("phone")).filter(|p| !p.is_empty()),
                email: Some(text("email")).filter(|e| !e.is_empty()),
                notes: text("notes"),
                tags,
                marketing_consent: consent,
            };
            match details.validate() {
                Ok(details) => {
                    // Only the cells the file fills: a blank cell leaves a matched record's
                    // field as it is.
                    let all = serde_json::to_value(&details).unwrap_or_default();
                    for field in mapping.keys() {
                        let filled = values.get(field.as_str()).is_some_and(|v| !v.is_empty());
                        if let (true, Some(v)) = (filled, all.get(field)) {
                            fields.insert(field.clone(), v.clone());
                        }
                    }
                    match_keys
                        .extend(details.email.as_deref().map(|e| format!("email:{}", e.to_lowercase())));
                    match_keys.extend(details.phone.as_deref().map(|p| format!("phone:{}", phone_digits(p))));
                }
                Err(invalid) => {
                    for e in invalid.0 {
                        let field = e.field.split(['[', '.']).next().unwrap_or(&e.field).to_owned();
                        issue(&header(&field), e.message);
                    }
                }
            }
        }
        ImportKind::Products => {
            // Blank cells are left out: a new product takes the defaults, a matched one keeps its own.
            for (field, text) in
                values.iter().filter(|(f, t)| !t.is_empty() || matches!(**f, "title" | "sku"))
            {
                let value = match *field {
                    "cost_price" | "sell_price" => match text.as_str() {
                        "" => Some(json!(0)),
                        t => amount(t, currency_digits).map(|m| json!(m)).or_else(|| {
                            issue(
                                &header(field),
                                format!("is not an amount with at most {currency_digits} decimals"),
                            );
                            None
                        }),
                    },
                    "minimum_quantity" => match text.as_str() {
                        "" => Some(json!(0)),
                        t => t.parse::<i64>().ok().filter(|n| *n >= 0).map(|n| json!(n)).or_else(|| {
                            issue(&header(field), "is not a whole number of 0 or more".into());
                            None
                        }),
                    },
                    "active" => boolean(text).map(|b| json!(b || text.is_empty())).or_else(|| {
                        issue(&header(field), "is not yes or no".into());
                        None
                    }),
                    "serial_number" if text.is_empty() => Some(Value::Null),
                    "unit" if text.is_empty() => None,
                    _ => Some(json!(text)),
                };
                let name = match *field {
                    "cost_price" => "cost_price_minor",
                    "sell_price" => "sell_price_minor",
                    other => other,
                };
                if let Some(v) = value {
                    fields.insert(name.to_owned(), v);
                }
            }
            let mut whole = fields.clone();
            whole.retain(|_, v| !v.is_null());
            match serde_json::from_value::<atelier_inventory::products::ProductDefinition>(Value::Object(
                whole,
            ))
            .map_err(|e| Invalid::field("title", e.to_string()))
            .and_then(|d| d.validate())
            {
                Ok(d) => match_keys.push(format!("sku:{}", d.sku.to_lowercase())),
                Err(invalid) => {
                    for e in invalid.0 {
                        let field = match e.field.as_str() {
                            "cost_price_minor" => "cost_price",
                            "sell_price_minor" => "sell_price",
                            other => other,
                        };
                        issue(&header(field), e.message);
                    }
                }
            }
        }
    }
    // A column refused as a cell (too long, a formula) is not refused again by the rules.
    let mut seen = std::collections::HashSet::new();
    issues.retain(|i| seen.insert(i.column.clone()));
    if issues.is_empty() { Ok(ParsedRow { row, fields, match_keys }) } else { Err(issues) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clients(csv: &str) -> Vec<Result<ParsedRow, Vec<RowIssue>>> {
        let sheet = parse(csv.as_bytes()).expect("parses");
        let mapping = mapping(ImportKind::Clients, &sheet.headers, &BTreeMap::new()).expect("maps");
        check(ImportKind::Clients, &sheet, &mapping, 2)
    }

    #[test]
    fn headers_are_mapped_by_name_in_english_and_portuguese() {
        let headers: Vec<String> = ["Nome", "E-mail", "Telefone", "Observações"].map(String::from).to_vec();
        let mapping = automatic_mapping(ImportKind::Clients, &headers);
        assert_eq!(mapping.get("name").map(String::as_str), Some("Nome"));
        assert_eq!(mapping.get("email").map(String::as_str), Some("E-mail"));
        assert_eq!(mapping.get("phone").map(String::as_str), Some("Telefone"));
        assert_eq!(mapping.get("notes").map(String::as_str), Some("Observações"));
    }

    #[test]
    fn rows_name_their_problems_by_row_and_column() {
        let rows = clients(
            "\u{feff}name,email,phone\nAna,ana@example.com,+351 912 345 678\nBea,not-an-email,\n,c@example.com,12\nDee,ana@example.com,\nEve,=cmd|' /C calc'!A0,\n",
        );
        assert!(rows[0].is_ok(), "{:?}", rows[0]);
        let issues = |i: usize| rows[i].clone().expect_err("refused");
        assert_eq!(issues(1)[0].to_string(), "row 3, column email: is not an email address");
        assert_eq!(issues(2)[0].row, 4);
        assert_eq!(issues(2)[0].column.as_deref(), Some("name"));
        assert_eq!(issues(3)[0].message, "the same email as row 2 (ana@example.com)");
        assert!(issues(4)[0].message.contains("formula"));
    }

    #[test]
    fn a_repeated_phone_is_caught_and_blank_cells_set_nothing() {
        let rows = clients(
            "name,email,phone,notes\nAna,ana@example.com,+351 912 345 678,\nBia,bia@example.com,+351 912 345 678,Hi\n",
        );
        let first = rows[0].clone().expect("valid");
        assert!(
            !first.fields.contains_key("notes"),
            "a blank cell leaves a matched record's notes: {:?}",
            first.fields
        );
        assert_eq!(first.match_keys, ["email:ana@example.com", "phone:351912345678"]);
        let issues = rows[1].clone().expect_err("the same phone");
        assert_eq!(issues[0].message, "the same phone as row 2 (351912345678)");
    }

    #[test]
    fn bad_files_are_refused_whole() {
        assert_eq!(parse(b"").err(), Some(FileProblem::Empty));
        assert_eq!(parse(b"null").err(), Some(FileProblem::NoRows));
        assert_eq!(parse(b"name,email\n\n").err(), Some(FileProblem::NoRows));
        assert_eq!(parse(b"name,Name\nA,B\n").err(), Some(FileProblem::DuplicateHeader("Name".into())));
        let wide = (0..=MAX_COLUMNS).map(|i| format!("c{i}")).collect::<Vec<_>>().join(",");
        assert_eq!(parse(wide.as_bytes()).err(), Some(FileProblem::TooManyColumns));
        let sheet = parse(b"name\nA\xff\n\nB\n").expect("parses");
        assert!(sheet.rows[0].1.is_err() && sheet.rows[1].1.is_ok(), "a latin-1 row is a row problem");
        assert_eq!(
            (sheet.rows[0].0, sheet.rows[1].0),
            (2, 4),
            "rows keep their spreadsheet numbers past a blank line"
        );
        let missing = mapping(ImportKind::Products, &["title".into()], &BTreeMap::new()).expect_err("no sku");
        assert_eq!(missing.0[0].field, "mapping.sku");
    }

    #[test]
    fn products_read_amounts_in_the_currency_digits() {
        let sheet =
            parse("sku,title,price,cost,min\nA-1,Shampoo,12.5,\"4,20\",3\nA-2,Oil,12.345,1,x\n".as_bytes())
                .expect("parses");
        let map = mapping(ImportKind::Products, &sheet.headers, &BTreeMap::new()).expect("maps");
        let rows = check(ImportKind::Products, &sheet, &map, 2);
        let first = rows[0].clone().expect("valid");
        assert_eq!(first.fields["sell_price_minor"], 1250);
        assert_eq!(first.fields["cost_price_minor"], 420);
        assert_eq!(first.fields["minimum_quantity"], 3);
        let issues = rows[1].clone().expect_err("refused");
        assert_eq!(issues.len(), 2, "{issues:?}");
        assert_eq!(amount("1200", 0), Some(1200));
        assert_eq!(amount("-1", 2), None);
    }
}
