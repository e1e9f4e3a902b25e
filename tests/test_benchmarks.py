"""The benchmark runner keeps the sections of the benchmarks it did not run."""

from benchmarks.__main__ import merge_section


def test_merge_replaces_one_section_and_keeps_the_rest():
    text = "Header\n\n<!-- bench:a -->\nold a\n<!-- /bench:a -->\n\n## Notes\nkept\n"
    added = merge_section(text, "b", "new b")
    assert added.index("new b") > added.index("/bench:a") and added.index("new b") < added.index(
        "## Notes")
    replaced = merge_section(added, "a", "newer a")
    assert "old a" not in replaced and "newer a" in replaced and "new b" in replaced
    assert replaced.count("<!-- bench:a -->") == 1 and replaced.endswith("## Notes\nkept\n")
    assert merge_section("", "c", "only c") == "<!-- bench:c -->\nonly c\n<!-- /bench:c -->\n"
