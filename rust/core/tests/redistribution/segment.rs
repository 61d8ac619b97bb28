//! Segmentation by delimiters, entropy and both, against a naive re-implementation.

use super::*;

const LIMITS: [(usize, usize); 6] = [(1, 0), (1, 1), (2, 0), (3, 5), (4, 4), (2, 7)];

#[test]
fn delimiters_match_naive_padded_and_ragged() {
    let mut rng = Rng(0x9E3779B97F4A7C15);
    for trial in 0..60 {
        let (rows, cols) = (1 + rng.below(9) as usize, 1 + rng.below(40) as usize);
        let batch = random_batch(&mut rng, rows, cols);
        let delims: Vec<i64> = if trial % 7 == 0 { vec![] } else { vec![3, 0, 1 << 40][..1 + trial % 3].to_vec() };
        let (rtok, _) = batch.ragged();
        let ragged = Layout::ragged(&batch.offsets, rtok.len()).unwrap();
        let padded = Layout::Padded { rows, cols };
        for (min_len, max_len) in LIMITS {
            let want = batch.naive(Some(&delims), None, min_len, max_len);
            let got = by_delimiters(&batch.tokens, &padded, Some(&batch.lengths), &delims, min_len, max_len).unwrap();
            assert_eq!(got, want, "padded trial {trial} min {min_len} max {max_len}");
            let got = by_delimiters(&rtok, &ragged, None, &delims, min_len, max_len).unwrap();
            assert_eq!(got, want, "ragged trial {trial} min {min_len} max {max_len}");
        }
    }
}

#[test]
fn entropy_and_hybrid_match_naive() {
    let mut rng = Rng(12345);
    for trial in 0..60 {
        let (rows, cols) = (1 + rng.below(9) as usize, 1 + rng.below(40) as usize);
        let batch = random_batch(&mut rng, rows, cols);
        let (rtok, rent) = batch.ragged();
        let ragged = Layout::ragged(&batch.offsets, rtok.len()).unwrap();
        let padded = Layout::Padded { rows, cols };
        let threshold = [1.5, 0.5, 1.9][trial % 3];
        let delims = [2i64, 5];
        for (min_len, max_len) in LIMITS {
            let want = batch.naive(None, Some(threshold), min_len, max_len);
            let got = by_entropy(&batch.entropy, &padded, Some(&batch.lengths), threshold, min_len, max_len).unwrap();
            assert_eq!(got, want, "entropy padded trial {trial}");
            // f32 entropies: the same cuts (the threshold is compared in f32 on both sides)
            let e32: Vec<f32> = rent.iter().map(|&x| x as f32).collect();
            let got32 = by_entropy(&e32, &ragged, None, threshold as f32, min_len, max_len).unwrap();
            let mut b32 = batch_clone(&batch);
            b32.entropy.iter_mut().for_each(|x| *x = *x as f32 as f64);
            assert_eq!(got32, b32.naive(None, Some(threshold as f32 as f64), min_len, max_len), "entropy f32 trial {trial}");

            let want = batch.naive(Some(&delims), Some(threshold), min_len, max_len);
            let got = hybrid(&batch.tokens, &batch.entropy, &padded, Some(&batch.lengths), &delims, threshold, min_len, max_len);
            assert_eq!(got.unwrap(), want, "hybrid padded trial {trial}");
            let got = hybrid(&rtok, &rent, &ragged, None, &delims, threshold, min_len, max_len).unwrap();
            assert_eq!(got, want, "hybrid ragged trial {trial}");
        }
    }
}


#[test]
fn segment_invariants_hold() {
    let mut rng = Rng(77);
    let batch = random_batch(&mut rng, 40, 64);
    let padded = Layout::Padded { rows: 40, cols: 64 };
    for (min_len, max_len) in LIMITS {
        let s = by_delimiters(&batch.tokens, &padded, Some(&batch.lengths), &[1, 4], min_len, max_len).unwrap();
        s.check(&padded).unwrap();
        for b in 0..40 {
            let row = s.row(b);
            assert_eq!(row.last().copied().unwrap_or(0), batch.lengths[b]);
            let mut prev = 0;
            for &e in row {
                assert!(e > prev);
                if max_len > 0 {
                    assert!(e - prev <= max_len as i64);
                }
                prev = e;
            }
        }
        // what from_boundaries accepts round-trips
        let again = from_boundaries(&s.ends, &s.offsets, &batch.lengths).unwrap();
        assert_eq!(again, s);
    }
}

#[test]
fn delimiter_at_first_and_last_token() {
    let lay = Layout::Padded { rows: 3, cols: 4 };
    // row 0: delimiter first and last; row 1: every token a delimiter; row 2: a single delimiter
    let tok = [7i64, 1, 1, 7, 7, 7, 7, 7, 7, 0, 0, 0];
    let s = by_delimiters(&tok, &lay, Some(&[4, 4, 1]), &[7], 1, 0).unwrap();
    assert_eq!(s.ends, vec![1, 4, 1, 2, 3, 4, 1]);
    assert_eq!(s.offsets, vec![0, 2, 6, 7]);
    // min_len 3: row 0 [0,1) merges forward into [0,4); row 1 -> [0,3) then the short last merges back
    let s = by_delimiters(&tok, &lay, Some(&[4, 4, 1]), &[7], 3, 0).unwrap();
    assert_eq!(s.ends, vec![4, 4, 1]);
    // max_len 3 caps that: [0,4) -> [0,3) [3,4) even though the tail is shorter than min_len
    let s = by_delimiters(&tok, &lay, Some(&[4, 4, 1]), &[7], 3, 3).unwrap();
    assert_eq!(s.ends, vec![3, 4, 3, 4, 1]);
}
