"""Wordings the Acme Cloud ticket generator composes (used by ``generate.py``).

ISSUES[category] is a list of issues; each has several ways a customer states it (``say``), a fixed
priority or ``any`` (then the urgency cue decides), and several correct one- or two-sentence replies.
Placeholders such as {product} and {amount} are filled per ticket.
"""

OPENERS = [
    "Hi,", "Hello team,", "Good morning,", "Hey there,", "Hi Acme support,", "Hello,", "Dear support,",
    "Quick question:", "Hi folks,", "Greetings,", "Hello from our ops team,", "Hi, hoping you can help.",
    "Writing from the {plan} account {account}.", "Hi, first time contacting you.", "",
    "Hope you are well.", "Morning all,", "Hi again,", "Hello, our CTO asked me to reach out.", "Sorry to bother you,",
    "Good afternoon,", "Hi, following up from the chat widget.", "Hello there, support team.",
]  # fmt: skip

ACKNOWLEDGEMENTS = {
    "high": [
        "Thanks for flagging this right away.",
        "Understood, this has our full attention.",
        "Sorry for the disruption.",
        "",
    ],
    "medium": ["Thanks for the clear report.", "Sorry for the hassle.", "Thanks for letting us know.", ""],
    "low": ["Good question.", "Thanks for reaching out.", "Happy to help.", ""],
}
FOLLOW_UPS = [
    "",
    "",
    "Reply to this ticket if anything else comes up.",
    "I will keep the ticket open until you confirm.",
    "Let us know if that does not solve it.",
    "You will get an email as soon as there is news.",
]

CLOSINGS = [
    "Thanks!", "Thanks in advance.", "Appreciate the help.", "Cheers.", "Let me know what you need from me.",
    "Thank you.", "Looking forward to your answer.", "Any pointers welcome.", "", "", "Best wishes.",
    "Thanks a lot for looking into it.", "Have a good day.", "Grateful for any help.", "Kind regards.",
]  # fmt: skip

URGENCY = {
    "high": [
        "This is blocking our production launch right now.", "Our customers are affected as we speak.",
        "Please treat this as urgent.", "We are losing revenue every hour this continues.",
        "Our on-call engineers have been paged twice already.", "Management is asking for an update every hour.",
        "This needs attention today, our whole team is stuck.", "It is critical for us, please escalate.",
    ],
    "medium": [
        "It is slowing us down but we have a workaround for now.", "Would be good to sort this out this week.",
        "Not an emergency, but it is annoying our team.", "", "We'd like a fix before our next billing cycle.",
        "A reply in the next day or two would be fine.", "It affects a handful of users, not everyone.",
    ],
    "low": [
        "No rush at all.", "Whenever you have a moment.", "Just curious, nothing is broken.",
        "Low priority on our side.", "Asking ahead of planning next quarter.", "",
        "Purely informational for now.", "This can wait until next week.",
    ],
}  # fmt: skip

DETAILS = {
    "billing": [
        "The charge shows on our card statement from {month} {day}.", "Our finance team flagged it in the {month} reconciliation.",
        "We are on the {plan} plan, billed monthly.", "The account id is {account}.", "I checked the billing page twice.",
        "We switched cards in {month}, if that matters.", "Our purchase order requires an exact match.",
    ],
    "technical": [
        "It happens in {region} only.", "We see it for about {count} out of every hundred requests.",
        "It started after the deploy on {month} {day}.", "The status page says everything is operational.",
        "Retrying after {minutes} minutes sometimes helps.", "Our logs show {error} each time.",
        "We are using the Python SDK, latest version.", "Nothing changed on our side as far as we can tell.",
    ],
    "account": [
        "The account id is {account}.", "We have {count} people on the workspace.", "I am the workspace owner.",
        "Our company uses single sign-on for everything else.", "I tried the help center article already.",
        "This is for the {plan} workspace.",
    ],
    "shipping": [
        "The order number is {order}.", "It was shipped with {carrier}.", "We ordered {count} units.",
        "The tracking page has not changed since {month} {day}.", "It is going to our warehouse, not the office.",
        "We need it installed in the {region} data room.",
    ],
    "security": [
        "The account id is {account}.", "Our security team is reviewing it now.", "It was noticed on {month} {day}.",
        "Nobody on our side recognises it.", "We have {count} admins on the account.", "We already rotated our passwords.",
    ],
    "other": [
        "We have been customers since {month}.", "Our team is about {count} engineers.", "We are on the {plan} plan.",
        "I looked through the docs first.", "This came up in our planning meeting.", "",
    ],
}  # fmt: skip

ISSUES = {
    "billing": [
        {"priority": "any", "say": [
            "we were charged twice for the {plan} plan this month, {amount} each time.",
            "our invoice shows a duplicate charge of {amount}.",
            "I see the same {amount} payment two times on our bill.",
        ], "reply": [
            "Sorry about the duplicate charge of {amount}; I have refunded it and you will see it on your card within 5 to 7 business days.",
            "You were indeed billed twice; the second {amount} charge has been reversed and a corrected invoice is on its way.",
        ]},
        {"priority": "low", "say": [
            "could you send us the invoice for {month} as a PDF?",
            "I cannot find the {month} invoice in the billing section.",
            "our accountant needs copies of all invoices since {month}.",
        ], "reply": [
            "You can download every invoice under Billing > Invoices; I have also emailed the {month} PDF to the billing contact on file.",
            "I have sent the requested invoices to your billing contact, and they remain available under Billing > Invoices.",
        ]},
        {"priority": "any", "say": [
            "the {percent}% discount code was not applied to our {plan} renewal.",
            "we were promised {percent}% off but paid the full {amount}.",
        ], "reply": [
            "I have applied the {percent}% discount retroactively and credited the difference to your next invoice.",
            "The discount was missing from the renewal; the difference is now a credit on your account.",
        ]},
        {"priority": "high", "say": [
            "our payment failed and the dashboard says the account will be suspended.",
            "the card payment of {amount} was declined and services are about to be paused.",
        ], "reply": [
            "I have paused the suspension for seven days so you can update the card under Billing > Payment methods.",
            "Your account will stay active while you retry the payment; update the card and the charge will run again automatically.",
        ]},
        {"priority": "low", "say": [
            "how is VAT calculated for customers in the EU?",
            "can we add our tax id so it shows on invoices?",
        ], "reply": [
            "Add your tax id under Billing > Tax settings and it will appear on all future invoices, with VAT handled by reverse charge where it applies.",
            "Once your tax id is saved under Billing > Tax settings, EU invoices use the reverse-charge rule and show the id.",
        ]},
        {"priority": "low", "say": [
            "what would the {plan} plan cost if we paid yearly?",
            "is there a discount for paying the {plan} plan annually?",
        ], "reply": [
            "Yearly billing for the {plan} plan saves about two months compared to monthly; you can switch under Billing > Plan.",
            "Annual billing on the {plan} plan costs the same as ten months, and the switch takes effect at your next renewal.",
        ]},
    ],
    "technical": [
        {"priority": "any", "say": [
            "our {product} calls keep failing with {error}.",
            "requests to {product} in {region} return {error}.",
            "{product} started answering with {error} for part of our traffic.",
        ], "reply": [
            "We are investigating elevated {error} responses for {product}; please retry with exponential backoff and we will update you within the hour.",
            "Thanks for the details; engineering is looking at the {error} errors and I will share the incident report once it is resolved.",
        ]},
        {"priority": "any", "say": [
            "latency on {product} went from milliseconds to several seconds.",
            "{product} became very slow in {region} since this morning.",
        ], "reply": [
            "We see higher latency for {product} and have added capacity; response times should return to normal shortly.",
            "Please send us a request id from a slow call so we can trace it; meanwhile we are checking the cluster that serves your requests.",
        ]},
        {"priority": "medium", "say": [
            "our webhooks from {product} stopped arriving.",
            "webhook deliveries show as failed in the {product} console.",
        ], "reply": [
            "Webhook deliveries are retried for 24 hours; check that your endpoint answers within 10 seconds and re-enable it under Settings > Webhooks.",
            "Your endpoint returned errors, so deliveries were paused; once it is healthy, press Resume on the webhook page.",
        ]},
        {"priority": "low", "say": [
            "is there a way to export {product} metrics to our own monitoring?",
            "can we send {product} metrics to Prometheus or Grafana?",
        ], "reply": [
            "Yes, {product} exposes a Prometheus endpoint and an OpenTelemetry exporter, both described in the monitoring guide.",
            "You can scrape the {product} Prometheus endpoint or use the OpenTelemetry exporter; the monitoring guide shows both setups.",
        ]},
        {"priority": "low", "say": [
            "how do we raise the rate limit for {product}?",
            "what is the request limit per minute on {product}?",
        ], "reply": [
            "Rate limits can be raised on request; tell us the expected peak and we will adjust the limit for your account.",
            "The default limit is listed on the quotas page, and we can raise it once you tell us the peak load you expect.",
        ]},
        {"priority": "high", "say": [
            "our whole {product} cluster in {region} is down.",
            "all {product} instances in {region} stopped responding at once.",
        ], "reply": [
            "We have opened a high-severity incident for {product} in {region} and an engineer is on it now; updates will follow every 30 minutes.",
            "This is confirmed as an outage in {region}; we are failing over and will post updates on the status page.",
        ]},
    ],
    "account": [
        {"priority": "medium", "say": [
            "I cannot reset my password, the reset mail never arrives.",
            "the password reset link says it has expired every time.",
        ], "reply": [
            "I have sent a fresh reset link that stays valid for one hour; check the spam folder if it does not arrive within a few minutes.",
            "Reset links expire after one hour; request a new one and open it in the same browser.",
        ]},
        {"priority": "high", "say": [
            "I lost the phone with my two-factor codes and I am locked out.",
            "our admin is locked out after changing phones and losing 2FA.",
        ], "reply": [
            "For your security we will verify ownership by a call with another workspace admin, after which we can reset two-factor authentication.",
            "Please use one of your recovery codes; if you have none, another admin can reset your two-factor settings from the Members page.",
        ]},
        {"priority": "low", "say": [
            "how do I add {count} colleagues to our workspace?",
            "can I transfer ownership of the workspace to a colleague?",
        ], "reply": [
            "Invite people from Settings > Members; owners can transfer ownership there too, and each person confirms by email.",
            "Everything is on the Members page: invite colleagues there, and the owner can hand over ownership with one click.",
        ]},
        {"priority": "low", "say": [
            "how do I change the email address on my profile?",
            "I need to update the login email of my user.",
        ], "reply": [
            "Go to Profile > Email to change the address; we confirm the change at both the old and the new address.",
            "You can change it under Profile > Email, and the new address becomes your login once you confirm it.",
        ]},
        {"priority": "low", "say": [
            "we want to set up single sign-on with our identity provider.",
            "does Acme Cloud support SAML login for our team?",
        ], "reply": [
            "Single sign-on is available on the Business and Enterprise plans; the setup guide lists the SAML settings your identity provider needs.",
            "Yes, SAML single sign-on is supported on Business and Enterprise, and the SSO settings page walks you through it.",
        ]},
        {"priority": "medium", "say": [
            "SSO login fails with an invalid assertion error.",
            "since we rotated our IdP certificate nobody can sign in through SSO.",
        ], "reply": [
            "An invalid assertion usually means the certificate or audience URL differs; compare both with the values shown on the SSO settings page.",
            "Upload the new identity provider certificate on the SSO settings page and sign-ins will work again.",
        ]},
        {"priority": "low", "say": [
            "please delete our old test workspace and all its data.",
            "we no longer need the sandbox workspace, can you remove it?",
        ], "reply": [
            "I have scheduled the deletion; all data is removed within 30 days and you will receive a confirmation when it is done.",
            "The workspace is marked for deletion and its data will be erased within 30 days.",
        ]},
        {"priority": "low", "say": [
            "we would like to close the account {account}.",
            "how do we cancel our Acme Cloud account completely?",
        ], "reply": [
            "The account can be closed by its owner under Settings > Danger zone; we then delete its data within 30 days.",
            "Only the owner can close the account, from Settings > Danger zone, after exporting anything they want to keep.",
        ]},
    ],
    "shipping": [
        {"priority": "any", "say": [
            "our {hardware} order has not arrived yet.",
            "the {hardware} units we ordered are late.",
        ], "reply": [
            "Your order left our warehouse; I have asked the carrier for an update and will send you the new delivery date.",
            "Your {hardware} shipment is delayed at the carrier; if it has not moved in two days we will send a replacement at no charge.",
        ]},
        {"priority": "high", "say": [
            "the {hardware} arrived damaged and will not power on.",
            "one of the {hardware} boxes was crushed in transit.",
        ], "reply": [
            "Sorry it arrived damaged; a replacement {hardware} ships today with express delivery and a return label is in your inbox.",
            "We will replace the damaged unit right away and collect the broken one with a prepaid label.",
        ]},
        {"priority": "medium", "say": [
            "we need to change the delivery address for order {order}.",
            "can you redirect the {hardware} to a different site?",
        ], "reply": [
            "I have updated the delivery address for your order; the carrier will confirm the change by email.",
            "The shipment can still be redirected; I have asked the carrier to deliver it to the new address.",
        ]},
        {"priority": "low", "say": [
            "who pays import duties on {hardware} orders outside the EU?",
            "will we be charged customs fees for the {hardware}?",
        ], "reply": [
            "Duties and taxes are included in the price for most countries; the checkout shows any remaining fees before you order.",
            "Import duties are prepaid by us for most destinations, and the checkout lists any fee that remains.",
        ]},
        {"priority": "low", "say": [
            "how long does shipping of a {hardware} usually take?",
            "when would a {hardware} ordered today arrive?",
        ], "reply": [
            "Delivery takes three to seven business days depending on the destination, and you get a tracking link as soon as it ships.",
            "Most orders arrive within a week; the tracking link follows by email as soon as the box leaves our warehouse.",
        ]},
    ],
    "security": [
        {"priority": "high", "say": [
            "we got an alert about a login from a country we never work in.",
            "there is an active session on our admin account that nobody recognises.",
        ], "reply": [
            "I have ended all sessions for the account; please reset the password, review the audit log and enable two-factor authentication for every admin.",
            "Treat this as a possible compromise: rotate credentials, revoke unknown sessions, and our security team will review the audit log with you.",
        ]},
        {"priority": "high", "say": [
            "one of our API keys was committed to a public repository.",
            "a developer pasted a production key in a public forum by mistake.",
        ], "reply": [
            "Revoke the exposed key under Settings > API keys now and create a new one; we will check the usage logs for any calls made with it.",
            "I have disabled the leaked key; issue a new key and tell us if you see any activity you do not recognise.",
        ]},
        {"priority": "medium", "say": [
            "we received an email pretending to be from Acme billing asking for card details.",
            "is this message asking us to confirm our login genuine?",
        ], "reply": [
            "That message is not from us; we never ask for card details or passwords by email, so please forward it to our abuse team and delete it.",
            "Thanks for reporting it; the email is phishing, and we have added the sender domain to our blocklist.",
        ]},
        {"priority": "low", "say": [
            "could we get a copy of your SOC 2 report for our vendor review?",
            "our procurement team needs your security certifications.",
        ], "reply": [
            "The SOC 2 Type II report is available under a standard NDA from the Trust Center, which also lists our subprocessors.",
            "You can request the SOC 2 Type II and ISO 27001 documents from our Trust Center after signing the NDA there.",
        ]},
        {"priority": "low", "say": [
            "do you support customer-managed encryption keys?",
            "is our data encrypted at rest?",
        ], "reply": [
            "All data is encrypted at rest with AES-256, and customer-managed keys are available on the Enterprise plan.",
            "Yes, everything is encrypted at rest with AES-256; Enterprise customers can also bring their own keys.",
        ]},
    ],
    "other": [
        {"priority": "low", "say": [
            "it would be great if {product} had a dark mode.",
            "we would love a Terraform provider for {product}.",
            "please consider adding an audit export to {product}.",
        ], "reply": [
            "Thanks for the suggestion; I have added it to our feature request tracker and shared your use case with the {product} team.",
            "That is a great idea; I have logged the request and you will hear from us if it makes the roadmap.",
        ]},
        {"priority": "low", "say": [
            "we would like to talk about a reseller partnership.",
            "who should we contact about a joint webinar?",
        ], "reply": [
            "I have passed your note to our partnerships team, who will get in touch within a few business days.",
            "Our partner team handles this; they will reach out to you directly this week.",
        ]},
        {"priority": "low", "say": [
            "just wanted to say the new {product} console is excellent.",
            "your team solved our issue last week quickly, thank you.",
        ], "reply": [
            "Thank you for the kind words; I have shared them with the team.",
            "We are glad it helped, and thanks for taking the time to tell us.",
        ]},
    ],
}  # fmt: skip

OUT_OF_SCOPE = [
    ("Can you recommend a good laptop for programming?", "I can only help with Acme Cloud products and your account, so I cannot recommend hardware from other vendors."),
    ("What is the weather going to be like tomorrow?", "I am the Acme Cloud support assistant and cannot check the weather, but I am happy to help with your account or our services."),
    ("Can you write a short poem about the sea?", "I am here for Acme Cloud support questions, so I will leave the poetry to others; let me know if anything in your account needs attention."),
    ("Who won the football match last night?", "I only have information about Acme Cloud services, so I cannot help with sports results."),
]  # fmt: skip
