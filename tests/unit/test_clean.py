"""The cleaner: one set of rules for every format's articles."""

from __future__ import annotations

import time

import pytest

from newsmill_worker.pipeline import Parsed, clean
from newsmill_worker.pipeline.boilerplate import has_quotation, opens_sentence_with_imperative
from newsmill_worker.pipeline.clean import split_glued_quote

STORY = [
    "The council approved the budget on Tuesday after a long debate about road repairs.",
    "Opposition members said the plan did too little for the northern districts of the city.",
    "The mayor promised another consultation with residents in the spring.",
]


def _clean(paragraphs: list[str], **fields: object) -> Parsed:
    title = str(fields.pop("title", "Budget passed after long debate"))
    return clean(Parsed(title=title, paragraphs=paragraphs, **fields))  # type: ignore[arg-type]


# --- normalisation -------------------------------------------------------------


def test_unicode_is_nfc_and_whitespace_single_spaces() -> None:
    article = _clean(
        ["Cafe\u0301\u00a0owners\t said  \u200bit\n was  hard."], title="  Cafe\u0301 news "
    )
    assert article.title == "Café news"
    assert article.paragraphs == ["Café owners said it was hard."]


def test_mojibake_and_character_references_are_repaired_quotes_kept() -> None:
    article = _clean(["The cafÃ©â€™s owner paid &#163;5 for “fresh” bread."])
    assert article.paragraphs == ["The café’s owner paid £5 for “fresh” bread."]


# --- boilerplate -----------------------------------------------------------------


@pytest.mark.parametrize(
    "footer",
    [
        "PREMIUM",
        "or more",
        "Subscribe To Our Daily Newsletter And Get News Delivered Straight To Your Inbox.",
        "(At The Quint, we are answerable only to our audience. Play an active role in shaping our "
        "journalism by becoming a member. Because the truth is worth it.)",
        "Share this article",
        "Follow us on Twitter and Instagram.",
        "Sign up for our weekly newsletter.",
        "Read more: Budget row deepens",
        "© 2024 Daily Example Ltd",
        "Copyright 2023 Example Media. All rights reserved.",
        "copyright Inexhibit 2019 - ISSN: 2283-5474",
        "We use cookies to improve your experience. Accept all cookies",
        "Get unlimited access to our journalism with a free trial.",
        "Comments",
        "You may also like...",
        "Morning Briefing Newsletter",
        "Have a tip? Jo Bloggs may be reached at jo@example.org. Follow her on Twitter @jo.",
        "Follow our full coverage of the budget at https://daily.example/budget",
    ],
)
def test_footer_debris_is_removed(footer: str) -> None:
    # Given a story ending with a footer line
    article = _clean([*STORY, footer])
    # Then the footer goes and every sentence of the story stays
    assert article.paragraphs == STORY


@pytest.mark.parametrize(
    "line",
    [
        "Advertisement",
        "Related: Budget row deepens",
        "Updated at 1:23 p.m.",
        "Published: Tuesday 3 May 2024, 10:05 BST",
        "DON'T MISS",
    ],
)
def test_debris_inside_the_article_is_removed(line: str) -> None:
    assert _clean([STORY[0], line, *STORY[1:]]).paragraphs == STORY


@pytest.mark.parametrize(
    "sentence",
    [
        "The company said subscription revenue rose 12% in the year to March.",
        "Copyright holders have fought online piracy for two decades, the group said.",
        "“We want every reader to subscribe to our newsletter,” the editor told staff.",
        "He said on Twitter that he would stay in the job until the summer.",
        "He confirmed it on Twitter.",
        "Published in 1998, the book sold a million copies.",
        "Copyright law changed in 2004 after a long campaign.",
        "If you sign up for the bundle, you pay $12.99 a month instead of $18.",
        "More than 300 people attended.",
        "did",
    ],
)
def test_real_sentences_mentioning_debris_words_stay(sentence: str) -> None:
    # Given a real sentence that uses debris vocabulary, in the middle and at the end
    middle = _clean([STORY[0], sentence, *STORY[1:]])
    end = _clean([*STORY, sentence])
    # Then it is kept in both places
    assert middle.paragraphs == [STORY[0], sentence, *STORY[1:]]
    assert end.paragraphs == [*STORY, sentence]


def test_headline_links_ending_an_article_are_removed_real_list_items_stay() -> None:
    links = ["- 15 Amazing Images of Stars", "- Photos: Europa, Mysterious Icy Moon of Jupiter"]
    items = ["- Increased spending on primary education", "- Duty cuts on capital goods"]
    assert _clean([*STORY, *links]).paragraphs == STORY
    assert _clean([*STORY, *items]).paragraphs == [*STORY, *items]


def test_an_article_about_newsletters_keeps_its_calls_to_action() -> None:
    paragraphs = [*STORY, "Sign up for the newsletter here and get it in your inbox."]
    article = _clean(paragraphs, title="How to sign up for the new council newsletter")
    assert article.paragraphs == paragraphs


# --- repeats ---------------------------------------------------------------------


def test_a_paragraph_said_twice_stays_twice() -> None:
    # A text may really repeat itself (a chorus, an instruction): no paragraph is lost for it
    twice = [STORY[0], STORY[1], STORY[2], STORY[1]]
    assert _clean(twice).paragraphs == twice


def test_short_repeated_lines_and_repeated_runs_stay() -> None:
    fixtures = ["Group A", "Winners meet in final match", "Group B", "Winners meet in final match"]
    assert _clean([*STORY, *fixtures]).paragraphs == [*STORY, *fixtures]
    menu = [
        STORY[0],
        "Eat within two hours of your workout, with a glass of water and fruit",
        "Meal 1",
    ]
    assert _clean([*menu, *menu]).paragraphs == [*menu, *menu]


def test_title_repeated_in_the_body_is_dropped() -> None:
    article = _clean(
        ["Budget passed after long debate", *STORY], title="Budget passed after long debate | Daily"
    )
    assert article.paragraphs == STORY


def test_a_headline_variant_opening_the_body_is_dropped() -> None:
    # Given a page printing its headline, reworded, above the story
    article = _clean(
        ["High School Roundup: Viera defeats Rockledge to remain undefeated", *STORY],
        title="HS Roundup: Viera defeats Rockledge to remain undefeated",
    )
    assert article.paragraphs == STORY
    # A first paragraph that only shares the topic stays, and so does a headline further down
    lede = "Budget passed on Tuesday after a long debate that lasted until midnight."
    assert _clean([lede, *STORY]).paragraphs == [lede, *STORY]
    assert _clean([*STORY, "Budget passed after debate"]).paragraphs[-1] == (
        "Budget passed after debate"
    )


def test_standfirst_repeated_at_the_start_of_the_body_is_dropped() -> None:
    standfirst = "Roads and schools come first."
    assert _clean([standfirst, *STORY], subtitle=standfirst).paragraphs == STORY
    merged = _clean([f"{standfirst} {STORY[0]}", *STORY[1:]], subtitle=standfirst)
    assert merged.paragraphs == STORY
    assert merged.subtitle == standfirst


# --- glued quotes and credits ----------------------------------------------------


def test_glued_attribution_at_the_end_becomes_its_own_paragraph() -> None:
    glued = '"But those agreements should be for the benefit of both sides."Vladimir Medinsky'
    assert split_glued_quote(glued) == [
        '"But those agreements should be for the benefit of both sides."',
        "Vladimir Medinsky",
    ]


def test_glued_quote_inside_a_paragraph_gets_a_space() -> None:
    assert split_glued_quote("“We will win,”Ms Reyes told the crowd at the rally on Sunday.") == [
        "“We will win,” Ms Reyes told the crowd at the rally on Sunday."
    ]


def test_opening_quote_is_not_taken_for_a_closing_one() -> None:
    text = 'He went home."The next day he returned," she said.'
    assert split_glued_quote(text) == [text]


@pytest.mark.parametrize(
    ("line", "credits"),
    [
        ("(With inputs from ABC News and CNN.)", ["ABC News", "CNN"]),
        ("(Reporting by Sam Ortiz; Editing by Lee Chan)", ["Sam Ortiz", "Lee Chan"]),
        ("Additional reporting by Reuters, AP & AFP", ["Reuters", "AP", "AFP"]),
    ],
)
def test_credit_lines_move_to_credits(line: str, credits: list[str]) -> None:
    article = _clean([*STORY[:2], line, STORY[2]])
    assert article.credits == credits
    assert article.paragraphs == STORY


def test_a_sentence_starting_like_a_credit_stays() -> None:
    sentence = "With input from residents, the council drew up a new plan."
    article = _clean([*STORY, sentence])
    assert article.credits == []
    assert article.paragraphs[-1] == sentence


# --- language --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language"),
    [
        (STORY[0], "en"),
        ("Le conseil municipal a adopté le budget mardi soir après un long débat.", "fr"),
        ("Der Stadtrat hat am Dienstag nach langer Debatte den Haushalt beschlossen.", "de"),
    ],
)
def test_language_is_detected_when_unknown(text: str, language: str) -> None:
    assert _clean([text], title="").language == language


def test_declared_language_is_normalised_not_guessed() -> None:
    assert _clean(STORY, language="EN_gb").language == "en"
    assert _clean(STORY, language="pt-BR").language == "pt"


def test_too_little_text_has_no_language() -> None:
    assert _clean(["Yes."], title="No").language is None


def test_cleaning_never_empties_a_body() -> None:
    # Given an entry whose only paragraph is its standfirst, or only a sign-up line
    only_standfirst = _clean(["Roads come first."], subtitle="Roads come first.")
    only_call = _clean(["Subscribe to our newsletter."])
    # Then the body keeps it rather than becoming empty
    assert only_standfirst.paragraphs == ["Roads come first."]
    assert only_call.paragraphs == ["Subscribe to our newsletter."]


# --- hostile text: every rule in linear time -------------------------------------


@pytest.mark.parametrize(
    ("paragraph", "expected"),
    [
        ('He said "we will subscribe soon" and left.', True),
        ("He said “we will subscribe soon” and left.", True),
        ('A "two word" label', False),
        ('"x" then three more words"', True),  # the closing mark of one pair opens the next
        ('An unclosed "quote with many words', False),
        ("Curly ”reversed quotes here“ do not count", False),
    ],
)
def test_quotation_is_three_words_between_quote_marks(paragraph: str, expected: bool) -> None:
    assert has_quotation(paragraph) is expected


@pytest.mark.parametrize(
    ("paragraph", "expected"),
    [
        ("Follow us on Twitter.", True),
        ("Have a tip? ... Follow her on Twitter.", True),
        ('"Sign up now," the banner says.', True),
        ("We do not share data.", False),
        ("The reader follows the story.", False),
        ("It ended.Follow the money", False),  # no space after the full stop: not a new sentence
        ("Over. . .   — Don't miss it", True),
    ],
)
def test_imperative_is_a_sentence_opening_with_a_call(paragraph: str, expected: bool) -> None:
    assert opens_sentence_with_imperative(paragraph) is expected


@pytest.mark.parametrize(
    ("check", "text"),
    [
        # An unclosed quote before spaced dots: a pattern with lazy gaps backtracks cubically
        # (4 KB took 71 s); here 16 KB.
        (has_quotation, '"' + ". " * 8000),
        # Runs of ". ": "[.!?]\\s+\\W*" backtracks quadratically (16 KB took 24 s).
        (opens_sentence_with_imperative, ". " * 8000 + "x"),
        (opens_sentence_with_imperative, ". " * 8000 + "follow"),
    ],
)
def test_rules_take_linear_time_on_hostile_text(check: object, text: str) -> None:
    start = time.perf_counter()
    check(text)  # type: ignore[operator]
    assert time.perf_counter() - start < 0.5


def test_a_huge_hostile_paragraph_is_cleaned_in_well_under_a_second() -> None:
    # Given the shapes above inside a paragraph that also calls to action, and 5,000 glued quotes
    hostile = [
        'Subscribe to our newsletter, sign up today "' + ". " * 8000,
        "Sign up for our newsletter. " + ". " * 8000 + "Follow us",
        '"We agree with all of it."Then they left the room. ' * 5000,
    ]
    start = time.perf_counter()
    article = _clean([*STORY, *hostile])
    # Then cleaning finishes at once, and the long paragraphs are kept as text, not read as footers
    assert time.perf_counter() - start < 1
    assert article.paragraphs[:3] == STORY
    assert len(article.paragraphs) == 6


def test_glued_quotes_split_in_one_pass_without_recursion() -> None:
    # Given 5,000 glued quotes (once, one recursion per quote overflowed the stack)
    glued = '"We agree with all of it."Then they left the room. ' * 5000
    parts = split_glued_quote(glued + '"Done."Jo Bloggs')
    # Then every glue gets its space and the closing attribution its own paragraph
    assert parts == [glued.replace('."Then', '." Then') + '"Done."', "Jo Bloggs"]
