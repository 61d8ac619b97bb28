"""Preference-data loaders and splits, against hand-built files and the bundled data's published counts."""

import gzip
import json
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from rewardlab import datasets
from rewardlab.data import DataError, PreferencePair, dialogue_text, load_many, load_pairs, split_by_prompt

# the data shipped in the package (or $REWARDLAB_DATA), found where the demo finds it
SHARED = datasets.data_dir()  # shipped in the package


def write_lines(path: Path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_pairwise_rows_skipped_with_reasons_and_line_numbers(tmp_path):
    good = json.dumps({"prompt": "p", "chosen": "a", "rejected": "b"})
    f = write_lines(
        tmp_path / "p.jsonl",
        [
            good,  # 1
            "{not json",  # 2
            json.dumps({"prompt": "p", "chosen": "a"}),  # 3 missing rejected
            json.dumps({"prompt": "p", "chosen": "", "rejected": "b"}),  # 4 empty
            json.dumps({"prompt": "p", "chosen": "same", "rejected": "same"}),  # 5
            "",  # blank lines are not rows
            json.dumps([1, 2]),  # 7 not an object
            json.dumps({"prompt": "q", "chosen": 3, "rejected": "b"}),  # 8 not a string
            good,  # 9
        ],
    )
    pairs, report = load_pairs(f)
    assert [p.line for p in pairs] == [1, 9]
    assert report.rows == 8 and report.pairs == 2 and report.n_skipped == 6
    assert report.first_lines == {
        "bad JSON": [2],
        "missing field 'rejected'": [3],
        "empty 'chosen'": [4],
        "chosen == rejected": [5],
        "row is not a JSON object": [7],
        "field 'chosen' is not a string": [8],
    }
    assert "bad JSON (lines 2)" in report.summary()
    with pytest.raises(DataError, match=r"p\.jsonl:2: bad JSON"):
        load_pairs(f, strict=True)


def test_report_keeps_only_the_first_line_numbers(tmp_path):
    f = write_lines(tmp_path / "p.jsonl", ["{bad"] * 9 + [json.dumps({"prompt": "p", "chosen": "a", "rejected": "b"})])
    _, report = load_pairs(f)
    assert report.skipped == {"bad JSON": 9}
    assert report.first_lines["bad JSON"] == [1, 2, 3, 4, 5]
    assert "..." in report.summary()


def test_hh_prompt_is_the_prefix_up_to_the_last_assistant_turn(tmp_path):
    prompt = "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: how do I bake?\n\nAssistant:"
    rows = [
        {"chosen": prompt + " Preheat the oven.", "rejected": prompt + " No."},
        {"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: different\n\nAssistant: c"},
        {"chosen": "no turns at all", "rejected": "x"},
        {"chosen": prompt + " ", "rejected": prompt + " No."},
    ]
    f = tmp_path / "hh.jsonl.gz"
    with gzip.open(f, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(json.dumps(r) for r in rows))
    pairs, report = load_pairs(f)
    assert report.format == "hh"
    assert len(pairs) == 1
    p = pairs[0]
    assert p.prompt == prompt and p.chosen == "Preheat the oven." and p.rejected == "No."
    # The full-context text is exactly the original dialogue; the last-turn text keeps the last exchange.
    assert p.texts("full")[0] == rows[0]["chosen"]
    assert p.texts("last_turn") == ("\n\nHuman: how do I bake?\n\nAssistant: Preheat the oven.", "\n\nHuman: how do I bake?\n\nAssistant: No.")
    assert report.skipped == {
        "chosen and rejected do not share the prompt": 1,
        "no '\\n\\nAssistant:' turn": 1,
        "empty reply": 1,
    }


def _tree():
    def msg(text, role, rank=None, replies=(), deleted=False):
        return {"text": text, "role": role, "rank": rank, "replies": list(replies), "deleted": deleted}

    return {
        "message_tree_id": "t1",
        "prompt": msg(
            "Q?",
            "prompter",
            replies=[
                msg("best", "assistant", 0, replies=[msg("follow-up", "prompter", 0, replies=[msg("x", "assistant", 0), msg("y", "assistant", 1)])]),
                msg("middle", "assistant", 1),
                msg("worst", "assistant", 2),
                msg("gone", "assistant", 3, deleted=True),
                msg("unranked", "assistant", None),
            ],
        ),
    }


def test_oasst_all_ranked_sibling_pairs_best_first(tmp_path):
    f = write_lines(tmp_path / "o.jsonl", [json.dumps(_tree()), json.dumps({"message_tree_id": "t2", "prompt": {"text": "lonely", "role": "prompter", "replies": []}})])
    pairs, report = load_pairs(f)
    assert report.format == "oasst"
    got = [(p.chosen, p.rejected) for p in pairs]
    assert got == [("best", "middle"), ("best", "worst"), ("middle", "worst"), ("x", "y")]
    assert all(p.group == "t1" for p in pairs)
    assert pairs[0].prompt == "\n\nHuman: Q?\n\nAssistant:"
    assert pairs[3].prompt == "\n\nHuman: Q?\n\nAssistant: best\n\nHuman: follow-up\n\nAssistant:"
    assert report.skipped == {"tree without ranked sibling replies": 1}


def test_dialogue_text_wraps_bare_instructions():
    for context in ("full", "last_turn"):
        assert dialogue_text("Say hi", " hi ", context) == "\n\nHuman: Say hi\n\nAssistant: hi"
        assert dialogue_text("\n\nHuman: x\n\nAssistant:", "y", context) == "\n\nHuman: x\n\nAssistant: y"
    with pytest.raises(ValueError, match="context"):
        dialogue_text("a", "b", "middle")


def test_ends_context_keeps_the_prompts_end_and_the_replys_start_and_end():
    prompt = "\n\nHuman: old\n\nAssistant: older\n\nHuman: " + " ".join(f"q{i}" for i in range(100)) + "\n\nAssistant:"
    reply = " ".join(f"r{i}" for i in range(400))
    text = dialogue_text(prompt, reply, "ends")
    words = text.split()
    assert len(words) <= 176 + 4  # the word budget, plus the two tags and two cut marks
    assert text.startswith("\n\nHuman: … q53 q54") and "q99\n\nAssistant: r0 r1 " in text and text.endswith(" r398 r399")
    kept = [w for w in words if w.startswith("r")]
    assert kept == [f"r{i}" for i in range(len(kept) - len(kept) // 2)] + [f"r{i}" for i in range(400 - len(kept) // 2, 400)]
    assert " … " in text.split("Assistant:")[1] and "old" not in text
    # a pair within the budget is exactly last_turn's text (same cache rows), also a long reply to a short prompt
    for p, r in (("Say hi", "hi"), (prompt, "short"), ("short?", " ".join(["w"] * 170))):
        assert dialogue_text(p, r, "ends") == dialogue_text(p, r, "last_turn")
    short_prompt = dialogue_text("why?", reply, "ends")
    assert short_prompt.startswith("\n\nHuman: why?\n\nAssistant: r0 ") and len(short_prompt.split()) == 176 + 3


def test_missing_file_and_bad_format_are_clear(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_pairs(tmp_path / "nope.jsonl")
    with pytest.raises(DataError, match="format"):
        load_pairs(tmp_path / "nope.jsonl", format="csv")
    f = write_lines(tmp_path / "junk.jsonl", ["{bad", "{also bad"])
    with pytest.raises(DataError, match="no usable preference pairs"):
        load_pairs(f)
    with pytest.raises(DataError, match="at least one file"):
        load_many([])


def _pair(group, i=0):
    return PreferencePair(prompt=group, chosen=f"a{i}", rejected=f"b{i}", group=group)


def test_split_is_by_group_deterministic_and_order_free():
    pairs = [_pair(f"prompt {g}", i) for g in range(400) for i in range(3)]
    a = split_by_prompt(pairs)
    b = split_by_prompt(list(reversed(pairs)))
    for name in ("train", "dev", "test"):
        assert {p.group for p in getattr(a, name)} == {p.group for p in getattr(b, name)}
    groups = [{p.group for p in part} for part in (a.train, a.dev, a.test)]
    assert not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])
    assert sum(a.sizes().values()) == len(pairs)
    # 400 groups at 10%: a binomial(400, 0.1) count is within 40 +- 20 with overwhelming probability.
    assert 20 <= len(groups[2]) <= 60 and 20 <= len(groups[1]) <= 60
    c = split_by_prompt(pairs, salt="other")
    assert {p.group for p in c.test} != groups[2]


@pytest.mark.parametrize("kw", [{"dev": -0.1}, {"test": 1.0}, {"dev": 0.5, "test": 0.5}])
def test_split_fractions_validated(kw):
    with pytest.raises(ValueError, match="dev|test"):
        split_by_prompt([_pair("x")], **kw)


def test_bundled_data_counts_match_the_data_readme():
    # ../shared/data/README.md: 1,821 HH rows; OASST 212 ranked groups, 754 pairs.
    _, hh = load_pairs(SHARED / "hh-rlhf" / "harmless-base-test.dev.jsonl.gz")
    assert hh.rows == 1821 and hh.pairs + hh.n_skipped == 1821
    pairs, oasst = load_pairs(SHARED / "oasst" / "en_100_tree.jsonl.gz")
    assert oasst.pairs == 754 and oasst.n_skipped == 0
    assert len({(p.group, p.prompt) for p in pairs}) == 212


# ---- audit regressions: rows that used to abort a whole run -----------------------------------------

BAD_ROWS = {
    "lone surrogate": ('{"prompt": "p \\ud800", "chosen": "a", "rejected": "b"}', "invalid Unicode (lone surrogate escape)"),
    "deep nesting": ("[" * 100_000 + "]" * 100_000, "JSON nested too deeply"),
    "5000-digit integer": ('{"prompt": "p", "chosen": "a", "rejected": "b", "n": ' + "9" * 5000 + "}", "number too large"),
}


def test_malformed_rows_are_skipped_and_counted_or_fail_strictly_with_the_line(tmp_path):
    good = json.dumps({"prompt": "q", "chosen": "yes", "rejected": "no"})
    path = write_lines(tmp_path / "d.jsonl", [good] + [row for row, _ in BAD_ROWS.values()] + [good.replace("q", "q2")])
    pairs, report = load_pairs(path)
    assert len(pairs) == 2 and report.rows == 5
    assert {reason: n for reason, n in report.skipped.items()} == {reason: 1 for _, reason in BAD_ROWS.values()}
    for line, (_, reason) in enumerate(BAD_ROWS.values(), start=2):
        assert report.first_lines[reason] == [line]
    with pytest.raises(DataError, match=r"d.jsonl:2: invalid Unicode"):
        load_pairs(path, strict=True)


def test_an_oasst_reply_whose_text_is_a_number_is_a_skipped_tree(tmp_path):
    tree = {"message_tree_id": "t", "prompt": {"role": "prompter", "text": "hi", "replies": [
        {"role": "assistant", "text": 42, "rank": 0}, {"role": "assistant", "text": "hello", "rank": 1}]}}
    ok = {"message_tree_id": "u", "prompt": {"role": "prompter", "text": "hey", "replies": [
        {"role": "assistant", "text": "good", "rank": 0}, {"role": "assistant", "text": "bad", "rank": 1}]}}
    path = write_lines(tmp_path / "o.jsonl", [json.dumps(tree), json.dumps(ok)])
    pairs, report = load_pairs(path)
    assert len(pairs) == 1 and report.n_skipped == 1


def test_a_utf8_bom_does_not_cost_the_first_row(tmp_path):
    path = tmp_path / "bom.jsonl"
    rows = [json.dumps({"prompt": f"q{i}", "chosen": "yes", "rejected": "no"}) for i in range(3)]
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(rows).encode("utf-8"))
    pairs, report = load_pairs(path)
    assert len(pairs) == 3 and report.n_skipped == 0


@pytest.mark.parametrize("limit", [0, -1, 1.5, True])
def test_loaders_refuse_a_limit_that_is_not_a_positive_integer(tmp_path, limit):
    from rewardlab.data import load_bon

    path = write_lines(tmp_path / "b.jsonl", ["{}"])
    with pytest.raises(DataError, match="limit"):
        load_bon(path, limit=limit)


# ---- TRL's conversational rows and parquet ---------------------------------------------------------

def conv(role, content):
    return {"role": role, "content": content}


def test_trl_conversational_rows_explicit_and_implicit_prompt(tmp_path):
    explicit = {"prompt": [conv("system", "Be brief."), conv("user", "What is 2+2?")],
                "chosen": [conv("assistant", "4")], "rejected": [conv("assistant", "5")]}
    implicit = {"chosen": [conv("user", "Hi"), conv("assistant", "Hello!")],
                "rejected": [conv("user", "Hi"), conv("assistant", "Go away.")]}
    bad = {"prompt": [conv("user", "x")], "chosen": [conv("assistant", "a"), conv("user", "b")], "rejected": [conv("assistant", "c")]}
    path = write_lines(tmp_path / "c.jsonl", [json.dumps(r) for r in (explicit, implicit, bad)])
    pairs, report = load_pairs(path)
    assert report.format == "conversational" and report.n_skipped == 1
    assert pairs[0].prompt == "\n\nHuman: [system] Be brief.\n\nHuman: What is 2+2?\n\nAssistant:"
    assert (pairs[0].chosen, pairs[0].rejected) == ("4", "5")
    assert pairs[1].prompt == "\n\nHuman: Hi\n\nAssistant:" and (pairs[1].chosen, pairs[1].rejected) == ("Hello!", "Go away.")
    # the flattened text is what an HH-RLHF row with the same dialogue gives
    hh = {"chosen": "\n\nHuman: Hi\n\nAssistant: Hello!", "rejected": "\n\nHuman: Hi\n\nAssistant: Go away."}
    (hh_pair,), _ = load_pairs(write_lines(tmp_path / "h.jsonl", [json.dumps(hh)]))
    assert hh_pair.texts() == pairs[1].texts()


def test_parquet_files_read_like_jsonl(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    rows = [{"prompt": f"q{i}", "chosen": "good", "rejected": "bad"} for i in range(2500)] + [{"prompt": "q", "chosen": "", "rejected": "x"}]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "d.parquet")
    write_lines(tmp_path / "d.jsonl", [json.dumps(r) for r in rows])
    from_parquet, rep_p = load_pairs(tmp_path / "d.parquet")
    from_jsonl, rep_j = load_pairs(tmp_path / "d.jsonl")
    assert [(p.prompt, p.chosen, p.rejected, p.line) for p in from_parquet] == [(p.prompt, p.chosen, p.rejected, p.line) for p in from_jsonl]
    assert rep_p.skipped == rep_j.skipped == {"empty 'chosen'": 1} and rep_p.first_lines == rep_j.first_lines
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataError, match="parquet"):
        load_pairs(tmp_path / "bad.parquet")


@given(st.lists(st.tuples(st.sampled_from(["user", "assistant"]),
                          st.text(st.characters(blacklist_categories=("Cs",)), min_size=1).map(str.strip).filter(bool)),
                min_size=1, max_size=6),
       st.booleans())
def test_dialogue_turns_inverts_the_flattening_of_messages(messages, system):
    from rewardlab.data import dialogue_turns
    from rewardlab.data.formats import flatten_messages

    # the flattening's own tags inside a message cannot be told apart from a turn: not generated
    assume(all("\n\nHuman:" not in c and "\n\nAssistant:" not in c for _, c in messages))
    assume(not messages[0][1].startswith("[system]"))  # a user turn written like the system mark reads as one
    if system:
        messages = [("system", "be brief")] + messages
    turns = dialogue_turns(flatten_messages(messages))
    assert [(t["role"], t["content"]) for t in turns] == messages
