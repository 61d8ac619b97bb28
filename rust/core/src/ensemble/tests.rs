use super::*;

/// By the 0-1 principle a network sorts every input iff it sorts every 0/1 input.
#[test]
fn networks_sort_every_zero_one_input() {
    for n in 1..=14 {
        let network = sorting_network(n);
        for bits in 0u32..1 << n {
            let mut wires: Vec<u32> = (0..n).map(|w| (bits >> w) & 1).collect();
            for &(i, j) in &network {
                assert!(i < j && j < n);
                if wires[j] < wires[i] {
                    wires.swap(i, j);
                }
            }
            assert!(wires.windows(2).all(|w| w[0] <= w[1]), "n = {n}, input {bits:b}");
        }
    }
}

#[test]
fn pruned_networks_still_place_the_kept_ranks() {
    for n in 1..=12 {
        for (lo, hi) in [(0, 0), (n / 2, (n / 2 + 1).min(n - 1)), (n - 1, n - 1)] {
            let network = prune(&sorting_network(n), n, &[lo, hi]);
            for bits in 0u32..1 << n {
                let mut wires: Vec<u32> = (0..n).map(|w| (bits >> w) & 1).collect();
                let mut sorted = wires.clone();
                sorted.sort();
                for &(i, j) in &network {
                    if wires[j] < wires[i] {
                        wires.swap(i, j);
                    }
                }
                assert_eq!((wires[lo], wires[hi]), (sorted[lo], sorted[hi]), "n = {n}, ranks {lo} {hi}");
            }
        }
    }
    // the median of 8 needs fewer than the 19 comparators of a full sort
    assert!(prune(&sorting_network(8), 8, &[3, 4]).len() < sorting_network(8).len());
}
