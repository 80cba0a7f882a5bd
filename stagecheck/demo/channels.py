"""How a support query looks once it has come through a channel: chat, email or a voice transcript.

Each styler takes a clean sentence and a seeded ``random.Random`` and returns the text as a
customer (or a speech recogniser) would have produced it: chat is terse, lower-cased and
misspelt; email is wrapped in a greeting and a sign-off; a voice transcript has no punctuation,
spelt-out numbers, fillers and the odd mis-heard word.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

__all__ = ["CHANNELS", "CHANNEL_WEIGHTS", "style", "add_typo", "number_words"]

CHANNELS: tuple[str, ...] = ("chat", "email", "voice_transcript")
CHANNEL_WEIGHTS: tuple[float, ...] = (0.45, 0.30, 0.25)

_CHAT_ABBREVIATIONS: tuple[tuple[str, str], ...] = (
    (r"\bplease\b", "pls"),
    (r"\byou\b", "u"),
    (r"\bthanks\b", "thx"),
    (r"\byour\b", "ur"),
    (r"\bI'm\b", "im"),
    (r"\bdon't\b", "dont"),
    (r"\bcan't\b", "cant"),
    (r"\bbecause\b", "cuz"),
)
_CHAT_GREETINGS = ("hi", "hey", "hello", "hi there", "hiya", "hey team", "good evening")
_CHAT_SUFFIXES = (" thx", " asap", " ??", " :(", " please help", " thanks!", " urgent")

_EMAIL_GREETINGS = (
    "Hello,",
    "Hi,",
    "Hi team,",
    "Dear Customer Service,",
    "Good morning,",
    "Dear Sir or Madam,",
    "To whom it may concern,",
    "Hello there,",
)
_EMAIL_SIGNOFFS = ("Thanks,", "Kind regards,", "Best,", "Regards,", "Many thanks,", "Cheers,")
_NAMES = (
    "Anna",
    "Mark Jensen",
    "Priya",
    "Tom Okafor",
    "Lucía",
    "J. Becker",
    "Sam",
    "Olivia Chen",
    "Ahmed",
    "Kate Walsh",
    "Dmitri",
    "Grace",
    "Luis Ortega",
    "Hannah",
    "Noah Schmidt",
)

_VOICE_STARTERS = (
    "hi yeah",
    "hello um",
    "yes hi i'm calling because",
    "hi so",
    "uh hello",
    "yeah hi um",
    "hi there i'm ringing about",
    "good morning",
)
_VOICE_FILLERS = ("um", "uh", "like", "you know", "so", "erm")
# Speech recognisers confuse homophones; only ones that keep the intent recoverable.
_MISHEARD = {
    "to": "two",
    "for": "four",
    "know": "no",
    "there": "their",
    "code": "cold",
    "mail": "male",
    "sale": "sail",
    "week": "weak",
    "would": "wood",
    "right": "write",
}

# fmt: off
_ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
# fmt: on
_ORDINALS = {"3rd": "third", "14th": "fourteenth", "21st": "twenty first"}
_CURRENCIES = {"$": "dollars", "£": "pounds", "€": "euros"}

_AMOUNT = re.compile(r"([$£€])(\d+)(?:\.(\d{2}))?")
_ORDINAL = re.compile(r"\b(\d+)(st|nd|rd|th)\b")
_NUMBER = re.compile(r"\d+")


def number_words(n: int) -> str:
    """``49`` -> ``forty nine``; numbers of four digits or more are read digit by digit."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        rest = "" if n % 100 == 0 else " and " + number_words(n % 100)
        return _ONES[n // 100] + " hundred" + rest
    return " ".join(_ONES[int(d)] for d in str(n))


def add_typo(text: str, rng: random.Random) -> str:
    """Misspell one word of four letters or more: swap, drop or double a letter."""
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not candidates:
        return text
    i = rng.choice(candidates)
    w = words[i]
    j = rng.randrange(1, len(w) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        w = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    elif kind == 1:
        w = w[:j] + w[j + 1 :]
    else:
        w = w[:j] + w[j] + w[j:]
    words[i] = w
    return " ".join(words)


def _chat(text: str, rng: random.Random) -> str:
    for pattern, short in _CHAT_ABBREVIATIONS:
        if rng.random() < 0.35:
            text = re.sub(pattern, short, text)
    if rng.random() < 0.5:
        text = text.rstrip(".!")
    if rng.random() < 0.4:
        text = rng.choice(_CHAT_GREETINGS) + rng.choice((" ", ", ", "! ")) + text
    if rng.random() < 0.2:
        text += rng.choice(_CHAT_SUFFIXES)
    if rng.random() < 0.55:
        text = text.lower()
    for _ in range(rng.choices((0, 1, 2), weights=(0.65, 0.27, 0.08))[0]):
        text = add_typo(text, rng)
    return text


def _email(text: str, rng: random.Random) -> str:
    if rng.random() < 0.1:
        text = add_typo(text, rng)
    greeting = rng.choice(_EMAIL_GREETINGS)
    signoff = f"{rng.choice(_EMAIL_SIGNOFFS)}\n{rng.choice(_NAMES)}"
    return f"{greeting}\n\n{text}\n\n{signoff}"


def _spell_numbers(text: str) -> str:
    def amount(m: re.Match[str]) -> str:
        spoken = f"{number_words(int(m.group(2)))} {_CURRENCIES[m.group(1)]}"
        cents = m.group(3)
        return spoken if cents in (None, "00") else f"{spoken} {number_words(int(cents))}"

    text = _AMOUNT.sub(amount, text)
    text = _ORDINAL.sub(lambda m: _ORDINALS.get(m.group(0), number_words(int(m.group(1)))), text)
    # Recognisers write long numbers (order references) as digits and small ones as words.
    return _NUMBER.sub(
        lambda m: m.group(0) if len(m.group(0)) > 3 else number_words(int(m.group(0))), text
    )


def _voice(text: str, rng: random.Random) -> str:
    text = _spell_numbers(text).lower()
    text = re.sub(r"[^\w\s']", " ", text)
    words = text.split()
    if rng.random() < 0.6:
        words = rng.choice(_VOICE_STARTERS).split() + words
    spoken: list[str] = []
    for w in words:
        if rng.random() < 0.05:
            spoken.append(rng.choice(_VOICE_FILLERS))
        if rng.random() < 0.01:
            spoken.append(w)  # a stutter: "i i"
        spoken.append(_MISHEARD[w] if w in _MISHEARD and rng.random() < 0.1 else w)
    return " ".join(spoken)


_STYLERS: dict[str, Callable[[str, random.Random], str]] = {
    "chat": _chat,
    "email": _email,
    "voice_transcript": _voice,
}


def style(text: str, channel: str, rng: random.Random) -> str:
    """Render a clean query as it arrives through ``channel``."""
    return _STYLERS[channel](text, rng)
