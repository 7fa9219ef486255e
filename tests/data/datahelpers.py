"""Builders for data-stage tests: chat rows, JSONL files, and a seeded dataset with known defects.

The seeded dataset is made of pseudo-random "tickets" (words drawn from a synthetic vocabulary, so
two clean tickets share almost no shingles); defects are injected with their ground truth recorded,
so each detector's precision and recall can be measured exactly.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "support"

SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ra",
    "te",
    "su",
    "no",
    "vi",
    "pe",
    "do",
    "ba",
    "ri",
    "zu",
    "fe",
    "go",
    "ha",
    "ji",
    "mo",
    "ne",
    "pa",
]
CATEGORIES = ["billing", "technical", "account", "shipping"]


def chat_row(user: str, assistant: str, **tags: object) -> dict[str, object]:
    return {
        "messages": [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}],
        **tags,
    }


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def vocabulary(size: int = 4000, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def sentence(rng: random.Random, vocab: list[str], low: int, high: int) -> str:
    return " ".join(rng.choice(vocab) for _ in range(rng.randint(low, high)))


def clean_rows(count: int, seed: int = 0) -> list[dict[str, object]]:
    """Distinct examples: 25-45 word prompts, 20-35 word answers, a category tag."""
    rng, vocab = random.Random(seed), vocabulary()
    return [
        chat_row(
            sentence(rng, vocab, 25, 45),
            sentence(rng, vocab, 20, 35),
            category=CATEGORIES[i % len(CATEGORIES)],
        )
        for i in range(count)
    ]


def edit_words(text: str, edits: int, rng: random.Random) -> str:
    """Replace ``edits`` words at random positions (a near duplicate)."""
    words = text.split()
    for position in rng.sample(range(len(words)), edits):
        words[position] = "zz" + words[position]
    return " ".join(words)


@dataclass
class SeededDataset:
    rows: list[dict[str, object]]
    exact: set[int] = field(default_factory=set)
    """Row indices (0-based) that exactly duplicate an earlier row."""
    near: set[int] = field(default_factory=set)
    """Row indices that nearly duplicate an earlier row."""


def seeded_dataset(seed: int = 1) -> SeededDataset:
    """200 clean rows, then 40 exact duplicates (case and spacing changed) and 40 near duplicates (one
    word of the prompt changed in 45-80 words: shingle Jaccard >= 0.85)."""
    rng = random.Random(seed)
    rows = clean_rows(200, seed)
    data = SeededDataset(rows=list(rows))
    for source in rng.sample(range(200), 40):
        copy = json.loads(json.dumps(rows[source]))
        copy["messages"][0]["content"] = "  " + copy["messages"][0]["content"].upper() + " "
        data.exact.add(len(data.rows))
        data.rows.append(copy)
    for source in rng.sample(range(200), 40):
        copy = json.loads(json.dumps(rows[source]))
        copy["messages"][0]["content"] = edit_words(copy["messages"][0]["content"], 1, rng)
        data.near.add(len(data.rows))
        data.rows.append(copy)
    return data


def label_rows(count: int, seed: int = 3) -> tuple[list[dict[str, object]], set[int]]:
    """A classification dataset (answers are labels) with 15 conflicting repeats; returns rows and
    the indices of the conflicting repeats."""
    rng, vocab = random.Random(seed), vocabulary(seed=seed)
    rows = [chat_row(sentence(rng, vocab, 12, 25), CATEGORIES[i % 4]) for i in range(count)]
    conflicts = set()
    for source in rng.sample(range(count), 15):
        label = rows[source]["messages"][1]["content"]  # type: ignore[index]
        other = CATEGORIES[(CATEGORIES.index(label) + 1) % 4]
        conflicts.add(len(rows))
        rows.append(chat_row(rows[source]["messages"][0]["content"], other))  # type: ignore[index]
    return rows, conflicts


# Personal data and secrets, each in a realistic sentence: (text, kind)
PII_POSITIVES = [
    ("Please write to maria.lopez@example.org about it", "email"),
    ("my address is j.doe+billing@corp-mail.co.uk", "email"),
    ("cc ops_team@acme.io on the reply", "email"),
    ("Call me on +44 20 7946 0958 after five", "phone"),
    ("my cell is (415) 555-0132", "phone"),
    ("reach us at 212-555-0187 during office hours", "phone"),
    ("phone +1 415 555 2671 is the hotline", "phone"),
    ("the number +4915112345678 is mine", "phone"),
    ("card 4111 1111 1111 1111 expires soon", "card_number"),
    ("charge 5500-0000-0000-0004 instead", "card_number"),
    ("Amex 3782 822463 10005 was declined", "card_number"),
    ("visa 4012888888881881 please", "card_number"),
    ("IBAN GB82 WEST 1234 5698 7654 32 for the refund", "iban"),
    ("pay to DE89370400440532013000 today", "iban"),
    ("account FR1420041010050500013M02606", "iban"),
    ("my SSN is 123-45-6789", "national_id"),
    ("social security 078-05-1120 on file", "national_id"),
    ("NI number AB 12 34 56 C", "national_id"),
    ("DNI 12345678Z for the invoice", "national_id"),
    ("NIE X1234567L attached", "national_id"),
    ("the server at 192.168.10.24 is down", "ip_address"),
    ("blocked IP 203.0.113.77 keeps retrying", "ip_address"),
    ("our IPv6 is 2001:db8:85a3::8a2e:370:7334", "ip_address"),
    ("My name is Maria Gonzalez and I need help", "person_name"),
    ("Dear Mr. Thompson, thanks for writing", "person_name"),
    ("Regards,\nJohn Carter", "person_name"),
    ("Sarah Connor called about the contract", "person_name"),
    ("I spoke with Dr. Patel yesterday", "person_name"),
    ("key AKIAIOSFODNN7EXAMPLE leaked", "api_key"),
    ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789 in the repo", "token"),
    ("api_key=9f8e7d6c5b4a3f2e1d0c", "api_key"),
    ("OPENAI sk-proj-abcdefghijklmnopqrstuvwx1234", "api_key"),
    ("slack xoxb-123456789012-abcdefghijkl", "token"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----", "private_key"),
    (
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "token",
    ),
    ("password: Tr0ub4dor&3xyz", "password"),
    ("the blob Zx9QwE3rT5yU7iO1pA2sD4fG6hJ8kL0mN2bV", "high_entropy"),
    ("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "api_key"),
    ("google AIzaSyA-1234567890abcdefghijklmnopqrstu", "api_key"),
    ("email me: li.wei@example.cn", "email"),
]

# Look-alikes that are not personal data or secrets
PII_NEGATIVES = [
    "Order ORD-20240315-8812 shipped on 2024-03-15 for $1,249.99",
    "Version 2.4.1.3 is out, upgrade from v10.2.0.1",
    "Invoice 4111111111111112 is still unpaid",
    "Ticket #558823 was opened at 10:30:00 UTC",
    "Tracking number 1Z999AA10123456784 with UPS",
    "Commit 3f2a9c1e8b7d6f5a4c3b2a1908f7e6d5c4b3a291 was merged",
    "Request id 123e4567-e89b-12d3-a456-426614174000 failed",
    "Please reset your password from the settings page",
    "The Acme Cloud Support Team will get back to you",
    "The May Update introduces a Grace Period for renewals",
    "Our office is at suite 400, ZIP code 94107",
    "Call us between 9 and 5 on weekdays",
    "The price is 12.50 EUR and the quantity is 3",
    "The API key is stored in the vault, never in code",
    "Windows error code 0x80070005 appears on boot",
    "Plan Pro costs 49 per month from 2024-01-01 to 2024-12-31",
    "Use std::vector and a::b scopes in C++",
    "Build 1.2.3.4 of the agent fixes the leak",
    "The meeting moved to Tuesday, March 12 at 14:00",
    "Our SLA promises 99.95% uptime per quarter",
    "Set api_key=<your-key> in the config file",
    "password: ********",
    "Ask the Paris Office or the Berlin Team",
    "Happy New Year from all of us",
    "Read chapter 3.2.1 of the manual",
    "The batch contains 1200 rows and 35 columns",
    "Page 12 of 40, section 4.5",
    "Sensor reading 23.5 degrees at 08:15",
    "Use the token endpoint to refresh sessions",
    "Our company registration number is 08765432 in the register",
]


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    digits = prefix + "".join(str(rng.randint(0, 9)) for _ in range(length - len(prefix) - 1))
    for check in "0123456789":
        candidate = digits + check
        total = 0
        for index, char in enumerate(reversed(candidate)):
            value = int(char) * (2 if index % 2 else 1)
            total += value - 9 if value > 9 else value
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


def _iban(country: str, length: int, rng: random.Random) -> str:
    bban = "".join(str(rng.randint(0, 9)) for _ in range(length - 4))
    numeric = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    return f"{country}{98 - numeric % 97:02d}{bban}"


def generated_pii(count: int = 50, seed: int = 9) -> list[tuple[str, str]]:
    """``count`` random values of each structured kind, embedded in sentences: (text, kind)."""
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    names = ["anna", "li.wei", "j.smith", "ops-team", "billing+eu", "k_nguyen"]
    domains = ["example.com", "corp.co.uk", "mail.example.org", "acme.io"]
    for _ in range(count):
        out.append((f"contact {rng.choice(names)}{rng.randint(1, 99)}@{rng.choice(domains)} today", "email"))
        prefix, length = rng.choice(
            [("4", 16), ("51", 16), ("55", 16), ("37", 15), ("6011", 16), ("2221", 16)]
        )
        card = _luhn_complete(prefix, length, rng)
        spaced = " ".join(card[i : i + 4] for i in range(0, len(card), 4)) if rng.random() < 0.5 else card
        out.append((f"please charge {spaced} for the renewal", "card_number"))
        country, iban_length = rng.choice(
            [("DE", 22), ("GB", 22), ("FR", 27), ("NL", 18), ("ES", 24), ("IT", 27)]
        )
        iban = _iban(country, iban_length, rng)
        if country == "GB":
            iban = iban[:4] + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(4)) + iban[8:]
            iban = _iban_fix(iban)
        out.append((f"wire it to {iban} please", "iban"))
        area = rng.choice([n for n in range(1, 900) if n != 666])
        out.append(
            (f"my SSN is {area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}", "national_id")
        )
        out.append(
            (
                f"call me at +1 {rng.randint(200, 999)} {rng.randint(200, 999)} {rng.randint(1000, 9999)}",
                "phone",
            )
        )
        out.append(
            (
                f"phone ({rng.randint(200, 999)}) {rng.randint(200, 999)}-{rng.randint(1000, 9999)} works",
                "phone",
            )
        )
        out.append(
            (
                f"server {rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)} is down",
                "ip_address",
            )
        )
    return out


def _iban_fix(iban: str) -> str:
    """Recompute the check digits after changing the bank code letters."""
    rest = iban[4:]
    numeric = int("".join(str(int(c, 36)) for c in rest + iban[:2] + "00"))
    return f"{iban[:2]}{98 - numeric % 97:02d}{rest}"


def generated_negatives(count: int = 200, seed: int = 10) -> list[str]:
    """Numbers and identifiers that look like PII but are not."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        out.append(rng.choice([
            f"order ORD-{rng.randint(10**7, 10**8 - 1)} shipped",
            f"total ${rng.randint(1, 9999)}.{rng.randint(0, 99):02d} due on 2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            f"version {rng.randint(1, 20)}.{rng.randint(0, 9)}.{rng.randint(0, 9)} released",
            f"ticket #{rng.randint(1000, 999999)} at {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}",
            f"commit {''.join(rng.choice('0123456789abcdef') for _ in range(40))}",
            f"invoice {rng.randint(10**11, 10**12 - 1)} attached",
            f"{rng.randint(2, 500)} users on {rng.randint(1, 40)} servers",
            f"build v{rng.randint(1, 9)}.{rng.randint(0, 300)}.{rng.randint(0, 300)}.{rng.randint(0, 300)} is out",
        ]))  # fmt: skip
    return out
