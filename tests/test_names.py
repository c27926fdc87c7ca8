"""Name normalisation for linkage (socialcredit.identity.names).

Expected pinyin comes from dictionaries of Chinese names (surname readings such as 曾 zeng or
区 ou), not from the code under test; pypinyin itself is consulted only to show that each
surname reading is one of the library's readings and differs from its default one.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypinyin import Style, lazy_pinyin, pinyin

from socialcredit.identity import names
from socialcredit.identity.names import (
    COMMON_SURNAMES,
    COMPOUND_SURNAMES,
    SURNAME_READINGS,
    NameForms,
    name_forms,
)

STRING_FIELDS = ("family_name", "given_name", "full_name", "key", "script", "problem")


def parts(forms: NameForms) -> tuple[str | None, str | None]:
    return forms.family_name, forms.given_name


# --- Han script --------------------------------------------------------------------------

@pytest.mark.parametrize(("han", "family", "given"), [
    ("张伟", "zhang", "wei"),
    ("王芳", "wang", "fang"),
    ("张小明", "zhang", "xiaoming"),
    ("欧阳娜娜", "ouyang", "nana"),     # compound surname
    ("司马光", "sima", "guang"),
    ("诸葛亮", "zhuge", "liang"),
    ("尉迟恭", "yuchi", "gong"),        # compound read as a phrase, not 尉 wei
    ("长孙无忌", "zhangsun", "wuji"),
    ("单雄信", "shan", "xiongxin"),     # heteronym surnames: default readings dan, ceng, ...
    ("曾国藩", "zeng", "guofan"),
    ("解缙", "xie", "jin"),
    ("仇英", "qiu", "ying"),
    ("区寄", "ou", "ji"),
    ("吕布", "lu", "bu"),               # ü written u
    ("张 小明", "zhang", "xiaoming"),    # a space between family and given name
])
def test_han_names_become_pinyin_family_first(han: str, family: str, given: str) -> None:
    forms = name_forms(han)
    assert parts(forms) == (family, given)
    assert forms.full_name == f"{family} {given}"
    syllables = forms.key.split() if forms.key else []
    assert syllables == sorted(syllables)
    assert sorted("".join(syllables)) == sorted(family + given)
    assert forms.script == "han"
    assert forms.problem is None


def test_heteronym_surnames_differ_from_the_library_default_reading() -> None:
    for han in "单曾解仇区":
        default = lazy_pinyin(han, style=Style.NORMAL)[0]
        assert name_forms(han + "伟").family_name != default
        assert name_forms(han + "伟").family_name == SURNAME_READINGS[han]


def test_surname_readings_are_readings_pypinyin_knows() -> None:
    for han, reading in SURNAME_READINGS.items():
        assert reading in pinyin(han, style=Style.NORMAL, heteronym=True)[0], han


def test_surname_tables_are_well_formed() -> None:
    assert len(COMMON_SURNAMES) == len(set(COMMON_SURNAMES)) == 100
    assert COMMON_SURNAMES.startswith("王李张刘陈")
    assert all(len(c) == 2 for c in COMPOUND_SURNAMES)
    assert {"欧阳", "上官", "司马", "诸葛", "司徒", "东方", "皇甫", "尉迟", "公孙", "慕容",
            "长孙", "宇文", "夏侯", "令狐"} <= COMPOUND_SURNAMES


def test_middle_dot_name_puts_the_last_part_as_family_name() -> None:
    forms = name_forms("约翰·史密斯")  # John Smith, transcribed: given · family
    assert parts(forms) == ("shimisi", "yuehan")


def test_han_and_pinyin_spellings_of_one_person_agree() -> None:
    han = name_forms("欧阳娜娜")
    for latin in ("Ouyang Nana", "Nana Ouyang", "OUYANG, Nana", "ouyangnana", "Ou Yang Na Na"):
        assert parts(name_forms(latin)) == parts(han), latin
        assert name_forms(latin).key == han.key, latin


# --- Latin script ------------------------------------------------------------------------

@pytest.mark.parametrize(("written", "reversed_"), [
    ("Zhang Wei", "Wei Zhang"),            # wei is a surname too (魏), but far rarer
    ("Wang Fang", "Fang Wang"),
    ("Li Na", "Na Li"),
    ("Zhang Xiao Ming", "Xiao Ming Zhang"),
    ("Chen Lin", "Lin Chen"),
])
def test_reversed_latin_order_gives_the_same_family_and_given(written: str,
                                                            reversed_: str) -> None:
    a, b = name_forms(written), name_forms(reversed_)
    assert parts(a) == parts(b)
    assert a.family_name == written.split()[0].lower()
    assert a.key == b.key
    assert a.script == b.script == "latin"


def test_latin_pinyin_matches_the_han_form() -> None:
    assert parts(name_forms("Wei Zhang")) == parts(name_forms("张伟"))
    assert parts(name_forms("Xiao Ming Zhang")) == parts(name_forms("张小明"))


def test_key_is_the_sorted_syllables_whatever_the_order_and_spacing() -> None:
    spellings = ("张小明", "Zhang Xiaoming", "Xiaoming Zhang", "Xiao Ming Zhang",
                 "ZHANG, Xiao-Ming", "zhangxiaoming")
    assert {name_forms(s).key for s in spellings} == {"ming xiao zhang"}
    # Huangfu Min or Huang Fumin: the family name is unsure, the key is not.
    assert name_forms("huangfumin").key == name_forms("皇甫敏").key == "fu huang min"
    # Han gives true syllables; in Latin an apostrophe marks a syllable break, and without one
    # a word that reads two ways is read with the longest syllable first.
    assert name_forms("李西安").key == name_forms("Li Xi'an").key == "an li xi"
    assert name_forms("李贤").key == name_forms("Li Xian").key == "li xian"
    assert name_forms("周燕爱").key == name_forms("Zhou Yan’ai").key == "ai yan zhou"
    assert name_forms("Zhou Yan’ai").given_name == "yanai"


def test_similar_surnames_keep_the_written_order_and_the_same_key() -> None:
    # 刘洋 (Liu Yang) and 杨柳 (Yang Liu) are both real names: no guess.
    a, b = name_forms("Liu Yang"), name_forms("Yang Liu")
    assert parts(a) == ("liu", "yang")
    assert parts(b) == ("yang", "liu")
    assert a.key == b.key


@pytest.mark.parametrize("spelling", [
    "Zhang Wei", "ZHANG WEI", "ZHANG, Wei", "Zhang-Wei", "zhang  wei", " Zhang\tWei ",
    "Zhāng Wěi", "ZHĀNG Wěi", "Zhang1 Wei3", "Ｚｈａｎｇ　Ｗｅｉ", "zhang.wei",
])
def test_case_punctuation_width_and_tone_marks_collapse(spelling: str) -> None:
    assert parts(name_forms(spelling)) == ("zhang", "wei")


def test_diacritics_are_removed_from_other_latin_names() -> None:
    assert name_forms("Jürgen Müller").family_name == "muller"
    assert name_forms("Jürgen Müller").given_name == "jurgen"
    assert name_forms("Łukasz Størmer").key == "lukasz stormer"
    assert name_forms("Lǚ Bù").family_name == name_forms("Lyu Bu").family_name == "lu"


def test_comma_means_family_then_given() -> None:
    a = name_forms("NASRALLAH, Hasan")
    assert parts(a) == ("nasrallah", "hasan")
    b = name_forms("Hasan Nasrallah")  # no comma, not Chinese: last word is the family name
    assert parts(b) == parts(a)
    assert a.key == b.key == "hasan nasrallah"
    # The comma wins over the surname list.
    assert parts(name_forms("Wei, Zhang")) == ("wei", "zhang")
    assert parts(name_forms("GARCIA LOPEZ, Maria Jose")) == ("garcia lopez", "maria jose")


def test_key_of_other_names_does_not_depend_on_the_guessed_order() -> None:
    a, b = name_forms("Maria Garcia Lopez"), name_forms("GARCIA LOPEZ, Maria")
    assert a.family_name != b.family_name
    assert a.key == b.key


def test_concatenated_pinyin_is_split_only_when_unambiguous() -> None:
    assert parts(name_forms("zhangwei")) == ("zhang", "wei")
    assert parts(name_forms("WangXiaoming")) == ("wang", "xiaoming")
    assert name_forms("zhangwei").key == name_forms("Wei Zhang").key
    # huangfu+min or huang+fumin: left whole. maria: "a" after "ri" would need an apostrophe.
    for word in ("huangfumin", "maria", "madonna"):
        forms = name_forms(word)
        assert parts(forms) == (word, None)
        assert forms.problem == "one word: family and given name not told apart"


# --- bad input ---------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [None, "", "   ", "\t\n"])
def test_empty_input(raw: str | None) -> None:
    assert name_forms(raw) == NameForms(None, None, None, None, "none", "empty")


def test_not_text_is_refused_without_an_exception() -> None:
    assert name_forms(12345).problem == "not text"  # type: ignore[arg-type]


def test_han_characters_pypinyin_cannot_read_are_dropped_and_flagged() -> None:
    unread = next(chr(c) for c in range(0x3400, 0x4DC0) if not lazy_pinyin(
        chr(c), style=Style.NORMAL, errors="ignore"))
    forms = name_forms(f"张{unread}伟")
    assert parts(forms) == ("zhang", "wei")
    assert forms.problem == "han characters without a pinyin reading dropped"
    assert name_forms(unread * 2).key is None


@pytest.mark.parametrize(("raw", "family", "script"), [
    ("张", "zhang", "han"), ("X", "x", "latin"), (" x. ", "x", "latin"),
])
def test_one_character_is_too_weak(raw: str, family: str, script: str) -> None:
    forms = name_forms(raw)
    assert forms.problem == "one character: too weak to link on"
    assert forms.family_name == forms.key == family
    assert forms.script == script


@pytest.mark.parametrize("raw", ["!!!", "123", "-- / --", "１２３", "😀"])
def test_no_letters(raw: str) -> None:
    assert name_forms(raw) == NameForms(None, None, None, None, "none", "no letters")


def test_mixed_scripts_convert_the_han_part_and_are_flagged() -> None:
    forms = name_forms("张Wei")
    assert forms.script == "mixed"
    assert forms.problem == "mixed scripts"
    assert parts(forms) == ("zhang", "wei")
    assert parts(name_forms("Wei 张")) == ("zhang", "wei")


def test_unsupported_script_gives_no_forms() -> None:
    forms = name_forms("Иван Петров")
    assert forms == NameForms(None, None, None, None, "other", "unsupported script: cyrillic")
    kept = name_forms("张伟 Иван")
    assert parts(kept) == ("zhang", "wei")
    assert kept.script == "mixed"
    assert kept.problem is not None and "cyrillic" in kept.problem


def test_too_long_input_is_refused_without_reading_it(monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_run(raw: str) -> NameForms:
        raise AssertionError("a name over the limit was normalised")

    monkeypatch.setattr(names, "_forms", must_not_run)
    for raw in ("张" * 10_000, "Zhang Wei " * 1_000):
        assert name_forms(raw) == NameForms(None, None, None, None, "none",
                                            "longer than 200 characters")
    assert name_forms("x" * 31, max_chars=30).problem == "longer than 30 characters"


def test_input_at_the_limit_is_read() -> None:
    raw = "Zhang " + "w" * 194
    assert len(raw) == 200
    assert name_forms(raw).family_name == "zhang"


@pytest.mark.parametrize(("raw", "problem"), [
    ("Zhang\x00Wei", "control characters removed"),
    ("Zhang\x1bWei", "control characters removed"),
    ("Zhang Wei\ud800", "lone surrogates removed"),
    ("\ue000张伟", "private-use characters removed"),
])
def test_control_characters_and_lone_surrogates(raw: str, problem: str) -> None:
    forms = name_forms(raw)
    assert forms.problem == problem
    assert parts(forms) == ("zhang", "wei")


def test_zero_width_characters_are_dropped_silently() -> None:
    assert name_forms("Zhang\u200b Wei\ufeff") == name_forms("Zhang Wei")


def test_several_problems_are_all_reported_most_severe_first() -> None:
    assert name_forms("张\x00").problem == (
        "one character: too weak to link on; control characters removed")


# --- properties --------------------------------------------------------------------------

def assert_well_formed(forms: NameForms) -> None:
    assert isinstance(forms, NameForms)
    for field in STRING_FIELDS:
        value = getattr(forms, field)
        assert value is None or (value and value.isascii() and value == value.lower()), field
    assert forms.script in {"han", "latin", "mixed", "other", "none"}
    assert (forms.key is None) == (forms.full_name is None)
    if forms.full_name is None:
        assert forms.problem is not None
    assert {f.name for f in dataclasses.fields(forms)} == set(STRING_FIELDS)


@given(st.text())
def test_never_raises_and_returns_ascii_lowercase(raw: str) -> None:
    assert_well_formed(name_forms(raw))


NAMEISH = st.text(alphabet=st.sampled_from(
    list("张王李欧阳曾单区伟芳娜小明 ,.-·'zhangweiZHANGāěǚüß") + ["\x00", "\ud800", "Ж", "\u200b"]),
    max_size=30)


@given(NAMEISH)
def test_never_raises_on_name_like_text(raw: str) -> None:
    assert_well_formed(name_forms(raw))


WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=8)


@given(WORD, WORD)
def test_key_of_two_words_is_order_independent(first: str, second: str) -> None:
    assert name_forms(f"{first} {second}").key == name_forms(f"{second} {first}").key
