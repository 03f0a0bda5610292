//! Reading a comments spreadsheet left beside a video (`<stem>.comments.xlsx` or `<stem>.xlsx`), as
//! the seed project's crawler wrote them.
//!
//! Only the first worksheet is read. Its first non-empty row is the header: the comment text is
//! the column named `text`, `comment`, `comments`, `content`, `nội dung`, `binh_luan` or
//! `bình luận` (any case), or the only column when the header has just one; `author`/`user`/
//! `username`/`nickname` and `like_count`/`likes`/`digg_count` are used when present. Rows with an
//! empty text cell are skipped; numbers in the text column are kept as their string form.
//!
//! The sheet is streamed cell by cell (never expanded into a dense grid, which a hostile
//! `<dimension>` or a far-away cell could make huge), at most [`MAX_ROWS`] rows below the header
//! are read, and files over [`MAX_XLSX_BYTES`] are refused.

use super::SourceError;
use calamine::{DataRef, Reader, SheetType, Xlsx};
use clipguard_core::Comment;
use std::io::{Cursor, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use unicode_normalization::UnicodeNormalization;

/// Largest workbook read (the same limit as the JSON sidecars).
pub const MAX_XLSX_BYTES: u64 = 64 * 1024 * 1024;
/// Rows read below the header; the rest of the sheet is ignored.
pub const MAX_ROWS: usize = 10_000;
/// Columns looked at; cells further right are ignored.
const MAX_COLUMNS: u32 = 1_024;

/// Header names (compared trimmed, NFC-normalised and lower-cased), in order of preference.
const TEXT_HEADERS: &[&str] = &[
    "text",
    "comment",
    "comments",
    "content",
    "nội dung",
    "binh_luan",
    "bình luận",
];
const AUTHOR_HEADERS: &[&str] = &["author", "user", "username", "nickname"];
const LIKES_HEADERS: &[&str] = &["like_count", "likes", "digg_count"];

/// Reads the comments in `path`; every error names the file.
pub fn read_comments_xlsx(path: &Path) -> Result<Vec<Comment>, SourceError> {
    let bytes = read_capped(path)?;
    // calamine is a parser of untrusted input: should it ever panic on a malformed file, that is
    // reported like any other unreadable sidecar rather than taking the scan down.
    match catch_unwind(AssertUnwindSafe(|| parse(bytes))) {
        Ok(result) => result.map_err(|message| SourceError::io(path, message)),
        Err(_) => Err(SourceError::io(
            path,
            "not a readable .xlsx workbook (the reader failed on it)",
        )),
    }
}

fn read_capped(path: &Path) -> Result<Vec<u8>, SourceError> {
    let file = std::fs::File::open(path).map_err(|e| SourceError::io(path, e))?;
    let len = file.metadata().map_err(|e| SourceError::io(path, e))?.len();
    let too_big = |len: u64| {
        SourceError::io(
            path,
            format!("{len} bytes, over the {MAX_XLSX_BYTES}-byte sidecar limit"),
        )
    };
    if len > MAX_XLSX_BYTES {
        return Err(too_big(len));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(MAX_XLSX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| SourceError::io(path, e))?;
    if bytes.len() as u64 > MAX_XLSX_BYTES {
        // It grew while being read.
        return Err(too_big(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Where the fields are in the sheet (0-based column indices).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Columns {
    text: u32,
    author: Option<u32>,
    likes: Option<u32>,
}

fn parse(bytes: Vec<u8>) -> Result<Vec<Comment>, String> {
    let mut book =
        Xlsx::new(Cursor::new(bytes)).map_err(|e| format!("not a readable .xlsx workbook: {e}"))?;
    let Some(sheet) = book
        .sheets_metadata()
        .iter()
        .find(|s| s.typ == SheetType::WorkSheet)
        .map(|s| s.name.clone())
    else {
        return Ok(Vec::new());
    };
    let mut cells = book
        .worksheet_cells_reader(&sheet)
        .map_err(|e| format!("cannot read worksheet `{sheet}`: {e}"))?;
    let bad_cell = |e: calamine::XlsxError| format!("worksheet `{sheet}`: {e}");

    let mut columns: Option<Columns> = None;
    let mut comments = Vec::new();
    let mut data_rows = 0usize;
    // The row being gathered: its index and its non-empty cells (column, value).
    let mut row: Option<u32> = None;
    let mut row_cells: Vec<(u32, DataRef<'_>)> = Vec::new();
    loop {
        let next = cells.next_cell().map_err(bad_cell)?;
        let next_row = next.as_ref().map(|c| c.get_position().0);
        if row.is_some() && next_row != row {
            match columns {
                // The first row with something in it is the header.
                None if !row_cells.is_empty() => columns = Some(find_columns(&row_cells)?),
                None => {}
                Some(cols) => {
                    comments.extend(comment_from(&row_cells, cols));
                    data_rows += 1;
                    if data_rows >= MAX_ROWS {
                        break;
                    }
                }
            }
            row_cells.clear();
        }
        let Some(cell) = next else { break };
        let (r, c) = cell.get_position();
        row = Some(r);
        if c < MAX_COLUMNS && !matches!(cell.get_value(), DataRef::Empty) {
            row_cells.push((c, cell.get_value().clone()));
        }
    }
    Ok(comments)
}

fn find_columns(header: &[(u32, DataRef<'_>)]) -> Result<Columns, String> {
    let names: Vec<(u32, String)> = header
        .iter()
        .filter_map(|(c, v)| cell_string(v).map(|s| (*c, header_key(&s))))
        .collect();
    let find = |wanted: &[&str]| {
        wanted
            .iter()
            .find_map(|w| names.iter().find(|(_, n)| n == w).map(|(c, _)| *c))
    };
    let text = match find(TEXT_HEADERS) {
        Some(c) => c,
        None if header.len() == 1 => header[0].0,
        None => {
            let seen: Vec<&str> = names.iter().take(20).map(|(_, n)| n.as_str()).collect();
            return Err(format!(
                "no comment text column: the header row ({}) names none of {} and has more than one column",
                seen.join(", "),
                TEXT_HEADERS.join(", ")
            ));
        }
    };
    Ok(Columns {
        text,
        author: find(AUTHOR_HEADERS).filter(|c| *c != text),
        likes: find(LIKES_HEADERS).filter(|c| *c != text),
    })
}

fn header_key(name: &str) -> String {
    name.trim().nfc().collect::<String>().to_lowercase()
}

fn comment_from(row: &[(u32, DataRef<'_>)], cols: Columns) -> Option<Comment> {
    let at = |col: u32| row.iter().find(|(c, _)| *c == col).map(|(_, v)| v);
    Some(Comment {
        text: at(cols.text).and_then(cell_string)?,
        author: cols.author.and_then(at).and_then(cell_string),
        likes: cols.likes.and_then(at).and_then(cell_count),
    })
}

/// A cell as text, trimmed; `None` when empty, blank or an error value.
fn cell_string(v: &DataRef<'_>) -> Option<String> {
    let s = match v {
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.trim().into(),
        DataRef::SharedString(s) => s.trim().into(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => f.to_string(),
        DataRef::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        DataRef::DateTime(d) => d.to_string(),
        DataRef::Error(_) | DataRef::Empty => return None,
    };
    (!s.is_empty()).then_some(s)
}

/// A like count: a non-negative number, or text holding one.
fn cell_count(v: &DataRef<'_>) -> Option<u64> {
    let from_f64 = |f: f64| (f.is_finite() && f >= 0.0).then_some(f as u64);
    match v {
        DataRef::Int(i) => u64::try_from(*i).ok(),
        DataRef::Float(f) => from_f64(*f),
        DataRef::String(s) => count_from_text(s),
        DataRef::SharedString(s) => count_from_text(s),
        _ => None,
    }
}

fn count_from_text(s: &str) -> Option<u64> {
    let s = s.trim();
    s.parse::<u64>().ok().or_else(|| {
        s.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(|f| f as u64)
    })
}

/// Builds small but real `.xlsx` files for tests (inline strings, no shared-strings part).
#[cfg(test)]
pub(crate) mod test_support {
    use std::io::Write;

    /// A cell to write.
    #[derive(Debug, Clone, Copy)]
    pub enum C<'a> {
        S(&'a str),
        N(f64),
    }

    fn column_name(mut i: usize) -> String {
        let mut name = Vec::new();
        loop {
            name.push(b'A' + (i % 26) as u8);
            if i < 26 {
                break;
            }
            i = i / 26 - 1;
        }
        name.reverse();
        String::from_utf8(name).unwrap()
    }

    fn escape(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    }

    /// One worksheet holding `rows` (row `i` is sheet row `i + 1`; an empty slice is written as
    /// an empty `<row>` element).
    pub fn workbook(rows: &[&[C<'_>]]) -> Vec<u8> {
        let mut sheet = String::from(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#,
        );
        for (r, row) in rows.iter().enumerate() {
            let r = r + 1;
            sheet.push_str(&format!(r#"<row r="{r}">"#));
            for (c, cell) in row.iter().enumerate() {
                let at = format!("{}{r}", column_name(c));
                match cell {
                    C::S(s) => sheet.push_str(&format!(
                        r#"<c r="{at}" t="inlineStr"><is><t xml:space="preserve">{}</t></is></c>"#,
                        escape(s)
                    )),
                    C::N(n) => sheet.push_str(&format!(r#"<c r="{at}"><v>{n}</v></c>"#)),
                }
            }
            sheet.push_str("</row>");
        }
        sheet.push_str("</sheetData></worksheet>");
        package(&sheet)
    }

    /// A workbook package around the given worksheet XML.
    pub fn package(sheet_xml: &str) -> Vec<u8> {
        let parts: [(&str, &str); 5] = [
            (
                "[Content_Types].xml",
                r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#,
            ),
            (
                "_rels/.rels",
                r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#,
            ),
            (
                "xl/workbook.xml",
                r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Bình luận" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
            ),
            (
                "xl/_rels/workbook.xml.rels",
                r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#,
            ),
            ("xl/worksheets/sheet1.xml", sheet_xml),
        ];
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, body) in parts {
            zip.start_file(name, options).unwrap();
            zip.write_all(body.as_bytes()).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{C, package, workbook};
    use super::*;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn reads_vietnamese_comments_under_a_noi_dung_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "7400.comments.xlsx",
            &workbook(&[
                &[
                    C::S("STT"),
                    C::S(" Nội dung "),
                    C::S("Nickname"),
                    C::S("Likes"),
                ],
                &[
                    C::N(1.0),
                    C::S("Phở ngon quá 😋"),
                    C::S("bé_na"),
                    C::N(12.0),
                ],
                &[],
                &[C::N(2.0), C::N(12345.0), C::S("u2"), C::S("7")],
                &[C::N(3.0), C::S("   "), C::S("u3"), C::N(1.0)],
                &[C::N(4.0), C::N(2.5)],
                &[
                    C::N(5.0),
                    C::S("Lừa đảo <đừng> mua & tin"),
                    C::S(""),
                    C::N(-3.0),
                ],
            ]),
        );
        let got = read_comments_xlsx(&path).unwrap();
        let texts: Vec<&str> = got.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "Phở ngon quá 😋",
                "12345",
                "2.5",
                "Lừa đảo <đừng> mua & tin"
            ]
        );
        assert_eq!(got[0].author.as_deref(), Some("bé_na"));
        assert_eq!(got[0].likes, Some(12));
        assert_eq!(got[1].likes, Some(7));
        assert_eq!(got[2].author, None);
        assert_eq!(got[3].author, None);
        assert_eq!(got[3].likes, None);
    }

    #[test]
    fn header_names_match_in_any_case_and_normalisation() {
        // "BÌNH LUẬN" in decomposed (NFD) form, as some tools write it.
        let nfd: String = "BÌNH LUẬN".nfd().collect();
        let header = [C::S("Author"), C::S(&nfd), C::S("DIGG_COUNT")];
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "a.xlsx",
            &workbook(&[&header, &[C::S("an"), C::S("hay"), C::N(3.0)]]),
        );
        let got = read_comments_xlsx(&path).unwrap();
        assert_eq!(
            got,
            [Comment {
                text: "hay".into(),
                author: Some("an".into()),
                likes: Some(3),
            }]
        );
    }

    #[test]
    fn a_single_unnamed_column_is_the_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "a.xlsx",
            &workbook(&[&[], &[C::S("Ý kiến")], &[C::S("một")], &[C::S("hai")]]),
        );
        let got = read_comments_xlsx(&path).unwrap();
        let texts: Vec<&str> = got.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["một", "hai"]);
    }

    #[test]
    fn an_empty_sheet_has_no_comments() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "a.xlsx", &workbook(&[]));
        assert!(read_comments_xlsx(&path).unwrap().is_empty());
    }

    #[test]
    fn no_text_column_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "views.xlsx",
            &workbook(&[&[C::S("date"), C::S("views")], &[C::N(1.0), C::N(2.0)]]),
        );
        let err = read_comments_xlsx(&path).unwrap_err().to_string();
        assert!(err.contains("views.xlsx"), "{err}");
        assert!(err.contains("no comment text column"), "{err}");
    }

    #[test]
    fn rows_past_the_cap_are_not_read() {
        let texts: Vec<String> = (0..MAX_ROWS + 5).map(|i| format!("c{i}")).collect();
        let cells: Vec<[C<'_>; 1]> = texts.iter().map(|t| [C::S(t)]).collect();
        let mut rows: Vec<&[C<'_>]> = vec![&[C::S("text")]];
        rows.extend(cells.iter().map(|r| &r[..]));
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "big.xlsx", &workbook(&rows));
        let got = read_comments_xlsx(&path).unwrap();
        assert_eq!(got.len(), MAX_ROWS);
        assert_eq!(got.last().unwrap().text, format!("c{}", MAX_ROWS - 1));
    }

    #[test]
    fn a_corrupt_file_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        // Random-looking bytes, then a real package whose worksheet is cut short.
        let mut noise = Vec::new();
        let mut x: u32 = 0x9e37_79b9;
        for _ in 0..4096 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            noise.push(x as u8);
        }
        let random = write(dir.path(), "rác.comments.xlsx", &noise);
        let err = read_comments_xlsx(&random).unwrap_err().to_string();
        assert!(err.contains("rác.comments.xlsx"), "{err}");

        let cut = write(
            dir.path(),
            "cut.xlsx",
            &package(r#"<worksheet><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>text"#),
        );
        let err = read_comments_xlsx(&cut).unwrap_err().to_string();
        assert!(err.contains("cut.xlsx"), "{err}");
    }

    #[test]
    fn a_missing_file_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_comments_xlsx(&dir.path().join("gone.xlsx"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("gone.xlsx"), "{err}");
    }
}
