"""A likely typo in the domain of an e-mail address ("gmial.de", "web.dee"), pointed out before
registering: a confirmation mail to a wrong address is the FAQ's first "no e-mail" cause.

Pure. portal.js does the same on the page, with the same list (the form carries it).
"""

# Common mail domains in Germany, the most used first: a tie goes to the earlier one. A domain
# listed here is never "corrected", so real neighbours (gmx.at, mail.de) are listed too.
KNOWN_DOMAINS = (
    "gmail.com",
    "web.de",
    "gmx.de",
    "t-online.de",
    "gmx.net",
    "googlemail.com",
    "yahoo.de",
    "outlook.de",
    "outlook.com",
    "hotmail.de",
    "hotmail.com",
    "icloud.com",
    "freenet.de",
    "aol.com",
    "aol.de",
    "arcor.de",
    "posteo.de",
    "mailbox.org",
    "online.de",
    "1und1.de",
    "ionos.de",
    "live.de",
    "live.com",
    "yahoo.com",
    "gmx.at",
    "gmx.ch",
    "gmx.com",
    "gmx.org",
    "mail.de",
    "email.de",
    "mail.com",
    "me.com",
    "mac.com",
    "msn.com",
    "magenta.de",
    "vodafone.de",
    "kabelmail.de",
    "ewe.net",
    "posteo.net",
    "proton.me",
    "protonmail.com",
    "t-online.com",
    "web.com",
    "outlook.at",
    "hotmail.at",
    "live.at",
    "yahoo.at",
    "yahoo.fr",
    "hotmail.fr",
    "outlook.fr",
)
_SPLIT = tuple((known.rpartition(".")[0], known.rpartition(".")[2], known) for known in KNOWN_DOMAINS)
_WITHOUT_DOTS = {known.replace(".", ""): known for known in KNOWN_DOMAINS}
SHORT_NAME = 4  # "web", "gmx", "live": one edit away is already a different word


def distance(a: str, b: str) -> int:
    """Edits (insert, delete, replace, swap two neighbours) that make `a` into `b`."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def _cost(name: str, tld: str, known_name: str, known_tld: str) -> int | None:
    name_edits, tld_edits = distance(name, known_name), distance(tld, known_tld)
    if len(known_name) <= SHORT_NAME:
        return name_edits + tld_edits if name_edits + tld_edits <= 1 else None
    # A longer name, once recognised, may carry any wrong ending: gmail.de means gmail.com.
    cost = name_edits + min(tld_edits, 1)
    return cost if name_edits <= 2 and cost <= 2 else None


def suggest_domain(domain: str) -> str | None:
    domain = domain.strip().lower().rstrip(".")
    if not domain or domain in KNOWN_DOMAINS:
        return None
    if "." not in domain:
        return _WITHOUT_DOTS.get(domain)
    name, _, tld = domain.rpartition(".")
    best: tuple[int, str] | None = None
    for known_name, known_tld, known in _SPLIT:
        cost = _cost(name, tld, known_name, known_tld)
        if cost is not None and (best is None or cost < best[0]):
            best = (cost, known)
    return best[1] if best else None


def suggest(email: str) -> str | None:
    """The address with the likely meant domain, or None if nothing looks mistyped."""
    local, at, domain = email.strip().rpartition("@")
    if not at or not local:
        return None
    better = suggest_domain(domain)
    return f"{local}@{better}" if better else None
