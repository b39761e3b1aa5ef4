"""Campaign links tagged for the team's web statistics (UTM parameters), per network.

`utm:` in posts/_defaults.yml names the campaign and the domains it applies to:

    utm:
      campaign: wtk2027
      domains: [example.org, veiligthuis.nl]

Every http(s) link in a post's text to one of those domains, or to a subdomain of one
(www.example.org), gets `utm_source=<network>&utm_medium=social&utm_campaign=<campaign>&utm_content=<post id>`
in the text that network gets, so the preview, the length check, Bluesky's link facets and X's
t.co count all see the URL that goes out. The link's own query and fragment are kept as written;
a utm_ key the writer already put in a link is kept and not added a second time (the writer
chose it for that link). Links to other domains are left exactly as written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from scheduler.content.problems import Problem, error
from scheduler.content.text import urls
from scheduler.words import N_, Said

KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_content")
MEDIUM = "social"


@dataclass(frozen=True)
class Utm:
    campaign: str
    domains: tuple[str, ...]  # lower case, without a leading dot or www.

    def applies_to(self, host: str | None) -> bool:
        host = (host or "").lower().rstrip(".")
        return any(host == domain or host.endswith("." + domain) for domain in self.domains)


def read(value: Any, path: str, line: int, problems: list[Problem]) -> Utm | None:
    """The `utm:` setting, or None (absent or wrong; a wrong one is an error on its line)."""
    if value is None:
        return None
    usage = Said.of(N_("utm needs campaign and domains, e.g. utm: {campaign: wtk2027, domains: [example.org]}"))
    if not isinstance(value, Mapping):
        problems.append(error(path, line, usage))
        return None
    unknown = sorted(str(key) for key in value if key not in ("campaign", "domains"))
    campaign, domains = value.get("campaign"), value.get("domains")
    if isinstance(domains, str):
        domains = [domains]
    if unknown:
        problems.append(
            error(path, line, Said.of(N_("utm: unknown key {key}; {usage}"), key=repr(unknown[0]), usage=usage))
        )
        return None
    if not isinstance(campaign, str | int) or isinstance(campaign, bool) or not str(campaign).strip():
        problems.append(error(path, line, Said.of(N_("utm: the campaign is missing; {usage}"), usage=usage)))
        return None
    if not isinstance(domains, list) or not domains or not all(isinstance(d, str) and d.strip() for d in domains):
        problems.append(
            error(path, line, Said.of(N_("utm: domains must be a list of domain names; {usage}"), usage=usage))
        )
        return None
    cleaned = []
    for domain in domains:
        name = domain.strip().lower()
        host = urlsplit(name if "://" in name else f"//{name}").hostname or ""
        if not host or "." not in host:
            problems.append(
                error(
                    path,
                    line,
                    Said.of(N_("utm: {domain} is not a domain name such as example.org"), domain=repr(domain)),
                )
            )
            return None
        cleaned.append(host.removeprefix("www."))
    return Utm(str(campaign).strip(), tuple(dict.fromkeys(cleaned)))


def tagged(url: str, utm: Utm, network: str, post_id: str) -> str:
    """`url` with the campaign's UTM parameters if it is to one of its domains, else `url` as is."""
    parts = urlsplit(url)
    if not utm.applies_to(parts.hostname):
        return url
    present = {key.lower() for key, _ in parse_qsl(parts.query, keep_blank_values=True)}
    values = {"utm_source": network, "utm_medium": MEDIUM, "utm_campaign": utm.campaign, "utm_content": post_id}
    added = urlencode([(key, values[key]) for key in KEYS if key not in present], safe="/")
    if not added:
        return url
    query = f"{parts.query}&{added}" if parts.query else added
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, parts.fragment))


def tag(text: str, utm: Utm | None, network: str, post_id: str) -> str:
    """`text` with every link to the campaign's domains tagged for `network`."""
    if utm is None:
        return text
    for start, end, url in reversed(urls(text)):
        text = text[:start] + tagged(url, utm, network, post_id) + text[end:]
    return text


def untagged(url: str) -> str:
    """`url` without the UTM parameters `tagged` adds: as the writer wrote it, to find its line."""
    parts = urlsplit(url)
    if "utm_" not in parts.query:
        return url
    kept = "&".join(pair for pair in parts.query.split("&") if pair.split("=", 1)[0].lower() not in KEYS)
    path = parts.path.rstrip("/") if not kept and not parts.fragment else parts.path  # the / tagging may add
    return urlunsplit((parts.scheme, parts.netloc, path, kept, parts.fragment))
