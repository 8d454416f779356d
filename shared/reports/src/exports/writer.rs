//! The file writers: CSV into a buffer handed out as upload parts (so an export of any size
//! keeps memory flat and resumes after the last part uploaded), XLSX through
//! `rust_xlsxwriter`'s constant-memory mode into a temporary file uploaded in parts.

use std::path::Path;

use rust_xlsxwriter::{Format, Workbook, XlsxError};

use super::cells::{Cell, neutralise};

/// Rows an XLSX sheet holds, header included (Excel's limit).
pub const XLSX_MAX_ROWS: u32 = 1_048_576;

/// Why writing failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The CSV writer failed.
    #[error("writing CSV")]
    Csv(#[source] csv::Error),
    /// The XLSX writer failed.
    #[error("writing XLSX")]
    Xlsx(#[source] XlsxError),
    /// More rows than a sheet holds.
    #[error("more than {XLSX_MAX_ROWS} rows do not fit in one XLSX sheet; export CSV instead")]
    TooManyRows,
}

/// CSV rows accumulating until they are taken as a part.
pub struct CsvParts {
    writer: csv::Writer<Vec<u8>>,
}

impl Default for CsvParts {
    fn default() -> Self {
        CsvParts { writer: csv::Writer::from_writer(Vec::new()) }
    }
}

impl CsvParts {
    /// Writes a row.
    pub fn row(&mut self, cells: &[Cell]) -> Result<(), WriteError> {
        self.writer.write_record(cells.iter().map(|c| c.csv_text().into_owned())).map_err(WriteError::Csv)
    }

    /// Writes the header.
    pub fn header(&mut self, headers: &[&str]) -> Result<(), WriteError> {
        self.writer.write_record(headers).map_err(WriteError::Csv)
    }

    /// Bytes written and not yet taken.
    pub fn pending(&mut self) -> usize {
        let _ = self.writer.flush();
        self.writer.get_ref().len()
    }

    /// Takes what was written so far.
    pub fn take(&mut self) -> Result<Vec<u8>, WriteError> {
        let full = std::mem::replace(&mut self.writer, csv::Writer::from_writer(Vec::new()));
        full.into_inner().map_err(|e| WriteError::Csv(e.into_error().into()))
    }
}

/// An XLSX workbook being written to disk one row at a time.
pub struct XlsxFile {
    workbook: Workbook,
    row: u32,
    formats: [Format; 4],
}

impl XlsxFile {
    /// A workbook with one sheet named `sheet` and its header row.
    pub fn new(sheet: &str, headers: &[&str], temp_dir: &Path) -> Result<XlsxFile, WriteError> {
        let mut workbook = Workbook::new();
        workbook.set_tempdir(temp_dir).map_err(WriteError::Xlsx)?;
        let worksheet = workbook
            .add_worksheet_with_constant_memory()
            .map_err(WriteError::Xlsx)?
            .set_name(sheet)
            .map_err(WriteError::Xlsx)?;
        let bold = Format::new().set_bold();
        for (i, h) in headers.iter().enumerate() {
            worksheet.write_string_with_format(0, col(i)?, *h, &bold).map_err(WriteError::Xlsx)?;
        }
        let formats = [
            Format::new().set_num_format("0"),
            Format::new().set_num_format("0.0"),
            Format::new().set_num_format("0.00"),
            Format::new().set_num_format("0.000"),
        ];
        Ok(XlsxFile { workbook, row: 1, formats })
    }

    /// Writes a row.
    pub fn row(&mut self, cells: &[Cell]) -> Result<(), WriteError> {
        if self.row >= XLSX_MAX_ROWS {
            return Err(WriteError::TooManyRows);
        }
        let row = self.row;
        let sheet = self.workbook.worksheet_from_index(0).map_err(WriteError::Xlsx)?;
        for (i, cell) in cells.iter().enumerate() {
            let c = col(i)?;
            match cell {
                Cell::Empty => continue,
                Cell::Text(t) => sheet.write_string(row, c, neutralise(t).as_ref()),
                // Counts and amounts are far below 2^53: exact as spreadsheet numbers.
                Cell::Int(n) => sheet.write_number(row, c, *n as f64),
                Cell::Decimal { minor, digits } => {
                    let value = *minor as f64 / 10_f64.powi(i32::from(*digits));
                    sheet.write_number_with_format(
                        row,
                        c,
                        value,
                        &self.formats[usize::from((*digits).min(3))],
                    )
                }
                Cell::Bool(b) => sheet.write_boolean(row, c, *b),
            }
            .map_err(WriteError::Xlsx)?;
        }
        self.row += 1;
        Ok(())
    }

    /// Rows written, header excluded.
    pub fn rows(&self) -> u64 {
        u64::from(self.row - 1)
    }

    /// Finishes the file at `path`.
    pub fn save(mut self, path: &Path) -> Result<(), WriteError> {
        self.workbook.save(path).map_err(WriteError::Xlsx)
    }
}

fn col(i: usize) -> Result<u16, WriteError> {
    u16::try_from(i).map_err(|_| WriteError::TooManyRows)
}
