"""Word lists the name matcher weighs down: legal forms, generic organisation words, titles and
name particles, and spelling equivalents.

Sources (approximate, kept short on purpose; extend by adding rows): legal-form abbreviations
from ISO 20275 (Entity Legal Forms code list) for the jurisdictions most present on the OFAC and
UN lists (US, UK, Russia and the CIS, China, Germany, the Netherlands, Romania, Iran, UAE); the
long forms as printed on those lists. A legal form is mapped to a *class* (``jsc``, ``llc`` …):
two different spellings of the same class agree (``OAO`` = ``OJSC`` = ``JSC``); a legal form
never matches anything on its own (weight :data:`LEGAL_FORM_WEIGHT`).
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = [
    "GENERIC_WEIGHT", "GENERIC_WORDS", "HAN_LEGAL_FORMS", "LEGAL_FORMS", "LEGAL_FORM_PHRASES",
    "LEGAL_FORM_WEIGHT", "PARTICLES", "PARTICLE_WEIGHT", "PLACE_WEIGHT", "SYNONYMS", "TITLES",
    "places",
]

def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: Weight of a legal-form token (a plain name token weighs 1).
LEGAL_FORM_WEIGHT = 0.05
#: Weight of a generic organisation word ("trading", "group", "bank").
GENERIC_WEIGHT = 0.25
#: Weight of a place in an organisation's name ("Hong Kong", "Dubai", "Iran").
PLACE_WEIGHT = 0.25
#: Weight of a name particle ("al", "bin", "de", "van").
PARTICLE_WEIGHT = 0.2

#: Single-token legal forms → class.
LEGAL_FORMS: dict[str, str] = {
    # joint-stock companies (Russia, CIS, Eastern Europe)
    "jsc": "jsc", "ojsc": "jsc", "cjsc": "jsc", "pjsc": "jsc", "oao": "jsc", "zao": "jsc",
    "pao": "jsc", "ao": "jsc", "nao": "jsc", "jscb": "jsc", "ad": "jsc", "aktsionernoe": "jsc",
    # limited liability
    "llc": "llc", "ooo": "llc", "tov": "llc", "too": "llc", "ltd": "llc", "limited": "llc",
    "gmbh": "gmbh", "srl": "llc", "sarl": "llc", "sro": "llc", "spzoo": "llc", "pty": "llc",
    "pte": "llc", "fze": "llc", "fzco": "llc", "fzc": "llc", "llp": "llp", "lp": "lp",
    "plc": "plc", "pllc": "llc", "lda": "llc", "ltda": "llc", "bhd": "llc", "sdn": "llc",
    # corporations and stock companies
    "inc": "inc", "incorporated": "inc", "corp": "corp", "corporation": "corp",
    "co": "co", "company": "co", "cie": "co", "ag": "ag", "aktiengesellschaft": "ag",
    "sa": "sa", "spa": "sa", "nv": "nv", "bv": "bv", "ab": "ab", "as": "as", "asa": "as",
    "oy": "oy", "oyj": "oy", "kg": "kg", "kft": "llc", "zrt": "jsc", "pjs": "jsc",
    "sal": "sa", "sae": "sa", "sas": "sa", "kk": "kk", "kabushiki": "kk", "kaisha": "kk",
    "pvt": "llc", "tic": "co", "sti": "llc",
    "gongsi": "co", "youxian": "llc", "youxiangongsi": "llc", "jituan": "group",
}

#: Multi-word legal forms (tokens as normalised) → class; matched longest first.
LEGAL_FORM_PHRASES: dict[tuple[str, ...], str] = {
    ("open", "joint", "stock", "company"): "jsc",
    ("closed", "joint", "stock", "company"): "jsc",
    ("public", "joint", "stock", "company"): "jsc",
    ("joint", "stock", "company"): "jsc",
    ("joint", "stock", "commercial", "bank"): "jsc",
    ("limited", "liability", "company"): "llc",
    ("limited", "liability", "partnership"): "llp",
    ("limited", "partnership"): "lp",
    ("public", "limited", "company"): "plc",
    ("private", "limited"): "llc",
    ("societatea", "cu", "raspundere", "limitata"): "llc",
    ("obshchestvo", "s", "ogranichennoi", "otvetstvennostiu"): "llc",
    ("obshchestvo", "s", "ogranichennoy", "otvetstvennostyu"): "llc",
    ("aktsionernoe", "obshchestvo"): "jsc",
    ("sociedad", "anonima"): "sa",
    ("societe", "anonyme"): "sa",
    ("besloten", "vennootschap"): "bv",
    ("naamloze", "vennootschap"): "nv",
    ("you", "xian", "ze", "ren", "gong", "si"): "llc",
    ("gu", "fen", "you", "xian", "gong", "si"): "jsc",
    ("you", "xian", "gong", "si"): "llc",
    ("gong", "si"): "co",
    ("ji", "tuan"): "group",
}

#: Han-script legal forms, replaced before Han is read as pinyin (longest first).
HAN_LEGAL_FORMS: dict[str, str] = {
    "股份有限公司": " jsc ", "有限责任公司": " llc ", "有限責任公司": " llc ",
    "有限公司": " llc ", "公司": " co ", "集团": " group ", "集團": " group ",
}

#: Words that say what kind of organisation it is rather than which one.
GENERIC_WORDS = _words("""
the of and for in at on a an de del la le les des du da di der die das und et y group holding
holdings international intl global trading trade company enterprise enterprises industries
industry industrial services service solutions systems system management capital partners
partnership trust bank banking investment investments finance financial commercial general
national import export shipping logistics technology technologies tech engineering development
construction consulting corporate association foundation organisation organization fund ventures
network networks products resources energy oil gas petroleum
""")

#: Titles and honorifics of persons (dropped from the weight, kept in the explanation).
TITLES = _words("""
mr mrs ms miss dr prof sir dame lord lady sheikh shaikh sheik haji hajji hajj mullah maulana
maulvi mawlawi qari imam sayed sayyid syed general gen colonel col major maj captain capt
lieutenant lt admiral brigadier commander president minister ambassador judge senator hon
""")

#: Name particles (low weight, still compared). ``Abd``/``Abdul`` are not among them: they
#: begin a name (Abdul Rahman, Abdul Jan) and two different ones tell two people apart.
PARTICLES = _words("""
al el ul bin ben ibn bint abu van von der den de del della di da dos das du le
la
""")

#: Spelling equivalents, applied to whole tokens after transliteration.
SYNONYMS: dict[str, str] = {
    "ibn": "bin", "mohammed": "muhammad", "mohammad": "muhammad",
    "mohamed": "muhammad", "muhammed": "muhammad", "mohamad": "muhammad", "mahomed": "muhammad",
    "abdel": "abdul", "abd": "abdul", "el": "al", "ul": "al", "saint": "st",
    "organisation": "organization", "centre": "center", "&": "and",
}


#: Places often written into organisations' names to say where, not which (Watchman#483:
#: "Hong Kong Limited" matched every listed company of Hong Kong). Country names come from
#: ``pycountry`` (ISO 3166-1 names, common and official names, the part before a comma);
#: these are the cities, regions and short forms most frequent on the OFAC and UN lists, and
#: Han place names whose pinyin is not their English name. Written as words; a place matches
#: its words written apart or joined (``Hong Kong`` = ``HONGKONG`` = 香港).
_PLACES = """
hong kong = xiang gang | macau = macao = ao men | taiwan = tai wan | dubai | sharjah | ajman
abu dhabi | fujairah | ras al khaimah | tehran | isfahan | esfahan | mashhad | tabriz | shiraz
bandar abbas | kish | qeshm | moscow = moskva | saint petersburg = st petersburg
sankt peterburg | vladivostok | novosibirsk | yekaterinburg | kazan | sevastopol | crimea
donetsk | luhansk | lugansk | minsk | kyiv = kiev | beijing | shanghai | shenzhen | guangzhou
tianjin | dalian | ningbo | qingdao | xiamen | zhuhai | dongguan | hangzhou | harbin
dandong | shenyang | pyongyang | nampo | singapore | kuala lumpur | labuan | bangkok | istanbul
ankara | mersin | damascus | aleppo | latakia | beirut | baghdad | basra | mosul | erbil
kabul | kandahar | karachi | lahore | peshawar | quetta | islamabad | doha | muscat | riyadh
jeddah | sanaa | aden | cairo | khartoum | tripoli | benghazi | amman | caracas | maracaibo
managua | havana | panama | new york | london | limassol | larnaca | nicosia | belgrade
tbilisi | yerevan | baku | tashkent | almaty | bishkek | dushanbe | ashgabat | lagos
kinshasa | mogadishu | bamako | juba | nairobi | kampala | harare | middle east | far east
united states = usa = us = america | united kingdom = uk = great britain = britain
united arab emirates = uae | russia | north korea | south korea
"""


@lru_cache(maxsize=1)
def places() -> dict[str, str]:
    """Places, each written as its words joined (``hongkong``) → the place's own joined name
    (``xianggang`` → ``hongkong``). Built on first use (``pycountry`` loads in 0.2 s)."""
    import pycountry
    from anyascii import anyascii

    def joined(text: str) -> str:
        return "".join(re.split(r"[^0-9a-z]+", anyascii(text).lower()))

    out: dict[str, str] = {}
    for line in _PLACES.split("|"):
        spellings = [joined(w) for w in line.split("=")]
        out.update({sp: spellings[0] for sp in spellings if sp})
    for country in pycountry.countries:
        for attr in ("name", "common_name", "official_name"):
            value = getattr(country, attr, None)
            if value:
                name = joined(re.split(r"[,(]", value)[0])
                out.setdefault(name, name)
    return out


#: A place is written in at most this many words ("ras al khaimah", "united arab emirates").
PLACE_WORDS = 4
