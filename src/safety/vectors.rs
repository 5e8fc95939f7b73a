//! Static word-piece vectors: a table distilled from a sentence encoder (all-MiniLM-L6-v2, by
//! `tools/screen-model/distill.py`), and the WordPiece split that finds a word's pieces in it. A
//! text's vector is the mean of its pieces' rows, so words the corpus never used still land near
//! their synonyms. Pure: parses bytes it is given, never panics on them. The rows are read in
//! place from those bytes (for the shipped table, the binary's own pages, of which only the
//! rows of words people actually write are ever touched) rather than copied to the heap.

use std::borrow::Cow;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

/// The file's first bytes.
const MAGIC: &[u8; 8] = b"KSWVEC01";
/// Words longer than this are not split (as BERT's tokenizer does): they have no vector.
const MAX_WORD_CHARS: usize = 100;

/// The hash of a piece's text in the index of pieces (fixed keys: the table is built once from
/// the file, and only looked up afterwards).
fn hash_of(piece: &[u8]) -> u64 {
    BuildHasherDefault::<DefaultHasher>::default().hash_one(piece)
}

/// The text of piece `id`, read from the file's bytes (empty if `id` is unknown, which the
/// index never holds).
fn piece_bytes<'a>(bytes: &'a [u8], piece_at: &[u32], id: u32) -> &'a [u8] {
    let Some(&at) = piece_at.get(id as usize) else {
        return &[];
    };
    let at = at as usize;
    let len = bytes.get(at).copied().unwrap_or(0) as usize;
    bytes.get(at + 1..at + 1 + len).unwrap_or(&[])
}

/// The table: each piece's row, quantised to bytes with a scale per row.
pub struct WordVectors {
    dims: usize,
    count: usize,
    /// Each piece's id, found by the piece's text, which stays in `bytes` (at `piece_at[id]`):
    /// an index of a few hundred kilobytes instead of a map holding a copy of every piece
    /// (about 1 MB more of the heap for the shipped table's 29,525 pieces).
    pieces: HashTable<u32>,
    /// Where each piece's length byte is in `bytes`, by id.
    piece_at: Vec<u32>,
    /// The whole file; row `id` (its scale, then `dims` bytes) starts at `rows_at + id * (4 +
    /// dims)`.
    bytes: Cow<'static, [u8]>,
    rows_at: usize,
}

impl std::fmt::Debug for WordVectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WordVectors({} pieces x {})", self.count, self.dims)
    }
}

/// Why a vector file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the word-vector table is damaged: {0}")]
pub struct VectorsError(&'static str);

impl WordVectors {
    /// Reads the table written by the distillation script, keeping a copy of its rows.
    pub fn parse(bytes: &[u8]) -> Result<WordVectors, VectorsError> {
        WordVectors::parse_kept(Cow::Owned(bytes.to_vec()))
    }

    /// Reads a table that lives as long as the program (one built into the binary), reading
    /// its rows in place.
    pub fn parse_static(bytes: &'static [u8]) -> Result<WordVectors, VectorsError> {
        WordVectors::parse_kept(Cow::Borrowed(bytes))
    }

    fn parse_kept(kept: Cow<'static, [u8]>) -> Result<WordVectors, VectorsError> {
        let bytes: &[u8] = &kept;
        let mut reader = Reader { bytes, at: 0 };
        if reader.take(MAGIC.len())? != MAGIC {
            return Err(VectorsError("it does not start with KSWVEC01"));
        }
        let count = reader.u32()? as usize;
        let dims = reader.u32()? as usize;
        if dims == 0 || dims > 4096 || count > 1_000_000 {
            return Err(VectorsError("its sizes are out of range"));
        }
        let mut pieces = HashTable::with_capacity(count);
        let mut piece_at = Vec::with_capacity(count);
        for id in 0..count {
            let at = reader.at;
            let len = reader.take(1)?[0] as usize;
            let piece = std::str::from_utf8(reader.take(len)?)
                .map_err(|_| VectorsError("a piece is not UTF-8"))?;
            let at = u32::try_from(at).map_err(|_| VectorsError("its sizes are out of range"))?;
            piece_at.push(at);
            // A piece listed twice takes its last row, as it did in a map.
            match pieces.entry(
                hash_of(piece.as_bytes()),
                |&other| piece_bytes(bytes, &piece_at, other) == piece.as_bytes(),
                |&other| hash_of(piece_bytes(bytes, &piece_at, other)),
            ) {
                Entry::Occupied(mut known) => *known.get_mut() = id as u32,
                Entry::Vacant(new) => {
                    new.insert(id as u32);
                }
            }
        }
        let rows_at = reader.at;
        let expected = count
            .checked_mul(4 + dims)
            .and_then(|size| size.checked_add(rows_at));
        match expected {
            Some(end) if end > bytes.len() => return Err(VectorsError("a row is cut short")),
            Some(end) if end == bytes.len() => {}
            _ => return Err(VectorsError("it has bytes after the last row")),
        }
        Ok(WordVectors {
            dims,
            count,
            pieces,
            piece_at,
            bytes: kept,
            rows_at,
        })
    }

    /// The id of the piece written `key`.
    fn id_of(&self, key: &str) -> Option<u32> {
        let key = key.as_bytes();
        self.pieces
            .find(hash_of(key), |&id| self.piece(id) == key)
            .copied()
    }

    /// The text of piece `id`.
    fn piece(&self, id: u32) -> &[u8] {
        piece_bytes(&self.bytes, &self.piece_at, id)
    }

    /// How many pieces the table has.
    pub fn piece_count(&self) -> usize {
        self.count
    }

    /// The row of every piece of every word in `words` (already normalised), in order.
    pub fn piece_rows(&self, words: &str) -> Vec<u32> {
        let mut rows = Vec::new();
        for word in words.split(' ').filter(|word| !word.is_empty()) {
            self.split(word, &mut rows);
        }
        rows
    }

    /// The table's file with its rows stored in `order` (every row once; `None` otherwise):
    /// the same pieces with the same vectors, so that rows read together can sit together.
    pub fn to_bytes_in_order(&self, order: &[u32]) -> Option<Vec<u8>> {
        let mut seen = vec![false; self.count];
        for &row in order {
            let slot = seen.get_mut(row as usize)?;
            if std::mem::replace(slot, true) {
                return None;
            }
        }
        if order.len() != self.count {
            return None;
        }
        let mut out = MAGIC.to_vec();
        out.extend((self.count as u32).to_le_bytes());
        out.extend((self.dims as u32).to_le_bytes());
        for &row in order {
            let name = self.piece(row);
            out.push(u8::try_from(name.len()).ok()?);
            out.extend_from_slice(name);
        }
        let width = 4 + self.dims;
        for &row in order {
            let start = self.rows_at + row as usize * width;
            out.extend_from_slice(self.bytes.get(start..start + width)?);
        }
        Some(out)
    }

    /// How many numbers a vector has.
    pub(crate) fn dims(&self) -> usize {
        self.dims
    }

    /// [`WordVectors::embed_pieces`] of `words` (already lower case, separated by spaces).
    #[cfg(test)]
    pub(crate) fn embed(&self, words: &str) -> Vec<f32> {
        let pieces: Vec<Vec<u32>> = words
            .split(' ')
            .filter(|word| !word.is_empty())
            .map(|word| self.pieces_of(word))
            .collect();
        self.embed_pieces(pieces.iter().map(Vec::as_slice))
    }

    /// The pieces of one word (none for a word no pieces cover).
    pub(crate) fn pieces_of(&self, word: &str) -> Vec<u32> {
        let mut pieces = Vec::new();
        self.split(word, &mut pieces);
        pieces
    }

    /// The mean of the rows of every piece of every word (each word's pieces from
    /// [`WordVectors::pieces_of`], in turn), scaled to length 1; all zeros when no word has
    /// pieces.
    pub(crate) fn embed_pieces<'p>(&self, words: impl Iterator<Item = &'p [u32]>) -> Vec<f32> {
        let mut sum = vec![0f32; self.dims];
        for pieces in words {
            for &id in pieces {
                let start = self.rows_at + id as usize * (4 + self.dims);
                let (scale, row) = self.bytes[start..start + 4 + self.dims].split_at(4);
                let scale = f32::from_le_bytes(scale.try_into().expect("four bytes"));
                for (total, &value) in sum.iter_mut().zip(row) {
                    // Each byte is a signed number.
                    *total += f32::from(value as i8) * scale;
                }
            }
        }
        let norm = sum.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            sum.iter_mut().for_each(|x| *x /= norm);
        }
        sum
    }

    /// WordPiece: the longest known piece from the start, then the longest `##` piece from
    /// there, and so on. A word with a part no piece covers has no pieces at all (BERT's
    /// `[UNK]`, which the static model skips).
    fn split(&self, word: &str, out: &mut Vec<u32>) {
        let chars: Vec<(usize, char)> = word.char_indices().collect();
        if chars.len() > MAX_WORD_CHARS {
            return;
        }
        let first = out.len();
        let mut key = String::with_capacity(word.len() + 2);
        let mut start = 0;
        while start < chars.len() {
            let mut end = chars.len();
            let mut found = None;
            while end > start {
                key.clear();
                if start > 0 {
                    key.push_str("##");
                }
                let from = chars[start].0;
                let to = chars.get(end).map_or(word.len(), |&(at, _)| at);
                key.push_str(&word[from..to]);
                if let Some(id) = self.id_of(&key) {
                    found = Some(id);
                    break;
                }
                end -= 1;
            }
            match found {
                Some(id) => out.push(id),
                None => {
                    out.truncate(first);
                    return;
                }
            }
            start = end;
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], VectorsError> {
        let end = self
            .at
            .checked_add(len)
            .filter(|&end| end <= self.bytes.len())
            .ok_or(VectorsError("it ends too soon"))?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    fn u32(&mut self) -> Result<u32, VectorsError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("four bytes"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table of three pieces in two dimensions.
    fn tiny() -> WordVectors {
        let mut bytes = MAGIC.to_vec();
        bytes.extend(3u32.to_le_bytes());
        bytes.extend(2u32.to_le_bytes());
        for piece in ["pill", "##s", "sad"] {
            bytes.push(piece.len() as u8);
            bytes.extend(piece.as_bytes());
        }
        for row in [[127i8, 0], [0, 127], [-127, 0]] {
            bytes.extend((1.0f32 / 127.0).to_le_bytes());
            bytes.extend(row.iter().map(|&v| v as u8));
        }
        WordVectors::parse(&bytes).unwrap()
    }

    #[test]
    fn every_shipped_piece_is_found_by_its_own_text_and_a_piece_listed_twice_by_its_last() {
        let shipped =
            WordVectors::parse_static(crate::safety::classifier::SHIPPED_VECTORS).unwrap();
        for id in 0..shipped.piece_count() as u32 {
            let text = std::str::from_utf8(shipped.piece(id)).unwrap();
            assert_eq!(shipped.id_of(text), Some(id), "{text}");
        }
        assert_eq!(shipped.id_of("##no-such-piece"), None);

        let mut bytes = MAGIC.to_vec();
        bytes.extend(2u32.to_le_bytes());
        bytes.extend(1u32.to_le_bytes());
        for piece in ["sad", "sad"] {
            bytes.push(piece.len() as u8);
            bytes.extend(piece.as_bytes());
        }
        for value in [1u8, 2] {
            bytes.extend(1.0f32.to_le_bytes());
            bytes.push(value);
        }
        assert_eq!(WordVectors::parse(&bytes).unwrap().id_of("sad"), Some(1));
    }

    #[test]
    fn words_split_into_the_longest_pieces() {
        let vectors = tiny();
        let mut pieces = Vec::new();
        vectors.split("pills", &mut pieces);
        assert_eq!(pieces, [0, 1]);
        pieces.clear();
        vectors.split("pillx", &mut pieces);
        assert!(pieces.is_empty(), "a part no piece covers drops the word");
    }

    #[test]
    fn a_text_is_the_normalised_mean_of_its_pieces() {
        let vectors = tiny();
        let v = vectors.embed("pills");
        assert!((v[0] - v[1]).abs() < 1e-6 && (v[0] - 0.70710677).abs() < 1e-5);
        assert_eq!(vectors.embed("nothing known"), [0.0, 0.0]);
    }

    #[test]
    fn rows_stored_in_another_order_keep_every_piece_and_its_vector() {
        let table = tiny();
        let rows = table.piece_rows("pills sad");
        assert_eq!(rows, [0, 1, 2]);
        let order: Vec<u32> = (0..table.piece_count() as u32).rev().collect();
        let reordered = WordVectors::parse(&table.to_bytes_in_order(&order).unwrap()).unwrap();
        for words in ["pills sad", "pill", "sad pills", "unknown"] {
            assert_eq!(reordered.embed(words), table.embed(words), "{words}");
        }
        let last = table.piece_count() as u32 - 1;
        assert_eq!(
            reordered.piece_rows("pills sad"),
            rows.iter().map(|row| last - row).collect::<Vec<_>>()
        );
        assert!(
            table.to_bytes_in_order(&order[1..]).is_none(),
            "a row left out"
        );
        let mut twice = order.clone();
        twice[0] = twice[1];
        assert!(table.to_bytes_in_order(&twice).is_none(), "a row twice");
    }

    #[test]
    fn damaged_tables_are_refused() {
        assert!(WordVectors::parse(b"KSWVEC01").is_err());
        assert!(WordVectors::parse(b"nonsense").is_err());
        let mut bytes = MAGIC.to_vec();
        bytes.extend(1u32.to_le_bytes());
        bytes.extend(2u32.to_le_bytes());
        bytes.extend([1, b'a', 0, 0, 0, 0, 1]);
        assert!(WordVectors::parse(&bytes).is_err(), "a row cut short");
    }
}
