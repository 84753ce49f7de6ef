//! JSON for the index manifest: MessagePack values to JSON text and back.
//!
//! Non-finite floats are written `NaN`, `Infinity` and `-Infinity` (as Python's `json`
//! module does) so that a metric's NaN survives a round trip. A float always carries a `.`
//! or an exponent, so it reads back as a float and an integer as an integer.

use std::fmt::Write as _;

use rmpv::Value as Mp;

/// Deepest nesting the parser accepts.
const MAX_DEPTH: usize = 512;

/// Append `v` as JSON to `out`.
pub fn write(v: &Mp, out: &mut String) {
    match v {
        Mp::Nil | Mp::Ext(..) => out.push_str("null"),
        Mp::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Mp::Integer(i) => match i.as_i64() {
            Some(x) => {
                let _ = write!(out, "{x}");
            }
            None => {
                let _ = write!(out, "{}", i.as_u64().unwrap_or(u64::MAX));
            }
        },
        Mp::F32(f) => write_f64(f64::from(*f), out),
        Mp::F64(f) => write_f64(*f, out),
        Mp::String(s) => write_str(&String::from_utf8_lossy(s.as_bytes()), out),
        Mp::Binary(b) => {
            out.push('[');
            for (i, x) in b.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{x}");
            }
            out.push(']');
        }
        Mp::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(x, out);
            }
            out.push(']');
        }
        Mp::Map(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                match k {
                    Mp::String(s) => write_str(&String::from_utf8_lossy(s.as_bytes()), out),
                    other => {
                        let mut key = String::new();
                        write(other, &mut key);
                        write_str(&key, out);
                    }
                }
                out.push(':');
                write(x, out);
            }
            out.push('}');
        }
    }
}

/// `v` as JSON text.
pub fn to_string(v: &Mp) -> String {
    let mut out = String::new();
    write(v, &mut out);
    out
}

fn write_f64(f: f64, out: &mut String) {
    if f.is_nan() {
        out.push_str("NaN");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        // Debug prints the shortest text that reads back to the same bits, always with a
        // `.` or an exponent.
        let _ = write!(out, "{f:?}");
    }
}

/// Append `s` as a JSON string literal.
pub fn write_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Parse JSON text (with the `NaN`/`Infinity` extension) into a MessagePack value.
pub fn parse(text: &str) -> Result<Mp, String> {
    let mut p = Parser {
        b: text.as_bytes(),
        pos: 0,
    };
    let v = p.value(0)?;
    p.ws();
    if p.pos != p.b.len() {
        return Err(p.err("trailing characters"));
    }
    Ok(v)
}

struct Parser<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn err(&self, what: &str) -> String {
        format!("{what} at byte {}", self.pos)
    }

    fn ws(&mut self) {
        while self
            .b
            .get(self.pos)
            .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.pos += 1;
        }
    }

    fn eat(&mut self, lit: &str) -> bool {
        if self.b[self.pos..].starts_with(lit.as_bytes()) {
            self.pos += lit.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Mp, String> {
        if depth > MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        self.ws();
        let Some(&c) = self.b.get(self.pos) else {
            return Err(self.err("unexpected end"));
        };
        match c {
            b'{' => {
                self.pos += 1;
                let mut entries = Vec::new();
                self.ws();
                if self.eat("}") {
                    return Ok(Mp::Map(entries));
                }
                loop {
                    self.ws();
                    if self.b.get(self.pos) != Some(&b'"') {
                        return Err(self.err("expected a string key"));
                    }
                    let k = self.string()?;
                    self.ws();
                    if !self.eat(":") {
                        return Err(self.err("expected ':'"));
                    }
                    let v = self.value(depth + 1)?;
                    entries.push((Mp::from(k), v));
                    self.ws();
                    if self.eat(",") {
                        continue;
                    }
                    if self.eat("}") {
                        return Ok(Mp::Map(entries));
                    }
                    return Err(self.err("expected ',' or '}'"));
                }
            }
            b'[' => {
                self.pos += 1;
                let mut items = Vec::new();
                self.ws();
                if self.eat("]") {
                    return Ok(Mp::Array(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    if self.eat(",") {
                        continue;
                    }
                    if self.eat("]") {
                        return Ok(Mp::Array(items));
                    }
                    return Err(self.err("expected ',' or ']'"));
                }
            }
            b'"' => Ok(Mp::from(self.string()?)),
            _ => {
                if self.eat("null") {
                    Ok(Mp::Nil)
                } else if self.eat("true") {
                    Ok(Mp::Boolean(true))
                } else if self.eat("false") {
                    Ok(Mp::Boolean(false))
                } else if self.eat("NaN") {
                    Ok(Mp::F64(f64::NAN))
                } else if self.eat("Infinity") {
                    Ok(Mp::F64(f64::INFINITY))
                } else if self.eat("-Infinity") {
                    Ok(Mp::F64(f64::NEG_INFINITY))
                } else {
                    self.number()
                }
            }
        }
    }

    fn number(&mut self) -> Result<Mp, String> {
        let start = self.pos;
        let mut float = false;
        while let Some(&c) = self.b.get(self.pos) {
            match c {
                b'0'..=b'9' | b'-' | b'+' => {}
                b'.' | b'e' | b'E' => float = true,
                _ => break,
            }
            self.pos += 1;
        }
        let text = std::str::from_utf8(&self.b[start..self.pos]).unwrap_or("");
        if text.is_empty() {
            return Err(self.err("unexpected character"));
        }
        if !float {
            if let Ok(i) = text.parse::<i64>() {
                return Ok(Mp::from(i));
            }
            if let Ok(u) = text.parse::<u64>() {
                return Ok(Mp::from(u));
            }
        }
        text.parse::<f64>()
            .map(Mp::F64)
            .map_err(|_| format!("bad number {text:?} at byte {start}"))
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self
            .b
            .get(self.pos..self.pos + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u32::from_str_radix(d, 16).ok())
            .ok_or_else(|| self.err("bad \\u escape"))?;
        self.pos += 4;
        Ok(digits)
    }

    fn string(&mut self) -> Result<String, String> {
        self.pos += 1; // the opening quote
        let mut out = String::new();
        loop {
            let start = self.pos;
            while self
                .b
                .get(self.pos)
                .is_some_and(|c| *c != b'"' && *c != b'\\')
            {
                self.pos += 1;
            }
            out.push_str(
                std::str::from_utf8(&self.b[start..self.pos])
                    .map_err(|_| self.err("invalid UTF-8"))?,
            );
            match self.b.get(self.pos) {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(_) => {
                    self.pos += 1;
                    let Some(&e) = self.b.get(self.pos) else {
                        return Err(self.err("unterminated escape"));
                    };
                    self.pos += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) && self.eat("\\u") {
                                let lo = self.hex4()?;
                                0x10000 + ((hi - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF)
                            } else {
                                hi
                            };
                            out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
                        }
                        _ => return Err(self.err("bad escape")),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_values() {
        let v = Mp::Map(vec![
            (Mp::from("a\"b\\c\n\u{1}é😀"), Mp::F64(f64::NAN)),
            (Mp::from("inf"), Mp::F64(f64::INFINITY)),
            (Mp::from("ninf"), Mp::F64(f64::NEG_INFINITY)),
            (Mp::from("f"), Mp::F64(1.0)),
            (Mp::from("tiny"), Mp::F64(1e-300)),
            (Mp::from("negzero"), Mp::F64(-0.0)),
            (Mp::from("i"), Mp::from(-3)),
            (Mp::from("u"), Mp::from(u64::MAX)),
            (
                Mp::from("arr"),
                Mp::Array(vec![Mp::Nil, Mp::Boolean(true), Mp::Boolean(false)]),
            ),
            (Mp::from("empty"), Mp::Map(vec![])),
        ]);
        let text = to_string(&v);
        let back = parse(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(to_string(&back), text);
        let Mp::Map(e) = &back else {
            panic!("not a map")
        };
        assert!(matches!(e[0].1, Mp::F64(x) if x.is_nan()));
        assert_eq!(e[3].1, Mp::F64(1.0));
        assert!(matches!(e[5].1, Mp::F64(x) if x == 0.0 && x.is_sign_negative()));
        assert_eq!(e[6].1, Mp::from(-3));
        assert_eq!(e[7].1, Mp::from(u64::MAX));
    }

    #[test]
    fn parses_standard_json() {
        let v = parse(r#" {"a": [1, 2.5e3, -4E-2], "b": "\u00e9\ud83d\ude00\/"} "#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(to_string(&v), r#"{"a":[1,2500.0,-0.04],"b":"é😀/"}"#);
        assert!(parse("{").is_err());
        assert!(parse("[1,]").is_err());
        assert!(parse("1 2").is_err());
    }
}
