use super::*;

#[test]
fn delimiters_by_hand() {
    // row 0: "a . b b . c" -> [0..2) [2..5) [5..6); row 1: empty; row 2: "." -> [0..1)
    let tok = [1i64, 9, 2, 2, 9, 3, 9];
    let lay = Layout::Ragged { offsets: &[0, 6, 6, 7] };
    let s = by_delimiters(&tok, &lay, None, &[9], 1, 0).unwrap();
    assert_eq!(s, Segments { ends: vec![2, 5, 6, 1], offsets: vec![0, 3, 3, 4] });
    // min_len 2: the last segment (length 1) merges into its predecessor
    let s = by_delimiters(&tok, &lay, None, &[9], 2, 0).unwrap();
    assert_eq!(s.ends, vec![2, 6, 1]);
    // max_len 2: [2..6) becomes [2..4) [4..6)
    let s = by_delimiters(&tok, &lay, None, &[9], 2, 2).unwrap();
    assert_eq!(s.ends, vec![2, 4, 6, 1]);
    assert_eq!(s.starts(), vec![0, 2, 4, 0]);
}

#[test]
fn entropy_forks_start_segments() {
    let h = [0.1f32, 2.0, 0.1, 0.1, 3.0, 0.1, 9.0, 9.0];
    let lay = Layout::Padded { rows: 1, cols: 8 };
    let s = by_entropy(&h, &lay, Some(&[6]), 1.0, 1, 0).unwrap();
    assert_eq!(s.ends, vec![1, 4, 6]);
    let bad = by_entropy(&[0.0, f32::NAN], &Layout::Padded { rows: 1, cols: 2 }, None, 1.0, 1, 0);
    assert_eq!(bad.unwrap_err().arg(), "entropy");
}

#[test]
fn delimiter_set_forms_agree() {
    let ids = [5i64, 64, 63, 1 << 30];
    let small = DelimiterSet::new(&ids[..3]);
    let large = DelimiterSet::new(&ids);
    assert!(matches!(small, DelimiterSet::Bits(_)));
    assert!(matches!(large, DelimiterSet::Sorted(_)));
    for id in [-1i64, 0, 5, 6, 63, 64, 65, 1 << 30, i64::MIN] {
        assert_eq!(small.contains(id), ids[..3].contains(&id), "{id}");
        assert_eq!(large.contains(id), ids.contains(&id), "{id}");
    }
}
