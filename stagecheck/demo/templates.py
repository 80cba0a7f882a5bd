"""Hand-written phrasing for the support-intents dataset: templates, asides and slot vocabulary.

This module is data, not logic; ``make_dataset`` composes rows from it. Labelling rule: the
label is what the customer wants done *now*. Distractor words from other intents (a refund
mentioned in passing, a negated "I don't want to cancel") never change the label; they are
what makes the complex slice hard, as in real support traffic.

``{slot}`` fields are filled from ``SLOTS``. Templates are plain sentences with normal
capitalisation and punctuation; the channel styling (chat, email, voice transcript) is applied
afterwards.
"""

from __future__ import annotations

__all__ = [
    "INTENTS",
    "SIMPLE",
    "COMPLEX",
    "CONTEXT",
    "NEGATIONS",
    "ASIDES",
    "COMPATIBLE",
    "CLOSINGS",
    "SLOTS",
]

INTENTS: tuple[str, ...] = (
    "billing",
    "refund",
    "shipping",
    "cancel_order",
    "order_change",
    "return_exchange",
    "account_access",
    "product_info",
    "technical_issue",
    "complaint",
)

# Short, one clear intent, the words people typically use for it.
SIMPLE: dict[str, list[str]] = {
    "billing": [
        "I was charged twice for order {order}.",
        "Why was I charged {amount}?",
        "Can I get an invoice for my last purchase?",
        "I need a VAT invoice for order {order}.",
        "There's a charge on my {payment} I don't recognise.",
        "How do I update my payment method?",
        "My card was charged the wrong amount.",
        "What is this {amount} fee on my statement?",
        "Can I pay with {payment}?",
        "I need a copy of the receipt for order {order}.",
        "Please change the billing address on my account.",
        "Do you charge extra for paying in instalments?",
        "I was billed {amount} but the price said less.",
        "Where can I download my invoices?",
        "Why is there a pending charge on my {payment}?",
    ],
    "refund": [
        "I want a refund for my {product}.",
        "Where is my refund?",
        "How long do refunds take?",
        "Please refund order {order}.",
        "I haven't received my refund yet.",
        "Can I get my money back?",
        "What's the refund status for order {order}?",
        "I returned the {product} {days} ago and still no refund.",
        "When will my refund show up on my {payment}?",
        "I'd like my money back for the {product}.",
        "Can you refund the shipping cost?",
        "Refund please, the {product} is not what I expected.",
        "My refund for order {order} is missing.",
        "Has my refund been processed?",
    ],
    "shipping": [
        "Where is my order {order}?",
        "My package hasn't arrived.",
        "How much is shipping to {country}?",
        "How can I track my order?",
        "When will my {product} be delivered?",
        "The tracking hasn't updated in {days}.",
        "Do you ship to {country}?",
        "What's the delivery time for express shipping?",
        "My parcel says delivered but I don't have it.",
        "Which courier do you use?",
        "Has my order shipped yet?",
        "Is my {product} out for delivery today?",
        "Can I get a tracking number for order {order}?",
        "My delivery from {carrier} is late.",
    ],
    "cancel_order": [
        "Cancel my order please.",
        "I want to cancel order {order}.",
        "How do I cancel an order?",
        "Please cancel the {product} I just ordered.",
        "Can I still cancel my order?",
        "I ordered by mistake, please cancel it.",
        "Stop order {order} from shipping, I want to cancel.",
        "Cancel order {order}, I no longer need it.",
        "I need to cancel my purchase from {day}.",
        "Is it too late to cancel order {order}?",
        "Please cancel my whole order.",
    ],
    "order_change": [
        "Can I change the delivery address on my order?",
        "I need to change the size on my order.",
        "Can I add an item to order {order}?",
        "Please change the shipping address for order {order}.",
        "Update the phone number on my order please.",
        "Can I change the colour of the {product} I ordered?",
        "I want to switch my order to express delivery.",
        "How do I edit an order I already placed?",
        "Can I change the quantity on order {order}?",
        "Please change my order to a {size}.",
        "I put the wrong house number on my order.",
    ],
    "return_exchange": [
        "How do I return an item?",
        "I want to exchange my {product} for a different size.",
        "Can I return the {product}?",
        "I need a return label for order {order}.",
        "The {product} is too small, can I swap it?",
        "What's your return policy?",
        "I received a damaged {product} and want a replacement.",
        "Can I exchange this for another colour?",
        "How do I send back the {product}?",
        "I'd like to exchange the {product} for a {size}.",
        "Where do I drop off a return?",
        "Please send a replacement for my broken {product}.",
    ],
    "account_access": [
        "I can't log in to my account.",
        "Please reset my password.",
        "I forgot my password.",
        "My account is locked.",
        "I'm not getting the verification code.",
        "How do I change the email on my account?",
        "The password reset link doesn't work.",
        "I can't sign in.",
        "Someone hacked my account.",
        "How do I turn on two-factor authentication?",
        "I'm locked out of my account.",
        "My login isn't working.",
        "How do I delete my account?",
    ],
    "product_info": [
        "Is the {product} in stock?",
        "What size should I get in the {product}?",
        "Does the {product} come with a warranty?",
        "What material is the {product} made of?",
        "Is the {product} waterproof?",
        "When will the {product} be back in stock?",
        "Does the {product} come in other colours?",
        "What are the dimensions of the {product}?",
        "Is the {product} compatible with iPhone?",
        "How long does the battery last on the {product}?",
        "Does the {product} run true to size?",
        "What's the difference between the two {product} models?",
    ],
    "technical_issue": [
        "The app keeps crashing.",
        "Your website won't load.",
        "The checkout button doesn't work.",
        "I get an error when I try to pay.",
        "The page is blank when I open my orders.",
        "Your app crashes on startup.",
        "I can't add items to my cart.",
        "I'm getting error 500 on your site.",
        "The app freezes on the product page.",
        "Images aren't loading on your website.",
        "The search bar on your site is broken.",
        "The app won't open since the update.",
    ],
    "complaint": [
        "I want to make a complaint.",
        "Your customer service is terrible.",
        "I'm very unhappy with your service.",
        "I want to speak to a manager.",
        "The agent I spoke to was rude.",
        "This is the worst shopping experience I've had.",
        "I want to file a formal complaint.",
        "Nobody answers my emails.",
        "I'm disappointed with how I was treated.",
        "Your staff were really unhelpful today.",
        "I'm sick of waiting on hold for an hour.",
    ],
}

# Long, indirect, sometimes multi-intent; the label is the request the customer is making.
COMPLEX: dict[str, list[str]] = {
    "billing": [
        "I returned a {product} last month and the refund came through fine, but this month "
        "there's another charge of {amount} from you on my {payment} and I have no idea what "
        "it's for. Can you explain it?",
        "I'm not asking for my money back yet, I just want to understand why the total on my "
        "statement is {amount} when the order confirmation said less.",
        "Order {order} was delivered and everything is fine with it, but the invoice lists the "
        "wrong company name and I need a corrected one for my accountant.",
        "The app said the payment failed so I tried again, and now my bank shows two identical "
        "payments of {amount}. Only one order was created.",
        "We switched our company card last week. Where do I put the new card details so the "
        "next orders don't bounce?",
        "My bank statement has a line from your store dated {day} that I didn't make. Nothing "
        "was shipped to me, so what was it for?",
        "Shipping was supposed to be free over fifty dollars but I was billed {amount} for it on "
        "order {order}. Could you look into that charge?",
        "I got an email saying the payment for order {order} didn't go through, yet my "
        "{payment} shows it was taken. Which one is right?",
        "Accounts payable here: we need all invoices from the last quarter in one PDF, with our "
        "tax ID printed on them.",
        "The checkout said {amount} but the amount taken from my account was higher, it looks "
        "like some kind of surcharge was added on top.",
        "I'm on the instalment plan and this month's payment came out a week early, which put "
        "my account into overdraft.",
        "The cancelled order is sorted, but the authorisation hold of {amount} is still sitting "
        "on my {payment}. When does it drop off?",
        "My company needs the invoice addressed to our head office rather than to me personally, "
        "can you reissue it?",
        "You took the money for the {product} in euros even though the site showed pounds, so "
        "my bank added a conversion fee.",
    ],
    "refund": [
        "The {product} arrived cracked and the box was soaked. I don't want a "
        "replacement, I've lost trust in this product. Just send the money back to my "
        "{payment}.",
        "I cancelled order {order} on {day} and got the cancellation email, but the {amount} "
        "still hasn't come back to my account. How much longer?",
        "The {product} was the wrong colour. I sent it back with the prepaid label and the "
        "tracking shows you received it {days} ago, so where is my money?",
        "I'm not unhappy with your service in general, but this {product} didn't do what the "
        "description said, and I'd rather have the {amount} back than store credit.",
        "Your policy says thirty days. It's been twenty and I posted the {product} back "
        "unopened. Please put the money back on the original card.",
        "The parcel came {days} late, so the express delivery fee should be reimbursed to me.",
        "I got back part of my money but I paid {amount} in total, the rest never arrived.",
        "You accepted my return but paid me in store credit. I never asked for credit, I want "
        "it back on my {payment}.",
        "My son ordered a {product} on my account without asking. It hasn't been opened. Can I "
        "send it back and be reimbursed?",
        "The replacement you sent is faulty as well. I give up on this model, I just want what "
        "I paid returned to me.",
        "The sale started the day after I bought the {product}. Can you pay back the price "
        "difference of {amount}?",
        "Your warehouse confirmed the return of order {order} on {day}, yet my bank shows "
        "nothing credited. Could you check where the money went?",
        "Two items from my order were out of stock and never sent, but I was charged for the "
        "whole thing. I'd like those two paid back.",
    ],
    "shipping": [
        "I paid {amount} extra for next day delivery on {day} and there's still nothing, the "
        "{carrier} page just says label created. I need it by the weekend.",
        "The tracking number you emailed doesn't work on the {carrier} website. Has the "
        "{product} actually left your warehouse?",
        "My neighbour says a driver came by but there was no note and no parcel. It's for order "
        "{order}. Can you check with {carrier} where they left it?",
        "I just want to know whether the {product} will arrive before my trip on {day}.",
        "It's been {days} and the status still says in transit. Last time I ordered from you it "
        "took two days, so something is off.",
        "The app says my order is out for delivery but the map shows the van in another city. "
        "Is it actually coming today?",
        "If I order a {product} now, could it go to a pickup point instead of my home? I'm away "
        "most of next week.",
        "Only half of my order came. The box had the {product} but the second item is missing. "
        "Is it coming in a separate parcel?",
        "The {carrier} driver left a card saying they'll try again, but I work during the day. "
        "Can the parcel be held at the depot?",
        "Order {order} was supposed to arrive on {day}. I stayed home all day and nobody came.",
        "I was charged for express but the estimated arrival on the tracking page is exactly "
        "the same as standard. Is it really coming faster?",
        "The box is stuck at customs in {country} according to the tracking. Do I have to do "
        "anything to get it released?",
        "My {product} has been sitting at the sorting centre for {days}. I paid for it, I just "
        "want to know when it moves.",
    ],
    "cancel_order": [
        "I placed order {order} about an hour ago and was already charged {amount}. I found the "
        "same {product} cheaper locally, so please stop it before it ships.",
        "My partner and I both ordered the same {product} this morning. Keep his order and drop "
        "mine, we don't need two.",
        "I'd rather the order never leaves the warehouse than deal with a return later. Is it "
        "too late to call off order {order}?",
        "The estimated delivery is now {days} away, which is too late for the birthday. I'd "
        "rather not have it at all, please scrap the whole order.",
        "I used the wrong card and the wrong address on order {order}. It's easier to just void "
        "that order entirely and I'll place a new one.",
        "Can you make sure order {order} doesn't go out? I changed my mind and I don't want to "
        "deal with sending it back and waiting for my money.",
        "Please withdraw my purchase from {day}, the tracking page says it hasn't been "
        "dispatched yet.",
        "My company's budget for this was pulled, so we won't be going ahead with order {order}. "
        "Nothing has shipped, so please make sure nothing does.",
        "The {product} I ordered on {day} was a duplicate, the first one went through after "
        "all. Please make sure the second one is called off.",
        "I got a confirmation for order {order} but I never meant to press buy, my toddler had "
        "the phone. Please don't send it.",
        "After reading the reviews I no longer want the {product}. It says processing, so "
        "there's still time to stop it, right?",
        "We're moving abroad next week, so please don't send order {order}; I won't be here to "
        "receive it.",
    ],
    "order_change": [
        "I just realised I ordered the {size} instead of the medium. It hasn't shipped yet, so "
        "can you update it rather than me having to return it?",
        "I don't want to cancel, I just typed my old address on order {order}. Can you fix it "
        "before {carrier} picks it up?",
        "Could you put the {product} and the case into one parcel? I ordered them separately "
        "{when} and would rather not pay shipping twice.",
        "My flat number is missing from the address on order {order}, the courier will never "
        "find me without it.",
        "I'd like to swap the {product} in my open order for the newer model, and I'm happy to "
        "pay the difference.",
        "Order {order} is going to my office but I'm on leave from {day}. Can it go to my home "
        "address instead?",
        "I forgot the charger when I ordered the {product} earlier. Is it possible to add it to "
        "the same order before it's packed?",
        "It's a gift, so could you remove the invoice from the parcel and add a gift note to "
        "order {order}?",
        "I picked standard delivery but I'd now like it to arrive by {day}. Can you upgrade the "
        "order, I'll pay whatever extra it costs.",
        "The order still shows my maiden name. Could you put the recipient as my married name so "
        "the concierge accepts the parcel?",
        "I ordered two of the {product} but I only need one. Can you reduce the quantity "
        "instead of cancelling everything?",
        "I'd like the {product} on order {order} in black rather than white, it hasn't been "
        "dispatched yet.",
    ],
    "return_exchange": [
        "I don't want a refund, I want a replacement {product} in {size}. The one you sent "
        "doesn't fit.",
        "The {product} stopped working after {days}. I'm not after my money back, just send me "
        "one that works and I'll post the broken one to you.",
        "Your courier left the box in the rain and the {product} inside is ruined. Can I send it "
        "back and get a new one instead?",
        "I ordered a {size} but it's way too tight. Not cancelling, I love it, I just need the "
        "next size up. What do I do with this one?",
        "The {product} that came with order {order} has a scratched lid. Could you ship a fresh "
        "unit and collect the damaged one?",
        "The colour is completely different from the photos. I'd like to swap it, not get my "
        "money back.",
        "It was a gift and the person already has one. Can they take it to a store for "
        "something else even without the receipt?",
        "Half the pieces in the {product} box are missing. I'd like a complete one sent out; "
        "the incomplete one can go back to you.",
        "I received a {product} that's obviously been used, there are marks all over it. Please "
        "arrange a pickup and send me a new unit.",
        "My {product} was delivered {when} but I ordered the other model. How do I send this "
        "one back and get the right one?",
        "The printer in the bundle works but the cable is broken. Can I just exchange the cable "
        "rather than the whole bundle?",
        "The {product} is fine but too big for the space I have. Is there a way to trade it for "
        "the compact version?",
    ],
    "account_access": [
        "I wanted to download my invoice for order {order} but the site says my password is "
        "wrong, and the reset email never arrives. I've checked spam.",
        "I changed phones and now the two-factor code goes to my old number. I can't get into "
        "my account to check my refund.",
        "There's an order for a {product} in my history that I never placed, and my password "
        "was changed {when}. I think someone got into my account.",
        "I used to log in with Google but that option is gone, and with my email it says no "
        "account exists even though I have orders with you.",
        "I can't see the tracking because your site keeps saying my session is invalid and "
        "sends me back to the sign-in page.",
        "My account got locked after too many attempts. I need to get back in before the sale "
        "ends, I have items in my basket.",
        "My late father's account still has his card on it. How do we get into it to close it?",
        "I've been trying to get into my profile to change the delivery address but it keeps "
        "asking for a code that never comes.",
        "I set up the account with my old work email, which no longer exists. How can I prove "
        "it's mine and move it to a new address?",
        "Your email says my password was reset, but I didn't ask for that. Now none of my "
        "passwords work and I'm worried about my saved card.",
        "I wanted to cancel an order myself but I can't get past the login screen, it says "
        "the account is disabled.",
        "My wife and I share an account and she changed the password without telling me. How do "
        "I get access back with my own email?",
    ],
    "product_info": [
        "Before I order, does the {product} come with a charger in the box, and if not, which one "
        "do you recommend? I don't want to have to return it.",
        "I bought the older model last year and liked it. What's actually different in the new "
        "{product} apart from the price?",
        "My daughter is usually a {size} in other brands. Would that be the same in yours, or do "
        "they run small?",
        "Your site says ships in {days} but also low stock. Is it actually available, or will I "
        "get a cancellation email later?",
        "Is the {product} safe for the dishwasher? The manual I found online says one thing and "
        "the product page says another.",
        "I'm comparing two of your {product} models and the battery figures look identical. Is "
        "one of them better for travel?",
        "Can the {product} be used in {country} with a different voltage, or will I need an "
        "adapter? I'd like to know before buying.",
        "My last {product} from another brand broke after a month. What's the warranty on "
        "yours, and does it cover accidental damage?",
        "Is the {product} the same one that's sold in stores, or a cheaper online-only version? "
        "The reviews are confusing.",
        "I'm allergic to latex. Does the {product} contain any, including in the packaging?",
        "Will the {product} fit in the overhead locker on a plane? I couldn't find the exact "
        "measurements anywhere.",
        "Before I order for my team, can the {product} be engraved, and would that make it "
        "non-returnable?",
    ],
    "technical_issue": [
        "Every time I get to the payment step the page freezes and I have to start again. I've "
        "tried two cards and two browsers. Am I being charged each time?",
        "The tracking page for order {order} shows a spinning wheel forever on my phone, but it "
        "works fine on my laptop.",
        "After the last update the app logs me out every few minutes and empties my basket. My "
        "password works fine, it just won't stay signed in.",
        "I tried to start a return for the {product} but the form says something went wrong "
        "when I click submit.",
        "The discount code is valid according to your email, but the site throws an error "
        "instead of applying it, so the total stays at {amount}.",
        "Your chat widget covers the pay button on mobile, so I literally can't finish the order.",
        "When I open the app on my tablet the screen is just white, nothing loads. Reinstalling "
        "didn't help.",
        "I keep getting an email saying my order was placed, but the orders page on your site "
        "is empty and throws a timeout.",
        "The size guide pop-up on the {product} page won't close, so I can't scroll to the add "
        "to basket button.",
        "The invoice download link returns a 404 page for every order I've made this year.",
        "I'm trying to update my card details and the save button just greys out and nothing "
        "happens.",
        "The app notifications say my refund was issued, but tapping them crashes the app every "
        "time.",
    ],
    "complaint": [
        "This is the third time I'm writing about my refund and every time I get a different "
        "answer. I'm not asking about the money again, I want someone senior to look at how "
        "I've been treated.",
        "Your driver threw the parcel over the fence and when I called, the person on the phone "
        "laughed at me. I want this escalated.",
        "I've been a loyal customer for {years} years and the way your team handled the broken "
        "{product} is a disgrace. I'll be telling everyone I know.",
        "I don't need a replacement, but you should know that waiting {days} for a reply is "
        "unacceptable.",
        "The promised callback never came. Twice. I'm fed up with being passed between "
        "departments.",
        "Please record this as formal feedback: your returns process is confusing and the "
        "staff at the store were dismissive.",
        "I was promised a manager would ring me back {when} about my order. Nobody did, and the "
        "chat agent just closed the conversation on me.",
        "I'm not going to bother asking for a refund because I've given up on getting one. I "
        "just want it on record how badly this was handled.",
        "Every time I contact you I have to explain the whole story again. Whoever is in charge "
        "of customer care needs to hear this.",
        "The delivery finally came but the attitude of your support team along the way was "
        "shocking. I expected much better from a company your size.",
        "Your agent told me the {product} could be exchanged, then the store refused. I was "
        "made to look like a liar in front of other customers.",
        "I'm writing to let you know I'm closing my loyalty membership after {years} years, "
        "because of how dismissive your staff have been lately.",
    ],
}

# Backstory sentences that any complex query may open with; deliberately full of words that
# belong to other intents.
CONTEXT: list[str] = [
    "I ordered a {product} from you on {day}.",
    "I paid {amount} with my {payment}.",
    "I've been a customer for {years} years.",
    "This is about order {order}.",
    "The delivery with {carrier} was already a few days late.",
    "I already spoke to one of your agents on the phone.",
    "I bought this as a birthday present.",
    "I'm writing from my partner's account.",
    "I ordered two things, the {product} and a case.",
    "I had a voucher from your newsletter.",
    "I'm usually very happy with your shop.",
    "I tried the chat on your website first.",
    "It's the {product} I got in the sale.",
    "My order number is {order}.",
]

# Negated mentions of another intent ("I don't want a refund"), keyed by the intent they
# mention. A row only gets negations or asides of the intents listed for its label in
# ``COMPATIBLE``, so that the added sentence never contradicts the request.
NEGATIONS: dict[str, list[str]] = {
    "billing": ["This isn't about the charge itself.", "The payment went through fine."],
    "refund": ["I don't want a refund.", "I'm not asking for my money back."],
    "shipping": ["The delivery isn't the issue.", "I'm not chasing the delivery."],
    "cancel_order": ["I don't want to cancel anything.", "I'm not cancelling the order."],
    "order_change": ["I don't want to change the order."],
    "return_exchange": ["I don't want a replacement.", "I don't need an exchange."],
    "account_access": ["I can log in fine.", "My account works normally."],
    "product_info": ["I'm not asking about the product itself."],
    "technical_issue": ["Your website works fine for me.", "The app isn't the problem."],
    "complaint": ["I'm not complaining.", "Your staff have been lovely so far."],
}

# Asides about another topic that is already settled, keyed by that topic's intent.
ASIDES: dict[str, list[str]] = {
    "billing": ["The invoice came through fine.", "I already got the receipt by email."],
    "refund": ["I got my refund for the other order, that's sorted."],
    "shipping": ["The parcel arrived quickly.", "The courier was friendly."],
    "cancel_order": ["I cancelled a different order last month without any issue."],
    "order_change": ["I already changed my address in the account settings."],
    "return_exchange": ["I returned something last year and that went smoothly."],
    "account_access": ["I reset my password last week and that worked."],
    "product_info": ["The product description was clear."],
    "technical_issue": ["The app was crashing yesterday but it's fine now."],
    "complaint": ["The lady on the phone was very kind."],
}

# For each label, the other intents whose negations and asides fit its requests.
COMPATIBLE: dict[str, tuple[str, ...]] = {
    "billing": ("refund", "cancel_order", "complaint", "return_exchange", "account_access"),
    "refund": ("return_exchange", "complaint", "account_access", "technical_issue"),
    "shipping": ("refund", "cancel_order", "complaint", "order_change", "billing"),
    "cancel_order": ("return_exchange", "complaint", "order_change", "account_access"),
    "order_change": ("cancel_order", "refund", "return_exchange", "complaint"),
    "return_exchange": ("refund", "cancel_order", "complaint", "billing"),
    "account_access": ("billing", "shipping", "complaint", "cancel_order"),
    "product_info": ("complaint", "account_access", "billing", "technical_issue"),
    "technical_issue": ("account_access", "complaint", "billing", "shipping"),
    "complaint": ("refund", "return_exchange", "cancel_order", "order_change"),
}

CLOSINGS: list[str] = [
    "Thanks in advance.",
    "Please get back to me soon.",
    "I've been waiting all day for an answer.",
    "Hope you can help.",
    "Let me know what you need from me.",
    "Appreciate it.",
]

# Slot vocabulary. ``order``, ``amount``, ``years`` are generated and ``a {product}`` gets the
# right article (see make_dataset).
SLOTS: dict[str, list[str]] = {
    "product": [
        "wireless headset",
        "pair of running shoes",
        "coffee machine",
        "laptop sleeve",
        "winter jacket",
        "phone case",
        "smart watch",
        "blender",
        "desk lamp",
        "backpack",
        "yoga mat",
        "bluetooth speaker",
        "air fryer",
        "kids bike",
        "electric toothbrush",
        "office chair",
        "rain jacket",
        "vacuum cleaner",
        "gaming mouse",
        "kettle",
        "pair of hiking boots",
        "baby monitor",
        "tablet stand",
        "sofa cushion",
        "printer",
    ],
    "days": [
        "three days",
        "a week",
        "two weeks",
        "10 days",
        "5 days",
        "four days",
        "over a week",
        "nearly a month",
        "2 weeks",
    ],
    # ``when`` stands alone ("was changed {when}"), ``day`` follows a preposition ("on {day}").
    "when": [
        "yesterday",
        "last week",
        "two days ago",
        "last weekend",
        "this morning",
        "on Monday",
        "on the 14th",
        "a few days ago",
    ],
    "day": ["Monday", "Tuesday", "Friday", "Saturday", "the 3rd", "the 14th", "the 21st"],
    "carrier": ["UPS", "DHL", "FedEx", "USPS", "the courier", "Royal Mail", "DPD", "Hermes"],
    "payment": [
        "credit card",
        "debit card",
        "PayPal",
        "Visa card",
        "Mastercard",
        "Apple Pay",
        "bank account",
        "Amex",
    ],
    "size": ["small", "large", "XL", "size 9", "size 38", "size 12", "XS", "medium"],
    "country": ["Canada", "Germany", "Australia", "Ireland", "Mexico", "Japan", "Norway"],
}
