//! Masking of names and identity numbers for display on a code face.
//!
//! A code is shown to guards and cameras; it carries only enough to match the
//! holder to their document, never the full name or number.

/// Masks a personal name.
///
/// Chinese names keep the first character (and the last, for three or more):
/// `张三` → `张*`, `欧阳娜娜` → `欧**娜`. Names in Latin script keep the first
/// letter of each word: `John Smith` → `J*** S****`.
pub fn mask_name(name: &str) -> String {
    let name = name.trim();
    if name.chars().any(|c| c.is_whitespace()) {
        return name
            .split_whitespace()
            .map(mask_word_keep_first)
            .collect::<Vec<_>>()
            .join(" ");
    }
    let chars: Vec<char> = name.chars().collect();
    match chars.len() {
        0 => String::new(),
        1 => "*".to_owned(),
        2 => format!("{}*", chars[0]),
        n if chars.iter().all(|c| c.is_ascii_alphabetic()) => {
            let mut s = String::with_capacity(n);
            s.push(chars[0]);
            s.extend(std::iter::repeat_n('*', n - 1));
            s
        }
        n => {
            let mut s = String::with_capacity(n * 3);
            s.push(chars[0]);
            s.extend(std::iter::repeat_n('*', n - 2));
            s.push(chars[n - 1]);
            s
        }
    }
}

fn mask_word_keep_first(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        None => String::new(),
        Some(first) => {
            let mut s = String::with_capacity(word.len());
            s.push(first);
            s.extend(chars.map(|_| '*'));
            s
        }
    }
}

/// Masks an identity document number.
///
/// An 18-character resident ID keeps its first four characters (province and
/// city) and last four: `220102199003071234` → `2201**********1234`. Shorter
/// numbers (passports, permits) keep the first character and last three.
pub fn mask_id(id: &str) -> String {
    let chars: Vec<char> = id.trim().chars().collect();
    let n = chars.len();
    let (head, tail) = match n {
        0 => return String::new(),
        1..=4 => return "*".repeat(n),
        5..=12 => (1, 3),
        _ => (4, 4),
    };
    let mut s = String::with_capacity(n);
    s.extend(&chars[..head]);
    s.extend(std::iter::repeat_n('*', n - head - tail));
    s.extend(&chars[n - tail..]);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_names() {
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("李小龙"), "李*龙");
        assert_eq!(mask_name("欧阳娜娜"), "欧**娜");
        assert_eq!(mask_name("王"), "*");
        assert_eq!(mask_name(""), "");
    }

    #[test]
    fn latin_names() {
        assert_eq!(mask_name("John Smith"), "J*** S****");
        assert_eq!(mask_name("Smith"), "S****");
    }

    #[test]
    fn ids() {
        assert_eq!(mask_id("220102199003071234"), "2201**********1234");
        assert_eq!(mask_id("E12345678"), "E*****678");
        assert_eq!(mask_id("123"), "***");
        assert_eq!(mask_id(""), "");
    }
}
