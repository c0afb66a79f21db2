//! A bounds-checked reader of the FlatBuffers binary layout, enough for TFLite's schema: tables
//! found through their vtables, scalars with defaults, strings, and vectors of scalars and of
//! tables. Every offset is checked against the buffer before it is followed, so a truncated or
//! corrupt file gives an error, never a panic or a read out of bounds. Vectors are read
//! element by element and are never longer than the buffer, so no loop runs longer than the
//! file is big.

/// What went wrong, in words; the schema reader adds where.
pub(super) type FbResult<T> = Result<T, String>;

fn read<const N: usize>(buf: &[u8], pos: usize) -> FbResult<[u8; N]> {
    pos.checked_add(N)
        .and_then(|end| buf.get(pos..end))
        .map(|s| s.try_into().expect("slice of length N"))
        .ok_or_else(|| {
            format!(
                "offset {pos} (+{N}) is past the end of the file ({} bytes)",
                buf.len()
            )
        })
}

fn u16_at(buf: &[u8], pos: usize) -> FbResult<u16> {
    read::<2>(buf, pos).map(u16::from_le_bytes)
}

fn u32_at(buf: &[u8], pos: usize) -> FbResult<u32> {
    read::<4>(buf, pos).map(u32::from_le_bytes)
}

/// The position an unsigned offset stored at `pos` points to.
fn follow(buf: &[u8], pos: usize) -> FbResult<usize> {
    let off = u32_at(buf, pos)? as usize;
    match pos.checked_add(off) {
        Some(to) if to < buf.len() => Ok(to),
        _ => Err(format!("offset at {pos} points past the end of the file")),
    }
}

/// A table: its position and its vtable.
#[derive(Debug, Clone, Copy)]
pub(super) struct Table<'a> {
    buf: &'a [u8],
    pos: usize,
    vtable: usize,
    vtable_len: usize,
}

/// The root table of a buffer.
pub(super) fn root(buf: &[u8]) -> FbResult<Table<'_>> {
    let pos = follow(buf, 0)?;
    Table::at(buf, pos)
}

impl<'a> Table<'a> {
    fn at(buf: &'a [u8], pos: usize) -> FbResult<Self> {
        let soff = i32::from_le_bytes(read::<4>(buf, pos)?) as i64;
        let vtable = pos as i64 - soff;
        if vtable < 0 || vtable as usize >= buf.len() {
            return Err(format!("table at {pos} has its vtable outside the file"));
        }
        let vtable = vtable as usize;
        let vtable_len = u16_at(buf, vtable)? as usize;
        if vtable_len < 4 || vtable + vtable_len > buf.len() {
            return Err(format!("table at {pos} has a broken vtable"));
        }
        Ok(Table {
            buf,
            pos,
            vtable,
            vtable_len,
        })
    }

    /// Where field `slot` (0-based, in schema order) is stored, if present.
    fn field(&self, slot: usize) -> FbResult<Option<usize>> {
        let entry = 4 + 2 * slot;
        if entry + 2 > self.vtable_len {
            return Ok(None);
        }
        match u16_at(self.buf, self.vtable + entry)? {
            0 => Ok(None),
            off => Ok(Some(self.pos + off as usize)),
        }
    }

    pub(super) fn u8(&self, slot: usize, default: u8) -> FbResult<u8> {
        match self.field(slot)? {
            Some(p) => read::<1>(self.buf, p).map(|b| b[0]),
            None => Ok(default),
        }
    }

    pub(super) fn bool(&self, slot: usize) -> FbResult<bool> {
        self.u8(slot, 0).map(|v| v != 0)
    }

    pub(super) fn i32(&self, slot: usize, default: i32) -> FbResult<i32> {
        match self.field(slot)? {
            Some(p) => read::<4>(self.buf, p).map(i32::from_le_bytes),
            None => Ok(default),
        }
    }

    pub(super) fn u32(&self, slot: usize, default: u32) -> FbResult<u32> {
        match self.field(slot)? {
            Some(p) => u32_at(self.buf, p),
            None => Ok(default),
        }
    }

    pub(super) fn u64(&self, slot: usize, default: u64) -> FbResult<u64> {
        match self.field(slot)? {
            Some(p) => read::<8>(self.buf, p).map(u64::from_le_bytes),
            None => Ok(default),
        }
    }

    /// The sub-table a field points to.
    pub(super) fn table(&self, slot: usize) -> FbResult<Option<Table<'a>>> {
        match self.field(slot)? {
            Some(p) => Table::at(self.buf, follow(self.buf, p)?).map(Some),
            None => Ok(None),
        }
    }

    /// A vector field's elements as raw bytes (`len · elem` of them).
    fn vector(&self, slot: usize, elem: usize) -> FbResult<Option<(&'a [u8], usize)>> {
        let Some(p) = self.field(slot)? else {
            return Ok(None);
        };
        let at = follow(self.buf, p)?;
        let len = u32_at(self.buf, at)? as usize;
        let start = at + 4;
        let bytes = len
            .checked_mul(elem)
            .and_then(|n| start.checked_add(n))
            .and_then(|end| self.buf.get(start..end))
            .ok_or_else(|| {
                format!("vector at {at} of {len} elements runs past the end of the file")
            })?;
        Ok(Some((bytes, len)))
    }

    /// A `[ubyte]` field.
    pub(super) fn bytes(&self, slot: usize) -> FbResult<Option<&'a [u8]>> {
        Ok(self.vector(slot, 1)?.map(|(b, _)| b))
    }

    /// A `[int]` field.
    pub(super) fn i32s(&self, slot: usize) -> FbResult<Option<Vec<i32>>> {
        Ok(self.vector(slot, 4)?.map(|(b, _)| {
            b.chunks_exact(4)
                .map(|c| i32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect()
        }))
    }

    /// A string field (invalid UTF-8 replaced).
    pub(super) fn string(&self, slot: usize) -> FbResult<Option<String>> {
        Ok(self
            .bytes(slot)?
            .map(|b| String::from_utf8_lossy(b).into_owned()))
    }

    /// A vector-of-tables field.
    pub(super) fn tables(&self, slot: usize) -> FbResult<Vec<Table<'a>>> {
        let Some((bytes, len)) = self.vector(slot, 4)? else {
            return Ok(Vec::new());
        };
        // Element i's offset is stored at (bytes' position + 4i) in the buffer.
        let base = bytes.as_ptr() as usize - self.buf.as_ptr() as usize;
        (0..len)
            .map(|i| Table::at(self.buf, follow(self.buf, base + 4 * i)?))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-laid buffer: root → table with a u32 field (slot 0), an absent slot 1 and a
    /// `[int]` vector (slot 2).
    fn sample() -> Vec<u8> {
        let mut t = vec![0u8; 40];
        t[0..4].copy_from_slice(&16u32.to_le_bytes()); // root → 16
        for (i, v) in [10u16, 12, 4, 0, 8].iter().enumerate() {
            t[4 + 2 * i..6 + 2 * i].copy_from_slice(&v.to_le_bytes());
        }
        t[16..20].copy_from_slice(&(12i32).to_le_bytes()); // vtable at 16 - 12 = 4
        t[20..24].copy_from_slice(&7u32.to_le_bytes()); // slot 0
        t[24..28].copy_from_slice(&4u32.to_le_bytes()); // slot 2 → vector at 28
        t[28..32].copy_from_slice(&2u32.to_le_bytes()); // len 2
        t[32..36].copy_from_slice(&(-3i32).to_le_bytes());
        t[36..40].copy_from_slice(&(5i32).to_le_bytes());
        t
    }

    #[test]
    fn reads_fields_defaults_and_vectors() {
        let buf = sample();
        let t = root(&buf).unwrap();
        assert_eq!(t.u32(0, 0).unwrap(), 7);
        assert_eq!(t.i32(1, 42).unwrap(), 42);
        assert_eq!(t.i32s(2).unwrap(), Some(vec![-3, 5]));
        assert_eq!(t.i32s(3).unwrap(), None);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let buf = sample();
        for cut in 0..buf.len() {
            let short = &buf[..cut];
            let got = root(short).and_then(|t| {
                t.u32(0, 0)?;
                t.i32s(2)
            });
            assert!(got.is_err(), "cut at {cut} read as {got:?}");
        }
    }
}
