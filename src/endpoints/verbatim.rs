//! CSV rows that the staged file holds as the data has them, so that the
//! write pass copies them instead of building and checking them again
//! (issue 17).
//!
//! The staged CSV lists its columns in its own order (fixed fields, then
//! attributes, metrics and user attributes), so a row of the data is
//! rarely a line of the staged file. But most rows are *verbatim*: each
//! value of the staged row is, byte for byte, one value of the data's row
//! (a quoted one with its quotes), but for numbers, which the staged file
//! writes in their shortest form (`47.0` is `47`).
//!
//! The check pass writes every row of the staged file anyway (into the
//! upload's hashes). For a plain row it first compares each value the
//! staged row would hold with the data's ([`holds`]): text must be the
//! same and need quotes just when the data has them, a number must be the
//! number the data's text reads as. When all are, it notes the row
//! ([`VerbatimRows`]) and writes it with [`write_row`], whose bytes are
//! then those the writer would have written; otherwise the writer writes
//! it. The write pass, which a run makes once per upload, copies a noted
//! row with [`write_row`] too (its numbers rewritten by the same two
//! functions as always, [`parse_number`] and [`write_number`]), with no
//! rule applied: the check pass found the row valid and its bytes right. A
//! row whose numbers the data already has in their shortest form, unquoted,
//! is noted as such ([`RowCopy::AsIs`]) and copied with its numbers, which
//! are then neither read nor written.
//!
//! Every value of a staged column is a function of which endpoint value the
//! column holds ([`CellId`]) and of nothing else, and the staged file's
//! columns are among those of the header the check pass wrote with. So a
//! row found verbatim there is verbatim in the staged file, whatever its
//! columns turn out to be.

use super::csv_cell::{quoted, quoted_without_special};
use super::draft::{CsvValue, LATITUDE, LONGITUDE, write_number};
use super::rules::parse_number;

/// Which endpoint value a CSV column holds: the same for a column of the
/// data's header and one of the staged file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CellId {
    /// A fixed field, by its index in [`super::model::Field::fixed`].
    Fixed(usize),
    /// Value `k` of a multi-valued attribute, by its index in the draft's list.
    Attribute(usize, usize),
    /// A metric, by its index in the draft's metrics.
    Metric(usize),
    /// Value `k` of a multi-valued user attribute, by its index in the draft's list.
    UserAttribute(usize, usize),
}

/// Where one value of a plain row is (see `csv_stream`'s `plain_row`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Span {
    /// Its first byte (after the opening quote, if quoted).
    pub start: usize,
    /// One past its last byte: the index of the closing quote, if quoted.
    pub end: usize,
    /// The value was in double quotes (with no quote inside).
    pub quoted: bool,
}

/// A plain row of the data, offered whole to a sink before it is built.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawRow<'r, 'a> {
    /// The data (without a BOM).
    pub text: &'a str,
    /// One span per column of the header, as `plain_row` finds them: an
    /// unquoted value has no `,` `"` CR or LF, a quoted one no `"`.
    pub spans: &'r [Span],
}

impl CellId {
    /// The staged file writes this value as a number (a metric, latitude or
    /// longitude), in its shortest form.
    fn is_number(self) -> bool {
        matches!(
            self,
            CellId::Metric(_) | CellId::Fixed(LATITUDE | LONGITUDE)
        )
    }
}

impl<'a> RawRow<'_, 'a> {
    /// The value of header column `column`, without quotes.
    #[inline]
    pub fn value(&self, column: usize) -> Option<&'a str> {
        let span = self.spans.get(column)?;
        self.text.get(span.start..span.end)
    }

    /// Whether `text` is the value at `span`: borrowed from there (most
    /// are, and need no bytes compared), or the same bytes.
    #[inline]
    fn has(&self, span: &Span, text: &str) -> bool {
        let here = (self.text.as_ptr() as usize).wrapping_add(span.start);
        (text.as_ptr() as usize == here && text.len() == span.end.wrapping_sub(span.start))
            || self.text.get(span.start..span.end) == Some(text)
    }

    /// The bytes of header columns `first` to `last` as the data has them:
    /// their values (quoted ones with their quotes) and the commas between.
    #[inline]
    fn cells(&self, first: usize, last: usize) -> Option<&'a [u8]> {
        let (from, to) = (self.spans.get(first)?, self.spans.get(last)?);
        let start = from.start.checked_sub(usize::from(from.quoted))?;
        let end = to.end + usize::from(to.quoted);
        self.text.as_bytes().get(start..end)
    }
}

/// What a sink does with a plain row offered whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Offered {
    /// Build its endpoint as usual.
    Build,
    /// The sink wrote it: go on with the next row.
    Copied,
    /// The sink wrote it and cannot take more: stop the pass.
    Stop,
}

/// Where the value of one staged column comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Source {
    /// The header column that holds it.
    pub column: usize,
    /// It is a number (see [`CellId::is_number`]).
    pub number: bool,
}

/// Whether `value`, the endpoint's value of a staged column taken from
/// `source`, is written as [`write_row`] writes that column of `row`: no
/// value where the data has none, the same text (quoted just when the data
/// quotes it, which it does with no quote inside), or for a number, the
/// number its text reads as.
#[inline]
pub(crate) fn holds(row: &RawRow<'_, '_>, source: Source, value: Option<CsvValue<'_>>) -> bool {
    let Some(span) = row.spans.get(source.column) else {
        return false;
    };
    match value {
        None => span.end == span.start && (source.number || !span.quoted),
        Some(CsvValue::Text(text)) => {
            // The bytes are the data's: an unquoted value of a plain row has
            // nothing the writer quotes for, but for being blank.
            let writer_quotes = || match span.quoted {
                true => quoted(text),
                false => quoted_without_special(text),
            };
            !source.number && row.has(span, text) && writer_quotes() == span.quoted
        }
        Some(CsvValue::Number(x)) => {
            source.number
                && row
                    .value(source.column)
                    .and_then(parse_number)
                    .is_some_and(|y| y.to_bits() == x.to_bits())
        }
    }
}

/// The source of each staged column's value, in the staged order: `None`
/// when one is not in the header (then no row is verbatim).
pub(crate) fn sources(staged: &[CellId], header: &[Option<CellId>]) -> Option<Vec<Source>> {
    staged
        .iter()
        .map(|id| {
            let column = header.iter().position(|h| *h == Some(*id))?;
            Some(Source {
                column,
                number: id.is_number(),
            })
        })
        .collect()
}

/// One step of writing a verbatim row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Header columns `first` to `last`, side by side in the staged file
    /// too: copied at once, with the commas between them.
    Copy {
        /// The first header column.
        first: usize,
        /// The last.
        last: usize,
    },
    /// A number, from this header column.
    Number(usize),
}

/// How a verbatim row is written (again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowCopy {
    /// Its values copied, its numbers rewritten in their shortest form
    /// ([`Piece::Number`]).
    NumbersRewritten,
    /// Its numbers are in their shortest form already, unquoted: every
    /// value is copied as the data has it, numbers too.
    AsIs,
}

/// The pieces that write a verbatim row from `sources`, copied as `how`
/// says.
pub(crate) fn pieces(sources: &[Source], how: RowCopy) -> Vec<Piece> {
    let mut pieces: Vec<Piece> = Vec::new();
    for source in sources {
        match pieces.last_mut() {
            _ if source.number && how == RowCopy::NumbersRewritten => {
                pieces.push(Piece::Number(source.column));
            }
            Some(Piece::Copy { last, .. }) if *last + 1 == source.column => *last = source.column,
            _ => pieces.push(Piece::Copy {
                first: source.column,
                last: source.column,
            }),
        }
    }
    pieces
}

/// The pieces of a verbatim row both ways it is copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RowPieces {
    numbers_rewritten: Vec<Piece>,
    as_is: Vec<Piece>,
}

impl RowPieces {
    /// The pieces that write a verbatim row from `sources`, each way.
    pub fn new(sources: &[Source]) -> Self {
        RowPieces {
            numbers_rewritten: pieces(sources, RowCopy::NumbersRewritten),
            as_is: pieces(sources, RowCopy::AsIs),
        }
    }

    /// Those that copy a row as `how` says.
    pub fn get(&self, how: RowCopy) -> &[Piece] {
        match how {
            RowCopy::NumbersRewritten => &self.numbers_rewritten,
            RowCopy::AsIs => &self.as_is,
        }
    }
}

/// Writes `row` as one line of CSV by its `pieces` (`number`: room for a
/// number's text), each number as `read` reads the data's text of it
/// ([`parse_number`], or the numbers [`holds`] found, in order). Then how
/// the row can be copied again: [`RowCopy::AsIs`] when each number it wrote
/// is the data's unquoted text and no number column is quoted (not even
/// `""`, which writes nothing). `None`, with nothing written, if a number
/// does not read (then the row must be built).
#[inline]
pub(crate) fn write_row(
    buf: &mut Vec<u8>,
    row: &RawRow<'_, '_>,
    pieces: &[Piece],
    number: &mut String,
    mut read: impl FnMut(&str) -> Option<f64>,
) -> Option<RowCopy> {
    let start = buf.len();
    let mut how = RowCopy::AsIs;
    for (k, piece) in pieces.iter().enumerate() {
        if k > 0 {
            buf.push(b',');
        }
        let column = match *piece {
            Piece::Copy { first, last } => {
                buf.extend_from_slice(row.cells(first, last).unwrap_or_default());
                continue;
            }
            Piece::Number(column) => column,
        };
        // The copy of a quoted one (even `""`, which writes nothing) would
        // have its quotes.
        if row.spans.get(column).is_none_or(|s| s.quoted) {
            how = RowCopy::NumbersRewritten;
        }
        let value = row.value(column).unwrap_or_default();
        if value.is_empty() {
            continue;
        }
        let Some(x) = read(value) else {
            buf.truncate(start);
            return None;
        };
        number.clear();
        write_number(number, x);
        // A number never needs quotes (see `csv_cell`'s tests).
        buf.extend_from_slice(number.as_bytes());
        if number.as_str() != value {
            how = RowCopy::NumbersRewritten;
        }
    }
    buf.push(b'\n');
    Some(how)
}

/// The records (counted from 1, as [`super::rules::Origin::record`]) whose
/// staged row is verbatim, and how each is copied: two bits each, so at most
/// one byte per four rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct VerbatimRows {
    /// The verbatim records.
    verbatim: Bits,
    /// Those of them copied [`RowCopy::AsIs`].
    as_is: Bits,
}

/// A set of records, one bit each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Bits(Vec<u64>);

impl Bits {
    fn insert(&mut self, record: u64) {
        let Some(bit) = record.checked_sub(1) else {
            return;
        };
        let Ok(word) = usize::try_from(bit / 64) else {
            return;
        };
        if self.0.len() <= word {
            self.0.resize(word + 1, 0);
        }
        if let Some(w) = self.0.get_mut(word) {
            *w |= 1 << (bit % 64);
        }
    }

    #[inline]
    fn contains(&self, record: u64) -> bool {
        let Some(bit) = record.checked_sub(1) else {
            return false;
        };
        usize::try_from(bit / 64)
            .ok()
            .and_then(|word| self.0.get(word))
            .is_some_and(|w| w & (1 << (bit % 64)) != 0)
    }
}

impl VerbatimRows {
    /// Notes `record` as verbatim, to be copied as `how` says.
    pub fn insert(&mut self, record: u64, how: RowCopy) {
        self.verbatim.insert(record);
        if how == RowCopy::AsIs {
            self.as_is.insert(record);
        }
    }

    /// How `record` is copied, if it was noted.
    #[inline]
    pub fn get(&self, record: u64) -> Option<RowCopy> {
        if !self.verbatim.contains(record) {
            None
        } else if self.as_is.contains(record) {
            Some(RowCopy::AsIs)
        } else {
            Some(RowCopy::NumbersRewritten)
        }
    }

    /// Whether no record was noted.
    pub fn is_empty(&self) -> bool {
        // A word is added only to note a record.
        self.verbatim.0.is_empty()
    }

    /// How many records were noted, and how many of them as they are.
    #[cfg(test)]
    pub fn count(&self) -> (u64, u64) {
        let ones = |b: &Bits| b.0.iter().map(|w| u64::from(w.count_ones())).sum();
        (ones(&self.verbatim), ones(&self.as_is))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_noted_with_how_each_is_copied() {
        let mut rows = VerbatimRows::default();
        for r in [1, 2, 64, 65, 1000] {
            let how = match r % 2 {
                0 => RowCopy::AsIs,
                _ => RowCopy::NumbersRewritten,
            };
            rows.insert(r, how);
        }
        rows.insert(0, RowCopy::AsIs);
        let noted: Vec<(u64, RowCopy)> = (0..1100)
            .filter_map(|r| rows.get(r).map(|how| (r, how)))
            .collect();
        let (rewritten, as_is) = (RowCopy::NumbersRewritten, RowCopy::AsIs);
        assert_eq!(
            noted,
            [
                (1, rewritten),
                (2, as_is),
                (64, as_is),
                (65, rewritten),
                (1000, as_is)
            ]
        );
        assert_eq!(rows.count(), (5, 3));
        assert_eq!(rows.verbatim.0.len(), 16);
    }

    #[test]
    fn a_row_is_written_in_the_staged_order_with_its_quotes() {
        let text = "a,\"b,c\",,d\n";
        let spans = [
            Span {
                start: 0,
                end: 1,
                quoted: false,
            },
            Span {
                start: 3,
                end: 6,
                quoted: true,
            },
            Span {
                start: 8,
                end: 8,
                quoted: false,
            },
            Span {
                start: 9,
                end: 10,
                quoted: false,
            },
        ];
        let row = RawRow {
            text,
            spans: &spans,
        };
        let copy = |column| Source {
            column,
            number: false,
        };
        let mut buf = Vec::new();
        let mut number = String::new();
        let sources = [copy(3), copy(1), copy(2), copy(0)];
        let split = pieces(&sources, RowCopy::NumbersRewritten);
        assert_eq!(
            split,
            [
                Piece::Copy { first: 3, last: 3 },
                Piece::Copy { first: 1, last: 2 },
                Piece::Copy { first: 0, last: 0 }
            ]
        );
        let how = write_row(&mut buf, &row, &split, &mut number, parse_number);
        assert_eq!(how, Some(RowCopy::AsIs));
        assert_eq!(buf, b"d,\"b,c\",,a\n");
        let all = pieces(&[copy(0), copy(1), copy(2), copy(3)], RowCopy::AsIs);
        assert_eq!(all, [Piece::Copy { first: 0, last: 3 }]);
        buf.clear();
        let how = write_row(&mut buf, &row, &all, &mut number, parse_number);
        assert_eq!(how, Some(RowCopy::AsIs));
        assert_eq!(buf, text.as_bytes());
    }

    #[test]
    fn numbers_are_written_in_their_shortest_form_or_the_row_is_built() {
        let text = "47.0,\"1.50\",,x,47,\"\",1.5,\"2\"";
        let span = |start, end, quoted| Span { start, end, quoted };
        let spans = [
            span(0, 4, false),
            span(6, 10, true),
            span(12, 12, false),
            span(13, 14, false),
            span(15, 17, false),
            span(19, 19, true),
            span(21, 24, false),
            span(26, 27, true),
        ];
        let row = RawRow {
            text,
            spans: &spans,
        };
        let number = |column| Source {
            column,
            number: true,
        };
        let mut buf = b"kept\n".to_vec();
        let mut room = String::new();
        let mut write = |buf: &mut Vec<u8>, columns: &[usize], how| {
            let sources: Vec<Source> = columns.iter().map(|c| number(*c)).collect();
            write_row(buf, &row, &pieces(&sources, how), &mut room, parse_number)
        };
        let (rewritten, as_is) = (RowCopy::NumbersRewritten, RowCopy::AsIs);
        assert_eq!(
            pieces(&[number(0), number(1), number(2)], rewritten),
            [Piece::Number(0), Piece::Number(1), Piece::Number(2)]
        );
        // Another form, or quotes: rewritten.
        assert_eq!(write(&mut buf, &[0, 1, 2], rewritten), Some(rewritten));
        assert_eq!(buf, b"kept\n47,1.5,\n");
        for columns in [&[4, 5][..], &[7]] {
            buf.clear();
            assert_eq!(write(&mut buf, columns, rewritten), Some(rewritten));
        }
        // In their shortest form, unquoted: the copy as it is writes the same.
        buf.clear();
        assert_eq!(write(&mut buf, &[4, 6, 2], rewritten), Some(as_is));
        assert_eq!(buf, b"47,1.5,\n");
        assert_eq!(
            pieces(&[number(4), number(6), number(2)], as_is),
            [
                Piece::Copy { first: 4, last: 4 },
                Piece::Copy { first: 6, last: 6 },
                Piece::Copy { first: 2, last: 2 }
            ]
        );
        assert_eq!(write(&mut buf, &[4, 6, 2], as_is), Some(as_is));
        assert_eq!(buf, b"47,1.5,\n47,1.5,\n");
        // Text that is no number: nothing written.
        assert_eq!(write(&mut buf, &[0, 3], rewritten), None);
        assert_eq!(buf, b"47,1.5,\n47,1.5,\n");
    }

    #[test]
    fn a_value_holds_when_the_copy_writes_it_as_the_writer_would() {
        // a | "b, c" | (empty) | "" | 1.50 | " "
        let text = "a,\"b, c\",,\"\",1.50, ";
        let span = |start, end, quoted| Span { start, end, quoted };
        let spans = [
            span(0, 1, false),
            span(3, 7, true),
            span(9, 9, false),
            span(11, 11, true),
            span(13, 17, false),
            span(18, 19, false),
        ];
        let row = RawRow {
            text,
            spans: &spans,
        };
        let text_at = |column| Source {
            column,
            number: false,
        };
        let number_at = |column| Source {
            column,
            number: true,
        };
        let t = |s| Some(CsvValue::Text(s));
        assert!(holds(&row, text_at(0), t("a")));
        assert!(!holds(&row, text_at(0), t("A")));
        assert!(!holds(&row, text_at(0), None));
        // Quoted in the data and by the writer; quoted for nothing is not the same.
        assert!(holds(&row, text_at(1), t("b, c")));
        // Nothing either way; but `""` in the data is two bytes the writer does not write.
        assert!(holds(&row, text_at(2), None));
        assert!(holds(&row, text_at(2), t("")));
        assert!(!holds(&row, text_at(3), None));
        assert!(!holds(&row, text_at(3), t("")));
        // A blank value is quoted by the writer, not in the data.
        assert!(!holds(&row, text_at(5), t(" ")));
        // A number is the number its text reads as; never text.
        assert!(holds(&row, number_at(4), Some(CsvValue::Number(1.5))));
        assert!(!holds(&row, number_at(4), Some(CsvValue::Number(1.25))));
        assert!(!holds(&row, text_at(4), Some(CsvValue::Number(1.5))));
        assert!(!holds(&row, number_at(4), t("1.50")));
        assert!(holds(&row, number_at(2), None));
        assert!(holds(&row, number_at(3), None));
        assert!(!holds(&row, text_at(9), None));
    }

    #[test]
    fn sources_are_found_by_what_each_column_holds() {
        let header = [
            Some(CellId::Fixed(1)),
            Some(CellId::Attribute(0, 0)),
            None,
            Some(CellId::Fixed(0)),
            Some(CellId::Attribute(0, 1)),
        ];
        let staged = [
            CellId::Fixed(0),
            CellId::Fixed(1),
            CellId::Attribute(0, 0),
            CellId::Attribute(0, 1),
        ];
        let columns = sources(&staged, &header).map(|s| s.iter().map(|s| s.column).collect());
        assert_eq!(columns, Some(vec![3, 0, 1, 4]));
        assert_eq!(sources(&[CellId::Metric(0)], &header), None);
    }
}
