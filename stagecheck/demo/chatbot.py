"""The demo's chatbot mode (``stagecheck demo-server --chatbot``): free-text support answers.

A small knowledge base of support answers keyed by topic. A question gets the answer of the topic
whose keywords it mentions most (ties: the first topic in the list), so a question that mixes
topics or words them unusually gets a wrong-topic answer. Imperfect on purpose, and the same in
every run: a fixed share of questions (by a hash of their text) gets the topic's short answer,
which leaves out the detail a reference requires (the "30 days" of the refund policy...).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

__all__ = ["Topic", "KNOWLEDGE_BASE", "SupportBot", "FALLBACK_ANSWER"]


@dataclass(frozen=True)
class Topic:
    name: str
    keywords: tuple[str, ...]
    answer: str
    short: str  # the same topic, without its key detail


def _t(name: str, keywords: str, answer: str, short: str) -> Topic:
    return Topic(name, tuple(keywords.split()), answer, short)


KNOWLEDGE_BASE: tuple[Topic, ...] = (
    _t(
        "refund",
        "refund refunds money back reimburse",
        "You can ask for a refund within 30 days of delivery; the money goes back to your "
        "original payment method within 5 business days.",
        "You can ask for a refund from your orders page.",
    ),
    _t(
        "shipping",
        "shipping ship arrive delivery deliver long",
        "Standard shipping takes 3 to 5 business days; express shipping arrives in 1 to 2 "
        "business days.",
        "Shipping usually takes a few days.",
    ),
    _t(
        "password",
        "password reset forgot login locked",
        "To reset your password, click 'Forgot password' on the sign-in page and follow the "
        "link we email you; the link expires after 24 hours.",
        "Use the 'Forgot password' link on the sign-in page.",
    ),
    _t(
        "tracking",
        "track tracking where package status",
        "You can track your order from the Orders page: open the order and click 'Track "
        "package' to see the carrier's tracking number.",
        "Your order status is on the Orders page.",
    ),
    _t(
        "cancel",
        "cancel cancellation stop",
        "You can cancel an order within 1 hour of placing it from the Orders page; after that "
        "it has shipped and you can return it instead.",
        "Orders can be cancelled from the Orders page.",
    ),
    _t(
        "address",
        "address change move",
        "To change the delivery address, edit the order before it ships; once shipped, the "
        "carrier cannot redirect it.",
        "You can edit the address on the order.",
    ),
    _t(
        "giftcard",
        "gift giftcard voucher",
        "Gift cards are valid for 12 months and can be redeemed at checkout in the 'Gift card' "
        "field.",
        "Gift cards can be used at checkout.",
    ),
    _t(
        "payment",
        "pay payment card paypal methods",
        "We accept Visa, Mastercard, American Express, PayPal and Apple Pay.",
        "We accept the major cards.",
    ),
    _t(
        "international",
        "international internationally abroad country countries overseas customs",
        "We ship to 40 countries; international delivery takes 7 to 14 business days and "
        "customs duties are paid by the recipient.",
        "We ship to many countries.",
    ),
    _t(
        "return",
        "return label send",
        "To return an item, print the free return label from the Orders page and drop the "
        "parcel at any post office within 30 days.",
        "Print a return label from the Orders page.",
    ),
    _t(
        "damaged",
        "damaged broken defective arrived",
        "Sorry about that! Send us a photo of the damaged item within 7 days and we will ship "
        "a free replacement.",
        "Sorry about that! Contact us and we will help.",
    ),
    _t(
        "warranty",
        "warranty guarantee repair",
        "All electronics come with a 2-year warranty covering manufacturing defects; repairs "
        "are free under warranty.",
        "Electronics come with a warranty.",
    ),
    _t(
        "account",
        "account delete close data",
        "To delete your account, go to Settings, then Privacy, then 'Delete account'; your data "
        "is erased within 30 days.",
        "You can delete your account in Settings.",
    ),
    _t(
        "subscription",
        "subscription membership plan renew renewal",
        "You can cancel your subscription any time in Settings under Billing; it stays active "
        "until the end of the current billing period.",
        "Manage your subscription in Settings.",
    ),
    _t(
        "invoice",
        "invoice receipt vat bill",
        "Invoices are in the Orders page: open the order and click 'Download invoice' to get a "
        "PDF with VAT.",
        "Invoices are in the Orders page.",
    ),
    _t(
        "hours",
        "hours open opening support phone",
        "Our support team is available Monday to Friday from 9 am to 6 pm by chat or phone.",
        "Our support team is available on weekdays.",
    ),
    _t(
        "pricematch",
        "price match cheaper lower",
        "We match a lower price from a major retailer within 14 days of your purchase; send us "
        "a link to the offer.",
        "We may match lower prices.",
    ),
    _t(
        "exchange",
        "exchange size swap",
        "You can exchange an item for another size or colour within 30 days; the exchange "
        "shipping is free.",
        "Exchanges are possible from the Orders page.",
    ),
    _t(
        "twofactor",
        "two-factor 2fa authentication code authenticator",
        "Turn on two-factor authentication in Settings under Security; we send a 6-digit code "
        "by text message or authenticator app at each sign-in.",
        "Two-factor authentication is in Settings.",
    ),
    _t(
        "human",
        "human agent person representative speak",
        "You can talk to a human agent from the Help page by clicking 'Chat with us'; the "
        "usual wait is under 5 minutes.",
        "You can chat with us from the Help page.",
    ),
)

FALLBACK_ANSWER = (
    "I'm sorry, I did not understand your question. Could you rephrase it, or ask to talk to "
    "a human agent?"
)
_WORD = re.compile(r"[a-z0-9-]+")


class SupportBot:
    """Answers a support question from :data:`KNOWLEDGE_BASE`; ``short_share`` of questions
    (by a hash of their text, fixed across runs) get the short answer."""

    def __init__(self, short_share: float = 0.15, seed: int = 0) -> None:
        self.short_share = short_share
        self.seed = seed
        self._index: dict[str, list[int]] = {}
        for i, topic in enumerate(KNOWLEDGE_BASE):
            for word in topic.keywords:
                self._index.setdefault(word, []).append(i)

    def topic(self, question: str) -> Topic | None:
        counts = [0] * len(KNOWLEDGE_BASE)
        for word in _WORD.findall(question.lower()):
            for stem in {word, word.rstrip("s"), word.removesuffix("ing"), word.removesuffix("ed")}:
                for i in self._index.get(stem, ()):
                    counts[i] += 1
        best = max(range(len(counts)), key=lambda i: (counts[i], -i))
        return KNOWLEDGE_BASE[best] if counts[best] else None

    def answer(self, question: str) -> str:
        topic = self.topic(question)
        if topic is None:
            return FALLBACK_ANSWER
        digest = hashlib.blake2b(f"{self.seed}/{question}".encode(), digest_size=8).digest()
        if int.from_bytes(digest, "big") / 2**64 < self.short_share:
            return topic.short
        return topic.answer
