"""Language detection on short questions and longer text, including ru/uk/bg, which lingua alone confuses."""

from __future__ import annotations

import pytest

from bot.config import Settings
from index.text.language import detect_language, language_code, language_name
from tests.fakes import HashEmbedder

# Written for these tests: short questions as people ask them, and longer news sentences.
SENTENCES = {
    "ru": [
        "Кто сопровождал Кима на авиазаводе?",
        "Где прошла встреча двух лидеров?",
        "Что сказал Песков о переговорах?",
        "Кто он?",
        "Когда началась война?",
        "Сколько стоит билет до Пхеньяна?",
        "Почему переговоры прошли за закрытыми дверями?",
        "Какие санкции ввели против КНДР?",
        "Министр обороны посетил Пхеньян летом.",
        "Правительство объявило о новых мерах поддержки семей с детьми, а также о снижении налогов "
        "для малого бизнеса в регионах страны.",
    ],
    "uk": [
        "Де відбулася зустріч?",
        "Що сталося?",
        "Де Владивосток?",
        "Коли Путін прилетів на космодром?",
        "Хто він?",
        "Скільки годин тривала зустріч?",
        "Навіщо він поїхав потягом?",
        "Мер міста розповів про ремонт доріг.",
        "Уряд оголосив про нові заходи підтримки сімей з дітьми, а також про зниження податків для "
        "малого бізнесу в регіонах країни.",
    ],
    "bg": [
        "Къде се срещнаха двамата лидери?",
        "Кой е той?",
        "Кой посети Пхенян?",
        "Какво подари Ким на Путин?",
        "Колко часа продължи срещата?",
        "Защо той пътува с влак?",
        "Ще има ли нови санкции?",
        "Кметът на града говори за ремонта на пътищата.",
        "Правителството обяви нови мерки в подкрепа на семействата с деца, както и намаляване на "
        "данъците за малкия бизнес в регионите на страната.",
    ],
    "en": [
        "Who went with Kim to the factory?",
        "Where is Vostochny?",
        "Tell me more",
        "The government announced new measures to support families with children.",
    ],
    "de": [
        "Wer ist Peskow?",
        "Wann findet das Forum statt?",
        "Die Regierung hat neue Maßnahmen zur Unterstützung von Familien angekündigt.",
    ],
    "fr": ["Où se sont rencontrés les deux dirigeants ?", "Le gouvernement a annoncé de nouvelles mesures."],
    "es": ["¿Quién acompañó a Kim en la fábrica?", "El gobierno anunció nuevas medidas para las familias."],
    "it": [
        "Chi ha accompagnato Kim alla fabbrica?",
        "Il governo ha annunciato nuove misure per le famiglie.",
    ],
    "pl": ["Kto towarzyszył Kimowi w fabryce?", "Rząd ogłosił nowe środki wsparcia dla rodzin z dziećmi."],
    "pt": ["Quem acompanhou Kim na fábrica?", "O governo anunciou novas medidas para apoiar as famílias."],
    "nl": ["Wie vergezelde Kim naar de fabriek?", "De regering heeft nieuwe maatregelen aangekondigd."],
    "tr": ["İki lider nerede buluştu?", "Hükümet ailelere destek için yeni önlemler açıkladı."],
    "be": ["Хто суправаджаў Кіма на заводзе?", "Урад абвясціў пра новыя меры падтрымкі сем'яў з дзецьмі."],
    "sr": ["Ко је пратио Кима у фабрици?", "Влада је најавила нове мере подршке породицама са децом."],
    "kk": [
        "Екі көшбасшы қай жерде кездесті?",
        "Үкімет балалы отбасыларды қолдаудың жаңа шараларын жариялады.",
    ],
    "ko": ["김정은은 러시아에 갔다"],
    "ja": ["金正恩氏はロシアを訪問した"],
    "zh": ["金正恩访问了俄罗斯"],
    "el": ["Ποιος συνόδευσε τον Κιμ;"],
}
CASES = [(code, text) for code, texts in SENTENCES.items() for text in texts]


@pytest.mark.parametrize(("expected", "text"), CASES, ids=[f"{c}-{i}" for i, (c, _) in enumerate(CASES)])
def test_language_of_short_and_long_sentences(expected: str, text: str) -> None:
    assert detect_language(text) == expected


@pytest.mark.parametrize(
    ("expected", "question"),
    [
        ("uk", "Хто супроводжував Кіма під час відвідування авіазаводу?"),
        ("ru", "Когда проходит Восточный экономический форум?"),
        ("bg", "Кой руски министър ще посети Северна Корея през октомври?"),
        ("bg", "Какви технологии иска Ким Чен Ун от Русия?"),
        ("de", "Womit ist Kim Jong Un nach Russland gereist?"),
    ],
)
def test_questions_about_the_summit_in_their_language(expected: str, question: str) -> None:
    assert detect_language(question) == expected


@pytest.mark.parametrize(
    ("expected", "text"),
    [
        ("uk", "Її їжа є ґанок"),  # ї є ґ exist only in Ukrainian
        ("ru", "Эти съёмки были"),  # ы э ё are not Bulgarian or Ukrainian
        ("bg", "Къщата е голяма"),  # ъ before a consonant is not Russian
    ],
)
def test_letters_only_one_alphabet_has_decide(expected: str, text: str) -> None:
    assert detect_language(text) == expected


def test_russian_article_quoting_a_ukrainian_name_is_still_russian() -> None:
    text = (
        "Министр иностранных дел провел встречу с послами европейских стран. Обсуждали поставки зерна "
        "через порты Черного моря и восстановление энергетики. Отдельно говорили о ситуации в городе "
        "Київ, где продолжаются работы по ремонту подстанций."
    )
    assert detect_language(text) == "ru"


@pytest.mark.parametrize("text", ["", "   ", "12345", "?!", "—", "x", "🙂🙂"])
def test_text_with_too_little_to_go_on_gets_the_default(text: str) -> None:
    assert detect_language(text, default="bg") == "bg"


def test_language_names_for_prompts() -> None:
    assert [language_name(c) for c in ("ru", "uk", "bg", "en", "de")] == [
        "Russian",
        "Ukrainian",
        "Bulgarian",
        "English",
        "German",
    ]
    assert language_name("FR") == "French"
    assert language_name("sv") == "Swedish"  # not detected, but lingua knows the name
    assert language_name("xx") == "xx"


def test_a_language_tag_gives_its_two_letter_code_however_it_is_written() -> None:
    assert language_code("pt-BR") == language_code("pt_br") == language_code(" PT ") == "pt"
    assert language_code("uk") == "uk" and language_code("") == ""


@pytest.mark.parametrize(
    ("text", "language"),
    [
        (" ".join(["Putin"] * 167), "en"),
        (" ".join(["Путин"] * 167), "ru"),
        (" ".join(["Путін"] * 167), "uk"),
        ("Putin? " * 40, "en"),
    ],
)
def test_a_word_repeated_is_judged_as_the_word_said_once(text: str, language: str) -> None:
    assert detect_language(text) == detect_language(text.split()[0]) == language


@pytest.mark.parametrize(
    "question",
    ["Kuka seurasi Kimiä lentokonetehtaalla?", "Mitä Putin sanoi huippukokouksessa?", "Zhornik", "Putin"],
)
def test_a_short_text_the_detector_is_unsure_of_gets_the_default(question: str) -> None:
    assert detect_language(question) == "en"
    assert detect_language(question, default="ru") == "ru"


def test_a_name_repeated_is_still_looked_up_in_the_chats_language(
    settings: Settings, embedder: HashEmbedder
) -> None:
    from bot.models import Turn
    from bot.service import Newsbot

    bot = Newsbot(settings, embedder=embedder)
    bot.reindex()
    alone = bot.answer(" ".join(["Zhornik"] * 167), [])
    assert alone.language == "en" and not alone.refused
    assert [s.article_id for s in alone.sources] == ["plant"]
    follow_up = bot.answer(" ".join(["Zhornik"] * 167), [Turn("Кто такой Жорник?", "…", "ru")])
    assert follow_up.language == "ru" and not follow_up.refused
